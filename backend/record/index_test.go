package record_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/portcullis/portcullis/backend/record"
)

// gunzipAll decompresses a whole (multi-member) gzip file with the standard library.
func gunzipAll(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gunzip %s: %v", path, err)
	}
	return out
}

// parseEvents parses asciicast event lines the way a player does (JSON per line),
// skipping blank and invalid lines.
func parseEvents(data []byte) []record.Event {
	var evs []record.Event
	for line := range bytes.Lines(data) {
		var raw []any
		if json.Unmarshal(line, &raw) != nil || len(raw) != 3 {
			continue
		}
		t, ok1 := raw[0].(float64)
		k, ok2 := raw[1].(string)
		d, ok3 := raw[2].(string)
		if ok1 && ok2 && ok3 {
			evs = append(evs, record.Event{Time: t, Kind: k, Data: d})
		}
	}
	return evs
}

// newVT returns an emulator whose answers to queries are drained.
func newVT(tb testing.TB, cols, rows int) *vt.Emulator {
	e := vt.NewEmulator(cols, rows)
	e.SetScrollbackSize(1)
	go io.Copy(io.Discard, e)
	tb.Cleanup(func() { e.InputPipe().(*io.PipeWriter).Close() })
	return e
}

// play applies an event to an emulator as a player does.
func play(e *vt.Emulator, ev record.Event) {
	switch ev.Kind {
	case record.KindOutput:
		e.WriteString(ev.Data)
	case record.KindResize:
		var c, r int
		if _, err := fmt.Sscanf(ev.Data, "%dx%d", &c, &r); err == nil && c > 0 && r > 0 {
			e.Resize(c, r)
		}
	}
}

// diffScreens compares what a player shows: every cell (text, width, style, link),
// the cursor, its visibility and which screen is active. It returns "" when equal.
func diffScreens(got, want *vt.Emulator) string {
	if got.Width() != want.Width() || got.Height() != want.Height() {
		return fmt.Sprintf("size %dx%d, want %dx%d", got.Width(), got.Height(), want.Width(), want.Height())
	}
	for y := range want.Height() {
		for x := range want.Width() {
			g, w := got.CellAt(x, y), want.CellAt(x, y)
			if g == nil || w == nil {
				if g != w {
					return fmt.Sprintf("cell %d,%d: got %v, want %v", x, y, g, w)
				}
				continue
			}
			if g.Content != w.Content || g.Width != w.Width || !g.Style.Equal(&w.Style) || g.Link != w.Link {
				return fmt.Sprintf("cell %d,%d: got %q w%d %+v, want %q w%d %+v\n got screen:\n%s\nwant screen:\n%s",
					x, y, g.Content, g.Width, g.Style, w.Content, w.Width, w.Style, got.String(), want.String())
			}
		}
	}
	if g, w := got.CursorPosition(), want.CursorPosition(); g != w {
		return fmt.Sprintf("cursor %v, want %v\nscreen:\n%s", g, w, want.String())
	}
	if g, w := got.CursorHidden(), want.CursorHidden(); g != w {
		return fmt.Sprintf("cursor hidden %v, want %v", g, w)
	}
	if g, w := got.IsAltScreen(), want.IsAltScreen(); g != w {
		return fmt.Sprintf("alternate screen %v, want %v", g, w)
	}
	gs, gb := got.CursorStyle()
	ws, wb := want.CursorStyle()
	if gs != ws || gb != wb {
		return fmt.Sprintf("cursor style %v/%v, want %v/%v", gs, gb, ws, wb)
	}
	return ""
}

// segmentEvents reads the events of every segment with ReadSegment.
func segmentEvents(t *testing.T, path string, idx *record.Index) [][]record.Event {
	t.Helper()
	segs := make([][]record.Event, len(idx.Segments))
	for i := range idx.Segments {
		data, err := record.ReadSegment(path, idx, i)
		if err != nil {
			t.Fatalf("ReadSegment %d: %v", i, err)
		}
		segs[i] = parseEvents(data)
	}
	return segs
}

// checkSeek checks the frame at each time in ts (sorted) two ways: replaying the
// whole recording from the start, and writing the keyframe of the segment SegmentAt
// picks into a fresh emulator followed by the events of the segment up to that time.
// It returns how many times it checked.
func checkSeek(t *testing.T, path string, idx *record.Index, ts []float64) int {
	t.Helper()
	_, all := readCast(t, path)
	segs := segmentEvents(t, path, idx)
	h := idx.Header
	ref := newVT(t, h.Width, h.Height)
	next := 0
	for _, at := range ts {
		for next < len(all) && all[next].Time <= at {
			play(ref, all[next])
			next++
		}
		i := idx.SegmentAt(at)
		seg := idx.Segments[i]
		if i > 0 && seg.Keyframe == "" {
			t.Fatalf("segment %d has no keyframe", i)
		}
		e := newVT(t, seg.Cols, seg.Rows)
		e.WriteString(seg.Keyframe)
		for _, ev := range segs[i] {
			if ev.Time > at {
				break
			}
			play(e, ev)
		}
		if d := diffScreens(e, ref); d != "" {
			if keep := os.Getenv("KEEP_FAILED"); keep != "" {
				copyFile(t, path, keep)
			}
			t.Fatalf("at %.6fs (segment %d from %.6fs, keyframe %q): %s", at, i, seg.Time, seg.Keyframe, d)
		}
	}
	return len(ts)
}

