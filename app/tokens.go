package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// tokenStore keeps the window's session token of each profile so that a
// restart does not ask for a new login, sealed with AES-256-GCM: tokens.enc
// holds only ciphertext, and the key is a separate random file (token.key),
// both 0600 in the config dir. This keeps tokens out of plain text (backups
// and copies of profiles.json, a glance at the config dir); it does not
// protect them from a program running as the same user, which an OS keyring
// would not either once unlocked. The profile ID is bound as additional data,
// so a token cannot be moved to another profile's entry.
type tokenStore struct {
	dir string
	mu  sync.Mutex
}

const (
	tokenFile    = "tokens.enc"
	tokenKeyFile = "token.key"
	maxTokenLen  = 4096
)

type sealedToken struct {
	Nonce []byte `json:"nonce"`
	Data  []byte `json:"data"`
}

func (s *tokenStore) aead(create bool) (cipher.AEAD, error) {
	path := filepath.Join(s.dir, tokenKeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, key, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("app: %s: not a 32-byte key", path)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *tokenStore) load() (map[string]sealedToken, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, tokenFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]sealedToken{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]sealedToken{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("app: %s: %w", tokenFile, err)
	}
	return m, nil
}

func (s *tokenStore) save(m map[string]sealedToken) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, tokenFile), b, 0o600)
}

// put seals token for profile; an empty token removes it.
func (s *tokenStore) put(profile, token string) error {
	if len(token) > maxTokenLen {
		return errors.New("token too long")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		m = map[string]sealedToken{} // unreadable: start over rather than keep failing
	}
	if token == "" {
		delete(m, profile)
		return s.save(m)
	}
	g, err := s.aead(true)
	if err != nil {
		return fmt.Errorf("app: token key: %w", err)
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return err
	}
	m[profile] = sealedToken{Nonce: nonce, Data: g.Seal(nil, nonce, []byte(token), []byte(profile))}
	return s.save(m)
}

// get opens the token of profile ("" when there is none or it cannot be opened).
func (s *tokenStore) get(profile string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return ""
	}
	st, ok := m[profile]
	if !ok {
		return ""
	}
	g, err := s.aead(false)
	if err != nil || len(st.Nonce) != g.NonceSize() {
		return ""
	}
	plain, err := g.Open(nil, st.Nonce, st.Data, []byte(profile))
	if err != nil {
		return ""
	}
	return string(plain)
}
