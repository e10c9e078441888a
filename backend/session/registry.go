package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/store"
)

// Errors of the registry. They are wrapped with context; test with errors.Is.
var (
	// ErrNotFound: no live session with this id runs on this node (it ended,
	// or it runs on another node).
	ErrNotFound = errors.New("session: live session not found")
	// ErrEnded: the session has ended.
	ErrEnded = errors.New("session: session ended")
	// ErrInvalid: an argument is out of range.
	ErrInvalid = errors.New("session: invalid argument")
	// ErrShareNotFound: the share token is unknown, or its session ended.
	ErrShareNotFound = errors.New("session: share link not found")
	// ErrShareExpired: the share token expired.
	ErrShareExpired = errors.New("session: share link expired")
	// ErrApprovalNotFound: no approval with this id.
	ErrApprovalNotFound = errors.New("session: approval not found")
	// ErrDecided: the approval was already decided (or expired).
	ErrDecided = errors.New("session: approval already decided")
	// ErrSelfApproval: the requester of a command cannot approve it.
	ErrSelfApproval = errors.New("session: the requester cannot approve their own command")
	// ErrApprovalExpired: nobody decided before the approval's deadline; the
	// command is denied.
	ErrApprovalExpired = errors.New("session: approval timed out")
	// ErrKilled: the session was killed while it waited.
	ErrKilled = errors.New("session: session killed")
)

// Defaults of the registry; see the options to change them.
const (
	DefaultRingSize        = 128 << 10 // bytes of recent output kept for late watchers
	DefaultWatchBuffer     = 256       // events buffered per watcher before it is dropped
	DefaultApprovalPoll    = time.Second
	DefaultApprovalTimeout = 5 * time.Minute
	DefaultShareTTL        = time.Hour
	MaxShareTTL            = 24 * time.Hour
	joinInputBuffer        = 64
)

// End reasons written by this package.
const (
	// EndInterrupted closes rows that a crash left open.
	EndInterrupted = "interrupted"
	// EndClosed is used when End is given no reason.
	EndClosed = "closed"
)

