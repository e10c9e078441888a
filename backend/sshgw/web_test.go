package sshgw_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/httpapi"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// webAPI serves the real HTTP API with the gateway as its web terminal
// runner, and returns its URL.
func (g *gw) webAPI() string {
	g.t.Helper()
	api := httpapi.New(httpapi.Deps{
		Store: g.st, Auth: g.auth, Perm: perm.New(g.st.DB, nil), Vault: g.vault, Audit: audit.New(g.st.DB, nil, nil),
		Settings: g.sets, Sessions: g.reg, Terminals: g.srv, RecordingDir: filepath.Join(g.dataDir, "recordings"),
	})
	hs := httptest.NewServer(api)
	g.t.Cleanup(hs.Close)
	return hs.URL
}

// webLogin logs a user in through the auth service and returns the session token.
func (g *gw) webLogin(name string) string {
	g.t.Helper()
	res, err := g.auth.Login(g.ctx, auth.LoginRequest{Username: name, Password: testPassword,
		Meta: auth.RequestMeta{SourceIP: "192.0.2.1", Channel: auth.ChannelWeb}})
	if err != nil || res.Token == "" {
		g.t.Fatalf("login %s: %+v, %v", name, res, err)
	}
	return res.Token
}

// connectToken asks the API for a web terminal token; it returns the HTTP
// status and the decoded body.
func connectToken(t *testing.T, base, bearer string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/api/v1/terminal/tokens", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// webTerm is the browser's side of /ws/terminal.
type webTerm struct {
	t      *testing.T
	conn   *websocket.Conn
	mu     sync.Mutex // guards out, ctl
	out    strings.Builder
	ctl    []map[string]any
	closed chan struct{}
}

func dialTerminal(t *testing.T, base, token, origin string) (*webTerm, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{"portcullis.v1", "portcullis.connect." + token}}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/terminal?cols=100&rows=30", h)
	if err != nil {
		return nil, resp, err
	}
	w := &webTerm{t: t, conn: conn, closed: make(chan struct{})}
	go func() {
		defer close(w.closed)
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			w.mu.Lock()
			if kind == websocket.BinaryMessage {
				w.out.Write(data)
			} else {
				var m map[string]any
				json.Unmarshal(data, &m)
				w.ctl = append(w.ctl, m)
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return w, resp, nil
}

func (w *webTerm) send(s string) {
	w.t.Helper()
	if err := w.conn.WriteMessage(websocket.BinaryMessage, []byte(s)); err != nil {
		w.t.Fatalf("send %q: %v", s, err)
	}
}

func (w *webTerm) control(s string) {
	w.t.Helper()
	if err := w.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		w.t.Fatalf("control %q: %v", s, err)
	}
}

func (w *webTerm) expect(s string) {
	w.t.Helper()
	eventually(w.t, fmt.Sprintf("%q on the web terminal", s), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return strings.Contains(w.out.String(), s)
	})
}

