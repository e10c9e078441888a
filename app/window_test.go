package app

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWindowStateClamped(t *testing.T) {
	tests := []struct {
		name string
		in   windowState
		want windowState
	}{
		{"zero gives the default", windowState{}, windowState{Width: defaultWidth, Height: defaultHeight}},
		{"normal size kept", windowState{Width: 1400, Height: 900}, windowState{Width: 1400, Height: 900}},
		{"too small grows", windowState{Width: 100, Height: 50}, windowState{Width: minWidth, Height: minHeight}},
		{"too large shrinks", windowState{Width: 100000, Height: 100000}, windowState{Width: maxWidth, Height: maxHeight}},
		{"negative gives the default", windowState{Width: -5, Height: 700}, windowState{Width: defaultWidth, Height: defaultHeight}},
		{"maximised kept", windowState{Width: 1000, Height: 700, Maximised: true}, windowState{Width: 1000, Height: 700, Maximised: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.clamped(); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWindowStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "window.json")
	want := windowState{Width: 1111, Height: 777, Maximised: true}
	if err := saveWindowState(path, want); err != nil {
		t.Fatalf("save: %v", err)
	}
	got, err := loadWindowState(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("dir holds %d files, want only window.json (no temporary leftovers)", len(entries))
	}
}

func TestLoadWindowStateFallsBack(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{"missing file", filepath.Join(dir, "none.json"), false},
		{"corrupt file", corrupt, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadWindowState(tt.path)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != defaultWindowState() {
				t.Errorf("got %+v, want the default %+v", got, defaultWindowState())
			}
		})
	}
}
