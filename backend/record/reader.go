package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/klauspost/compress/gzip"
)

// maxLine bounds one line of a recording when reading; CastWriter's lines stay under
// 400 KiB, asciinema's are shorter still.
const maxLine = 16 << 20

// CastReader reads the events of a recording one by one.
type CastReader struct {
	lines  *bufio.Reader
	src    *cutReader // nil for plain text
	closer io.Closer
	buf    []byte
	n      int // complete lines read, header included, for error messages
	err    error
}

// OpenCast opens a recording, .cast or .cast.gz (told apart by content, not by name),
// and reads its header. A gzip stream cut short by a crash reads up to its last
// complete line; so does a plain file whose last line was half written.
func OpenCast(path string) (Header, *CastReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, fmt.Errorf("record: open: %w", err)
	}
	h, r, err := NewCastReader(f)
	if err != nil {
		f.Close()
		return Header{}, nil, fmt.Errorf("record: open %s: %w", path, err)
	}
	r.closer = f
	return h, r, nil
}

// NewCastReader reads a recording, gzip-compressed or not, from src and returns its
// header.
func NewCastReader(src io.Reader) (Header, *CastReader, error) {
	r, line, err := newLineReader(src)
	if err != nil {
		return Header{}, nil, err
	}
	h, err := parseHeader(line)
	if err != nil {
		return Header{}, nil, err
	}
	return h, r, nil
}

// newLineReader reads the first line of a recording, decompressing if it is gzip.
func newLineReader(src io.Reader) (*CastReader, []byte, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	r := &CastReader{lines: br}
	if isGzip(br) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip header: %w", ErrFormat, err)
		}
		r.src = &cutReader{r: zr}
		r.lines = bufio.NewReaderSize(r.src, 64<<10)
	}
	line, err := r.readLine()
	if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%w: no header", ErrFormat)
		}
		return nil, nil, err
	}
	return r, line, nil
}

// isGzip reports whether br starts with the gzip magic number.
func isGzip(br *bufio.Reader) bool {
	magic, _ := br.Peek(2)
	return len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// Next returns the next event, or io.EOF after the last one. A half-written last line
// (the file was cut by a crash) is not an event: it reads as the end.
func (r *CastReader) Next() (Event, error) {
	for r.err == nil {
		line, err := r.readLine()
		if err != nil {
			r.err = err
			// The last line has no newline: an event only if it is complete.
			if ev, perr := parseEvent(line); perr == nil && len(line) > 0 {
				return ev, nil
			}
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev, err := parseEvent(line)
		if err != nil {
			r.err = fmt.Errorf("record: line %d: %w", r.n, err)
			break
		}
		return ev, nil
	}
	return Event{}, r.err
}

// Truncated reports, once Next has returned io.EOF, whether the compressed stream was
// cut short (the writer did not close it: a crash). Repair makes such a file whole.
func (r *CastReader) Truncated() bool { return r.src != nil && r.src.cut }

// Close closes the file opened by OpenCast.
func (r *CastReader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// readLine returns the next line with its newline; at the end of the stream it
// returns the unterminated rest (maybe empty) and io.EOF, or the error that ended it.
func (r *CastReader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		frag, err := r.lines.ReadSlice('\n')
		if len(r.buf)+len(frag) > maxLine {
			return nil, fmt.Errorf("%w: line %d longer than %d bytes", ErrFormat, r.n+1, maxLine)
		}
		if err == nil && len(r.buf) == 0 {
			r.n++
			return frag, nil
		}
		r.buf = append(r.buf, frag...)
		switch {
		case err == nil:
			r.n++
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		}
		return r.buf, err
	}
}

// cutReader turns a gzip stream cut short into a plain end of stream and wraps decoding
// errors into ErrCorrupt.
type cutReader struct {
	r   io.Reader
	cut bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.cut = true
		err = io.EOF
	default:
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return n, err
}

// parseHeader decodes the header line.
func parseHeader(line []byte) (Header, error) {
	var raw struct {
		Version   int                `json:"version"`
		Width     int                `json:"width"`
		Height    int                `json:"height"`
		Timestamp float64            `json:"timestamp"`
		Title     string             `json:"title"`
		Env       map[string]*string `json:"env"` // asciinema writes null for unset variables
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Header{}, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if raw.Version != 2 {
		return Header{}, fmt.Errorf("%w: version %d", ErrFormat, raw.Version)
	}
	h := Header{Width: raw.Width, Height: raw.Height, Title: raw.Title}
	if raw.Timestamp >= 0 && raw.Timestamp < math.MaxInt64/2 {
		h.Timestamp = int64(raw.Timestamp)
	}
	for k, v := range raw.Env {
		if v == nil {
			continue
		}
		if h.Env == nil {
			h.Env = make(map[string]string, len(raw.Env))
		}
		h.Env[k] = *v
	}
	return h, nil
}

// parseEvent decodes an event line: [time, "kind", "data"].
func parseEvent(line []byte) (Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if len(raw) != 3 {
		return Event{}, fmt.Errorf("%w: event with %d fields, want 3", ErrFormat, len(raw))
	}
	var ev Event
	if err := json.Unmarshal(raw[0], &ev.Time); err != nil {
		return Event{}, fmt.Errorf("%w: event time: %w", ErrFormat, err)
	}
	if err := unmarshalString(raw[1], &ev.Kind); err != nil {
		return Event{}, fmt.Errorf("%w: event kind: %w", ErrFormat, err)
	}
	if err := unmarshalString(raw[2], &ev.Data); err != nil {
		return Event{}, fmt.Errorf("%w: event data: %w", ErrFormat, err)
	}
	return ev, nil
}

// unmarshalString decodes a JSON string and refuses anything else (null included).
func unmarshalString(raw json.RawMessage, s *string) error {
	if len(raw) == 0 || raw[0] != '"' {
		return errors.New("not a string")
	}
	return json.Unmarshal(raw, s)
}
