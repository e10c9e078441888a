package sshgw

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	assetpkg "github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// Protocols the gateway reaches targets by.
const (
	protoSSH    = "ssh"
	protoTelnet = "telnet"
)

// interactiveProtocols are the protocols of an interactive session, in order
// of preference when the user names none: SSH, telnet, then the databases.
var interactiveProtocols = []string{protoSSH, protoTelnet, "mysql", "mariadb", "postgresql", "redis"}

// userError is an error told to the user in their language; err is the
// detail for the log.
type userError struct {
	key  msgKey
	args []any
	err  error
}

func (e *userError) Error() string {
	if e.err != nil {
		return tr("en", e.key, e.args...) + ": " + e.err.Error()
	}
	return tr("en", e.key, e.args...)
}

func (e *userError) Unwrap() error { return e.err }

func userErr(err error, key msgKey, args ...any) *userError {
	return &userError{key: key, args: args, err: err}
}

// message returns what the user is told about err.
func message(lang string, err error) string {
	var ue *userError
	if errors.As(err, &ue) {
		return tr(lang, ue.key, ue.args...)
	}
	return tr(lang, mInternal)
}

// pick is an asset and a granted account on it, with the protocol to use.
type pick struct {
	asset    store.Asset
	access   *perm.AssetAccess
	grant    perm.AccountGrant
	protocol string
	port     int
}

// upstream is an authenticated connection to a target.
type upstream struct {
	pick    pick
	login   string      // username on the target
	account string      // account name recorded (the login for @INPUT and @USER)
	client  *ssh.Client // SSH targets

	statements term.Statements // database targets: the client's statement grammar
	clearLine  []byte          // database targets: abandons a refused line in the client

	agentOnce sync.Once // the agent channel handler is registered once
}

func (u *upstream) close() {
	if u != nil && u.client != nil {
		u.client.Close()
	}
}

// findAsset returns the active asset of that name in the user's organization.
func (c *conn) findAsset(ctx context.Context, name string) (*store.Asset, error) {
	var a store.Asset
	err := c.srv.deps.DB.WithContext(ctx).Where("org_id = ? AND name = ? AND is_active = ?", c.user.OrgID, name, true).Take(&a).Error
	if err != nil {
		return nil, fmt.Errorf("sshgw: asset %q: %w", name, store.Translate(err))
	}
	return &a, nil
}

// resolve checks that the user may reach the asset named name by one of
// protocols (in order of preference) with the action "connect", and chooses
// the account: the one named, the only one granted, or the one choose
// returns (nil choose: refuse with the list). Refusals are audited.
func (c *conn) resolve(ctx context.Context, name, account string, protocols []string, choose func([]perm.AccountGrant) (perm.AccountGrant, error)) (*pick, error) {
	a, err := c.findAsset(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		c.deny(ctx, "ssh.access_denied", name, "no such active asset")
		return nil, userErr(err, mNotFound, name)
	} else if err != nil {
		return nil, err
	}
	access, err := c.srv.deps.Perm.Access(ctx, c.user.ID, a.ID)
	if errors.Is(err, perm.ErrDenied) {
		c.deny(ctx, "ssh.access_denied", a.Name, "no permission grants the asset")
		return nil, userErr(err, mNotFound, name)
	} else if err != nil {
		return nil, err
	}
	p := &pick{asset: *a, access: access}
	for _, proto := range protocols {
		if slices.Contains(access.Protocols, proto) {
			p.protocol = proto
			break
		}
	}
	if p.protocol == "" {
		c.deny(ctx, "ssh.access_denied", a.Name, "no permitted protocol among "+strings.Join(protocols, ", "))
		return nil, userErr(perm.ErrDenied, mNoProtocol, a.Name)
	}
	for _, pr := range a.Protocols {
		if pr.Name == p.protocol {
			p.port = pr.Port
		}
	}
	if account == "" {
		switch len(access.Accounts) {
		case 0:
			c.deny(ctx, "ssh.access_denied", a.Name, "no account granted")
			return nil, userErr(perm.ErrDenied, mDenied, a.Name)
		case 1:
			account = access.Accounts[0].Name
		default:
			if choose == nil {
				names := make([]string, len(access.Accounts))
				for i, g := range access.Accounts {
					names[i] = g.Name
				}
				return nil, userErr(perm.ErrDenied, mChooseAccountHint, a.Name, strings.Join(names, ", "))
			}
			g, err := choose(access.Accounts)
			if err != nil {
				return nil, err
			}
			account = g.Name
		}
	}
	grant, err := c.srv.deps.Perm.Check(ctx, c.user.ID, a.ID, account, p.protocol, store.ActionConnect)
	if errors.Is(err, perm.ErrDenied) {
		c.deny(ctx, "ssh.access_denied", a.Name, fmt.Sprintf("account %q by %s not permitted", account, p.protocol))
		return nil, userErr(err, mDenied, a.Name+" ("+account+")")
	} else if err != nil {
		return nil, err
	}
	p.grant = *grant
	return p, nil
}

