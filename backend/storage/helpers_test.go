package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/storage/s3test"
)

// s3Config is the config of srv's bucket.
func s3Config(srv *s3test.Server) S3Config {
	return S3Config{
		Endpoint:  srv.Endpoint,
		Bucket:    srv.Bucket,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Region:    s3test.Region,
	}
}

// newS3 returns an S3 backend on srv's bucket.
func newS3(t testing.TB, srv *s3test.Server, prefix string) *S3 {
	t.Helper()
	cfg := s3Config(srv)
	cfg.Prefix = prefix
	b, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return b
}

// randReader yields n pseudo-random bytes of seed without holding them.
func randReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

// digest returns the hex SHA-256 of what r yields, and its length.
func digest(t testing.TB, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// writeRecording writes n pseudo-random bytes as key under dir and returns
// their SHA-256.
func writeRecording(t testing.TB, dir, key string, n int64, seed uint64) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), randReader(seed, n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// backendDigest returns the SHA-256 of key in b.
func backendDigest(t testing.TB, b Backend, key string) string {
	t.Helper()
	r, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("%s open %s: %v", b.Name(), key, err)
	}
	defer r.Close()
	d, _ := digest(t, r)
	return d
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testClock is an injected clock that moves only when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logBuffer is a slog.Logger writing JSON into a buffer the test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
