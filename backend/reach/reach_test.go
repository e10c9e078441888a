package reach

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/store"
)

func TestDirectSSHRunsCommandAndPinsHostKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k := newClientKey(t)
	target := startSSHD(t, sshdOpts{authz: k.authz})
	a := e.asset(t, "web01", "127.0.0.1", nil)
	d := e.dialer(t)

	c, err := d.SSH(e.ctx, a, target.port, rootConfig(k))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := run(t, c, "echo ok"), "ok\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	c.Close()
	var rows []store.HostKey
	e.s.DB.Find(&rows)
	if len(rows) != 1 {
		t.Fatalf("got %d recorded keys, want 1", len(rows))
	}
	if got, want := rows[0].Fingerprint, ssh.FingerprintSHA256(target.hostKey()); got != want {
		t.Errorf("got fingerprint %v, want %v", got, want)
	}
	if got, want := rows[0].Address, target.hostPort(); got != want {
		t.Errorf("got address %v, want %v", got, want)
	}

	// The target is reinstalled: a new host key is refused, audited, and named by hop.
	target.newHostKey()
	target.restart()
	_, err = d.SSH(e.ctx, a, target.port, rootConfig(k))
	if !errors.Is(err, hostkey.ErrChanged) {
		t.Fatalf("got %v, want a host key mismatch", err)
	}
	want := fmt.Sprintf("reach: asset web01 (%s): ssh: handshake failed: hostkey: REMOTE HOST IDENTIFICATION HAS CHANGED for web01 (%s): expected %s, got %s",
		target.hostPort(), target.hostPort(), rows[0].Fingerprint, ssh.FingerprintSHA256(target.hostKey()))
	if got := err.Error(); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if ops := e.oplog(t, hostkey.ActionMismatch); len(ops) != 1 || ops[0].Success {
		t.Errorf("got mismatch rows %+v, want one failed row", ops)
	}

	// An admin forgets the key: the next connection records the new one.
	if _, err := e.hk.Forget(e.ctx, hostkey.OwnerAsset, a.ID); err != nil {
		t.Fatal(err)
	}
	c, err = d.SSH(e.ctx, a, target.port, rootConfig(k))
	if err != nil {
		t.Fatalf("after Forget: %v", err)
	}
	c.Close()
}

