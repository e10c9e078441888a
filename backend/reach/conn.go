package reach

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pumpBufSize is the size of each of the two read buffers of a deadlineConn.
const pumpBufSize = 32 << 10

// deadlineConn gives read and write deadlines to a connection that has none
// (x/crypto's direct-tcpip channels answer SetDeadline with an error). A pump
// goroutine reads ahead into one of two buffers, so at most 64 KiB wait in
// memory and the SSH channel's flow control still holds the sender back.
// Read waits for the pump, the read deadline or Close. A write deadline that
// passes while a Write is blocked (the channel's window is full) closes the
// connection, as a TLS connection becomes unusable after a write timeout.
type deadlineConn struct {
	net.Conn
	raddr net.Addr

	rd deadline // read deadline

	rmu     sync.Mutex // serializes Read; guards pending, cur, rerr
	pending []byte     // unread part of cur
	cur     []byte     // the buffer pending points into, returned to free once consumed
	rerr    error      // the error that ended the pump

	chunks chan chunk    // pump -> Read
	free   chan []byte   // Read -> pump
	done   chan struct{} // closed by Close

	wmu      sync.Mutex // serializes Write
	wdMu     sync.Mutex // guards wdl
	wdl      time.Time  // write deadline
	timedOut atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

type chunk struct {
	buf []byte
	n   int
	err error
}

// withDeadlines wraps c; raddr, when not nil, replaces c.RemoteAddr.
func withDeadlines(c net.Conn, raddr net.Addr) *deadlineConn {
	d := &deadlineConn{
		Conn: c, raddr: raddr, rd: makeDeadline(),
		chunks: make(chan chunk), free: make(chan []byte, 2), done: make(chan struct{}),
	}
	d.free <- make([]byte, pumpBufSize)
	d.free <- make([]byte, pumpBufSize)
	go d.pump()
	return d
}

func (c *deadlineConn) pump() {
	for {
		var buf []byte
		select {
		case buf = <-c.free:
		case <-c.done:
			return
		}
		n, err := c.Conn.Read(buf)
		select {
		case c.chunks <- chunk{buf: buf, n: n, err: err}:
		case <-c.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read reads what the pump read, waiting until data, the deadline or Close.
func (c *deadlineConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.pending) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.cur != nil {
			c.free <- c.cur // never blocks: free holds at most the two buffers
			c.cur = nil
		}
		select {
		case <-c.done:
			return 0, net.ErrClosed
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		default:
		}
		select {
		case ch := <-c.chunks:
			c.cur, c.pending, c.rerr = ch.buf, ch.buf[:ch.n], ch.err
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		case <-c.done:
			return 0, net.ErrClosed
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Write writes p, closing the connection if the write deadline passes first.
func (c *deadlineConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wdMu.Lock()
	dl := c.wdl
	c.wdMu.Unlock()
	if dl.IsZero() {
		return c.Conn.Write(p)
	}
	wait := time.Until(dl)
	if wait <= 0 {
		return 0, os.ErrDeadlineExceeded
	}
	t := time.AfterFunc(wait, func() {
		c.timedOut.Store(true)
		c.Conn.Close()
	})
	n, err := c.Conn.Write(p)
	if !t.Stop() && c.timedOut.Load() {
		return n, os.ErrDeadlineExceeded
	}
	return n, err
}

// Close closes the connection and wakes a blocked Read.
func (c *deadlineConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// RemoteAddr is the address the connection was opened to.
func (c *deadlineConn) RemoteAddr() net.Addr {
	if c.raddr != nil {
		return c.raddr
	}
	return c.Conn.RemoteAddr()
}

// SetDeadline sets both deadlines.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline; Read returns os.ErrDeadlineExceeded after it.
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the write deadline (see deadlineConn).
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.wdMu.Lock()
	c.wdl = t
	c.wdMu.Unlock()
	return nil
}

// deadline is a channel closed when a point in time passes (as net.Pipe's).
type deadline struct {
	mu     sync.Mutex // guards timer and cancel
	timer  *time.Timer
	cancel chan struct{}
}

func makeDeadline() deadline { return deadline{cancel: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// hopAddr is the address of an asset reached through a gateway.
type hopAddr string

func (a hopAddr) Network() string { return "tcp" }
func (a hopAddr) String() string  { return string(a) }
