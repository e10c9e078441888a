package term

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeExtractor records what the worker feeds it.
type fakeExtractor struct {
	mu     sync.Mutex
	events []string
	out    strings.Builder
	block  chan struct{} // when set, Output waits for it
	panics bool
}

func (f *fakeExtractor) Output(p []byte) {
	if f.block != nil {
		<-f.block
	}
	if f.panics {
		panic("boom")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out.Write(p)
	f.events = append(f.events, "o:"+string(p))
}
func (f *fakeExtractor) Input(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "i:"+string(p))
}
func (f *fakeExtractor) Resize(c, r int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "r:"+strings.Repeat("c", c)+strings.Repeat("r", r))
}
func (f *fakeExtractor) Enter() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String(), true
}
func (f *fakeExtractor) FullScreen() bool { return false }

func TestExtractWorkerOrder(t *testing.T) {
	fx := &fakeExtractor{}
	w := newExtractWorker(fx, slog.New(slog.DiscardHandler))
	defer w.close()
	w.output([]byte("$ "))
	w.input([]byte("ls"))
	w.output([]byte("ls"))
	w.resize(Size{2, 1})
	res, err := w.enter(context.Background())
	if err != nil {
		t.Fatalf("enter: %v", err)
	}
	if !res.ok || res.cmd != "$ ls" {
		t.Errorf("got Enter %q %v, want %q true", res.cmd, res.ok, "$ ls")
	}
	fx.mu.Lock()
	got := strings.Join(fx.events, "|")
	fx.mu.Unlock()
	if want := "o:$ |i:ls|o:ls|r:ccr"; got != want {
		t.Errorf("got events %q, want %q", got, want)
	}
}

// TestExtractWorkerBacklog proves that a slow extractor never blocks the data
// path: output beyond the backlog is dropped (the oldest first), input and
// Enter requests are kept.
func TestExtractWorkerBacklog(t *testing.T) {
	fx := &fakeExtractor{block: make(chan struct{})}
	w := newExtractWorker(fx, slog.New(slog.DiscardHandler))
	defer w.close()
	w.output([]byte("first")) // the worker takes it and blocks in Output
	time.Sleep(20 * time.Millisecond)
	chunk := []byte(strings.Repeat("x", 32<<10))
	start := time.Now()
	for range 64 { // 2 MiB, eight times the backlog
		w.output(chunk)
	}
	w.input([]byte("kept"))
	w.output([]byte("tail"))
	if d := time.Since(start); d > time.Second {
		t.Errorf("queueing 2 MiB took %v with a stuck extractor, want no waiting", d)
	}
	w.mu.Lock()
	pending, dropped := w.outPending, w.dropped
	w.mu.Unlock()
	if pending > extractBacklog {
		t.Errorf("got %d bytes pending, want at most %d", pending, extractBacklog)
	}
	if dropped == 0 {
		t.Error("got nothing dropped, want the oldest output dropped")
	}
	close(fx.block)
	res, err := w.enter(context.Background())
	if err != nil {
		t.Fatalf("enter: %v", err)
	}
	if !strings.HasSuffix(res.cmd, "tail") {
		t.Errorf("got screen ending %q, want the newest output kept", res.cmd[max(0, len(res.cmd)-10):])
	}
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if !strings.Contains(strings.Join(fx.events, "|"), "i:kept") {
		t.Error("input record lost with the dropped output")
	}
}

func TestExtractWorkerPanic(t *testing.T) {
	fx := &fakeExtractor{panics: true}
	w := newExtractWorker(fx, slog.New(slog.DiscardHandler))
	defer w.close()
	w.output([]byte("\x1b[?1049h"))
	res, err := w.enter(context.Background())
	if err != nil {
		t.Fatalf("enter: %v", err)
	}
	if res.ok {
		t.Errorf("got ok after a panic, want ok=false")
	}
	if !w.broken.Load() {
		t.Error("got worker not marked broken after a panic")
	}
	if res, _ := w.enter(context.Background()); res.ok {
		t.Error("got ok from a broken extractor, want ok=false")
	}
}

func TestExtractWorkerEnterCanceled(t *testing.T) {
	fx := &fakeExtractor{block: make(chan struct{})}
	w := newExtractWorker(fx, slog.New(slog.DiscardHandler))
	w.output([]byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.enter(ctx); err == nil {
		t.Error("got nil error from an Enter stuck behind a blocked extractor, want the context error")
	}
	close(fx.block)
	w.close()
}

// nopTarget swallows keys; it never outputs.
type nopTarget struct{ closed chan struct{} }

func (t nopTarget) Read(p []byte) (int, error)  { <-t.closed; return 0, io.EOF }
func (t nopTarget) Write(p []byte) (int, error) { return len(p), nil }
func (t nopTarget) Resize(int, int) error       { return nil }
func (t nopTarget) Close() error                { return nil }

// TestKeystrokeDoesNotAllocate: an ordinary keystroke crosses the input path
// (lock check, paste filter, extractor queue, target write, keystroke line)
// without an allocation.
func TestKeystrokeDoesNotAllocate(t *testing.T) {
	tg := nopTarget{closed: make(chan struct{})}
	defer close(tg.closed)
	r := newRelay(Config{User: newUserTerm(), Target: tg})
	defer r.x.close()
	ctx := context.Background()
	r.flusher = time.AfterFunc(time.Hour, func() {})
	r.flusher.Stop()
	keys := [][]byte{[]byte("l"), []byte("s"), []byte(" "), []byte("-"), {0x7f}, []byte("\x1b[D")}
	for range 1000 { // let the queues reach their working size
		for _, k := range keys {
			r.input(ctx, k)
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		r.input(ctx, keys[i%len(keys)])
		i++
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per keystroke, want 0", allocs)
	}
}
