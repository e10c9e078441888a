package sshgw

import (
	"context"
	"errors"

	"github.com/portcullis/portcullis/backend/telnet"
)

// telnet runs an interactive session on a telnet asset (a network device):
// the gateway logs in at the device's prompts with the account's password
// (or the one typed for @INPUT and @USER) and relays the session through
// term.Run like an SSH shell. It returns how the session ended.
func (sc *sessionChan) telnet(ctx context.Context, p *pick) outcome {
	c := sc.c
	lang := sc.lang()
	login, display, _, password, err := c.credentials(ctx, p, lang, sc.ask)
	if err != nil {
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	dctx, cancel := context.WithTimeout(ctx, c.srv.cfg.DialTimeout)
	defer cancel()
	conn, err := c.srv.deps.Dialer.Dial(dctx, &p.asset, p.port)
	if err != nil {
		err = c.dialError(ctx, p, login, err)
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	size := sc.getSize()
	tc, err := telnet.Dial(ctx, conn, telnet.Options{
		Username: login, Password: password, Term: sc.termName(), Cols: size.Cols, Rows: size.Rows,
		Timeout: c.srv.cfg.DialTimeout, Log: c.srv.deps.Log,
	})
	if err != nil {
		if errors.Is(err, telnet.ErrLoginFailed) {
			err = userErr(err, mAuthFailed, p.asset.Name, login)
		} else {
			err = c.dialError(ctx, p, login, err)
		}
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	up := &upstream{pick: *p, login: login, account: display}
	live, rec, err := sc.startSession(ctx, up, kindShell, size)
	if err != nil {
		tc.Close()
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	if b := tc.Banner(); len(b) > 0 {
		rec.Output(b)
		live.Output(b)
		sc.ch.Write(b)
	}
	res, killed := sc.relay(ctx, up, tc, live, rec, size)
	return outcome{line: tr(lang, mDisconnected, cleanText(p.asset.Name), res.EndReason), killed: killed, started: true}
}
