package guacgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	// ErrGuacdUnreachable reports that nothing accepted a connection at
	// guacd's address in time.
	ErrGuacdUnreachable = errors.New("guacgw: guacd unreachable")
	// ErrNotGuacd reports that something at guacd's address does not speak
	// the Guacamole protocol.
	ErrNotGuacd = errors.New("guacgw: not guacd")
	// ErrHandshake reports a handshake guacd refused or did not finish: an
	// "error" instead of "args" or "ready", an unexpected opcode, a closed
	// connection, no answer in time.
	ErrHandshake = errors.New("guacgw: guacd handshake failed")
	// ErrConnectionNotFound reports a Join to a connection ID guacd does not
	// know (it has ended, or it runs on another guacd).
	ErrConnectionNotFound = errors.New("guacgw: no such guacd connection")
)

// Timeouts of Dial, Join and Ping, unless ctx ends sooner.
const (
	// DialTimeout bounds the TCP connection to guacd.
	DialTimeout = 5 * time.Second
	// HandshakeTimeout bounds the handshake once connected. guacd answers
	// "ready" before it contacts the target, so this is only guacd's own
	// latency.
	HandshakeTimeout = 15 * time.Second
	// PingTimeout bounds Ping's wait for "args", which guacd sends within
	// milliseconds; a server of another protocol may wait for more input.
	PingTimeout = 3 * time.Second
)

// Tunnel is a connection to guacd after a successful handshake: guacd has
// answered "ready" and is connecting to the target. Serve relays it; it is
// served once.
type Tunnel struct {
	conn    net.Conn
	rd      *Reader
	id      string
	version string
	policy  policy

	closeOnce sync.Once
	closeErr  error
}

// policy is what Serve enforces on the instructions of a tunnel.
type policy struct {
	readOnly bool
	copyOut  bool
	pasteIn  bool
	upload   bool
	download bool
	drive    bool
}

// ConnectionID returns the connection ID guacd gave in "ready", "$" and a
// UUID; Join attaches to it.
func (t *Tunnel) ConnectionID() string { return t.id }

// ProtocolVersion returns the protocol version agreed with guacd, e.g.
// "VERSION_1_5_0", or "" when guacd is older than 1.1 and announced none.
func (t *Tunnel) ProtocolVersion() string { return t.version }

// Close closes the connection to guacd. guacd then removes the user from the
// connection, and ends the connection when its last user is gone.
func (t *Tunnel) Close() error {
	t.closeOnce.Do(func() { t.closeErr = t.conn.Close() })
	return t.closeErr
}

// Dial connects to guacd at addr, asks it for a new p.Protocol connection to
// p's target and performs the handshake (select, args, size, audio, video,
// image, timezone, name, connect, ready). ctx bounds the dial and the
// handshake, within DialTimeout and HandshakeTimeout. An address where
// nothing answers is an error wrapping ErrGuacdUnreachable.
func Dial(ctx context.Context, addr string, p Params) (*Tunnel, error) {
	if err := p.validate(false); err != nil {
		return nil, err
	}
	return handshake(ctx, addr, p.Protocol, p)
}

// Join attaches to the running guacd connection connectionID ("$" and a
// UUID, from another Tunnel's ConnectionID), e.g. with p.ReadOnly for a
// watcher. p's target fields are not used; its size, policy and ReadOnly
// are. An unknown ID is an error wrapping ErrConnectionNotFound.
func Join(ctx context.Context, addr, connectionID string, p Params) (*Tunnel, error) {
	if !strings.HasPrefix(connectionID, "$") || len(connectionID) < 2 || len(connectionID) > 128 {
		return nil, fmt.Errorf("%w: connection ID %q", ErrInvalidParams, connectionID)
	}
	if err := p.validate(true); err != nil {
		return nil, err
	}
	return handshake(ctx, addr, connectionID, p)
}

// Ping checks that guacd answers at addr: it connects, sends "select" of
// "vnc", waits for "args" (PingTimeout at most) and hangs up. guacd starts a process for the
// attempt and logs a failed handshake. The errors wrap ErrGuacdUnreachable
// (nothing listening) or ErrNotGuacd (something else, or a guacd that cannot
// serve VNC).
func Ping(ctx context.Context, addr string) error {
	conn, err := dialGuacd(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	stop := bindDeadline(ctx, conn)
	defer stop()
	rd := NewReader(conn, MaxServerInstruction)
	if _, err := conn.Write(NewInstruction("select", "vnc").Append(nil)); err != nil {
		return fmt.Errorf("%w at %s: %w", ErrNotGuacd, addr, err)
	}
	in, _, err := rd.Read()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || err != nil && ctx.Err() != nil:
		return fmt.Errorf("%w at %s: no answer in time", ErrNotGuacd, addr)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w at %s: connection closed without an answer (a guacd without VNC support?)", ErrNotGuacd, addr)
	case err != nil:
		return fmt.Errorf("%w at %s: %w", ErrNotGuacd, addr, err)
	case in.Opcode != "args":
		return fmt.Errorf("%w at %s: answered %q instead of \"args\"", ErrNotGuacd, addr, in.Opcode)
	}
	return nil
}

