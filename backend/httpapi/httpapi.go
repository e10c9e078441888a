// Package httpapi serves Portcullis' REST API under /api/v1, its OpenAPI
// document, health and metrics, and the embedded web UI. Every route declares
// who may call it; every change and every denial is written to the operation
// log; every error answers a JSON body with a code, a message and the field.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/bundle"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// Deps are what the API is built on.
type Deps struct {
	Store    *store.Store
	Auth     *auth.Service
	Perm     *perm.Resolver
	Vault    *vault.Vault
	Audit    *audit.Logger
	Settings *settings.Store
	Log      *slog.Logger
	Clock    func() time.Time
	// UI is the built web UI (may be nil).
	UI fs.FS
	// AllowedOrigins may call the API cross-origin (CORS), e.g. "wails://wails".
	AllowedOrigins []string
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// LaunchToken, when set, must be sent as X-Portcullis-Launch on every request.
	LaunchToken string
	// MaxBodyBytes bounds JSON bodies.
	MaxBodyBytes int64
	// Registry receives the API's metrics; nil means a fresh registry.
	Registry *prometheus.Registry
	// Ready reports whether the server is ready to serve (for /healthz).
	Ready func() error
	// Sessions is this node's live-session registry; nil disables the
	// live-session and approval endpoints (503).
	Sessions *session.Registry
	// Terminals runs web terminals (/ws/terminal); nil answers 503.
	Terminals Terminals
	// Desktops runs RDP and VNC sessions (/ws/desktop); nil answers 503.
	Desktops Desktops
	// Signer signs exported session bundles; nil answers 503.
	Signer *bundle.Signer
	// Recordings uploads recordings to the object store; nil: no backlog.
	Recordings Recordings
	// RecordingDir is where session recordings are (GET /sessions/{id}/recording).
	RecordingDir string
	// SetupDir is the data dir holding the one-time admin password file; with
	// LaunchToken set, GET/POST /setup run the desktop's first-run wizard.
	SetupDir string
}

// API is the HTTP handler of portcullisd.
type API struct {
	Deps
	db      *gorm.DB
	log     *slog.Logger
	routes  []*route
	mux     *http.ServeMux
	metrics *metrics
	openapi openAPICache
	indexes indexer
}

// access says who may call a route.
type access int

const (
	public      access = iota // no token
	stepOrUser                // a login step token or a session/API token
	anyUser                   // any authenticated user
	adminRead                 // system admin/auditor, org admin/auditor
	adminWrite                // system admin, org admin
	systemAdmin               // system admin only
	systemRead                // system admin/auditor
)

// handlerFunc serves one route; a returned error becomes the JSON error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error

// route is one REST endpoint; the OpenAPI document is generated from these.
type route struct {
	method, path string
	tag, summary string
	access       access
	req, resp    any // example values of the request and response bodies (for OpenAPI)
	list         bool
	h            handlerFunc
}

// reqCtx carries what the middleware learned about a request.
type reqCtx struct {
	user      *store.User
	token     *store.AuthToken
	stepToken string
	orgID     uint
	remote    string
	userAgent string
}

func (rc *reqCtx) meta(channel string) auth.RequestMeta {
	return auth.RequestMeta{SourceIP: rc.remote, UserAgent: rc.userAgent, Channel: channel}
}

func (rc *reqCtx) isSystem() bool {
	return rc.user != nil && (rc.user.Role == store.RoleSystemAdmin || rc.user.Role == store.RoleSystemAuditor)
}

