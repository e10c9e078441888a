package session

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/store"
)

// Live is one running session. The relay feeds it output, resizes, byte counts
// and commands, reads JoinInput, and obeys Killed and Locked; the API watches it.
type Live struct {
	r     *Registry
	meta  Meta // fixed at Start; Width and Height are kept in cols/rows
	start time.Time

	killed   chan struct{} // closed by kill
	done     chan struct{} // closed by End
	joinIn   chan []byte
	killOnce sync.Once

	bytesIn, bytesOut atomic.Int64
	commands          atomic.Int64
	lastActive        atomic.Int64 // unix nanoseconds of the last AddBytes

	mu         sync.Mutex // guards the fields below
	cols, rows int
	ring       ring
	watchers   map[*watcher]struct{}
	locked     bool
	lockedBy   string
	lockCh     chan struct{} // closed and replaced at each lock change
	killReason string
	ended      bool
	endReason  string
}

// watcher is one subscriber of a session's events.
type watcher struct {
	ch chan record.Event
}

func newLive(r *Registry, m Meta) *Live {
	l := &Live{
		r: r, meta: m, start: m.StartedAt,
		killed: make(chan struct{}), done: make(chan struct{}), joinIn: make(chan []byte, joinInputBuffer),
		cols: m.Width, rows: m.Height, ring: ring{max: int64(r.ringSize)},
		watchers: map[*watcher]struct{}{}, lockCh: make(chan struct{}),
	}
	l.lastActive.Store(m.StartedAt.UnixNano())
	return l
}

// Meta returns the session's description with its current terminal size.
func (l *Live) Meta() Meta {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.meta
	m.Width, m.Height = l.cols, l.rows
	return m
}

// offset is the time since the start of the session, in seconds (the time of asciicast events).
func (l *Live) offset() float64 {
	return l.r.clock().Sub(l.start).Seconds()
}

// Output records output of the target: it is kept for the snapshot of late
// watchers and sent to every watcher. It never blocks: a watcher whose buffer
// is full is dropped (its channel closed). p is copied.
func (l *Live) Output(p []byte) {
	if len(p) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return
	}
	l.ring.write(p)
	if len(l.watchers) > 0 {
		l.fanout(record.Event{Time: l.offset(), Kind: "o", Data: string(p)})
	}
}

// Resize records a new terminal size and tells the watchers ("r" event "COLSxROWS").
func (l *Live) Resize(cols, rows int) {
	if cols <= 0 || rows <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended || (cols == l.cols && rows == l.rows) {
		return
	}
	l.cols, l.rows = cols, rows
	if len(l.watchers) > 0 {
		l.fanout(record.Event{Time: l.offset(), Kind: "r", Data: size(cols, rows)})
	}
}

func size(cols, rows int) string { return strconv.Itoa(cols) + "x" + strconv.Itoa(rows) }

// fanout sends ev to every watcher without waiting; l.mu must be held.
func (l *Live) fanout(ev record.Event) {
	for w := range l.watchers {
		select {
		case w.ch <- ev:
		default:
			delete(l.watchers, w)
			close(w.ch)
			l.r.log.Info("watcher dropped: too slow", "session", l.meta.ID)
		}
	}
}

// Watch subscribes to the session's events. The first events are the current
// size ("r") and a snapshot of the screen ("o") so that a terminal joining
// mid-session is not blank; live "o" and "r" events follow. The channel is
// closed when the session ends, when cancel is called, or when the watcher
// falls more than the watch buffer behind (then Done() is still open). On an
// ended session the channel is closed at once.
func (l *Live) Watch() (events <-chan record.Event, cancel func()) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		ch := make(chan record.Event)
		close(ch)
		return ch, func() {}
	}
	from := l.ring.start()
	recent, _ := l.ring.since(from)
	wrapped := from > 0
	cols, rows := l.cols, l.rows
	written := l.ring.n
	l.mu.Unlock()

	// Render outside the lock: the session keeps running meanwhile, and the
	// output it produces is appended below from the ring.
	snap := renderSnapshot(recent, wrapped, cols, rows)

	w := &watcher{ch: make(chan record.Event, l.r.watchBuffer+4)}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		close(w.ch)
		return w.ch, func() {}
	}
	now := l.offset()
	w.ch <- record.Event{Time: now, Kind: "r", Data: size(cols, rows)}
	w.ch <- record.Event{Time: now, Kind: "o", Data: snap}
	if l.cols != cols || l.rows != rows {
		w.ch <- record.Event{Time: now, Kind: "r", Data: size(l.cols, l.rows)}
	}
	if delta, _ := l.ring.since(written); len(delta) > 0 {
		w.ch <- record.Event{Time: now, Kind: "o", Data: string(delta)}
	}
	l.watchers[w] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if _, ok := l.watchers[w]; ok {
				delete(l.watchers, w)
				close(w.ch)
			}
		})
	}
}

// JoinInput carries the input typed by interactive joiners. The relay forwards
// it to the target unless the session is locked.
func (l *Live) JoinInput() <-chan []byte { return l.joinIn }

