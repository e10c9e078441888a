package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// RecoveryCodeCount is how many recovery codes an enrollment issues.
const RecoveryCodeCount = 10

// recoveryAlphabet has no look-alikes (no 0/o, 1/l/i). 31 letters: a 12-letter
// code carries about 59 bits, enough for a plain SHA-256 to be safe at rest.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

const recoveryGroups, recoveryGroupLen = 3, 4

// NewRecoveryCodes returns n random codes like "abcd-efgh-jkmn".
func NewRecoveryCodes(n int) ([]string, error) {
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	return codes, nil
}

func newRecoveryCode() (string, error) {
	const letters = recoveryGroups * recoveryGroupLen
	// Rejection sampling keeps the distribution uniform: bytes >= 248 (8*31) are dropped.
	limit := byte(256 - 256%len(recoveryAlphabet))
	out := make([]byte, 0, letters+recoveryGroups-1)
	buf := make([]byte, 32)
	for n := 0; n < letters; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("auth: recovery code: %w", err)
		}
		for _, b := range buf {
			if b >= limit || n == letters {
				continue
			}
			if n > 0 && n%recoveryGroupLen == 0 {
				out = append(out, '-')
			}
			out = append(out, recoveryAlphabet[int(b)%len(recoveryAlphabet)])
			n++
		}
	}
	return string(out), nil
}

// normalizeRecoveryCode lower-cases code and drops spaces and dashes, so that
// "ABCD EFGH JKMN" and "abcd-efgh-jkmn" are the same code.
func normalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, code)
}

func hashRecoveryCode(code string) string {
	sum := sha256.Sum256([]byte(normalizeRecoveryCode(code)))
	return hex.EncodeToString(sum[:])
}

// HashRecoveryCodes returns the value stored in store.User.RecoveryCodes: a
// JSON array of the SHA-256 hex hashes of the normalized codes.
func HashRecoveryCodes(codes []string) (string, error) {
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = hashRecoveryCode(c)
	}
	b, err := json.Marshal(hashes)
	if err != nil {
		return "", fmt.Errorf("auth: encode recovery codes: %w", err)
	}
	return string(b), nil
}

// useRecoveryCode looks code up in stored (as made by HashRecoveryCodes) and
// returns the stored value without it. Every hash is compared, in constant time.
func useRecoveryCode(stored, code string) (remaining string, ok bool, err error) {
	if stored == "" {
		return stored, false, nil
	}
	var hashes []string
	if err := json.Unmarshal([]byte(stored), &hashes); err != nil {
		return stored, false, fmt.Errorf("auth: decode recovery codes: %w", err)
	}
	norm := normalizeRecoveryCode(code)
	if len(norm) != recoveryGroups*recoveryGroupLen {
		return stored, false, nil
	}
	want := []byte(hashRecoveryCode(norm))
	idx := -1
	for i, h := range hashes {
		if subtle.ConstantTimeCompare([]byte(h), want) == 1 && idx < 0 {
			idx = i
		}
	}
	if idx < 0 {
		return stored, false, nil
	}
	hashes = append(hashes[:idx], hashes[idx+1:]...)
	b, err := json.Marshal(hashes)
	if err != nil {
		return stored, false, fmt.Errorf("auth: encode recovery codes: %w", err)
	}
	return string(b), true, nil
}
