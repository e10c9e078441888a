package bundle_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/backend/bundle"
)

// benchCast returns about 100 MB of asciicast text: ls -l listings with colours,
// numbers that change on every line, as a busy terminal session records them.
func benchCast(b *testing.B) []byte {
	b.Helper()
	return castText(920_000)
}

// BenchmarkWrite exports a 100 MB recording (reported as MB/s of recording).
func BenchmarkWrite(b *testing.B) {
	cast := benchCast(b)
	s := testSigner(b)
	var size int64
	b.SetBytes(int64(len(cast)))
	b.ResetTimer()
	for b.Loop() {
		cw := &countWriter{}
		if _, err := bundle.Write(context.Background(), cw, bundle.Contents{Metadata: sampleMetadata(), Recording: bytes.NewReader(cast), RecordingName: "x.cast"}, s); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size)/float64(len(cast)), "bundle/recording")
}

// BenchmarkVerify verifies the bundle of a 100 MB recording read from a file (reported
// as MB/s of recording).
func BenchmarkVerify(b *testing.B) {
	cast := benchCast(b)
	s := testSigner(b)
	path := filepath.Join(b.TempDir(), "b.zip")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := bundle.Write(context.Background(), f, bundle.Contents{Metadata: sampleMetadata(), Recording: bytes.NewReader(cast), RecordingName: "x.cast"}, s); err != nil {
		b.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	trusted := []string{s.Fingerprint()}
	b.SetBytes(int64(len(cast)))
	b.ResetTimer()
	for b.Loop() {
		rep, err := bundle.Verify(context.Background(), f, st.Size(), trusted)
		if err != nil || !rep.Verified {
			b.Fatal(err, rep)
		}
	}
}

// BenchmarkVerifySmall verifies a bundle of a few KB: the fixed cost (signature, JSON).
func BenchmarkVerifySmall(b *testing.B) {
	data := smallBundle(b)
	trusted := []string{testSigner(b).Fingerprint()}
	for b.Loop() {
		if rep, err := verifyBytes(b, data, trusted...); err != nil || !rep.Verified {
			b.Fatal(err, rep)
		}
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
