package record

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// rewriteLevel is the compression level of the members BuildIndex writes. Level 5
// costs about twice the CPU of CastWriter's BestSpeed and more than makes up for the
// compression lost at the member boundaries (each member starts without history).
const rewriteLevel = 5

// maxChunk bounds the content a rewrite holds for a member: a segment that grows
// past it (no cut was possible) reaches the compressor in several chunks, but is
// still one member, which is what a player decodes (browsers' DecompressionStream
// decodes one member and fails on a second).
const maxChunk = 16 << 20

// errChanged reports a recording that changed while it was rewritten (another
// BuildIndex rewrote it first, or a writer still appends to it).
var errChanged = errors.New("recording changed while it was indexed")

// errMisaligned reports a multi-member file whose members do not end at line ends:
// it cannot be indexed in place.
var errMisaligned = errors.New("gzip members do not end at line ends")

// indexCast indexes an asciicast recording: a plain .cast in place, a .cast.gz in
// place when it already has the layout BuildIndex writes, else by rewriting it.
func indexCast(ctx context.Context, path string, opts IndexOptions, log *slog.Logger) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var magic [2]byte
	n, _ := f.ReadAt(magic[:], 0)
	if n < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return indexPlain(ctx, f, st, opts)
	}
	if ownLayout(f) {
		idx, err := indexInPlace(ctx, f, st, opts)
		if !errors.Is(err, errMisaligned) {
			return idx, err
		}
		log.Info("recording: gzip members do not match lines, rewriting it")
	}
	return rewriteCast(ctx, path, f, st, opts, log)
}

// indexPlain indexes a plain .cast: segments are byte ranges of it.
func indexPlain(ctx context.Context, f *os.File, st fs.FileInfo, opts IndexOptions) (*Index, error) {
	x := newCastIndexer(opts)
	defer x.close()
	src := newLineSource(io.NewSectionReader(f, 0, st.Size()))
	if err := scanCast(ctx, src, x, nopSink{}, false); err != nil {
		return nil, err
	}
	idx := x.index(st.Size(), false)
	for i := range idx.Segments {
		end := x.end
		if i+1 < len(x.starts) {
			end = x.starts[i+1]
		}
		idx.Segments[i].Offset, idx.Segments[i].Length = x.starts[i], end-x.starts[i]
	}
	return idx, nil
}

// indexInPlace indexes a .cast.gz in the layout rewriteCast writes (the header line
// in a member of its own, then members that end at line ends): each member is a
// segment.
func indexInPlace(ctx context.Context, f *os.File, st fs.FileInfo, opts IndexOptions) (*Index, error) {
	m := newMemberReader(io.NewSectionReader(f, 0, st.Size()))
	sink := &inPlaceSink{m: m}
	x := newCastIndexer(opts)
	defer x.close()
	x.cutAt = sink.boundary
	if err := scanCast(ctx, newLineSource(m), x, sink, false); err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	idx := x.index(st.Size(), true)
	for i := range idx.Segments {
		start, ok := sink.stored(x.starts[i])
		if !ok {
			return nil, errMisaligned
		}
		var end int64
		if i+1 < len(x.starts) {
			if end, ok = sink.stored(x.starts[i+1]); !ok {
				return nil, errMisaligned
			}
		} else {
			end = sink.storedEnd(x.end, st.Size())
		}
		idx.Segments[i].Offset, idx.Segments[i].Length = start, end-start
	}
	return idx, nil
}

