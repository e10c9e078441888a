package cmdline

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
	vtparser "github.com/charmbracelet/x/ansi/parser"
	"github.com/mattn/go-runewidth"
)

// Cell values besides ordinary runes.
const (
	blank    rune = 0  // an erased or never written cell
	wideTail rune = -1 // the right half of a double-width character
)

// noMark is the value of a mark that follows no row.
const noMark = -1 << 30

// Size limits: a terminal larger than this is treated as this large, so a
// hostile window-change request cannot make the screen allocate gigabytes.
const (
	MaxCols = 1024
	MaxRows = 512
)

// Marks: rows of the main screen that follow the content as it scrolls.
const (
	markPrompt  = iota // the row where the prompt ended when the user started typing
	markLastOut        // the lowest row written since then
	numMarks
)

// cursorState is what DECSC saves and DECRC restores.
type cursorState struct {
	x, y    int
	pending bool
	origin  bool
}

// screen is a compact VT100/xterm screen model: one rune per cell and a
// soft-wrap flag per row, no colours or attributes. It keeps the content of
// the main screen only; while the alternate screen is active it follows the
// cursor but stores nothing, because nothing typed there is a command.
//
// It is driven by the DEC-compatible parser of github.com/charmbracelet/x/ansi
// and implements the control functions that decide where text lands: printing
// with deferred auto-wrap and double-width characters, C0 controls, cursor
// movement (CUU/CUD/CUF/CUB/CNL/CPL/CHA/HPA/HPR/VPA/VPR/CUP/HVP, tabs), erase
// (ED/EL/ECH), insert and delete (ICH/DCH/IL/DL), scrolling (IND/RI/NEL/SU/SD
// with DECSTBM margins), REP, DECSC/DECRC, origin, auto-wrap, insert and
// line-feed/new-line modes, alternate screens (47/1047/1048/1049), bracketed
// paste mode (2004), DECSTR and RIS. Everything else (SGR, OSC, DCS, queries)
// is parsed and ignored; the screen never answers queries.
type screen struct {
	cols, rows int
	cells      []rune // rows*cols, row-major, rotated by off (see phys)
	wrapped    []bool // by physical row: the row continues on the next one (auto-wrap happened at its end)
	off        int    // physical index of screen row 0: scrolling the whole screen only rotates

	x, y    int
	pending bool // the cursor sits past the last column: the next character wraps first

	top, bot int // scroll region, inclusive rows

	autowrap, origin, insert, newline bool
	alt                               bool
	altSwitches                       int  // counts switches between the main and alternate screens
	paste                             bool // bracketed paste mode requested by the application
	saved                             [2]cursorState
	last                              rune // last printed character, for REP

	marks [numMarks]int

	width  runewidth.Condition
	parser *ansi.Parser
}

func newScreen(cols, rows int) *screen {
	cols, rows = clampSize(cols, rows)
	s := &screen{
		cols:    cols,
		rows:    rows,
		cells:   make([]rune, cols*rows),
		wrapped: make([]bool, rows),
		width:   runewidth.Condition{EastAsianWidth: false, StrictEmojiNeutral: true},
	}
	s.resetModes()
	for i := range s.marks {
		s.marks[i] = noMark
	}
	p := new(ansi.Parser)
	p.SetParamsSize(32)
	// OSC, DCS, APC, PM and SOS payloads are ignored: keep only a few bytes of
	// them. A size of zero would mean "unlimited" to the parser.
	p.SetDataSize(16)
	p.SetHandler(ansi.Handler{
		Print:     s.print,
		Execute:   s.execute,
		HandleCsi: s.csi,
		HandleEsc: s.esc,
	})
	s.parser = p
	return s
}

func clampSize(cols, rows int) (int, int) {
	return min(max(cols, 1), MaxCols), min(max(rows, 1), MaxRows)
}

func (s *screen) resetModes() {
	s.top, s.bot = 0, s.rows-1
	s.autowrap, s.origin, s.insert, s.newline = true, false, false, false
	s.saved = [2]cursorState{}
}

