package bundle_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/bundle"
)

// zfile is one entry of a zip file made by archive/zip: the tools an attacker has.
type zfile struct {
	name  string
	data  []byte
	store bool
}

// unpack returns the entries of a bundle, in order.
func unpack(t testing.TB, data []byte) []zfile {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var files []zfile
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, zfile{name: f.Name, data: content, store: f.Method == zip.Store})
	}
	return files
}

// repack writes files as a zip file with archive/zip.
func repack(t testing.TB, files []zfile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		method := zip.Deflate
		if f.store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// get returns the content of the named entry.
func get(files []zfile, name string) []byte {
	for _, f := range files {
		if f.name == name {
			return f.data
		}
	}
	return nil
}

// set replaces the content of the named entry.
func set(files []zfile, name string, data []byte) []zfile {
	out := append([]zfile(nil), files...)
	for i := range out {
		if out[i].name == name {
			out[i].data = data
		}
	}
	return out
}

// without returns files without the named entry.
func without(files []zfile, name string) []zfile {
	var out []zfile
	for _, f := range files {
		if f.name != name {
			out = append(out, f)
		}
	}
	return out
}

// signManifest re-signs a manifest with the key of seed, as manifest.sig holds it.
func signManifest(manifest []byte, seed byte) []byte {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(priv, manifest)) + "\n")
}