// expectControl waits for a control frame of typ and returns it.
func (w *webTerm) expectControl(typ string, match func(map[string]any) bool) map[string]any {
	w.t.Helper()
	var got map[string]any
	eventually(w.t, "a "+typ+" control frame", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, m := range w.ctl {
			if m["type"] == typ && (match == nil || match(m)) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

func TestWebTerminal(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	bob := g.user("bob")
	canary := g.canaryFilter()
	base := g.webAPI()
	aliceTok, bobTok := g.webLogin(alice.Username), g.webLogin(bob.Username)

	status, out := connectToken(t, base, aliceTok, map[string]any{"asset_id": g.web01.ID})
	if status != http.StatusCreated || out["account"] != "deploy" || out["protocol"] != "ssh" || out["path"] != "/ws/terminal" {
		t.Fatalf("token: got %d %v", status, out)
	}
	token := out["token"].(string)

	// An auditor follows the real-time events (/ws/events) of the organization.
	auditor := &store.User{OrgID: g.org.ID, Username: "carla", Role: store.RoleUser, OrgRole: store.OrgRoleAuditor, IsActive: true}
	storetest.MustCreate(t, g.st.DB, auditor)
	if err := g.auth.SetPassword(g.ctx, auditor, testPassword, false); err != nil {
		t.Fatal(err)
	}
	evDialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{"portcullis.v1", "portcullis.bearer." + g.webLogin("carla")}}
	events, _, err := evDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/events", nil)
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	defer events.Close()
	if _, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/events",
		http.Header{"Sec-WebSocket-Protocol": {"portcullis.v1, portcullis.bearer." + aliceTok}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("events for a plain user: %v, %v, want 403", resp, err)
	}

	t.Run("session", func(t *testing.T) {
		w, _, err := dialTerminal(t, base, token, "")
		if err != nil {
			t.Fatal(err)
		}
		w.expect("$ ")
		w.send("PS1='PCWEB-''READY$ '\r")
		w.expect("PCWEB-READY$ ")
		w.send("echo web-$((6*7)); stty size\r")
		w.expect("web-42")
		w.expect("30 100") // the size asked for in the URL
		w.control(`{"type":"resize","cols":132,"rows":43}`)
		w.control(`{"type":"resize","cols":0,"rows":0}`)
		w.expectControl("error", func(m map[string]any) bool { return strings.Contains(m["message"].(string), "bad size") })
		w.control(`{"type":"resize","cols":"wide"}`)
		w.expectControl("error", func(m map[string]any) bool { return strings.Contains(m["message"].(string), "bad control frame") })
		w.send("stty size\r")
		w.expect("43 132")
		w.send("touch " + canary + "\r")
		ev := w.expectControl("event", nil)["event"].(map[string]any)
		if ev["kind"] != "denied" || ev["rule"] != "deny canary" || ev["command"] != "touch "+canary {
			t.Errorf("event: got %v, want the canary denied", ev)
		}
		w.send("exit 3\r")
		exit := w.expectControl("exit", nil)
		if exit["code"] != float64(3) {
			t.Errorf("exit: got %v, want code 3", exit)
		}
		select {
		case <-w.closed:
		case <-time.After(10 * time.Second):
			t.Error("the server did not close the WebSocket after the session")
		}
		if _, err := os.Stat(canary); err == nil {
			t.Error("the denied command ran on the target")
		}
		g.waitEnded()
		sess := rows[store.Session](g, "user_id = ?", alice.ID)
		if len(sess) != 1 || sess[0].Via != "web" || sess[0].Kind != "shell" || sess[0].AccountName != "deploy" || sess[0].Recording == "" {
			t.Fatalf("session rows: got %+v, want one web shell as deploy, recorded", sess)
		}
		cmds := rows[store.Command](g, "session_id = ?", sess[0].ID)
		var got []string
		for _, c := range cmds {
			got = append(got, c.Input+" => "+c.Verdict)
		}
		events.SetReadDeadline(time.Now().Add(10 * time.Second))
		var live struct {
			Type    string
			Command store.Command
		}
		if err := events.ReadJSON(&live); err != nil || live.Type != "command" || live.Command.Verdict != "denied" || live.Command.Input != "touch "+canary || live.Command.Username != "alice" {
			t.Errorf("real-time event: %+v, %v; want alice's denied canary", live, err)
		}
		want := "touch " + canary + " => denied"
		if !strings.Contains(strings.Join(got, "\n"), want) || !strings.Contains(strings.Join(got, "\n"), "stty size => allowed") {
			t.Errorf("commands: got %q, want %q and stty size allowed", got, want)
		}
	})

	t.Run("recording", func(t *testing.T) {
		sess := rows[store.Session](g, "user_id = ?", alice.ID)
		get := func(token, id string) (*http.Response, string) {
			req, _ := http.NewRequest("GET", base+"/api/v1/sessions/"+id+"/recording", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res, string(b)
		}
		res, body := get(g.webLogin("carla"), sess[0].ID)
		if res.StatusCode != 200 || !strings.HasPrefix(body, `{"version":2`) || !strings.Contains(body, "web-42") {
			t.Fatalf("recording for the auditor: %d %q", res.StatusCode, body[:min(len(body), 200)])
		}
		if res, _ := get(aliceTok, sess[0].ID); res.StatusCode != http.StatusForbidden {
			t.Errorf("recording for a plain user: %d, want 403", res.StatusCode)
		}
		if res, _ := get(g.webLogin("carla"), "no-such-session"); res.StatusCode != http.StatusNotFound {
			t.Errorf("recording of an unknown session: %d, want 404", res.StatusCode)
		}
		if n := len(g.oplogRows("session.replay")); n != 1 {
			t.Errorf("session.replay rows: got %d, want 1 (the read)", n)
		}
	})

	t.Run("token spent", func(t *testing.T) {
		_, resp, err := dialTerminal(t, base, token, "")
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reused token: got %v, %v, want 401", resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "already used") {
			t.Errorf("reused token: body %s", body)
		}
	})

	t.Run("bad tokens and origins", func(t *testing.T) {
		for _, tok := range []string{"", "garbage", "pct_" + strings.Repeat("A", 43)} {
			if _, resp, err := dialTerminal(t, base, tok, ""); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("token %q: got %v, %v, want 401", tok, resp, err)
			}
		}
		_, fresh := connectToken(t, base, aliceTok, map[string]any{"asset_id": g.web01.ID})
		if _, resp, err := dialTerminal(t, base, fresh["token"].(string), "https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign origin: got %v, %v, want 403", resp, err)
		}
		// The refused origin did not spend the token.
		w, _, err := dialTerminal(t, base, fresh["token"].(string), "")
		if err != nil {
			t.Fatalf("token after a refused origin: %v", err)
		}
		w.expect("$ ")
		w.conn.Close()
	})

	t.Run("other users and assets", func(t *testing.T) {
		if status, _ := connectToken(t, base, bobTok, map[string]any{"asset_id": g.web01.ID}); status != http.StatusNotFound {
			t.Errorf("bob's token to web01: got %d, want 404", status)
		}
		if status, _ := connectToken(t, base, aliceTok, map[string]any{"asset_id": g.web01.ID, "account": "root"}); status != http.StatusForbidden {
			t.Errorf("an account not granted: got %d, want 403", status)
		}
		if status, _ := connectToken(t, base, aliceTok, map[string]any{"asset_id": "web01"}); status != http.StatusBadRequest {
			t.Errorf("asset_id of the wrong type: got %d, want 400", status)
		}
		if status, _ := connectToken(t, base, aliceTok, map[string]any{"asset_id": g.web01.ID, "protocol": "gopher"}); status != http.StatusBadRequest {
			t.Errorf("an unknown protocol: got %d, want 400", status)
		}
		if status, _ := connectToken(t, base, aliceTok, map[string]any{"asset_id": g.web01.ID, "protocol": "rdp"}); status != http.StatusForbidden {
			t.Errorf("a protocol the asset does not speak: got %d, want 403", status)
		}
		denied := 0
		for _, r := range g.oplogRows("access.deny") {
			if strings.Contains(r.Detail, "web terminal") {
				denied++
			}
		}
		if denied < 3 {
			t.Errorf("audited web terminal denials: got %d, want at least 3 (origin, other user, account)", denied)
		}
	})
}

// A connection token for a remote desktop does not open a web terminal (nor
// is it spent by trying).
func TestWebTerminalRefusesDesktopToken(t *testing.T) {
	g := newGW(t)
	alice := g.user("alice")
	win := g.asset("win01", store.Protocol{Name: "rdp", Port: 3389})
	g.account(win, "admin", store.SecretPassword, "x")
	g.grant("alice-win", []*store.User{alice}, []*store.Asset{win}, []string{store.AccountAll}, store.ActionConnect)
	base := g.webAPI()
	status, out := connectToken(t, base, g.webLogin("alice"), map[string]any{"asset_id": win.ID, "protocol": "rdp"})
	if status != http.StatusCreated || out["path"] != "/ws/desktop" {
		t.Fatalf("token: got %d %v", status, out)
	}
	_, resp, err := dialTerminal(t, base, out["token"].(string), "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a desktop token on /ws/terminal: got %v, %v, want 403", resp, err)
	}
	if n := len(rows[store.OperationLog](g, "success = ? AND detail LIKE ?", false, "%desktop%")); n == 0 {
		t.Fatal("the refusal was not audited")
	}
}
