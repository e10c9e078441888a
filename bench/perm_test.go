package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// The datasets are built once per run, on first use, and shared by every
// benchmark; TestMain removes them.
var (
	tmpDir   string
	datasets = map[string]*permBench{}
	dsMu     sync.Mutex // guards datasets
	results  resultTable
)

// permBench is a generated dataset and a resolver on it.
type permBench struct {
	store   *store.Store
	ds      *PermDataset
	r       *perm.Resolver
	genTime time.Duration
	drop    func() // removes the database
}

func TestMain(m *testing.M) {
	var err error
	if tmpDir, err = os.MkdirTemp("", "portcullis-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	for _, pb := range datasets {
		pb.store.Close()
		if pb.drop != nil {
			pb.drop()
		}
	}
	os.RemoveAll(tmpDir)
	results.print()
	os.Exit(code)
}

// drivers lists the databases to measure on: SQLite always, PostgreSQL when
// PORTCULLIS_TEST_PG_DSN names a server where databases may be created.
func drivers() []string {
	if os.Getenv(storetest.PGEnv) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// dataset returns the dataset of the driver, generating it on first use.
func dataset(b *testing.B, driver string) *permBench {
	b.Helper()
	dsMu.Lock()
	defer dsMu.Unlock()
	if pb := datasets[driver]; pb != nil {
		return pb
	}
	ctx := context.Background()
	pb := &permBench{}
	var err error
	switch driver {
	case "sqlite":
		pb.store, err = store.Open(ctx, store.Options{DSN: "sqlite:" + filepath.Join(tmpDir, "perm.db")})
	case "postgres":
		pb.store, pb.drop, err = openPostgres(ctx)
	}
	if err != nil {
		b.Fatalf("open %s: %v", driver, err)
	}
	start := time.Now()
	if pb.ds, err = GeneratePerm(ctx, pb.store, DefaultPermConfig()); err != nil {
		b.Fatalf("generate: %v", err)
	}
	if err := perm.EnsureIndexes(ctx, pb.store.DB); err != nil {
		b.Fatalf("indexes: %v", err)
	}
	if driver == "postgres" {
		// What autovacuum does a little later: statistics for the planner,
		// and the visibility map that lets index-only scans skip the heap.
		// SQLite is measured as it stands, without statistics.
		if err := pb.store.DB.Exec("VACUUM ANALYZE").Error; err != nil {
			b.Fatalf("vacuum: %v", err)
		}
	}
	pb.genTime = time.Since(start)
	pb.r = perm.New(pb.store.DB, func() time.Time { return pb.ds.Now })
	b.Logf("%s dataset generated in %v: %v", driver, pb.genTime.Round(time.Millisecond), pb.ds.Rows)
	datasets[driver] = pb
	return pb
}

// openPostgres opens a store on a fresh database of the server named by
// PORTCULLIS_TEST_PG_DSN, and a function that drops it.
func openPostgres(ctx context.Context) (*store.Store, func(), error) {
	admin := os.Getenv(storetest.PGEnv)
	adb, err := gorm.Open(postgres.Open(admin), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "pc_bench_" + hex.EncodeToString(b)
	if err := adb.Exec("CREATE DATABASE " + name).Error; err != nil {
		return nil, nil, err
	}
	drop := func() {
		adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		if sqlDB, err := adb.DB(); err == nil {
			sqlDB.Close()
		}
	}
	s, err := store.Open(ctx, store.Options{DSN: storetest.WithDB(admin, name)})
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, drop, nil
}

// users are the two users measured.
func (pb *permBench) users() []struct {
	name string
	id   uint
} {
	return []struct {
		name string
		id   uint
	}{{"typical", pb.ds.TypicalUser}, {"broad", pb.ds.BroadUser}}
}

// report records the time per operation of a finished benchmark loop.
func report(b *testing.B, extra map[string]float64) {
	b.Helper()
	perOp := b.Elapsed() / time.Duration(max(b.N, 1))
	b.ReportMetric(float64(perOp.Nanoseconds())/1e6, "ms/op")
	for unit, v := range extra {
		b.ReportMetric(v, unit)
	}
	results.record(b.Name(), perOp, extra)
}

// BenchmarkUserAssets lists the first page of 20 of a user's assets, with the
// total, as GET /me/assets does.
func BenchmarkUserAssets(b *testing.B) {
	ctx := context.Background()
	for _, driver := range drivers() {
		b.Run(driver, func(b *testing.B) {
			pb := dataset(b, driver)
			for _, u := range pb.users() {
				queries := []struct {
					name string
					q    perm.Query
				}{
					{"first-page", perm.Query{Limit: 20}},
					{"search", perm.Query{Limit: 20, Search: "web-01"}},
					{"node", perm.Query{Limit: 20, NodeID: 2}}, // a second-level node: a tenth of the tree
					{"protocol", perm.Query{Limit: 20, Protocol: "rdp"}},
					{"page-50-by-address", perm.Query{Offset: 980, Limit: 20, Sort: "-address"}},
				}
				for _, qq := range queries {
					b.Run(u.name+"/"+qq.name, func(b *testing.B) {
						var total int64
						for b.Loop() {
							var err error
							if _, total, err = pb.r.UserAssets(ctx, u.id, qq.q); err != nil {
								b.Fatal(err)
							}
						}
						report(b, map[string]float64{"assets": float64(total)})
					})
				}
			}
		})
	}
}

// BenchmarkCheck checks one account, protocol and action on one asset, as
// every connection does.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	for _, driver := range drivers() {
		b.Run(driver, func(b *testing.B) {
			pb := dataset(b, driver)
			for _, u := range pb.users() {
				assetID, account, protocol, action := grantedTriple(b, pb, u.id)
				b.Run(u.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := pb.r.Check(ctx, u.id, assetID, account, protocol, action); err != nil {
							b.Fatal(err)
						}
					}
					report(b, nil)
				})
				b.Run(u.name+"/access", func(b *testing.B) {
					for b.Loop() {
						if _, err := pb.r.Access(ctx, u.id, assetID); err != nil {
							b.Fatal(err)
						}
					}
					report(b, nil)
				})
			}
		})
	}
}

