package session

import (
	"bytes"
	"io"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/vt"
)

// ring keeps the last max bytes written to it. Its buffer grows with the
// output up to max, so an idle session holds only what it has printed.
type ring struct {
	buf []byte // len(buf) < max only while nothing has wrapped yet
	max int64
	n   int64 // bytes written in total
}

func (r *ring) write(p []byte) {
	if int64(len(r.buf)) < r.max {
		if int64(len(r.buf)+len(p)) <= r.max {
			r.buf = append(r.buf, p...)
			r.n += int64(len(p))
			return
		}
		full := make([]byte, r.max)
		copy(full, r.buf)
		r.buf = full
	}
	size := int64(len(r.buf))
	total := r.n + int64(len(p))
	if int64(len(p)) > size {
		p = p[int64(len(p))-size:]
	}
	pos := (total - int64(len(p))) % size
	k := copy(r.buf[pos:], p)
	copy(r.buf, p[k:])
	r.n = total
}

// start is the position (in bytes written) of the oldest byte still held.
func (r *ring) start() int64 { return max(0, r.n-int64(len(r.buf))) }

// since returns a copy of the bytes written after position w; complete is
// false when some of them were overwritten already (then it returns what is left).
func (r *ring) since(w int64) (b []byte, complete bool) {
	complete = true
	if s := r.start(); w < s {
		w, complete = s, false
	}
	if w >= r.n {
		return nil, complete
	}
	size := int64(len(r.buf))
	out := make([]byte, r.n-w)
	k := copy(out, r.buf[w%size:])
	copy(out[k:], r.buf)
	return out, complete
}

// Bounds of the screen rendered by the VT emulator; a larger terminal gets the
// recent output replayed as it is.
const (
	maxSnapshotCols = 1000
	maxSnapshotRows = 500
)

// clearScreen resets attributes, homes the cursor and clears the screen.
const clearScreen = "\x1b[0m\x1b[H\x1b[2J"

// renderSnapshot turns the recent output of a session into the bytes that
// paint its current screen on a fresh terminal of cols x rows. wrapped says
// that older output was dropped, so data may begin in the middle of a line or
// an escape sequence: it is cut after the first newline. The screen is
// rendered by a VT emulator, which also settles cursor moves, clears and
// overwrites; if the emulator fails, the output is replayed as it is.
func renderSnapshot(data []byte, wrapped bool, cols, rows int) (snap string) {
	if wrapped {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	if cols <= 0 || rows <= 0 || cols > maxSnapshotCols || rows > maxSnapshotRows {
		return clearScreen + string(data)
	}
	// Lines before the last rows+1 newlines have scrolled off the screen:
	// skipping them keeps rendering cheap (the emulator's cost is scrolling).
	data = lastLines(data, rows+1)
	if len(data) == 0 {
		return clearScreen
	}
	raw := clearScreen + string(data)
	defer func() {
		if recover() != nil {
			snap = raw
		}
	}()
	e := vt.NewEmulator(cols, rows)
	// The emulator answers terminal queries (cursor position, device
	// attributes) on its input pipe; drain it so that Write never blocks.
	// Closing the pipe's writer ends the drain (Emulator.Close would race
	// with the Read in progress).
	go io.Copy(io.Discard, e)
	if pw, ok := e.InputPipe().(*io.PipeWriter); ok {
		defer pw.Close()
	}
	e.Write(data)

	var b strings.Builder
	b.Grow(len(data)/2 + cols*rows + 64)
	b.WriteString(clearScreen)
	for i, line := range strings.Split(e.Render(), "\n") {
		if i >= rows {
			break
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		b.WriteString("\x1b[")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(";1H")
		b.WriteString(line)
		b.WriteString("\x1b[0m")
	}
	pos := e.CursorPosition()
	b.WriteString("\x1b[")
	b.WriteString(strconv.Itoa(pos.Y + 1))
	b.WriteByte(';')
	b.WriteString(strconv.Itoa(pos.X + 1))
	b.WriteByte('H')
	if e.CursorHidden() {
		b.WriteString("\x1b[?25l")
	} else {
		b.WriteString("\x1b[?25h")
	}
	return b.String()
}

// lastLines returns the end of data after its n-th newline from the end, or
// all of data when it has fewer newlines.
func lastLines(data []byte, n int) []byte {
	end := len(data)
	for ; n > 0; n-- {
		i := bytes.LastIndexByte(data[:end], '\n')
		if i < 0 {
			return data
		}
		end = i
	}
	return data[end+1:]
}
