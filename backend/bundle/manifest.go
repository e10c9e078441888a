package bundle

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors of the package. Verify reports a tampered bundle in its Report, not as an
// error; these are for a caller's mistakes, I/O, and files that are no bundle at all.
var (
	// ErrNotBundle is returned by Verify and Open for a file that is not a zip file,
	// or a zip file that holds none of a bundle's files.
	ErrNotBundle = errors.New("bundle: not a Portcullis bundle")
	// ErrKeyFile is returned by LoadOrCreateSigner for a signing key file it cannot use.
	ErrKeyFile = errors.New("bundle: bad signing key file")
	// ErrRecordingKind is returned by Write for a recording name that is neither a
	// terminal recording (.cast, .cast.gz) nor a desktop one (.guac).
	ErrRecordingKind = errors.New("bundle: unknown kind of recording")
	// ErrTooLarge is returned when a file is larger than a bundle may hold, or larger
	// than its zip header says (a zip bomb).
	ErrTooLarge = errors.New("bundle: file too large")
	// ErrMissing is returned by a Bundle asked for a file it does not have.
	ErrMissing = errors.New("bundle: file not in the bundle")
)

// Format and Version identify a bundle's manifest.
const (
	Format  = "portcullis-bundle"
	Version = 1
)

// Names of the files of a bundle.
const (
	NameCast     = "recording.cast" // a terminal recording, asciicast v2, uncompressed
	NameGuac     = "recording.guac" // a desktop recording, Guacamole protocol
	NameIndex    = "recording.idx"  // the recording's seek index, if it has one
	NameSession  = "session.json"   // Metadata
	NameManifest = "manifest.json"  // Manifest
	NameSig      = "manifest.sig"   // base64 of the Ed25519 signature of manifest.json, and "\n"
)

// Limits of what Verify and Bundle read: a hostile file cannot make them use more.
const (
	// MaxFiles is the most entries a bundle may have (it has four or five).
	MaxFiles = 16
	// MaxFileSize is the largest a file inside a bundle may be, uncompressed.
	MaxFileSize = 8 << 30
	// MaxManifestSize is the largest a manifest.json may be.
	MaxManifestSize = 1 << 20
	// MaxSessionSize is the largest a session.json may be: it is read into memory.
	MaxSessionSize = 64 << 20
	maxSigSize     = 1 << 10
	maxNameLen     = 1 << 10
	maxCentralSize = MaxFiles * (centralLen + maxNameLen + 64)
	maxTail        = endLen + max16
)

// Manifest lists the files of a bundle with their digests; it is stored as
// manifest.json, and manifest.sig holds its signature.
type Manifest struct {
	Format    string       `json:"format"`  // "portcullis-bundle"
	Version   int          `json:"version"` // 1
	SessionID string       `json:"session_id"`
	CreatedAt time.Time    `json:"created_at"`
	Files     []FileDigest `json:"files"`
	// ZipPrefix is the digest of the zip bytes before manifest.json: the files above as
	// stored (headers, compressed data). With it the signature covers the bundle byte for
	// byte; a verifier with only unzip and sha256sum may ignore it.
	ZipPrefix ZipPrefix  `json:"zip_prefix"`
	Signer    SignerInfo `json:"signer"`
}

// FileDigest is one file of a bundle as the manifest lists it.
type FileDigest struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`   // uncompressed, in bytes
	SHA256 string `json:"sha256"` // lowercase hex of the uncompressed bytes
}

// ZipPrefix is the size and SHA-256 (lowercase hex) of the first bytes of a bundle file.
type ZipPrefix struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SignerInfo names the key that signed a manifest.
type SignerInfo struct {
	Algorithm   string `json:"algorithm"`   // "ed25519"
	PublicKey   string `json:"public_key"`  // standard base64 of the 32-byte key
	Fingerprint string `json:"fingerprint"` // as Fingerprint returns it
}

// File returns the manifest's entry for name.
func (m Manifest) File(name string) (FileDigest, bool) {
	for _, f := range m.Files {
		if f.Name == name {
			return f, true
		}
	}
	return FileDigest{}, false
}

// contentName reports whether name is one of the files a manifest lists.
func contentName(name string) bool {
	switch name {
	case NameCast, NameGuac, NameIndex, NameSession:
		return true
	}
	return false
}

// unsafeName says why a name in a zip file would be dangerous to extract, or "".
func unsafeName(name string) string {
	switch {
	case name == "":
		return "an empty name"
	case strings.ContainsRune(name, 0):
		return "a NUL byte in its name"
	case !utf8.ValidString(name):
		return "a name that is not UTF-8"
	case strings.ContainsRune(name, '\\'):
		return "a backslash in its name"
	case strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':'):
		return "an absolute path"
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return `a path that climbs out with ".."`
		}
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "a control character in its name"
	}
	return ""
}

// show returns s for a message: as it is when it is plain printable text, else quoted,
// so that a hostile name cannot put escape sequences on a terminal.
func show(s string) string {
	if s == "" {
		return `""`
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || r == '"' {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// sizeText returns n bytes in words: "1234 bytes", "8 GiB".
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n == 1:
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}
