package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/httpapi"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

// env is a real API on a real database behind a real HTTP listener.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	api     *httpapi.API
	st      *store.Store
	adminPW string
}

func newEnv(t *testing.T, s *store.Store, mutate func(*httpapi.Deps)) *env {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	aud := audit.New(s.DB, nil, nil)
	sets := settings.New(s.DB)
	svc := auth.NewService(s.DB, v, sets, aud, nil, nil)
	if err := perm.EnsureIndexes(ctx, s.DB); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pw, created, err := svc.EnsureInitialAdmin(ctx, dir)
	if err != nil || !created {
		t.Fatalf("initial admin: created=%v err=%v", created, err)
	}
	d := httpapi.Deps{Store: s, Auth: svc, Perm: perm.New(s.DB, nil), Vault: v, Audit: aud, Settings: sets, MaxBodyBytes: 64 << 10}
	if mutate != nil {
		mutate(&d)
	}
	api := httpapi.New(d)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, api: api, st: s, adminPW: pw}
}

type resp struct {
	status int
	body   []byte
	hdr    http.Header
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

func (r resp) errField(t *testing.T) (code, field string) {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error body: %s", r.body)
	}
	c, _ := e["code"].(string)
	f, _ := e["field"].(string)
	return c, f
}

// do sends a request; body may be a string (sent raw) or a value (sent as JSON).
func (e *env) do(method, path, token string, body any, hdrs ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdrs); i += 2 {
		req.Header.Set(hdrs[i], hdrs[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, hdr: res.Header}
}

func (e *env) want(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("got status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

const strongPW = "Correct-Horse-42-battery"

// adminToken logs the initial admin in, changing the one-time password.
func (e *env) adminToken() string {
	e.t.Helper()
	r := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": e.adminPW}), 200).json(e.t)
	if r["status"] != "password_change_required" {
		e.t.Fatalf("first login: got status %v, want password_change_required", r["status"])
	}
	r = e.want(e.do("POST", "/api/v1/auth/password", r["token"].(string), map[string]string{"new_password": strongPW}), 200).json(e.t)
	if r["status"] != "ok" {
		e.t.Fatalf("after change: got status %v, want ok", r["status"])
	}
	e.adminPW = strongPW
	return r["token"].(string)
}

func (e *env) id(r resp) float64 {
	e.t.Helper()
	id, ok := r.json(e.t)["id"].(float64)
	if !ok {
		e.t.Fatalf("no id in %s", r.body)
	}
	return id
}

func (e *env) userToken(admin, username string, orgHdr ...string) string {
	e.t.Helper()
	body := map[string]any{"username": username, "password": strongPW, "must_change_password": false}
	e.want(e.do("POST", "/api/v1/users", admin, body, orgHdr...), 201)
	r := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": strongPW}), 200).json(e.t)
	if r["status"] != "ok" {
		e.t.Fatalf("login %s: status %v", username, r["status"])
	}
	return r["token"].(string)
}

func TestLoginFlowWithForcedChangeAndTOTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, nil)
		// Wrong password: 401, same message as unknown user.
		bad := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "nope"}), 401)
		unknown := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "ghost", "password": "nope"}), 401)
		if string(bad.body) != string(unknown.body) {
			t.Fatalf("bad password and unknown user answer differently: %s vs %s", bad.body, unknown.body)
		}
		r := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": e.adminPW}), 200).json(t)
		step := r["token"].(string)
		// The step token is not a session.
		e.want(e.do("GET", "/api/v1/me", step, nil), 401)
		// Weak password refused, naming the field.
		if _, f := e.want(e.do("POST", "/api/v1/auth/password", step, map[string]string{"new_password": "short"}), 400).errField(t); f != "new_password" {
			t.Fatalf("weak password field: got %q, want new_password", f)
		}
		tok := e.want(e.do("POST", "/api/v1/auth/password", step, map[string]string{"new_password": strongPW}), 200).json(t)["token"].(string)
		me := e.want(e.do("GET", "/api/v1/me", tok, nil), 200).json(t)
		if me["username"] != "admin" || me["is_admin"] != true || me["must_change_password"] != false {
			t.Fatalf("me: %v", me)
		}
		// Enrol TOTP with the session.
		setup := e.want(e.do("POST", "/api/v1/auth/mfa/setup", tok, nil), 200).json(t)
		secret := setup["secret"].(string)
		if !strings.HasPrefix(setup["otpauth_uri"].(string), "otpauth://totp/") {
			t.Fatalf("otpauth uri: %v", setup["otpauth_uri"])
		}
		code, _ := auth.TOTPCode(secret, time.Now())
		conf := e.want(e.do("POST", "/api/v1/auth/mfa/confirm", tok, map[string]string{"otp": code}), 200).json(t)
		codes, _ := conf["recovery_codes"].([]any)
		if len(codes) == 0 {
			t.Fatalf("no recovery codes: %v", conf)
		}
		e.want(e.do("POST", "/api/v1/auth/logout", tok, nil), 204)
		e.want(e.do("GET", "/api/v1/me", tok, nil), 401)
		// Next login asks for the OTP.
		r = e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": strongPW}), 200).json(t)
		if r["status"] != "otp_required" {
			t.Fatalf("got %v, want otp_required", r["status"])
		}
		step = r["token"].(string)
		e.want(e.do("POST", "/api/v1/auth/otp", step, map[string]string{"otp": "000000"}), 401)
		r = e.want(e.do("POST", "/api/v1/auth/otp", step, map[string]string{"otp": codes[0].(string)}), 200).json(t)
		if r["status"] != "ok" || r["user"] == nil {
			t.Fatalf("recovery code login: %v", r)
		}
		// Every attempt is in the login log.
		var n int64
		s.DB.Model(&store.LoginLog{}).Where("success = ?", false).Count(&n)
		if n < 3 {
			t.Fatalf("failed attempts logged: got %d, want >= 3", n)
		}
	})
}