// write feeds output from the application to the screen.
func (s *screen) write(p []byte) {
	for i := 0; i < len(p); {
		b := p[i]
		ground := s.parser.State() == vtparser.GroundState
		if ground && b == 0x1b {
			if n := sgrLen(p[i:]); n > 0 {
				i += n // colours and attributes do not change the text
				continue
			}
		}
		if !ground || b == 0x1b || b >= 0x7f {
			s.parser.Advance(b)
			i++
			continue
		}
		// The common case, printable ASCII and C0 controls outside any escape
		// sequence, is handled here without the parser's per-byte dispatch.
		if b < 0x20 {
			s.execute(b)
			i++
			continue
		}
		j := i + 1
		for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
			j++
		}
		s.printASCII(p[i:j])
		i = j
	}
}

// sgrLen returns the length of the SGR sequence (ESC [ digits ; : m) at the
// start of p, or 0 when p does not start with a complete one.
func sgrLen(p []byte) int {
	if len(p) < 3 || p[1] != '[' {
		return 0
	}
	for j := 2; j < len(p); j++ {
		switch c := p[j]; {
		case c == 'm':
			return j + 1
		case (c < '0' || c > '9') && c != ';' && c != ':':
			return 0
		}
	}
	return 0
}

// --- content ------------------------------------------------------------------------------

// phys returns the physical index of screen row y.
func (s *screen) phys(y int) int {
	y += s.off
	if y >= s.rows {
		y -= s.rows
	}
	return y
}

func (s *screen) row(y int) []rune {
	p := s.phys(y)
	return s.cells[p*s.cols : (p+1)*s.cols]
}

// isWrapped reports whether row y continues on row y+1.
func (s *screen) isWrapped(y int) bool { return s.wrapped[s.phys(y)] }

func (s *screen) setWrapped(y int, v bool) { s.wrapped[s.phys(y)] = v }

// put stores r at (x, y) of the main screen, first clearing the other half
// of any double-width character it overwrites.
func (s *screen) put(x, y int, r rune) {
	row := s.row(y)
	if row[x] == wideTail && x > 0 && r != wideTail {
		row[x-1] = blank
	}
	if x+1 < s.cols && row[x+1] == wideTail {
		row[x+1] = blank
	}
	row[x] = r
}

// clearCells blanks cells [x0, x1) of row y, fixing double-width characters
// cut at either edge.
func (s *screen) clearCells(y, x0, x1 int) {
	x0, x1 = max(x0, 0), min(x1, s.cols)
	if x0 >= x1 {
		return
	}
	row := s.row(y)
	if row[x0] == wideTail && x0 > 0 {
		row[x0-1] = blank
	}
	if x1 < s.cols && row[x1] == wideTail {
		row[x1] = blank
	}
	clear(row[x0:x1])
}

func (s *screen) clearRows(y0, y1 int) {
	y0, y1 = max(y0, 0), min(y1, s.rows)
	if y0 >= y1 {
		return
	}
	for y := y0; y < y1; y++ {
		clear(s.row(y))
		s.setWrapped(y, false)
	}
}

// noteWrite records that row y of the main screen received output.
func (s *screen) noteWrite(y int) {
	if m := s.marks[markLastOut]; m != noMark && y > m {
		s.marks[markLastOut] = y
	}
}

func (s *screen) runeWidth(r rune) int {
	if r < 0x7f {
		if r < 0x20 {
			return 0
		}
		return 1
	}
	return s.width.RuneWidth(r)
}

func (s *screen) print(r rune) {
	w := s.runeWidth(r)
	if w <= 0 {
		return // combining marks and other zero-width characters are not kept
	}
	if w > s.cols {
		w = 1
	}
	if s.pending && s.autowrap {
		s.wrap()
	}
	if w == 2 && s.x == s.cols-1 {
		if s.autowrap {
			if !s.alt {
				s.put(s.x, s.y, blank)
			}
			s.wrap()
		} else {
			s.x--
		}
	}
	if !s.alt {
		if s.insert {
			s.insertBlanks(w)
		}
		s.put(s.x, s.y, r)
		if w == 2 {
			s.put(s.x+1, s.y, wideTail)
		}
		s.noteWrite(s.y)
	}
	s.last = r
	if s.x+w >= s.cols {
		s.x = s.cols - 1
		s.pending = s.autowrap
	} else {
		s.x += w
	}
}

