package cmdline

// Key classes found by keyScanner.
type keyClass uint8

const (
	keySeq       keyClass = iota // part of an escape sequence (arrows, function keys, paste brackets)
	keyText                      // a printable character, typed or pasted
	keyPasteCtl                  // a control character inside a bracketed paste (newline, tab)
	keyControl                   // another control key with no meaning here
	keyErase                     // Backspace (DEL or ^H)
	keyKillLine                  // ^U
	keyKillWord                  // ^W
	keyInterrupt                 // ^C
	keyEnter                     // CR, LF or Ctrl-O outside a bracketed paste
)

// Scanner states.
const (
	scanGround uint8 = iota
	scanEsc
	scanCSI
	scanSS3
)

// keyScanner follows the user's keystrokes far enough to tell text from
// escape sequences, to find the Enter keys and to know when a bracketed paste
// is under way. A paste is only recognised while the application has asked
// for bracketed paste mode: otherwise "\e[200~" is an unknown key to the
// application and the CR after it a real Enter.
type keyScanner struct {
	state uint8
	param uint16 // numeric parameter of the CSI sequence being read, to spot 200~ and 201~
	other bool   // the CSI sequence has something besides digits
	paste bool   // inside \e[200~ ... \e[201~
}

// next classifies byte b. pasteMode says whether the application has
// enabled bracketed paste mode.
func (k *keyScanner) next(b byte, pasteMode bool) keyClass {
	if !pasteMode {
		k.paste = false
	}
	switch k.state {
	case scanEsc:
		switch {
		case b == '[':
			k.state, k.param, k.other = scanCSI, 0, false
			return keySeq
		case b == 'O':
			k.state = scanSS3
			return keySeq
		case b == 0x1b:
			return keySeq
		case b == '\r' || b == '\n':
			// Alt+Enter: the application may well take the CR as an Enter.
			k.state = scanGround
			return k.enter(b)
		}
		k.state = scanGround
		return keySeq // Alt+key
	case scanCSI:
		switch {
		case b >= '0' && b <= '9':
			if k.param < 1000 {
				k.param = k.param*10 + uint16(b-'0')
			}
		case b >= 0x20 && b <= 0x3f:
			k.other = true
		case b >= 0x40 && b <= 0x7e:
			k.state = scanGround
			if b == '~' && !k.other && pasteMode {
				switch k.param {
				case 200:
					k.paste = true
				case 201:
					k.paste = false
				}
			}
		case b == 0x1b:
			k.state = scanEsc
		case b == '\r' || b == '\n':
			k.state = scanGround
			return k.enter(b)
		default:
			k.state = scanGround
		}
		return keySeq
	case scanSS3:
		k.state = scanGround
		if b == '\r' || b == '\n' {
			return k.enter(b)
		}
		return keySeq
	}
	switch {
	case b == 0x1b:
		k.state = scanEsc
		return keySeq
	case b >= 0x20 && b != 0x7f:
		return keyText
	case k.paste:
		if b == '\r' || b == '\n' || b == '\t' {
			return keyPasteCtl
		}
		return keyControl
	case b == '\r' || b == '\n' || b == 0x0f:
		// Ctrl-O is readline's operate-and-get-next: it runs the line too.
		return keyEnter
	case b == 0x7f || b == 0x08:
		return keyErase
	case b == 0x15:
		return keyKillLine
	case b == 0x17:
		return keyKillWord
	case b == 0x03:
		return keyInterrupt
	}
	return keyControl
}

func (k *keyScanner) enter(b byte) keyClass {
	if k.paste {
		return keyPasteCtl
	}
	return keyEnter
}

// Segment is a run of user input that ends with at most one Enter key: CR,
// LF, or Ctrl-O (readline's operate-and-get-next, which runs the line and
// recalls the next one from history).
type Segment struct {
	// Keys are the bytes before the Enter key, possibly empty: the relay
	// forwards them to the target and passes them to Input.
	Keys []byte
	// Enter is the key that ends the segment ("\r", "\n" or "\x0f"), or nil
	// when the input ended without one. The relay waits for the echo of Keys to
	// settle, asks Enter for the command, and forwards this key only if the
	// command may run.
	Enter []byte
}

// SplitAtEnter cuts a chunk of user input at each Enter key (see Segment), so
// that a paste of several lines, or fast typing that arrives in one read,
// is handled one command line at a time. Keys and Enter alias p.
//
// A CR or LF inside a bracketed paste (between "\e[200~" and "\e[201~") is
// not an Enter when the application has enabled bracketed paste mode: the
// shell inserts the pasted lines into its editing buffer and runs them only
// at the next real Enter, where Enter reports them all. When the application
// has not enabled that mode, the brackets mean nothing to it and every CR or
// LF is an Enter, so a paste cannot smuggle a command past the check.
//
// SplitAtEnter does not change the state of x; Input does, as each segment
// is fed to it in order.
func (x *Extractor) SplitAtEnter(p []byte) []Segment {
	x.mu.Lock()
	k, mode := x.keys, x.scr.paste
	x.mu.Unlock()
	var segs []Segment
	start := 0
	for i, b := range p {
		if k.next(b, mode) == keyEnter {
			segs = append(segs, Segment{Keys: p[start:i:i], Enter: p[i : i+1 : i+1]})
			start = i + 1
		}
	}
	if start < len(p) {
		segs = append(segs, Segment{Keys: p[start:len(p):len(p)]})
	}
	return segs
}
