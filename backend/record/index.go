package record

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// A seek index lives beside each recording, at the recording's path + ".idx". It cuts
// the recording into segments a player fetches with HTTP range requests: each segment
// is a byte range of the stored file that decodes on its own (a gzip member of a
// .cast.gz, a run of whole lines of a .cast, a run of whole instructions of a
// .guac), with the time of its first event and, for terminal recordings, a keyframe
// that paints the screen as it was when the segment starts. To show the frame at
// time T a player picks the segment (Index.SegmentAt), fetches and decodes its range,
// writes the keyframe to a reset terminal and then the events up to T.
//
// A .cast.gz as CastWriter writes it is one gzip member, which no byte range of can
// be decoded on its own. BuildIndex therefore rewrites it, once, as a sequence of
// members: the header line, then exactly one member per segment, then (only for a
// file cut by a crash or holding an invalid line) one with the bytes after the last
// complete event. The decompressed content does not change, and zcat, Python's gzip
// module, Go's gzip readers and OpenCast read the file whole. Browsers do not:
// DecompressionStream("gzip") decodes one member and fails on the next ("Junk found
// after end of compressed data"; the Compression Streams standard allows a single
// member), and decoding of Content-Encoding: gzip may stop after the first. That is
// why a player decodes segment by segment, each one member; a server that sends a
// rewritten file whole to a browser must decompress it itself.

// IndexVersion is the version of the index format BuildIndex writes. Version 2
// moved the keyframes out of the segments into a "keyframes" array, the last
// member of the object, so that a player's first read stops before them (they are
// most of a long recording's index). Version 1 (keyframes in the segments) is
// still read.
const IndexVersion = 2

// Index kinds.
const (
	IndexCast = "cast"
	IndexGuac = "guac"
)

// Defaults of IndexOptions.
const (
	DefaultSegmentBytes = 128 << 10
	DefaultSegmentTime  = 60 * time.Second
)

// Bounds of an index.
const (
	// MaxIndexSize bounds the .idx file ReadIndex reads.
	MaxIndexSize = 64 << 20
	// maxKeyframeBytes bounds the keyframes of one index; segments past it have
	// none (a player replays from the last keyframe before them).
	maxKeyframeBytes = 24 << 20
	// maxMarkers and maxMarkerLabel bound the markers of one index.
	maxMarkers     = 100_000
	maxMarkerLabel = 1024
	// maxSegmentPlain bounds what ReadSegment decompresses (segments are about
	// SegmentBytes; one grows past that only where no cut was possible).
	maxSegmentPlain = 256 << 20
	// maxIndexDim bounds Segment.Cols and Rows in a valid index.
	maxIndexDim = 1 << 16
)

var (
	// ErrIndex reports an index file that is not valid, or a segment number out of range.
	ErrIndex = errors.New("record: invalid index")
	// ErrIndexStale reports an index that does not describe the recording beside it
	// (its size differs): the recording changed after it was indexed.
	ErrIndexStale = errors.New("record: index does not match the recording")
)

// Index is what a player needs to seek: where each segment of the recording starts,
// in time and in bytes of the stored file, and the screen at its start.
type Index struct {
	Version  int       `json:"version"`          // IndexVersion
	Kind     string    `json:"kind"`             // IndexCast or IndexGuac
	Header   *Header   `json:"header,omitempty"` // cast: the asciicast header
	Duration float64   `json:"duration"`         // seconds: the time of the last event
	Size     int64     `json:"size"`             // bytes of the stored file the offsets refer to
	Gzip     bool      `json:"gzip"`             // segments are gzip members of the stored file
	Segments []Segment `json:"segments"`
	Markers  []Marker  `json:"markers"` // the "m" events with their times
}

// Segment is a part of a recording that a player can fetch and decode on its own.
type Segment struct {
	Time   float64 `json:"time"`   // time of the first event in it
	Offset int64   `json:"offset"` // byte offset in the stored file (the start of a gzip member when Gzip)
	Length int64   `json:"length"` // bytes (stored): a range request fetches [Offset, Offset+Length)
	Cols   int     `json:"cols"`   // terminal size at the segment start (cast)
	Rows   int     `json:"rows"`
	// Keyframe (cast) is ANSI text that, written to a reset terminal (xterm.js) of
	// Cols x Rows, reproduces the screen at the segment start: content, colours and
	// attributes, cursor position, visibility and style, the alternate screen (with
	// the main screen behind it), scroll region and pen. It is empty for the first
	// segment, for a terminal larger than the indexer emulates (1000 columns, 500
	// rows, 200,000 cells), and once the index holds 24 MiB of keyframes.
	Keyframe string `json:"keyframe,omitempty"`
}

