package record

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/klauspost/compress/gzip"
)

// FuzzDecodeEvent checks that the fast event decoder agrees with parseEvent
// (encoding/json) on every line.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`[0.248013, "o", "$ "]`,
		"[1.5, \"o\", \"\\u001b[01;34mdocs\\u001b[0m caf\\u00e9 \\ud83d\\ude00 日本\"]\n",
		`[1e2,"r","80x24"]`,
		`  [ -0.5 , "m" , "[denied] rm -rf /" ]  `,
		`[1, "o", "\ud800"]`,
		`[1, "o", "\udc00\ud800"]`,
		"[1, \"o\", \"\xff\xfe\"]",
		`[01, "o", "x"]`,
		`[1., "o", "x"]`,
		`[1, "o", "x",]`,
		`[1, "o", "x"] [`,
		`[1e999, "o", "x"]`,
		`[1, "\u006f", "x"]`,
		`[1, "o", "tab	inside"]`,
		`[1, "o", "\/\b\f\n\r\t\"\\"]`,
		`{"version": 2}`,
	} {
		f.Add([]byte(s))
	}
	var d lineDecoder
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := parseEvent(line)
		ft, fk, fd, fok := d.fast(line)
		if fok {
			if err != nil {
				t.Fatalf("fast path accepted %q, parseEvent: %v", line, err)
			}
			if ft != ev.Time || string(fk) != ev.Kind || string(fd) != ev.Data {
				t.Fatalf("%q: fast %v %q %q, parseEvent %v %q %q", line, ft, fk, fd, ev.Time, ev.Kind, ev.Data)
			}
		}
		gt, gk, gd, gerr := d.decode(line)
		if (gerr == nil) != (err == nil) {
			t.Fatalf("%q: decode error %v, parseEvent %v", line, gerr, err)
		}
		if err == nil && (gt != ev.Time || string(gk) != ev.Kind || string(gd) != ev.Data) {
			t.Fatalf("%q: decode %v %q %q, parseEvent %+v", line, gt, gk, gd, ev)
		}
	})
}

// TestPendingWrapVisible checks that the tracker reads the emulator's pending wrap
// exactly; it fails when a new vt hides it differently.
func TestPendingWrapVisible(t *testing.T) {
	if phantomField == nil {
		t.Fatal("vt.Emulator has no atPhantom field any more: keyframes guess the pending wrap")
	}
	tr := newScreenTracker(10, 3)
	defer tr.close()
	tr.output([]byte("123456789"))
	if tr.pendingWrap() {
		t.Fatal("wrap pending after 9 of 10 columns")
	}
	tr.output([]byte("0"))
	if !tr.pendingWrap() {
		t.Fatal("no wrap pending after 10 of 10 columns")
	}
	tr.output([]byte("\r"))
	if tr.pendingWrap() {
		t.Fatal("wrap pending after CR")
	}
}

// TestScanFollowsParser checks that the tracker's idea of the parser state (between
// sequences or not) is the emulator parser's, chunk after chunk.
func TestScanFollowsParser(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	pieces := []string{"a", "é", "日", "\x1b", "[", "31", ";", "m", "]", "0;title", "\x07", "\\", "P", "q", "\r\n",
		"\x18", "\x1b[?1049h", "\x1b]8;;http://x\x1b\\", "X", "^", "_", "\x9c", "?", "(", "0", "\x00", "\x7f", "\U0001F600"}
	p := ansi.NewParser()
	tr := newScreenTracker(20, 5)
	defer tr.close()
	for i := range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		chunk := []byte(b.String())
		for _, c := range chunk {
			p.Advance(c)
		}
		tr.scan(chunk)
		if (p.State() == 0) != tr.atBoundary() {
			t.Fatalf("chunk %d %q: parser state %s, tracker at boundary %v", i, chunk, p.StateName(), tr.atBoundary())
		}
	}
}