func TestBadInputIsRefusedClearlyAndWritesNothing(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	tok := e.adminToken()
	linux := 1.0
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"malformed json", "POST", "/api/v1/assets", `{"name": "x",`, 400, ""},
		{"not json at all", "POST", "/api/v1/assets", `hello`, 400, ""},
		{"wrong type", "POST", "/api/v1/assets", `{"name": 42, "address": "10.0.0.1", "platform_id": 1}`, 400, "name"},
		{"unknown field", "POST", "/api/v1/assets", map[string]any{"name": "a", "address": "10.0.0.1", "platform_id": linux, "colour": "red"}, 400, "colour"},
		{"two objects", "POST", "/api/v1/zones", `{"name":"a"}{"name":"b"}`, 400, ""},
		{"missing name", "POST", "/api/v1/assets", map[string]any{"address": "10.0.0.1", "platform_id": linux}, 400, "name"},
		{"bad port", "POST", "/api/v1/assets", map[string]any{"name": "a", "address": "10.0.0.1", "platform_id": linux, "protocols": []map[string]any{{"name": "ssh", "port": 70000}}}, 400, "protocols"},
		{"bad address", "POST", "/api/v1/assets", map[string]any{"name": "a", "address": "not a host!", "platform_id": linux}, 400, "address"},
		{"bad cidr", "POST", "/api/v1/login-acls", map[string]any{"name": "x", "ip_ranges": []string{"10.0.0.0/33"}, "action": "deny"}, 400, "ip_ranges"},
		{"bad time window", "POST", "/api/v1/permissions", map[string]any{"name": "p", "time_window": "mon 25:00-26:00"}, 400, "time_window"},
		{"bad action", "POST", "/api/v1/permissions", map[string]any{"name": "p", "actions": []string{"fly"}}, 400, "actions"},
		{"bad account selector", "POST", "/api/v1/permissions", map[string]any{"name": "p", "accounts": []string{"@EVERYONE"}}, 400, "accounts"},
		{"expiry before start", "POST", "/api/v1/permissions", map[string]any{"name": "p", "date_start": "2026-02-01T00:00:00Z", "date_expired": "2026-01-01T00:00:00Z"}, 400, "date_expired"},
		{"bad regex", "POST", "/api/v1/command-groups", map[string]any{"name": "g", "kind": "regex", "content": "rm (-rf"}, 400, "content"},
		{"bad page", "GET", "/api/v1/assets?page=0", nil, 400, "page"},
		{"bad sort", "GET", "/api/v1/assets?sort=password_hash", nil, 400, "sort"},
		{"bad id", "GET", "/api/v1/assets/abc", nil, 400, "id"},
		{"oversized body", "POST", "/api/v1/zones", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		{"unknown endpoint", "GET", "/api/v1/nope", nil, 404, ""},
		{"bad security policy", "PUT", "/api/v1/settings/security", map[string]any{"password_min_length": 3}, 400, "password_min_length"},
		{"bad smtp security", "PUT", "/api/v1/settings/smtp", map[string]any{"host": "mail.example.com", "port": 465, "from": "a@example.com", "security": "tls-ish"}, 400, "security"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before int64
			s := e.st
			s.DB.Model(&store.Asset{}).Count(&before)
			r := e.want(e.do(tt.method, tt.path, tok, tt.body), tt.status)
			_, field := r.errField(t)
			if field != tt.field {
				t.Fatalf("field: got %q, want %q (%s)", field, tt.field, r.body)
			}
			var after int64
			s.DB.Model(&store.Asset{}).Count(&after)
			if after != before {
				t.Fatalf("a refused request wrote %d assets", after-before)
			}
		})
	}

	t.Run("duplicate name is a conflict", func(t *testing.T) {
		e.want(e.do("POST", "/api/v1/zones", tok, map[string]any{"name": "dmz"}), 201)
		e.want(e.do("POST", "/api/v1/zones", tok, map[string]any{"name": "dmz"}), 409)
		var n int64
		e.st.DB.Model(&store.Zone{}).Where("name = ?", "dmz").Count(&n)
		if n != 1 {
			t.Fatalf("zones named dmz: got %d, want 1", n)
		}
	})
	t.Run("node with assets cannot be deleted", func(t *testing.T) {
		node := e.id(e.want(e.do("POST", "/api/v1/nodes", tok, map[string]any{"name": "Prod"}), 201))
		e.want(e.do("POST", "/api/v1/assets", tok, map[string]any{"name": "db01", "address": "10.0.0.9", "platform_id": linux, "node_ids": []float64{node}}), 201)
		e.want(e.do("DELETE", fmt.Sprintf("/api/v1/nodes/%d", int(node)), tok, nil), 409)
		e.want(e.do("GET", fmt.Sprintf("/api/v1/nodes/%d", int(node)), tok, nil), 200)
	})
}

