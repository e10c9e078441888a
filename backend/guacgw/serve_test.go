package guacgw_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/guacgw/fakeguacd"
)

func TestServeFirstFrame(t *testing.T) {
	checkGoroutines(t)
	var sizes atomic.Value
	s := startSession(t, sessionOpts{config: func(c *guacgw.Config) {
		c.OnSize = func(w, h int) { sizes.Store([2]int{w, h}) }
	}})
	got := s.readUntil(opcode("sync"))
	if got[0].Opcode != guacgw.InternalOpcode || len(got[0].Args) != 1 || got[0].Args[0] != s.tunnel.ConnectionID() {
		t.Errorf("first instruction %v, want the tunnel UUID", got[0])
	}
	if ops := opcodes(got); ops != `"" size img blob end sync` {
		t.Errorf("got %s", ops)
	}
	if size, _ := find(got, "size"); !reflect.DeepEqual(size.Args, []string{"0", "1280", "720"}) {
		t.Errorf("size %v", size.Args)
	}
	if v := sizes.Load(); v != [2]int{1280, 720} {
		t.Errorf("OnSize got %v", v)
	}
	s.ws.Close()
	r := s.result()
	if r.err != nil || r.res.EndReason != guacgw.EndClientClosed {
		t.Errorf("got %+v, %v; want %q", r.res, r.err, guacgw.EndClientClosed)
	}
	c := onlyConn(t, s.fake)
	<-c.Closed()
	if rs := c.Received(); len(rs) != 0 {
		t.Errorf("guacd got %s, want nothing but a closed connection", receivedOps(rs))
	}
}

// TestServeBrowserDisconnects: guacamole-common-js says "disconnect" when
// the user leaves. guacd 1.6.0 crashed on early "disconnect"s, so Serve ends
// the session by closing guacd's connection instead of forwarding it.
func TestServeBrowserDisconnects(t *testing.T) {
	checkGoroutines(t)
	s := startSession(t, sessionOpts{})
	s.readUntil(opcode("sync"))
	s.send("3.key,2.97,1.1;")
	c := onlyConn(t, s.fake)
	if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) > 0 }); err != nil {
		t.Fatal(err)
	}
	s.send("5.mouse,1.1,1.1,1.0;10.disconnect;")
	r := s.result()
	if r.err != nil || r.res.EndReason != guacgw.EndClientClosed {
		t.Errorf("got %+v, %v", r.res, r.err)
	}
	<-c.Closed()
	if ops := receivedOps(c.Received()); ops != "key mouse" {
		t.Errorf("guacd got %q, want the input and then a closed connection", ops)
	}
}

// TestServeHoldsInputUntilFirstSync: guacd 1.6.0 can crash on input that
// arrives before its first frame. The fake delays its first sync; the
// browser types right away.
func TestServeHoldsInputUntilFirstSync(t *testing.T) {
	checkGoroutines(t)
	s := startSession(t, sessionOpts{fake: fakeguacd.Options{FirstSyncDelay: 300 * time.Millisecond}})
	input := []string{
		"5.mouse,2.10,2.20,1.0;",
		"3.key,5.65507,1.1;",
		"3.key,2.97,1.1;",
		"3.key,2.97,1.0;",
		"3.key,5.65507,1.0;",
		"5.mouse,2.11,2.21,1.1;",
	}
	for _, in := range input {
		s.send(in)
	}
	s.readUntil(opcode("sync"))
	c := onlyConn(t, s.fake)
	if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) >= len(input) }); err != nil {
		t.Fatal(err)
	}
	if n := c.InputBeforeSync(); n != 0 {
		t.Errorf("guacd got %d instructions before its first sync", n)
	}
	rs := c.Received()
	for i, in := range input {
		want, _, _ := guacgw.Parse([]byte(in))
		if rs[i].Opcode != want.Opcode || !reflect.DeepEqual(rs[i].Args, want.Args) {
			t.Errorf("instruction %d: got %s %v, want %v", i, rs[i].Opcode, rs[i].Args, want)
		}
		// Held for the default InputGrace after the first frame, too.
		if d := rs[i].At.Sub(c.FirstSyncSent()); d < 300*time.Millisecond {
			t.Errorf("instruction %d arrived %s after the first sync, want 300ms or more", i, d)
		}
	}
	s.ws.Close()
	s.result()
}

