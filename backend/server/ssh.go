package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/reach"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/sshgw"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// sshShutdownTimeout bounds the wait for SSH sessions to record their end
// when the server stops.
const sshShutdownTimeout = 10 * time.Second

// sshGatewayDeps are the services the SSH gateway shares with the rest of
// the backend (the HTTP API uses the same session registry, so that live
// sessions of the gateway can be watched and killed from the UI).
type sshGatewayDeps struct {
	Store    *store.Store
	Vault    *vault.Vault
	Audit    *audit.Logger
	Settings *settings.Store
	Auth     *auth.Service
	Perm     *perm.Resolver
	Sessions *session.Registry
	Dialer   *reach.Dialer
	Clock    func() time.Time
}

// newSSHGateway builds the SSH gateway, with its host keys in <data dir>/ssh
// (generated on the first start) and its recordings in <data dir>/recordings.
// It is built even when the configuration has no SSH address (the desktop's
// embedded backend): it runs the web terminals, and only the SSH listener is
// left out.
func (s *Server) newSSHGateway(d sshGatewayDeps) (*sshgw.Server, error) {
	gw, err := sshgw.New(sshgw.Config{
		Addr:         s.cfg.SSHAddr,
		HostKeyDir:   filepath.Join(s.cfg.DataDir, "ssh"),
		RecordingDir: filepath.Join(s.cfg.DataDir, "recordings"),
	}, sshgw.Deps{
		DB: d.Store.DB, Auth: d.Auth, Perm: d.Perm, Vault: d.Vault, Audit: d.Audit, Settings: d.Settings,
		Sessions: d.Sessions, Dialer: d.Dialer, Log: s.baseLog, Clock: d.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("server: ssh gateway: %w", err)
	}
	return gw, nil
}

// serveSSH listens on the configured SSH address and serves gw until ctx
// is done; then it waits (at most sshShutdownTimeout) for the sessions to
// end and be recorded. A nil gw (gateway disabled) returns when ctx is done.
func (s *Server) serveSSH(ctx context.Context, gw *sshgw.Server) error {
	if gw == nil {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.SSHAddr)
	if err != nil {
		return fmt.Errorf("server: listen ssh %s: %w", s.cfg.SSHAddr, err)
	}
	return serveSSHListener(ctx, gw, ln, s.log)
}

// serveSSHListener is serveSSH on a given listener (tests use 127.0.0.1:0).
func serveSSHListener(ctx context.Context, gw *sshgw.Server, ln net.Listener, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("listening", "ssh", ln.Addr().String())
	err := gw.Serve(ctx, ln)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sshShutdownTimeout)
	defer cancel()
	if serr := gw.Shutdown(shutCtx); serr != nil {
		log.Warn("ssh gateway shutdown", "err", serr)
	}
	if errors.Is(err, sshgw.ErrServerClosed) {
		return nil
	}
	return err
}
