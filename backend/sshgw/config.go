package sshgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/dbgw"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// ErrInvalidConfig wraps the errors of Config.CheckAndSetDefaults and New.
var ErrInvalidConfig = errors.New("sshgw: invalid configuration")

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("sshgw: server closed")

// Defaults of Config.
const (
	DefaultAddr               = ":2222"
	DefaultHandshakeTimeout   = 60 * time.Second
	DefaultMaxUnauthenticated = 64
	DefaultMaxChannels        = 10
	DefaultConfirmTimeout     = 5 * time.Minute
	DefaultDialTimeout        = 15 * time.Second
	DefaultServerVersion      = "SSH-2.0-Portcullis"
)

// Config is the gateway's configuration.
type Config struct {
	// Addr is the listen address of ListenAndServe (default ":2222").
	Addr string
	// HostKeyDir holds the host keys (<data dir>/ssh); required.
	HostKeyDir string
	// RecordingDir is where recordings go (<data dir>/recordings); required.
	RecordingDir string
	// HandshakeTimeout bounds the key exchange and the authentication of a
	// connection (like OpenSSH's LoginGraceTime).
	HandshakeTimeout time.Duration
	// MaxUnauthenticated bounds the connections still in their handshake;
	// more are closed at once (like OpenSSH's MaxStartups).
	MaxUnauthenticated int
	// MaxChannels bounds the open channels (sessions, forwards) of one
	// connection (like OpenSSH's MaxSessions).
	MaxChannels int
	// ConfirmTimeout is how long a command held by a "confirm" filter waits
	// for an approver before it is denied.
	ConfirmTimeout time.Duration
	// DialTimeout bounds connecting and authenticating to a target.
	DialTimeout time.Duration
	// ServerVersion is the SSH identification string.
	ServerVersion string
	// Databases configures the database clients of database sessions
	// (private directories, the user they run as).
	Databases dbgw.Options
}

// CheckAndSetDefaults fills zero values with defaults and validates the rest.
func (c *Config) CheckAndSetDefaults() error {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxUnauthenticated <= 0 {
		c.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if c.MaxChannels <= 0 {
		c.MaxChannels = DefaultMaxChannels
	}
	if c.ConfirmTimeout <= 0 {
		c.ConfirmTimeout = DefaultConfirmTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ServerVersion == "" {
		c.ServerVersion = DefaultServerVersion
	}
	switch {
	case c.HostKeyDir == "":
		return fmt.Errorf("%w: HostKeyDir is required", ErrInvalidConfig)
	case c.RecordingDir == "":
		return fmt.Errorf("%w: RecordingDir is required", ErrInvalidConfig)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrInvalidConfig, c.Addr, err)
	}
	return nil
}

// Authenticator is the part of auth.Service the gateway logs users in with.
type Authenticator interface {
	Login(ctx context.Context, req auth.LoginRequest) (*auth.LoginResult, error)
	SubmitOTP(ctx context.Context, stepToken, otp string, meta auth.RequestMeta) (*auth.LoginResult, error)
	HasPublicKey(ctx context.Context, username string, key ssh.PublicKey) (bool, error)
	LoginPublicKey(ctx context.Context, req auth.KeyLoginRequest) (*auth.LoginResult, error)
	RefusePublicKeys(ctx context.Context, username string, meta auth.RequestMeta) error
	Logout(ctx context.Context, token string) error
}

var _ Authenticator = (*auth.Service)(nil)

// Authorizer is the part of perm.Resolver the gateway asks.
type Authorizer interface {
	UserAssets(ctx context.Context, userID uint, q perm.Query) ([]perm.AssetAccess, int64, error)
	Access(ctx context.Context, userID, assetID uint) (*perm.AssetAccess, error)
	Check(ctx context.Context, userID, assetID uint, account, protocol, action string) (*perm.AccountGrant, error)
}

var _ Authorizer = (*perm.Resolver)(nil)

// Dialer connects to assets, directly or through their zone's gateways,
// checking host keys (reach.Dialer).
type Dialer interface {
	Dial(ctx context.Context, a *store.Asset, port int) (net.Conn, error)
	SSH(ctx context.Context, a *store.Asset, port int, cfg *ssh.ClientConfig) (*ssh.Client, error)
}

// Deps are the services the gateway uses. All are required except Log and
// Clock.
type Deps struct {
	DB       *gorm.DB
	Auth     Authenticator
	Perm     Authorizer
	Vault    *vault.Vault
	Audit    *audit.Logger
	Settings *settings.Store
	Sessions *session.Registry
	Dialer   Dialer
	Log      *slog.Logger
	Clock    func() time.Time
}

func (d *Deps) check() error {
	switch {
	case d.DB == nil:
		return fmt.Errorf("%w: Deps.DB is required", ErrInvalidConfig)
	case d.Auth == nil:
		return fmt.Errorf("%w: Deps.Auth is required", ErrInvalidConfig)
	case d.Perm == nil:
		return fmt.Errorf("%w: Deps.Perm is required", ErrInvalidConfig)
	case d.Vault == nil:
		return fmt.Errorf("%w: Deps.Vault is required", ErrInvalidConfig)
	case d.Audit == nil:
		return fmt.Errorf("%w: Deps.Audit is required", ErrInvalidConfig)
	case d.Settings == nil:
		return fmt.Errorf("%w: Deps.Settings is required", ErrInvalidConfig)
	case d.Sessions == nil:
		return fmt.Errorf("%w: Deps.Sessions is required", ErrInvalidConfig)
	case d.Dialer == nil:
		return fmt.Errorf("%w: Deps.Dialer is required", ErrInvalidConfig)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	return nil
}
