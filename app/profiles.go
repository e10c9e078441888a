package app

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LocalProfileID is the profile of the embedded backend; it always exists.
const LocalProfileID = "local"

// Profile is a backend the window can work with: the embedded Local one, or a
// remote portcullisd whose certificate fingerprint is pinned.
type Profile struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"` // "local" or "remote"
	URL         string    `json:"url,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	AddedAt     time.Time `json:"added_at,omitzero"`
}

// Profiles is the list the window shows, with the current one.
type Profiles struct {
	Current  string    `json:"current"`
	Profiles []Profile `json:"profiles"`
}

// profileFile is profiles.json in the config dir: the remote profiles and
// the current one (no secrets).
type profileFile struct {
	Current string    `json:"current"`
	Remote  []Profile `json:"remote"`
}

// profileStore keeps the profiles in a JSON file, written atomically.
type profileStore struct {
	path string
	mu   sync.Mutex
	f    profileFile
}

func loadProfiles(path string) (*profileStore, error) {
	s := &profileStore{path: path, f: profileFile{Current: LocalProfileID}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("app: profiles: %w", err)
	}
	if err := json.Unmarshal(b, &s.f); err != nil {
		return &profileStore{path: path, f: profileFile{Current: LocalProfileID}}, fmt.Errorf("app: profiles %s: %w", path, err)
	}
	if s.find(s.f.Current) == nil {
		s.f.Current = LocalProfileID
	}
	return s, nil
}

func localProfile() Profile { return Profile{ID: LocalProfileID, Name: "Local", Kind: "local"} }

// find returns the profile with id, or nil; mu held or not needed.
func (s *profileStore) find(id string) *Profile {
	if id == LocalProfileID {
		p := localProfile()
		return &p
	}
	for i := range s.f.Remote {
		if s.f.Remote[i].ID == id {
			p := s.f.Remote[i]
			return &p
		}
	}
	return nil
}

func (s *profileStore) list() Profiles {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Profiles{Current: s.f.Current, Profiles: []Profile{localProfile()}}
	out.Profiles = append(out.Profiles, s.f.Remote...)
	return out
}

func (s *profileStore) current() Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.find(s.f.Current)
}

// add stores a remote profile; names and URLs are unique.
func (s *profileStore) add(name, url, fp string) (Profile, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "\r\n\t") {
		return Profile{}, errors.New("profile name: 1 to 64 characters on one line")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.f.Remote {
		if strings.EqualFold(p.Name, name) || strings.EqualFold(name, "Local") {
			return Profile{}, fmt.Errorf("a profile named %q exists", name)
		}
		if p.URL == url {
			return Profile{}, fmt.Errorf("profile %q already connects to %s", p.Name, url)
		}
	}
	b := make([]byte, 6)
	rand.Read(b)
	p := Profile{ID: "r-" + hex.EncodeToString(b), Name: name, Kind: "remote", URL: url, Fingerprint: fp, AddedAt: time.Now().UTC()}
	s.f.Remote = append(s.f.Remote, p)
	return p, s.saveLocked()
}

func (s *profileStore) setCurrent(id string) (Profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(id)
	if p == nil {
		return Profile{}, fmt.Errorf("no profile %q", id)
	}
	s.f.Current = id
	return *p, s.saveLocked()
}

func (s *profileStore) remove(id string) error {
	if id == LocalProfileID {
		return errors.New("the Local profile cannot be removed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.f.Remote {
		if p.ID == id {
			s.f.Remote = append(s.f.Remote[:i], s.f.Remote[i+1:]...)
			if s.f.Current == id {
				s.f.Current = LocalProfileID
			}
			return s.saveLocked()
		}
	}
	return fmt.Errorf("no profile %q", id)
}

func (s *profileStore) saveLocked() error {
	b, err := json.MarshalIndent(s.f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("app: profiles: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("app: profiles: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("app: profiles: %w", err)
	}
	return nil
}