// SendInput queues input of an interactive joiner for the relay. It waits
// while the relay is behind, and fails once the session ends or ctx is done.
// p is copied.
func (l *Live) SendInput(ctx context.Context, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	b := append([]byte(nil), p...)
	select {
	case <-l.done:
		return ErrEnded
	default:
	}
	select {
	case l.joinIn <- b:
		return nil
	case <-l.done:
		return ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Killed is closed when an administrator kills the session.
func (l *Live) Killed() <-chan struct{} { return l.killed }

// KillReason is "killed by <admin>: <reason>", for the relay to show the
// user; empty until the session is killed.
func (l *Live) KillReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.killReason
}

func (l *Live) kill(reason string) {
	l.killOnce.Do(func() {
		l.mu.Lock()
		l.killReason = reason
		l.mu.Unlock()
		close(l.killed)
	})
}

// Locked reports whether the session's input is locked.
func (l *Live) Locked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.locked
}

// LockedBy names who locked the session; empty when it is not locked.
func (l *Live) LockedBy() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lockedBy
}

// LockChanged returns a channel closed at the next lock or unlock. Read
// Locked() after taking the channel so that no change is missed.
func (l *Live) LockChanged() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lockCh
}

// setLocked changes the lock and reports whether it changed.
func (l *Live) setLocked(locked bool, by string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locked == locked {
		return false
	}
	l.locked = locked
	l.lockedBy = ""
	if locked {
		l.lockedBy = by
	}
	close(l.lockCh)
	l.lockCh = make(chan struct{})
	return true
}

// AddBytes counts bytes received from the user (in) and sent by the target (out).
func (l *Live) AddBytes(in, out int64) {
	if in != 0 {
		l.bytesIn.Add(in)
	}
	if out != 0 {
		l.bytesOut.Add(out)
	}
	l.lastActive.Store(l.r.clock().UnixNano())
}

// AddCommand writes a command row of this session. The session's fields
// (org, session id, user, asset, account) and the time and offset are filled
// when left zero.
func (l *Live) AddCommand(c store.Command) error {
	m := l.meta
	if c.OrgID == 0 {
		c.OrgID = m.OrgID
	}
	if c.SessionID == "" {
		c.SessionID = m.ID
	}
	if c.UserID == 0 {
		c.UserID = m.UserID
	}
	if c.Username == "" {
		c.Username = cut(m.Username, 128)
	}
	if c.AssetName == "" {
		c.AssetName = cut(m.AssetName, 128)
	}
	if c.Account == "" {
		c.Account = cut(m.AccountName, 128)
	}
	now := l.r.clock().UTC()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.Offset == 0 {
		c.Offset = c.CreatedAt.Sub(l.start).Seconds()
	}
	c.Risk, c.Verdict = cut(c.Risk, 16), cut(c.Verdict, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.r.db.WithContext(ctx).Create(&c).Error; err != nil {
		return fmt.Errorf("session: command of %s: %w", m.ID, err)
	}
	l.commands.Add(1)
	if c.Verdict != "" && c.Verdict != "allowed" {
		l.r.publishCommand(c)
	}
	return nil
}

// Done is closed when the session ends.
func (l *Live) Done() <-chan struct{} { return l.done }

// EndReason is the reason given to End; empty while the session runs.
func (l *Live) EndReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.endReason
}

// End ends the session: watchers' channels close, share links die, and the
// row gets its end time, reason, byte counts and command count. An empty
// reason is the kill reason if the session was killed, else "closed". End is
// idempotent; the row is written even when ctx is already cancelled.
func (l *Live) End(ctx context.Context, reason string) error {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return nil
	}
	if reason == "" {
		reason = l.killReason
	}
	if reason == "" {
		reason = EndClosed
	}
	l.ended, l.endReason = true, reason
	// done closes first: a watcher that sees its channel closed must find
	// the session ended, or it would take the close for being dropped.
	close(l.done)
	for w := range l.watchers {
		delete(l.watchers, w)
		close(w.ch)
	}
	l.mu.Unlock()
	l.r.remove(l)

	now := l.r.clock().UTC()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := l.r.db.WithContext(wctx).Model(&store.Session{}).Where("id = ?", l.meta.ID).Updates(map[string]any{
		"ended_at": now, "end_reason": cut(reason, 256), "bytes_in": l.bytesIn.Load(), "bytes_out": l.bytesOut.Load(),
		"command_count": int(l.commands.Load()),
	}).Error
	l.r.log.InfoContext(ctx, "session ended", "session", l.meta.ID, "reason", reason, "bytes_in", l.bytesIn.Load(), "bytes_out", l.bytesOut.Load(), "commands", l.commands.Load())
	if err != nil {
		return fmt.Errorf("session: end %s: %w", l.meta.ID, err)
	}
	if l.r.ended != nil {
		go l.r.ended(l.meta)
	}
	return nil
}

// Stats are the live figures of a session.
type Stats struct {
	BytesIn      int64     `json:"bytes_in"`
	BytesOut     int64     `json:"bytes_out"`
	Commands     int       `json:"commands"`
	Watchers     int       `json:"watchers"`
	Locked       bool      `json:"locked"`
	LockedBy     string    `json:"locked_by"`
	Killed       bool      `json:"killed"`
	LastActivity time.Time `json:"last_activity"`
}

// Stats returns the session's live figures.
func (l *Live) Stats() Stats {
	l.mu.Lock()
	s := Stats{Watchers: len(l.watchers), Locked: l.locked, LockedBy: l.lockedBy, Killed: l.killReason != ""}
	l.mu.Unlock()
	s.BytesIn, s.BytesOut, s.Commands = l.bytesIn.Load(), l.bytesOut.Load(), int(l.commands.Load())
	s.LastActivity = time.Unix(0, l.lastActive.Load()).UTC()
	return s
}
