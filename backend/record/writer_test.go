package record_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

// newCast creates a recording in a temporary directory with an injected clock.
func newCast(t *testing.T, name string, clock *fakeClock, opts record.CastOptions) (*record.CastWriter, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "2026", "11", "27", name)
	opts.Clock = clock.Now
	if opts.FlushInterval == 0 {
		opts.FlushInterval = time.Hour // tests that need the real schedule set it
	}
	w, err := record.CreateCast(path, record.Header{
		Width: 80, Height: 24, Title: "web01",
		Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
	}, opts)
	if err != nil {
		t.Fatalf("CreateCast: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"s1.cast.gz", "s1.cast"} {
		t.Run(name, func(t *testing.T) {
			for _, recordInput := range []bool{false, true} {
				t.Run(fmt.Sprintf("input=%v", recordInput), func(t *testing.T) {
					clock := newClock()
					w, path := newCast(t, name, clock, record.CastOptions{RecordInput: recordInput})
					clock.Advance(250 * time.Millisecond)
					w.Output([]byte("$ "))
					clock.Advance(time.Second)
					w.Input([]byte("secret\r"))
					clock.Advance(20 * time.Millisecond)
					w.Output([]byte("ls\r\n"))
					w.Marker("ls")
					clock.Advance(500 * time.Millisecond)
					w.Resize(120, 40)
					clock.Advance(1500 * time.Microsecond)
					w.Output([]byte("a.txt\r\n"))
					if err := w.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}

					h, evs := readCast(t, path)
					wantH := record.Header{
						Width: 80, Height: 24, Title: "web01", Timestamp: newClock().Now().Unix(),
						Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
					}
					if !reflect.DeepEqual(h, wantH) {
						t.Errorf("header: got %+v, want %+v", h, wantH)
					}
					want := []record.Event{
						{Time: 0.25, Kind: "o", Data: "$ "},
						{Time: 1.25, Kind: "i", Data: "secret\r"},
						{Time: 1.27, Kind: "o", Data: "ls\r\n"},
						{Time: 1.27, Kind: "m", Data: "ls"},
						{Time: 1.77, Kind: "r", Data: "120x40"},
						{Time: 1.7715, Kind: "o", Data: "a.txt\r\n"},
					}
					if !recordInput {
						want = append(want[:1], want[2:]...)
					}
					if !reflect.DeepEqual(evs, want) {
						t.Errorf("events:\ngot  %+v\nwant %+v", evs, want)
					}
					st, err := os.Stat(path)
					if err != nil {
						t.Fatal(err)
					}
					if st.Mode().Perm() != 0o600 {
						t.Errorf("file mode: got %v, want 0600", st.Mode().Perm())
					}
					if got := w.Size(); got != st.Size() {
						t.Errorf("Size: got %d, want %d (file size)", got, st.Size())
					}
				})
			}
		})
	}
}