// Meta describes a live session. Start fills ID (when empty), StartedAt and
// Node; Meta() reports the current terminal size in Width and Height.
type Meta struct {
	ID          string    `json:"id"`
	OrgID       uint      `json:"org_id"`
	UserID      uint      `json:"user_id"`
	Username    string    `json:"username"`
	AssetID     uint      `json:"asset_id"`
	AssetName   string    `json:"asset_name"`
	AccountName string    `json:"account_name"`
	Protocol    string    `json:"protocol"`
	Kind        string    `json:"kind"` // shell, exec, sftp, scp
	Via         string    `json:"via"`  // ssh (the user's SSH client) or web (the web terminal)
	SourceIP    string    `json:"source_ip"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Recording   string    `json:"recording"`
	StartedAt   time.Time `json:"started_at"`
	Node        string    `json:"node"`
	// Connection is guacd's ID of a desktop session's connection, which
	// watchers join read-only; empty for terminals.
	Connection string `json:"-"`
}

// Notifier tells approvers that a command waits for them. It is called on its
// own goroutine and must not block for long; the session does not wait for it.
type Notifier interface {
	ApprovalRequested(ctx context.Context, a store.Approval)
}

// Option configures a Registry.
type Option func(*Registry)

// WithEnded sets a function told of every session once it ended and its row
// says so, and of every session closed as interrupted at start-up: its
// recording is complete then (the server indexes and uploads it). It is
// called on its own goroutine.
func WithEnded(f func(Meta)) Option { return func(r *Registry) { r.ended = f } }

// WithNotifier sets who is told about new approval requests (e.g. a MailNotifier).
func WithNotifier(n Notifier) Option { return func(r *Registry) { r.notifier = n } }

// WithRingSize sets how many bytes of recent output each session keeps to
// render the snapshot a late watcher receives first.
func WithRingSize(n int) Option {
	return func(r *Registry) {
		if n >= 1024 {
			r.ringSize = n
		}
	}
}

// WithWatchBuffer sets how many events a watcher may fall behind before it is dropped.
func WithWatchBuffer(n int) Option {
	return func(r *Registry) {
		if n >= 4 {
			r.watchBuffer = n
		}
	}
}

// WithApprovalPoll sets how often a waiting approval re-reads its row, to see
// decisions taken on other nodes and deadlines of the injected clock.
func WithApprovalPoll(d time.Duration) Option {
	return func(r *Registry) {
		if d > 0 {
			r.poll = d
		}
	}
}

// Registry is the set of live sessions of one node.
type Registry struct {
	db       *gorm.DB
	aud      *audit.Logger
	log      *slog.Logger
	clock    func() time.Time
	node     string
	notifier Notifier
	ended    func(Meta) // told of each session that ended (its recording is complete)

	ringSize    int
	watchBuffer int
	poll        time.Duration

	mu      sync.Mutex // guards the maps below
	lives   map[string]*Live
	shares  map[string]share                  // by SHA-256 hex of the token
	waiters map[uint]chan decision            // pending approvals waited for on this node
	subs    map[*sub[store.Approval]]struct{} // approval subscribers
	cmdSubs map[*sub[store.Command]]struct{}  // subscribers to flagged commands
}

// NewRegistry returns an empty registry of node's live sessions. aud may be
// nil (no audit rows for approval requests and expiries), log and clock too.
func NewRegistry(db *gorm.DB, aud *audit.Logger, log *slog.Logger, clock func() time.Time, node string, opts ...Option) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	r := &Registry{
		db: db, aud: aud, log: log.With("component", "session"), clock: clock, node: node,
		ringSize: DefaultRingSize, watchBuffer: DefaultWatchBuffer, poll: DefaultApprovalPoll,
		lives: map[string]*Live{}, shares: map[string]share{}, waiters: map[uint]chan decision{}, subs: map[*sub[store.Approval]]struct{}{},
		cmdSubs: map[*sub[store.Command]]struct{}{},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Node is the name of the node this registry runs on.
func (r *Registry) Node() string { return r.node }

// NewID returns a fresh random session id (a UUID v4), for callers that need
// the id before Start, e.g. to name the recording file.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func validID(id string) bool {
	if id == "" || len(id) > 36 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Start registers a new live session and inserts its store.Session row.
// An empty m.ID gets a fresh one; Width and Height default to 80x24.
func (r *Registry) Start(ctx context.Context, m Meta) (*Live, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if !validID(m.ID) {
		return nil, fmt.Errorf("%w: session id %q: 1 to 36 letters, digits, '-' or '_'", ErrInvalid, m.ID)
	}
	if m.Width <= 0 || m.Height <= 0 {
		m.Width, m.Height = 80, 24
	}
	now := r.clock().UTC()
	m.StartedAt, m.Node = now, r.node
	row := store.Session{
		ID: m.ID, OrgID: m.OrgID, UserID: m.UserID, Username: cut(m.Username, 128), AssetID: m.AssetID,
		AssetName: cut(m.AssetName, 128), AccountName: cut(m.AccountName, 128), Protocol: cut(m.Protocol, 16),
		SourceIP: cut(m.SourceIP, 64), StartedAt: now, Recording: cut(m.Recording, 512), Node: cut(r.node, 128), Kind: cut(m.Kind, 16), Via: cut(m.Via, 8),
	}
	if err := r.db.WithContext(ctx).Create(&row).Error; err != nil {
		return nil, fmt.Errorf("session: start %s: %w", m.ID, store.Translate(err))
	}
	l := newLive(r, m)
	r.mu.Lock()
	r.lives[m.ID] = l
	r.mu.Unlock()
	r.log.InfoContext(ctx, "session started", "session", m.ID, "user", m.Username, "asset", m.AssetName, "account", m.AccountName, "protocol", m.Protocol, "kind", m.Kind, "via", m.Via)
	return l, nil
}

// List returns the live sessions of an organization (0: of every
// organization), oldest first.
func (r *Registry) List(orgID uint) []Meta {
	r.mu.Lock()
	lives := make([]*Live, 0, len(r.lives))
	for _, l := range r.lives {
		if orgID == 0 || l.meta.OrgID == orgID {
			lives = append(lives, l)
		}
	}
	r.mu.Unlock()
	out := make([]Meta, 0, len(lives))
	for _, l := range lives {
		out = append(out, l.Meta())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns the live session id if it runs on this node.
func (r *Registry) Get(id string) (*Live, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.lives[id]
	return l, ok
}

// Kill asks the relay of session id to end it: Killed() closes and
// KillReason() says "killed by <by>: <reason>". Killing twice keeps the first reason.
func (r *Registry) Kill(ctx context.Context, id, reason, by string) error {
	l, ok := r.Get(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	msg := "killed by " + by
	if reason != "" {
		msg += ": " + reason
	}
	l.kill(cut(msg, 256))
	r.log.InfoContext(ctx, "session killed", "session", id, "by", by, "reason", reason)
	return nil
}

// Lock locks (or unlocks) the input of session id: the relay refuses input
// while it is locked and tells the user.
func (r *Registry) Lock(ctx context.Context, id string, locked bool, by string) error {
	l, ok := r.Get(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if l.setLocked(locked, by) {
		r.log.InfoContext(ctx, "session lock changed", "session", id, "locked", locked, "by", by)
	}
	return nil
}

// RecoverInterrupted closes the session rows that a crash left open, with the
// end reason "interrupted" and the number of commands logged, and expires the
// approvals they were waiting for. Call it once at start, before any Start.
// On PostgreSQL (shared by several nodes) only this node's rows are closed;
// SQLite serves a single node, so every open row is.
func (r *Registry) RecoverInterrupted(ctx context.Context) (int, error) {
	q := r.db.WithContext(ctx).Model(&store.Session{}).Where("ended_at IS NULL")
	if r.db.Dialector.Name() != "sqlite" {
		q = q.Where("node = ?", r.node)
	}
	var ids []string
	if err := q.Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("session: recover: %w", err)
	}
	r.mu.Lock()
	open := ids[:0]
	for _, id := range ids {
		if _, live := r.lives[id]; !live {
			open = append(open, id)
		}
	}
	r.mu.Unlock()
	now := r.clock().UTC()
	for len(open) > 0 {
		n := min(len(open), 500)
		chunk := open[:n]
		open = open[n:]
		err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&store.Session{}).Where("id IN ? AND ended_at IS NULL", chunk).Updates(map[string]any{
				"ended_at": now, "end_reason": EndInterrupted,
				"command_count": gorm.Expr("(SELECT COUNT(*) FROM commands WHERE commands.session_id = sessions.id)"),
			}).Error; err != nil {
				return err
			}
			return tx.Model(&store.Approval{}).Where("session_id IN ? AND status = ?", chunk, store.ApprovalPending).
				Updates(map[string]any{"status": store.ApprovalExpired, "decided_at": now}).Error
		})
		if err != nil {
			return 0, fmt.Errorf("session: recover: %w", err)
		}
	}
	if len(ids) > 0 {
		r.log.WarnContext(ctx, "closed sessions left open by a crash", "count", len(ids), "node", r.node)
		r.repairRecordings(ctx, ids)
		if r.ended != nil {
			var rows []store.Session
			if err := r.db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err == nil {
				for _, s := range rows {
					go r.ended(Meta{ID: s.ID, OrgID: s.OrgID, UserID: s.UserID, Username: s.Username, AssetID: s.AssetID,
						AssetName: s.AssetName, AccountName: s.AccountName, Protocol: s.Protocol, Kind: s.Kind, Via: s.Via,
						SourceIP: s.SourceIP, Recording: s.Recording, StartedAt: s.StartedAt, Node: s.Node})
				}
			}
		}
	}
	return len(ids), nil
}

// repairRecordings completes the gzip streams of recordings cut by a crash,
// so that every tool (and the replay of a later issue) reads them whole.
func (r *Registry) repairRecordings(ctx context.Context, ids []string) {
	var paths []string
	if err := r.db.WithContext(ctx).Model(&store.Session{}).Where("id IN ? AND recording <> ''", ids).Pluck("recording", &paths).Error; err != nil {
		r.log.ErrorContext(ctx, "list recordings to repair", "err", err)
		return
	}
	for _, p := range paths {
		repair := record.Repair
		if strings.HasSuffix(p, ".guac") {
			repair = func(p string) error { _, err := guacgw.RepairRecording(p); return err }
		}
		if err := repair(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.ErrorContext(ctx, "repair recording", "path", p, "err", err)
		}
	}
}

func (r *Registry) remove(l *Live) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lives[l.meta.ID] == l {
		delete(r.lives, l.meta.ID)
	}
	for h, s := range r.shares {
		if s.sessionID == l.meta.ID {
			delete(r.shares, h)
		}
	}
}

// auditOp appends an operation-log row about session m on behalf of its user.
func (r *Registry) auditOp(ctx context.Context, m Meta, action, resType, resID, resName, detail string, success bool) {
	if r.aud == nil {
		return
	}
	uid, org := m.UserID, m.OrgID
	row := store.OperationLog{
		OrgID: &org, UserID: &uid, Username: m.Username, Action: action, ResourceType: resType, ResourceID: resID,
		ResourceName: cut(resName, 256), RemoteAddr: m.SourceIP, Success: success, Detail: cut(detail, 1024),
	}
	if err := r.aud.Operation(context.WithoutCancel(ctx), row); err != nil {
		r.log.ErrorContext(ctx, "operation log write failed", "action", action, "err", err)
	}
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