// TestSkippedOutputLeavesTheSameScreen checks the shortcut of output: the emulator
// that skips what scrolls off ends with the same screen, cursor and pen as one that
// replays every byte.
func TestSkippedOutputLeavesTheSameScreen(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	words := []string{"alpha", "\x1b[1;32mok\x1b[0m", "\x1b[31m", "\x1b[0m", "日本語", "x", "\t", "\b", "tail", strings.Repeat("long", 30)}
	skipped := 0
	for round := range 80 {
		var b bytes.Buffer
		for range rng.IntN(300) {
			for range rng.IntN(8) {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			if rng.IntN(10) == 0 {
				b.WriteString("\n") // a bare LF
			} else {
				b.WriteString("\r\n")
			}
		}
		b.WriteString(words[rng.IntN(len(words))])
		if skipOutput(t, round, "$ prompt\x1b[33m", b.Bytes()) {
			skipped++
		}
	}
	if skipped < 20 {
		t.Fatalf("only %d of 80 outputs took the shortcut", skipped)
	}
}

// TestSkippedBareLineFeeds checks the shortcut on output whose lines end with a
// bare LF, as a command run without a pty prints them: the column carries over
// from line to line (a staircase that wraps), from wherever the cursor was,
// also with a wrap pending, and is lost after a TAB, a BS or a wide character
// until the next CR.
func TestSkippedBareLineFeeds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	prompts := []string{"", "$ ", "\x1b[36m$ \x1b[0m", strings.Repeat("p", 29), strings.Repeat("w", 30), strings.Repeat("w", 31), "\x1b[33m" + strings.Repeat("z", 60)}
	odd := []string{"\t", "\b", "日本", "é", "\r", "\a", "\x1b[1;31m", "\x1b[0m"}
	skipped := 0
	for round := range 120 {
		var b bytes.Buffer
		for range 20 + rng.IntN(200) {
			b.WriteString(strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(75)))
			if rng.IntN(12) == 0 {
				b.WriteString(odd[rng.IntN(len(odd))])
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Repeat("t", rng.IntN(40)))
		if skipOutput(t, round, prompts[round%len(prompts)], b.Bytes()) {
			skipped++
		}
	}
	if skipped < 100 {
		t.Fatalf("only %d of 120 outputs with bare line feeds took the shortcut", skipped)
	}
}

// skipOutput writes before and then data to a tracker and to an emulator that
// replays every byte, fails the test unless both show the same screen, cursor and
// pen, and reports whether the tracker skipped some of data.
func skipOutput(t *testing.T, round int, before string, data []byte) bool {
	t.Helper()
	tr := newScreenTracker(30, 6)
	defer tr.close()
	tr.output([]byte(before)) // something on the screen, and a pen
	tr.flush()
	n, _ := tr.skippable(data)
	tr.output(data)
	tr.flush()
	ref := refEmulator(t, 30, 6)
	ref.Write([]byte(before))
	ref.Write(data)
	sameScreen(t, round, tr, ref)
	// The pen and a pending wrap survive: the next character is drawn the same.
	tr.output([]byte("P"))
	tr.flush()
	ref.Write([]byte("P"))
	pos := ref.CursorPosition()
	if tr.e.CursorPosition() != pos {
		t.Fatalf("round %d: after the skip, P leaves the cursor at %v, want %v", round, tr.e.CursorPosition(), pos)
	}
	if g, w := tr.e.CellAt(max(pos.X-1, 0), pos.Y), ref.CellAt(max(pos.X-1, 0), pos.Y); !g.Equal(w) {
		t.Fatalf("round %d: after the skip, P drawn as %+v, want %+v", round, g, w)
	}
	return n > 0
}

// refEmulator returns an emulator for the tests to replay every byte in, its
// answers to queries drained until the test ends.
func refEmulator(tb testing.TB, cols, rows int) *vt.Emulator {
	e := vt.NewEmulator(cols, rows)
	go io.Copy(io.Discard, e)
	tb.Cleanup(func() { e.InputPipe().(*io.PipeWriter).Close() })
	return e
}

