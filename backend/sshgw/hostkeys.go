package sshgw

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// Host key files in Config.HostKeyDir, named as OpenSSH names them.
const (
	HostKeyEd25519File = "ssh_host_ed25519_key"
	HostKeyRSAFile     = "ssh_host_rsa_key"
	// MinRSABits is the smallest RSA host key the gateway uses or generates.
	MinRSABits = 3072
)

// rsaHostKeyAlgorithms are the only signature algorithms offered with the
// RSA host key: SHA-2, never ssh-rsa (SHA-1).
var rsaHostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}

// LoadHostKeys reads the gateway's host keys from dir, generating the missing
// ones (Ed25519 and RSA 3072) on the first start. Files are OpenSSH private
// keys (PEM "OPENSSH PRIVATE KEY"), mode 0600, in a 0700 directory. An RSA key
// shorter than MinRSABits is refused rather than used.
func LoadHostKeys(dir string) ([]ssh.Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sshgw: host key dir %s: %w", dir, err)
	}
	var signers []ssh.Signer
	for _, k := range []struct {
		file string
		gen  func() (crypto.Signer, error)
	}{
		{HostKeyEd25519File, func() (crypto.Signer, error) {
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			return priv, err
		}},
		{HostKeyRSAFile, func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, MinRSABits) }},
	} {
		s, err := loadOrCreateKey(filepath.Join(dir, k.file), k.gen)
		if err != nil {
			return nil, err
		}
		signers = append(signers, s)
	}
	return signers, nil
}

func loadOrCreateKey(path string, gen func() (crypto.Signer, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := gen()
		if err != nil {
			return nil, fmt.Errorf("sshgw: generate host key %s: %w", path, err)
		}
		block, err := ssh.MarshalPrivateKey(key, "portcullis gateway host key")
		if err != nil {
			return nil, fmt.Errorf("sshgw: encode host key %s: %w", path, err)
		}
		if err := writeFileAtomic(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
		return hostSigner(path, key)
	} else if err != nil {
		return nil, fmt.Errorf("sshgw: read host key: %w", err)
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("sshgw: parse host key %s: %w", path, err)
	}
	key, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("sshgw: host key %s: unsupported key type %T", path, raw)
	}
	return hostSigner(path, key)
}

// hostSigner wraps key, restricting RSA keys to SHA-2 signatures.
func hostSigner(path string, key crypto.Signer) (ssh.Signer, error) {
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("sshgw: host key %s: RSA key of %d bits, want at least %d (delete it to have a new one generated)", path, k.N.BitLen(), MinRSABits)
	}
	s, err := ssh.NewSignerFromSigner(key)
	if err != nil {
		return nil, fmt.Errorf("sshgw: host key %s: %w", path, err)
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		as, ok := s.(ssh.AlgorithmSigner)
		if !ok {
			return nil, fmt.Errorf("sshgw: host key %s: RSA signer without algorithm choice", path)
		}
		s, err = ssh.NewSignerWithAlgorithms(as, rsaHostKeyAlgorithms)
		if err != nil {
			return nil, fmt.Errorf("sshgw: host key %s: %w", path, err)
		}
	}
	return s, nil
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so that a crash never leaves a half-written key.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("sshgw: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("sshgw: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("sshgw: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sshgw: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sshgw: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sshgw: write %s: %w", path, err)
	}
	return nil
}
