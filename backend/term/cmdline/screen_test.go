package cmdline

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/charmbracelet/x/vt"
)

// lines returns the screen's rows, trailing blanks trimmed, without the
// empty rows at the bottom.
func lines(s *screen) []string {
	out := strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func TestScreen(t *testing.T) {
	tests := []struct {
		name       string
		cols, rows int
		out        string
		want       []string
		x, y       int
		wrapped    []int // rows with the soft-wrap flag
	}{
		{"text", 10, 3, "ab\r\ncd", []string{"ab", "cd"}, 2, 1, nil},
		{"auto-wrap", 5, 3, "abcdefg", []string{"abcde", "fg"}, 2, 1, []int{0}},
		{"deferred wrap", 5, 3, "abcde", []string{"abcde"}, 4, 0, nil},
		{"deferred wrap then CR", 5, 3, "abcde\rX", []string{"Xbcde"}, 1, 0, nil},
		{"readline margin trick", 5, 3, "abcde \rX", []string{"abcde", "X"}, 1, 1, []int{0}},
		{"backspace and erase", 10, 2, "hello\b\b\x1b[K", []string{"hel"}, 3, 0, nil},
		{"erase clears the wrap", 5, 3, "abcdefg\x1b[A\r\x1b[3C\x1b[K", []string{"abc", "fg"}, 3, 0, nil},
		{"scroll", 5, 2, "a\r\nb\r\nc", []string{"b", "c"}, 1, 1, nil},
		{"scroll keeps wrap flags", 3, 2, "x\r\nabcd", []string{"abc", "d"}, 1, 1, []int{0}},
		{"cursor movement", 10, 3, "\x1b[2;3Hx\x1b[Ay\x1b[2Dz", []string{"  zy", "  x"}, 3, 0, nil},
		{"insert and delete chars", 10, 1, "abcdef\r\x1b[2C\x1b[2@XY\x1b[3P", []string{"abXYf"}, 4, 0, nil},
		{"erase chars", 10, 1, "abcdef\r\x1b[1C\x1b[2X", []string{"a  def"}, 1, 0, nil},
		{"erase display", 5, 3, "aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[J", []string{"aaa", "b"}, 1, 1, nil},
		{"erase above", 5, 3, "aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[1J", []string{"", "  b", "ccc"}, 1, 1, nil},
		{"clear", 5, 3, "aaa\r\nbbb\x1b[H\x1b[2J$ ", []string{"$"}, 2, 0, nil},
		{"scroll region", 5, 4, "1\r\n2\r\n3\r\n4\x1b[2;3r\x1b[3;1H\n\nX", []string{"1", "", "X", "4"}, 1, 2, nil},
		{"insert and delete lines", 5, 4, "1\r\n2\r\n3\r\n4\x1b[2;1H\x1b[L\x1b[4;1H\x1b[M", []string{"1", "", "2"}, 0, 3, nil},
		{"reverse index at top", 5, 3, "a\x1b[H\x1bMb", []string{"b", "a"}, 1, 0, nil},
		{"scroll up and down", 5, 3, "a\r\nb\r\nc\x1b[S", []string{"b", "c"}, 1, 2, nil},
		{"save and restore cursor", 10, 2, "ab\x1b7\r\ncd\x1b8X", []string{"abX", "cd"}, 3, 0, nil},
		{"tab", 20, 1, "a\tb", []string{"a       b"}, 9, 0, nil},
		{"repeat", 10, 1, "x\x1b[3b", []string{"xxxx"}, 4, 0, nil},
		{"wide characters", 6, 2, "a世界b", []string{"a世界b"}, 6 - 1, 0, nil},
		{"wide character at the margin wraps", 4, 2, "abc世", []string{"abc", "世"}, 2, 1, []int{0}},
		{"overwrite half of a wide character", 6, 1, "世界\r\x1b[1Cx", []string{" x界"}, 2, 0, nil},
		{"wide character over two wide ones", 6, 1, "世界\r\x1b[1C世", []string{" 世"}, 3, 0, nil},
		{"narrow over the left half", 6, 1, "世界\rx", []string{"x 界"}, 1, 0, nil},
		{"combining marks are dropped", 10, 1, "e\u0301x", []string{"ex"}, 2, 0, nil},
		{"alternate screen keeps the main one", 10, 3, "$ vi\r\n\x1b[?1049h\x1b[Hjunk\r\nmore\x1b[?1049l", []string{"$ vi"}, 0, 1, nil},
		{"alternate screen 47", 10, 3, "$ x\x1b[?47hjunk\x1b[?47l", []string{"$ x"}, 7, 0, nil},
		{"no auto-wrap", 5, 2, "\x1b[?7labcdefg", []string{"abcdg"}, 4, 0, nil},
		{"insert mode", 10, 1, "abc\r\x1b[4hXY", []string{"XYabc"}, 2, 0, nil},
		{"origin mode", 10, 4, "\x1b[2;3r\x1b[?6h\x1b[1;1Hx", []string{"", "x"}, 1, 1, nil},
		{"full reset", 10, 2, "abc\x1b[?1049h\x1bc", nil, 0, 0, nil},
		{"soft reset", 10, 3, "\x1b[2;3r\x1b[?6h\x1b[!p\x1b[1;1Hx", []string{"x"}, 1, 0, nil},
		{"SGR and OSC are ignored", 20, 1, "\x1b[1;31mred\x1b[0m\x1b]0;title\a\x1b]8;;http://x\x1b\\ok", []string{"redok"}, 5, 0, nil},
		{"huge parameters are bounded", 10, 2, "x\x1b[99999b\x1b[99999999A\x1b[99999999C", []string{"xxxxxxxxxx", "x"}, 9, 0, []int{0}},
		{"invalid UTF-8", 10, 1, "a\xffb\xc3", []string{"ab"}, 2, 0, nil},
		{"line feed new line mode", 10, 2, "\x1b[20hab\ncd", []string{"ab", "cd"}, 2, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScreen(tt.cols, tt.rows)
			s.write([]byte(tt.out))
			if got := lines(s); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got screen %q, want %q", got, tt.want)
			}
			if s.x != tt.x || s.y != tt.y {
				t.Errorf("got cursor %d,%d, want %d,%d", s.x, s.y, tt.x, tt.y)
			}
			var wrapped []int
			for y := range s.rows {
				if s.isWrapped(y) {
					wrapped = append(wrapped, y)
				}
			}
			if fmt.Sprint(wrapped) != fmt.Sprint(tt.wrapped) {
				t.Errorf("got wrapped rows %v, want %v", wrapped, tt.wrapped)
			}
		})
	}
}

