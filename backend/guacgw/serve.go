package guacgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Client is the user's side of a session: a WebSocket carrying Guacamole
// instructions as text messages, as guacamole-common-js's WebSocketTunnel
// speaks it (each message one or more whole instructions). WebSocketClient
// implements it over gorilla/websocket.
//
// Serve calls ReadMessage from one goroutine and WriteMessage from one at a
// time; Close may come at any moment and must unblock both.
type Client interface {
	// ReadMessage returns the next text message from the browser. Errors
	// wrapping ErrTooLong or ErrMalformed are the browser's fault (a message
	// over the limit, a binary message); any other error means it is gone.
	ReadMessage() ([]byte, error)
	// WriteMessage sends p, one or more whole instructions, as one text
	// message. p is not used after it returns.
	WriteMessage(p []byte) error
	// Close closes the connection.
	Close() error
}

// Recorder receives the server-to-client instruction stream of a session,
// and the client's key and mouse events when Config asks for them, in whole
// instructions: each Write holds one or more of them. RecordingWriter
// implements it.
type Recorder interface {
	Write(p []byte) (int, error)
}

var _ Recorder = (*RecordingWriter)(nil)

// Why a session ended, in Result.EndReason. Faults are "error: " and what
// went wrong.
const (
	EndClientClosed = "client closed"
	EndGuacdClosed  = "guacd closed"
	EndKilled       = "killed"
	EndIdle         = "idle"
	EndMaxDuration  = "max duration"
	EndCanceled     = "canceled"
)

// Config is one session for Serve.
type Config struct {
	// Client is the browser's WebSocket. Required; Serve closes it.
	Client Client
	// Tunnel is the connection to guacd from Dial or Join. Required; Serve
	// closes it. Its Params decide what the browser may do (ReadOnly,
	// Clipboard, Drive).
	Tunnel *Tunnel
	// Recorder, if set, receives the .guac recording.
	Recorder Recorder
	// RequireRecording ends the session when the Recorder fails (fail
	// closed); otherwise Serve logs the error, stops recording and goes on
	// (fail open).
	RequireRecording bool
	// RecordKeys adds the client's "key" instructions to the recording, with
	// a timestamp as guacd's own recordings have them. Off by default: keys
	// include passwords.
	RecordKeys bool
	// RecordMouse adds the client's "mouse" instructions to the recording,
	// so that playback shows the pointer.
	RecordMouse bool
	// Killed is closed when an administrator kills the session; KillReason,
	// if set, says why (shown to the user).
	Killed     <-chan struct{}
	KillReason func() string
	// IdleTimeout ends a session without user input (keys, pointer, touch,
	// clipboard, files) for that long; MaxDuration ends any session after
	// that long. Zero means no limit. They are checked every CheckInterval
	// (default 1 s) against Clock.
	IdleTimeout, MaxDuration time.Duration
	CheckInterval            time.Duration
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// Log receives the session's log; nil discards it.
	Log *slog.Logger
	// OnSize, if set, is called with each size guacd gives the default
	// layer (the remote screen), from Serve's guacd reader: it must not
	// block.
	OnSize func(w, h int)
	// TunnelID is sent to the browser as the tunnel's UUID, the first
	// instruction of guacamole-common-js's WebSocket tunnel; default the
	// guacd connection ID.
	TunnelID string
	// MaxPendingInput bounds the client input held until guacd's first
	// frame (default 1 MiB); a browser that sends more is disconnected.
	MaxPendingInput int
	// InputGrace is how long input stays held after guacd's first frame
	// has reached the browser (default 300 ms; negative for none): guacd
	// 1.6.0's VNC client crashed on a good share of the pointer events that
	// came right after its first sync, and on none 200 ms later.
	InputGrace time.Duration
}

