package sshgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// Server is the SSH gateway. It is safe for concurrent use.
type Server struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	clock func() time.Time

	hostKeys []ssh.Signer
	unauth   chan struct{} // one token per connection in its handshake
	refusals *rateLimit    // bounds the audit rows of pre-auth refusals

	mu        sync.Mutex // guards the fields below
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool

	wg sync.WaitGroup // connections
}

// New returns a gateway. It loads the host keys from cfg.HostKeyDir,
// generating them on the first start.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if err := deps.check(); err != nil {
		return nil, err
	}
	keys, err := LoadHostKeys(cfg.HostKeyDir)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, deps: deps, clock: deps.Clock,
		log:       deps.Log.With("component", "sshgw"),
		hostKeys:  keys,
		unauth:    make(chan struct{}, cfg.MaxUnauthenticated),
		refusals:  newRateLimit(deps.Clock, 60, time.Minute),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}, nil
}

// HostKeys returns the public halves of the gateway's host keys.
func (s *Server) HostKeys() []ssh.PublicKey {
	out := make([]ssh.PublicKey, len(s.hostKeys))
	for i, k := range s.hostKeys {
		out[i] = k.PublicKey()
	}
	return out
}

// ListenAndServe listens on Config.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sshgw: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx is done or Close is called; it
// then closes ln and every connection and returns ErrServerClosed (or the
// accept error that stopped it).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	s.log.InfoContext(ctx, "listening", "ssh", ln.Addr().String())
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			s.Close()
			return fmt.Errorf("sshgw: accept: %w", err)
		}
		backoff = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(context.WithoutCancel(ctx), nc)
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops the listeners and closes every connection. It does not wait
// for the sessions to record their end; Shutdown does.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// Shutdown closes the server and waits until every connection has finished
// (sessions ended and recorded) or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sshgw: shutdown: %w", ctx.Err())
	}
}

// handle serves one TCP connection: handshake and authentication within the
// limits, then its channels and requests. A panic ends the connection, never
// the server.
func (s *Server) handle(ctx context.Context, nc net.Conn) {
	remote := hostOf(nc.RemoteAddr())
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "panic in SSH connection", "remote", remote, "panic", p, "stack", string(debug.Stack()))
			nc.Close()
		}
	}()
	select {
	case s.unauth <- struct{}{}:
	default:
		nc.Close()
		s.refuse(ctx, nil, remote, "ssh.connection_refused", "too many unauthenticated connections")
		return
	}
	c := newConn(s, nc, remote)
	if !s.track(c, true) {
		<-s.unauth
		nc.Close()
		return
	}
	defer s.track(c, false)
	nc.SetDeadline(s.clock().Add(s.cfg.HandshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(nc, c.serverConfig())
	<-s.unauth
	if err != nil {
		nc.Close()
		c.handshakeFailed(ctx, err)
		return
	}
	nc.SetDeadline(time.Time{})
	c.serve(ctx, sconn, chans, reqs)
}

// track adds or removes c from the open connections; adding fails once closed.
func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	return true
}

// goSafe runs f on a goroutine that recovers from a panic and closes c.
func (s *Server) goSafe(c *conn, f func()) {
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in SSH channel", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
				c.close()
			}
		}()
		f()
	}()
}

// refuse writes the operation log row of a refusal. Refusals before
// authentication (u nil) are rate-limited so that a flood of bad connections
// cannot flood the audit log; the overflow is logged.
func (s *Server) refuse(ctx context.Context, u *store.User, remote, action, detail string) {
	if u == nil && !s.refusals.allow() {
		s.log.WarnContext(ctx, "refusal not audited (rate limit)", "action", action, "remote", remote, "detail", detail)
		return
	}
	s.oplog(ctx, u, remote, action, "", "", false, detail)
}

// oplog writes one operation log row.
func (s *Server) oplog(ctx context.Context, u *store.User, remote, action, resType, resName string, success bool, detail string) {
	row := store.OperationLog{
		Action: action, ResourceType: resType, ResourceName: cut(cleanText(resName), 256),
		RemoteAddr: cut(remote, 64), Success: success, Detail: cut(cleanText(detail), 1024),
	}
	if u != nil {
		id, org := u.ID, u.OrgID
		row.UserID, row.OrgID, row.Username = &id, &org, u.Username
	}
	if err := s.deps.Audit.Operation(context.WithoutCancel(ctx), row); err != nil {
		s.log.ErrorContext(ctx, "operation log write failed", "action", action, "err", err)
	}
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// rateLimit is a fixed-window counter.
type rateLimit struct {
	clock  func() time.Time
	n      int
	window time.Duration

	mu    sync.Mutex // guards start and count
	start time.Time
	count int
}

func newRateLimit(clock func() time.Time, n int, window time.Duration) *rateLimit {
	return &rateLimit{clock: clock, n: n, window: window}
}

func (r *rateLimit) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if now.Sub(r.start) >= r.window || now.Before(r.start) {
		r.start, r.count = now, 0
	}
	r.count++
	return r.count <= r.n
}
