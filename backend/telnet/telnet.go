package telnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Errors returned by Dial.
var (
	// ErrLoginFailed: the device refused the username or password.
	ErrLoginFailed = errors.New("telnet: login failed")
	// ErrLoginTimeout: an expected prompt did not come within Options.Timeout.
	ErrLoginTimeout = errors.New("telnet: login timed out")
)

// Defaults of Options.
const (
	DefaultLoginPrompt    = `(?i)(login|username|user name)\s*:\s*$`
	DefaultPasswordPrompt = `(?i)password\s*:\s*$`
	DefaultFailurePattern = `(?i)(login incorrect|authentication failed|access denied|bad password|login invalid|% ?login failed)`
	DefaultPrompt         = `[$#>%\]][ \t]*$`
)

// Default timings and sizes of Options.
const (
	DefaultTimeout = 15 * time.Second
	DefaultQuiet   = 800 * time.Millisecond
	DefaultTerm    = "xterm"
	maxBanner      = 64 << 10 // bytes of login output kept for Banner
	maxSegment     = 8 << 10  // bytes of recent output the patterns are matched against
)

// Options configure Dial.
type Options struct {
	// Username and Password are typed at the device's prompts. With both
	// empty, Dial only wraps conn (no automatic login).
	Username, Password string
	// LoginPrompt matches the end of the output when the device asks for the
	// username (DefaultLoginPrompt when nil).
	LoginPrompt *regexp.Regexp
	// PasswordPrompt matches the end of the output when it asks for the
	// password (DefaultPasswordPrompt when nil).
	PasswordPrompt *regexp.Regexp
	// FailurePattern matches output that says the login failed
	// (DefaultFailurePattern when nil).
	FailurePattern *regexp.Regexp
	// Prompt matches the end of the output once logged in: a shell or device
	// prompt (DefaultPrompt when nil). Without a match, output followed by
	// Quiet of silence counts as logged in too.
	Prompt *regexp.Regexp
	// Term is sent when the server asks for the terminal type (DefaultTerm when empty).
	Term string
	// Cols and Rows are the window size sent by NAWS (80x24 when zero).
	Cols, Rows int
	// Timeout bounds the whole login (DefaultTimeout when zero).
	Timeout time.Duration
	// Quiet is the silence after which output that matched nothing counts as
	// the device's prompt (DefaultQuiet when zero).
	Quiet time.Duration
	// Log receives debug lines about the login (never the password).
	Log *slog.Logger
}

// Compiled defaults (a *regexp.Regexp is safe for concurrent use).
var (
	defaultLoginRE    = regexp.MustCompile(DefaultLoginPrompt)
	defaultPasswordRE = regexp.MustCompile(DefaultPasswordPrompt)
	defaultFailureRE  = regexp.MustCompile(DefaultFailurePattern)
	defaultPromptRE   = regexp.MustCompile(DefaultPrompt)
)