func TestServePing(t *testing.T) {
	checkGoroutines(t)
	s := startSession(t, sessionOpts{fake: fakeguacd.Options{SyncInterval: -1}})
	s.readUntil(opcode("sync"))
	s.send("0.,4.ping,13.1700000000123;")
	got := s.readUntil(opcode(guacgw.InternalOpcode))
	last := got[len(got)-1]
	if !reflect.DeepEqual(last.Args, []string{"ping", "1700000000123"}) {
		t.Errorf("ping answer %v", last)
	}
	s.send("3.nop;")
	c := onlyConn(t, s.fake)
	if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) > 0 }); err != nil {
		t.Fatal(err)
	}
	if ops := receivedOps(c.Received()); ops != "nop" {
		t.Errorf("guacd got %q, want only the nop", ops)
	}
	s.ws.Close()
	s.result()
}

func TestServeResize(t *testing.T) {
	checkGoroutines(t)
	var mu sync.Mutex
	var sizes [][2]int
	s := startSession(t, sessionOpts{
		fake: fakeguacd.Options{ResizeOnSize: true, SyncInterval: -1},
		config: func(c *guacgw.Config) {
			c.OnSize = func(w, h int) { mu.Lock(); sizes = append(sizes, [2]int{w, h}); mu.Unlock() }
		},
	})
	s.readUntil(opcode("sync"))
	s.send("4.size,4.1600,3.900;")
	got := s.readUntil(opcode("sync"))
	if size, _ := find(got, "size"); !reflect.DeepEqual(size.Args, []string{"0", "1600", "900"}) {
		t.Errorf("resize answer %v", size)
	}
	mu.Lock()
	if !reflect.DeepEqual(sizes, [][2]int{{1280, 720}, {1600, 900}}) {
		t.Errorf("OnSize got %v", sizes)
	}
	mu.Unlock()
	s.ws.Close()
	s.result()
}

func TestServeKill(t *testing.T) {
	checkGoroutines(t)
	killed := make(chan struct{})
	s := startSession(t, sessionOpts{config: func(c *guacgw.Config) {
		c.Killed = killed
		c.KillReason = func() string { return "Killed by admin: maintenance window" }
	}})
	s.readUntil(opcode("sync"))
	close(killed)
	got, _ := s.readToEnd()
	e, ok := find(got, "error")
	if !ok || e.Args[0] != "Killed by admin: maintenance window" || e.Args[1] != strconv.Itoa(int(guacgw.StatusSessionClosed)) {
		t.Errorf("browser got %v, want the kill reason with status 523", e)
	}
	r := s.result()
	if r.err != nil || r.res.EndReason != guacgw.EndKilled {
		t.Errorf("got %+v, %v", r.res, r.err)
	}
	c := onlyConn(t, s.fake)
	select {
	case <-c.Closed():
	case <-time.After(testTimeout):
		t.Fatal("guacd connection still open")
	}
}

func TestServeContextCanceled(t *testing.T) {
	checkGoroutines(t)
	fake := fakeguacd.Start(t, fakeguacd.Options{})
	tun, err := guacgw.Dial(testContext(t), fake.Addr(), defaultParams())
	if err != nil {
		t.Fatal(err)
	}
	client := newPipeClient()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan served, 1)
	go func() {
		res, err := guacgw.Serve(ctx, guacgw.Config{Client: client, Tunnel: tun})
		done <- served{res, err}
	}()
	client.waitFor(t, "4.sync,")
	cancel()
	r := <-done
	if r.err != nil || r.res.EndReason != guacgw.EndCanceled {
		t.Errorf("got %+v, %v", r.res, r.err)
	}
	if !strings.Contains(client.output(), "5.error,") {
		t.Error("the browser was not told")
	}
}

