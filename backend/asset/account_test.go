package asset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

const accountHeader = "asset,name,username,secret_type,secret,privileged,is_active,comment\n"

// csvLine quotes cells as encoding/csv would.
func csvLine(cells ...string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(cells)
	w.Flush()
	return b.String()
}

func (e *env) account(t *testing.T, org uint, asset, name string) *store.Account {
	t.Helper()
	a := e.asset(t, org, asset)
	var acc store.Account
	if err := e.db.Where("asset_id = ? AND name = ?", a.ID, name).Take(&acc).Error; err != nil {
		t.Fatalf("account %s of %s: %v", name, asset, err)
	}
	return &acc
}

func (e *env) secret(t *testing.T, acc *store.Account) string {
	t.Helper()
	s, err := OpenAccountSecret(e.vault, acc)
	if err != nil {
		t.Fatalf("open secret of account %d: %v", acc.ID, err)
	}
	return s
}

func TestImportAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, assetHeader+"web01,10.0.0.1,Linux,ssh/22,,,,,\ndb01,10.0.0.2,Linux,ssh/22,,,,,\n", ImportOptions{})
		e.importAssets(t, e.orgB, assetHeader+"web01,10.9.9.9,Linux,ssh/22,,,,,\nb-only,10.9.9.8,Linux,ssh/22,,,,,\n", ImportOptions{})
		key, encKey, _ := testKeys(t)
		const password = "Tr0ub4dor&3-unique-needle"

		in := "\xef\xbb\xbf" + accountHeader +
			csvLine("web01", "root", "root", "password", password, "true", "", "the admin") +
			csvLine("web01", "deploy", "deploy", "ssh_key", key, "", "false", "=cmd|' /C calc'!A0") +
			csvLine("db01", "nosecret", "app", "", "", "", "", "") +
			csvLine("web01", "root", "root2", "password", "x", "", "", "duplicate") +
			csvLine("b-only", "root", "root", "password", "x", "", "", "asset of org B") +
			csvLine("db01", "enc", "app", "ssh_key", encKey, "", "", "") +
			csvLine("db01", "bad", "a b", "token", "", "maybe", "", "") +
			csvLine("", "orphan", "u", "", "", "", "", "")
		res := e.importAccounts(t, e.orgA, in, ImportOptions{})
		golden(t, "accounts_import.result.json", resultJSON(t, res))
		if res.Created != 3 {
			t.Errorf("created: got %d, want 3", res.Created)
		}

		root := e.account(t, e.orgA, "web01", "root")
		if !root.HasSecret || !root.Privileged || !root.IsActive || root.OrgID != e.orgA {
			t.Errorf("root: %+v", root)
		}
		if got := e.secret(t, root); got != password {
			t.Errorf("root secret: got %q", got)
		}
		deploy := e.account(t, e.orgA, "web01", "deploy")
		if got := e.secret(t, deploy); got != key || deploy.IsActive || deploy.SecretType != "ssh_key" {
			t.Errorf("deploy: %+v, key matches: %v", deploy, got == key)
		}
		if ns := e.account(t, e.orgA, "db01", "nosecret"); ns.HasSecret || ns.SecretType != "password" {
			t.Errorf("nosecret: %+v", ns)
		}
		// The secret is sealed: the raw column does not hold it, and it
		// does not open under another account's AAD.
		var raw []byte
		if err := e.db.Raw("SELECT secret_enc FROM accounts WHERE id = ?", root.ID).Row().Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if len(raw) == 0 || bytes.Contains(raw, []byte(password)) || bytes.Contains(raw, []byte("unique-needle")) {
			t.Errorf("secret_enc holds the plaintext or nothing: %q", raw)
		}
		if _, err := e.vault.Unseal(raw, AccountSecretAAD(deploy.ID)); err == nil {
			t.Errorf("root's secret opens under deploy's AAD")
		}
		// Org B's account-less asset was not touched, and B has no accounts.
		if n := e.count(t, &store.Account{}, "org_id = ?", e.orgB); n != 0 {
			t.Errorf("org B has %d accounts", n)
		}

		// The export has no secret column and no secret.
		exported := e.exportAccounts(t, e.orgA, ExportFilter{})
		golden(t, "accounts_export.csv", []byte(exported))
		if strings.Contains(exported, password) || strings.Contains(exported, "PRIVATE KEY") ||
			strings.HasPrefix(exported, "asset,name,username,secret_type,secret,") {
			t.Errorf("export leaks secrets:\n%s", exported)
		}
		// Re-importing it changes nothing and keeps the secrets.
		res = e.importAccounts(t, e.orgA, exported, ImportOptions{})
		if res.Created != 0 || res.Updated != 0 || res.Unchanged != 3 || len(res.Errors) != 0 {
			t.Errorf("re-import: got %+v, want 3 unchanged", res)
		}
		if got := e.secret(t, e.account(t, e.orgA, "web01", "root")); got != password {
			t.Errorf("re-import lost root's secret: %q", got)
		}
		if got := e.exportAccounts(t, e.orgA, ExportFilter{}); got != exported {
			t.Errorf("second export differs:\n%s", got)
		}
	})
}

func TestImportAccountsUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, assetHeader+"web01,10.0.0.1,Linux,ssh/22,,,,,\n", ImportOptions{})
		key, _, _ := testKeys(t)
		e.importAccounts(t, e.orgA, accountHeader+csvLine("web01", "root", "root", "password", "old", "", "", ""), ImportOptions{})
		before := e.account(t, e.orgA, "web01", "root")

		tests := []struct {
			name    string
			row     string
			field   string
			updated int
			secret  string
		}{
			{"type change without secret", csvLine("web01", "root", "root", "ssh_key", "", "", "", ""), "secret", 0, "old"},
			{"new password", csvLine("web01", "root", "root", "", "new", "", "", ""), "", 1, "new"},
			{"type change with key", csvLine("web01", "root", "root", "ssh_key", key, "", "", ""), "", 1, key},
			{"bad key on update", csvLine("web01", "root", "root", "", "nope", "", "", ""), "secret", 0, key},
			{"username only", csvLine("web01", "root", "admin", "", "", "", "", ""), "", 1, key},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.importAccounts(t, e.orgA, accountHeader+tt.row, ImportOptions{})
				if tt.field != "" && (len(res.Errors) != 1 || res.Errors[0].Field != tt.field) {
					t.Errorf("got %+v, want an error on %q", res, tt.field)
				}
				if res.Updated != tt.updated {
					t.Errorf("updated: got %d, want %d", res.Updated, tt.updated)
				}
				acc := e.account(t, e.orgA, "web01", "root")
				if acc.ID != before.ID {
					t.Errorf("account re-created: id %d, was %d", acc.ID, before.ID)
				}
				if got := e.secret(t, acc); got != tt.secret {
					t.Errorf("secret: got %.20q, want %.20q", got, tt.secret)
				}
			})
		}
	})
}

func TestImportAccountsOrgIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, assetHeader+"web01,10.0.0.1,Linux,ssh/22,,,,,\n", ImportOptions{})
		e.importAssets(t, e.orgB, assetHeader+"web01,10.9.9.9,Linux,ssh/22,,,,,\n", ImportOptions{})
		e.importAccounts(t, e.orgB, accountHeader+csvLine("web01", "root", "root", "", "b-secret", "", "", "org B"), ImportOptions{})

		res := e.importAccounts(t, e.orgA, accountHeader+csvLine("web01", "root", "root", "", "a-secret", "", "", "org A"), ImportOptions{})
		if res.Created != 1 || res.Updated != 0 {
			t.Fatalf("import in A: got %+v, want 1 created", res)
		}
		b := e.account(t, e.orgB, "web01", "root")
		if got := e.secret(t, b); got != "b-secret" || b.Comment != "org B" {
			t.Errorf("org B's account changed: %+v %q", b, got)
		}
		if got := e.exportAccounts(t, e.orgA, ExportFilter{}); strings.Contains(got, "org B") {
			t.Errorf("export of A shows B's account:\n%s", got)
		}
	})
}

func TestImportAccountsFileErrors(t *testing.T) {
	s := storetest.SQLite(t)
	e := newEnv(t, s)
	for in, want := range map[string]string{
		"asset,name\n":                        "missing required column(s): username",
		"asset,name,username,password\n":      `unknown column "password"`,
		accountHeader + "a,b,c,d,e,f,g,h,i\n": "",
	} {
		res, err := ImportAccounts(e.ctx, e.db, e.vault, e.orgA, strings.NewReader(in), ImportOptions{})
		if want == "" {
			if err != nil || len(res.Errors) != 1 || res.Errors[0].Field != "" {
				t.Errorf("%q: got %+v, %v, want one row error", in, res, err)
			}
			continue
		}
		if !fieldIs(err, "file") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
	if _, err := ImportAccounts(e.ctx, e.db, nil, e.orgA, strings.NewReader(accountHeader), ImportOptions{}); err == nil {
		t.Errorf("no vault: got no error")
	}
	// A private key may exceed MaxFieldSize; other cells may not.
	long := strings.Repeat("p", MaxFieldSize+1)
	res, err := ImportAccounts(e.ctx, e.db, e.vault, e.orgA, strings.NewReader(accountHeader+csvLine("x", "y", "z", "", long, "", "", "")), ImportOptions{})
	if err != nil || len(res.Errors) == 0 || res.Errors[0].Field == "" {
		t.Errorf("long secret: got %+v, %v", res, err)
	}
	for _, re := range res.Errors {
		if strings.Contains(re.Message, "longer than") {
			t.Errorf("a secret of %d bytes hit the field limit: %v", len(long), re)
		}
	}
}

func TestAccountSecretHelpers(t *testing.T) {
	s := storetest.SQLite(t)
	e := newEnv(t, s)
	acc := &store.Account{}
	if err := SealAccountSecret(e.vault, acc, "x"); err == nil {
		t.Errorf("sealing without an ID: got no error")
	}
	acc.ID = 42
	if err := SealAccountSecret(e.vault, acc, "pw"); err != nil || !acc.HasSecret {
		t.Fatalf("seal: %v", err)
	}
	if got, err := OpenAccountSecret(e.vault, acc); err != nil || got != "pw" {
		t.Errorf("open: got %q, %v", got, err)
	}
	g := &store.Gateway{ID: 42, SecretEnc: acc.SecretEnc, HasSecret: true}
	if _, err := OpenGatewaySecret(e.vault, g); err == nil {
		t.Errorf("an account secret opens as gateway 42's")
	}
	if err := SealGatewaySecret(e.vault, g, "gw"); err != nil {
		t.Fatal(err)
	}
	if got, err := OpenGatewaySecret(e.vault, g); err != nil || got != "gw" {
		t.Errorf("gateway: got %q, %v", got, err)
	}
	SealAccountSecret(e.vault, acc, "")
	if _, err := OpenAccountSecret(e.vault, acc); !errors.Is(err, store.ErrNotFound) || acc.HasSecret {
		t.Errorf("cleared secret: got %v", err)
	}
	if got, want := fmt.Sprint(AccountSecretAAD(7), " ", GatewaySecretAAD(7)), "account:7 gateway:7"; got != want {
		t.Errorf("AADs: got %q, want %q", got, want)
	}
}
