package sshgw

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLoginNameLen bounds the SSH user name the gateway accepts, in bytes:
// Portcullis user names and asset and account names are 128 characters at
// most, so a longer login name cannot name anything.
const MaxLoginNameLen = 1024

// Errors of ParseTarget. Each is shown to the user, after "sshgw: ".
var (
	ErrEmptyName    = errors.New("sshgw: empty user name")
	ErrNameTooLong  = errors.New("sshgw: user name too long")
	ErrInvalidUTF8  = errors.New("sshgw: user name is not valid UTF-8")
	ErrControlChars = errors.New("sshgw: user name contains control characters")
	ErrEmptyPart    = errors.New("sshgw: empty part in user@account@asset")
)

// Target is what the SSH user name asks for: the Portcullis user, and
// optionally an asset and an account on it. The OpenSSH client sends all that
// precedes the last "@host" of its destination as the user name, so
// "ssh alice@root@web01@bastion" sends "alice@root@web01".
type Target struct {
	User    string // Portcullis user name
	Asset   string // asset name; empty: show the picker
	Account string // account name, "@INPUT" or "@USER"; empty: the only one, or ask
}

// Direct reports whether the user name names an asset.
func (t Target) Direct() bool { return t.Asset != "" }

// String returns the user name that parses to t.
func (t Target) String() string {
	switch {
	case t.Asset == "":
		return t.User
	case t.Account == "":
		return t.User + "@" + t.Asset
	}
	return t.User + "@" + t.Account + "@" + t.Asset
}

// ParseTarget splits an SSH user name: "alice" (picker), "alice@web01" (asset
// web01), "alice@root@web01" (account root on web01). User and asset names
// never contain "@", so the user is what precedes the first "@" and the asset
// what follows the last one; the account is what lies between and may itself
// hold "@" ("alice@@INPUT@web01" asks for the @INPUT account). Empty parts,
// invalid UTF-8, control or format characters and names longer than
// MaxLoginNameLen are refused.
func ParseTarget(name string) (Target, error) {
	switch {
	case name == "":
		return Target{}, ErrEmptyName
	case len(name) > MaxLoginNameLen:
		return Target{}, fmt.Errorf("%w (%d bytes, at most %d)", ErrNameTooLong, len(name), MaxLoginNameLen)
	case !utf8.ValidString(name):
		return Target{}, ErrInvalidUTF8
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return Target{}, ErrControlChars
		}
	}
	first := strings.IndexByte(name, '@')
	if first < 0 {
		return Target{User: name}, nil
	}
	t := Target{User: name[:first]}
	rest := name[first+1:]
	last := strings.LastIndexByte(rest, '@')
	if last < 0 {
		t.Asset = rest
	} else {
		t.Account, t.Asset = rest[:last], rest[last+1:]
		if t.Account == "" {
			return Target{}, ErrEmptyPart
		}
	}
	if t.User == "" || t.Asset == "" {
		return Target{}, ErrEmptyPart
	}
	return t, nil
}
