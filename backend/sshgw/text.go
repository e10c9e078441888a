package sshgw

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanText drops invalid UTF-8, control and format characters, so that a
// value typed by a client can neither forge log lines nor drive the user's
// terminal.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// cut truncates s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