// Marker is an "m" event: a command the relay logged ("[denied] rm -rf /", ...).
type Marker struct {
	Time  float64 `json:"time"`
	Label string  `json:"label"`
}

// SegmentAt returns the segment to start from to show the recording at time t: the
// last one that starts at or before t (0 for a t before the first, -1 when there
// is no segment).
func (x *Index) SegmentAt(t float64) int {
	if len(x.Segments) == 0 {
		return -1
	}
	i := sort.Search(len(x.Segments), func(i int) bool { return x.Segments[i].Time > t })
	return max(i-1, 0)
}

// IndexOptions tunes BuildIndex. The zero value is the recommended setting.
type IndexOptions struct {
	// SegmentBytes is the target size of a segment, in uncompressed bytes of events
	// (default 256 KiB).
	SegmentBytes int
	// SegmentTime starts a new segment after this much recording time too (default
	// 60 s), so an idle-heavy recording still seeks finely.
	SegmentTime time.Duration
	// Log receives what BuildIndex did (a rewrite, a recording cut by a crash);
	// default discards.
	Log *slog.Logger
}

func (o *IndexOptions) setDefaults() {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentTime <= 0 {
		o.SegmentTime = DefaultSegmentTime
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// indexPath returns the path of the index of the recording at path.
func indexPath(path string) string { return path + ".idx" }

// BuildIndex indexes the recording at path and writes path+".idx" (JSON, written to
// a temporary file, fsynced and renamed).
//
// A .cast.gz that is a single gzip member is first rewritten as a sequence of gzip
// members, one per segment, after checking that the decompressed content of the new
// file equals the old one byte for byte; the rewrite is atomic (temporary file,
// fsync, rename, fsync of the directory). A plain .cast and a .guac are indexed in
// place. Guacamole segments start right after "sync" instructions, with times from
// their timestamps relative to the first, and have no keyframes. A recording cut by a
// crash is indexed up to its last complete event (a rewrite keeps the bytes after it,
// in a member of their own).
//
// BuildIndex is idempotent: when the index beside the recording is up to date (same
// size, and not older than the recording) it is read and returned. It must not run on
// a recording that a CastWriter still writes. Two runs at once on one recording are
// safe: the rewrite that finds the file rewritten by the other before its own rename
// gives way and indexes the new file in place.
func BuildIndex(ctx context.Context, path string, opts IndexOptions) (*Index, error) {
	idx, err := buildIndex(ctx, path, opts)
	if errors.Is(err, errChanged) {
		idx, err = buildIndex(ctx, path, opts)
	}
	return idx, err
}

func buildIndex(ctx context.Context, path string, opts IndexOptions) (*Index, error) {
	opts.setDefaults()
	log := opts.Log.With("component", "record", "recording", path)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("record: index: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("record: index %s: not a regular file", path)
	}
	if idx, ok := upToDate(path, st); ok {
		return idx, nil
	}
	kind, err := sniff(path)
	if err != nil {
		return nil, fmt.Errorf("record: index %s: %w", path, err)
	}
	began := time.Now()
	var idx *Index
	switch kind {
	case IndexGuac:
		idx, err = indexGuac(ctx, path, opts)
	default:
		idx, err = indexCast(ctx, path, opts, log)
	}
	if err != nil {
		return nil, fmt.Errorf("record: index %s: %w", path, err)
	}
	if err := writeIndex(path, idx); err != nil {
		return nil, fmt.Errorf("record: index %s: %w", path, err)
	}
	log.Info("recording indexed", "kind", idx.Kind, "segments", len(idx.Segments),
		"size", idx.Size, "duration", idx.Duration, "took", time.Since(began))
	return idx, nil
}

// upToDate returns the index beside the recording when it describes it.
func upToDate(path string, st fs.FileInfo) (*Index, bool) {
	ist, err := os.Stat(indexPath(path))
	if err != nil || ist.ModTime().Before(st.ModTime()) {
		return nil, false
	}
	idx, err := ReadIndex(path)
	if err != nil || idx.Size != st.Size() {
		return nil, false
	}
	return idx, true
}

// sniff tells a Guacamole recording (it starts with the length of an opcode) from an
// asciicast one (a JSON header, maybe compressed).
func sniff(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var head [64]byte
	n, _ := io.ReadFull(f, head[:])
	b := bytes.TrimLeft(head[:n], " \t\r\n")
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return IndexGuac, nil
	}
	return IndexCast, nil
}

// writeIndex writes the index of the recording at path atomically.
func writeIndex(path string, idx *Index) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keyframes are full of < > &; the index is not HTML
	if err := enc.Encode(idx.file()); err != nil {
		return err
	}
	data := buf.Bytes()
	if len(data) > MaxIndexSize {
		return fmt.Errorf("index of %d bytes, more than %d", len(data), MaxIndexSize)
	}
	perm := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	return writeAtomic(indexPath(path), perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeAtomic writes a file through a temporary file in the same directory: write,
// fsync, rename, fsync of the directory.
func writeAtomic(path string, perm fs.FileMode, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	defer tmp.Close()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// ReadIndex reads the index of a recording; path is the recording's or the index's.
// It reads at most MaxIndexSize bytes and checks the index: known version and kind,
// segments in order of time and offset, within Size. When the recording is there, an
// index of another size is ErrIndexStale.
func ReadIndex(path string) (*Index, error) {
	idx, kf, err := readIndexFile(path)
	if err != nil {
		return nil, err
	}
	var all []string
	if err := kf.decode(&all); err != nil {
		return nil, err
	}
	for i, k := range all {
		idx.Segments[i].Keyframe = k
	}
	return idx, nil
}

// indexFile is the layout of an .idx file, members in this order: the index with
// the keyframes last, one per segment ("" for none; left out when no segment has
// one).
type indexFile struct {
	Version   int       `json:"version"`
	Kind      string    `json:"kind"`
	Header    *Header   `json:"header,omitempty"`
	Duration  float64   `json:"duration"`
	Size      int64     `json:"size"`
	Gzip      bool      `json:"gzip"`
	Segments  []Segment `json:"segments"`
	Markers   []Marker  `json:"markers"`
	Keyframes []string  `json:"keyframes,omitempty"`
}

// file answers the index in the layout of its file.
func (x *Index) file() *indexFile {
	f := &indexFile{Version: x.Version, Kind: x.Kind, Header: x.Header, Duration: x.Duration, Size: x.Size,
		Gzip: x.Gzip, Segments: make([]Segment, len(x.Segments)), Markers: x.Markers}
	for i, s := range x.Segments {
		if s.Keyframe != "" && f.Keyframes == nil {
			f.Keyframes = make([]string, len(x.Segments))
		}
		if f.Keyframes != nil {
			f.Keyframes[i] = s.Keyframe
		}
		s.Keyframe = ""
		f.Segments[i] = s
	}
	return f
}

// readIndexFile reads and checks the index of the recording at path (see
// ReadIndex), all but its keyframes, which the answered keyframes decodes.
func readIndexFile(path string) (*Index, *indexKeyframes, error) {
	ipath, rpath := indexPath(path), path
	if strings.HasSuffix(path, ".idx") {
		ipath, rpath = path, strings.TrimSuffix(path, ".idx")
	}
	f, err := os.Open(ipath)
	if err != nil {
		return nil, nil, fmt.Errorf("record: read index: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxIndexSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("record: read index: %w", err)
	}
	if len(data) > MaxIndexSize {
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrIndex, ipath, MaxIndexSize)
	}
	idx, kf, err := decodeIndex(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrIndex, ipath, err)
	}
	kf.path = ipath
	if st, err := os.Stat(rpath); err == nil && st.Mode().IsRegular() && st.Size() != idx.Size {
		return nil, nil, fmt.Errorf("%w: %s has %d bytes, the index %d", ErrIndexStale, rpath, st.Size(), idx.Size)
	}
	return idx, kf, nil
}

// indexKeyframes are the keyframes of an index being read: those of a version 1
// index, found in its segments, or the decoder of a version 2 index positioned at
// its keyframes member.
type indexKeyframes struct {
	path   string
	n      int               // segments
	inline []json.RawMessage // version 1 (nil if none has one)
	dec    *json.Decoder     // version 2 (nil if no keyframes member)
	done   bool
}

// decode decodes the keyframes into v, a *[]string or a *[]json.RawMessage (the
// JSON of each, nil for none), one per segment; v is left empty when no segment
// has one. For version 2 it checks the rest of the file too: nothing after the
// object. It is called at most once.
func (k *indexKeyframes) decode(v any) error {
	if k.done {
		return errors.New("record: index keyframes decoded twice")
	}
	k.done = true
	if k.inline != nil { // version 1
		switch x := v.(type) {
		case *[]json.RawMessage:
			*x = k.inline
		case *[]string:
			*x = make([]string, len(k.inline))
			for i, raw := range k.inline {
				kf, err := decodeKeyframe(raw, i)
				if err != nil {
					return err
				}
				(*x)[i] = kf
			}
		}
		return nil
	}
	if k.dec == nil {
		return nil
	}
	fail := func(err error) error { return fmt.Errorf("%w: %s: keyframes: %w", ErrIndex, k.path, err) }
	if err := k.dec.Decode(v); err != nil {
		return fail(err)
	}
	if err := endObject(k.dec); err != nil {
		return fail(fmt.Errorf("after them (they must be the last member): %w", err))
	}
	n := 0
	switch x := v.(type) {
	case *[]string:
		n = len(*x)
	case *[]json.RawMessage:
		n = len(*x)
	}
	if n != 0 && n != k.n {
		return fail(fmt.Errorf("%d keyframes for %d segments", n, k.n))
	}
	return nil
}

// decodeIndex decodes the members of an index object up to its keyframes, which
// the answered indexKeyframes decodes (the rest of data). Member names match as
// encoding/json matches them (case-insensitively); unknown members are skipped.
func decodeIndex(data []byte) (*Index, *indexKeyframes, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil {
		return nil, nil, err
	} else if t != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	var (
		f       indexFile
		segs    []inlineSegment
		pending bool // the "keyframes" member is next
	)
	fields := []struct {
		name string
		v    any
	}{{"version", &f.Version}, {"kind", &f.Kind}, {"header", &f.Header}, {"duration", &f.Duration},
		{"size", &f.Size}, {"gzip", &f.Gzip}, {"segments", &segs}, {"markers", &f.Markers}}
	for !pending && dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, _ := t.(string)
		if strings.EqualFold(name, "keyframes") {
			pending = true
			break
		}
		var v any = new(json.RawMessage)
		for _, fl := range fields {
			if strings.EqualFold(name, fl.name) {
				v = fl.v
				break
			}
		}
		if err := dec.Decode(v); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if !pending {
		if err := endObject(dec); err != nil {
			return nil, nil, err
		}
	}

	idx := &Index{Version: f.Version, Kind: f.Kind, Header: f.Header, Duration: f.Duration, Size: f.Size,
		Gzip: f.Gzip, Segments: make([]Segment, len(segs)), Markers: f.Markers}
	kf := &indexKeyframes{n: len(segs)}
	for i, s := range segs {
		idx.Segments[i] = s.Segment
		if len(s.Keyframe) > 0 && string(s.Keyframe) != "null" {
			if kf.inline == nil {
				kf.inline = make([]json.RawMessage, len(segs))
			}
			kf.inline[i] = s.Keyframe
		}
	}
	if idx.Markers == nil {
		idx.Markers = []Marker{}
	}
	switch {
	case idx.Version == 1 && pending:
		return nil, nil, errors.New("version 1 with a keyframes member")
	case idx.Version == 2 && kf.inline != nil:
		return nil, nil, errors.New("version 2 with keyframes in the segments")
	}
	if err := idx.validate(); err != nil {
		return nil, nil, err
	}
	if pending {
		kf.dec = dec
	}
	return idx, kf, nil
}

// inlineSegment is a segment as version 1 wrote it, with its keyframe.
type inlineSegment struct {
	Segment
	Keyframe json.RawMessage `json:"keyframe,omitempty"`
}

// endObject reads the closing brace of the object and checks nothing follows.
func endObject(dec *json.Decoder) error {
	if t, err := dec.Token(); err != nil {
		return err
	} else if t != json.Delim('}') {
		return fmt.Errorf("unexpected %v", t)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the index")
	}
	return nil
}

// decodeKeyframe decodes the JSON of keyframe i ("" for none).
func decodeKeyframe(raw json.RawMessage, i int) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var kf string
	if err := json.Unmarshal(raw, &kf); err != nil {
		return "", fmt.Errorf("%w: keyframe %d: %w", ErrIndex, i, err)
	}
	return kf, nil
}

// validate checks what a player relies on.
func (x *Index) validate() error {
	switch {
	case x.Version != IndexVersion && x.Version != 1:
		return fmt.Errorf("version %d", x.Version)
	case x.Kind != IndexCast && x.Kind != IndexGuac:
		return fmt.Errorf("kind %q", x.Kind)
	case x.Gzip && x.Kind != IndexCast:
		return errors.New("gzip segments in a guac index")
	case x.Size < 0:
		return fmt.Errorf("size %d", x.Size)
	case !validTime(x.Duration):
		return fmt.Errorf("duration %v", x.Duration)
	}
	var last float64
	var end int64
	for i, s := range x.Segments {
		switch {
		case !validTime(s.Time) || s.Time < last:
			return fmt.Errorf("segment %d: time %v after %v", i, s.Time, last)
		case s.Offset < end:
			return fmt.Errorf("segment %d: offset %d before %d", i, s.Offset, end)
		case s.Length <= 0 || s.Length > x.Size || s.Offset > x.Size-s.Length:
			return fmt.Errorf("segment %d: [%d, +%d) outside %d bytes", i, s.Offset, s.Length, x.Size)
		case s.Cols < 0 || s.Rows < 0 || s.Cols > maxIndexDim || s.Rows > maxIndexDim:
			return fmt.Errorf("segment %d: size %dx%d", i, s.Cols, s.Rows)
		}
		last, end = s.Time, s.Offset+s.Length
	}
	for i, m := range x.Markers {
		if !validTime(m.Time) {
			return fmt.Errorf("marker %d: time %v", i, m.Time)
		}
	}
	return nil
}

func validTime(t float64) bool { return t >= 0 && !math.IsInf(t, 0) && !math.IsNaN(t) }

// ReadSegment returns segment i of the recording at path as a player decodes it:
// the asciicast event lines (decompressed) or the Guacamole instructions. It serves
// players that cannot decompress a range themselves.
func ReadSegment(path string, idx *Index, i int) ([]byte, error) {
	if idx == nil || i < 0 || i >= len(idx.Segments) {
		return nil, fmt.Errorf("%w: no segment %d", ErrIndex, i)
	}
	path = strings.TrimSuffix(path, ".idx")
	s := idx.Segments[i]
	if s.Offset < 0 || s.Length <= 0 || s.Length > maxSegmentPlain || s.Offset > idx.Size-s.Length {
		return nil, fmt.Errorf("%w: segment %d: [%d, +%d) outside %d bytes", ErrIndex, i, s.Offset, s.Length, idx.Size)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("record: read segment: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("record: read segment: %w", err)
	} else if st.Size() != idx.Size {
		return nil, fmt.Errorf("%w: %s has %d bytes, the index %d", ErrIndexStale, path, st.Size(), idx.Size)
	}
	raw := make([]byte, s.Length)
	if _, err := f.ReadAt(raw, s.Offset); err != nil {
		return nil, fmt.Errorf("record: read segment %d: %w", i, err)
	}
	if !idx.Gzip {
		return raw, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: segment %d: %w", ErrCorrupt, i, err)
	}
	out := bytes.NewBuffer(make([]byte, 0, 4*len(raw)))
	n, err := io.Copy(out, io.LimitReader(zr, maxSegmentPlain+1))
	if err != nil {
		return nil, fmt.Errorf("%w: segment %d: %w", ErrCorrupt, i, err)
	}
	if n > maxSegmentPlain {
		return nil, fmt.Errorf("%w: segment %d decompresses to more than %d bytes", ErrCorrupt, i, maxSegmentPlain)
	}
	return out.Bytes(), nil
}