// editManifest applies edit to the manifest of files and returns the files with the
// new manifest, signed again by the key of seed (0: not signed again).
func editManifest(t testing.TB, files []zfile, seed byte, edit func(*bundle.Manifest)) []zfile {
	t.Helper()
	var m bundle.Manifest
	if err := json.Unmarshal(get(files, bundle.NameManifest), &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, '\n')
	files = set(files, bundle.NameManifest, raw)
	if seed != 0 {
		files = set(files, bundle.NameSig, signManifest(raw, seed))
	}
	return files
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestVerifyGoodBundle(t *testing.T) {
	s := testSigner(t)
	data := smallBundle(t)
	fp := s.Fingerprint()
	for _, trusted := range [][]string{nil, {fp}, {"SHA256:other", fp}, {strings.TrimPrefix(fp, "SHA256:")}, {"  " + fp + "=\n"}} {
		rep := mustVerify(t, data, trusted...)
		if !rep.Verified || rep.Fingerprint != fp || len(rep.Problems) > 0 {
			t.Errorf("trusted %q: %v (fingerprint %s), want verified by %s", trusted, rep, rep.Fingerprint, fp)
		}
	}
}

// TestVerifyTamperedBundles alters bundles the ways an attacker with zip tools can,
// and checks the report says what happened.
func TestVerifyTamperedBundles(t *testing.T) {
	s := testSigner(t)
	orig := smallBundle(t)
	files := unpack(t, orig)
	cast := get(files, bundle.NameCast)
	altered := bytes.Replace(cast, []byte("file-3.log"), []byte("file-X.log"), 1)

	tests := []struct {
		name    string
		data    []byte
		trusted []string
		want    [][]string // each: the words of one expected problem
	}{
		{"recording altered, digests left", repack(t, set(files, bundle.NameCast, altered)), nil,
			[][]string{{"recording.cast was altered: its SHA-256 is " + digest(altered), "the manifest says " + digest(cast)}}},
		{"recording altered, manifest updated but not signed again",
			repack(t, editManifest(t, set(files, bundle.NameCast, altered), 0, func(m *bundle.Manifest) { m.Files[0].SHA256 = digest(altered) })), nil,
			[][]string{{"manifest.json was altered: the signature in manifest.sig does not match it"}}},
		{"recording cut short", repack(t, set(files, bundle.NameCast, cast[:100])), nil,
			[][]string{{"recording.cast was altered: it has 100 bytes, the manifest says"}}},
		{"session.json altered", repack(t, set(files, bundle.NameSession, bytes.Replace(get(files, bundle.NameSession), []byte("alice"), []byte("bobby"), 1))), nil,
			[][]string{{"session.json was altered: its SHA-256 is"}}},
		{"session.json made longer", repack(t, set(files, bundle.NameSession, bytes.Replace(get(files, bundle.NameSession), []byte("alice"), []byte("mallory"), 1))), nil,
			[][]string{{"session.json was altered: it is longer than the", "the manifest says"}}},
		{"index altered", repack(t, set(files, bundle.NameIndex, []byte("IDX1 0 0\n"))), nil,
			[][]string{{"recording.idx was altered"}}},
		{"index removed", repack(t, without(files, bundle.NameIndex)), nil,
			[][]string{{"recording.idx is missing from the bundle"}}},
		{"manifest.sig removed", repack(t, without(files, bundle.NameSig)), nil,
			[][]string{{"manifest.sig is missing: the bundle is not signed"}}},
		{"manifest.json removed", repack(t, without(files, bundle.NameManifest)), nil,
			[][]string{{"manifest.json is missing"}}},
		{"both removed", repack(t, without(without(files, bundle.NameManifest), bundle.NameSig)), nil,
			[][]string{{"manifest.json is missing"}, {"manifest.sig is missing"}}},
		{"signature garbled", repack(t, set(files, bundle.NameSig, []byte("not base64!\n"))), nil,
			[][]string{{"manifest.sig is damaged"}}},
		{"file added", repack(t, append(files[:len(files):len(files)], zfile{name: "notes.txt", data: []byte("hi")})), nil,
			[][]string{{"unexpected file notes.txt in the bundle"}}},
		{"unlisted recording added", repack(t, append([]zfile{{name: bundle.NameGuac, data: guacText()}}, files...)), nil,
			[][]string{{"unexpected file recording.guac in the bundle: the manifest does not list it"}}},
		{"session.json twice", repack(t, append(files[:len(files):len(files)], zfile{name: bundle.NameSession, data: []byte("{}")})), nil,
			[][]string{{"session.json appears 2 times in the bundle"}}},
		{"re-packed unchanged", repack(t, files), nil,
			[][]string{{"zip container was altered or re-packed (the files inside still match their signed digests)"}}},
		{"bytes appended", append(bytes.Clone(orig), "PK\x03\x04 more"...), nil,
			[][]string{{"9 bytes were added after the end of the bundle"}}},
		{"manifest claims the server's fingerprint, signed by another key",
			repack(t, editManifest(t, files, 2, func(m *bundle.Manifest) {
				m.Signer.PublicKey = base64.StdEncoding.EncodeToString(forgerSigner(t).PublicKey())
			})), []string{s.Fingerprint()},
			[][]string{{"manifest.json names the key " + s.Fingerprint() + ", but holds the key " + forgerSigner(t).Fingerprint()},
				{"signed by " + forgerSigner(t).Fingerprint() + ", which is not a trusted key"}}},
		{"manifest lists too many files", repack(t, editManifest(t, files, 1, func(m *bundle.Manifest) {
			for i := range 20 {
				m.Files = append(m.Files, bundle.FileDigest{Name: fmt.Sprintf("f%d", i)})
			}
		})), nil,
			[][]string{{"manifest.json lists 23 files, more than the 16 a bundle may have"}}},
		{"manifest of another format", repack(t, editManifest(t, files, 1, func(m *bundle.Manifest) { m.Version = 2 })), nil,
			[][]string{{"not a version 1 Portcullis bundle manifest"}}},
		{"manifest lists a traversal path",
			repack(t, editManifest(t, append(files[:len(files):len(files)], zfile{name: "../x", data: []byte("x")}), 1, func(m *bundle.Manifest) {
				m.Files = append(m.Files, bundle.FileDigest{Name: "../x", Size: 1, SHA256: digest([]byte("x"))})
			})), nil,
			[][]string{{"manifest.json lists an unexpected file ../x"}, {"unexpected file ../x in the bundle"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := mustVerify(t, tt.data, tt.trusted...)
			if rep.Verified {
				t.Fatalf("a tampered bundle verified: %v", rep)
			}
			for _, words := range tt.want {
				if !hasProblem(rep, words...) {
					t.Errorf("no problem says %q; got:\n%v", words, rep)
				}
			}
			if !strings.HasPrefix(rep.String(), "NOT verified:\n  - ") {
				t.Errorf("String() = %q, want NOT verified and one problem per line", rep.String())
			}
		})
	}
}

// TestVerifyForgedBundle: a forger alters the recording and signs a correct manifest
// with another key. Without trusted keys the bundle is intact and says who signed it;
// with the server's fingerprint it fails.
func TestVerifyForgedBundle(t *testing.T) {
	server, forger := testSigner(t), forgerSigner(t)
	forged, _ := writeBundle(t, bundle.Contents{
		Metadata:      sampleMetadata(),
		Recording:     bytes.NewReader(bytes.Replace(castText(20), []byte("file-3.log"), []byte("file-X.log"), 1)),
		RecordingName: "0b6c.cast",
	}, forger)

	rep := mustVerify(t, forged)
	if !rep.Verified || rep.Fingerprint != forger.Fingerprint() {
		t.Fatalf("without trusted keys: %v, fingerprint %s; want verified, signed by the forger %s", rep, rep.Fingerprint, forger.Fingerprint())
	}
	if got := rep.String(); got != "verified, signed by "+forger.Fingerprint() {
		t.Errorf("String() = %q, want the forger's fingerprint", got)
	}

	rep = mustVerify(t, forged, server.Fingerprint())
	if rep.Verified {
		t.Fatalf("a bundle signed by another key verified against the server's: %v", rep)
	}
	if want := "the bundle is signed by " + forger.Fingerprint() + ", which is not a trusted key (trusted: " + server.Fingerprint() + ")"; !hasProblem(rep, want) {
		t.Errorf("problems %q, want %q", rep.Problems, want)
	}
	if rep.Fingerprint != forger.Fingerprint() {
		t.Errorf("Fingerprint = %s, want the forger's %s", rep.Fingerprint, forger.Fingerprint())
	}
}

// checkFlip verifies data with byte i xored with mask and fails the test if it
// verifies, or fails without saying why.
func checkFlip(t *testing.T, data []byte, i int, mask byte, trusted string, errs, reports *int) {
	t.Helper()
	flipped := bytes.Clone(data)
	flipped[i] ^= mask
	rep, err := verifyBytes(t, flipped, trusted)
	switch {
	case err != nil:
		*errs++
	case rep.Verified:
		t.Fatalf("byte %d xor %#02x: the altered bundle verified", i, mask)
	case len(rep.Problems) == 0:
		t.Fatalf("byte %d xor %#02x: not verified but no problem given", i, mask)
	default:
		*reports++
	}
}

// TestVerifyDetectsEverySingleByteChange alters each byte of a small bundle with three
// masks (a low bit, a high bit, all bits): none verifies.
func TestVerifyDetectsEverySingleByteChange(t *testing.T) {
	data := smallBundle(t)
	fp := testSigner(t).Fingerprint()
	var errs, reports int
	for i := range data {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			checkFlip(t, data, i, mask, fp, &errs, &reports)
		}
	}
	t.Logf("%d bytes x 3 masks: %d reports, %d errors (not a bundle at all)", len(data), reports, errs)
}

// TestVerifyDetectsFlipsInLargerBundle alters every 97th byte of a bundle of a 540 KB
// recording, and every byte from manifest.json to the end (manifest, signature, zip
// directory) with two masks.
func TestVerifyDetectsFlipsInLargerBundle(t *testing.T) {
	s := testSigner(t)
	data, m := writeBundle(t, bundle.Contents{Metadata: sampleMetadata(), Recording: bytes.NewReader(castText(5000)), RecordingName: "x.cast"}, s)
	var errs, reports int
	for i := 0; i < int(m.ZipPrefix.Size); i += 97 {
		checkFlip(t, data, i, 0xff, s.Fingerprint(), &errs, &reports)
	}
	for i := int(m.ZipPrefix.Size); i < len(data); i++ {
		for _, mask := range []byte{0x01, 0xff} {
			checkFlip(t, data, i, mask, s.Fingerprint(), &errs, &reports)
		}
	}
	t.Logf("%d bytes: %d reports, %d errors", len(data), reports, errs)
}

// bomb returns the raw deflate data of n zero bytes.
func bomb(t testing.TB, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(fw, zeros{}, n); err != nil {
		t.Fatal(err)
	}
	fw.Close()
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// rawEntry is an entry written with archive/zip's CreateRaw: headers may lie.
type rawEntry struct {
	name        string
	raw         []byte // as stored
	method      uint16
	crc         uint32
	claimedSize uint64
}

func rawZip(t testing.TB, entries []rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: e.method, CRC32: e.crc,
			CompressedSize64: uint64(len(e.raw)), UncompressedSize64: e.claimedSize})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// bombBundle returns a signed bundle whose recording.cast is the deflated zeros of
// bomb, which the zip directory claims to be headerSize bytes and the manifest
// manifestSize.
func bombBundle(t *testing.T, zeros []byte, headerSize, manifestSize uint64) []byte {
	t.Helper()
	files := unpack(t, smallBundle(t))
	files = editManifest(t, files, 1, func(m *bundle.Manifest) { m.Files[0].Size = int64(manifestSize) })
	var entries []rawEntry
	for _, f := range files {
		e := rawEntry{name: f.name, raw: f.data, method: zip.Store, crc: crc32.ChecksumIEEE(f.data), claimedSize: uint64(len(f.data))}
		if f.name == bundle.NameCast {
			e = rawEntry{name: f.name, raw: zeros, method: zip.Deflate, claimedSize: headerSize}
		}
		entries = append(entries, e)
	}
	return rawZip(t, entries)
}

func TestVerifyStopsZipBombs(t *testing.T) {
	tests := []struct {
		name                     string
		headerSize, manifestSize uint64
		want                     string
	}{
		{"claims a small size", 1000, 1000, "recording.cast is larger than its zip header says (1000 bytes): stopped reading at 1001 bytes (a zip bomb?)"},
		{"header claims 8 GiB, the manifest 4 KiB", 8<<30 - 1, 4096, "recording.cast was altered: it is longer than the 4096 bytes the manifest says (stopped reading at 4097 bytes)"},
		{"claims more than the cap", 9 << 30, 9 << 30, "recording.cast claims 9 GiB, more than the 8 GiB a bundle file may have"},
	}
	zeros := bomb(t, 512<<20) // 512 MiB of zeros, 512 KiB deflated
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bombBundle(t, zeros, tt.headerSize, tt.manifestSize)
			r := &countingReaderAt{r: bytes.NewReader(data)}
			start := time.Now()
			rep, err := bundle.Verify(context.Background(), r, int64(len(data)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verified || !hasProblem(rep, tt.want) {
				t.Errorf("got %v, want the problem %q", rep, tt.want)
			}
			// Reading stopped within the first few KiB of the bomb.
			if n := r.n.Load(); n > int64(len(data))/2 {
				t.Errorf("read %d of %d bytes: Verify did not stop early", n, len(data))
			}
			t.Logf("stopped after reading %d of %d bytes, in %v", r.n.Load(), len(data), time.Since(start))
		})
	}
}

