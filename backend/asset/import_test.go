package asset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

const assetHeader = "name,address,platform,protocols,nodes,zone,labels,is_active,comment\n"

func TestImportAssetsGolden(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		res := e.importAssets(t, e.orgA, readTestdata(t, "assets_import.csv"), ImportOptions{})
		golden(t, "assets_import.result.json", resultJSON(t, res))
		golden(t, "assets_export.csv", []byte(e.exportAssets(t, e.orgA, ExportFilter{})))

		web02 := e.asset(t, e.orgA, "web02")
		if web02.ZoneID == nil || *web02.ZoneID != e.zoneA {
			t.Errorf("web02 zone: got %v, want %d", web02.ZoneID, e.zoneA)
		}
		if len(web02.Nodes) != 2 {
			t.Errorf("web02 nodes: got %d, want 2", len(web02.Nodes))
		}
		if db01 := e.asset(t, e.orgA, "db01"); db01.Comment != `=HYPERLINK("http://evil.example")` {
			t.Errorf("db01 comment: got %q (the hand-typed apostrophe should be dropped)", db01.Comment)
		}
		if win := e.asset(t, e.orgA, "win01"); win.IsActive || win.Address != "fe80::1" {
			t.Errorf("win01: got active %v address %q", win.IsActive, win.Address)
		}
		// Failed rows wrote nothing, not even their nodes.
		if _, err := NodeByPath(e.ctx, e.db, e.orgA, "/Default/Bad", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("node of a failed row exists: %v", err)
		}
		for _, name := range []string{"bad-port", "bad-platform", "bad-many", "bad-node"} {
			if n := e.count(t, &store.Asset{}, "name = ?", name); n != 0 {
				t.Errorf("failed row %q was written", name)
			}
		}
		if a := e.asset(t, e.orgA, "web01"); a.Address != "10.0.0.11" {
			t.Errorf("the duplicate row changed web01: address %q", a.Address)
		}
		checkTree(t, e, e.orgA)
	})
}

func TestImportAssetsRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, readTestdata(t, "assets_import.csv"), ImportOptions{})
		exported := e.exportAssets(t, e.orgA, ExportFilter{})

		// Re-importing the export changes nothing.
		res := e.importAssets(t, e.orgA, exported, ImportOptions{})
		if res.Created != 0 || res.Updated != 0 || res.Unchanged != 6 || len(res.Errors) != 0 {
			t.Errorf("re-import: got %+v, want 6 unchanged", res)
		}
		// Importing it into another organization recreates the same data.
		orgC := e.newOrg(t, "C")
		res = e.importAssets(t, orgC, exported, ImportOptions{})
		if res.Created != 6 || len(res.Errors) != 0 {
			t.Errorf("import into C: got %+v, want 6 created", res)
		}
		if got := e.exportAssets(t, orgC, ExportFilter{}); got != exported {
			t.Errorf("export of C differs from export of A\nC:\n%s\nA:\n%s", got, exported)
		}
		// Formula guard: exported cells cannot start a formula.
		for _, line := range strings.Split(exported, "\n") {
			for _, cell := range strings.Split(line, ",") {
				cell = strings.TrimPrefix(cell, `"`)
				if cell != "" && strings.ContainsAny(cell[:1], "=+-@") {
					t.Errorf("exported cell %q starts a formula", cell)
				}
			}
		}
	})
}

func TestImportAssetsUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, assetHeader+
			"web01,10.0.0.1,Linux,ssh/22,/D/Web;/D/All,dmz,env:prod,false,first\n", ImportOptions{})

		// Absent columns keep their values; present ones replace them.
		res := e.importAssets(t, e.orgA, "name,address,platform,protocols,labels\n"+
			"web01,10.0.0.2,Linux,ssh/2222,\n", ImportOptions{})
		if res.Updated != 1 || len(res.Errors) != 0 {
			t.Fatalf("got %+v, want 1 updated", res)
		}
		a := e.asset(t, e.orgA, "web01")
		if a.Address != "10.0.0.2" || a.Protocols[0].Port != 2222 || len(a.Labels) != 0 {
			t.Errorf("updated fields: got %+v", a)
		}
		if a.Comment != "first" || a.IsActive || a.ZoneID == nil || len(a.Nodes) != 2 {
			t.Errorf("kept fields: got comment %q active %v zone %v nodes %d", a.Comment, a.IsActive, a.ZoneID, len(a.Nodes))
		}
		// Empty is_active keeps the value; empty nodes clears the memberships.
		res = e.importAssets(t, e.orgA, assetHeader+"web01,10.0.0.2,Linux,ssh/2222,,,,,first\n", ImportOptions{})
		if res.Updated != 1 {
			t.Fatalf("got %+v, want 1 updated", res)
		}
		a = e.asset(t, e.orgA, "web01")
		if a.IsActive || len(a.Nodes) != 0 || a.ZoneID != nil {
			t.Errorf("got active %v nodes %d zone %v", a.IsActive, len(a.Nodes), a.ZoneID)
		}
	})
}

func TestImportAssetsOrgIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgB, assetHeader+"web01,10.9.9.9,Linux,ssh/22,/B-only,dmz,,true,org B\n", ImportOptions{})

		res := e.importAssets(t, e.orgA, assetHeader+"web01,10.0.0.1,Linux,ssh/22,/Shared,dmz,,false,org A\n", ImportOptions{})
		if res.Created != 1 || res.Updated != 0 || len(res.Errors) != 0 {
			t.Fatalf("import in A: got %+v, want 1 created", res)
		}
		b := e.asset(t, e.orgB, "web01")
		if b.Address != "10.9.9.9" || b.Comment != "org B" || !b.IsActive {
			t.Errorf("org B's asset changed: %+v", b)
		}
		a := e.asset(t, e.orgA, "web01")
		if a.ZoneID == nil || *a.ZoneID != e.zoneA {
			t.Errorf("org A's asset uses zone %v, want A's dmz %d", a.ZoneID, e.zoneA)
		}
		if len(a.Nodes) != 1 || a.Nodes[0].OrgID != e.orgA {
			t.Errorf("org A's asset nodes: %+v", a.Nodes)
		}
		if _, err := NodeByPath(e.ctx, e.db, e.orgB, "/Shared", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("node created in the wrong org: %v", err)
		}
		// A zone that only org B has is unknown to org A.
		storetest.MustCreate(t, e.db, &store.Zone{OrgID: e.orgB, Name: "b-zone"})
		res = e.importAssets(t, e.orgA, assetHeader+"web02,10.0.0.2,Linux,ssh/22,,b-zone,,,\n", ImportOptions{})
		if len(res.Errors) != 1 || res.Errors[0].Field != "zone" {
			t.Errorf("zone of another org: got %+v", res)
		}
		if got := e.exportAssets(t, e.orgA, ExportFilter{}); strings.Contains(got, "10.9.9.9") {
			t.Errorf("export of A shows B's asset:\n%s", got)
		}
	})
}

func TestImportAssetsDuplicatesInFile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		res := e.importAssets(t, e.orgA, assetHeader+
			"web01,10.0.0.1,Linux,ssh/22,,,,,\n"+
			"web02,10.0.0.2,Linux,ssh/22,,,,,\n"+
			" web01 ,10.0.0.3,Linux,ssh/22,,,,,\n"+
			"WEB01,10.0.0.4,Linux,ssh/22,,,,,\n", ImportOptions{})
		want := []RowError{{Row: 3, Line: 4, Field: "name", Message: `"web01" is also on row 1`}}
		if res.Created != 3 || fmt.Sprint(res.Errors) != fmt.Sprint(want) {
			t.Errorf("got %+v, want 3 created and errors %v", res, want)
		}
		if a := e.asset(t, e.orgA, "web01"); a.Address != "10.0.0.1" {
			t.Errorf("web01: got address %q, want the first row's", a.Address)
		}
	})
}

func TestImportAssetsRowErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		tests := []struct {
			name   string
			row    string
			fields []string
		}{
			{"address", "a,not an address,Linux,ssh/22,,,,,", []string{"address"}},
			{"platform", "a,h,Nope,ssh/22,,,,,", []string{"platform"}},
			{"empty platform", "a,h,,ssh/22,,,,,", []string{"platform"}},
			{"protocols", "a,h,Linux,ssh/0,,,,,", []string{"protocols"}},
			{"empty protocols", "a,h,Linux,,,,,,", []string{"protocols"}},
			{"nodes", "a,h,Linux,ssh/22,/x//y,,,,", []string{"nodes"}},
			{"zone", "a,h,Linux,ssh/22,,nozone,,,", []string{"zone"}},
			{"labels", "a,h,Linux,ssh/22,,,novalue,,", []string{"labels"}},
			{"is_active", "a,h,Linux,ssh/22,,,,perhaps,", []string{"is_active"}},
			{"comment", "a,h,Linux,ssh/22,,,,,\x07", []string{"comment"}},
			{"name", "a@b,h,Linux,ssh/22,,,,,", []string{"name"}},
			{"several", ",,,,,,,x,", []string{"name", "address", "platform", "protocols", "is_active"}},
			{"field count", "a,h,Linux", []string{""}},
			{"long field", "a,h,Linux,ssh/22,,,,," + strings.Repeat("c", MaxFieldSize+1), []string{"comment"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.importAssets(t, e.orgA, assetHeader+tt.row+"\n", ImportOptions{})
				var got []string
				for _, re := range res.Errors {
					if re.Row != 1 || re.Line != 2 {
						t.Errorf("error %v: row %d line %d, want row 1 line 2", re, re.Row, re.Line)
					}
					got = append(got, re.Field)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.fields) || res.Created != 0 {
					t.Errorf("got %+v, want errors on %q", res, tt.fields)
				}
			})
		}
		if n := e.count(t, &store.Asset{}, "org_id = ?", e.orgA); n != 0 {
			t.Errorf("%d assets written by failing rows", n)
		}
	})
}

func TestImportFileErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		manyRows := assetHeader + strings.Repeat("\n", 0) + strings.Repeat("a,h,Linux,ssh/22,,,,,\n", MaxImportRows+1)
		tests := []struct {
			name    string
			in      string
			tooBig  bool
			message string
		}{
			{"empty", "", false, "header row is required"},
			{"unknown column", "name,address,platform,protocols,colour\n", false, `unknown column "colour"`},
			{"missing columns", "name,address\n", false, "missing required column(s): platform, protocols"},
			{"duplicate column", "name,Name,address,platform,protocols\n", false, `column "name" appears twice`},
			{"unnamed column", "name,,address,platform,protocols\n", false, "column 2 of the header has no name"},
			{"semicolons", "name;address;platform;protocols\n", false, `seems to use ";" as separator`},
			{"bad quote", assetHeader + "a,h,Linux,ssh/22,,,,,\"x\n", false, "extraneous or missing \" in quoted-field"},
			{"bare quote", assetHeader + "a,h\"x,Linux,ssh/22,,,,,\n", false, "bare \""},
			{"too many rows", manyRows, true, "more than 50000 data rows"},
			{"too large", assetHeader + strings.Repeat("x", MaxImportSize), true, "larger than 10 MiB"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := ImportAssets(e.ctx, e.db, e.orgA, strings.NewReader(tt.in), ImportOptions{})
				if err == nil {
					t.Fatalf("got %+v, want an error", res)
				}
				if tt.tooBig != errors.Is(err, ErrTooLarge) {
					t.Errorf("errors.Is(%v, ErrTooLarge) = %v", err, !tt.tooBig)
				}
				if !tt.tooBig && !fieldIs(err, "file") {
					t.Errorf("got %v, want a validation error of field file", err)
				}
				if !strings.Contains(err.Error(), tt.message) {
					t.Errorf("got %q, want it to contain %q", err, tt.message)
				}
			})
		}
		if n := e.count(t, &store.Asset{}, "org_id = ?", e.orgA); n != 0 {
			t.Errorf("%d assets written by rejected files", n)
		}
		if _, err := ImportAssets(e.ctx, e.db, 99999, strings.NewReader(assetHeader), ImportOptions{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown org: got %v", err)
		}
	})
}

