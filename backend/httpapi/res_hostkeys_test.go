package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestHostKeysListDeleteAndExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, nil)
		admin := e.adminToken()
		org, err := s.DefaultOrg(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		a := &store.Asset{OrgID: org.ID, Name: "web01", Address: "10.0.0.5", IsActive: true}
		storetest.MustCreate(t, s.DB, a)
		z := &store.Zone{OrgID: org.ID, Name: "dmz"}
		storetest.MustCreate(t, s.DB, z)
		g := &store.Gateway{OrgID: org.ID, ZoneID: z.ID, Name: "gw1", Address: "10.1.0.2", Port: 22, Username: "jump", SecretType: store.SecretPassword, IsActive: true}
		storetest.MustCreate(t, s.DB, g)
		now := time.Now().UTC()
		key := func() (string, []byte) {
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			k, _ := ssh.NewPublicKey(pub)
			return ssh.FingerprintSHA256(k), k.Marshal()
		}
		fa, ka := key()
		fg, kg := key()
		rows := []*store.HostKey{
			{OrgID: org.ID, OwnerKind: "asset", OwnerID: a.ID, Address: "10.0.0.5:22", Algorithm: "ssh-ed25519", Fingerprint: fa, Key: ka, FirstSeenAt: now, LastSeenAt: now},
			{OrgID: org.ID, OwnerKind: "gateway", OwnerID: g.ID, Address: "10.1.0.2:2222", Algorithm: "ssh-ed25519", Fingerprint: fg, Key: kg, FirstSeenAt: now, LastSeenAt: now},
		}
		for _, r := range rows {
			storetest.MustCreate(t, s.DB, r)
		}

		list := e.want(e.do("GET", "/api/v1/host-keys?sort=id", admin, nil), 200).json(t)
		items, _ := list["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("got %d host keys, want 2: %v", len(items), list)
		}
		first := items[0].(map[string]any)
		if first["owner_name"] != "web01" || first["fingerprint"] != fa || first["address"] != "10.0.0.5:22" {
			t.Errorf("got %v, want web01's key", first)
		}
		if _, ok := first["key"]; ok {
			t.Errorf("the raw key is exposed: %v", first)
		}
		gw := e.want(e.do("GET", "/api/v1/host-keys?owner_kind=gateway", admin, nil), 200).json(t)
		if items, _ := gw["items"].([]any); len(items) != 1 || items[0].(map[string]any)["owner_name"] != "gw1" {
			t.Errorf("got %v, want gw1's key only", gw)
		}
		if code, field := e.want(e.do("GET", "/api/v1/host-keys?owner_kind=router", admin, nil), 400).errField(t); code != "validation" || field != "owner_kind" {
			t.Errorf("got %s/%s, want validation/owner_kind", code, field)
		}

		kh := e.want(e.do("GET", "/api/v1/host-keys/known-hosts", admin, nil), 200)
		if body := string(kh.body); !strings.Contains(body, "10.0.0.5 ssh-ed25519 ") || !strings.Contains(body, "[10.1.0.2]:2222 ssh-ed25519 ") {
			t.Errorf("got known_hosts %q", body)
		}

		user := e.userToken(admin, "alice")
		e.want(e.do("GET", "/api/v1/host-keys", user, nil), 403)
		e.want(e.do("DELETE", fmt.Sprintf("/api/v1/host-keys/%d", rows[0].ID), user, nil), 403)

		e.want(e.do("DELETE", fmt.Sprintf("/api/v1/host-keys/%d", rows[0].ID), admin, nil), 204)
		var n int64
		s.DB.Model(&store.HostKey{}).Count(&n)
		if n != 1 {
			t.Errorf("got %d host keys after delete, want 1", n)
		}
		var ops []store.OperationLog
		s.DB.Where("action = ?", "hostkey.delete").Find(&ops)
		if len(ops) != 1 || !ops[0].Success || ops[0].Username != "admin" {
			t.Errorf("got %+v, want one hostkey.delete row by admin", ops)
		}
		e.want(e.do("DELETE", fmt.Sprintf("/api/v1/host-keys/%d", rows[0].ID), admin, nil), 404)
	})
}
