package telnet

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// iac builds telnet byte strings readably.
func iac(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case int:
			b = append(b, byte(v))
		case byte:
			b = append(b, v)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		binary bool
		data   string
		events []event
	}{
		{"plain text", iac("hello\r\nworld"), false, "hello\r\nworld", nil},
		{"escaped 0xFF", iac("a", cmdIAC, cmdIAC, "b"), false, "a\xffb", nil},
		{"CR NUL is CR", iac("a\r", 0, "b"), false, "a\rb", nil},
		{"CR NUL kept in binary mode", iac("a\r", 0, "b"), true, "a\r\x00b", nil},
		{"NUL alone is data", iac("a", 0, "b"), false, "a\x00b", nil},
		{"negotiation", iac(cmdIAC, cmdWILL, optEcho, "x", cmdIAC, cmdDO, optNAWS), false, "x",
			[]event{{cmd: cmdWILL, opt: optEcho}, {cmd: cmdDO, opt: optNAWS}}},
		{"GA and NOP are commands", iac("a", cmdIAC, cmdGA, cmdIAC, cmdNOP, "b"), false, "ab",
			[]event{{cmd: cmdGA}, {cmd: cmdNOP}}},
		{"subnegotiation", iac(cmdIAC, cmdSB, optTTYPE, ttypeSEND, cmdIAC, cmdSE, "ok"), false, "ok",
			[]event{{cmd: cmdSB, opt: optTTYPE, data: []byte{ttypeSEND}}}},
		{"IAC IAC inside a subnegotiation", iac(cmdIAC, cmdSB, optNAWS, 0, cmdIAC, cmdIAC, 0, 24, cmdIAC, cmdSE), false, "",
			[]event{{cmd: cmdSB, opt: optNAWS, data: []byte{0, 255, 0, 24}}}},
		{"subnegotiation cut by a command", iac(cmdIAC, cmdSB, optTTYPE, 1, cmdIAC, cmdWILL, optSGA, "z"), false, "z",
			[]event{{cmd: cmdSB, opt: optTTYPE, data: []byte{1}}, {cmd: cmdWILL, opt: optSGA}}},
		{"stray SE ignored", iac("a", cmdIAC, cmdSE, "b"), false, "ab", nil},
		{"CR then escaped 0xFF", iac("\r", cmdIAC, cmdIAC, 0), false, "\r\xff\x00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for split := 0; split <= len(tt.in); split++ {
				p := parser{binary: tt.binary}
				var evs []event
				emit := func(ev event) {
					ev.data = bytes.Clone(ev.data)
					evs = append(evs, ev)
				}
				out := p.parse(tt.in[:split], nil, emit)
				out = p.parse(tt.in[split:], out, emit)
				if got := string(out); got != tt.data {
					t.Fatalf("split %d: got data %q, want %q", split, got, tt.data)
				}
				if len(evs) != len(tt.events) {
					t.Fatalf("split %d: got events %v, want %v", split, evs, tt.events)
				}
				for i := range evs {
					if evs[i].cmd != tt.events[i].cmd || evs[i].opt != tt.events[i].opt || !bytes.Equal(evs[i].data, tt.events[i].data) {
						t.Errorf("split %d: got event %v, want %v", split, evs[i], tt.events[i])
					}
				}
			}
		})
	}
}

func TestLongSubnegotiationIsDropped(t *testing.T) {
	var p parser
	in := iac(cmdIAC, cmdSB, optTTYPE, bytes.Repeat([]byte{'x'}, maxSubneg+10), cmdIAC, cmdSE, "after")
	var evs []event
	out := p.parse(in, nil, func(ev event) { evs = append(evs, ev) })
	if len(evs) != 0 || string(out) != "after" {
		t.Errorf("got events %v and data %q, want none and %q", evs, out, "after")
	}
}

