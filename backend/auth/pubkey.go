package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// MethodKey is the login log method of a public-key login (SSH gateway).
const MethodKey = "key"

// Public-key login reasons for the login log.
const (
	reasonUnknownKey = "unknown_key" // the key is not registered to the user
)

// Limits of registered public keys.
const (
	// MaxPublicKeysPerUser bounds the keys one user may register.
	MaxPublicKeysPerUser = 100
	// MinRSAKeyBits is the smallest RSA key accepted for login.
	MinRSAKeyBits = 2048
	// maxKeyLineLen bounds an authorized_keys line (an RSA 16384 key is ~2.8 KB).
	maxKeyLineLen = 16 << 10
	maxKeyNameLen = 128
)

// KeyLoginRequest is a public-key login: the client has proved, by a
// signature the SSH server checked, that it holds the private half of Key.
type KeyLoginRequest struct {
	Username string
	Key      ssh.PublicKey
	Meta     RequestMeta
}

// HasPublicKey reports whether key is registered to the active user named
// username. It writes no login log row: SSH clients offer keys before they
// prove possession, and only the proven one counts (LoginPublicKey).
func (s *Service) HasPublicKey(ctx context.Context, username string, key ssh.PublicKey) (bool, error) {
	u, err := s.userByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !u.IsActive {
		return false, nil
	}
	_, err = s.userKey(ctx, u.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// LoginPublicKey logs a user in with a public key whose possession the
// caller verified. It is Login with the key in place of the password: the
// same throttle, disabled-account, lockout and login ACL checks, the same
// next steps (a password change, a TOTP code through SubmitOTP, an
// enrollment), and exactly one login log row with method "key". A key that
// is not registered to the user is ErrInvalidCredentials; it counts toward
// the source throttle but not toward the account lockout (a key cannot be
// guessed). The key's LastUsedAt is updated.
func (s *Service) LoginPublicKey(ctx context.Context, req KeyLoginRequest) (*LoginResult, error) {
	sec, err := s.security(ctx)
	if err != nil {
		return nil, err
	}
	ip := ParseSourceIP(req.Meta.SourceIP)
	a := attempt{username: req.Username, meta: req.Meta, method: MethodKey}
	if !s.throttle.Allow(ip, sec.IPThrottlePerMinute) {
		return nil, s.refuse(ctx, a, reasonThrottled, ErrThrottled)
	}
	if req.Key == nil {
		return nil, fmt.Errorf("%w: no key", ErrInvalid)
	}
	u, err := s.userByName(ctx, req.Username)
	if errors.Is(err, store.ErrNotFound) {
		s.throttle.Fail(ip)
		return nil, s.refuse(ctx, a, reasonUnknownUser, ErrInvalidCredentials)
	} else if err != nil {
		return nil, err
	}
	a.user = u
	key, err := s.userKey(ctx, u.ID, req.Key)
	if errors.Is(err, store.ErrNotFound) {
		s.throttle.Fail(ip)
		return nil, s.refuse(ctx, a, reasonUnknownKey, ErrInvalidCredentials)
	} else if err != nil {
		return nil, err
	}
	if !u.IsActive {
		s.throttle.Fail(ip)
		return nil, s.refuse(ctx, a, reasonInactive, ErrInactive)
	}
	locked, err := s.isLocked(ctx, u, s.now())
	if err != nil {
		return nil, err
	}
	if locked {
		s.throttle.Fail(ip)
		return nil, s.refuse(ctx, a, reasonLocked, ErrLocked)
	}
	if err := s.checkACL(ctx, u, ip, a); err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.conn(ctx).Model(&store.UserPublicKey{}).Where("id = ?", key.ID).UpdateColumn("last_used_at", now).Error; err != nil {
		s.log.WarnContext(ctx, "update key last use", "key_id", key.ID, "err", err)
	}
	if u.MustChangePassword {
		return s.issueStep(ctx, u, a, store.TokenPasswordChange, StepPasswordChangeRequired)
	}
	return s.afterPassword(ctx, u, sec, a, ip, "")
}

// RefusePublicKeys writes the login log row of an SSH connection that offered
// only public keys, none registered to username, and then gave up. It counts
// toward the source throttle.
func (s *Service) RefusePublicKeys(ctx context.Context, username string, meta RequestMeta) error {
	sec, err := s.security(ctx)
	if err != nil {
		return err
	}
	ip := ParseSourceIP(meta.SourceIP)
	a := attempt{username: username, meta: meta, method: MethodKey}
	if u, err := s.userByName(ctx, username); err == nil {
		a.user = u
	}
	if !s.throttle.Allow(ip, sec.IPThrottlePerMinute) {
		return s.refuse(ctx, a, reasonThrottled, ErrThrottled)
	}
	s.throttle.Fail(ip)
	return s.refuse(ctx, a, reasonUnknownKey, ErrInvalidCredentials)
}

// userKey returns the registered key of user userID equal to key.
func (s *Service) userKey(ctx context.Context, userID uint, key ssh.PublicKey) (*store.UserPublicKey, error) {
	var k store.UserPublicKey
	err := s.conn(ctx).Where("user_id = ? AND fingerprint = ?", userID, ssh.FingerprintSHA256(key)).Take(&k).Error
	if err != nil {
		return nil, fmt.Errorf("auth: public key of user %d: %w", userID, store.Translate(err))
	}
	return &k, nil
}

// ParseAuthorizedKey parses one authorized_keys line ("ssh-ed25519 AAAA...
// comment") and checks that the key is fit for login: Ed25519, ECDSA,
// security-key types, or RSA of at least MinRSAKeyBits; no DSA, no
// certificate, no options. Errors are *FieldError for "key".
func ParseAuthorizedKey(line string) (ssh.PublicKey, string, error) {
	line = strings.TrimSpace(line)
	switch {
	case line == "":
		return nil, "", invalidError("key", "is required")
	case len(line) > maxKeyLineLen:
		return nil, "", invalidError("key", fmt.Sprintf("must be at most %d bytes", maxKeyLineLen))
	case strings.ContainsAny(line, "\r\n"):
		return nil, "", invalidError("key", "must be a single authorized_keys line")
	}
	key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, "", invalidError("key", "is not an OpenSSH public key (authorized_keys line)")
	}
	if len(options) > 0 || len(rest) > 0 {
		return nil, "", invalidError("key", "must be a single key without options")
	}
	switch key.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256:
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return nil, "", invalidError("key", "unreadable RSA key")
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < MinRSAKeyBits {
			return nil, "", invalidError("key", fmt.Sprintf("RSA keys must have at least %d bits", MinRSAKeyBits))
		}
	default:
		return nil, "", invalidError("key", fmt.Sprintf("key type %s is not accepted (use ed25519, ecdsa or rsa)", key.Type()))
	}
	return key, cleanLogText(comment, maxKeyNameLen), nil
}