// sameScreen fails the test unless the tracker's emulator shows what ref does,
// cursor included.
func sameScreen(t *testing.T, round int, tr *screenTracker, ref *vt.Emulator) {
	t.Helper()
	if got, want := tr.e.String(), ref.String(); got != want || tr.e.CursorPosition() != ref.CursorPosition() {
		t.Fatalf("round %d: screen\n%s\ncursor %v, want\n%s\ncursor %v", round, got, tr.e.CursorPosition(), want, ref.CursorPosition())
	}
	for y := range ref.Height() {
		for x := range ref.Width() {
			if g, w := tr.e.CellAt(x, y), ref.CellAt(x, y); !g.Equal(w) {
				t.Fatalf("round %d: cell %d,%d %+v, want %+v", round, x, y, g, w)
			}
		}
	}
}

// FuzzTrackerMatchesEmulator feeds output in events cut anywhere to a tracker
// (which defers simple output and skips what scrolls off) and to an emulator that
// replays every byte, and compares their screens after each event that ends
// between sequences. cuts gives the events' lengths, a byte each.
func FuzzTrackerMatchesEmulator(f *testing.F) {
	logLines := strings.Repeat("12:00:01 \x1b[32mINFO\x1b[0m request id=4d44 status=200\n", 12)
	for _, s := range []struct{ data, cuts string }{
		{logLines, "\x07\x0d\x1f\x30"},
		{strings.ReplaceAll(logLines, "\n", "\r\n"), "\x40\x03"},
		{"$ prompt " + strings.Repeat("x", 30) + "\n" + strings.Repeat("line\tof\b text 日本\n", 10), "\x11"},
		{strings.Repeat("abcdefghijklm\n", 20) + "\x1b[2;3r" + strings.Repeat("in region\n", 9), "\x05\x09"},
		{strings.Repeat("\x1b[1;3", 3) + "1mred\n" + strings.Repeat("wrap wrap wrap\n", 15), "\x02\x01\x04"},
		{"\x1b[?1049h" + strings.Repeat("alt\r\n", 12) + "\x1b[?1049l" + strings.Repeat("main\n", 12), "\x06"},
	} {
		f.Add([]byte(s.data), []byte(s.cuts))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		if len(data) > 4<<10 {
			return
		}
		data = bytes.ReplaceAll(bytes.ToValidUTF8(data, []byte("\uFFFD")), []byte{0}, nil)
		tr := newScreenTracker(12, 4)
		defer tr.close()
		tr.limit = 64 // trim at once
		ref := refEmulator(t, 12, 4)
		for i := 0; len(data) > 0; i++ {
			k := len(data)
			if len(cuts) > 0 {
				k = min(k, 1+int(cuts[i%len(cuts)]))
			}
			// Events hold whole characters (they are JSON strings).
			for k < len(data) && !utf8.RuneStart(data[k]) {
				k++
			}
			tr.output(data[:k])
			ref.Write(data[:k])
			data = data[k:]
			if tr.atBoundary() {
				tr.flush()
				sameScreen(t, i, tr, ref)
			}
		}
	})
}

// TestSequenceCutByEventKeepsTheShortcut feeds coloured log lines in events
// that each end inside an SGR sequence, as the recorder cuts output wherever a
// read ended: the emulator must still see only a small part of it, and show
// the same screen as one that replays every byte.
func TestSequenceCutByEventKeepsTheShortcut(t *testing.T) {
	var log strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&log, "2026-11-27T10:00:%02d.%03dZ \x1b[3%dmINFO\x1b[0m request id=%x status=200\n", i%60, i%1000, 1+i%6, i*7919)
	}
	data := log.String()
	tr := newScreenTracker(80, 24)
	defer tr.close()
	ref := refEmulator(t, 80, 24)
	events := 0
	for len(data) > 0 {
		// About 40 lines, then up to the middle of the next SGR.
		k := min(len(data), 40*70)
		if j := strings.Index(data[k:], "\x1b[3"); j >= 0 {
			k += j + 3
		} else {
			k = len(data)
		}
		tr.output([]byte(data[:k]))
		ref.Write([]byte(data[:k]))
		data = data[k:]
		events++
		if events%10 == 0 {
			tr.flush()
			sameScreen(t, events, tr, ref)
		}
	}
	tr.flush()
	sameScreen(t, events, tr, ref)
	if total := log.Len(); tr.fed > total/5 {
		t.Fatalf("the emulator was given %d of %d bytes in %d events: the shortcut stops after a cut sequence", tr.fed, total, events)
	}
}