func TestSSHDoesNotModifyTheCallersConfig(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k := newClientKey(t)
	target := startSSHD(t, sshdOpts{authz: k.authz})
	a := e.asset(t, "web01", "127.0.0.1", nil)
	cfg := rootConfig(k)
	c, err := e.dialer(t).SSH(e.ctx, a, target.port, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if cfg.HostKeyCallback != nil || cfg.HostKeyAlgorithms != nil || cfg.Ciphers != nil {
		t.Errorf("SSH changed the caller's config: %+v", cfg)
	}
}

func TestDialErrorsNameTheHop(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k, wrong := newClientKey(t), newClientKey(t)
	gw := startSSHD(t, sshdOpts{authz: k.authz})
	closed := freePort(t) // nothing listens here
	z := e.zone(t, "dmz")
	e2 := e.zone(t, "empty")
	badAuth := e.zone(t, "badauth")
	gw1 := e.gateway(t, z, "gw1", "127.0.0.1", gw.port, 1, "root", store.SecretSSHKey, k.pem)
	e.gateway(t, badAuth, "gwx", "127.0.0.1", gw.port, 1, "root", store.SecretSSHKey, wrong.pem)
	inactive := e.gateway(t, e2, "gw-off", "127.0.0.1", gw.port, 1, "root", store.SecretSSHKey, k.pem)
	e.s.DB.Model(inactive).Update("is_active", false)

	tests := []struct {
		name    string
		asset   *store.Asset
		port    int
		want    string
		wantIs  error
		wantHop string
	}{
		{"direct refused", e.asset(t, "direct", "127.0.0.1", nil), closed,
			fmt.Sprintf("reach: asset direct (127.0.0.1:%d): dial tcp 127.0.0.1:%d: connect: connection refused", closed, closed), nil, "asset"},
		{"target refused behind the gateway", e.asset(t, "inner", "127.0.0.1", z), closed,
			fmt.Sprintf("reach: asset inner (127.0.0.1:%d) via gateway gw1 (127.0.0.1:%d): ssh: rejected: connect failed (\"Connection refused\")", closed, gw.port), nil, "asset"},
		{"no active gateway", e.asset(t, "lonely", "10.9.9.9", e2), 22,
			"reach: asset lonely (10.9.9.9:22): zone empty has no active gateway", ErrNoGateway, "asset"},
		{"gateway refuses our key", e.asset(t, "locked", "127.0.0.1", badAuth), 22,
			fmt.Sprintf("reach: gateway gwx (127.0.0.1:%d): ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain", gw.port), nil, "gateway"},
		{"port out of range", e.asset(t, "bad", "127.0.0.1", nil), 70000, "reach: asset bad: port 70000 out of range", nil, ""},
	}
	d := e.dialer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := d.Dial(e.ctx, tt.asset, tt.port)
			if err == nil {
				c.Close()
				t.Fatalf("got a connection, want an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want errors.Is %v", err, tt.wantIs)
			}
			var he *HopError
			if tt.wantHop != "" && (!errors.As(err, &he) || he.Kind != tt.wantHop) {
				t.Errorf("got %#v, want a HopError of kind %s", err, tt.wantHop)
			}
		})
	}
	if d.Unhealthy(gw1.ID) {
		t.Errorf("gw1 reached the gateway but not the target: got unhealthy, want healthy")
	}
}

// gatewayLab is one target and two gateways on loopback (no network
// namespaces: these tests look at the pool, failover and keepalives).
type gatewayLab struct {
	e        *testEnv
	key      clientKey
	target   *sshd
	gw1, gw2 *sshd
	zone     *store.Zone
	g1, g2   *store.Gateway
	asset    *store.Asset
	dials    map[uint]int
	mu       sync.Mutex
}

func newGatewayLab(t *testing.T) *gatewayLab {
	l := &gatewayLab{e: newTestEnv(t), key: newClientKey(t), dials: map[uint]int{}}
	l.target = startSSHD(t, sshdOpts{authz: l.key.authz})
	l.gw1 = startSSHD(t, sshdOpts{authz: l.key.authz})
	l.gw2 = startSSHD(t, sshdOpts{authz: l.key.authz})
	l.zone = l.e.zone(t, "dmz")
	l.g1 = l.e.gateway(t, l.zone, "gw1", "127.0.0.1", l.gw1.port, 1, "root", store.SecretSSHKey, l.key.pem)
	l.g2 = l.e.gateway(t, l.zone, "gw2", "127.0.0.1", l.gw2.port, 2, "root", store.SecretSSHKey, l.key.pem)
	l.asset = l.e.asset(t, "web01", "127.0.0.1", l.zone)
	return l
}

func (l *gatewayLab) dialer(t *testing.T, opts ...Option) *Dialer {
	d := l.e.dialer(t, opts...)
	d.onGatewayDial = func(id uint) {
		l.mu.Lock()
		l.dials[id]++
		l.mu.Unlock()
	}
	return d
}

func (l *gatewayLab) dialCount(id uint) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dials[id]
}

