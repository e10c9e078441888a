package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/storage/s3test"
)

// bigSize is the size of the streaming tests' object.
const bigSize = 50 << 20

// testBackend runs the checks every Backend must pass.
func testBackend(t *testing.T, b Backend) {
	ctx := context.Background()
	content := []byte("{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.1, \"o\", \"$ \"]\n")

	put := func(t *testing.T, key string, data []byte) {
		t.Helper()
		if err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
	}
	read := func(t *testing.T, r io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return got
	}

	t.Run("round trip", func(t *testing.T) {
		key := "2026/11/28/round.cast.gz"
		put(t, key, content)
		size, err := b.Stat(ctx, key)
		if err != nil || size != int64(len(content)) {
			t.Fatalf("Stat = %d, %v; want %d, nil", size, err, len(content))
		}
		r, err := b.Open(ctx, key)
		if got := read(t, r, err); !bytes.Equal(got, content) {
			t.Fatalf("Open read %q, want %q", got, content)
		}
	})

	t.Run("overwrite", func(t *testing.T) {
		key := "2026/11/28/overwrite.guac"
		put(t, key, []byte("first, longer content"))
		put(t, key, []byte("second"))
		r, err := b.Open(ctx, key)
		if got := read(t, r, err); string(got) != "second" {
			t.Fatalf("got %q, want %q", got, "second")
		}
	})

	t.Run("empty", func(t *testing.T) {
		key := "2026/11/28/empty.cast.gz"
		put(t, key, nil)
		if size, err := b.Stat(ctx, key); err != nil || size != 0 {
			t.Fatalf("Stat = %d, %v; want 0, nil", size, err)
		}
		r, err := b.Open(ctx, key)
		if got := read(t, r, err); len(got) != 0 {
			t.Fatalf("got %q, want nothing", got)
		}
	})

	t.Run("range", func(t *testing.T) {
		key := "2026/11/28/range.cast.gz"
		put(t, key, content)
		size := int64(len(content))
		tests := []struct {
			name   string
			off, n int64
			want   string
		}{
			{"head", 0, 10, string(content[:10])},
			{"middle", 5, 7, string(content[5:12])},
			{"rest", 20, 0, string(content[20:])},
			{"rest with negative n", 20, -1, string(content[20:])},
			{"past the end", size - 3, 100, string(content[size-3:])},
			{"last byte", size - 1, 1, string(content[size-1:])},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := b.OpenRange(ctx, key, tt.off, tt.n)
				if got := read(t, r, err); string(got) != tt.want {
					t.Fatalf("OpenRange(%d, %d) = %q, want %q", tt.off, tt.n, got, tt.want)
				}
			})
		}
		for _, off := range []int64{size, size + 10, -1} {
			if r, err := b.OpenRange(ctx, key, off, 1); !errors.Is(err, ErrInvalidRange) {
				if err == nil {
					r.Close()
				}
				t.Errorf("OpenRange(%d, 1) of %d bytes: got %v, want ErrInvalidRange", off, size, err)
			}
		}
	})

	t.Run("not found", func(t *testing.T) {
		key := "2026/11/28/missing.cast.gz"
		if _, err := b.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stat: got %v, want ErrNotFound", err)
		}
		if _, err := b.Open(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open: got %v, want ErrNotFound", err)
		}
		if _, err := b.OpenRange(ctx, key, 0, 10); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenRange: got %v, want ErrNotFound", err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Errorf("Delete of a missing key: got %v, want nil", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		key := "2026/11/28/delete.cast.gz"
		put(t, key, content)
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Stat after Delete: got %v, want ErrNotFound", err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})

	t.Run("short reader", func(t *testing.T) {
		key := "2026/11/28/short.cast.gz"
		err := b.Put(ctx, key, bytes.NewReader(content[:10]), int64(len(content)))
		if err == nil {
			t.Fatal("Put of 10 bytes announced as more: got nil, want an error")
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Stat after a failed Put: got %v, want ErrNotFound", err)
		}
	})

	t.Run("invalid keys", func(t *testing.T) {
		for _, key := range []string{"", "../escape", "/abs/x", `2026\x`, "2026/../x", "a//b", "a/./b"} {
			checks := map[string]error{
				"Put":    b.Put(ctx, key, bytes.NewReader(content), int64(len(content))),
				"Delete": b.Delete(ctx, key),
			}
			_, checks["Open"] = b.Open(ctx, key)
			_, checks["OpenRange"] = b.OpenRange(ctx, key, 0, 1)
			_, checks["Stat"] = b.Stat(ctx, key)
			for op, err := range checks {
				if !errors.Is(err, ErrInvalidKey) {
					t.Errorf("%s(%q): got %v, want ErrInvalidKey", op, key, err)
				}
			}
		}
	})

	t.Run("big streaming", func(t *testing.T) {
		testBig(t, b)
	})
}

