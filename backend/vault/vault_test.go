package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenCreatesKeyFile0600AndReopens(t *testing.T) {
	dir := t.TempDir()
	v1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode: got %o, want 600", got)
	}
	sealed, err := v1.Seal([]byte("hunter2"), "account:1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed value contains the plaintext")
	}
	v2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v2.Unseal(sealed, "account:1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hunter2" {
		t.Fatalf("got %q, want %q", got, "hunter2")
	}
}

func TestUnsealRejects(t *testing.T) {
	v, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := v.Seal([]byte("secret"), "account:1")
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	other, _ := Open(t.TempDir())
	tests := []struct {
		name   string
		v      *Vault
		sealed []byte
		aad    string
	}{
		{"wrong aad", v, sealed, "account:2"},
		{"flipped bit", v, flipped, "account:1"},
		{"truncated", v, sealed[:10], "account:1"},
		{"empty", v, nil, "account:1"},
		{"other key", other, sealed, "account:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.v.Unseal(tt.sealed, tt.aad); !errors.Is(err, ErrBadCiphertext) {
				t.Fatalf("got %v, want ErrBadCiphertext", err)
			}
		})
	}
}

func TestOpenRejectsShortKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("got %v, want ErrKeyFile", err)
	}
}
