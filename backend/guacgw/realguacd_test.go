package guacgw_test

import (
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/portcullis/portcullis/backend/guacgw"
)

// realGuacd returns the address of a real guacd (GUACD_ADDR) and of a
// server it can reach (GUACD_TARGET, host:port), VNC unless
// GUACD_TARGET_PROTOCOL says "rdp" (then with ignore-cert), with
// GUACD_TARGET_USERNAME and GUACD_TARGET_PASSWORD if set; otherwise it skips
// the test. See README.md for a setup.
func realGuacd(tb testing.TB) (addr string, target guacgw.Params) {
	tb.Helper()
	addr = os.Getenv("GUACD_ADDR")
	if addr == "" {
		tb.Skip("GUACD_ADDR not set: real guacd tests skipped (guacd is not packaged in Debian; see README)")
	}
	t := os.Getenv("GUACD_TARGET")
	if t == "" {
		tb.Skip("GUACD_TARGET not set: the real guacd tests need a VNC or RDP server (host:port) that guacd can reach; see README")
	}
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		tb.Fatalf("GUACD_TARGET: %v", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		tb.Fatalf("GUACD_TARGET port: %v", err)
	}
	proto := os.Getenv("GUACD_TARGET_PROTOCOL")
	if proto == "" {
		proto = "vnc"
	}
	return addr, guacgw.Params{
		Protocol: proto, Hostname: host, Port: p,
		Username:   os.Getenv("GUACD_TARGET_USERNAME"),
		Password:   os.Getenv("GUACD_TARGET_PASSWORD"),
		IgnoreCert: proto == "rdp",
		Width:      1024, Height: 768,
	}
}

// TestRealGuacd runs a VNC session through a real guacd: the handshake is
// accepted (guacd logs "Client is using protocol version VERSION_1_5_0"),
// a size and a sync reach the browser, input typed before the first frame
// is held, and a read-only watcher can join.
func TestRealGuacd(t *testing.T) {
	addr, target := realGuacd(t)
	if err := guacgw.Ping(testContext(t), addr); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	s := startSessionAt(t, addr, target)
	// Typed before the first frame: held until guacd's first sync.
	s.send("5.mouse,2.10,2.10,1.0;")
	// With RDP, guacd's first sync may come before the desktop's size.
	var size guacgw.Instruction
	got := s.readUntil(func(in guacgw.Instruction) bool {
		if in.Opcode == "size" && len(in.Args) == 3 && in.Args[0] == "0" {
			size = in
		}
		return in.Opcode == "sync" && size.Opcode != ""
	})
	if size.Opcode == "" {
		t.Fatalf("browser got %s, want a size of layer 0", opcodes(got))
	}
	t.Logf("remote screen %sx%s, first frame in %d instructions", size.Args[1], size.Args[2], len(got))
	// Answer the sync, as guacamole-common-js does.
	s.send(guacgw.NewInstruction("sync", got[len(got)-1].Args[0]).String())

	watcher := startJoin(t, addr, s.tunnel.ConnectionID(), guacgw.Params{ReadOnly: true, Width: 800, Height: 600})
	if wgot := watcher.readUntil(opcode("size")); len(wgot) == 0 {
		t.Errorf("watcher got nothing")
	}
	watcher.ws.Close()
	if r := watcher.result(); r.err != nil {
		t.Errorf("watcher: %+v, %v", r.res, r.err)
	}
	s.ws.Close()
	r := s.result()
	if r.err != nil || r.res.EndReason != guacgw.EndClientClosed {
		t.Errorf("got %+v, %v", r.res, r.err)
	}
}

func startSessionAt(t *testing.T, addr string, p guacgw.Params) *session {
	t.Helper()
	return startSession(t, sessionOpts{guacdAddr: addr, params: p})
}

func startJoin(t *testing.T, addr, id string, p guacgw.Params) *session {
	t.Helper()
	return startSession(t, sessionOpts{guacdAddr: addr, join: id, params: p})
}
