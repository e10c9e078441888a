package guacgw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Limits of the Guacamole protocol as guacd (libguac 1.5/1.6) enforces them
// on what it reads, and the limits guacgw applies to each side.
const (
	// MaxElementLength is the longest element guacd accepts, in code points
	// (GUAC_INSTRUCTION_MAX_LENGTH).
	MaxElementLength = 8192
	// MaxElements is the most elements, opcode included, guacd accepts in one
	// instruction (GUAC_INSTRUCTION_MAX_ELEMENTS).
	MaxElements = 128
	// MaxClientInstruction is the longest instruction, in bytes, accepted from
	// a browser. guacamole-common-js cuts blobs at 6048 bytes (8064 base64
	// characters), so real instructions stay far below it; guacd's own input
	// buffer is 32 KiB.
	MaxClientInstruction = 16 << 10
	// MaxServerInstruction is the longest instruction, in bytes, accepted from
	// guacd. guacd cuts image data into blobs of at most 8064 characters; the
	// margin is for instructions that carry text (args, name, msg).
	MaxServerInstruction = 1 << 20
	// maxDigits bounds a length prefix: no limit above needs more, and it
	// keeps the arithmetic far from overflow.
	maxDigits = 9
)

var (
	// ErrMalformed reports bytes that are not a Guacamole instruction: a
	// length prefix that is not a decimal number, a missing or wrong
	// terminator, an element shorter than its prefix says.
	ErrMalformed = errors.New("guacgw: malformed instruction")
	// ErrTooLong reports an instruction, element or element count over the
	// reader's limits. It is reported as soon as a length prefix shows it,
	// before the element is buffered.
	ErrTooLong = errors.New("guacgw: instruction too long")
)

// InternalOpcode is the opcode reserved for the tunnel itself: the tunnel
// UUID sent first and the keep-alive "ping" of guacamole-common-js's
// WebSocketTunnel. Instructions with it never reach guacd.
const InternalOpcode = ""

// Instruction is one Guacamole protocol instruction: an opcode and its
// arguments. Lengths on the wire count Unicode code points, not bytes.
type Instruction struct {
	Opcode string
	Args   []string
}

// NewInstruction returns the instruction with the given opcode and arguments.
func NewInstruction(opcode string, args ...string) Instruction {
	return Instruction{Opcode: opcode, Args: args}
}

// String returns the wire form, e.g. "4.size,1.0,4.1024,3.768;".
func (in Instruction) String() string {
	return string(in.Append(nil))
}

// Append appends the wire form of the instruction to dst and returns the
// extended slice.
func (in Instruction) Append(dst []byte) []byte {
	dst = appendElement(dst, in.Opcode)
	for _, a := range in.Args {
		dst = append(dst, ',')
		dst = appendElement(dst, a)
	}
	return append(dst, ';')
}

func appendElement(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(utf8.RuneCountInString(s)), 10)
	dst = append(dst, '.')
	return append(dst, s...)
}

