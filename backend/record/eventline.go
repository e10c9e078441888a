package record

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// lineDecoder decodes event lines without allocating: the data of an event is
// decoded into a buffer reused from line to line. The lines CastWriter and asciinema
// write take a fast path; anything else (escaped surrogates, invalid UTF-8, odd
// syntax) goes through parseEvent, with the same result, so the fast path is only
// an optimisation (FuzzDecodeEvent checks that they agree).
type lineDecoder struct {
	buf []byte
}

// decode returns the time, kind and data of an event line; kind and data are valid
// until the next call.
func (d *lineDecoder) decode(line []byte) (t float64, kind, data []byte, err error) {
	if t, kind, data, ok := d.fast(line); ok {
		return t, kind, data, nil
	}
	ev, err := parseEvent(line)
	if err != nil {
		return 0, nil, nil, err
	}
	d.buf = append(d.buf[:0], ev.Data...)
	return ev.Time, []byte(ev.Kind), d.buf, nil
}

// fast decodes [number, "kind", "data"] with JSON whitespace around the tokens.
func (d *lineDecoder) fast(line []byte) (t float64, kind, data []byte, ok bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '[' {
		return 0, nil, nil, false
	}
	i = skipSpace(line, i+1)
	j := numberEnd(line, i)
	if j == i {
		return 0, nil, nil, false
	}
	t, err := strconv.ParseFloat(string(line[i:j]), 64)
	if err != nil {
		return 0, nil, nil, false
	}
	if i = skipSpace(line, j); i >= len(line) || line[i] != ',' {
		return 0, nil, nil, false
	}
	if i = skipSpace(line, i+1); i >= len(line) || line[i] != '"' {
		return 0, nil, nil, false
	}
	k := i + 1
	for k < len(line) && line[k] >= 0x20 && line[k] < 0x7f && line[k] != '"' && line[k] != '\\' {
		k++
	}
	if k >= len(line) || line[k] != '"' {
		return 0, nil, nil, false
	}
	kind = line[i+1 : k]
	if i = skipSpace(line, k+1); i >= len(line) || line[i] != ',' {
		return 0, nil, nil, false
	}
	if i = skipSpace(line, i+1); i >= len(line) || line[i] != '"' {
		return 0, nil, nil, false
	}
	d.buf, i, ok = appendJSONString(d.buf[:0], line, i+1)
	if !ok {
		return 0, nil, nil, false
	}
	if i = skipSpace(line, i); i >= len(line) || line[i] != ']' {
		return 0, nil, nil, false
	}
	if skipSpace(line, i+1) != len(line) {
		return 0, nil, nil, false
	}
	return t, kind, d.buf, true
}

// skipSpace skips JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// numberEnd returns the end of the JSON number at b[i:], or i if there is none.
func numberEnd(b []byte, i int) int {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return start
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return start
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return start
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i
}

// appendJSONString decodes the body of a JSON string starting at b[i] (after the
// opening quote) and returns the index after the closing quote. It declines (ok
// false) what it does not decode exactly like encoding/json: invalid UTF-8 and
// escaped surrogates that do not pair.
func appendJSONString(dst, b []byte, i int) (out []byte, next int, ok bool) {
	for {
		start := i
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		if run := b[start:i]; len(run) > 0 {
			if !utf8.Valid(run) {
				return dst, i, false
			}
			dst = append(dst, run...)
		}
		if i >= len(b) {
			return dst, i, false
		}
		switch b[i] {
		case '"':
			return dst, i + 1, true
		case '\\':
		default: // a control character
			return dst, i, false
		}
		if i+1 >= len(b) {
			return dst, i, false
		}
		switch c := b[i+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				return dst, i, false
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
					return dst, i, false
				}
				r2, ok := hex4(b, i+8)
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return dst, i, false
				}
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 4
		default:
			return dst, i, false
		}
		i += 2
	}
}

// hex4 decodes four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
