package httpapi

import (
	"testing"
	"unicode/utf8"
)

func TestUTF8CarryKeepsSplitCharactersWhole(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"ascii", []string{"ls\r\n", "$ "}, []string{"ls\r\n", "$ "}},
		{"two-byte split", []string{"caf\xc3", "\xa9!"}, []string{"caf", "é!"}},
		{"three-byte split twice", []string{"\xe4", "\xb8", "\x96x"}, []string{"", "", "世x"}},
		{"four-byte split", []string{"a\xf0\x9f", "\x98\x80"}, []string{"a", "😀"}},
		{"invalid byte passes through", []string{"a\xff", "b"}, []string{"a\xff", "b"}},
		{"stray continuation passes through", []string{"\x80\x80\x80\x80"}, []string{"\x80\x80\x80\x80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c utf8Carry
			for i, ch := range tt.chunks {
				if got := c.take(ch); got != tt.want[i] {
					t.Fatalf("chunk %d: got %q, want %q", i, got, tt.want[i])
				}
			}
		})
	}
}

func FuzzUTF8Carry(f *testing.F) {
	f.Add("héllo 世界 😀", 3)
	f.Add("\xe4\xb8\x96\xe7\x95\x8c", 1)
	f.Fuzz(func(t *testing.T, s string, step int) {
		if step < 1 || step > 64 {
			step = 1 + (step&63+64)%64
		}
		var c utf8Carry
		out := ""
		for i := 0; i < len(s); i += step {
			got := c.take(s[i:min(i+step, len(s))])
			if utf8.ValidString(s) && !utf8.ValidString(got) {
				t.Fatalf("chunk of valid input is not valid UTF-8: %q", got)
			}
			out += got
		}
		out += string(c.tail)
		if out != s {
			t.Fatalf("got %q, want %q", out, s)
		}
	})
}
