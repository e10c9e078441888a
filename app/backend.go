package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/server"
)

// Errors reported by the embedded backend. They reach the frontend through [App.Backend].
var (
	// ErrBackendNotStarted means the embedded backend was never started (the window is not up yet).
	ErrBackendNotStarted = errors.New("app: embedded backend not started")
	// ErrBackendStopped means the embedded backend has stopped (the app is shutting down, or it crashed).
	ErrBackendStopped = errors.New("app: embedded backend stopped")
	// ErrBackendTimeout means the embedded backend did not become ready in time.
	ErrBackendTimeout = errors.New("app: embedded backend not ready in time")
	// ErrBackendPanic means the embedded backend panicked; the stack is in the log.
	ErrBackendPanic = errors.New("app: embedded backend panicked")
)

// BackendInfo tells the frontend how to reach a backend. It is the answer of [App.Backend].
type BackendInfo struct {
	// BaseURL is the backend's origin, e.g. "http://127.0.0.1:41234" (no trailing slash).
	BaseURL string `json:"base_url"`
	// LaunchToken must be sent as header X-Portcullis-Launch on every request to a Local backend.
	LaunchToken string `json:"launch_token"`
	// Profile and Kind name the profile the window works with ("local" or "remote").
	Profile string `json:"profile,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

// localServer is what the desktop needs of a backend server; *server.Server provides it.
type localServer interface {
	Serve(ctx context.Context) error
	Addr() string
	Ready() <-chan struct{}
	InitialAdminPassword() string
	Close() error
}

var _ localServer = (*server.Server)(nil)

// newServerFunc builds a backend server; tests replace the real one.
type newServerFunc func(ctx context.Context, cfg config.Config, log *slog.Logger) (localServer, error)

func newRealServer(ctx context.Context, cfg config.Config, log *slog.Logger) (localServer, error) {
	return server.New(ctx, cfg, log)
}

// localConfig is the configuration of the embedded (Local profile) backend: HTTP on loopback
// at a random port, no SSH gateway, the per-launch token and the Wails page origin.
func localConfig(dataDir, token string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SSHAddr = ""        // disabled: the Local profile reaches targets through the UI only
	cfg.TLS = config.TLSOff // loopback only, guarded by the launch token
	cfg.LaunchToken = token
	cfg.AllowedOrigins = []string{wailsOrigin}
	return cfg
}

// wailsOrigin is the page origin of the Wails window on Linux (WebKitGTK).
const wailsOrigin = "wails://wails"

// newLaunchToken returns a fresh 32-byte secret, hex encoded.
func newLaunchToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("app: launch token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// embeddedBackend runs one backend server in-process, from start until stop.
type embeddedBackend struct {
	cfg       config.Config
	log       *slog.Logger // the desktop's messages about the backend
	serverLog *slog.Logger // given to the server, whose packages add their own component
	newServer newServerFunc
	onReady   func(BackendInfo) // called once, from the backend goroutine, when the backend is ready

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc // cancels the server's context; set by start
	ready   chan struct{}      // closed once the server listens or failed to start
	stopped chan struct{}      // closed once Serve returned and the server is closed
	info    BackendInfo        // valid after ready is closed, if err is nil
	err     error              // why the backend is not (or no longer) usable; guarded by mu
}

func newEmbeddedBackend(cfg config.Config, log *slog.Logger, newServer newServerFunc) *embeddedBackend {
	return &embeddedBackend{
		cfg:       cfg,
		log:       log.With("component", "desktop.backend"),
		serverLog: log,
		newServer: newServer,
		ready:     make(chan struct{}),
		stopped:   make(chan struct{}),
	}
}

// start launches the backend in the background; its context is derived from ctx and is
// cancelled by stop. Calling start twice does nothing.
func (b *embeddedBackend) start(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return
	}
	b.started = true
	ctx, b.cancel = context.WithCancel(ctx)
	go b.run(ctx)
}

func (b *embeddedBackend) run(ctx context.Context) {
	defer close(b.stopped)
	began := time.Now()
	srv, err := guard(b.log, func() (localServer, error) { return b.newServer(ctx, b.cfg, b.serverLog) })
	if err != nil {
		b.fail(fmt.Errorf("app: start embedded backend: %w", err))
		return
	}
	defer func() {
		if err := srv.Close(); err != nil {
			b.log.Warn("closing embedded backend", "err", err)
		}
	}()

	served := make(chan error, 1)
	go func() {
		_, err := guard(b.log, func() (struct{}, error) { return struct{}{}, srv.Serve(ctx) })
		served <- err
	}()

	select {
	case <-srv.Ready():
	case err := <-served:
		if err == nil {
			err = errors.New("server stopped before listening")
		}
		b.fail(fmt.Errorf("app: start embedded backend: %w", err))
		return
	}

	info := BackendInfo{BaseURL: "http://" + srv.Addr(), LaunchToken: b.cfg.LaunchToken}
	b.mu.Lock()
	b.info = info
	b.mu.Unlock()
	close(b.ready)
	b.log.Info("embedded backend ready", "base_url", info.BaseURL, "data_dir", b.cfg.DataDir,
		"took", time.Since(began).Round(time.Millisecond))
	if srv.InitialAdminPassword() != "" {
		// The password itself never goes to a log.
		b.log.Info("first start: the initial admin password is in the data dir",
			"file", filepath.Join(b.cfg.DataDir, "initial-admin-password"))
	}
	if b.onReady != nil {
		b.onReady(info)
	}

	err = <-served
	b.mu.Lock()
	b.err = ErrBackendStopped
	b.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		b.log.Info("embedded backend stopped")
	case err != nil:
		b.log.Error("embedded backend stopped unexpectedly", "err", err)
	default:
		b.log.Error("embedded backend stopped unexpectedly")
	}
}

// guard runs f and turns a panic into an error (the stack goes to the log), so that a bug in
// the backend shows up as an error in the window instead of killing the desktop app.
func guard[T any](log *slog.Logger, f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("embedded backend panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrBackendPanic, p)
		}
	}()
	return f()
}

// fail records why the backend could not start and releases the waiters.
func (b *embeddedBackend) fail(err error) {
	b.log.Error("embedded backend failed", "err", err)
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
	close(b.ready)
}

// wait blocks until the backend is ready (or failed), ctx is done or timeout passed.
func (b *embeddedBackend) wait(ctx context.Context, timeout time.Duration) (BackendInfo, error) {
	b.mu.Lock()
	started := b.started
	b.mu.Unlock()
	if !started {
		return BackendInfo{}, ErrBackendNotStarted
	}
	select {
	case <-b.ready: // settled already: answer even if ctx is done
		return b.result()
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-b.ready:
		return b.result()
	case <-ctx.Done():
		return BackendInfo{}, fmt.Errorf("app: waiting for embedded backend: %w", ctx.Err())
	case <-timer.C:
		return BackendInfo{}, ErrBackendTimeout
	}
}

// result is the outcome once ready is closed.
func (b *embeddedBackend) result() (BackendInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return BackendInfo{}, b.err
	}
	return b.info, nil
}

// stop cancels the backend and waits until it has closed, or until ctx is done.
func (b *embeddedBackend) stop(ctx context.Context) error {
	b.mu.Lock()
	started, cancel := b.started, b.cancel
	b.mu.Unlock()
	if !started {
		return nil
	}
	cancel()
	select {
	case <-b.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("app: stopping embedded backend: %w", ctx.Err())
	}
}
