package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// deflateLevel is the compression level of a bundle's files: the fastest, since higher
// levels gain only a few percent on terminal text (BenchmarkWrite reports speed and
// ratio).
const deflateLevel = flate.BestSpeed

// copyBufSize is the size of the buffer files are copied through.
const copyBufSize = 256 << 10

// Contents are the files of one bundle.
type Contents struct {
	// Metadata is stored as session.json.
	Metadata Metadata
	// Recording is the session's recording as stored: a .cast, a .cast.gz or a .guac.
	// A gzip-compressed recording (told by its content) is stored decompressed, so
	// that `asciinema cat` and `asciinema play` read the bundle's recording.cast as it
	// is. A .cast.gz cut short by a crash is stored up to its last complete line, and
	// the bundle's metadata says Interrupted.
	Recording io.Reader
	// RecordingName is the recording's stored file name, which tells its kind:
	// "x.cast.gz" or "x.cast" (terminal), "x.guac" (desktop).
	RecordingName string
	// Index, if not nil, is the recording's seek index, stored as recording.idx.
	Index io.Reader
}

// Write writes a bundle of c to w, signed by s, and returns its manifest. The bundle is
// a zip file: the recording (recording.cast or recording.guac), recording.idx if c has an
// index, session.json, manifest.json and manifest.sig, in that order (see doc.go). Write
// streams: it holds one copy buffer and one compressor, however long the recording. On
// error what was written to w is not a bundle; write to a temporary file and rename it.
func Write(ctx context.Context, w io.Writer, c Contents, s *Signer) (Manifest, error) {
	if s == nil {
		return Manifest{}, errors.New("bundle: Write needs a Signer")
	}
	if c.Recording == nil {
		return Manifest{}, errors.New("bundle: Write needs a recording")
	}
	recName, err := recordingKind(c.RecordingName)
	if err != nil {
		return Manifest{}, err
	}
	meta := c.Metadata
	if meta.ExportedAt.IsZero() {
		meta.ExportedAt = time.Now()
	}
	m := Manifest{
		Format:    Format,
		Version:   Version,
		SessionID: meta.SessionID,
		CreatedAt: meta.ExportedAt.UTC(),
		Signer: SignerInfo{
			Algorithm:   "ed25519",
			PublicKey:   base64.StdEncoding.EncodeToString(s.pub),
			Fingerprint: s.fp,
		},
	}
	z := newZipWriter(w, m.CreatedAt)

	var cut bool
	f, err := z.deflate(ctx, recName, func(dst io.Writer) (err error) {
		cut, err = copyRecording(ctx, dst, c.Recording, recName == NameCast)
		return err
	})
	if err != nil {
		return Manifest{}, err
	}
	m.Files = append(m.Files, f)
	if cut {
		meta.Interrupted = true
	}
	if c.Index != nil {
		f, err := z.deflate(ctx, NameIndex, func(dst io.Writer) error { return copyCtx(ctx, dst, c.Index, NameIndex) })
		if err != nil {
			return Manifest{}, err
		}
		m.Files = append(m.Files, f)
	}
	session, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle: encode %s: %w", NameSession, err)
	}
	session = append(session, '\n')
	if len(session) > MaxSessionSize {
		return Manifest{}, fmt.Errorf("%w: %s would be %s, more than %s", ErrTooLarge, NameSession, sizeText(int64(len(session))), sizeText(MaxSessionSize))
	}
	f, err = z.deflate(ctx, NameSession, func(dst io.Writer) error { _, err := dst.Write(session); return err })
	if err != nil {
		return Manifest{}, err
	}
	m.Files = append(m.Files, f)

	m.ZipPrefix = ZipPrefix{Size: int64(z.n), SHA256: hex.EncodeToString(z.prefix.Sum(nil))}
	z.prefix = nil
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle: encode %s: %w", NameManifest, err)
	}
	manifest = append(manifest, '\n')
	sig := base64.StdEncoding.EncodeToString(s.sign(manifest)) + "\n"
	z.store(NameManifest, manifest)
	z.store(NameSig, []byte(sig))
	if err := z.finish(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// recordingKind returns the bundle name of a recording stored as name.
func recordingKind(name string) (string, error) {
	base := strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch {
	case strings.HasSuffix(base, ".cast"):
		return NameCast, nil
	case strings.HasSuffix(base, ".guac"):
		return NameGuac, nil
	}
	return "", fmt.Errorf("%w: %q (want .cast, .cast.gz or .guac)", ErrRecordingKind, name)
}

// copyRecording copies a recording to dst, decompressing it when it is gzip. A gzip
// stream cut short (a crash) ends the copy without error and cut is true; when lines
// is set, a half-written last line is then left out, so the result stays a valid
// asciicast file.
func copyRecording(ctx context.Context, dst io.Writer, src io.Reader, lines bool) (cut bool, err error) {
	br := bufio.NewReaderSize(src, 64<<10)
	if magic, _ := br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return false, copyCtx(ctx, dst, br, "recording")
	}
	zr, err := gzip.NewReader(br)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return true, nil // cut within the gzip header: nothing was recorded
	case err != nil:
		return false, fmt.Errorf("bundle: read recording: %w", err)
	}
	defer zr.Close()
	var hold *lineHold
	if lines {
		hold = &lineHold{w: dst}
		dst = hold
	}
	buf := make([]byte, copyBufSize)
	for {
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("bundle: %w", err)
		}
		n, rerr := zr.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return false, err
			}
		}
		switch {
		case rerr == nil:
			continue
		case errors.Is(rerr, io.ErrUnexpectedEOF):
			cut = true
		case rerr != io.EOF:
			return false, fmt.Errorf("bundle: read recording: %w", rerr)
		}
		if hold != nil && !cut {
			return false, hold.flush()
		}
		return cut, nil
	}
}

