package term

import (
	"unicode/utf8"

	"github.com/portcullis/portcullis/backend/cmdfilter"
)

// Bracketed paste markers that a terminal wraps around pasted text when the
// program asked for it (bash and readline do by default).
const (
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
)

// pasteFilter removes bracketed-paste markers from the input of a line-mode
// session. Without them, each line of a paste reaches the shell as if typed,
// so every line is a command the relay checks at its Enter; with them, bash
// would take the lines literally and run them all at the user's next Enter,
// after the relay checked only what the screen showed. A marker split across
// reads is recognized too: a trailing prefix of a marker is held until the
// next read, or until the relay flushes it after a short delay (a lone Esc
// key press).
type pasteFilter struct {
	held [len(pasteStart)]byte
	n    int // bytes held
}

// isMarkerPrefix reports whether b is a prefix of either marker.
func isMarkerPrefix(b []byte) bool {
	if len(b) > len(pasteStart) {
		return false
	}
	for i, c := range b {
		if c != pasteStart[i] && c != pasteEnd[i] { // they differ only in their 5th byte
			return false
		}
	}
	return true
}

// filter appends p to dst without the markers and returns dst. A partial
// marker at the end of p is kept in f.
//
// Removing a marker must not join the bytes around it into a new one
// ("\e[20" "\e[200~" "0~"): when a marker is dropped, a tail of what this
// call emitted that could start a marker is taken back and held. A marker
// rebuilt across reads (a prefix flushed by the timer, the rest later) is
// not caught here; the relay still checks every line of what follows, and
// the extractor reports the whole pasted buffer at the Enter that runs it.
func (f *pasteFilter) filter(dst, p []byte) []byte {
	start := len(dst)
	for _, c := range p {
		if f.n == 0 && c != 0x1b {
			dst = append(dst, c)
			continue
		}
		f.held[f.n] = c
		f.n++
		if isMarkerPrefix(f.held[:f.n]) {
			if f.n == len(pasteStart) {
				f.n = 0 // a whole marker: drop it
				dst = f.rehold(dst, start)
			}
			continue
		}
		// Not a marker after all: release the held bytes; an ESC may start
		// a new marker.
		if c == 0x1b {
			dst = append(dst, f.held[:f.n-1]...)
			f.held[0], f.n = 0x1b, 1
		} else {
			dst = append(dst, f.held[:f.n]...)
			f.n = 0
		}
	}
	return dst
}

// rehold moves back into f a tail of dst[start:] that is a proper prefix of a
// marker (f holds nothing when it is called).
func (f *pasteFilter) rehold(dst []byte, start int) []byte {
	from := max(start, len(dst)-(len(pasteStart)-1))
	for i := from; i < len(dst); i++ {
		if dst[i] == 0x1b && isMarkerPrefix(dst[i:]) {
			f.n = copy(f.held[:], dst[i:])
			return dst[:i]
		}
	}
	return dst
}

// flush appends the held bytes to dst.
func (f *pasteFilter) flush(dst []byte) []byte {
	dst = append(dst, f.held[:f.n]...)
	f.n = 0
	return dst
}

// pending reports whether bytes are held.
func (f *pasteFilter) pending() bool { return f.n > 0 }

// maxRawLine bounds the keystroke-derived line; longer lines are cut and
// marked unreliable.
const maxRawLine = 64 << 10

// rawLine follows the current input line from the keystrokes alone: printable
// text, Backspace, Ctrl-U, Ctrl-W and Ctrl-C. It is the relay's safety net
// when the screen cannot tell the command (full-screen programs, no echo, an
// echo that did not arrive in time). It is exact while the user only types,
// pastes and erases; keys that edit the line in ways the keystrokes do not
// show (arrows, history, completion) mark it unreliable.
type rawLine struct {
	buf    []byte
	unsure bool   // the line was edited in a way the keystrokes do not show
	cont   []byte // earlier lines that this one continues (they ended with a backslash)

	esc    byte    // escape sequence being skipped: 0 none, 1 after ESC, '[' in CSI, 'O' after SS3
	params [4]byte // the first parameter bytes of a CSI sequence
	np     int     // parameter bytes seen
}

// reset forgets the line and the lines it continues.
func (l *rawLine) reset() {
	l.newLine()
	l.cont = l.cont[:0]
}

// newLine forgets the line.
func (l *rawLine) newLine() {
	if cap(l.buf) > 4096 {
		l.buf = nil
	}
	l.buf = l.buf[:0]
	l.esc, l.np, l.unsure = 0, 0, false
}

// text returns the line and whether it can be trusted to be what the target
// holds.
func (l *rawLine) text() (string, bool) { return string(l.buf), !l.unsure }

// enter ends the line at an Enter. It returns the line joined to the lines
// it continues, as a shell joins them ("rm -rf \" then "/" is "rm -rf /"),
// and whether that can be trusted. A line ending with a backslash is kept
// for the next one.
func (l *rawLine) enter() (string, bool) {
	if l.unsure {
		l.reset()
		return "", false
	}
	line := append(l.cont, l.buf...)
	text := string(line)
	if cmdfilter.Continued(string(l.buf)) && len(line) < maxRawLine {
		l.cont = line[:len(line)-1]
	} else {
		l.cont = line[:0]
	}
	l.newLine()
	return text, true
}

func (l *rawLine) feed(p []byte) {
	for _, c := range p {
		switch l.esc {
		case 1:
			switch c {
			case '[':
				l.esc, l.np = '[', 0
			case 'O':
				l.esc = 'O'
			default:
				l.esc, l.unsure = 0, true // Alt+key
			}
			continue
		case '[':
			if c >= 0x40 && c <= 0x7e {
				l.esc = 0
				// Bracketed-paste markers (kept in full-screen mode) wrap text
				// that is inserted as typed; any other key sequence (arrows,
				// Home, Delete) edits the line out of our sight.
				if c != '~' || l.np != 3 || l.params[0] != '2' || l.params[1] != '0' || (l.params[2] != '0' && l.params[2] != '1') {
					l.unsure = true
				}
			} else {
				if l.np < len(l.params) {
					l.params[l.np] = c
				}
				l.np++
			}
			continue
		case 'O':
			l.esc, l.unsure = 0, true // SS3 keys: arrows, Home, End
			continue
		}
		switch {
		case c == 0x1b:
			l.esc = 1
		case c == 0x7f || c == 0x08: // Backspace: erase one character
			if len(l.buf) > 0 {
				_, size := utf8.DecodeLastRune(l.buf)
				l.buf = l.buf[:len(l.buf)-size]
			}
		case c == 0x15: // Ctrl-U: erase the line (before the cursor)
			l.buf = l.buf[:0]
		case c == 0x17: // Ctrl-W: erase the previous word
			i := len(l.buf)
			for i > 0 && (l.buf[i-1] == ' ' || l.buf[i-1] == '\t') {
				i--
			}
			for i > 0 && l.buf[i-1] != ' ' && l.buf[i-1] != '\t' {
				i--
			}
			l.buf = l.buf[:i]
		case c == 0x03: // Ctrl-C: the line is abandoned
			l.reset()
		case c == 0x0c: // Ctrl-L: redraw only
		case c < 0x20:
			l.unsure = true // Tab, Ctrl-R, Ctrl-A, ...: the target edits the line
		default:
			if len(l.buf) < maxRawLine {
				l.buf = append(l.buf, c)
			} else {
				l.unsure = true
			}
		}
	}
}
