package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/storage/s3test"
)

// failingDelete is a real Backend whose Delete fails.
type failingDelete struct {
	Backend
	calls int
}

func (f *failingDelete) Delete(ctx context.Context, key string) error {
	f.calls++
	return errors.New("injected: delete refused")
}

type auditRecord struct {
	session string
	err     error
}

func TestSweep(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	candidates := []RetentionCandidate{
		{Key: "2026/08/01/old.cast.gz", SessionID: "old", EndedAt: now.Add(-119 * day)},
		{Key: "2026/08/01/held.cast.gz", SessionID: "held", EndedAt: now.Add(-119 * day), LegalHold: true},
		{Key: "2026/10/29/edge.guac", SessionID: "edge", EndedAt: now.Add(-30 * day)},             // exactly 30 days: kept
		{Key: "2026/10/29/over.guac", SessionID: "over", EndedAt: now.Add(-30*day - time.Second)}, // just over
		{Key: "2026/11/27/new.cast.gz", SessionID: "new", EndedAt: now.Add(-day)},
		{Key: "2026/11/28/running.cast.gz", SessionID: "running"}, // not ended
	}
	setup := func(t *testing.T, dirs ...string) []Backend {
		var bs []Backend
		for _, d := range dirs {
			for _, c := range candidates {
				writeRecording(t, d, c.Key, 10, 0)
				writeRecording(t, d, c.Key+IndexSuffix, 10, 0)
			}
			l, err := NewLocal(d)
			if err != nil {
				t.Fatal(err)
			}
			bs = append(bs, l)
		}
		return bs
	}
	exists := func(dir, key string) bool {
		_, err := os.Stat(filepath.Join(dir, key))
		return err == nil
	}

	t.Run("deletes old recordings from every backend", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		backends := setup(t, a, b)
		var audited []auditRecord
		deleted, err := Sweep(context.Background(), now, 30, candidates, backends, func(c RetentionCandidate, err error) {
			audited = append(audited, auditRecord{c.SessionID, err})
		})
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		want := []string{"2026/08/01/old.cast.gz", "2026/10/29/over.guac"}
		if !slices.Equal(deleted, want) {
			t.Fatalf("deleted %v, want %v", deleted, want)
		}
		if wantAudit := []auditRecord{{"old", nil}, {"over", nil}}; !slices.Equal(audited, wantAudit) {
			t.Fatalf("audited %v, want %v", audited, wantAudit)
		}
		for _, dir := range []string{a, b} {
			for _, c := range candidates {
				gone := slices.Contains(want, c.Key)
				if exists(dir, c.Key) == gone || exists(dir, c.Key+IndexSuffix) == gone {
					t.Errorf("%s in %s: exists=%v, index exists=%v; want deleted=%v", c.Key, dir, exists(dir, c.Key), exists(dir, c.Key+IndexSuffix), gone)
				}
			}
		}
		// Again: nothing left to delete is not an error.
		if _, err := Sweep(context.Background(), now, 30, candidates, backends, nil); err != nil {
			t.Fatalf("second Sweep: %v", err)
		}
	})

	t.Run("days <= 0 keeps everything", func(t *testing.T) {
		for _, days := range []int{0, -1} {
			dir := t.TempDir()
			backends := setup(t, dir)
			called := false
			deleted, err := Sweep(context.Background(), now, days, candidates, backends, func(RetentionCandidate, error) { called = true })
			if err != nil || len(deleted) != 0 || called {
				t.Fatalf("days=%d: deleted %v, err %v, audit called %v; want nothing", days, deleted, err, called)
			}
			for _, c := range candidates {
				if !exists(dir, c.Key) {
					t.Fatalf("days=%d: %s deleted", days, c.Key)
				}
			}
		}
	})

	t.Run("a failing backend is audited and does not stop the others", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		backends := setup(t, a, b)
		backends[0] = &failingDelete{Backend: backends[0]}
		var audited []auditRecord
		deleted, err := Sweep(context.Background(), now, 30, candidates, backends, func(c RetentionCandidate, err error) {
			audited = append(audited, auditRecord{c.SessionID, err})
		})
		if err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("Sweep error = %v, want the injected failure", err)
		}
		if len(deleted) != 0 {
			t.Fatalf("deleted %v, want none (not gone from every backend)", deleted)
		}
		if len(audited) != 2 || audited[0].session != "old" || audited[1].session != "over" {
			t.Fatalf("audited %v, want old and over", audited)
		}
		for _, r := range audited {
			if r.err == nil || !strings.Contains(r.err.Error(), "local") {
				t.Errorf("audit of %s: err %v, want the failure naming the backend", r.session, r.err)
			}
		}
		if exists(b, "2026/08/01/old.cast.gz") || exists(b, "2026/10/29/over.guac") {
			t.Error("the working backend still has the old recordings")
		}
	})

	t.Run("a backend failing again and again is skipped", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		var many []RetentionCandidate
		for i := range 6 {
			k := fmt.Sprintf("2026/01/01/s%d.cast.gz", i)
			many = append(many, RetentionCandidate{Key: k, SessionID: fmt.Sprint(i), EndedAt: now.Add(-100 * day)})
			writeRecording(t, a, k, 1, 0)
			writeRecording(t, b, k, 1, 0)
		}
		la, _ := NewLocal(a)
		lb, _ := NewLocal(b)
		bad := &failingDelete{Backend: la}
		var audited []auditRecord
		_, err := Sweep(context.Background(), now, 30, many, []Backend{bad, lb}, func(c RetentionCandidate, err error) {
			audited = append(audited, auditRecord{c.SessionID, err})
		})
		if err == nil {
			t.Fatal("Sweep error = nil, want the failures")
		}
		if bad.calls != sweepGiveUp {
			t.Errorf("the failing backend was asked %d times, want %d", bad.calls, sweepGiveUp)
		}
		if len(audited) != len(many) {
			t.Fatalf("audited %d, want %d", len(audited), len(many))
		}
		for _, r := range audited {
			if r.err == nil {
				t.Errorf("audit of %s: no error", r.session)
			}
		}
		for _, c := range many {
			if exists(b, c.Key) {
				t.Errorf("%s not deleted from the working backend", c.Key)
			}
		}
	})

	t.Run("bad keys are audited, not deleted", func(t *testing.T) {
		dir := t.TempDir()
		backends := setup(t, dir)
		var audited []auditRecord
		bad := []RetentionCandidate{{Key: "../../etc/passwd", SessionID: "evil", EndedAt: now.Add(-100 * day)}}
		deleted, err := Sweep(context.Background(), now, 30, bad, backends, func(c RetentionCandidate, err error) {
			audited = append(audited, auditRecord{c.SessionID, err})
		})
		if err == nil || len(deleted) != 0 || len(audited) != 1 || !errors.Is(audited[0].err, ErrInvalidKey) {
			t.Fatalf("deleted %v, err %v, audited %v; want an audited ErrInvalidKey", deleted, err, audited)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		dir := t.TempDir()
		backends := setup(t, dir)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		deleted, err := Sweep(ctx, now, 30, candidates, backends, nil)
		if !errors.Is(err, context.Canceled) || len(deleted) != 0 {
			t.Fatalf("deleted %v, err %v; want nothing, context.Canceled", deleted, err)
		}
	})
}