// allowed reports whether the user may do action on the picked asset with
// the picked account; a refusal is audited.
func (c *conn) allowed(ctx context.Context, p *pick, action string) bool {
	_, err := c.srv.deps.Perm.Check(ctx, c.user.ID, p.asset.ID, p.grant.Name, p.protocol, action)
	if err == nil {
		return true
	}
	if !errors.Is(err, perm.ErrDenied) {
		c.srv.log.ErrorContext(ctx, "permission check", "action", action, "err", err)
	}
	c.deny(ctx, "ssh."+action+"_denied", p.asset.Name, fmt.Sprintf("action %s with account %q not permitted", action, p.grant.Name))
	return false
}

// prompter asks the user a line of text (echo off for secrets).
type prompter func(prompt string, echo bool) (string, error)

// credentials returns the login name and secret for the picked account:
// from the vault for a real account, typed by the user for @INPUT (name and
// password) and @USER (password). ask may be nil when there is no terminal.
func (c *conn) credentials(ctx context.Context, p *pick, lang string, ask prompter) (login, display string, methods []ssh.AuthMethod, password string, err error) {
	needTTY := userErr(errors.New("sshgw: prompt without a terminal"), mNeedTTY)
	switch p.grant.Kind {
	case perm.KindAccount:
		var acc store.Account
		if err := c.srv.deps.DB.WithContext(ctx).Where("id = ? AND asset_id = ? AND is_active = ?", p.grant.ID, p.asset.ID, true).
			Take(&acc).Error; err != nil {
			return "", "", nil, "", fmt.Errorf("sshgw: account %d: %w", p.grant.ID, store.Translate(err))
		}
		secret, err := assetpkg.OpenAccountSecret(c.srv.deps.Vault, &acc)
		if errors.Is(err, store.ErrNotFound) {
			if ask == nil {
				return "", "", nil, "", needTTY
			}
			if secret, err = ask(tr(lang, mPassword), false); err != nil {
				return "", "", nil, "", err
			}
		} else if err != nil {
			return "", "", nil, "", err
		}
		if acc.SecretType == store.SecretSSHKey && secret != "" {
			signer, err := ssh.ParsePrivateKey([]byte(secret))
			if err != nil {
				return "", "", nil, "", fmt.Errorf("sshgw: private key of account %d: %w", acc.ID, err)
			}
			return acc.Username, acc.Name, []ssh.AuthMethod{ssh.PublicKeys(signer)}, "", nil
		}
		return acc.Username, acc.Name, passwordMethods(secret), secret, nil
	case perm.KindInput, perm.KindUser:
		if ask == nil {
			return "", "", nil, "", needTTY
		}
		login := p.grant.Username
		if p.grant.Kind == perm.KindInput {
			if login, err = ask(tr(lang, mUsername), true); err != nil {
				return "", "", nil, "", err
			}
		}
		pw, err := ask(tr(lang, mPassword), false)
		if err != nil {
			return "", "", nil, "", err
		}
		return login, login, passwordMethods(pw), pw, nil
	}
	return "", "", nil, "", fmt.Errorf("sshgw: unknown account kind %q", p.grant.Kind)
}