// CheckAndSetDefaults checks the required fields and fills in defaults.
func (c *Config) CheckAndSetDefaults() error {
	if c.Client == nil || c.Tunnel == nil {
		return errors.New("guacgw: Config needs a Client and a Tunnel")
	}
	if c.IdleTimeout < 0 || c.MaxDuration < 0 || c.CheckInterval < 0 || c.MaxPendingInput < 0 {
		return errors.New("guacgw: negative limit in Config")
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.KillReason == nil {
		c.KillReason = func() string { return "" }
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = time.Second
	}
	if c.MaxPendingInput == 0 {
		c.MaxPendingInput = 1 << 20
	}
	if c.InputGrace == 0 {
		c.InputGrace = 300 * time.Millisecond
	}
	if c.TunnelID == "" {
		c.TunnelID = c.Tunnel.id
	}
	return nil
}

// Result is how a session went.
type Result struct {
	// EndReason is one of the End* constants, or "error: " and the fault.
	EndReason string
	// BytesIn counts the client's instructions written to guacd; BytesOut
	// guacd's instructions written to the client.
	BytesIn, BytesOut int64
	// GuacdError is the message of guacd's "error" instruction, if it sent
	// one (e.g. an authentication failure on the target), or a note that
	// guacd went away without saying goodbye.
	GuacdError string
	// Dropped counts client instructions that the policy kept from guacd.
	Dropped int64
}

// Tuning of the relay.
const (
	// maxBatch is the most guacd output Serve puts in one WebSocket
	// message. It only batches what guacd has already sent: it never waits
	// for more.
	maxBatch = 64 << 10
	// finalWriteTimeout bounds the wait for a stalled browser to take the
	// last "error" instruction.
	finalWriteTimeout = 2 * time.Second
	// maxDroppedStreams bounds the streams the client may have refused at
	// once (guacd allows 64 open streams per user).
	maxDroppedStreams = 512
	// streamIndexMimetype is the mimetype of a directory listing in a
	// filesystem "body"; it is not a download.
	streamIndexMimetype = "application/vnd.glyptodon.guacamole.stream-index+json"
)

// Serve relays one session between the browser and guacd until one of them
// ends, the session is killed, idles out or reaches its maximum duration,
// or ctx is done. It closes both sides before it returns.
//
// guacd to browser: whole instructions, batched into one WebSocket message
// when several are already buffered, teed into the Recorder before they are
// sent. Streams the policy forbids (clipboard copy, downloads) are refused
// to guacd with an "ack" and not forwarded.
//
// Browser to guacd: every instruction is parsed and checked against guacd's
// limits and an allowlist of the opcodes guacd handles after the handshake;
// anything malformed ends the session with an "error" instruction to the
// browser. Tunnel-internal instructions (the keep-alive ping) are answered,
// never forwarded. Forbidden streams (paste, upload, everything for a
// read-only watcher) are refused to the browser with an "ack". All input is
// held until guacd's first "sync" has reached the browser, and InputGrace
// after it. A "disconnect" from the browser ends the session; guacd is told
// by closing its connection, never with a "disconnect" (see doc.go).
//
// The error is nil when the session ended normally (EndReason is then not
// an "error: ..."), and says what went wrong otherwise.
func Serve(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		if cfg.Client != nil {
			cfg.Client.Close()
		}
		if cfg.Tunnel != nil {
			cfg.Tunnel.Close()
		}
		return Result{EndReason: "error: " + err.Error()}, err
	}
	s := &session{
		cfg:   cfg,
		t:     cfg.Tunnel,
		pol:   cfg.Tunnel.policy,
		log:   cfg.Log.With("component", "guacgw", "connection", cfg.Tunnel.id),
		ended: make(chan struct{}),
	}
	if cfg.Recorder != nil {
		s.rec = &recorder{w: cfg.Recorder, require: cfg.RequireRecording, log: s.log}
	}
	start := cfg.Clock()
	s.lastInput.Store(start.UnixNano())

	// The tunnel UUID opens guacamole-common-js's WebSocket tunnel.
	if err := s.writeClient(NewInstruction(InternalOpcode, cfg.TunnelID).Append(nil)); err != nil {
		s.finish(ending{reason: EndClientClosed})
	} else {
		s.wg.Add(2)
		go s.fromGuacd()
		go s.fromClient()
	}
	s.watch(ctx, start)
	return s.teardown(start)
}