// printASCII prints a run of printable ASCII characters.
func (s *screen) printASCII(p []byte) {
	if s.insert || s.alt {
		for _, b := range p {
			s.print(rune(b))
		}
		return
	}
	for len(p) > 0 {
		if s.pending && s.autowrap {
			s.wrap()
		}
		n := min(len(p), s.cols-s.x)
		row := s.row(s.y)
		if row[s.x] == wideTail && s.x > 0 {
			row[s.x-1] = blank
		}
		if end := s.x + n; end < s.cols && row[end] == wideTail {
			row[end] = blank
		}
		for i, b := range p[:n] {
			row[s.x+i] = rune(b)
		}
		s.noteWrite(s.y)
		s.last = rune(p[n-1])
		p = p[n:]
		if s.x+n >= s.cols {
			s.x = s.cols - 1
			s.pending = s.autowrap
			if !s.autowrap && len(p) > 0 {
				// Without auto-wrap the rest of the run lands on the last column.
				row[s.x] = rune(p[len(p)-1])
				s.last = row[s.x]
				return
			}
		} else {
			s.x += n
		}
	}
}

// wrap moves to the start of the next row after an auto-wrap, marking the row
// left behind as continued.
func (s *screen) wrap() {
	if !s.alt {
		s.setWrapped(s.y, true)
	}
	s.x = 0
	s.index()
}

func (s *screen) insertBlanks(n int) {
	row := s.row(s.y)
	n = min(n, s.cols-s.x)
	if n <= 0 {
		return
	}
	copy(row[s.x+n:], row[s.x:s.cols-n])
	s.clearCells(s.y, s.x, s.x+n)
	if c := row[s.cols-1]; c > 0 && s.runeWidth(c) == 2 {
		row[s.cols-1] = blank // a double-width character cut by the right margin
	}
}

func (s *screen) deleteChars(n int) {
	row := s.row(s.y)
	n = min(n, s.cols-s.x)
	if n <= 0 {
		return
	}
	if row[s.x] == wideTail && s.x > 0 {
		row[s.x-1] = blank
	}
	copy(row[s.x:], row[s.x+n:])
	clear(row[s.cols-n:])
	if row[s.x] == wideTail {
		row[s.x] = blank
	}
}

// --- scrolling ----------------------------------------------------------------------------

// scrollUp moves rows top+n..bot up to top, blanking n rows at the bottom.
func (s *screen) scrollUp(top, bot, n int) {
	if top > bot || n <= 0 {
		return
	}
	n = min(n, bot-top+1)
	if s.alt {
		return
	}
	if top == 0 && bot == s.rows-1 {
		s.off = (s.off + n) % s.rows
	} else {
		for y := top; y <= bot-n; y++ {
			copy(s.row(y), s.row(y+n))
			s.setWrapped(y, s.isWrapped(y+n))
		}
	}
	s.clearRows(bot+1-n, bot+1)
	for i, m := range s.marks {
		if m == noMark || m < top || m > bot {
			continue
		}
		m -= n
		if m < top && top > 0 {
			m = noMark // lost inside a partial scroll region
		}
		s.marks[i] = m
	}
}

// scrollDown moves rows top..bot-n down to top+n, blanking n rows at the top.
func (s *screen) scrollDown(top, bot, n int) {
	if top > bot || n <= 0 {
		return
	}
	n = min(n, bot-top+1)
	if s.alt {
		return
	}
	if top == 0 && bot == s.rows-1 {
		s.off = (s.off - n + s.rows) % s.rows
	} else {
		for y := bot; y >= top+n; y-- {
			copy(s.row(y), s.row(y-n))
			s.setWrapped(y, s.isWrapped(y-n))
		}
	}
	s.clearRows(top, top+n)
	for i, m := range s.marks {
		if m == noMark || m < top || m > bot {
			continue
		}
		m += n
		if m > bot {
			m = noMark
		}
		s.marks[i] = m
	}
}

