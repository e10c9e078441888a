package desktops_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	assetpkg "github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/desktops"
	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/guacgw/fakeguacd"
	"github.com/portcullis/portcullis/backend/httpapi"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

const testPassword = "Desk-Top-Passw0rd!"

// env is the real API with the real desktop service, in front of the
// protocol-level fake guacd.
type env struct {
	t       testing.TB
	st      *store.Store
	auth    *auth.Service
	reg     *session.Registry
	sets    *settings.Store
	vault   *vault.Vault
	fake    *fakeguacd.Server
	url     string
	dataDir string
	org     *store.Organization
}

func newEnv(t testing.TB, opts fakeguacd.Options) *env {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	aud := audit.New(st.DB, log, nil)
	sets := settings.New(st.DB)
	svc := auth.NewService(st.DB, v, sets, aud, log, nil)
	reg := session.NewRegistry(st.DB, aud, log, nil, "test")
	org, err := st.DefaultOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	fake := fakeguacd.Start(t, opts)
	if err := sets.Put(ctx, settings.KeyDesktop, settings.Desktop{GuacdAddr: fake.Addr()}); err != nil {
		t.Fatal(err)
	}
	resolver := perm.New(st.DB, nil)
	desk, err := desktops.New(desktops.Config{RecordingDir: filepath.Join(dataDir, "recordings"), DialTimeout: 3 * time.Second},
		desktops.Deps{DB: st.DB, Perm: resolver, Vault: v, Audit: aud, Settings: sets, Sessions: reg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Deps{Store: st, Auth: svc, Perm: resolver, Vault: v, Audit: aud, Settings: sets,
		Sessions: reg, Desktops: desk, RecordingDir: filepath.Join(dataDir, "recordings")})
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	return &env{t: t, st: st, auth: svc, reg: reg, sets: sets, vault: v, fake: fake, url: hs.URL, dataDir: dataDir, org: org}
}

// user creates a user with a role and returns a session token.
func (e *env) user(name, role, orgRole string) string {
	e.t.Helper()
	u := &store.User{OrgID: e.org.ID, Username: name, Role: role, OrgRole: orgRole, IsActive: true}
	storetest.MustCreate(e.t, e.st.DB, u)
	if err := e.auth.SetPassword(context.Background(), u, testPassword, false); err != nil {
		e.t.Fatal(err)
	}
	res, err := e.auth.Login(context.Background(), auth.LoginRequest{Username: name, Password: testPassword,
		Meta: auth.RequestMeta{SourceIP: "192.0.2.1", Channel: auth.ChannelWeb}})
	if err != nil || res.Token == "" {
		e.t.Fatalf("login %s: %+v, %v", name, res, err)
	}
	return res.Token
}

// windows creates an RDP asset of the Windows platform with a password
// account and grants it to username with the actions.
func (e *env) windows(username string, actions ...string) *store.Asset {
	e.t.Helper()
	var pl store.Platform
	if err := e.st.DB.Where("name = ?", "Windows").Take(&pl).Error; err != nil {
		e.t.Fatal(err)
	}
	pl.Settings = store.JSONMap{"rdp_security": "nla", "ignore_cert": "true", "domain": "CORP"}
	e.st.DB.Save(&pl)
	a := &store.Asset{OrgID: e.org.ID, Name: "win01", Address: "192.0.2.50", PlatformID: pl.ID,
		Protocols: store.Protocols{{Name: "rdp", Port: 3389}}, IsActive: true}
	storetest.MustCreate(e.t, e.st.DB, a)
	acc := &store.Account{OrgID: e.org.ID, AssetID: a.ID, Name: "admin", Username: "Administrator", SecretType: store.SecretPassword, IsActive: true}
	storetest.MustCreate(e.t, e.st.DB, acc)
	if err := assetpkg.SealAccountSecret(e.vault, acc, "Rdp-Secret-42"); err != nil {
		e.t.Fatal(err)
	}
	e.st.DB.Save(acc)
	var u store.User
	e.st.DB.Where("username = ?", username).Take(&u)
	p := &store.AssetPermission{OrgID: e.org.ID, Name: username + "-win01", Accounts: store.JSONList{store.AccountAll},
		Protocols: store.JSONList{"all"}, Actions: actions, IsActive: true, Users: []store.User{u}, Assets: []store.Asset{*a}}
	storetest.MustCreate(e.t, e.st.DB, p)
	return a
}

// post calls the API and decodes the answer.
func (e *env) post(path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.url+"/api/v1"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// browser is the page's side of /ws/desktop: what guacamole-common-js sees.
type browser struct {
	t      testing.TB
	conn   *websocket.Conn
	mu     sync.Mutex // guards got
	got    []guacgw.Instruction
	more   chan struct{} // signalled (capacity 1) when got grows
	closed chan struct{}
}

func (e *env) dial(path string, subprotocols []string, origin string) (*browser, *http.Response, error) {
	e.t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: subprotocols}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(e.url, "http")+path, h)
	if err != nil {
		return nil, resp, err
	}
	b := &browser{t: e.t, conn: conn, more: make(chan struct{}, 1), closed: make(chan struct{})}
	go func() {
		defer close(b.closed)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			for len(data) > 0 {
				in, n, err := guacgw.Parse(data)
				if err != nil {
					e.t.Errorf("the browser got a malformed instruction %q: %v", data, err)
					return
				}
				data = data[n:]
				b.mu.Lock()
				b.got = append(b.got, in)
				b.mu.Unlock()
				select {
				case b.more <- struct{}{}:
				default:
				}
				if in.Opcode == "sync" { // guacamole-common-js answers every sync
					conn.WriteMessage(websocket.TextMessage, []byte(guacgw.NewInstruction("sync", in.Args[0]).String()))
				}
			}
		}
	}()
	e.t.Cleanup(func() { conn.Close() })
	return b, resp, nil
}

