package asset

import (
	"errors"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// Limits enforced by validation.
const (
	MaxNameLen     = 128  // names and usernames, in characters
	MaxAddressLen  = 253  // a DNS name, in bytes
	MaxLabelLen    = 128  // one "key:value" label, in characters
	MaxLabels      = 100  // labels per asset
	MaxCommentLen  = 1024 // in characters
	MaxPasswordLen = 1024 // in bytes
	MaxKeyLen      = 16 << 10
)

// checkText reports whether s is valid UTF-8 of at most max characters without
// control characters (tab, CR and LF allowed when multiline).
func checkText(field, s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(field, "must be at most %d characters (got %d)", max, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// checkName trims *s and checks it is a required single-line name.
func checkName(field string, s *string) error {
	*s = strings.TrimSpace(*s)
	if *s == "" {
		return invalid(field, "is required")
	}
	return checkText(field, *s, MaxNameLen, false)
}

// ValidateAsset normalizes a in place and checks it. Name: 1..128 characters,
// no control characters, no "@" (the SSH gateway's user@account@asset syntax
// splits on it), surrounding spaces trimmed. Address: a host name made of RFC
// 1123 labels, or an IPv4 or IPv6 literal (brackets removed), at most 253
// bytes. PlatformID: required (whether it exists is CheckAssetRefs' job).
// Protocols: at least one, known names (lowercased), ports 1..65535, no name
// twice. Labels: "key:value", at most 128 characters each, no ";", trimmed
// around the colon, duplicates dropped. Comment: at most 1024 characters.
func ValidateAsset(a *store.Asset) error {
	if errs := validateAsset(a); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// validateAsset is ValidateAsset reporting every bad field, in field order.
func validateAsset(a *store.Asset) []*FieldError {
	var errs []*FieldError
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.(*FieldError))
		}
	}
	if err := checkName("name", &a.Name); err != nil {
		add(err)
	} else if strings.ContainsRune(a.Name, '@') {
		add(invalid("name", `must not contain "@"`))
	}
	if addr, err := NormalizeAddress(a.Address); err != nil {
		add(err)
	} else {
		a.Address = addr
	}
	if a.PlatformID == 0 {
		add(invalid("platform_id", "is required"))
	}
	if protos, err := normalizeProtocols(a.Protocols); err != nil {
		add(err)
	} else {
		a.Protocols = protos
	}
	if a.ZoneID != nil && *a.ZoneID == 0 {
		a.ZoneID = nil
	}
	if labels, err := normalizeLabels(a.Labels); err != nil {
		add(err)
	} else {
		a.Labels = labels
	}
	a.Comment = strings.TrimSpace(a.Comment)
	add(checkText("comment", a.Comment, MaxCommentLen, true))
	return errs
}

// NormalizeAddress trims s and checks that it is a host name (RFC 1123 labels
// of letters, digits and hyphens, the last label not all digits) or an IP
// literal; "[v6]" loses its brackets. Errors name the field "address".
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("address", "is required")
	}
	if len(s) > MaxAddressLen {
		return "", invalid("address", "must be at most %d bytes", MaxAddressLen)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && ip.Is6() {
			return NormalizeAddress(s[1 : len(s)-1])
		}
		return "", invalid("address", "%q is not an IPv6 address", clip(s, 64))
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if z := ip.Zone(); z != "" && !isZoneName(z) {
			return "", invalid("address", "bad IPv6 zone %q", clip(z, 32))
		}
		return s, nil
	}
	if !isHostname(s) {
		return "", invalid("address", "%q is neither a host name nor an IP address", clip(s, 64))
	}
	return s, nil
}

