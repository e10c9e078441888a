package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
)

// liveView is a live session with its live figures.
type liveView struct {
	session.Meta
	session.Stats
}

type killIn struct {
	Reason string `json:"reason"`
}

type shareIn struct {
	Interactive bool `json:"interactive"`
	TTLMinutes  int  `json:"ttl_minutes"`
}

type shareOut struct {
	Token       string    `json:"token"`
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expires_at"`
	Interactive bool      `json:"interactive"`
}

var errLiveUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "live sessions are not enabled on this server"}

// registerLive adds the live-session and approval endpoints (see docs/terminal.md).
// The two WebSockets, /ws/sessions/{id}/watch and /ws/join/{token}, are
// mounted by New (serveWatch, serveJoin).
func (a *API) registerLive() {
	a.add(&route{method: "GET", path: "/live-sessions", tag: "Live sessions", summary: "List the live sessions of this node in the organization (?all_orgs=true for system roles)", access: adminRead, resp: liveView{}, list: true,
		h: a.listLive})
	a.add(&route{method: "GET", path: "/live-sessions/{id}", tag: "Live sessions", summary: "Get one live session", access: adminRead, resp: liveView{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			l, err := a.liveOf(r, rc)
			if err != nil {
				return err
			}
			writeJSON(w, 200, viewLive(l))
			return nil
		}})
	a.add(&route{method: "POST", path: "/live-sessions/{id}/kill", tag: "Live sessions", summary: "Kill a live session; the user sees the reason", access: adminWrite, req: killIn{}, resp: liveView{},
		h: a.killLive})
	for _, lock := range []bool{true, false} {
		action, summary := "lock", "Lock the input of a live session"
		if !lock {
			action, summary = "unlock", "Unlock the input of a live session"
		}
		a.add(&route{method: "POST", path: "/live-sessions/{id}/" + action, tag: "Live sessions", summary: summary, access: adminWrite, resp: liveView{},
			h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
				l, err := a.liveOf(r, rc)
				if err != nil {
					return err
				}
				m := l.Meta()
				err = a.Sessions.Lock(r.Context(), m.ID, lock, rc.user.Username)
				a.oplog(r.Context(), rc, "session."+action, "session", m.ID, liveName(m), nil, nil, err == nil, errMessage(err))
				if err != nil {
					return liveError(err)
				}
				writeJSON(w, 200, viewLive(l))
				return nil
			}})
	}
	a.add(&route{method: "POST", path: "/live-sessions/{id}/share", tag: "Live sessions", summary: "Create a share link (read-only or interactive) that expires", access: adminWrite, req: shareIn{}, resp: shareOut{},
		h: a.shareLive})

	registerResource(a, resource[store.Approval, noInput]{
		name: "approval", path: "/approvals", tag: "Approvals", read: adminRead,
		spec: listSpec{search: []string{"username", "asset_name", "account", "command", "filter_name"}, sort: sortCols("username", "asset_name", "status", "expires_at"), def: "-id"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if a.Sessions != nil {
				// A node that crashed cannot expire what it waited for.
				if _, err := a.Sessions.ExpireStale(r.Context(), rc.orgID); err != nil {
					return nil, err
				}
			}
			if v := r.URL.Query().Get("status"); v != "" {
				switch v {
				case store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied, store.ApprovalExpired:
				default:
					return nil, errValidation("status", "must be pending, approved, denied or expired")
				}
			}
			q = eqFilters(r, q, "status", "session_id", "username")
			return timeRange(r, q, "created_at")
		},
		idOf: func(ap *store.Approval) uint { return ap.ID }, nameOf: func(ap *store.Approval) string { return ap.Command },
	})
	a.add(&route{method: "POST", path: "/approvals/{id}/approve", tag: "Approvals", summary: "Approve a command waiting in a session (not your own)", access: adminWrite, resp: store.Approval{},
		h: a.decide(true)})
	a.add(&route{method: "POST", path: "/approvals/{id}/deny", tag: "Approvals", summary: "Deny a command waiting in a session", access: adminWrite, resp: store.Approval{},
		h: a.decide(false)})
}

func viewLive(l *session.Live) liveView { return liveView{Meta: l.Meta(), Stats: l.Stats()} }

func liveName(m session.Meta) string { return m.Username + "@" + m.AssetName }