// index moves the cursor down one row, scrolling the region at its bottom.
func (s *screen) index() {
	s.pending = false
	switch {
	case s.y == s.bot:
		s.scrollUp(s.top, s.bot, 1)
	case s.y < s.rows-1:
		s.y++
	}
}

func (s *screen) reverseIndex() {
	s.pending = false
	switch {
	case s.y == s.top:
		s.scrollDown(s.top, s.bot, 1)
	case s.y > 0:
		s.y--
	}
}

// --- cursor -------------------------------------------------------------------------------

func (s *screen) setX(x int) {
	s.x = min(max(x, 0), s.cols-1)
	s.pending = false
}

func (s *screen) setY(y int) {
	lo, hi := 0, s.rows-1
	if s.origin {
		y += s.top
		lo, hi = s.top, s.bot
	}
	s.y = min(max(y, lo), hi)
	s.pending = false
}

// moveY moves the cursor vertically, stopping at the scroll margins when it
// starts inside them (CUU, CUD).
func (s *screen) moveY(dy int) {
	lo, hi := 0, s.rows-1
	if s.y >= s.top && s.y <= s.bot {
		lo, hi = s.top, s.bot
	}
	s.y = min(max(s.y+dy, lo), hi)
	s.pending = false
}

func (s *screen) tab(n int) {
	for ; n > 0 && s.x < s.cols-1; n-- {
		s.x = min((s.x/8+1)*8, s.cols-1)
	}
}

func (s *screen) backTab(n int) {
	for ; n > 0 && s.x > 0; n-- {
		s.x = (s.x - 1) / 8 * 8
	}
	s.pending = false
}

func (s *screen) saveCursor() {
	s.saved[s.screenIndex()] = cursorState{x: s.x, y: s.y, pending: s.pending, origin: s.origin}
}

func (s *screen) restoreCursor() {
	c := s.saved[s.screenIndex()]
	s.x, s.y = min(c.x, s.cols-1), min(c.y, s.rows-1)
	s.pending, s.origin = c.pending && s.autowrap, c.origin
}

func (s *screen) screenIndex() int {
	if s.alt {
		return 1
	}
	return 0
}

func (s *screen) setAlt(on bool) {
	if s.alt != on {
		s.altSwitches++
	}
	s.alt = on
	s.pending = false
}

func (s *screen) fullReset() {
	s.clearRows(0, s.rows)
	s.x, s.y, s.pending = 0, 0, false
	s.setAlt(false)
	s.paste, s.last = false, 0
	s.resetModes()
}

// --- control functions --------------------------------------------------------------------

func (s *screen) execute(b byte) {
	switch b {
	case '\b':
		if s.x > 0 {
			s.x--
		}
		s.pending = false
	case '\t':
		s.tab(1)
	case '\n', '\v', '\f':
		s.index()
		if s.newline {
			s.x = 0
		}
	case '\r':
		s.x, s.pending = 0, false
	}
}

func (s *screen) esc(cmd ansi.Cmd) {
	switch cmd.Intermediate() {
	case 0:
		switch cmd.Final() {
		case '7':
			s.saveCursor()
		case '8':
			s.restoreCursor()
		case 'D':
			s.index()
		case 'E':
			s.x = 0
			s.index()
		case 'M':
			s.reverseIndex()
		case 'c':
			s.fullReset()
		}
	case '#':
		if cmd.Final() == '8' && !s.alt { // DECALN: fill the screen with E
			for i := range s.cells {
				s.cells[i] = 'E'
			}
			clear(s.wrapped)
			s.top, s.bot = 0, s.rows-1
			s.x, s.y, s.pending = 0, 0, false
		}
	}
}

// param returns parameter i of a CSI sequence, def when missing or zero (as
// ECMA-48 says for counts), bounded so that no loop runs for ever.
func param(params ansi.Params, i, def int) int {
	n, _, _ := params.Param(i, def)
	if n <= 0 {
		n = def
	}
	return min(n, 1<<16)
}

