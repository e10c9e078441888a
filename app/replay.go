package app

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/portcullis/portcullis/backend/bundle"
	"github.com/portcullis/portcullis/backend/record"
)

// Offline replay: the desktop opens an exported bundle, a .cast, .cast.gz or
// .guac from disk and replays it with the same player as the web UI, with no
// profile and no server. The file is never changed: its recording is copied
// (decompressed) into <config dir>/replay/<id>/, indexed there, and served to
// the page segment by segment through the bound methods below.

// EventReplayOpen is emitted with a file's path when the user chose one from
// the menu or dropped one on the window; the page then calls OpenRecording.
const EventReplayOpen = "replay:open"

// maxReplayFile bounds what the desktop copies into its cache.
const maxReplayFile = 8 << 30

// ErrNotRecording is returned for a file that is neither a bundle nor a recording.
var ErrNotRecording = errors.New("app: not a Portcullis bundle or a recording (.pcbundle, .zip, .cast, .cast.gz, .guac)")

// ReplayInfo describes an opened recording for the page.
type ReplayInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"` // the file's base name
	Kind string `json:"kind"` // "cast" or "guac"
	// Bundle is true for an exported bundle; Verified, Signer and Problems
	// are then its signature check, shown before playing.
	Bundle   bool             `json:"bundle"`
	Verified bool             `json:"verified"`
	Signer   string           `json:"signer,omitempty"`
	Problems []string         `json:"problems,omitempty"`
	Session  *bundle.Metadata `json:"session,omitempty"`
}

// replayStore holds the recordings opened in this run.
type replayStore struct {
	dir     string
	indexes *record.IndexCache

	mu      sync.Mutex // guards entries
	entries map[string]replayEntry
}

type replayEntry struct {
	info ReplayInfo
	path string // the prepared recording in the cache
}

func newReplayStore(dir string) *replayStore {
	return &replayStore{dir: dir, entries: map[string]replayEntry{}, indexes: record.NewIndexCache(4, 64<<20)}
}

// open prepares the file at path for replay.
func (s *replayStore) open(ctx context.Context, path string) (ReplayInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return ReplayInfo{}, fmt.Errorf("app: open recording: %w", err)
	}
	if !st.Mode().IsRegular() {
		return ReplayInfo{}, fmt.Errorf("app: open recording %s: not a regular file", path)
	}
	if st.Size() > maxReplayFile {
		return ReplayInfo{}, fmt.Errorf("app: open recording %s: larger than %d GiB", path, maxReplayFile>>30)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano()))
	id := hex.EncodeToString(sum[:8])
	s.mu.Lock()
	e, ok := s.entries[id]
	s.mu.Unlock()
	if ok {
		return e.info, nil
	}
	dir := filepath.Join(s.dir, id)
	if err := os.RemoveAll(dir); err != nil {
		return ReplayInfo{}, fmt.Errorf("app: replay cache: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ReplayInfo{}, fmt.Errorf("app: replay cache: %w", err)
	}
	info := ReplayInfo{ID: id, Name: filepath.Base(path)}
	lower := strings.ToLower(path)
	var dst string
	switch {
	case strings.HasSuffix(lower, ".pcbundle") || strings.HasSuffix(lower, ".zip"):
		b, rep, err := bundle.Open(path, nil)
		if err != nil {
			return ReplayInfo{}, fmt.Errorf("app: open bundle: %w", err)
		}
		defer b.Close()
		info.Bundle, info.Verified, info.Signer, info.Problems, info.Session = true, rep.Verified, rep.Fingerprint, rep.Problems, rep.Metadata
		name, rc, err := b.Recording()
		if err != nil {
			return ReplayInfo{}, fmt.Errorf("app: bundle recording: %w", err)
		}
		defer rc.Close()
		info.Kind = kindOf(name)
		dst = filepath.Join(dir, "recording."+info.Kind)
		err = copyLimited(dst, rc)
		if err != nil {
			return ReplayInfo{}, err
		}
	case strings.HasSuffix(lower, ".cast.gz"):
		f, err := os.Open(path)
		if err != nil {
			return ReplayInfo{}, fmt.Errorf("app: open recording: %w", err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return ReplayInfo{}, fmt.Errorf("app: %s: %w", info.Name, err)
		}
		info.Kind, dst = "cast", filepath.Join(dir, "recording.cast")
		// A file cut by a crash decompresses up to its last flush: keep what came.
		if err := copyLimited(dst, zr); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return ReplayInfo{}, err
		}
	case strings.HasSuffix(lower, ".cast") || strings.HasSuffix(lower, ".guac"):
		f, err := os.Open(path)
		if err != nil {
			return ReplayInfo{}, fmt.Errorf("app: open recording: %w", err)
		}
		defer f.Close()
		info.Kind = kindOf(lower)
		dst = filepath.Join(dir, "recording."+info.Kind)
		if err := copyLimited(dst, f); err != nil {
			return ReplayInfo{}, err
		}
	default:
		return ReplayInfo{}, ErrNotRecording
	}
	if info.Kind == "cast" {
		if _, err := record.BuildIndex(ctx, dst, record.IndexOptions{}); err != nil {
			return ReplayInfo{}, fmt.Errorf("app: index %s: %w", info.Name, err)
		}
	}
	s.mu.Lock()
	s.entries[id] = replayEntry{info: info, path: dst}
	s.mu.Unlock()
	return info, nil
}