func TestVerifyLimits(t *testing.T) {
	data, _ := writeBundle(t, bundle.Contents{Metadata: sampleMetadata(), Recording: newGenReader(100 << 10), RecordingName: "x.cast",
		Index: newGenReader(50 << 10)}, testSigner(t))
	tests := []struct {
		name            string
		fileSize, total int64
		want            string
	}{
		{"a file over the cap is refused before reading", 64 << 10, 1 << 30,
			"recording.cast claims 102400 bytes, more than the 65536 bytes a bundle file may have"},
		{"the files add up to more than the budget", 1 << 20, 120 << 10,
			"the files of the bundle add up to more than a bundle may hold: stopped reading recording.idx at "},
		{"within the limits", 100 << 10, 160 << 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := bundle.VerifyWithLimits(context.Background(), bytes.NewReader(data), int64(len(data)), nil, tt.fileSize, tt.total)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if !rep.Verified {
					t.Errorf("got %v, want verified", rep)
				}
			} else if rep.Verified || !hasProblem(rep, tt.want) {
				t.Errorf("got %v, want the problem %q", rep, tt.want)
			}
		})
	}
}

func TestVerifyUnsafeNames(t *testing.T) {
	t.Chdir(t.TempDir()) // nothing may appear here, nor anywhere
	files := unpack(t, smallBundle(t))
	before, _ := os.ReadFile("/etc/passwd")
	names := []struct{ name, why string }{
		{"../../etc/passwd", `a path that climbs out with ".."`},
		{"/etc/passwd", "an absolute path"},
		{`a\..\b`, "a backslash in its name"},
		{"C:/Windows/evil.dll", "an absolute path"},
		{"ok/../../x", `a path that climbs out with ".."`},
		{"nul\x00name", "a NUL byte in its name"},
		{"\x1b]0;pwned\x07", "a control character in its name"},
	}
	for _, n := range names {
		t.Run(fmt.Sprintf("%q", n.name), func(t *testing.T) {
			evil := append(files[:len(files):len(files)], zfile{name: n.name, data: []byte("root:x:0:0::/root:/bin/sh\n")})
			rep := mustVerify(t, repack(t, evil))
			want := "unexpected file " + n.name + " in the bundle (" + n.why
			if strings.ContainsAny(n.name, "\x00\x1b") {
				want = fmt.Sprintf("unexpected file %q in the bundle (%s", n.name, n.why)
			}
			if rep.Verified || !hasProblem(rep, want) {
				t.Errorf("got %v, want the problem %q", rep, want)
			}
			if strings.ContainsAny(rep.String(), "\x00\x1b\x07") {
				t.Errorf("the report carries control characters: %q", rep.String())
			}
		})
	}
	if entries, _ := os.ReadDir("."); len(entries) > 0 {
		t.Errorf("Verify wrote %v", entries)
	}
	if after, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(before, after) {
		t.Errorf("/etc/passwd changed")
	}
}