func TestGatewayClientIsPooledAndClosedWhenIdle(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t, WithIdleTimeout(time.Minute))
	var conns []net.Conn
	for range 3 {
		c, err := d.Dial(l.e.ctx, l.asset, l.target.port)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if got, want := l.dialCount(l.g1.ID), 1; got != want {
		t.Errorf("got %d SSH connections to gw1, want %d (pooled)", got, want)
	}
	// The raw connection carries the target's SSH banner.
	line, err := bufio.NewReader(conns[0]).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SSH-2.0-OpenSSH") {
		t.Errorf("got %q, %v, want the target's SSH banner", line, err)
	}
	// In use: an idle sweep keeps it.
	l.e.clock.Add(2 * time.Minute)
	if got := d.sweep(); got != 1 {
		t.Errorf("got %d pooled clients after a sweep while in use, want 1", got)
	}
	for _, c := range conns {
		c.Close()
	}
	l.e.clock.Add(30 * time.Second)
	if got := d.sweep(); got != 1 {
		t.Errorf("got %d pooled clients 30s after the last close, want 1", got)
	}
	l.e.clock.Add(31 * time.Second)
	if got := d.sweep(); got != 0 {
		t.Errorf("got %d pooled clients after the idle timeout, want 0", got)
	}
	c, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got, want := l.dialCount(l.g1.ID), 2; got != want {
		t.Errorf("got %d SSH connections to gw1, want %d (a new one after the idle close)", got, want)
	}
}

func TestConcurrentDialsShareOneGatewayClient(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.SSH(l.e.ctx, l.asset, l.target.port, rootConfig(l.key))
			if err == nil {
				c.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := l.dialCount(l.g1.ID), 1; got != want {
		t.Errorf("got %d SSH connections to gw1, want %d", got, want)
	}
}

func TestFailoverPrefersHealthyGateways(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t, WithUnhealthyFor(time.Minute))
	l.gw1.stop() // gw1 is down

	c, err := d.SSH(l.e.ctx, l.asset, l.target.port, rootConfig(l.key))
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, c, "echo ok"); got != "ok\n" {
		t.Errorf("got %q, want ok", got)
	}
	c.Close()
	if !d.Unhealthy(l.g1.ID) || d.Unhealthy(l.g2.ID) {
		t.Errorf("got gw1 unhealthy=%v gw2 unhealthy=%v, want true, false", d.Unhealthy(l.g1.ID), d.Unhealthy(l.g2.ID))
	}
	// The next dial starts with the healthy gateway.
	c, err = d.SSH(l.e.ctx, l.asset, l.target.port, rootConfig(l.key))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got, want := l.dialCount(l.g1.ID), 1; got != want {
		t.Errorf("got %d attempts on gw1, want %d (skipped while unhealthy)", got, want)
	}
	// gw1 comes back; once its unhealthy time is over it is first again.
	l.gw1.start()
	l.e.clock.Add(61 * time.Second)
	c, err = d.SSH(l.e.ctx, l.asset, l.target.port, rootConfig(l.key))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got, want := l.dialCount(l.g1.ID), 2; got != want {
		t.Errorf("got %d attempts on gw1, want %d", got, want)
	}
	if d.Unhealthy(l.g1.ID) {
		t.Errorf("gw1 still unhealthy after a successful connection")
	}
}

func TestEveryGatewayDownListsEachAttempt(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t)
	l.gw1.stop()
	l.gw2.stop()
	_, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	var ze *ZoneError
	if !errors.As(err, &ze) || len(ze.Errs) != 2 {
		t.Fatalf("got %v, want a ZoneError with two attempts", err)
	}
	want := fmt.Sprintf("reach: no gateway of zone dmz reached asset web01 (127.0.0.1:%d): gateway gw1 (127.0.0.1:%d): dial tcp 127.0.0.1:%d: connect: connection refused; gateway gw2 (127.0.0.1:%d): dial tcp 127.0.0.1:%d: connect: connection refused",
		l.target.port, l.gw1.port, l.gw1.port, l.gw2.port, l.gw2.port)
	if got := err.Error(); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestKeepaliveDropsAHungGateway(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	proxy := startFreezeProxy(t, l.gw1.hostPort())
	l.e.s.DB.Model(l.g1).Updates(map[string]any{"port": proxy.port()})
	d := l.dialer(t, WithKeepalive(time.Hour, 300*time.Millisecond))
	c, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := d.sweep(); got != 1 {
		t.Fatalf("got %d clients alive after a keepalive, want 1", got)
	}
	proxy.freeze()
	if got := d.sweep(); got != 0 {
		t.Fatalf("got %d clients alive after the gateway hung, want 0", got)
	}
	if !d.Unhealthy(l.g1.ID) {
		t.Errorf("got gw1 healthy, want unhealthy after a failed keepalive")
	}
	// The next dial goes to gw2 first.
	c, err = d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := l.dialCount(l.g2.ID); got != 1 {
		t.Errorf("got %d dials to gw2, want 1", got)
	}
}

