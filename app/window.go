package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Window size limits. A saved size outside them (a corrupt file, a screen that got smaller)
// is clamped so the window always opens usable.
const (
	defaultWidth  = 1280
	defaultHeight = 800
	minWidth      = 800
	minHeight     = 560
	maxWidth      = 7680
	maxHeight     = 4320
)

// windowState is what the desktop remembers about its window between runs.
type windowState struct {
	Width     int  `json:"width"`
	Height    int  `json:"height"`
	Maximised bool `json:"maximised,omitempty"`
}

func defaultWindowState() windowState {
	return windowState{Width: defaultWidth, Height: defaultHeight}
}

// clamped returns s with its size inside the limits; a zero size becomes the default.
func (s windowState) clamped() windowState {
	if s.Width <= 0 || s.Height <= 0 {
		s.Width, s.Height = defaultWidth, defaultHeight
	}
	s.Width = min(max(s.Width, minWidth), maxWidth)
	s.Height = min(max(s.Height, minHeight), maxHeight)
	return s
}

// loadWindowState reads the state saved at path. A missing file gives the defaults; an
// unreadable one gives the defaults and an error to log.
func loadWindowState(path string) (windowState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultWindowState(), nil
	}
	if err != nil {
		return defaultWindowState(), fmt.Errorf("app: read window state: %w", err)
	}
	var s windowState
	if err := json.Unmarshal(data, &s); err != nil {
		return defaultWindowState(), fmt.Errorf("app: parse window state %s: %w", path, err)
	}
	return s.clamped(), nil
}

// saveWindowState writes s to path atomically, creating its directory.
func saveWindowState(path string, s windowState) error {
	data, err := json.MarshalIndent(s.clamped(), "", "  ")
	if err != nil {
		return fmt.Errorf("app: encode window state: %w", err)
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("app: save window state: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place, so a
// reader never sees a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
