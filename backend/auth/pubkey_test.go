package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

func newEd25519Key(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " alice@laptop"
}

func TestParseAuthorizedKey(t *testing.T) {
	_, ed := newEd25519Key(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPub, _ := ssh.NewPublicKey(&small.PublicKey)
	tests := []struct {
		name, line string
		ok         bool
	}{
		{"ed25519", ed, true},
		{"empty", "", false},
		{"garbage", "ssh-ed25519 not-base64!", false},
		{"options", `from="10.0.0.1" ` + ed, false},
		{"two lines", ed + "\n" + ed, false},
		{"small rsa", string(ssh.MarshalAuthorizedKey(smallPub)), false},
		{"too long", "ssh-ed25519 " + strings.Repeat("A", 20<<10), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseAuthorizedKey(tt.line)
			if got := err == nil; got != tt.ok {
				t.Fatalf("ParseAuthorizedKey ok: got %v (%v), want %v", got, err, tt.ok)
			}
			var fe *FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("error %v: want a *FieldError", err)
			}
		})
	}
}

func TestPublicKeyManagement(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		key, line := newEd25519Key(t)
		k, err := e.svc.AddPublicKey(e.ctx, alice.ID, "", line)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := k.Fingerprint, ssh.FingerprintSHA256(key); got != want {
			t.Errorf("fingerprint: got %v, want %v", got, want)
		}
		if got, want := k.Name, "alice@laptop"; got != want {
			t.Errorf("name: got %v, want %v", got, want)
		}
		if _, err := e.svc.AddPublicKey(e.ctx, bob.ID, "again", line); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("same key for bob: got %v, want %v", err, store.ErrDuplicate)
		}
		if err := e.svc.DeletePublicKey(e.ctx, bob.ID, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob deletes alice's key: got %v, want %v", err, store.ErrNotFound)
		}
		keys, err := e.svc.ListPublicKeys(e.ctx, alice.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("list: got %d keys (%v), want 1", len(keys), err)
		}
		if err := e.svc.DeletePublicKey(e.ctx, alice.ID, k.ID); err != nil {
			t.Fatal(err)
		}
	})
}

var sshMeta = RequestMeta{SourceIP: "192.0.2.20", UserAgent: "SSH-2.0-OpenSSH_9.2", Channel: ChannelSSH}

func TestLoginPublicKey(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.user("alice")
		key, line := newEd25519Key(t)
		other, _ := newEd25519Key(t)
		if _, err := e.svc.AddPublicKey(e.ctx, alice.ID, "laptop", line); err != nil {
			t.Fatal(err)
		}
		login := func(name string, k ssh.PublicKey) (*LoginResult, error) {
			return e.svc.LoginPublicKey(e.ctx, KeyLoginRequest{Username: name, Key: k, Meta: sshMeta})
		}

		if ok, err := e.svc.HasPublicKey(e.ctx, "alice", key); !ok || err != nil {
			t.Fatalf("HasPublicKey: got %v, %v, want true", ok, err)
		}
		if ok, _ := e.svc.HasPublicKey(e.ctx, "alice", other); ok {
			t.Fatal("HasPublicKey(other key): got true, want false")
		}
		res, err := login("alice", key)
		wantStep(t, res, err, StepOK)
		e.wantRow(true, reasonOK, MethodKey)
		var k store.UserPublicKey
		e.st.DB.Where("user_id = ?", alice.ID).Take(&k)
		if k.LastUsedAt == nil {
			t.Error("LastUsedAt not set after login")
		}

		_, err = login("alice", other)
		wantErr(t, err, ErrInvalidCredentials)
		e.wantRow(false, reasonUnknownKey, MethodKey)
		if got := e.reload(alice).FailedLogins; got != 0 {
			t.Errorf("failed logins after an unknown key: got %v, want 0", got)
		}

		_, err = login("nobody", key)
		wantErr(t, err, ErrInvalidCredentials)
		e.wantRow(false, reasonUnknownUser, MethodKey)

		// A TOTP user goes on with SubmitOTP, like after a password.
		secret, _ := e.enroll("alice")
		res, err = login("alice", key)
		res = wantStep(t, res, err, StepOTPRequired)
		e.wantRow(false, reasonOTPRequired, MethodKey)
		res, err = e.svc.SubmitOTP(e.ctx, res.Token, e.code(secret), sshMeta)
		wantStep(t, res, err, StepOK)

		// Lock and deny.
		until := e.clock.Now().Add(time.Hour)
		e.st.DB.Model(&store.User{}).Where("id = ?", alice.ID).Update("locked_until", until)
		_, err = login("alice", key)
		wantErr(t, err, ErrLocked)
		e.wantRow(false, reasonLocked, MethodKey)

		if err := e.svc.RefusePublicKeys(e.ctx, "alice", sshMeta); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("RefusePublicKeys: got %v, want %v", err, ErrInvalidCredentials)
		}
		e.wantRow(false, reasonUnknownKey, MethodKey)
	})
}