// TestDeferredOutputLeavesTheSameScreen feeds simple output event by event (with
// now and then something that is not simple, and floods that make pending trim) and
// compares with an emulator that replays every byte, at random moments.
func TestDeferredOutputLeavesTheSameScreen(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	line := func() string {
		switch rng.IntN(5) {
		case 0:
			return "\x1b[1;3" + string(rune('1'+rng.IntN(7))) + "mlevel\x1b[0m message " + strings.Repeat("x", rng.IntN(120)) + "\r\n"
		case 1:
			return "日本語のログ " + strings.Repeat("é", rng.IntN(50)) + "\r\n"
		case 2:
			return "\x1b[44m"
		default:
			return "plain line " + strings.Repeat("-", rng.IntN(40)) + "\r\n"
		}
	}
	tr := newScreenTracker(40, 10)
	tr.limit = 4 << 10 // trim often
	defer tr.close()
	ref := refEmulator(t, 40, 10)
	checks := 0
	trims := 0
	for ev := range 1500 {
		var b strings.Builder
		n := rng.IntN(6)
		if rng.IntN(40) == 0 {
			n = 200 // a flood: pending passes the limit
		}
		for range n {
			b.WriteString(line())
		}
		if rng.IntN(30) == 0 {
			b.WriteString("\x1b]0;title\x07\x1b[2;5H") // not simple: pending is written
		}
		data := []byte(b.String())
		before := len(tr.pending)
		tr.output(data)
		if len(tr.pending) > 0 && len(tr.pending) < before+len(data) {
			trims++
		}
		ref.Write(data)
		if rng.IntN(20) == 0 {
			checks++
			tr.flush()
			for y := range 10 {
				for x := range 40 {
					if g, w := tr.e.CellAt(x, y), ref.CellAt(x, y); !g.Equal(w) {
						t.Fatalf("event %d: cell %d,%d %+v, want %+v\n%s\nwant\n%s", ev, x, y, g, w, tr.e.String(), ref.String())
					}
				}
			}
			if tr.e.CursorPosition() != ref.CursorPosition() {
				t.Fatalf("event %d: cursor %v, want %v", ev, tr.e.CursorPosition(), ref.CursorPosition())
			}
		}
	}
	if checks < 30 || trims < 10 {
		t.Fatalf("%d checks, %d trims", checks, trims)
	}
}

// TestSkipEdgeCases checks the cases the random tests rarely make visible: the pen
// set in the skipped part and never again, and line feeds without carriage returns,
// where the column carries over.
func TestSkipEdgeCases(t *testing.T) {
	lines := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct{ name, data string }{
		{"pen from the skipped part", "\x1b[1;44m" + lines("plain line\r\n", 40) + "end"},
		{"pen reset then set", "\x1b[31mred\x1b[0m\r\n\x1b[4m" + lines("under\r\n", 40) + "end"},
		{"bare line feeds keep the column", "abc" + lines("\n", 40) + "x"},
		{"bare line feeds after a CR LF", "abc\r\n" + lines("defg\n", 40) + "x"},
		{"tabs and backspaces", lines("a\tb\bc\r\n", 40) + "\b\bz\tq"},
		{"wide characters", lines("日本語テキストの行です\r\n", 40) + "終わり"},
		{"long lines", lines(strings.Repeat("w", 47)+"\r\n", 40) + strings.Repeat("v", 25)},
		// The only CR LF comes early: what precedes it does not reach the bottom row.
		{"one early CR LF, then bare line feeds", "x\r\n" + lines("y\n", 40) + "z"},
		// The rows before the output are full: the part that is written must scroll
		// them all out, the bottom one included.
		{"full rows before", "\r\n" + lines("short\r\n", 12) + "end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newScreenTracker(20, 6)
			defer tr.close()
			ref := refEmulator(t, 20, 6)
			full := lines(strings.Repeat("#", 20), 6) // fills the screen, up to the bottom row
			for _, d := range []string{full, tc.data, "P"} {
				tr.output([]byte(d))
				ref.Write([]byte(d))
			}
			tr.flush()
			for y := range 6 {
				for x := range 20 {
					if g, w := tr.e.CellAt(x, y), ref.CellAt(x, y); !g.Equal(w) {
						t.Fatalf("cell %d,%d %+v, want %+v\n%s\nwant\n%s", x, y, g, w, tr.e.String(), ref.String())
					}
				}
			}
			if tr.e.CursorPosition() != ref.CursorPosition() {
				t.Fatalf("cursor %v, want %v", tr.e.CursorPosition(), ref.CursorPosition())
			}
		})
	}
}

