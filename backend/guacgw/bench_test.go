package guacgw_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wwt/guac"

	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/guacgw/fakeguacd"
)

// The benchmarks compare a session through Portcullis (Dial, Serve, a
// WebSocket to a Go "browser" on loopback) with a direct connection to the
// same guacd. They run against the fake guacd, or against a real guacd and
// VNC server when GUACD_ADDR and GUACD_TARGET are set (see README.md).
//
//	go test -run='^$' -bench=. -benchtime=20x ./backend/guacgw/

// benchGuacd returns the guacd to benchmark against, and whether it is real.
func benchGuacd(b *testing.B, opts fakeguacd.Options) (string, guacgw.Params, bool) {
	if os.Getenv("GUACD_ADDR") != "" && os.Getenv("GUACD_TARGET") != "" {
		addr, p := realGuacd(b)
		return addr, p, true
	}
	fake, err := fakeguacd.Listen("127.0.0.1:0", opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fake.Close)
	return fake.Addr(), defaultParams(), false
}

// benchEndpoint serves Portcullis' side: each WebSocket gets a Dial to guacd
// and a Serve, as the HTTP handler does. With "?start=1" the handler waits
// for a first message from the browser before it dials, so that a benchmark
// can start its timer at Dial.
func benchEndpoint(b *testing.B, addr string, p guacgw.Params) string {
	upgrader := websocket.Upgrader{Subprotocols: []string{guacgw.WebSocketSubprotocol}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if r.URL.Query().Get("start") != "" {
			if _, _, err := conn.ReadMessage(); err != nil {
				conn.Close()
				return
			}
		}
		tun, err := guacgw.Dial(r.Context(), addr, p)
		if err != nil {
			conn.Close()
			return
		}
		_, _ = guacgw.Serve(context.Background(), guacgw.Config{Client: guacgw.WebSocketClient(conn), Tunnel: tun})
	}))
	b.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialBrowser(b *testing.B, url string) *websocket.Conn {
	d := websocket.Dialer{Subprotocols: []string{guacgw.WebSocketSubprotocol}, ReadBufferSize: 64 << 10}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ws
}

// directDial performs the handshake on a plain TCP connection.
func directDial(b *testing.B, addr string, p guacgw.Params) (net.Conn, *guacgw.Reader) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	rd := guacgw.NewReader(conn, guacgw.MaxServerInstruction)
	write := func(in guacgw.Instruction) {
		if _, err := conn.Write(in.Append(nil)); err != nil {
			b.Fatal(err)
		}
	}
	write(guacgw.NewInstruction("select", p.Protocol))
	args, _, err := rd.Read()
	if err != nil {
		b.Fatal(err)
	}
	write(guacgw.NewInstruction("size", "1280", "720", "96"))
	write(guacgw.NewInstruction("audio"))
	write(guacgw.NewInstruction("video"))
	write(guacgw.NewInstruction("image", "image/png", "image/jpeg"))
	write(guacgw.NewInstruction("connect", p.Args(args.Args)...))
	if ready, _, err := rd.Read(); err != nil || ready.Opcode != "ready" {
		b.Fatalf("ready: %v, %v", ready, err)
	}
	return conn, rd
}

