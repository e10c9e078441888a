package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// Local is a Backend on a local directory: a key is a path relative to it.
// Every access goes through an os.Root, so neither a key nor a symbolic link
// inside the directory reaches a file outside it.
type Local struct {
	dir string
}

var _ Backend = (*Local)(nil)

// NewLocal returns a Local on dir (the recordings directory itself), creating
// the directory when it is missing.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("storage: local: empty directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: local: %w", err)
	}
	return &Local{dir: dir}, nil
}

// Name returns "local".
func (l *Local) Name() string { return "local" }

// Dir returns the directory the keys are relative to.
func (l *Local) Dir() string { return l.dir }

// root opens the directory as an os.Root for one operation, so that a
// directory recreated meanwhile is still found and no descriptor is held.
func (l *Local) root(key string) (*os.Root, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, fmt.Errorf("storage: local: %w", err)
	}
	return r, nil
}

// Put writes r to a temporary file beside the key, fsyncs it, renames it
// into place and fsyncs the directory: the key then holds either the old or
// the whole new content, even after a crash.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	root, err := l.root(key)
	if err != nil {
		return err
	}
	defer root.Close()
	dir, base := path.Split(key)
	if dir == "" {
		dir = "."
	}
	if err := root.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("storage: local put %s: %w", key, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("storage: local put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			root.Remove(tmp)
		}
	}()
	n, err := copyContext(ctx, f, r)
	if err != nil {
		return fmt.Errorf("storage: local put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("storage: local put %s: %w: read %d bytes, want %d", key, ErrSizeMismatch, n, size)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("storage: local put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: local put %s: %w", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return fmt.Errorf("storage: local put %s: %w", key, err)
	}
	if d, err := root.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// open opens the regular file of key.
func (l *Local) open(key string) (*os.File, int64, error) {
	root, err := l.root(key)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	f, err := root.Open(key)
	if err != nil {
		return nil, 0, l.translate("open", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("storage: local open %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("storage: local open %s: %w (not a regular file)", key, ErrNotFound)
	}
	return f, fi.Size(), nil
}

// Open returns the file of key.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := l.open(key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// OpenRange returns n bytes of key's file from off (the rest when n <= 0).
func (l *Local) OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	f, size, err := l.open(key)
	if err != nil {
		return nil, err
	}
	if off < 0 || off >= size {
		f.Close()
		return nil, fmt.Errorf("storage: local open %s: %w: offset %d of %d bytes", key, ErrInvalidRange, off, size)
	}
	if n <= 0 || n > size-off {
		n = size - off
	}
	return readCloser{io.NewSectionReader(f, off, n), f}, nil
}

// Stat returns the size of key's file.
func (l *Local) Stat(ctx context.Context, key string) (int64, error) {
	root, err := l.root(key)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	fi, err := root.Stat(key)
	if err != nil {
		return 0, l.translate("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("storage: local stat %s: %w (not a regular file)", key, ErrNotFound)
	}
	return fi.Size(), nil
}

// Delete removes key's file; a missing file is not an error. Empty day
// directories are left alone: a recorder may be about to write into them.
func (l *Local) Delete(ctx context.Context, key string) error {
	root, err := l.root(key)
	if err != nil {
		return err
	}
	defer root.Close()
	fi, err := root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && fi.IsDir() {
		return fmt.Errorf("storage: local delete %s: is a directory", key)
	}
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: local delete %s: %w", key, err)
	}
	return nil
}

func (l *Local) translate(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: local %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("storage: local %s %s: %w", op, key, err)
}

// copyContext copies src to dst in chunks, stopping when ctx is done.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