func TestCreateCastRefusesExistingFile(t *testing.T) {
	clock := newClock()
	_, path := newCast(t, "dup.cast.gz", clock, record.CastOptions{})
	if _, err := record.CreateCast(path, record.Header{Width: 80, Height: 24}, record.CastOptions{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("got %v, want an error wrapping os.ErrExist", err)
	}
}

func TestCoalesce(t *testing.T) {
	tests := []struct {
		name     string
		coalesce time.Duration
		gap      time.Duration
		want     []record.Event
	}{
		{"within the window", 0, 3 * time.Millisecond, []record.Event{{Time: 0, Kind: "o", Data: "abc"}}},
		{"beyond the window", 0, 15 * time.Millisecond, []record.Event{
			{Time: 0, Kind: "o", Data: "a"}, {Time: 0.015, Kind: "o", Data: "b"}, {Time: 0.03, Kind: "o", Data: "c"}}},
		{"window slides from the first bytes", 0, 6 * time.Millisecond, []record.Event{
			{Time: 0, Kind: "o", Data: "ab"}, {Time: 0.012, Kind: "o", Data: "c"}}},
		{"disabled", -1, 0, []record.Event{
			{Time: 0, Kind: "o", Data: "a"}, {Time: 0, Kind: "o", Data: "b"}, {Time: 0, Kind: "o", Data: "c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			w, path := newCast(t, "c.cast.gz", clock, record.CastOptions{Coalesce: tt.coalesce})
			for _, s := range []string{"a", "b", "c"} {
				w.Output([]byte(s))
				clock.Advance(tt.gap)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, got := readCast(t, path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A character cut between two writes (and two events) arrives whole in one event.
func TestUTF8SplitAcrossWrites(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
	}{
		{"euro in three", []string{"price: \xe2", "\x82", "\xac 5\r\n"}, "price: € 5\r\n"},
		{"emoji in two", []string{"ok \xf0\x9f", "\x98\x80"}, "ok 😀"},
		{"cut then invalid", []string{"x\xe2\x82", "y"}, "x\uFFFDy"},
		{"cut at the very end", []string{"bye \xe2\x82"}, "bye \uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			w, path := newCast(t, "u.cast.gz", clock, record.CastOptions{})
			for _, c := range tt.chunks {
				w.Output([]byte(c))
				clock.Advance(50 * time.Millisecond) // one event per write
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			_, evs := readCast(t, path)
			if got := outputText(evs); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			for _, ev := range evs {
				if strings.Contains(ev.Data, "\uFFFD") && !strings.Contains(tt.want, "\uFFFD") {
					t.Errorf("event %+v holds a replacement character", ev)
				}
			}
		})
	}
}

func TestInvalidUTF8(t *testing.T) {
	clock := newClock()
	w, path := newCast(t, "bad.cast.gz", clock, record.CastOptions{})
	w.Output([]byte("a\xffb\xc0\xafc\xed\xa0\x80d\x1b[0m\x00"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, evs := readCast(t, path)
	want := "a\uFFFDb\uFFFD\uFFFDc\uFFFD\uFFFD\uFFFDd\x1b[0m\x00"
	if got := outputText(evs); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// 1 MiB of NUL (a `cat /dev/zero`) must not blow the recording up: \u0000 six times
// over compresses to almost nothing.
func TestNULFloodStaysSmall(t *testing.T) {
	clock := newClock()
	w, path := newCast(t, "nul.cast.gz", clock, record.CastOptions{})
	chunk := make([]byte, 32<<10)
	for i := 0; i < 32; i++ {
		w.Output(chunk)
		clock.Advance(time.Millisecond)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 16<<10 {
		t.Errorf("recording of 1 MiB of NUL: got %d bytes, want at most 16 KiB", st.Size())
	}
	_, evs := readCast(t, path)
	if got := outputText(evs); got != strings.Repeat("\x00", 1<<20) {
		t.Errorf("got %d bytes of output back, want 1 MiB of NUL", len(got))
	}
	t.Logf("1 MiB of NUL -> %d bytes on disk, %d events", st.Size(), len(evs))
}

// Output longer than one event is split into several events at the same time, and
// never inside a character.
func TestLongOutputIsSplit(t *testing.T) {
	clock := newClock()
	w, path := newCast(t, "long.cast.gz", clock, record.CastOptions{})
	big := strings.Repeat("日本語テキスト", 20000) // 420 000 bytes, 3-byte characters
	w.Output([]byte(big))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, evs := readCast(t, path)
	if len(evs) < 2 {
		t.Fatalf("got %d events, want the output split into several", len(evs))
	}
	for _, ev := range evs {
		if len(ev.Data) > 64<<10 || strings.Contains(ev.Data, "\uFFFD") || ev.Time != 0 {
			t.Fatalf("event of %d bytes at %v (replacement characters: %v)", len(ev.Data), ev.Time, strings.Contains(ev.Data, "\uFFFD"))
		}
	}
	if got := outputText(evs); got != big {
		t.Errorf("got %d bytes back, want %d", len(got), len(big))
	}
}

// letters returns n random lowercase letters: ASCII that compresses poorly, so the
// writer has to reach the disk soon.
func letters(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	return b
}

// The writer stalls (the disk stops answering): under FailOpen, and under Pace once
// StallTimeout has passed without progress, Output keeps returning, memory stays
// bounded, the loss is counted and marked in the recording once the disk is back.
func TestDropsWhenWriterBlocked(t *testing.T) {
	for _, policy := range []record.Policy{record.FailOpen, record.Pace} {
		t.Run(policy.String(), func(t *testing.T) { testDropsWhenWriterBlocked(t, policy) })
	}
}

func testDropsWhenWriterBlocked(t *testing.T, policy record.Policy) {
	clock := newClock()
	dst := &blockingWriter{}
	w, err := record.NewCastWriter(dst, record.Gzip, record.Header{Width: 80, Height: 24},
		record.CastOptions{Clock: clock.Now, BufferLimit: 64 << 10, FlushInterval: time.Hour, Policy: policy, StallTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dst.block()
	rng := rand.New(rand.NewPCG(1, 1))
	total := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Write until the writer is stuck on the disk...
		for stuck := false; !stuck; {
			select {
			case <-dst.blocked:
				stuck = true
			default:
				clock.Advance(time.Millisecond)
				chunk := letters(rng, 32<<10)
				w.Output(chunk)
				total += len(chunk)
				time.Sleep(time.Millisecond) // let the writer run
			}
		}
		// ...then 3.2 MiB more than the 64 KiB buffer can hold.
		for i := 0; i < 100; i++ {
			clock.Advance(time.Millisecond)
			chunk := letters(rng, 32<<10)
			w.Output(chunk)
			total += len(chunk)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Output blocked behind a stalled writer")
	}
	if got := w.Dropped(); got < 98*32<<10 {
		t.Errorf("Dropped: got %d, want at least %d", got, 98*32<<10)
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err under %s: got %v, want nil", policy, err)
	}
	// Once the disk answers again, the recorder takes output again.
	dst.unblock()
	eventually(t, "output to be accepted after the stall", func() bool {
		clock.Advance(time.Millisecond)
		before := w.Dropped()
		w.Output([]byte("after\r\n"))
		total += len("after\r\n")
		return w.Dropped() == before
	})
	if err := w.Close(); err != nil {
		t.Fatalf("Close: got %v, want nil", err)
	}
	_, evs := readAll(t, dst.Bytes())
	var marker *record.Event
	var recorded int
	for i, ev := range evs {
		switch ev.Kind {
		case record.KindMarker:
			marker = &evs[i]
		case record.KindOutput:
			recorded += len(ev.Data)
		}
	}
	if marker == nil {
		t.Fatalf("no drop marker among %d events", len(evs))
	}
	wantLabel := fmt.Sprintf("recording: %d bytes dropped (recorder fell behind)", w.Dropped())
	if marker.Data != wantLabel {
		t.Errorf("marker: got %q, want %q", marker.Data, wantLabel)
	}
	if int64(recorded)+w.Dropped() != int64(total) {
		t.Errorf("recorded %d + dropped %d: got %d, want %d", recorded, w.Dropped(), int64(recorded)+w.Dropped(), total)
	}
	if !strings.HasSuffix(outputText(evs), "after\r\n") {
		t.Error("output after the stall is missing")
	}
}

// Under FailClosed a stalled writer makes Write fail after StallTimeout, and Failed
// tells the relay.
func TestFailClosedWhenWriterBlocked(t *testing.T) {
	clock := newClock()
	dst := &blockingWriter{}
	w, err := record.NewCastWriter(dst, record.Gzip, record.Header{Width: 80, Height: 24}, record.CastOptions{
		Clock: clock.Now, BufferLimit: 64 << 10, FlushInterval: time.Hour,
		Policy: record.FailClosed, StallTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	dst.block()
	rng := rand.New(rand.NewPCG(2, 2))
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		_, werr = w.Write(letters(rng, 32<<10))
	}
	if !errors.Is(werr, record.ErrBehind) {
		t.Fatalf("Write: got %v, want ErrBehind", werr)
	}
	select {
	case <-w.Failed():
	default:
		t.Error("Failed is not closed")
	}
	if !errors.Is(w.Err(), record.ErrBehind) {
		t.Errorf("Err: got %v, want ErrBehind", w.Err())
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, record.ErrBehind) {
		t.Errorf("Write after failure: got %v, want ErrBehind", err)
	}
	dst.unblock()
	if err := w.Close(); !errors.Is(err, record.ErrBehind) {
		t.Errorf("Close: got %v, want ErrBehind", err)
	}
	// What was accepted before the failure is in the file, which is complete.
	_, evs := readAll(t, dst.Bytes())
	if len(outputText(evs)) == 0 {
		t.Error("nothing recorded before the failure")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, record.ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}
}

// Under Pace (the default) and FailClosed a slow (not stalled) writer slows Output
// down instead of losing data: the writer here takes a millisecond per write, far
// slower than Output is called, so a dropping recorder would lose most of it.
func TestBackPressureKeepsEverything(t *testing.T) {
	for _, policy := range []record.Policy{record.Pace, record.FailClosed} {
		t.Run(policy.String(), func(t *testing.T) { testBackPressureKeepsEverything(t, policy) })
	}
}

func testBackPressureKeepsEverything(t *testing.T, policy record.Policy) {
	clock := newClock()
	dst := &slowWriter{delay: time.Millisecond}
	opts := record.CastOptions{Clock: clock.Now, BufferLimit: 64 << 10, FlushInterval: time.Hour, StallTimeout: time.Minute}
	if policy != record.Pace {
		opts.Policy = policy // Pace is the zero value
	}
	w, err := record.NewCastWriter(dst, record.Plain, record.Header{Width: 80, Height: 24}, opts)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 10000)
	for i := 0; i < 200; i++ {
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, evs := readAll(t, dst.buf.Bytes())
	if got := len(outputText(evs)); got != 200*len(chunk) || w.Dropped() != 0 {
		t.Errorf("got %d bytes recorded and %d dropped, want %d and 0", got, w.Dropped(), 200*len(chunk))
	}
}

// Data reaches the file within the flush interval; a recording that went quiet gives
// its goroutine (and compressor) back and starts again on the next output; the file is
// one complete gzip member once closed.
func TestFlushIntervalAndIdle(t *testing.T) {
	clock := newClock()
	base := runtime.NumGoroutine()
	w, path := newCast(t, "f.cast.gz", clock, record.CastOptions{FlushInterval: 20 * time.Millisecond})
	readsBack := func(want string) func() bool {
		return func() bool {
			_, r, err := record.OpenCast(path)
			if err != nil {
				return false
			}
			defer r.Close()
			var got strings.Builder
			for {
				ev, err := r.Next()
				if err != nil {
					return got.String() == want
				}
				got.WriteString(ev.Data)
			}
		}
	}
	w.Output([]byte("first\r\n"))
	eventually(t, "the output to reach the file", readsBack("first\r\n"))
	eventually(t, "the writer to stop", func() bool { return runtime.NumGoroutine() <= base })
	clock.Advance(time.Minute)
	w.Output([]byte("second\r\n"))
	eventually(t, "the second output to reach the file", readsBack("first\r\nsecond\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gunzipFile(t, path, filepath.Join(t.TempDir(), "f.cast")) // strict: CRC and size checked
	if _, evs := readCast(t, path); len(evs) != 2 || evs[1].Time != 60 {
		t.Errorf("got %+v, want two events, the second at 60s", evs)
	}
	if n := gzipMembers(t, path); n != 1 {
		t.Errorf("got %d gzip members, want 1 (browsers read only the first)", n)
	}
}

func TestCloseIsIdempotentAndStopsRecording(t *testing.T) {
	clock := newClock()
	w, path := newCast(t, "x.cast.gz", clock, record.CastOptions{})
	w.Output([]byte("a"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	w.Output([]byte("b"))
	w.Resize(1, 1)
	if _, evs := readCast(t, path); len(evs) != 1 {
		t.Errorf("got %d events, want 1", len(evs))
	}
}

// An idle recording holds neither a compressor nor a goroutine: a thousand quiet
// sessions must not cost a thousand compressors (about 800 KiB each).
func TestIdleRecordingsAreCheap(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	baseGoroutines := runtime.NumGoroutine()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ws := make([]*record.CastWriter, n)
	for i := range ws {
		w, err := record.CreateCast(filepath.Join(dir, fmt.Sprintf("%d.cast.gz", i)), record.Header{Width: 80, Height: 24},
			record.CastOptions{FlushInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		w.Output([]byte("Welcome to web01\r\n$ "))
		ws[i] = w
	}
	eventually(t, "the writers to go idle", func() bool { return runtime.NumGoroutine() <= baseGoroutines })
	var after runtime.MemStats
	runtime.GC()
	runtime.GC() // sync.Pool keeps its contents for one more cycle
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per idle recording", per)
	if per > 16<<10 {
		t.Errorf("heap per idle recording: got %d bytes, want at most 16 KiB", per)
	}
	runtime.KeepAlive(ws)
}

// Runs of one byte (written as ready-made gzip members), binary output (which switches
// the compression level) and text, in one recording: everything reads back as
// asciinema would decode the whole stream.
func TestMixedRunsAndBinaryRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	chunks := [][]byte{
		[]byte("$ cat /dev/zero | head -c 40000\r\n"),
		make([]byte, 40000),
		[]byte("$ yes a | tr -d '\\n'\r\n"),
		bytes.Repeat([]byte("a"), 20<<10),
		bytes.Repeat([]byte{0x1b}, 17<<10),
		random(100 << 10),
		[]byte("\r\n$ head -c 33k /dev/urandom | tr -c x '\\377'\r\n"),
		bytes.Repeat([]byte{0xff}, 33<<10),
		append([]byte("x"), make([]byte, 70<<10)...),
		random(3),
		[]byte("日本語 end\r\n"),
	}
	clock := newClock()
	w, path := newCast(t, "mixed.cast.gz", clock, record.CastOptions{})
	var all []byte
	for i, c := range chunks {
		w.Output(c)
		all = append(all, c...)
		if i%2 == 0 {
			clock.Advance(50 * time.Millisecond)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gunzipFile(t, path, filepath.Join(t.TempDir(), "mixed.cast"))
	var want string
	if err := json.Unmarshal(append(append([]byte{'"'}, record.DecodeLikeAsciinema(all)...), '"'), &want); err != nil {
		t.Fatal(err)
	}
	_, evs := readCast(t, path)
	if got := outputText(evs); got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("output differs at byte %d of %d (got %d bytes)", i, len(want), len(got))
	}
	st, _ := os.Stat(path)
	t.Logf("%d bytes of output -> %d bytes on disk in %d events", len(all), st.Size(), len(evs))
}

// slowWriter takes delay for every write, like a slow disk that still makes progress.
type slowWriter struct {
	delay time.Duration
	buf   bytes.Buffer
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.buf.Write(p)
}

// Text that does not compress (base64) must not make the recording larger than
// the output (the fast level stores it, and escaping adds to it): the writer
// switches to Huffman coding for it. Compressible text keeps its ratio, and both
// read back exactly.
func TestRecordingNoLargerThanOutput(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{'b', '6', '4'}))
	base64Lines := func(n int) []byte {
		out := make([]byte, 0, n+80)
		raw := make([]byte, 57)
		line := make([]byte, 77)
		line[76] = '\n'
		for len(out) < n {
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			base64.StdEncoding.Encode(line[:76], raw)
			out = append(out, line...)
		}
		return out
	}
	logLines := func(n int) []byte {
		var out []byte
		for len(out) < n {
			out = fmt.Appendf(out, "2026-11-27T%02d:%02d:%02d.%03dZ \x1b[32mINFO\x1b[0m request id=%x path=/api/v1/assets/%d status=%d dur=%dms\n",
				rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000), rng.Uint32(), rng.IntN(50), 200+rng.IntN(4)*100, rng.IntN(900))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		maxRatio float64
	}{
		{"base64", base64Lines(24 << 20), 0.95},
		{"log", logLines(24 << 20), 0.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst bytes.Buffer
			w, err := record.NewCastWriter(&dst, record.Gzip, record.Header{Width: 80, Height: 24}, record.CastOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for p := tc.data; len(p) > 0; {
				n := min(len(p), 32<<10)
				w.Output(p[:n])
				p = p[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			ratio := float64(dst.Len()) / float64(len(tc.data))
			if ratio > tc.maxRatio {
				t.Errorf("recording is %.3f of the output, want at most %.2f", ratio, tc.maxRatio)
			}
			_, evs := readAll(t, dst.Bytes())
			if got := outputText(evs); got != string(tc.data) {
				t.Errorf("read back %d bytes, want the %d written", len(got), len(tc.data))
			}
		})
	}
}