// wait waits until the browser got an instruction with the opcode and returns it.
func (b *browser) wait(opcode string) guacgw.Instruction {
	b.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		for _, in := range b.got {
			if in.Opcode == opcode {
				b.mu.Unlock()
				return in
			}
		}
		b.mu.Unlock()
		select {
		case <-b.closed:
			b.mu.Lock()
			got := b.got
			b.mu.Unlock()
			for _, in := range got {
				if in.Opcode == opcode {
					return in
				}
			}
			b.t.Fatalf("the socket closed before %q; got %v", opcode, got)
		case <-b.more:
		case <-timeout:
			b.t.Fatalf("no %q instruction", opcode)
		}
	}
}

func (b *browser) send(in guacgw.Instruction) {
	b.t.Helper()
	if err := b.conn.WriteMessage(websocket.TextMessage, []byte(in.String())); err != nil {
		b.t.Fatalf("send %v: %v", in, err)
	}
}

func (e *env) open(token string, assetID uint) *browser {
	e.t.Helper()
	code, tok := e.post("/terminal/tokens", token, map[string]any{"asset_id": assetID, "protocol": "rdp"})
	if code != http.StatusCreated || tok["path"] != "/ws/desktop" {
		e.t.Fatalf("desktop token: %d %v", code, tok)
	}
	b, resp, err := e.dial("/ws/desktop?width=1280&height=720&dpi=120", []string{"portcullis.v1", "portcullis.connect." + tok["token"].(string)}, e.url)
	if err != nil {
		e.t.Fatalf("dial /ws/desktop: %v (%v)", err, resp)
	}
	return b
}