func TestVerifyTooManyFiles(t *testing.T) {
	files := unpack(t, smallBundle(t))
	for i := range 20 {
		files = append(files, zfile{name: fmt.Sprintf("f%d", i)})
	}
	rep := mustVerify(t, repack(t, files))
	if rep.Verified || !hasProblem(rep, "lists 25 files, more than the 16 a bundle may have") {
		t.Errorf("got %v", rep)
	}
}

func TestVerifyTruncated(t *testing.T) {
	data := smallBundle(t)
	for _, n := range []int{len(data) - 1, len(data) - 22, len(data) - 100, len(data) / 2, 100, 31, 30, 4, 3, 0} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rep, err := verifyBytes(t, data[:n])
			switch {
			case err != nil:
				if !errors.Is(err, bundle.ErrNotBundle) {
					t.Errorf("got %v, want ErrNotBundle or a report", err)
				}
			case rep.Verified:
				t.Fatal("a truncated bundle verified")
			case n >= 4 && !hasProblem(rep, "truncated"):
				t.Errorf("got %v, want it to say the bundle is truncated", rep)
			}
		})
	}
}

func TestVerifyNotABundle(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty file", nil},
		{"text", []byte("hello, this is not a zip file\n")},
		{"random bytes", random},
		{"a gzip file", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"a zip of other files", repack(t, []zfile{{name: "hello.txt", data: []byte("hi")}})},
		{"an empty zip", repack(t, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := verifyBytes(t, tt.data)
			if !errors.Is(err, bundle.ErrNotBundle) || rep.Verified {
				t.Errorf("got %v, %v; want ErrNotBundle", rep, err)
			}
		})
	}
}