func TestOrganizationsAreIsolated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, nil)
		admin := e.adminToken()
		asset := e.id(e.want(e.do("POST", "/api/v1/assets", admin, map[string]any{"name": "web01", "address": "10.0.0.1", "platform_id": 1}), 201))
		orgB := e.id(e.want(e.do("POST", "/api/v1/orgs", admin, map[string]any{"name": "Acme"}), 201))
		hdrB := []string{"X-Portcullis-Org", fmt.Sprint(int(orgB))}
		// An org admin of B.
		e.want(e.do("POST", "/api/v1/users", admin, map[string]any{"username": "bob", "password": strongPW, "org_role": "org_admin", "must_change_password": false}, hdrB...), 201)
		r := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "bob", "password": strongPW}), 200).json(t)
		bob := r["token"].(string)

		list := e.want(e.do("GET", "/api/v1/assets", bob, nil), 200).json(t)
		if list["total"].(float64) != 0 {
			t.Fatalf("org B admin sees %v assets of org A", list["total"])
		}
		path := fmt.Sprintf("/api/v1/assets/%d", int(asset))
		e.want(e.do("GET", path, bob, nil), 404)
		e.want(e.do("PATCH", path, bob, map[string]any{"name": "pwned"}), 404)
		e.want(e.do("DELETE", path, bob, nil), 404)
		e.want(e.do("GET", "/api/v1/assets", bob, nil, "X-Portcullis-Org", "1"), 403)
		// Org B cannot reference org A's asset in its own permission.
		if _, f := e.want(e.do("POST", "/api/v1/permissions", bob, map[string]any{"name": "steal", "asset_ids": []float64{asset}}), 400).errField(t); f != "asset_ids" {
			t.Fatalf("cross-org asset id: field %q", f)
		}
		// The asset is untouched and the denial was audited.
		var a store.Asset
		s.DB.First(&a, uint(asset))
		if a.Name != "web01" {
			t.Fatalf("asset renamed to %q", a.Name)
		}
		var denials int64
		s.DB.Model(&store.OperationLog{}).Where("action = ? AND username = ?", "access.deny", "bob").Count(&denials)
		if denials == 0 {
			t.Fatal("the cross-org denial was not audited")
		}
		// A plain user cannot use admin endpoints at all; that too is audited.
		carol := e.userToken(admin, "carol")
		e.want(e.do("GET", "/api/v1/users", carol, nil), 403)
		s.DB.Model(&store.OperationLog{}).Where("action = ? AND username = ?", "access.deny", "carol").Count(&denials)
		if denials != 1 {
			t.Fatalf("carol's denials logged: got %d, want 1", denials)
		}
	})
}

