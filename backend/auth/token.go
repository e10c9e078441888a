package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/backend/store"
)

// Token prefixes: the kind of a bearer token is visible in its first characters,
// so that a leaked token is recognizable (secret scanners) and a token of the
// wrong kind is refused before any database lookup.
const (
	PrefixSession = "pcs_" // web login session
	PrefixAPI     = "pca_" // API token for automation
	PrefixStep    = "pcx_" // login step (OTP, enrollment, password change)
)

// tokenRandomBytes is the entropy of a token: 256 bits.
const tokenRandomBytes = 32

// tokenDisplayLen is how many leading characters of a token are kept in
// store.AuthToken.Prefix, to tell tokens apart in lists.
const tokenDisplayLen = 8

// tokenLen is the length of every token: a 4-byte prefix and the unpadded
// base64url of 32 bytes (43 characters).
const tokenLen = 4 + (tokenRandomBytes*8+5)/6

// prefixOf returns the token prefix used for a kind of store.AuthToken.
func prefixOf(kind string) string {
	switch kind {
	case store.TokenSession:
		return PrefixSession
	case store.TokenAPI:
		return PrefixAPI
	default: // store.TokenMFA, store.TokenPasswordChange
		return PrefixStep
	}
}

// newToken returns a fresh token of kind and the hex SHA-256 to store.
func newToken(kind string) (token, hash string, err error) {
	b := make([]byte, tokenRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: token: %w", err)
	}
	token = prefixOf(kind) + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken returns the hex SHA-256 of a token, the value kept in
// store.AuthToken.TokenHash. Tokens carry 256 random bits, so a fast hash is enough.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormedToken reports whether token has one of the prefixes and the right
// length and alphabet, so that garbage is refused without touching the database.
func wellFormedToken(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	if !strings.HasPrefix(token, PrefixSession) && !strings.HasPrefix(token, PrefixAPI) && !strings.HasPrefix(token, PrefixStep) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token[len(PrefixSession):])
	return err == nil
}
