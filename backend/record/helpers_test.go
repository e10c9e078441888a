package record_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

// fakeClock is an injected clock that moves only when the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// readCast reads a whole recording.
func readCast(t *testing.T, path string) (record.Header, []record.Event) {
	t.Helper()
	h, r, err := record.OpenCast(path)
	if err != nil {
		t.Fatalf("OpenCast: %v", err)
	}
	defer r.Close()
	var evs []record.Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return h, evs
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(evs), err)
		}
		evs = append(evs, ev)
	}
}

// outputText joins the data of the output events.
func outputText(evs []record.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Kind == record.KindOutput {
			b.WriteString(ev.Data)
		}
	}
	return b.String()
}

// gunzipFile decompresses a .cast.gz into dst with the standard library's reader (not
// the package's), failing on a stream that is not complete.
func gunzipFile(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gzip header of %s: %v", src, err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, zr); err != nil {
		t.Fatalf("gunzip %s: %v", src, err)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// blockingWriter passes writes through until block is called, then holds every write
// until unblock: a disk that stopped answering.
type blockingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	gate    chan struct{} // nil: pass through
	blocked chan struct{} // closed when a write is held
	once    sync.Once
}

func (b *blockingWriter) block() {
	b.mu.Lock()
	b.gate = make(chan struct{})
	b.blocked = make(chan struct{})
	b.mu.Unlock()
}

func (b *blockingWriter) unblock() {
	b.mu.Lock()
	close(b.gate)
	b.gate = nil
	b.mu.Unlock()
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	gate, blocked := b.gate, b.blocked
	b.mu.Unlock()
	if gate != nil {
		b.once.Do(func() { close(blocked) })
		<-gate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *blockingWriter) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// gzipMembers counts the gzip members of a file.
func gzipMembers(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatalf("member %d: %v", n+1, err)
		}
		n++
		if err := zr.Reset(br); errors.Is(err, io.EOF) {
			return n
		} else if err != nil {
			t.Fatalf("member %d: %v", n+1, err)
		}
	}
}

// readAll reads every event of a recording held in memory.
func readAll(t *testing.T, data []byte) (record.Header, []record.Event) {
	t.Helper()
	h, r, err := record.NewCastReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewCastReader: %v", err)
	}
	var evs []record.Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return h, evs
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		evs = append(evs, ev)
	}
}

// eventually polls cond until it holds or a generous deadline passes; for the few
// things that happen on the writer's real-time flush schedule.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