func TestUserSeesExactlyPermittedAssets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s, nil)
		admin := e.adminToken()
		web := e.id(e.want(e.do("POST", "/api/v1/assets", admin, map[string]any{"name": "web01", "address": "10.0.0.1", "platform_id": 1}), 201))
		e.want(e.do("POST", "/api/v1/assets", admin, map[string]any{"name": "db01", "address": "10.0.0.2", "platform_id": 1}), 201)
		e.want(e.do("POST", "/api/v1/accounts", admin, map[string]any{"asset_id": web, "username": "root", "secret": "s3cret-pass"}), 201)
		alice := e.userToken(admin, "alice")
		if n := e.want(e.do("GET", "/api/v1/me/assets", alice, nil), 200).json(t)["total"]; n != 0.0 {
			t.Fatalf("before any permission alice sees %v assets", n)
		}
		var aliceID uint
		s.DB.Model(&store.User{}).Select("id").Where("username = ?", "alice").Scan(&aliceID)
		e.want(e.do("POST", "/api/v1/permissions", admin, map[string]any{"name": "web", "user_ids": []uint{aliceID}, "asset_ids": []float64{web},
			"accounts": []string{"root"}, "protocols": []string{"ssh"}, "actions": []string{"connect", "upload"}}), 201)
		list := e.want(e.do("GET", "/api/v1/me/assets", alice, nil), 200).json(t)
		items := list["items"].([]any)
		if list["total"] != 1.0 || len(items) != 1 {
			t.Fatalf("alice sees %v", list)
		}
		item := items[0].(map[string]any)
		if item["asset"].(map[string]any)["name"] != "web01" {
			t.Fatalf("alice sees %v", item)
		}
		if !strings.Contains(string(mustJSON(item["accounts"])), `"root"`) {
			t.Fatalf("accounts: %v", item["accounts"])
		}
		if strings.Contains(string(e.do("GET", "/api/v1/me/assets", alice, nil).body), "s3cret-pass") {
			t.Fatal("the account secret leaked into /me/assets")
		}
	})
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestSecretsAreWriteOnlyAndRevealIsAudited(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	admin := e.adminToken()
	asset := e.id(e.want(e.do("POST", "/api/v1/assets", admin, map[string]any{"name": "web01", "address": "10.0.0.1", "platform_id": 1}), 201))
	r := e.want(e.do("POST", "/api/v1/accounts", admin, map[string]any{"asset_id": asset, "username": "root", "secret": "Tr0ub4dor&3"}), 201)
	if strings.Contains(string(r.body), "Tr0ub4dor") || r.json(t)["has_secret"] != true {
		t.Fatalf("create answered %s", r.body)
	}
	id := int(e.id(r))
	for _, path := range []string{fmt.Sprintf("/api/v1/accounts/%d", id), "/api/v1/accounts", "/api/v1/audit/operation-logs", "/api/v1/accounts/export"} {
		if b := e.want(e.do("GET", path, admin, nil), 200).body; strings.Contains(string(b), "Tr0ub4dor") {
			t.Fatalf("%s returned the secret: %s", path, b)
		}
	}
	var acc store.Account
	e.st.DB.First(&acc, id)
	if bytes.Contains(acc.SecretEnc, []byte("Tr0ub4dor")) {
		t.Fatal("secret stored in plain text")
	}
	reveal := fmt.Sprintf("/api/v1/accounts/%d/reveal", id)
	e.want(e.do("POST", reveal, admin, map[string]string{"password": "wrong"}), 401)
	got := e.want(e.do("POST", reveal, admin, map[string]string{"password": e.adminPW}), 200).json(t)
	if got["secret"] != "Tr0ub4dor&3" {
		t.Fatalf("reveal: got %v", got)
	}
	var rows []store.OperationLog
	e.st.DB.Where("action = ?", "account.reveal").Order("id").Find(&rows)
	if len(rows) != 2 || rows[0].Success || !rows[1].Success {
		t.Fatalf("reveal audit rows: %+v", rows)
	}
}

func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	r := e.want(e.do("GET", "/api/v1/openapi.json", "", nil), 200)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routes := e.api.Routes()
	for _, rt := range routes {
		if !documented[rt] {
			t.Errorf("route %s is not in the OpenAPI document", rt)
		}
		delete(documented, rt)
	}
	for rt := range documented {
		t.Errorf("the OpenAPI document lists %s, which is not served", rt)
	}
	// Every route is really mounted: none answers "no such endpoint".
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		path = strings.ReplaceAll(path, "{id}", "1")
		res := e.do(method, path, "", nil)
		if res.status == 404 && strings.Contains(string(res.body), "no such endpoint") {
			t.Errorf("%s is documented but not mounted", rt)
		}
	}
	if len(routes) < 60 {
		t.Errorf("only %d routes", len(routes))
	}
}

