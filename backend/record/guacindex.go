package record

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"
)

// A Guacamole recording (.guac) is the protocol stream guacd sent to the client:
// instructions LENGTH.VALUE,LENGTH.VALUE,...; where each LENGTH counts the Unicode
// characters of its VALUE. "sync" instructions end frames and carry a timestamp in
// milliseconds. It is indexed in place: a segment starts right after a sync, so a
// player starts decoding at an instruction boundary. Guacamole.SessionRecording keeps
// its own keyframes, so segments have none.

// maxGuacElement bounds the characters of one element (guacd's are at most 8 KiB).
const maxGuacElement = 16 << 20

// indexGuac indexes a Guacamole recording in place, up to its last complete
// instruction.
func indexGuac(ctx context.Context, path string, opts IndexOptions) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s := &guacScanner{br: bufio.NewReaderSize(io.NewSectionReader(f, 0, st.Size()), 256<<10)}
	segBytes, segTime := int64(opts.SegmentBytes), opts.SegmentTime.Seconds()
	idx := &Index{Version: IndexVersion, Kind: IndexGuac, Size: st.Size(), Segments: []Segment{}, Markers: []Marker{}}
	cur := Segment{}
	var first int64
	var synced bool
	var last float64
	var end int64 // end of the last complete instruction
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		sync, ts, err := s.next()
		if err != nil {
			break // the end, a cut or garbage: indexed up to the last complete instruction
		}
		end = s.off
		if !sync {
			continue
		}
		t := last
		if ms, err := strconv.ParseInt(string(ts), 10, 64); err == nil {
			if !synced {
				first, synced = ms, true
			}
			t = max(last, (float64(ms)-float64(first))/1000)
		}
		last = t
		if end-cur.Offset >= segBytes || t-cur.Time >= segTime {
			cur.Length = end - cur.Offset
			idx.Segments = append(idx.Segments, cur)
			cur = Segment{Time: t, Offset: end}
		}
	}
	if cur.Length = end - cur.Offset; cur.Length > 0 {
		idx.Segments = append(idx.Segments, cur)
	}
	idx.Duration = last
	return idx, nil
}

// guacScanner reads Guacamole instructions.
type guacScanner struct {
	br  *bufio.Reader
	off int64 // bytes consumed
	op  []byte
	arg []byte
}

// next reads an instruction and reports whether it is a sync, with its first
// argument (the timestamp). At the end of the stream it returns io.EOF; an
// instruction cut short is io.ErrUnexpectedEOF, garbage ErrFormat.
func (s *guacScanner) next() (sync bool, ts []byte, err error) {
	var term byte
	s.op, term, err = s.element(s.op[:0], 16, true)
	if err != nil {
		return false, nil, err
	}
	sync = string(s.op) == "sync"
	for i := 0; term == ','; i++ {
		keep := 0
		if sync && i == 0 {
			keep = 32
		}
		var v []byte
		v, term, err = s.element(s.arg[:0], keep, false)
		if err != nil {
			return false, nil, err
		}
		if sync && i == 0 {
			s.arg = v
		}
	}
	if !sync {
		return false, nil, nil
	}
	return true, s.arg, nil
}

// element reads LENGTH.VALUE and the ',' or ';' after it; it appends the value to
// dst when it has at most keep characters. first says that the element starts an
// instruction, where the end of the stream is clean.
func (s *guacScanner) element(dst []byte, keep int, first bool) ([]byte, byte, error) {
	n, digits := 0, 0
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && first && digits == 0 {
				return dst, 0, io.EOF
			}
			return dst, 0, unexpected(err)
		}
		s.off++
		if c == '.' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || digits >= 9 {
			return dst, 0, fmt.Errorf("%w: guacamole element length", ErrFormat)
		}
		n, digits = n*10+int(c-'0'), digits+1
	}
	if n > maxGuacElement {
		return dst, 0, fmt.Errorf("%w: guacamole element of %d characters", ErrFormat, n)
	}
	keepIt := n <= keep
	for n > 0 {
		buf, perr := s.br.Peek(min(max(n, utf8.UTFMax), s.br.Size()))
		if len(buf) == 0 {
			return dst, 0, unexpected(perr)
		}
		i := 0
		for i+8 <= len(buf) && n >= 8 && binary.LittleEndian.Uint64(buf[i:])&0x8080808080808080 == 0 {
			i, n = i+8, n-8
		}
		for i < len(buf) && n > 0 {
			if buf[i] < utf8.RuneSelf {
				i, n = i+1, n-1
				continue
			}
			if !utf8.FullRune(buf[i:]) && perr == nil {
				break // the rest of the character is not buffered yet
			}
			_, size := utf8.DecodeRune(buf[i:]) // an invalid byte counts as one character
			i, n = i+size, n-1
		}
		if keepIt {
			dst = append(dst, buf[:i]...)
		}
		s.br.Discard(i)
		s.off += int64(i)
	}
	c, err := s.br.ReadByte()
	if err != nil {
		return dst, 0, unexpected(err)
	}
	s.off++
	if c != ',' && c != ';' {
		return dst, 0, fmt.Errorf("%w: guacamole element followed by %q", ErrFormat, c)
	}
	return dst, c, nil
}

// unexpected turns the end of the stream inside an instruction into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