type errReaderAt struct{}

func (errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("input/output error") }

func TestVerifyErrors(t *testing.T) {
	if _, err := bundle.Verify(context.Background(), errReaderAt{}, 1000, nil); err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("I/O error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data, _ := writeBundle(t, bundle.Contents{Metadata: sampleMetadata(), Recording: newGenReader(1 << 20), RecordingName: "x.cast"}, testSigner(t))
	if _, err := bundle.Verify(ctx, bytes.NewReader(data), int64(len(data)), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestOpenTamperedBundle(t *testing.T) {
	files := unpack(t, smallBundle(t))
	path := t.TempDir() + "/b.zip"
	altered := []byte(`{"version": 2, "width": 80, "height": 24}` + "\n")
	if err := os.WriteFile(path, repack(t, set(files, bundle.NameCast, altered)), 0o600); err != nil {
		t.Fatal(err)
	}
	b, rep, err := bundle.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if rep.Verified {
		t.Fatal("verified")
	}
	// The player can still show it, beside the report.
	name, r, err := b.Recording()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || name != bundle.NameCast || !bytes.Equal(got, altered) {
		t.Errorf("Recording() = %s %q %v", name, got, err)
	}
	if _, _, err := bundle.Open(t.TempDir()+"/missing.zip", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
	notZip := t.TempDir() + "/x.txt"
	os.WriteFile(notZip, []byte("text"), 0o600)
	if _, _, err := bundle.Open(notZip, nil); !errors.Is(err, bundle.ErrNotBundle) {
		t.Errorf("Open of a text file: %v", err)
	}
}

func TestReportString(t *testing.T) {
	tests := []struct {
		rep  bundle.Report
		want string
	}{
		{bundle.Report{Verified: true, Fingerprint: "SHA256:abc"}, "verified, signed by SHA256:abc"},
		{bundle.Report{Problems: []string{"a was altered", "b is missing"}}, "NOT verified:\n  - a was altered\n  - b is missing"},
		{bundle.Report{}, "NOT verified:\n  - the bundle could not be checked"},
	}
	for _, tt := range tests {
		if got := tt.rep.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