// testBig streams a 50 MB object through b, from a plain reader and from a
// file, and checks that the process never holds it in memory.
func testBig(t *testing.T, b Backend) {
	ctx := context.Background()
	key := "2026/11/28/big.cast.gz"
	want, _ := digest(t, randReader(7, bigSize))

	var peak uint64
	measure := func(f func()) uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		atomic.StoreUint64(&peak, base)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > atomic.LoadUint64(&peak) {
					atomic.StoreUint64(&peak, ms.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
		f()
		close(stop)
		wg.Wait()
		return atomic.LoadUint64(&peak) - base
	}
	// An object held in memory would show as at least its size.
	const limit = bigSize * 6 / 10

	start := time.Now()
	grew := measure(func() {
		if err := b.Put(ctx, key, randReader(7, bigSize), bigSize); err != nil {
			t.Fatalf("Put: %v", err)
		}
	})
	d := time.Since(start)
	t.Logf("%s: Put of %d MiB from a reader: %v (%.0f MiB/s), heap grew by %.1f MiB",
		b.Name(), bigSize>>20, d.Round(time.Millisecond), float64(bigSize>>20)/d.Seconds(), float64(grew)/(1<<20))
	if grew > limit {
		t.Errorf("heap grew by %d bytes during a Put of %d: the object is held in memory", grew, bigSize)
	}
	if size, err := b.Stat(ctx, key); err != nil || size != bigSize {
		t.Fatalf("Stat = %d, %v; want %d", size, err, bigSize)
	}

	var got string
	start = time.Now()
	grew = measure(func() { got = backendDigest(t, b, key) })
	d = time.Since(start)
	t.Logf("%s: Open of %d MiB: %v (%.0f MiB/s), heap grew by %.1f MiB",
		b.Name(), bigSize>>20, d.Round(time.Millisecond), float64(bigSize>>20)/d.Seconds(), float64(grew)/(1<<20))
	if got != want {
		t.Fatalf("content differs after the round trip")
	}
	if grew > limit {
		t.Errorf("heap grew by %d bytes during an Open of %d: the object is held in memory", grew, bigSize)
	}

	// The last MiB, as the replay's range requests read it.
	r, err := b.OpenRange(ctx, key, bigSize-1<<20, 1<<20)
	if err != nil {
		t.Fatalf("OpenRange: %v", err)
	}
	tail, n := digest(t, r)
	r.Close()
	wantTail, _ := digest(t, io.NewSectionReader(readerAtOf(t, randReader(7, bigSize)), bigSize-1<<20, 1<<20))
	if n != 1<<20 || tail != wantTail {
		t.Fatalf("OpenRange of the last MiB: %d bytes, digest %s; want %d bytes, %s", n, tail, 1<<20, wantTail)
	}

	// From a file, as the Uploader sends it.
	dir := t.TempDir()
	writeRecording(t, dir, "big", bigSize, 7)
	f, err := os.Open(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start = time.Now()
	grew = measure(func() {
		if err := b.Put(ctx, key, f, bigSize); err != nil {
			t.Fatalf("Put from a file: %v", err)
		}
	})
	d = time.Since(start)
	t.Logf("%s: Put of %d MiB from a file: %v (%.0f MiB/s), heap grew by %.1f MiB",
		b.Name(), bigSize>>20, d.Round(time.Millisecond), float64(bigSize>>20)/d.Seconds(), float64(grew)/(1<<20))
	if grew > limit {
		t.Errorf("heap grew by %d bytes during a Put of a %d-byte file", grew, bigSize)
	}
	if got := backendDigest(t, b, key); got != want {
		t.Fatalf("content differs after the round trip from a file")
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
}

// readerAtOf writes r to a temporary file and returns it.
func readerAtOf(t *testing.T, r io.Reader) io.ReaderAt {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	testBackend(t, l)

	t.Run("keys are paths in the directory", func(t *testing.T) {
		if err := l.Put(context.Background(), "2026/11/29/x.cast.gz", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "2026", "11", "29", "x.cast.gz")); err != nil || string(b) != "x" {
			t.Fatalf("file = %q, %v; want %q", b, err, "x")
		}
	})

	t.Run("no temporary files left", func(t *testing.T) {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".tmp-") {
				t.Errorf("temporary file left behind: %s", p)
			}
			return nil
		})
	})

	t.Run("directories are not objects", func(t *testing.T) {
		if _, err := l.Stat(context.Background(), "2026/11"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stat of a directory: got %v, want ErrNotFound", err)
		}
		if _, err := l.Open(context.Background(), "2026/11"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open of a directory: got %v, want ErrNotFound", err)
		}
		if err := l.Delete(context.Background(), "2026/11"); err == nil {
			t.Errorf("Delete of a directory: got nil, want an error")
		}
	})

	t.Run("symbolic links do not leave the directory", func(t *testing.T) {
		outside := t.TempDir()
		os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
		if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := l.Open(ctx, "link/secret"); err == nil {
			t.Error("Open through a link to outside: got nil, want an error")
		}
		if _, err := l.Stat(ctx, "link/secret"); err == nil {
			t.Error("Stat through a link to outside: got nil, want an error")
		}
		if err := l.Put(ctx, "link/new", strings.NewReader("x"), 1); err == nil {
			t.Error("Put through a link to outside: got nil, want an error")
		}
		if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
			t.Error("Put wrote outside the directory")
		}
		if err := l.Delete(ctx, "link/secret"); err == nil {
			if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
				t.Error("Delete removed a file outside the directory")
			}
		}
	})
}