func TestServeIdleAndMaxDuration(t *testing.T) {
	tests := []struct {
		name   string
		config func(*guacgw.Config)
		want   string
		status guacgw.Status
	}{
		{"idle", func(c *guacgw.Config) { c.IdleTimeout = 15 * time.Minute }, guacgw.EndIdle, guacgw.StatusSessionTimeout},
		{"max duration", func(c *guacgw.Config) { c.MaxDuration = 8 * time.Hour }, guacgw.EndMaxDuration, guacgw.StatusSessionClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			clock := newFakeClock()
			s := startSession(t, sessionOpts{config: func(c *guacgw.Config) {
				c.Clock = clock.Now
				c.CheckInterval = 5 * time.Millisecond
				tt.config(c)
			}})
			s.readUntil(opcode("sync"))
			// Input keeps an idle session alive; sync answers and pings do not.
			clock.Advance(10 * time.Minute)
			s.send("3.key,2.97,1.1;")
			c := onlyConn(t, s.fake)
			if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) > 0 }); err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Minute)
			s.send("0.,4.ping,1.1;")
			s.readUntil(opcode(guacgw.InternalOpcode))
			select {
			case r := <-s.done:
				if tt.want == guacgw.EndIdle {
					t.Fatalf("ended after 10 idle minutes: %+v", r.res)
				}
				s.done <- r
			default:
			}
			clock.Advance(8 * time.Hour)
			got, _ := s.readToEnd()
			if e, ok := find(got, "error"); !ok || e.Args[1] != strconv.Itoa(int(tt.status)) {
				t.Errorf("browser got %v, want an error with status %d", e, tt.status)
			}
			r := s.result()
			if r.err != nil || r.res.EndReason != tt.want {
				t.Errorf("got %+v, %v; want %q", r.res, r.err, tt.want)
			}
		})
	}
}

func TestServeClientMalformed(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		status guacgw.Status
	}{
		{"bad length prefix", "5.abc;", guacgw.StatusClientBadRequest},
		{"non-digit length", "3.key,x.1,1.1;", guacgw.StatusClientBadRequest},
		{"length beyond the limit", "3.key,99999.a;", guacgw.StatusClientOverrun},
		{"missing terminator", "3.key,2.97,1.1", guacgw.StatusClientBadRequest},
		{"huge element without terminator", "4.blob,1.1,8000." + strings.Repeat("A", 9000), guacgw.StatusClientBadRequest},
		{"too many elements", "3.nop" + strings.Repeat(",1.a", 200) + ";", guacgw.StatusClientOverrun},
		{"bytes counted instead of characters", "4.file,1.1,10.text/plain,6.café;", guacgw.StatusClientBadRequest},
		{"not UTF-8", "4.file,1.1,10.text/plain,4.caf\xe9;", guacgw.StatusClientBadRequest},
		{"too few arguments", "5.mouse,2.10;", guacgw.StatusClientBadRequest},
		{"bad stream index", "4.blob,2.xx,4.QUJD;", guacgw.StatusClientBadRequest},
		{"message over the WebSocket limit", "4.blob,1.1,5.QUJDR;" + strings.Repeat(" ", guacgw.MaxClientMessage), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			dir := t.TempDir()
			rec, err := guacgw.CreateRecording(filepath.Join(dir, "s.guac"), guacgw.RecordingOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := startSession(t, sessionOpts{config: func(c *guacgw.Config) { c.Recorder = rec }})
			s.readUntil(opcode("sync"))
			s.send("3.key,2.97,1.1;")
			s.send(tt.msg)
			got, closeErr := s.readToEnd()
			e, ok := find(got, "error")
			var ce *websocket.CloseError
			if tt.status == 0 {
				// gorilla/websocket closes a connection over its read limit
				// itself (1009), before Serve can say anything.
				if !errors.As(closeErr, &ce) || ce.Code != websocket.CloseMessageTooBig {
					t.Errorf("browser got %v, want close code 1009", closeErr)
				}
			} else if !ok || e.Args[1] != strconv.Itoa(int(tt.status)) {
				t.Errorf("browser got %s %v, want an error with status %d", opcodes(got), e, tt.status)
			}
			r := s.result()
			if r.err == nil || !strings.HasPrefix(r.res.EndReason, "error: ") {
				t.Errorf("got %+v, %v; want an error", r.res, r.err)
			}
			t.Logf("end reason: %s", r.res.EndReason)
			c := onlyConn(t, s.fake)
			<-c.Closed()
			// The key may still have been held for the first sync when the
			// session ended; nothing else may have reached guacd.
			for _, r := range c.Received() {
				if r.Opcode != "key" && r.Opcode != "disconnect" {
					t.Errorf("guacd got %s %q", r.Opcode, r.Args)
				}
			}
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			ins := readRecording(t, filepath.Join(dir, "s.guac"))
			if _, ok := find(ins, "sync"); !ok {
				t.Errorf("recording holds %s", opcodes(ins))
			}
		})
	}
}