// session is one run of Serve.
type session struct {
	cfg Config
	t   *Tunnel
	pol policy
	log *slog.Logger
	rec *recorder
	wg  sync.WaitGroup

	// wmu serialises writes to the client; wclosed is set once the last
	// message is out (or given up on), and nothing is written after it.
	wmu     sync.Mutex
	wclosed bool

	// gmu serialises writes to guacd and guards synced, pending,
	// releaseTimer and stopped: client input waits in pending until guacd's
	// first frame has reached the client and InputGrace has passed, then
	// goes out in order.
	gmu          sync.Mutex
	synced       bool
	pending      []byte
	releaseTimer *time.Timer
	stopped      bool

	lastInput atomic.Int64 // Clock().UnixNano() of the last user input
	bytesIn   atomic.Int64
	bytesOut  atomic.Int64
	dropped   atomic.Int64

	endOnce sync.Once
	ended   chan struct{} // closed by the first finish
	end     ending        // set by the first finish

	// Owned by fromGuacd; read by teardown after it has returned.
	sawFrame      bool // guacd's first sync went by
	graceful      bool // guacd said "disconnect" or "error" before closing
	guacdErr      string
	serverDropped map[int]bool // guacd's streams refused by the policy

	// Owned by fromClient.
	clientDropped map[int]bool // the client's streams refused by the policy
	warned        map[string]bool
}

// ending is why and how a session ends.
type ending struct {
	reason  string
	status  Status // for the client's "error" instruction; StatusSuccess sends none
	message string
	err     error
}

func (s *session) finish(e ending) {
	s.endOnce.Do(func() {
		s.end = e
		close(s.ended)
	})
}

func (s *session) fail(status Status, message string, err error) {
	s.finish(ending{reason: "error: " + err.Error(), status: status, message: message, err: err})
}

// watch waits for the end of the session and enforces its limits.
func (s *session) watch(ctx context.Context, start time.Time) {
	var tick <-chan time.Time
	if s.cfg.IdleTimeout > 0 || s.cfg.MaxDuration > 0 {
		t := time.NewTicker(s.cfg.CheckInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.ended:
			return
		case <-ctx.Done():
			s.finish(ending{reason: EndCanceled, status: StatusSessionClosed, message: "The bastion is shutting down."})
		case <-s.cfg.Killed:
			msg := s.cfg.KillReason()
			if msg == "" {
				msg = "The session was terminated by an administrator."
			}
			s.finish(ending{reason: EndKilled, status: StatusSessionClosed, message: msg})
		case <-tick:
			now := s.cfg.Clock()
			if s.cfg.MaxDuration > 0 && now.Sub(start) >= s.cfg.MaxDuration {
				s.finish(ending{reason: EndMaxDuration, status: StatusSessionClosed,
					message: "The session reached its maximum duration of " + s.cfg.MaxDuration.String() + "."})
			}
			if s.cfg.IdleTimeout > 0 && now.Sub(time.Unix(0, s.lastInput.Load())) >= s.cfg.IdleTimeout {
				s.finish(ending{reason: EndIdle, status: StatusSessionTimeout,
					message: "The session was closed after " + s.cfg.IdleTimeout.String() + " without input."})
			}
		}
	}
}

