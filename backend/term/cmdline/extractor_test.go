package cmdline

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// step is one event of a synthetic session: output from the target, keys
// from the user, or an Enter with the command it must report.
type step struct {
	out, in string
	enter   bool
	cmd     string
	ok      bool
	blind   string
	resize  [2]int
}

func out(s string) step          { return step{out: s} }
func in(s string) step           { return step{in: s} }
func enter(cmd string) step      { return step{enter: true, cmd: cmd, ok: true} }
func skipped(blind string) step  { return step{enter: true, blind: blind} }
func resize(cols, rows int) step { return step{resize: [2]int{cols, rows}} }

// typed echoes keys the way a shell does: the user types s, the target prints it.
func typed(s string) []step { return []step{in(s), out(s)} }

func session(steps ...any) []step {
	var all []step
	for _, s := range steps {
		switch v := s.(type) {
		case step:
			all = append(all, v)
		case []step:
			all = append(all, v...)
		}
	}
	return all
}

func TestExtractor(t *testing.T) {
	const ps1 = "\x1b[?2004huser@host:~$ "
	tests := []struct {
		name       string
		cols, rows int
		steps      []step
	}{
		{"plain", 80, 24, session(out(ps1), typed("ls -la"), enter("ls -la"))},
		{"empty line", 80, 24, session(out(ps1), enter(""))},
		{"backspace", 80, 24, session(out(ps1), typed("lx"), in("\x7f"), out("\b\x1b[K"), typed("s"), enter("ls"))},
		{"history recall", 80, 24, session(out(ps1), in("\x1b[A"), out("echo earlier"), enter("echo earlier"))},
		{"no echo", 80, 24, session(out("Password: "), in("s3cret"), skipped("s3cret"))},
		{"asterisks", 80, 24, session(out("Password: "), in("abc"), out("***"), skipped("abc"))},
		{"keys but no printable ones", 80, 24, session(out(ps1), in("\x1b[A"), enter(""))},
		{"password then prompt on the same row", 80, 24, session(
			out("Password: "), in("pw"), skipped("pw"),
			out(ps1), typed("id"), enter("id"))},
		{"full screen", 80, 24, session(
			out(ps1), typed("vi x"), enter("vi x"), out("\r\n\x1b[?1049h\x1b[H\x1b[2J~\r\n~"),
			in("ihello"), out("hello"), skipped("ihello"),
			in(":q"), out(":q"), skipped(":q"),
			out("\x1b[?1049l"+ps1), typed("ls"), enter("ls"))},
		{"alternate screen switched while typing", 80, 24, session(
			out(ps1), typed("abc"), out("\x1b[?1049hgarbage\x1b[?1049l"), out(ps1), typed("ls"), enter("ls"))},
		{"continuation", 80, 24, session(
			out(ps1), typed(`ls \`), skipped(""), out("\r\n> "), typed("-la"), enter("ls -la"))},
		{"continuation then empty line", 80, 24, session(
			out(ps1), typed(`ls \`), skipped(""), out("\r\n> "), enter("ls "))},
		{"escaped backslash is not a continuation", 80, 24, session(out(ps1), typed(`echo \\`), enter(`echo \\`))},
		{"ctrl-c drops continued lines", 80, 24, session(
			out(ps1), typed(`rm -rf \`), skipped(""), out("\r\n> "), in("\x03"), out("^C\r\n"+ps1), typed("pwd"), enter("pwd"))},
		{"completion list redraws the prompt", 80, 24, session(
			out(ps1), typed("ls al"), in("\t"), out("pha"), in("\t"), out("\a\r\nalpha1  alpha2\r\n"+ps1+"ls alpha"), typed("2"), enter("ls alpha2"))},
		{"ctrl-l", 80, 24, session(out("noise\r\n"+ps1), typed("ls"), in("\x0c"), out("\x1b[H\x1b[2J"+ps1+"ls"), typed(" /"), enter("ls /"))},
		{"ctrl-c then keys in one read", 80, 24, session(
			out(ps1), typed("abc"), in("\x03ls"), out("^C\r\n"+ps1+"ls"), enter("ls"))},
		{"reverse search", 80, 24, session(
			out(ps1), in("\x12ec"), out("\r(reverse-i-search)`': \x1b[Ke\x08\x08\x08ec': echo hi\x1b[4D"), enter("echo hi"))},
		{"wrapped command", 20, 5, session(out(ps1), typed("echo 0123456789abcdef"), enter("echo 0123456789abcdef"))},
		{"wrapped command at the bottom scrolls", 20, 3, session(
			out("a\r\nb\r\n"+ps1), typed("echo 0123456789abcdef"), enter("echo 0123456789abcdef"))},
		{"prompt scrolled off the top", 10, 3, session(
			out("$ "), typed(strings.Repeat("x", 40)), enter(strings.Repeat("x", 22)))},
		{"prompt fills its row", 10, 3, session(out("0123456789"), typed("ls"), enter("ls"))},
		{"paste of several lines in bash", 80, 24, session(
			out(ps1), in("\x1b[200~echo a\recho b\r\x1b[201~"), out("\x1b[7mecho a\x1b[27m\r\n\r\x1b[7mecho b\x1b[27m\r\n\r"), enter("echo a\necho b"))},
		{"pasted line that wraps without a wrap", 10, 4, session(
			out("$ "), typed("12345678"), out("\r\n"), typed("abc"), enter("12345678abc"))},
		{"line filled by the shell", 80, 24, session(
			out(ps1), typed("echo one"), enter("echo one"), out("\r\none\r\n"+ps1+"echo two"), enter("echo two"))},
		{"keys echoed before the prompt", 80, 24, session(
			out(ps1), typed("sleep 9"), enter("sleep 9"), out("\r\n"), in("\x03"), out("^C\r\n"),
			typed("e"), out(ps1+"e"), typed("cho hi"), enter("echo hi"))},
		{"program input", 80, 24, session(out(ps1), typed("cat"), enter("cat"), out("\r\n"), typed("hello"), enter("hello"))},
		{"resize", 80, 24, session(out(ps1), typed("ls"), resize(40, 10), out("\r"+ps1+"ls"), typed(" -l"), enter("ls -l"))},
		{"enter key in input is forgotten", 80, 24, session(out(ps1), typed("ls"), in("\r"), out("\r\n"+ps1), typed("pwd"), enter("pwd"))},
		{"two-line prompt", 80, 24, session(out("[user@host ~]\r\n$ "), typed("ls"), enter("ls"))},
		{"wide characters", 80, 24, session(out(ps1), typed("echo 世界 é"), enter("echo 世界 é"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := New(tt.cols, tt.rows)
			for i, s := range tt.steps {
				switch {
				case s.out != "":
					x.Output([]byte(s.out))
				case s.in != "":
					x.Input([]byte(s.in))
				case s.resize != [2]int{}:
					x.Resize(s.resize[0], s.resize[1])
				case s.enter:
					cmd, ok := x.Enter()
					if cmd != s.cmd || ok != s.ok {
						t.Fatalf("step %d: got %q, %v, want %q, %v\nscreen:\n%s", i, cmd, ok, s.cmd, s.ok, x.scr)
					}
					if got := x.Blind(); got != s.blind {
						t.Fatalf("step %d: got Blind %q, want %q", i, got, s.blind)
					}
				}
			}
		})
	}
}

func TestLost(t *testing.T) {
	x := New(80, 24)
	// vim starts, then the output that ended it is lost in a flood.
	x.Output([]byte("$ vim\r\n\x1b[?1049h\x1b[2;20r\x1b[?6h~\x1b[1"))
	x.Lost()
	if x.FullScreen() {
		t.Fatal("got FullScreen after Lost, want the main screen")
	}
	x.Output([]byte("0;1H\r\n$ "))
	x.Input([]byte("ls"))
	x.Output([]byte("ls"))
	if cmd, ok := x.Enter(); cmd != "ls" || !ok {
		t.Errorf("got %q, %v, want \"ls\", true", cmd, ok)
	}
}

func TestSplitAtEnter(t *testing.T) {
	tests := []struct {
		name   string
		output string // sent by the target first (bracketed paste mode)
		before string // keys already given to Input
		input  string
		want   []string // Keys|Enter of each segment
	}{
		{"no enter", "", "", "ls", []string{"ls|"}},
		{"one line", "", "", "ls\r", []string{"ls|\r"}},
		{"paste of lines", "", "", "echo a\necho b\n", []string{"echo a|\n", "echo b|\n"}},
		{"keys after the last enter", "", "", "a\rb", []string{"a|\r", "b|"}},
		{"CR LF is two enters", "", "", "a\r\n", []string{"a|\r", "|\n"}},
		{"ctrl-o runs the line", "", "", "a\x0fb", []string{"a|\x0f", "b|"}},
		{"alt-enter", "", "", "a\x1b\r", []string{"a\x1b|\r"}},
		{"enter inside an escape sequence", "", "", "a\x1b[1\r", []string{"a\x1b[1|\r"}},
		{"bracketed paste", "\x1b[?2004h", "", "\x1b[200~a\rb\r\x1b[201~\r", []string{"\x1b[200~a\rb\r\x1b[201~|\r"}},
		{"brackets without paste mode", "", "", "\x1b[200~a\rb\x1b[201~", []string{"\x1b[200~a|\r", "b\x1b[201~|"}},
		{"paste mode turned off", "\x1b[?2004h\x1b[?2004l", "", "\x1b[200~a\r", []string{"\x1b[200~a|\r"}},
		{"paste continues from an earlier read", "\x1b[?2004h", "\x1b[200~x", "a\rb\x1b[201~\r", []string{"a\rb\x1b[201~|\r"}},
		{"paste end split across reads", "\x1b[?2004h", "\x1b[200~x\x1b[20", "1~\r", []string{"1~|\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := New(80, 24)
			x.Output([]byte(tt.output))
			x.Input([]byte(tt.before))
			var got []string
			for _, s := range x.SplitAtEnter([]byte(tt.input)) {
				got = append(got, string(s.Keys)+"|"+string(s.Enter))
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The budget is 100 KiB per idle session, everything included: an
// 80x24 Extractor must stay well under it.
func TestMemory(t *testing.T) {
	const n, limit = 200, 16 << 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	xs := make([]*Extractor, n)
	for i := range xs {
		xs[i] = New(80, 24)
		xs[i].Output([]byte("user@host:~$ ls -la\r\nfile\r\nuser@host:~$ "))
		xs[i].Input([]byte("ls"))
		xs[i].Output([]byte("ls"))
		xs[i].Enter()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(xs)
	if got := int(after.HeapAlloc-before.HeapAlloc) / n; got > limit {
		t.Errorf("got %d bytes per Extractor, want at most %d", got, limit)
	}
}

// FuzzExtractor drives an Extractor with random interleavings of output,
// input, Enter, resizes, splits and lost output. It must never panic, Enter must never return
// more text than the screen holds, and SplitAtEnter must only cut at CR or
// LF without losing a byte.
func FuzzExtractor(f *testing.F) {
	f.Add([]byte{80, 24, 0, 14, 'u', 's', 'e', 'r', '@', 'h', 'o', 's', 't', ':', '~', '$', ' ', 1, 2, 'l', 's', 2})
	f.Add([]byte{10, 3, 0, 2, '$', ' ', 1, 40, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 0, 40, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 2})
	f.Add([]byte("\x10\x05\x00\x08\x1b[?1049h\x01\x03abc\x02\x00\x08\x1b[?1049l\x03\x06a\rb\x1b\r\x02"))
	f.Add([]byte("\x20\x08\x00\x0c\x1b[?2004h$ \x01\x0a\x1b[200~a\rb\r\x02\x04\x05\x05\x00\x06\x1b[2;3r\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		x := New(int(data[0]%100)+1, int(data[1]%40)+1)
		data = data[2:]
		for len(data) > 0 {
			op := data[0] % 6
			data = data[1:]
			var chunk []byte
			if op != 2 && op != 5 && len(data) > 0 {
				n := min(int(data[0]), len(data)-1)
				chunk, data = data[1:1+n], data[1+n:]
			}
			switch op {
			case 0:
				x.Output(chunk)
			case 1:
				x.Input(chunk)
			case 2:
				cmd, ok := x.Enter()
				limit := x.scr.cols * x.scr.rows
				if n := utf8.RuneCountInString(strings.ReplaceAll(cmd, "\n", "")); n > limit {
					t.Fatalf("Enter returned %d characters, more than the %d the screen holds", n, limit)
				}
				if !ok && cmd != "" {
					t.Fatalf("Enter returned %q with ok=false", cmd)
				}
				if len(x.Blind()) > maxBlind+utf8.UTFMax {
					t.Fatalf("Blind returned %d bytes", len(x.Blind()))
				}
			case 3:
				if len(chunk) >= 2 {
					x.Resize(int(chunk[0])-10, int(chunk[1])-10)
				}
			case 4:
				var joined []byte
				for _, s := range x.SplitAtEnter(chunk) {
					if bytes.ContainsAny(s.Keys, "\r\n\x0f") && !x.scr.paste {
						t.Fatalf("segment keys %q hold an Enter outside a paste", s.Keys)
					}
					if len(s.Enter) > 1 || (len(s.Enter) == 1 && s.Enter[0] != '\r' && s.Enter[0] != '\n' && s.Enter[0] != 0x0f) {
						t.Fatalf("segment Enter %q is not CR, LF or Ctrl-O", s.Enter)
					}
					joined = append(append(joined, s.Keys...), s.Enter...)
					x.Input(s.Keys)
				}
				if !bytes.Equal(joined, chunk) {
					t.Fatalf("segments %q do not add up to the input %q", joined, chunk)
				}
			case 5:
				x.Lost()
			}
		}
	})
}
