package cmdline

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// maxBlind bounds the keystroke reconstruction kept for Blind.
const maxBlind = 4096

// searchPrompts are the prompts readline shows during an incremental history
// search (Ctrl-R, Ctrl-S); the command follows "': ".
var searchPrompts = []string{"(reverse-i-search)`", "(i-search)`", "(failed reverse-i-search)`", "(failed i-search)`"}

// Extractor derives the command lines a user runs from what the terminal
// shows. Feed it everything the target prints (Output) and every key the
// user sends except the Enter keys (Input); at each Enter, once the echo has
// settled, Enter returns the command on screen. It is safe for concurrent
// use: the output and input sides of a relay may call it from two
// goroutines.
type Extractor struct {
	mu sync.Mutex // guards everything below

	scr  *screen
	keys keyScanner

	// The line being typed. armed is set by the first Input after the last
	// Enter (or Ctrl-C); the cursor then sits where the prompt ends.
	armed       bool
	promptCol   int    // column where the prompt ended (cols when it filled its row)
	promptCells []rune // the cells of the prompt's row before promptCol
	lastPrompt  []rune // the prompt found at the previous Enter, to find a redrawn prompt
	baseline    string // the line after the prompt when typing started
	typed       bool   // printable characters were typed since then
	blind       []byte // the line rebuilt from keystrokes alone (see Blind)
	altEpoch    int    // scr.altSwitches when armed

	continued string // earlier lines of a command continued with a trailing backslash
	lastBlind string // what Blind reports
}

// New returns an Extractor for a terminal of cols x rows cells. Sizes are
// clamped to 1..MaxCols and 1..MaxRows.
func New(cols, rows int) *Extractor {
	return &Extractor{scr: newScreen(cols, rows)}
}

// Output feeds bytes printed by the target to the terminal emulator.
func (x *Extractor) Output(p []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.scr.write(p)
	if x.armed && x.scr.altSwitches != x.altEpoch {
		// A full-screen program started or ended under the line being typed.
		x.disarm()
	}
}

// Input records keys the user sent to the target. The Enter key that ends a
// command line is not passed here: the relay calls Enter instead (see
// SplitAtEnter). An Enter key that does reach Input is taken as an Enter whose
// command line was not asked for, and forgotten.
func (x *Extractor) Input(p []byte) {
	if len(p) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.lastBlind = ""
	fresh := false // armed by this call, possibly before the shell printed its prompt
	for len(p) > 0 {
		if !x.armed && !x.scr.alt {
			x.arm()
			fresh = true
		}
		r, size := rune(p[0]), 1
		if p[0] >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(p)
		}
		class := keySeq
		for _, b := range p[:size] {
			class = x.keys.next(b, x.scr.paste)
		}
		p = p[size:]
		switch class {
		case keyText:
			x.typed = true
			if r == utf8.RuneError && size == 1 {
				r = '?'
			}
			if len(x.blind) < maxBlind {
				x.blind = utf8.AppendRune(x.blind, r)
			}
		case keyPasteCtl:
			if len(x.blind) < maxBlind {
				x.blind = append(x.blind, '\n')
			}
		case keyErase:
			if _, n := utf8.DecodeLastRune(x.blind); n > 0 {
				x.blind = x.blind[:len(x.blind)-n]
			}
		case keyKillLine:
			x.blind = x.blind[:0]
		case keyKillWord:
			b := strings.TrimRight(string(x.blind), " ")
			x.blind = append(x.blind[:0], b[:strings.LastIndexByte(b, ' ')+1]...)
		case keyInterrupt:
			// Ctrl-C abandons the line (and any continued lines before it).
			// The shell prints its prompt again: remember this one to find it.
			if x.armed && !fresh && len(x.promptCells) > 0 {
				x.lastPrompt = append(x.lastPrompt[:0], x.promptCells...)
			}
			x.disarm()
			fresh = false
			x.continued = ""
		case keyEnter:
			x.disarm()
			x.continued = ""
			fresh = false
		}
	}
}

