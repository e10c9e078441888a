package telnet

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// FuzzTelnetParse checks the IAC parser on arbitrary server bytes: it never
// panics, the way the stream is cut into reads does not change what it
// yields, escaped data decodes back to itself, and the answers to whatever
// the server sends stay bounded.
func FuzzTelnetParse(f *testing.F) {
	seeds := [][]byte{
		[]byte("plain\r\ntext"),
		iac("a", cmdIAC, cmdIAC, "b\r", 0, "c"),
		iac(cmdIAC, cmdDO, optNAWS, cmdIAC, cmdDO, optTTYPE, cmdIAC, cmdSB, optTTYPE, ttypeSEND, cmdIAC, cmdSE),
		iac(cmdIAC, cmdWILL, optEcho, cmdIAC, cmdWILL, optSGA, cmdIAC, cmdWILL, optBinary, cmdIAC, cmdDO, optBinary),
		iac(cmdIAC, cmdSB, optNAWS, cmdIAC, cmdIAC, cmdIAC, cmdWILL, 5),
		iac(cmdIAC, cmdSB, 200, bytes.Repeat([]byte{1}, 2000), cmdIAC, cmdSE),
		iac(cmdIAC, cmdDO, 99, cmdIAC, cmdDONT, optNAWS, cmdIAC, cmdWONT, optEcho, cmdIAC),
		{cmdIAC},
		{'\r'},
	}
	for i, s := range seeds {
		f.Add(s, uint16(i*3), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, binary bool) {
		// Chunking does not matter.
		type result struct {
			data []byte
			evs  []event
		}
		parse := func(chunks ...[]byte) result {
			p := parser{binary: binary}
			var r result
			for _, c := range chunks {
				r.data = p.parse(c, r.data, func(ev event) {
					ev.data = bytes.Clone(ev.data)
					r.evs = append(r.evs, ev)
				})
			}
			return r
		}
		whole := parse(in)
		k := 0
		if len(in) > 0 {
			k = int(cut) % (len(in) + 1)
		}
		split := parse(in[:k], in[k:])
		if !bytes.Equal(whole.data, split.data) || len(whole.evs) != len(split.evs) {
			t.Fatalf("cut at %d: got %q/%d events, want %q/%d", k, split.data, len(split.evs), whole.data, len(whole.evs))
		}
		for i := range whole.evs {
			a, b := whole.evs[i], split.evs[i]
			if a.cmd != b.cmd || a.opt != b.opt || !bytes.Equal(a.data, b.data) {
				t.Fatalf("cut at %d: event %d: got %v, want %v", k, i, b, a)
			}
		}
		if len(whole.data) > len(in) {
			t.Fatalf("got %d data bytes from %d input bytes", len(whole.data), len(in))
		}
		// In-place decoding gives the same data.
		p := parser{binary: binary}
		buf := bytes.Clone(in)
		if got := p.parse(buf, buf[:0], func(event) {}); !bytes.Equal(got, whole.data) {
			t.Fatalf("in place: got %q, want %q", got, whole.data)
		}
		// Escaping round-trips any data.
		enc := appendData(nil, in, binary)
		if got := parse(enc); !bytes.Equal(got.data, in) || len(got.evs) != 0 {
			t.Fatalf("round trip: got %q (%d events), want %q", got.data, len(got.evs), in)
		}
		// A Conn answers whatever comes, boundedly, and passes the data on.
		conn := &scriptConn{r: bytes.NewReader(in)}
		c, err := Dial(context.Background(), conn, Options{Term: "xterm-256color"})
		if err != nil {
			t.Fatal(err)
		}
		conn.written()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > len(in) {
			t.Fatalf("Conn returned %d bytes from %d", len(got), len(in))
		}
		if reply := conn.written(); len(reply) > 16*len(in) {
			t.Fatalf("%d reply bytes to %d input bytes", len(reply), len(in))
		}
	})
}
