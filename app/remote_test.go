package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/server"
)

// startTLSServer runs a real portcullisd with its self-signed certificate.
func startTLSServer(t *testing.T) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.SSHAddr = t.TempDir(), "127.0.0.1:0", ""
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx) }()
	<-srv.Ready()
	t.Cleanup(func() { cancel(); <-errc; srv.Close() })
	return srv
}

func TestProbeRemote(t *testing.T) {
	srv := startTLSServer(t)
	ctx := context.Background()
	p, err := probeRemote(ctx, "https://"+srv.Addr()+"/")
	if err != nil {
		t.Fatal(err)
	}
	if p.Fingerprint != srv.TLS().Fingerprint || p.URL != "https://"+srv.Addr() || !strings.Contains(p.Subject, "Portcullis") {
		t.Errorf("probe: got %+v, want fingerprint %s", p, srv.TLS().Fingerprint)
	}
	other := httptest.NewTLSServer(http.NotFoundHandler())
	defer other.Close()
	for _, tc := range []struct{ url, want string }{
		{other.URL, "is not a Portcullis server"},
		{"http://" + srv.Addr(), "must start with https://"},
		{"https://" + srv.Addr() + "/some/path", "https://host[:port]"},
		{"https://127.0.0.1:1", "connect to"},
	} {
		if _, err := probeRemote(ctx, tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("probe %s: got %v, want an error with %q", tc.url, err, tc.want)
		}
	}
}

func TestRemoteProxy(t *testing.T) {
	srv := startTLSServer(t)
	target, _ := url.Parse("https://" + srv.Addr())
	const token = "launch-secret"
	proxy, err := startRemoteProxy(target, srv.TLS().Fingerprint, token, wailsOrigin, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.close(context.Background())
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string, hdr map[string]string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, proxy.baseURL()+path, strings.NewReader(""))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		return res, body
	}
	if res, _ := do("GET", "/healthz", map[string]string{"X-Portcullis-Launch": token}); res.StatusCode != 200 {
		t.Errorf("healthz through the proxy: %d", res.StatusCode)
	}
	if res, _ := do("GET", "/healthz?launch_token="+token, nil); res.StatusCode != 200 {
		t.Errorf("healthz with the token in the query: %d", res.StatusCode)
	}
	if res, _ := do("GET", "/healthz", nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("no launch token: %d, want 403", res.StatusCode)
	}
	if res, _ := do("GET", "/healthz", map[string]string{"X-Portcullis-Launch": token, "Origin": "https://evil.example"}); res.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", res.StatusCode)
	}
	res, _ := do("OPTIONS", "/api/v1/auth/login", map[string]string{"Origin": wailsOrigin, "Access-Control-Request-Method": "POST"})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != wailsOrigin {
		t.Errorf("preflight: %d, ACAO %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	res, body := do("POST", "/api/v1/auth/login", map[string]string{"X-Portcullis-Launch": token, "Origin": wailsOrigin, "Content-Type": "application/json"})
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Access-Control-Allow-Origin") != wailsOrigin {
		t.Errorf("API call through the proxy: %d %v, ACAO %q", res.StatusCode, body, res.Header.Get("Access-Control-Allow-Origin"))
	}

	// Another certificate than the pinned one: refused with a clear error.
	wrong, err := startRemoteProxy(target, strings.Repeat("AB:", 31)+"AB", token, wailsOrigin, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.close(context.Background())
	req, _ := http.NewRequest("GET", wrong.baseURL()+"/healthz", nil)
	req.Header.Set("X-Portcullis-Launch", token)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway || e.Error.Code != CodeCertificateChanged || !strings.Contains(e.Error.Message, srv.TLS().Fingerprint) {
		t.Errorf("changed certificate: %d %+v", res.StatusCode, e)
	}
}

// WebSockets go through the proxy, with the server's own origin presented.
func TestRemoteProxyWebSocket(t *testing.T) {
	var sawOrigin string
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { sawOrigin = r.Header.Get("Origin"); return true }}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			k, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(k, append([]byte("echo:"), m...))
		}
	}))
	defer ts.Close()
	target, _ := url.Parse(ts.URL)
	proxy, err := startRemoteProxy(target, server.Fingerprint(ts.Certificate().Raw), "tok", wailsOrigin, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.close(context.Background())
	h := http.Header{"Origin": {wailsOrigin}}
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(proxy.baseURL(), "http")+"/ws/terminal?launch_token=tok", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.BinaryMessage, []byte("ls\r"))
	_, m, err := c.ReadMessage()
	if err != nil || string(m) != "echo:ls\r" {
		t.Fatalf("through the proxy: %q, %v", m, err)
	}
	if sawOrigin != "https://"+target.Host {
		t.Errorf("origin at the server: %q, want the server's own", sawOrigin)
	}
}

func TestProfiles(t *testing.T) {
	srv := startTLSServer(t)
	dir := t.TempDir()
	ps, err := loadProfiles(filepath.Join(dir, "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := &App{profiles: ps, tokens: &tokenStore{dir: dir}, log: discardLog(), token: "tok", closing: make(chan struct{})}
	if got := a.Profiles(); got.Current != LocalProfileID || len(got.Profiles) != 1 {
		t.Fatalf("fresh: %+v", got)
	}
	u := "https://" + srv.Addr()
	if _, err := a.AddRemote("prod", u, strings.Repeat("00:", 31)+"00"); err == nil || !strings.Contains(err.Error(), "certificate changed") {
		t.Errorf("AddRemote with another fingerprint than presented: %v", err)
	}
	p, err := a.AddRemote("prod", u, srv.TLS().Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddRemote("prod", u, srv.TLS().Fingerprint); err == nil {
		t.Error("a second profile of the same name was added")
	}
	if _, err := a.SwitchProfile(p.ID); err != nil {
		t.Fatal(err)
	}
	info, err := a.Backend()
	if err != nil || info.Kind != "remote" || info.Profile != "prod" || info.LaunchToken != "tok" || !strings.HasPrefix(info.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("Backend of the remote profile: %+v, %v", info, err)
	}
	res, err := http.Get(info.BaseURL + "/healthz?launch_token=tok")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("through the profile's proxy: %v, %v", res, err)
	}
	res.Body.Close()
	// The choice survives a restart.
	again, err := loadProfiles(filepath.Join(dir, "profiles.json"))
	if err != nil || again.current().Name != "prod" || again.current().Fingerprint != srv.TLS().Fingerprint {
		t.Fatalf("reloaded: %+v, %v", again.list(), err)
	}
	if err := a.RemoveProfile(p.ID); err != nil {
		t.Fatal(err)
	}
	if got := a.Profiles(); got.Current != LocalProfileID || len(got.Profiles) != 1 {
		t.Errorf("after removing the current remote profile: %+v", got)
	}
	if a.remote != nil {
		t.Error("the proxy of the removed profile still runs")
	}
	if err := a.RemoveProfile(LocalProfileID); err == nil {
		t.Error("the Local profile was removed")
	}
}
