// Package server wires a Portcullis backend together from its configuration:
// database, vault, audit, authentication, permissions and the HTTP API. The
// portcullisd command and the desktop app's embedded backend both run it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/bundle"
	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/desktops"
	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/httpapi"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/reach"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/sshgw"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
	"github.com/portcullis/portcullis/frontend"
)

// Server is one running backend.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	store    *store.Store
	api      *httpapi.API
	auth     *auth.Service
	sessions *session.Registry
	gw       *sshgw.Server
	tlsConf  *tls.Config // nil: plain HTTP
	tlsInfo  *TLSInfo
	dialer   *reach.Dialer
	baseLog  *slog.Logger
	// recordings indexes finished recordings in the background.
	recordings *recordings
	initial    string
	ready      chan struct{}
	addrMu     sync.Mutex // guards addr
	addr       string
	sshAddr    string
	closeMu    sync.Mutex // guards closed
	closed     bool
}

// signingKeyAAD binds the sealed recording-signing key to its purpose.
const signingKeyAAD = "portcullis/signing-key/v1"

// New opens the data dir and database and builds the API. It creates the
// initial admin on the very first start.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir %s: %w", cfg.DataDir, err)
	}
	st, err := store.Open(ctx, store.Options{DSN: cfg.DSN, DataDir: cfg.DataDir})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	if err := perm.EnsureIndexes(ctx, st.DB); err != nil {
		return nil, err
	}
	v, err := vault.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	clock := time.Now
	aud := audit.New(st.DB, log, clock)
	sets := settings.New(st.DB)
	authSvc := auth.NewService(st.DB, v, sets, aud, log, clock)
	initial, _, err := authSvc.EnsureInitialAdmin(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var proxies []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("server: trusted proxy %q: %w", p, err)
		}
		proxies = append(proxies, pfx)
	}
	var ui fs.FS
	if sub, err := fs.Sub(frontend.Dist, "dist"); err == nil {
		ui = sub
	}
	// Live sessions: close the rows a crash left open before any session starts.
	node, _ := os.Hostname()
	if node == "" {
		node = "portcullisd"
	}
	recs := newRecordings(log, cfg.DataDir, st.DB, sets, v, aud, clock)
	sessions := session.NewRegistry(st.DB, aud, log, clock, node, session.WithNotifier(session.NewMailNotifier(st.DB, sets, v, log)),
		session.WithEnded(recs.ended))
	if _, err := sessions.RecoverInterrupted(ctx); err != nil {
		return nil, err
	}
	recs.start()
	defer func() {
		if !ok {
			recs.close()
		}
	}()
	s := &Server{cfg: cfg, log: log.With("component", "server"), baseLog: log, store: st, auth: authSvc, sessions: sessions, recordings: recs, initial: initial, ready: make(chan struct{})}
	if s.tlsConf, s.tlsInfo, err = loadTLS(cfg); err != nil {
		return nil, err
	}
	resolver := perm.New(st.DB, clock)
	hk := hostkey.New(st.DB, aud, hostkey.NewMailAlarm(st.DB, sets, v, log, clock), log, clock)
	s.dialer = reach.New(st.DB, v, hk, log)
	s.gw, err = s.newSSHGateway(sshGatewayDeps{Store: st, Vault: v, Audit: aud, Settings: sets, Auth: authSvc,
		Perm: resolver, Sessions: sessions, Dialer: s.dialer, Clock: clock})
	if err != nil {
		s.dialer.Close()
		return nil, err
	}
	signer, err := bundle.LoadOrCreateSigner(cfg.DataDir,
		func(p []byte) ([]byte, error) { return v.Seal(p, signingKeyAAD) },
		func(p []byte) ([]byte, error) { return v.Unseal(p, signingKeyAAD) })
	if err != nil {
		s.dialer.Close()
		return nil, fmt.Errorf("server: signing key: %w", err)
	}
	desk, err := desktops.New(desktops.Config{RecordingDir: filepath.Join(cfg.DataDir, "recordings"), GuacdAddr: cfg.GuacdAddr},
		desktops.Deps{DB: st.DB, Perm: resolver, Vault: v, Audit: aud, Settings: sets, Sessions: sessions, Log: log, Clock: clock})
	if err != nil {
		s.dialer.Close()
		return nil, err
	}
	s.api = httpapi.New(httpapi.Deps{
		Store: st, Auth: authSvc, Perm: resolver, Vault: v, Audit: aud, Settings: sets, Log: log, Clock: clock,
		UI: ui, AllowedOrigins: cfg.AllowedOrigins, TrustedProxies: proxies, LaunchToken: cfg.LaunchToken,
		MaxBodyBytes: cfg.MaxBodyBytes, Registry: prometheus.NewRegistry(), Sessions: sessions, Terminals: s.gw, Desktops: desk, Signer: signer, Recordings: recs,
		SetupDir: cfg.DataDir, RecordingDir: filepath.Join(cfg.DataDir, "recordings"),
	})
	ok = true
	return s, nil
}

