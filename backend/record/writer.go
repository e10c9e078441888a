package record

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
)

// Encoding is how NewCastWriter stores a recording.
type Encoding int

const (
	// Gzip compresses the recording (a .cast.gz file).
	Gzip Encoding = iota
	// Plain writes the asciicast text as it is (a .cast file).
	Plain
)

const (
	// maxEvent caps the bytes of one event; longer output is split into several events
	// with the same time, so no JSON line grows past a few hundred KiB.
	maxEvent = 64 << 10
	// piece is how much input is escaped at a time, and flushLine how much encoded
	// text is handed to the compressor at a time: they bound the line buffer.
	piece     = 16 << 10
	flushLine = 64 << 10
	// highWater wakes the writer before the flush interval when this much is waiting.
	highWater = 256 << 10
	// bufSize is the write buffer between the compressor and the file.
	bufSize = 64 << 10
)

// qevent is an event waiting for the writer; its bytes are data[prev.end:end] of its batch.
type qevent struct {
	t    time.Duration
	kind byte
	end  int
}

// batch is a run of waiting events with their bytes back to back.
type batch struct {
	data   []byte
	events []qevent
}

func (b *batch) reset() {
	b.data, b.events = b.data[:0], b.events[:0]
}

// carry holds the start of a UTF-8 sequence cut at the end of an event, written with
// the next event of the same kind.
type carry struct {
	b [4]byte
	n int
	t time.Duration
}

// CastWriter records a terminal session as asciicast v2. Output, Input, Resize and
// Marker are safe for concurrent use and return quickly: they copy into a buffer that
// a writer goroutine drains. Create one with CreateCast or NewCastWriter and Close it
// at the end of the session.
type CastWriter struct {
	opts   CastOptions
	log    *slog.Logger
	start  time.Time
	enc    Encoding
	file   io.Writer // dst, counting into size
	syncer interface{ Sync() error }
	closer io.Closer
	size   atomic.Int64
	drops  atomic.Int64 // bytes left out of the recording, in all

	wg     sync.WaitGroup // the writer goroutine
	kick   chan struct{}  // wakes the writer before its flush interval
	quit   chan struct{}  // closed by Close
	failed chan struct{}  // closed when err is set

	mu      sync.Mutex    // guards the fields up to iomu
	q       batch         // events waiting for the writer
	spare   batch         // an empty batch to swap in
	open    bool          // the last event of q may still grow (Coalesce)
	running bool          // a writer goroutine exists
	kicked  bool          // kick was sent for the data in q
	closing bool          // Close was called
	err     error         // first failure (ErrBehind or a write error)
	last    time.Duration // time of the newest event: times never go backwards
	dropped int64         // bytes dropped since the last drop marker
	dropAt  time.Duration // time of the first of them
	room    chan struct{} // closed when the writer takes a batch; Pace and FailClosed waiters wait on it
	stalled bool          // Pace: a wait for room timed out; drop until the writer takes a batch

	iomu     sync.Mutex    // held by whoever writes the file (writer goroutine or Close); guards below
	bw       *bufio.Writer // write buffer, held while there is something to write
	fw       *flate.Writer // compressor of the current deflate segment (Gzip), held likewise
	fwMode   int           // the mode fw compresses in (modeText, modeBinary, modeDense)
	mode     int           // the mode of the next segment, from what recent output was like
	probeIn  int64         // text bytes compressed since the last mode decision (Gzip)
	probeOut int64         // compressed bytes (file and buffer) at the last mode decision
	denseIn  int64         // text bytes compressed in modeDense since it was chosen
	crc      uint32        // CRC-32 of the text so far (gzip trailer)
	isize    uint32        // and its length, mod 2^32
	statRaw  int           // output bytes escaped since the last level decision
	statEsc  int           // and the bytes they became
	dirty    bool          // bytes went into bw since the last flush
	ioErr    error         // a write error: nothing more is written
	carry    [2]carry      // output, input
	line     []byte        // encoded text on its way to the compressor

	once   sync.Once // runs close
	closed error     // result of Close
}

