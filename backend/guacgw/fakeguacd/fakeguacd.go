// Package fakeguacd is a protocol-level fake of guacd for tests: it speaks
// the real Guacamole handshake and sends size/img/sync; it renders nothing.
//
// A Server listens on 127.0.0.1:0. For each connection it reads "select" (a
// protocol, or a connection ID to join), answers "args" with a protocol
// version and guacd 1.6's argument names for RDP or VNC, reads the
// handshake up to "connect", answers "ready" with a "$<uuid>" connection ID,
// then sends "size" of layer 0, a small PNG as img/blob/end, the first
// "sync", and a sync every SyncInterval after it. Everything it receives is
// kept with its time and with whether it came before the first sync was
// sent, for tests to inspect. Options make it misbehave: delay the first
// sync, close after some instructions, send garbage, answer the handshake
// wrongly, stream bulk image data, offer a download.
//
// It parses with its own small reader, not guacgw's, so that tests of
// guacgw check one implementation against another.
package fakeguacd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Version is the protocol version the fake announces by default, the one
// guacd 1.5 and 1.6 announce.
const Version = "VERSION_1_5_0"

// RDPArgs returns guacd 1.6.0's argument names for RDP (built with SFTP
// support), in its order, without the version.
func RDPArgs() []string {
	return strings.Fields(`hostname port timeout domain username password width height dpi
		initial-program color-depth disable-audio enable-printing printer-name enable-drive
		drive-name drive-path create-drive-path disable-download disable-upload console
		console-audio server-layout security ignore-cert cert-tofu cert-fingerprints disable-auth
		remote-app remote-app-dir remote-app-args static-channels client-name enable-wallpaper
		enable-theming enable-font-smoothing enable-full-window-drag enable-desktop-composition
		enable-menu-animations disable-bitmap-caching disable-offscreen-caching
		disable-glyph-caching disable-gfx preconnection-id preconnection-blob timezone
		enable-sftp sftp-hostname sftp-host-key sftp-port sftp-timeout sftp-username
		sftp-password sftp-private-key sftp-passphrase sftp-public-key sftp-directory
		sftp-root-directory sftp-server-alive-interval sftp-disable-download sftp-disable-upload
		recording-path recording-name recording-exclude-output recording-exclude-mouse
		recording-exclude-touch recording-include-keys create-recording-path
		recording-write-existing resize-method enable-audio-input enable-touch read-only
		gateway-hostname gateway-port gateway-domain gateway-username gateway-password
		load-balance-info disable-copy disable-paste wol-send-packet wol-mac-addr
		wol-broadcast-addr wol-udp-port wol-wait-time force-lossless normalize-clipboard`)
}

// VNCArgs returns guacd 1.6.0's argument names for VNC (built with SFTP
// support), in its order, without the version.
func VNCArgs() []string {
	return strings.Fields(`hostname port read-only disable-display-resize encodings username
		password swap-red-blue color-depth cursor autoretry clipboard-encoding enable-sftp
		sftp-hostname sftp-host-key sftp-port sftp-timeout sftp-username sftp-password
		sftp-private-key sftp-passphrase sftp-public-key sftp-directory sftp-root-directory
		sftp-server-alive-interval sftp-disable-download sftp-disable-upload recording-path
		recording-name recording-exclude-output recording-exclude-mouse recording-include-keys
		create-recording-path recording-write-existing disable-copy disable-paste
		disable-server-input wol-send-packet wol-mac-addr wol-broadcast-addr wol-udp-port
		wol-wait-time force-lossless compress-level quality-level`)
}

// Options make the fake behave one way or another. The zero value is a
// well-behaved guacd.
type Options struct {
	// Version is announced first in "args" (default Version); "-" announces
	// none, as guacd before 1.1 did.
	Version string
	// FirstSyncDelay delays the first sync after the first image.
	FirstSyncDelay time.Duration
	// SyncInterval is the time between syncs after the first (default
	// 50 ms); negative sends none.
	SyncInterval time.Duration
	// CloseAfter closes the connection, without "disconnect", after sending
	// that many instructions after "ready" (0: never).
	CloseAfter int
	// Garbage is sent as is right after the first sync.
	Garbage []byte
	// ReadyOpcode replaces "ready" in the handshake's answer.
	ReadyOpcode string
	// ResizeOnSize answers a client "size" with a "size" of layer 0 and a
	// sync, as guacd does once the desktop has been resized.
	ResizeOnSize bool
	// StreamBytes, if positive, sends that many bytes of img/blob/end
	// instructions after the first sync, then "disconnect" and closes.
	StreamBytes int64
	// Download offers a file download ("file" stream) after the first sync.
	Download bool
	// Error, if set, is sent right after "ready" as an "error" instruction
	// of status 519 (UPSTREAM_NOT_FOUND, what guacd sends when it cannot
	// reach the target), followed by "disconnect"; no frame is sent.
	Error string
	// Log receives the fake's log; nil discards it.
	Log *slog.Logger
}

