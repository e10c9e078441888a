package term

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
)

// enter handles an Enter: it lets the echo settle, reads the command from the
// screen, checks it, logs it and then sends the Enter or withholds it. It
// reports whether the Enter was sent.
func (r *relay) enter(ctx context.Context, enter []byte) bool {
	// Keys of a full-screen program need no settling: they are not commands.
	// The worker's flag may be a little behind the output, so it is asked
	// again, in order, before the settle is skipped.
	full := false
	if r.x.fullScreen.Load() {
		if res, err := r.x.peek(ctx); err == nil {
			full = res.fullScreen
		}
	}
	if !full {
		r.settle(ctx)
	}
	res, err := r.x.enter(ctx)
	raw, rawSure := r.line.enter()
	if err != nil || r.ended.Load() {
		return false // the session is ending; let nothing through
	}
	raw = strings.TrimSpace(raw)
	rawSure = rawSure && raw != ""

	if !res.ok {
		// No command to log: a full-screen program, a prompt without echo, or
		// a line continued by a trailing backslash (the extractor reports it
		// joined with the next one). The keystrokes are still checked so
		// that none of these can smuggle a refused command through
		// (printf '\e[?1049h' makes a shell look full-screen).
		if rawSure {
			if v := r.check(raw); v.Action == store.FilterDeny || v.Action == store.FilterConfirm {
				text := HiddenInput
				if res.fullScreen || cmdfilter.Continued(raw) {
					text = raw
				}
				r.logCommand(text, v, VerdictDenied)
				r.abandonLine(ctx)
				r.notify(Message(r.cfg.Lang, MsgDeniedHidden, v.FilterName))
				return false
			}
		}
		r.sendEnter(enter)
		return true
	}

	// The line on screen is the command. The keystrokes are checked too when
	// they tell the line for sure (typed or pasted text, simple erasing): an
	// echo that arrived late, or a screen misread, must let nothing through.
	cmd := strings.TrimSpace(res.cmd)
	if r.cfg.Statements != nil {
		return r.enterStatements(ctx, enter, cmd)
	}
	text, v := cmd, r.check(cmd)
	if rawSure && raw != cmd {
		if rv := r.check(raw); cmdfilter.Severity(rv.Action) > cmdfilter.Severity(v.Action) {
			// No text in the log: keystrokes may hold secrets.
			r.log.Warn("the keystrokes matched a stricter rule than the line on screen", "rule", rv.FilterName, "action", rv.Action)
			text, v = raw, rv
		}
	}
	if text == "" {
		r.sendEnter(enter)
		return true
	}
	switch v.Action {
	case store.FilterDeny:
		r.logCommand(text, v, VerdictDenied)
		r.abandonLine(ctx)
		msg := Message(r.cfg.Lang, MsgDenied, v.FilterName, text)
		r.notify(msg)
		r.event(VerdictDenied, text, v.FilterName, msg)
		return false
	case store.FilterConfirm:
		return r.confirm(ctx, enter, text, v)
	case store.FilterWarn:
		r.logCommand(text, v, VerdictWarned)
		r.event(VerdictWarned, text, v.FilterName, "")
	default:
		r.logCommand(text, v, VerdictAllowed)
	}
	r.sendEnter(enter)
	return true
}

// enterStatements handles an Enter when the program's lines are grouped into
// statements (Config.Statements): a line that ends no statement goes through
// unchecked, since the program only buffers it; the statements a line ends
// are checked and logged one by one, and the line is refused as a whole when
// one of them is denied (none of them runs) or the program's own rules
// refuse it. A refused line is abandoned together with the statement it
// would have ended.
func (r *relay) enterStatements(ctx context.Context, enter []byte, line string) bool {
	st := r.cfg.Statements
	stmts, err := st.Line(line)
	if err != nil {
		v := cmdfilter.Verdict{Action: store.FilterDeny, Risk: cmdfilter.RiskOf(store.FilterDeny)}
		r.logCommand(line, v, VerdictDenied)
		r.abandonLine(ctx)
		st.Reset()
		msg := Message(r.cfg.Lang, MsgRefused, err.Error())
		r.notify(msg)
		r.event(VerdictDenied, line, "", msg)
		return false
	}
	if len(stmts) == 0 {
		r.sendEnter(enter)
		return true
	}
	verdicts := make([]cmdfilter.Verdict, len(stmts))
	worst := 0
	for i, s := range stmts {
		verdicts[i] = r.cfg.Filter.CheckStatement(r.cfg.Scope, s)
		if cmdfilter.Severity(verdicts[i].Action) > cmdfilter.Severity(verdicts[worst].Action) {
			worst = i
		}
	}
	switch v := verdicts[worst]; v.Action {
	case store.FilterDeny:
		for _, s := range stmts {
			r.logCommand(s, v, VerdictDenied)
		}
		r.abandonLine(ctx)
		st.Reset()
		msg := Message(r.cfg.Lang, MsgDenied, v.FilterName, stmts[worst])
		r.notify(msg)
		r.event(VerdictDenied, stmts[worst], v.FilterName, msg)
		return false
	case store.FilterConfirm:
		if !r.confirm(ctx, enter, strings.Join(stmts, "\n"), v) {
			st.Reset()
			return false
		}
		return true
	}
	for i, s := range stmts {
		if verdicts[i].Action == store.FilterWarn {
			r.logCommand(s, verdicts[i], VerdictWarned)
			r.event(VerdictWarned, s, verdicts[i].FilterName, "")
		} else {
			r.logCommand(s, verdicts[i], VerdictAllowed)
		}
	}
	r.sendEnter(enter)
	return true
}

