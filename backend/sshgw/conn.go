package sshgw

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// Messages shown to the client during authentication (before any LANG
// request, so in English). They end in CRLF: OpenSSH prints banners as is.
const (
	msgLocked         = "Your Portcullis account is locked after repeated failures. Try again later or ask an administrator.\r\n"
	msgInactive       = "Your Portcullis account is disabled.\r\n"
	msgACLDenied      = "Login from this address or at this time is not allowed.\r\n"
	msgThrottled      = "Too many failed attempts from your address. Wait a minute and try again.\r\n"
	msgBadOTP         = "Invalid verification code.\r\n"
	msgChangePassword = "You must change your password: log in to the Portcullis web UI first, then come back.\r\n"
	msgEnrollMFA      = "You must set up two-factor authentication: log in to the Portcullis web UI first, then come back.\r\n"
	msgInternal       = "Portcullis cannot log you in right now (internal error). Try again later.\r\n"
)

// Prompts of keyboard-interactive authentication.
const (
	promptPassword = "Password: "
	promptOTP      = "Verification code: "
)

// maxOTPTries is how many codes one keyboard-interactive round accepts.
const maxOTPTries = 3

// conn is one client connection. The fields before mu are written by the
// handshake goroutine (authentication callbacks run there one at a time) and
// only read after the handshake.
type conn struct {
	srv    *Server
	nc     io.Closer // the network connection (SSH), or the web terminal's stream
	remote string

	target      Target
	via         string           // ViaSSH or ViaWeb: how the user reached the gateway
	events      func(term.Event) // the web terminal's status line; nil for SSH
	protocol    string           // the protocol a web terminal's token named; empty: any, SSH first
	badNameDone bool             // the malformed user name was audited
	keyRefused  bool             // a public key was offered and refused
	loginLogged bool             // auth.Service wrote a login log row for this connection
	user        *store.User
	token       string // session token issued by the login; revoked at the end

	sconn *ssh.ServerConn
	ctx   context.Context
	wg    sync.WaitGroup // channel goroutines

	mu       sync.Mutex // guards the fields below
	channels int
	up       *upstream     // the direct target's connection, shared by the channels
	upWait   chan struct{} // closed when a dial of up in progress ends
	closed   bool
}

func newConn(s *Server, nc io.Closer, remote string) *conn {
	return &conn{srv: s, nc: nc, remote: remote, via: ViaSSH}
}

// How users reach the gateway's sessions (session rows, Via).
const (
	ViaSSH = "ssh" // their own SSH client
	ViaWeb = "web" // the web terminal (browser or desktop window)
)

// close closes the network connection, which ends every channel.
func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.nc.Close()
}

func (c *conn) meta(clientVersion []byte) auth.RequestMeta {
	return auth.RequestMeta{SourceIP: c.remote, UserAgent: string(clientVersion), Channel: auth.ChannelSSH}
}

// serverConfig returns the ssh.ServerConfig of this connection: the shared
// algorithms and host keys, with callbacks bound to c.
func (c *conn) serverConfig() *ssh.ServerConfig {
	s := c.srv
	cfg := &ssh.ServerConfig{
		Config: ssh.Config{
			KeyExchanges: KeyExchanges,
			Ciphers:      Ciphers,
			MACs:         MACs,
		},
		PublicKeyAuthAlgorithms:     PublicKeyAuthAlgorithms,
		MaxAuthTries:                6,
		ServerVersion:               s.cfg.ServerVersion,
		PasswordCallback:            c.passwordCallback,
		KeyboardInteractiveCallback: c.keyboardInteractive,
		PublicKeyCallback:           c.publicKeyCallback,
		VerifiedPublicKeyCallback:   c.verifiedPublicKey,
	}
	for _, k := range s.hostKeys {
		cfg.AddHostKey(k)
	}
	return cfg
}

// parse parses the SSH user name once and refuses a malformed one, with a
// banner saying why; the refusal is audited once per connection.
func (c *conn) parse(meta ssh.ConnMetadata) (Target, error) {
	t, err := ParseTarget(meta.User())
	if err == nil {
		c.target = t
		return t, nil
	}
	if !c.badNameDone {
		c.badNameDone = true
		c.srv.refuse(context.Background(), nil, c.remote, "ssh.username_invalid",
			err.Error()+": "+cut(cleanText(meta.User()), 200))
	}
	return Target{}, &ssh.BannerError{Err: err, Message: "Refused: " + strings.TrimPrefix(err.Error(), "sshgw: ") +
		". Log in as user, user@asset or user@account@asset.\r\n"}
}

func (c *conn) authContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.srv.cfg.HandshakeTimeout)
}

func (c *conn) passwordCallback(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	t, err := c.parse(meta)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.authContext()
	defer cancel()
	c.loginLogged = true
	res, err := c.srv.deps.Auth.Login(ctx, auth.LoginRequest{Username: t.User, Password: string(password), Meta: c.meta(meta.ClientVersion())})
	return c.result(ctx, res, err)
}

func (c *conn) keyboardInteractive(meta ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	t, err := c.parse(meta)
	if err != nil {
		return nil, err
	}
	answers, err := challenge("", "", []string{promptPassword}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		return nil, errors.New("sshgw: expected one answer")
	}
	ctx, cancel := c.authContext()
	defer cancel()
	c.loginLogged = true
	res, err := c.srv.deps.Auth.Login(ctx, auth.LoginRequest{Username: t.User, Password: answers[0], Meta: c.meta(meta.ClientVersion())})
	if err == nil && res.Step == auth.StepOTPRequired {
		return c.askOTP(ctx, meta, challenge, res.Token)
	}
	return c.result(ctx, res, err)
}

