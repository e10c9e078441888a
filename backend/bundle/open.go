package bundle

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/flate"
)

// Bundle is a bundle file opened for reading its files, verified or not: the desktop
// app's offline player opens one and shows the Report beside the recording.
type Bundle struct {
	f     *os.File
	lim   limits
	files map[string]located // the first entry of each name that could be read
	rec   string             // the recording's name, "" if none
}

// Open verifies the bundle at path (see Verify) and opens it for reading. It returns
// the Report with the Bundle, whether the bundle verified or not; an error only when
// the file cannot be read or is not a bundle at all. Close the Bundle when done.
func Open(path string, trusted []string) (*Bundle, Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Report{}, fmt.Errorf("bundle: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Report{}, fmt.Errorf("bundle: %w", err)
	}
	v := newVerifier(context.Background(), f, st.Size(), trusted, defaultLimits())
	if err := v.run(); err != nil {
		f.Close()
		return nil, v.report, fmt.Errorf("%w (%s)", err, path)
	}
	b := &Bundle{f: f, lim: v.lim, files: v.found}
	// The recording the manifest lists, else whichever the bundle has.
	for _, name := range []string{NameCast, NameGuac} {
		_, listed := v.report.Manifest.File(name)
		if _, ok := b.files[name]; ok && (listed || b.rec == "") {
			b.rec = name
		}
	}
	return b, v.report, nil
}

// Recording returns the recording: its name in the bundle ("recording.cast" or
// "recording.guac") and its content. Reading fails with ErrTooLarge past the size its
// zip header gives. Close the reader when done; several may be open at once.
func (b *Bundle) Recording() (name string, r io.ReadCloser, err error) {
	if b.rec == "" {
		return "", nil, fmt.Errorf("%w: no recording", ErrMissing)
	}
	r, err = b.open(b.rec)
	return b.rec, r, err
}

// Index returns the recording's seek index, and false when the bundle has none.
func (b *Bundle) Index() (io.ReadCloser, bool, error) {
	if _, ok := b.files[NameIndex]; !ok {
		return nil, false, nil
	}
	r, err := b.open(NameIndex)
	return r, err == nil, err
}

// Close closes the bundle file. Readers it returned fail afterwards.
func (b *Bundle) Close() error { return b.f.Close() }

// open returns a reader of the content of the named entry.
func (b *Bundle) open(name string) (io.ReadCloser, error) {
	l, ok := b.files[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrMissing, name)
	}
	sec := io.NewSectionReader(b.f, l.dataStart, int64(l.csize))
	limit := int64(min(l.usize, uint64(b.lim.fileSize)))
	switch l.method {
	case methodStore:
		return &boundedReader{r: sec, left: limit, name: name}, nil
	case methodDeflate:
		fr := flate.NewReader(bufio.NewReaderSize(sec, 64<<10))
		return &boundedReader{r: fr, left: limit, name: name, closer: fr}, nil
	}
	return nil, fmt.Errorf("bundle: %s: unknown compression method %d", name, l.method)
}

// boundedReader reads at most left bytes and fails with ErrTooLarge if there are more.
type boundedReader struct {
	r      io.Reader
	left   int64
	name   string
	closer io.Closer
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: %s is larger than its zip header says", ErrTooLarge, b.name)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *boundedReader) Close() error {
	if b.closer != nil {
		return b.closer.Close()
	}
	return nil
}