// maxHold is the longest line lineHold holds back; the record package writes none
// longer. A longer run without newline is passed on.
const maxHold = 16 << 20

// lineHold passes on complete lines and holds back the bytes after the last newline
// until flush; if the stream turns out to be cut, they are dropped.
type lineHold struct {
	w       io.Writer
	pending []byte
}

func (h *lineHold) Write(p []byte) (int, error) {
	i := bytes.LastIndexByte(p, '\n')
	if i < 0 {
		h.pending = append(h.pending, p...)
		if len(h.pending) > maxHold {
			return len(p), h.flush()
		}
		return len(p), nil
	}
	if err := h.flush(); err != nil {
		return 0, err
	}
	if _, err := h.w.Write(p[:i+1]); err != nil {
		return 0, err
	}
	h.pending = append(h.pending, p[i+1:]...)
	return len(p), nil
}

func (h *lineHold) flush() error {
	if len(h.pending) == 0 {
		return nil
	}
	_, err := h.w.Write(h.pending)
	h.pending = h.pending[:0]
	return err
}

// copyCtx copies src to dst until EOF, checking ctx between reads.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader, what string) error {
	buf := make([]byte, copyBufSize)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("bundle: read %s: %w", what, rerr)
		}
	}
}

// zipWriter writes a bundle's zip layout (zipfmt.go) to a stream.
type zipWriter struct {
	w       *bufio.Writer
	n       uint64    // bytes written
	prefix  hash.Hash // SHA-256 of the bytes written, until the manifest; then nil
	err     error     // the first write error
	fw      *flate.Writer
	entries []zipEntry
	tm, dt  uint16 // MS-DOS time and date of every entry
}

func newZipWriter(w io.Writer, created time.Time) *zipWriter {
	z := &zipWriter{w: bufio.NewWriterSize(w, copyBufSize), prefix: sha256.New()}
	z.tm, z.dt = dosTime(created)
	return z
}

// Write writes p to the bundle, counting it and hashing it into the prefix digest.
func (z *zipWriter) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	n, err := z.w.Write(p)
	z.n += uint64(n)
	if z.prefix != nil {
		z.prefix.Write(p[:n])
	}
	if err != nil {
		z.err = fmt.Errorf("bundle: write: %w", err)
	}
	return n, z.err
}

// digestWriter hashes and counts what it passes on, and refuses more than MaxFileSize.
type digestWriter struct {
	w    io.Writer
	name string
	sha  hash.Hash
	crc  hash.Hash32
	n    int64
}

func (d *digestWriter) Write(p []byte) (int, error) {
	if d.n+int64(len(p)) > MaxFileSize {
		return 0, fmt.Errorf("%w: %s is larger than %s", ErrTooLarge, d.name, sizeText(MaxFileSize))
	}
	d.sha.Write(p)
	d.crc.Write(p)
	d.n += int64(len(p))
	return d.w.Write(p)
}

// deflate writes a streamed, deflated entry whose content fill writes.
func (z *zipWriter) deflate(ctx context.Context, name string, fill func(io.Writer) error) (FileDigest, error) {
	if err := ctx.Err(); err != nil {
		return FileDigest{}, fmt.Errorf("bundle: %w", err)
	}
	e := zipEntry{name: name, method: methodDeflate, flags: flagDescriptor, modTime: z.tm, modDate: z.dt, offset: z.n}
	if _, err := z.Write(localHeader(e)); err != nil {
		return FileDigest{}, err
	}
	start := z.n
	if z.fw == nil {
		fw, err := flate.NewWriter(z, deflateLevel)
		if err != nil {
			return FileDigest{}, fmt.Errorf("bundle: %w", err)
		}
		z.fw = fw
	} else {
		z.fw.Reset(z)
	}
	d := &digestWriter{w: z.fw, name: name, sha: sha256.New(), crc: crc32.NewIEEE()}
	if err := fill(d); err != nil {
		return FileDigest{}, err
	}
	if err := z.fw.Close(); err != nil {
		return FileDigest{}, fmt.Errorf("bundle: compress %s: %w", name, err)
	}
	e.crc, e.csize, e.usize = d.crc.Sum32(), z.n-start, uint64(d.n)
	if _, err := z.Write(dataDescriptor(e)); err != nil {
		return FileDigest{}, err
	}
	z.entries = append(z.entries, e)
	return FileDigest{Name: name, Size: d.n, SHA256: hex.EncodeToString(d.sha.Sum(nil))}, nil
}

// store writes a stored (uncompressed) entry; the error is kept for finish.
func (z *zipWriter) store(name string, data []byte) {
	e := zipEntry{name: name, method: methodStore, modTime: z.tm, modDate: z.dt, offset: z.n,
		crc: crc32.ChecksumIEEE(data), csize: uint64(len(data)), usize: uint64(len(data))}
	z.Write(localHeader(e))
	z.Write(data)
	z.entries = append(z.entries, e)
}

// finish writes the central directory and the end records, and flushes.
func (z *zipWriter) finish() error {
	cdOffset := z.n
	for _, e := range z.entries {
		z.Write(centralRecord(e))
	}
	z.Write(endRecords(len(z.entries), cdOffset, z.n-cdOffset))
	if z.err != nil {
		return z.err
	}
	if err := z.w.Flush(); err != nil {
		return fmt.Errorf("bundle: write: %w", err)
	}
	return nil
}
