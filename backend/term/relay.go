package term

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term/cmdline"
)

// End reasons of a session, as Run reports them in Result.EndReason and
// writes them to the session row. A kill ends with the kill reason given by
// the registry ("killed by <admin>: <reason>").
const (
	EndTargetClosed = "target closed"
	EndClientClosed = "client closed"
	EndIdle         = "idle timeout"
	EndMaxDuration  = "maximum duration reached"
	EndCanceled     = "canceled"
	EndTargetError  = "target error"
	EndInvalid      = "invalid session configuration"
	EndRecording    = "recording failed"
)

// Verdicts written to store.Command.Verdict: what became of the command.
const (
	VerdictAllowed  = "allowed"  // no rule matched, or an allow rule
	VerdictWarned   = "warned"   // a warn rule matched: it ran, flagged
	VerdictDenied   = "denied"   // a deny rule matched: it never reached the target
	VerdictApproved = "approved" // a confirm rule matched and an approver approved it
	VerdictRejected = "rejected" // a confirm rule matched and an approver rejected it
	VerdictExpired  = "expired"  // a confirm rule matched and nobody decided in time (or no approver was available)
)

// HiddenInput is logged in place of input that a rule refused at a prompt
// without echo (it may be a password, so its text is not kept).
const HiddenInput = "[input not echoed]"

// Timing of the Enter handling. The relay waits for the target's echo of what
// precedes an Enter before it reads the command from the screen: until some
// output arrived after the last input it forwarded (the echo) and then none
// for settleQuiet, and never longer than settleMax in all. A prompt without
// echo (passwords) costs settleMax once per Enter; an interactive user, whose
// echo arrived long before the Enter, waits nothing.
const (
	settleQuiet = 30 * time.Millisecond // cmdline's tests settle on 30 ms too
	settleMax   = 500 * time.Millisecond
	echoPoll    = 2 * time.Millisecond

	// pasteFlushDelay is how long a trailing Esc (a possible start of a
	// bracketed-paste marker) is held before it is forwarded anyway.
	pasteFlushDelay = 30 * time.Millisecond

	// Read buffers: output is read in 32 KiB chunks while the target is busy;
	// an idle session waits on a 2 KiB buffer (and 1 KiB for the user's keys)
	// so that a thousand idle sessions stay small.
	bigRead   = 32 << 10
	smallRead = 2 << 10
	quietRead = 512 // a read this short (an echo, a prompt) means the burst is over
	userRead  = 1 << 10

	// maxLoggedCommand caps the text stored per command (the filter sees all of it).
	maxLoggedCommand = 16 << 10

	defaultTick = time.Second
	// endNoticeWait bounds the wait for a stuck user connection at the end.
	endNoticeWait = 2 * time.Second
	pumpStopWait  = 3 * time.Second
)

// Target is the far side of a terminal session: an SSH session on the asset, a
// telnet connection, a local CLI in a pty. Read returns io.EOF when the
// target closes; Close must unblock a pending Read.
type Target interface {
	io.Reader
	io.Writer
	Resize(cols, rows int) error
	Close() error
}

// Config is one terminal session for Run. User and Target are required; every
// other dependency may be left nil (no live registry, no recording, no
// filtering, no approvals).
type Config struct {
	Live    *session.Live // the session in the registry: watchers, joiners, lock, kill, counts, commands
	User    io.ReadWriter // the user's terminal; Run does not close it
	Resizes <-chan Size   // window changes of the user's terminal; Run stops reading it when it returns
	Size    Size          // initial size; invalid sizes become 80x24, huge ones are clamped
	Target  Target        // closed by Run

	Recorder *record.CastWriter // closed by Run
	// RequireRecording ends the session when the recorder fails (Failed is
	// closed: a write error, or record.FailClosed falling behind), so that
	// nothing runs unrecorded.
	RequireRecording bool

	Filter *cmdfilter.Engine // nil: every command is allowed (and still logged)
	Scope  cmdfilter.Scope
	// Approvals waits for approvers of "confirm" commands; nil (or a nil
	// Live) makes such commands expire at once, i.e. refused.
	Approvals *session.Registry

	ConfirmTimeout time.Duration // 0: session.DefaultApprovalTimeout
	IdleTimeout    time.Duration // 0: none; no input for this long ends the session
	MaxDuration    time.Duration // 0: none

	// ClearLine is sent to the target to abandon a refused command line;
	// default Ctrl-E Ctrl-U Ctrl-C, see defaultClearLine.
	ClearLine []byte
	// Statements, when set, groups the lines the user enters into the
	// commands that are checked and logged: a database client's SQL
	// statement may span lines and end at a ";", and some lines (a client's
	// shell escape) are refused whatever the filters say. Nil: each line
	// is one command.
	Statements Statements
	// Notify, when set, is called on its own goroutine for each command that
	// matched a warn, confirm or deny rule, after it was logged, so that the
	// caller can alert administrators and audit it.
	Notify func(c store.Command, v cmdfilter.Verdict)
	// Events, when set, is told of what the user should see in a status line
	// besides the terminal (a web terminal's tab): a command denied, waiting
	// for approval, approved, rejected, expired or warned. It is called on the
	// relay's goroutines and must not block.
	Events func(Event)

	Lang  string           // "en" or "zh-CN" for the messages the user sees
	Log   *slog.Logger     // nil: discard
	Clock func() time.Time // nil: time.Now; drives idle timeout, maximum duration and command times

	tick time.Duration // how often timeouts are checked and counts reported; tests shorten it
}