func TestImportAssetsBOMAndCRLF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		in := "\xef\xbb\xbfNAME,Protocols,address,PLATFORM\r\nweb01,ssh/22,10.0.0.1,Linux\r\n\r\nweb02,ssh/22,10.0.0.2,Linux"
		res := e.importAssets(t, e.orgA, in, ImportOptions{})
		if res.Created != 2 || len(res.Errors) != 0 {
			t.Errorf("got %+v, want 2 created", res)
		}
		if a := e.asset(t, e.orgA, "web01"); !a.IsActive || a.Address != "10.0.0.1" {
			t.Errorf("web01: %+v", a)
		}
	})
}

func TestImportAssetsDryRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		in := readTestdata(t, "assets_import.csv")
		dry := e.importAssets(t, e.orgA, in, ImportOptions{DryRun: true})
		if n := e.count(t, &store.Asset{}, "org_id = ?", e.orgA); n != 0 {
			t.Errorf("dry run wrote %d assets", n)
		}
		if n := e.count(t, &store.Node{}, "org_id = ?", e.orgA); n != 0 {
			t.Errorf("dry run wrote %d nodes", n)
		}
		real := e.importAssets(t, e.orgA, in, ImportOptions{})
		if fmt.Sprint(dry) != fmt.Sprint(real) {
			t.Errorf("dry run reported %+v, the import did %+v", dry, real)
		}
	})
}

// TestImportAssetsRowAtomicity makes the write of one row fail after its
// nodes were created, and checks that nothing of that row remains while the
// rows around it are written; and that a failure that is not the row's fault
// aborts the whole import.
func TestImportAssetsRowAtomicity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		var failWith error
		err := e.db.Callback().Create().Before("gorm:create").Register("test:fail_boom", func(db *gorm.DB) {
			boom := false
			if as, ok := db.Statement.Dest.(*[]store.Asset); ok {
				for _, a := range *as {
					boom = boom || a.Name == "boom"
				}
			}
			switch {
			case !boom:
			case failWith == nil:
				// A real constraint violation inside the import's
				// transaction: PostgreSQL aborts the transaction until
				// the row's savepoint is rolled back.
				err := db.Session(&gorm.Session{NewDB: true}).Exec(
					"INSERT INTO organizations (name, description, builtin) VALUES (?, '', false)", store.DefaultOrgName).Error
				db.AddError(store.Translate(err))
			default:
				db.AddError(failWith)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		in := assetHeader +
			"before,10.0.0.1,Linux,ssh/22,/Keep,,,,\n" +
			"boom,10.0.0.2,Linux,ssh/22,/Gone/Deep,,,,\n" +
			"after,10.0.0.3,Linux,ssh/22,/Keep;/Gone/Other,,,,\n"

		res := e.importAssets(t, e.orgA, in, ImportOptions{})
		if res.Created != 2 || len(res.Errors) != 1 || res.Errors[0].Row != 2 {
			t.Fatalf("got %+v, want 2 created and an error on row 2", res)
		}
		if !strings.Contains(res.Errors[0].Message, "duplicate") {
			t.Errorf("row 2: got %q, want the duplicate key error", res.Errors[0].Message)
		}
		if _, err := NodeByPath(e.ctx, e.db, e.orgA, "/Gone/Deep", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("node of the failed row survived: %v", err)
		}
		if _, err := NodeByPath(e.ctx, e.db, e.orgA, "/Gone/Other", false); err != nil {
			t.Errorf("node of the next row: %v", err)
		}
		checkTree(t, e, e.orgA)

		failWith = errors.New("injected: connection lost")
		orgC := e.newOrg(t, "C")
		if _, err := ImportAssets(e.ctx, e.db, orgC, strings.NewReader(in), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "connection lost") {
			t.Fatalf("got %v, want the fatal error", err)
		}
		if n := e.count(t, &store.Asset{}, "org_id = ?", orgC); n != 0 {
			t.Errorf("a fatal error left %d assets behind", n)
		}
		if n := e.count(t, &store.Node{}, "org_id = ?", orgC); n != 0 {
			t.Errorf("a fatal error left %d nodes behind", n)
		}
	})
}