func TestLaunchTokenCORSHealthAndMetrics(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), func(d *httpapi.Deps) {
		d.LaunchToken = "launch-secret"
		d.AllowedOrigins = []string{"wails://wails"}
	})
	e.want(e.do("GET", "/healthz", "", nil), 403)
	r := e.want(e.do("GET", "/healthz", "", nil, "X-Portcullis-Launch", "launch-secret"), 200)
	if r.json(t)["status"] != "ok" {
		t.Fatalf("healthz: %s", r.body)
	}
	e.want(e.do("GET", "/healthz", "", nil, "X-Portcullis-Launch", "wrong"), 403)
	pre := e.do("OPTIONS", "/api/v1/auth/login", "", nil, "Origin", "wails://wails", "Access-Control-Request-Method", "POST")
	if pre.status != 204 || pre.hdr.Get("Access-Control-Allow-Origin") != "wails://wails" {
		t.Fatalf("preflight from wails: %d %v", pre.status, pre.hdr)
	}
	evil := e.do("GET", "/healthz", "", nil, "Origin", "https://evil.example", "X-Portcullis-Launch", "launch-secret")
	if evil.hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a foreign origin got CORS headers")
	}
	m := e.want(e.do("GET", "/metrics", "", nil, "X-Portcullis-Launch", "launch-secret"), 200)
	if !strings.Contains(string(m.body), "portcullis_http_requests_total") {
		t.Fatalf("metrics lack the request counter:\n%.500s", m.body)
	}
}

func TestPatchChangesOnlyGivenFieldsAndLogsBeforeAfter(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	admin := e.adminToken()
	id := int(e.id(e.want(e.do("POST", "/api/v1/assets", admin, map[string]any{"name": "web01", "address": "10.0.0.1", "platform_id": 1, "comment": "keep me"}), 201)))
	got := e.want(e.do("PATCH", fmt.Sprintf("/api/v1/assets/%d", id), admin, map[string]any{"address": "10.0.0.2"}), 200).json(t)
	if got["address"] != "10.0.0.2" || got["comment"] != "keep me" || got["name"] != "web01" {
		t.Fatalf("patch result: %v", got)
	}
	var row store.OperationLog
	e.st.DB.Where("action = ?", "asset.update").Last(&row)
	if !strings.Contains(row.Before, "10.0.0.1") || !strings.Contains(row.After, "10.0.0.2") || row.Username != "admin" {
		t.Fatalf("operation log row: %+v", row)
	}
	list := e.want(e.do("GET", "/api/v1/assets?search=WEB&sort=-name&page_size=5", admin, nil), 200).json(t)
	if list["total"] != 1.0 || list["page_size"] != 5.0 {
		t.Fatalf("search: %v", list)
	}
}

func TestCSVImportReportsRowErrors(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	admin := e.adminToken()
	csv := "name,address,platform,protocols,nodes\nweb01,10.0.0.1,Linux,ssh/22,/Prod/Web\nbad,10.0.0.2,Linux,ssh/99999,\n"
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/assets/import", strings.NewReader(csv))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "text/csv")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Created int `json:"created"`
		Errors  []struct {
			Row   int    `json:"row"`
			Field string `json:"field"`
		} `json:"errors"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 || out.Created != 1 || len(out.Errors) != 1 || out.Errors[0].Field != "protocols" {
		t.Fatalf("import: status %d, %+v", res.StatusCode, out)
	}
	exp := e.want(e.do("GET", "/api/v1/assets/export", admin, nil), 200)
	if !strings.Contains(string(exp.body), "web01") || strings.Contains(string(exp.body), "bad,") {
		t.Fatalf("export: %s", exp.body)
	}
}

// A server reachable over the network (no launch token) never offers the
// desktop's first-run setup, even with the one-time password file present:
// the admin's password is claimed with the printed one-time password only.
func TestNoSetupWithoutLaunchToken(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), func(d *httpapi.Deps) { d.SetupDir = t.TempDir() })
	if got := e.want(e.do("GET", "/api/v1/setup", "", nil), 200).json(t)["needed"]; got != false {
		t.Errorf("GET /setup: needed %v, want false", got)
	}
	e.want(e.do("POST", "/api/v1/setup", "", map[string]string{"password": "Someone-Elses-Passw0rd"}), 404)
	var n int64
	e.st.DB.Model(&store.OperationLog{}).Where("action = ? AND detail LIKE ?", "access.deny", "%first-run setup on a server%").Count(&n)
	if n != 1 {
		t.Errorf("audited denials of the setup: got %d, want 1", n)
	}
}
