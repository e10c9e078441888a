package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

type approvalResult struct {
	approved bool
	by       string
	err      error
}

// request runs RequestApproval on its own goroutine and returns the pending
// row (as published to a subscriber) and where the result will arrive.
func request(t *testing.T, ctx context.Context, r *session.Registry, l *session.Live, timeout time.Duration) (store.Approval, <-chan approvalResult) {
	t.Helper()
	sub, cancel := r.SubscribeApprovals(l.Meta().OrgID)
	defer cancel()
	done := make(chan approvalResult, 1)
	go func() {
		ok, by, err := r.RequestApproval(ctx, l, "rm -rf /srv/app", cmdfilter.Verdict{Action: store.FilterConfirm, FilterID: 4, FilterName: "confirm deletes", Risk: "high"}, timeout)
		done <- approvalResult{ok, by, err}
	}()
	a, _ := recv(t, sub)
	if a.Status != store.ApprovalPending || a.Command != "rm -rf /srv/app" || a.Username != "alice" || a.FilterName != "confirm deletes" {
		t.Fatalf("published approval: got %+v", a)
	}
	return a, done
}

func TestApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		tests := []struct {
			name string
			// act decides (or not) while the request waits; other is a
			// registry of another node on the same database.
			act        func(t *testing.T, a store.Approval, r, other *session.Registry, l *session.Live, clk *fakeClock, cancel context.CancelFunc)
			want       approvalResult
			wantStatus string
			wantBy     string
		}{
			{
				name: "approved",
				act: func(t *testing.T, a store.Approval, r, _ *session.Registry, _ *session.Live, _ *fakeClock, _ context.CancelFunc) {
					if err := r.Decide(t.Context(), a.ID, true, "carol"); err != nil {
						t.Fatal(err)
					}
				},
				want: approvalResult{true, "carol", nil}, wantStatus: store.ApprovalApproved, wantBy: "carol",
			},
			{
				name: "denied",
				act: func(t *testing.T, a store.Approval, r, _ *session.Registry, _ *session.Live, _ *fakeClock, _ context.CancelFunc) {
					if err := r.Decide(t.Context(), a.ID, false, "carol"); err != nil {
						t.Fatal(err)
					}
				},
				want: approvalResult{false, "carol", nil}, wantStatus: store.ApprovalDenied, wantBy: "carol",
			},
			{
				name: "self-approval refused, then approved by someone else",
				act: func(t *testing.T, a store.Approval, r, _ *session.Registry, _ *session.Live, _ *fakeClock, _ context.CancelFunc) {
					if err := r.Decide(t.Context(), a.ID, true, "alice"); !errors.Is(err, session.ErrSelfApproval) {
						t.Fatalf("self-approval: got %v, want %v", err, session.ErrSelfApproval)
					}
					if err := r.Decide(t.Context(), a.ID, true, "carol"); err != nil {
						t.Fatal(err)
					}
					if err := r.Decide(t.Context(), a.ID, false, "dave"); !errors.Is(err, session.ErrDecided) {
						t.Fatalf("second decision: got %v, want %v", err, session.ErrDecided)
					}
				},
				want: approvalResult{true, "carol", nil}, wantStatus: store.ApprovalApproved, wantBy: "carol",
			},
			{
				name: "the requester may withdraw (deny) their own command",
				act: func(t *testing.T, a store.Approval, r, _ *session.Registry, _ *session.Live, _ *fakeClock, _ context.CancelFunc) {
					if err := r.Decide(t.Context(), a.ID, false, "alice"); err != nil {
						t.Fatal(err)
					}
				},
				want: approvalResult{false, "alice", nil}, wantStatus: store.ApprovalDenied, wantBy: "alice",
			},
			{
				name: "timed out",
				act: func(t *testing.T, a store.Approval, r, _ *session.Registry, _ *session.Live, clk *fakeClock, _ context.CancelFunc) {
					clk.Advance(2 * time.Minute)
				},
				want: approvalResult{false, "", session.ErrApprovalExpired}, wantStatus: store.ApprovalExpired,
			},
			{
				name: "decided on another node",
				act: func(t *testing.T, a store.Approval, _, other *session.Registry, _ *session.Live, _ *fakeClock, _ context.CancelFunc) {
					if err := other.Decide(t.Context(), a.ID, true, "carol"); err != nil {
						t.Fatal(err)
					}
				},
				want: approvalResult{true, "carol", nil}, wantStatus: store.ApprovalApproved, wantBy: "carol",
			},
			{
				name: "session killed while waiting",
				act: func(t *testing.T, _ store.Approval, r, _ *session.Registry, l *session.Live, _ *fakeClock, _ context.CancelFunc) {
					if err := r.Kill(t.Context(), l.Meta().ID, "enough", "carol"); err != nil {
						t.Fatal(err)
					}
				},
				want: approvalResult{false, "", session.ErrKilled}, wantStatus: store.ApprovalExpired,
			},
			{
				name: "context ended",
				act: func(t *testing.T, _ store.Approval, _, _ *session.Registry, _ *session.Live, _ *fakeClock, cancel context.CancelFunc) {
					cancel()
				},
				want: approvalResult{false, "", context.Canceled}, wantStatus: store.ApprovalExpired,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, clk := newRegistry(t, s, "node-a")
				other := session.NewRegistry(s.DB, nil, nil, clk.Now, "node-b")
				l := start(t, r, testMeta())
				defer l.End(t.Context(), "")
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				a, done := request(t, ctx, r, l, time.Minute)
				if !a.ExpiresAt.Equal(clk.Now().Add(time.Minute)) {
					t.Fatalf("expires_at: got %v, want %v", a.ExpiresAt, clk.Now().Add(time.Minute))
				}
				tt.act(t, a, r, other, l, clk, cancel)
				got, _ := recv(t, done)
				if got.approved != tt.want.approved || got.by != tt.want.by || !errors.Is(got.err, tt.want.err) {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				var row store.Approval
				s.DB.First(&row, a.ID)
				if row.Status != tt.wantStatus || row.DecidedBy != tt.wantBy || row.DecidedAt == nil {
					t.Fatalf("row: got status %q by %q at %v, want %q by %q", row.Status, row.DecidedBy, row.DecidedAt, tt.wantStatus, tt.wantBy)
				}
			})
		}
	})
}

