package server_test

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/server"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
)

// A session left open by a crash is closed as "interrupted" at the next start.
func TestRestartClosesInterruptedSessions(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr = t.TempDir(), "127.0.0.1:0"
	srv, err := server.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := srv.Sessions().Start(context.Background(), session.Meta{OrgID: 1, Username: "alice", AssetName: "web01", Protocol: "ssh", Kind: "shell"})
	if err != nil {
		t.Fatal(err)
	}
	id := l.Meta().ID
	srv.Close() // no End: the process "died" mid-session

	srv, err = server.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var row store.Session
	if err := srv.Store().DB.Where("id = ?", id).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.EndedAt == nil || row.EndReason != session.EndInterrupted {
		t.Fatalf("after restart: got ended_at %v, reason %q, want set and %q", row.EndedAt, row.EndReason, session.EndInterrupted)
	}
}
