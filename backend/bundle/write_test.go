package bundle_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/bundle"
)

func TestWriteRoundTrip(t *testing.T) {
	castGz := recordCastGz(t)
	gzData, err := os.ReadFile(castGz)
	if err != nil {
		t.Fatal(err)
	}
	plain := castText(200)
	var gzPlain bytes.Buffer
	zw := gzip.NewWriter(&gzPlain)
	zw.Write(plain)
	zw.Close()
	index := []byte("portcullis-index v1\x00\x01\x02\xff binary")

	tests := []struct {
		name     string
		input    []byte
		stored   string
		index    []byte
		wantName string
		want     []byte // the recording in the bundle
	}{
		{"cast.gz from the recorder is stored decompressed", gzData, "2026/01/12/0b6c.cast.gz", nil, bundle.NameCast, gunzip(t, castGz)},
		{"cast.gz with an index", gzPlain.Bytes(), "0b6c.cast.gz", index, bundle.NameCast, plain},
		{"plain cast is stored as it is", plain, "0b6c.cast", nil, bundle.NameCast, plain},
		{"gzip content under a .cast name is decompressed", gzPlain.Bytes(), "0b6c.cast", nil, bundle.NameCast, plain},
		{"guac recording", guacText(), "desk.guac", index, bundle.NameGuac, guacText()},
		{"empty cast", nil, "empty.cast", nil, bundle.NameCast, []byte{}},
	}
	s := testSigner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := bundle.Contents{Metadata: sampleMetadata(), Recording: bytes.NewReader(tt.input), RecordingName: tt.stored}
			if tt.index != nil {
				c.Index = bytes.NewReader(tt.index)
			}
			data, m := writeBundle(t, c, s)

			rep := mustVerify(t, data, s.Fingerprint())
			if !rep.Verified {
				t.Fatalf("Verify: %v", rep)
			}
			if got, want := rep.String(), "verified, signed by "+s.Fingerprint(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if !reflect.DeepEqual(rep.Manifest, m) {
				t.Errorf("report manifest %+v, want what Write returned %+v", rep.Manifest, m)
			}
			if rep.Metadata == nil || !reflect.DeepEqual(*rep.Metadata, sampleMetadata()) {
				t.Errorf("metadata %+v, want %+v", rep.Metadata, sampleMetadata())
			}
			wantFiles := []string{tt.wantName}
			if tt.index != nil {
				wantFiles = append(wantFiles, bundle.NameIndex)
			}
			wantFiles = append(wantFiles, bundle.NameSession)
			var gotFiles []string
			for _, f := range m.Files {
				gotFiles = append(gotFiles, f.Name)
			}
			if !reflect.DeepEqual(gotFiles, wantFiles) {
				t.Errorf("manifest files %v, want %v", gotFiles, wantFiles)
			}

			// archive/zip, an independent reader, sees the same files (and checks CRCs).
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			if want := append(wantFiles, bundle.NameManifest, bundle.NameSig); !reflect.DeepEqual(names, want) {
				t.Errorf("zip entries %v, want %v", names, want)
			}
			if got := readZipFile(t, zr, tt.wantName); !bytes.Equal(got, tt.want) {
				t.Errorf("%s differs from the original (%d bytes, want %d)", tt.wantName, len(got), len(tt.want))
			}

			// Open reads the same bytes back.
			path := filepath.Join(t.TempDir(), "b.zip")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b, rep2, err := bundle.Open(path, []string{s.Fingerprint()})
			if err != nil || !rep2.Verified {
				t.Fatalf("Open: %v, %v", err, rep2)
			}
			defer b.Close()
			name, r, err := b.Recording()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || name != tt.wantName || !bytes.Equal(got, tt.want) {
				t.Errorf("Recording() = %q, %d bytes, %v; want %q, %d bytes", name, len(got), err, tt.wantName, len(tt.want))
			}
			ir, ok, err := b.Index()
			if err != nil || ok != (tt.index != nil) {
				t.Fatalf("Index() ok=%v err=%v, want ok=%v", ok, err, tt.index != nil)
			}
			if ok {
				got, err := io.ReadAll(ir)
				ir.Close()
				if err != nil || !bytes.Equal(got, tt.index) {
					t.Errorf("Index() = %q, %v; want %q", got, err, tt.index)
				}
			}
		})
	}
}