// Lost tells the Extractor that some of the target's output was not given
// to it (a relay that drops output under a flood rather than slow the session
// down). What it missed may have been the end of a full-screen program, so
// it assumes the main screen again, where commands are checked, and starts
// parsing afresh with default margins and modes; the shell's next prompt
// repaints the line that matters.
func (x *Extractor) Lost() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.scr.parser.Reset()
	x.scr.setAlt(false)
	x.scr.resetModes()
	x.disarm()
	x.continued = ""
}

// Resize tells the emulator the terminal's new size.
func (x *Extractor) Resize(cols, rows int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.scr.resize(cols, rows)
}

// FullScreen reports whether a full-screen program (vim, less, top...) has
// the alternate screen, where keys are not commands.
func (x *Extractor) FullScreen() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.scr.alt
}

// Enter returns the command line shown on screen when the user pressed
// Enter: the text from the end of the prompt to the end of the logical line,
// soft-wrapped rows joined, rows ended by a newline (a multi-line paste)
// joined with "\n", trimmed. Call it before forwarding the Enter key, once
// the echo of the keys typed so far has settled.
//
// ok is false when there is nothing to log or check: inside a full-screen
// program, at a prompt that does not echo (a password: printable keys were
// typed but none appeared, or only asterisks did; see Blind), and on a line
// ending with a backslash, which the shell continues on the next line: that
// next Enter returns the lines joined as the shell runs them ("ls \" then
// "-la" gives "ls -la"). An Enter on an empty line gives "" and ok.
//
// The command is never longer than the screen holds (cols x rows characters
// plus the newlines between rows), continued lines included.
func (x *Extractor) Enter() (cmd string, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.lastBlind = ""
	// The Enter key itself is not given to Input; it ends any escape
	// sequence the scanner was in, as SplitAtEnter found.
	x.keys.state = scanGround
	if x.scr.alt {
		x.lastBlind = string(x.blind)
		x.disarm()
		x.continued = ""
		return "", false
	}
	var text string
	row, col, prompt := 0, 0, false
	if x.armed {
		row, col, prompt = x.locate()
		text = x.extract(row, col)
	} else if len(x.lastPrompt) > 0 {
		// Nothing typed, but the shell may have filled the line itself
		// (readline's operate-and-get-next, read -e -i): read it after the
		// prompt on the cursor's line.
		s := x.scr
		row = s.y
		for row > 0 && s.isWrapped(row-1) {
			row--
		}
		if s.hasPrefix(row, x.lastPrompt) {
			col, prompt = len(x.lastPrompt), true
			text = x.extract(row, col)
		}
	}
	typed, blind := x.typed, string(x.blind)
	x.disarm()
	if prompt && col > 0 && col <= x.scr.cols && row >= 0 {
		x.lastPrompt = append(x.lastPrompt[:0], x.scr.row(row)[:col]...)
	}
	if typed && (text == x.baseline || masked(text)) {
		x.lastBlind = blind
		return "", false
	}
	full := x.continued + text
	x.continued = ""
	limit := x.scr.cols * x.scr.rows
	if continues(full) {
		x.continued = capRunes(full[:len(full)-1], limit)
		return "", false
	}
	return capRunes(full, limit), true
}

// Blind returns, after an Enter that reported no command because of a
// full-screen program or a prompt that does not echo, the line as rebuilt
// from the keystrokes alone since the previous Enter: printable characters
// with Backspace, Ctrl-U and Ctrl-W applied, escape sequences dropped. It is
// "" otherwise, and after the next Input.
//
// It may be a password: never log or record it. It exists so that a relay
// can still check such a line against deny rules, because what the screen
// shows is under the target's control: `printf '\e[?1049h'` makes the
// terminal look full-screen and `stty -echo` (in a shell without line
// editing) hides what is typed, yet the shell still runs the line.
func (x *Extractor) Blind() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lastBlind
}