func (s *screen) csi(cmd ansi.Cmd, params ansi.Params) {
	switch cmd.Prefix() {
	case 0:
	case '?':
		if cmd.Intermediate() == 0 {
			switch cmd.Final() {
			case 'h':
				s.decModes(params, true)
			case 'l':
				s.decModes(params, false)
			}
		}
		return
	default:
		return
	}
	switch cmd.Intermediate() {
	case 0:
	case '!':
		if cmd.Final() == 'p' { // DECSTR soft reset
			s.resetModes()
			s.pending = false
		}
		return
	default:
		return
	}
	n := param(params, 0, 1)
	switch cmd.Final() {
	case '@': // ICH
		if !s.alt {
			s.insertBlanks(n)
		}
		s.pending = false
	case 'A': // CUU
		s.moveY(-n)
	case 'B', 'e': // CUD, VPR
		s.moveY(n)
	case 'C', 'a': // CUF, HPR
		s.setX(s.x + n)
	case 'D': // CUB
		s.setX(s.x - n)
	case 'E': // CNL
		s.moveY(n)
		s.x = 0
	case 'F': // CPL
		s.moveY(-n)
		s.x = 0
	case 'G', '`': // CHA, HPA
		s.setX(n - 1)
	case 'H', 'f': // CUP, HVP
		s.setY(n - 1)
		s.setX(param(params, 1, 1) - 1)
	case 'I': // CHT
		s.tab(n)
	case 'Z': // CBT
		s.backTab(n)
	case 'd': // VPA
		s.setY(n - 1)
	case 'J': // ED
		if s.alt {
			s.pending = false
			return
		}
		switch v, _, _ := params.Param(0, 0); v {
		case 0:
			s.clearCells(s.y, s.x, s.cols)
			s.setWrapped(s.y, false)
			s.clearRows(s.y+1, s.rows)
		case 1:
			s.clearRows(0, s.y)
			s.clearCells(s.y, 0, s.x+1)
		case 2:
			s.clearRows(0, s.rows)
		}
		// ED 3 erases the scroll-back buffer only: nothing to do here.
		s.pending = false
		if m := s.marks[markLastOut]; m != noMark && m > s.y {
			s.marks[markLastOut] = s.y
		}
	case 'K': // EL
		if !s.alt {
			switch v, _, _ := params.Param(0, 0); v {
			case 0:
				s.clearCells(s.y, s.x, s.cols)
				s.setWrapped(s.y, false)
			case 1:
				s.clearCells(s.y, 0, s.x+1)
			case 2:
				s.clearCells(s.y, 0, s.cols)
				s.setWrapped(s.y, false)
			}
		}
		s.pending = false
	case 'X': // ECH
		if !s.alt {
			s.clearCells(s.y, s.x, s.x+n)
		}
		s.pending = false
	case 'L': // IL
		if s.y >= s.top && s.y <= s.bot {
			s.scrollDown(s.y, s.bot, n)
			s.x, s.pending = 0, false
		}
	case 'M': // DL
		if s.y >= s.top && s.y <= s.bot {
			s.scrollUp(s.y, s.bot, n)
			s.x, s.pending = 0, false
		}
	case 'P': // DCH
		if !s.alt {
			s.deleteChars(n)
		}
		s.pending = false
	case 'S': // SU
		s.scrollUp(s.top, s.bot, n)
	case 'T': // SD (with more than one parameter it is mouse tracking, ignored)
		if len(params) <= 1 {
			s.scrollDown(s.top, s.bot, n)
		}
	case 'b': // REP
		if s.last != 0 {
			for range min(n, s.cols*s.rows) {
				s.print(s.last)
			}
		}
	case 'r': // DECSTBM
		top, bot := param(params, 0, 1)-1, param(params, 1, s.rows)-1
		bot = min(bot, s.rows-1)
		if top < bot {
			s.top, s.bot = top, bot
			s.x = 0
			s.setY(0)
		}
	case 's': // SCOSC
		s.saveCursor()
	case 'u': // SCORC
		s.restoreCursor()
	case 'h', 'l':
		set := cmd.Final() == 'h'
		for i := range params {
			switch v, _, _ := params.Param(i, 0); v {
			case 4:
				s.insert = set
			case 20:
				s.newline = set
			}
		}
	}
}

