package record_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record/castgen"
)

// generateCast writes a realistic recording of about duration and size bytes (stored,
// compressed) with castgen (the real CastWriter and an injected clock) and returns its
// path. The same arguments give the same recording.
func generateCast(tb testing.TB, duration time.Duration, size int64) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "session.cast.gz")
	genCastTo(tb, path, duration, size, 1)
	return path
}

func genCastTo(tb testing.TB, path string, duration time.Duration, size int64, seed uint64) {
	tb.Helper()
	if _, err := castgen.Write(path, castgen.Options{Duration: duration, Size: size, Seed: seed,
		Start: newClock().Now()}); err != nil {
		tb.Fatal(err)
	}
}

// castCache keeps the big generated recordings of the benchmarks, which take seconds
// to make, for the whole test binary; TestMain removes them.
var castCache struct {
	mu    sync.Mutex
	dir   string
	paths map[string]string
}

// cachedCast returns a pristine recording made by generateCast; callers copy it
// before changing it.
func cachedCast(tb testing.TB, duration time.Duration, size int64) string {
	tb.Helper()
	castCache.mu.Lock()
	defer castCache.mu.Unlock()
	key := fmt.Sprint(duration, size)
	if p, ok := castCache.paths[key]; ok {
		return p
	}
	if castCache.dir == "" {
		dir, err := os.MkdirTemp("", "record-index-bench-")
		if err != nil {
			tb.Fatal(err)
		}
		castCache.dir, castCache.paths = dir, map[string]string{}
	}
	p := filepath.Join(castCache.dir, fmt.Sprintf("%d.cast.gz", len(castCache.paths)))
	genCastTo(tb, p, duration, size, 1)
	castCache.paths[key] = p
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if castCache.dir != "" {
		os.RemoveAll(castCache.dir)
	}
	os.Exit(code)
}

// copyFile copies src to dst.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}
