package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/portcullis/portcullis/backend/settings"
)

// PasswordParams are the argon2id cost parameters of a password hash.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams returns the parameters of new hashes: the OWASP
// recommendation for argon2id (19 MiB, 2 passes, 1 lane), 16-byte salt, 32-byte key.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds accepted when parsing a stored hash, so that a corrupt or hostile row
// cannot make VerifyPassword allocate gigabytes or loop for minutes.
const (
	maxHashMemory  = 1 << 20 // KiB (1 GiB)
	maxHashTime    = 64
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 64
	maxEncodedHash = 256 // fits store.User.PasswordHash
)

// MaxPasswordLength is the longest password, in characters, that a policy accepts.
const MaxPasswordLength = 256

const argon2Version = argon2.Version // 0x13 = 19

var b64 = base64.RawStdEncoding.Strict()

// HashPassword hashes password with argon2id and DefaultPasswordParams into
// the PHC string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string) (string, error) {
	return hashPasswordWith(password, DefaultPasswordParams())
}

func hashPasswordWith(password string, p PasswordParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

func encodePHC(p PasswordParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// phcHash is a parsed argon2id PHC string.
type phcHash struct {
	params PasswordParams
	salt   []byte
	key    []byte
}

// parsePHC parses an argon2id PHC string strictly: the exact field order
// m,t,p, canonical decimal numbers, unpadded standard base64, bounded costs.
func parsePHC(encoded string) (*phcHash, error) {
	if len(encoded) > maxEncodedHash {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncodedHash)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return nil, fmt.Errorf("%w: algorithm %q is not argon2id", ErrMalformedHash, parts[1])
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return nil, fmt.Errorf("%w: missing version", ErrMalformedHash)
	}
	if n, err := parseDecimal(v, 1<<8); err != nil || n != argon2Version {
		return nil, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, v)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, f := range []struct {
		name  string
		limit uint64
	}{{"m", maxHashMemory}, {"t", maxHashTime}, {"p", 255}} {
		val, ok := strings.CutPrefix(params[i], f.name+"=")
		if !ok {
			return nil, fmt.Errorf("%w: parameter %d is not %s", ErrMalformedHash, i+1, f.name)
		}
		n, err := parseDecimal(val, f.limit)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%w: bad %s=%q", ErrMalformedHash, f.name, val)
		}
		vals[i] = n
	}
	var h phcHash
	h.params.Memory, h.params.Time, h.params.Threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if h.params.Memory < 8*uint32(h.params.Threads) {
		return nil, fmt.Errorf("%w: m must be at least 8*p", ErrMalformedHash)
	}
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return nil, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return nil, fmt.Errorf("%w: bad hash", ErrMalformedHash)
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	return &h, nil
}

// parseDecimal parses a canonical unsigned decimal (no sign, no leading zero) up to max.
func parseDecimal(s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > max {
		return 0, strconv.ErrRange
	}
	return n, nil
}

// VerifyPassword reports whether password matches encodedHash. The cost
// parameters are read from the hash, so hashes made with older parameters keep
// working. The comparison is constant-time. A malformed hash is an error
// wrapping ErrMalformedHash, never a panic.
func VerifyPassword(encodedHash, password string) (bool, error) {
	h, err := parsePHC(encodedHash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// PasswordNeedsRehash reports whether encodedHash was made with parameters
// other than DefaultPasswordParams (or is malformed), so that a successful
// login should store a fresh hash.
func PasswordNeedsRehash(encodedHash string) bool {
	h, err := parsePHC(encodedHash)
	if err != nil {
		return true
	}
	return h.params != DefaultPasswordParams()
}

// CheckPasswordPolicy checks a new password against the security policy. It
// also refuses passwords longer than MaxPasswordLength characters, passwords
// that are not valid UTF-8 or hold control characters, passwords equal to the
// username, and passwords containing it (case-insensitively, for usernames of
// 3 characters or more). The error is a *FieldError for the field "password"
// wrapping ErrPasswordPolicy.
func CheckPasswordPolicy(sec settings.Security, password, username string) error {
	return checkPasswordPolicy(sec, password, username, "password")
}

func checkPasswordPolicy(sec settings.Security, password, username, field string) error {
	if !utf8.ValidString(password) {
		return policyError(field, "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(password)
	minLen := sec.PasswordMinLength
	if minLen < 8 {
		minLen = 8
	}
	if n < minLen {
		return policyError(field, fmt.Sprintf("must be at least %d characters", minLen))
	}
	if n > MaxPasswordLength {
		return policyError(field, fmt.Sprintf("must be at most %d characters", MaxPasswordLength))
	}
	var upper, lower, digit, symbol bool
	for _, r := range password {
		switch {
		case unicode.IsControl(r):
			return policyError(field, "must not contain control characters")
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case !unicode.IsLetter(r):
			symbol = true
		}
	}
	switch {
	case sec.PasswordRequireUpper && !upper:
		return policyError(field, "must contain an upper-case letter")
	case sec.PasswordRequireLower && !lower:
		return policyError(field, "must contain a lower-case letter")
	case sec.PasswordRequireDigit && !digit:
		return policyError(field, "must contain a digit")
	case sec.PasswordRequireSymbol && !symbol:
		return policyError(field, "must contain a symbol")
	}
	if username != "" {
		pl, ul := strings.ToLower(password), strings.ToLower(username)
		if pl == ul || (utf8.RuneCountInString(ul) >= 3 && strings.Contains(pl, ul)) {
			return policyError(field, "must not contain the username")
		}
	}
	return nil
}
