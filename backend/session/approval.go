package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/store"
)

// decision is an approval decided on this node, handed to its waiter.
type decision struct {
	approved bool
	by       string
}

// sub is a subscriber to the approvals or the flagged commands of an
// organization (0: of every organization).
type sub[T any] struct {
	org uint
	ch  chan T
}

// approvalSubBuffer is how many approval updates a subscriber may fall behind;
// further updates are skipped (the subscriber re-reads the list).
const approvalSubBuffer = 64

// RequestApproval holds command of session l until an approver decides. It
// writes a pending store.Approval row that expires after timeout (0:
// DefaultApprovalTimeout), tells the subscribers and the Notifier, and waits.
// It returns:
//   - true and the approver's name when approved;
//   - false and the approver's name when denied;
//   - false and ErrApprovalExpired when nobody decided in time;
//   - false and ErrKilled when the session is killed, or ctx.Err() when ctx
//     ends (the row is then expired).
//
// Every outcome other than approved means: do not run the command. Decisions
// taken on this node arrive at once; those of other nodes with the next poll
// of the row (every second).
func (r *Registry) RequestApproval(ctx context.Context, l *Live, command string, v cmdfilter.Verdict, timeout time.Duration) (approved bool, by string, err error) {
	if timeout <= 0 {
		timeout = DefaultApprovalTimeout
	}
	m := l.Meta()
	now := r.clock().UTC()
	row := store.Approval{
		OrgID: m.OrgID, SessionID: m.ID, UserID: m.UserID, Username: cut(m.Username, 128), AssetName: cut(m.AssetName, 128),
		Account: cut(m.AccountName, 128), Command: command, FilterID: v.FilterID, FilterName: cut(v.FilterName, 128),
		Status: store.ApprovalPending, ExpiresAt: now.Add(timeout), CreatedAt: now,
	}
	if err := r.db.WithContext(ctx).Create(&row).Error; err != nil {
		return false, "", fmt.Errorf("session: request approval: %w", store.Translate(err))
	}
	wait := make(chan decision, 1)
	r.mu.Lock()
	r.waiters[row.ID] = wait
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiters, row.ID)
		r.mu.Unlock()
	}()
	id := strconv.FormatUint(uint64(row.ID), 10)
	r.auditOp(ctx, m, "approval.request", "approval", id, command, "filter "+v.FilterName+"; session "+m.ID, true)
	r.publish(row)
	if r.notifier != nil {
		go func() {
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			r.notifier.ApprovalRequested(nctx, row)
		}()
	}
	r.log.InfoContext(ctx, "command awaits approval", "session", m.ID, "approval", row.ID, "filter", v.FilterName)

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	for {
		select {
		case d := <-wait:
			return d.approved, d.by, nil
		case <-tick.C:
			cur, err := r.loadApproval(ctx, row.ID)
			if err != nil {
				r.log.WarnContext(ctx, "poll approval", "approval", row.ID, "err", err)
				continue
			}
			if cur.Status != store.ApprovalPending {
				return outcome(cur)
			}
			if !r.clock().Before(cur.ExpiresAt) {
				return r.closeWaiting(ctx, m, row.ID, "timed out", ErrApprovalExpired)
			}
		case <-timer.C:
			return r.closeWaiting(ctx, m, row.ID, "timed out", ErrApprovalExpired)
		case <-l.Killed():
			return r.closeWaiting(ctx, m, row.ID, "session killed", ErrKilled)
		case <-ctx.Done():
			return r.closeWaiting(ctx, m, row.ID, "request abandoned", ctx.Err())
		}
	}
}

// outcome is what RequestApproval answers for a decided row.
func outcome(a store.Approval) (bool, string, error) {
	switch a.Status {
	case store.ApprovalApproved:
		return true, a.DecidedBy, nil
	case store.ApprovalDenied:
		return false, a.DecidedBy, nil
	}
	return false, "", ErrApprovalExpired
}

// closeWaiting expires a pending approval nobody decided; if a decision won
// the race, that decision is answered instead.
func (r *Registry) closeWaiting(ctx context.Context, m Meta, id uint, why string, cause error) (bool, string, error) {
	ctx = context.WithoutCancel(ctx)
	a, changed, err := r.expire(ctx, id)
	if err != nil {
		return false, "", fmt.Errorf("session: expire approval %d: %w", id, err)
	}
	if !changed {
		if a.Status == store.ApprovalApproved || a.Status == store.ApprovalDenied {
			return outcome(a)
		}
		return false, "", cause
	}
	r.auditOp(ctx, m, "approval.expire", "approval", strconv.FormatUint(uint64(id), 10), a.Command, why, false)
	return false, "", cause
}

// expire marks approval id expired if it is still pending, and returns the row
// as it is afterwards and whether this call changed it.
func (r *Registry) expire(ctx context.Context, id uint) (store.Approval, bool, error) {
	now := r.clock().UTC()
	res := r.db.WithContext(ctx).Model(&store.Approval{}).Where("id = ? AND status = ?", id, store.ApprovalPending).
		Updates(map[string]any{"status": store.ApprovalExpired, "decided_at": now})
	if res.Error != nil {
		return store.Approval{}, false, res.Error
	}
	a, err := r.loadApproval(ctx, id)
	if err != nil {
		return a, false, err
	}
	if res.RowsAffected > 0 {
		r.publish(a)
	}
	return a, res.RowsAffected > 0, nil
}

