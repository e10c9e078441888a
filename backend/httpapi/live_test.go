package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/httpapi"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// newLiveEnv is a real API with a live-session registry.
func newLiveEnv(t *testing.T, s *store.Store, mutate func(*httpapi.Deps)) (*env, *session.Registry) {
	t.Helper()
	var reg *session.Registry
	e := newEnv(t, s, func(d *httpapi.Deps) {
		reg = session.NewRegistry(d.Store.DB, d.Audit, nil, nil, "node-a", session.WithApprovalPoll(10*time.Millisecond))
		d.Sessions = reg
		if mutate != nil {
			mutate(d)
		}
	})
	return e, reg
}

func (e *env) startLive(reg *session.Registry, orgID uint, username string) *session.Live {
	e.t.Helper()
	l, err := reg.Start(context.Background(), session.Meta{OrgID: orgID, UserID: 99, Username: username, AssetID: 1, AssetName: "web01",
		AccountName: "root", Protocol: "ssh", Kind: "shell", SourceIP: "192.0.2.7", Width: 100, Height: 30})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { l.End(context.Background(), "test over") })
	return l
}

// userWithRole creates a user (org_admin, org_auditor or org_user) and logs it in.
func (e *env) userWithRole(admin, username, orgRole string, hdrs ...string) string {
	e.t.Helper()
	e.want(e.do("POST", "/api/v1/users", admin, map[string]any{"username": username, "password": strongPW, "org_role": orgRole, "must_change_password": false}, hdrs...), 201)
	r := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": strongPW}), 200).json(e.t)
	return r["token"].(string)
}

// otherOrgAdmin creates organization "Acme" with an admin and returns the admin's token.
func (e *env) otherOrgAdmin(admin string) string {
	e.t.Helper()
	org := e.id(e.want(e.do("POST", "/api/v1/orgs", admin, map[string]any{"name": "Acme"}), 201))
	return e.userWithRole(admin, "bob", "org_admin", "X-Portcullis-Org", fmt.Sprint(int(org)))
}

// dial opens a WebSocket as a browser would: the token in Sec-WebSocket-Protocol.
func (e *env) dial(path, token string, hdrs ...string) (*websocket.Conn, *http.Response, error) {
	e.t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(hdrs); i += 2 {
		h.Set(hdrs[i], hdrs[i+1])
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if token != "" {
		d.Subprotocols = []string{"portcullis.v1", "portcullis.bearer." + token}
	}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+path, h)
	if c != nil {
		e.t.Cleanup(func() { c.Close() })
	}
	return c, res, err
}

func (e *env) mustDial(path, token string, hdrs ...string) *websocket.Conn {
	e.t.Helper()
	c, res, err := e.dial(path, token, hdrs...)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		e.t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	if got := res.Header.Get("Sec-WebSocket-Protocol"); got != "portcullis.v1" && token != "" {
		e.t.Fatalf("subprotocol: got %q, want portcullis.v1", got)
	}
	return c
}

// frame is one asciicast event of a stream.
type frame struct {
	kind, data string
}

func readFrame(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	var ev []any
	if err := json.Unmarshal(b, &ev); err != nil || len(ev) != 3 {
		t.Fatalf("frame is not an asciicast event: %s", b)
	}
	return frame{ev[1].(string), ev[2].(string)}
}

// readHeader reads the asciicast header that opens a stream.
func readHeader(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil || h["version"] != 2.0 {
		t.Fatalf("header: got %s", b)
	}
	return h
}

// until reads frames until one of kind holds want, failing after 20 frames.
func until(t *testing.T, c *websocket.Conn, kind, want string) frame {
	t.Helper()
	for range 20 {
		f := readFrame(t, c)
		if f.kind == kind && strings.Contains(f.data, want) {
			return f
		}
	}
	t.Fatalf("no %q frame with %q", kind, want)
	return frame{}
}

func (e *env) oplogRows(action string) []store.OperationLog {
	e.t.Helper()
	var rows []store.OperationLog
	e.st.DB.Where("action = ?", action).Order("id").Find(&rows)
	return rows
}

