package term

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// echoTarget is an in-memory Target that echoes every write back, as a
// terminal in cooked mode does.
type echoTarget struct {
	ch      chan []byte
	closed  chan struct{}
	once    sync.Once
	pending []byte // rest of a chunk larger than the last Read; only Read uses it
}

func newEchoTarget() *echoTarget {
	return &echoTarget{ch: make(chan []byte, 64), closed: make(chan struct{})}
}

func (t *echoTarget) Read(p []byte) (int, error) {
	if len(t.pending) == 0 {
		select {
		case b := <-t.ch:
			t.pending = b
		case <-t.closed:
			return 0, io.EOF
		}
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

func (t *echoTarget) Write(p []byte) (int, error) {
	select {
	case t.ch <- bytes.Clone(p):
		return len(p), nil
	case <-t.closed:
		return 0, io.ErrClosedPipe
	}
}

func (t *echoTarget) Resize(int, int) error { return nil }

func (t *echoTarget) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}

// floodTarget outputs n chunks of 32 KiB of terminal text as fast as it is read.
type floodTarget struct {
	text   []byte
	off    int // only Read uses it
	left   atomic.Int64
	closed atomic.Bool
}

func newFloodTarget(chunks int) *floodTarget {
	line := []byte("2026-03-04T10:00:00Z web01 app[1234]: GET /api/v1/items?page=42 200 1.2ms \x1b[32mok\x1b[0m\r\n")
	f := &floodTarget{text: bytes.Repeat(line, 2*bigRead/len(line)+1)}
	f.left.Store(int64(chunks) * bigRead)
	return f
}

func (f *floodTarget) Read(p []byte) (int, error) {
	left := f.left.Load()
	if f.closed.Load() || left <= 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), left)], f.text[f.off:])
	f.off = (f.off + n) % bigRead
	f.left.Add(-int64(n))
	return n, nil
}

func (f *floodTarget) Write(p []byte) (int, error) { return len(p), nil }
func (f *floodTarget) Resize(int, int) error       { return nil }
func (f *floodTarget) Close() error                { f.closed.Store(true); return nil }

// discardUser is a user whose terminal swallows output and who types nothing.
type discardUser struct {
	n      atomic.Int64
	closed chan struct{}
}

func (u *discardUser) Read(p []byte) (int, error)  { <-u.closed; return 0, io.EOF }
func (u *discardUser) Write(p []byte) (int, error) { u.n.Add(int64(len(p))); return len(p), nil }

