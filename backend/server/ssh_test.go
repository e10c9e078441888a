package server

import (
	"context"
	"crypto/rand"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/reach"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

// TestSSHGatewayWiring builds the gateway as the server does, serves it on
// loopback, checks that its host key survives a restart and that it stops
// with the context.
func TestSSHGatewayWiring(t *testing.T) {
	st := storetest.SQLite(t)
	key := make([]byte, 32)
	rand.Read(key)
	v, _ := vault.New(key)
	aud := audit.New(st.DB, nil, nil)
	sets := settings.New(st.DB)
	deps := sshGatewayDeps{
		Store: st, Vault: v, Audit: aud, Settings: sets, Auth: auth.NewService(st.DB, v, sets, aud, nil, nil),
		Perm: perm.New(st.DB, nil), Sessions: session.NewRegistry(st.DB, aud, nil, nil, "test"),
		Dialer: reach.New(st.DB, v, hostkey.New(st.DB, aud, nil, nil, nil), nil),
	}
	dir := t.TempDir()
	hostKey := func() string {
		s := &Server{cfg: config.Config{DataDir: dir, SSHAddr: "127.0.0.1:0"}}
		gw, err := s.newSSHGateway(deps)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- serveSSHListener(ctx, gw, ln, nil) }()
		var got ssh.PublicKey
		ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{User: "nobody", Timeout: 5 * time.Second,
			HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { got = k; return nil }})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serveSSHListener: got %v, want nil after cancel", err)
		}
		if got == nil {
			t.Fatal("no host key presented")
		}
		return ssh.FingerprintSHA256(got)
	}
	first, second := hostKey(), hostKey()
	if first != second {
		t.Errorf("host key after restart: got %v, want %v", second, first)
	}
	if _, err := filepath.Glob(filepath.Join(dir, "ssh", "ssh_host_*")); err != nil {
		t.Fatal(err)
	}
	disabled := &Server{cfg: config.Config{DataDir: dir}}
	if gw, err := disabled.newSSHGateway(deps); gw == nil || err != nil {
		t.Errorf("empty SSH address: got %v, %v, want a gateway for the web terminals", gw, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := disabled.serveSSH(ctx, nil); err != nil {
		t.Errorf("serveSSH of a disabled gateway: got %v, want nil", err)
	}
}