// BenchmarkFirstFrame measures the time from Dial to the first sync reaching
// the client: "direct" with github.com/wwt/guac (net.Dial, guac.NewStream,
// Handshake, ReadSome until the sync), "direct-guacgw" the same with
// guacgw's handshake and Reader, "portcullis" from the browser's
// go-ahead on an open WebSocket through Dial and Serve to the message with
// the sync in the browser, and "portcullis+websocket" the same with the
// WebSocket's own connection and upgrade counted in.
func BenchmarkFirstFrame(b *testing.B) {
	addr, p, real := benchGuacd(b, fakeguacd.Options{SyncInterval: -1})
	if real {
		b.Logf("real guacd at %s, VNC target %s:%d", addr, p.Hostname, p.Port)
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			cfg := guac.NewGuacamoleConfiguration()
			cfg.Protocol = p.Protocol
			cfg.Parameters = map[string]string{"VERSION_1_5_0": "VERSION_1_5_0", "hostname": p.Hostname,
				"port": itoa(p.Port), "password": p.Password, "username": p.Username}
			cfg.OptimalScreenWidth, cfg.OptimalScreenHeight = 1280, 720
			cfg.ImageMimetypes = []string{"image/png", "image/jpeg"}
			st := guac.NewStream(nc, 15*time.Second)
			if err := st.Handshake(cfg); err != nil {
				b.Fatal(err)
			}
			for {
				in, err := st.ReadSome()
				if err != nil {
					b.Fatal(err)
				}
				if bytes.HasPrefix(in, []byte("4.sync,")) {
					break
				}
			}
			nc.Close()
		}
	})
	b.Run("direct-guacgw", func(b *testing.B) {
		// The same with guacgw's handshake and Reader: the relay's cost
		// without wwt/guac's.
		for b.Loop() {
			conn, rd := directDial(b, addr, p)
			readUntilSync(b, rd)
			conn.Close()
		}
	})
	untilSync := func(ws *websocket.Conn) {
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if bytes.Contains(msg, []byte("4.sync,")) {
				return
			}
		}
	}
	b.Run("portcullis", func(b *testing.B) {
		url := benchEndpoint(b, addr, p) + "/?start=1"
		for range b.N {
			b.StopTimer()
			ws := dialBrowser(b, url)
			b.StartTimer()
			if err := ws.WriteMessage(websocket.TextMessage, []byte("3.nop;")); err != nil {
				b.Fatal(err)
			}
			untilSync(ws)
			b.StopTimer()
			ws.Close()
			b.StartTimer()
		}
	})
	b.Run("portcullis+websocket", func(b *testing.B) {
		url := benchEndpoint(b, addr, p)
		for b.Loop() {
			ws := dialBrowser(b, url)
			untilSync(ws)
			ws.Close()
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// streamBytes is what the fake streams per op in BenchmarkThroughput.
const streamBytes = 64 << 20

// realBudget is what one op reads from a real guacd in BenchmarkThroughput.
const realBudget = 4 << 20

// BenchmarkThroughput measures guacd's output reaching the client.
//
// With the fake, each op is a session in which the fake streams 64 MiB of
// img/blob/end as fast as it is read. "direct" reads the guacd socket and
// throws the bytes away; "direct-parsed" also splits them into
// instructions with guacgw.Reader, as any client must; "wwtguac" reads them
// with wwt/guac's Stream.ReadSome; "portcullis" goes through Serve and a
// WebSocket to a browser that reads whole messages.
//
// With a real guacd, each op reads 4 MiB of a session whose VNC screen must
// keep changing (README.md), answering every sync as a browser does; guacd's
// encoding sets the pace, and "direct" parses too, to find the syncs.
func BenchmarkThroughput(b *testing.B) {
	addr, p, real := benchGuacd(b, fakeguacd.Options{StreamBytes: streamBytes, SyncInterval: -1})
	run := func(b *testing.B, op func() int64) {
		var total int64
		for b.Loop() {
			total += op()
		}
		b.SetBytes(total / int64(b.N))
	}
	b.Run("direct", func(b *testing.B) {
		run(b, func() int64 {
			conn, rd := directDial(b, addr, p)
			defer conn.Close()
			if real {
				return readBudget(b, rd, conn)
			}
			var n int64
			for rd.Buffered() > 0 {
				_, raw, err := rd.Read()
				if err != nil {
					b.Fatal(err)
				}
				n += int64(len(raw))
			}
			m, err := io.Copy(io.Discard, conn)
			if err != nil {
				b.Fatal(err)
			}
			return n + m
		})
	})
	if !real {
		b.Run("direct-parsed", func(b *testing.B) {
			run(b, func() int64 {
				conn, rd := directDial(b, addr, p)
				defer conn.Close()
				var n int64
				for {
					_, raw, err := rd.Read()
					if err == io.EOF {
						return n
					}
					if err != nil {
						b.Fatal(err)
					}
					n += int64(len(raw))
				}
			})
		})
	}
	b.Run("wwtguac", func(b *testing.B) {
		run(b, func() int64 {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			cfg := guac.NewGuacamoleConfiguration()
			cfg.Protocol = p.Protocol
			cfg.Parameters = map[string]string{"VERSION_1_5_0": "VERSION_1_5_0", "hostname": p.Hostname,
				"port": itoa(p.Port), "password": p.Password}
			cfg.ImageMimetypes = []string{"image/png", "image/jpeg"}
			st := guac.NewStream(nc, 15*time.Second)
			if err := st.Handshake(cfg); err != nil {
				b.Fatal(err)
			}
			var n int64
			for !real || n < realBudget {
				in, err := st.ReadSome()
				if err != nil {
					if real {
						b.Fatal(err)
					}
					return n // the fake hung up
				}
				n += int64(len(in))
				if real && bytes.HasPrefix(in, []byte("4.sync,")) {
					sync, _, _ := guacgw.Parse(in)
					_, _ = st.Write(guacgw.NewInstruction("sync", sync.Args[0]).Append(nil))
				}
			}
			return n
		})
	})
	b.Run("portcullis", func(b *testing.B) {
		url := benchEndpoint(b, addr, p)
		run(b, func() int64 {
			ws := dialBrowser(b, url)
			defer ws.Close()
			var n int64
			for !real || n < realBudget {
				if real {
					_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
					_, msg, err := ws.ReadMessage()
					if err != nil {
						b.Fatalf("%v (is the target's screen changing?)", err)
					}
					n += int64(len(msg))
					answerSyncs(b, ws, msg)
					continue
				}
				_, r, err := ws.NextReader()
				if err != nil {
					return n
				}
				m, _ := io.Copy(io.Discard, r)
				n += m
			}
			return n
		})
	})
}

// readBudget reads realBudget bytes of a real guacd's output, answering its
// syncs.
func readBudget(b *testing.B, rd *guacgw.Reader, conn net.Conn) int64 {
	var n int64
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))
	for n < realBudget {
		in, raw, err := rd.Read()
		if err != nil {
			b.Fatalf("%v (is the target's screen changing?)", err)
		}
		n += int64(len(raw))
		if in.Opcode == "sync" {
			if _, err := conn.Write(guacgw.NewInstruction("sync", in.Args[0]).Append(nil)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return n
}

// answerSyncs answers the syncs in a message, as guacamole-common-js does
// once it has drawn the frame.
func answerSyncs(b *testing.B, ws *websocket.Conn, msg []byte) {
	for len(msg) > 0 {
		in, n, err := guacgw.Parse(msg)
		if err != nil {
			b.Fatal(err)
		}
		msg = msg[n:]
		if in.Opcode == "sync" {
			if err := ws.WriteMessage(websocket.TextMessage, guacgw.NewInstruction("sync", in.Args[0]).Append(nil)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// readUntilSync reads up to and including the next sync.
func readUntilSync(b *testing.B, rd *guacgw.Reader) {
	for {
		in, _, err := rd.Read()
		if err != nil {
			b.Fatal(err)
		}
		if in.Opcode == "sync" {
			return
		}
	}
}