// benchLive starts a live session on a throwaway SQLite registry.
func benchLive(b *testing.B) *session.Live {
	b.Helper()
	st := storetest.SQLite(b)
	reg := session.NewRegistry(st.DB, nil, nil, nil, "bench")
	l, err := reg.Start(context.Background(), session.Meta{OrgID: 1, Username: "bench", Protocol: "ssh", Kind: "shell"})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// benchRecorder creates a gzip recording that drops nothing (FailClosed: the
// session waits for the recorder), so that throughput counts the recording.
func benchRecorder(b *testing.B) (*record.CastWriter, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.cast.gz")
	rec, err := record.CreateCast(path, record.Header{Width: 80, Height: 24, Timestamp: time.Now().Unix()}, record.CastOptions{Policy: record.FailClosed})
	if err != nil {
		b.Fatal(err)
	}
	return rec, path
}

// BenchmarkRelayThroughput measures how fast output crosses the relay, with
// recording (gzip asciicast on disk), the live registry and the command
// extractor all on. "pty-cat" runs a real cat of a file in a pty.
func BenchmarkRelayThroughput(b *testing.B) {
	b.Run("fast-target", func(b *testing.B) {
		for _, mode := range []string{"bare", "recorded", "recorded+live"} {
			b.Run(mode, func(b *testing.B) {
				u := &discardUser{closed: make(chan struct{})}
				defer close(u.closed)
				cfg := Config{User: u, Target: newFloodTarget(b.N)}
				var path string
				if mode != "bare" {
					cfg.Recorder, path = benchRecorder(b)
				}
				if mode == "recorded+live" {
					cfg.Live = benchLive(b)
				}
				b.SetBytes(bigRead)
				b.ReportAllocs()
				b.ResetTimer()
				res, err := Run(context.Background(), cfg)
				b.StopTimer()
				if err != nil || res.EndReason != EndTargetClosed || res.BytesOut != int64(b.N)*bigRead {
					b.Fatalf("got %+v, %v; want all %d bytes and target closed", res, err, int64(b.N)*bigRead)
				}
				if path != "" {
					if dropped := cfg.Recorder.Dropped(); dropped > 0 {
						b.Fatalf("the recorder dropped %d bytes", dropped)
					}
					if fi, err := os.Stat(path); err == nil && res.BytesOut > 0 {
						b.ReportMetric(float64(fi.Size())/float64(res.BytesOut), "rec-bytes/out-byte")
					}
				}
			})
		}
	})
	b.Run("pty-cat", func(b *testing.B) {
		// A real cat of a 16 MiB file in a pty, read straight (the kernel's pty
		// is the limit on this machine) and through the relay with recording.
		const size = 16 << 20
		file := filepath.Join(b.TempDir(), "big.txt")
		line := []byte("2026-03-04T10:00:00Z web01 app[1234]: GET /api/v1/items?page=42 200 1.2ms ok\n")
		if err := os.WriteFile(file, bytes.Repeat(line, size/len(line)), 0o600); err != nil {
			b.Fatal(err)
		}
		start := func(b *testing.B) *PtyTarget {
			tg, err := StartPty(exec.Command("cat", file), Size{Cols: 200, Rows: 50})
			if err != nil {
				b.Fatal(err)
			}
			return tg
		}
		b.Run("direct", func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, bigRead)
			for b.Loop() {
				tg := start(b)
				for {
					if _, err := tg.Read(buf); err != nil {
						break
					}
				}
				tg.Close()
			}
		})
		b.Run("relay", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				u := &discardUser{closed: make(chan struct{})}
				rec, _ := benchRecorder(b)
				res, err := Run(context.Background(), Config{User: u, Target: start(b), Recorder: rec})
				close(u.closed)
				if err != nil || res.EndReason != EndTargetClosed {
					b.Fatalf("got %+v, %v", res, err)
				}
			}
		})
	})
}

// stamps are the times one keystroke passes the relay's four edges.
type stamps struct {
	keyRead     atomic.Int64 // the relay took the key from the user (User.Read returned)
	keyWritten  atomic.Int64 // the relay handed it to the target (Target.Write called)
	echoRead    atomic.Int64 // the target's echo reached the relay (Target.Read returned)
	echoWritten atomic.Int64 // the relay wrote the echo to the user (User.Write called)
}

func now() int64 { return time.Now().UnixNano() }

// latencyUser is a user whose keystrokes the benchmark sends one at a time
// and whose screen reports each arrival.
type latencyUser struct {
	st      *stamps
	keys    chan []byte
	arrived chan struct{}
}

func (u *latencyUser) Read(p []byte) (int, error) {
	k, ok := <-u.keys
	if !ok {
		return 0, io.EOF
	}
	u.st.keyRead.Store(now())
	return copy(p, k), nil
}

func (u *latencyUser) Write(p []byte) (int, error) {
	u.st.echoWritten.CompareAndSwap(0, now())
	select {
	case u.arrived <- struct{}{}:
	default:
	}
	return len(p), nil
}

// stampedTarget notes when keys enter the target and when its echo leaves it.
type stampedTarget struct {
	Target
	st *stamps
}

func (t stampedTarget) Write(p []byte) (int, error) {
	t.st.keyWritten.CompareAndSwap(0, now())
	return t.Target.Write(p)
}

func (t stampedTarget) Read(p []byte) (int, error) {
	n, err := t.Target.Read(p)
	if n > 0 {
		t.st.echoRead.CompareAndSwap(0, now())
	}
	return n, err
}

