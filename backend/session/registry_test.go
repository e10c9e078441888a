package session_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestStartAndEndWriteTheSessionRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		r, clk := newRegistry(t, s, "node-a")
		m := testMeta()
		m.Recording = "/data/recordings/2026/03/04/x.cast.gz"
		l := start(t, r, m)
		id := l.Meta().ID
		if len(id) != 36 {
			t.Fatalf("generated id %q: got length %d, want 36", id, len(id))
		}
		var row store.Session
		if err := s.DB.Where("id = ?", id).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		want := store.Session{ID: id, OrgID: 1, UserID: 7, Username: "alice", AssetID: 3, AssetName: "web01", AccountName: "root",
			Protocol: "ssh", SourceIP: "192.0.2.10", StartedAt: clk.Now(), Recording: m.Recording, Node: "node-a", Kind: "shell"}
		if !row.StartedAt.Equal(want.StartedAt) {
			t.Fatalf("started_at: got %v, want %v", row.StartedAt, want.StartedAt)
		}
		row.StartedAt = want.StartedAt
		if row != want {
			t.Fatalf("row after Start:\ngot  %+v\nwant %+v", row, want)
		}
		if got := r.List(1); len(got) != 1 || got[0].ID != id || got[0].Node != "node-a" {
			t.Fatalf("List(1): got %+v, want the session", got)
		}
		if got := r.List(2); len(got) != 0 {
			t.Fatalf("List(2): got %d sessions, want 0", len(got))
		}

		clk.Advance(90 * time.Second)
		l.AddBytes(10, 2000)
		l.AddBytes(5, 48)
		for _, c := range []string{"ls -la", "uptime"} {
			if err := l.AddCommand(store.Command{Input: c, Risk: "low"}); err != nil {
				t.Fatalf("add command: %v", err)
			}
		}
		var cmd store.Command
		s.DB.Where("session_id = ?", id).Order("id").First(&cmd)
		if cmd.Username != "alice" || cmd.AssetName != "web01" || cmd.Account != "root" || cmd.OrgID != 1 || cmd.Offset != 90 {
			t.Fatalf("command row: got %+v", cmd)
		}
		if err := l.End(t.Context(), "user logged out"); err != nil {
			t.Fatalf("end: %v", err)
		}
		if err := l.End(t.Context(), "again"); err != nil {
			t.Fatalf("second end: got %v, want nil", err)
		}
		s.DB.Where("id = ?", id).Take(&row)
		if row.EndedAt == nil || !row.EndedAt.Equal(clk.Now()) || row.EndReason != "user logged out" ||
			row.BytesIn != 15 || row.BytesOut != 2048 || row.CommandCount != 2 {
			t.Fatalf("row after End: got %+v (ended_at %v)", row, row.EndedAt)
		}
		if _, ok := r.Get(id); ok {
			t.Fatal("an ended session is still in the registry")
		}
		if !isClosed(l.Done()) {
			t.Fatal("Done() is not closed after End")
		}
	})
}

