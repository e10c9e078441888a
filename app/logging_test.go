package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenLogWritesFileAndStderr(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, f, err := openLog(dir, slog.LevelInfo, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "k", "v")
	log.Debug("hidden")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, logFileName))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{"file": string(data), "stderr": stderr.String()} {
		if !strings.Contains(got, `msg=hello k=v`) {
			t.Errorf("%s = %q, want the info record", name, got)
		}
		if strings.Contains(got, "hidden") {
			t.Errorf("%s = %q, want no debug record at info level", name, got)
		}
	}
}

func TestOpenLogRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logFileName)
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), maxLogSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, f, err := openLog(dir, slog.LevelInfo, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(path + ".1"); err != nil || fi.Size() != maxLogSize+1 {
		t.Errorf("old log not kept as %s.1 (err %v)", logFileName, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("new log should start empty (err %v)", err)
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"", slog.LevelInfo, false},
		{"debug", slog.LevelDebug, false},
		{"WARN", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"loud", slog.LevelInfo, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseLevel(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWailsLogger(t *testing.T) {
	var buf bytes.Buffer
	exitCode := -1
	w := wailsLogger{
		log:  slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		exit: func(code int) { exitCode = code },
	}
	w.Warning("careful\n")
	w.Fatal("no webkit")
	got := buf.String()
	for _, want := range []string{`level=WARN msg=careful`, `level=ERROR msg="fatal: no webkit"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log = %q, want it to contain %q", got, want)
		}
	}
	if exitCode != 1 {
		t.Errorf("Fatal exit code = %d, want 1", exitCode)
	}
}