// liveOf finds the live session of the {id} path value in the request's organization.
func (a *API) liveOf(r *http.Request, rc *reqCtx) (*session.Live, error) {
	if a.Sessions == nil {
		return nil, errLiveUnavailable
	}
	l, ok := a.Sessions.Get(r.PathValue("id"))
	if !ok || l.Meta().OrgID != rc.orgID {
		return nil, errNotFound("live session")
	}
	return l, nil
}

// liveError maps the errors of package session to API errors.
func liveError(err error) error {
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrApprovalNotFound):
		return errNotFound("live session or approval")
	case errors.Is(err, session.ErrInvalid):
		return errValidation("", "%v", err)
	case errors.Is(err, session.ErrSelfApproval):
		return errForbidden("you cannot approve your own command")
	case errors.Is(err, session.ErrDecided):
		return errConflict("status", "the approval was already decided")
	case errors.Is(err, session.ErrApprovalExpired):
		return errConflict("status", "the approval expired: the command was denied")
	}
	return err
}

func (a *API) listLive(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if a.Sessions == nil {
		return errLiveUnavailable
	}
	pp, err := pageOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	org := rc.orgID
	if rc.isSystem() && q.Get("all_orgs") == "true" {
		org = 0
	}
	search := strings.ToLower(strings.TrimSpace(q.Get("search")))
	if len(search) > 256 {
		return errValidation("search", "must be at most 256 characters")
	}
	items := []liveView{}
	for _, m := range a.Sessions.List(org) {
		if search != "" && !strings.Contains(strings.ToLower(strings.Join([]string{m.Username, m.AssetName, m.AccountName, m.SourceIP, m.Protocol}, "\x00")), search) {
			continue
		}
		if l, ok := a.Sessions.Get(m.ID); ok {
			items = append(items, liveView{Meta: m, Stats: l.Stats()})
		}
	}
	sortKey := q.Get("sort")
	if sortKey == "" {
		sortKey = "-started_at"
	}
	less := map[string]func(x, y liveView) bool{
		"started_at": func(x, y liveView) bool { return x.StartedAt.Before(y.StartedAt) },
		"username":   func(x, y liveView) bool { return x.Username < y.Username },
		"asset_name": func(x, y liveView) bool { return x.AssetName < y.AssetName },
		"bytes_out":  func(x, y liveView) bool { return x.BytesOut < y.BytesOut },
	}[strings.TrimPrefix(sortKey, "-")]
	if less == nil {
		return errValidation("sort", "cannot sort by %q", sortKey)
	}
	desc := strings.HasPrefix(sortKey, "-")
	sort.SliceStable(items, func(i, j int) bool {
		if desc {
			return less(items[j], items[i])
		}
		return less(items[i], items[j])
	})
	total := len(items)
	from := min((pp.page-1)*pp.size, total)
	to := min(from+pp.size, total)
	writeJSON(w, 200, page[liveView]{Items: items[from:to], Total: int64(total), Page: pp.page, PageSize: pp.size})
	return nil
}

// validReason accepts a kill reason the user's terminal can show harmlessly.
func validReason(s string) error {
	if utf8.RuneCountInString(s) > 200 {
		return errValidation("reason", "must be at most 200 characters")
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return errValidation("reason", "must be one line of text without control characters")
	}
	return nil
}

func (a *API) killLive(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var in killIn
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if err := validReason(in.Reason); err != nil {
		return err
	}
	l, err := a.liveOf(r, rc)
	if err != nil {
		return err
	}
	m := l.Meta()
	err = a.Sessions.Kill(r.Context(), m.ID, in.Reason, rc.user.Username)
	a.oplog(r.Context(), rc, "session.kill", "session", m.ID, liveName(m), nil, in, err == nil, errMessage(err))
	if err != nil {
		return liveError(err)
	}
	writeJSON(w, 200, viewLive(l))
	return nil
}

func (a *API) shareLive(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var in shareIn
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	if in.TTLMinutes == 0 {
		in.TTLMinutes = int(session.DefaultShareTTL / time.Minute)
	}
	if maxTTL := int(session.MaxShareTTL / time.Minute); in.TTLMinutes < 1 || in.TTLMinutes > maxTTL {
		return errValidation("ttl_minutes", "must be between 1 and %d", maxTTL)
	}
	l, err := a.liveOf(r, rc)
	if err != nil {
		return err
	}
	m := l.Meta()
	link, err := a.Sessions.Share(r.Context(), m.ID, in.Interactive, time.Duration(in.TTLMinutes)*time.Minute, rc.user.Username)
	// The token is a secret: it never reaches the operation log.
	a.oplog(r.Context(), rc, "session.share", "session", m.ID, liveName(m), nil, in, err == nil, errMessage(err))
	if err != nil {
		return liveError(err)
	}
	writeJSON(w, 200, shareOut{Token: link.Token, URL: a.joinURL(r, link.Token), ExpiresAt: link.ExpiresAt, Interactive: link.Interactive})
	return nil
}