func (x *Extractor) arm() {
	s := x.scr
	x.armed = true
	x.altEpoch = s.altSwitches
	col := s.x
	if s.pending {
		col = s.cols // the prompt filled its row: typing starts on the next one
	}
	x.promptCol = col
	x.promptCells = append(x.promptCells[:0], s.row(s.y)[:min(col, s.cols)]...)
	s.marks[markPrompt] = s.y
	s.marks[markLastOut] = s.y
	x.baseline = x.extract(s.y, col)
	x.typed = false
	x.blind = x.blind[:0]
}

func (x *Extractor) disarm() {
	x.armed = false
	x.typed = false
	x.blind = x.blind[:0]
	x.scr.marks[markPrompt] = noMark
	x.scr.marks[markLastOut] = noMark
}

// locate finds where the command line starts: after the prompt seen when
// typing started, which may since have moved (scrolled, redrawn below a list
// of completions, after Ctrl-L or Ctrl-C), or after readline's search prompt.
// prompt reports whether what precedes (row, col) is the shell's prompt.
func (x *Extractor) locate() (row, col int, prompt bool) {
	s := x.scr
	cy := s.y
	start := cy
	for start > 0 && s.isWrapped(start-1) {
		start--
	}
	line := s.text(start, 0, s.cols)
	for _, p := range searchPrompts {
		if strings.HasPrefix(line, p) {
			if i := strings.Index(line[len(p):], "': "); i >= 0 {
				return start, s.column(start, utf8.RuneCountInString(line[:len(p)+i+3])), false
			}
		}
	}
	pr := s.marks[markPrompt]
	lo := 0
	if pr != noMark && pr >= 0 && pr <= cy {
		lo = pr
	}
	for r := cy; r >= lo; r-- {
		if r != pr && r > 0 && s.isWrapped(r-1) {
			continue // a soft-wrapped continuation row, not the start of a line
		}
		for _, p := range [][]rune{x.promptCells, x.lastPrompt} {
			if len(p) > 0 && s.hasPrefix(r, p) {
				return r, len(p), true
			}
		}
	}
	// Keys typed ahead, echoed before the shell printed its prompt, may
	// precede the prompt on its row: look for it further in.
	for r := cy; r >= lo; r-- {
		if r != pr && r > 0 && s.isWrapped(r-1) {
			continue
		}
		for _, p := range [][]rune{x.promptCells, x.lastPrompt} {
			if c := s.find(r, p); c > 0 {
				return r, c + len(p), true
			}
		}
	}
	switch {
	case pr == noMark || pr > cy:
		return start, 0, false
	case pr < 0:
		return 0, 0, false // the prompt scrolled off the top: keep what is visible
	}
	return pr, x.promptCol, true
}

// extract returns the text from (row, col) to the end of the command line:
// the rows down to the cursor or to the last row written since typing
// started, whichever is lower, followed through soft wraps.
func (x *Extractor) extract(row, col int) string {
	s := x.scr
	row = max(row, 0)
	end := s.y
	if m := s.marks[markLastOut]; m != noMark && m > end {
		end = m
	}
	end = min(max(end, row), s.rows-1)
	for end < s.rows-1 && s.isWrapped(end) {
		end++
	}
	var b strings.Builder
	for r := row; r <= end; r++ {
		from := 0
		if r == row {
			from = col
		}
		t := s.text(r, from, s.cols)
		if r < end && (s.isWrapped(r) || s.full(r)) {
			b.WriteString(t)
			continue
		}
		b.WriteString(strings.TrimRight(t, " "))
		if r < end {
			b.WriteByte('\n')
		}
	}
	return strings.TrimSpace(b.String())
}

// masked reports whether s is what a password prompt shows for the keys
// typed: only asterisks or bullets.
func masked(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '*' && r != '•' && r != '●' {
			return false
		}
	}
	return true
}

// continues reports whether a shell would continue line s on the next one:
// it ends with an odd number of backslashes.
func continues(s string) bool {
	n := len(s) - len(strings.TrimRight(s, `\`))
	return n%2 == 1
}

// capRunes returns s cut to at most n runes, not counting newlines.
func capRunes(s string, n int) string {
	count := 0
	for i, r := range s {
		if r == '\n' {
			continue
		}
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}
