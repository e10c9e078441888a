package app

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/config"
)

// fakeServer listens on a real loopback port, like the backend server, but serves nothing.
type fakeServer struct {
	ln         net.Listener
	ready      chan struct{}
	failServe  error         // Serve returns it at once, before listening
	crash      chan struct{} // closing it makes Serve return an error after listening
	password   string
	closed     atomic.Bool
	serveEnded atomic.Bool
}

func newFakeServer() *fakeServer {
	return &fakeServer{ready: make(chan struct{}), crash: make(chan struct{})}
}

func (f *fakeServer) Serve(ctx context.Context) error {
	defer f.serveEnded.Store(true)
	if f.failServe != nil {
		return f.failServe
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	f.ln = ln
	close(f.ready)
	select {
	case <-ctx.Done():
		return nil
	case <-f.crash:
		return errors.New("boom")
	}
}

func (f *fakeServer) Addr() string                 { return f.ln.Addr().String() }
func (f *fakeServer) Ready() <-chan struct{}       { return f.ready }
func (f *fakeServer) InitialAdminPassword() string { return f.password }
func (f *fakeServer) Close() error                 { f.closed.Store(true); return nil }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func serverFactory(srv localServer, err error) newServerFunc {
	return func(context.Context, config.Config, *slog.Logger) (localServer, error) { return srv, err }
}

func TestEmbeddedBackendLifecycle(t *testing.T) {
	srv := newFakeServer()
	srv.password = "secret"
	cfg := localConfig(t.TempDir(), "tok")
	b := newEmbeddedBackend(cfg, discardLog(), serverFactory(srv, nil))
	readyInfo := make(chan BackendInfo, 1)
	b.onReady = func(info BackendInfo) { readyInfo <- info }

	b.start(context.Background())
	b.start(context.Background()) // a second start is ignored
	info, err := b.wait(context.Background(), 5*time.Second)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if want := "http://" + srv.Addr(); info.BaseURL != want {
		t.Errorf("BaseURL = %q, want %q", info.BaseURL, want)
	}
	if info.LaunchToken != "tok" {
		t.Errorf("LaunchToken = %q, want %q", info.LaunchToken, "tok")
	}
	select {
	case got := <-readyInfo:
		if got != info {
			t.Errorf("onReady got %+v, want %+v", got, info)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("onReady was not called")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !srv.serveEnded.Load() || !srv.closed.Load() {
		t.Errorf("after stop: Serve ended %v, Close called %v; want both", srv.serveEnded.Load(), srv.closed.Load())
	}
	if _, err := b.wait(context.Background(), time.Second); !errors.Is(err, ErrBackendStopped) {
		t.Errorf("wait after stop: got %v, want %v", err, ErrBackendStopped)
	}
}

func TestEmbeddedBackendFailures(t *testing.T) {
	errNew := errors.New("database locked")
	errServe := errors.New("address in use")
	tests := []struct {
		name    string
		factory func() newServerFunc
		want    error
	}{
		{
			name:    "constructor fails",
			factory: func() newServerFunc { return serverFactory(nil, errNew) },
			want:    errNew,
		},
		{
			name: "serve fails before listening",
			factory: func() newServerFunc {
				srv := newFakeServer()
				srv.failServe = errServe
				return serverFactory(srv, nil)
			},
			want: errServe,
		},
		{
			name: "constructor panics",
			factory: func() newServerFunc {
				return func(context.Context, config.Config, *slog.Logger) (localServer, error) { panic("bad route") }
			},
			want: ErrBackendPanic,
		},
		{
			name: "serve panics",
			factory: func() newServerFunc {
				return serverFactory(&panickingServer{blockingServer{ready: make(chan struct{})}}, nil)
			},
			want: ErrBackendPanic,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newEmbeddedBackend(localConfig(t.TempDir(), "tok"), discardLog(), tt.factory())
			called := false
			b.onReady = func(BackendInfo) { called = true }
			b.start(context.Background())
			_, err := b.wait(context.Background(), 5*time.Second)
			if !errors.Is(err, tt.want) {
				t.Fatalf("wait: got %v, want %v", err, tt.want)
			}
			if err := b.stop(context.Background()); err != nil {
				t.Errorf("stop: %v", err)
			}
			if called {
				t.Error("onReady was called for a backend that never became ready")
			}
		})
	}
}

func TestEmbeddedBackendCrashAfterReady(t *testing.T) {
	srv := newFakeServer()
	b := newEmbeddedBackend(localConfig(t.TempDir(), "tok"), discardLog(), serverFactory(srv, nil))
	b.start(context.Background())
	if _, err := b.wait(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("wait: %v", err)
	}
	close(srv.crash)
	select {
	case <-b.stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("backend goroutine did not end after the server crashed")
	}
	if _, err := b.wait(context.Background(), time.Second); !errors.Is(err, ErrBackendStopped) {
		t.Errorf("wait after crash: got %v, want %v", err, ErrBackendStopped)
	}
}

func TestEmbeddedBackendWaitGivesUp(t *testing.T) {
	// A server that never gets ready: Ready stays open and Serve blocks until cancelled.
	blocked := &blockingServer{ready: make(chan struct{})}
	b := newEmbeddedBackend(localConfig(t.TempDir(), "tok"), discardLog(), serverFactory(blocked, nil))

	if _, err := b.wait(context.Background(), time.Second); !errors.Is(err, ErrBackendNotStarted) {
		t.Errorf("wait before start: got %v, want %v", err, ErrBackendNotStarted)
	}
	b.start(context.Background())
	t.Cleanup(func() { _ = b.stop(context.Background()) })

	if _, err := b.wait(context.Background(), 50*time.Millisecond); !errors.Is(err, ErrBackendTimeout) {
		t.Errorf("wait with a short timeout: got %v, want %v", err, ErrBackendTimeout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.wait(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context: got %v, want %v", err, context.Canceled)
	}
}

type blockingServer struct{ ready chan struct{} }

func (s *blockingServer) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (s *blockingServer) Addr() string                    { return "" }
func (s *blockingServer) Ready() <-chan struct{}          { return s.ready }
func (s *blockingServer) InitialAdminPassword() string    { return "" }
func (s *blockingServer) Close() error                    { return nil }

type panickingServer struct{ blockingServer }

func (*panickingServer) Serve(context.Context) error { panic("nil map") }

func TestLocalConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := localConfig(dir, "tok")
	if cfg.DataDir != dir || cfg.HTTPAddr != "127.0.0.1:0" || cfg.SSHAddr != "" || cfg.LaunchToken != "tok" {
		t.Errorf("localConfig = DataDir %q HTTPAddr %q SSHAddr %q LaunchToken %q; want %q 127.0.0.1:0, no SSH, tok",
			cfg.DataDir, cfg.HTTPAddr, cfg.SSHAddr, cfg.LaunchToken, dir)
	}
	if len(cfg.AllowedOrigins) != 1 || cfg.AllowedOrigins[0] != "wails://wails" {
		t.Errorf("AllowedOrigins = %q, want [wails://wails]", cfg.AllowedOrigins)
	}
	if err := cfg.CheckAndSetDefaults(); err != nil {
		t.Errorf("CheckAndSetDefaults: %v", err)
	}
}

func TestNewLaunchToken(t *testing.T) {
	a, err := newLaunchToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newLaunchToken()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Errorf("token %q: want 32 bytes of hex (err %v)", a, err)
	}
	if a == b {
		t.Error("two launches got the same token")
	}
}
