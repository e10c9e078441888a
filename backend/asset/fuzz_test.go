package asset

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func FuzzParseProtocols(f *testing.F) {
	for _, s := range []string{"ssh/22,rdp/3389", "SSH", " ssh / 22 ,sftp", "ssh/0", "gopher/70", "ssh/22,ssh/22", "", ",", "ssh/65535", "redis/6379,vnc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProtocols(s)
		if err != nil {
			if !fieldIs(err, "protocols") {
				t.Fatalf("error %v is not a validation error of protocols", err)
			}
			return
		}
		if len(p) == 0 {
			t.Fatalf("%q: no protocols and no error", s)
		}
		seen := map[string]bool{}
		for _, pr := range p {
			if _, ok := DefaultPort(pr.Name); !ok || pr.Port < 1 || pr.Port > 65535 || seen[pr.Name] {
				t.Fatalf("%q: bad protocol %+v in %v", s, pr, p)
			}
			seen[pr.Name] = true
		}
		again, err := ParseProtocols(FormatProtocols(p))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%q: round trip of %q: got %v, %v, want %v", s, FormatProtocols(p), again, err, p)
		}
	})
}

// fuzzSeeds are CSV inputs shared by the import fuzz targets.
func fuzzSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		f.Add([]byte(readTestdata(f, name)))
	}
	for _, s := range []string{
		"", "\xef\xbb\xbf", "name\n", assetHeader, accountHeader,
		assetHeader + "a,h,Linux,ssh/22,/x/y;/x/z,dmz,k:v,true,'=1\n",
		assetHeader + "a,h,Linux,ssh/22,,,,,\na,h,Linux,ssh/22,,,,,\n",
		"PROTOCOLS,name,platform,address\r\nssh,b,linux,[::1]\r\n",
		assetHeader + "\"a\nb\",h,Linux,ssh/22,,,,,\n",
		accountHeader + "web01,root,root,password,pw,true,true,c\n",
	} {
		f.Add([]byte(s))
	}
}

var fuzzOrgs atomic.Int64

// fuzzOrg creates a fresh organization with a "dmz" zone and one asset
// "web01", so that every fuzz input starts from the same state.
func fuzzOrg(t *testing.T, e *env) uint {
	t.Helper()
	o := &store.Organization{Name: fmt.Sprintf("fuzz-%d", fuzzOrgs.Add(1))}
	storetest.MustCreate(t, e.db, o)
	storetest.MustCreate(t, e.db, &store.Zone{OrgID: o.ID, Name: "dmz"})
	storetest.MustCreate(t, e.db, &store.Asset{OrgID: o.ID, Name: "web01", Address: "10.0.0.1", PlatformID: e.linuxP,
		Protocols: store.Protocols{{Name: "ssh", Port: 22}}, IsActive: true})
	return o.ID
}

// checkResult checks what any import result must satisfy and returns the
// number of data rows.
func checkResult(t *testing.T, data []byte, known []string, res *ImportResult) int {
	t.Helper()
	tab, err := readCSV(bytes.NewReader(data), known, nil)
	if err != nil {
		t.Fatalf("import accepted a file readCSV rejects: %v", err)
	}
	rows := len(tab.rows)
	errRows := map[int]bool{}
	for _, re := range res.Errors {
		if re.Row < 1 || re.Row > rows || re.Message == "" || (re.Field != "" && !slices.Contains(known, re.Field)) {
			t.Fatalf("bad row error %+v (%d rows)", re, rows)
		}
		errRows[re.Row] = true
	}
	if n := res.Created + res.Updated + res.Unchanged + len(errRows); n > rows {
		t.Fatalf("%+v accounts for %d rows, the file has %d", res, n, rows)
	}
	return rows
}

func checkFileError(t *testing.T, err error) {
	t.Helper()
	if !fieldIs(err, "file") && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v is neither a file validation error nor ErrTooLarge", err)
	}
}