func TestWatchStreamsOutputLockAndKill(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e, reg := newLiveEnv(t, s, nil)
		admin := e.adminToken()
		l := e.startLive(reg, 1, "alice")
		id := l.Meta().ID
		l.Output([]byte("Welcome to web01\r\n$ "))

		c := e.mustDial("/ws/sessions/"+id+"/watch", admin, "Origin", e.srv.URL)
		h := readHeader(t, c)
		if h["session_id"] != id || h["mode"] != "watch" || h["width"] != 100.0 || h["title"] != "alice@web01" {
			t.Fatalf("header: got %v", h)
		}
		if f := readFrame(t, c); f.kind != "r" || f.data != "100x30" {
			t.Fatalf("first event: got %+v, want r 100x30", f)
		}
		if f := readFrame(t, c); f.kind != "o" || !strings.Contains(f.data, "Welcome to web01") {
			t.Fatalf("snapshot: got %+v, want the screen so far", f)
		}
		// A character split across two chunks arrives whole.
		l.Output([]byte("echo \xe4\xb8"))
		l.Output([]byte("\x96\xe7\x95\x8c\r\n"))
		if got := readFrame(t, c).data + readFrame(t, c).data; got != "echo 世界\r\n" {
			t.Fatalf("output: got %q, want %q", got, "echo 世界\r\n")
		}

		e.want(e.do("POST", "/api/v1/live-sessions/"+id+"/lock", admin, nil), 200)
		until(t, c, "m", "locked by admin")
		if !l.Locked() {
			t.Fatal("the session is not locked")
		}
		e.want(e.do("POST", "/api/v1/live-sessions/"+id+"/unlock", admin, nil), 200)
		until(t, c, "m", "unlocked")

		v := e.want(e.do("POST", "/api/v1/live-sessions/"+id+"/kill", admin, map[string]string{"reason": "maintenance"}), 200).json(t)
		if v["killed"] != true || v["id"] != id {
			t.Fatalf("kill answer: got %v", v)
		}
		select {
		case <-l.Killed():
		case <-time.After(5 * time.Second):
			t.Fatal("Killed() did not close")
		}
		if got := l.KillReason(); got != "killed by admin: maintenance" {
			t.Fatalf("kill reason: got %q", got)
		}
		until(t, c, "m", "killed by admin: maintenance")
		// The relay ends a killed session; the watcher is told why.
		l.End(context.Background(), "")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ReadMessage()
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != websocket.CloseNormalClosure || ce.Text != "session ended: killed by admin: maintenance" {
			t.Fatalf("end of stream: got %v, want a normal close with the end reason", err)
		}
		for _, action := range []string{"session.watch", "session.lock", "session.unlock", "session.kill"} {
			rows := e.oplogRows(action)
			if len(rows) != 1 || rows[0].Username != "admin" || !rows[0].Success || rows[0].ResourceID != id {
				t.Fatalf("%s audit rows: got %+v, want one success by admin", action, rows)
			}
		}
		e.want(e.do("POST", "/api/v1/live-sessions/"+id+"/kill", admin, map[string]string{"reason": "again"}), 404)
	})
}

func TestWebSocketGuards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e, reg := newLiveEnv(t, s, nil)
		admin := e.adminToken()
		carol := e.userWithRole(admin, "carol", "org_user")
		auditor := e.userWithRole(admin, "audrey", "org_auditor")
		bob := e.otherOrgAdmin(admin)
		l := e.startLive(reg, 1, "alice")
		watch := "/ws/sessions/" + l.Meta().ID + "/watch"
		tests := []struct {
			name   string
			path   string
			token  string
			hdrs   []string
			status int
			denied string // user of the access.deny row this must write
		}{
			{name: "no token", path: watch, status: 401},
			{name: "bad token", path: watch, token: "pcs_" + strings.Repeat("A", 43), status: 401},
			{name: "foreign origin", path: watch, token: admin, hdrs: []string{"Origin", "https://evil.example"}, status: 403, denied: "admin"},
			{name: "foreign origin without token", path: watch, hdrs: []string{"Origin", "https://evil.example"}, status: 403, denied: "-"},
			{name: "plain user may not watch", path: watch, token: carol, status: 403, denied: "carol"},
			{name: "another organization's session", path: watch, token: bob, status: 404, denied: "bob"},
			{name: "unknown session", path: "/ws/sessions/nope/watch", token: admin, status: 404},
			{name: "unknown share link", path: "/ws/join/pcj_nope", token: carol, status: 404},
			{name: "auditor may watch", path: watch, token: auditor, hdrs: []string{"Origin", e.srv.URL}, status: 101},
			{name: "own origin", path: watch, token: admin, hdrs: []string{"Origin", e.srv.URL}, status: 101},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var before int64
				s.DB.Model(&store.OperationLog{}).Where("action = ?", "access.deny").Count(&before)
				c, res, _ := e.dial(tt.path, tt.token, tt.hdrs...)
				if res == nil || res.StatusCode != tt.status {
					t.Fatalf("got %v, want status %d", res, tt.status)
				}
				if c != nil {
					readHeader(t, c)
				}
				var rows []store.OperationLog
				s.DB.Where("action = ?", "access.deny").Order("id").Offset(int(before)).Find(&rows)
				switch {
				case tt.denied == "" && len(rows) != 0:
					t.Fatalf("unexpected denial rows: %+v", rows)
				case tt.denied == "-" && (len(rows) != 1 || rows[0].UserID != nil):
					t.Fatalf("denial rows: got %+v, want one without a user", rows)
				case tt.denied != "" && tt.denied != "-" && (len(rows) != 1 || rows[0].Username != tt.denied || rows[0].Success):
					t.Fatalf("denial rows: got %+v, want one of %s", rows, tt.denied)
				}
				if tt.name == "foreign origin" && !strings.Contains(rows[0].Detail, "https://evil.example") {
					t.Fatalf("denial detail: got %q, want the origin", rows[0].Detail)
				}
			})
		}
		t.Run("authorization header for non-browser clients", func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			c, _, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+watch, http.Header{"Authorization": {"Bearer " + admin}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			readHeader(t, c)
		})
	})
}

