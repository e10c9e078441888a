package sshgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// Session kinds (store.Session.Kind).
const (
	kindShell = "shell"
	kindExec  = "exec"
	kindSFTP  = "sftp"
	kindSCP   = "scp"
)

// exitWait bounds the wait for the target's exit status after the relay ended.
const exitWait = 2 * time.Second

// fail tells the user why their session cannot go on, on the terminal (with
// a pty) or on stderr.
func (sc *sessionChan) fail(err error) {
	if errors.Is(err, errCanceled) {
		return
	}
	var ue *userError
	if !errors.As(err, &ue) {
		sc.c.srv.log.ErrorContext(sc.c.ctx, "session failed", "user", sc.c.user.Username, "target", sc.c.target.String(), "err", err)
	}
	sc.say(message(sc.lang(), err))
}

// say writes a line to the user (stderr without a pty).
func (sc *sessionChan) say(line string) {
	w := io.Writer(sc.ch.Stderr())
	if sc.pty != nil {
		w = sc.ch
	}
	fmt.Fprintf(w, "%s\r\n", line)
}

// directShell serves "ssh user@asset@bastion": an interactive session on the
// named asset, by SSH when it speaks SSH (or the protocol a web terminal's
// token named), else by telnet or its database client.
func (sc *sessionChan) directShell(ctx context.Context) int {
	c := sc.c
	if sc.pty == nil {
		sc.fail(userErr(errors.New("sshgw: shell without a pty"), mNeedTTY))
		return 1
	}
	c.mu.Lock()
	cached := c.up != nil
	c.mu.Unlock()
	var picked *pick
	if !cached {
		protocols := interactiveProtocols
		if c.protocol != "" {
			protocols = []string{c.protocol}
		}
		p, err := c.resolve(ctx, c.target.Asset, c.target.Account, protocols, sc.chooseAccount)
		if err != nil {
			sc.fail(err)
			return 1
		}
		if p.protocol != protoSSH {
			var o outcome
			if p.protocol == protoTelnet {
				o = sc.telnet(ctx, p)
			} else {
				o = sc.database(ctx, p)
			}
			if !o.started {
				return 1
			}
			return 0
		}
		picked = p
	}
	up, err := c.direct(ctx, picked, sc.lang(), sc.ask, sc.chooseAccount)
	if err != nil {
		sc.fail(err)
		return 1
	}
	code, _ := sc.interactive(ctx, up)
	return code
}

// security returns the session policy (idle timeout, maximum duration).
func (c *conn) security(ctx context.Context) settings.Security {
	sec, err := c.srv.deps.Settings.Security(ctx)
	if err != nil {
		c.srv.log.WarnContext(ctx, "read security settings; using defaults", "err", err)
		return settings.DefaultSecurity()
	}
	return sec
}

// scope is what the command filters are matched against.
func (c *conn) scope(ctx context.Context, up *upstream) cmdfilter.Scope {
	var groups []uint
	if err := c.srv.deps.DB.WithContext(ctx).Model(&store.UserGroupMember{}).Where("user_id = ?", c.user.ID).
		Pluck("user_group_id", &groups).Error; err != nil {
		c.srv.log.WarnContext(ctx, "load user groups for the command filters", "err", err)
	}
	return cmdfilter.Scope{OrgID: c.user.OrgID, UserID: c.user.ID, UserGroupIDs: groups, AssetID: up.pick.asset.ID, Account: up.account}
}

// startSession registers a live session and opens its recording.
func (sc *sessionChan) startSession(ctx context.Context, up *upstream, kind string, size term.Size) (*session.Live, *record.CastWriter, error) {
	c := sc.c
	id := session.NewID()
	now := c.srv.clock()
	path, err := c.srv.recordingPath(id, now)
	if err != nil {
		return nil, nil, userErr(err, mRecordingFailed)
	}
	rec, err := record.CreateCast(path, record.Header{
		Width: size.Cols, Height: size.Rows, Timestamp: now.Unix(),
		Title: fmt.Sprintf("%s@%s (%s)", up.account, up.pick.asset.Name, kind),
		Env:   map[string]string{"TERM": sc.termName(), "SHELL": ""},
	}, record.CastOptions{Clock: c.srv.clock, Log: c.srv.deps.Log})
	if err != nil {
		return nil, nil, userErr(err, mRecordingFailed)
	}
	live, err := c.srv.deps.Sessions.Start(ctx, session.Meta{
		ID: id, OrgID: c.user.OrgID, UserID: c.user.ID, Username: c.user.Username,
		AssetID: up.pick.asset.ID, AssetName: up.pick.asset.Name, AccountName: up.account,
		Protocol: up.pick.protocol, Kind: kind, Via: c.via, SourceIP: c.remote,
		Width: size.Cols, Height: size.Rows, Recording: path,
	})
	if err != nil {
		rec.Close()
		return nil, nil, err
	}
	return live, rec, nil
}