func FuzzImportAssets(f *testing.F) {
	fuzzSeeds(f, "assets_import.csv", "assets_export.csv")
	e := newEnv(f, storetest.SQLite(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		org := fuzzOrg(t, e)
		res, err := ImportAssets(e.ctx, e.db, org, bytes.NewReader(data), ImportOptions{})
		var assets []store.Asset
		e.db.Where("org_id = ?", org).Order("id").Find(&assets)
		if err != nil {
			checkFileError(t, err)
			if len(assets) != 1 || e.count(t, &store.Node{}, "org_id = ?", org) != 0 {
				t.Fatalf("a rejected file wrote something")
			}
			return
		}
		checkResult(t, data, assetColumns, res)
		if got, want := len(assets), 1+res.Created; got != want {
			t.Fatalf("%d assets in the org, want 1 + %d created", got, res.Created)
		}
		if res.Updated+res.Unchanged > 1 {
			t.Fatalf("%+v: only web01 existed", res)
		}
		for _, a := range assets {
			b := a
			b.Labels, b.Protocols = slices.Clone(a.Labels), slices.Clone(a.Protocols)
			if err := ValidateAsset(&b); err != nil {
				t.Fatalf("stored asset %+v is invalid: %v", a, err)
			}
			if !sameAsset(&a, &b) || a.Name != b.Name {
				t.Fatalf("stored asset %+v is not normalized: %+v", a, b)
			}
		}
		checkTree(t, e, org)
		// No empty leaf: every node created belongs to a written row.
		var empty int64
		e.db.Model(&store.Node{}).Where("org_id = ?", org).
			Where("id NOT IN (?)", e.db.Model(&store.Node{}).Select("parent_id").Where("parent_id IS NOT NULL")).
			Where("id NOT IN (?)", e.db.Model(&store.AssetNode{}).Select("node_id")).Count(&empty)
		if empty != 0 {
			t.Fatalf("%d empty leaf nodes left behind", empty)
		}
		// The export re-imports to the same data.
		exported := e.exportAssets(t, org, ExportFilter{})
		again, err := ImportAssets(e.ctx, e.db, org, strings.NewReader(exported), ImportOptions{DryRun: true})
		if err != nil || len(again.Errors) != 0 || again.Created+again.Updated != 0 || again.Unchanged != len(assets) {
			t.Fatalf("re-import of the export: got %+v, %v\n%s", again, err, exported)
		}
	})
}

func FuzzImportAccounts(f *testing.F) {
	fuzzSeeds(f, "accounts_export.csv")
	e := newEnv(f, storetest.SQLite(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		org := fuzzOrg(t, e)
		res, err := ImportAccounts(e.ctx, e.db, e.vault, org, bytes.NewReader(data), ImportOptions{})
		var accounts []store.Account
		e.db.Where("org_id = ?", org).Order("id").Find(&accounts)
		if err != nil {
			checkFileError(t, err)
			if len(accounts) != 0 {
				t.Fatalf("a rejected file wrote something")
			}
			return
		}
		checkResult(t, data, accountColumns, res)
		if len(accounts) != res.Created || res.Updated+res.Unchanged != 0 {
			t.Fatalf("%d accounts in the org, result %+v", len(accounts), res)
		}
		for _, a := range accounts {
			b := a
			secret := ""
			if a.HasSecret {
				if secret, err = OpenAccountSecret(e.vault, &a); err != nil {
					t.Fatalf("account %d: %v", a.ID, err)
				}
			}
			if err := ValidateAccount(&b, secret, true); err != nil || !sameAccount(&a, &b) || a.Name != b.Name {
				t.Fatalf("stored account %+v is invalid or not normalized: %v", a, err)
			}
		}
		exported := e.exportAccounts(t, org, ExportFilter{})
		again, err := ImportAccounts(e.ctx, e.db, e.vault, org, strings.NewReader(exported), ImportOptions{DryRun: true})
		if err != nil || len(again.Errors) != 0 || again.Created+again.Updated != 0 || again.Unchanged != len(accounts) {
			t.Fatalf("re-import of the export: got %+v, %v\n%s", again, err, exported)
		}
	})
}