func TestScreenResize(t *testing.T) {
	s := newScreen(10, 4)
	s.write([]byte("1\r\n2\r\n3\r\n4"))
	s.resize(5, 2)
	if got, want := lines(s), []string{"3", "4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if s.x != 1 || s.y != 1 {
		t.Errorf("got cursor %d,%d, want 1,1", s.x, s.y)
	}
	s.resize(1<<20, 1<<20)
	if s.cols != MaxCols || s.rows != MaxRows {
		t.Errorf("got %dx%d, want %dx%d", s.cols, s.rows, MaxCols, MaxRows)
	}
	s.resize(-5, 0)
	if s.cols != 1 || s.rows != 1 {
		t.Errorf("got %dx%d, want 1x1", s.cols, s.rows)
	}
}

// vtLines renders the active screen of a charmbracelet/x/vt emulator the way
// lines renders ours.
func vtLines(e *vt.Emulator) []string {
	var out []string
	for y := range e.Height() {
		var b strings.Builder
		for x := 0; x < e.Width(); x++ {
			c := e.CellAt(x, y)
			switch {
			case c == nil || c.Content == "":
				if c != nil && c.Width == 0 {
					continue // the right half of a wide character
				}
				b.WriteByte(' ')
			default:
				b.WriteString(c.Content)
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// opStream turns bytes into a stream of terminal output built from the
// operations both emulators implement the same way, so that a fuzzer or a
// random generator can drive both.
func opStream(seed []byte) string {
	var b strings.Builder
	// No double-width characters: x/vt drops one that does not fit at the
	// right margin, where xterm (and screen) wrap it to the next row.
	words := []string{"ls", "echo hello", "user@host:~$ ", "0123456789", "é", "x"}
	for i := 0; i+1 < len(seed); i += 2 {
		op, arg := seed[i], int(seed[i+1])
		n := arg%12 + 1
		switch op % 24 {
		case 0, 1, 2, 3:
			b.WriteString(words[arg%len(words)])
		case 4:
			b.WriteString("\r\n")
		case 5:
			b.WriteString("\r")
		case 6:
			b.WriteString("\b")
		case 7:
			fmt.Fprintf(&b, "\x1b[%dA", n)
		case 8:
			fmt.Fprintf(&b, "\x1b[%dB", n)
		case 9:
			fmt.Fprintf(&b, "\x1b[%dC", n)
		case 10:
			fmt.Fprintf(&b, "\x1b[%dD", n)
		case 11:
			fmt.Fprintf(&b, "\x1b[%d;%dH", arg%9+1, arg/9%30+1)
		// x/vt keeps the pending-wrap state across EL, ED, ICH, DCH, IL, DL
		// and RI, where xterm resets it: move the cursor first so that both
		// agree.
		case 12:
			fmt.Fprintf(&b, "\x1b[%dG\x1b[%dK", arg/3%30+1, arg%3)
		case 13:
			// Not ED 1: x/vt erases the whole cursor row, not up to the cursor.
			fmt.Fprintf(&b, "\x1b[%dG\x1b[%dJ", arg/2%30+1, arg%2*2)
		case 14:
			fmt.Fprintf(&b, "\x1b[%dG\x1b[%d@", arg/12%30+1, n)
		case 15:
			fmt.Fprintf(&b, "\x1b[%dG\x1b[%dP", arg/12%30+1, n)
		case 16:
			fmt.Fprintf(&b, "\x1b[%dX", n)
		case 17:
			fmt.Fprintf(&b, "\x1b[%dG\x1b[%dL", n, n%4+1)
		case 18:
			fmt.Fprintf(&b, "\x1b[%dG\x1b[%dM", n, n%4+1)
		case 19:
			b.WriteString("\n")
		case 20:
			fmt.Fprintf(&b, "\x1b[%dG", n)
		case 21:
			fmt.Fprintf(&b, "\x1b[%dd", arg%9+1)
		case 22:
			fmt.Fprintf(&b, "\x1b[%dG\x1bM", n)
		case 23:
			fmt.Fprintf(&b, "\x1b[%dS", n%3+1)
		}
	}
	return b.String()
}

// checkAgainstVT feeds out to our screen and to charmbracelet/x/vt, a full
// terminal emulator, and compares the text and the cursor.
func checkAgainstVT(t *testing.T, out string) {
	t.Helper()
	const cols, rows = 30, 9
	s := newScreen(cols, rows)
	e := vt.NewEmulator(cols, rows)
	s.write([]byte(out))
	e.Write([]byte(out))
	got, want := lines(s), vtLines(e)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("output %q:\ngot screen  %q\nwant (x/vt) %q", out, got, want)
	}
	pos := e.CursorPosition()
	if s.y != pos.Y || s.x != pos.X {
		t.Fatalf("output %q: got cursor %d,%d, want (x/vt) %d,%d", out, s.x, s.y, pos.X, pos.Y)
	}
}

func TestScreenMatchesVT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		seed := make([]byte, 2*(1+r.IntN(40)))
		for i := range seed {
			seed[i] = byte(r.UintN(256))
		}
		checkAgainstVT(t, opStream(seed))
	}
}

func FuzzScreenMatchesVT(f *testing.F) {
	f.Add([]byte{0, 2, 4, 0, 0, 1, 7, 1, 12, 0})
	f.Add([]byte{1, 3, 1, 3, 1, 3, 1, 3, 13, 1, 11, 40})
	f.Fuzz(func(t *testing.T, seed []byte) {
		if len(seed) > 400 {
			return
		}
		checkAgainstVT(t, opStream(seed))
	})
}