func (o Options) withDefaults() Options {
	if o.LoginPrompt == nil {
		o.LoginPrompt = defaultLoginRE
	}
	if o.PasswordPrompt == nil {
		o.PasswordPrompt = defaultPasswordRE
	}
	if o.FailurePattern == nil {
		o.FailurePattern = defaultFailureRE
	}
	if o.Prompt == nil {
		o.Prompt = defaultPromptRE
	}
	if o.Term == "" {
		o.Term = DefaultTerm
	}
	if o.Cols <= 0 {
		o.Cols = 80
	}
	if o.Rows <= 0 {
		o.Rows = 24
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Quiet <= 0 {
		o.Quiet = DefaultQuiet
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Conn is a telnet client connection: Read returns the server's data with the
// telnet commands removed (and answered), Write sends data escaped for telnet.
// It satisfies term.Target. Read must be called from one goroutine at a time;
// Write and Resize may be called concurrently with Read and each other.
type Conn struct {
	conn net.Conn
	log  *slog.Logger
	term string

	p    parser  // used by Read only
	evs  []event // commands found by the last parse; used by Read only
	sbuf []byte  // copies of SB payloads of evs; used by Read only

	wmu  sync.Mutex // serializes writes to conn; guards us, him, cols, rows, wbuf
	us   [256]opt   // options on our side (we WILL)
	him  [256]opt   // options on the server's side (it WILL)
	cols int
	rows int
	wbuf []byte

	banner []byte
}

// opt is the state of one option on one side.
type opt struct {
	on    bool // in force
	asked bool // we asked for it and wait for the answer
}

// Options performed by us and by the server that the client accepts.
func weAccept(o byte) bool { return o == optBinary || o == optSGA || o == optNAWS || o == optTTYPE }

func theyMay(o byte) bool { return o == optBinary || o == optEcho || o == optSGA }

// Dial runs the telnet protocol on conn (already connected, e.g. by
// reach.Dialer.Dial) and, when o has a username or password, logs in at the
// device's prompts. The login's output (banner, MOTD, the final prompt; never
// the password) is kept for Banner, and Read returns what comes after it. With
// no username and password, Dial only starts the negotiation and returns.
// The login needs read deadlines on conn. On error conn is closed; a refused
// login returns an error matching ErrLoginFailed, a missing prompt one
// matching ErrLoginTimeout.
func Dial(ctx context.Context, conn net.Conn, o Options) (*Conn, error) {
	o = o.withDefaults()
	c := &Conn{conn: conn, log: o.Log.With("component", "telnet"), term: o.Term, cols: clamp16(o.Cols), rows: clamp16(o.Rows)}
	if err := c.start(); err != nil {
		conn.Close()
		return nil, err
	}
	if o.Username == "" && o.Password == "" {
		return c, nil
	}
	if err := c.login(ctx, o); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// start asks for what the client wants: 8-bit clean data both ways (BINARY,
// so UTF-8 and 0xFF reach the device; without it telnetd strips the 8th bit
// of input), the server's echo without go-aheads (character mode), and to
// send the window size.
func (c *Conn) start() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:0]
	for _, o := range []byte{optBinary, optNAWS} {
		c.us[o].asked = true
		b = appendCmd(b, cmdWILL, o)
	}
	for _, o := range []byte{optBinary, optSGA, optEcho} {
		c.him[o].asked = true
		b = appendCmd(b, cmdDO, o)
	}
	c.wbuf = b
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("telnet: start negotiation: %w", err)
	}
	return nil
}

// Banner returns what the device printed during the login, up to and
// including the prompt after it (at most the last 64 KiB). The password is
// never in it: the device does not echo it, and a device that does has it
// masked.
func (c *Conn) Banner() []byte { return c.banner }

// Read reads the server's data, answering telnet negotiation on the way.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := c.conn.Read(b)
		out := b[:0]
		if n > 0 {
			out = c.decode(b[:n])
		}
		if len(out) > 0 || err != nil {
			return len(out), err
		}
	}
}