// joinURL is the WebSocket URL of a share link: on the site URL of the
// settings when set (the public address behind a proxy), else on the host
// the request came to.
func (a *API) joinURL(r *http.Request, token string) string {
	base := ""
	if a.Settings != nil {
		if s, err := a.Settings.Site(r.Context()); err == nil && s.URL != "" {
			base = strings.TrimRight(s.URL, "/")
		}
	}
	if base == "" {
		base = "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
	}
	return "ws" + strings.TrimPrefix(base, "http") + "/ws/join/" + token
}

func (a *API) decide(approve bool) handlerFunc {
	action := "approval.deny"
	if approve {
		action = "approval.approve"
	}
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		if a.Sessions == nil {
			return errLiveUnavailable
		}
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var ap store.Approval
		if err := a.db.WithContext(r.Context()).Where("org_id = ? AND id = ?", rc.orgID, id).Take(&ap).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errNotFound("approval")
			}
			return err
		}
		err = a.Sessions.Decide(r.Context(), id, approve, rc.user.Username)
		detail := "session " + ap.SessionID + " of " + ap.Username + " on " + ap.AssetName
		if err != nil {
			detail = errMessage(err) + "; " + detail
		}
		a.oplog(r.Context(), rc, action, "approval", idString(id), ap.Command, nil, nil, err == nil, detail)
		if err != nil {
			return liveError(err)
		}
		if err := a.db.WithContext(r.Context()).Where("id = ?", id).Take(&ap).Error; err != nil {
			return err
		}
		writeJSON(w, 200, ap)
		return nil
	}
}

// WebSockets.
//
// Browsers cannot set headers on a WebSocket, so the bearer token travels in
// the Sec-WebSocket-Protocol header: the client offers the subprotocols
// "portcullis.v1" and "portcullis.bearer.<token>", and the server selects
// "portcullis.v1" (never echoing the token). Non-browser clients may send
// Authorization: Bearer instead. The organization, which REST requests name in
// X-Portcullis-Org, is the ?org= query parameter. The launch token guard of
// ServeHTTP applies as to every request (?launch_token= for browsers).

const (
	wsProtocol     = "portcullis.v1"
	wsBearerPrefix = "portcullis.bearer."
	wsWriteWait    = 10 * time.Second
	wsPongWait     = 75 * time.Second
	wsPingEvery    = 30 * time.Second
	wsReadLimit    = 64 << 10
)

// Modes of a live stream.
const (
	modeWatch       = "watch"
	modeReadOnly    = "read-only"
	modeInteractive = "interactive"
)

// wsBearer finds the bearer token of a WebSocket request.
func wsBearer(r *http.Request) string {
	for _, p := range websocket.Subprotocols(r) {
		if tok, ok := strings.CutPrefix(p, wsBearerPrefix); ok && tok != "" {
			return tok
		}
	}
	tok, _ := bearerToken(r)
	return tok
}

// wsAuthorize checks the Origin, authenticates and authorizes a WebSocket
// request before the upgrade. On failure it has answered and audited.
func (a *API) wsAuthorize(w http.ResponseWriter, r *http.Request, acc access, path string) (*reqCtx, bool) {
	rc := &reqCtx{remote: a.clientIP(r), userAgent: truncate(r.UserAgent(), 512)}
	ar := r.Clone(r.Context())
	ar.Header.Del("Authorization")
	ar.Header.Del("X-Portcullis-Org")
	if tok := wsBearer(r); tok != "" {
		ar.Header.Set("Authorization", "Bearer "+tok)
	}
	if org := r.URL.Query().Get("org"); org != "" {
		ar.Header.Set("X-Portcullis-Org", org)
	}
	err := a.authorize(ar, &route{method: "GET", path: path, access: acc}, rc)
	// Origin first: a page of a foreign site must learn nothing, not even
	// whether the token it holds is valid. The denial names the user when the
	// token did.
	if origin := r.Header.Get("Origin"); origin != "" && !a.originAllowed(origin, r) {
		a.deny(r.Context(), rc, "GET "+path, "WebSocket from a foreign origin: "+truncate(origin, 200))
		writeJSONError(w, errForbidden("origin not allowed"))
		return nil, false
	}
	if err != nil {
		ae, internal := toAPIError(err)
		if internal {
			a.log.ErrorContext(r.Context(), "websocket authorization failed", "path", path, "err", err)
		}
		if ae.Status == http.StatusForbidden && rc.user != nil {
			a.deny(r.Context(), rc, "GET "+path, ae.Message)
		}
		writeJSONError(w, ae)
		return nil, false
	}
	return rc, true
}

