package app

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Tokens are sealed per profile: never in plain text on disk, readable back,
// bound to their profile, forgotten on logout, and a lost key loses them
// rather than failing.
func TestTokenStore(t *testing.T) {
	dir := t.TempDir()
	s := &tokenStore{dir: dir}
	const tok = "pcs_SECRET-session-token-value"
	if where, err := s.put("r-1", tok); err != nil || where != keyInFile {
		t.Fatal(where, err)
	}
	if _, err := s.put("local", "pcs_other"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{tokenFile, tokenKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, st, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, tokenFile))
	if bytes.Contains(raw, []byte("SECRET")) {
		t.Fatal("the token is in plain text on disk")
	}
	if got := (&tokenStore{dir: dir}).get("r-1"); got != tok {
		t.Errorf("get: %q, want %q", got, tok)
	}
	// Moving a sealed entry to another profile does not open it there.
	m, _ := s.load()
	m["r-2"] = m["r-1"]
	s.save(m)
	if got := s.get("r-2"); got != "" {
		t.Errorf("an entry copied to another profile opened: %q", got)
	}
	if _, err := s.put("r-1", ""); err != nil {
		t.Fatal(err)
	}
	if got := s.get("r-1"); got != "" || s.get("local") != "pcs_other" {
		t.Errorf("after logout: r-1 %q, local %q", got, s.get("local"))
	}
	os.Remove(filepath.Join(dir, tokenKeyFile))
	if got := s.get("local"); got != "" {
		t.Errorf("without the key: %q, want nothing", got)
	}
	if _, err := s.put("local", "pcs_new"); err != nil || s.get("local") != "pcs_new" {
		t.Errorf("a new key after the old one was lost: %v", err)
	}
}