func TestServeClientSendsBeforeHandshake(t *testing.T) {
	checkGoroutines(t)
	// The browser may type while guacd has not even sent its first frame.
	s := startSession(t, sessionOpts{fake: fakeguacd.Options{FirstSyncDelay: 100 * time.Millisecond}})
	s.send("4.size,4.1600,3.900;")
	s.send("3.key,2.97,1.1;")
	s.send("0.,4.ping,1.1;")
	s.readUntil(opcode("sync"))
	c := onlyConn(t, s.fake)
	if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) >= 2 }); err != nil {
		t.Fatal(err)
	}
	if ops := receivedOps(c.Received()); ops != "size key" || c.InputBeforeSync() != 0 {
		t.Errorf("guacd got %q, %d before sync", ops, c.InputBeforeSync())
	}
	s.ws.Close()
	s.result()
}

func TestServeTooMuchInputBeforeFirstSync(t *testing.T) {
	checkGoroutines(t)
	s := startSession(t, sessionOpts{
		fake:   fakeguacd.Options{FirstSyncDelay: 5 * time.Second},
		config: func(c *guacgw.Config) { c.MaxPendingInput = 100 },
	})
	for range 10 {
		s.send("5.mouse,2.10,2.20,1.0;")
	}
	got, _ := s.readToEnd()
	if e, ok := find(got, "error"); !ok || e.Args[1] != strconv.Itoa(int(guacgw.StatusClientOverrun)) {
		t.Errorf("browser got %v", e)
	}
	if r := s.result(); r.err == nil {
		t.Errorf("got %+v", r.res)
	}
	if n := len(onlyConn(t, s.fake).Received()); n > 1 {
		t.Errorf("guacd got %d instructions", n)
	}
}

// TestServePolicy checks which browser instructions reach guacd.
func TestServePolicy(t *testing.T) {
	const (
		paste    = "9.clipboard,1.3,10.text/plain;"
		pasteB   = "4.blob,1.3,8.aGVsbG8=;"
		pasteE   = "3.end,1.3;"
		upload   = "4.file,1.4,10.text/plain,5.a.txt;"
		uploadB  = "4.blob,1.4,4.QUJD;"
		put      = "3.put,1.1,1.5,10.text/plain,6./a.txt;"
		mouse    = "5.mouse,2.10,2.20,1.0;"
		key      = "3.key,2.97,1.1;"
		sync     = "4.sync,13.1700000000000;"
		sel      = "6.select,3.rdp;"
		connect  = "7.connect,4.evil;"
		resize   = "4.size,4.1600,3.900;"
		get      = "3.get,1.1,1./;"
		internal = "0.,5.hello;"
	)
	all := []string{paste, pasteB, pasteE, upload, uploadB, put, mouse, key, sync, sel, connect, resize, get, internal}
	tests := []struct {
		name   string
		params func(*guacgw.Params)
		want   string
		acks   int // refused streams
	}{
		{"everything allowed", func(p *guacgw.Params) {
			p.Clipboard = guacgw.Clipboard{CopyOut: true, PasteIn: true}
			p.Drive = guacgw.Drive{Path: "/drives/a", Upload: true, Download: true}
		}, "clipboard blob end file blob put mouse key sync size get", 0},
		{"nothing allowed", func(p *guacgw.Params) {}, "mouse key sync size get", 3},
		{"paste only", func(p *guacgw.Params) {
			p.Clipboard.PasteIn = true
			p.Drive = guacgw.Drive{Path: "/drives/a", Download: true}
		}, "clipboard blob end mouse key sync size get", 2},
		{"read-only", func(p *guacgw.Params) {
			p.ReadOnly = true
			p.Clipboard = guacgw.Clipboard{CopyOut: true, PasteIn: true}
			p.Drive = guacgw.Drive{Path: "/drives/a", Upload: true, Download: true}
		}, "sync", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			p := defaultParams()
			tt.params(&p)
			s := startSession(t, sessionOpts{params: p, fake: fakeguacd.Options{SyncInterval: -1}})
			s.readUntil(opcode("sync"))
			for _, in := range all {
				s.send(in)
			}
			s.send("3.nop;") // the end marker
			c := onlyConn(t, s.fake)
			if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool {
				return len(rs) > 0 && rs[len(rs)-1].Opcode == "nop"
			}); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSuffix(receivedOps(c.Received()), " nop")
			if got != tt.want {
				t.Errorf("guacd got %q, want %q", got, tt.want)
			}
			s.send("0.,4.ping,1.1;")
			ins := s.readUntil(opcode(guacgw.InternalOpcode))
			acks := 0
			for _, in := range ins {
				if in.Opcode == "ack" {
					acks++
					if in.Args[2] != strconv.Itoa(int(guacgw.StatusClientForbidden)) {
						t.Errorf("ack %v", in.Args)
					}
				}
			}
			if acks != tt.acks {
				t.Errorf("browser got %d refusals, want %d", acks, tt.acks)
			}
			s.ws.Close()
			r := s.result()
			if r.res.Dropped == 0 {
				t.Errorf("nothing counted as dropped")
			}
		})
	}
}

