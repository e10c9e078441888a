package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Backend stores recording files by key, a slash-separated path relative to
// the recordings directory ("2026/11/28/<session>.cast.gz").
type Backend interface {
	// Name is "local" or "s3".
	Name() string
	// Put stores r under key, replacing any earlier object. size is the
	// number of bytes r yields, or -1 when unknown; a reader that yields a
	// different number fails the Put and stores nothing.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open returns the whole object. ctx governs the whole read, not only
	// the call. A missing key is ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// OpenRange returns n bytes from offset off, or the rest of the object
	// when n <= 0 (fewer when it ends before off+n): what an HTTP range
	// request of the replay needs. An offset outside the object is
	// ErrInvalidRange; a missing key is ErrNotFound.
	OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Stat returns the object's size; a missing key is ErrNotFound.
	Stat(ctx context.Context, key string) (size int64, err error)
	// Delete removes the object; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

var (
	// ErrNotFound is returned when a key has no object.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidKey is returned for a key that is not a clean relative path:
	// empty, absolute, with a backslash, a control character, or an empty,
	// "." or ".." element.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrInvalidRange is returned by OpenRange for an offset outside the
	// object (HTTP 416).
	ErrInvalidRange = errors.New("storage: invalid range")
	// ErrNoBucket is returned when the S3 bucket does not exist.
	ErrNoBucket = errors.New("storage: bucket does not exist")
	// ErrSizeMismatch is returned when a Put's reader yields another number
	// of bytes than announced, or an uploaded copy has another size than the
	// local file.
	ErrSizeMismatch = errors.New("storage: size mismatch")
)

// maxKeyLen bounds a key: S3 allows 1024 bytes including the prefix.
const maxKeyLen = 512

// ValidateKey reports whether key is a clean relative slash-separated path,
// as both backends require. The error wraps ErrInvalidKey.
func ValidateKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why)
	}
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > maxKeyLen:
		return bad("too long")
	case !utf8.ValidString(key):
		return bad("not UTF-8")
	case key[0] == '/':
		return bad("absolute")
	case strings.ContainsRune(key, '\\'):
		return bad("backslash")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return bad("empty path element")
		case ".", "..":
			return bad("dot path element")
		}
	}
	return nil
}

// readCloser joins a reader with the closer of what it reads from.
type readCloser struct {
	io.Reader
	io.Closer
}
