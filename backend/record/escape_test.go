package record

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The expected strings were produced by asciinema's own path: Python's
// bytes.decode("utf-8", "replace") then json.dumps(ensure_ascii=False).
func TestAppendText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ascii", "hello", `hello`},
		{"quote and backslash", `a"b\c`, `a\"b\\c`},
		{"controls", "\x00\x01\x1b[0m\x7f", `\u0000\u0001\u001b[0m` + "\x7f"},
		{"short escapes", "\b\f\n\r\t", `\b\f\n\r\t`},
		{"valid utf-8", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "café 日本 😀"},
		{"truncated 3-byte then ascii", "\xe2\x82A", "\uFFFDA"},
		{"truncated 4-byte at end", "\xf0\x9f\x98", "\uFFFD"},
		{"surrogate", "\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"overlong 2-byte", "\xc0\xaf", "\uFFFD\uFFFD"},
		{"overlong 3-byte", "\xe0\x80\xaf", "\uFFFD\uFFFD\uFFFD"},
		{"above U+10FFFF", "\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"invalid bytes", "\xff\xfe", "\uFFFD\uFFFD"},
		{"lone continuations", "\x80\x80", "\uFFFD\uFFFD"},
		{"mixed", "\xf0\x9fA\xe2", "\uFFFDA\uFFFD"},
		{"maximal subparts", "\xe1\x80\xe2\xf0\x91\x92\xf1\xbfA", "\uFFFD\uFFFD\uFFFD\uFFFDA"},
		{"run of NUL", strings.Repeat("\x00", 20), strings.Repeat(`\u0000`, 20)},
		{"long safe run", strings.Repeat("abcdefgh", 9) + "\x1b", strings.Repeat("abcdefgh", 9) + `\u001b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest := appendText(nil, []byte(tt.in), true)
			if string(got) != tt.want || rest != 0 {
				t.Errorf("got %q (rest %d), want %q", got, rest, tt.want)
			}
		})
	}
}

func TestAppendTextLeavesIncompleteTail(t *testing.T) {
	tests := []struct {
		in       string
		wantText string
		wantRest int
	}{
		{"ab\xe2\x82", "ab", 2},
		{"ab\xf0", "ab", 1},
		{"ab\xf0\x9f\x98", "ab", 3},
		{"ab\xe2\x82\xac", "ab€", 0},
		{"ab\xe2\x41", "ab\uFFFDA", 0}, // not a prefix any more: replaced at once
		{"ab\xff", "ab\uFFFD", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, rest := appendText(nil, []byte(tt.in), false)
			if string(got) != tt.wantText || rest != tt.wantRest {
				t.Errorf("got %q rest %d, want %q rest %d", got, rest, tt.wantText, tt.wantRest)
			}
		})
	}
}

func TestAppendSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000000"},
		{1500 * time.Microsecond, "0.001500"},
		{12*time.Second + 34567*time.Microsecond, "12.034567"},
		{-time.Second, "0.000000"},
		{90 * time.Minute, "5400.000000"},
	}
	for _, tt := range tests {
		if got := string(appendSeconds(nil, tt.d)); got != tt.want {
			t.Errorf("appendSeconds(%v): got %s, want %s", tt.d, got, tt.want)
		}
	}
}

func TestEventAppendJSON(t *testing.T) {
	got := string(Event{Time: 1.25, Kind: "o", Data: "hi\r\n\x1b"}.AppendJSON(nil))
	want := `[1.250000, "o", "hi\r\n\u001b"]`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestAppendTextMatchesPython compares the escaper with asciinema's own decoding
// (Python's UTF-8 decoder with errors="replace", json.dumps(ensure_ascii=False)) on
// random bytes biased towards UTF-8 edge cases.
func TestAppendTextMatchesPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed: cannot compare with asciinema's decoder")
	}
	const script = `
import json, sys
for line in sys.stdin:
    data = bytes.fromhex(line.strip()).decode("utf-8", "replace")
    sys.stdout.write(json.dumps(data, ensure_ascii=False)[1:-1] + "\n")
`
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0x00, 0x1b, '\n', '"', '\\', 'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
		0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff}
	var inputs [][]byte
	var stdin bytes.Buffer
	for i := 0; i < 3000; i++ {
		b := make([]byte, rng.IntN(24))
		for j := range b {
			if rng.IntN(4) == 0 {
				b[j] = byte(rng.IntN(256))
			} else {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		inputs = append(inputs, b)
		stdin.WriteString(hex.EncodeToString(b) + "\n")
	}
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = &stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for i, in := range inputs {
		if !sc.Scan() {
			t.Fatalf("python3 stopped after %d lines", i)
		}
		got, _ := appendText(nil, in, true)
		if want := sc.Text(); string(got) != want {
			t.Fatalf("input %x: got %q, want %q", in, got, want)
		}
	}
}

// FuzzAppendText checks that the escaper always yields a valid JSON string, keeps
// valid UTF-8 unchanged, and gives the same text whatever the chunking when the
// incomplete tails are carried over.
func FuzzAppendText(f *testing.F) {
	for _, s := range []string{"", "hello\r\n", "\x00\x00\x1b[31m", "\xe2\x82\xac", "\xf0\x9f\x98\x80x", "\xff\xed\xa0\x80"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		whole, rest := appendText(nil, in, true)
		if rest != 0 {
			t.Fatalf("rest %d with final", rest)
		}
		var s string
		if err := json.Unmarshal(append(append([]byte{'"'}, whole...), '"'), &s); err != nil {
			t.Fatalf("%q is not a JSON string body: %v", whole, err)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("decoded %q is not valid UTF-8", s)
		}
		if utf8.Valid(in) && s != string(in) {
			t.Fatalf("valid input changed: got %q, want %q", s, in)
		}
		// The same input in chunks of split bytes, carrying incomplete tails.
		n := int(split%16) + 1
		var got, pending []byte
		for off := 0; off < len(in); off += n {
			chunk := append(pending, in[off:min(off+n, len(in))]...)
			var r int
			got, r = appendText(got, chunk, false)
			pending = append([]byte(nil), chunk[len(chunk)-r:]...)
		}
		got, _ = appendText(got, pending, true)
		if !bytes.Equal(got, whole) {
			t.Fatalf("in chunks of %d: got %q, want %q", n, got, whole)
		}
	})
}

// BenchmarkAppendText measures the escaper alone on 32 KiB of text, random bytes and
// NUL, into a reused buffer.
func BenchmarkAppendText(b *testing.B) {
	random := make([]byte, 32<<10)
	rand.NewChaCha8([32]byte{1}).Read(random)
	text := []byte(strings.Repeat("\x1b[01;34mdrwxr-xr-x\x1b[0m  2 root root 4096 Nov 27 10:00 \x1b[01;32mcafé\x1b[0m\r\n", 600)[:32<<10])
	for _, in := range []struct {
		name string
		data []byte
	}{{"text", text}, {"random", random}, {"nul", make([]byte, 32<<10)}} {
		b.Run(in.name, func(b *testing.B) {
			dst := make([]byte, 0, 256<<10)
			b.SetBytes(int64(len(in.data)))
			for i := 0; i < b.N; i++ {
				dst, _ = appendText(dst[:0], in.data, false)
			}
		})
	}
}