func TestServeDownloadPolicy(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		t.Run("download allowed="+strconv.FormatBool(allowed), func(t *testing.T) {
			checkGoroutines(t)
			p := defaultParams()
			p.Drive = guacgw.Drive{Path: "/drives/a", Download: allowed}
			s := startSession(t, sessionOpts{params: p, fake: fakeguacd.Options{Download: true, SyncInterval: -1}})
			s.readUntil(opcode("sync"))
			got := s.readUntil(opcode("sync"))
			_, sawFile := find(got, "file")
			if sawFile != allowed {
				t.Errorf("browser got %s", opcodes(got))
			}
			c := onlyConn(t, s.fake)
			if !allowed {
				if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) > 0 }); err != nil {
					t.Fatal(err)
				}
				r := c.Received()[0]
				if r.Opcode != "ack" || r.Args[0] != "7" || r.Args[2] != "771" {
					t.Errorf("guacd got %s %v, want a refusal of stream 7", r.Opcode, r.Args)
				}
			}
			s.ws.Close()
			s.result()
		})
	}
}

// TestServeUTF16Lengths: guacamole-common-js 1.5 counts UTF-16 code units;
// guacd counts code points. An emoji in a file name must reach guacd intact.
func TestServeUTF16Lengths(t *testing.T) {
	checkGoroutines(t)
	p := defaultParams()
	p.Drive = guacgw.Drive{Path: "/drives/a", Upload: true}
	s := startSession(t, sessionOpts{params: p, fake: fakeguacd.Options{SyncInterval: -1}})
	s.readUntil(opcode("sync"))
	// "😀.txt" is 5 code points, 6 UTF-16 code units.
	s.send("4.file,1.1,10.text/plain,6.😀.txt;")
	s.send("4.file,1.2,10.text/plain,5.😀.txt;") // and a client that counts right
	c := onlyConn(t, s.fake)
	if err := c.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) >= 2 }); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Received() {
		if r.Args[2] != "😀.txt" {
			t.Errorf("guacd got file name %q", r.Args[2])
		}
	}
	s.ws.Close()
	s.result()
}

