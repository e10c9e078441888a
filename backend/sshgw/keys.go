package sshgw

import "unicode/utf8"

// key is one key press decoded from terminal input.
type key struct {
	code keyCode
	r    rune // for keyRune
}

type keyCode int

const (
	keyRune keyCode = iota
	keyUp
	keyDown
	keyLeft
	keyRight
	keyPgUp
	keyPgDn
	keyHome
	keyEnd
	keyEnter
	keyEsc
	keyBackspace
	keyTab
	keyCtrlC
	keyCtrlD
	keyCtrlU
	keyCtrlL
)

// parseKeys decodes terminal input into keys: printable runes, Enter,
// Backspace, a few control keys, and the escape sequences of arrows, page
// up/down, home and end (CSI and SS3 forms). An Esc alone at the end of p is
// the Esc key. Unknown sequences and control characters are dropped, and so
// are invalid UTF-8 bytes.
func parseKeys(p []byte) []key {
	var keys []key
	for i := 0; i < len(p); {
		b := p[i]
		switch {
		case b == 0x1b:
			k, n := parseEscape(p[i:])
			if k != nil {
				keys = append(keys, *k)
			}
			i += n
			continue
		case b == '\r' || b == '\n':
			keys = append(keys, key{code: keyEnter})
			if b == '\r' && i+1 < len(p) && (p[i+1] == '\n' || p[i+1] == 0) {
				i++
			}
		case b == 0x7f || b == 0x08:
			keys = append(keys, key{code: keyBackspace})
		case b == '\t':
			keys = append(keys, key{code: keyTab})
		case b == 0x03:
			keys = append(keys, key{code: keyCtrlC})
		case b == 0x04:
			keys = append(keys, key{code: keyCtrlD})
		case b == 0x15:
			keys = append(keys, key{code: keyCtrlU})
		case b == 0x0c:
			keys = append(keys, key{code: keyCtrlL})
		case b == 0x0e: // Ctrl-N
			keys = append(keys, key{code: keyDown})
		case b == 0x10: // Ctrl-P
			keys = append(keys, key{code: keyUp})
		case b < 0x20:
		default:
			r, size := utf8.DecodeRune(p[i:])
			if r != utf8.RuneError || size > 1 {
				keys = append(keys, key{code: keyRune, r: r})
			}
			i += size
			continue
		}
		i++
	}
	return keys
}

// parseEscape decodes the escape sequence at the start of p (p[0] is ESC)
// and returns the key (nil for an unknown sequence) and its length.
func parseEscape(p []byte) (*key, int) {
	if len(p) == 1 {
		return &key{code: keyEsc}, 1
	}
	switch p[1] {
	case '[', 'O':
	case 0x1b:
		return &key{code: keyEsc}, 1
	default:
		// Esc then a key (or Alt+key): the Esc key, the key follows.
		return &key{code: keyEsc}, 1
	}
	// Parameters and intermediates, then a final byte 0x40..0x7e.
	j := 2
	for j < len(p) && (p[j] < 0x40 || p[j] > 0x7e) {
		if j-2 > 16 {
			return nil, j
		}
		j++
	}
	if j >= len(p) {
		return nil, len(p) // truncated sequence: drop it
	}
	params, final := string(p[2:j]), p[j]
	n := j + 1
	switch final {
	case 'A':
		return &key{code: keyUp}, n
	case 'B':
		return &key{code: keyDown}, n
	case 'C':
		return &key{code: keyRight}, n
	case 'D':
		return &key{code: keyLeft}, n
	case 'H':
		return &key{code: keyHome}, n
	case 'F':
		return &key{code: keyEnd}, n
	case '~':
		switch params {
		case "1", "7":
			return &key{code: keyHome}, n
		case "4", "8":
			return &key{code: keyEnd}, n
		case "5":
			return &key{code: keyPgUp}, n
		case "6":
			return &key{code: keyPgDn}, n
		}
	}
	return nil, n
}
