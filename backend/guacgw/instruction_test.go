package guacgw_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/portcullis/portcullis/backend/guacgw"
)

func TestInstructionString(t *testing.T) {
	tests := []struct {
		name string
		in   guacgw.Instruction
		want string
	}{
		{"size", guacgw.NewInstruction("size", "0", "1024", "768"), "4.size,1.0,4.1024,3.768;"},
		{"no args", guacgw.NewInstruction("nop"), "3.nop;"},
		{"empty opcode", guacgw.NewInstruction("", "ping", "123"), "0.,4.ping,3.123;"},
		{"empty arg", guacgw.NewInstruction("audio", ""), "5.audio,0.;"},
		{"two-byte characters count once", guacgw.NewInstruction("name", "café"), "4.name,4.café;"},
		{"CJK", guacgw.NewInstruction("name", "堡垒机"), "4.name,3.堡垒机;"},
		{"outside the BMP counts once", guacgw.NewInstruction("name", "a😀b"), "4.name,3.a😀b;"},
		{"separators inside elements", guacgw.NewInstruction("msg", "a,b;c.d"), "3.msg,7.a,b;c.d;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			got, n, err := guacgw.Parse([]byte(tt.want))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tt.want) || !sameInstruction(got, tt.in) {
				t.Errorf("Parse got %#v (%d bytes), want %#v (%d bytes)", got, n, tt.in, len(tt.want))
			}
		})
	}
}

func sameInstruction(a, b guacgw.Instruction) bool {
	return a.Opcode == b.Opcode && len(a.Args) == len(b.Args) && (len(a.Args) == 0 || reflect.DeepEqual(a.Args, b.Args))
}

func TestParseLeavesTheRest(t *testing.T) {
	in, n, err := guacgw.Parse([]byte("4.sync,3.123;3.nop;"))
	if err != nil || n != 13 || in.Opcode != "sync" || in.Args[0] != "123" {
		t.Fatalf("got %v, %d, %v; want sync 123, 13 bytes", in, n, err)
	}
	// Leading zeros are accepted, as guacd accepts them.
	if in, _, err := guacgw.Parse([]byte("04.sync;")); err != nil || in.Opcode != "sync" {
		t.Fatalf("leading zero: got %v, %v", in, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", io.ErrUnexpectedEOF},
		{"bad length prefix", "5.abc;", io.ErrUnexpectedEOF},
		{"non-digit in length", "x.abc;", guacgw.ErrMalformed},
		{"negative length", "-1.a;", guacgw.ErrMalformed},
		{"empty length", ".abc;", guacgw.ErrMalformed},
		{"no period", "3abc;", guacgw.ErrMalformed},
		{"missing terminator", "3.key", io.ErrUnexpectedEOF},
		{"wrong terminator", "3.key.1.a;", guacgw.ErrMalformed},
		{"element too short", "4.key;", io.ErrUnexpectedEOF},
		{"element too long", "2.key;", guacgw.ErrMalformed},
		{"bytes are not characters", "5.café;", io.ErrUnexpectedEOF},
		{"space in length", " 3.key;", guacgw.ErrMalformed},
		{"huge length", "99999999999999999999.a;", guacgw.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := guacgw.Parse([]byte(tt.in))
			if !errors.Is(err, tt.want) || !errors.Is(err, guacgw.ErrMalformed) {
				t.Errorf("got %v, want %v (and ErrMalformed)", err, tt.want)
			}
		})
	}
}

func TestReaderLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want error
	}{
		{"length beyond the limit, before the data", "100000.", 1024, guacgw.ErrTooLong},
		{"too many digits", "1234567890123.", 1 << 20, guacgw.ErrTooLong},
		{"no terminator within the limit", "3.abc," + strings.Repeat("3.abc,", 400), 1024, guacgw.ErrTooLong},
		{"non-digit", "4.sync;x.abc;", 1024, guacgw.ErrMalformed},
		{"bad terminator", "4.sync:", 1024, guacgw.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := guacgw.NewReader(strings.NewReader(tt.in), tt.max)
			var err error
			for err == nil {
				_, _, err = rd.Read()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// The error is sticky.
			if _, _, err2 := rd.Read(); !errors.Is(err2, tt.want) {
				t.Errorf("second Read: got %v, want %v", err2, tt.want)
			}
		})
	}
}

// TestReaderHugeElementIsRefusedEarly checks that a length prefix over the
// limit fails before the reader buffers the element.
func TestReaderHugeElementIsRefusedEarly(t *testing.T) {
	r := io.MultiReader(strings.NewReader("3.img,999999."), neverEnding{})
	rd := guacgw.NewReader(r, 64<<10)
	if _, _, err := rd.Read(); !errors.Is(err, guacgw.ErrTooLong) {
		t.Fatalf("got %v, want ErrTooLong", err)
	}
}

// neverEnding is a stream of 'A's.
type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

func TestReaderStreams(t *testing.T) {
	var wire bytes.Buffer
	want := []guacgw.Instruction{
		guacgw.NewInstruction("size", "0", "1024", "768"),
		guacgw.NewInstruction("name", "Ünïcödé 😀 桌面"),
		guacgw.NewInstruction("blob", "1", strings.Repeat("QUJD", 30000)), // over the first buffer
		guacgw.NewInstruction("nop"),
		guacgw.NewInstruction("sync", "1700000000000", "1"),
	}
	for _, in := range want {
		wire.WriteString(in.String())
	}
	readers := map[string]func() io.Reader{
		"whole":         func() io.Reader { return bytes.NewReader(wire.Bytes()) },
		"byte by byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(wire.Bytes())) },
		"half":          func() io.Reader { return iotest.HalfReader(bytes.NewReader(wire.Bytes())) },
		"data with EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(wire.Bytes())) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			rd := guacgw.NewReader(mk(), guacgw.MaxServerInstruction)
			for i, w := range want {
				got, raw, err := rd.Read()
				if err != nil {
					t.Fatalf("instruction %d: %v", i, err)
				}
				if !sameInstruction(got, w) || string(raw) != w.String() {
					t.Fatalf("instruction %d: got %.60q, want %.60q", i, raw, w.String())
				}
			}
			if _, _, err := rd.Read(); err != io.EOF {
				t.Fatalf("at the end: got %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderCutShort(t *testing.T) {
	rd := guacgw.NewReader(strings.NewReader("4.sync,3.123;4.size,1.0,4.10"), 1024)
	if _, _, err := rd.Read(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rd.Read(); err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReaderInvalidUTF8CountsBytes(t *testing.T) {
	// guacd passes a VNC desktop name in Latin-1 as it is; each byte that is
	// not UTF-8 counts as one character, as in String.
	name := "Caf\xe9"
	wire := guacgw.NewInstruction("name", name).String()
	if wire != "4.name,4.Caf\xe9;" {
		t.Fatalf("String: got %q", wire)
	}
	rd := guacgw.NewReader(strings.NewReader(wire), 1024)
	in, _, err := rd.Read()
	if err != nil || in.Args[0] != name {
		t.Fatalf("got %q, %v; want %q", in.Args, err, name)
	}
}