// teardown closes both sides, the browser last so it gets the reason, and
// waits for the relay goroutines.
func (s *session) teardown(start time.Time) (Result, error) {
	e := s.end
	s.gmu.Lock()
	s.stopped = true
	if s.releaseTimer != nil && s.releaseTimer.Stop() {
		s.wg.Done()
	}
	s.gmu.Unlock()
	// guacd learns that the user left from the closed connection. Serve
	// never sends "disconnect": guacd 1.6.0's VNC client crashed on most
	// "disconnect"s that came right after the first frame in our tests,
	// taking every user of the connection with it, and never on a close.
	s.t.Close()

	if e.status != StatusSuccess && e.reason != EndClientClosed {
		msg := ErrorInstruction(e.message, e.status).Append(nil)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.wmu.Lock()
			defer s.wmu.Unlock()
			if !s.wclosed {
				_ = s.cfg.Client.WriteMessage(msg)
			}
			s.wclosed = true
		}()
		timer := time.NewTimer(finalWriteTimeout)
		select {
		case <-done:
		case <-timer.C:
		}
		timer.Stop()
		s.cfg.Client.Close()
		<-done
	} else {
		s.cfg.Client.Close()
	}
	s.wg.Wait()

	res := Result{
		EndReason:  e.reason,
		BytesIn:    s.bytesIn.Load(),
		BytesOut:   s.bytesOut.Load(),
		GuacdError: s.guacdErr,
		Dropped:    s.dropped.Load(),
	}
	attrs := []any{"reason", res.EndReason, "duration", s.cfg.Clock().Sub(start).Round(time.Millisecond),
		"bytes_in", res.BytesIn, "bytes_out", res.BytesOut}
	if res.GuacdError != "" {
		attrs = append(attrs, "guacd_error", res.GuacdError)
	}
	if e.err != nil {
		s.log.Warn("guacamole session ended", attrs...)
	} else {
		s.log.Info("guacamole session ended", attrs...)
	}
	return res, e.err
}

// writeClient sends one message to the browser.
func (s *session) writeClient(p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wclosed {
		return io.ErrClosedPipe
	}
	return s.cfg.Client.WriteMessage(p)
}

var (
	errPendingOverrun = errors.New("too much input before the first frame")
	errDisconnect     = errors.New("the browser disconnected")
)

// toGuacd writes client input (or an ack of ours) to guacd, or holds it
// until guacd's first sync has reached the browser.
func (s *session) toGuacd(p []byte) error {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if !s.synced {
		if len(s.pending)+len(p) > s.cfg.MaxPendingInput {
			return errPendingOverrun
		}
		s.pending = append(s.pending, p...)
		return nil
	}
	n, err := s.t.conn.Write(p)
	s.bytesIn.Add(int64(n))
	return err
}