// hijackable gives the WebSocket upgrader the connection under ServeHTTP's
// status-recording writer.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

func (a *API) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	u := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4 << 10,
		WriteBufferSize:  32 << 10,
		Subprotocols:     []string{wsProtocol},
		CheckOrigin:      func(*http.Request) bool { return true }, // checked by wsAuthorize
	}
	return u.Upgrade(hijackable{w}, r, nil)
}

// serveWatch streams a live session to an administrator or auditor (read-only).
func (a *API) serveWatch(w http.ResponseWriter, r *http.Request) {
	const path = "/ws/sessions/{id}/watch"
	rc, ok := a.wsAuthorize(w, r, adminRead, path)
	if !ok {
		return
	}
	if a.Sessions == nil {
		writeJSONError(w, errLiveUnavailable)
		return
	}
	l, found := a.Sessions.Get(r.PathValue("id"))
	if !found || l.Meta().OrgID != rc.orgID {
		if found {
			a.deny(r.Context(), rc, "GET "+path, "live session of another organization")
		}
		writeJSONError(w, errNotFound("live session"))
		return
	}
	m := l.Meta()
	conn, err := a.upgrade(w, r)
	a.oplog(r.Context(), rc, "session.watch", "session", m.ID, liveName(m), nil, nil, err == nil, errMessage(err))
	if err != nil {
		return // the upgrader answered
	}
	if m.Connection != "" {
		a.watchDesktop(r, conn, l)
		return
	}
	a.stream(r.Context(), conn, l, rc, modeWatch)
}

