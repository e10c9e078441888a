// Package vault seals secrets at rest (account passwords and keys, TOTP seeds,
// SMTP passwords) with AES-256-GCM under a key file kept outside the database.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the name of the key file in the data dir.
const KeyFileName = "secret.key"

const keySize = 32

// sealVersion prefixes every sealed value so the format can evolve.
const sealVersion = 1

// Errors returned by the vault.
var (
	ErrBadCiphertext = errors.New("vault: ciphertext is malformed or was altered")
	ErrKeyFile       = errors.New("vault: bad key file")
)

// Vault seals and unseals secrets with one AES-256-GCM key.
type Vault struct {
	aead cipher.AEAD
}

// Open loads DIR/secret.key, creating it (0600, 32 random bytes) on first use.
func Open(dir string) (*Vault, error) {
	path := filepath.Join(dir, KeyFileName)
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("vault: generate key: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("vault: create key file: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("vault: write key file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("vault: sync key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("vault: close key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("vault: read key file: %w", err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("%w: %s holds %d bytes, want %d", ErrKeyFile, path, len(key), keySize)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("vault: tighten key file mode: %w", err)
		}
	}
	return New(key)
}

// New returns a vault for a raw 32-byte key.
func New(key []byte) (*Vault, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrKeyFile, len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &Vault{aead: aead}, nil
}

// Seal encrypts plaintext. aad binds the ciphertext to its place (e.g. "account:42")
// so a sealed value copied to another row does not open there.
func (v *Vault) Seal(plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+v.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, nonce...)
	return v.aead.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// Unseal decrypts a value made by Seal with the same aad.
func (v *Vault) Unseal(sealed []byte, aad string) ([]byte, error) {
	ns := v.aead.NonceSize()
	if len(sealed) < 1+ns+v.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrBadCiphertext
	}
	pt, err := v.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(aad))
	if err != nil {
		return nil, ErrBadCiphertext
	}
	return pt, nil
}