func TestImportAssetsCancelled(t *testing.T) {
	s := storetest.SQLite(t)
	e := newEnv(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ImportAssets(ctx, e.db, e.orgA, strings.NewReader(assetHeader+"a,h,Linux,ssh/22,,,,,\n"), ImportOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestExportAssetsFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, readTestdata(t, "assets_import.csv"), ImportOptions{})
		web, _ := NodeByPath(e.ctx, e.db, e.orgA, "/Default/Web", false)
		win := e.asset(t, e.orgA, "win01")
		tests := []struct {
			name string
			f    ExportFilter
			want []string
		}{
			{"subtree", ExportFilter{NodeID: web.ID}, []string{"web01", "web02", "multi"}},
			{"zone", ExportFilter{ZoneID: e.zoneA}, []string{"web02"}},
			{"platform", ExportFilter{PlatformID: win.PlatformID}, []string{"win01"}},
			{"ids", ExportFilter{AssetIDs: []uint{win.ID}}, []string{"win01"}},
			{"no ids", ExportFilter{AssetIDs: []uint{}}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []string
				for _, line := range strings.Split(strings.TrimSpace(e.exportAssets(t, e.orgA, tt.f)), "\n")[1:] {
					if strings.HasPrefix(line, "line two") {
						continue // the second line of multi's comment
					}
					got = append(got, strings.Split(line, ",")[0])
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
		var b bytes.Buffer
		if err := ExportAssets(e.ctx, e.db, e.orgB, &b, ExportFilter{NodeID: web.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("export of B by a node of A: got %v", err)
		}
	})
}

func TestFormulaGuard(t *testing.T) {
	for _, v := range []string{"", "plain", "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'", "'=1", "''=1", "'hello", "a=b"} {
		esc := escapeCell(v)
		if esc != "" && strings.ContainsAny(esc[:1], "=+-@\t\r") {
			t.Errorf("escapeCell(%q) = %q starts a formula", v, esc)
		}
		if got := unescapeCell(esc); got != v {
			t.Errorf("unescapeCell(escapeCell(%q)) = %q", v, got)
		}
	}
	// Hand-typed apostrophes in front of a trigger are dropped; others kept.
	for in, want := range map[string]string{"'=1": "=1", "'-x": "-x", "'hello": "'hello", "'": "'"} {
		if got := unescapeCell(in); got != want {
			t.Errorf("unescapeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImportErrorsCapped(t *testing.T) {
	s := storetest.SQLite(t)
	e := newEnv(t, s)
	var b strings.Builder
	b.WriteString(assetHeader)
	for i := range MaxReportedErrors {
		fmt.Fprintf(&b, "a%d,h,Nope,ssh/0,,,,,\n", i) // two errors per row
	}
	in := b.String()
	res := e.importAssets(t, e.orgA, in, ImportOptions{})
	if len(res.Errors) != MaxReportedErrors || res.ErrorsOmitted != MaxReportedErrors {
		t.Errorf("got %d errors listed and %d omitted, want %d and %d", len(res.Errors), res.ErrorsOmitted, MaxReportedErrors, MaxReportedErrors)
	}
}
