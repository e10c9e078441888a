package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KeyFileName is the name of the signing key file in the data directory.
const KeyFileName = "signing.key"

// keyFileVersion is the version of the signing key file format.
const keyFileVersion = 1

// keyFile is the signing key file: JSON, the private key sealed by the caller.
type keyFile struct {
	Version   int    `json:"version"`
	Algorithm string `json:"algorithm"`  // "ed25519"
	PublicKey string `json:"public_key"` // base64, to check the unsealed key against
	Sealed    string `json:"sealed"`     // base64 of seal(the 32-byte Ed25519 seed)
}

// Signer is the server's Ed25519 signing key. It is safe for concurrent use.
type Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	fp   string
}

// NewSigner returns a Signer for priv, which it copies. It panics if priv is not an
// Ed25519 private key (ed25519.PrivateKeySize bytes), a programming error.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	if len(priv) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("bundle: NewSigner: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize))
	}
	p := make(ed25519.PrivateKey, len(priv))
	copy(p, priv)
	pub := p.Public().(ed25519.PublicKey)
	return &Signer{priv: p, pub: pub, fp: Fingerprint(pub)}
}

// LoadOrCreateSigner loads dataDir/signing.key, creating it (mode 0600, its directory
// 0700) with a new key on first use. The file holds the private key sealed: seal and
// open are the caller's (the server passes its vault's Seal and Open with an AAD of
// its choice; tests may pass functions that return their input). A file that does not
// parse, or whose key does not unseal to the public key beside it, is ErrKeyFile.
func LoadOrCreateSigner(dataDir string, seal func([]byte) ([]byte, error), open func([]byte) ([]byte, error)) (*Signer, error) {
	if seal == nil || open == nil {
		return nil, errors.New("bundle: LoadOrCreateSigner needs seal and open functions")
	}
	path := filepath.Join(dataDir, KeyFileName)
	s, err := loadSigner(path, open)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bundle: generate signing key: %w", err)
	}
	s = NewSigner(priv)
	sealed, err := seal(priv.Seed())
	if err != nil {
		return nil, fmt.Errorf("bundle: seal signing key: %w", err)
	}
	data, err := json.MarshalIndent(keyFile{
		Version:   keyFileVersion,
		Algorithm: "ed25519",
		PublicKey: base64.StdEncoding.EncodeToString(s.pub),
		Sealed:    base64.StdEncoding.EncodeToString(sealed),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bundle: encode signing key: %w", err)
	}
	created, err := createExclusive(path, append(data, '\n'))
	if err != nil {
		return nil, err
	}
	if !created { // another process created it first: use theirs
		return loadSigner(path, open)
	}
	return s, nil
}

// loadSigner reads and unseals the key file at path.
func loadSigner(path string, open func([]byte) ([]byte, error)) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: read signing key: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	if kf.Version != keyFileVersion || kf.Algorithm != "ed25519" {
		return nil, fmt.Errorf("%w %s: version %d, algorithm %q (want %d, ed25519)", ErrKeyFile, path, kf.Version, kf.Algorithm, keyFileVersion)
	}
	sealed, err := base64.StdEncoding.DecodeString(kf.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%w %s: sealed key: %w", ErrKeyFile, path, err)
	}
	seed, err := open(sealed)
	if err != nil {
		return nil, fmt.Errorf("%w %s: unseal: %w", ErrKeyFile, path, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w %s: unsealed key has %d bytes, want %d", ErrKeyFile, path, len(seed), ed25519.SeedSize)
	}
	s := NewSigner(ed25519.NewKeyFromSeed(seed))
	clear(seed)
	if kf.PublicKey != base64.StdEncoding.EncodeToString(s.pub) {
		return nil, fmt.Errorf("%w %s: the sealed key does not match its public key", ErrKeyFile, path)
	}
	return s, nil
}

// createExclusive writes data to path unless path exists (then created is false):
// to a temporary file first, synced, then linked into place, so that neither a crash
// nor a concurrent start leaves a half-written key file.
func createExclusive(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("bundle: create signing key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+KeyFileName+".*")
	if err != nil {
		return false, fmt.Errorf("bundle: create signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, fmt.Errorf("bundle: create signing key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("bundle: write signing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("bundle: sync signing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("bundle: close signing key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("bundle: create signing key: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the new name durable too; best effort
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}

// PublicKey returns the public key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.pub }

// Fingerprint returns the key's fingerprint, as Fingerprint does.
func (s *Signer) Fingerprint() string { return s.fp }

// PublicKeyText returns the public key as one OpenSSH line, "ssh-ed25519 AAAA... portcullis",
// which `ssh-keygen -lf` reads and shows with the same fingerprint.
func (s *Signer) PublicKeyText() string {
	k, err := ssh.NewPublicKey(s.pub)
	if err != nil { // cannot happen: the key is an Ed25519 key
		return ""
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n") + " portcullis"
}

// sign signs msg.
func (s *Signer) sign(msg []byte) []byte { return ed25519.Sign(s.priv, msg) }

// Fingerprint returns the fingerprint of an Ed25519 public key as OpenSSH shows it
// (ssh-keygen -l): "SHA256:" and the unpadded base64 of the SHA-256 of the key in SSH
// wire format (string "ssh-ed25519", string key).
func Fingerprint(pub ed25519.PublicKey) string {
	const algo = "ssh-ed25519"
	wire := make([]byte, 0, 4+len(algo)+4+len(pub))
	wire = binary.BigEndian.AppendUint32(wire, uint32(len(algo)))
	wire = append(wire, algo...)
	wire = binary.BigEndian.AppendUint32(wire, uint32(len(pub)))
	wire = append(wire, pub...)
	sum := sha256.Sum256(wire)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}