// Statements turns the lines a user enters at a program's prompt into the
// commands to check and log (dbgw's SQL and Redis dialects).
type Statements interface {
	// Line takes one line the user entered (the text after the prompt,
	// trimmed). It returns the commands the line completes, in order: none
	// while a statement goes on over several lines, several for
	// "select 1; select 2;". A non-nil error refuses the line whatever the
	// filters say (a shell escape, a statement too long to check); its text
	// is shown to the user. The relay calls Reset after it refused a line.
	Line(line string) ([]string, error)
	// Reset forgets the unfinished statement: the relay abandoned it in the
	// program with ClearLine.
	Reset()
}

// Result sums up a session that ended.
type Result struct {
	EndReason string
	BytesIn   int64 // bytes from the user (and joiners) to the target
	BytesOut  int64 // bytes from the target to the user
	Commands  int   // commands logged, refused ones included
}

// ErrInvalidConfig is returned by Run when Config lacks User or Target.
var ErrInvalidConfig = errors.New("term: invalid session configuration")

// defaultClearLine abandons the line: Ctrl-E (end of line), Ctrl-U (erase to
// the start of the line), Ctrl-C. Ctrl-U alone erases only what precedes the
// cursor: a user who typed "x; rm -rf /" and moved the cursor back after
// "x; " would leave "rm -rf /" in the line for the next Enter; Ctrl-E first
// moves the cursor to the end in readline, editline, zsh, fish and on network
// devices, and in a cooked-mode terminal Ctrl-U erases the whole line anyway.
// Ctrl-C then discards whatever is left, whatever the editing mode (readline's
// vi mode binds Ctrl-E to something else). No Enter follows: the shell prints a
// fresh prompt by itself, and a line left over by a program that ignores all
// three is not run. The relay then waits for the target to settle before it
// forwards more input, since a shell handles Ctrl-C asynchronously (bash,
// given keys right after it, may redisplay and keep the old line).
var defaultClearLine = []byte{0x05, 0x15, 0x03}

// Run relays a terminal session until it ends: the target or the user closes,
// the session is killed, idle for IdleTimeout, or longer than MaxDuration, or
// ctx is done. It always closes the target and the recorder and ends the Live
// with the reason and the counts. The error is non-nil only for an invalid
// configuration or when the target or the bookkeeping failed; the normal ends
// are in Result.EndReason.
//
// Run does not wait for a Read on User that is still pending when it returns;
// whatever that Read returns later is discarded. Callers that keep using the
// user's channel afterwards (a menu) must pass a User whose Read they can
// interrupt.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.User == nil || cfg.Target == nil {
		var errs []error
		if cfg.Target != nil {
			errs = append(errs, cfg.Target.Close())
		}
		if cfg.Recorder != nil {
			errs = append(errs, cfg.Recorder.Close())
		}
		if cfg.Live != nil {
			errs = append(errs, cfg.Live.End(ctx, EndInvalid))
		}
		return Result{EndReason: EndInvalid}, errors.Join(append([]error{fmt.Errorf("%w: User and Target are required", ErrInvalidConfig)}, errs...)...)
	}
	r := newRelay(cfg)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.flusher = time.AfterFunc(time.Hour, func() { r.flushHeld(rctx) })
	r.flusher.Stop()

	go r.outputPump()
	go r.userPump(rctx)
	reason, notice, runErr := r.loop(rctx)
	return r.finish(ctx, cancel, reason, notice, runErr)
}

// Event is a change of a command's fate, for Config.Events.
type Event struct {
	Kind    string `json:"kind"`    // a Verdict* value, EventAwaitingApproval or EventKilled
	Command string `json:"command"` // the command line, cut to maxLoggedCommand
	Rule    string `json:"rule"`    // the filter that decided, if any
	Message string `json:"message"` // what the terminal was told, in the session's language
}

// Event kinds besides the verdicts: a command held for an approver, and the
// session killed by an administrator (Message: "killed by <admin>: <reason>").
const (
	EventAwaitingApproval = "awaiting_approval"
	EventKilled           = "killed"
)

