package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/server"
)

func TestServeFirstStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.SSHAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	start := func() (*server.Server, string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := server.New(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ctx) }()
		<-srv.Ready()
		return srv, "http://" + srv.Addr(), func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		}
	}
	srv, base, stop := start()
	pw := srv.InitialAdminPassword()
	if len(pw) < 16 {
		t.Fatalf("initial password %q is too short", pw)
	}
	file := filepath.Join(dir, "initial-admin-password")
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("initial password file: %v, mode %v", err, st)
	}
	b, _ := os.ReadFile(file)
	if strings.TrimSpace(string(b)) != pw {
		t.Fatal("the file does not hold the printed password")
	}
	for path, want := range map[string]int{"/healthz": 200, "/api/v1/openapi.json": 200, "/metrics": 200, "/": 200, "/api/v1/me": 401} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		// "/" answers 503 when the UI is not built into this test binary.
		if path == "/" && res.StatusCode == http.StatusServiceUnavailable {
			continue
		}
		if res.StatusCode != want {
			t.Errorf("GET %s: got %d, want %d", path, res.StatusCode, want)
		}
	}
	res, err := http.Post(base+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: got %d, want 405", res.StatusCode)
	}
	stop()

	// A restart keeps the admin and does not print a new password.
	srv, _, stop = start()
	defer stop()
	if srv.InitialAdminPassword() != "" {
		t.Fatal("a restart created another initial password")
	}
}
