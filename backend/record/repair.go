package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
)

// Repair makes a recording cut by a crash whole again: a .cast.gz becomes a complete
// gzip file (with its trailer, which gunzip and Python's gzip module insist on) and a
// half-written last line is dropped, so asciinema can play it once decompressed. The
// file is rewritten atomically (temporary file, fsync, rename, fsync of the directory).
// A file that is already whole is left untouched. Repair must not run on a recording
// that a CastWriter still writes.
func Repair(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	compressed, whole, err := inspect(f)
	if err != nil {
		return fmt.Errorf("record: repair %s: %w", path, err)
	}
	if whole {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	r, header, err := newLineReader(f)
	if err != nil {
		return fmt.Errorf("record: repair %s: %w", path, err)
	}

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".repair-*")
	if err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	defer tmp.Close()
	if err := salvage(tmp, compressed, header, r); err != nil {
		return fmt.Errorf("record: repair %s: %w", path, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("record: repair: %w", err)
	}
	return nil
}

// inspect checks that f is a recording and reads it through; it reports whether it
// is gzip and whether it is whole: its stream ends cleanly, after a newline.
func inspect(f io.Reader) (compressed, whole bool, err error) {
	r, header, err := newLineReader(f)
	if err != nil {
		return false, false, err
	}
	if _, err := parseHeader(header); err != nil {
		return false, false, err
	}
	last := lastByte{b: header[len(header)-1]}
	_, err = io.Copy(&last, r.lines)
	whole = err == nil && !r.Truncated() && last.b == '\n'
	return r.src != nil, whole, nil
}

// lastByte remembers the last byte written to it.
type lastByte struct{ b byte }

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.b = p[len(p)-1]
	}
	return len(p), nil
}

// salvage copies the header and every complete line of r to dst, compressed or not.
func salvage(dst io.Writer, compressed bool, header []byte, r *CastReader) error {
	bw := bufio.NewWriterSize(dst, bufSize)
	var out io.Writer = bw
	var zw *gzip.Writer
	if compressed {
		zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed) // level is valid: no error
		out = zw
	}
	if _, err := out.Write(header); err != nil {
		return err
	}
	if header[len(header)-1] != '\n' {
		if _, err := out.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	for {
		line, err := r.readLine()
		if err != nil {
			// The unterminated tail is kept only if it is a whole event.
			if _, perr := parseEvent(line); perr == nil && len(line) > 0 {
				if _, err := out.Write(append(line, '\n')); err != nil {
					return err
				}
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) {
				return err
			}
			break
		}
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	return bw.Flush()
}
