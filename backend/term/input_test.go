package term

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPasteFilter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
		held   bool
	}{
		{"plain text", []string{"ls -l\r"}, "ls -l\r", false},
		{"whole markers", []string{"\x1b[200~echo a\recho b\r\x1b[201~"}, "echo a\recho b\r", false},
		{"marker split across reads", []string{"\x1b[20", "0~rm -rf /\r\x1b", "[201~"}, "rm -rf /\r", false},
		{"arrow keys pass", []string{"\x1b[A\x1b[B\x1bOA"}, "\x1b[A\x1b[B\x1bOA", false},
		{"insert key passes", []string{"\x1b[2~"}, "\x1b[2~", false},
		{"near miss passes", []string{"\x1b[202~x"}, "\x1b[202~x", false},
		{"escape then paste", []string{"\x1b\x1b[200~x"}, "\x1bx", false},
		{"no marker rebuilt around a removed one", []string{"\x1b[20\x1b[200~0~x"}, "x", false},
		{"nor around two", []string{"\x1b\x1b[200~[200~x"}, "x", false},
		{"trailing esc is held", []string{"ab\x1b"}, "ab", true},
		{"trailing prefix is held", []string{"ab\x1b[20"}, "ab", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f pasteFilter
			var got []byte
			for _, c := range tt.chunks {
				got = f.filter(got, []byte(c))
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if f.pending() != tt.held {
				t.Errorf("got pending %v, want %v", f.pending(), tt.held)
			}
			if tt.held {
				got = f.flush(nil)
				if len(got) == 0 || got[0] != 0x1b {
					t.Errorf("got flushed %q, want the held escape", got)
				}
			}
		})
	}
}

func TestRawLine(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want string
		sure bool
	}{
		{"typed", "ls -l", "ls -l", true},
		{"backspace", "ls -lx\x7f", "ls -l", true},
		{"backspace utf8", "echo 中文\x7f", "echo 中", true},
		{"ctrl-u", "garbage\x15echo ok", "echo ok", true},
		{"ctrl-w", "echo one two\x17three", "echo one three", true},
		{"ctrl-c", "rm x\x03ls", "ls", true},
		{"arrow makes unsure", "ls\x1b[D-l", "ls-l", false},
		{"tab makes unsure", "ec\t", "ec", false},
		{"alt key makes unsure", "a\x1bb", "a", false},
		{"paste markers keep it sure", "\x1b[200~rm -rf /\x1b[201~", "rm -rf /", true},
		{"history recall unsure", "\x1b[A", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l rawLine
			for i := 0; i < len(tt.keys); i++ { // byte by byte, as typed
				l.feed([]byte{tt.keys[i]})
			}
			got, sure := l.text()
			if got != tt.want || sure != tt.sure {
				t.Errorf("got %q (sure %v), want %q (sure %v)", got, sure, tt.want, tt.sure)
			}
			var whole rawLine
			whole.feed([]byte(tt.keys))
			if g, s := whole.text(); g != got || s != sure {
				t.Errorf("in one chunk: got %q (sure %v), want %q (sure %v)", g, s, got, sure)
			}
		})
	}
}

