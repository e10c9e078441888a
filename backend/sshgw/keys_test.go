package sshgw

import (
	"reflect"
	"testing"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []key
	}{
		{"letters", "ab", []key{{code: keyRune, r: 'a'}, {code: keyRune, r: 'b'}}},
		{"utf-8", "数", []key{{code: keyRune, r: '数'}}},
		{"arrows", "\x1b[A\x1b[B\x1bOA", []key{{code: keyUp}, {code: keyDown}, {code: keyUp}}},
		{"pages", "\x1b[5~\x1b[6~", []key{{code: keyPgUp}, {code: keyPgDn}}},
		{"home end", "\x1b[H\x1b[4~", []key{{code: keyHome}, {code: keyEnd}}},
		{"enter crlf", "\r\n", []key{{code: keyEnter}}},
		{"lone esc", "\x1b", []key{{code: keyEsc}}},
		{"unknown csi", "\x1b[200~x", []key{{code: keyRune, r: 'x'}}},
		{"truncated csi", "\x1b[1;", nil},
		{"controls", "\x03\x04\x15\x7f", []key{{code: keyCtrlC}, {code: keyCtrlD}, {code: keyCtrlU}, {code: keyBackspace}}},
		{"invalid utf-8", "\xff", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseKeys([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseKeys(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{"abc", "\x1b[A", "\x1b[5~", "\x1b", "\x1b[", "\r\n", "数据"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if n := len(parseKeys(p)); n > len(p) {
			t.Fatalf("parseKeys(%q): %d keys from %d bytes", p, n, len(p))
		}
	})
}