func TestBuildIndexRewritesSingleMemberIntoMembers(t *testing.T) {
	path := generateCast(t, 10*time.Minute, 600<<10)
	before := gunzipAll(t, path)
	st0, _ := os.Stat(path)
	if n := gzipMembers(t, path); n != 1 {
		t.Fatalf("CastWriter wrote %d members, want 1", n)
	}
	idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatalf("BuildIndex: %v", err)
	}
	after := gunzipAll(t, path)
	if !bytes.Equal(after, before) {
		t.Fatalf("content changed by the rewrite: %d bytes, want %d", len(after), len(before))
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != st0.Mode().Perm() {
		t.Errorf("mode %v, want %v", st.Mode().Perm(), st0.Mode().Perm())
	}
	if !idx.Gzip || idx.Kind != record.IndexCast || idx.Size != st.Size() || idx.Version != record.IndexVersion {
		t.Fatalf("index: gzip %v kind %q size %d (file %d) version %d", idx.Gzip, idx.Kind, idx.Size, st.Size(), idx.Version)
	}
	if got, want := gzipMembers(t, path), len(idx.Segments)+1; got != want {
		t.Errorf("members: got %d, want %d (header + one per segment)", got, want)
	}
	if len(idx.Segments) < 10 {
		t.Fatalf("only %d segments", len(idx.Segments))
	}
	t.Logf("%d segments, %d markers, size %d -> %d (%+.2f%%), duration %.0fs", len(idx.Segments), len(idx.Markers),
		st0.Size(), st.Size(), 100*float64(st.Size()-st0.Size())/float64(st0.Size()), idx.Duration)

	// Every segment decodes on its own; together, after the header, they are the content.
	hdrEnd := bytes.IndexByte(before, '\n') + 1
	var joined []byte
	for i, s := range idx.Segments {
		if i > 0 && s.Offset != idx.Segments[i-1].Offset+idx.Segments[i-1].Length {
			t.Fatalf("segment %d starts at %d, not where %d ends", i, s.Offset, i-1)
		}
		data, err := record.ReadSegment(path, idx, i)
		if err != nil {
			t.Fatalf("ReadSegment %d: %v", i, err)
		}
		evs := parseEvents(data)
		if len(evs) == 0 || evs[0].Time != s.Time {
			t.Fatalf("segment %d: first event %+v, want time %v", i, evs[:min(1, len(evs))], s.Time)
		}
		joined = append(joined, data...)
	}
	if !bytes.Equal(joined, before[hdrEnd:]) {
		t.Fatalf("segments hold %d bytes, want the %d after the header", len(joined), len(before)-hdrEnd)
	}

	// The package's own reader and the markers agree.
	h, evs := readCast(t, path)
	if g := idx.Header; g.Width != h.Width || g.Height != h.Height || g.Timestamp != h.Timestamp || g.Env["TERM"] != h.Env["TERM"] {
		t.Errorf("header %+v, want %+v", *idx.Header, h)
	}
	var markers []record.Marker
	for _, ev := range evs {
		if ev.Kind == record.KindMarker {
			markers = append(markers, record.Marker{Time: ev.Time, Label: ev.Data})
		}
	}
	if len(markers) != len(idx.Markers) {
		t.Fatalf("markers: got %d, want %d", len(idx.Markers), len(markers))
	}
	for i := range markers {
		if markers[i] != idx.Markers[i] {
			t.Fatalf("marker %d: got %+v, want %+v", i, idx.Markers[i], markers[i])
		}
	}
	if last := evs[len(evs)-1].Time; idx.Duration != last {
		t.Errorf("duration %v, want %v", idx.Duration, last)
	}

	// A second run finds the index up to date and leaves both files alone.
	ist, _ := os.Stat(path + ".idx")
	again, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(path)
	ist2, _ := os.Stat(path + ".idx")
	if !st2.ModTime().Equal(st.ModTime()) || !ist2.ModTime().Equal(ist.ModTime()) || len(again.Segments) != len(idx.Segments) {
		t.Error("second BuildIndex rewrote the recording or its index")
	}

	// Without its index, the rewritten file is indexed in place, member by member.
	if err := os.Remove(path + ".idx"); err != nil {
		t.Fatal(err)
	}
	inPlace, err := record.BuildIndex(t.Context(), path, record.IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st3, _ := os.Stat(path); !st3.ModTime().Equal(st.ModTime()) {
		t.Error("indexing the rewritten file rewrote it again")
	}
	if len(inPlace.Segments) != len(idx.Segments) {
		t.Fatalf("in place: %d segments, want %d", len(inPlace.Segments), len(idx.Segments))
	}
	for i := range idx.Segments {
		if inPlace.Segments[i] != idx.Segments[i] {
			t.Fatalf("in place, segment %d: got %+v, want %+v", i, inPlace.Segments[i], idx.Segments[i])
		}
	}
}

func TestKeyframesMatchReplayFromStart(t *testing.T) {
	size, random := int64(500<<10), 120
	if testing.Short() {
		size, random = 250<<10, 60
	}
	path := generateCast(t, 20*time.Minute, size)
	idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 16 << 10, SegmentTime: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var alt, sized int
	for _, s := range idx.Segments {
		if strings.Contains(s.Keyframe, "\x1b[?1049h") {
			alt++
		}
		if s.Cols != idx.Header.Width {
			sized++
		}
	}
	if alt == 0 || sized == 0 {
		t.Fatalf("the recording should have keyframes on the alternate screen (%d) and after a resize (%d)", alt, sized)
	}
	// Random times, and the edges of every segment.
	rng := rand.New(rand.NewPCG(3, 3))
	var ts []float64
	for range random {
		ts = append(ts, rng.Float64()*idx.Duration)
	}
	for i, s := range idx.Segments {
		ts = append(ts, s.Time)
		if i+1 < len(idx.Segments) {
			ts = append(ts, idx.Segments[i+1].Time-1e-6)
		}
	}
	sort.Float64s(ts)
	n := checkSeek(t, path, idx, ts)
	t.Logf("%d segments (%d with the alternate screen, %d resized), %d frames checked", len(idx.Segments), alt, sized, n)
}

// castFile writes a recording from events, plain or compressed (one member, as
// CastWriter does).
func castFile(t testing.TB, name string, h record.Header, evs []record.Event) string {
	t.Helper()
	var b bytes.Buffer
	hj, _ := json.Marshal(map[string]any{"version": 2, "width": h.Width, "height": h.Height})
	b.Write(hj)
	b.WriteByte('\n')
	for _, ev := range evs {
		line, _ := json.Marshal([]any{ev.Time, ev.Kind, ev.Data})
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), name)
	data := b.Bytes()
	if strings.HasSuffix(name, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// outputs makes output events 0.1 s apart.
func outputs(chunks ...string) []record.Event {
	evs := make([]record.Event, len(chunks))
	for i, c := range chunks {
		kind := record.KindOutput
		if strings.HasPrefix(c, "resize:") {
			kind, c = record.KindResize, strings.TrimPrefix(c, "resize:")
		}
		evs[i] = record.Event{Time: float64(i+1) / 10, Kind: kind, Data: c}
	}
	return evs
}

// TestKeyframeEdgeCases cuts a segment before every event of recordings that leave
// the terminal in states a keyframe must restore, and checks the frame at every
// segment start and just before the next.
func TestKeyframeEdgeCases(t *testing.T) {
	long := strings.Repeat("0123456789", 12)
	tests := []struct {
		name   string
		chunks []string
	}{
		{"pending wrap after a full line", []string{"$ ", strings.Repeat("x", 20), "y", "\r\nnext"}},
		{"no wrap pending one column before the end", []string{strings.Repeat("x", 19), "y", "z", "\r\n"}},
		{"wide characters at the edge", []string{"日本語テキスト", "の折り返し", "です。", "終"}},
		{"long lines wrap and scroll", []string{long, long + "\r\n", long, "\r\n$ "}},
		{"alternate screen with the shell behind", []string{
			"$ ls\r\n\x1b[01;34mdocs\x1b[0m  main.go\r\n$ vim",
			"\r\n\x1b[?1049h\x1b[H\x1b[2J\x1b[38;5;130mkey\x1b[0m: \x1b[38;2;0;135;0mvalue\x1b[0m",
			"\x1b[8;1H\x1b[7m status \x1b[27m\x1b[1;4H",
			"\x1b[?25l", "typed\x1b[?25h",
			"\x1b[?1049l", "$ back\r\n",
		}},
		{"scroll region and origin mode", []string{
			"\x1b[2;6r", "\x1b[?6h", "\x1b[1;1Hin region", "\x1b[5;1H\nscrolled", "\x1b[?6l\x1b[r", "after",
		}},
		{"pen carried across events", []string{"\x1b[1;31;44m", "red on blue", "\x1b[4m", " underlined", "\x1b[0m plain"}},
		{"saved cursor", []string{"abc\x1b7", "\x1b[5;5Hxyz", "\x1b8", "!"}},
		{"autowrap off", []string{"\x1b[?7l", strings.Repeat("w", 25), "Z", "\x1b[?7h", "\r\n"}},
		{"line drawing charset", []string{"\x1b(0", "lqqk", "\r\nx  x", "\x1b(B", " text"}},
		{"hidden cursor and its style", []string{"\x1b[?25l", "hidden", "\x1b[4 q", "\x1b[?25h"}},
		{"resize in the alternate screen", []string{
			"$ top\r\n", "\x1b[?1049h\x1b[Hload", "resize:30x10", "\x1b[10;1Hbottom", "\x1b[?1049l", "$ ",
		}},
		{"the main screen behind shrinks and grows again", []string{
			"$ " + strings.Repeat("wide", 5) + "\r\nrow two is long too\r\n$ ", "\x1b[?1049h\x1b[Hvim",
			"resize:12x6", "resize:25x9", "\x1b[9;1Hredraw", "\x1b[?1049l", "back",
		}},
		{"cursor hidden on the main screen behind the alternate one", []string{
			"\x1b[?25l", "\x1b[?1049h", "alt\x1b[?25h", "\x1b[?1049l", "main",
		}},
		{"escape sequence split across events", []string{"a\x1b[3", "1mred", "\x1b]0;ti", "tle\x07", "b"}},
		{"reset", []string{"\x1b[1m\x1b[3;4r", "bold", "\x1bc", "fresh"}},
		{"NUL bytes, ignored as terminals do", []string{"a\x00b", strings.Repeat("\x00", 300), "c\x1b[3\x001mred", "\r\n\x00$ "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := castFile(t, "edge.cast", record.Header{Width: 20, Height: 8}, outputs(tc.chunks...))
			idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 1})
			if err != nil {
				t.Fatal(err)
			}
			var ts []float64
			for i, s := range idx.Segments {
				ts = append(ts, s.Time)
				if i+1 < len(idx.Segments) {
					ts = append(ts, idx.Segments[i+1].Time-1e-9)
				}
			}
			ts = append(ts, idx.Duration+1)
			checkSeek(t, path, idx, ts)
			if len(idx.Segments) < 2 {
				t.Fatalf("%d segments", len(idx.Segments))
			}
		})
	}
}

