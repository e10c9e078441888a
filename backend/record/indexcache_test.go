package record_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

func TestIndexCache(t *testing.T) {
	ctx := context.Background()
	src := generateCast(t, 4*time.Minute, 300<<10)
	dir := t.TempDir()
	paths := make([]string, 3)
	for i := range paths {
		paths[i] = filepath.Join(dir, string(rune('a'+i))+".cast.gz")
		copyFile(t, src, paths[i])
		if _, err := record.BuildIndex(ctx, paths[i], record.IndexOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := record.ReadIndex(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var kf int64
	for _, s := range want.Segments {
		kf += int64(len(s.Keyframe))
	}
	if kf == 0 || len(want.Segments) < 3 {
		t.Fatalf("the recording should have keyframes: %d segments, %d bytes", len(want.Segments), kf)
	}

	// The file keeps the keyframes last, in a member of their own.
	data, err := os.ReadFile(paths[0] + ".idx")
	if err != nil {
		t.Fatal(err)
	}
	if k, m := bytes.Index(data, []byte(`"keyframes":[`)), bytes.Index(data, []byte(`"markers":[`)); k < m || m < 0 ||
		bytes.Contains(data, []byte(`"keyframe":`)) || !bytes.HasPrefix(data, []byte(`{"version":2,`)) {
		t.Fatalf("index layout: keyframes at %d, markers at %d: %.200s", k, m, data)
	}

	c := record.NewIndexCache(2, 1<<30)
	a1, err := c.Get(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if a2, err := c.Get(paths[0] + ".idx"); err != nil || a2 != a1 {
		t.Fatalf("a second Get (by the index's path) should answer the cached index: %p %p %v", a1, a2, err)
	}
	// The cached index is ReadIndex's without the keyframes, which Keyframe
	// answers one at a time.
	if len(a1.Index.Segments) != len(want.Segments) || len(a1.Index.Markers) != len(want.Markers) ||
		a1.Index.Duration != want.Duration || a1.Index.Size != want.Size {
		t.Fatal("the cached index differs from ReadIndex's")
	}
	for i, s := range a1.Index.Segments {
		w := want.Segments[i]
		if s.Keyframe != "" || s.Offset != w.Offset || s.Length != w.Length || s.Time != w.Time || s.Cols != w.Cols {
			t.Fatalf("segment %d: %+v, want %+v without its keyframe", i, s, w)
		}
		if k, err := a1.Keyframe(i); err != nil || k != w.Keyframe {
			t.Fatalf("Keyframe(%d): %q %v, want %q", i, k, err, w.Keyframe)
		}
	}
	for _, i := range []int{-1, len(want.Segments)} {
		if _, err := a1.Keyframe(i); !errors.Is(err, record.ErrIndex) {
			t.Fatalf("Keyframe(%d): %v", i, err)
		}
	}
	// Two more recordings push the least recently used out.
	if _, err := c.Get(paths[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(paths[2]); err != nil {
		t.Fatal(err)
	}
	if a3, _ := c.Get(paths[0]); a3 == a1 {
		t.Fatal("the cache kept more indexes than its maximum")
	}

	// A recording that changed is not answered from the cache: its index is stale.
	f, err := os.OpenFile(paths[1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("more"))
	f.Close()
	if _, err := c.Get(paths[1]); !errors.Is(err, record.ErrIndexStale) {
		t.Fatalf("a grown recording: got %v, want ErrIndexStale", err)
	}
	// A missing index is an error, not a cached answer.
	os.Remove(paths[2] + ".idx")
	if _, err := c.Get(paths[2]); err == nil {
		t.Fatal("a recording whose index is gone was answered")
	}

	// The keyframe budget bounds the cache too: with room for one index's
	// keyframes, a second index evicts the first.
	small := record.NewIndexCache(10, kf)
	b1, _ := small.Get(paths[0])
	copyFile(t, src, paths[2])
	if _, err := record.BuildIndex(ctx, paths[2], record.IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Get(paths[2]); err != nil {
		t.Fatal(err)
	}
	if b2, _ := small.Get(paths[0]); b2 == b1 {
		t.Fatal("the cache kept more keyframes than its budget")
	}
}
