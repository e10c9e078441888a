package record_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

// writeGolden records the small session kept in testdata/small.cast.
func writeGolden(t *testing.T, path string) {
	t.Helper()
	clock := newClock()
	w, err := record.CreateCast(path, record.Header{
		Width: 80, Height: 24, Title: "alice@web01",
		Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
	}, record.CastOptions{Clock: clock.Now, RecordInput: true, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	step := func(d time.Duration) { clock.Advance(d) }
	step(120 * time.Millisecond)
	w.Output([]byte("Last login: Fri Nov 27 09:58:01 2026 from 10.0.0.7\r\n"))
	step(3 * time.Millisecond)
	w.Output([]byte("\x1b[01;32malice@web01\x1b[00m:\x1b[01;34m~\x1b[00m$ "))
	step(900 * time.Millisecond)
	w.Input([]byte("ls"))
	step(40 * time.Millisecond)
	w.Output([]byte("ls"))
	step(300 * time.Millisecond)
	w.Marker("ls")
	w.Output([]byte("\r\n"))
	step(8 * time.Millisecond)
	w.Output([]byte("caf\xc3\xa9.txt  \xe6\x97\xa5\xe6\x9c\xac.md  \"quoted\" back\\slash\r\n"))
	step(25 * time.Millisecond)
	w.Output([]byte("binary: \x00\x00\x01\xff\xfe \xe2\x82"))
	step(25 * time.Millisecond)
	w.Output([]byte("\xac end\r\n"))
	step(2 * time.Second)
	w.Resize(132, 43)
	step(1500 * time.Microsecond)
	w.Output([]byte("\x1b[?1049h\x1b[H\x1b[2J"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGolden pins the exact bytes of a small recording (plain, and gzip once
// decompressed). Regenerate with UPDATE=1 go test ./backend/record -run TestGolden.
func TestGolden(t *testing.T) {
	golden := filepath.Join("testdata", "small.cast")
	dir := t.TempDir()
	plain := filepath.Join(dir, "small.cast")
	writeGolden(t, plain)
	got, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with UPDATE=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("plain recording differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}

	gz := filepath.Join(dir, "small.cast.gz")
	writeGolden(t, gz)
	gunzipFile(t, gz, filepath.Join(dir, "unzipped.cast"))
	unzipped, err := os.ReadFile(filepath.Join(dir, "unzipped.cast"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, want) {
		t.Errorf("gzip recording, decompressed, differs from %s:\ngot:\n%s", golden, unzipped)
	}
}

func TestOpenCastErrors(t *testing.T) {
	gzipped := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr error // from OpenCast
		events  int
		nextErr error // after the events
	}{
		{"empty file", nil, record.ErrFormat, 0, nil},
		{"version 1", []byte(`{"version": 1, "width": 80, "height": 24, "stdout": []}` + "\n"), record.ErrFormat, 0, nil},
		{"not json", []byte("hello\n"), record.ErrFormat, 0, nil},
		{"header only", []byte(`{"version": 2, "width": 80, "height": 24}` + "\n"), nil, 0, io.EOF},
		{"gzip header only", gzipped(`{"version": 2, "width": 80, "height": 24}` + "\n"), nil, 0, io.EOF},
		{"bad event line", []byte(`{"version": 2, "width": 80, "height": 24}` + "\n[1, \"o\", \"a\"]\n[1, \"o\"]\n"), nil, 1, record.ErrFormat},
		{"data not a string", []byte(`{"version": 2, "width": 80, "height": 24}` + "\n[1, \"o\", 5]\n"), nil, 0, record.ErrFormat},
		{"half-written last line", []byte(`{"version": 2, "width": 80, "height": 24}` + "\n[1, \"o\", \"a\"]\n[1.5, \"o\", \"b"), nil, 1, io.EOF},
		{"last line without newline", []byte(`{"version": 2, "width": 80, "height": 24}` + "\n[1, \"o\", \"a\"]"), nil, 1, io.EOF},
		{"blank lines", []byte(`{"version": 2, "width": 80, "height": 24}` + "\n\n[1, \"o\", \"a\"]\n\n"), nil, 1, io.EOF},
		{"asciinema null env", []byte(`{"version": 2, "width": 80, "height": 24, "env": {"SHELL": null, "TERM": "xterm"}}` + "\n"), nil, 0, io.EOF},
		{"garbage after gzip magic", []byte("\x1f\x8bnot really gzip"), record.ErrFormat, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r, err := record.NewCastReader(bytes.NewReader(tt.data))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NewCastReader: got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCastReader: %v", err)
			}
			n := 0
			for {
				_, err = r.Next()
				if err != nil {
					break
				}
				n++
			}
			if n != tt.events || !errors.Is(err, tt.nextErr) {
				t.Errorf("got %d events then %v, want %d then %v", n, err, tt.events, tt.nextErr)
			}
		})
	}
}

// recordForCuts makes a recording with several gzip members and sync-flush points, as a
// real session leaves them, and returns it with its events.
func recordForCuts(t *testing.T) ([]byte, []record.Event) {
	t.Helper()
	clock := newClock()
	w, path := newCast(t, "cut.cast.gz", clock, record.CastOptions{FlushInterval: 10 * time.Millisecond})
	rng := rand.New(rand.NewPCG(3, 3))
	for burst := 0; burst < 4; burst++ {
		before := w.Size()
		for i := 0; i < 5; i++ {
			clock.Advance(30 * time.Millisecond)
			w.Output([]byte("$ ls -l\r\n"))
			w.Output(letters(rng, 3000))
			w.Output([]byte("\r\n日本語 \x1b[0m\r\n"))
		}
		w.Marker("burst")
		eventually(t, "a flush", func() bool { return w.Size() > before })
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, evs := readCast(t, path)
	return data, evs
}

// A file cut anywhere (a crash) reads as a prefix of the events, never as an error once
// its header is there; Repair turns every such cut into a complete gzip file with the
// same events.
func TestTruncatedAnywhere(t *testing.T) {
	data, full := recordForCuts(t)
	dir := t.TempDir()
	headerEnd := 0 // the first cut at which the header can be read
	var cuts []int
	for n := 0; n <= len(data); n++ {
		if n < 300 || n > len(data)-300 || n%61 == 0 {
			cuts = append(cuts, n)
		}
	}
	for i, n := range cuts {
		h, r, err := record.NewCastReader(bytes.NewReader(data[:n]))
		if err != nil {
			if headerEnd != 0 {
				t.Fatalf("cut at %d: OpenCast: %v (the header was readable at %d)", n, err, headerEnd)
			}
			if !errors.Is(err, record.ErrFormat) {
				t.Fatalf("cut at %d: got %v, want ErrFormat", n, err)
			}
			continue
		}
		if headerEnd == 0 {
			headerEnd = n
		}
		if h.Width != 80 {
			t.Fatalf("cut at %d: header %+v", n, h)
		}
		var evs []record.Event
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("cut at %d: Next: %v", n, err)
			}
			evs = append(evs, ev)
		}
		if len(evs) > len(full) || (len(evs) > 0 && !reflect.DeepEqual(evs, full[:len(evs)])) {
			t.Fatalf("cut at %d: got %d events that are not a prefix of the %d recorded", n, len(evs), len(full))
		}
		if n == len(data) && len(evs) != len(full) {
			t.Fatalf("whole file: got %d events, want %d", len(evs), len(full))
		}
		if i%7 != 0 && n != len(data) {
			continue
		}
		path := filepath.Join(dir, "cut.cast.gz")
		if err := os.WriteFile(path, data[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := record.Repair(path); err != nil {
			t.Fatalf("cut at %d: Repair: %v", n, err)
		}
		gunzipFile(t, path, filepath.Join(dir, "cut.cast")) // strict: needs the trailer
		if _, repaired := readCast(t, path); !reflect.DeepEqual(repaired, evs) && !(len(repaired) == 0 && len(evs) == 0) {
			t.Fatalf("cut at %d: Repair kept %d events, want %d", n, len(repaired), len(evs))
		}
	}
	if headerEnd == 0 || headerEnd > 200 {
		t.Errorf("header readable from byte %d, want it in the first gzip member", headerEnd)
	}
}

func TestRepair(t *testing.T) {
	header := `{"version":2,"width":80,"height":24}` + "\n"
	tests := []struct {
		name      string
		data      string
		gzip      bool
		cut       int // bytes cut off the end of the (compressed) data
		wantText  string
		unchanged bool
		wantErr   error
	}{
		{"whole gzip file is left alone", header + "[1, \"o\", \"a\"]\n", true, 0, "a", true, nil},
		{"gzip without trailer", header + "[1, \"o\", \"a\"]\n[2, \"o\", \"b\"]\n", true, 8, "ab", false, nil},
		{"plain half line", header + "[1, \"o\", \"a\"]\n[2, \"o\", \"b", false, 0, "a", false, nil},
		{"whole plain file is left alone", header + "[1, \"o\", \"a\"]\n", false, 0, "a", true, nil},
		{"no header", "", true, 0, "", false, record.ErrFormat},
		{"not a recording", "hello\n", false, 0, "", false, record.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.gzip {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write(data)
				zw.Close()
				data = b.Bytes()
			}
			data = data[:len(data)-tt.cut]
			path := filepath.Join(t.TempDir(), "r.cast.gz")
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(path)
			err := record.Repair(path)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Repair: got %v, want %v", err, tt.wantErr)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
					t.Error("a file Repair refused was changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			after, _ := os.Stat(path)
			if tt.unchanged != os.SameFile(before, after) {
				t.Errorf("file replaced: got %v, want %v", !os.SameFile(before, after), !tt.unchanged)
			}
			if after.Mode().Perm() != 0o640 {
				t.Errorf("mode: got %v, want 0640", after.Mode().Perm())
			}
			if tt.gzip {
				gunzipFile(t, path, filepath.Join(t.TempDir(), "r.cast"))
			}
			if _, evs := readCast(t, path); outputText(evs) != tt.wantText {
				t.Errorf("got %q, want %q", outputText(evs), tt.wantText)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("got %d files in the directory, want 1 (no temporary file left)", len(entries))
			}
		})
	}
}

// FuzzOpenCast feeds arbitrary bytes to the reader, as a .cast and as a .cast.gz, and
// to Repair: nothing may panic, and a repaired file must read back.
func FuzzOpenCast(f *testing.F) {
	small, err := os.ReadFile(filepath.Join("testdata", "small.cast"))
	if err != nil {
		f.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(small)
	zw.Close()
	f.Add(small)
	f.Add(gz.Bytes())
	f.Add(gz.Bytes()[:gz.Len()/2])
	f.Add(small[:len(small)/2])
	f.Add([]byte(`{"version": 2, "width": 80, "height": 24}` + "\n[1e308, \"o\", \"\\ud800\"]\n[-1, \"r\", \"x\"]\n"))
	f.Add([]byte("\x1f\x8b"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		inputs := [][]byte{data}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		inputs = append(inputs, b.Bytes(), b.Bytes()[:b.Len()*2/3])
		for _, in := range inputs {
			_, r, err := record.NewCastReader(bytes.NewReader(in))
			if err != nil {
				continue
			}
			for i := 0; i < 100000; i++ {
				ev, err := r.Next()
				if err != nil {
					break
				}
				_ = ev.AppendJSON(nil)
			}
		}
		path := filepath.Join(dir, "f.cast.gz")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := record.Repair(path); err != nil {
			return
		}
		_, r, err := record.OpenCast(path)
		if err != nil {
			t.Fatalf("repaired file does not open: %v", err)
		}
		defer r.Close()
		for {
			_, err := r.Next()
			if err == nil {
				continue
			}
			if r.Truncated() {
				t.Fatal("repaired file is still truncated")
			}
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "record:") {
				t.Fatalf("repaired file: %v", err)
			}
			break
		}
	})
}
