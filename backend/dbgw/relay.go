package dbgw

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
)

// maxRelayConns bounds the connections a client has open through its socket
// at a time: its session, and a second one to cancel a running query (psql's
// cancel request, mariadb's KILL QUERY on Ctrl-C), with room to spare.
const maxRelayConns = 4

// relay accepts the client's connections on the unix socket in the session's
// private directory and relays each to a connection from dial.
type relay struct {
	ln      *net.UnixListener
	dial    func(ctx context.Context) (net.Conn, error)
	log     *slog.Logger
	onFirst func() // called once, when the client first connects
	cancel  context.CancelFunc
	slots   chan struct{} // one per connection being relayed
	wg      sync.WaitGroup

	mu     sync.Mutex // guards the fields below
	first  net.Conn   // dialed by Start, for the client's first connection; nil once taken
	conns  map[net.Conn]struct{}
	closed bool
}

// newRelay starts relaying on ln. first is the connection dialed up front;
// ctx carries the values for dial and ends with stop.
func newRelay(ctx context.Context, ln *net.UnixListener, first net.Conn, dial func(context.Context) (net.Conn, error), log *slog.Logger, onFirst func()) *relay {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &relay{
		ln: ln, dial: dial, log: log, onFirst: onFirst, cancel: cancel,
		slots: make(chan struct{}, maxRelayConns),
		first: first, conns: make(map[net.Conn]struct{}),
	}
	r.wg.Add(1)
	go r.serve(ctx)
	return r
}

func (r *relay) serve(ctx context.Context) {
	defer r.wg.Done()
	var once sync.Once
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.log.Warn("relay accept failed", "err", err)
			}
			return
		}
		once.Do(r.onFirst)
		select {
		case r.slots <- struct{}{}:
		default:
			r.log.Warn("client opened too many connections; refused one", "max", maxRelayConns)
			c.Close()
			continue
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() { <-r.slots }()
			r.handle(ctx, c)
		}()
	}
}

// handle relays one client connection until either side closes.
func (r *relay) handle(ctx context.Context, c net.Conn) {
	defer r.untrack(c)
	r.mu.Lock()
	up := r.first
	r.first = nil
	r.mu.Unlock()
	if up == nil {
		var err error
		up, err = r.dial(ctx)
		if err != nil {
			// The client reports the lost connection itself.
			r.log.Warn("database unreachable", "err", err)
			return
		}
	}
	if !r.track(up) {
		up.Close()
		return
	}
	defer r.untrack(up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, c)
		up.Close()
		c.Close()
	}()
	io.Copy(c, up)
	c.Close()
	up.Close()
	<-done
}

// track registers a connection for stop; it reports false once stopped.
func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	c.Close()
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// stop closes the listener and every connection and waits for the relay's
// goroutines.
func (r *relay) stop() error {
	r.cancel()
	err := r.ln.Close()
	r.mu.Lock()
	r.closed = true
	if r.first != nil {
		r.first.Close()
		r.first = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