// TestSweepS3 sweeps the local directory and a real bucket, then again with
// the object store down: the local deletions go on and the remote failure is
// audited.
func TestSweepS3(t *testing.T) {
	srv := s3test.Start(t)
	remote := newS3(t, srv, "")
	dir := t.TempDir()
	local, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	put := func(key string) {
		writeRecording(t, dir, key, 10, 0)
		if err := remote.Put(ctx, key, mustOpen(t, filepath.Join(dir, key)), 10); err != nil {
			t.Fatal(err)
		}
	}
	put("2026/01/01/a.cast.gz")
	put("2026/01/01/a.cast.gz" + IndexSuffix)
	put("2026/01/02/b.cast.gz")
	put("2026/11/28/c.cast.gz")
	old := func(key, id string) RetentionCandidate {
		return RetentionCandidate{Key: key, SessionID: id, EndedAt: now.AddDate(0, -6, 0)}
	}
	backends := []Backend{local, remote}

	var audited []auditRecord
	audit := func(c RetentionCandidate, err error) { audited = append(audited, auditRecord{c.SessionID, err}) }
	deleted, err := Sweep(ctx, now, 90, []RetentionCandidate{old("2026/01/01/a.cast.gz", "a"),
		{Key: "2026/11/28/c.cast.gz", SessionID: "c", EndedAt: now}}, backends, audit)
	if err != nil || !slices.Equal(deleted, []string{"2026/01/01/a.cast.gz"}) {
		t.Fatalf("Sweep = %v, %v", deleted, err)
	}
	for _, k := range []string{"2026/01/01/a.cast.gz", "2026/01/01/a.cast.gz" + IndexSuffix} {
		if _, err := remote.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on the remote: %v, want ErrNotFound", k, err)
		}
	}
	if _, err := remote.Stat(ctx, "2026/11/28/c.cast.gz"); err != nil {
		t.Errorf("recent recording deleted from the remote: %v", err)
	}

	srv.Stop()
	audited = nil
	deleted, err = Sweep(ctx, now, 90, []RetentionCandidate{old("2026/01/02/b.cast.gz", "b")}, backends, audit)
	if err == nil || len(deleted) != 0 {
		t.Fatalf("Sweep with the store down = %v, %v; want an error", deleted, err)
	}
	if len(audited) != 1 || audited[0].err == nil || !strings.Contains(audited[0].err.Error(), "from s3") {
		t.Fatalf("audited %v, want the s3 failure", audited)
	}
	if strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("error shows the secret key: %v", err)
	}
	if _, err := local.Stat(ctx, "2026/01/02/b.cast.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("local copy with the store down: %v, want deleted", err)
	}
}