func TestWebSocketNeedsTheLaunchToken(t *testing.T) {
	e, reg := newLiveEnv(t, storetest.SQLite(t), func(d *httpapi.Deps) {
		d.LaunchToken = "launch-secret"
		d.AllowedOrigins = []string{"wails://wails"}
	})
	r := e.want(e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": e.adminPW}, "X-Portcullis-Launch", "launch-secret"), 200).json(t)
	step := r["token"].(string)
	r = e.want(e.do("POST", "/api/v1/auth/password", step, map[string]string{"new_password": strongPW}, "X-Portcullis-Launch", "launch-secret"), 200).json(t)
	admin := r["token"].(string)
	l := e.startLive(reg, 1, "alice")
	watch := "/ws/sessions/" + l.Meta().ID + "/watch"
	if _, res, _ := e.dial(watch, admin, "Origin", "wails://wails"); res == nil || res.StatusCode != 403 {
		t.Fatalf("without launch token: got %v, want 403", res)
	}
	c := e.mustDial(watch+"?launch_token=launch-secret", admin, "Origin", "wails://wails")
	readHeader(t, c)
}

func TestShareLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e, reg := newLiveEnv(t, s, nil)
		admin := e.adminToken()
		carol := e.userWithRole(admin, "carol", "org_user")
		bob := e.otherOrgAdmin(admin)
		l := e.startLive(reg, 1, "alice")
		id := l.Meta().ID
		share := "/api/v1/live-sessions/" + id + "/share"

		if _, f := e.want(e.do("POST", share, admin, map[string]any{"ttl_minutes": 5000}), 400).errField(t); f != "ttl_minutes" {
			t.Fatalf("bad ttl field: got %q, want ttl_minutes", f)
		}
		e.want(e.do("POST", share, carol, map[string]any{}), 403)
		e.want(e.do("POST", share, bob, map[string]any{}), 404)
		ro := e.want(e.do("POST", share, admin, map[string]any{"interactive": false, "ttl_minutes": 10}), 200).json(t)
		rw := e.want(e.do("POST", share, admin, map[string]any{"interactive": true}), 200).json(t)
		roToken := ro["token"].(string)
		if !strings.HasPrefix(roToken, session.SharePrefix) || ro["url"] != "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/join/"+roToken {
			t.Fatalf("share answer: got %v", ro)
		}
		exp, _ := time.Parse(time.RFC3339, ro["expires_at"].(string))
		if d := time.Until(exp); d < 9*time.Minute || d > 11*time.Minute {
			t.Fatalf("expires_at: got %v from now, want 10m", d)
		}
		for _, row := range e.oplogRows("session.share") {
			if strings.Contains(row.After+row.Detail, roToken) || strings.Contains(row.After+row.Detail, rw["token"].(string)) {
				t.Fatal("a share token reached the operation log")
			}
		}

		t.Run("read-only link cannot send input", func(t *testing.T) {
			c := e.mustDial("/ws/join/"+roToken, carol)
			if h := readHeader(t, c); h["mode"] != "read-only" {
				t.Fatalf("mode: got %v, want read-only", h["mode"])
			}
			c.WriteMessage(websocket.TextMessage, []byte("rm -rf /\r"))
			until(t, c, "m", "read-only: your input is ignored")
			if n := len(l.JoinInput()); n != 0 {
				t.Fatalf("input queued for the relay: got %d, want 0", n)
			}
			rows := e.oplogRows("session.input")
			if len(rows) != 1 || rows[0].Username != "carol" || rows[0].Success {
				t.Fatalf("refused input audit: got %+v", rows)
			}
			l.Output([]byte("still watching"))
			until(t, c, "o", "still watching")
		})
		t.Run("interactive link sends input", func(t *testing.T) {
			c := e.mustDial("/ws/join/"+rw["token"].(string), carol)
			if h := readHeader(t, c); h["mode"] != "interactive" {
				t.Fatalf("mode: got %v, want interactive", h["mode"])
			}
			c.WriteMessage(websocket.TextMessage, []byte("uptime\r"))
			select {
			case got := <-l.JoinInput():
				if string(got) != "uptime\r" {
					t.Fatalf("input: got %q, want %q", got, "uptime\r")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the joiner's input did not reach the relay")
			}
			// Locked: input refused and the joiner told.
			e.want(e.do("POST", "/api/v1/live-sessions/"+id+"/lock", admin, nil), 200)
			until(t, c, "m", "locked by admin")
			c.WriteMessage(websocket.BinaryMessage, []byte("reboot\r"))
			until(t, c, "m", "the session is locked")
			if n := len(l.JoinInput()); n != 0 {
				t.Fatalf("input queued while locked: got %d, want 0", n)
			}
			e.want(e.do("POST", "/api/v1/live-sessions/"+id+"/unlock", admin, nil), 200)
			until(t, c, "m", "unlocked")
		})
		t.Run("link of another organization's session", func(t *testing.T) {
			_, res, _ := e.dial("/ws/join/"+roToken, bob)
			if res == nil || res.StatusCode != 404 {
				t.Fatalf("got %v, want 404", res)
			}
		})
		joins := e.oplogRows("session.join")
		if len(joins) != 2 || joins[0].Username != "carol" || !strings.Contains(joins[0].Detail, "read-only") || !strings.Contains(joins[1].Detail, "interactive") {
			t.Fatalf("join audit rows: got %+v", joins)
		}
	})
}

func TestLiveSessionEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e, reg := newLiveEnv(t, s, nil)
		admin := e.adminToken()
		carol := e.userWithRole(admin, "carol", "org_user")
		auditor := e.userWithRole(admin, "audrey", "org_auditor")
		bob := e.otherOrgAdmin(admin)
		l := e.startLive(reg, 1, "alice")
		e.startLive(reg, 1, "zed")
		id := l.Meta().ID
		l.AddBytes(3, 1234)

		list := e.want(e.do("GET", "/api/v1/live-sessions?sort=username", auditor, nil), 200).json(t)
		items := list["items"].([]any)
		if list["total"] != 2.0 || len(items) != 2 || items[0].(map[string]any)["username"] != "alice" || items[0].(map[string]any)["bytes_out"] != 1234.0 {
			t.Fatalf("list: got %v", list)
		}
		if n := e.want(e.do("GET", "/api/v1/live-sessions?search=ZED", admin, nil), 200).json(t)["total"]; n != 1.0 {
			t.Fatalf("search: got %v, want 1", n)
		}
		if n := e.want(e.do("GET", "/api/v1/live-sessions", bob, nil), 200).json(t)["total"]; n != 0.0 {
			t.Fatalf("another organization sees %v sessions", n)
		}
		e.want(e.do("GET", "/api/v1/live-sessions", carol, nil), 403)
		e.want(e.do("GET", "/api/v1/live-sessions?sort=password", admin, nil), 400)
		e.want(e.do("GET", "/api/v1/live-sessions/"+id, admin, nil), 200)

		kill := "/api/v1/live-sessions/" + id + "/kill"
		tests := []struct {
			name   string
			token  string
			body   any
			status int
			field  string
		}{
			{"auditor may not kill", auditor, map[string]string{"reason": "x"}, 403, ""},
			{"other organization", bob, map[string]string{"reason": "x"}, 404, ""},
			{"escape sequence in the reason", admin, map[string]string{"reason": "bye\x1b[2J"}, 400, "reason"},
			{"reason too long", admin, map[string]string{"reason": strings.Repeat("a", 201)}, 400, "reason"},
			{"unknown field", admin, map[string]string{"why": "x"}, 400, "why"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.want(e.do("POST", kill, tt.token, tt.body), tt.status)
				if _, f := r.errField(t); f != tt.field {
					t.Fatalf("field: got %q, want %q", f, tt.field)
				}
				if isClosed(l.Killed()) {
					t.Fatal("a refused kill killed the session")
				}
			})
		}
		e.want(e.do("POST", kill, admin, nil), 200)
		if got := l.KillReason(); got != "killed by admin" {
			t.Fatalf("kill without a reason: got %q, want %q", got, "killed by admin")
		}
	})
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestApprovalEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e, reg := newLiveEnv(t, s, nil)
		admin := e.adminToken()
		dave := e.userWithRole(admin, "dave", "org_admin")
		carol := e.userWithRole(admin, "carol", "org_user")
		bob := e.otherOrgAdmin(admin)
		// The admin runs a session whose command needs approval.
		l := e.startLive(reg, 1, "admin")
		ask := func() (uint, <-chan bool) {
			sub, cancel := reg.SubscribeApprovals(1)
			defer cancel()
			done := make(chan bool, 1)
			go func() {
				ok, _, _ := reg.RequestApproval(context.Background(), l, "systemctl restart nginx", cmdfilter.Verdict{Action: store.FilterConfirm, FilterID: 1, FilterName: "confirm restarts"}, time.Minute)
				done <- ok
			}()
			select {
			case a := <-sub:
				return a.ID, done
			case <-time.After(5 * time.Second):
				t.Fatal("no approval requested")
			}
			return 0, nil
		}
		id, done := ask()
		pending := e.want(e.do("GET", "/api/v1/approvals?status=pending", admin, nil), 200).json(t)
		if pending["total"] != 1.0 || pending["items"].([]any)[0].(map[string]any)["command"] != "systemctl restart nginx" {
			t.Fatalf("pending approvals: got %v", pending)
		}
		if n := e.want(e.do("GET", "/api/v1/approvals", bob, nil), 200).json(t)["total"]; n != 0.0 {
			t.Fatalf("another organization sees %v approvals", n)
		}
		e.want(e.do("GET", "/api/v1/approvals?status=maybe", admin, nil), 400)
		approve := fmt.Sprintf("/api/v1/approvals/%d/approve", id)
		steps := []struct {
			name   string
			token  string
			path   string
			status int
		}{
			{"the requester cannot approve their own command", admin, approve, 403},
			{"a plain user cannot decide", carol, approve, 403},
			{"another organization cannot see it", bob, approve, 404},
			{"unknown approval", dave, "/api/v1/approvals/9999/approve", 404},
			{"another admin approves", dave, approve, 200},
			{"a decided approval cannot be decided again", dave, fmt.Sprintf("/api/v1/approvals/%d/deny", id), 409},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				e.want(e.do("POST", st.path, st.token, nil), st.status)
			})
		}
		select {
		case ok := <-done:
			if !ok {
				t.Fatal("the session's command was not approved")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the session is still waiting")
		}
		got := e.want(e.do("GET", fmt.Sprintf("/api/v1/approvals/%d", id), admin, nil), 200).json(t)
		if got["status"] != store.ApprovalApproved || got["decided_by"] != "dave" {
			t.Fatalf("approval: got %v", got)
		}
		self := e.oplogRows("approval.approve")
		if len(self) != 2 || self[0].Username != "admin" || self[0].Success || self[1].Username != "dave" || !self[1].Success {
			t.Fatalf("approve audit rows: got %+v", self)
		}

		id, done = ask()
		r := e.want(e.do("POST", fmt.Sprintf("/api/v1/approvals/%d/deny", id), dave, nil), 200).json(t)
		if r["status"] != store.ApprovalDenied {
			t.Fatalf("deny answer: got %v", r)
		}
		if ok := <-done; ok {
			t.Fatal("a denied command was approved")
		}
	})
}

func TestLiveEndpointsWithoutRegistry(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	admin := e.adminToken()
	e.want(e.do("GET", "/api/v1/live-sessions", admin, nil), 503)
	e.want(e.do("POST", "/api/v1/approvals/1/approve", admin, nil), 503)
	e.want(e.do("GET", "/api/v1/approvals", admin, nil), 200)
}
