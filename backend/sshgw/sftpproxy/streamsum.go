package sftpproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// maxPending bounds the bytes a streamSum holds to put chunks back in
// sequence. OpenSSH keeps at most 64 requests of 32 KiB in flight (2 MiB),
// and the request server runs 8 workers, so a sequential transfer never
// comes near it.
const maxPending = 8 << 20

// streamSum computes the SHA-256 of the bytes of one transfer direction as
// they stream, from chunks given with their file offsets. Chunks that arrive
// ahead of the hashed prefix wait (copied) until the gap before them is
// filled. A transfer that does not cover the file from offset 0 exactly once
// has no defined digest: the sum is then given up, with a reason, and only
// the byte count remains. Not safe for concurrent use.
type streamSum struct {
	h            hash.Hash
	next         int64            // bytes hashed so far: the next offset expected
	pending      map[int64][]byte // chunks above next, by offset
	pendingBytes int
	moved        int64  // every byte seen, repeated ones included
	broken       string // why the digest was given up; "" while it holds
}

// add accounts for p, which was read from or written to offset off.
func (s *streamSum) add(off int64, p []byte) {
	if len(p) == 0 {
		return
	}
	s.moved += int64(len(p))
	if s.broken != "" {
		return
	}
	if s.h == nil {
		s.h = sha256.New()
	}
	switch {
	case off == s.next:
		s.h.Write(p)
		s.next += int64(len(p))
		s.drain()
	case off < s.next:
		s.giveUp(fmt.Sprintf("%d bytes at offset %d repeat bytes already transferred", len(p), off))
	default:
		if _, dup := s.pending[off]; dup {
			s.giveUp(fmt.Sprintf("offset %d transferred twice", off))
			return
		}
		if s.pendingBytes+len(p) > maxPending {
			s.giveUp(fmt.Sprintf("offset %d is too far ahead of offset %d", off, s.next))
			return
		}
		if s.pending == nil {
			s.pending = make(map[int64][]byte)
		}
		s.pending[off] = append([]byte(nil), p...)
		s.pendingBytes += len(p)
	}
}

// drain hashes the pending chunks that now follow the hashed prefix.
func (s *streamSum) drain() {
	for {
		c, ok := s.pending[s.next]
		if !ok {
			return
		}
		delete(s.pending, s.next)
		s.pendingBytes -= len(c)
		s.h.Write(c)
		s.next += int64(len(c))
	}
}

// giveUp drops the digest for reason.
func (s *streamSum) giveUp(reason string) {
	s.broken = reason
	s.pending = nil
	s.pendingBytes = 0
	s.h = nil
}

// sum returns the bytes moved and the hex SHA-256 of the transfer, or an
// empty digest and the reason when the transfer was not one sequential pass.
func (s *streamSum) sum() (size int64, digest, reason string) {
	if s.broken != "" {
		return s.moved, "", s.broken
	}
	if len(s.pending) > 0 {
		return s.moved, "", fmt.Sprintf("bytes missing after offset %d", s.next)
	}
	if s.h == nil {
		s.h = sha256.New()
	}
	return s.moved, hex.EncodeToString(s.h.Sum(nil)), ""
}
