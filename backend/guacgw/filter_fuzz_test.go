package guacgw

import (
	"log/slog"
	"testing"
	"time"
)

// nullClient is a Client that takes everything and reads nothing.
type nullClient struct{}

func (nullClient) ReadMessage() ([]byte, error) { select {} }
func (nullClient) WriteMessage([]byte) error    { return nil }
func (nullClient) Close() error                 { return nil }

// FuzzFromBrowser feeds browser messages through Serve's input filter: it
// must not panic, and what it passes to guacd must be whole instructions
// within guacd's limits, of opcodes guacd accepts.
func FuzzFromBrowser(f *testing.F) {
	for _, s := range []string{
		"5.mouse,2.10,2.20,1.0;3.key,2.97,1.1;",
		"0.,4.ping,13.1700000000000;",
		"9.clipboard,1.3,10.text/plain;4.blob,1.3,8.aGVsbG8=;3.end,1.3;",
		"4.file,1.1,10.text/plain,6.😀.txt;",
		"6.select,3.rdp;7.connect;",
		"3.put,1.1,1.5,10.text/plain,6./a.txt;4.blob,1.5,4.QUJD;",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, msg []byte, pol uint8) {
		s := &session{
			cfg: Config{Client: nullClient{}, Clock: time.Now, RecordKeys: true},
			pol: policy{readOnly: pol&1 != 0, pasteIn: pol&2 != 0, upload: pol&4 != 0, drive: pol&8 != 0},
			log: slog.New(slog.DiscardHandler),
		}
		sc := scanner{max: MaxClientInstruction, maxElems: MaxElements, maxElem: MaxElementLength}
		out, err := s.fromBrowser(&sc, msg, nil)
		if err != nil {
			return
		}
		for len(out) > 0 {
			in, n, err := Parse(out)
			if err != nil {
				t.Fatalf("filter passed %q: %v", out, err)
			}
			if _, ok := minArgs(in.Opcode); !ok {
				t.Fatalf("filter passed opcode %q", in.Opcode)
			}
			if len(in.Args) >= MaxElements || n > MaxClientInstruction {
				t.Fatalf("filter passed an instruction over guacd's limits: %d elements, %d bytes", len(in.Args)+1, n)
			}
			for _, a := range in.Args {
				if len([]rune(a)) > MaxElementLength {
					t.Fatalf("element of %d characters", len([]rune(a)))
				}
			}
			out = out[n:]
		}
	})
}
