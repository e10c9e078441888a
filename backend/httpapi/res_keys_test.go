package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestMyKeys(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	admin := e.adminToken()
	alice := e.userToken(admin, "alice")
	bob := e.userToken(admin, "bob")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " alice@laptop"

	got := e.want(e.do("POST", "/api/v1/me/keys", alice, map[string]string{"key": line}), 201).json(t)
	if got["fingerprint"] != ssh.FingerprintSHA256(key) || got["name"] != "alice@laptop" {
		t.Fatalf("created key: got %v, want fingerprint %v and name alice@laptop", got, ssh.FingerprintSHA256(key))
	}
	id := got["id"].(float64)
	e.want(e.do("POST", "/api/v1/me/keys", bob, map[string]string{"key": line}), 409)
	if code, field := e.want(e.do("POST", "/api/v1/me/keys", alice, map[string]string{"key": "ssh-dss AAAA"}), 400).errField(t); code != "validation" || field != "key" {
		t.Errorf("bad key: got %v/%v, want validation/key", code, field)
	}
	list := e.want(e.do("GET", "/api/v1/me/keys", alice, nil), 200).json(t)
	if list["total"].(float64) != 1 {
		t.Errorf("alice's keys: got %v, want 1", list["total"])
	}
	if n := e.want(e.do("GET", "/api/v1/me/keys", bob, nil), 200).json(t)["total"].(float64); n != 0 {
		t.Errorf("bob's keys: got %v, want 0", n)
	}
	me := e.want(e.do("GET", "/api/v1/me", alice, nil), 200).json(t)
	e.want(e.do("GET", fmt.Sprintf("/api/v1/users/%v/keys", me["id"]), bob, nil), 403)
	if n := e.want(e.do("GET", fmt.Sprintf("/api/v1/users/%v/keys", me["id"]), admin, nil), 200).json(t)["total"].(float64); n != 1 {
		t.Errorf("admin sees alice's keys: got %v, want 1", n)
	}
	e.want(e.do("DELETE", fmt.Sprintf("/api/v1/me/keys/%v", id), bob, nil), 404)
	e.want(e.do("DELETE", fmt.Sprintf("/api/v1/me/keys/%v", id), alice, nil), 204)
	e.want(e.do("DELETE", fmt.Sprintf("/api/v1/me/keys/%v", id), alice, nil), 404)
}