// scheduleRelease lets the held input go InputGrace after guacd's first
// frame has reached the browser.
func (s *session) scheduleRelease() error {
	if s.cfg.InputGrace < 0 {
		return s.releaseInput()
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if s.stopped {
		return nil
	}
	s.wg.Add(1)
	s.releaseTimer = time.AfterFunc(s.cfg.InputGrace, func() {
		defer s.wg.Done()
		if err := s.releaseInput(); err != nil {
			s.fail(StatusUpstreamError, "The connection to guacd failed.", fmt.Errorf("writing to guacd: %w", err))
		}
	})
	return nil
}

// releaseInput sends the held input.
func (s *session) releaseInput() error {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	s.synced = true
	if len(s.pending) == 0 {
		return nil
	}
	n, err := s.t.conn.Write(s.pending)
	s.bytesIn.Add(int64(n))
	s.pending = nil
	return err
}

// ---- guacd to browser ----

// batch collects guacd's instructions for one WebSocket message. As long as
// they are contiguous in the Reader's buffer it only keeps their bounds.
type batch struct {
	rd         *Reader
	start, end int    // a run in rd.buf not yet copied to out
	out        []byte // the batch so far, once it is not contiguous
	unrecorded int    // length of a trailing part not to record (guacd's "disconnect")
}

func (b *batch) reset() {
	b.start, b.end = 0, 0
	b.out = b.out[:0]
	b.unrecorded = 0
}

func (b *batch) len() int { return len(b.out) + b.end - b.start }

// addLast adds the instruction the Reader returned last.
func (b *batch) addLast() {
	st, en := b.rd.lastStart, b.rd.lastEnd
	switch {
	case b.start == b.end:
		b.start, b.end = st, en
	case st == b.end:
		b.end = en
	default:
		b.out = append(b.out, b.rd.buf[b.start:b.end]...)
		b.start, b.end = st, en
	}
}

// addBytes adds an instruction that is not in the Reader's buffer.
func (b *batch) addBytes(p []byte) {
	b.out = append(b.out, b.rd.buf[b.start:b.end]...)
	b.start, b.end = 0, 0
	b.out = append(b.out, p...)
}

// bytes returns the batch.
func (b *batch) bytes() []byte {
	if len(b.out) == 0 {
		return b.rd.buf[b.start:b.end]
	}
	b.out = append(b.out, b.rd.buf[b.start:b.end]...)
	b.start, b.end = 0, 0
	return b.out
}

func (s *session) fromGuacd() {
	defer s.wg.Done()
	rd := s.t.rd
	b := &batch{rd: rd}
	for {
		raw, err := rd.next()
		if err != nil {
			s.guacdFailed(err)
			return
		}
		b.reset()
		firstFrame := false
		for raw != nil {
			cut := s.fromServer(rd, raw, b)
			if cut && !s.sawFrame && string(rd.sc.elem(raw, 0)) == "sync" {
				s.sawFrame, firstFrame = true, true
			}
			if cut || b.len() >= maxBatch {
				break
			}
			raw, err = rd.nextBuffered()
		}
		if werr := s.sendBatch(b); werr != nil {
			return
		}
		if firstFrame {
			if err := s.scheduleRelease(); err != nil {
				s.fail(StatusUpstreamError, "The connection to guacd failed.", fmt.Errorf("writing to guacd: %w", err))
				return
			}
		}
		if err != nil {
			s.guacdFailed(err)
			return
		}
	}
}

// sendBatch records the batch and writes it to the browser.
func (s *session) sendBatch(b *batch) error {
	p := b.bytes()
	if len(p) == 0 {
		return nil
	}
	if s.rec != nil {
		if err := s.rec.write(p[:len(p)-b.unrecorded]); err != nil {
			s.fail(StatusServerError, "The session cannot be recorded.", fmt.Errorf("recording: %w", err))
			return err
		}
	}
	if err := s.writeClient(p); err != nil {
		s.finish(ending{reason: EndClientClosed})
		return err
	}
	s.bytesOut.Add(int64(len(p)))
	return nil
}

// fromServer handles one instruction from guacd and adds it to the batch
// unless the policy drops it. It reports whether the batch should go out
// now: at the end of the first frame (guacd's first sync), and at guacd's
// goodbye.
func (s *session) fromServer(rd *Reader, raw []byte, b *batch) (cut bool) {
	sc := &rd.sc
	n := sc.nelems()
	arg := func(i int) []byte {
		if i+1 < n {
			return sc.elem(raw, i+1)
		}
		return nil
	}
	switch string(sc.elem(raw, 0)) {
	case "sync":
		cut = !s.sawFrame
	case "size":
		if s.cfg.OnSize != nil && n >= 4 && string(arg(0)) == "0" {
			w, okw := atoi(arg(1))
			h, okh := atoi(arg(2))
			if okw && okh {
				s.cfg.OnSize(w, h)
			}
		}
	case "error":
		s.graceful = true
		s.guacdErr = truncate(string(arg(0)), 256)
	case "disconnect":
		s.graceful = true
		b.addLast()
		b.unrecorded = len(raw)
		return true
	case "clipboard":
		if !s.pol.copyOut {
			s.refuseServerStream(arg(0), "copying from the remote desktop is not allowed")
			return false
		}
	case "file":
		if !s.pol.download {
			s.refuseServerStream(arg(0), "downloads are not allowed")
			return false
		}
	case "body":
		if !s.pol.download && string(arg(2)) != streamIndexMimetype {
			s.refuseServerStream(arg(1), "downloads are not allowed")
			return false
		}
	case "blob", "end":
		if len(s.serverDropped) > 0 {
			if i, ok := atoi(arg(0)); ok && s.serverDropped[i] {
				if string(sc.elem(raw, 0)) == "end" {
					delete(s.serverDropped, i)
				}
				return false
			}
		}
	case InternalOpcode:
		return false
	}
	if !sc.ascii && !utf8.Valid(raw) {
		// guacd passes text from the target as it gets it (a VNC desktop
		// name in Latin-1, say); a browser drops a WebSocket whose text is
		// not UTF-8.
		in := sc.instruction(raw)
		in.Opcode = strings.ToValidUTF8(in.Opcode, "\uFFFD")
		for i := range in.Args {
			in.Args[i] = strings.ToValidUTF8(in.Args[i], "\uFFFD")
		}
		b.addBytes(in.Append(nil))
		return cut
	}
	b.addLast()
	return cut
}

// refuseServerStream answers a stream guacd opens with an error "ack", so
// guacd closes it, and drops the rest of it.
func (s *session) refuseServerStream(index []byte, why string) {
	i, ok := atoi(index)
	if !ok {
		return
	}
	if s.serverDropped == nil {
		s.serverDropped = make(map[int]bool)
	}
	if len(s.serverDropped) < maxDroppedStreams {
		s.serverDropped[i] = true
	}
	s.log.Info("refused a stream from guacd", "why", why)
	ack := NewInstruction("ack", string(index), why, strconv.Itoa(int(StatusClientForbidden))).Append(nil)
	if err := s.toGuacd(ack); err != nil {
		s.log.Debug("could not refuse a stream", "err", err)
	}
}

// guacdFailed ends the session after a read from guacd failed.
func (s *session) guacdFailed(err error) {
	switch {
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLong):
		s.fail(StatusUpstreamError, "guacd sent invalid data; the session was closed.",
			fmt.Errorf("from guacd: %w", err))
	case s.graceful:
		s.finish(ending{reason: EndGuacdClosed})
	default:
		// No "disconnect" and no "error": guacd crashed or was stopped.
		s.guacdErr = "guacd closed the connection without a disconnect"
		if !errors.Is(err, io.EOF) {
			s.guacdErr += " (" + err.Error() + ")"
		}
		s.finish(ending{reason: EndGuacdClosed, status: StatusUpstreamError,
			message: "The remote desktop service closed the connection unexpectedly."})
	}
}