// readZipFile returns the content of the named entry, read with archive/zip.
func readZipFile(t *testing.T, zr *zip.Reader, name string) []byte {
	t.Helper()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("archive/zip reading %s: %v", name, err)
	}
	return data
}

// TestExportPlaysWithAsciinema extracts recording.cast from an exported bundle and plays
// it with the real asciinema CLI.
func TestExportPlaysWithAsciinema(t *testing.T) {
	castGz := recordCastGz(t)
	f, err := os.Open(castGz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "session.bundle.zip")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Write(context.Background(), out, bundle.Contents{Metadata: sampleMetadata(), Recording: f, RecordingName: filepath.Base(castGz)}, testSigner(t)); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	// Extract with the package, and with Info-ZIP's unzip when there is one.
	b, rep, err := bundle.Open(path, nil)
	if err != nil || !rep.Verified {
		t.Fatalf("Open: %v %v", err, rep)
	}
	defer b.Close()
	_, r, err := b.Recording()
	if err != nil {
		t.Fatal(err)
	}
	extracted, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := gunzip(t, castGz); !bytes.Equal(extracted, want) {
		t.Fatalf("extracted recording.cast is not byte-identical to the decompressed original")
	}
	castPath := filepath.Join(dir, "recording.cast")
	if err := os.WriteFile(castPath, extracted, 0o600); err != nil {
		t.Fatal(err)
	}
	if unzip, err := exec.LookPath("unzip"); err == nil {
		byUnzip, err := exec.Command(unzip, "-p", path, bundle.NameCast).Output()
		if err != nil || !bytes.Equal(byUnzip, extracted) {
			t.Errorf("unzip -p recording.cast: %v, %d bytes, want the same %d bytes", err, len(byUnzip), len(extracted))
		}
	}

	played, err := asciinemaCat(t, castPath)
	if err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, played)
	}
	for _, want := range []string{"alice@web01", "cat notes.txt", "café 日本語 € evidence", "line 049 of the notes", "logout"} {
		if !strings.Contains(played, want) {
			t.Errorf("asciinema cat output lacks %q:\n%q", want, played)
		}
	}
}

// TestStandardToolsCheckBundle checks a bundle the way doc.go tells an auditor to, with
// unzip -t, sha256 of the extracted files and openssl for the signature.
func TestStandardToolsCheckBundle(t *testing.T) {
	s := testSigner(t)
	data := smallBundle(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "b.zip")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("unzip -t", func(t *testing.T) {
		unzip := needTool(t, "unzip", "unzip")
		out, err := exec.Command(unzip, "-t", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No errors detected") {
			t.Fatalf("unzip -t: %v\n%s", err, out)
		}
	})

	t.Run("openssl verifies manifest.sig, as doc.go says", func(t *testing.T) {
		openssl := needTool(t, "openssl", "openssl")
		unzip := needTool(t, "unzip", "unzip")
		needTool(t, "base64", "coreutils")
		// The key as the recipe's printf and jq make it.
		der := append([]byte("\060\052\060\005\006\003\053\145\160\003\041\000"), s.PublicKey()...)
		if err := os.WriteFile(filepath.Join(dir, "key.der"), der, 0o600); err != nil {
			t.Fatal(err)
		}
		script := unzip + " -p b.zip manifest.json > manifest.json && " +
			unzip + " -p b.zip manifest.sig | base64 -d > manifest.sig.bin && " +
			openssl + " pkeyutl -verify -pubin -keyform DER -inkey key.der -rawin -in manifest.json -sigfile manifest.sig.bin"
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	})
}

