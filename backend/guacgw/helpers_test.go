package guacgw_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/guacgw/fakeguacd"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// checkGoroutines fails the test if goroutines of guacgw or the fake are
// still running once the test and its cleanups are done. Call it first, so
// that its cleanup runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := ourGoroutines()
			if left == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines left running:\n%s", left)
				return
			}
			time.Sleep(10 * time.Millisecond) // polling for the end of goroutines, not synchronisation
		}
	})
}

func ourGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "backend/guacgw.") || strings.Contains(g, "guacgw/fakeguacd.") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

// served is Serve's outcome.
type served struct {
	res guacgw.Result
	err error
}

// session is a Serve of a Tunnel to the fake guacd, with a browser on a
// real WebSocket.
type session struct {
	t      *testing.T
	fake   *fakeguacd.Server
	tunnel *guacgw.Tunnel
	ws     *websocket.Conn
	done   chan served
}

// sessionOpts sets up a session.
type sessionOpts struct {
	fake   fakeguacd.Options
	params guacgw.Params
	config func(*guacgw.Config)
	// fakeServer, if set, is used instead of starting one.
	fakeServer *fakeguacd.Server
	// guacdAddr, if set, is a real guacd to use instead of the fake.
	guacdAddr string
	// join, if set, joins this connection ID instead of dialing.
	join string
}

func defaultParams() guacgw.Params {
	return guacgw.Params{
		Protocol: "rdp", Hostname: "win01.example", Port: 3389,
		Username: "administrator", Password: "s3cret", Domain: "CORP",
		Security: "nla", Width: 1280, Height: 720, DPI: 96,
		Timezone: "Europe/Berlin",
	}
}

// startSession dials the fake guacd, serves the tunnel behind an httptest
// WebSocket endpoint and connects a browser to it.
func startSession(t *testing.T, o sessionOpts) *session {
	t.Helper()
	ctx := testContext(t)
	fake := o.fakeServer
	addr := o.guacdAddr
	if fake == nil && addr == "" {
		fake = fakeguacd.Start(t, o.fake)
	}
	if fake != nil {
		addr = fake.Addr()
	}
	if o.params.Protocol == "" && o.join == "" {
		o.params = defaultParams()
	}
	var (
		tun *guacgw.Tunnel
		err error
	)
	if o.join != "" {
		tun, err = guacgw.Join(ctx, addr, o.join, o.params)
	} else {
		tun, err = guacgw.Dial(ctx, addr, o.params)
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	s := &session{t: t, fake: fake, tunnel: tun, done: make(chan served, 1)}
	upgrader := websocket.Upgrader{Subprotocols: []string{guacgw.WebSocketSubprotocol}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			tun.Close()
			s.done <- served{err: err}
			return
		}
		cfg := guacgw.Config{Client: guacgw.WebSocketClient(conn), Tunnel: tun}
		if o.config != nil {
			o.config(&cfg)
		}
		res, err := guacgw.Serve(context.Background(), cfg)
		s.done <- served{res, err}
	}))
	t.Cleanup(srv.Close)
	d := websocket.Dialer{Subprotocols: []string{guacgw.WebSocketSubprotocol}}
	ws, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	if ws.Subprotocol() != guacgw.WebSocketSubprotocol {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	t.Cleanup(func() { ws.Close() })
	s.ws = ws
	return s
}

// send writes one message from the browser.
func (s *session) send(wire string) {
	s.t.Helper()
	if err := s.ws.WriteMessage(websocket.TextMessage, []byte(wire)); err != nil {
		s.t.Fatalf("browser send: %v", err)
	}
}

// read returns the instructions of the next message to the browser.
func (s *session) read() ([]guacgw.Instruction, error) {
	_ = s.ws.SetReadDeadline(time.Now().Add(testTimeout))
	_, msg, err := s.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var ins []guacgw.Instruction
	for len(msg) > 0 {
		in, n, err := guacgw.Parse(msg)
		if err != nil {
			s.t.Fatalf("browser got a malformed message %.80q: %v", msg, err)
		}
		ins = append(ins, in)
		msg = msg[n:]
	}
	return ins, nil
}

// readUntil reads until an instruction satisfies stop, and returns all
// instructions read, that one included.
func (s *session) readUntil(stop func(guacgw.Instruction) bool) []guacgw.Instruction {
	s.t.Helper()
	var all []guacgw.Instruction
	for {
		ins, err := s.read()
		if err != nil {
			s.t.Fatalf("browser read: %v (after %s)", err, opcodes(all))
		}
		for _, in := range ins {
			all = append(all, in)
			if stop(in) {
				return all
			}
		}
	}
}

// readToEnd reads until the WebSocket closes, and returns what it read and
// how it closed.
func (s *session) readToEnd() ([]guacgw.Instruction, error) {
	s.t.Helper()
	var all []guacgw.Instruction
	for {
		ins, err := s.read()
		if err != nil {
			return all, err
		}
		all = append(all, ins...)
	}
}

// result waits for Serve to return.
func (s *session) result() served {
	s.t.Helper()
	select {
	case r := <-s.done:
		return r
	case <-time.After(testTimeout):
		s.t.Fatal("Serve did not return")
		return served{}
	}
}

func opcode(op string) func(guacgw.Instruction) bool {
	return func(in guacgw.Instruction) bool { return in.Opcode == op }
}

func opcodes(ins []guacgw.Instruction) string {
	var ops []string
	for _, in := range ins {
		op := in.Opcode
		if op == "" {
			op = `""`
		}
		ops = append(ops, op)
	}
	return strings.Join(ops, " ")
}

func find(ins []guacgw.Instruction, op string) (guacgw.Instruction, bool) {
	for _, in := range ins {
		if in.Opcode == op {
			return in, true
		}
	}
	return guacgw.Instruction{}, false
}

func receivedOps(rs []fakeguacd.Received) string {
	var ops []string
	for _, r := range rs {
		ops = append(ops, r.Opcode)
	}
	return strings.Join(ops, " ")
}

// onlyConn returns the fake's single connection.
func onlyConn(t *testing.T, fake *fakeguacd.Server) *fakeguacd.Conn {
	t.Helper()
	conns, err := fake.WaitConns(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	return conns[0]
}
