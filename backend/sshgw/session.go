package sshgw

import (
	"context"
	"encoding/binary"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/term"
)

// Limits on what a session channel may send before it starts.
const (
	maxEnvVars   = 32
	maxEnvValue  = 256
	maxTermName  = 64
	inputBufSize = 1 << 10
)

// sessionChan is one "session" channel: its pty, environment and window
// size, and the input pump shared by the picker, prompts and the relay.
type sessionChan struct {
	c  *conn
	ch ssh.Channel

	// Written by the request loop before start, read after.
	env   map[string]string
	pty   *ptyRequest
	agent bool // auth-agent-req@openssh.com received

	resizes chan term.Size // latest window size, coalesced

	mu      sync.Mutex // guards size, signals
	size    term.Size
	signals chan ssh.Signal // set while an exec runs

	inOnce sync.Once
	in     *input
	closed chan struct{} // closed when the channel is closed: stops the input pump
}

// ptyRequest is the payload of "pty-req" (RFC 4254 6.2).
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

type envRequest struct{ Name, Value string }

type stringPayload struct{ Value string }

type exitStatus struct{ Status uint32 }

// handleSession serves a "session" channel: it collects pty, env and
// agent requests, then starts the shell (direct target or picker), the exec
// or the subsystem asked for; window changes and signals are handled for the
// channel's whole life.
func (c *conn) handleSession(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	sc := &sessionChan{c: c, ch: ch, env: map[string]string{}, resizes: make(chan term.Size, 1),
		size: term.Size{Cols: term.DefaultCols, Rows: term.DefaultRows}, closed: make(chan struct{})}
	started := false
	done := make(chan struct{})
	defer func() {
		if started {
			<-done
		}
		ch.Close()
		close(sc.closed)
	}()
	for {
		var r *ssh.Request
		var ok bool
		select {
		case r, ok = <-reqs:
		case <-done:
			// The session ended: stop answering and close.
			go ssh.DiscardRequests(reqs)
			return
		}
		if !ok {
			if started {
				ch.Close() // makes the running handler see EOF
			}
			return
		}
		switch r.Type {
		case "env":
			var e envRequest
			ok := ssh.Unmarshal(r.Payload, &e) == nil && !started && len(sc.env) < maxEnvVars && acceptedEnv(e.Name) && len(e.Value) <= maxEnvValue
			if ok {
				sc.env[e.Name] = cleanText(e.Value)
			}
			reply(r, ok)
		case "pty-req":
			var p ptyRequest
			ok := ssh.Unmarshal(r.Payload, &p) == nil && !started && sc.pty == nil
			if ok {
				p.Term = cut(cleanText(p.Term), maxTermName)
				if p.Term == "" {
					p.Term = "xterm"
				}
				sc.pty = &p
				sc.setSize(int(p.Cols), int(p.Rows))
			}
			reply(r, ok)
		case "window-change":
			var w windowChange
			if ssh.Unmarshal(r.Payload, &w) == nil {
				sc.setSize(int(w.Cols), int(w.Rows))
			}
			reply(r, true)
		case "auth-agent-req@openssh.com":
			if !started {
				sc.agent = true
			}
			reply(r, !started)
		case "x11-req":
			c.deny(c.ctx, "ssh.x11_denied", c.target.Asset, "X11 forwarding is not supported by the gateway")
			reply(r, false)
		case "signal":
			var s stringPayload
			if ssh.Unmarshal(r.Payload, &s) == nil {
				sc.signal(ssh.Signal(s.Value))
			}
			reply(r, true)
		case "shell", "exec", "subsystem":
			if started {
				reply(r, false)
				continue
			}
			var arg string
			if r.Type != "shell" {
				var s stringPayload
				if ssh.Unmarshal(r.Payload, &s) != nil {
					reply(r, false)
					continue
				}
				arg = s.Value
			}
			if r.Type == "subsystem" && arg != "sftp" {
				c.deny(c.ctx, "ssh.subsystem_denied", c.target.Asset, "unsupported subsystem "+cut(cleanText(arg), 64))
				reply(r, false)
				continue
			}
			started = true
			reply(r, true)
			kind := r.Type
			c.srv.goSafe(c, func() {
				defer close(done)
				if code := sc.run(c.ctx, kind, arg); code != noExitStatus {
					sc.exit(code)
				}
			})
		default:
			reply(r, false)
		}
	}
}

func reply(r *ssh.Request, ok bool) {
	if r.WantReply {
		r.Reply(ok, nil)
	}
}

// acceptedEnv says which variables a client may set: only the locale, which
// chooses the language of the gateway's messages.
func acceptedEnv(name string) bool {
	return name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_")
}