func TestWriteInterruptedRecording(t *testing.T) {
	castGz := recordCastGz(t)
	gz, err := os.ReadFile(castGz)
	if err != nil {
		t.Fatal(err)
	}
	full := gunzip(t, castGz)
	tests := []struct {
		name string
		keep int // bytes of the .cast.gz left by the crash
	}{
		{"trailer missing", len(gz) - 8},
		{"cut in the middle", len(gz) / 2},
		{"cut after the header", 12},
		{"cut in the gzip header", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := writeBundle(t, bundle.Contents{Metadata: sampleMetadata(), Recording: bytes.NewReader(gz[:tt.keep]), RecordingName: "x.cast.gz"}, testSigner(t))
			rep := mustVerify(t, data)
			if !rep.Verified {
				t.Fatalf("Verify: %v", rep)
			}
			if !rep.Metadata.Interrupted {
				t.Errorf("Interrupted = false, want true for a recording cut by a crash")
			}
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			got := readZipFile(t, zr, bundle.NameCast)
			if !bytes.HasPrefix(full, got) {
				t.Fatalf("stored recording (%d bytes) is not a prefix of the original", len(got))
			}
			if len(got) > 0 && got[len(got)-1] != '\n' {
				t.Errorf("stored recording ends in a half-written line: %q", got[max(0, len(got)-40):])
			}
			if tt.keep == len(gz)-8 && !bytes.Equal(got, full) {
				t.Errorf("with only the trailer missing the recording should be whole: %d bytes, want %d", len(got), len(full))
			}
		})
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	s := testSigner(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		w    io.Writer
		c    bundle.Contents
		s    *bundle.Signer
		want error  // errors.Is, if set
		text string // in the message
	}{
		{"unknown recording kind", context.Background(), io.Discard, bundle.Contents{Recording: strings.NewReader("x"), RecordingName: "x.mp4"}, s, bundle.ErrRecordingKind, "x.mp4"},
		{"no recording", context.Background(), io.Discard, bundle.Contents{RecordingName: "x.cast"}, s, nil, "needs a recording"},
		{"no signer", context.Background(), io.Discard, bundle.Contents{Recording: strings.NewReader("x"), RecordingName: "x.cast"}, nil, nil, "needs a Signer"},
		{"cancelled", cancelled, io.Discard, bundle.Contents{Recording: strings.NewReader("x"), RecordingName: "x.cast"}, s, context.Canceled, ""},
		{"write fails", context.Background(), &failWriter{after: 100}, bundle.Contents{Recording: bytes.NewReader(castText(10000)), RecordingName: "x.cast"}, s, nil, "disk full"},
		{"corrupt gzip", context.Background(), io.Discard, bundle.Contents{Recording: bytes.NewReader(append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff}, 64)...)), RecordingName: "x.cast.gz"}, s, nil, "read recording"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.Write(tt.ctx, tt.w, tt.c, tt.s)
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "bundle: ") {
				t.Errorf("got %q, want a bundle: error mentioning %q", err, tt.text)
			}
		})
	}
}

// genReader produces size bytes of asciicast text without holding them.
type genReader struct {
	line []byte
	left int64
	off  int
}

func newGenReader(size int64) *genReader {
	return &genReader{line: []byte("[12.345678, \"o\", \"\\u001b[01;34mdrwxr-xr-x\\u001b[0m  2 root root 4096 Jan 12 09:30 some-file.log\\r\\n\"]\n"), left: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.left > 0 {
		k := copy(p[n:min(int64(len(p)), int64(n)+g.left)], g.line[g.off:])
		n += k
		g.left -= int64(k)
		g.off = (g.off + k) % len(g.line)
	}
	return n, nil
}

// TestWriteAndVerifyStream checks that neither Write nor Verify holds a recording in
// memory: 64 MiB go through with a few MiB allocated in all.
func TestWriteAndVerifyStream(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	const size = 64 << 20
	path := filepath.Join(t.TempDir(), "big.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := testSigner(t)
	allocs := func(fn func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const budget = 24 << 20
	if n := allocs(func() {
		if _, err := bundle.Write(context.Background(), f, bundle.Contents{Metadata: sampleMetadata(), Recording: newGenReader(size), RecordingName: "big.cast"}, s); err != nil {
			t.Fatal(err)
		}
	}); n > budget {
		t.Errorf("Write of %d MiB allocated %d MiB, want under %d MiB", size>>20, n>>20, budget>>20)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var rep bundle.Report
	if n := allocs(func() {
		rep, err = bundle.Verify(context.Background(), f, st.Size(), []string{s.Fingerprint()})
	}); n > budget {
		t.Errorf("Verify of %d MiB allocated %d MiB, want under %d MiB", size>>20, n>>20, budget>>20)
	}
	if err != nil || !rep.Verified {
		t.Fatalf("Verify: %v %v", err, rep)
	}
	if f, _ := rep.Manifest.File(bundle.NameCast); f.Size != size {
		t.Errorf("recording.cast has %d bytes, want %d", f.Size, size)
	}
}
