package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/desktops"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/sshgw"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// Terminals runs web terminal sessions through the SSH gateway's session code
// (sshgw.Server): same permissions, recording, command filters and approvals,
// live registry and idle timeout as a session of the user's own SSH client.
type Terminals interface {
	ServeTerminal(ctx context.Context, t sshgw.Terminal) int
}

const (
	// connectTokenTTL is how long a web terminal's connection token is valid.
	connectTokenTTL = 2 * time.Minute
	// connectTokenPrefix starts every connection token.
	connectTokenPrefix = "pct_"
	// wsConnectPrefix offers a connection token as a WebSocket subprotocol
	// (browsers cannot set headers on a WebSocket).
	wsConnectPrefix = "portcullis.connect."
)

// terminalProtocols are the asset protocols a web terminal speaks, in order
// of preference.
var terminalProtocols = []string{"ssh", "telnet", "mysql", "mariadb", "postgresql", "redis"}

// connectIn asks for a web terminal to an asset.
type connectIn struct {
	AssetID  uint   `json:"asset_id"`
	Account  string `json:"account,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// connectOut is a connection token and what it opens.
type connectOut struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Path      string    `json:"path"`
	AssetName string    `json:"asset_name"`
	Account   string    `json:"account"`
	Protocol  string    `json:"protocol"`
}

// terminalControl is a text frame of the terminal WebSocket. From the client:
// {"type":"resize","cols":120,"rows":40}. From the server: {"type":"event",
// "event":{...}} (a command denied, waiting for approval, ...), {"type":
// "error","message":"..."} (a control frame it could not take; the session
// goes on) and {"type":"exit","code":0} before it closes.
type terminalControl struct {
	Type    string      `json:"type"`
	Cols    int         `json:"cols,omitempty"`
	Rows    int         `json:"rows,omitempty"`
	Code    *int        `json:"code,omitempty"`
	Message string      `json:"message,omitempty"`
	Event   *term.Event `json:"event,omitempty"`
}

// registerTerminal adds the endpoint that issues web terminal connection
// tokens; the WebSocket itself is /ws/terminal (serveTerminal).
func (a *API) registerTerminal() {
	a.add(&route{method: "POST", path: "/terminal/tokens", tag: "Terminal",
		summary: "Issue a one-time connection token for a web terminal or a remote desktop on an asset (valid 2 minutes, bound to the user, asset, account and protocol); open it with the path it names: GET /ws/terminal (ssh, telnet, databases) or GET /ws/desktop (rdp, vnc)",
		access:  anyUser, req: connectIn{}, resp: connectOut{}, h: a.issueConnectToken})
}

func (a *API) issueConnectToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var in connectIn
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.AssetID == 0 {
		return errValidation("asset_id", "required")
	}
	if len(in.Account) > 128 {
		return errValidation("account", "at most 128 characters")
	}
	desktop := slices.Contains(desktops.Protocols, in.Protocol)
	if in.Protocol != "" && !desktop && !slices.Contains(terminalProtocols, in.Protocol) {
		return errValidation("protocol", "must be one of %s, %s", strings.Join(terminalProtocols, ", "), strings.Join(desktops.Protocols, ", "))
	}
	ctx := r.Context()
	what := "POST /terminal/tokens"
	var asset store.Asset
	err := a.db.WithContext(ctx).Where("id = ? AND org_id = ? AND is_active = ?", in.AssetID, rc.user.OrgID, true).Take(&asset).Error
	if err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			a.deny(ctx, rc, what, fmt.Sprintf("web terminal to asset %d: no such active asset in the user's organization", in.AssetID))
			return errNotFound("asset")
		}
		return store.Translate(err)
	}
	access, err := a.Perm.Access(ctx, rc.user.ID, asset.ID)
	if errors.Is(err, perm.ErrDenied) {
		a.deny(ctx, rc, what, "web terminal to "+asset.Name+": no permission grants the asset")
		return errNotFound("asset")
	} else if err != nil {
		return err
	}
	proto := in.Protocol
	if proto == "" {
		for _, p := range terminalProtocols {
			if slices.Contains(access.Protocols, p) {
				proto = p
				break
			}
		}
	}
	if proto == "" || !slices.Contains(access.Protocols, proto) {
		a.deny(ctx, rc, what, "web terminal to "+asset.Name+": no permitted terminal protocol")
		return errForbidden("no terminal protocol (" + strings.Join(terminalProtocols, ", ") + ") is permitted on " + asset.Name)
	}
	account := in.Account
	if account == "" {
		switch len(access.Accounts) {
		case 0:
			a.deny(ctx, rc, what, "web terminal to "+asset.Name+": no account granted")
			return errForbidden("no account on " + asset.Name + " is granted to you")
		case 1:
			account = access.Accounts[0].Name
		default:
			names := make([]string, len(access.Accounts))
			for i, g := range access.Accounts {
				names[i] = g.Name
			}
			return errValidation("account", "choose one of %s", strings.Join(names, ", "))
		}
	}
	if _, err := a.Perm.Check(ctx, rc.user.ID, asset.ID, account, proto, store.ActionConnect); errors.Is(err, perm.ErrDenied) {
		a.deny(ctx, rc, what, fmt.Sprintf("web terminal to %s: account %q by %s not permitted", asset.Name, account, proto))
		return errForbidden(fmt.Sprintf("account %q on %s is not granted to you", account, asset.Name))
	} else if err != nil {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("httpapi: connection token: %w", err)
	}
	token := connectTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	ct := store.ConnectToken{TokenHash: auth.HashToken(token), OrgID: rc.user.OrgID, UserID: rc.user.ID, AssetID: asset.ID,
		Account: account, Protocol: proto, ExpiresAt: a.Clock().Add(connectTokenTTL).UTC(), RemoteAddr: truncate(rc.remote, 64)}
	if err := a.db.WithContext(ctx).Create(&ct).Error; err != nil {
		return store.Translate(err)
	}
	a.oplog(ctx, rc, "terminal.token", "asset", idString(asset.ID), asset.Name, nil, nil, true, account+" by "+proto)
	path := "/ws/terminal"
	if desktop {
		path = "/ws/desktop"
	}
	writeJSON(w, http.StatusCreated, connectOut{Token: token, ExpiresAt: ct.ExpiresAt, Path: path,
		AssetName: asset.Name, Account: account, Protocol: proto})
	return nil
}

// acceptConnection opens a session WebSocket request (what, "web terminal"
// or "desktop", names it to the user and in the audit log): the Origin is
// checked first, so that a foreign page cannot spend a token; then, when the
// service is available, the one-time connection token is spent and its user
// must be active. Every refusal is audited and answered; ok is false then.
func (a *API) acceptConnection(w http.ResponseWriter, r *http.Request, path, what string, available bool) (*reqCtx, *store.ConnectToken, bool) {
	ctx := r.Context()
	rc := &reqCtx{remote: a.clientIP(r), userAgent: truncate(r.UserAgent(), 512)}
	if origin := r.Header.Get("Origin"); origin != "" && !a.originAllowed(origin, r) {
		a.deny(ctx, rc, "GET "+path, what+" from a foreign origin: "+truncate(origin, 200))
		writeJSONError(w, errForbidden("origin not allowed"))
		return nil, nil, false
	}
	if !available {
		writeJSONError(w, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: what + " sessions are not available on this server"})
		return nil, nil, false
	}
	ct, why, err := a.spendConnectToken(ctx, connectToken(r))
	if ct != nil {
		var u store.User
		if a.db.WithContext(ctx).Where("id = ?", ct.UserID).Take(&u).Error == nil {
			rc.user, rc.orgID = &u, u.OrgID
		}
	}
	if err != nil {
		if why != "" {
			a.deny(ctx, rc, "GET "+path, what+": "+why)
		}
		ae, internal := toAPIError(err)
		if internal {
			a.log.ErrorContext(ctx, what+" token", "err", err)
		}
		writeJSONError(w, ae)
		return nil, nil, false
	}
	if rc.user == nil || !rc.user.IsActive {
		a.deny(ctx, rc, "GET "+path, what+": the token's user is missing or disabled")
		writeJSONError(w, errForbidden("user disabled"))
		return nil, nil, false
	}
	return rc, ct, true
}

// connectToken finds the connection token of a terminal WebSocket request.
func connectToken(r *http.Request) string {
	for _, p := range websocket.Subprotocols(r) {
		if tok, ok := strings.CutPrefix(p, wsConnectPrefix); ok && tok != "" {
			return tok
		}
	}
	return r.URL.Query().Get("token")
}

// spendConnectToken marks the token used and returns it; it fails when the
// token is unknown, spent or expired (the reason is for the audit log).
func (a *API) spendConnectToken(ctx context.Context, token string) (*store.ConnectToken, string, error) {
	if !strings.HasPrefix(token, connectTokenPrefix) || len(token) > 128 {
		return nil, "malformed connection token", errUnauthorized
	}
	hash := auth.HashToken(token)
	now := a.Clock().UTC()
	res := a.db.WithContext(ctx).Model(&store.ConnectToken{}).
		Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).Update("used_at", now)
	if res.Error != nil {
		return nil, "", store.Translate(res.Error)
	}
	var ct store.ConnectToken
	err := a.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&ct).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, "unknown connection token", errUnauthorized
	case err != nil:
		return nil, "", store.Translate(err)
	case res.RowsAffected != 1 && ct.UsedAt != nil && !ct.UsedAt.Equal(now):
		return &ct, "connection token already used", &Error{Status: http.StatusUnauthorized, Code: codeUnauth, Message: "connection token already used"}
	case res.RowsAffected != 1:
		return &ct, "connection token expired", &Error{Status: http.StatusUnauthorized, Code: codeUnauth, Message: "connection token expired"}
	}
	return &ct, "", nil
}

// serveTerminal runs a web terminal: the Origin is checked, the one-time
// connection token spent, and the session run by Terminals until either side
// ends it. Binary frames carry the terminal's bytes both ways; text frames
// carry terminalControl.
func (a *API) serveTerminal(w http.ResponseWriter, r *http.Request) {
	const path = "/ws/terminal"
	ctx := r.Context()
	rc, ct, ok := a.acceptConnection(w, r, path, "web terminal", a.Terminals != nil)
	if !ok {
		return
	}
	if slices.Contains(desktops.Protocols, ct.Protocol) {
		a.deny(ctx, rc, "GET "+path, "web terminal: the token is for a "+ct.Protocol+" desktop")
		writeJSONError(w, errForbidden("this connection token is for a remote desktop: open it with /ws/desktop"))
		return
	}
	var asset store.Asset
	if err := a.db.WithContext(ctx).Where("id = ? AND org_id = ?", ct.AssetID, ct.OrgID).Take(&asset).Error; err != nil {
		a.deny(ctx, rc, "GET "+path, fmt.Sprintf("web terminal: asset %d is gone", ct.AssetID))
		writeJSONError(w, errNotFound("asset"))
		return
	}
	conn, err := a.upgrade(w, r)
	if err != nil {
		return // the upgrader answered
	}
	cols, _ := strconv.Atoi(r.URL.Query().Get("cols"))
	rows, _ := strconv.Atoi(r.URL.Query().Get("rows"))
	lang := "en"
	if l := r.URL.Query().Get("lang"); strings.HasPrefix(strings.ToLower(l), "zh") {
		lang = "zh-CN"
	}
	wt := newWSTerminal(conn)
	defer wt.Close()
	go wt.pinger()
	code := a.Terminals.ServeTerminal(context.WithoutCancel(ctx), sshgw.Terminal{
		User: rc.user, Remote: rc.remote, Lang: lang, Asset: asset.Name, Account: ct.Account, Protocol: ct.Protocol,
		Cols: cols, Rows: rows, IO: wt, Resizes: wt.resizes, Events: wt.event,
	})
	wt.finish(code)
}

// wsTerminal is a terminal WebSocket as the gateway's session code sees it:
// Read gives the keystrokes (binary frames; text frames are controls), Write
// sends output as binary frames. Writes are serialized.
type wsTerminal struct {
	conn    *websocket.Conn
	resizes chan term.Size
	wmu     sync.Mutex // one writer at a time (gorilla's rule)
	pending []byte     // rest of a binary frame larger than the last Read
	closeMu sync.Once
	done    chan struct{}
}

func newWSTerminal(conn *websocket.Conn) *wsTerminal {
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	return &wsTerminal{conn: conn, resizes: make(chan term.Size, 4), done: make(chan struct{})}
}

func (t *wsTerminal) Read(p []byte) (int, error) {
	for len(t.pending) == 0 {
		kind, data, err := t.conn.ReadMessage()
		if err != nil {
			return 0, io.EOF
		}
		t.conn.SetReadDeadline(time.Now().Add(wsPongWait))
		if kind == websocket.BinaryMessage {
			t.pending = data
			continue
		}
		t.control(data)
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

// control handles a text frame; a bad one is answered with an error frame
// and otherwise ignored: the session goes on.
func (t *wsTerminal) control(data []byte) {
	var c terminalControl
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.sendJSON(terminalControl{Type: "error", Message: "bad control frame: " + cutUTF8(err.Error(), 200)})
		return
	}
	switch c.Type {
	case "resize":
		if _, ok := (term.Size{Cols: c.Cols, Rows: c.Rows}).Clamp(); !ok {
			t.sendJSON(terminalControl{Type: "error", Message: fmt.Sprintf("bad size %dx%d: both must be at least 1", c.Cols, c.Rows)})
			return
		}
		select {
		case t.resizes <- term.Size{Cols: c.Cols, Rows: c.Rows}:
		default: // the session is behind on resizes: the next one will do
		}
	default:
		t.sendJSON(terminalControl{Type: "error", Message: "unknown control frame type " + strconv.Quote(cutUTF8(c.Type, 32))})
	}
}

func (t *wsTerminal) Write(p []byte) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if err := t.conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (t *wsTerminal) sendJSON(v terminalControl) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
	t.conn.WriteMessage(websocket.TextMessage, b)
}

func (t *wsTerminal) event(e term.Event) { t.sendJSON(terminalControl{Type: "event", Event: &e}) }

// finish tells the client the exit status and closes the WebSocket cleanly.
func (t *wsTerminal) finish(code int) {
	t.sendJSON(terminalControl{Type: "exit", Code: &code})
	t.wmu.Lock()
	t.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "session ended"), time.Now().Add(wsWriteWait))
	t.wmu.Unlock()
}

func (t *wsTerminal) pinger() {
	tick := time.NewTicker(wsPingEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if t.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)) != nil {
				return
			}
		case <-t.done:
			return
		}
	}
}

// Close ends the user's side: the pending Read fails and the session ends.
func (t *wsTerminal) Close() error {
	t.closeMu.Do(func() {
		close(t.done)
		// Give finish's close frame a moment to leave before the socket goes.
		time.AfterFunc(time.Second, func() { t.conn.Close() })
		t.conn.SetReadDeadline(time.Now())
	})
	return nil
}
