package sshgw

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/portcullis/portcullis/backend/dbgw"
	"github.com/portcullis/portcullis/backend/store"
)

// DatabaseLabel is the asset label that names the database a session opens
// by default ("database:shop"); without it the client's default applies.
const DatabaseLabel = "database"

// database runs an interactive session on a database asset: the real client
// (mariadb, psql, redis-cli) in a pty on the bastion, logged in with the
// account's credentials, which the user never sees (dbgw), connected through
// the asset's zone like any other target, and relayed through term.Run with
// the statements of the client's language checked and logged one by one.
func (sc *sessionChan) database(ctx context.Context, p *pick) outcome {
	c := sc.c
	lang := sc.lang()
	login, display, _, password, err := c.credentials(ctx, p, lang, sc.ask)
	if err != nil {
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	size := sc.getSize()
	asset, port := p.asset, p.port
	spec := dbgw.Spec{
		Protocol: p.protocol, Username: login, Password: password, Database: assetLabel(&asset, DatabaseLabel),
		Term: sc.termName(), Cols: size.Cols, Rows: size.Rows,
		Dial: func(ctx context.Context) (net.Conn, error) {
			dctx, cancel := context.WithTimeout(ctx, c.srv.cfg.DialTimeout)
			defer cancel()
			return c.srv.deps.Dialer.Dial(dctx, &asset, port)
		},
	}
	opts := c.srv.cfg.Databases
	if opts.Log == nil {
		opts.Log = c.srv.deps.Log
	}
	db, err := dbgw.Start(ctx, spec, opts)
	if err != nil {
		if errors.Is(err, dbgw.ErrClientMissing) {
			err = userErr(err, mDialFailed, p.asset.Name, "the "+p.protocol+" client is not installed on the bastion")
		} else {
			err = c.dialError(ctx, p, login, err)
		}
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	up := &upstream{pick: *p, login: login, account: display, statements: dbgw.NewDialect(p.protocol), clearLine: dbgw.ClearLine(p.protocol)}
	live, rec, err := sc.startSession(ctx, up, kindShell, size)
	if err != nil {
		db.Close()
		sc.fail(err)
		return outcome{line: message(lang, err)}
	}
	res, killed := sc.relay(ctx, up, db, live, rec, size)
	return outcome{line: tr(lang, mDisconnected, cleanText(p.asset.Name), res.EndReason), killed: killed, started: true}
}

// outcome is how a session on a picked asset ended: the line to show in the
// menu afterwards, whether it was killed (which ends the connection), and
// whether it started at all.
type outcome struct {
	line    string
	killed  bool
	started bool
}

// assetLabel returns the value of the asset's "key:value" label, or "".
func assetLabel(a *store.Asset, key string) string {
	for _, l := range a.Labels {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