// rewriteCast rewrites a .cast.gz as one gzip member per segment and indexes it.
func rewriteCast(ctx context.Context, path string, f *os.File, st fs.FileInfo, opts IndexOptions, log *slog.Logger) (*Index, error) {
	m := newMemberReader(io.NewSectionReader(f, 0, st.Size()))
	x := newCastIndexer(opts)
	defer x.close()
	var idx *Index
	err := writeAtomic(path, st.Mode().Perm(), func(tmp *os.File) error {
		w := newMemberWriter(tmp, opts.SegmentBytes)
		sink := &rewriteSink{w: w, chunk: maxChunk, seg: -1}
		serr := scanCast(ctx, newLineSource(m), x, sink, true)
		if serr == nil {
			serr = sink.finish()
		}
		werr := w.close()
		if serr != nil {
			return serr
		}
		if werr != nil {
			return werr
		}
		if err := verifyMembers(tmp, w.size, w.sum(), w.plain); err != nil {
			return err
		}
		// The recording must not have changed meanwhile (a writer still appending):
		// the rename would lose what came after.
		now, err := os.Stat(path)
		if err != nil {
			return err
		}
		if now.Size() != st.Size() || !now.ModTime().Equal(st.ModTime()) {
			return errChanged
		}
		idx = x.index(w.size, true)
		if len(w.ranges) != len(idx.Segments) {
			return fmt.Errorf("rewrite: %d members for %d segments", len(w.ranges), len(idx.Segments))
		}
		for i := range idx.Segments {
			if w.ranges[i].offset < 0 {
				return fmt.Errorf("rewrite: segment %d has no member", i)
			}
			idx.Segments[i].Offset, idx.Segments[i].Length = w.ranges[i].offset, w.ranges[i].length
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.cut || m.junk {
		log.Warn("recording: gzip stream was cut short or followed by junk; the rewritten file holds what could be read",
			"cut", m.cut, "junk", m.junk)
	}
	log.Info("recording rewritten as gzip members", "before", st.Size(), "after", idx.Size,
		"segments", len(idx.Segments), "bytes", m.plain)
	return idx, nil
}

// castSink receives the bytes of a recording as scanCast cuts it.
type castSink interface {
	header(line []byte) error
	cut() error // a segment starts with the next line
	line(line []byte) error
	rest(b []byte) error // bytes after the indexed lines
}

type nopSink struct{}

func (nopSink) header([]byte) error { return nil }
func (nopSink) cut() error          { return nil }
func (nopSink) line([]byte) error   { return nil }
func (nopSink) rest([]byte) error   { return nil }

// scanCast reads a recording line by line, indexes it and passes its bytes to sink.
// Indexing stops at the first line that is neither an event nor blank, or is longer
// than maxLine, or at a stream cut by a crash; with keepRest, the bytes from there
// on go to sink.rest.
func scanCast(ctx context.Context, src *lineSource, x *castIndexer, sink castSink, keepRest bool) error {
	hdr, err := src.next()
	if err != nil && (!errors.Is(err, io.EOF) || len(hdr) == 0) {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: no header", ErrFormat)
		}
		return err
	}
	h, perr := parseHeader(hdr)
	if perr != nil {
		return perr
	}
	x.begin(h, int64(len(hdr)))
	if err := sink.header(hdr); err != nil {
		return err
	}
	off := int64(len(hdr))
	for n := 0; err == nil; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var line []byte
		line, err = src.next()
		complete := err == nil || (errors.Is(err, io.EOF) && len(line) > 0 && x.isEvent(line))
		var cut, ok bool
		if complete {
			cut, ok = x.line(line, off)
		}
		if !ok {
			// Not an event: what follows is kept but not indexed.
			if keepRest {
				if rerr := sink.rest(line); rerr != nil {
					return rerr
				}
				if err == nil || errors.Is(err, errLong) {
					_, err = io.Copy(restWriter{sink}, src.br)
				}
			}
			break
		}
		if cut {
			if serr := sink.cut(); serr != nil {
				return serr
			}
		}
		if serr := sink.line(line); serr != nil {
			return serr
		}
		off += int64(len(line))
	}
	x.end = off
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLong) {
		return err
	}
	return nil
}

// restWriter passes what it is given to a sink's rest.
type restWriter struct{ s castSink }