func TestStartRefusesBadAndDuplicateIDs(t *testing.T) {
	r, _ := newRegistry(t, storetest.SQLite(t), "n")
	m := testMeta()
	m.ID = "fixed-id-1"
	start(t, r, m)
	tests := []struct {
		name string
		id   string
		want error
	}{
		{"path traversal", "../../etc/passwd", session.ErrInvalid},
		{"too long", strings.Repeat("a", 37), session.ErrInvalid},
		{"control character", "a\nb", session.ErrInvalid},
		{"duplicate", "fixed-id-1", store.ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMeta()
			m.ID = tt.id
			_, err := r.Start(t.Context(), m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecoverInterruptedClosesThisNodesOpenRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		past := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		ended := past.Add(time.Hour)
		rows := []store.Session{
			{ID: "open-a", OrgID: 1, Node: "node-a", StartedAt: past},
			{ID: "open-b", OrgID: 1, Node: "node-b", StartedAt: past},
			{ID: "done-a", OrgID: 1, Node: "node-a", StartedAt: past, EndedAt: &ended, EndReason: "closed"},
		}
		for i := range rows {
			storetest.MustCreate(t, s.DB, &rows[i])
		}
		for _, c := range []string{"ls", "id", "w"} {
			storetest.MustCreate(t, s.DB, &store.Command{SessionID: "open-a", Input: c})
		}
		storetest.MustCreate(t, s.DB, &store.Approval{SessionID: "open-a", Status: store.ApprovalPending, ExpiresAt: past.Add(time.Minute)})

		r, clk := newRegistry(t, s, "node-a")
		n, err := r.RecoverInterrupted(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// SQLite serves one node only, so every open row is this node's;
		// PostgreSQL may be shared, so only node-a's rows are closed.
		wantClosed := map[string]bool{"open-a": true, "open-b": s.Driver == "sqlite"}
		wantN := 1
		if s.Driver == "sqlite" {
			wantN = 2
		}
		if n != wantN {
			t.Fatalf("recovered: got %d, want %d", n, wantN)
		}
		for id, closed := range wantClosed {
			var row store.Session
			s.DB.Where("id = ?", id).Take(&row)
			if got := row.EndedAt != nil; got != closed {
				t.Fatalf("%s closed: got %v, want %v", id, got, closed)
			}
			if closed && (row.EndReason != session.EndInterrupted || !row.EndedAt.Equal(clk.Now())) {
				t.Fatalf("%s: got reason %q at %v, want %q at %v", id, row.EndReason, row.EndedAt, session.EndInterrupted, clk.Now())
			}
		}
		var a store.Session
		s.DB.Where("id = ?", "open-a").Take(&a)
		if a.CommandCount != 3 {
			t.Fatalf("command count of the interrupted session: got %d, want 3", a.CommandCount)
		}
		var d store.Session
		s.DB.Where("id = ?", "done-a").Take(&d)
		if d.EndReason != "closed" || !d.EndedAt.Equal(ended) {
			t.Fatalf("an ended row was touched: %+v", d)
		}
		var ap store.Approval
		s.DB.Where("session_id = ?", "open-a").Take(&ap)
		if ap.Status != store.ApprovalExpired {
			t.Fatalf("approval of the interrupted session: got %q, want %q", ap.Status, store.ApprovalExpired)
		}
		if n, err := r.RecoverInterrupted(t.Context()); err != nil || n != 0 {
			t.Fatalf("second recovery: got %d, %v, want 0, nil", n, err)
		}
	})
}

func TestKillAndLock(t *testing.T) {
	r, _ := newRegistry(t, storetest.SQLite(t), "n")
	l := start(t, r, testMeta())
	id := l.Meta().ID

	lockCh := l.LockChanged()
	if l.Locked() {
		t.Fatal("a new session is locked")
	}
	if err := r.Lock(t.Context(), id, true, "bob"); err != nil {
		t.Fatal(err)
	}
	if !isClosed(lockCh) || !l.Locked() || l.LockedBy() != "bob" {
		t.Fatalf("after lock: changed %v, locked %v by %q; want true, true, bob", isClosed(lockCh), l.Locked(), l.LockedBy())
	}
	again := l.LockChanged()
	if err := r.Lock(t.Context(), id, true, "carol"); err != nil {
		t.Fatal(err)
	}
	if isClosed(again) {
		t.Fatal("locking a locked session signalled a change")
	}
	if err := r.Lock(t.Context(), id, false, "bob"); err != nil {
		t.Fatal(err)
	}
	if !isClosed(again) || l.Locked() {
		t.Fatalf("after unlock: changed %v, locked %v; want true, false", isClosed(again), l.Locked())
	}

	tests := []struct {
		name, reason, by, want string
	}{
		{"with reason", "maintenance window", "bob", "killed by bob: maintenance window"},
		{"second kill keeps the first reason", "other", "carol", "killed by bob: maintenance window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Kill(t.Context(), id, tt.reason, tt.by); err != nil {
				t.Fatal(err)
			}
			if !isClosed(l.Killed()) {
				t.Fatal("Killed() is not closed")
			}
			if got := l.KillReason(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !l.Stats().Killed {
		t.Fatal("stats do not say killed")
	}
	// The relay ends a killed session; an empty reason means the kill reason.
	if err := l.End(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if got := l.EndReason(); got != "killed by bob: maintenance window" {
		t.Fatalf("end reason: got %q", got)
	}
	for name, err := range map[string]error{
		"kill":  r.Kill(t.Context(), id, "x", "bob"),
		"lock":  r.Lock(t.Context(), id, true, "bob"),
		"share": func() error { _, err := r.Share(t.Context(), id, false, time.Minute, "bob"); return err }(),
	} {
		if !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s of an ended session: got %v, want %v", name, err, session.ErrNotFound)
		}
	}
}

func TestShareLinksExpire(t *testing.T) {
	r, clk := newRegistry(t, storetest.SQLite(t), "n")
	l := start(t, r, testMeta())
	id := l.Meta().ID
	ro, err := r.Share(t.Context(), id, false, 10*time.Minute, "bob")
	if err != nil {
		t.Fatal(err)
	}
	rw, err := r.Share(t.Context(), id, true, 30*time.Minute, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ro.Token, session.SharePrefix) || len(ro.Token) < 40 || ro.Token == rw.Token {
		t.Fatalf("tokens %q and %q", ro.Token, rw.Token)
	}
	if !ro.ExpiresAt.Equal(clk.Now().Add(10 * time.Minute)) {
		t.Fatalf("expires_at: got %v, want %v", ro.ExpiresAt, clk.Now().Add(10*time.Minute))
	}
	steps := []struct {
		name        string
		advance     time.Duration
		token       string
		wantErr     error
		interactive bool
	}{
		{"read-only link works", 0, ro.Token, nil, false},
		{"interactive link works", 0, rw.Token, nil, true},
		{"read-only link just before expiry", 9*time.Minute + 59*time.Second, ro.Token, nil, false},
		{"read-only link at expiry", time.Second, ro.Token, session.ErrShareExpired, false},
		{"expired link is forgotten", 0, ro.Token, session.ErrShareNotFound, false},
		{"interactive link still works", 0, rw.Token, nil, true},
		{"unknown token", 0, session.SharePrefix + "nope", session.ErrShareNotFound, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.Advance(st.advance)
			got, link, err := r.Join(st.token)
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("got %v, want %v", err, st.wantErr)
			}
			if err == nil && (got != l || link.Interactive != st.interactive || link.SessionID != id || link.Token != "") {
				t.Fatalf("got %v %+v, want the session, interactive %v, no token", got == l, link, st.interactive)
			}
		})
	}
	if _, err := r.Share(t.Context(), id, false, 25*time.Hour, "bob"); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("25h link: got %v, want %v", err, session.ErrInvalid)
	}
	l.End(t.Context(), "")
	if _, _, err := r.Join(rw.Token); !errors.Is(err, session.ErrShareNotFound) {
		t.Fatalf("link of an ended session: got %v, want %v", err, session.ErrShareNotFound)
	}
}

func TestJoinInputReachesTheRelay(t *testing.T) {
	r, _ := newRegistry(t, storetest.SQLite(t), "n")
	l := start(t, r, testMeta())
	buf := []byte("ls\r")
	if err := l.SendInput(t.Context(), buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // SendInput copies
	got, _ := recv(t, l.JoinInput())
	if string(got) != "ls\r" {
		t.Fatalf("got %q, want %q", got, "ls\r")
	}
	l.End(t.Context(), "")
	if err := l.SendInput(t.Context(), []byte("x")); !errors.Is(err, session.ErrEnded) {
		t.Fatalf("after end: got %v, want %v", err, session.ErrEnded)
	}
}

func TestRecoverInterruptedRepairsTheRecording(t *testing.T) {
	s := storetest.SQLite(t)
	path := filepath.Join(t.TempDir(), "cut.cast.gz")
	w, err := record.CreateCast(path, record.Header{Width: 80, Height: 24}, record.CastOptions{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	headerOnly := w.Size()
	w.Output([]byte("before the crash\r\n"))
	// Wait for the flush, then cut the file as a kill -9 would: no gzip trailer.
	deadline := time.Now().Add(5 * time.Second)
	for w.Size() <= headerOnly && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 20 {
		t.Fatalf("recording not flushed: %d bytes, %v", len(b), err)
	}
	w.Close()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(mustGzip(t, b)); err == nil {
		t.Fatal("the cut file reads as complete gzip; the test cuts nothing")
	}
	storetest.MustCreate(t, s.DB, &store.Session{ID: "cut", OrgID: 1, Node: "node-a", StartedAt: time.Now(), Recording: path})
	r, _ := newRegistry(t, s, "node-a")
	if _, err := r.RecoverInterrupted(t.Context()); err != nil {
		t.Fatal(err)
	}
	fixed, _ := os.ReadFile(path)
	out, err := io.ReadAll(mustGzip(t, fixed))
	if err != nil {
		t.Fatalf("the repaired recording is not a complete gzip file: %v", err)
	}
	if !strings.Contains(string(out), "before the crash") {
		t.Fatalf("repaired recording lost the output: %q", out)
	}
}

func mustGzip(t *testing.T, b []byte) io.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}