func TestDesktopSession(t *testing.T) {
	e := newEnv(t, fakeguacd.Options{})
	alice := e.user("alice", store.RoleUser, store.OrgRoleUser)
	admin := e.user("boss", store.RoleSystemAdmin, store.OrgRoleAdmin)
	win := e.windows("alice", store.ActionConnect, store.ActionCopy)

	b := e.open(alice, win.ID)
	size := b.wait("size")
	b.wait("sync")
	conns := e.fake.Conns()
	if len(conns) != 1 {
		t.Fatalf("guacd connections: got %d, want 1", len(conns))
	}
	c := conns[0]
	want := map[string]string{
		"hostname": "192.0.2.50", "port": "3389", "username": "Administrator", "password": "Rdp-Secret-42",
		"domain": "CORP", "security": "nla", "ignore-cert": "true", "disable-copy": "false", "disable-paste": "true",
	}
	for k, v := range want {
		if got := c.Params[k]; got != v {
			t.Errorf("connect parameter %s: got %q, want %q", k, got, v)
		}
	}
	if c.Version != "VERSION_1_5_0" {
		t.Errorf("version answered: got %q, want VERSION_1_5_0", c.Version)
	}
	if strings.Join(c.Size, ",") != "1280,720,120" {
		t.Errorf("handshake size: got %v, want 1280,720,120", c.Size)
	}
	if len(size.Args) < 3 || size.Args[1] != "1280" {
		t.Errorf("size sent to the browser: got %v", size.Args)
	}

	// The session is live, with the guacd connection an administrator joins.
	var live *session.Live
	for _, m := range e.reg.List(e.org.ID) {
		if m.Kind == desktops.KindDesktop {
			live, _ = e.reg.Get(m.ID)
		}
	}
	if live == nil || live.Meta().Connection != c.ID || live.Meta().Protocol != "rdp" {
		t.Fatalf("live desktop session: got %+v, want one joined to %s", live, c.ID)
	}
	w, _, err := e.dial("/ws/sessions/"+live.Meta().ID+"/watch?width=800&height=600", []string{"portcullis.v1", "portcullis.bearer." + admin}, e.url)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	w.wait("sync")
	joins := e.fake.Conns()
	if len(joins) != 2 || !joins[1].Join || joins[1].Select != c.ID || joins[1].Params["read-only"] != "true" {
		t.Fatalf("the watcher's guacd connection: got %+v, want a read-only join of %s", joins[len(joins)-1], c.ID)
	}

	// Input reaches guacd; then the administrator kills the session.
	b.send(guacgw.NewInstruction("mouse", "10", "20", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReceived(ctx, func(rs []fakeguacd.Received) bool {
		for _, r := range rs {
			if r.Opcode == "mouse" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the mouse event did not reach guacd: %v", err)
	}
	// While an administrator locks the session, the user's input is dropped.
	if code, out := e.post("/live-sessions/"+live.Meta().ID+"/lock", admin, nil); code != 200 {
		t.Fatalf("lock: %d %v", code, out)
	}
	// One message: the mouse event is dropped, the resize (not input) goes
	// through, and its arrival tells that the message was handled while locked.
	locked := guacgw.NewInstruction("mouse", "31", "41", "0").String() + guacgw.NewInstruction("size", "1000", "700").String()
	if err := b.conn.WriteMessage(websocket.TextMessage, []byte(locked)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReceived(ctx, func(rs []fakeguacd.Received) bool {
		for _, r := range rs {
			if r.Opcode == "size" && len(r.Args) > 0 && r.Args[0] == "1000" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the resize sent while locked did not reach guacd: %v", err)
	}
	if code, out := e.post("/live-sessions/"+live.Meta().ID+"/unlock", admin, nil); code != 200 {
		t.Fatalf("unlock: %d %v", code, out)
	}
	b.send(guacgw.NewInstruction("mouse", "32", "42", "0"))
	if err := c.WaitReceived(ctx, func(rs []fakeguacd.Received) bool {
		for _, r := range rs {
			if r.Opcode == "mouse" && r.Args[0] == "32" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("input after the unlock did not reach guacd: %v", err)
	}
	for _, r := range c.Received() {
		if r.Opcode == "mouse" && r.Args[0] == "31" {
			t.Fatal("input sent while the session was locked reached guacd")
		}
	}
	if code, out := e.post("/live-sessions/"+live.Meta().ID+"/kill", admin, map[string]string{"reason": "end of shift"}); code != 200 {
		t.Fatalf("kill: %d %v", code, out)
	}
	errIn := b.wait("error")
	if !strings.Contains(errIn.Args[0], "end of shift") {
		t.Errorf("the browser was told %q, want the kill reason", errIn.Args[0])
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the guacd connection stayed open after the kill")
	}
	select {
	case <-live.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the live session did not end")
	}

	var row store.Session
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := e.st.DB.Where("id = ?", live.Meta().ID).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if row.EndedAt != nil {
			break
		}
	}
	if row.Kind != desktops.KindDesktop || row.EndedAt == nil || !strings.HasSuffix(row.Recording, ".guac") {
		t.Fatalf("session row: got %+v", row)
	}
	rec, err := os.ReadFile(row.Recording)
	if err != nil {
		t.Fatal(err)
	}
	r := guacgw.NewReader(bytes.NewReader(rec), 1<<20)
	seen := map[string]int{}
	for {
		in, _, err := r.Read()
		if err != nil {
			break
		}
		seen[in.Opcode]++
	}
	if seen["size"] == 0 || seen["sync"] == 0 || seen["img"] == 0 {
		t.Errorf("recording: got opcodes %v, want size, img and sync", seen)
	}
	if seen["mouse"] != 0 || seen["key"] != 0 {
		t.Errorf("recording holds the user's input %v without the policy asking for it", seen)
	}
}

func TestDesktopRefusals(t *testing.T) {
	e := newEnv(t, fakeguacd.Options{})
	alice := e.user("alice", store.RoleUser, store.OrgRoleUser)
	win := e.windows("alice", store.ActionConnect)

	t.Run("foreign origin", func(t *testing.T) {
		_, tok := e.post("/terminal/tokens", alice, map[string]any{"asset_id": win.ID, "protocol": "rdp"})
		_, resp, err := e.dial("/ws/desktop", []string{"portcullis.v1", "portcullis.connect." + tok["token"].(string)}, "https://evil.example")
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("got %v %v, want 403", err, resp)
		}
		// The refusal did not spend the token.
		b, _, err := e.dial("/ws/desktop", []string{"portcullis.v1", "portcullis.connect." + tok["token"].(string)}, e.url)
		if err != nil {
			t.Fatalf("the token was spent by a refused origin: %v", err)
		}
		b.wait("sync")
	})
	t.Run("token spent or unknown", func(t *testing.T) {
		_, tok := e.post("/terminal/tokens", alice, map[string]any{"asset_id": win.ID, "protocol": "rdp"})
		b, _, err := e.dial("/ws/desktop", []string{"portcullis.v1", "portcullis.connect." + tok["token"].(string)}, e.url)
		if err != nil {
			t.Fatal(err)
		}
		b.wait("sync")
		for _, token := range []string{tok["token"].(string), "pct_unknown"} {
			if _, resp, err := e.dial("/ws/desktop", []string{"portcullis.v1", "portcullis.connect." + token}, e.url); err == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("token %q: got %v, want 401", token, resp)
			}
		}
	})
	t.Run("guacd unreachable fails fast", func(t *testing.T) {
		if err := e.sets.Put(context.Background(), settings.KeyDesktop, settings.Desktop{GuacdAddr: "127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
		defer e.sets.Put(context.Background(), settings.KeyDesktop, settings.Desktop{GuacdAddr: e.fake.Addr()})
		start := time.Now()
		b := e.open(alice, win.ID)
		in := b.wait("error")
		if !strings.Contains(in.Args[0], "cannot reach guacd at 127.0.0.1:1") || time.Since(start) > 5*time.Second {
			t.Fatalf("got %q after %v, want a quick 'cannot reach guacd'", in.Args[0], time.Since(start))
		}
		req, _ := http.NewRequest("GET", e.url+"/api/v1/guacd/status", nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st desktops.Status
		json.NewDecoder(resp.Body).Decode(&st)
		if st.Reachable || st.Address != "127.0.0.1:1" || st.Error == "" {
			t.Fatalf("guacd status: got %+v, want unreachable at 127.0.0.1:1 with the reason", st)
		}
	})
	t.Run("no permission", func(t *testing.T) {
		e.st.DB.Model(&store.AssetPermission{}).Where("name = ?", "alice-win01").Update("is_active", false)
		defer e.st.DB.Model(&store.AssetPermission{}).Where("name = ?", "alice-win01").Update("is_active", true)
		code, _ := e.post("/terminal/tokens", alice, map[string]any{"asset_id": win.ID, "protocol": "rdp"})
		if code != http.StatusNotFound {
			t.Fatalf("token without permission: got %d, want 404", code)
		}
		var n int64
		e.st.DB.Model(&store.OperationLog{}).Where("success = ? AND detail LIKE ?", false, "%no permission grants the asset%").Count(&n)
		if n == 0 {
			t.Fatal("the refusal was not audited")
		}
	})
}

// BenchmarkFirstFrame is the time from "open" to the first frame in the
// browser through the whole of Portcullis: the connection token, /ws/desktop,
// permission checks, recording, live registry and the guacd handshake, up to
// the first sync, against the protocol-level fake guacd. guacgw's
// BenchmarkFirstFrame/direct is the same guacd without Portcullis.
func BenchmarkFirstFrame(b *testing.B) {
	e := newEnv(b, fakeguacd.Options{})
	alice := e.user("alice", store.RoleUser, store.OrgRoleUser)
	win := e.windows("alice", store.ActionConnect)
	for b.Loop() {
		br := e.open(alice, win.ID)
		br.wait("sync")
		br.conn.Close()
	}
}