func (r restWriter) Write(p []byte) (int, error) {
	if err := r.s.rest(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// castIndexer follows the events of a recording, cuts it into segments and makes
// their keyframes.
type castIndexer struct {
	opts     IndexOptions
	segBytes int64
	segTime  float64
	cutAt    func(off int64) bool // in place: a segment starts exactly there

	header   Header
	hdrEnd   int64
	term     *screenTracker
	dec      lineDecoder
	segs     []Segment
	starts   []int64 // plain offset of each segment
	markers  []Marker
	last     float64 // time of the last event
	keyBytes int     // of all keyframes
	end      int64   // plain offset after the last indexed line
}

func newCastIndexer(opts IndexOptions) *castIndexer {
	return &castIndexer{
		opts:     opts,
		segBytes: int64(opts.SegmentBytes),
		segTime:  opts.SegmentTime.Seconds(),
		markers:  []Marker{},
		segs:     []Segment{},
	}
}

func (x *castIndexer) begin(h Header, hdrEnd int64) {
	x.header, x.hdrEnd = h, hdrEnd
	cols, rows := h.Width, h.Height
	if cols <= 0 || rows <= 0 {
		cols, rows = 80, 24
	}
	x.term = newScreenTracker(min(cols, maxIndexDim), min(rows, maxIndexDim))
}

func (x *castIndexer) close() {
	if x.term != nil {
		x.term.close()
	}
}

// isEvent reports whether a line is a complete event.
func (x *castIndexer) isEvent(line []byte) bool {
	_, _, _, err := x.dec.decode(line)
	return err == nil
}

// line indexes the line at plain offset off: it reports whether a segment starts
// with it, and false for ok when the line is not an event (nor blank).
func (x *castIndexer) line(line []byte, off int64) (cut, ok bool) {
	if len(bytes.TrimSpace(line)) == 0 {
		return false, true
	}
	t, kind, data, err := x.dec.decode(line)
	if err != nil {
		return false, false
	}
	t = max(t, x.last) // a player plays events in order; so does the index
	switch {
	case len(x.segs) == 0:
		x.open(t, x.hdrEnd, "") // blank lines before the first event belong to it
		cut = true
	case x.wantCut(t, off, int64(len(line)), string(kind) == "m"):
		x.open(t, off, x.keyframe())
		cut = true
	}
	x.last = t
	if len(kind) == 1 {
		switch kind[0] {
		case 'o':
			x.term.output(data)
		case 'r':
			if cols, rows, ok := parseSize(data); ok {
				x.term.resize(cols, rows)
			}
		case 'm':
			if len(x.markers) < maxMarkers {
				x.markers = append(x.markers, Marker{Time: t, Label: truncateUTF8(data, maxMarkerLabel)})
			}
		}
	}
	return cut, true
}

// wantCut decides whether a segment starts with the event of size bytes at time t
// and offset off: when the current one would grow past SegmentBytes with it, or
// spans SegmentTime, or when the event is a marker and the segment holds an eighth
// of SegmentBytes already. Markers are where auditors seek to (the command
// timeline): starting a segment there leaves a seek almost nothing to replay past
// the keyframe, and the eighth bounds the segments (and keyframes) a session of
// many short commands adds.
func (x *castIndexer) wantCut(t float64, off, size int64, marker bool) bool {
	if x.cutAt != nil {
		return x.cutAt(off)
	}
	n := off - x.starts[len(x.starts)-1]
	dt := t - x.segs[len(x.segs)-1].Time
	if n+size <= x.segBytes && dt < x.segTime && (!marker || n < x.segBytes/8) {
		return false
	}
	// Not in the middle of an escape sequence: a keyframe cannot resume one.
	return x.term.atBoundary()
}

func (x *castIndexer) open(t float64, off int64, keyframe string) {
	x.segs = append(x.segs, Segment{Time: t, Cols: x.term.cols, Rows: x.term.rows, Keyframe: keyframe})
	x.starts = append(x.starts, off)
}

func (x *castIndexer) keyframe() string {
	if !x.term.exact() || x.keyBytes >= maxKeyframeBytes {
		return ""
	}
	k := x.term.keyframe()
	x.keyBytes += len(k)
	return k
}

// index returns the index; the caller fills the offsets in.
func (x *castIndexer) index(size int64, gz bool) *Index {
	h := x.header
	return &Index{
		Version:  IndexVersion,
		Kind:     IndexCast,
		Header:   &h,
		Duration: x.last,
		Size:     size,
		Gzip:     gz,
		Segments: x.segs,
		Markers:  x.markers,
	}
}

// parseSize parses the data of a resize event, "COLSxROWS".
func parseSize(data []byte) (cols, rows int, ok bool) {
	c, r, found := strings.Cut(string(data), "x")
	if !found {
		return 0, 0, false
	}
	cols, err1 := strconv.Atoi(c)
	rows, err2 := strconv.Atoi(r)
	if err1 != nil || err2 != nil || cols <= 0 || rows <= 0 || cols > maxIndexDim || rows > maxIndexDim {
		return 0, 0, false
	}
	return cols, rows, true
}

// truncateUTF8 returns at most n bytes of b as a string, not cutting a character.
func truncateUTF8(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}

// errLong reports a line longer than maxLine.
var errLong = fmt.Errorf("%w: line longer than %d bytes", ErrFormat, maxLine)

// lineSource reads the lines of a recording with their exact bytes.
type lineSource struct {
	br  *bufio.Reader
	buf []byte
}

func newLineSource(r io.Reader) *lineSource {
	return &lineSource{br: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line with its newline; at the end of the stream, the
// unterminated rest (maybe empty) and io.EOF or the error that ended it; for a line
// longer than maxLine, what was read of it and errLong. The line is valid until the
// next call.
func (s *lineSource) next() ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		frag, err := s.br.ReadSlice('\n')
		if err == nil && len(s.buf) == 0 {
			return frag, nil
		}
		s.buf = append(s.buf, frag...)
		switch {
		case err == nil:
			return s.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(s.buf) > maxLine {
				return s.buf, errLong
			}
			continue
		}
		return s.buf, err
	}
}

// memberEnd is where a gzip member ends: in the stored file and in the content.
type memberEnd struct{ stored, plain int64 }

// memberReader decompresses a gzip file member by member and records where each
// ends. A stream cut short reads as the end (cut); so do bytes after the last
// member that are not a gzip member (junk). Decoding errors are ErrCorrupt.
type memberReader struct {
	src   *bufio.Reader
	count *countReader
	zr    *gzip.Reader
	plain int64
	ends  []memberEnd
	cut   bool
	junk  bool
	err   error
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newMemberReader(r io.Reader) *memberReader {
	c := &countReader{r: r}
	m := &memberReader{count: c, src: bufio.NewReaderSize(c, 256<<10)}
	zr, err := gzip.NewReader(m.src)
	if err != nil {
		m.err = fmt.Errorf("%w: gzip header: %w", ErrFormat, err)
		return m
	}
	zr.Multistream(false)
	m.zr = zr
	return m
}

// at returns the offset in the stored file of what src has not handed out yet.
func (m *memberReader) at() int64 { return m.count.n - int64(m.src.Buffered()) }

func (m *memberReader) Read(p []byte) (int, error) {
	for m.err == nil {
		n, err := m.zr.Read(p)
		m.plain += int64(n)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF):
			m.ends = append(m.ends, memberEnd{stored: m.at(), plain: m.plain})
			switch rerr := m.zr.Reset(m.src); {
			case rerr == nil:
				m.zr.Multistream(false)
			case errors.Is(rerr, io.EOF):
				m.err = io.EOF
			case errors.Is(rerr, io.ErrUnexpectedEOF):
				m.cut, m.err = true, io.EOF
			default:
				m.junk, m.err = true, io.EOF
			}
		case errors.Is(err, io.ErrUnexpectedEOF):
			m.cut, m.err = true, io.EOF
		default:
			m.err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, m.err
}

// ownLayout reports whether a gzip file starts with a member that holds exactly one
// line (the header), as rewriteCast writes it; CastWriter's single member goes on.
func ownLayout(f *os.File) bool {
	br := bufio.NewReader(io.NewSectionReader(f, 0, 1<<62))
	zr, err := gzip.NewReader(br)
	if err != nil {
		return false
	}
	zr.Multistream(false)
	lines := bufio.NewReaderSize(zr, 64<<10)
	if _, err := lines.ReadSlice('\n'); err != nil {
		return false
	}
	_, err = lines.ReadByte()
	return errors.Is(err, io.EOF)
}

// inPlaceSink checks that a multi-member file can be indexed in place and maps
// offsets in the content to offsets in the file.
type inPlaceSink struct {
	m   *memberReader
	k   int   // first member end after the last line start
	off int64 // plain offset of the next line
}

func (s *inPlaceSink) header(line []byte) error {
	s.off = int64(len(line))
	return nil
}

func (s *inPlaceSink) cut() error        { return nil }
func (s *inPlaceSink) rest([]byte) error { return nil }

func (s *inPlaceSink) line(line []byte) error {
	ends := s.m.ends
	for s.k < len(ends) && ends[s.k].plain <= s.off {
		s.k++
	}
	end := s.off + int64(len(line))
	if s.k < len(ends) && ends[s.k].plain < end {
		return errMisaligned
	}
	s.off = end
	return nil
}

// boundary reports whether a member starts at plain offset off.
func (s *inPlaceSink) boundary(off int64) bool {
	_, ok := s.stored(off)
	return ok
}

// stored returns the offset in the file of the member that starts at plain offset off.
func (s *inPlaceSink) stored(off int64) (int64, bool) {
	ends := s.m.ends
	i := sort.Search(len(ends), func(i int) bool { return ends[i].plain >= off })
	if i < len(ends) && ends[i].plain == off {
		return ends[i].stored, true
	}
	return 0, false
}

// storedEnd returns where the member holding the end of plain offset off ends.
func (s *inPlaceSink) storedEnd(off, size int64) int64 {
	for _, e := range s.m.ends {
		if e.plain >= off {
			return e.stored
		}
	}
	return size
}

// rewriteSink cuts the content into gzip members: the header line, one per
// segment, and one for what follows the last indexed line.
type rewriteSink struct {
	w     *memberWriter
	chunk int    // content sent to the compressor at a time; maxChunk
	cur   []byte // of the current segment (or, before the first, the blank lines leading to it)
	seg   int    // the current segment, -1 before the first
	tail  bool   // the member of the rest is open
}

func (s *rewriteSink) header(line []byte) error {
	return s.w.send(append(s.w.buffer(), line...), -1, true)
}

func (s *rewriteSink) cut() error {
	if s.seg >= 0 {
		if err := s.end(); err != nil {
			return err
		}
	}
	s.seg++
	return nil
}

func (s *rewriteSink) line(line []byte) error {
	if s.cur == nil {
		s.cur = s.w.buffer()
	}
	s.cur = append(s.cur, line...)
	if len(s.cur) >= s.chunk {
		err := s.w.send(s.cur, s.seg, false)
		s.cur = s.w.buffer()
		return err
	}
	return nil
}

func (s *rewriteSink) rest(b []byte) error {
	if !s.tail {
		if err := s.end(); err != nil {
			return err
		}
		s.tail, s.seg = true, -1
	}
	for len(b) > 0 {
		n := min(len(b), s.chunk)
		if err := s.w.send(append(s.w.buffer(), b[:n]...), -1, false); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// end ends the member being written: the current segment (or, without one, the
// lines before any event, or the rest).
func (s *rewriteSink) end() error {
	if len(s.cur) == 0 && !s.w.open {
		return nil
	}
	err := s.w.send(s.cur, s.seg, true)
	s.cur = nil
	return err
}

func (s *rewriteSink) finish() error { return s.end() }

// storedRange is where a segment is in the rewritten file.
type storedRange struct{ offset, length int64 }

// memberJob is content for the member being written, of segment seg (-1: of
// none); last ends the member.
type memberJob struct {
	data []byte
	seg  int
	last bool
}

// memberWriter compresses members on a goroutine of its own while the indexer
// replays the recording, and hashes the content for the check after the rewrite.
type memberWriter struct {
	bufSize int
	jobs    chan memberJob
	free    chan []byte
	done    chan struct{}
	open    bool // a member has content sent and is not ended (sender's side)

	// Owned by the goroutine until done is closed.
	bw     *bufio.Writer
	zw     *gzip.Writer
	hash   hash.Hash
	size   int64 // bytes written to the file
	plain  int64 // bytes of content
	start  int64 // where the member being written starts; -1 between members
	ranges []storedRange
	err    error
}

func newMemberWriter(dst io.Writer, segBytes int) *memberWriter {
	w := &memberWriter{
		bufSize: min(segBytes+segBytes/4+4096, maxChunk+maxLine),
		jobs:    make(chan memberJob, 2),
		free:    make(chan []byte, 4),
		done:    make(chan struct{}),
		hash:    sha256.New(),
		start:   -1,
	}
	w.bw = bufio.NewWriterSize(int64Counter{dst, &w.size}, 256<<10)
	w.zw, _ = gzip.NewWriterLevel(w.bw, rewriteLevel) // the level is valid
	go w.run()
	return w
}

func (w *memberWriter) run() {
	defer close(w.done)
	for j := range w.jobs {
		if w.err == nil {
			w.err = w.member(j)
		}
		select {
		case w.free <- j.data[:0]:
		default:
		}
	}
	if w.err == nil {
		w.err = w.bw.Flush()
	}
}

// member writes content into the member being written, starting it or ending it.
func (w *memberWriter) member(j memberJob) error {
	if w.start < 0 {
		w.start = w.size + int64(w.bw.Buffered())
		w.zw.Reset(w.bw)
	}
	if _, err := w.zw.Write(j.data); err != nil {
		return err
	}
	w.hash.Write(j.data)
	w.plain += int64(len(j.data))
	if !j.last {
		return nil
	}
	if err := w.zw.Close(); err != nil {
		return err
	}
	end := w.size + int64(w.bw.Buffered())
	if j.seg >= 0 {
		for len(w.ranges) <= j.seg {
			w.ranges = append(w.ranges, storedRange{offset: -1})
		}
		w.ranges[j.seg] = storedRange{offset: w.start, length: end - w.start}
	}
	w.start = -1
	return nil
}

// buffer returns an empty buffer for content.
func (w *memberWriter) buffer() []byte {
	select {
	case b := <-w.free:
		return b
	default:
		return make([]byte, 0, w.bufSize)
	}
}

// send hands content to the compressor, which owns data from then on.
func (w *memberWriter) send(data []byte, seg int, last bool) error {
	if data == nil {
		data = []byte{}
	}
	w.open = !last
	select {
	case w.jobs <- memberJob{data: data, seg: seg, last: last}:
		return nil
	case <-w.done:
		return w.err
	}
}

// close waits for the compressor and flushes.
func (w *memberWriter) close() error {
	close(w.jobs)
	<-w.done
	return w.err
}

func (w *memberWriter) sum() []byte { return w.hash.Sum(nil) }

// int64Counter counts the bytes written to w into n.
type int64Counter struct {
	w io.Writer
	n *int64
}

func (c int64Counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// verifyMembers decompresses the first size bytes of f (every member checks its
// CRC) and compares the content with the hash and length of what was written.
func verifyMembers(f *os.File, size int64, sum []byte, plain int64) error {
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 256<<10))
	if err != nil {
		return fmt.Errorf("verify rewrite: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, zr)
	if err != nil {
		return fmt.Errorf("verify rewrite: %w", err)
	}
	if n != plain || !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("verify rewrite: content differs (%d bytes, want %d)", n, plain)
	}
	return nil
}
