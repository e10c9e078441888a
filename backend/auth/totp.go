package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238 defaults, the only ones authenticator apps agree on).
const (
	TOTPDigits = 6
	TOTPPeriod = 30 * time.Second
	// TOTPSkew is how many time steps before and after the current one are accepted.
	TOTPSkew = 1

	totpSecretBytes = 20 // 160 bits, as RFC 4226 recommends
)

var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a fresh random 160-bit TOTP secret, base32 without padding.
func NewTOTPSecret() (string, error) {
	b := make([]byte, totpSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: TOTP secret: %w", err)
	}
	return totpEncoding.EncodeToString(b), nil
}

// TOTPURI returns the otpauth:// URI that authenticator apps read from a QR code:
// otpauth://totp/Issuer:account?secret=...&issuer=Issuer&algorithm=SHA1&digits=6&period=30.
func TOTPURI(issuer, account, secret string) string {
	label := escapeURIComponent(account)
	if issuer != "" {
		label = escapeURIComponent(issuer) + ":" + label
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(label)
	b.WriteString("?secret=")
	b.WriteString(escapeURIComponent(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escapeURIComponent(issuer))
	}
	fmt.Fprintf(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTPDigits, int(TOTPPeriod/time.Second))
	return b.String()
}

// escapeURIComponent escapes s for a path segment or a query value; spaces
// become %20 (some authenticator apps show a literal "+").
func escapeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// decodeTOTPSecret decodes a base32 secret, tolerating lower case, spaces and padding.
func decodeTOTPSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.ReplaceAll(secret, " ", ""))
	s = strings.TrimRight(s, "=")
	key, err := totpEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("auth: bad TOTP secret: %w", err)
	}
	if len(key) < 10 {
		return nil, fmt.Errorf("auth: bad TOTP secret: %d bytes, want at least 10", len(key))
	}
	return key, nil
}

// hotp computes the RFC 4226 HOTP value of key and counter with the given number of digits.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

// TOTPStep returns the RFC 6238 time-step counter of t.
func TOTPStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// TOTPCode returns the code of secret at time t. Authenticator apps compute the
// same; Portcullis itself only needs it in tests and tools.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return "", err
	}
	step := TOTPStep(t)
	if step < 0 {
		return "", fmt.Errorf("auth: time %v before the Unix epoch", t)
	}
	return hotp(key, uint64(step), TOTPDigits), nil
}

// normalizeOTP strips the spaces and dashes people type ("123 456") and
// reports whether what is left is a TOTP code (exactly TOTPDigits ASCII digits).
func normalizeOTP(code string) (string, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code)
	if len(code) != TOTPDigits {
		return code, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return code, false
		}
	}
	return code, true
}

// ValidateTOTP checks code against secret at time now, accepting the current
// time step and TOTPSkew steps on either side, and returns the time-step
// counter that matched. A wrong or malformed code is ErrOTPInvalid; a bad
// secret is another error. It does not refuse reuse: the caller must remember
// the returned counter and refuse a counter that is not greater than the last
// one used (Service does).
func ValidateTOTP(secret, code string, now time.Time) (int64, error) {
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return 0, err
	}
	code, ok := normalizeOTP(code)
	if !ok {
		return 0, ErrOTPInvalid
	}
	cur := TOTPStep(now)
	matched := int64(-1)
	// Check every candidate without stopping early; the work does not depend on the code.
	for step := cur - TOTPSkew; step <= cur+TOTPSkew; step++ {
		if step < 0 {
			continue
		}
		want := hotp(key, uint64(step), TOTPDigits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && matched < 0 {
			matched = step
		}
	}
	if matched < 0 {
		return 0, ErrOTPInvalid
	}
	return matched, nil
}
