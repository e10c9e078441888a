package sshgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/sshgw/sftpproxy"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// Exit status of a command the gateway refused.
const exitRefused = 1

// noExitStatus tells sessionChan.run's caller that the exit status was sent
// already (scp sends its own).
const noExitStatus = -1

// End reasons of exec sessions.
const (
	endCommandDenied = "command denied"
	endExited        = "exit status %d"
)

// execTarget returns the direct target for an exec, sftp or scp session;
// prompts (an @INPUT account, a choice of account) need a pty.
func (sc *sessionChan) execTarget(ctx context.Context) (*upstream, error) {
	if !sc.c.target.Direct() {
		sc.c.deny(ctx, "ssh.exec_denied", "", "exec or subsystem without a target asset")
		return nil, userErr(errors.New("sshgw: no target"), mNeedTarget)
	}
	var ask prompter
	var choose func([]permGrant) (permGrant, error)
	if sc.pty != nil {
		ask, choose = sc.ask, sc.chooseAccount
	}
	return sc.c.direct(ctx, nil, sc.lang(), ask, choose)
}

// exec runs "ssh user@asset@bastion COMMAND": the command is checked by the
// command filters exactly like an interactive one (deny: refused with the
// reason on stderr and exit status 1; confirm: held until an approver
// decides; warn and allow: run), logged as a command of an exec session, and
// its output recorded. scp and sftp-server commands go to sftpproxy.
func (sc *sessionChan) exec(ctx context.Context, command string) int {
	c := sc.c
	lang := sc.lang()
	up, err := sc.execTarget(ctx)
	if err != nil {
		sc.fail(err)
		return exitRefused
	}
	switch {
	case sftpproxy.IsSCPCommand(command):
		return sc.scp(ctx, up, command)
	case sftpproxy.IsSFTPServerCommand(command):
		return sc.serveSFTP(ctx, up)
	}
	filter, err := cmdfilter.Load(ctx, c.srv.deps.DB, c.user.OrgID)
	if err != nil {
		sc.fail(fmt.Errorf("sshgw: load command filters: %w", err))
		return exitRefused
	}
	v := term.CheckExec(filter, c.scope(ctx, up), command)
	size := sc.getSize()
	live, rec, err := sc.startSession(ctx, up, kindExec, size)
	if err != nil {
		sc.fail(err)
		return exitRefused
	}
	rec.Marker(cut(command, 1024))
	logCmd := func(verdict string) {
		cmd := store.Command{Input: cut(command, 16<<10), Risk: v.Risk, Verdict: verdict}
		if err := live.AddCommand(cmd); err != nil {
			c.srv.log.ErrorContext(ctx, "log command", "session", live.Meta().ID, "err", err)
		}
		if verdict != term.VerdictAllowed {
			cmd.SessionID = live.Meta().ID
			c.notify(up)(cmd, v)
		}
	}
	refuse := func(verdict, msg string) int {
		logCmd(verdict)
		fmt.Fprintf(sc.ch.Stderr(), "%s\r\n", msg)
		rec.Close()
		live.End(ctx, endCommandDenied)
		return exitRefused
	}
	verdict := term.VerdictAllowed
	switch v.Action {
	case store.FilterDeny:
		return refuse(term.VerdictDenied, tr(lang, mCommandDenied, v.FilterName, cleanText(command)))
	case store.FilterWarn:
		verdict = term.VerdictWarned
	case store.FilterConfirm:
		fmt.Fprintf(sc.ch.Stderr(), "%s\r\n", tr(lang, mWaitApproval, cut(cleanText(command), 200)))
		approved, by, err := c.srv.deps.Sessions.RequestApproval(ctx, live, command, v, c.srv.cfg.ConfirmTimeout)
		switch {
		case approved:
			verdict = term.VerdictApproved
		case err == nil:
			return refuse(term.VerdictRejected, tr(lang, mApprovalRejected, cleanText(by)))
		case errors.Is(err, session.ErrApprovalExpired):
			return refuse(term.VerdictExpired, tr(lang, mApprovalExpired))
		default:
			c.srv.log.WarnContext(ctx, "approval", "session", live.Meta().ID, "err", err)
			return refuse(term.VerdictExpired, tr(lang, mApprovalExpired))
		}
	}
	logCmd(verdict)
	code := sc.runExec(ctx, up, live, rec, command)
	rec.Close()
	reason := fmt.Sprintf(endExited, code)
	select {
	case <-live.Killed():
		reason = ""
	default:
	}
	live.End(ctx, reason)
	return code
}

// runExec runs command on the target, relaying stdin, stdout, stderr,
// signals and window changes, and returns its exit status.
func (sc *sessionChan) runExec(ctx context.Context, up *upstream, live *session.Live, rec *record.CastWriter, command string) int {
	sess, err := up.client.NewSession()
	if err != nil {
		sc.fail(sc.c.dialError(ctx, &up.pick, up.login, err))
		return exitRefused
	}
	defer sess.Close()
	if sc.agent {
		if sc.c.allowed(ctx, &up.pick, store.ActionAgent) {
			sc.c.forwardAgent(up, sess)
		} else {
			fmt.Fprintf(sc.ch.Stderr(), "%s\r\n", tr(sc.lang(), mAgentDenied, up.pick.asset.Name))
		}
	}
	if sc.pty != nil {
		size := sc.getSize()
		if err := sess.RequestPty(sc.termName(), size.Rows, size.Cols, parseModes(sc.pty.Modes)); err != nil {
			sc.fail(err)
			return exitRefused
		}
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sc.fail(err)
		return exitRefused
	}
	var in, out atomic.Int64
	sess.Stdout = liveWriter{rec: rec, live: live, w: sc.ch, n: &out}
	sess.Stderr = liveWriter{rec: rec, live: live, w: sc.ch.Stderr(), n: &out}
	signals := make(chan ssh.Signal, 4)
	sc.mu.Lock()
	sc.signals = signals
	sc.mu.Unlock()
	if err := sess.Start(command); err != nil {
		sc.fail(sc.c.dialError(ctx, &up.pick, up.login, err))
		return exitRefused
	}
	go func() {
		io.Copy(countWriter{stdin, &in}, sc.ch)
		stdin.Close()
	}()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-signals:
				sess.Signal(s)
			case sz := <-sc.resizes:
				sess.WindowChange(sz.Rows, sz.Cols)
				live.Resize(sz.Cols, sz.Rows)
				rec.Resize(sz.Cols, sz.Rows)
			case <-live.Killed():
				fmt.Fprintf(sc.ch.Stderr(), "\r\n%s\r\n", tr(sc.lang(), mKilled, live.KillReason()))
				sess.Close()
				return
			case <-ctx.Done():
				sess.Close()
				return
			case <-done:
				return
			}
		}
	}()
	code := exitCode(sess.Wait())
	live.AddBytes(in.Load(), out.Load())
	return code
}

// liveWriter copies output to the recording, the live watchers and w,
// counting the bytes.
type liveWriter struct {
	rec  *record.CastWriter
	live *session.Live
	w    io.Writer
	n    *atomic.Int64
}

func (lw liveWriter) Write(p []byte) (int, error) {
	lw.rec.Output(p)
	lw.live.Output(p)
	lw.n.Add(int64(len(p)))
	return lw.w.Write(p)
}
