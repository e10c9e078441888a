package reach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// Errors returned by the Dialer.
var (
	// ErrNoGateway: the asset's zone has no active gateway.
	ErrNoGateway = errors.New("reach: the zone has no active gateway")
	// ErrClosed: the Dialer was closed.
	ErrClosed = errors.New("reach: dialer closed")
)

// Defaults of the Dialer's timings.
const (
	DefaultDialTimeout       = 10 * time.Second
	DefaultHandshakeTimeout  = 15 * time.Second
	DefaultUnhealthyFor      = time.Minute
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultKeepaliveInterval = 15 * time.Second
	DefaultKeepaliveTimeout  = 10 * time.Second
)

// HopError says which hop of a connection failed.
type HopError struct {
	Kind string // "asset" or "gateway"
	Name string // the asset's or gateway's name
	Addr string // host:port
	Via  string // for an asset reached through a gateway: "gateway gw1 (10.1.0.2:22)"
	Err  error
}

// Error returns "reach: gateway gw1 (10.1.0.2:22): <cause>".
func (e *HopError) Error() string { return "reach: " + e.detail() }

func (e *HopError) detail() string {
	s := e.Kind + " " + e.Name + " (" + e.Addr + ")"
	if e.Via != "" {
		s += " via " + e.Via
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *HopError) Unwrap() error { return e.Err }

// ZoneError is returned when every gateway of a zone failed; Errs holds one
// *HopError per attempt, in order.
type ZoneError struct {
	Zone  string
	Asset string
	Addr  string
	Errs  []error
}

// Error lists every attempt.
func (e *ZoneError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		var he *HopError
		if errors.As(err, &he) {
			parts[i] = he.detail()
		} else {
			parts[i] = err.Error()
		}
	}
	return fmt.Sprintf("reach: no gateway of zone %s reached asset %s (%s): %s", e.Zone, e.Asset, e.Addr, strings.Join(parts, "; "))
}

// Unwrap returns the attempts' errors (errors.Is and errors.As look into each).
func (e *ZoneError) Unwrap() []error { return e.Errs }

// noGatewayError names the zone without an active gateway; it matches ErrNoGateway.
type noGatewayError struct{ zone string }

func (e noGatewayError) Error() string        { return "zone " + e.zone + " has no active gateway" }
func (e noGatewayError) Is(target error) bool { return target == ErrNoGateway }

// Option configures a Dialer.
type Option func(*Dialer)

// WithClock sets the clock that decides when a gateway becomes healthy again
// and when an idle gateway client is closed.
func WithClock(now func() time.Time) Option { return func(d *Dialer) { d.clock = now } }

// WithTimeouts sets the TCP dial and the SSH handshake timeouts of each hop
// (zero keeps the default).
func WithTimeouts(dial, handshake time.Duration) Option {
	return func(d *Dialer) {
		if dial > 0 {
			d.dialTimeout = dial
		}
		if handshake > 0 {
			d.handshakeTimeout = handshake
		}
	}
}

// WithUnhealthyFor sets how long a failed gateway is tried last.
func WithUnhealthyFor(t time.Duration) Option { return func(d *Dialer) { d.unhealthyFor = t } }

// WithIdleTimeout sets after how long a gateway client with no open connection is closed.
func WithIdleTimeout(t time.Duration) Option { return func(d *Dialer) { d.idleTimeout = t } }

// WithKeepalive sets how often pooled gateway clients are probed and how long
// a probe may take before the client is declared dead.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(d *Dialer) {
		if interval > 0 {
			d.keepaliveInterval = interval
		}
		if timeout > 0 {
			d.keepaliveTimeout = timeout
		}
	}
}

// Dialer connects to assets, directly or through their zone's gateways. It is
// safe for concurrent use. Close it to close the pooled gateway clients.
type Dialer struct {
	db    *gorm.DB
	vault *vault.Vault
	hk    *hostkey.Store
	log   *slog.Logger
	clock func() time.Time

	dialTimeout, handshakeTimeout       time.Duration
	unhealthyFor, idleTimeout           time.Duration
	keepaliveInterval, keepaliveTimeout time.Duration
	netDialer                           net.Dialer
	onGatewayDial                       func(gatewayID uint) // test hook: a new gateway client is being dialed

	mu        sync.Mutex         // guards pool, unhealthy, closed, janitor
	pool      map[uint]*gwClient // gateway ID -> pooled client
	unhealthy map[uint]time.Time // gateway ID -> tried last until then
	closed    bool
	janitor   bool          // the janitor goroutine runs
	stop      chan struct{} // closed by Close
	wg        sync.WaitGroup
	sweepMu   sync.Mutex // one sweep at a time
}

