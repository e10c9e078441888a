package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealBackendContract runs the real embedded backend the way the desktop does and checks
// what the desktop window relies on: loopback address, the launch-token guard, CORS for the
// Wails origin (including the preflight, which carries no token), the first-start password file
// and a clean stop that lets the next launch open the same data dir.
func TestRealBackendContract(t *testing.T) {
	dir := t.TempDir()
	token, err := newLaunchToken()
	if err != nil {
		t.Fatal(err)
	}
	b := newEmbeddedBackend(localConfig(dir, token), discardLog(), newRealServer)
	b.start(context.Background())
	info, err := b.wait(context.Background(), backendReadyTimeout)
	if err != nil {
		t.Fatalf("embedded backend: %v", err)
	}
	t.Cleanup(func() { _ = b.stop(context.Background()) })
	if !strings.HasPrefix(info.BaseURL, "http://127.0.0.1:") {
		t.Errorf("BaseURL = %q, want http://127.0.0.1:<port>", info.BaseURL)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	do := func(t *testing.T, method, path string, header map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, info.BaseURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	tests := []struct {
		name       string
		method     string
		header     map[string]string
		wantStatus int
		wantACAO   string // Access-Control-Allow-Origin
	}{
		{"no launch token", http.MethodGet, nil, http.StatusForbidden, ""},
		{"wrong launch token", http.MethodGet, map[string]string{"X-Portcullis-Launch": "nope"}, http.StatusForbidden, ""},
		{"launch token", http.MethodGet, map[string]string{"X-Portcullis-Launch": token}, http.StatusOK, ""},
		{"wails origin", http.MethodGet, map[string]string{"X-Portcullis-Launch": token, "Origin": wailsOrigin}, http.StatusOK, wailsOrigin},
		{"foreign origin", http.MethodGet, map[string]string{"X-Portcullis-Launch": token, "Origin": "http://evil.example"}, http.StatusOK, ""},
		{"wails preflight", http.MethodOptions, map[string]string{
			"Origin":                         wailsOrigin,
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "content-type,x-portcullis-launch",
		}, http.StatusNoContent, wailsOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, tt.method, "/healthz", tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantACAO)
			}
			if tt.method == http.MethodOptions {
				allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
				if !strings.Contains(allowed, "x-portcullis-launch") {
					t.Errorf("Access-Control-Allow-Headers = %q, want it to allow X-Portcullis-Launch", allowed)
				}
			}
		})
	}

	t.Run("first start password file", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(dir, "initial-admin-password"))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("mode = %v, want 0600", perm)
		}
	})

	t.Run("relaunch on the same data dir", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), backendStopTimeout)
		defer cancel()
		if err := b.stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
		again := newEmbeddedBackend(localConfig(dir, token), discardLog(), newRealServer)
		again.start(context.Background())
		defer again.stop(context.Background())
		if _, err := again.wait(context.Background(), backendReadyTimeout); err != nil {
			t.Fatalf("second launch: %v", err)
		}
	})
}

// The first-run wizard: the embedded backend (launch token) lets the window
// choose the admin password once, instead of the generated one; a server
// without a launch token never offers it.
func TestFirstRunSetup(t *testing.T) {
	dir := t.TempDir()
	token, err := newLaunchToken()
	if err != nil {
		t.Fatal(err)
	}
	b := newEmbeddedBackend(localConfig(dir, token), discardLog(), newRealServer)
	b.start(context.Background())
	info, err := b.wait(context.Background(), backendReadyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.stop(context.Background()) })
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, info.BaseURL+"/api/v1"+path, strings.NewReader(body))
		req.Header.Set("X-Portcullis-Launch", token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := call("GET", "/setup", ""); code != 200 || !strings.Contains(body, `"needed":true`) {
		t.Fatalf("GET /setup on a fresh backend: %d %s", code, body)
	}
	if code, body := call("POST", "/setup", `{"password":"short"}`); code != 400 || !strings.Contains(body, "password") {
		t.Errorf("a weak password: %d %s", code, body)
	}
	if code, body := call("POST", "/setup", `{"password":42}`); code != 400 {
		t.Errorf("a password of the wrong type: %d %s", code, body)
	}
	const pw = "Desktop-Owner-Passw0rd"
	if code, body := call("POST", "/setup", `{"password":"`+pw+`"}`); code != 204 {
		t.Fatalf("setup: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "initial-admin-password")); !os.IsNotExist(err) {
		t.Errorf("the one-time password file is still there: %v", err)
	}
	if code, body := call("POST", "/auth/login", `{"username":"admin","password":"`+pw+`"}`); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("login with the chosen password: %d %s", code, body)
	}
	if code, body := call("GET", "/setup", ""); code != 200 || !strings.Contains(body, `"needed":false`) {
		t.Errorf("GET /setup after setup: %d %s", code, body)
	}
	if code, body := call("POST", "/setup", `{"password":"Another-Owner-Passw0rd"}`); code != 409 {
		t.Errorf("a second setup: %d %s", code, body)
	}
}