// grantedTriple finds an asset and an account, protocol and action that one
// permission grants the user together.
func grantedTriple(b *testing.B, pb *permBench, userID uint) (uint, string, string, string) {
	b.Helper()
	ctx := context.Background()
	items, _, err := pb.r.UserAssets(ctx, userID, perm.Query{Limit: 100})
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range items {
		for _, acc := range it.Accounts {
			for _, pr := range it.Protocols {
				for _, ac := range it.Actions {
					if _, err := pb.r.Check(ctx, userID, it.Asset.ID, acc.Name, pr, ac); err == nil {
						return it.Asset.ID, acc.Name, pr, ac
					}
				}
			}
		}
	}
	b.Fatalf("user %d: no granted account/protocol/action in the first 100 assets", userID)
	return 0, "", "", ""
}

// BenchmarkUserNodes builds a user's asset tree with counts, as GET /me/nodes does.
func BenchmarkUserNodes(b *testing.B) {
	ctx := context.Background()
	for _, driver := range drivers() {
		b.Run(driver, func(b *testing.B) {
			pb := dataset(b, driver)
			for _, u := range pb.users() {
				b.Run(u.name, func(b *testing.B) {
					var n int
					for b.Loop() {
						nodes, err := pb.r.UserNodes(ctx, u.id)
						if err != nil {
							b.Fatal(err)
						}
						n = len(nodes)
					}
					report(b, map[string]float64{"nodes": float64(n)})
				})
			}
		})
	}
}

// resultTable collects the last measure of each benchmark for a summary.
type resultTable struct {
	mu   sync.Mutex // guards rows
	rows map[string]string
}

func (t *resultTable) record(name string, perOp time.Duration, extra map[string]float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows == nil {
		t.rows = map[string]string{}
	}
	var notes []string
	for unit, v := range extra {
		notes = append(notes, fmt.Sprintf("%.0f %s", v, unit))
	}
	slices.Sort(notes)
	t.rows[name] = fmt.Sprintf("%-58s %14d %10.2f  %s", name, perOp.Nanoseconds(), float64(perOp.Nanoseconds())/1e6, strings.Join(notes, ", "))
}

func (t *resultTable) print() {
	if len(t.rows) == 0 {
		return
	}
	names := make([]string, 0, len(t.rows))
	for n := range t.rows {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Printf("\n%-58s %14s %10s\n", "op", "ns/op", "ms")
	for _, n := range names {
		fmt.Println(t.rows[n])
	}
	for driver, pb := range datasets {
		fmt.Printf("(%s dataset: %d assets, %d nodes, %d users, %d permissions, generated in %v)\n", driver,
			pb.ds.Rows["assets"], pb.ds.Rows["nodes"], pb.ds.Rows["users"], pb.ds.Rows["asset_permissions"], pb.genTime.Round(time.Millisecond))
	}
}
