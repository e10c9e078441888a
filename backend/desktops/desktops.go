// Package desktops runs RDP and VNC sessions for the web UI and the desktop
// app. It is the desktop counterpart of sshgw.ServeTerminal: it checks the
// permission and the actions it grants (copy, paste, upload, download), opens
// the account's secret through the vault, asks guacd (through guacgw) to
// connect with the asset platform's RDP settings, registers the session in
// the live registry (watchers join it read-only through guacd, administrators
// kill it), records what the user saw as a .guac file, and relays until either
// side ends. httpapi only authenticates the WebSocket and hands it over.
package desktops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	assetpkg "github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// Defaults.
const (
	// DefaultGuacdAddr is where guacd listens unless configured otherwise.
	DefaultGuacdAddr = "127.0.0.1:4822"
	// DefaultDialTimeout bounds reaching guacd and its handshake.
	DefaultDialTimeout = 10 * time.Second
	// KindDesktop is the store.Session.Kind of RDP and VNC sessions.
	KindDesktop = "desktop"
	// statusTTL is how long a guacd health check is reused.
	statusTTL = 10 * time.Second
)

// Errors of this package; the texts are shown to users.
var (
	ErrDenied       = errors.New("desktops: not permitted")
	ErrNotFound     = errors.New("desktops: no such active asset")
	ErrNoProtocol   = errors.New("desktops: the asset speaks neither RDP nor VNC")
	ErrUnreachable  = errors.New("desktops: guacd is unreachable")
	ErrBehindZone   = errors.New("desktops: assets reached through a zone gateway cannot be shown by guacd")
	ErrInvalidSetup = errors.New("desktops: invalid configuration")
)

// Protocols are the asset protocols this package serves.
var Protocols = []string{"rdp", "vnc"}

// Config is the service's configuration.
type Config struct {
	RecordingDir string        // where recordings go (<data dir>/recordings); required
	GuacdAddr    string        // guacd's address when the settings name none; default DefaultGuacdAddr
	DialTimeout  time.Duration // default DefaultDialTimeout
}

// Authorizer is the part of perm.Resolver the service asks.
type Authorizer interface {
	Check(ctx context.Context, userID, assetID uint, account, protocol, action string) (*perm.AccountGrant, error)
}

var _ Authorizer = (*perm.Resolver)(nil)

// Deps are the services the desktops use; Log and Clock may be nil.
type Deps struct {
	DB       *gorm.DB
	Perm     Authorizer
	Vault    *vault.Vault
	Audit    *audit.Logger
	Settings *settings.Store
	Sessions *session.Registry
	Log      *slog.Logger
	Clock    func() time.Time
}

// Service runs desktop sessions.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu     sync.Mutex // guards status
	status Status
}

