package guacgw_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wwt/guac"

	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/guacgw/fakeguacd"
)

func TestDialHandshakeParameters(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	p := defaultParams()
	p.IgnoreCert = true
	p.Clipboard = guacgw.Clipboard{CopyOut: true, PasteIn: false}
	p.Drive = guacgw.Drive{Path: "/var/lib/portcullis/drives/alice", Upload: true, Download: false}
	p.DisplayName = "Alice Example"
	tun, err := guacgw.Dial(testContext(t), fake.Addr(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	c := onlyConn(t, fake)

	if !strings.HasPrefix(tun.ConnectionID(), "$") || tun.ConnectionID() != c.ID {
		t.Errorf("ConnectionID %q, fake gave %q", tun.ConnectionID(), c.ID)
	}
	if c.Select != "rdp" || c.Version != "VERSION_1_5_0" || tun.ProtocolVersion() != "VERSION_1_5_0" {
		t.Errorf("select %q, version answered %q (tunnel %q); want rdp, VERSION_1_5_0", c.Select, c.Version, tun.ProtocolVersion())
	}
	want := map[string]string{
		"hostname": "win01.example", "port": "3389", "username": "administrator",
		"password": "s3cret", "domain": "CORP", "security": "nla", "ignore-cert": "true",
		"disable-copy": "false", "disable-paste": "true",
		"enable-drive": "true", "drive-path": "/var/lib/portcullis/drives/alice", "drive-name": "Portcullis",
		"create-drive-path": "true", "disable-download": "true", "disable-upload": "false",
		"read-only": "false", "resize-method": "display-update",
		"width": "1280", "height": "720", "dpi": "96", "timezone": "Europe/Berlin",
		// Left at guacd's defaults: nothing we do not choose is switched on.
		"recording-path": "", "enable-sftp": "", "enable-printing": "", "remote-app": "",
		"gateway-hostname": "", "wol-send-packet": "", "static-channels": "",
	}
	for name, v := range want {
		got, ok := c.Params[name]
		if !ok || got != v {
			t.Errorf("%s: got %q (sent: %v), want %q", name, got, ok, v)
		}
	}
	if len(c.Params) != len(fakeguacd.RDPArgs()) {
		t.Errorf("connect had %d values, want one per arg (%d)", len(c.Params), len(fakeguacd.RDPArgs()))
	}
	if !reflect.DeepEqual(c.Size, []string{"1280", "720", "96"}) {
		t.Errorf("size %v", c.Size)
	}
	if c.Timezone != "Europe/Berlin" || c.Name != "Alice Example" {
		t.Errorf("timezone %q, name %q", c.Timezone, c.Name)
	}
	if !reflect.DeepEqual(c.Image, []string{"image/png", "image/jpeg"}) || len(c.Audio) == 0 {
		t.Errorf("image %v, audio %v", c.Image, c.Audio)
	}
	var ops []string
	for _, h := range c.Handshake {
		in, _, _ := guacgw.Parse([]byte(h))
		ops = append(ops, in.Opcode)
	}
	if got := strings.Join(ops, " "); got != "select size audio video image timezone name connect" {
		t.Errorf("handshake order %q", got)
	}
}

func TestDialVNC(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	tun, err := guacgw.Dial(testContext(t), fake.Addr(), guacgw.Params{Protocol: "vnc", Hostname: "127.0.0.1", Port: 5901, Password: "vncpw"})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	c := onlyConn(t, fake)
	if c.Params["password"] != "vncpw" || c.Params["port"] != "5901" || c.Params["read-only"] != "false" {
		t.Errorf("params %v", c.Params)
	}
	if _, ok := c.Params["resize-method"]; ok {
		t.Error("VNC has no resize-method")
	}
	if !reflect.DeepEqual(c.Size, []string{"1024", "768", "96"}) {
		t.Errorf("default size %v", c.Size)
	}
}

// TestDialCountsCharactersNotBytes sends credentials outside ASCII: guacd
// reads element lengths in code points, so a byte count would corrupt the
// "connect" instruction. The fake parses independently of guacgw.
func TestDialCountsCharactersNotBytes(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	p := defaultParams()
	p.Username, p.Password, p.Domain = "Jürgen", "pässwörd😀密码", "ÉQUIPE"
	tun, err := guacgw.Dial(testContext(t), fake.Addr(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	c := onlyConn(t, fake)
	if c.Params["username"] != p.Username || c.Params["password"] != p.Password || c.Params["domain"] != p.Domain {
		t.Errorf("got %q %q %q", c.Params["username"], c.Params["password"], c.Params["domain"])
	}
}

func TestDialVersions(t *testing.T) {
	tests := []struct {
		announced, want string
	}{
		{"VERSION_1_5_0", "VERSION_1_5_0"},
		{"VERSION_1_1_0", "VERSION_1_1_0"},
		{"VERSION_1_7_0", "VERSION_1_5_0"}, // newer guacd: we speak what the browser speaks
		{"-", ""},                          // guacd before 1.1 announces nothing
	}
	for _, tt := range tests {
		t.Run(tt.announced, func(t *testing.T) {
			checkGoroutines(t)
			fake := fakeguacd.Start(t, fakeguacd.Options{Version: tt.announced})
			tun, err := guacgw.Dial(testContext(t), fake.Addr(), defaultParams())
			if err != nil {
				t.Fatal(err)
			}
			defer tun.Close()
			c := onlyConn(t, fake)
			if c.Version != tt.want || tun.ProtocolVersion() != tt.want {
				t.Errorf("answered %q (tunnel %q), want %q", c.Version, tun.ProtocolVersion(), tt.want)
			}
			// "timezone" needs 1.1, "name" 1.5.
			if tt.want == "" && c.Timezone != "" {
				t.Errorf("timezone sent to a 1.0 guacd")
			}
		})
	}
}

func TestArgs(t *testing.T) {
	p := guacgw.Params{Protocol: "rdp", Hostname: "h", ReadOnly: true}
	got := p.Args([]string{"VERSION_1_5_0", "hostname", "read-only", "no-such-arg", "width", "disable-copy"})
	want := []string{"VERSION_1_5_0", "h", "true", "", "1024", "true"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDialInvalidParams(t *testing.T) {
	tests := []struct {
		name string
		p    guacgw.Params
	}{
		{"no protocol", guacgw.Params{Hostname: "h"}},
		{"ssh", guacgw.Params{Protocol: "ssh", Hostname: "h"}},
		{"no host", guacgw.Params{Protocol: "rdp"}},
		{"port", guacgw.Params{Protocol: "rdp", Hostname: "h", Port: 70000}},
		{"security", guacgw.Params{Protocol: "rdp", Hostname: "h", Security: "none"}},
		{"control character", guacgw.Params{Protocol: "rdp", Hostname: "h", Password: "a\x00b"}},
		{"not UTF-8", guacgw.Params{Protocol: "rdp", Hostname: "h", Username: "\xff"}},
		{"relative drive", guacgw.Params{Protocol: "rdp", Hostname: "h", Drive: guacgw.Drive{Path: "drives/a"}}},
		{"size", guacgw.Params{Protocol: "rdp", Hostname: "h", Width: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing listens on port 1: validation comes first.
			_, err := guacgw.Dial(context.Background(), "127.0.0.1:1", tt.p)
			if !errors.Is(err, guacgw.ErrInvalidParams) {
				t.Errorf("got %v, want ErrInvalidParams", err)
			}
		})
	}
}

func TestJoinReadOnly(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	owner, err := guacgw.Dial(testContext(t), fake.Addr(), defaultParams())
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	watcher, err := guacgw.Join(testContext(t), fake.Addr(), owner.ConnectionID(), guacgw.Params{ReadOnly: true, Width: 800, Height: 600})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	conns, err := fake.WaitConns(testContext(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	w := conns[1]
	if !w.Join || w.Select != owner.ConnectionID() || w.ID != owner.ConnectionID() || watcher.ConnectionID() != owner.ConnectionID() {
		t.Errorf("join: %+v", w)
	}
	if w.Params["read-only"] != "true" || w.Params["password"] != "" {
		t.Errorf("watcher params: read-only %q, password %q", w.Params["read-only"], w.Params["password"])
	}
}

func TestJoinUnknownConnection(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	_, err := guacgw.Join(testContext(t), fake.Addr(), "$00000000-0000-4000-8000-000000000000", guacgw.Params{ReadOnly: true})
	if !errors.Is(err, guacgw.ErrConnectionNotFound) {
		t.Fatalf("got %v, want ErrConnectionNotFound", err)
	}
	if _, err := guacgw.Join(testContext(t), fake.Addr(), "rdp", guacgw.Params{}); !errors.Is(err, guacgw.ErrInvalidParams) {
		t.Fatalf("join of a protocol: got %v, want ErrInvalidParams", err)
	}
}

func TestDialWrongAnswer(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{ReadyOpcode: "rdy"})
	_, err := guacgw.Dial(testContext(t), fake.Addr(), defaultParams())
	if !errors.Is(err, guacgw.ErrHandshake) || !strings.Contains(err.Error(), `"rdy"`) {
		t.Fatalf("got %v, want ErrHandshake naming the opcode", err)
	}
}

// closedAddr returns an address where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialUnreachableFailsFast(t *testing.T) {
	checkGoroutines(t)
	addr := closedAddr(t)
	start := time.Now()
	_, err := guacgw.Dial(testContext(t), addr, defaultParams())
	if !errors.Is(err, guacgw.ErrGuacdUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v, want ErrGuacdUnreachable naming %s", err, addr)
	}
	if d := time.Since(start); d > guacgw.DialTimeout {
		t.Errorf("took %s", d)
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestDialBoundByContext(t *testing.T) {
	checkGoroutines(t)
	addr := silentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := guacgw.Dial(ctx, addr, defaultParams())
	if !errors.Is(err, guacgw.ErrHandshake) {
		t.Fatalf("got %v, want ErrHandshake", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s for a 200ms context", d)
	}
}

func TestPing(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	httpSrv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(httpSrv.Close)
	tests := []struct {
		name string
		addr string
		want error
	}{
		{"guacd", fake.Addr(), nil},
		{"nothing listening", closedAddr(t), guacgw.ErrGuacdUnreachable},
		{"an HTTP server", strings.TrimPrefix(httpSrv.URL, "http://"), guacgw.ErrNotGuacd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Short, so that the HTTP server, which waits for the end of a
			// request line, does not hold the test up.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			err := guacgw.Ping(ctx, tt.addr)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > guacgw.DialTimeout {
				t.Errorf("took %s", d)
			}
		})
	}
	t.Run("a server that never answers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := guacgw.Ping(ctx, silentServer(t)); !errors.Is(err, guacgw.ErrNotGuacd) {
			t.Fatalf("got %v, want ErrNotGuacd", err)
		}
	})
}

// TestWWTGuacVersionPitfall shows the pitfall DESIGN.md warns about with
// github.com/wwt/guac: its Handshake answers every "args" name from
// Parameters, so unless VERSION_1_5_0 is mapped to itself guacd gets "" and
// falls back to protocol 1.0.0.
func TestWWTGuacVersionPitfall(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	for i, params := range []map[string]string{
		{"hostname": "h"},
		{"hostname": "h", "VERSION_1_5_0": "VERSION_1_5_0"},
	} {
		nc, err := net.Dial("tcp", fake.Addr())
		if err != nil {
			t.Fatal(err)
		}
		cfg := guac.NewGuacamoleConfiguration()
		cfg.Protocol = "vnc"
		cfg.Parameters = params
		st := guac.NewStream(nc, 5*time.Second)
		if err := st.Handshake(cfg); err != nil {
			t.Fatal(err)
		}
		conns, err := fake.WaitConns(testContext(t), i+1)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"", "VERSION_1_5_0"}[i]
		if got := conns[i].Version; got != want {
			t.Errorf("wwt/guac with %v answered %q, want %q", params, got, want)
		}
		nc.Close()
	}
}
