package guacgw_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/portcullis/portcullis/backend/guacgw"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		"4.size,1.0,4.1024,3.768;",
		"0.,4.ping,13.1700000000000;",
		"4.sync,13.1700000000000,1.1;3.nop;",
		"4.name,4.café;", "4.name,3.a😀b;", "4.name,4.Caf\xe9;",
		"5.abc;", "x.abc;", "99999999.a;", "3.key", "3.key.1.a;", ".;", ";", "",
		"3.img,1.1,2.14,1.0,9.image/png,1.0,1.0;4.blob,1.1,4.QUJD;3.end,1.1;",
	} {
		f.Add([]byte(s), uint8(3))
	}
}

// FuzzReader checks that the streaming Reader, fed in pieces of any size,
// agrees with Parse on the same bytes, and that what it returns encodes back
// to what it read (up to leading zeros in lengths).
func FuzzReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		const max = 4096
		var src io.Reader = bytes.NewReader(data)
		switch chunk % 3 {
		case 1:
			src = iotest.OneByteReader(src)
		case 2:
			src = iotest.HalfReader(src)
		}
		rd := guacgw.NewReader(src, max)
		off := 0
		for {
			in, raw, err := rd.Read()
			if err == io.EOF {
				if off != len(data) {
					t.Fatalf("io.EOF at %d of %d bytes", off, len(data))
				}
				return
			}
			if err != nil {
				if !errors.Is(err, guacgw.ErrMalformed) && !errors.Is(err, guacgw.ErrTooLong) && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error %v", err)
				}
				// Parse on the rest must fail too, unless the Reader's
				// limit is what stopped it.
				if _, _, perr := guacgw.Parse(data[off:]); perr == nil && !errors.Is(err, guacgw.ErrTooLong) {
					t.Fatalf("Reader failed with %v where Parse succeeds", err)
				}
				return
			}
			if len(raw) > max {
				t.Fatalf("instruction of %d bytes over the limit of %d", len(raw), max)
			}
			if !bytes.Equal(raw, data[off:off+len(raw)]) {
				t.Fatalf("raw %q is not the input at %d", raw, off)
			}
			pin, n, perr := guacgw.Parse(data[off:])
			if perr != nil || n != len(raw) || !sameInstruction(pin, in) {
				t.Fatalf("Parse disagrees: %v, %d, %v; Reader: %v, %d", pin, n, perr, in, len(raw))
			}
			wire := in.String()
			back, n2, err := guacgw.Parse([]byte(wire))
			if err != nil || n2 != len(wire) || !sameInstruction(back, in) {
				t.Fatalf("round trip of %q: %v, %v", wire, back, err)
			}
			if len(wire) > len(raw) {
				t.Fatalf("re-encoding %q grew to %q", raw, wire)
			}
			off += len(raw)
		}
	})
}

// FuzzParse checks that Parse never panics, never claims more bytes than it
// has, and that what it parses encodes back to the same instruction.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint8) {
		in, n, err := guacgw.Parse(data)
		if err != nil {
			if !errors.Is(err, guacgw.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if n <= 0 || n > len(data) || data[n-1] != ';' {
			t.Fatalf("Parse took %d of %d bytes", n, len(data))
		}
		back, _, err := guacgw.Parse([]byte(in.String()))
		if err != nil || !sameInstruction(back, in) {
			t.Fatalf("round trip: %v, %v", back, err)
		}
	})
}