func (r *Registry) loadApproval(ctx context.Context, id uint) (store.Approval, error) {
	var a store.Approval
	err := r.db.WithContext(ctx).Where("id = ?", id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return a, fmt.Errorf("%w: %d", ErrApprovalNotFound, id)
	}
	return a, err
}

// Decide approves or denies pending approval id on behalf of by (a username).
// The requester may deny, but not approve, their own command. A decision on
// an approval past its deadline expires it and returns ErrApprovalExpired; one
// already decided returns ErrDecided. The waiting session learns the decision
// at once on this node, or with its next poll on another node.
func (r *Registry) Decide(ctx context.Context, approvalID uint, approve bool, by string) error {
	a, err := r.loadApproval(ctx, approvalID)
	if err != nil {
		return err
	}
	if a.Status != store.ApprovalPending {
		return fmt.Errorf("%w: it is %s", ErrDecided, a.Status)
	}
	if approve && by == a.Username {
		return ErrSelfApproval
	}
	now := r.clock().UTC()
	if !now.Before(a.ExpiresAt) {
		if _, _, err := r.expire(ctx, approvalID); err != nil {
			return fmt.Errorf("session: expire approval %d: %w", approvalID, err)
		}
		return ErrApprovalExpired
	}
	status := store.ApprovalDenied
	if approve {
		status = store.ApprovalApproved
	}
	res := r.db.WithContext(ctx).Model(&store.Approval{}).Where("id = ? AND status = ?", approvalID, store.ApprovalPending).
		Updates(map[string]any{"status": status, "decided_by": cut(by, 128), "decided_at": now})
	if res.Error != nil {
		return fmt.Errorf("session: decide approval %d: %w", approvalID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: decided meanwhile", ErrDecided)
	}
	a.Status, a.DecidedBy, a.DecidedAt = status, cut(by, 128), &now
	r.mu.Lock()
	if w, ok := r.waiters[approvalID]; ok {
		select {
		case w <- decision{approved: approve, by: a.DecidedBy}:
		default:
		}
	}
	r.mu.Unlock()
	r.publish(a)
	r.log.InfoContext(ctx, "approval decided", "approval", approvalID, "status", status, "by", by)
	return nil
}

// ExpireStale expires the pending approvals of the organization (0: of
// every organization) whose deadline passed: normally their waiting session
// does it, but a node that crashed cannot. It returns how many it expired.
func (r *Registry) ExpireStale(ctx context.Context, orgID uint) (int, error) {
	q := r.db.WithContext(ctx).Model(&store.Approval{}).Where("status = ? AND expires_at <= ?", store.ApprovalPending, r.clock().UTC())
	if orgID != 0 {
		q = q.Where("org_id = ?", orgID)
	}
	var ids []uint
	if err := q.Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("session: expire stale approvals: %w", err)
	}
	n := 0
	for _, id := range ids {
		_, changed, err := r.expire(ctx, id)
		if err != nil {
			return n, fmt.Errorf("session: expire approval %d: %w", id, err)
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// SubscribeApprovals delivers every approval of the organization (0: of every
// organization) that is requested, decided or expired on this node, as its row
// is after the change. Delivery never blocks the sessions: a subscriber more
// than 64 updates behind misses updates and should re-read GET /approvals.
// Call cancel to unsubscribe; it closes the channel.
func (r *Registry) SubscribeApprovals(orgID uint) (<-chan store.Approval, func()) {
	return subscribe(r, r.subs, orgID)
}

func (r *Registry) publish(a store.Approval) {
	deliver(r, r.subs, a.OrgID, a, "approval subscriber too slow; update skipped", "approval", a.ID)
}

// SubscribeCommands delivers the commands of the organization's sessions (0:
// of every organization) on this node that a command filter did not simply
// allow (denied, warned, approved, rejected, expired), for the admins' real-
// time notifications. Like SubscribeApprovals it never blocks the sessions.
func (r *Registry) SubscribeCommands(orgID uint) (<-chan store.Command, func()) {
	return subscribe(r, r.cmdSubs, orgID)
}

func (r *Registry) publishCommand(c store.Command) {
	deliver(r, r.cmdSubs, c.OrgID, c, "command subscriber too slow; update skipped", "session", c.SessionID)
}

// subscribe adds a subscriber of orgID to set; cancel removes it and closes
// its channel.
func subscribe[T any](r *Registry, set map[*sub[T]]struct{}, orgID uint) (<-chan T, func()) {
	s := &sub[T]{org: orgID, ch: make(chan T, approvalSubBuffer)}
	r.mu.Lock()
	set[s] = struct{}{}
	r.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(set, s)
			close(s.ch)
		})
	}
}

// deliver hands v (of organization org) to the subscribers of set without
// ever waiting: a subscriber that is behind misses it, and the log says so.
func deliver[T any](r *Registry, set map[*sub[T]]struct{}, org uint, v T, skipped string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range set {
		if s.org != 0 && s.org != org {
			continue
		}
		select {
		case s.ch <- v:
		default:
			r.log.Warn(skipped, args...)
		}
	}
}