func TestDecideAfterDeadlineExpires(t *testing.T) {
	s := storetest.SQLite(t)
	r, clk := newRegistry(t, s, "n")
	// A row left pending by a node that crashed: nobody waits for it.
	a := store.Approval{OrgID: 1, Username: "alice", Command: "reboot", Status: store.ApprovalPending, ExpiresAt: clk.Now().Add(time.Minute)}
	storetest.MustCreate(t, s.DB, &a)
	clk.Advance(time.Minute)
	if err := r.Decide(t.Context(), a.ID, true, "carol"); !errors.Is(err, session.ErrApprovalExpired) {
		t.Fatalf("got %v, want %v", err, session.ErrApprovalExpired)
	}
	if err := r.Decide(t.Context(), 9999, true, "carol"); !errors.Is(err, session.ErrApprovalNotFound) {
		t.Fatalf("unknown approval: got %v, want %v", err, session.ErrApprovalNotFound)
	}
	b := store.Approval{OrgID: 1, Username: "alice", Command: "halt", Status: store.ApprovalPending, ExpiresAt: clk.Now().Add(-time.Second)}
	storetest.MustCreate(t, s.DB, &b)
	n, err := r.ExpireStale(t.Context(), 1)
	if err != nil || n != 1 {
		t.Fatalf("expire stale: got %d, %v, want 1, nil", n, err)
	}
	s.DB.First(&b, b.ID)
	if b.Status != store.ApprovalExpired {
		t.Fatalf("stale approval: got %q, want %q", b.Status, store.ApprovalExpired)
	}
}

func TestApprovalSubscribersSeeTheirOrgOnly(t *testing.T) {
	s := storetest.SQLite(t)
	r, _ := newRegistry(t, s, "n")
	mine, cancelMine := r.SubscribeApprovals(1)
	defer cancelMine()
	theirs, cancelTheirs := r.SubscribeApprovals(2)
	all, cancelAll := r.SubscribeApprovals(0)
	defer cancelAll()
	l := start(t, r, testMeta())
	defer l.End(t.Context(), "")
	a, done := request(t, t.Context(), r, l, time.Minute)
	if err := r.Decide(t.Context(), a.ID, false, "carol"); err != nil {
		t.Fatal(err)
	}
	recv(t, done)
	for name, ch := range map[string]<-chan store.Approval{"org 1": mine, "all orgs": all} {
		var got []string
		for range 2 {
			a, _ := recv(t, ch)
			got = append(got, a.Status)
		}
		if got[0] != store.ApprovalPending || got[1] != store.ApprovalDenied {
			t.Fatalf("%s subscriber: got %v, want [pending denied]", name, got)
		}
	}
	if len(theirs) != 0 {
		t.Fatalf("org 2 subscriber got %d updates of org 1", len(theirs))
	}
	cancelTheirs()
	cancelTheirs()
	if !isClosed(theirs) {
		t.Fatal("cancel did not close the channel")
	}
}