// decode parses in (in place), answers the commands found, and returns the data.
func (c *Conn) decode(in []byte) []byte {
	c.evs, c.sbuf = c.evs[:0], c.sbuf[:0]
	out := c.p.parse(in, in[:0], func(ev event) {
		if ev.cmd == cmdSB {
			start := len(c.sbuf)
			c.sbuf = append(c.sbuf, ev.data...)
			ev.data = c.sbuf[start:len(c.sbuf):len(c.sbuf)]
		}
		c.evs = append(c.evs, ev)
	})
	if len(c.evs) == 0 {
		return out
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	reply := c.wbuf[:0]
	for _, ev := range c.evs {
		reply = c.negotiate(reply, ev)
	}
	c.wbuf = reply
	c.p.binary = c.him[optBinary].on
	if len(reply) > 0 {
		if _, err := c.conn.Write(reply); err != nil {
			c.log.Debug("telnet negotiation reply failed", "err", err)
		}
	}
	return out
}

// negotiate appends the answer to ev. The client performs BINARY, SGA, NAWS
// and TTYPE, lets the server perform BINARY, ECHO and SGA, and refuses every
// other option. An answer to our own request is not answered, nor is a
// request for a state already in force (RFC 854), so two peers cannot loop.
func (c *Conn) negotiate(reply []byte, ev event) []byte {
	switch ev.cmd {
	case cmdDO:
		st := &c.us[ev.opt]
		if !weAccept(ev.opt) {
			return appendCmd(reply, cmdWONT, ev.opt)
		}
		if !st.on {
			st.on = true
			if !st.asked {
				reply = appendCmd(reply, cmdWILL, ev.opt)
			}
		}
		st.asked = false
		if ev.opt == optNAWS {
			reply = appendSB(reply, optNAWS, nawsPayload(c.cols, c.rows)...)
		}
	case cmdDONT:
		st := &c.us[ev.opt]
		st.asked = false
		if st.on {
			st.on = false
			reply = appendCmd(reply, cmdWONT, ev.opt)
		}
	case cmdWILL:
		st := &c.him[ev.opt]
		if !theyMay(ev.opt) {
			return appendCmd(reply, cmdDONT, ev.opt)
		}
		if !st.on {
			st.on = true
			if !st.asked {
				reply = appendCmd(reply, cmdDO, ev.opt)
			}
		}
		st.asked = false
	case cmdWONT:
		st := &c.him[ev.opt]
		st.asked = false
		if st.on {
			st.on = false
			reply = appendCmd(reply, cmdDONT, ev.opt)
		}
	case cmdSB:
		if ev.opt == optTTYPE && c.us[optTTYPE].on && len(ev.data) > 0 && ev.data[0] == ttypeSEND {
			reply = appendSB(reply, optTTYPE, append([]byte{ttypeIS}, c.term...)...)
		}
	}
	return reply
}

// Write sends p as telnet data (0xFF doubled, a bare CR sent as CR NUL).
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendData(c.wbuf[:0], p, c.us[optBinary].on)
	if _, err := c.conn.Write(c.wbuf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Resize records the window size and sends it when the server accepted NAWS.
func (c *Conn) Resize(cols, rows int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cols, c.rows = clamp16(cols), clamp16(rows)
	if !c.us[optNAWS].on {
		return nil
	}
	c.wbuf = appendSB(c.wbuf[:0], optNAWS, nawsPayload(c.cols, c.rows)...)
	_, err := c.conn.Write(c.wbuf)
	return err
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// OptionState says which telnet options are in force.
type OptionState struct {
	SendBinary bool // we send 8-bit data (the server said DO BINARY)
	RecvBinary bool // the server sends 8-bit data (it said WILL BINARY)
	NAWS       bool // we send the window size
	TTYPE      bool // we send the terminal type
	Echo       bool // the server echoes
	SGA        bool // the server suppresses go-aheads
}

// Negotiated reports the options in force (for tests and diagnostics).
func (c *Conn) Negotiated() OptionState {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return OptionState{
		SendBinary: c.us[optBinary].on, RecvBinary: c.him[optBinary].on, NAWS: c.us[optNAWS].on,
		TTYPE: c.us[optTTYPE].on, Echo: c.him[optEcho].on, SGA: c.him[optSGA].on,
	}
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the deadlines of the underlying connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// login phases.
const (
	phaseUser     = "login"    // waiting for the username prompt
	phasePassword = "password" // username sent, waiting for the password prompt
	phaseResult   = "shell"    // password sent, waiting for the prompt or a refusal
)

// login types the username and password at the device's prompts.
func (c *Conn) login(ctx context.Context, o Options) error {
	start := time.Now()
	deadline := start.Add(o.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("telnet: the connection does not support read deadlines: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	phase := phaseUser
	if o.Username == "" {
		phase = phasePassword
	}
	var (
		seg      []byte // output since the last thing we typed
		sent     string // the last thing we typed (its echo is not "output")
		lastData time.Time
		pwMark   = -1 // where in banner the output after the password starts
		buf      = make([]byte, 4096)
	)
	send := func(s string, next string) error {
		seg, sent = seg[:0], s
		phase = next
		if _, err := c.Write([]byte(s + "\r")); err != nil {
			return fmt.Errorf("telnet: send %s: %w", next, err)
		}
		return nil
	}
	for {
		// Read, with a short deadline once output that matches nothing waits.
		rd := deadline
		quietArmed := phase != phaseUser && fresh(seg, sent, o.Password) && !lastData.IsZero()
		if quietArmed {
			if q := lastData.Add(o.Quiet); q.Before(rd) {
				rd = q
			}
		}
		if ctx.Err() == nil {
			c.conn.SetReadDeadline(rd)
		}
		n, err := c.Read(buf)
		if n > 0 {
			lastData = time.Now()
			c.banner = append(c.banner, buf[:n]...)
			if len(c.banner) > maxBanner {
				cut := len(c.banner) - maxBanner
				c.banner = append(c.banner[:0], c.banner[cut:]...)
				if pwMark >= 0 {
					pwMark = max(0, pwMark-cut)
				}
			}
			seg = append(seg, buf[:n]...)
			if len(seg) > maxSegment {
				seg = append(seg[:0], seg[len(seg)-maxSegment:]...)
			}
			if done, err := c.step(o, phase, seg, sent, send, &pwMark); done || err != nil {
				return err
			}
		}
		if err != nil {
			var ne net.Error
			switch {
			case ctx.Err() != nil:
				return fmt.Errorf("telnet: login: %w", ctx.Err())
			case errors.As(err, &ne) && ne.Timeout() && quietArmed && time.Now().Before(deadline):
				// Quiet after output that matched nothing: the device's prompt.
				return c.loggedIn(o, pwMark)
			case errors.As(err, &ne) && ne.Timeout():
				last := seg
				if phase == phaseResult {
					last = redact(seg, o.Password) // in case the device echoed it
				}
				return fmt.Errorf("%w after %s waiting for the %s prompt (last output: %q)",
					ErrLoginTimeout, time.Since(start).Round(time.Millisecond), phase, tail(last, 80))
			case errors.Is(err, io.EOF) && phase == phasePassword:
				return fmt.Errorf("%w: the device closed the connection after the username", ErrLoginFailed)
			case errors.Is(err, io.EOF) && phase == phaseResult:
				return fmt.Errorf("%w: the device closed the connection after the password", ErrLoginFailed)
			default:
				return fmt.Errorf("telnet: connection lost during login (%s prompt): %w", phase, err)
			}
		}
	}
}

// step matches the output since the last thing typed against the prompts of
// the phase, typing the next answer when one matches. done reports the end of
// the login (err nil: logged in).
func (c *Conn) step(o Options, phase string, seg []byte, sent string, send func(s, next string) error, pwMark *int) (done bool, err error) {
	fail := func(reason string) (bool, error) {
		return true, fmt.Errorf("%w: %s", ErrLoginFailed, reason)
	}
	text := matchText(seg)
	switch phase {
	case phaseUser:
		switch {
		case o.LoginPrompt.MatchString(text):
			c.log.Debug("telnet login prompt seen; sending the username")
			return false, send(o.Username, phasePassword)
		case o.PasswordPrompt.MatchString(text) && o.Password != "":
			c.log.Debug("telnet password prompt seen first; sending the password")
			*pwMark = len(c.banner)
			return false, send(o.Password, phaseResult)
		}
	case phasePassword:
		switch {
		case o.FailurePattern.MatchString(text):
			return fail(fmt.Sprintf("the device said %q after the username", o.FailurePattern.FindString(text)))
		case o.PasswordPrompt.MatchString(text):
			c.log.Debug("telnet password prompt seen; sending the password")
			*pwMark = len(c.banner)
			return false, send(o.Password, phaseResult)
		case o.LoginPrompt.MatchString(afterEcho(text, sent)):
			return fail("the device asked for the username again")
		case o.Prompt.MatchString(text) && fresh(seg, sent, o.Password):
			return true, c.loggedIn(o, *pwMark) // no password asked
		}
	case phaseResult:
		switch {
		case o.FailurePattern.MatchString(text):
			return fail(fmt.Sprintf("the device said %q", o.FailurePattern.FindString(text)))
		case o.LoginPrompt.MatchString(text):
			return fail("the device asked for the username again")
		case o.PasswordPrompt.MatchString(text):
			return fail("the device asked for the password again")
		case o.Prompt.MatchString(text) && fresh(seg, sent, o.Password):
			return true, c.loggedIn(o, *pwMark)
		}
	}
	return false, nil
}

// loggedIn ends the login: clears the deadline and masks a password echo.
func (c *Conn) loggedIn(o Options, pwMark int) error {
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("telnet: clear read deadline: %w", err)
	}
	if pwMark >= 0 && o.Password != "" {
		c.banner = append(c.banner[:pwMark:pwMark], redact(c.banner[pwMark:], o.Password)...)
	}
	c.log.Debug("telnet login done", "banner_bytes", len(c.banner))
	return nil
}

// ansiSeq matches terminal escape sequences (CSI and OSC), removed before matching.
var ansiSeq = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]`)

// matchText is seg as the prompt patterns see it: no escape sequences, no NULs.
func matchText(seg []byte) string {
	s := ansiSeq.ReplaceAllString(string(seg), "")
	return strings.ReplaceAll(s, "\x00", "")
}

// afterEcho drops the echo of what we typed from the start of text.
func afterEcho(text, sent string) string {
	t := strings.TrimLeft(text, " \t\r\n")
	if sent != "" {
		t = strings.TrimPrefix(t, sent)
	}
	return t
}

// fresh reports whether seg holds output other than white space and the echo
// of what we typed.
func fresh(seg []byte, sent, password string) bool {
	t := afterEcho(matchText(seg), sent)
	if password != "" {
		t = strings.ReplaceAll(t, password, "")
	}
	return strings.TrimSpace(t) != ""
}

// redact masks every occurrence of secret in b.
func redact(b []byte, secret string) []byte {
	if secret == "" {
		return b
	}
	return bytes.ReplaceAll(b, []byte(secret), []byte("********"))
}

func tail(b []byte, n int) string {
	s := matchText(b)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
