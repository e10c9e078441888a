package session_test

import (
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
)

// fakeClock is an injected clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newRegistry returns a registry on s with a fake clock; approvals poll fast.
func newRegistry(t *testing.T, s *store.Store, node string, opts ...session.Option) (*session.Registry, *fakeClock) {
	t.Helper()
	clk := newClock()
	opts = append([]session.Option{session.WithApprovalPoll(5 * time.Millisecond)}, opts...)
	return session.NewRegistry(s.DB, audit.New(s.DB, nil, clk.Now), nil, clk.Now, node, opts...), clk
}

func testMeta() session.Meta {
	return session.Meta{
		OrgID: 1, UserID: 7, Username: "alice", AssetID: 3, AssetName: "web01", AccountName: "root",
		Protocol: "ssh", Kind: "shell", SourceIP: "192.0.2.10", Width: 80, Height: 24,
	}
}

func start(t *testing.T, r *session.Registry, m session.Meta) *session.Live {
	t.Helper()
	l, err := r.Start(t.Context(), m)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return l
}

// recv waits for one value of ch, failing after a while.
func recv[T any](t *testing.T, ch <-chan T) (T, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting on a channel")
	}
	var zero T
	return zero, false
}

func isClosed[T any](ch <-chan T) bool {
	select {
	case _, ok := <-ch:
		return !ok
	default:
		return false
	}
}
