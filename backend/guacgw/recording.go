package guacgw

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// ErrRecordingClosed is returned by Write after Close.
var ErrRecordingClosed = errors.New("guacgw: recording closed")

// RecordingOptions tunes a RecordingWriter. Zero values mean the defaults.
type RecordingOptions struct {
	// FlushInterval is how often buffered instructions are written to the
	// file (default 200 ms): a crash of the process loses at most that much.
	FlushInterval time.Duration
	// SyncInterval is how often the file is fsynced (default 5 s): a crash
	// of the machine loses at most that much.
	SyncInterval time.Duration
	// BufferLimit is how much Write buffers before it writes to the file
	// itself (default 1 MiB), so a slow disk slows the session rather than
	// growing memory.
	BufferLimit int
	// Perm is the new file's permission bits (default 0600).
	Perm os.FileMode
	// Log receives write errors; nil discards them.
	Log *slog.Logger
}

// RecordingWriter writes a .guac recording, the server-to-client Guacamole
// instruction stream that Guacamole.SessionRecording (guacamole-common-js)
// and guacenc play back. It is safe for concurrent use; each Write must hold
// whole instructions.
//
// Writes go to a memory buffer that a background goroutine writes to the
// file every FlushInterval and fsyncs every SyncInterval, and once more at
// Close. A file cut by a crash ends at most in a partial instruction, which
// RepairRecording removes.
type RecordingWriter struct {
	f    *os.File
	opts RecordingOptions

	// mu guards buf, err and closed.
	mu     sync.Mutex
	buf    []byte
	spare  []byte
	err    error
	closed bool

	// fmu serialises writes to the file, keeping them in order; dirty is
	// whether the file has data that was not fsynced (guarded by fmu).
	fmu   sync.Mutex
	dirty bool

	stop chan struct{}
	done chan struct{}
}

// CreateRecording creates the recording file at path, which must not exist,
// and starts its flusher.
func CreateRecording(path string, opts RecordingOptions) (*RecordingWriter, error) {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 5 * time.Second
	}
	if opts.BufferLimit <= 0 {
		opts.BufferLimit = 1 << 20
	}
	if opts.Perm == 0 {
		opts.Perm = 0o600
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, opts.Perm)
	if err != nil {
		return nil, fmt.Errorf("guacgw: create recording: %w", err)
	}
	w := &RecordingWriter{
		f:    f,
		opts: opts,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.flusher()
	return w, nil
}

// Write appends p, one or more whole instructions, to the recording.
func (w *RecordingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	switch {
	case w.closed:
		w.mu.Unlock()
		return 0, ErrRecordingClosed
	case w.err != nil:
		err := w.err
		w.mu.Unlock()
		return 0, err
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.opts.BufferLimit
	w.mu.Unlock()
	if full {
		if err := w.flush(); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Flush writes what is buffered to the file (not fsynced).
func (w *RecordingWriter) Flush() error { return w.flush() }

// flush swaps the buffer out and writes it to the file.
func (w *RecordingWriter) flush() error {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	w.mu.Lock()
	b := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	err := w.err
	w.mu.Unlock()
	if err != nil || len(b) == 0 {
		w.mu.Lock()
		w.spare = b[:0]
		w.mu.Unlock()
		return err
	}
	_, err = w.f.Write(b)
	w.dirty = true
	w.mu.Lock()
	if cap(b) <= 4*w.opts.BufferLimit {
		w.spare = b[:0]
	}
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("guacgw: write recording: %w", err)
		w.opts.Log.Error("recording write failed", "file", w.f.Name(), "err", err)
	}
	err = w.err
	w.mu.Unlock()
	return err
}

// sync fsyncs the file if it has data that was not.
func (w *RecordingWriter) sync() error {
	w.fmu.Lock()
	dirty := w.dirty
	w.dirty = false
	w.fmu.Unlock()
	if !dirty {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("guacgw: sync recording: %w", err)
		}
		w.mu.Unlock()
		return err
	}
	return nil
}

func (w *RecordingWriter) flusher() {
	defer close(w.done)
	flush := time.NewTicker(w.opts.FlushInterval)
	defer flush.Stop()
	fsync := time.NewTicker(w.opts.SyncInterval)
	defer fsync.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-flush.C:
			_ = w.flush()
		case <-fsync.C:
			_ = w.flush()
			_ = w.sync()
		}
	}
}

// Close writes what is buffered, fsyncs and closes the file. It returns the
// first error the writer met.
func (w *RecordingWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrRecordingClosed
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	err := w.flush()
	if serr := w.sync(); err == nil && serr != nil {
		err = fmt.Errorf("guacgw: sync recording: %w", serr)
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("guacgw: close recording: %w", cerr)
	}
	return err
}

// RepairRecording makes the recording at path whole after a crash: it cuts a
// trailing partial instruction, and a tail of NUL bytes that a file system
// may leave after a power loss. It returns how many bytes it cut. A
// recording with invalid data before its end is left alone and reported with
// an error wrapping ErrMalformed.
func RepairRecording(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("guacgw: repair recording: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("guacgw: repair recording: %w", err)
	}
	good, err := wholeInstructions(f)
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
	case errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLong):
		// NUL bytes are what a file system leaves after a power loss, maybe
		// after the start of an instruction; anything else is corruption.
		if torn, terr := tornByNULs(f, good); terr != nil {
			return 0, fmt.Errorf("guacgw: repair recording: %w", terr)
		} else if !torn {
			return 0, fmt.Errorf("guacgw: repair recording %s: at byte %d: %w", path, good, err)
		}
	default:
		return 0, fmt.Errorf("guacgw: repair recording: %w", err)
	}
	if err := f.Truncate(good); err != nil {
		return 0, fmt.Errorf("guacgw: repair recording: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("guacgw: repair recording: %w", err)
	}
	return fi.Size() - good, nil
}

// wholeInstructions reads r and returns the length of its longest prefix of
// whole instructions, and why it stopped (nil at a clean end).
func wholeInstructions(r io.Reader) (int64, error) {
	rd := NewReader(r, MaxServerInstruction)
	var good int64
	for {
		raw, err := rd.next()
		if err == io.EOF {
			return good, nil
		}
		if err != nil {
			return good, err
		}
		good += int64(len(raw))
	}
}

// tornByNULs reports whether f, from off on, holds the start of an
// instruction followed by nothing but NUL bytes.
func tornByNULs(f *os.File, off int64) (bool, error) {
	br := bufio.NewReader(io.NewSectionReader(f, off, 1<<62))
	var sc scanner
	sc.max = MaxServerInstruction
	var start []byte
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if c == 0 {
			break
		}
		if start = append(start, c); len(start) > MaxServerInstruction {
			return false, nil
		}
	}
	if n, err := sc.scan(start); n != 0 || err != nil {
		return false, nil
	}
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if c != 0 {
			return false, nil
		}
	}
}