// dialGuacd opens the TCP connection, within DialTimeout and ctx.
func dialGuacd(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrGuacdUnreachable, addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Guacamole instructions are small and latency-bound.
		_ = tc.SetNoDelay(true)
	}
	return conn, nil
}

// bindDeadline bounds conn's I/O by HandshakeTimeout and by ctx, until the
// returned function is called.
func bindDeadline(ctx context.Context, conn net.Conn) (stop func()) {
	deadline := time.Now().Add(HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	stopAfter := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stopAfter()
		_ = conn.SetDeadline(time.Time{})
	}
}

// handshake performs the Guacamole handshake for a new connection
// (selectArg is a protocol) or a join (selectArg is a connection ID).
//
// It does not use github.com/wwt/guac's Stream.Handshake: that writes
// element lengths in bytes (a non-ASCII password or user name makes guacd
// misread the "connect" instruction), sends no "timezone" or "name", bounds
// reads by a fixed per-read timeout instead of ctx, and keeps whatever guacd
// sent after "ready" in its private rune buffer, so the relay would have to
// go on reading through Stream.ReadSome (an 8 KiB allocation and a rune
// conversion per read).
func handshake(ctx context.Context, addr, selectArg string, p Params) (_ *Tunnel, err error) {
	conn, err := dialGuacd(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	stop := bindDeadline(ctx, conn)
	defer stop()
	join := strings.HasPrefix(selectArg, "$")

	fail := func(step string, err error) error {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%w with %s: %s: %w", ErrHandshake, addr, step, context.Cause(ctx))
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("%w with %s: %s: no answer in time", ErrHandshake, addr, step)
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w with %s: %s: guacd closed the connection (see guacd's log)", ErrHandshake, addr, step)
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLong):
			return fmt.Errorf("%w: %w at %s: %s: %w", ErrHandshake, ErrNotGuacd, addr, step, err)
		}
		return fmt.Errorf("%w with %s: %s: %w", ErrHandshake, addr, step, err)
	}

	rd := NewReader(conn, MaxServerInstruction)
	if _, err := conn.Write(NewInstruction("select", selectArg).Append(nil)); err != nil {
		return nil, fail("select", err)
	}
	args, err := expect(rd, "args")
	if err != nil {
		if ge := (*guacdError)(nil); errors.As(err, &ge) && join && ge.code == StatusResourceNotFound {
			return nil, fmt.Errorf("%w: %s on %s: %s", ErrConnectionNotFound, selectArg, addr, ge.msg)
		}
		return nil, fail("waiting for args", err)
	}
	values := p.Args(args.Args)
	version := ""
	if len(args.Args) > 0 && strings.HasPrefix(args.Args[0], "VERSION_") {
		version = values[0]
	}

	w, h, dpi := strconv.Itoa(p.width()), strconv.Itoa(p.height()), strconv.Itoa(p.dpi())
	buf := NewInstruction("size", w, h, dpi).Append(nil)
	buf = NewInstruction("audio", p.audio()...).Append(buf)
	buf = NewInstruction("video").Append(buf)
	buf = NewInstruction("image", p.image()...).Append(buf)
	if p.Timezone != "" && versionAtLeast(version, 1, 1) {
		buf = NewInstruction("timezone", p.Timezone).Append(buf)
	}
	if p.DisplayName != "" && versionAtLeast(version, 1, 5) {
		buf = NewInstruction("name", p.DisplayName).Append(buf)
	}
	buf = NewInstruction("connect", values...).Append(buf)
	if _, err := conn.Write(buf); err != nil {
		return nil, fail("connect", err)
	}
	ready, err := expect(rd, "ready")
	if err != nil {
		return nil, fail("waiting for ready", err)
	}
	if len(ready.Args) == 0 || !strings.HasPrefix(ready.Args[0], "$") {
		return nil, fail("ready", fmt.Errorf("no connection ID in %q", ready.String()))
	}
	return &Tunnel{
		conn:    conn,
		rd:      rd,
		id:      ready.Args[0],
		version: version,
		policy: policy{
			readOnly: p.ReadOnly,
			copyOut:  p.Clipboard.CopyOut,
			pasteIn:  p.Clipboard.PasteIn,
			upload:   p.Drive.Upload,
			download: p.Drive.Download,
			drive:    p.Drive.Path != "",
		},
	}, nil
}

// guacdError is an "error" instruction guacd sent during the handshake.
type guacdError struct {
	msg  string
	code Status
}

func (e *guacdError) Error() string {
	return fmt.Sprintf("guacd: %s (%s)", e.msg, e.code)
}

// expect reads the next instruction and checks its opcode.
func expect(rd *Reader, opcode string) (Instruction, error) {
	in, _, err := rd.Read()
	if err != nil {
		return in, err
	}
	if in.Opcode == "error" {
		ge := &guacdError{msg: "(no message)"}
		if len(in.Args) > 0 {
			ge.msg = in.Args[0]
		}
		if len(in.Args) > 1 {
			c, _ := strconv.Atoi(in.Args[1])
			ge.code = Status(c)
		}
		return in, ge
	}
	if in.Opcode != opcode {
		return in, fmt.Errorf("got %q instead of %q", in.Opcode, opcode)
	}
	return in, nil
}
