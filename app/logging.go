package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/wailsapp/wails/v2/pkg/logger"
)

// logFileName is the desktop's log file in the data dir; it is rotated once at start when it
// grew past maxLogSize, keeping one old file (.1).
const (
	logFileName = "desktop.log"
	maxLogSize  = 10 << 20
)

// openLog returns a logger that writes text records to <dir>/desktop.log and to stderr, and
// the file to close at exit.
func openLog(dir string, level slog.Level, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("app: log dir: %w", err)
	}
	path := filepath.Join(dir, logFileName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1") // best effort: on failure we keep appending
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("app: open log: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	h := slog.NewMultiHandler(slog.NewTextHandler(f, opts), slog.NewTextHandler(stderr, opts))
	return slog.New(h), f, nil
}

// parseLevel reads a log level name ("debug", "info", "warn", "error"); empty means info.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if strings.TrimSpace(s) == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo, fmt.Errorf("app: log level %q: %w", s, err)
	}
	return l, nil
}

// wailsLogger sends the Wails runtime's own messages to slog.
type wailsLogger struct {
	log  *slog.Logger
	exit func(code int) // os.Exit; Wails expects Fatal not to return
}

var _ logger.Logger = wailsLogger{}

func (w wailsLogger) emit(level slog.Level, msg string) {
	w.log.Log(context.Background(), level, strings.TrimRight(msg, "\n"))
}

// Print logs a Wails message at info level.
func (w wailsLogger) Print(message string) { w.emit(slog.LevelInfo, message) }

// Trace logs a Wails trace message at debug level.
func (w wailsLogger) Trace(message string) { w.emit(slog.LevelDebug-4, message) }

// Debug logs a Wails debug message.
func (w wailsLogger) Debug(message string) { w.emit(slog.LevelDebug, message) }

// Info logs a Wails info message.
func (w wailsLogger) Info(message string) { w.emit(slog.LevelInfo, message) }

// Warning logs a Wails warning.
func (w wailsLogger) Warning(message string) { w.emit(slog.LevelWarn, message) }

// Error logs a Wails error.
func (w wailsLogger) Error(message string) { w.emit(slog.LevelError, message) }

// Fatal logs a fatal Wails error and exits with status 1.
func (w wailsLogger) Fatal(message string) {
	w.emit(slog.LevelError, "fatal: "+message)
	w.exit(1)
}
