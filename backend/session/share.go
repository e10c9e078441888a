package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// SharePrefix starts every share token, so that a leaked one is recognizable.
const SharePrefix = "pcj_"

// ShareLink is a share of a live session. Token is set only in the answer of
// Share: the registry keeps just its SHA-256.
type ShareLink struct {
	Token       string    `json:"token,omitempty"`
	SessionID   string    `json:"session_id"`
	Interactive bool      `json:"interactive"`
	ExpiresAt   time.Time `json:"expires_at"`
	CreatedBy   string    `json:"created_by"`
}

type share struct {
	sessionID   string
	interactive bool
	expiresAt   time.Time
	createdBy   string
}

func hashShare(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Share creates a link to join session id, read-only or interactive, valid for
// ttl (0: DefaultShareTTL; at most MaxShareTTL). Links die with the session.
// Share links live in this node's memory: they work on the node that hosts
// the session.
func (r *Registry) Share(ctx context.Context, id string, interactive bool, ttl time.Duration, by string) (ShareLink, error) {
	if ttl == 0 {
		ttl = DefaultShareTTL
	}
	if ttl < 0 || ttl > MaxShareTTL {
		return ShareLink{}, fmt.Errorf("%w: share lifetime must be between 1 minute and %v", ErrInvalid, MaxShareTTL)
	}
	if _, ok := r.Get(id); !ok {
		return ShareLink{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return ShareLink{}, fmt.Errorf("session: share token: %w", err)
	}
	token := SharePrefix + base64.RawURLEncoding.EncodeToString(b)
	now := r.clock()
	s := share{sessionID: id, interactive: interactive, expiresAt: now.Add(ttl).UTC(), createdBy: by}
	r.mu.Lock()
	for h, old := range r.shares {
		if !now.Before(old.expiresAt) {
			delete(r.shares, h)
		}
	}
	if _, ok := r.lives[id]; !ok { // ended meanwhile
		r.mu.Unlock()
		return ShareLink{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	r.shares[hashShare(token)] = s
	r.mu.Unlock()
	r.log.InfoContext(ctx, "session shared", "session", id, "interactive", interactive, "ttl", ttl, "by", by)
	return ShareLink{Token: token, SessionID: id, Interactive: interactive, ExpiresAt: s.expiresAt, CreatedBy: by}, nil
}

// Join resolves a share token to its live session. The link may be used
// until it expires or the session ends.
func (r *Registry) Join(token string) (*Live, ShareLink, error) {
	h := hashShare(token)
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.shares[h]
	if !ok {
		return nil, ShareLink{}, ErrShareNotFound
	}
	if !r.clock().Before(s.expiresAt) {
		delete(r.shares, h)
		return nil, ShareLink{}, ErrShareExpired
	}
	l, ok := r.lives[s.sessionID]
	if !ok {
		delete(r.shares, h)
		return nil, ShareLink{}, ErrShareNotFound
	}
	return l, ShareLink{SessionID: s.sessionID, Interactive: s.interactive, ExpiresAt: s.expiresAt, CreatedBy: s.createdBy}, nil
}