// ---- browser to guacd ----

// minArgs is how many arguments each opcode guacd accepts from a user
// after the handshake needs (libguac's user-handlers.c); any other opcode
// is dropped.
func minArgs(opcode string) (int, bool) {
	switch opcode {
	case "nop", "disconnect":
		return 0, true
	case "sync", "end":
		return 1, true
	case "key", "size", "clipboard", "blob", "get", "audio":
		return 2, true
	case "mouse", "file", "pipe", "ack", "argv":
		return 3, true
	case "put":
		return 4, true
	case "touch":
		return 7, true
	}
	return 0, false
}

func (s *session) fromClient() {
	defer s.wg.Done()
	sc := scanner{max: MaxClientInstruction, maxElems: MaxElements, maxElem: MaxElementLength}
	var out []byte
	for {
		msg, err := s.cfg.Client.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, ErrTooLong):
				s.fail(StatusClientOverrun, "The browser sent a message over the limit.", fmt.Errorf("from the client: %w", err))
			case errors.Is(err, ErrMalformed):
				s.fail(StatusClientBadRequest, "The browser sent an invalid message.", fmt.Errorf("from the client: %w", err))
			default:
				s.log.Debug("client read ended", "err", err)
				s.finish(ending{reason: EndClientClosed})
			}
			return
		}
		out, err = s.fromBrowser(&sc, msg, out[:0])
		if errors.Is(err, errDisconnect) {
			if len(out) > 0 {
				_ = s.toGuacd(out)
			}
			s.finish(ending{reason: EndClientClosed})
			return
		}
		if err != nil {
			status := StatusClientBadRequest
			if errors.Is(err, ErrTooLong) {
				status = StatusClientOverrun
			}
			s.fail(status, "The browser sent an invalid instruction; the session was closed.", fmt.Errorf("from the client: %w", err))
			return
		}
		if len(out) == 0 {
			continue
		}
		if err := s.toGuacd(out); err != nil {
			if errors.Is(err, errPendingOverrun) {
				s.fail(StatusClientOverrun, "The browser sent too much input before the desktop appeared.", fmt.Errorf("from the client: %w", err))
			} else {
				s.fail(StatusUpstreamError, "The connection to guacd failed.", fmt.Errorf("writing to guacd: %w", err))
			}
			return
		}
	}
}

