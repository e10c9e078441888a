package sshgw

import (
	"context"
	"io"
	"runtime/debug"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// Terminal is a web terminal session: a user the web API authenticated, the
// asset and account a one-time connection token named, and the browser's
// terminal at the other end of IO.
type Terminal struct {
	User    *store.User
	Remote  string // the user's IP address
	Lang    string // "en" or "zh-CN": the language of the gateway's messages
	Asset   string // asset name
	Account string // account name, "@INPUT" or "@USER"; empty: the only one, or ask
	// Protocol is the protocol the connection token named (ssh, telnet or a
	// database's); empty: the first the user may use, SSH first.
	Protocol string
	Cols     int
	Rows     int
	// IO carries the terminal's bytes both ways. Read returning an error ends
	// the user's side; Close is called when the session ends (or the server
	// shuts down).
	IO io.ReadWriteCloser
	// Resizes carries new window sizes; it may stay open after the session.
	Resizes <-chan term.Size
	// Events, when set, is told when a command is denied, waits for approval,
	// and so on (see term.Event); it must not block.
	Events func(term.Event)
}

// ServeTerminal runs t exactly as a shell of "ssh user@account@asset@bastion":
// the same permission checks, account choice and @INPUT prompts (in the
// terminal), target host-key trust, zones, recording, command filters and
// approvals, live registry and idle timeout. It returns the target's exit
// status (255 when the session could not start).
func (s *Server) ServeTerminal(ctx context.Context, t Terminal) (code int) {
	code = 255
	ch := &webChannel{rwc: t.IO}
	c := newConn(s, t.IO, t.Remote)
	c.user, c.via, c.events, c.protocol = t.User, ViaWeb, t.Events, t.Protocol
	c.target = Target{User: t.User.Username, Asset: t.Asset, Account: t.Account}
	s.wg.Add(1)
	defer s.wg.Done()
	if !s.track(c, true) {
		t.IO.Close()
		return code
	}
	defer s.track(c, false)
	ctx, cancel := context.WithCancel(ctx)
	c.ctx = ctx
	lang := "en"
	if t.Lang == "zh-CN" {
		lang = "zh_CN.UTF-8"
	}
	sc := &sessionChan{c: c, ch: ch, env: map[string]string{"LANG": lang}, resizes: make(chan term.Size, 1),
		size: term.Size{Cols: term.DefaultCols, Rows: term.DefaultRows}, closed: make(chan struct{}),
		pty: &ptyRequest{Term: "xterm-256color"}}
	sc.setSize(t.Cols, t.Rows)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case sz, ok := <-t.Resizes:
				if !ok {
					return
				}
				sc.setSize(sz.Cols, sz.Rows)
			case <-ctx.Done():
				return
			}
		}
	})
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in web terminal", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
		}
		cancel()
		close(sc.closed)
		t.IO.Close()
		wg.Wait()
		c.wg.Wait()
		c.closeUpstream()
	}()
	s.log.InfoContext(ctx, "web terminal", "user", t.User.Username, "remote", t.Remote, "target", c.target.String())
	code = sc.run(ctx, "shell", "")
	return code
}

// webChannel is the user's side of a web terminal in the shape of the SSH
// channel the session code writes to: stdout and stderr go to the same
// terminal, and requests (exit-status) are the caller's business.
type webChannel struct {
	rwc io.ReadWriteCloser
}

func (w *webChannel) Read(p []byte) (int, error)  { return w.rwc.Read(p) }
func (w *webChannel) Write(p []byte) (int, error) { return w.rwc.Write(p) }
func (w *webChannel) Close() error                { return w.rwc.Close() }
func (w *webChannel) CloseWrite() error           { return nil }
func (w *webChannel) SendRequest(string, bool, []byte) (bool, error) {
	return false, nil
}
func (w *webChannel) Stderr() io.ReadWriter { return webStderr{w} }

type webStderr struct{ w *webChannel }

func (e webStderr) Read([]byte) (int, error)    { return 0, io.EOF }
func (e webStderr) Write(p []byte) (int, error) { return e.w.Write(p) }

var _ ssh.Channel = (*webChannel)(nil)