// BenchmarkKeystrokeLatency measures the echo latency the relay adds to a
// single keystroke, with recording and the live registry on: the time the
// relay holds the key (from taking it from the user to writing it to the
// target) plus the time it holds the echo (from reading it from the target to
// writing it to the user), p50 and p99 over b.N keystrokes. Measured at the
// relay's edges, it leaves out the target's own echo time, which on a pty
// varies by tens of milliseconds on a busy machine. The end-to-end round trip
// is reported too. "pty" echoes through a real pty in cooked mode (the kernel
// echoes), "memory" through an in-memory echo.
func BenchmarkKeystrokeLatency(b *testing.B) {
	targets := map[string]func(b *testing.B) Target{
		"memory": func(b *testing.B) Target { return newEchoTarget() },
		"pty": func(b *testing.B) Target {
			tg, err := StartPty(exec.Command("sleep", "3600"), Size{Cols: 80, Rows: 24})
			if err != nil {
				b.Fatal(err)
			}
			return tg
		},
	}
	for _, name := range []string{"memory", "pty"} {
		b.Run(name, func(b *testing.B) {
			st := &stamps{}
			u := &latencyUser{st: st, keys: make(chan []byte), arrived: make(chan struct{}, 1)}
			rec, _ := benchRecorder(b)
			cfg := Config{User: u, Target: stampedTarget{targets[name](b), st}, Recorder: rec, Live: benchLive(b)}
			done := make(chan struct{})
			go func() { defer close(done); Run(context.Background(), cfg) }()

			keys := [][]byte{[]byte("x"), {0x7f}} // type and erase: a cooked-mode line never fills up
			added := make([]time.Duration, 0, b.N)
			e2e := make([]time.Duration, 0, b.N)
			measure := func(i int, keep bool) {
				time.Sleep(50 * time.Microsecond) // let a split echo ("\b \b") finish
				select {
				case <-u.arrived:
				default:
				}
				st.keyRead.Store(0)
				st.keyWritten.Store(0)
				st.echoRead.Store(0)
				st.echoWritten.Store(0)
				start := time.Now()
				u.keys <- keys[i%2]
				select {
				case <-u.arrived:
				case <-time.After(5 * time.Second):
					b.Fatalf("no echo for keystroke %d", i)
				}
				if keep {
					e2e = append(e2e, time.Since(start))
					in := st.keyWritten.Load() - st.keyRead.Load()
					out := st.echoWritten.Load() - st.echoRead.Load()
					added = append(added, time.Duration(in+out))
				}
			}
			for i := range 200 { // warm up
				measure(i, false)
			}
			b.ResetTimer()
			for i := range b.N {
				measure(i, true)
			}
			b.StopTimer()
			close(u.keys)
			<-done

			slices.Sort(added)
			slices.Sort(e2e)
			p := func(d []time.Duration, q float64) float64 {
				return float64(d[min(len(d)-1, int(float64(len(d))*q))].Nanoseconds()) / 1e3
			}
			b.ReportMetric(p(added, 0.50), "added-p50-µs")
			b.ReportMetric(p(added, 0.99), "added-p99-µs")
			b.ReportMetric(p(e2e, 0.50), "e2e-p50-µs")
			b.ReportMetric(p(e2e, 0.99), "e2e-p99-µs")
		})
	}
}

// BenchmarkIdleSessionMemory reports the memory an idle session holds (heap
// and goroutine stacks): the relay alone, with the live registry, and with the
// recorder too; the relay's share of the 100 KiB per idle session budget.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 200
	for _, mode := range []string{"relay", "relay+live", "relay+live+recorder"} {
		b.Run(mode, func(b *testing.B) {
			st := storetest.SQLite(b)
			reg := session.NewRegistry(st.DB, nil, nil, nil, "bench")
			dir := b.TempDir()
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				users := make([]*discardUser, n)
				targets := make([]*echoTarget, n)
				var wg sync.WaitGroup
				for i := range n {
					users[i] = &discardUser{closed: make(chan struct{})}
					targets[i] = newEchoTarget()
					targets[i].Write([]byte("alice@web01:~$ ")) // a prompt, then silence
					cfg := Config{User: users[i], Target: targets[i]}
					if mode != "relay" {
						live, err := reg.Start(context.Background(), session.Meta{OrgID: 1, Username: "idle", Protocol: "ssh", Kind: "shell"})
						if err != nil {
							b.Fatal(err)
						}
						cfg.Live = live
					}
					if mode == "relay+live+recorder" {
						rec, err := record.CreateCast(filepath.Join(dir, session.NewID()+".cast.gz"), record.Header{Width: 80, Height: 24}, record.CastOptions{})
						if err != nil {
							b.Fatal(err)
						}
						cfg.Recorder = rec
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						Run(context.Background(), cfg)
					}()
				}
				time.Sleep(2 * time.Second) // the recorders flush and go idle
				runtime.GC()
				runtime.ReadMemStats(&after)
				per := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / n
				b.ReportMetric(per/1024, "KiB/session")
				for i := range n {
					targets[i].Close()
					close(users[i].closed)
				}
				wg.Wait()
			}
		})
	}
}