// TestIndexIgnoresNUL: NUL bytes in the output (a binary file cat to the
// terminal, head -c of /dev/zero) change nothing on screen, so the keyframes
// are those of the output without them; the emulator is not given them.
func TestIndexIgnoresNUL(t *testing.T) {
	var with, without []record.Event
	for i := range 400 {
		line := fmt.Sprintf("\x1b[3%dmline %d\x1b[0m %s\r\n", i%8, i, strings.Repeat("xy ", i%40))
		with = append(with, record.Event{Time: float64(i), Kind: record.KindOutput, Data: strings.Repeat("\x00", i%7) + line + strings.Repeat("\x00", 2000)})
		without = append(without, record.Event{Time: float64(i), Kind: record.KindOutput, Data: line})
	}
	build := func(name string, evs []record.Event) *record.Index {
		idx, err := record.BuildIndex(t.Context(), castFile(t, name, record.Header{Width: 60, Height: 12}, evs), record.IndexOptions{SegmentBytes: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	a, b := build("with.cast", with), build("without.cast", without)
	keyframes := func(idx *record.Index) map[float64]string {
		m := map[float64]string{}
		for _, s := range idx.Segments {
			m[s.Time] = s.Keyframe
		}
		return m
	}
	kb := keyframes(b)
	compared := 0
	for tm, kf := range keyframes(a) {
		if want, ok := kb[tm]; ok {
			compared++
			if kf != want {
				t.Fatalf("keyframe at %v differs with NULs:\n%q\nwithout:\n%q", tm, kf, want)
			}
		}
	}
	if compared < 5 {
		t.Fatalf("only %d segments start at the same time in both recordings", compared)
	}
}

func TestBuildIndexPlainCastInPlace(t *testing.T) {
	var evs []record.Event
	for i := range 3000 {
		evs = append(evs, record.Event{Time: float64(i) / 5, Kind: record.KindOutput, Data: fmt.Sprintf("line %d: %s\r\n", i, strings.Repeat("abc ", i%30))})
		if i%100 == 0 {
			evs = append(evs, record.Event{Time: float64(i) / 5, Kind: record.KindMarker, Data: fmt.Sprintf("cmd %d", i)})
		}
	}
	path := castFile(t, "plain.cast", record.Header{Width: 80, Height: 24}, evs)
	before, _ := os.ReadFile(path)
	idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a plain recording was changed")
	}
	if idx.Gzip || len(idx.Segments) < 10 || len(idx.Markers) != 30 {
		t.Fatalf("gzip %v, %d segments, %d markers", idx.Gzip, len(idx.Segments), len(idx.Markers))
	}
	hdrEnd := int64(bytes.IndexByte(before, '\n') + 1)
	if idx.Segments[0].Offset != hdrEnd {
		t.Errorf("first segment at %d, want %d (after the header)", idx.Segments[0].Offset, hdrEnd)
	}
	last := idx.Segments[len(idx.Segments)-1]
	if last.Offset+last.Length != int64(len(before)) {
		t.Errorf("segments end at %d, want %d", last.Offset+last.Length, len(before))
	}
	for i, s := range idx.Segments {
		if before[s.Offset-1] != '\n' {
			t.Fatalf("segment %d does not start a line", i)
		}
		data, err := record.ReadSegment(path, idx, i)
		if err != nil || !bytes.Equal(data, before[s.Offset:s.Offset+s.Length]) {
			t.Fatalf("ReadSegment %d: %v", i, err)
		}
	}
	ts := []float64{0, 1.5, 100, 333.3, 599.9, 1000}
	checkSeek(t, path, idx, ts)
}

func TestBuildIndexCutByCrash(t *testing.T) {
	src := generateCast(t, 3*time.Minute, 200<<10)
	data, _ := os.ReadFile(src)
	whole := gunzipAll(t, src)
	for _, cut := range []int{len(data) / 3, len(data) - 9, len(data) / 2} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.cast.gz")
			if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			// What the package's reader gets out of the cut file (decoders differ on
			// how much of a partial block they hand out).
			var readable bytes.Buffer
			zr, _ := kgzip.NewReader(bytes.NewReader(data[:cut]))
			io.Copy(&readable, zr)
			idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 32 << 10})
			if err != nil {
				t.Fatal(err)
			}
			got := gunzipAll(t, path) // a complete gzip file now
			if !bytes.Equal(got, readable.Bytes()) {
				t.Fatalf("content after the rewrite: %d bytes, want the %d readable", len(got), readable.Len())
			}
			if !bytes.HasPrefix(whole, got) {
				t.Fatal("content is not a prefix of the recording")
			}
			_, evs := readCast(t, path)
			if idx.Duration != evs[len(evs)-1].Time {
				t.Errorf("duration %v, want the last complete event's %v", idx.Duration, evs[len(evs)-1].Time)
			}
			var n int
			for _, seg := range segmentEvents(t, path, idx) {
				n += len(seg)
			}
			if n != len(evs) {
				t.Errorf("segments hold %d events, want %d", n, len(evs))
			}
		})
	}
}