func TestServeGuacdClosesMidStream(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	rec, err := guacgw.CreateRecording(filepath.Join(dir, "s.guac"), guacgw.RecordingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := startSession(t, sessionOpts{
		fake:   fakeguacd.Options{CloseAfter: 8, SyncInterval: time.Millisecond},
		config: func(c *guacgw.Config) { c.Recorder = rec },
	})
	got, _ := s.readToEnd()
	e, ok := find(got, "error")
	if !ok || e.Args[1] != strconv.Itoa(int(guacgw.StatusUpstreamError)) {
		t.Errorf("browser got %s, want an error 515", opcodes(got))
	}
	r := s.result()
	if r.err != nil || r.res.EndReason != guacgw.EndGuacdClosed || !strings.Contains(r.res.GuacdError, "without a disconnect") {
		t.Errorf("got %+v, %v", r.res, r.err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	ins := readRecording(t, filepath.Join(dir, "s.guac"))
	// The 8 instructions guacd sent, and nothing of ours.
	if ops := opcodes(ins); ops != "size img blob end sync sync sync sync" {
		t.Errorf("recording holds %s", ops)
	}
}

// TestServeTargetUnreachable: guacd answers "ready" before it contacts the
// target, so a target it cannot reach shows up as guacd's own "error" and
// "disconnect"; the input held for the first frame never goes out.
func TestServeTargetUnreachable(t *testing.T) {
	checkGoroutines(t)
	s := startSession(t, sessionOpts{fake: fakeguacd.Options{Error: "Unable to connect to RDP server."}})
	s.send("3.key,2.97,1.1;")
	got, _ := s.readToEnd()
	if ops := opcodes(got); ops != `"" error disconnect` {
		t.Errorf("browser got %s", ops)
	}
	if e, _ := find(got, "error"); e.Args[0] != "Unable to connect to RDP server." || e.Args[1] != "519" {
		t.Errorf("error %v", e.Args)
	}
	r := s.result()
	if r.err != nil || r.res.EndReason != guacgw.EndGuacdClosed || r.res.GuacdError != "Unable to connect to RDP server." {
		t.Errorf("got %+v, %v", r.res, r.err)
	}
	if n := len(onlyConn(t, s.fake).Received()); n != 0 {
		t.Errorf("guacd got %d instructions", n)
	}
}

func TestServeGuacdMalformed(t *testing.T) {
	tests := []struct {
		name    string
		garbage string
	}{
		{"bad length prefix", "4.sync,x.1;"},
		{"not an instruction", "HTTP/1.1 400 Bad Request\r\n\r\n"},
		{"huge element", "4.blob,1.1,99999999." + strings.Repeat("A", 100)},
		{"wrong terminator", "4.sync,1.1:"},
		{"cut short", "4.sync,13.17"}, // and the fake keeps sending
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			dir := t.TempDir()
			rec, err := guacgw.CreateRecording(filepath.Join(dir, "s.guac"), guacgw.RecordingOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := startSession(t, sessionOpts{
				fake:   fakeguacd.Options{Garbage: []byte(tt.garbage), SyncInterval: time.Millisecond},
				config: func(c *guacgw.Config) { c.Recorder = rec },
			})
			got, _ := s.readToEnd()
			if e, ok := find(got, "error"); !ok || e.Args[1] != strconv.Itoa(int(guacgw.StatusUpstreamError)) {
				t.Errorf("browser got %s", opcodes(got))
			}
			r := s.result()
			if r.err == nil || !strings.HasPrefix(r.res.EndReason, "error: from guacd") {
				t.Errorf("got %+v, %v", r.res, r.err)
			}
			t.Logf("end reason: %s", r.res.EndReason)
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			ins := readRecording(t, filepath.Join(dir, "s.guac"))
			if ops := opcodes(ins); !strings.HasPrefix(ops, "size img blob end sync") {
				t.Errorf("recording holds %s", ops)
			}
		})
	}
}

func TestServeRecording(t *testing.T) {
	tests := []struct {
		name       string
		keys, mice bool
	}{
		{"output only", false, false},
		{"with keys", true, false},
		{"with mouse", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			path := filepath.Join(t.TempDir(), "s.guac")
			rec, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{})
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			s := startSession(t, sessionOpts{
				fake: fakeguacd.Options{SyncInterval: -1},
				config: func(c *guacgw.Config) {
					c.Recorder, c.RecordKeys, c.RecordMouse, c.Clock = rec, tt.keys, tt.mice, clock.Now
				},
			})
			browser := s.readUntil(opcode("sync"))
			s.send("3.key,2.97,1.1;")
			s.send("5.mouse,2.10,2.20,1.0;")
			s.send("0.,4.ping,1.1;")
			s.readUntil(opcode(guacgw.InternalOpcode))
			s.ws.Close()
			s.result()
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			ins := readRecording(t, path)
			want := "size img blob end sync"
			if tt.keys {
				want += " key"
			}
			if tt.mice {
				want += " mouse"
			}
			if got := opcodes(ins); got != want {
				t.Errorf("recording holds %q, want %q", got, want)
			}
			// What the browser saw, byte for byte, after the tunnel UUID.
			for i, in := range browser[1:] {
				if ins[i].String() != in.String() {
					t.Errorf("instruction %d: recorded %v, browser got %v", i, ins[i], in)
				}
			}
			if k, ok := find(ins, "key"); ok {
				ts := strconv.FormatInt(clock.Now().UnixMilli(), 10)
				if !reflect.DeepEqual(k.Args, []string{"97", "1", ts}) {
					t.Errorf("key recorded as %v, want keysym, pressed, timestamp", k.Args)
				}
			}
		})
	}
}

