package record

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// This file turns terminal bytes into the body of a JSON string, the hot loop of the
// recorder. It follows what asciinema itself writes (Python's UTF-8 decoder with
// errors="replace", then json.dumps(ensure_ascii=False)):
//
//   - printable ASCII and valid multi-byte UTF-8 are copied as they are, in bulk;
//   - '"' and '\\' get a backslash; \b \f \n \r \t their short escapes; the other bytes
//     below 0x20 (NUL, ESC, ...) become \u00XX, and a run of one such byte is written
//     with doubling copies, so 1 GiB of NUL costs memmove speed, not a loop per byte;
//   - each maximal ill-formed subsequence of UTF-8 (Unicode's "maximal subpart"
//     practice, which CPython follows) becomes one U+FFFD, written raw (3 bytes);
//   - an incomplete sequence at the end of a chunk is not consumed, so the caller can
//     carry it into the next event instead of splitting a character in two.

// replacement is U+FFFD in UTF-8.
const replacement = "\uFFFD"

// escapes holds the JSON escape of every byte that needs one; "" means the byte is
// copied as is (or, from 0x80 up, is part of UTF-8 handling).
var escapes = func() (t [256]string) {
	const hex = "0123456789abcdef"
	for c := 0; c < 0x20; c++ {
		t[c] = `\u00` + string(hex[c>>4]) + string(hex[c&15])
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	t['"'], t['\\'] = `\"`, `\\`
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// unsafeBytes flags (SWAR) the bytes of the word x that need work: high bit, below
// 0x20, '"' or '\\'. A borrow may flag a byte above a flagged one too, but the lowest
// flag is exact, which is all the caller relies on; 0 means 8 safe bytes.
func unsafeBytes(x uint64) uint64 {
	below := (x - 0x20*lsb) &^ x // a byte < 0x20 (a byte >= 0x80 is caught by x itself)
	quote := x ^ '"'*lsb
	quote = (quote - lsb) &^ quote // a byte that was '"'
	bslash := x ^ '\\'*lsb
	bslash = (bslash - lsb) &^ bslash
	return (x | below | quote | bslash) & msb
}

// utf8Seq looks at the UTF-8 sequence that starts at p[0] (p[0] >= 0x80). It returns
// the length of the sequence if it is valid (ok), or else the length of its maximal
// ill-formed subpart, which is replaced by one U+FFFD. more reports that p ends
// inside a sequence that is valid so far: more bytes could complete it.
func utf8Seq(p []byte) (n int, ok, more bool) {
	c := p[0]
	need := 0
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default: // continuation byte, C0, C1, F5..FF: never valid
		return 1, false, false
	}
	for k := 1; k <= need; k++ {
		if k == len(p) {
			return k, false, true
		}
		b := p[k]
		if k > 1 {
			lo, hi = 0x80, 0xBF
		}
		if b < lo || b > hi {
			return k, false, false
		}
	}
	return need + 1, true, false
}

// escLen and escWord give, for every byte that is not a UTF-8 lead byte, what it
// becomes: its length and its bytes, little-endian in a word so that one store writes
// it. Safe bytes are themselves, escaped bytes their escape, and the bytes that can
// never start a valid sequence (0x80..0xC1, 0xF5..0xFF) one U+FFFD. Table lookups
// instead of branches keep binary output (where every byte is a coin toss for the
// branch predictor) fast.
var escLen, escWord = func() (n [256]uint8, w [256]uint64) {
	for c := 0; c < 256; c++ {
		var e string
		switch {
		case c < 0x80 && escapes[c] != "":
			e = escapes[c]
		case c < 0x80:
			e = string(rune(c))
		case !leads[c]:
			e = replacement
		}
		var b [8]byte
		n[c] = uint8(copy(b[:], e))
		w[c] = binary.LittleEndian.Uint64(b[:])
	}
	return n, w
}()

// leads marks the bytes that can start a valid multi-byte UTF-8 sequence.
var leads = func() (t [256]bool) {
	for c := 0xC2; c <= 0xF4; c++ {
		t[c] = true
	}
	return t
}()

// appendText appends src to dst as the body of a JSON string (no quotes). Unless final,
// an incomplete UTF-8 sequence at the end of src is left out; rest is its length
// (0..3), and the caller passes those bytes again in front of the next chunk.
//
// It reserves the worst case (6 bytes per input byte) up front and then stores into
// the buffer directly: 8 safe bytes at a time, escapes with one 8-byte store, runs of
// one control byte with doubling copies.
func appendText(dst, src []byte, final bool) (out []byte, rest int) {
	need := len(dst) + 6*len(src) + 8
	if cap(dst) < need {
		grown := make([]byte, len(dst), need+need/4)
		copy(grown, dst)
		dst = grown
	}
	buf := dst[:cap(dst)]
	k := len(dst)
	i, n := 0, len(src)
	for i < n {
		if i+8 <= n {
			x := binary.LittleEndian.Uint64(src[i:])
			m := unsafeBytes(x)
			// Store the word and keep its safe bytes: all 8, or those before the first
			// byte that needs work.
			binary.LittleEndian.PutUint64(buf[k:], x)
			if m == 0 {
				i, k = i+8, k+8
				continue
			}
			s := bits.TrailingZeros64(m) >> 3
			i, k = i+s, k+s
		}
		// Byte by byte through a few, then try a safe word again.
		for stop := min(i+4, n); i < stop; {
			c := src[i]
			if !leads[c] {
				if i+8 <= n && binary.LittleEndian.Uint64(src[i:]) == uint64(c)*lsb {
					// A run of one byte (NUL floods are common in binary output).
					j := i + 8
					for j+8 <= n && binary.LittleEndian.Uint64(src[j:]) == uint64(c)*lsb {
						j += 8
					}
					for j < n && src[j] == c {
						j++
					}
					e := int(escLen[c])
					total := e * (j - i)
					binary.LittleEndian.PutUint64(buf[k:], escWord[c])
					for m := e; m < total; {
						m += copy(buf[k+m:k+total], buf[k:k+m])
					}
					i, k = j, k+total
					break
				}
				binary.LittleEndian.PutUint64(buf[k:], escWord[c])
				i, k = i+1, k+int(escLen[c])
				continue
			}
			size, ok, more := utf8Seq(src[i:])
			switch {
			case ok:
				k += copy(buf[k:], src[i:i+size])
			case more && !final:
				return buf[:k], n - i
			default:
				buf[k], buf[k+1], buf[k+2] = 0xEF, 0xBF, 0xBD
				k += 3
			}
			i += size
		}
	}
	return buf[:k], 0
}

// appendSeconds appends d as seconds with microsecond precision: 12.034567.
func appendSeconds(dst []byte, d time.Duration) []byte {
	return appendMicros(dst, d.Microseconds())
}

// appendMicros appends us microseconds as seconds: 12.034567.
func appendMicros(dst []byte, us int64) []byte {
	if us < 0 {
		us = 0
	}
	dst = strconv.AppendInt(dst, us/1e6, 10)
	frac := us % 1e6
	return append(dst, '.',
		byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// AppendJSON appends e as one asciicast v2 event line without the newline, for example
// [1.250000, "o", "hello\r\n"]; the live-session WebSocket can send the same frames a
// recording holds. Data is written as valid UTF-8 (invalid bytes become U+FFFD).
func (e Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	us := math.Round(e.Time * 1e6)
	if !(us >= 0 && us < math.MaxInt64/2) { // also false for NaN
		us = 0
	}
	dst = appendMicros(dst, int64(us))
	dst = append(dst, `, "`...)
	dst, _ = appendText(dst, []byte(e.Kind), true)
	dst = append(dst, `", "`...)
	dst, _ = appendText(dst, []byte(e.Data), true)
	return append(dst, `"]`...)
}
