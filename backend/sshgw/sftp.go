package sshgw

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/sshgw/sftpproxy"
	"github.com/portcullis/portcullis/backend/store"
)

type permGrant = perm.AccountGrant

// sftp serves the "sftp" subsystem (sftp, and OpenSSH 9's scp).
func (sc *sessionChan) sftp(ctx context.Context) int {
	up, err := sc.execTarget(ctx)
	if err != nil {
		sc.fail(err)
		return exitRefused
	}
	return sc.serveSFTP(ctx, up)
}

// transferSession starts the live session of an SFTP or SCP channel and
// returns the sftpproxy options: the policy from the upload and download
// actions, records to the database and refusals to the audit log.
func (sc *sessionChan) transferSession(ctx context.Context, up *upstream, kind string) (*session.Live, sftpproxy.Options, bool) {
	c := sc.c
	policy := sftpproxy.Policy{
		Upload:   c.allowedQuiet(ctx, &up.pick, store.ActionUpload),
		Download: c.allowedQuiet(ctx, &up.pick, store.ActionDownload),
	}
	live, err := c.srv.deps.Sessions.Start(ctx, session.Meta{
		OrgID: c.user.OrgID, UserID: c.user.ID, Username: c.user.Username,
		AssetID: up.pick.asset.ID, AssetName: up.pick.asset.Name, AccountName: up.account,
		Protocol: up.pick.protocol, Kind: kind, SourceIP: c.remote,
	})
	if err != nil {
		sc.fail(err)
		return nil, sftpproxy.Options{}, false
	}
	m := live.Meta()
	return live, sftpproxy.Options{
		Policy: policy,
		Sink:   &transferSink{c: c, up: up},
		Template: store.FileTransfer{
			OrgID: c.user.OrgID, SessionID: m.ID, UserID: c.user.ID, Username: c.user.Username,
			AssetName: up.pick.asset.Name, Account: up.account,
		},
		Log: c.srv.deps.Log, Clock: c.srv.clock,
	}, true
}

func (sc *sessionChan) serveSFTP(ctx context.Context, up *upstream) int {
	live, opts, ok := sc.transferSession(ctx, up, kindSFTP)
	if !ok {
		return exitRefused
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-live.Killed():
			cancel()
		case <-sctx.Done():
		}
	}()
	err := sftpproxy.ServeSFTP(sctx, sc.ch, up.client, opts)
	live.End(ctx, endReason(err))
	if err != nil {
		sc.c.srv.log.WarnContext(ctx, "sftp session", "session", live.Meta().ID, "err", err)
		return exitRefused
	}
	return 0
}

// scp serves the legacy scp protocol ("scp -O": an exec of scp -t or -f).
func (sc *sessionChan) scp(ctx context.Context, up *upstream, command string) int {
	live, opts, ok := sc.transferSession(ctx, up, kindSCP)
	if !ok {
		return exitRefused
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-live.Killed():
			cancel()
		case <-sctx.Done():
		}
	}()
	err := sftpproxy.ServeSCP(sctx, sc.ch, command, up.client, opts)
	live.End(ctx, endReason(err))
	if err != nil && !errors.Is(err, sftpproxy.ErrTransfer) {
		sc.c.srv.log.WarnContext(ctx, "scp session", "session", live.Meta().ID, "err", err)
	}
	return noExitStatus
}

func endReason(err error) string {
	if err == nil {
		return "client closed"
	}
	return cut(err.Error(), 200)
}

// allowedQuiet is allowed without auditing a refusal (the policy of a
// transfer session is computed up front; each refused operation is audited
// by the sink).
func (c *conn) allowedQuiet(ctx context.Context, p *pick, action string) bool {
	_, err := c.srv.deps.Perm.Check(ctx, c.user.ID, p.asset.ID, p.grant.Name, p.protocol, action)
	return err == nil
}

// transferSink writes sftpproxy's records: FileTransfer rows, and refusals
// to the operation log.
type transferSink struct {
	c  *conn
	up *upstream
}

func (s *transferSink) Transfer(ctx context.Context, t store.FileTransfer) error {
	if err := s.c.srv.deps.DB.WithContext(ctx).Create(&t).Error; err != nil {
		return fmt.Errorf("sshgw: file transfer: %w", err)
	}
	return nil
}

func (s *transferSink) Denied(ctx context.Context, d sftpproxy.Denial) error {
	detail := fmt.Sprintf("session %s, account %s: %s %s", d.SessionID, d.Account, d.Op, d.Path)
	if d.Target != "" {
		detail += " -> " + d.Target
	}
	s.c.srv.oplog(ctx, s.c.user, s.c.remote, "ssh.transfer_denied", "asset", d.AssetName, false, detail+": "+d.Reason)
	return nil
}
