package record

import (
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

func TestCRC32Combine(t *testing.T) {
	tests := []struct{ a, b string }{
		{"", ""},
		{"hello ", "world"},
		{"", "abc"},
		{"abc", ""},
		{"\x00\x00\x00", string(bytes.Repeat([]byte(`\u0000`), 16<<10))},
	}
	for _, tt := range tests {
		want := crc32.ChecksumIEEE([]byte(tt.a + tt.b))
		got := crc32Combine(crc32.ChecksumIEEE([]byte(tt.a)), crc32.ChecksumIEEE([]byte(tt.b)), crc32Shift(int64(len(tt.b))))
		if got != want {
			t.Errorf("combine(%.10q, %.10q): got %08x, want %08x", tt.a, tt.b, got, want)
		}
	}
}

func TestRunSegmentDecodes(t *testing.T) {
	for _, c := range []byte{0, 'a', 0x1b, '"', 0xff} {
		seg := runSegmentOf(c)
		text, _ := appendText(nil, bytes.Repeat([]byte{c}, runUnit), true)
		if seg.crc != crc32.ChecksumIEEE(text) || seg.size != uint32(len(text)) {
			t.Errorf("%#x: crc/size do not match the text", c)
		}
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(seg.deflate)))
		if !bytes.Equal(got, text) || !errors.Is(err, io.ErrUnexpectedEOF) { // a sync flush, not a final block
			t.Errorf("%#x: segment decodes to %d bytes (%v), want %d then the end of the data", c, len(got), err, len(text))
		}
		if len(seg.deflate) > 400 {
			t.Errorf("%#x: segment of %d bytes, want a few hundred at most", c, len(seg.deflate))
		}
	}
}
