package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// TestSeed puts a small generated recording into a data dir and checks that it is
// there as the server would have left it: an ended session of the first user, its
// recording under recordings/ and indexed, a command row per marker.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := run(ctx, options{dataDir: dir, duration: time.Minute, size: 64 << 10, seed: 1}); err == nil ||
		!strings.Contains(err.Error(), "not an initialised data dir") {
		t.Fatalf("an empty dir: got %v", err)
	}
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var org store.Organization // the store creates the built-in organization
	if err := st.DB.First(&org).Error; err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin", "bob"} {
		u := store.User{OrgID: org.ID, Username: name, Role: "admin", OrgRole: "admin", IsActive: true}
		if err := st.DB.Create(&u).Error; err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	res, err := run(ctx, options{dataDir: dir, duration: 3 * time.Minute, size: 200 << 10, seed: 7, user: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(filepath.Join(dir, "recordings"), res.Path); err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("recording %s is not under the data dir's recordings", res.Path)
	}
	if res.Duration < 170 || res.Segments < 2 || res.Markers == 0 || res.Bytes < 100<<10 || res.Bytes > 400<<10 {
		t.Fatalf("unexpected recording: %+v", res)
	}
	idx, err := record.ReadIndex(res.Path)
	if err != nil {
		t.Fatalf("the recording is not indexed: %v", err)
	}
	if len(idx.Segments) != res.Segments || len(idx.Markers) != res.Markers {
		t.Fatalf("index %d segments %d markers, castgen said %+v", len(idx.Segments), len(idx.Markers), res)
	}

	st, err = store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var s store.Session
	if err := st.DB.First(&s, "id = ?", res.Session).Error; err != nil {
		t.Fatal(err)
	}
	if s.Username != "bob" || s.EndedAt == nil || s.Recording != res.Path || s.OrgID != org.ID ||
		s.EndedAt.Sub(s.StartedAt) < 170*time.Second || s.EndedAt.After(time.Now()) {
		t.Fatalf("session row: %+v", s)
	}
	var cmds []store.Command
	if err := st.DB.Where("session_id = ?", s.ID).Order("offset").Find(&cmds).Error; err != nil {
		t.Fatal(err)
	}
	if len(cmds) != res.Markers {
		t.Fatalf("%d command rows for %d markers", len(cmds), res.Markers)
	}
	for i, c := range cmds {
		m := idx.Markers[i]
		if c.Offset != m.Time || !strings.HasSuffix(m.Label, c.Input) {
			t.Fatalf("command %d %+v does not match marker %+v", i, c, m)
		}
		if denied := strings.HasPrefix(m.Label, "[denied] "); denied != (c.Verdict == term.VerdictDenied) {
			t.Fatalf("command %d verdict %q for marker %q", i, c.Verdict, m.Label)
		}
	}
	if _, err := os.Stat(res.Path + ".idx"); err != nil {
		t.Fatal(err)
	}
}
