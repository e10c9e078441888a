package bundle_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/bundle"
)

// t0 is the start of the sessions of the tests.
var t0 = time.Date(2026, 1, 12, 9, 30, 0, 0, time.UTC)

// testSigner returns a signer with a fixed key: the server's in these tests.
func testSigner(tb testing.TB) *bundle.Signer {
	tb.Helper()
	return signerFromSeed(1)
}

// forgerSigner returns a signer with another fixed key.
func forgerSigner(tb testing.TB) *bundle.Signer {
	tb.Helper()
	return signerFromSeed(2)
}

func signerFromSeed(b byte) *bundle.Signer {
	return bundle.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize)))
}

// sampleMetadata returns the metadata of a short SSH session.
func sampleMetadata() bundle.Metadata {
	end := t0.Add(3 * time.Minute)
	return bundle.Metadata{
		SessionID: "0b6c3f7e-1d2a-4c9b-9e61-5a3f0c2d8e11", OrgID: 1, UserID: 7,
		Username: "alice", SourceIP: "203.0.113.9", AssetName: "web01", AssetAddress: "10.0.0.5:22",
		Account: "root", Protocol: "ssh", Kind: "shell", Via: "ssh", Node: "bastion-1",
		StartedAt: t0, EndedAt: &end, EndReason: "client closed",
		BytesIn: 120, BytesOut: 4096,
		Commands: []bundle.Command{
			{Time: t0.Add(time.Second), Offset: 1.1, Input: "cat notes.txt", Verdict: "allow", Risk: "low"},
			{Time: t0.Add(5 * time.Second), Offset: 5.0, Input: "rm -rf /", Verdict: "deny", Risk: "critical", Rule: "no-rm-root"},
		},
		FileTransfers: []bundle.FileTransfer{
			{Time: t0.Add(9 * time.Second), Direction: "download", Path: "/etc/hosts", Size: 220,
				SHA256: "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c", Success: true},
		},
		ExportedBy: "auditor", ExportedAt: t0.Add(24 * time.Hour),
	}
}

// recordCastGz returns the path of a .cast.gz written by the server's recorder
// (testdata/README.md).
func recordCastGz(t *testing.T) string {
	t.Helper()
	return filepath.Join("testdata", "session.cast.gz")
}

// gunzip returns the decompressed content of a gzip file.
func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// castText returns an asciicast v2 recording of n output events of terminal text.
func castText(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version": 2, "width": 80, "height": 24, "timestamp": 1768210200, "env": {"TERM": "xterm-256color"}}` + "\n")
	for i := range n {
		fmt.Fprintf(&b, "[%d.%06d, \"o\", \"\\u001b[01;34mdrwxr-xr-x\\u001b[0m  2 root root 4096 Jan 12 09:%02d file-%d.log\\r\\n\"]\n",
			i/100, (i%100)*10000, i%60, i)
	}
	return b.Bytes()
}

// guacText returns a few Guacamole instructions, as a .guac recording holds them.
func guacText() []byte {
	return []byte("4.size,1.0,4.1024,3.768;4.sync,13.1768210200000;3.img,1.1,2.14,1.0,9.image/png,1.0,1.0;4.blob,1.1,8.iVBORw0K;3.end,1.1;4.sync,13.1768210200040;")
}

// writeBundle writes a bundle of c with s and returns its bytes and manifest.
func writeBundle(tb testing.TB, c bundle.Contents, s *bundle.Signer) ([]byte, bundle.Manifest) {
	tb.Helper()
	var buf bytes.Buffer
	m, err := bundle.Write(context.Background(), &buf, c, s)
	if err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), m
}

// smallBundle returns a small valid bundle (a plain cast with an index) signed by the
// test signer.
func smallBundle(tb testing.TB) []byte {
	tb.Helper()
	data, _ := writeBundle(tb, bundle.Contents{
		Metadata:      sampleMetadata(),
		Recording:     bytes.NewReader(castText(20)),
		RecordingName: "0b6c.cast",
		Index:         strings.NewReader("IDX1 0 0\n10 1834\n"),
	}, testSigner(tb))
	return data
}

// verifyBytes verifies a bundle held in memory.
func verifyBytes(tb testing.TB, data []byte, trusted ...string) (bundle.Report, error) {
	tb.Helper()
	return bundle.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), trusted)
}

// mustVerify verifies data and fails the test unless Verify returns without error.
func mustVerify(tb testing.TB, data []byte, trusted ...string) bundle.Report {
	tb.Helper()
	rep, err := verifyBytes(tb, data, trusted...)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return rep
}

// hasProblem reports whether one of the report's problems contains all of subs.
func hasProblem(rep bundle.Report, subs ...string) bool {
	for _, p := range rep.Problems {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(p, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// skipUnlessCI skips a test whose real component is missing on a developer's machine;
// under CI (CI=true) a missing component is a failure.
func skipUnlessCI(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("required test component missing under CI: "+format, args...)
	}
	tb.Skipf(format, args...)
}

// needTool returns the path of a command, skipping the test when it is missing.
func needTool(tb testing.TB, name, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipUnlessCI(tb, "%s is not installed (apt-get install %s)", name, pkg)
	}
	return path
}
