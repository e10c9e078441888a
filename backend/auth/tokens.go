package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/store"
)

// maxTokenNameLen bounds an API token's name (store.AuthToken.Name).
const maxTokenNameLen = 128

// Authenticate resolves a bearer token, a session ("pcs_...") or an API token
// ("pca_..."), to its user. A login step token, an unknown, expired or
// malformed token is ErrTokenInvalid; a disabled user is ErrInactive. The
// token's LastUsedAt is written at most once a minute.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	if strings.HasPrefix(bearer, PrefixStep) {
		return nil, fmt.Errorf("%w: a login step token is not a session", ErrTokenInvalid)
	}
	tok, u, err := s.lookupToken(ctx, bearer, store.TokenSession, store.TokenAPI)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, ErrInactive
	}
	now := s.now()
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) >= lastUsedGranularity {
		err := s.conn(ctx).Model(&store.AuthToken{}).
			Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", tok.ID, now.Add(-lastUsedGranularity)).
			UpdateColumn("last_used_at", now).Error
		if err != nil {
			s.log.WarnContext(ctx, "update token last use", "token_id", tok.ID, "err", err)
		} else {
			tok.LastUsedAt = &now
		}
	}
	return &Principal{User: u, Token: tok}, nil
}

// Logout ends a web session (or abandons a login step). It is idempotent: an
// unknown token is not an error. API tokens are not ended by Logout; they are
// revoked with RevokeAPIToken.
func (s *Service) Logout(ctx context.Context, bearer string) error {
	if !wellFormedToken(bearer) || strings.HasPrefix(bearer, PrefixAPI) {
		return nil
	}
	err := s.conn(ctx).Where("token_hash = ? AND kind IN ?", HashToken(bearer),
		[]string{store.TokenSession, store.TokenMFA, store.TokenPasswordChange}).Delete(&store.AuthToken{}).Error
	if err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

// CreateAPIToken issues an API token for user. The token is returned once;
// only its hash is stored. ttl 0 means no expiry. An empty or over-long name
// is a *FieldError for "name", a negative ttl one for "expires_in_days".
func (s *Service) CreateAPIToken(ctx context.Context, user *store.User, name string, ttl time.Duration) (string, *store.AuthToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", nil, invalidError("name", "is required")
	case len(name) > maxTokenNameLen:
		return "", nil, invalidError("name", fmt.Sprintf("must be at most %d bytes", maxTokenNameLen))
	case cleanLogText(name, maxTokenNameLen) != name:
		return "", nil, invalidError("name", "must not contain control characters")
	case ttl < 0:
		return "", nil, invalidError("expires_in_days", "must not be negative")
	}
	raw, t, err := s.issueToken(ctx, user, store.TokenAPI, name, ttl, "")
	if err != nil {
		return "", nil, err
	}
	s.log.InfoContext(ctx, "API token created", "user_id", user.ID, "token_id", t.ID, "prefix", t.Prefix)
	return raw, t, nil
}

// ListAPITokens lists a user's API tokens (expired ones included), oldest first.
func (s *Service) ListAPITokens(ctx context.Context, userID uint) ([]store.AuthToken, error) {
	var ts []store.AuthToken
	if err := s.conn(ctx).Where("user_id = ? AND kind = ?", userID, store.TokenAPI).Order("id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("auth: list API tokens: %w", err)
	}
	return ts, nil
}

// RevokeAPIToken deletes one of a user's API tokens; a token that is not the
// user's API token is store.ErrNotFound.
func (s *Service) RevokeAPIToken(ctx context.Context, userID, tokenID uint) error {
	res := s.conn(ctx).Where("id = ? AND user_id = ? AND kind = ?", tokenID, userID, store.TokenAPI).Delete(&store.AuthToken{})
	if res.Error != nil {
		return fmt.Errorf("auth: revoke API token %d: %w", tokenID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("auth: API token %d: %w", tokenID, store.ErrNotFound)
	}
	s.log.InfoContext(ctx, "API token revoked", "user_id", userID, "token_id", tokenID)
	return nil
}

// PruneExpiredTokens deletes every expired token and returns how many; run it
// now and then (expired tokens are refused anyway).
func (s *Service) PruneExpiredTokens(ctx context.Context) (int64, error) {
	res := s.conn(ctx).Where("expires_at IS NOT NULL AND expires_at <= ?", s.now()).Delete(&store.AuthToken{})
	if res.Error != nil {
		return 0, fmt.Errorf("auth: prune tokens: %w", res.Error)
	}
	return res.RowsAffected, nil
}