func (s *screen) decModes(params ansi.Params, set bool) {
	for i := range params {
		v, _, _ := params.Param(i, 0)
		switch v {
		case 6: // DECOM
			s.origin = set
			s.x = 0
			s.setY(0)
		case 7: // DECAWM
			s.autowrap = set
			if !set {
				s.pending = false
			}
		case 47, 1047:
			s.setAlt(set)
		case 1048:
			if set {
				s.saveCursor()
			} else {
				s.restoreCursor()
			}
		case 1049:
			if set {
				if !s.alt {
					s.saveCursor()
					s.setAlt(true)
				}
			} else if s.alt {
				s.setAlt(false)
				s.restoreCursor()
			}
		case 2004:
			s.paste = set
		}
	}
}

// resize changes the size of the screen. Content stays anchored at the top
// left, except that rows are dropped from the top when the cursor row would
// fall off the bottom, the way terminals keep the cursor line in view.
func (s *screen) resize(cols, rows int) {
	cols, rows = clampSize(cols, rows)
	if cols == s.cols && rows == s.rows {
		return
	}
	if s.y >= rows && !s.alt {
		n := s.y - rows + 1
		s.scrollUp(0, s.rows-1, n)
		s.y -= n
	}
	cells := make([]rune, cols*rows)
	wrapped := make([]bool, rows)
	for y := range min(rows, s.rows) {
		old := s.row(y)
		copy(cells[y*cols:(y+1)*cols], old)
		if cols < s.cols {
			if c := cells[y*cols+cols-1]; c != blank && c != wideTail && s.runeWidth(c) == 2 {
				cells[y*cols+cols-1] = blank
			}
		}
		wrapped[y] = s.isWrapped(y) && cols == s.cols
	}
	for i, m := range s.marks {
		if m >= rows {
			s.marks[i] = noMark
		}
	}
	s.cols, s.rows, s.cells, s.wrapped, s.off = cols, rows, cells, wrapped, 0
	s.x, s.y = min(s.x, cols-1), min(s.y, rows-1)
	s.pending = false
	s.top, s.bot = 0, rows-1
}

// --- reading ------------------------------------------------------------------------------

// text returns cells [x0, x1) of row y as a string (blanks as spaces).
func (s *screen) text(y, x0, x1 int) string {
	x0, x1 = min(max(x0, 0), s.cols), min(x1, s.cols)
	var b strings.Builder
	for _, r := range s.row(y)[x0:max(x1, x0)] {
		switch r {
		case wideTail:
		case blank:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// column returns the column of row y where the n-th character shown by text
// starts (double-width characters take two columns).
func (s *screen) column(y, n int) int {
	row := s.row(y)
	for x, r := range row {
		if r == wideTail {
			continue
		}
		if n == 0 {
			return x
		}
		n--
	}
	return s.cols
}

// full reports whether row y reaches its last column.
func (s *screen) full(y int) bool {
	r := s.row(y)[s.cols-1]
	return r != blank && r != ' '
}

// hasPrefix reports whether row y starts with the cells of p.
func (s *screen) hasPrefix(y int, p []rune) bool {
	if len(p) > s.cols {
		return false
	}
	row := s.row(y)
	for i, r := range p {
		if row[i] != r && !(isBlank(row[i]) && isBlank(r)) {
			return false
		}
	}
	return true
}

// find returns the first column of row y from which the row holds the
// cells of p, or -1. An empty p is never found.
func (s *screen) find(y int, p []rune) int {
	if len(p) == 0 || len(p) > s.cols {
		return -1
	}
	row := s.row(y)
next:
	for x := 0; x+len(p) <= s.cols; x++ {
		for i, r := range p {
			if c := row[x+i]; c != r && !(isBlank(c) && isBlank(r)) {
				continue next
			}
		}
		return x
	}
	return -1
}

func isBlank(r rune) bool { return r == blank || r == ' ' }

// String returns the main screen as text, one line per row, for tests and
// debugging.
func (s *screen) String() string {
	var b strings.Builder
	for y := range s.rows {
		b.WriteString(strings.TrimRight(s.text(y, 0, s.cols), " "))
		b.WriteByte('\n')
	}
	return b.String()
}