// Parse parses the whole instruction at the start of p and returns it with
// the number of bytes it took. Bytes after it are left alone. An instruction
// cut short is ErrMalformed, wrapping io.ErrUnexpectedEOF.
func Parse(p []byte) (Instruction, int, error) {
	// The only limit is p itself: anything the scanner finds too long for it
	// is an instruction cut short.
	s := scanner{max: len(p) + 1}
	n, err := s.scan(p)
	if errors.Is(err, ErrTooLong) || (err == nil && n == 0) {
		return Instruction{}, 0, fmt.Errorf("%w: %w", ErrMalformed, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return Instruction{}, 0, err
	}
	return s.instruction(p[:n]), n, nil
}

// scanner validates one instruction as its bytes arrive. It keeps its
// position between calls, so a reader that gets an instruction in pieces
// looks at each byte once.
type scanner struct {
	max      int  // longest instruction, in bytes
	maxElems int  // most elements, 0 for no limit
	maxElem  int  // longest element in code points, 0 for no limit
	utf16    bool // count characters outside the BMP as two (guacamole-common-js 1.5)

	pos   int   // offset of the next byte to look at, from the instruction's start
	need  int   // code points still to read in the current element, -1 while on a length prefix
	elems []int // start and end offset of each element read so far
	ascii bool  // whether every element byte so far was ASCII
}

func (s *scanner) reset() {
	s.pos = 0
}

// scan looks at p, the bytes of the instruction so far from its first byte,
// and returns the instruction's length once p holds all of it, or 0 when it
// needs more bytes.
func (s *scanner) scan(p []byte) (int, error) {
	if s.pos == 0 {
		// A new instruction; the last one's offsets were good until now.
		s.need = -1
		s.elems = s.elems[:0]
		s.ascii = true
	}
	for {
		if s.need < 0 {
			// A length prefix: digits, then a period.
			i, l := s.pos, 0
			for ; ; i++ {
				if i >= len(p) {
					if i-s.pos > maxDigits {
						return 0, fmt.Errorf("%w: length prefix of more than %d digits", ErrTooLong, maxDigits)
					}
					return 0, s.needMore(len(p))
				}
				c := p[i]
				if c >= '0' && c <= '9' {
					if i-s.pos >= maxDigits {
						return 0, fmt.Errorf("%w: length prefix of more than %d digits", ErrTooLong, maxDigits)
					}
					l = l*10 + int(c-'0')
					continue
				}
				if c == '.' && i > s.pos {
					break
				}
				if c == '.' {
					return 0, fmt.Errorf("%w: empty length prefix at byte %d", ErrMalformed, i)
				}
				return 0, fmt.Errorf("%w: %q in length prefix at byte %d", ErrMalformed, c, i)
			}
			if s.maxElems > 0 && len(s.elems)/2 >= s.maxElems {
				return 0, fmt.Errorf("%w: more than %d elements", ErrTooLong, s.maxElems)
			}
			if s.maxElem > 0 && l > s.maxElem {
				return 0, fmt.Errorf("%w: element of %d characters (limit %d)", ErrTooLong, l, s.maxElem)
			}
			// Each character takes at least one byte, and a terminator follows.
			if l > s.max-(i+2) {
				return 0, fmt.Errorf("%w: element of %d characters in an instruction limited to %d bytes", ErrTooLong, l, s.max)
			}
			s.pos = i + 1
			s.need = l
			s.elems = append(s.elems, s.pos, -1)
		}

		// Element content: s.need code points.
		i := s.pos
		for s.need > 0 {
			if i >= len(p) {
				s.pos = i
				return 0, s.needMore(len(p))
			}
			if c := p[i]; c < utf8.RuneSelf {
				k := asciiPrefix(p[i:min(len(p), i+s.need)])
				i += k
				s.need -= k
				continue
			}
			s.ascii = false
			if !utf8.FullRune(p[i:]) {
				s.pos = i
				return 0, s.needMore(len(p))
			}
			r, size := utf8.DecodeRune(p[i:])
			n := 1
			if s.utf16 && size == 4 && r != utf8.RuneError {
				n = 2
			}
			if n > s.need {
				return 0, fmt.Errorf("%w: element length splits a surrogate pair", ErrMalformed)
			}
			s.need -= n
			i += size
		}

		// The terminator.
		if i >= len(p) {
			s.pos = i
			return 0, s.needMore(len(p))
		}
		s.elems[len(s.elems)-1] = i
		switch p[i] {
		case ';':
			s.pos = i + 1
			return i + 1, nil
		case ',':
			s.pos = i + 1
			s.need = -1
		default:
			return 0, fmt.Errorf("%w: element ends in %q instead of ',' or ';' at byte %d", ErrMalformed, p[i], i)
		}
	}
}

// needMore checks that waiting for more bytes can still end in an instruction
// within the limit.
func (s *scanner) needMore(have int) error {
	if have >= s.max {
		return fmt.Errorf("%w: no end after %d bytes", ErrTooLong, have)
	}
	return nil
}

// elem returns element i of the instruction raw that the scanner just read.
func (s *scanner) elem(raw []byte, i int) []byte {
	return raw[s.elems[2*i]:s.elems[2*i+1]]
}

// nelems returns how many elements, opcode included, the instruction has.
func (s *scanner) nelems() int { return len(s.elems) / 2 }

// instruction builds the Instruction the scanner just read from raw.
func (s *scanner) instruction(raw []byte) Instruction {
	in := Instruction{Opcode: string(s.elem(raw, 0))}
	if n := s.nelems(); n > 1 {
		in.Args = make([]string, n-1)
		for i := range in.Args {
			in.Args[i] = string(s.elem(raw, i+1))
		}
	}
	return in
}

// asciiPrefix returns how many bytes at the start of p are ASCII.
func asciiPrefix(p []byte) int {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		if binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			break
		}
	}
	return i
}

