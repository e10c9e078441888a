package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
		return srv, srv.Scheme() + "://" + srv.Addr(), func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		}
	}
	srv, base, stop := start()
	if !strings.HasPrefix(base, "https://") || srv.TLS() == nil || !srv.TLS().SelfSigned {
		t.Fatalf("portcullisd's default: got %s, TLS %+v, want HTTPS with a self-signed certificate", base, srv.TLS())
	}
	client := trusting(t, srv.TLS().CertFile)
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
		res, err := client.Get(base + path)
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
	res, err := client.Post(base+"/", "text/plain", strings.NewReader("x"))
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

// trusting returns an HTTP client that trusts exactly the certificate in
// certFile (names and addresses checked as usual).
func trusting(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", certFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TLS: a certificate is generated on the first start, kept across restarts
// (clients pin it), its fingerprint is what the client sees; plain HTTP to the
// HTTPS port is refused; a configured certificate is used as it is; tls: off
// serves plain HTTP.
func TestTLS(t *testing.T) {
	serve := func(cfg config.Config) (*server.Server, func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := server.New(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ctx) }()
		<-srv.Ready()
		return srv, func() { cancel(); <-errc; srv.Close() }
	}
	peer := func(t *testing.T, addr string) string {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return server.Fingerprint(c.ConnectionState().PeerCertificates[0].Raw)
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.SSHAddr = dir, "127.0.0.1:0", ""

	srv, stop := serve(cfg)
	first := srv.TLS().Fingerprint
	if got := peer(t, srv.Addr()); got != first || len(first) != 95 {
		t.Fatalf("peer certificate %s, server says %s", got, first)
	}
	if st, err := os.Stat(filepath.Join(dir, "tls", "server.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", err, st)
	}
	res, err := trusting(t, srv.TLS().CertFile).Get("https://" + srv.Addr() + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /healthz over HTTPS with the certificate trusted: %v, %v", res, err)
	}
	res.Body.Close()
	if res, err := http.Get("http://" + srv.Addr() + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Error("plain HTTP to the HTTPS port got 200")
		}
	}
	stop()
	srv, stop = serve(cfg)
	if got := srv.TLS().Fingerprint; got != first {
		t.Errorf("after a restart: fingerprint %s, want the same %s", got, first)
	}
	stop()

	other := config.Default()
	other.DataDir, other.HTTPAddr, other.SSHAddr = t.TempDir(), "127.0.0.1:0", ""
	other.TLSCert, other.TLSKey = filepath.Join(dir, "tls", "server.crt"), filepath.Join(dir, "tls", "server.key")
	srv, stop = serve(other)
	if srv.TLS().SelfSigned || srv.TLS().Fingerprint != first || peer(t, srv.Addr()) != first {
		t.Errorf("configured certificate: got %+v, want %s and not self-signed", srv.TLS(), first)
	}
	if _, err := os.Stat(filepath.Join(other.DataDir, "tls")); err == nil {
		t.Error("a certificate was generated although one is configured")
	}
	stop()

	plain := config.Default()
	plain.DataDir, plain.HTTPAddr, plain.SSHAddr, plain.TLS = t.TempDir(), "127.0.0.1:0", "", config.TLSOff
	srv, stop = serve(plain)
	defer stop()
	if srv.TLS() != nil || srv.Scheme() != "http" {
		t.Fatalf("tls: off: got %s, %+v", srv.Scheme(), srv.TLS())
	}
	res, err = http.Get("http://" + srv.Addr() + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /healthz over plain HTTP: %v, %v", res, err)
	}
	res.Body.Close()
}
