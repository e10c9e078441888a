package asset

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

var update = flag.Bool("update", os.Getenv("UPDATE") == "1", "rewrite golden files under testdata/")

// env is a store with two organizations, each with a zone named "dmz".
type env struct {
	s      *store.Store
	db     *gorm.DB
	orgA   uint
	orgB   uint
	vault  *vault.Vault
	ctx    context.Context
	zoneA  uint
	linuxP uint
}

func newEnv(t testing.TB, s *store.Store) *env {
	t.Helper()
	e := &env{s: s, db: s.DB, ctx: context.Background()}
	def, err := s.DefaultOrg(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.orgA = def.ID
	b := &store.Organization{Name: "B"}
	storetest.MustCreate(t, s.DB, b)
	e.orgB = b.ID
	za := &store.Zone{OrgID: e.orgA, Name: "dmz"}
	storetest.MustCreate(t, s.DB, za)
	e.zoneA = za.ID
	storetest.MustCreate(t, s.DB, &store.Zone{OrgID: e.orgB, Name: "dmz"})
	var p store.Platform
	if err := s.DB.Where("name = ?", "Linux").Take(&p).Error; err != nil {
		t.Fatal(err)
	}
	e.linuxP = p.ID
	key := bytes.Repeat([]byte{7}, 32)
	if e.vault, err = vault.New(key); err != nil {
		t.Fatal(err)
	}
	return e
}

// newOrg adds an organization with a "dmz" zone.
func (e *env) newOrg(t *testing.T, name string) uint {
	t.Helper()
	o := &store.Organization{Name: name}
	storetest.MustCreate(t, e.db, o)
	storetest.MustCreate(t, e.db, &store.Zone{OrgID: o.ID, Name: "dmz"})
	return o.ID
}

func (e *env) importAssets(t *testing.T, org uint, csv string, opts ImportOptions) *ImportResult {
	t.Helper()
	res, err := ImportAssets(e.ctx, e.db, org, bytes.NewBufferString(csv), opts)
	if err != nil {
		t.Fatalf("ImportAssets: %v", err)
	}
	return res
}

func (e *env) importAccounts(t *testing.T, org uint, csv string, opts ImportOptions) *ImportResult {
	t.Helper()
	res, err := ImportAccounts(e.ctx, e.db, e.vault, org, bytes.NewBufferString(csv), opts)
	if err != nil {
		t.Fatalf("ImportAccounts: %v", err)
	}
	return res
}

func (e *env) exportAssets(t *testing.T, org uint, f ExportFilter) string {
	t.Helper()
	var b bytes.Buffer
	if err := ExportAssets(e.ctx, e.db, org, &b, f); err != nil {
		t.Fatalf("ExportAssets: %v", err)
	}
	return b.String()
}

func (e *env) exportAccounts(t *testing.T, org uint, f ExportFilter) string {
	t.Helper()
	var b bytes.Buffer
	if err := ExportAccounts(e.ctx, e.db, org, &b, f); err != nil {
		t.Fatalf("ExportAccounts: %v", err)
	}
	return b.String()
}

func (e *env) asset(t *testing.T, org uint, name string) *store.Asset {
	t.Helper()
	var a store.Asset
	if err := e.db.Preload("Nodes").Where("org_id = ? AND name = ?", org, name).Take(&a).Error; err != nil {
		t.Fatalf("asset %q in org %d: %v", name, org, err)
	}
	return &a
}

func (e *env) count(t *testing.T, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.db.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// golden compares got with testdata/name, rewriting it under UPDATE=1.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (UPDATE=1 rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func resultJSON(t *testing.T, r *ImportResult) []byte {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