func TestDeadPooledClientIsRedialed(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t)
	c, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Break the pooled client's connection under it.
	d.mu.Lock()
	g := d.pool[l.g1.ID]
	d.mu.Unlock()
	g.client.Close()
	<-g.dead
	c, err = d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatalf("got %v, want a fresh client to gw1", err)
	}
	c.Close()
	if got, want := l.dialCount(l.g1.ID), 2; got != want {
		t.Errorf("got %d dials to gw1, want %d", got, want)
	}
	if d.Unhealthy(l.g1.ID) {
		t.Errorf("got gw1 unhealthy, want healthy")
	}
}

func TestEditedGatewayGetsANewClient(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t)
	c1, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	l.e.s.DB.Model(l.g1).Update("username", "root") // bumps updated_at
	c2, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if got, want := l.dialCount(l.g1.ID), 2; got != want {
		t.Errorf("got %d dials to gw1, want %d", got, want)
	}
	// The connection made with the old client still works.
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c1).ReadString('\n'); err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
		t.Errorf("old connection: got %q, %v", line, err)
	}
}

func TestGatewayHostKeyIsPinned(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	l.e.s.DB.Model(l.g2).Update("is_active", false)
	d := l.dialer(t)
	c, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	d.Close()
	l.gw1.newHostKey()
	l.gw1.restart()
	d = l.dialer(t)
	_, err = d.Dial(l.e.ctx, l.asset, l.target.port)
	if !errors.Is(err, hostkey.ErrChanged) {
		t.Fatalf("got %v, want a host key mismatch", err)
	}
	prefix := fmt.Sprintf("reach: gateway gw1 (127.0.0.1:%d): ssh: handshake failed: hostkey: REMOTE HOST IDENTIFICATION HAS CHANGED for gw1 (127.0.0.1:%d)", l.gw1.port, l.gw1.port)
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("got %v, want prefix %v", err, prefix)
	}
	ops := l.e.oplog(t, hostkey.ActionMismatch)
	if len(ops) != 1 || ops[0].ResourceType != hostkey.OwnerGateway || ops[0].ResourceName != "gw1" {
		t.Errorf("got %+v, want one gateway mismatch row", ops)
	}
}

func TestDialHonoursContext(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	// A listener that accepts and never speaks: the SSH handshake would hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	z := e.zone(t, "dmz")
	k := newClientKey(t)
	e.gateway(t, z, "mute", "127.0.0.1", ln.Addr().(*net.TCPAddr).Port, 1, "root", store.SecretSSHKey, k.pem)
	a := e.asset(t, "web01", "127.0.0.1", z)
	d := e.dialer(t)
	ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.Dial(ctx, a, 22)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Dial took %v after its context ended", el)
	}
}

func TestClosedDialerRefuses(t *testing.T) {
	t.Parallel()
	l := newGatewayLab(t)
	d := l.dialer(t)
	c, err := d.Dial(l.e.ctx, l.asset, l.target.port)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	// A connection open at Close keeps working until it closes.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
		t.Errorf("got %q, %v", line, err)
	}
	c.Close()
	if _, err := d.Dial(l.e.ctx, l.asset, l.target.port); !errors.Is(err, ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
}