// lang picks the language of the gateway's messages from the locale the
// client sent ("zh_CN.UTF-8" -> "zh-CN"), English otherwise.
func (sc *sessionChan) lang() string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG"} {
		if v := sc.env[k]; v != "" {
			if strings.HasPrefix(strings.ToLower(v), "zh") {
				return "zh-CN"
			}
			return "en"
		}
	}
	return "en"
}

// setSize records a new window size, clamped; sizes with a zero dimension
// are ignored.
func (sc *sessionChan) setSize(cols, rows int) {
	s, ok := term.Size{Cols: cols, Rows: rows}.Clamp()
	if !ok {
		return
	}
	sc.mu.Lock()
	sc.size = s
	sc.mu.Unlock()
	for {
		select {
		case sc.resizes <- s:
			return
		default:
		}
		select {
		case <-sc.resizes: // drop the stale size
		default:
		}
	}
}

func (sc *sessionChan) getSize() term.Size {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.size
}

func (sc *sessionChan) signal(s ssh.Signal) {
	sc.mu.Lock()
	ch := sc.signals
	sc.mu.Unlock()
	if ch != nil {
		select {
		case ch <- s:
		default:
		}
	}
}

// exit sends the exit status; the channel is closed by handleSession.
func (sc *sessionChan) exit(code int) {
	sc.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(code)}))
	sc.ch.CloseWrite()
}

// termName is the client's TERM, or xterm.
func (sc *sessionChan) termName() string {
	if sc.pty != nil {
		return sc.pty.Term
	}
	return "xterm"
}

// input returns the session's input pump, starting it on first use.
func (sc *sessionChan) input() *input {
	sc.inOnce.Do(func() { sc.in = newInput(sc.ch, sc.closed) })
	return sc.in
}

// input reads the user's channel on one goroutine and hands the chunks to
// whoever reads next (the picker, a prompt, the relay), so that no keystroke
// is lost when one of them hands over to the next.
type input struct {
	chunks chan []byte // closed at EOF

	mu      sync.Mutex // guards pending
	pending []byte
}

func newInput(r io.Reader, stop <-chan struct{}) *input {
	in := &input{chunks: make(chan []byte)}
	go func() {
		defer close(in.chunks)
		buf := make([]byte, inputBufSize)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case in.chunks <- append([]byte(nil), buf[:n]...):
				case <-stop: // nobody will read it: the session is over
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return in
}

// next returns the next chunk of input: pending bytes first. ok is false at
// EOF or when done is closed.
func (in *input) next(done <-chan struct{}) ([]byte, bool) {
	in.mu.Lock()
	if len(in.pending) > 0 {
		p := in.pending
		in.pending = nil
		in.mu.Unlock()
		return p, true
	}
	in.mu.Unlock()
	select {
	case p, ok := <-in.chunks:
		return p, ok
	case <-done:
		return nil, false
	}
}

// takePending returns the bytes put back by unread, if any.
func (in *input) takePending() []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	p := in.pending
	in.pending = nil
	return p
}

// unread puts p back in front of the input.
func (in *input) unread(p []byte) {
	if len(p) == 0 {
		return
	}
	in.mu.Lock()
	in.pending = append(append([]byte(nil), p...), in.pending...)
	in.mu.Unlock()
}

// reader returns an io.Reader of the input that reports io.EOF once done is
// closed, so that a relay's reader goroutine lets go of the input when its
// session ends.
func (in *input) reader(done <-chan struct{}) io.Reader { return &inputReader{in: in, done: done} }

type inputReader struct {
	in   *input
	done <-chan struct{}
}

func (r *inputReader) Read(p []byte) (int, error) {
	b, ok := r.in.next(r.done)
	if !ok {
		return 0, io.EOF
	}
	n := copy(p, b)
	r.in.unread(b[n:])
	return n, nil
}

// userTerm is the user's terminal as the relay sees it: input from the pump
// (until done), output to the channel.
type userTerm struct {
	io.Reader
	w io.Writer
}

func (u userTerm) Write(p []byte) (int, error) { return u.w.Write(p) }

// parseModes decodes the encoded terminal modes of a pty-req (RFC 4254 8),
// so that the target's pty behaves like the user's.
func parseModes(s string) ssh.TerminalModes {
	modes := ssh.TerminalModes{}
	b := []byte(s)
	for len(b) >= 1 {
		op := b[0]
		if op == 0 || op >= 160 { // TTY_OP_END, or opcodes with undefined arguments
			break
		}
		if len(b) < 5 {
			break
		}
		modes[op] = binary.BigEndian.Uint32(b[1:5])
		b = b[5:]
	}
	return modes
}

// run serves the started session and returns its exit status.
func (sc *sessionChan) run(ctx context.Context, kind, arg string) int {
	switch kind {
	case "shell":
		if sc.c.target.Direct() {
			return sc.directShell(ctx)
		}
		return sc.picker(ctx)
	case "exec":
		return sc.exec(ctx, arg)
	case "subsystem":
		return sc.sftp(ctx)
	}
	return 1
}