// confirm holds a command until an approver decides. Input waits meanwhile
// (the caller holds inMu); output keeps flowing.
func (r *relay) confirm(ctx context.Context, enter []byte, cmd string, v cmdfilter.Verdict) bool {
	if r.cfg.Approvals == nil || r.live == nil {
		r.logCommand(cmd, v, VerdictExpired)
		r.abandonLine(ctx)
		r.notify(Message(r.cfg.Lang, MsgApprovalUnavailable, cmd))
		return false
	}
	msg := Message(r.cfg.Lang, MsgAwaitApproval, v.FilterName, r.cfg.ConfirmTimeout)
	r.notify(msg)
	r.event(EventAwaitingApproval, cmd, v.FilterName, msg)
	r.waiting.Store(true)
	approved, by, err := r.cfg.Approvals.RequestApproval(ctx, r.live, cmd, v, r.cfg.ConfirmTimeout)
	r.waiting.Store(false)
	r.lastInput.Store(r.clock().UnixNano())
	if r.ended.Load() || ctx.Err() != nil || errors.Is(err, session.ErrKilled) {
		r.logCommand(cmd, v, VerdictExpired)
		return false
	}
	switch {
	case approved:
		r.logCommand(cmd, v, VerdictApproved)
		msg := Message(r.cfg.Lang, MsgApproved, by)
		r.notify(msg)
		r.event(VerdictApproved, cmd, v.FilterName, msg)
		r.sendEnter(enter)
		return true
	case err == nil:
		r.logCommand(cmd, v, VerdictRejected)
		r.abandonLine(ctx)
		msg := Message(r.cfg.Lang, MsgRejected, by, cmd)
		r.notify(msg)
		r.event(VerdictRejected, cmd, v.FilterName, msg)
	default:
		if !errors.Is(err, session.ErrApprovalExpired) {
			r.log.Warn("approval request failed", "err", err)
		}
		r.logCommand(cmd, v, VerdictExpired)
		r.abandonLine(ctx)
		msg := Message(r.cfg.Lang, MsgApprovalExpired, cmd)
		r.notify(msg)
		r.event(VerdictExpired, cmd, v.FilterName, msg)
	}
	return false
}

// settle waits until the target's output has settled after the last input
// forwarded: the echo arrived (some output after the input) and then nothing
// for settleQuiet; at most settleMax in all.
func (r *relay) settle(ctx context.Context) {
	deadline := r.mono() + int64(settleMax)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now := r.mono()
		if now >= deadline {
			return
		}
		out, fwd := r.lastOutput.Load(), r.lastForward.Load()
		var wait time.Duration
		switch {
		case r.outBusy.Load(), fwd > out:
			wait = echoPoll // output is being distributed, or the echo is not here yet
		default:
			quiet := time.Duration(now - out)
			if quiet >= settleQuiet {
				return
			}
			wait = settleQuiet - quiet
		}
		wait = min(wait, time.Duration(deadline-now))
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// check asks the filter about a command line, each of its lines on its own
// too (see CheckExec); without a filter everything is allowed.
func (r *relay) check(cmd string) cmdfilter.Verdict {
	return CheckExec(r.cfg.Filter, r.cfg.Scope, cmd)
}

// logCommand writes the command row and the recording marker.
func (r *relay) logCommand(cmd string, v cmdfilter.Verdict, verdict string) {
	r.commands.Add(1)
	text := cutUTF8(cmd, maxLoggedCommand)
	risk := v.Risk
	if risk == "" {
		risk = cmdfilter.RiskOf(v.Action)
	}
	if r.rec != nil {
		label := text
		if verdict != VerdictAllowed && verdict != VerdictApproved && verdict != VerdictWarned {
			label = "[" + verdict + "] " + text
		}
		r.rec.Marker(label)
	}
	// The Live fills in the session's fields, the time and the offset.
	c := store.Command{Input: text, Risk: risk, Verdict: verdict}
	if r.live != nil {
		if err := r.live.AddCommand(c); err != nil {
			r.log.Error("log command", "err", err)
		}
	}
	r.log.Info("command", "verdict", verdict, "risk", risk, "rule", v.FilterName, "len", len(cmd))
	if r.cfg.Notify != nil && v.Action != "" && v.Action != store.FilterAllow {
		c.CreatedAt = r.clock().UTC()
		if r.live != nil {
			m := r.live.Meta()
			c.OrgID, c.SessionID, c.UserID, c.Username, c.AssetName, c.Account = m.OrgID, m.ID, m.UserID, m.Username, m.AssetName, m.AccountName
			c.Offset = c.CreatedAt.Sub(m.StartedAt).Seconds()
		}
		go r.cfg.Notify(c, v)
	}
}
