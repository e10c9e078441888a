package cmdline

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// BenchmarkOutput measures how fast the emulator follows a target's output,
// which the relay feeds it on the data path.
func BenchmarkOutput(b *testing.B) {
	var text, colour strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&text, "-rw-r--r-- 1 user user %8d Jan  1 12:00 file-%05d.txt\r\n", i*37, i)
		fmt.Fprintf(&colour, "\x1b[0m\x1b[01;34mdir-%05d\x1b[0m  \x1b[01;32mexec-%05d\x1b[0m  plain-%05d\r\n", i, i, i)
	}
	r := rand.New(rand.NewPCG(1, 1))
	random := make([]byte, 128<<10)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"text", []byte(text.String())},
		{"colour", []byte(colour.String())},
		{"zeros", make([]byte, 128<<10)},
		{"random", random},
	} {
		b.Run(c.name, func(b *testing.B) {
			x := New(80, 24)
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				x.Output(c.data)
			}
		})
	}
}