// event tells Config.Events.
func (r *relay) event(kind, cmd, rule, msg string) {
	if r.cfg.Events != nil {
		r.cfg.Events(Event{Kind: kind, Command: cutUTF8(cmd, maxLoggedCommand), Rule: rule, Message: msg})
	}
}

// relay is the state of one Run.
type relay struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time
	start time.Time // cfg.Clock at start
	epoch time.Time // wall clock with monotonic reading, for the settle timing
	live  *session.Live
	rec   *record.CastWriter
	x     *extractWorker
	clear []byte

	userMu sync.Mutex // serializes writes to the user's terminal (output chunks and notices)

	inMu    sync.Mutex  // serializes input handling; guards the fields below and writes to the target
	paste   pasteFilter // bracketed-paste markers, stripped in line mode
	line    rawLine     // the current line from keystrokes
	scratch []byte      // input after the paste filter
	flusher *time.Timer // forwards a held Esc after pasteFlushDelay; set once by Run

	// Atomics shared by the pumps and the main loop.
	lastInput   atomic.Int64 // cfg.Clock UnixNano of the last input
	lastOutput  atomic.Int64 // monotonic ns since epoch of the last output chunk
	lastForward atomic.Int64 // monotonic ns since epoch of the last bytes forwarded to the target
	outBusy     atomic.Bool  // an output chunk is being distributed
	locked      atomic.Bool  // the session's input is locked (mirrors Live.Locked)
	lockNotice  atomic.Bool  // MsgLocked was shown and MsgUnlocked not yet
	waiting     atomic.Bool  // a command waits for approval: the idle timeout is suspended
	ended       atomic.Bool
	bytesIn     atomic.Int64
	bytesOut    atomic.Int64
	commands    atomic.Int64

	endCh    chan endEvent // pumps report why they stopped
	pumpDone chan struct{} // closed when the output pump returns

	// Owned by the main loop.
	size                    Size
	reportedIn, reportedOut int64
}

type endEvent struct {
	reason string
	err    error
}

func newRelay(cfg Config) *relay {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = session.DefaultApprovalTimeout
	}
	if cfg.tick <= 0 {
		cfg.tick = defaultTick
	}
	size := normalSize(cfg.Size)
	r := &relay{
		cfg: cfg, clock: cfg.Clock, start: cfg.Clock(), epoch: time.Now(),
		live: cfg.Live, rec: cfg.Recorder, clear: cfg.ClearLine,
		endCh: make(chan endEvent, 4), pumpDone: make(chan struct{}), size: size,
	}
	if len(r.clear) == 0 {
		r.clear = defaultClearLine
	}
	log := cfg.Log.With("component", "term")
	if r.live != nil {
		log = log.With("session", r.live.Meta().ID)
	}
	r.log = log
	r.x = newExtractWorker(cmdline.New(size.Cols, size.Rows), log)
	r.lastInput.Store(r.start.UnixNano())
	if r.live != nil {
		r.locked.Store(r.live.Locked())
	}
	return r
}

// mono is the monotonic time since the relay started, in nanoseconds.
func (r *relay) mono() int64 { return int64(time.Since(r.epoch)) }

// end reports why the session should end; the main loop takes the first.
func (r *relay) end(reason string, err error) {
	select {
	case r.endCh <- endEvent{reason, err}:
	default:
	}
}

// loop waits for the end of the session and handles resizes, lock changes and
// timeouts meanwhile. It returns the end reason and the notice to show.
func (r *relay) loop(ctx context.Context) (reason, notice string, err error) {
	tick := time.NewTicker(r.cfg.tick)
	defer tick.Stop()
	var killed, lockCh <-chan struct{}
	var joinIn <-chan []byte
	if r.live != nil {
		// The first input of an interactive joiner starts the goroutine that
		// forwards joiners' input: most sessions never have one.
		joinIn = r.live.JoinInput()
		killed = r.live.Killed()
		lockCh = r.live.LockChanged()
		if r.live.Locked() {
			r.locked.Store(true)
			r.lockNotice.Store(true)
			r.notify(Message(r.cfg.Lang, MsgLocked))
		}
	}
	var recFailed <-chan struct{}
	if r.rec != nil && r.cfg.RequireRecording {
		recFailed = r.rec.Failed()
	}
	resizes := r.cfg.Resizes
	for {
		select {
		case ev := <-r.endCh:
			return ev.reason, "", ev.err
		case <-ctx.Done():
			return EndCanceled, "", nil
		case <-killed:
			why := r.live.KillReason()
			if why == "" {
				why = "killed"
			}
			return why, Message(r.cfg.Lang, MsgKilled, why), nil
		case <-recFailed:
			r.log.Error("recording failed; ending the session", "err", r.rec.Err())
			return EndRecording, Message(r.cfg.Lang, MsgRecordingFailed), nil
		case <-lockCh:
			lockCh = r.live.LockChanged()
			locked := r.live.Locked()
			r.locked.Store(locked)
			if locked && r.lockNotice.CompareAndSwap(false, true) {
				r.notify(Message(r.cfg.Lang, MsgLocked))
			} else if !locked && r.lockNotice.CompareAndSwap(true, false) {
				r.notify(Message(r.cfg.Lang, MsgUnlocked))
			}
		case s, ok := <-resizes:
			if !ok {
				resizes = nil
				continue
			}
			r.resize(s)
		case p, ok := <-joinIn:
			joinIn = nil
			if ok {
				go r.joinPump(ctx, p)
			}
		case <-tick.C:
			r.reportBytes()
			now := r.clock()
			if d := r.cfg.MaxDuration; d > 0 && now.Sub(r.start) >= d {
				return EndMaxDuration, Message(r.cfg.Lang, MsgMaxDuration, d), nil
			}
			if d := r.cfg.IdleTimeout; d > 0 && !r.waiting.Load() && now.Sub(time.Unix(0, r.lastInput.Load())) >= d {
				return EndIdle, Message(r.cfg.Lang, MsgIdle, d), nil
			}
		}
	}
}