func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	t.Run("no prefix", func(t *testing.T) { testBackend(t, newS3(t, srv, "")) })

	t.Run("prefix", func(t *testing.T) {
		b := newS3(t, srv, "/portcullis/recordings/")
		if err := b.Put(context.Background(), "2026/11/28/p.cast.gz", strings.NewReader("p"), 1); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if got, err := os.ReadFile(srv.ObjectPath("portcullis/recordings/2026/11/28/p.cast.gz")); err != nil || string(got) != "p" {
			t.Fatalf("object on the server's disk = %q, %v; want %q", got, err, "p")
		}
		if _, err := newS3(t, srv, "").Stat(context.Background(), "2026/11/28/p.cast.gz"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("key without the prefix: got %v, want ErrNotFound", err)
		}
	})

	t.Run("check bucket", func(t *testing.T) {
		ctx := context.Background()
		if err := newS3(t, srv, "").CheckBucket(ctx); err != nil {
			t.Fatalf("CheckBucket: %v", err)
		}
		cfg := s3Config(srv)
		cfg.Bucket = "no-such-bucket"
		b, err := NewS3(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.CheckBucket(ctx); !errors.Is(err, ErrNoBucket) {
			t.Fatalf("CheckBucket of a missing bucket: got %v, want ErrNoBucket", err)
		}
		// (Stat is a HEAD request: its 404 has no body to tell a missing
		// bucket from a missing key.)
		if err := b.Put(ctx, "k", strings.NewReader("x"), 1); !errors.Is(err, ErrNoBucket) {
			t.Fatalf("Put in a missing bucket: got %v, want ErrNoBucket", err)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		ctx := context.Background()
		cfg := s3Config(srv)
		cfg.SecretKey = "WRONG-" + srv.SecretKey[:20]
		b, err := NewS3(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		errs := []error{b.CheckBucket(ctx), b.Put(ctx, "k", strings.NewReader("x"), 1)}
		_, err = b.Stat(ctx, "k")
		errs = append(errs, err)
		_, err = b.Open(ctx, "k")
		errs = append(errs, err)
		for _, err := range errs {
			if err == nil {
				t.Fatal("request with a wrong secret key: got nil, want an error")
			}
			if strings.Contains(err.Error(), cfg.SecretKey) || strings.Contains(err.Error(), srv.SecretKey) {
				t.Fatalf("error shows the secret key: %v", err)
			}
		}
		t.Logf("error with a wrong secret key: %v", errs[0])
	})
}

func TestS3ServerDown(t *testing.T) {
	srv := s3test.Start(t)
	b := newS3(t, srv, "")
	ctx := context.Background()
	srv.Stop()
	start := time.Now()
	err := b.CheckBucket(ctx)
	if err == nil {
		t.Fatal("CheckBucket with the server down: got nil")
	}
	if strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("error shows the secret key: %v", err)
	}
	t.Logf("CheckBucket with the server down failed in %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err := b.Put(ctx, "k", strings.NewReader("x"), 1); err == nil {
		t.Fatal("Put with the server down: got nil")
	}
	srv.Restart()
	if err := b.CheckBucket(ctx); err != nil {
		t.Fatalf("CheckBucket after the restart: %v", err)
	}
}

// BenchmarkS3PutFile uploads a 50 MB recording file to versitygw on
// loopback, as the Uploader does.
func BenchmarkS3PutFile(b *testing.B) {
	srv := s3test.Start(b)
	remote := newS3(b, srv, "")
	dir := b.TempDir()
	writeRecording(b, dir, "big", bigSize, 1)
	f, err := os.Open(filepath.Join(dir, "big"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(bigSize)
	for b.Loop() {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if err := remote.Put(context.Background(), "bench/big.cast.gz", f, bigSize); err != nil {
			b.Fatal(err)
		}
	}
}
