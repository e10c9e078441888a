package sftpproxy

import (
	"sync"

	"github.com/pkg/sftp"

	"github.com/portcullis/portcullis/backend/store"
)

// fileHandle is an open file of the SFTP session, backed by an open file on
// the target. The request server calls ReadAt and WriteAt from several
// goroutines, then Close once.
type fileHandle struct {
	p     *proxy
	f     *sftp.File
	name  string
	read  bool // opened for reading (a download)
	write bool // opened for writing (an upload)

	mu        sync.Mutex // guards the fields below
	up, down  streamSum
	overLimit bool  // a read or write went past Options.MaxFileSize
	xferErr   error // why the request server dropped the handle, if it did
	closed    bool
}

var (
	_ sftp.WriterAtReaderAt = (*fileHandle)(nil)
	_ sftp.TransferError    = (*fileHandle)(nil)
)

// errNegativeOffset answers a read or write at an offset past 2^63.
var errNegativeOffset = &statusError{code: sftp.ErrSSHFxFailure, msg: "offset out of range"}

// ReadAt reads from the target and accounts for the bytes sent to the user.
func (h *fileHandle) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	n, err := h.f.ReadAt(b, off)
	if max := h.p.o.MaxFileSize; max > 0 && off+int64(n) > max {
		// The file grew past the limit after it was opened.
		return 0, h.limitExceeded(store.ActionDownload)
	}
	if n > 0 {
		h.mu.Lock()
		h.down.add(off, b[:n])
		h.mu.Unlock()
	}
	return n, toStatus(err)
}

// WriteAt writes to the target and accounts for the bytes received.
func (h *fileHandle) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if max := h.p.o.MaxFileSize; max > 0 && off+int64(len(b)) > max {
		return 0, h.limitExceeded(store.ActionUpload)
	}
	n, err := h.f.WriteAt(b, off)
	if n > 0 {
		h.mu.Lock()
		h.up.add(off, b[:n])
		h.mu.Unlock()
	}
	return n, toStatus(err)
}

// limitExceeded records, once per handle, that the file size limit stopped
// the transfer, and returns the answer.
func (h *fileHandle) limitExceeded(direction string) error {
	h.mu.Lock()
	first := !h.overLimit
	h.overLimit = true
	h.mu.Unlock()
	if first {
		h.p.deny(direction, h.name, "", ReasonSizeLimit)
	}
	return permissionDenied(ReasonSizeLimit)
}

// TransferError is told why the request server dropped the handle (the
// connection went away with the file open).
func (h *fileHandle) TransferError(err error) {
	h.mu.Lock()
	h.xferErr = err
	h.mu.Unlock()
}

// Close closes the target's file and records the transfer: one FileTransfer
// per direction the handle moved bytes in (one for the direction it was
// opened for when it moved none).
func (h *fileHandle) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()

	err := h.f.Close()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.xferErr != nil {
		// The record still says what moved until the connection dropped.
		h.p.log.Warn("transfer interrupted", "path", h.name, "err", h.xferErr)
	}
	if err != nil {
		h.p.log.Warn("close target file", "path", h.name, "err", err)
	}
	recorded := false
	if h.write && (h.up.moved > 0 || !h.read) {
		h.record(store.ActionUpload, &h.up)
		recorded = true
	}
	if h.read && (h.down.moved > 0 || !recorded) {
		h.record(store.ActionDownload, &h.down)
	}
	return toStatus(err)
}

// record hands the FileTransfer of one direction to the sink; h.mu is held.
func (h *fileHandle) record(direction string, s *streamSum) {
	t := h.p.transferRecord(direction, h.name)
	var reason string
	t.Size, t.SHA256, reason = s.sum()
	t.Allowed = !h.overLimit
	if reason != "" {
		h.p.log.Warn("no SHA-256 for a non-sequential transfer", "path", h.name,
			"direction", direction, "reason", reason)
	}
	h.p.transfer(t)
}