// finish tears the session down: it stops the input, closes the target (which
// stops the output pump), shows the end notice, closes the recorder and ends
// the Live.
func (r *relay) finish(ctx context.Context, cancel context.CancelFunc, reason, notice string, runErr error) (Result, error) {
	r.ended.Store(true)
	cancel() // ends approval and settle waits and the joiner pump
	errs := []error{runErr}
	if err := r.cfg.Target.Close(); err != nil && !errors.Is(err, io.EOF) {
		errs = append(errs, fmt.Errorf("term: close target: %w", err))
	}
	stop := time.NewTimer(pumpStopWait)
	select {
	case <-r.pumpDone:
	case <-stop.C:
		r.log.Warn("output pump still blocked after the target was closed (stuck user connection?)")
	}
	stop.Stop()
	r.flusher.Stop()
	r.x.close()
	if notice != "" {
		r.notifyBounded(notice)
	}
	if r.rec != nil {
		if err := r.rec.Close(); err != nil {
			errs = append(errs, fmt.Errorf("term: close recording: %w", err))
		}
	}
	res := Result{EndReason: reason, BytesIn: r.bytesIn.Load(), BytesOut: r.bytesOut.Load(), Commands: int(r.commands.Load())}
	if r.live != nil {
		r.reportBytes()
		if err := r.live.End(context.WithoutCancel(ctx), reason); err != nil {
			errs = append(errs, fmt.Errorf("term: end session: %w", err))
		}
	}
	r.log.Info("terminal session ended", "reason", reason, "bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "commands", res.Commands)
	return res, errors.Join(errs...)
}

// reportBytes tells the Live the bytes counted since the last report.
func (r *relay) reportBytes() {
	if r.live == nil {
		return
	}
	in, out := r.bytesIn.Load(), r.bytesOut.Load()
	if in != r.reportedIn || out != r.reportedOut {
		r.live.AddBytes(in-r.reportedIn, out-r.reportedOut)
		r.reportedIn, r.reportedOut = in, out
	}
}

// resize applies a window change of the user's terminal.
func (r *relay) resize(s Size) {
	c, ok := s.Clamp()
	if !ok {
		r.log.Debug("ignored invalid window size", "cols", s.Cols, "rows", s.Rows)
		return
	}
	if c != s {
		r.log.Debug("clamped window size", "cols", s.Cols, "rows", s.Rows)
	}
	if c == r.size {
		return
	}
	r.size = c
	if err := r.cfg.Target.Resize(c.Cols, c.Rows); err != nil {
		r.log.Warn("resize target", "err", err)
	}
	if r.rec != nil {
		r.rec.Resize(c.Cols, c.Rows)
	}
	if r.live != nil {
		r.live.Resize(c.Cols, c.Rows)
	}
	r.x.resize(c)
}

// notify writes a notice to the user, and to the recording and the watchers
// so that a replay shows what the user was told.
func (r *relay) notify(msg string) {
	if msg == "" {
		return
	}
	b := []byte(msg)
	r.userMu.Lock()
	_, _ = r.cfg.User.Write(b)
	r.userMu.Unlock()
	if r.rec != nil {
		r.rec.Output(b)
	}
	if r.live != nil {
		r.live.Output(b)
	}
}

// notifyBounded is notify for the end of a session, when the user's connection
// may be stuck: it gives up after endNoticeWait.
func (r *relay) notifyBounded(msg string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.notify(msg)
	}()
	t := time.NewTimer(endNoticeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// cutUTF8 shortens s to at most n bytes without splitting a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