// Handler returns the HTTP handler (API, UI, health, metrics).
func (s *Server) Handler() http.Handler { return s.api }

// API returns the REST API.
func (s *Server) API() *httpapi.API { return s.api }

// Sessions returns the registry of this node's live sessions.
func (s *Server) Sessions() *session.Registry { return s.sessions }

// Store returns the database.
func (s *Server) Store() *store.Store { return s.store }

// InitialAdminPassword is the one-time admin password, set only on the very first start.
func (s *Server) InitialAdminPassword() string { return s.initial }

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// TLS describes the HTTP listener's certificate; nil when TLS is off.
func (s *Server) TLS() *TLSInfo { return s.tlsInfo }

// Scheme is "https" or "http".
func (s *Server) Scheme() string {
	if s.tlsConf != nil {
		return "https"
	}
	return "http"
}

// Addr is the HTTP listen address once listening.
func (s *Server) Addr() string {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	return s.addr
}

// SSHAddr is the SSH gateway's listen address once listening ("" when disabled).
func (s *Server) SSHAddr() string {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	return s.sshAddr
}

// Serve listens on the configured addresses (HTTP, and SSH unless disabled)
// and serves until ctx is done or one of them fails.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", s.cfg.HTTPAddr, err)
	}
	var sshLn net.Listener
	if s.cfg.SSHAddr != "" {
		if sshLn, err = net.Listen("tcp", s.cfg.SSHAddr); err != nil {
			ln.Close()
			return fmt.Errorf("server: listen ssh %s: %w", s.cfg.SSHAddr, err)
		}
	}
	return s.ServeListeners(ctx, ln, sshLn)
}

// ServeListener serves HTTP on ln (and no SSH) until ctx is done.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	return s.ServeListeners(ctx, ln, nil)
}

// ServeListeners serves HTTP on ln and, when sshLn is not nil, the SSH
// gateway on sshLn, until ctx is done or one fails; then both shut down.
func (s *Server) ServeListeners(ctx context.Context, ln, sshLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sshErr := make(chan error, 1)
	if sshLn != nil && s.gw != nil {
		s.addrMu.Lock()
		s.sshAddr = sshLn.Addr().String()
		s.addrMu.Unlock()
		go func() {
			err := serveSSHListener(ctx, s.gw, sshLn, s.log)
			if err != nil {
				cancel() // take HTTP down with it
			}
			sshErr <- err
		}()
	} else {
		if sshLn != nil {
			sshLn.Close()
		}
		// No SSH listener: the gateway still runs the web terminals, which
		// end (and record their end) when the server stops.
		go func() {
			<-ctx.Done()
			shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sshShutdownTimeout)
			defer cancel()
			if err := s.gw.Shutdown(shutCtx); err != nil {
				s.log.Warn("web terminals shutdown", "err", err)
			}
			sshErr <- nil
		}()
	}
	httpErr := s.serveHTTP(ctx, ln)
	cancel()
	if err := <-sshErr; err != nil {
		return err
	}
	return httpErr
}

// serveHTTP serves HTTP on ln until ctx is done, then shuts down gracefully.
func (s *Server) serveHTTP(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.addrMu.Lock()
	s.addr = ln.Addr().String()
	s.addrMu.Unlock()
	if s.tlsConf != nil {
		ln = tls.NewListener(ln, s.tlsConf)
		s.log.Info("TLS", "certificate", s.tlsInfo.CertFile, "sha256", s.tlsInfo.Fingerprint, "self_signed", s.tlsInfo.SelfSigned)
	}
	s.log.Info("listening", "http", s.addr, "ssh", s.sshAddr, "scheme", s.Scheme())
	close(s.ready)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: http: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: http: %w", err)
	}
	return nil
}

// Close releases the database.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.dialer != nil {
		s.dialer.Close()
	}
	s.recordings.close()
	return s.store.Close()
}