func TestBuildIndexKeepsWhatFollowsAnInvalidLine(t *testing.T) {
	evs := outputs("one\r\n", "two\r\n", "three\r\n")
	path := castFile(t, "bad.cast", record.Header{Width: 80, Height: 24}, evs)
	data, _ := os.ReadFile(path)
	data = append(data, "this is not json\n[9, \"o\", \"after\"]\n"...)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	gz := path + ".gz"
	os.WriteFile(gz, z.Bytes(), 0o600)

	idx, err := record.BuildIndex(t.Context(), gz, record.IndexOptions{SegmentBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := gunzipAll(t, gz); !bytes.Equal(got, data) {
		t.Fatalf("content after the rewrite:\n%q\nwant\n%q", got, data)
	}
	if len(idx.Segments) != 3 || idx.Duration != 0.3 {
		t.Fatalf("%d segments up to %v, want 3 up to 0.3", len(idx.Segments), idx.Duration)
	}
	last := idx.Segments[2]
	if st, _ := os.Stat(gz); last.Offset+last.Length >= st.Size() {
		t.Error("the invalid tail is in a segment")
	}
}

// guacInstr encodes a Guacamole instruction.
func guacInstr(op string, args ...string) string {
	var b strings.Builder
	for i, e := range append([]string{op}, args...) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d.%s", len([]rune(e)), e)
	}
	b.WriteByte(';')
	return b.String()
}

func TestBuildIndexGuac(t *testing.T) {
	var b strings.Builder
	b.WriteString(guacInstr("size", "0", "1024", "768"))
	start := int64(1764237600000)
	var syncEnds []int
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 400 {
		blob := make([]byte, 2000+rng.IntN(4000))
		for j := range blob {
			blob[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/"[rng.IntN(44)]
		}
		b.WriteString(guacInstr("img", "1", "14", "0", "image/png", "0", "0"))
		b.WriteString(guacInstr("blob", "1", string(blob)))
		b.WriteString(guacInstr("name", "héllo 世界 ✓")) // lengths count characters, not bytes
		b.WriteString(guacInstr("end", "1"))
		b.WriteString(guacInstr("sync", fmt.Sprint(start+int64(i)*250), "1"))
		syncEnds = append(syncEnds, b.Len())
	}
	data := b.String()
	path := filepath.Join(t.TempDir(), "desktop.guac")
	// Cut in the middle of an instruction, as a crash would.
	if err := os.WriteFile(path, []byte(data+"4.sync,3.12"), 0o600); err != nil {
		t.Fatal(err)
	}
	idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 64 << 10, SegmentTime: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if idx.Kind != record.IndexGuac || idx.Gzip || idx.Header != nil {
		t.Fatalf("kind %q gzip %v header %v", idx.Kind, idx.Gzip, idx.Header)
	}
	if want := 399 * 0.25; idx.Duration != want {
		t.Errorf("duration %v, want %v", idx.Duration, want)
	}
	if len(idx.Segments) < 10 {
		t.Fatalf("%d segments", len(idx.Segments))
	}
	for i, s := range idx.Segments {
		if i == 0 {
			if s.Offset != 0 || s.Time != 0 {
				t.Fatalf("first segment %+v", s)
			}
		} else {
			k := sort.SearchInts(syncEnds, int(s.Offset))
			if k == len(syncEnds) || syncEnds[k] != int(s.Offset) {
				t.Fatalf("segment %d at %d does not start after a sync", i, s.Offset)
			}
			if want := float64(k) * 0.25; s.Time != want {
				t.Errorf("segment %d: time %v, want %v", i, s.Time, want)
			}
			if prev := idx.Segments[i-1]; prev.Offset+prev.Length != s.Offset {
				t.Fatalf("segment %d does not follow %d", i, i-1)
			}
		}
		seg, err := record.ReadSegment(path, idx, i)
		if err != nil || string(seg) != data[s.Offset:s.Offset+s.Length] {
			t.Fatalf("ReadSegment %d: %v", i, err)
		}
	}
	if last := idx.Segments[len(idx.Segments)-1]; last.Offset+last.Length != int64(len(data)) {
		t.Errorf("segments end at %d, want %d (the last complete instruction)", last.Offset+last.Length, len(data))
	}
}

func TestReadIndexRejects(t *testing.T) {
	good := func() record.Index {
		return record.Index{Version: 1, Kind: "cast", Duration: 10, Size: 1000, Gzip: true,
			Segments: []record.Segment{{Time: 0, Offset: 100, Length: 400}, {Time: 5, Offset: 500, Length: 500}},
			Markers:  []record.Marker{{Time: 1, Label: "ls"}}}
	}
	tests := []struct {
		name   string
		mutate func(*record.Index)
	}{
		{"version", func(x *record.Index) { x.Version = 3 }},
		{"kind", func(x *record.Index) { x.Kind = "mp4" }},
		{"gzip guac", func(x *record.Index) { x.Kind = "guac" }},
		{"negative duration", func(x *record.Index) { x.Duration = -1 }},
		{"time goes back", func(x *record.Index) { x.Segments[1].Time = -0.5 }},
		{"times out of order", func(x *record.Index) { x.Segments[0].Time = 6 }},
		{"overlap", func(x *record.Index) { x.Segments[1].Offset = 450 }},
		{"past the end", func(x *record.Index) { x.Segments[1].Length = 501 }},
		{"empty segment", func(x *record.Index) { x.Segments[0].Length = 0 }},
		{"huge length", func(x *record.Index) { x.Segments[1].Length = 1 << 62 }},
		{"negative size", func(x *record.Index) { x.Size = -1 }},
		{"marker time", func(x *record.Index) { x.Markers[0].Time = -3 }},
		{"terminal size", func(x *record.Index) { x.Segments[0].Cols = -80 }},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := good()
			tc.mutate(&x)
			data, _ := json.Marshal(x)
			p := filepath.Join(dir, "r.cast.gz.idx")
			os.WriteFile(p, data, 0o600)
			if _, err := record.ReadIndex(p); !errors.Is(err, record.ErrIndex) {
				t.Fatalf("got %v, want ErrIndex", err)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		x := good()
		data, _ := json.Marshal(x)
		p := filepath.Join(dir, "ok.cast.gz.idx")
		os.WriteFile(p, data, 0o600)
		got, err := record.ReadIndex(p)
		if err != nil || len(got.Segments) != 2 {
			t.Fatalf("got %v, %v", got, err)
		}
		// Beside a recording of another size, the index is stale.
		os.WriteFile(filepath.Join(dir, "ok.cast.gz"), make([]byte, 999), 0o600)
		if _, err := record.ReadIndex(filepath.Join(dir, "ok.cast.gz")); !errors.Is(err, record.ErrIndexStale) {
			t.Fatalf("got %v, want ErrIndexStale", err)
		}
	})
	// The layout of the file: version 2 keeps the keyframes in a last member of
	// their own, one per segment; version 1 kept them in the segments.
	const segs = `"segments":[{"time":0,"offset":100,"length":400},{"time":5,"offset":500,"length":500}]`
	const head = `"kind":"cast","duration":10,"size":1000,"gzip":true,` + segs + `,"markers":[]`
	for name, data := range map[string]string{
		"version 1 with a keyframes member": `{"version":1,` + head + `,"keyframes":["","x"]}`,
		"version 2 with inline keyframes":   `{"version":2,"kind":"cast","duration":10,"size":1000,"gzip":true,"segments":[{"time":0,"offset":100,"length":400},{"time":5,"offset":500,"length":500,"keyframe":"x"}],"markers":[]}`,
		"more keyframes than segments":      `{"version":2,` + head + `,"keyframes":["","x","y"]}`,
		"fewer keyframes than segments":     `{"version":2,` + head + `,"keyframes":["x"]}`,
		"keyframes not last":                `{"version":2,"keyframes":["","x"],` + head + `}`,
		"a keyframe that is not a string":   `{"version":2,` + head + `,"keyframes":["",42]}`,
		"data after the index":              `{"version":2,` + head + `}{}`,
		"data after the keyframes":          `{"version":2,` + head + `,"keyframes":["","x"]} x`,
		"truncated in the keyframes":        `{"version":2,` + head + `,"keyframes":["","x`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "layout.idx")
			os.WriteFile(p, []byte(data), 0o600)
			if _, err := record.ReadIndex(p); !errors.Is(err, record.ErrIndex) {
				t.Fatalf("got %v, want ErrIndex", err)
			}
		})
	}
	for name, data := range map[string]string{
		"version 1":                `{"version":1,"kind":"cast","duration":10,"size":1000,"gzip":true,"segments":[{"time":0,"offset":100,"length":400},{"time":5,"offset":500,"length":500,"keyframe":"\u001b[Hx"}],"markers":[]}`,
		"version 2":                `{"version":2,` + head + `,"keyframes":["","\u001b[Hx"]}` + "\n",
		"member names in any case": `{"VERSION":2,"Kind":"cast","duration":10,"size":1000,"gzip":true,` + segs + `,"extra":{"a":[1]},"Keyframes":["","\u001b[Hx"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "layout.idx")
			os.WriteFile(p, []byte(data), 0o600)
			got, err := record.ReadIndex(p)
			if err != nil || len(got.Segments) != 2 || got.Segments[0].Keyframe != "" || got.Segments[1].Keyframe != "\x1b[Hx" {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		p := filepath.Join(dir, "big.idx")
		f, _ := os.Create(p)
		f.Truncate(record.MaxIndexSize + 10)
		f.Close()
		if _, err := record.ReadIndex(p); !errors.Is(err, record.ErrIndex) {
			t.Fatalf("got %v, want ErrIndex", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := record.ReadIndex(filepath.Join(dir, "none.cast")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want ErrNotExist", err)
		}
	})
}

func TestSegmentAt(t *testing.T) {
	x := &record.Index{Segments: []record.Segment{{Time: 0.5}, {Time: 2}, {Time: 2}, {Time: 7}}}
	tests := []struct {
		t    float64
		want int
	}{{0, 0}, {0.5, 0}, {1.9, 0}, {2, 2}, {6.99, 2}, {7, 3}, {1e9, 3}}
	for _, tc := range tests {
		if got := x.SegmentAt(tc.t); got != tc.want {
			t.Errorf("SegmentAt(%v): got %d, want %d", tc.t, got, tc.want)
		}
	}
	if got := (&record.Index{}).SegmentAt(3); got != -1 {
		t.Errorf("SegmentAt without segments: got %d, want -1", got)
	}
}

func TestBuildIndexCanceledLeavesTheRecordingAlone(t *testing.T) {
	path := generateCast(t, 5*time.Minute, 300<<10)
	before, _ := os.ReadFile(path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := record.BuildIndex(ctx, path, record.IndexOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("the recording changed")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("files left beside the recording: %v", names)
	}
}

func TestBuildIndexRejectsWhatIsNotARecording(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"empty.cast":   "",
		"json.cast":    `{"version": 1}` + "\n",
		"text.cast":    "hello\n",
		"gzip.cast.gz": "\x1f\x8b\x08\x00garbage",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), 0o600)
		if _, err := record.BuildIndex(t.Context(), p, record.IndexOptions{}); !errors.Is(err, record.ErrFormat) && !errors.Is(err, record.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
		if after, _ := os.ReadFile(p); string(after) != data {
			t.Errorf("%s was changed", name)
		}
	}
}

func FuzzReadIndex(f *testing.F) {
	f.Add([]byte(`{"version":1,"kind":"cast","duration":3,"size":100,"gzip":true,"segments":[{"time":0,"offset":10,"length":50,"cols":80,"rows":24}],"markers":[]}`))
	f.Add([]byte(`{"version":1,"kind":"guac","size":0,"segments":null,"markers":null}`))
	f.Add([]byte(`{"version":1,"kind":"cast","segments":[{"time":1e308,"offset":-1,"length":9e18}]}`))
	f.Add([]byte(`[[[[[[[[[[[[`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.idx")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		idx, err := record.ReadIndex(p)
		if err != nil {
			return
		}
		// A valid index is safe to use.
		for i := range idx.Segments {
			s := idx.Segments[i]
			if s.Offset < 0 || s.Length <= 0 || s.Offset+s.Length > idx.Size {
				t.Fatalf("segment %d %+v accepted, size %d", i, s, idx.Size)
			}
			if i > 0 && s.Time < idx.Segments[i-1].Time {
				t.Fatal("times out of order accepted")
			}
		}
		idx.SegmentAt(1.5)
		record.ReadSegment(filepath.Join(dir, "absent.cast"), idx, 0)

		// The replay cache reads what ReadIndex reads, keyframes left encoded.
		if idx.Size > 1<<20 {
			return
		}
		rec := filepath.Join(dir, "r.cast")
		if err := os.WriteFile(rec, make([]byte, idx.Size), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rec+".idx", data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := record.NewIndexCache(1, 1<<20).Get(rec)
		if err != nil {
			t.Fatalf("ReadIndex accepts the index, the cache does not: %v", err)
		}
		if len(c.Index.Segments) != len(idx.Segments) || len(c.Index.Markers) != len(idx.Markers) {
			t.Fatalf("the cache read %d segments, %d markers; ReadIndex %d, %d", len(c.Index.Segments),
				len(c.Index.Markers), len(idx.Segments), len(idx.Markers))
		}
		for i, s := range idx.Segments {
			if k, err := c.Keyframe(i); err != nil || k != s.Keyframe {
				t.Fatalf("keyframe %d: %q %v, ReadIndex %q", i, k, err, s.Keyframe)
			}
		}
	})
}

func FuzzBuildIndexCast(f *testing.F) {
	f.Add([]byte("{\"version\": 2, \"width\": 20, \"height\": 5}\n[0.1, \"o\", \"hello\\r\\n\"]\n[0.2, \"r\", \"10x3\"]\n[0.3, \"m\", \"ls\"]\n[0.4, \"o\", \"\\u001b[?1049hx\\u001b[1;31m\"]\n"), uint16(0), false)
	f.Add([]byte("{\"version\": 2, \"width\": 3, \"height\": 2}\n[1, \"o\", \"\\u001b]0;t\"]\n[2, \"o\", \"\\u0007abcdefgh\\u001b7\\u001b[2;3r\"]\n[3, \"o\", \"\\ud83d\\ude00\\ud800x\"]\n[2, \"o\", \"\\u001b8\\u001bc\"]\n"), uint16(40), true)
	f.Add([]byte("{\"version\": 2, \"width\": 100000, \"height\": 100000}\n[0, \"o\", \"x\"]\n[0, \"r\", \"0x0\"]\n[0, \"r\", \"5000x9000\"]\n[1, \"o\", \"y\"]\n"), uint16(0), true)
	dir := f.TempDir()
	var n int
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, compress bool) {
		if int(cut) > 0 && int(cut) < len(data) {
			data = data[:cut]
		}
		n++
		name := filepath.Join(dir, fmt.Sprintf("f%d.cast", n))
		content := data
		if compress {
			name += ".gz"
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			content = z.Bytes()
			if cut%3 == 1 { // a stream cut short
				content = content[:len(content)*2/3]
			}
		}
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(name)
		defer os.Remove(name + ".idx")
		idx, err := record.BuildIndex(t.Context(), name, record.IndexOptions{SegmentBytes: 1 + int(cut%64)})
		if err != nil {
			return
		}
		again, err := record.ReadIndex(name)
		if err != nil {
			t.Fatalf("ReadIndex of what BuildIndex wrote: %v", err)
		}
		if len(again.Segments) != len(idx.Segments) {
			t.Fatal("index changed on the way to disk")
		}
		for i := range idx.Segments {
			if _, err := record.ReadSegment(name, idx, i); err != nil {
				t.Fatalf("ReadSegment %d: %v", i, err)
			}
		}
	})
}

// bigCast is the recording of the benchmarks: an hour, about 100 MB compressed.
const (
	bigDuration = time.Hour
	bigSize     = 100 << 20
)

// BenchmarkBuildIndex indexes (and rewrites) the one-hour, 100 MB recording. MB/s is
// of the stored file; plain-MB/s of the asciicast text it holds.
func BenchmarkBuildIndex(b *testing.B) {
	src := cachedCast(b, bigDuration, bigSize)
	st, _ := os.Stat(src)
	plain := int64(len(gunzipAll(b, src)))
	dir := b.TempDir()
	var idx *record.Index
	var elapsed, cpu time.Duration
	b.SetBytes(st.Size())
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		path := filepath.Join(dir, fmt.Sprintf("r%d.cast.gz", i))
		copyFile(b, src, path)
		b.StartTimer()
		began, cpu0 := time.Now(), processCPU()
		var err error
		if idx, err = record.BuildIndex(context.Background(), path, record.IndexOptions{}); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(began)
		cpu += processCPU() - cpu0
		b.StopTimer()
		if i > 0 {
			os.Remove(path)
			os.Remove(path + ".idx")
		}
		b.StartTimer()
	}
	ist, _ := os.Stat(filepath.Join(dir, "r0.cast.gz.idx"))
	raw, _ := os.ReadFile(filepath.Join(dir, "r0.cast.gz.idx"))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	b.ReportMetric(float64(z.Len()), "idx-gzip-bytes")
	b.ReportMetric(float64(plain)/1e6/(elapsed.Seconds()/float64(b.N)), "plain-MB/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(len(idx.Segments)), "segments")
	b.ReportMetric(float64(ist.Size()), "idx-bytes")
	b.ReportMetric(float64(st.Size()), "before-bytes")
	b.ReportMetric(float64(idx.Size), "after-bytes")
	b.ReportMetric(100*float64(idx.Size-st.Size())/float64(st.Size()), "size-change-%")
	// What the member boundaries cost: the same content at the rewrite's level as
	// one member.
	var one countWriter
	zw5, _ := kgzip.NewWriterLevel(&one, 5)
	zw5.Write(gunzipAll(b, filepath.Join(dir, "r0.cast.gz")))
	zw5.Close()
	b.ReportMetric(100*float64(idx.Size-one.n)/float64(one.n), "boundary-cost-%")
}

// BenchmarkBuildIndexNUL indexes 32 MiB of NUL output (head -c of /dev/zero
// in a session): 1.24 s when the emulator was given the NULs, 0.30 s since.
func BenchmarkBuildIndexNUL(b *testing.B) {
	benchIndexFlood(b, strings.Repeat("\x00", 32<<10))
}

// BenchmarkBuildIndexLog indexes 32 MiB of coloured log lines ended by bare
// line feeds, as cat of a log prints them in a session without a pty: 17-23 s
// while only lines ended by CR LF could skip what scrolls off (the emulator
// scrolled the whole screen for each line), 0.7-0.9 s since.
func BenchmarkBuildIndexLog(b *testing.B) {
	var chunk strings.Builder
	for i := 0; chunk.Len() < 32<<10; i++ {
		fmt.Fprintf(&chunk, "2026-11-27T10:%02d:%02d.%03dZ \x1b[32mINFO\x1b[0m request id=%x path=/api/v1/session status=200 dur=%dms\n",
			i/60%60, i%60, i%1000, i*7919, i%900)
	}
	benchIndexFlood(b, chunk.String())
}

// benchIndexFlood indexes a recording of 1024 output events of chunk each, 10 ms
// apart, and a prompt.
func benchIndexFlood(b *testing.B, chunk string) {
	evs := make([]record.Event, 0, 1025)
	for i := range 1024 {
		evs = append(evs, record.Event{Time: float64(i) / 100, Kind: record.KindOutput, Data: chunk})
	}
	evs = append(evs, record.Event{Time: 11, Kind: record.KindOutput, Data: "$ "})
	src := castFile(b, "flood.cast", record.Header{Width: 80, Height: 24}, evs)
	dir := b.TempDir()
	b.SetBytes(int64(1024 * len(chunk)))
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		path := filepath.Join(dir, fmt.Sprintf("n%d.cast", i))
		copyFile(b, src, path)
		b.StartTimer()
		if _, err := record.BuildIndex(context.Background(), path, record.IndexOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// indexedBig returns the big recording indexed, in a directory of its own.
func indexedBig(b *testing.B) (string, *record.Index) {
	b.Helper()
	src := cachedCast(b, bigDuration, bigSize)
	path := filepath.Join(b.TempDir(), "seek.cast.gz")
	copyFile(b, src, path)
	idx, err := record.BuildIndex(context.Background(), path, record.IndexOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return path, idx
}

// BenchmarkSeek measures what a client does to show the frame at a random time:
// pick the segment (binary search), read its byte range from the file, gunzip it,
// parse its events up to that time (encoding/json, as JSON.parse would), and write
// keyframe and events into a fresh emulator (x/vt, standing in for xterm.js, with
// the 1000 lines of scrollback xterm.js keeps by default). fetch-p99-ms is the
// part before the emulator; p50-ms, p99-ms and max-ms are of the whole.
func BenchmarkSeek(b *testing.B) {
	path, idx := indexedBig(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	var total, fetch []time.Duration
	var emuBytes int64
	for b.Loop() {
		began := time.Now()
		at := rng.Float64() * idx.Duration
		s := idx.Segments[idx.SegmentAt(at)]
		raw := make([]byte, s.Length)
		if _, err := f.ReadAt(raw, s.Offset); err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		var evs []record.Event
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev [3]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				b.Fatal(err)
			}
			if ev[0].(float64) > at {
				break
			}
			evs = append(evs, record.Event{Kind: ev[1].(string), Data: ev[2].(string)})
		}
		fetched := time.Now()
		e := vt.NewEmulator(s.Cols, s.Rows)
		e.SetScrollbackSize(1000)
		go io.Copy(io.Discard, e)
		e.WriteString(s.Keyframe)
		emuBytes += int64(len(s.Keyframe))
		for _, ev := range evs {
			play(e, ev)
			emuBytes += int64(len(ev.Data))
		}
		e.InputPipe().(*io.PipeWriter).Close()
		total = append(total, time.Since(began))
		fetch = append(fetch, fetched.Sub(began))
	}
	ms := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[min(int(q*float64(len(d))), len(d)-1)]) / 1e6
	}
	b.ReportMetric(ms(fetch, 0.99), "fetch-p99-ms")
	b.ReportMetric(ms(total, 0.5), "p50-ms")
	b.ReportMetric(ms(total, 0.99), "p99-ms")
	b.ReportMetric(ms(total, 1), "max-ms")
	b.ReportMetric(float64(emuBytes)/float64(b.N), "emulated-B/op")
}

// BenchmarkFirstFrame measures opening a recording: read its index as the API
// reads it for a player (without the keyframes, which decode in the background)
// and its first segment, and paint it (x/vt stands in for the player's terminal).
func BenchmarkFirstFrame(b *testing.B) {
	path, _ := indexedBig(b)
	for b.Loop() {
		c, err := record.NewIndexCache(1, 1<<30).Get(path)
		if err != nil {
			b.Fatal(err)
		}
		idx := c.Index
		data, err := record.ReadSegment(path, idx, 0)
		if err != nil {
			b.Fatal(err)
		}
		s := idx.Segments[0]
		e := vt.NewEmulator(s.Cols, s.Rows)
		go io.Copy(io.Discard, e)
		for _, ev := range parseEvents(data) {
			if ev.Time > s.Time+1 {
				break
			}
			play(e, ev)
		}
		e.InputPipe().(*io.PipeWriter).Close()
		// The keyframes decode in the background meanwhile; let the next open
		// start on an idle machine.
		b.StopTimer()
		if _, err := c.Keyframe(1); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func TestBuildIndexTwiceAtOnce(t *testing.T) {
	path := generateCast(t, 5*time.Minute, 400<<10)
	before := gunzipAll(t, path)
	const n = 4
	errs := make(chan error, n)
	idxs := make(chan *record.Index, n)
	for range n {
		go func() {
			idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 32 << 10})
			errs <- err
			idxs <- idx
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("BuildIndex: %v", err)
		}
		<-idxs
	}
	if after := gunzipAll(t, path); !bytes.Equal(after, before) {
		t.Fatal("content changed")
	}
	idx, err := record.ReadIndex(path)
	if err != nil {
		t.Fatalf("ReadIndex after concurrent builds: %v", err)
	}
	for i := range idx.Segments {
		if _, err := record.ReadSegment(path, idx, i); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
}

// TestMarkersStartSegments: a command marker starts a segment once the current
// one holds an eighth of SegmentBytes, so a seek to a command replays almost
// nothing past the keyframe; markers closer together share segments.
func TestMarkersStartSegments(t *testing.T) {
	line := strings.Repeat("x", 78) + "\r\n"
	var evs []record.Event
	at := 0.0
	for i := range 12 {
		// 20 KiB of output, then a command: each marker after more than 16 KiB.
		for range 256 {
			at += 0.001
			evs = append(evs, record.Event{Time: at, Kind: record.KindOutput, Data: line})
		}
		at += 0.5
		evs = append(evs, record.Event{Time: at, Kind: record.KindMarker, Data: fmt.Sprintf("cmd-%d", i)})
		// Then commands a few hundred bytes apart: no segment each.
		for j := range 5 {
			at += 0.1
			evs = append(evs, record.Event{Time: at, Kind: record.KindOutput, Data: line + line})
			evs = append(evs, record.Event{Time: at, Kind: record.KindMarker, Data: fmt.Sprintf("small-%d-%d", i, j)})
		}
	}
	path := castFile(t, "m.cast.gz", record.Header{Width: 80, Height: 24}, evs)
	idx, err := record.BuildIndex(t.Context(), path, record.IndexOptions{SegmentBytes: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	starts := map[float64]bool{}
	for _, s := range idx.Segments {
		starts[s.Time] = true
	}
	big := 0
	for _, m := range idx.Markers {
		if strings.HasPrefix(m.Label, "cmd-") {
			big++
			if !starts[m.Time] {
				t.Errorf("marker %q at %v does not start a segment", m.Label, m.Time)
			}
		} else if starts[m.Time] {
			t.Errorf("marker %q at %v starts a segment, 200 bytes after the last", m.Label, m.Time)
		}
	}
	if big != 12 || len(idx.Segments) > 12+1+3 {
		t.Fatalf("%d command markers, %d segments", big, len(idx.Segments))
	}
	checkSeek(t, path, idx, []float64{evs[300].Time, idx.Markers[6].Time, at})
}