func passwordMethods(pw string) []ssh.AuthMethod {
	return []ssh.AuthMethod{
		ssh.Password(pw),
		ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = pw
			}
			return answers, nil
		}),
	}
}

// dialSSH connects to the picked SSH target with the account's credentials.
func (c *conn) dialSSH(ctx context.Context, p *pick, lang string, ask prompter) (*upstream, error) {
	login, display, methods, _, err := c.credentials(ctx, p, lang, ask)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, c.srv.cfg.DialTimeout)
	defer cancel()
	client, err := c.srv.deps.Dialer.SSH(dctx, &p.asset, p.port, &ssh.ClientConfig{
		User: login, Auth: methods, Timeout: c.srv.cfg.DialTimeout, ClientVersion: "SSH-2.0-Portcullis",
	})
	if err != nil {
		return nil, c.dialError(ctx, p, login, err)
	}
	return &upstream{pick: *p, login: login, account: display, client: client}, nil
}

// dialError turns a failed connection to a target into what the user is told.
func (c *conn) dialError(ctx context.Context, p *pick, login string, err error) error {
	c.srv.log.WarnContext(ctx, "connect to target failed", "asset", p.asset.Name, "login", login, "err", err)
	switch {
	case errors.Is(err, hostkey.ErrChanged):
		return userErr(err, mHostKeyChanged, p.asset.Name)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return userErr(err, mAuthFailed, p.asset.Name, login)
	}
	detail := err.Error()
	if i := strings.LastIndex(detail, ": "); i >= 0 {
		detail = detail[i+2:]
	}
	return userErr(err, mDialFailed, p.asset.Name, detail)
}

// direct returns the connection to the target named by the SSH user name,
// dialing it on first use; channels of one client connection share it.
// picked, when not nil, is the target already resolved by the caller.
func (c *conn) direct(ctx context.Context, picked *pick, lang string, ask prompter, choose func([]perm.AccountGrant) (perm.AccountGrant, error)) (*upstream, error) {
	for {
		c.mu.Lock()
		if c.up != nil {
			up := c.up
			c.mu.Unlock()
			return up, nil
		}
		if wait := c.upWait; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wait := make(chan struct{})
		c.upWait = wait
		c.mu.Unlock()

		up, err := c.dialDirect(ctx, picked, lang, ask, choose)
		c.mu.Lock()
		c.upWait = nil
		if err == nil {
			if c.closed {
				up.close()
				err = ErrServerClosed
			} else {
				c.up = up
			}
		}
		c.mu.Unlock()
		close(wait)
		return up, err
	}
}

func (c *conn) dialDirect(ctx context.Context, p *pick, lang string, ask prompter, choose func([]perm.AccountGrant) (perm.AccountGrant, error)) (*upstream, error) {
	if p == nil {
		var err error
		if p, err = c.resolve(ctx, c.target.Asset, c.target.Account, []string{protoSSH}, choose); err != nil {
			return nil, err
		}
	}
	return c.dialSSH(ctx, p, lang, ask)
}

func (c *conn) closeUpstream() {
	c.mu.Lock()
	up := c.up
	c.up = nil
	c.closed = true
	c.mu.Unlock()
	up.close()
}

// recordingPath returns <RecordingDir>/YYYY/MM/DD/<id>.cast.gz, creating
// the directories.
func (s *Server) recordingPath(id string, t time.Time) (string, error) {
	dir := filepath.Join(s.cfg.RecordingDir, t.UTC().Format("2006/01/02"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("sshgw: recording dir: %w", err)
	}
	return filepath.Join(dir, id+".cast.gz"), nil
}
