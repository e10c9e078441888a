package record

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// A .cast.gz is one gzip member: the header below, one deflate stream, and the CRC-32
// and size of the text as trailer. The writer does not hold a compressor for the
// whole stream, though. The deflate stream is a run of segments, each written by a
// compressor taken from a pool and ended with a sync flush (which leaves the stream
// byte-aligned and the segment self-contained: no back-reference crosses it). The
// writer computes CRC and size itself, so a quiet session gives its compressor back
// and a thousand idle sessions hold none, while every gzip reader (browsers decoding
// Content-Encoding: gzip read only the first member of a file) sees a single member.
//
// Compression uses klauspost/compress (about twice as fast as compress/flate at the
// same ratio). Terminal text compresses about 3:1 at BestSpeed. Random bytes more than
// double when escaped (U+FFFD, \u00XX) and BestSpeed would leave them slightly larger
// than the output itself; level 4 keeps them under it for about 25% more CPU, so a
// recording switches to it while its output looks binary. Text that does not
// compress (base64, a listing of hashes) makes the fast levels store it as it is,
// which with the escaping is slightly larger than the output itself; Huffman coding
// alone takes it to about 0.77, so a recording whose text does not shrink switches to
// it for a while (modeDense), then tries the fast level again.
const (
	levelText   = flate.BestSpeed
	levelBinary = 4
	levelDense  = flate.HuffmanOnly
)

// Compression modes of a deflate segment.
const (
	modeText = iota
	modeBinary
	modeDense
	modes
)

// Pools of write buffers and compressors shared by all recordings of the process. A
// compressor costs about 800 KiB; a recording holds one only while it has something
// to write. The pools hold no configuration, only reusable buffers, like those of
// encoding/json or fmt.
var (
	bufPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(io.Discard, bufSize) }}
	flatePool = [modes]sync.Pool{
		{New: func() any { return newFlate(levelText) }},
		{New: func() any { return newFlate(levelBinary) }},
		{New: func() any { return newFlate(levelDense) }},
	}
)

func newFlate(level int) *flate.Writer {
	z, err := flate.NewWriter(io.Discard, level)
	if err != nil {
		panic(err) // the levels above are valid
	}
	return z
}

// getFlate takes a compressor for the mode from its pool, writing to dst.
func getFlate(mode int, dst io.Writer) *flate.Writer {
	z := flatePool[mode].Get().(*flate.Writer)
	z.Reset(dst)
	return z
}

// putFlate gives a compressor back, holding no reference to the file.
func putFlate(mode int, z *flate.Writer) {
	z.Reset(io.Discard)
	flatePool[mode].Put(z)
}

// gzipHeader returns the 10-byte header of a gzip member (RFC 1952): deflate, no flags,
// mtime, no extra flags, OS unknown.
func gzipHeader(mtime int64) []byte {
	h := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}
	if mtime > 0 && mtime <= 0xFFFFFFFF {
		binary.LittleEndian.PutUint32(h[4:8], uint32(mtime))
	}
	return h
}

// gzipTrailer returns the 8-byte trailer: CRC-32 and size (mod 2^32) of the text.
func gzipTrailer(crc, size uint32) []byte {
	var t [8]byte
	binary.LittleEndian.PutUint32(t[0:4], crc)
	binary.LittleEndian.PutUint32(t[4:8], size)
	return t[:]
}

// runUnit is the size of the input a ready-made run segment stands for.
const runUnit = 16 << 10

// runSegment is a ready-made piece of deflate stream: a byte escaped runUnit times,
// compressed with the best level and ended by a sync flush, with the CRC-32 and length
// of its text and the operator that shifts a CRC over that length (crc32Combine).
type runSegment struct {
	deflate []byte
	crc     uint32
	size    uint32
	shift   uint32
}

// runSegments caches a segment per byte value. A long run of one byte (`cat
// /dev/zero`) is written as copies of its segment: about 180 bytes per 16 KiB of NUL,
// which become 96 KiB of \u0000, at the cost of a copy instead of compressing them.
var runSegments [256]struct {
	once sync.Once
	seg  runSegment
}

// runSegmentOf returns the segment for runUnit bytes of c (not a UTF-8 lead byte).
func runSegmentOf(c byte) *runSegment {
	r := &runSegments[c]
	r.once.Do(func() {
		text, _ := appendText(nil, bytes.Repeat([]byte{c}, runUnit), true)
		var b bytes.Buffer
		z, err := flate.NewWriter(&b, flate.BestCompression)
		if err != nil {
			panic(err)
		}
		z.Write(text) // writes into a bytes.Buffer cannot fail
		z.Flush()
		r.seg = runSegment{
			deflate: b.Bytes(),
			crc:     crc32.ChecksumIEEE(text),
			size:    uint32(len(text)),
			shift:   crc32Shift(int64(len(text))),
		}
	})
	return &r.seg
}

// isRun reports whether p is one byte repeated (and not a UTF-8 lead byte, whose
// escape depends on what follows).
func isRun(p []byte) bool {
	return len(p) > 0 && !leads[p[0]] && bytes.Equal(p[1:], p[:len(p)-1])
}

// CRC-32 combination, after zlib's crc32_combine: the CRC of A||B from the CRCs of A
// and B and the length of B, in GF(2) polynomial arithmetic modulo the IEEE polynomial.

const crcPoly = 0xedb88320 // IEEE, reflected

// crcMul returns a*b modulo the polynomial (reflected bit order).
func crcMul(a, b uint32) uint32 {
	m, p := uint32(1)<<31, uint32(0)
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				return p
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
}

// crcX2n holds x^(2^k) modulo the polynomial.
var crcX2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < 32; k++ {
		p = crcMul(p, p)
		t[k] = p
	}
	return t
}()

// crc32Shift returns the operator x^(8n) that moves a CRC over n bytes.
func crc32Shift(n int64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n > 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = crcMul(crcX2n[k&31], p)
		}
	}
	return p
}

// crc32Combine returns the CRC-32 of A||B given crcA, crcB and shift = crc32Shift(len(B)).
func crc32Combine(crcA, crcB, shift uint32) uint32 {
	return crcMul(shift, crcA) ^ crcB
}
