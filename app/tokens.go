package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// tokenStore keeps the window's session token of each profile so that a
// restart does not ask for a new login, sealed with AES-256-GCM: tokens.enc
// holds only ciphertext. The key is kept in the OS keyring where the desktop
// session has one (see newOSKeyring), and otherwise in a separate random file
// (token.key); both files are 0600 in the config dir. Each entry records which
// key sealed it, so tokens sealed before a keyring was there still open (and
// move to the keyring's key when opened), and the key file is deleted once no
// entry needs it. A keyring that fails or does not answer makes the store fall
// back to the file rather than lose the login. This keeps tokens out of plain text (backups and copies of
// profiles.json, a glance at the config dir) and, with a keyring, keeps the
// key out of the config dir altogether; a program running as the same user in
// an unlocked session can still ask the keyring, as it can for any app. The
// profile ID is bound as additional data, so a token cannot be moved to
// another profile's entry.
type tokenStore struct {
	dir     string
	keyring secretStore  // nil: no OS keyring, the key is a file
	log     *slog.Logger // nil: silent

	mu     sync.Mutex  // guards the fields below and the files
	krKey  cipher.AEAD // the keyring's key, once read
	krDown error       // why the keyring is not asked again until the app restarts
}

const (
	tokenFile    = "tokens.enc"
	tokenKeyFile = "token.key"
	maxTokenLen  = 4096

	// keyringService is the service of the token key's keyring item; the item's
	// user names the config dir (see keyringUser).
	keyringService = "Portcullis desktop"
	// Where the key that sealed an entry is (sealedToken.Key).
	keyInFile    = ""
	keyInKeyring = "keyring"
)

type sealedToken struct {
	Key   string `json:"key,omitempty"` // keyInKeyring, or keyInFile
	Nonce []byte `json:"nonce"`
	Data  []byte `json:"data"`
}

// keyringUser names this config dir's key in the keyring: two config dirs
// (two installations, a test) have two keys.
func (s *tokenStore) keyringUser() string {
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		dir = s.dir
	}
	return "session token key for " + dir
}

// keyringAEAD opens the key kept in the keyring, making it first when create.
// The key is read once per run. A keyring that fails or does not answer (a
// locked one whose unlock prompt nobody answers) is not asked again until the
// app restarts: each call would wait keyringTimeout and leave another call
// hanging in the keyring, whose late answer could replace a key made since.
func (s *tokenStore) keyringAEAD(create bool) (cipher.AEAD, error) {
	if s.krKey != nil {
		return s.krKey, nil
	}
	if s.krDown != nil {
		return nil, s.krDown
	}
	g, err := s.readKeyringKey(create)
	if err != nil {
		if !isNotFound(err) {
			s.krDown = err
			if s.log != nil {
				s.log.Warn("OS keyring unavailable until the app restarts: session token keys go to a file", "err", err)
			}
		}
		return nil, err
	}
	s.krKey = g
	return g, nil
}

func (s *tokenStore) readKeyringKey(create bool) (cipher.AEAD, error) {
	v, err := s.keyring.Get(keyringService, s.keyringUser())
	if isNotFound(err) && create {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := s.keyring.Set(keyringService, s.keyringUser(), base64.StdEncoding.EncodeToString(key)); err != nil {
			return nil, fmt.Errorf("app: keep the token key in the OS keyring: %w", err)
		}
		// Read it back: another instance of the app may have made its own key at
		// the same moment, and the key is the one the keyring kept.
		v, err = s.keyring.Get(keyringService, s.keyringUser())
	}
	if err != nil {
		return nil, fmt.Errorf("app: the token key in the OS keyring: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) != 32 {
		return nil, errors.New("app: the OS keyring holds no 32-byte token key")
	}
	return newGCM(key)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// fileAEAD opens the key kept in token.key, making it first when create.
func (s *tokenStore) fileAEAD(create bool) (cipher.AEAD, error) {
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
	return newGCM(key)
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

// put seals token for profile; an empty token removes it. It answers where
// the key that sealed it is (keyInKeyring or keyInFile).
func (s *tokenStore) put(profile, token string) (string, error) {
	if len(token) > maxTokenLen {
		return "", errors.New("token too long")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		m = map[string]sealedToken{} // unreadable: start over rather than keep failing
	}
	if token == "" {
		delete(m, profile)
		if err := s.save(m); err != nil {
			return "", err
		}
		s.dropUnusedKeyFile(m)
		return "", nil
	}
	st, err := s.seal(profile, token)
	if err != nil {
		return "", err
	}
	m[profile] = st
	if err := s.save(m); err != nil {
		return "", err
	}
	s.dropUnusedKeyFile(m)
	return st.Key, nil
}

// seal seals token for profile with the keyring's key, or the key file's when
// there is no keyring or it fails.
func (s *tokenStore) seal(profile, token string) (sealedToken, error) {
	where := keyInFile
	var g cipher.AEAD
	if s.keyring != nil {
		var err error
		if g, err = s.keyringAEAD(true); err == nil {
			where = keyInKeyring
		}
	}
	if g == nil {
		var err error
		if g, err = s.fileAEAD(true); err != nil {
			return sealedToken{}, fmt.Errorf("app: token key: %w", err)
		}
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return sealedToken{}, err
	}
	return sealedToken{Key: where, Nonce: nonce, Data: g.Seal(nil, nonce, []byte(token), []byte(profile))}, nil
}

// dropUnusedKeyFile deletes token.key once the keyring holds the key of every
// entry (no key on disk that nothing needs).
func (s *tokenStore) dropUnusedKeyFile(m map[string]sealedToken) {
	if s.keyring == nil {
		return
	}
	for _, st := range m {
		if st.Key == keyInFile {
			return
		}
	}
	if err := os.Remove(filepath.Join(s.dir, tokenKeyFile)); err != nil && !errors.Is(err, os.ErrNotExist) && s.log != nil {
		s.log.Warn("delete the unused token key file", "err", err)
	}
}

// get opens the token of profile ("" when there is none or it cannot be
// opened: its key is gone, or in a keyring this session cannot reach).
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
	var g cipher.AEAD
	switch st.Key {
	case keyInFile:
		g, err = s.fileAEAD(false)
	case keyInKeyring:
		if s.keyring == nil {
			return ""
		}
		g, err = s.keyringAEAD(false)
	default:
		return ""
	}
	if err != nil || len(st.Nonce) != g.NonceSize() {
		// A keyring that failed said so once (keyringAEAD); a missing key file
		// or keyring item is a logout, not a fault.
		if err != nil && st.Key == keyInFile && s.log != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("session token key file unreadable", "err", err)
		}
		return ""
	}
	plain, err := g.Open(nil, st.Nonce, st.Data, []byte(profile))
	if err != nil {
		return ""
	}
	if st.Key == keyInFile && s.keyring != nil {
		// Sealed before the keyring was there (or while it failed): move it to
		// the keyring's key, so that the key file can go.
		if moved, err := s.seal(profile, string(plain)); err == nil && moved.Key == keyInKeyring {
			m[profile] = moved
			if err := s.save(m); err == nil {
				s.dropUnusedKeyFile(m)
			}
		}
	}
	return string(plain)
}