// isZoneName accepts interface names and numbers as IPv6 zones ("eth0", "3").
func isZoneName(z string) bool {
	if len(z) > 32 {
		return false
	}
	for i := 0; i < len(z); i++ {
		c := z[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func isHostname(s string) bool {
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) < 1 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// "10.0.0.300" or "1234" is a mistyped address, not a name.
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

func normalizeLabels(in store.JSONList) (store.JSONList, error) {
	out := store.JSONList{}
	seen := make(map[string]bool, len(in))
	for _, l := range in {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, invalid("labels", `%q is not "key:value"`, l)
		}
		l = k + ":" + v
		if strings.ContainsRune(l, ';') {
			return nil, invalid("labels", `%q must not contain ";"`, l)
		}
		if err := checkText("labels", l, MaxLabelLen, false); err != nil {
			return nil, err
		}
		if seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	if len(out) > MaxLabels {
		return nil, invalid("labels", "at most %d labels", MaxLabels)
	}
	return out, nil
}

// ValidateAccount normalizes a in place and checks it together with secret,
// the new plaintext secret ("" when none is given). Name: 1..128 characters, no
// control characters, no "@". Username: 1..128 characters, no control
// characters, no white space. SecretType: password or ssh_key (lowercased;
// when creating, empty means password). A password is at most 1024 bytes; an
// ssh_key secret must be an unencrypted private key that
// golang.org/x/crypto/ssh parses. When creating, an ssh_key account needs its
// key; a password account may be created without a secret (HasSecret stays
// false). When updating, an empty secret keeps the stored one: the caller must
// refuse a change of SecretType without a new secret when one is stored.
// AssetID is required (whether the asset is in the org is the caller's job).
func ValidateAccount(a *store.Account, secret string, creating bool) error {
	if errs := validateAccount(a, secret, creating); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// validateAccount is ValidateAccount reporting every bad field.
func validateAccount(a *store.Account, secret string, creating bool) []*FieldError {
	var errs []*FieldError
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.(*FieldError))
		}
	}
	if err := checkName("name", &a.Name); err != nil {
		add(err)
	} else if strings.ContainsRune(a.Name, '@') {
		add(invalid("name", `must not contain "@"`))
	}
	add(checkUsername(&a.Username))
	if a.AssetID == 0 {
		add(invalid("asset_id", "is required"))
	}
	if err := normalizeSecretType(&a.SecretType, creating); err != nil {
		add(err)
	} else {
		add(ValidateSecret(a.SecretType, secret, creating))
	}
	a.Comment = strings.TrimSpace(a.Comment)
	add(checkText("comment", a.Comment, MaxCommentLen, true))
	return errs
}

func checkUsername(u *string) error {
	if err := checkName("username", u); err != nil {
		return err
	}
	if strings.IndexFunc(*u, unicode.IsSpace) >= 0 {
		return invalid("username", "must not contain white space")
	}
	return nil
}

func normalizeSecretType(t *string, creating bool) error {
	*t = strings.ToLower(strings.TrimSpace(*t))
	if *t == "" && creating {
		*t = store.SecretPassword
	}
	if *t != store.SecretPassword && *t != store.SecretSSHKey {
		return invalid("secret_type", "must be %q or %q", store.SecretPassword, store.SecretSSHKey)
	}
	return nil
}

// ValidateSecret checks a plaintext secret of the given type (see
// ValidateAccount). Errors name the field "secret".
func ValidateSecret(secretType, secret string, creating bool) error {
	if secret == "" {
		if creating && secretType == store.SecretSSHKey {
			return invalid("secret", "a private key is required when secret_type is ssh_key")
		}
		return nil
	}
	switch secretType {
	case store.SecretPassword:
		if len(secret) > MaxPasswordLen {
			return invalid("secret", "a password must be at most %d bytes", MaxPasswordLen)
		}
	case store.SecretSSHKey:
		if len(secret) > MaxKeyLen {
			return invalid("secret", "a private key must be at most %d bytes", MaxKeyLen)
		}
		if _, err := ssh.ParsePrivateKey([]byte(secret)); err != nil {
			var pm *ssh.PassphraseMissingError
			switch t := strings.TrimSpace(secret); {
			case errors.As(err, &pm):
				return invalid("secret", "encrypted private keys are not supported: remove the passphrase first (ssh-keygen -p -N '' -f KEYFILE)")
			case strings.HasPrefix(t, "ssh-") || strings.HasPrefix(t, "ecdsa-") || strings.Contains(t, "PUBLIC KEY"):
				return invalid("secret", "this is a public key: give the private key")
			default:
				return invalid("secret", "not a private key SSH can read (OpenSSH, PKCS#1, PKCS#8 or SEC1 PEM): %v", err)
			}
		}
	}
	return nil
}

// ValidateZone normalizes z in place and checks its name (1..128 characters,
// no control characters) and comment (at most 1024 characters).
func ValidateZone(z *store.Zone) error {
	if err := checkName("name", &z.Name); err != nil {
		return err
	}
	z.Comment = strings.TrimSpace(z.Comment)
	return checkText("comment", z.Comment, MaxCommentLen, true)
}

// ValidateGateway normalizes g in place and checks it with secret, as
// ValidateAccount does for accounts: name, zone_id (required), address (as
// for assets), port 1..65535, username, secret_type and secret, priority ≥ 0.
func ValidateGateway(g *store.Gateway, secret string, creating bool) error {
	if err := checkName("name", &g.Name); err != nil {
		return err
	}
	if g.ZoneID == 0 {
		return invalid("zone_id", "is required")
	}
	addr, err := NormalizeAddress(g.Address)
	if err != nil {
		return err
	}
	g.Address = addr
	if g.Port < 1 || g.Port > 65535 {
		return invalid("port", "must be between 1 and 65535")
	}
	if err := checkUsername(&g.Username); err != nil {
		return err
	}
	if err := normalizeSecretType(&g.SecretType, creating); err != nil {
		return err
	}
	if err := ValidateSecret(g.SecretType, secret, creating); err != nil {
		return err
	}
	if g.Priority < 0 {
		return invalid("priority", "must not be negative")
	}
	return nil
}