// New returns a Service.
func New(cfg Config, deps Deps) (*Service, error) {
	if cfg.RecordingDir == "" {
		return nil, fmt.Errorf("%w: RecordingDir is required", ErrInvalidSetup)
	}
	if deps.DB == nil || deps.Perm == nil || deps.Vault == nil || deps.Audit == nil || deps.Settings == nil || deps.Sessions == nil {
		return nil, fmt.Errorf("%w: DB, Perm, Vault, Audit, Settings and Sessions are required", ErrInvalidSetup)
	}
	if cfg.GuacdAddr == "" {
		cfg.GuacdAddr = DefaultGuacdAddr
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	return &Service{cfg: cfg, deps: deps, log: deps.Log.With("component", "desktops")}, nil
}

// Request is one desktop session to run.
type Request struct {
	User     *store.User
	Remote   string // the user's IP address
	AssetID  uint
	Account  string // account name, "@INPUT" or "@USER"
	Protocol string // "rdp" or "vnc"; empty: the first the asset speaks
	Width    int
	Height   int
	DPI      int
	Client   guacgw.Client // closed by Serve
}

// Status is what the service knows of guacd.
type Status struct {
	Address   string    `json:"address"`
	Reachable bool      `json:"reachable"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// GuacdAddr returns the address of guacd: the settings' or the configured default.
func (s *Service) GuacdAddr(ctx context.Context) string {
	d, err := s.deps.Settings.Desktop(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "read desktop settings; using the default guacd address", "err", err)
	}
	if d.GuacdAddr != "" {
		return d.GuacdAddr
	}
	return s.cfg.GuacdAddr
}

// GuacdStatus checks whether guacd answers (at most every few seconds; the
// last answer is reused meanwhile unless fresh is set).
func (s *Service) GuacdStatus(ctx context.Context, fresh bool) Status {
	addr := s.GuacdAddr(ctx)
	now := s.deps.Clock()
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	if !fresh && st.Address == addr && now.Sub(st.CheckedAt) < statusTTL {
		return st
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st = Status{Address: addr, Reachable: true, CheckedAt: now.UTC()}
	if err := guacgw.Ping(pctx, addr); err != nil {
		st.Reachable, st.Error = false, unwrapText(err)
	}
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	return st
}

// unwrapText is an error's text without the package prefixes of the wrappers.
func unwrapText(err error) string {
	msg := err.Error()
	for _, p := range []string{"desktops: ", "guacgw: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// Guacamole status codes sent to the browser with an "error" instruction.
const (
	statusUpstreamNotFound = 519 // guacd or the remote desktop cannot be reached
	statusForbidden        = 771 // not permitted
	statusBadRequest       = 768
	statusServerError      = 512
)

// refuse tells the browser why there is no session and closes it.
func refuse(c guacgw.Client, code int, msg string) {
	c.WriteMessage([]byte(guacgw.Instruction{Opcode: "error", Args: []string{msg, strconv.Itoa(code)}}.String()))
	c.Close()
}

// deny audits a refusal.
func (s *Service) deny(ctx context.Context, u *store.User, remote, resName, detail string) {
	s.oplog(ctx, u, remote, "desktop.access_denied", "asset", resName, false, detail)
}

func (s *Service) oplog(ctx context.Context, u *store.User, remote, action, resType, resName string, success bool, detail string) {
	row := store.OperationLog{Action: action, ResourceType: resType, ResourceName: cut(resName, 256),
		RemoteAddr: cut(remote, 64), Success: success, Detail: cut(detail, 1024)}
	if u != nil {
		id, org := u.ID, u.OrgID
		row.UserID, row.OrgID, row.Username = &id, &org, u.Username
	}
	if err := s.deps.Audit.Operation(context.WithoutCancel(ctx), row); err != nil {
		s.log.ErrorContext(ctx, "operation log write failed", "action", action, "err", err)
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// target is a resolved desktop session: the asset, the protocol and port,
// the account and what the permission grants.
type target struct {
	asset    store.Asset
	platform store.Platform
	protocol string
	port     int
	grant    perm.AccountGrant
	params   guacgw.Params
}

// resolve checks the permission and builds guacd's parameters; refusals are
// audited and returned as errors whose text the user may see.
func (s *Service) resolve(ctx context.Context, req *Request) (*target, error) {
	u := req.User
	var a store.Asset
	err := s.deps.DB.WithContext(ctx).Where("id = ? AND org_id = ? AND is_active = ?", req.AssetID, u.OrgID, true).Take(&a).Error
	if err != nil {
		if errors.Is(store.Translate(err), store.ErrNotFound) {
			s.deny(ctx, u, req.Remote, strconv.FormatUint(uint64(req.AssetID), 10), "desktop: no such active asset")
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("desktops: asset %d: %w", req.AssetID, store.Translate(err))
	}
	t := &target{asset: a}
	for _, p := range a.Protocols {
		if slices.Contains(Protocols, p.Name) && (req.Protocol == "" || req.Protocol == p.Name) {
			t.protocol, t.port = p.Name, p.Port
			break
		}
	}
	if t.protocol == "" {
		s.deny(ctx, u, req.Remote, a.Name, "desktop: the asset does not speak "+cmp.Or(req.Protocol, "rdp or vnc"))
		return nil, ErrNoProtocol
	}
	grant, err := s.deps.Perm.Check(ctx, u.ID, a.ID, req.Account, t.protocol, store.ActionConnect)
	if errors.Is(err, perm.ErrDenied) {
		s.deny(ctx, u, req.Remote, a.Name, fmt.Sprintf("desktop: account %q by %s not permitted", req.Account, t.protocol))
		return nil, fmt.Errorf("%w: %s (%s)", ErrDenied, a.Name, req.Account)
	} else if err != nil {
		return nil, err
	}
	t.grant = *grant
	if a.ZoneID != nil {
		var n int64
		if err := s.deps.DB.WithContext(ctx).Model(&store.Gateway{}).Where("zone_id = ?", *a.ZoneID).Count(&n).Error; err != nil {
			return nil, fmt.Errorf("desktops: zone gateways: %w", err)
		}
		if n > 0 {
			s.deny(ctx, u, req.Remote, a.Name, "desktop: the asset is behind a zone gateway")
			return nil, ErrBehindZone
		}
	}
	if a.PlatformID != 0 {
		if err := s.deps.DB.WithContext(ctx).Where("id = ?", a.PlatformID).Take(&t.platform).Error; err != nil && !errors.Is(store.Translate(err), store.ErrNotFound) {
			return nil, fmt.Errorf("desktops: platform: %w", err)
		}
	}
	allowed := func(action string) bool {
		_, err := s.deps.Perm.Check(ctx, u.ID, a.ID, grant.Name, t.protocol, action)
		return err == nil
	}
	login, password, err := s.credentials(ctx, u, &a, grant)
	if err != nil {
		return nil, err
	}
	p := guacgw.Params{
		Protocol: t.protocol, Hostname: a.Address, Port: t.port, Username: login, Password: password,
		Width: req.Width, Height: req.Height, DPI: req.DPI, Timezone: "UTC",
		Clipboard: guacgw.Clipboard{CopyOut: allowed(store.ActionCopy), PasteIn: allowed(store.ActionPaste)},
	}
	if t.protocol == "rdp" {
		ps := t.platform.Settings
		p.Domain = ps["domain"]
		p.Security = cmp.Or(ps["rdp_security"], "any")
		p.IgnoreCert = ps["ignore_cert"] == "true"
		up, down := allowed(store.ActionUpload), allowed(store.ActionDownload)
		if up || down {
			dir := filepath.Join(filepath.Dir(s.cfg.RecordingDir), "drives", strconv.FormatUint(uint64(u.ID), 10))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("desktops: drive: %w", err)
			}
			p.Drive = guacgw.Drive{Path: dir, Upload: up, Download: down}
		}
	}
	t.params = p
	return t, nil
}

// credentials returns the login and password guacd uses: the account's
// (opened by the vault), or for @INPUT and @USER none (the remote desktop
// asks at its own login screen).
func (s *Service) credentials(ctx context.Context, u *store.User, a *store.Asset, g *perm.AccountGrant) (string, string, error) {
	switch g.Kind {
	case perm.KindAccount:
		var acc store.Account
		if err := s.deps.DB.WithContext(ctx).Where("id = ? AND asset_id = ? AND is_active = ?", g.ID, a.ID, true).Take(&acc).Error; err != nil {
			return "", "", fmt.Errorf("desktops: account %d: %w", g.ID, store.Translate(err))
		}
		if acc.SecretType != store.SecretPassword {
			return acc.Username, "", nil
		}
		secret, err := assetpkg.OpenAccountSecret(s.deps.Vault, &acc)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", "", err
		}
		return acc.Username, secret, nil
	case perm.KindUser:
		return u.Username, "", nil
	}
	return g.Username, "", nil
}

// Serve runs one desktop session until either side ends it or it is
// killed. The browser is told why when there is no session; the error is
// for the server's log.
func (s *Service) Serve(ctx context.Context, req Request) error {
	c := req.Client
	if req.User == nil || c == nil {
		if c != nil {
			refuse(c, statusServerError, "invalid request")
		}
		return fmt.Errorf("%w: User and Client are required", ErrInvalidSetup)
	}
	t, err := s.resolve(ctx, &req)
	if err != nil {
		switch {
		case errors.Is(err, ErrDenied), errors.Is(err, ErrNotFound), errors.Is(err, ErrNoProtocol), errors.Is(err, ErrBehindZone):
			refuse(c, statusForbidden, unwrapText(err))
			return nil
		}
		refuse(c, statusServerError, "the session could not start; see the server log")
		return err
	}
	addr := s.GuacdAddr(ctx)
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	tun, err := guacgw.Dial(dctx, addr, t.params)
	cancel()
	if err != nil {
		msg := fmt.Sprintf("cannot reach guacd at %s: %s", addr, unwrapText(err))
		if !errors.Is(err, guacgw.ErrGuacdUnreachable) {
			msg = fmt.Sprintf("guacd at %s refused the connection to %s: %s", addr, t.asset.Name, unwrapText(err))
		}
		s.oplog(ctx, req.User, req.Remote, "desktop.connect_failed", "asset", t.asset.Name, false, msg)
		refuse(c, statusUpstreamNotFound, msg)
		s.mu.Lock()
		s.status = Status{} // the next status check asks guacd again
		s.mu.Unlock()
		return nil
	}
	return s.run(ctx, &req, t, tun)
}

// run registers, records and relays a connected session.
func (s *Service) run(ctx context.Context, req *Request, t *target, tun *guacgw.Tunnel) error {
	u := req.User
	id := session.NewID()
	now := s.deps.Clock()
	dir := filepath.Join(s.cfg.RecordingDir, now.UTC().Format("2006/01/02"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tun.Close()
		refuse(req.Client, statusServerError, "the session cannot be recorded")
		return fmt.Errorf("desktops: recording dir: %w", err)
	}
	path := filepath.Join(dir, id+".guac")
	rec, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{})
	if err != nil {
		tun.Close()
		refuse(req.Client, statusServerError, "the session cannot be recorded")
		return fmt.Errorf("desktops: recording: %w", err)
	}
	live, err := s.deps.Sessions.Start(ctx, session.Meta{
		ID: id, OrgID: u.OrgID, UserID: u.ID, Username: u.Username, AssetID: t.asset.ID, AssetName: t.asset.Name,
		AccountName: t.grant.Name, Protocol: t.protocol, Kind: KindDesktop, Via: "web", SourceIP: req.Remote,
		Width: t.params.Width, Height: t.params.Height, Recording: path, Connection: tun.ConnectionID(),
	})
	if err != nil {
		rec.Close()
		tun.Close()
		refuse(req.Client, statusServerError, "the session could not be registered")
		return err
	}
	desk, _ := s.deps.Settings.Desktop(ctx)
	sec, err := s.deps.Settings.Security(ctx)
	if err != nil {
		sec = settings.DefaultSecurity()
	}
	res, serveErr := guacgw.Serve(ctx, guacgw.Config{
		Client: lockable{Client: req.Client, live: live}, Tunnel: tun, Recorder: rec, RecordKeys: desk.RecordKeys,
		Killed: live.Killed(), KillReason: live.KillReason,
		IdleTimeout: time.Duration(sec.SessionIdleMinutes) * time.Minute,
		MaxDuration: time.Duration(sec.SessionMaxHours) * time.Hour,
		Clock:       s.deps.Clock, Log: s.log.With("session", id),
		OnSize: func(w, h int) { live.Resize(w, h) },
	})
	if err := rec.Close(); err != nil {
		s.log.ErrorContext(ctx, "close desktop recording", "session", id, "err", err)
	}
	live.AddBytes(res.BytesIn, res.BytesOut)
	if err := live.End(context.WithoutCancel(ctx), res.EndReason); err != nil {
		s.log.ErrorContext(ctx, "end desktop session", "session", id, "err", err)
	}
	return serveErr
}

// Watch shows a live desktop session read-only: it joins the session's guacd
// connection, sized w x h, until the session or the watcher ends.
func (s *Service) Watch(ctx context.Context, live *session.Live, c guacgw.Client, w, h int) error {
	m := live.Meta()
	if m.Connection == "" {
		refuse(c, statusBadRequest, "not a desktop session")
		return nil
	}
	addr := s.GuacdAddr(ctx)
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	tun, err := guacgw.Join(dctx, addr, m.Connection, guacgw.Params{Protocol: m.Protocol, ReadOnly: true, Width: w, Height: h, DPI: 96})
	cancel()
	if err != nil {
		refuse(c, statusUpstreamNotFound, fmt.Sprintf("cannot join the session through guacd at %s: %s", addr, unwrapText(err)))
		return nil
	}
	_, err = guacgw.Serve(ctx, guacgw.Config{Client: c, Tunnel: tun, Killed: live.Done(),
		KillReason: live.EndReason, Clock: s.deps.Clock, Log: s.log.With("watch", m.ID)})
	return err
}

// inputOpcodes are the instructions by which a user acts on the remote
// desktop; while an administrator locks the session they are dropped (the
// client's sync answers, acks and size still go through, so guacd keeps
// drawing).
var inputOpcodes = map[string]bool{
	"key": true, "mouse": true, "touch": true, "clipboard": true, "file": true,
	"pipe": true, "argv": true, "put": true, "blob": true, "end": true,
}

// lockable drops the user's input while the live session is locked.
type lockable struct {
	guacgw.Client
	live *session.Live
}

// ReadMessage returns the next message from the browser, without its input
// instructions while the session is locked.
func (l lockable) ReadMessage() ([]byte, error) {
	for {
		p, err := l.Client.ReadMessage()
		if err != nil || !l.live.Locked() {
			return p, err
		}
		out := make([]byte, 0, len(p))
		rest := p
		for len(rest) > 0 {
			in, n, err := guacgw.Parse(rest)
			if err != nil {
				return p, nil // let Serve see (and refuse) the malformed data
			}
			if !inputOpcodes[in.Opcode] {
				out = append(out, rest[:n]...)
			}
			rest = rest[n:]
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}