// fromBrowser checks the instructions of one message and appends those for
// guacd to out.
func (s *session) fromBrowser(sc *scanner, msg, out []byte) ([]byte, error) {
	if !utf8.Valid(msg) {
		return out, fmt.Errorf("%w: message is not UTF-8", ErrMalformed)
	}
	for off := 0; off < len(msg); {
		sc.pos = 0
		n, err := sc.scan(msg[off:])
		if err == nil && n == 0 {
			err = fmt.Errorf("%w: message ends inside an instruction", ErrMalformed)
		}
		raw := msg[off : off+n]
		if errors.Is(err, ErrMalformed) {
			// guacamole-common-js 1.5 counts UTF-16 code units, so an
			// element with a character outside the BMP looks longer than it
			// is. Accept it, and give guacd the instruction with lengths in
			// code points.
			if canon, m, ok := utf16Fallback(msg[off:]); ok {
				sc.pos = 0
				if k, err2 := sc.scan(canon); err2 == nil && k == len(canon) {
					raw, n, err = canon, m, nil
				}
			}
		}
		if err != nil {
			return out, err
		}
		off += n
		if out, err = s.clientInstruction(sc, raw, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// utf16Fallback parses the instruction at the start of p with lengths in
// UTF-16 code units, and returns it encoded with lengths in code points and
// how many bytes of p it took.
func utf16Fallback(p []byte) (canon []byte, n int, ok bool) {
	astral := false
	for _, c := range p {
		astral = astral || c >= 0xF0
	}
	if !astral {
		return nil, 0, false
	}
	sc := scanner{max: MaxClientInstruction, maxElems: MaxElements, maxElem: MaxElementLength, utf16: true}
	n, err := sc.scan(p)
	if err != nil || n == 0 {
		return nil, 0, false
	}
	return sc.instruction(p[:n]).Append(nil), n, true
}

// clientInstruction applies the allowlist and the policy to one instruction
// from the browser and appends it to out if it is for guacd.
func (s *session) clientInstruction(sc *scanner, raw, out []byte) ([]byte, error) {
	n := sc.nelems()
	op := sc.elem(raw, 0)
	arg := func(i int) []byte { return sc.elem(raw, i+1) }
	if string(op) == InternalOpcode {
		// The tunnel's keep-alive: guacamole-common-js sends "ping" and a
		// timestamp every 500 ms and expects the same back.
		if n >= 3 && string(arg(0)) == "ping" {
			if err := s.writeClient(raw); err != nil {
				s.log.Debug("ping reply failed", "err", err)
			}
		}
		return out, nil
	}
	need, known := minArgs(string(op))
	if !known {
		s.drop(string(op), "not an opcode guacd accepts from a browser")
		return out, nil
	}
	if n-1 < need {
		return out, fmt.Errorf("%w: %q with %d arguments, want %d", ErrMalformed, op, n-1, need)
	}
	ro := s.pol.readOnly
	switch string(op) {
	case "disconnect":
		// The browser leaves (Guacamole.Client.disconnect); guacd is told
		// by closing its connection (see teardown).
		return out, errDisconnect
	case "mouse":
		if ro {
			s.drop("mouse", "read-only")
			return out, nil
		}
		s.touched()
		if s.cfg.RecordMouse {
			s.recordInput(sc, raw)
		}
	case "key":
		if ro {
			s.drop("key", "read-only")
			return out, nil
		}
		s.touched()
		if s.cfg.RecordKeys {
			s.recordInput(sc, raw)
		}
	case "touch", "size":
		if ro {
			s.drop(string(op), "read-only")
			return out, nil
		}
		if string(op) == "touch" {
			s.touched()
		}
	case "clipboard":
		s.touched()
		if ro || !s.pol.pasteIn {
			return out, s.refuseClientStream(arg(0), "clipboard", "Pasting into the remote desktop is not allowed.")
		}
	case "file":
		s.touched()
		if ro || !s.pol.upload || !s.pol.drive {
			return out, s.refuseClientStream(arg(0), "file", "Uploads are not allowed.")
		}
	case "put":
		s.touched()
		if ro || !s.pol.upload || !s.pol.drive {
			return out, s.refuseClientStream(arg(1), "put", "Uploads are not allowed.")
		}
	case "pipe", "argv", "audio":
		if ro {
			return out, s.refuseClientStream(arg(0), string(op), "The session is read-only.")
		}
	case "get":
		if ro {
			s.drop("get", "read-only")
			return out, nil
		}
	case "blob", "end":
		i, ok := atoi(arg(0))
		if !ok {
			return out, fmt.Errorf("%w: stream index %q", ErrMalformed, truncate(string(arg(0)), 16))
		}
		if s.clientDropped[i] {
			if string(op) == "end" {
				delete(s.clientDropped, i)
			}
			s.dropped.Add(1)
			return out, nil
		}
	}
	return append(out, raw...), nil
}

// touched notes user input, for the idle timeout.
func (s *session) touched() {
	s.lastInput.Store(s.cfg.Clock().UnixNano())
}

// drop counts an instruction kept from guacd and logs the first of each
// opcode.
func (s *session) drop(opcode, why string) {
	s.dropped.Add(1)
	if s.warned == nil {
		s.warned = make(map[string]bool)
	}
	if !s.warned[opcode] && len(s.warned) < 64 {
		s.warned[opcode] = true
		s.log.Info("dropped client instruction", "opcode", truncate(opcode, 32), "why", why)
	}
}

// refuseClientStream answers a stream the browser opens with an error
// "ack", so guacamole-common-js stops it, and drops the rest of it.
func (s *session) refuseClientStream(index []byte, opcode, why string) error {
	i, ok := atoi(index)
	if !ok {
		return fmt.Errorf("%w: stream index %q", ErrMalformed, truncate(string(index), 16))
	}
	if s.clientDropped == nil {
		s.clientDropped = make(map[int]bool)
	}
	if len(s.clientDropped) >= maxDroppedStreams {
		return fmt.Errorf("%w: more than %d refused streams open", ErrTooLong, maxDroppedStreams)
	}
	s.clientDropped[i] = true
	s.drop(opcode, why)
	ack := NewInstruction("ack", string(index), why, strconv.Itoa(int(StatusClientForbidden))).Append(nil)
	if err := s.writeClient(ack); err != nil {
		s.log.Debug("could not refuse a stream", "err", err)
	}
	return nil
}

// recordInput writes a key or mouse instruction into the recording with a
// timestamp appended, the way guacd records them.
func (s *session) recordInput(sc *scanner, raw []byte) {
	if s.rec == nil {
		return
	}
	n := sc.nelems()
	in := Instruction{Opcode: string(sc.elem(raw, 0)), Args: make([]string, 0, n)}
	for i := 1; i < n; i++ {
		in.Args = append(in.Args, string(sc.elem(raw, i)))
	}
	in.Args = append(in.Args, strconv.FormatInt(s.cfg.Clock().UnixMilli(), 10))
	if err := s.rec.write(in.Append(nil)); err != nil {
		s.fail(StatusServerError, "The session cannot be recorded.", fmt.Errorf("recording: %w", err))
	}
}

// recorder serialises the two relay directions' writes to the Recorder and
// applies the failure policy.
type recorder struct {
	mu      sync.Mutex
	w       Recorder
	require bool
	failed  bool
	log     *slog.Logger
}

func (r *recorder) write(p []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed || len(p) == 0 {
		return nil
	}
	if _, err := r.w.Write(p); err != nil {
		r.failed = true
		if r.require {
			return err
		}
		r.log.Error("recording failed; the session goes on unrecorded", "err", err)
	}
	return nil
}

// atoi parses a non-negative decimal number of at most 9 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
