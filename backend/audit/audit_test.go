package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestChainVerifiesAndDetectsTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
		l := audit.New(s.DB, nil, func() time.Time { now = now.Add(time.Second); return now })
		for i := 0; i < 5; i++ {
			if err := l.Login(ctx, store.LoginLog{Username: "alice", SourceIP: "10.0.0.1", Channel: "web", Success: i%2 == 0, Reason: "ok"}); err != nil {
				t.Fatal(err)
			}
			if err := l.Operation(ctx, store.OperationLog{Username: "admin", Action: "asset.create", ResourceType: "asset", After: `{"name":"web01"}`, Success: true}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := l.Verify(ctx)
		if err != nil {
			t.Fatalf("verify of an untouched log: %v", err)
		}
		if res.LoginRows != 5 || res.OperationRows != 5 || !res.OK {
			t.Fatalf("got %+v, want 5 and 5 rows, ok", res)
		}

		var third store.OperationLog
		s.DB.Order("id").Offset(2).Limit(1).Find(&third)
		if err := s.DB.Model(&third).Update("after", `{"name":"evil"}`).Error; err != nil {
			t.Fatal(err)
		}
		res, err = l.Verify(ctx)
		if !errors.Is(err, audit.ErrChainBroken) {
			t.Fatalf("got %v, want ErrChainBroken after editing a row", err)
		}
		if res.BrokenOpID != third.ID {
			t.Fatalf("broken operation row: got %d, want %d", res.BrokenOpID, third.ID)
		}

		var second store.LoginLog
		s.DB.Order("id").Offset(1).Limit(1).Find(&second)
		s.DB.Delete(&second)
		res, _ = l.Verify(ctx)
		if res.BrokenLoginID == 0 {
			t.Fatal("deleting a login row went unnoticed")
		}
	})
}