func TestAppendData(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		binary bool
		want   []byte
	}{
		{"Enter in NVT mode", "ls\r", false, iac("ls\r", 0)},
		{"Enter in binary mode", "ls\r", true, iac("ls\r")},
		{"CR LF stays", "a\r\nb", false, iac("a\r\nb")},
		{"0xFF doubled", "a\xffb", false, iac("a", cmdIAC, cmdIAC, "b")},
		{"0xFF doubled in binary mode", "\xff", true, iac(cmdIAC, cmdIAC)},
		{"UTF-8 untouched", "日本", true, iac("日本")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appendData(nil, []byte(tt.in), tt.binary); !bytes.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// scriptConn is a net.Conn whose server side is a fixed input; writes are recorded.
type scriptConn struct {
	r   io.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *scriptConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.out.Bytes())
	c.out.Reset()
	return b
}
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

var startBytes = iac(cmdIAC, cmdWILL, optBinary, cmdIAC, cmdWILL, optNAWS, cmdIAC, cmdDO, optBinary, cmdIAC, cmdDO, optSGA, cmdIAC, cmdDO, optEcho)

func TestNegotiation(t *testing.T) {
	tests := []struct {
		name   string
		server [][]byte // each step: server bytes; the reply to it is checked
		want   [][]byte
		after  OptionState
	}{
		{
			name:   "acks of our requests are not answered; NAWS sends the size",
			server: [][]byte{iac(cmdIAC, cmdDO, optNAWS, cmdIAC, cmdWILL, optEcho, cmdIAC, cmdWILL, optSGA, cmdIAC, cmdDO, optBinary)},
			want:   [][]byte{iac(cmdIAC, cmdSB, optNAWS, 0, 132, 0, 43, cmdIAC, cmdSE)},
			after:  OptionState{SendBinary: true, NAWS: true, Echo: true, SGA: true},
		},
		{
			name:   "terminal type on request",
			server: [][]byte{iac(cmdIAC, cmdDO, optTTYPE), iac(cmdIAC, cmdSB, optTTYPE, ttypeSEND, cmdIAC, cmdSE)},
			want:   [][]byte{iac(cmdIAC, cmdWILL, optTTYPE), iac(cmdIAC, cmdSB, optTTYPE, ttypeIS, "vt100", cmdIAC, cmdSE)},
			after:  OptionState{TTYPE: true},
		},
		{
			name:   "unknown options are refused",
			server: [][]byte{iac(cmdIAC, cmdDO, 34), iac(cmdIAC, cmdWILL, 5), iac(cmdIAC, cmdDO, optEcho)},
			want:   [][]byte{iac(cmdIAC, cmdWONT, 34), iac(cmdIAC, cmdDONT, 5), iac(cmdIAC, cmdWONT, optEcho)},
		},
		{
			name:   "repeated requests are not answered again",
			server: [][]byte{iac(cmdIAC, cmdWILL, optEcho), iac(cmdIAC, cmdWILL, optEcho), iac(cmdIAC, cmdDO, optTTYPE), iac(cmdIAC, cmdDO, optTTYPE)},
			want:   [][]byte{nil, nil, iac(cmdIAC, cmdWILL, optTTYPE), nil},
			after:  OptionState{Echo: true, TTYPE: true},
		},
		{
			name:   "refusals of our requests are not answered",
			server: [][]byte{iac(cmdIAC, cmdWONT, optBinary, cmdIAC, cmdDONT, optBinary, cmdIAC, cmdDONT, optNAWS)},
			want:   [][]byte{nil},
		},
		{
			name:   "disabling an option in force is acknowledged",
			server: [][]byte{iac(cmdIAC, cmdWILL, optEcho, cmdIAC, cmdDO, optNAWS), iac(cmdIAC, cmdWONT, optEcho), iac(cmdIAC, cmdDONT, optNAWS)},
			want:   [][]byte{iac(cmdIAC, cmdSB, optNAWS, 0, 132, 0, 43, cmdIAC, cmdSE), iac(cmdIAC, cmdDONT, optEcho), iac(cmdIAC, cmdWONT, optNAWS)},
		},
		{
			name:   "the server may ask first",
			server: [][]byte{iac(cmdIAC, cmdDO, optSGA, cmdIAC, cmdWILL, optBinary)},
			want:   [][]byte{iac(cmdIAC, cmdWILL, optSGA)},
			after:  OptionState{RecvBinary: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			conn := &scriptConn{r: pr}
			c, err := Dial(context.Background(), conn, Options{Term: "vt100", Cols: 132, Rows: 43})
			if err != nil {
				t.Fatal(err)
			}
			if got := conn.written(); !bytes.Equal(got, startBytes) {
				t.Fatalf("got start %v, want %v", got, startBytes)
			}
			for i, in := range tt.server {
				go pw.Write(append(bytes.Clone(in), 'x')) // a data byte ends each step's Read
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != "x" {
					t.Fatalf("step %d: got %q, %v, want the data byte", i, buf[:n], err)
				}
				if got := conn.written(); !bytes.Equal(got, tt.want[i]) {
					t.Errorf("step %d: got reply %v, want %v", i, got, tt.want[i])
				}
			}
			if got := c.Negotiated(); got != tt.after {
				t.Errorf("got options %+v, want %+v", got, tt.after)
			}
		})
	}
}

func TestResizeSendsNAWSOnlyWhenEnabled(t *testing.T) {
	pr, pw := io.Pipe()
	conn := &scriptConn{r: pr}
	c, err := Dial(context.Background(), conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn.written()
	if err := c.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if got := conn.written(); len(got) != 0 {
		t.Errorf("got %v before NAWS was agreed, want nothing", got)
	}
	go pw.Write(iac(cmdIAC, cmdDO, optNAWS, "x"))
	c.Read(make([]byte, 8))
	if got, want := conn.written(), iac(cmdIAC, cmdSB, optNAWS, 0, 100, 0, 30, cmdIAC, cmdSE); !bytes.Equal(got, want) {
		t.Errorf("got %v, want %v (the size set before)", got, want)
	}
	tests := []struct {
		name       string
		cols, rows int
		want       []byte
	}{
		{"plain", 80, 24, iac(cmdIAC, cmdSB, optNAWS, 0, 80, 0, 24, cmdIAC, cmdSE)},
		{"255 is escaped", 255, 255, iac(cmdIAC, cmdSB, optNAWS, 0, cmdIAC, cmdIAC, 0, cmdIAC, cmdIAC, cmdIAC, cmdSE)},
		{"huge is clamped", 1 << 20, 70000, iac(cmdIAC, cmdSB, optNAWS, cmdIAC, cmdIAC, cmdIAC, cmdIAC, cmdIAC, cmdIAC, cmdIAC, cmdIAC, cmdIAC, cmdSE)},
		{"zero and negative become 1", 0, -5, iac(cmdIAC, cmdSB, optNAWS, 0, 1, 0, 1, cmdIAC, cmdSE)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Resize(tt.cols, tt.rows); err != nil {
				t.Fatal(err)
			}
			if got := conn.written(); !bytes.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWriteEscapesAndFollowsBinaryMode(t *testing.T) {
	pr, pw := io.Pipe()
	conn := &scriptConn{r: pr}
	c, err := Dial(context.Background(), conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn.written()
	c.Write([]byte("id\r\xff"))
	if got, want := conn.written(), iac("id\r", 0, cmdIAC, cmdIAC); !bytes.Equal(got, want) {
		t.Errorf("NVT: got %q, want %q", got, want)
	}
	go pw.Write(iac(cmdIAC, cmdDO, optBinary, "x"))
	c.Read(make([]byte, 8))
	conn.written()
	n, err := c.Write([]byte("id\r\xff"))
	if err != nil || n != 4 {
		t.Errorf("got %d, %v, want 4, nil", n, err)
	}
	if got, want := conn.written(), iac("id\r", cmdIAC, cmdIAC); !bytes.Equal(got, want) {
		t.Errorf("binary: got %q, want %q", got, want)
	}
}

// Conn is what term.Run relays to (term.Target).
var _ interface {
	io.Reader
	io.Writer
	Resize(cols, rows int) error
	Close() error
} = (*Conn)(nil)