// CreateCast creates the recording file at path (its directories too) and writes the
// header. A path ending in ".gz" gets a gzip-compressed recording (.cast.gz), anything
// else plain asciicast (.cast). An existing file is never overwritten. The file is
// readable by its owner only: a recording may show secrets.
func CreateCast(path string, h Header, opts CastOptions) (*CastWriter, error) {
	enc := Plain
	if strings.HasSuffix(path, ".gz") {
		enc = Gzip
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("record: create %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("record: create %s: %w", path, err)
	}
	if opts.Log != nil {
		opts.Log = opts.Log.With("recording", path)
	}
	w, err := NewCastWriter(f, enc, h, opts)
	if err == nil && !opts.NoFsync {
		err = syncDir(dir)
	}
	if err != nil {
		if w != nil {
			w.Close()
		} else {
			f.Close()
		}
		os.Remove(path)
		return nil, fmt.Errorf("record: create %s: %w", path, err)
	}
	return w, nil
}

// NewCastWriter records into dst, which may be a file, a pipe or an upload stream. The
// header is written (and flushed) before it returns. When dst has a Sync() error
// method it is called after each flush unless opts.NoFsync; when it is an io.Closer,
// Close closes it.
func NewCastWriter(dst io.Writer, enc Encoding, h Header, opts CastOptions) (*CastWriter, error) {
	opts.setDefaults()
	w := &CastWriter{
		opts:   opts,
		log:    opts.Log.With("component", "record"),
		start:  opts.Clock(),
		enc:    enc,
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	w.file = countingWriter{dst, &w.size}
	if s, ok := dst.(interface{ Sync() error }); ok && !opts.NoFsync {
		w.syncer = s
	}
	if c, ok := dst.(io.Closer); ok {
		w.closer = c
	}
	if h.Timestamp == 0 {
		h.Timestamp = w.start.Unix()
	}
	line, err := headerLine(h)
	if err != nil {
		return nil, err
	}
	w.begin()
	if enc == Gzip {
		_, err = w.bw.Write(gzipHeader(h.Timestamp))
	}
	if err == nil {
		w.line = append(w.line[:0], line...)
		err = w.writeLine(true)
	}
	if err == nil {
		err = w.end()
	}
	if err != nil {
		w.release()
		return nil, fmt.Errorf("record: write header: %w", err)
	}
	return w, nil
}

// headerLine encodes h as the first line of a recording.
func headerLine(h Header) ([]byte, error) {
	b, err := json.Marshal(struct {
		Version int `json:"version"`
		Header
	}{2, h})
	if err != nil {
		return nil, fmt.Errorf("record: encode header: %w", err)
	}
	return append(b, '\n'), nil
}

// Output records p as an "o" event. It copies p and returns at once, unless the
// recorder is FailClosed and its buffer is full (see Policy).
func (w *CastWriter) Output(p []byte) { w.add('o', p) }

// Write records p as output, like Output, for use as an io.Writer. It returns an error
// only when the recorder is closed or has failed (FailClosed, or a write error);
// under FailOpen, output dropped for lack of room is not an error.
func (w *CastWriter) Write(p []byte) (int, error) {
	if err := w.add('o', p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Input records p as an "i" event when RecordInput is set, and does nothing otherwise.
func (w *CastWriter) Input(p []byte) {
	if w.opts.RecordInput {
		w.add('i', p)
	}
}

// Resize records an "r" event "COLSxROWS".
func (w *CastWriter) Resize(cols, rows int) {
	w.add('r', []byte(strconv.Itoa(cols)+"x"+strconv.Itoa(rows)))
}

// Marker records an "m" event: a labelled point on the player's timeline, such as a
// command the user ran.
func (w *CastWriter) Marker(label string) { w.add('m', []byte(label)) }

// Size returns the bytes written to the file so far.
func (w *CastWriter) Size() int64 { return w.size.Load() }

// Dropped returns how many bytes of output were left out of the recording because the
// writer fell behind (FailOpen) or had failed.
func (w *CastWriter) Dropped() int64 { return w.drops.Load() }

// Err returns why the recorder stopped recording (ErrBehind, or a write error), or nil.
func (w *CastWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Failed is closed when the recorder stops recording; a FailClosed relay ends the
// session then.
func (w *CastWriter) Failed() <-chan struct{} { return w.failed }

// add queues an event of kind with a copy of p.
func (w *CastWriter) add(kind byte, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	now := w.opts.Clock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return ErrClosed
	}
	if w.err != nil {
		w.drops.Add(int64(len(p)))
		return w.err
	}
	t := max(now.Sub(w.start), w.last)
	w.last = t
	if len(w.q.data) > 0 && len(w.q.data)+len(p) > w.opts.BufferLimit {
		switch {
		case w.opts.Policy == Pace && !w.stalled:
			switch err := w.waitRoom(len(p)); {
			case errors.Is(err, errStalled):
				w.stalled = true
				w.log.Error("recording: disk made no progress, dropping output until it does", "stall", w.opts.StallTimeout)
				return w.dropLocked(t, len(p))
			case errors.Is(err, ErrClosed):
				return err
			case err != nil:
				w.drops.Add(int64(len(p)))
				return err
			}
		case w.opts.Policy != FailClosed:
			return w.dropLocked(t, len(p))
		default:
			if err := w.waitRoom(len(p)); errors.Is(err, errStalled) {
				w.failLocked(fmt.Errorf("%w: no room for %d bytes within %v", ErrBehind, len(p), w.opts.StallTimeout))
				w.drops.Add(int64(len(p)))
				return w.err
			} else if err != nil {
				return err
			}
		}
	}
	if w.dropped > 0 {
		w.queueDropMarker()
	}
	w.queue(kind, t, p)
	if !w.running {
		w.running = true
		w.wg.Add(1)
		go w.run()
	} else if !w.kicked && len(w.q.data) >= min(highWater, w.opts.BufferLimit/4) {
		w.kickLocked()
	}
	return nil
}

// dropLocked leaves n bytes of output at time t out of the recording (FailOpen, or
// Pace with a stalled disk); the next event that fits is preceded by a marker.
func (w *CastWriter) dropLocked(t time.Duration, n int) error {
	if w.dropped == 0 {
		w.dropAt = t
		w.log.Warn("recording: writer behind, dropping output", "buffer", w.opts.BufferLimit, "policy", w.opts.Policy.String())
	}
	w.dropped += int64(n)
	w.drops.Add(int64(n))
	return nil
}

func (w *CastWriter) kickLocked() {
	w.kicked = true
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// errStalled is waitRoom's answer when no room came within StallTimeout; the
// policy decides what follows (Pace drops, FailClosed fails the recorder).
var errStalled = errors.New("record: no room within the stall timeout")

// waitRoom waits, with w.mu held, until n bytes fit into the buffer (Pace and
// FailClosed). It returns ErrClosed or the recorder's error when either comes
// meanwhile, and errStalled when no room came within StallTimeout.
func (w *CastWriter) waitRoom(n int) error {
	timer := time.NewTimer(w.opts.StallTimeout)
	defer timer.Stop()
	for len(w.q.data) > 0 && len(w.q.data)+n > w.opts.BufferLimit {
		if w.room == nil {
			w.room = make(chan struct{})
		}
		room := w.room
		w.kickLocked()
		w.mu.Unlock()
		timedOut := false
		select {
		case <-room:
		case <-timer.C:
			timedOut = true
		}
		w.mu.Lock()
		switch {
		case w.closing:
			return ErrClosed
		case w.err != nil:
			return w.err
		case timedOut && len(w.q.data)+n > w.opts.BufferLimit:
			return errStalled
		}
	}
	return nil
}

// failLocked records the first failure and tells the relay.
func (w *CastWriter) failLocked(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	close(w.failed)
	w.log.Error("recording failed", "err", err, "policy", w.opts.Policy.String())
}

func (w *CastWriter) fail(err error) {
	w.mu.Lock()
	w.failLocked(err)
	w.mu.Unlock()
}

// queue appends an event to q, growing the open event when it can.
func (w *CastWriter) queue(kind byte, t time.Duration, p []byte) {
	q := &w.q
	if n := len(q.events); w.open && n > 0 {
		ev := &q.events[n-1]
		start := 0
		if n > 1 {
			start = q.events[n-2].end
		}
		if ev.kind == kind && t-ev.t < w.opts.Coalesce && ev.end-start+len(p) <= maxEvent {
			q.data = append(q.data, p...)
			ev.end = len(q.data)
			return
		}
	}
	q.data = append(q.data, p...)
	q.events = append(q.events, qevent{t: t, kind: kind, end: len(q.data)})
	w.open = kind == 'o' || kind == 'i'
}

// queueDropMarker queues the marker that says how much output is missing.
func (w *CastWriter) queueDropMarker() {
	label := fmt.Sprintf("recording: %d bytes dropped (recorder fell behind)", w.dropped)
	w.log.Warn("recording: output dropped", "bytes", w.dropped, "at", w.dropAt)
	w.queue('m', w.dropAt, []byte(label))
	w.dropped = 0
}

// take hands the waiting events to the writer, with w.mu held.
func (w *CastWriter) take() batch {
	b := w.q
	w.q, w.spare = w.spare, batch{}
	w.q.reset()
	w.open, w.kicked = false, false
	w.stalled = false
	if w.room != nil {
		close(w.room)
		w.room = nil
	}
	return b
}

// recycle gives a written batch back for reuse.
func (w *CastWriter) recycle(b batch) {
	b.reset()
	w.mu.Lock()
	if w.running && w.spare.data == nil {
		w.spare = b
	}
	w.mu.Unlock()
}

// run is the writer goroutine: it wakes when a batch is big or the flush interval has
// passed, encodes, flushes, and stops after a whole interval without events.
func (w *CastWriter) run() {
	defer w.wg.Done()
	w.iomu.Lock()
	defer w.iomu.Unlock()
	tick := time.NewTimer(w.opts.FlushInterval)
	defer tick.Stop()
	for {
		due := false
		select {
		case <-w.quit:
			return // Close writes what is left
		case <-w.kick:
		case <-tick.C:
			due = true
		}
		w.mu.Lock()
		b := w.take()
		if due && len(b.events) == 0 && !w.dirty {
			// Quiet for a whole interval: end the deflate segment, give the compressor
			// back and stop; the next event starts a new writer.
			w.running = false
			w.q, w.spare = batch{}, batch{}
			w.mu.Unlock()
			if err := w.end(); err != nil {
				w.ioFail(err)
			}
			w.line = nil
			return
		}
		w.mu.Unlock()
		w.encode(b)
		w.recycle(b)
		if due {
			if err := w.flush(); err != nil {
				w.ioFail(err)
			}
			tick.Reset(w.opts.FlushInterval)
		}
	}
}

// ioFail stops all writing after a write error.
func (w *CastWriter) ioFail(err error) {
	if w.ioErr != nil {
		return
	}
	w.ioErr = fmt.Errorf("record: write: %w", err)
	w.fail(w.ioErr)
	w.release()
}

// begin takes a write buffer and, for Gzip, a compressor for a new deflate segment,
// unless they are held already; iomu held.
func (w *CastWriter) begin() {
	if w.bw == nil {
		w.bw = bufPool.Get().(*bufio.Writer)
		w.bw.Reset(w.file)
	}
	if w.enc == Gzip && w.fw == nil {
		w.fw, w.fwMode = getFlate(w.mode, w.bw), w.mode
	}
}

// release gives the buffer and the compressor back to their pools without writing.
func (w *CastWriter) release() {
	if w.fw != nil {
		putFlate(w.fwMode, w.fw)
		w.fw = nil
	}
	if w.bw != nil {
		w.bw.Reset(io.Discard)
		bufPool.Put(w.bw)
		w.bw = nil
	}
}

// write hands text to the compressor (counting it for the trailer) or, for Plain, to
// the write buffer.
func (w *CastWriter) write(p []byte) error {
	w.dirty = true
	if w.fw == nil {
		_, err := w.bw.Write(p)
		return err
	}
	w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	w.isize += uint32(len(p))
	w.probeIn += int64(len(p))
	_, err := w.fw.Write(p)
	return err
}

// setLevel ends the deflate segment and starts one at the other level when the output
// changed character (text or binary); iomu held, segment open.
func (w *CastWriter) setLevel() error {
	if w.fw == nil || w.fwMode == w.mode {
		return nil
	}
	if err := w.fw.Flush(); err != nil {
		return err
	}
	putFlate(w.fwMode, w.fw)
	w.fw, w.fwMode = getFlate(w.mode, w.bw), w.mode
	return nil
}

// Thresholds of the mode decision (see compress.go).
const (
	probeWindow = 1 << 20 // text compressed before its ratio is judged
	denseRatio  = 0.9     // a text segment compressing worse than this goes to modeDense
	denseSpan   = 8 << 20 // text compressed in modeDense before the fast level is tried again
)

// noteLevel decides the mode of the next segment: binary when what the last batches
// became once escaped looks like random bytes (they more than double: U+FFFD,
// \u00XX; text barely grows), else dense when the text compressed at levelText did
// not shrink, for denseSpan, and text again after that.
func (w *CastWriter) noteLevel() {
	if w.statRaw >= 4096 {
		binary := w.statEsc*10 >= w.statRaw*16
		w.statRaw, w.statEsc = 0, 0
		switch {
		case binary:
			w.mode = modeBinary
		case w.mode == modeBinary:
			w.mode = modeText
		}
	}
	if w.fw == nil || w.bw == nil || w.mode == modeBinary || w.fwMode != w.mode {
		return
	}
	out := w.size.Load() + int64(w.bw.Buffered())
	switch w.mode {
	case modeText:
		if w.probeIn < probeWindow {
			return
		}
		if float64(out-w.probeOut) > denseRatio*float64(w.probeIn) {
			w.mode, w.denseIn = modeDense, 0
		}
	case modeDense:
		w.denseIn += w.probeIn
		if w.denseIn >= denseSpan {
			w.mode = modeText
		}
	}
	w.probeIn, w.probeOut = 0, out
}

// writeLine hands the line buffer to the sink when it is big, or always when force.
func (w *CastWriter) writeLine(force bool) error {
	if len(w.line) == 0 || (!force && len(w.line) < flushLine) {
		return nil
	}
	err := w.write(w.line)
	w.line = w.line[:0]
	return err
}

// flush pushes everything written so far to the file (deflate sync flush) and fsyncs it.
func (w *CastWriter) flush() error {
	if w.bw == nil || !w.dirty {
		return nil
	}
	if w.fw != nil {
		if err := w.fw.Flush(); err != nil {
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	w.dirty = false
	if w.syncer != nil {
		return w.syncer.Sync()
	}
	return nil
}

// end ends the deflate segment with a sync flush, flushes, fsyncs and gives the buffer
// and the compressor back; iomu held.
func (w *CastWriter) end() error {
	if w.bw == nil || w.ioErr != nil {
		return nil
	}
	err := w.flush()
	w.release()
	return err
}

// finish ends the deflate stream and writes the gzip trailer; iomu held.
func (w *CastWriter) finish() error {
	if w.ioErr != nil {
		return nil
	}
	w.begin()
	if w.fw != nil {
		if err := w.fw.Close(); err != nil { // final block
			return err
		}
		if _, err := w.bw.Write(gzipTrailer(w.crc, w.isize)); err != nil {
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	w.release()
	if w.syncer != nil {
		return w.syncer.Sync()
	}
	return nil
}

// encode writes a batch of events; iomu held.
func (w *CastWriter) encode(b batch) {
	if w.ioErr != nil || len(b.events) == 0 {
		return
	}
	w.begin()
	if err := w.setLevel(); err != nil {
		w.ioFail(err)
		return
	}
	start := 0
	for _, ev := range b.events {
		data := b.data[start:ev.end]
		start = ev.end
		var err error
		switch ev.kind {
		case 'o':
			err = w.text(&w.carry[0], ev.kind, ev.t, data)
		case 'i':
			err = w.text(&w.carry[1], ev.kind, ev.t, data)
		default:
			w.line = appendLineStart(w.line, ev.t, ev.kind)
			w.line, _ = appendText(w.line, data, true)
			w.line = append(w.line, "\"]\n"...)
			err = w.writeLine(false)
		}
		if err != nil {
			w.ioFail(err)
			return
		}
	}
	if err := w.writeLine(true); err != nil {
		w.ioFail(err)
	}
	w.noteLevel()
}

// appendLineStart appends `[12.345678, "o", "`.
func appendLineStart(dst []byte, t time.Duration, kind byte) []byte {
	dst = append(dst, '[')
	dst = appendSeconds(dst, t)
	return append(dst, ',', ' ', '"', kind, '"', ',', ' ', '"')
}

// text writes output or input as one or more events, never splitting a UTF-8
// sequence: an incomplete one at the end waits in c for the next event of the kind.
func (w *CastWriter) text(c *carry, kind byte, t time.Duration, data []byte) error {
	var head []byte // the carried sequence, completed (or replaced) with the first bytes of data
	if c.n > 0 {
		var tmp [4]byte
		k := copy(tmp[:], c.b[:c.n])
		k += copy(tmp[k:], data)
		size, ok, more := utf8Seq(tmp[:k])
		if more { // still incomplete: data was too short
			c.n = copy(c.b[:], tmp[:k])
			return nil
		}
		if ok {
			head = tmp[:size]
		} else {
			head = []byte(replacement)
		}
		data = data[size-c.n:]
		c.n = 0
	}
	pos := 0
	for head != nil || pos < len(data) {
		lineStart := len(w.line)
		w.line = appendLineStart(w.line, t, kind)
		w.line = append(w.line, head...)
		body := len(head) > 0 // the event has text (some may already be in the sink)
		head = nil
		limit := min(len(data), pos+maxEvent)
		for pos < limit {
			if w.fw != nil && limit-pos >= runUnit && isRun(data[pos:pos+runUnit]) {
				if err := w.runs(data, &pos, limit); err != nil {
					return err
				}
				body = true
				continue
			}
			end := min(pos+piece, limit)
			before := len(w.line)
			var rest int
			w.line, rest = appendText(w.line, data[pos:end], false)
			w.statRaw += end - rest - pos
			w.statEsc += len(w.line) - before
			body = body || len(w.line) > before
			pos = end - rest
			if rest > 0 && end == limit {
				break
			}
			if err := w.writeLine(false); err != nil {
				return err
			}
		}
		if body {
			w.line = append(w.line, "\"]\n"...)
		} else {
			w.line = w.line[:lineStart] // only an incomplete sequence, carried below
		}
		if err := w.writeLine(false); err != nil {
			return err
		}
		if pos < len(data) && len(data)-pos < 4 && limit == len(data) {
			// An incomplete sequence at the very end: carry it.
			c.n = copy(c.b[:], data[pos:])
			c.t = t
			break
		}
	}
	return nil
}

// runs writes the units of one repeated byte that start at *pos as ready-made deflate
// segments (see runSegmentOf): a `cat /dev/zero` costs a copy of about 180 bytes per
// 16 KiB instead of compressing 96 KiB of \u0000. The compressor's segment is ended
// before (sync flush) and its history forgotten after, so that no back-reference
// points into the inserted data.
func (w *CastWriter) runs(data []byte, pos *int, limit int) error {
	c := data[*pos]
	if err := w.writeLine(true); err != nil {
		return err
	}
	if err := w.fw.Flush(); err != nil {
		return err
	}
	seg := runSegmentOf(c)
	for *pos+runUnit <= limit && data[*pos] == c && isRun(data[*pos:*pos+runUnit]) {
		if _, err := w.bw.Write(seg.deflate); err != nil {
			return err
		}
		w.crc = crc32Combine(w.crc, seg.crc, seg.shift)
		w.isize += seg.size
		*pos += runUnit
	}
	w.fw.Reset(w.bw)
	w.dirty = true
	return nil
}

// Close writes what is waiting, ends the gzip stream, fsyncs and closes the file. It
// blocks until the data is written. It returns the first error of the recording
// (ErrBehind included: the recording stopped early), or nil; later calls return the
// same.
func (w *CastWriter) Close() error {
	w.once.Do(func() { w.closed = w.close() })
	return w.closed
}

func (w *CastWriter) close() error {
	w.mu.Lock()
	w.closing = true
	close(w.quit)
	w.stalled = false
	if w.room != nil {
		close(w.room)
		w.room = nil
	}
	w.mu.Unlock()
	w.wg.Wait()

	w.iomu.Lock()
	defer w.iomu.Unlock()
	w.mu.Lock()
	if w.dropped > 0 {
		w.queueDropMarker()
	}
	b := w.take()
	failure := w.err
	w.mu.Unlock()

	w.encode(b)
	for i, kind := range []byte{'o', 'i'} {
		// A sequence cut at the very end of the session is replaced, as a decoder would.
		if c := &w.carry[i]; c.n > 0 && w.ioErr == nil {
			w.begin()
			w.line = appendLineStart(w.line, c.t, kind)
			w.line = append(w.line, replacement+"\"]\n"...)
			c.n = 0
			if err := w.writeLine(true); err != nil {
				w.ioFail(err)
			}
		}
	}
	if err := w.finish(); err != nil {
		w.ioFail(err)
	}
	w.release()
	w.line = nil
	var cerr error
	if w.closer != nil {
		cerr = w.closer.Close()
	}
	switch {
	case w.ioErr != nil:
		return w.ioErr
	case failure != nil:
		return failure
	case cerr != nil:
		return fmt.Errorf("record: close: %w", cerr)
	}
	return nil
}

// countingWriter counts the bytes written to w.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// syncDir fsyncs a directory so that a file created or renamed in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
