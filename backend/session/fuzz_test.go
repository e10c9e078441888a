package session

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzRenderSnapshot(f *testing.F) {
	f.Add([]byte("hello\r\n\x1b[31mred\x1b[0m\r\n$ "), false, 80, 24)
	f.Add([]byte("\x1b[?1049h\x1b[2J\x1b[H top\x1b[6n\x1b[c"), true, 20, 5)
	f.Add([]byte{0xff, 0xfe, 0x1b, '[', '9', '9', '9', '9', '9', '9', '9', '9', 'm', 0xe4, 0xb8}, false, 1, 1)
	f.Fuzz(func(t *testing.T, data []byte, wrapped bool, cols, rows int) {
		cols, rows = cols%300, rows%300
		got := renderSnapshot(data, wrapped, cols, rows)
		if !strings.HasPrefix(got, clearScreen) {
			t.Fatalf("snapshot does not start by clearing the screen: %q", got)
		}
	})
}

func TestRingKeepsTheLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
	}{
		{"empty", 8, nil},
		{"fits", 8, []string{"abc", "de"}},
		{"exactly full", 8, []string{"abcd", "efgh"}},
		{"wraps", 8, []string{"abcdef", "ghij"}},
		{"write larger than the ring", 8, []string{"ab", "0123456789xyz"}},
		{"many small writes", 5, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ring{max: int64(tt.size)}
			var all []byte
			for _, w := range tt.writes {
				mark := r.n
				r.write([]byte(w))
				all = append(all, w...)
				// since(mark) is what was just written, if it still fits.
				got, complete := r.since(mark)
				want := []byte(w)
				if len(want) > tt.size {
					want = want[len(want)-tt.size:]
				}
				if !bytes.Equal(got, want) || complete != (len(w) <= tt.size) {
					t.Fatalf("since(%d) after %q: got %q (complete %v), want %q", mark, w, got, complete, want)
				}
			}
			want := all[max(0, len(all)-tt.size):]
			got, _ := r.since(r.start())
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if r.n != int64(len(all)) {
				t.Fatalf("total: got %d, want %d", r.n, len(all))
			}
		})
	}
}