// New returns a Dialer. hk checks the host keys of gateways and assets; it must not be nil.
func New(db *gorm.DB, v *vault.Vault, hk *hostkey.Store, log *slog.Logger, opts ...Option) *Dialer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dialer{
		db: db, vault: v, hk: hk, log: log.With("component", "reach"), clock: time.Now,
		dialTimeout: DefaultDialTimeout, handshakeTimeout: DefaultHandshakeTimeout,
		unhealthyFor: DefaultUnhealthyFor, idleTimeout: DefaultIdleTimeout,
		keepaliveInterval: DefaultKeepaliveInterval, keepaliveTimeout: DefaultKeepaliveTimeout,
		pool: map[uint]*gwClient{}, unhealthy: map[uint]time.Time{}, stop: make(chan struct{}),
	}
	for _, o := range opts {
		o(d)
	}
	d.netDialer = net.Dialer{Timeout: d.dialTimeout, KeepAlive: 30 * time.Second}
	return d
}

// Ciphers returns the ciphers offered on the bastion's own SSH hops: AES-GCM
// first (assembly on amd64 and arm64), then the other ciphers x/crypto
// supports, so that any modern target still finds a common one.
func Ciphers() []string {
	out := []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM}
	for _, c := range ssh.SupportedAlgorithms().Ciphers {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Dial connects to port of asset a: directly when it has no zone, otherwise
// through one of the zone's gateways. ctx bounds the connection set-up only.
func (d *Dialer) Dial(ctx context.Context, a *store.Asset, port int) (net.Conn, error) {
	if a == nil {
		return nil, errors.New("reach: no asset")
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("reach: asset %s: port %d out of range", a.Name, port)
	}
	target := net.JoinHostPort(a.Address, strconv.Itoa(port))
	if a.ZoneID == nil || *a.ZoneID == 0 {
		c, err := d.netDialer.DialContext(ctx, "tcp", target)
		if err != nil {
			return nil, &HopError{Kind: "asset", Name: a.Name, Addr: target, Err: err}
		}
		return c, nil
	}
	return d.viaZone(ctx, a, *a.ZoneID, target)
}

// SSH connects to port of asset a (as Dial) and runs the SSH handshake with
// cfg. Unless cfg has a HostKeyCallback, the asset's host key is checked by
// hostkey (trust on first use, owner "asset") and the host key algorithms are
// ordered for the recorded key. Unless cfg lists ciphers, Ciphers() are
// offered. cfg itself is not modified.
func (d *Dialer) SSH(ctx context.Context, a *store.Asset, port int, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	if cfg == nil {
		return nil, errors.New("reach: no ssh client config")
	}
	conn, err := d.Dial(ctx, a, port)
	if err != nil {
		return nil, err
	}
	target := net.JoinHostPort(a.Address, strconv.Itoa(port))
	c := *cfg
	if c.HostKeyCallback == nil {
		if d.hk == nil {
			conn.Close()
			return nil, errors.New("reach: no host key store: refusing to trust any host key")
		}
		c.HostKeyCallback = d.hk.Callback(a.OrgID, hostkey.OwnerAsset, a.ID)
		if len(c.HostKeyAlgorithms) == 0 {
			c.HostKeyAlgorithms = d.hk.Algorithms(hostkey.OwnerAsset, a.ID, target)
		}
	}
	if len(c.Ciphers) == 0 {
		c.Ciphers = Ciphers()
	}
	client, err := d.handshake(ctx, conn, target, &c)
	if err != nil {
		he := &HopError{Kind: "asset", Name: a.Name, Addr: target, Err: err}
		if v, ok := conn.(*gatewayConn); ok {
			he.Via = v.via
		}
		return nil, he
	}
	return client, nil
}

// handshake runs the SSH client handshake on conn, bounded by ctx and the
// handshake timeout (conn is closed on failure).
func (d *Dialer) handshake(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	timeout := d.handshakeTimeout
	if cfg.Timeout > 0 && cfg.Timeout < timeout {
		timeout = cfg.Timeout
	}
	conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	cancelled := !stop()
	if err == nil && cancelled {
		c.Close()
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		if cancelled && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// viaZone dials target through the zone's gateways, healthy first.
func (d *Dialer) viaZone(ctx context.Context, a *store.Asset, zoneID uint, target string) (net.Conn, error) {
	var zone store.Zone
	if err := d.db.WithContext(ctx).Where("id = ?", zoneID).Take(&zone).Error; err != nil {
		return nil, &HopError{Kind: "asset", Name: a.Name, Addr: target, Err: fmt.Errorf("zone %d: %w", zoneID, store.Translate(err))}
	}
	if zone.OrgID != a.OrgID {
		return nil, &HopError{Kind: "asset", Name: a.Name, Addr: target, Err: fmt.Errorf("zone %s belongs to another organization", zone.Name)}
	}
	var gws []store.Gateway
	err := d.db.WithContext(ctx).Where("zone_id = ? AND org_id = ? AND is_active = ?", zoneID, zone.OrgID, true).
		Order("priority").Order("id").Find(&gws).Error
	if err != nil {
		return nil, fmt.Errorf("reach: gateways of zone %s: %w", zone.Name, err)
	}
	if len(gws) == 0 {
		return nil, &HopError{Kind: "asset", Name: a.Name, Addr: target, Err: noGatewayError{zone.Name}}
	}
	gws = d.healthyFirst(gws)
	var errs []error
	for i := range gws {
		gw := &gws[i]
		conn, err := d.throughGateway(ctx, gw, a, target)
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, ErrClosed) {
			return nil, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
		d.log.WarnContext(ctx, "gateway attempt failed", "zone", zone.Name, "gateway", gw.Name, "asset", a.Name, "err", err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, &ZoneError{Zone: zone.Name, Asset: a.Name, Addr: target, Errs: errs}
}

// healthyFirst keeps the order of gws but moves the gateways marked unhealthy to the end.
func (d *Dialer) healthyFirst(gws []store.Gateway) []store.Gateway {
	now := d.clock()
	d.mu.Lock()
	defer d.mu.Unlock()
	var good, bad []store.Gateway
	for _, g := range gws {
		if until, ok := d.unhealthy[g.ID]; ok && now.Before(until) {
			bad = append(bad, g)
		} else {
			good = append(good, g)
		}
	}
	return append(good, bad...)
}

func (d *Dialer) markUnhealthy(id uint) {
	d.mu.Lock()
	d.unhealthy[id] = d.clock().Add(d.unhealthyFor)
	d.mu.Unlock()
}

func (d *Dialer) markHealthy(id uint) {
	d.mu.Lock()
	delete(d.unhealthy, id)
	d.mu.Unlock()
}

// Unhealthy reports whether the gateway is currently tried last.
func (d *Dialer) Unhealthy(gatewayID uint) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	until, ok := d.unhealthy[gatewayID]
	return ok && d.clock().Before(until)
}

func gatewayAddr(gw *store.Gateway) string {
	port := gw.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(gw.Address, strconv.Itoa(port))
}

// throughGateway opens a channel from gw to target. A stale pooled client is
// replaced once before the gateway counts as failed.
func (d *Dialer) throughGateway(ctx context.Context, gw *store.Gateway, a *store.Asset, target string) (net.Conn, error) {
	gwAddr := gatewayAddr(gw)
	via := "gateway " + gw.Name + " (" + gwAddr + ")"
	for attempt := 0; ; attempt++ {
		gc, reused, err := d.client(ctx, gw)
		if errors.Is(err, ErrClosed) {
			return nil, err
		}
		if err != nil {
			if ctx.Err() == nil {
				d.markUnhealthy(gw.ID)
			}
			return nil, &HopError{Kind: "gateway", Name: gw.Name, Addr: gwAddr, Err: err}
		}
		d.acquire(gc)
		ch, err := gc.client.DialContext(ctx, "tcp", target)
		if err == nil {
			d.markHealthy(gw.ID)
			return &gatewayConn{deadlineConn: withDeadlines(ch, hopAddr(target)), via: via, release: d.releaseFunc(gc)}, nil
		}
		d.release(gc)
		var oce *ssh.OpenChannelError
		switch {
		case errors.As(err, &oce):
			// The gateway works; it could not reach the asset.
			d.markHealthy(gw.ID)
			return nil, &HopError{Kind: "asset", Name: a.Name, Addr: target, Via: via, Err: err}
		case ctx.Err() != nil:
			return nil, &HopError{Kind: "gateway", Name: gw.Name, Addr: gwAddr, Err: err}
		}
		// The client is broken (the gateway went away under it).
		d.drop(gc)
		if !reused || attempt > 0 {
			d.markUnhealthy(gw.ID)
			return nil, &HopError{Kind: "gateway", Name: gw.Name, Addr: gwAddr, Err: err}
		}
		d.log.InfoContext(ctx, "pooled gateway client is dead; redialing", "gateway", gw.Name, "err", err)
	}
}

// gatewayConn is a connection through a gateway; closing it releases the
// gateway client for the idle timer.
type gatewayConn struct {
	*deadlineConn
	via     string
	release func()
	once    sync.Once
}

// Close closes the channel.
func (c *gatewayConn) Close() error {
	err := c.deadlineConn.Close()
	c.once.Do(c.release)
	return err
}

// dialGateway opens a new SSH client to gw.
func (d *Dialer) dialGateway(ctx context.Context, gw *store.Gateway) (*ssh.Client, error) {
	if d.hk == nil {
		return nil, errors.New("no host key store: refusing to trust any host key")
	}
	auth, err := d.gatewayAuth(gw)
	if err != nil {
		return nil, err
	}
	addr := gatewayAddr(gw)
	cfg := &ssh.ClientConfig{
		Config:            ssh.Config{Ciphers: Ciphers()},
		User:              gw.Username,
		Auth:              auth,
		HostKeyCallback:   d.hk.Callback(gw.OrgID, hostkey.OwnerGateway, gw.ID),
		HostKeyAlgorithms: d.hk.Algorithms(hostkey.OwnerGateway, gw.ID, addr),
		ClientVersion:     "SSH-2.0-Portcullis",
	}
	if d.onGatewayDial != nil {
		d.onGatewayDial(gw.ID)
	}
	conn, err := d.netDialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return d.handshake(ctx, conn, addr, cfg)
}
