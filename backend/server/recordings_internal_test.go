package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/storage/s3test"
	"github.com/portcullis/portcullis/backend/store"
)

// Retention deletes the recordings of sessions that ended too long ago, and
// their indexes, audits each deletion and notes it in the row; a session on
// legal hold and a recent one keep theirs.
func TestRetention(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr = t.TempDir(), "127.0.0.1:0"
	srv, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	now := time.Now()
	dir := filepath.Join(cfg.DataDir, "recordings", "2026", "01", "02")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mk := func(id string, endedDaysAgo int, hold bool) string {
		path := filepath.Join(dir, id+".cast")
		for _, p := range []string{path, path + ".idx"} {
			if err := os.WriteFile(p, []byte("{\"version\": 2, \"width\": 80, \"height\": 24}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ended := now.Add(-time.Duration(endedDaysAgo) * 24 * time.Hour)
		row := store.Session{ID: id, OrgID: 1, Username: "alice", AssetName: "web01", StartedAt: ended.Add(-time.Hour),
			EndedAt: &ended, Recording: path, LegalHold: hold}
		if err := srv.Store().DB.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
		return path
	}
	old := mk("old-session", 40, false)
	held := mk("held-session", 40, true)
	recent := mk("recent-session", 2, false)
	if err := srv.recordings.sets.Put(ctx, settings.KeyRecords, settings.Recordings{RetentionDays: 30}); err != nil {
		t.Fatal(err)
	}
	if err := srv.recordings.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{old: false, old + ".idx": false, held: true, recent: true} {
		_, err := os.Stat(path)
		if got := err == nil; got != want {
			t.Errorf("%s exists: got %v, want %v", filepath.Base(path), got, want)
		}
	}
	var rows []store.OperationLog
	srv.Store().DB.Where("action = ?", "recording.delete").Find(&rows)
	if len(rows) != 1 || rows[0].ResourceID != "old-session" || !rows[0].Success {
		t.Fatalf("audit rows: got %+v, want one successful deletion of old-session", rows)
	}
	var s store.Session
	srv.Store().DB.Where("id = ?", "old-session").Take(&s)
	if s.RecordingDeletedAt == nil {
		t.Error("the deletion is not noted in the session row")
	}
	// A second sweep finds nothing more to delete.
	if err := srv.recordings.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Store().DB.Where("action = ?", "recording.delete").Find(&rows)
	if len(rows) != 1 {
		t.Fatalf("a second sweep audited %d deletions in all, want still 1", len(rows))
	}
}

// A finished session's recording and its index reach the object store (a real
// versitygw) through the durable queue, and the session row says so; the
// S3 settings go through the API's sealed-secret path.
func TestRecordingsUploadToS3(t *testing.T) {
	s3 := s3test.Start(t)
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr = t.TempDir(), "127.0.0.1:0"
	srv, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	r := srv.recordings
	sealed, err := r.vault.Seal([]byte(s3.SecretKey), settings.S3SecretAAD)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sets.Put(ctx, settings.KeyRecords, settings.Recordings{S3: settings.S3{Enabled: true, Endpoint: s3.Endpoint,
		Bucket: s3.Bucket, Prefix: "portcullis", AccessKey: s3.AccessKey, SecretEnc: sealed}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Reconfigure(ctx); err != nil {
		t.Fatal(err)
	}
	if on, msg, _ := r.Backlog(); !on || msg != "" {
		t.Fatalf("backlog: on %v, error %q", on, msg)
	}

	dir := filepath.Join(cfg.DataDir, "recordings", "2026", "03", "04")
	os.MkdirAll(dir, 0o700)
	path := filepath.Join(dir, "up-1.cast")
	content := "{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.5, \"o\", \"hello\\r\\n\"]\n[0.6, \"m\", \"echo hello\"]\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	if err := srv.Store().DB.Create(&store.Session{ID: "up-1", OrgID: 1, Username: "alice", StartedAt: ended.Add(-time.Minute), EndedAt: &ended, Recording: path}).Error; err != nil {
		t.Fatal(err)
	}
	r.ended(session.Meta{ID: "up-1", Recording: path})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var s store.Session
		srv.Store().DB.Where("id = ?", "up-1").Take(&s)
		if s.UploadedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			_, _, b := r.Backlog()
			t.Fatalf("the recording was not uploaded: backlog %+v", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, key := range []string{"portcullis/2026/03/04/up-1.cast", "portcullis/2026/03/04/up-1.cast.idx"} {
		got, err := os.ReadFile(s3.ObjectPath(key))
		if err != nil {
			t.Fatalf("object %s: %v", key, err)
		}
		if key == "portcullis/2026/03/04/up-1.cast" && string(got) != content {
			t.Fatalf("object %s: got %q", key, got)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("the local copy is gone: replay and export read it")
	}
}