// serveJoin streams a live session to whoever holds a share link; input is
// accepted when the link is interactive.
func (a *API) serveJoin(w http.ResponseWriter, r *http.Request) {
	const path = "/ws/join/{token}"
	rc, ok := a.wsAuthorize(w, r, anyUser, path)
	if !ok {
		return
	}
	if a.Sessions == nil {
		writeJSONError(w, errLiveUnavailable)
		return
	}
	l, link, err := a.Sessions.Join(r.PathValue("token"))
	if err != nil {
		a.oplog(r.Context(), rc, "session.join", "session", "", "", nil, nil, false, errMessage(err))
		if errors.Is(err, session.ErrShareExpired) {
			writeJSONError(w, &Error{Status: http.StatusGone, Code: codeNotFound, Message: "share link expired"})
			return
		}
		writeJSONError(w, errNotFound("share link"))
		return
	}
	m := l.Meta()
	// A share link is a capability, but only within the session's organization.
	if m.OrgID != rc.user.OrgID && !rc.isSystem() {
		a.deny(r.Context(), rc, "GET "+path, "share link of another organization's session "+m.ID)
		writeJSONError(w, errNotFound("share link"))
		return
	}
	mode := modeReadOnly
	if link.Interactive {
		mode = modeInteractive
	}
	conn, err := a.upgrade(w, r)
	a.oplog(r.Context(), rc, "session.join", "session", m.ID, liveName(m), nil, nil, err == nil, mode+" link of "+link.CreatedBy+errSuffix(err))
	if err != nil {
		return
	}
	a.stream(r.Context(), conn, l, rc, mode)
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// streamHeader is the first frame of a stream: an asciicast v2 header with
// the session and the mode of the stream.
type streamHeader struct {
	Version   int    `json:"version"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Timestamp int64  `json:"timestamp"`
	Title     string `json:"title"`
	Session   string `json:"session_id"`
	Mode      string `json:"mode"`
}

// stream sends the session's events on conn as asciicast v2 frames (a header,
// then [time, code, data] events: "o" output, "r" resize, "m" notices such as
// lock changes and the kill reason) and, in interactive mode, forwards the
// client's frames to the session as input. It returns when either side ends.
func (a *API) stream(ctx context.Context, conn *websocket.Conn, l *session.Live, rc *reqCtx, mode string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	m := l.Meta()
	events, stop := l.Watch()
	defer stop()
	notices := make(chan string, 4)
	go a.readInput(ctx, cancel, conn, l, rc, mode, notices)

	write := func(v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
		return conn.WriteMessage(websocket.TextMessage, b) == nil
	}
	now := func() float64 { return float64(a.Clock().Sub(m.StartedAt).Microseconds()) / 1e6 }
	marker := func(s string) bool { return write([]any{now(), "m", s}) }

	if !write(streamHeader{Version: 2, Width: m.Width, Height: m.Height, Timestamp: m.StartedAt.Unix(), Title: liveName(m), Session: m.ID, Mode: mode}) {
		return
	}
	lockCh := l.LockChanged()
	if l.Locked() && !marker("locked by "+l.LockedBy()) {
		return
	}
	killed := l.Killed()
	ping := time.NewTicker(wsPingEvery)
	defer ping.Stop()
	var carry utf8Carry
	for {
		ok := true
		select {
		case ev, open := <-events:
			if !open {
				a.closeStream(conn, l)
				return
			}
			data := ev.Data
			if ev.Kind == "o" {
				if data = carry.take(data); data == "" {
					continue
				}
			}
			ok = write([]any{float64(int64(ev.Time*1e6)) / 1e6, ev.Kind, data})
		case <-lockCh:
			lockCh = l.LockChanged()
			if by := l.LockedBy(); l.Locked() {
				ok = marker("locked by " + by)
			} else {
				ok = marker("unlocked")
			}
		case <-killed:
			killed = nil
			ok = marker(l.KillReason())
		case s := <-notices:
			ok = marker(s)
		case <-ping.C:
			ok = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)) == nil
		case <-ctx.Done():
			return
		}
		if !ok {
			return
		}
	}
}

// closeStream tells the client why its stream ended: the session ended, or
// the client fell too far behind and was dropped.
func (a *API) closeStream(conn *websocket.Conn, l *session.Live) {
	code, reason := websocket.CloseTryAgainLater, "too slow: reconnect"
	select {
	case <-l.Done():
		code, reason = websocket.CloseNormalClosure, "session ended: "+l.EndReason()
	default:
	}
	// A close reason must fit in a control frame (123 bytes).
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, cutUTF8(reason, 120)), time.Now().Add(wsWriteWait))
}

// readInput reads the client's frames until the connection ends. Text and
// binary frames alike are keystrokes: forwarded in interactive mode unless
// the session is locked, refused (once told, once audited) otherwise.
func (a *API) readInput(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, l *session.Live, rc *reqCtx, mode string, notices chan<- string) {
	defer cancel()
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	notice := func(s string) {
		select {
		case notices <- s:
		default:
		}
	}
	refused, toldLocked := false, false
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		conn.SetReadDeadline(time.Now().Add(wsPongWait))
		switch {
		case mode != modeInteractive:
			if !refused {
				refused = true
				m := l.Meta()
				a.oplog(ctx, rc, "session.input", "session", m.ID, liveName(m), nil, nil, false, "input refused: "+mode+" stream")
				notice(mode + ": your input is ignored")
			}
		case l.Locked():
			if !toldLocked {
				toldLocked = true
				notice("the session is locked: your input is ignored")
			}
		default:
			toldLocked = false
			if err := l.SendInput(ctx, data); err != nil {
				return
			}
		}
	}
}

// utf8Carry holds back an incomplete UTF-8 sequence at the end of an output
// chunk until the next chunk completes it, so that JSON (which must be UTF-8)
// does not turn a character split across chunks into two U+FFFD.
type utf8Carry struct{ tail []byte }

func (c *utf8Carry) take(s string) string {
	if len(c.tail) == 0 && len(s) > 0 && s[len(s)-1] < utf8.RuneSelf {
		return s
	}
	b := append(c.tail, s...)
	n := incompleteTail(b)
	c.tail = append([]byte(nil), b[len(b)-n:]...)
	return string(b[:len(b)-n])
}

// incompleteTail is the length of the unfinished UTF-8 sequence ending b (0 if none).
func incompleteTail(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			need := 0
			switch {
			case c&0xe0 == 0xc0:
				need = 2
			case c&0xf0 == 0xe0:
				need = 3
			case c&0xf8 == 0xf0:
				need = 4
			}
			if need > i {
				return i
			}
			return 0
		}
	}
	return 0
}

// cutUTF8 shortens s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