// TestSegmentIsOneMember feeds a rewrite segments larger than what it sends the
// compressor at a time: each must still be one gzip member (a browser decodes one),
// and the members hold the content in order.
func TestSegmentIsOneMember(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := newMemberWriter(f, 64)
	s := &rewriteSink{w: w, chunk: 100, seg: -1}
	var want bytes.Buffer
	put := func(call func([]byte) error, b string) {
		if err := call([]byte(b)); err != nil {
			t.Fatal(err)
		}
		want.WriteString(b)
	}
	put(s.header, "{\"version\": 2}\n")
	put(s.line, "\n") // a blank line before the first event belongs to it
	var segs []string
	for i := range 5 {
		if err := s.cut(); err != nil {
			t.Fatal(err)
		}
		start := want.Len()
		for j := range 3 + i*20 { // up to 1,500 bytes: many chunks
			put(s.line, strings.Repeat(string(rune('a'+i)), j%40)+"\n")
		}
		segs = append(segs, want.String()[start:])
	}
	segs[0] = "\n" + segs[0]
	put(s.rest, "tail without newline, longer than a chunk: "+strings.Repeat("z", 250))
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, _ := os.ReadFile(path)
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	all, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(all, want.Bytes()) {
		t.Fatalf("content %q (%v), want %q", all, err, want.Bytes())
	}
	if len(w.ranges) != len(segs) {
		t.Fatalf("%d ranges, want %d", len(w.ranges), len(segs))
	}
	for i, r := range w.ranges {
		br := bufio.NewReader(bytes.NewReader(data[r.offset : r.offset+r.length]))
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil || string(got) != segs[i] {
			t.Fatalf("segment %d: first member holds %q (%v), want %q", i, got, err, segs[i])
		}
		if _, err := br.Peek(1); err != io.EOF {
			t.Fatalf("segment %d is more than one member", i)
		}
	}
}

// FuzzGuacScanner checks that the Guacamole scanner ends on any input, never reads
// past it, and that what it accepts is whole instructions.
func FuzzGuacScanner(f *testing.F) {
	f.Add([]byte("4.size,1.0,4.1024,3.768;4.sync,13.1764237600000,1.1;3.img,2.é世;"))
	f.Add([]byte("4.sync,3.12"))
	f.Add([]byte("999999999.x;"))
	f.Add([]byte("0.,0.;;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &guacScanner{br: bufio.NewReaderSize(bytes.NewReader(data), 16)}
		var last int64
		for n := 0; ; n++ {
			sync, ts, err := s.next()
			if err != nil {
				break
			}
			if s.off <= last || s.off > int64(len(data)) || data[s.off-1] != ';' {
				t.Fatalf("instruction %d ends at %d (previous %d, input %d)", n, s.off, last, len(data))
			}
			if sync && len(ts) > 32 {
				t.Fatalf("kept a timestamp of %d bytes", len(ts))
			}
			last = s.off
		}
	})
}
