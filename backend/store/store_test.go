package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestMigrateSeedsAndIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		org, err := s.DefaultOrg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if org.Name != store.DefaultOrgName {
			t.Fatalf("default org: got %q, want %q", org.Name, store.DefaultOrgName)
		}
		var n int64
		s.DB.Model(&store.Organization{}).Count(&n)
		if n != 1 {
			t.Fatalf("orgs after two migrations: got %d, want 1", n)
		}
		s.DB.Model(&store.CommandGroup{}).Where("builtin = ?", true).Count(&n)
		if n != 2 {
			t.Fatalf("built-in command groups: got %d, want 2 (commands, SQL)", n)
		}
		// A built-in group an administrator deleted does not come back.
		if err := s.DB.Where("name = ?", "Deny dangerous SQL").Delete(&store.CommandFilter{}).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB.Where("name = ?", "Dangerous SQL").Delete(&store.CommandGroup{}).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("third migrate: %v", err)
		}
		s.DB.Model(&store.CommandGroup{}).Where("builtin = ?", true).Count(&n)
		if n != 1 {
			t.Fatalf("built-in command groups after one was deleted: got %d, want 1", n)
		}
		var p store.Platform
		if err := s.DB.Where("name = ?", "Linux").First(&p).Error; err != nil {
			t.Fatal(err)
		}
		if !p.Protocols.Contains("ssh/22") {
			t.Fatalf("Linux protocols: got %v", p.Protocols)
		}
	})
}

func TestTranslateDuplicate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		org, _ := s.DefaultOrg(context.Background())
		a := store.Asset{OrgID: org.ID, Name: "web01", Address: "10.0.0.1", IsActive: true, Protocols: store.Protocols{{Name: "ssh", Port: 22}}}
		storetest.MustCreate(t, s.DB, &a)
		b := store.Asset{OrgID: org.ID, Name: "web01", Address: "10.0.0.2", IsActive: true}
		err := store.Translate(s.DB.Create(&b).Error)
		if !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("got %v, want ErrDuplicate", err)
		}
		var got store.Asset
		if err := s.DB.First(&got, a.ID).Error; err != nil {
			t.Fatal(err)
		}
		if port, ok := got.Protocols.Port("ssh"); !ok || port != 22 {
			t.Fatalf("protocols round trip: got %v", got.Protocols)
		}
		err = store.Translate(s.DB.First(&got, 999999).Error)
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
}