// interactive runs an interactive shell on an SSH target through term.Run
// and returns the target's exit status, and whether the session was killed.
func (sc *sessionChan) interactive(ctx context.Context, up *upstream) (code int, killed bool) {
	size := sc.getSize()
	target, live, rec, ok := sc.startShell(ctx, up, size)
	if !ok {
		return 1, false
	}
	res, killed := sc.relay(ctx, up, target, live, rec, size)
	// Wait for the exit status only now: a goroutine per idle session waiting
	// for it all along would cost memory for nothing.
	exitc := make(chan error, 1)
	go func() { exitc <- target.sess.Wait() }()
	select {
	case err := <-exitc:
		code = exitCode(err)
	case <-time.After(exitWait):
		code = 0
		if res.EndReason != term.EndTargetClosed {
			code = 255
		}
	}
	return code, killed
}

// startShell opens the shell session on the target (agent forwarding if
// asked and allowed, the pty), registers the live session and opens its
// recording; ok is false when the user was told why it could not. It is a
// function of its own, like relayConfig, to keep its frame off the stack that
// waits in term.Run.
func (sc *sessionChan) startShell(ctx context.Context, up *upstream, size term.Size) (*sshTarget, *session.Live, *record.CastWriter, bool) {
	c := sc.c
	sess, err := up.client.NewSession()
	if err != nil {
		sc.fail(c.dialError(ctx, &up.pick, up.login, err))
		return nil, nil, nil, false
	}
	if sc.agent {
		if c.allowed(ctx, &up.pick, store.ActionAgent) {
			c.forwardAgent(up, sess)
		} else {
			sc.say(tr(sc.lang(), mAgentDenied, up.pick.asset.Name))
		}
	}
	if err := sess.RequestPty(sc.termName(), size.Rows, size.Cols, parseModes(sc.pty.Modes)); err != nil {
		sess.Close()
		sc.fail(err)
		return nil, nil, nil, false
	}
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	// With a pty the shell's stderr arrives on stdout; the stderr stream is
	// drained with a small buffer (x/crypto's own copy would hold 32 KiB per
	// idle session).
	stderr, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		sess.Close()
		sc.fail(err)
		return nil, nil, nil, false
	}
	live, rec, err := sc.startSession(ctx, up, kindShell, size)
	if err != nil {
		sess.Close()
		sc.fail(err)
		return nil, nil, nil, false
	}
	go drainStderr(stderr, castWriter{rec, sc.ch})
	if err := sess.Shell(); err != nil {
		sess.Close()
		rec.Close()
		live.End(ctx, term.EndTargetError)
		sc.fail(c.dialError(ctx, &up.pick, up.login, err))
		return nil, nil, nil, false
	}
	return &sshTarget{sess: sess, stdin: stdin, stdout: stdout}, live, rec, true
}

// relay runs term.Run between the user's terminal and target, with the
// organization's command filters, the session policy and the recording; it
// reports whether the session was killed.
func (sc *sessionChan) relay(ctx context.Context, up *upstream, target term.Target, live *session.Live, rec *record.CastWriter, size term.Size) (term.Result, bool) {
	c := sc.c
	done := make(chan struct{})
	cfg, err := sc.relayConfig(ctx, up, target, live, rec, size, done)
	if err != nil {
		// Fail closed: no session whose commands cannot be checked.
		target.Close()
		rec.Close()
		live.End(ctx, term.EndInvalid)
		sc.fail(err)
		return term.Result{EndReason: term.EndInvalid}, false
	}
	res, err := term.Run(ctx, *cfg)
	close(done)
	if err != nil {
		c.srv.log.WarnContext(ctx, "session relay", "session", live.Meta().ID, "err", err)
	}
	select {
	case <-live.Killed():
		if c.events != nil {
			c.events(term.Event{Kind: term.EventKilled, Message: live.KillReason()})
		}
		return res, true
	default:
		return res, false
	}
}