// Received is one instruction the fake received after the handshake.
type Received struct {
	Opcode string
	Args   []string
	At     time.Time
	// BeforeFirstSync is whether it arrived before the fake began to send
	// its first sync.
	BeforeFirstSync bool
}

// Conn is one connection to the fake, after "connect".
type Conn struct {
	// Select is what the client selected: a protocol or a connection ID.
	Select string
	// ID is the connection ID given in "ready" (the joined one for a join).
	ID string
	// Protocol is "rdp" or "vnc".
	Protocol string
	// Join is whether the client joined an existing connection.
	Join bool
	// Version is what the client answered for the announced version ("" if
	// it did not, as wwt/guac does unless told to).
	Version string
	// Params are the connect values by argument name.
	Params map[string]string
	// Size, Audio, Video, Image, Timezone, Name are the handshake's values.
	Size                []string
	Audio, Video, Image []string
	Timezone, Name      string
	// Handshake is every handshake instruction in order, "select" to
	// "connect".
	Handshake []string

	nc     net.Conn
	wmu    sync.Mutex // serialises writes
	closed chan struct{}

	mu            sync.Mutex // guards the fields below
	received      []Received
	firstSyncSent time.Time
	syncStarted   bool
	changed       chan struct{}
}

// Received returns a copy of what the connection received after the
// handshake.
func (c *Conn) Received() []Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Received(nil), c.received...)
}

// InputBeforeSync returns how many instructions arrived before the fake
// began to send its first sync.
func (c *Conn) InputBeforeSync() int {
	n := 0
	for _, r := range c.Received() {
		if r.BeforeFirstSync {
			n++
		}
	}
	return n
}

// FirstSyncSent returns when the fake sent its first sync (zero if not yet).
func (c *Conn) FirstSyncSent() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstSyncSent
}

// Closed is closed when the connection has ended.
func (c *Conn) Closed() <-chan struct{} { return c.closed }

// WaitReceived waits until done, given everything received so far, is true,
// or the connection ends, or ctx is done.
func (c *Conn) WaitReceived(ctx context.Context, done func([]Received) bool) error {
	for {
		c.mu.Lock()
		ok := done(c.received)
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-c.closed:
			if done(c.Received()) {
				return nil
			}
			return errors.New("fakeguacd: connection closed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Server is a fake guacd.
type Server struct {
	ln   net.Listener
	opts Options
	log  *slog.Logger
	png  []byte
	wg   sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	conns    []*Conn
	byID     map[string]*Conn
	live     map[net.Conn]bool
	accepted int
	changed  chan struct{}
	closed   bool
}

// Start starts a fake guacd on 127.0.0.1:0 that stops at the end of the
// test.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Listen starts a fake guacd on addr.
func Listen(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if opts.Version == "" {
		opts.Version = Version
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = 50 * time.Millisecond
	}
	if opts.ReadyOpcode == "" {
		opts.ReadyOpcode = "ready"
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		ln: ln, opts: opts, log: log.With("component", "fakeguacd"),
		png:     tinyPNG(),
		byID:    map[string]*Conn{},
		live:    map[net.Conn]bool{},
		changed: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the fake listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the fake and closes its connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for nc := range s.live {
		nc.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// Conns returns the connections that got through "connect", in order.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.conns...)
}

// WaitConns waits until n connections got through "connect" and returns
// them.
func (s *Server) WaitConns(ctx context.Context, n int) ([]*Conn, error) {
	for {
		s.mu.Lock()
		if len(s.conns) >= n {
			c := append([]*Conn(nil), s.conns...)
			s.mu.Unlock()
			return c, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("fakeguacd: waiting for %d connections: %w", n, ctx.Err())
		}
	}
}

// Stats counts what the fake has seen.
type Stats struct {
	Accepted int // TCP connections
	Conns    int // connections that got through "connect"
}

// Stats returns the fake's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Accepted: s.accepted, Conns: len(s.conns)}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.live[nc] = true
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.live, nc)
				s.mu.Unlock()
				nc.Close()
			}()
			if err := s.serve(nc); err != nil {
				s.log.Debug("connection ended", "err", err)
			}
		}()
	}
}