func kindOf(name string) string {
	if strings.HasSuffix(strings.ToLower(name), ".guac") {
		return "guac"
	}
	return "cast"
}

// copyLimited copies r into a new 0600 file at dst, at most maxReplayFile bytes.
func copyLimited(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("app: replay cache: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, maxReplayFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxReplayFile {
		err = fmt.Errorf("app: recording larger than %d GiB", maxReplayFile>>30)
	}
	return err
}

func (s *replayStore) entry(id string) (replayEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return replayEntry{}, fmt.Errorf("app: no recording %q is open", id)
	}
	return e, nil
}

// OpenRecording opens a bundle or recording for offline replay; an empty
// path asks for one with the system's file dialog (an empty answer and no
// error when the user cancels).
func (a *App) OpenRecording(path string) (ReplayInfo, error) {
	if path == "" {
		var err error
		path, err = a.chooseRecording()
		if err != nil || path == "" {
			return ReplayInfo{}, err
		}
	}
	info, err := a.replays.open(context.Background(), path)
	if err != nil {
		a.log.Warn("open recording", "path", path, "err", err)
		return ReplayInfo{}, err
	}
	a.log.Info("recording opened", "name", info.Name, "kind", info.Kind, "bundle", info.Bundle, "verified", info.Verified)
	return info, nil
}

// chooseRecording shows the open dialog.
func (a *App) chooseRecording() (string, error) {
	a.mu.Lock()
	ctx := a.ctx
	a.mu.Unlock()
	if ctx == nil {
		return "", errors.New("app: no window")
	}
	return runtime.OpenFileDialog(ctx, runtime.OpenDialogOptions{
		Title: "Open recording",
		Filters: []runtime.FileFilter{
			{DisplayName: "Portcullis bundles and recordings", Pattern: "*.pcbundle;*.zip;*.cast;*.cast.gz;*.guac"},
			{DisplayName: "All files", Pattern: "*"},
		},
	})
}

// index answers the seek index of an opened recording (parsed once).
func (s *replayStore) index(id string) (replayEntry, *record.CachedIndex, error) {
	e, err := s.entry(id)
	if err != nil {
		return e, nil, err
	}
	idx, err := s.indexes.Get(e.path)
	return e, idx, err
}

// ReplayIndex returns the seek index of an opened terminal recording, without
// its keyframes (ReplayKeyframe answers them one at a time).
func (a *App) ReplayIndex(id string) (*record.Index, error) {
	_, idx, err := a.replays.index(id)
	if err != nil {
		return nil, err
	}
	return idx.Index, nil
}

// ReplayKeyframe returns the keyframe of segment i of an opened terminal
// recording ("" for a segment without one).
func (a *App) ReplayKeyframe(id string, i int) (string, error) {
	_, idx, err := a.replays.index(id)
	if err != nil {
		return "", err
	}
	return idx.Keyframe(i)
}

// ReplaySegment returns the events of segment i of an opened terminal recording.
func (a *App) ReplaySegment(id string, i int) (string, error) {
	e, idx, err := a.replays.index(id)
	if err != nil {
		return "", err
	}
	b, err := record.ReadSegment(e.path, idx.Index, i)
	return string(b), err
}

// ReplayFile returns an opened desktop recording (.guac), base64-encoded.
func (a *App) ReplayFile(id string) (string, error) {
	e, err := a.replays.entry(id)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(e.path)
	if err != nil {
		return "", fmt.Errorf("app: read recording: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// PendingRecordings returns the recordings named on the command line (a
// file opened from the OS), once: the page opens them at start.
func (a *App) PendingRecordings() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	a.pending = nil
	return p
}

// openFromMenu asks for a recording and tells the page to open it.
func (a *App) openFromMenu() {
	path, err := a.chooseRecording()
	if err != nil || path == "" {
		return
	}
	a.withCtx(func(ctx context.Context) { runtime.EventsEmit(ctx, EventReplayOpen, path) })
}

// fileDropped tells the page to open the first dropped file.
func (a *App) fileDropped(_, _ int, paths []string) {
	if len(paths) == 0 {
		return
	}
	a.withCtx(func(ctx context.Context) { runtime.EventsEmit(ctx, EventReplayOpen, paths[0]) })
}
