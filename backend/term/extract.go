package term

import (
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"sync/atomic"
)

// extractor is what the relay needs from cmdline.Extractor.
type extractor interface {
	Output(p []byte)
	Input(p []byte)
	Resize(cols, rows int)
	Enter() (cmd string, ok bool)
	FullScreen() bool
}

// extractBacklog caps the output bytes waiting for the extractor. When the
// target floods (cat of a large file) faster than the VT emulator parses, the
// oldest waiting output is dropped: what the screen shows at the next Enter
// depends on the most recent output, and the data path must not slow down.
const extractBacklog = 256 << 10

// Kinds of records in the extractor queue.
const (
	recOutput byte = 'o'
	recInput  byte = 'i'
	recResize byte = 'r'
	recEnter  byte = 'e'
	recPeek   byte = 'p' // like recEnter, but only FullScreen is asked
)

const recHeader = 5 // kind + uint32 length

// enterResult is the extractor's answer at an Enter.
type enterResult struct {
	seq        uint32
	cmd        string
	ok         bool
	fullScreen bool
}

// extractWorker owns an extractor and feeds it on its own goroutine, so that
// neither the VT emulation of the output nor its locks sit on the data path.
// The goroutine runs only while records wait: an idle session has none.
// Output, input and resizes are queued as records in one byte slice (no
// allocation per event once it has grown); an Enter request is a record too,
// so it is answered only after everything queued before it has been applied.
type extractWorker struct {
	x   extractor
	log *slog.Logger

	mu         sync.Mutex // guards queue, spare, outPending, dropped, seq
	queue      []byte     // records waiting for the worker
	spare      []byte     // the slice the worker returns after a batch, reused as queue
	outPending int        // output bytes in queue
	dropped    int64      // output bytes dropped because the backlog was full
	seq        uint32     // sequence number of the last Enter request

	running bool           // a worker goroutine is applying the queue (guarded by mu)
	closed  bool           // close was called: no new worker starts (guarded by mu)
	wg      sync.WaitGroup // the worker goroutine, while one runs

	replies chan enterResult // capacity 1: answers to Enter requests
	done    chan struct{}    // closed by close once the worker has stopped

	fullScreen atomic.Bool // what the extractor said after its last batch
	broken     atomic.Bool // the extractor panicked; it is not called again
}

func newExtractWorker(x extractor, log *slog.Logger) *extractWorker {
	return &extractWorker{x: x, log: log, replies: make(chan enterResult, 1), done: make(chan struct{})}
}

// output queues bytes the target sent.
func (w *extractWorker) output(p []byte) {
	if len(p) == 0 {
		return
	}
	w.mu.Lock()
	if w.outPending+len(p) > extractBacklog {
		w.dropOutputLocked()
		if len(p) > extractBacklog {
			w.dropped += int64(len(p) - extractBacklog)
			p = p[len(p)-extractBacklog:]
		}
	}
	w.outPending += len(p)
	w.appendLocked(recOutput, p)
	w.mu.Unlock()
}

// input queues keystrokes forwarded to the target.
func (w *extractWorker) input(p []byte) {
	if len(p) == 0 {
		return
	}
	w.mu.Lock()
	w.appendLocked(recInput, p)
	w.mu.Unlock()
}

// resize queues a new terminal size.
func (w *extractWorker) resize(s Size) {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(s.Cols))
	binary.LittleEndian.PutUint32(b[4:], uint32(s.Rows))
	w.mu.Lock()
	w.appendLocked(recResize, b[:])
	w.mu.Unlock()
}

// enter asks for the command line on screen once everything queued so far has
// been applied. Only one request may be in flight (the relay's input mutex
// serializes them).
func (w *extractWorker) enter(ctx context.Context) (enterResult, error) {
	return w.request(ctx, recEnter)
}

// peek asks only whether a full-screen program runs, once everything queued
// so far has been applied; the extractor's line state is left alone.
func (w *extractWorker) peek(ctx context.Context) (enterResult, error) {
	return w.request(ctx, recPeek)
}

func (w *extractWorker) request(ctx context.Context, kind byte) (enterResult, error) {
	var b [4]byte
	w.mu.Lock()
	w.seq++
	seq := w.seq
	binary.LittleEndian.PutUint32(b[:], seq)
	w.appendLocked(kind, b[:])
	w.mu.Unlock()
	for {
		select {
		case r := <-w.replies:
			if r.seq == seq {
				return r, nil
			}
			// A reply to an earlier request whose caller gave up: skip it.
		case <-ctx.Done():
			return enterResult{}, ctx.Err()
		case <-w.done:
			return enterResult{}, context.Canceled
		}
	}
}