func (s *Server) register(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, c)
	if !c.Join {
		s.byID[c.ID] = c
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// serve runs one connection: the handshake, then the frames.
func (s *Server) serve(nc net.Conn) error {
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	sel, err := readInstruction(br)
	if err != nil {
		return err
	}
	if sel[0] != "select" || len(sel) != 2 {
		return fmt.Errorf("expected select, got %q", sel[0])
	}
	c := &Conn{Select: sel[1], nc: nc, closed: make(chan struct{}), changed: make(chan struct{}),
		Params: map[string]string{}, Handshake: []string{encode(sel...)}}
	defer close(c.closed)
	if strings.HasPrefix(sel[1], "$") {
		s.mu.Lock()
		owner := s.byID[sel[1]]
		s.mu.Unlock()
		if owner == nil {
			_, err := nc.Write([]byte(encode("error", "No such connection.", "516")))
			return err
		}
		c.Join, c.ID, c.Protocol = true, owner.ID, owner.Protocol
	} else {
		c.Protocol, c.ID = sel[1], "$"+uuid()
	}
	var names []string
	switch c.Protocol {
	case "rdp":
		names = RDPArgs()
	case "vnc":
		names = VNCArgs()
	default:
		// guacd cannot load a client plugin for it and hangs up.
		return fmt.Errorf("unsupported protocol %q", c.Protocol)
	}
	args := append([]string{"args"}, names...)
	if s.opts.Version != "-" {
		args = append([]string{"args", s.opts.Version}, names...)
	}
	if _, err := nc.Write([]byte(encode(args...))); err != nil {
		return err
	}
	for {
		in, err := readInstruction(br)
		if err != nil {
			return err
		}
		c.Handshake = append(c.Handshake, encode(in...))
		switch in[0] {
		case "size":
			c.Size = in[1:]
		case "audio":
			c.Audio = in[1:]
		case "video":
			c.Video = in[1:]
		case "image":
			c.Image = in[1:]
		case "timezone":
			if len(in) > 1 {
				c.Timezone = in[1]
			}
		case "name":
			if len(in) > 1 {
				c.Name = in[1]
			}
		case "connect":
			values := in[1:]
			if len(values) != len(args)-1 {
				// guacd answers ready, then hangs up on a wrong count.
				_, _ = nc.Write([]byte(encode(s.opts.ReadyOpcode, c.ID)))
				return fmt.Errorf("connect with %d values for %d args", len(values), len(args)-1)
			}
			for i, v := range values {
				name := args[i+1]
				if strings.HasPrefix(name, "VERSION_") {
					c.Version = v
					continue
				}
				c.Params[name] = v
			}
			s.register(c)
			_ = nc.SetReadDeadline(time.Time{})
			return s.session(c, br)
		default:
			s.log.Debug("unknown handshake instruction", "opcode", in[0])
		}
	}
}

// session runs a connection after "connect".
func (s *Server) session(c *Conn, br *bufio.Reader) error {
	sent := 0
	// send writes instructions in one write, or as many as CloseAfter
	// leaves before it closes the connection.
	send := func(ins ...[]string) error {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		var buf []byte
		for _, in := range ins {
			if s.opts.CloseAfter > 0 && sent >= s.opts.CloseAfter {
				_, _ = c.nc.Write(buf)
				c.nc.Close()
				return errors.New("closed after CloseAfter instructions")
			}
			sent++
			buf = append(buf, encode(in...)...)
		}
		_, err := c.nc.Write(buf)
		return err
	}
	if err := send([]string{s.opts.ReadyOpcode, c.ID}); err != nil {
		return err
	}
	sent = 0

	if s.opts.Error != "" {
		return send([]string{"error", s.opts.Error, "519"}, []string{"disconnect"})
	}

	readDone := make(chan error, 1)
	readExited := make(chan struct{})
	go func() {
		defer close(readExited)
		readDone <- s.readInput(c, br, send)
	}()
	defer func() {
		c.nc.Close()
		<-readExited
	}()

	w, h := "1024", "768"
	if len(c.Size) >= 2 {
		w, h = c.Size[0], c.Size[1]
	}
	// Like guacd, which buffers a frame and flushes it whole, the first
	// frame goes out in one write, with its sync unless that is delayed.
	first := [][]string{
		{"size", "0", w, h},
		{"img", "1", "14", "0", "image/png", "0", "0"},
		{"blob", "1", base64.StdEncoding.EncodeToString(s.png)},
		{"end", "1"},
	}
	if s.opts.FirstSyncDelay > 0 {
		if err := send(first...); err != nil {
			return err
		}
		first = nil
		t := time.NewTimer(s.opts.FirstSyncDelay)
		select {
		case <-t.C:
		case err := <-readDone:
			t.Stop()
			return err
		}
	}
	c.mu.Lock()
	c.syncStarted = true
	c.firstSyncSent = time.Now()
	c.mu.Unlock()
	syncInstruction := func() []string {
		return []string{"sync", strconv.FormatInt(time.Now().UnixMilli(), 10), "1"}
	}
	sync := func() error { return send(syncInstruction()) }
	if err := send(append(first, syncInstruction())...); err != nil {
		return err
	}
	if len(s.opts.Garbage) > 0 {
		c.wmu.Lock()
		_, err := c.nc.Write(s.opts.Garbage)
		c.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	if s.opts.Download {
		if err := send(
			[]string{"file", "7", "text/plain", "secret.txt"},
			[]string{"blob", "7", base64.StdEncoding.EncodeToString([]byte("top secret"))},
			[]string{"end", "7"},
			syncInstruction(),
		); err != nil {
			return err
		}
	}
	if s.opts.StreamBytes > 0 {
		if err := s.stream(c); err != nil {
			return err
		}
		_ = send([]string{"disconnect"})
		return nil
	}
	if s.opts.SyncInterval < 0 {
		return <-readDone
	}
	tick := time.NewTicker(s.opts.SyncInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-readDone:
			return err
		case <-tick.C:
			if err := sync(); err != nil {
				return err
			}
		}
	}
}

// stream sends StreamBytes of image data as quickly as the peer takes it.
func (s *Server) stream(c *Conn) error {
	blob := strings.Repeat("QUFB", 8064/4) // 8064 base64 characters, guacd's blob size
	var chunk bytes.Buffer
	for chunk.Len() < 1<<20 {
		chunk.WriteString(encode("img", "2", "14", "0", "image/png", "0", "0"))
		for range 4 {
			chunk.WriteString(encode("blob", "2", blob))
		}
		chunk.WriteString(encode("end", "2"))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for left := s.opts.StreamBytes; left > 0; {
		p := chunk.Bytes()
		if int64(len(p)) > left {
			// Whole instructions only: the last chunk may run over a little.
			p = p[:wholePrefix(p, int(left))]
		}
		if _, err := c.nc.Write(p); err != nil {
			return err
		}
		left -= int64(len(p))
	}
	return nil
}

// wholePrefix returns the length of the shortest prefix of p made of whole
// instructions that is at least n bytes.
func wholePrefix(p []byte, n int) int {
	i := bytes.IndexByte(p[n-1:], ';')
	if i < 0 {
		return len(p)
	}
	// The blob data holds no ';', so the first one is a terminator.
	return n + i
}

// readInput records what the client sends after the handshake, and answers
// "size" if asked to.
func (s *Server) readInput(c *Conn, br *bufio.Reader, send func(...[]string) error) error {
	for {
		in, err := readInstruction(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		c.mu.Lock()
		c.received = append(c.received, Received{Opcode: in[0], Args: in[1:], At: time.Now(), BeforeFirstSync: !c.syncStarted})
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		switch in[0] {
		case "disconnect":
			return nil
		case "size":
			if s.opts.ResizeOnSize && len(in) >= 3 {
				if err := send([]string{"size", "0", in[1], in[2]},
					[]string{"sync", strconv.FormatInt(time.Now().UnixMilli(), 10), "1"}); err != nil {
					return err
				}
			}
		}
	}
}

// maxElement is guacd's limit on one element, in characters.
const maxElement = 8192

// readInstruction reads one instruction, lengths in code points, as guacd
// does.
func readInstruction(br *bufio.Reader) ([]string, error) {
	var elems []string
	for {
		n := 0
		digits := 0
		for {
			b, err := br.ReadByte()
			if err != nil {
				if err == io.EOF && (digits > 0 || len(elems) > 0) {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
			if b == '.' && digits > 0 {
				break
			}
			if b < '0' || b > '9' || digits >= 5 {
				return nil, fmt.Errorf("fakeguacd: bad length prefix byte %q", b)
			}
			n = n*10 + int(b-'0')
			digits++
		}
		if n > maxElement {
			return nil, fmt.Errorf("fakeguacd: element of %d characters", n)
		}
		var sb strings.Builder
		for range n {
			r, size, err := br.ReadRune()
			if err != nil {
				return nil, io.ErrUnexpectedEOF
			}
			if r == utf8.RuneError && size == 1 {
				return nil, errors.New("fakeguacd: invalid UTF-8")
			}
			sb.WriteRune(r)
		}
		elems = append(elems, sb.String())
		t, err := br.ReadByte()
		if err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		switch t {
		case ';':
			return elems, nil
		case ',':
		default:
			return nil, fmt.Errorf("fakeguacd: bad terminator %q", t)
		}
	}
}

// encode writes an instruction, lengths in code points.
func encode(elems ...string) string {
	var sb strings.Builder
	for i, e := range elems {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(utf8.RuneCountInString(e)))
		sb.WriteByte('.')
		sb.WriteString(e)
	}
	sb.WriteByte(';')
	return sb.String()
}

// Encode returns the wire form of an instruction, for tests that need raw
// bytes.
func Encode(elems ...string) string { return encode(elems...) }

func tinyPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			img.Set(x, y, color.RGBA{R: uint8(32 * x), G: uint8(32 * y), B: 0x80, A: 0xff})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