// askOTP asks for the second factor of a login waiting at StepOTPRequired,
// up to maxOTPTries times.
func (c *conn) askOTP(ctx context.Context, meta ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge, stepToken string) (*ssh.Permissions, error) {
	var lastErr error
	for range maxOTPTries {
		answers, err := challenge("", "", []string{promptOTP}, []bool{false})
		if err != nil {
			c.srv.deps.Auth.Logout(context.WithoutCancel(ctx), stepToken)
			return nil, err
		}
		if len(answers) != 1 {
			return nil, errors.New("sshgw: expected one answer")
		}
		res, err := c.srv.deps.Auth.SubmitOTP(ctx, stepToken, strings.TrimSpace(answers[0]), c.meta(meta.ClientVersion()))
		if !errors.Is(err, auth.ErrOTPInvalid) {
			return c.result(ctx, res, err)
		}
		lastErr = err
	}
	c.srv.deps.Auth.Logout(context.WithoutCancel(ctx), stepToken)
	return c.result(ctx, nil, lastErr)
}

// otpOnly is the keyboard-interactive callback offered after a password or
// key that needs a TOTP code.
func (c *conn) otpOnly(stepToken string) func(ssh.ConnMetadata, ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	return func(meta ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
		ctx, cancel := c.authContext()
		defer cancel()
		return c.askOTP(ctx, meta, challenge, stepToken)
	}
}

func (c *conn) publicKeyCallback(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	t, err := c.parse(meta)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.authContext()
	defer cancel()
	ok, err := c.srv.deps.Auth.HasPublicKey(ctx, t.User, key)
	if err != nil {
		c.srv.log.ErrorContext(ctx, "public key lookup", "err", err)
		return nil, &ssh.BannerError{Err: err, Message: msgInternal}
	}
	if !ok {
		c.keyRefused = true
		return nil, errors.New("sshgw: public key not registered")
	}
	return nil, nil
}

func (c *conn) verifiedPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey, _ *ssh.Permissions, _ string) (*ssh.Permissions, error) {
	ctx, cancel := c.authContext()
	defer cancel()
	c.loginLogged = true
	res, err := c.srv.deps.Auth.LoginPublicKey(ctx, auth.KeyLoginRequest{Username: c.target.User, Key: key, Meta: c.meta(meta.ClientVersion())})
	return c.result(ctx, res, err)
}

// result turns a login step into what the SSH server answers: success, a
// partial success that asks for the TOTP code, or a refusal with a banner
// saying why (a wrong password gets no banner: the client says "Permission
// denied" and asks again).
func (c *conn) result(ctx context.Context, res *auth.LoginResult, err error) (*ssh.Permissions, error) {
	if err != nil {
		var msg string
		switch {
		case errors.Is(err, auth.ErrInvalidCredentials):
			return nil, err
		case errors.Is(err, auth.ErrLocked):
			msg = msgLocked
		case errors.Is(err, auth.ErrInactive):
			msg = msgInactive
		case errors.Is(err, auth.ErrACLDenied):
			msg = msgACLDenied
		case errors.Is(err, auth.ErrThrottled):
			msg = msgThrottled
		case errors.Is(err, auth.ErrOTPInvalid), errors.Is(err, auth.ErrTokenInvalid):
			msg = msgBadOTP
		default:
			c.srv.log.ErrorContext(ctx, "login failed", "remote", c.remote, "err", err)
			msg = msgInternal
		}
		return nil, &ssh.BannerError{Err: err, Message: msg}
	}
	switch res.Step {
	case auth.StepOK:
		c.user, c.token = res.User, res.Token
		return &ssh.Permissions{}, nil
	case auth.StepOTPRequired:
		return nil, &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{KeyboardInteractiveCallback: c.otpOnly(res.Token)}}
	case auth.StepPasswordChangeRequired:
		c.srv.deps.Auth.Logout(context.WithoutCancel(ctx), res.Token)
		return nil, &ssh.BannerError{Err: errors.New("sshgw: password change required"), Message: msgChangePassword}
	case auth.StepMFAEnrollRequired:
		c.srv.deps.Auth.Logout(context.WithoutCancel(ctx), res.Token)
		return nil, &ssh.BannerError{Err: errors.New("sshgw: MFA enrollment required"), Message: msgEnrollMFA}
	}
	return nil, &ssh.BannerError{Err: errors.New("sshgw: unknown login step " + string(res.Step)), Message: msgInternal}
}

// handshakeFailed audits a connection that did not authenticate, when
// nothing else did: the login log has a row for every password, code or
// proven key; a connection that only offered unknown keys gets one here, and
// a connection that failed before (garbage, timeout, wrong algorithms) gets an
// operation log row.
func (c *conn) handshakeFailed(ctx context.Context, err error) {
	if c.token != "" {
		c.srv.deps.Auth.Logout(ctx, c.token)
	}
	switch {
	case c.loginLogged || c.badNameDone:
	case c.keyRefused && c.target.User != "":
		if err := c.srv.deps.Auth.RefusePublicKeys(ctx, c.target.User, auth.RequestMeta{SourceIP: c.remote, Channel: auth.ChannelSSH}); err != nil &&
			!errors.Is(err, auth.ErrInvalidCredentials) && !errors.Is(err, auth.ErrThrottled) {
			c.srv.log.ErrorContext(ctx, "login log", "err", err)
		}
	default:
		c.srv.refuse(ctx, nil, c.remote, "ssh.handshake_failed", err.Error())
	}
	c.srv.log.DebugContext(ctx, "handshake failed", "remote", c.remote, "err", err)
}