func TestServeRecordingFailure(t *testing.T) {
	for _, require := range []bool{false, true} {
		t.Run("require="+strconv.FormatBool(require), func(t *testing.T) {
			checkGoroutines(t)
			s := startSession(t, sessionOpts{config: func(c *guacgw.Config) {
				c.Recorder = failingWriter{}
				c.RequireRecording = require
			}})
			if require {
				got, _ := s.readToEnd()
				if _, ok := find(got, "sync"); ok {
					t.Error("unrecorded output reached the browser")
				}
				if r := s.result(); r.err == nil || !strings.Contains(r.res.EndReason, "recording") {
					t.Errorf("got %+v, %v", r.res, r.err)
				}
				return
			}
			s.readUntil(opcode("sync"))
			s.readUntil(opcode("sync"))
			s.ws.Close()
			if r := s.result(); r.err != nil {
				t.Errorf("got %v", r.err)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestServeJoinReadOnlyWatcher(t *testing.T) {
	checkGoroutines(t)
	owner := startSession(t, sessionOpts{fake: fakeguacd.Options{SyncInterval: -1}})
	owner.readUntil(opcode("sync"))
	watcher := startSession(t, sessionOpts{
		fakeServer: owner.fake,
		join:       owner.tunnel.ConnectionID(),
		params:     guacgw.Params{ReadOnly: true, Width: 800, Height: 600},
	})
	watcher.readUntil(opcode("sync"))
	watcher.send("3.key,2.97,1.1;")
	watcher.send("4.sync,1.1;")
	conns, err := owner.fake.WaitConns(testContext(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	w := conns[1]
	if err := w.WaitReceived(testContext(t), func(rs []fakeguacd.Received) bool { return len(rs) > 0 }); err != nil {
		t.Fatal(err)
	}
	if ops := receivedOps(w.Received()); ops != "sync" || w.Params["read-only"] != "true" {
		t.Errorf("watcher's guacd connection got %q, read-only %q", ops, w.Params["read-only"])
	}
	watcher.ws.Close()
	owner.ws.Close()
	watcher.result()
	owner.result()
}

func TestServeInvalidConfig(t *testing.T) {
	client := newPipeClient()
	_, err := guacgw.Serve(context.Background(), guacgw.Config{Client: client})
	if err == nil {
		t.Fatal("no error without a Tunnel")
	}
	if !client.isClosed() {
		t.Error("client left open")
	}
}

// readRecording parses a .guac file back into instructions.
func readRecording(t *testing.T, path string) []guacgw.Instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := guacgw.NewReader(f, guacgw.MaxServerInstruction)
	var ins []guacgw.Instruction
	for {
		in, _, err := rd.Read()
		if err == io.EOF {
			return ins
		}
		if err != nil {
			t.Fatalf("recording does not parse after %s: %v", opcodes(ins), err)
		}
		ins = append(ins, in)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// pipeClient is an in-memory Client: it reads nothing until closed and
// keeps what it is sent.
type pipeClient struct {
	mu      sync.Mutex
	out     strings.Builder
	changed chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func newPipeClient() *pipeClient {
	return &pipeClient{changed: make(chan struct{}), closed: make(chan struct{})}
}

func (c *pipeClient) ReadMessage() ([]byte, error) {
	<-c.closed
	return nil, io.EOF
}

func (c *pipeClient) WriteMessage(p []byte) error {
	select {
	case <-c.closed:
		return io.ErrClosedPipe
	default:
	}
	c.mu.Lock()
	c.out.Write(p)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return nil
}

func (c *pipeClient) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *pipeClient) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *pipeClient) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *pipeClient) waitFor(t *testing.T, s string) {
	t.Helper()
	ctx := testContext(t)
	for {
		c.mu.Lock()
		ok := strings.Contains(c.out.String(), s)
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("never got %q", s)
		}
	}
}