// New builds the API and its routes.
func New(d Deps) *API {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.MaxBodyBytes == 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	a := &API{Deps: d, db: d.Store.DB, log: d.Log.With("component", "httpapi"), mux: http.NewServeMux(),
		indexes: indexer{cache: record.NewIndexCache(indexCacheEntries, indexCacheKeyframes)}}
	a.metrics = newMetrics(d.Registry)
	a.registerAuth()
	a.registerUsers()
	a.registerAssets()
	a.registerPolicy()
	a.registerAdmin()
	a.registerLive()
	a.registerKeys()
	a.registerHostKeys()
	a.registerTerminal()
	a.registerSetup()
	a.registerRecordings()
	a.registerDesktops()
	a.registerExport()
	a.registerStorage()
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" /api/v1"+rt.path, a.wrap(rt))
	}
	a.mux.HandleFunc("GET /api/v1/openapi.json", a.serveOpenAPI)
	a.mux.HandleFunc("GET /ws/sessions/{id}/watch", a.serveWatch)
	a.mux.HandleFunc("GET /ws/desktop", a.serveDesktop)
	a.mux.HandleFunc("GET /ws/join/{token}", a.serveJoin)
	a.mux.HandleFunc("GET /ws/terminal", a.serveTerminal)
	a.mux.HandleFunc("GET /ws/events", a.serveEvents)
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	if d.UI != nil {
		a.mux.Handle("/", uiHandler(d.UI))
	}
	return a
}

func (a *API) add(rt *route) { a.routes = append(a.routes, rt) }

// ServeHTTP applies the cross-cutting guards, then routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.Clock()
	sw := &statusWriter{ResponseWriter: w, status: 200}
	defer func() {
		if p := recover(); p != nil {
			a.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !sw.wrote {
				writeJSONError(sw, &Error{Status: 500, Code: codeInternal, Message: "internal error"})
			}
		}
		a.metrics.observe(r, sw.status, a.Clock().Sub(start))
	}()
	h := sw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if origin := r.Header.Get("Origin"); origin != "" && a.originAllowed(origin, r) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Portcullis-Org, X-Portcullis-Launch")
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		h.Set("Access-Control-Max-Age", "600")
		if r.Method == http.MethodOptions {
			sw.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if a.LaunchToken != "" && !a.launchTokenOK(r) {
		writeJSONError(sw, &Error{Status: http.StatusForbidden, Code: codeForbidden, Message: "missing or wrong launch token"})
		return
	}
	if r.Body != nil && r.Method != http.MethodGet {
		limit := a.MaxBodyBytes
		if strings.HasSuffix(r.URL.Path, "/import") {
			limit = 10 << 20
		}
		r.Body = http.MaxBytesReader(sw, r.Body, limit)
	}
	a.mux.ServeHTTP(sw, r)
}

func (a *API) launchTokenOK(r *http.Request) bool {
	got := r.Header.Get("X-Portcullis-Launch")
	if got == "" {
		got = r.URL.Query().Get("launch_token")
	}
	return got != "" && subtleEqual(got, a.LaunchToken)
}

// originAllowed accepts the server's own origin and the configured ones.
func (a *API) originAllowed(origin string, r *http.Request) bool {
	for _, o := range a.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return origin == "http://"+r.Host || origin == "https://"+r.Host
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap authenticates and authorizes a request for rt, then runs its handler.
func (a *API) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := &reqCtx{remote: a.clientIP(r), userAgent: truncate(r.UserAgent(), 512)}
		err := a.authorize(r, rt, rc)
		if err == nil {
			err = rt.h(w, r, rc)
		}
		if err != nil {
			ae, internal := toAPIError(err)
			if internal {
				a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			if ae.Status == http.StatusForbidden && rc.user != nil {
				a.deny(r.Context(), rc, r.Method+" "+rt.path, ae.Message)
			}
			writeJSONError(w, ae)
		}
	})
}