// relayConfig builds the session's term.Config. It is a function of its own
// so that what it takes (the settings, the literal) is not on the stack of the
// goroutine that then waits in term.Run for the whole session: with a frame
// that much smaller, that stack is small enough for the garbage collector to
// halve it, 8 KiB less per idle session.
func (sc *sessionChan) relayConfig(ctx context.Context, up *upstream, target term.Target, live *session.Live, rec *record.CastWriter, size term.Size, done <-chan struct{}) (*term.Config, error) {
	c := sc.c
	filter, err := cmdfilter.Load(ctx, c.srv.deps.DB, c.user.OrgID)
	if err != nil {
		return nil, fmt.Errorf("sshgw: load command filters: %w", err)
	}
	sec := c.security(ctx)
	return &term.Config{
		Live: live, User: userTerm{Reader: sc.input().reader(done), w: sc.ch},
		Resizes: sc.resizes, Size: size, Target: target, Statements: up.statements, ClearLine: up.clearLine,
		Recorder: rec, Filter: filter, Scope: c.scope(ctx, up), Approvals: c.srv.deps.Sessions,
		ConfirmTimeout: c.srv.cfg.ConfirmTimeout,
		IdleTimeout:    time.Duration(sec.SessionIdleMinutes) * time.Minute,
		MaxDuration:    time.Duration(sec.SessionMaxHours) * time.Hour,
		Notify:         c.notify(up),
		Events:         c.events,
		Lang:           sc.lang(), Log: c.srv.deps.Log, Clock: c.srv.clock,
	}, nil
}

// notify audits the commands a filter refused or flagged.
func (c *conn) notify(up *upstream) func(store.Command, cmdfilter.Verdict) {
	return func(cmd store.Command, v cmdfilter.Verdict) {
		success := cmd.Verdict != term.VerdictDenied && cmd.Verdict != term.VerdictRejected && cmd.Verdict != term.VerdictExpired
		c.srv.oplog(context.Background(), c.user, c.remote, "command."+cmd.Verdict, "asset", up.pick.asset.Name, success,
			fmt.Sprintf("session %s, account %s, filter %q (%s): %s", cmd.SessionID, up.account, v.FilterName, v.Action, cut(cmd.Input, 512)))
	}
}

// exitCode maps the end of a target session to an exit status.
func exitCode(err error) int {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitStatus()
	}
	return 255
}

// sshTarget is an SSH session on a target as a term.Target.
type sshTarget struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
}

func (t *sshTarget) Read(p []byte) (int, error)  { return t.stdout.Read(p) }
func (t *sshTarget) Write(p []byte) (int, error) { return t.stdin.Write(p) }
func (t *sshTarget) Resize(cols, rows int) error { return t.sess.WindowChange(rows, cols) }
func (t *sshTarget) Close() error                { return t.sess.Close() }

// drainStderr copies a target session's stderr to w through a small buffer
// until the stream ends.
func drainStderr(r io.Reader, w io.Writer) {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// castWriter copies what it is given to the recording and to w.
type castWriter struct {
	rec *record.CastWriter
	w   io.Writer
}

func (cw castWriter) Write(p []byte) (int, error) {
	cw.rec.Output(p)
	return cw.w.Write(p)
}

// forwardAgent relays the target's agent channels to the user's agent: the
// target session is asked to forward, and each auth-agent@openssh.com
// channel the target opens is joined to one opened on the user's connection.
func (c *conn) forwardAgent(up *upstream, sess *ssh.Session) {
	up.agentOnce.Do(func() {
		chans := up.client.HandleChannelOpen("auth-agent@openssh.com")
		if chans == nil {
			return
		}
		go func() {
			for nc := range chans {
				uch, ureqs, err := c.sconn.OpenChannel("auth-agent@openssh.com", nil)
				if err != nil {
					nc.Reject(ssh.ConnectionFailed, "agent unavailable")
					continue
				}
				go ssh.DiscardRequests(ureqs)
				tch, treqs, err := nc.Accept()
				if err != nil {
					uch.Close()
					continue
				}
				go ssh.DiscardRequests(treqs)
				go pipe(uch, tch, nil, nil)
			}
		}()
		c.srv.oplog(c.ctx, c.user, c.remote, "ssh.agent_forward", "asset", up.pick.asset.Name, true, "agent forwarding with account "+up.account)
	})
	if err := agent.RequestAgentForwarding(sess); err != nil {
		c.srv.log.WarnContext(c.ctx, "request agent forwarding", "err", err)
	}
}