// Reader reads whole Guacamole instructions from a stream, however the
// stream cuts them, with a limit on their length.
type Reader struct {
	rd   io.Reader
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	err  error
	sc   scanner
	// start and end of the last instruction returned, in buf
	lastStart, lastEnd int
	zeroReads          int
}

// initialReaderBuffer is the Reader's first buffer; it grows up to the limit
// for a longer instruction.
const initialReaderBuffer = 64 << 10

// NewReader returns a Reader of r that refuses instructions longer than
// maxInstruction bytes (MaxServerInstruction for guacd,
// MaxClientInstruction for a browser).
func NewReader(r io.Reader, maxInstruction int) *Reader {
	if maxInstruction <= 0 {
		maxInstruction = MaxServerInstruction
	}
	rd := &Reader{rd: r, buf: make([]byte, min(initialReaderBuffer, maxInstruction+1))}
	rd.sc.max = maxInstruction
	rd.sc.reset()
	return rd
}

// Read returns the next instruction and its bytes as they came on the wire.
// The bytes are valid until the next call. At the end of the stream it
// returns io.EOF; a stream that ends inside an instruction is
// io.ErrUnexpectedEOF. Errors wrapping ErrMalformed or ErrTooLong end the
// stream: the Reader returns the same error from then on.
func (r *Reader) Read() (Instruction, []byte, error) {
	raw, err := r.next()
	if err != nil {
		return Instruction{}, nil, err
	}
	return r.sc.instruction(raw), raw, nil
}

// Buffered returns how many bytes the Reader holds that it has not returned.
func (r *Reader) Buffered() int { return r.w - r.r }

// next returns the bytes of the next instruction, reading as needed.
func (r *Reader) next() ([]byte, error) {
	for {
		raw, err := r.nextBuffered()
		if raw != nil || err != nil {
			return raw, err
		}
		if r.err != nil {
			if r.err == io.EOF && r.w > r.r {
				r.err = io.ErrUnexpectedEOF
			}
			return nil, r.err
		}
		r.fill()
	}
}

// nextBuffered returns the next instruction if the buffer holds all of it,
// and nil otherwise. It does no I/O.
func (r *Reader) nextBuffered() ([]byte, error) {
	if r.w == r.r {
		return nil, nil
	}
	n, err := r.sc.scan(r.buf[r.r:r.w])
	if err != nil {
		r.r, r.w = 0, 0
		r.err = err
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	r.lastStart, r.lastEnd = r.r, r.r+n
	raw := r.buf[r.r : r.r+n : r.r+n]
	r.r += n
	// The element offsets stay for the caller; the next scan starts afresh.
	r.sc.pos = 0
	return raw, nil
}

// fill reads more bytes, making room first: it moves the unread bytes to the
// front, or grows the buffer up to the limit.
func (r *Reader) fill() {
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
	if r.w == len(r.buf) || r.r > 0 && len(r.buf)-r.w < len(r.buf)/4 {
		if r.r > 0 {
			copy(r.buf, r.buf[r.r:r.w])
			r.w -= r.r
			r.r = 0
		} else {
			// The instruction is longer than the buffer; the scanner has
			// already checked it against the limit.
			nb := make([]byte, min(2*len(r.buf), r.sc.max+1))
			copy(nb, r.buf[:r.w])
			r.buf = nb
		}
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
	if err != nil {
		r.err = err
	} else if n == 0 {
		r.zeroReads++
		if r.zeroReads > 100 {
			r.err = io.ErrNoProgress
		}
	} else {
		r.zeroReads = 0
	}
}