func (a *API) authorize(r *http.Request, rt *route, rc *reqCtx) error {
	if rt.access == public {
		return nil
	}
	bearer, ok := bearerToken(r)
	if !ok {
		return errUnauthorized
	}
	if rt.access == stepOrUser && strings.HasPrefix(bearer, auth.PrefixStep) {
		rc.stepToken = bearer
		return nil
	}
	p, err := a.Auth.Authenticate(r.Context(), bearer)
	if err != nil {
		if errors.Is(err, auth.ErrTokenInvalid) {
			return errUnauthorized
		}
		return err
	}
	rc.user, rc.token = p.User, p.Token
	if rt.access == stepOrUser {
		rc.stepToken = bearer
	}
	if err := a.resolveOrg(r, rc); err != nil {
		return err
	}
	u := rc.user
	sysAdmin := u.Role == store.RoleSystemAdmin
	sysAuditor := u.Role == store.RoleSystemAuditor
	orgAdmin := u.OrgRole == store.OrgRoleAdmin && u.OrgID == rc.orgID
	orgAuditor := u.OrgRole == store.OrgRoleAuditor && u.OrgID == rc.orgID
	var allowed bool
	switch rt.access {
	case stepOrUser, anyUser:
		allowed = true
	case adminRead:
		allowed = sysAdmin || sysAuditor || orgAdmin || orgAuditor
	case adminWrite:
		allowed = sysAdmin || orgAdmin
	case systemAdmin:
		allowed = sysAdmin
	case systemRead:
		allowed = sysAdmin || sysAuditor
	}
	if !allowed {
		return errForbidden("your role does not allow this")
	}
	return nil
}

// resolveOrg picks the organization a request acts in.
func (a *API) resolveOrg(r *http.Request, rc *reqCtx) error {
	rc.orgID = rc.user.OrgID
	h := r.Header.Get("X-Portcullis-Org")
	if h == "" {
		return nil
	}
	id, err := strconv.ParseUint(h, 10, 32)
	if err != nil || id == 0 {
		return errBadRequest("X-Portcullis-Org", "X-Portcullis-Org must be an organization id")
	}
	if uint(id) == rc.user.OrgID {
		return nil
	}
	if !rc.isSystem() {
		return errForbidden("you may act only in your own organization")
	}
	var n int64
	if err := a.db.WithContext(r.Context()).Model(&store.Organization{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return errNotFound("organization")
	}
	rc.orgID = uint(id)
	return nil
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

// clientIP is the peer address, or the X-Forwarded-For client when the peer is a trusted proxy.
func (a *API) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	for _, p := range a.TrustedProxies {
		if p.Contains(peer) {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				parts := strings.Split(xff, ",")
				if c, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
					return c.Unmap().String()
				}
			}
		}
	}
	return peer.String()
}

// deny writes a denial to the operation log.
func (a *API) deny(ctx context.Context, rc *reqCtx, what, why string) {
	a.oplog(ctx, rc, "access.deny", "", "", what, nil, nil, false, why)
}

// oplog writes one operation log row. before/after are marshalled to JSON
// (models keep secrets out of JSON with `json:"-"`).
func (a *API) oplog(ctx context.Context, rc *reqCtx, action, resType, resID, resName string, before, after any, success bool, detail string) {
	row := store.OperationLog{
		Action: action, ResourceType: resType, ResourceID: resID, ResourceName: truncate(resName, 256),
		Before: toJSON(before), After: toJSON(after), RemoteAddr: rc.remote, Success: success, Detail: truncate(detail, 1024),
	}
	if rc.user != nil {
		uid, org := rc.user.ID, rc.orgID
		row.UserID, row.OrgID, row.Username = &uid, &org, rc.user.Username
	}
	if err := a.Audit.Operation(context.WithoutCancel(ctx), row); err != nil {
		a.log.ErrorContext(ctx, "operation log write failed", "action", action, "err", err)
	}
}

func toJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
	}
}

func writeJSONError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, errorBody{Error: e})
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	if a.Ready != nil {
		if err := a.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "detail": err.Error()})
			return
		}
	}
	sqlDB, err := a.db.DB()
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		err = sqlDB.PingContext(ctx)
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// pathID reads the {id} path value.
func pathID(r *http.Request) (uint, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil || id == 0 {
		return 0, errBadRequest("id", "id in the path must be a positive integer")
	}
	return uint(id), nil
}

func idString(id uint) string { return fmt.Sprintf("%d", id) }