func TestRawLineContinuation(t *testing.T) {
	tests := []struct {
		name  string
		lines []string // each ended by an Enter
		want  string   // what the last Enter reports
		sure  bool
	}{
		{"joined", []string{`rm -rf \`, "/"}, "rm -rf /", true},
		{"three lines", []string{`rm \`, `-rf \`, "/"}, "rm -rf /", true},
		{"escaped backslash ends the line", []string{`echo \\`, "/"}, "/", true},
		{"ctrl-c forgets", []string{`rm -rf \`, "\x03/"}, "/", true},
		{"unsure line breaks the chain", []string{`rm -rf \`, "\x1b[A"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l rawLine
			var got string
			var sure bool
			for _, line := range tt.lines {
				l.feed([]byte(line))
				got, sure = l.enter()
			}
			if got != tt.want || sure != tt.sure {
				t.Errorf("got %q (sure %v), want %q (sure %v)", got, sure, tt.want, tt.sure)
			}
		})
	}
}

func TestSizeClamp(t *testing.T) {
	tests := []struct {
		in   Size
		want Size
		ok   bool
	}{
		{Size{80, 24}, Size{80, 24}, true},
		{Size{5000, 99999}, Size{MaxCols, MaxRows}, true},
		{Size{1, 1}, Size{1, 1}, true},
		{Size{0, 24}, Size{0, 24}, false},
		{Size{80, -1}, Size{80, -1}, false},
	}
	for _, tt := range tests {
		got, ok := tt.in.Clamp()
		if got != tt.want || ok != tt.ok {
			t.Errorf("%v.Clamp(): got %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := normalSize(Size{}); got != (Size{DefaultCols, DefaultRows}) {
		t.Errorf("normalSize(0x0): got %v, want 80x24", got)
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name string
		lang string
		id   MessageID
		args []any
		want string
	}{
		{"locked en", "en", MsgLocked, nil, "\r\n[Portcullis] Your input is locked by an administrator.\r\n"},
		{"locked zh", "zh-CN", MsgLocked, nil, "\r\n[Portcullis] 您的输入已被管理员锁定。\r\n"},
		{"unknown language falls back", "fr", MsgLocked, nil, "\r\n[Portcullis] Your input is locked by an administrator.\r\n"},
		{"zh variants", "zh-Hans", MsgUnlocked, nil, "\r\n[Portcullis] 您的输入已解锁。\r\n"},
		{"denied", "en", MsgDenied, []any{"Deny dangerous commands", "rm -rf /"}, "\r\n[Portcullis] Command denied by rule \"Deny dangerous commands\": rm -rf /\r\n"},
		{"escape sequences neutralized", "en", MsgDenied, []any{"r", "x\x1b[2J\x9b\xff"}, "\r\n[Portcullis] Command denied by rule \"r\": x?[2J\ufffd\ufffd\r\n"},
		{"duration", "en", MsgIdle, []any{90 * time.Minute}, "\r\n[Portcullis] Session closed: no input for 1h30m.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Message(tt.lang, tt.id, tt.args...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	for _, lang := range Languages() {
		for id := MessageID(0); id < numMessages; id++ {
			if messages[lang][id] == "" {
				t.Errorf("message %d has no %s text", id, lang)
			}
			if !strings.HasSuffix(messages[lang][id], "\r\n") {
				t.Errorf("message %d (%s) does not end its line", id, lang)
			}
		}
	}
}

// FuzzInputParsers checks that the paste filter and the keystroke line never
// panic, and that how the input is cut into reads changes nothing.
func FuzzInputParsers(f *testing.F) {
	for _, s := range []string{"ls -l\r", "\x1b[200~a\rb\x1b[201~", "\x1b[20", "x\x1b[A\x7f\x15\x17\x03", "\xff\xfe\x1b\x1b[", "中文\x7f"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		var whole, split pasteFilter
		a := whole.flush(whole.filter(nil, in))
		k := int(cut) % (len(in) + 1)
		b := split.filter(nil, in[:k])
		b = split.flush(split.filter(b, in[k:]))
		if bytes.Contains(a, []byte(pasteStart)) || bytes.Contains(a, []byte(pasteEnd)) {
			t.Errorf("a paste marker is left in %q from %q", a, in)
		}
		if !escInterrupts(in) && !bytes.Equal(a, b) {
			// Unless an ESC interrupts a would-be marker, how the input is
			// cut into reads changes nothing.
			t.Errorf("cut at %d: got %q, want %q", k, b, a)
		}
		var l1, l2 rawLine
		l1.feed(in)
		l2.feed(in[:k])
		l2.feed(in[k:])
		g1, s1 := l1.text()
		if g2, s2 := l2.text(); g1 != g2 || s1 != s2 {
			t.Errorf("raw line cut at %d: got %q %v, want %q %v", k, g2, s2, g1, s1)
		}
	})
}

// escInterrupts reports whether an ESC follows another within a marker's length.
func escInterrupts(p []byte) bool {
	last := -len(pasteStart)
	for i, c := range p {
		if c == 0x1b {
			if i-last < len(pasteStart) {
				return true
			}
			last = i
		}
	}
	return false
}
