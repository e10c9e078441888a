// Package storetest opens throwaway databases for tests: SQLite in a temp dir
// always, and a fresh PostgreSQL database when PORTCULLIS_TEST_PG_DSN is set
// (make test sets it), so that every migration and query runs on both.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/portcullis/portcullis/backend/store"
)

// PGEnv names the environment variable holding an admin DSN of a PostgreSQL
// server on which tests may create and drop databases.
const PGEnv = "PORTCULLIS_TEST_PG_DSN"

// SQLite opens a migrated SQLite store in a temp dir, closed at cleanup.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Postgres opens a migrated store on a fresh PostgreSQL database, dropped at
// cleanup. It returns nil when PORTCULLIS_TEST_PG_DSN is not set. Under CI
// (CI=true) a missing DSN fails the test instead, so PostgreSQL coverage cannot
// silently disappear.
func Postgres(t testing.TB) *store.Store {
	t.Helper()
	admin := os.Getenv(PGEnv)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI", PGEnv)
		}
		return nil
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "pc_test_" + hex.EncodeToString(b)
	adb, err := gorm.Open(postgres.Open(admin), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to postgres admin DSN: %v", err)
	}
	if err := adb.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create database: %v", err)
	}
	s, err := store.Open(context.Background(), store.Options{DSN: WithDB(admin, name)})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		if sqlDB, err := adb.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return s
}

// WithDB returns a PostgreSQL DSN (URL or key=value) with its database name replaced.
func WithDB(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		i := strings.LastIndexByte(dsn, '/')
		q := ""
		if j := strings.IndexByte(dsn[i:], '?'); j >= 0 {
			q = dsn[i+j:]
		}
		return dsn[:i+1] + name + q
	}
	var parts []string
	for _, f := range strings.Fields(dsn) {
		if !strings.HasPrefix(f, "dbname=") {
			parts = append(parts, f)
		}
	}
	return strings.Join(append(parts, "dbname="+name), " ")
}

// Each runs f once per available database driver as a subtest named after it.
func Each(t *testing.T, f func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		s := Postgres(t)
		if s == nil {
			t.Skipf("%s not set: PostgreSQL run skipped (make test sets it)", PGEnv)
		}
		f(t, s)
	})
}

// MustCreate inserts v or fails the test.
func MustCreate(t testing.TB, db *gorm.DB, v any) {
	t.Helper()
	if err := db.Create(v).Error; err != nil {
		t.Fatalf("create %T: %v", v, err)
	}
}