// close stops the worker after the batch it is applying, drops what still
// waits, and waits for it. Pending and later requests get context.Canceled.
func (w *extractWorker) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return
	}
	w.closed = true
	w.queue, w.spare, w.outPending = nil, nil, 0
	w.mu.Unlock()
	w.wg.Wait()
	close(w.done)
}

// appendLocked queues a record and starts the worker if none runs.
func (w *extractWorker) appendLocked(kind byte, p []byte) {
	if w.closed {
		return
	}
	var h [recHeader]byte
	h[0] = kind
	binary.LittleEndian.PutUint32(h[1:], uint32(len(p)))
	w.queue = append(w.queue, h[:]...)
	w.queue = append(w.queue, p...)
	if !w.running {
		w.running = true
		w.wg.Add(1)
		go w.run()
	}
}

// dropOutputLocked removes the output records from the queue, keeping input,
// resizes and Enter requests in order.
func (w *extractWorker) dropOutputLocked() {
	q := w.queue
	kept := q[:0]
	for i := 0; i+recHeader <= len(q); {
		kind := q[i]
		n := int(binary.LittleEndian.Uint32(q[i+1:]))
		end := i + recHeader + n
		if kind == recOutput {
			w.dropped += int64(n)
		} else {
			// copy within the same backing array: kept never overtakes i.
			kept = append(kept, q[i:end]...)
		}
		i = end
	}
	w.queue = kept
	w.outPending = 0
}

// maxIdleQueue is the capacity above which a drained queue is released rather
// than kept for reuse once the output has calmed down, so that an idle
// session does not hold a flood's buffer (and a flood does not reallocate).
const maxIdleQueue = 64 << 10

func (w *extractWorker) run() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || w.closed {
			w.running = false
			w.mu.Unlock()
			return
		}
		batch := w.queue
		w.queue, w.spare = w.spare[:0], nil
		w.outPending = 0
		w.mu.Unlock()

		w.apply(batch)

		if cap(batch) > maxIdleQueue && len(batch) < maxIdleQueue/4 {
			batch = nil // the flood is over: let its buffer go
		}
		w.mu.Lock()
		w.spare = batch[:0]
		w.mu.Unlock()
	}
}

// apply feeds a batch of records to the extractor. A panic in the extractor
// (a bug met by hostile output) must not bring the server down: it is logged,
// the extractor is abandoned, and every later Enter gets ok=false, which makes
// the relay fall back to the keystroke-derived line.
func (w *extractWorker) apply(q []byte) {
	cur := 0 // start of the record being applied
	defer func() {
		if v := recover(); v != nil {
			w.broken.Store(true)
			w.log.Error("command extractor panicked; command extraction disabled for this session", "panic", v)
			w.answerPending(q[cur:])
		}
	}()
	if w.broken.Load() {
		w.answerPending(q)
		return
	}
	for cur+recHeader <= len(q) {
		kind := q[cur]
		n := int(binary.LittleEndian.Uint32(q[cur+1:]))
		p := q[cur+recHeader : cur+recHeader+n]
		switch kind {
		case recOutput:
			w.x.Output(p)
		case recInput:
			w.x.Input(p)
		case recResize:
			w.x.Resize(int(binary.LittleEndian.Uint32(p[0:])), int(binary.LittleEndian.Uint32(p[4:])))
		case recEnter:
			cmd, ok := w.x.Enter()
			w.reply(enterResult{seq: binary.LittleEndian.Uint32(p), cmd: cmd, ok: ok, fullScreen: w.x.FullScreen()})
		case recPeek:
			w.reply(enterResult{seq: binary.LittleEndian.Uint32(p), fullScreen: w.x.FullScreen()})
		}
		cur += recHeader + n
	}
	w.fullScreen.Store(w.x.FullScreen())
}

// answerPending answers the Enter requests of a batch with ok=false.
func (w *extractWorker) answerPending(q []byte) {
	for i := 0; i+recHeader <= len(q); {
		kind := q[i]
		n := int(binary.LittleEndian.Uint32(q[i+1:]))
		if kind == recEnter || kind == recPeek {
			w.reply(enterResult{seq: binary.LittleEndian.Uint32(q[i+recHeader:])})
		}
		i += recHeader + n
	}
}

func (w *extractWorker) reply(r enterResult) {
	select {
	case <-w.replies: // drop an unread stale reply
	default:
	}
	w.replies <- r
}
