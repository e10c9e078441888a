package bundle_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/bundle"
)

// identity stands in for the vault's Seal and Open.
func identity(b []byte) ([]byte, error) { return bytes.Clone(b), nil }

// xorSeal and xorOpen seal by flipping bits behind a prefix: enough to tell that the
// key file holds what seal returned, and that open gets it back.
func xorSeal(b []byte) ([]byte, error) { return append([]byte("sealed:"), xor(b)...), nil }

func xorOpen(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, []byte("sealed:"))
	if !ok {
		return nil, errors.New("vault: ciphertext is malformed or was altered")
	}
	return xor(rest), nil
}

func xor(b []byte) []byte {
	out := bytes.Clone(b)
	for i := range out {
		out[i] ^= 0x5a
	}
	return out
}

func TestLoadOrCreateSigner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := bundle.LoadOrCreateSigner(dir, xorSeal, xorOpen)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, bundle.KeyFileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	var kf map[string]any
	if err := json.Unmarshal(raw, &kf); err != nil || kf["version"] != 1.0 || kf["sealed"] == "" {
		t.Errorf("key file %s: want JSON with version 1 and a sealed key", raw)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %v, want only %s", entries, bundle.KeyFileName)
	}

	s2, err := bundle.LoadOrCreateSigner(dir, xorSeal, xorOpen)
	if err != nil {
		t.Fatal(err)
	}
	if !s1.PublicKey().Equal(s2.PublicKey()) || s1.Fingerprint() != s2.Fingerprint() {
		t.Errorf("reloaded key %s, want the same %s", s2.Fingerprint(), s1.Fingerprint())
	}

	t.Run("wrong unseal", func(t *testing.T) {
		_, err := bundle.LoadOrCreateSigner(dir, identity, func([]byte) ([]byte, error) { return nil, errors.New("vault: altered") })
		if !errors.Is(err, bundle.ErrKeyFile) || !strings.Contains(err.Error(), "vault: altered") {
			t.Errorf("got %v, want ErrKeyFile wrapping the vault's error", err)
		}
	})
	t.Run("sealed key of another public key", func(t *testing.T) {
		_, err := bundle.LoadOrCreateSigner(dir, identity, func([]byte) ([]byte, error) { return bytes.Repeat([]byte{9}, 32), nil })
		if !errors.Is(err, bundle.ErrKeyFile) {
			t.Errorf("got %v, want ErrKeyFile", err)
		}
	})
	for _, bad := range []string{"not json", `{"version":2,"algorithm":"ed25519","sealed":""}`, `{"version":1,"algorithm":"ed25519","sealed":"!!"}`} {
		t.Run("bad file "+bad, func(t *testing.T) {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, bundle.KeyFileName), []byte(bad), 0o600)
			if _, err := bundle.LoadOrCreateSigner(d, identity, identity); !errors.Is(err, bundle.ErrKeyFile) {
				t.Errorf("got %v, want ErrKeyFile", err)
			}
		})
	}
	t.Run("seal fails", func(t *testing.T) {
		_, err := bundle.LoadOrCreateSigner(t.TempDir(), func([]byte) ([]byte, error) { return nil, errors.New("no vault") }, identity)
		if err == nil || !strings.Contains(err.Error(), "no vault") {
			t.Errorf("got %v", err)
		}
	})
}

func TestLoadOrCreateSignerConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	fps := make([]string, 8)
	for i := range fps {
		wg.Go(func() {
			s, err := bundle.LoadOrCreateSigner(dir, identity, identity)
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = s.Fingerprint()
		})
	}
	wg.Wait()
	for _, fp := range fps {
		if fp != fps[0] {
			t.Fatalf("concurrent first starts made different keys: %v", fps)
		}
	}
}

// TestFingerprintMatchesOpenSSH checks Fingerprint against x/crypto/ssh and against the
// real ssh-keygen reading PublicKeyText.
func TestFingerprintMatchesOpenSSH(t *testing.T) {
	for _, seed := range []byte{1, 2, 3} {
		s := signerFromSeed(seed)
		text := s.PublicKeyText()
		if !strings.HasPrefix(text, "ssh-ed25519 AAAA") || !strings.HasSuffix(text, " portcullis") || strings.Contains(text, "\n") {
			t.Errorf("PublicKeyText() = %q, want one line ssh-ed25519 AAAA... portcullis", text)
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Fingerprint(), ssh.FingerprintSHA256(pk); got != want {
			t.Errorf("Fingerprint() = %s, x/crypto/ssh says %s", got, want)
		}
		if got := bundle.Fingerprint(s.PublicKey()); got != s.Fingerprint() {
			t.Errorf("Fingerprint(pub) = %s, want %s", got, s.Fingerprint())
		}

		keygen := needTool(t, "ssh-keygen", "openssh-client")
		path := filepath.Join(t.TempDir(), "server.pub")
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(keygen, "-lf", path).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen -lf: %v\n%s", err, out)
		}
		// "256 SHA256:... portcullis (ED25519)"
		fields := strings.Fields(string(out))
		if len(fields) < 2 || fields[1] != s.Fingerprint() {
			t.Errorf("ssh-keygen -lf says %q, Fingerprint() = %s", out, s.Fingerprint())
		}
	}
}

func TestNewSignerCopiesKey(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	s := bundle.NewSigner(priv)
	fp := s.Fingerprint()
	clear(priv)
	if !s.PublicKey().Equal(signerFromSeed(7).PublicKey()) || s.Fingerprint() != fp {
		t.Error("the signer changed with the caller's slice")
	}
}