// AddPublicKey registers an authorized_keys line for user userID. name
// defaults to the key's comment. A key registered already (to anyone) is
// store.ErrDuplicate; a bad line or name is a *FieldError.
func (s *Service) AddPublicKey(ctx context.Context, userID uint, name, line string) (*store.UserPublicKey, error) {
	key, comment, err := ParseAuthorizedKey(line)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = comment
	}
	if len(name) > maxKeyNameLen {
		return nil, invalidError("name", fmt.Sprintf("must be at most %d bytes", maxKeyNameLen))
	}
	if cleanLogText(name, maxKeyNameLen) != name {
		return nil, invalidError("name", "must not contain control characters")
	}
	var n int64
	if err := s.conn(ctx).Model(&store.UserPublicKey{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("auth: count public keys: %w", err)
	}
	if n >= MaxPublicKeysPerUser {
		return nil, invalidError("key", fmt.Sprintf("at most %d keys per user", MaxPublicKeysPerUser))
	}
	k := &store.UserPublicKey{
		UserID: userID, Name: name,
		Key:         strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))),
		Fingerprint: ssh.FingerprintSHA256(key),
		CreatedAt:   s.now(),
	}
	if comment != "" {
		k.Key += " " + comment
	}
	if err := s.conn(ctx).Create(k).Error; err != nil {
		return nil, fmt.Errorf("auth: add public key: %w", store.Translate(err))
	}
	s.log.InfoContext(ctx, "public key added", "user_id", userID, "key_id", k.ID, "fingerprint", k.Fingerprint)
	return k, nil
}

// ListPublicKeys returns user userID's keys, oldest first.
func (s *Service) ListPublicKeys(ctx context.Context, userID uint) ([]store.UserPublicKey, error) {
	var keys []store.UserPublicKey
	if err := s.conn(ctx).Where("user_id = ?", userID).Order("id").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("auth: list public keys: %w", err)
	}
	return keys, nil
}

// DeletePublicKey removes key id of user userID; store.ErrNotFound when the
// user has no such key.
func (s *Service) DeletePublicKey(ctx context.Context, userID, id uint) error {
	res := s.conn(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&store.UserPublicKey{})
	if res.Error != nil {
		return fmt.Errorf("auth: delete public key: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("auth: public key %d: %w", id, store.ErrNotFound)
	}
	s.log.InfoContext(ctx, "public key deleted", "user_id", userID, "key_id", id)
	return nil
}
