package reach

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/store"
)

// gwClient is a pooled SSH client to one gateway.
type gwClient struct {
	id      uint
	name    string
	version time.Time     // the gateway row's UpdatedAt when dialed
	ready   chan struct{} // closed once dialing has finished (client or err set)
	client  *ssh.Client
	err     error
	dead    chan struct{} // closed when the client's connection ends

	// guarded by Dialer.mu
	active   int       // open connections through the client
	lastUsed time.Time // when the last connection closed (or the client was dialed)
}

func (g *gwClient) isDead() bool {
	if g.dead == nil {
		return false
	}
	select {
	case <-g.dead:
		return true
	default:
		return false
	}
}

// client returns a ready client to gw: the pooled one (reused=true) or a new
// one. Concurrent callers share one dial.
func (d *Dialer) client(ctx context.Context, gw *store.Gateway) (gc *gwClient, reused bool, err error) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, false, ErrClosed
		}
		e := d.pool[gw.ID]
		if e != nil && isClosed(e.ready) && (e.isDead() || !e.version.Equal(gw.UpdatedAt)) {
			// Dead, or the gateway was edited: replace it. Its open connections
			// keep it until they close (see release).
			delete(d.pool, gw.ID)
			if e.active == 0 || e.isDead() {
				go e.client.Close()
			}
			e = nil
		}
		if e == nil {
			e = &gwClient{id: gw.ID, name: gw.Name, version: gw.UpdatedAt, ready: make(chan struct{})}
			d.pool[gw.ID] = e
			d.mu.Unlock()
			d.dial(ctx, gw, e)
			return e, false, e.err
		}
		d.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if e.err == nil {
			return e, true, nil
		}
		if !errors.Is(e.err, context.Canceled) && !errors.Is(e.err, context.DeadlineExceeded) {
			return nil, false, e.err
		}
		// The dial we waited for was cancelled by its caller's context: try ourselves.
	}
}

// dial fills e by dialing gw, then publishes it.
func (d *Dialer) dial(ctx context.Context, gw *store.Gateway, e *gwClient) {
	client, err := d.dialGateway(ctx, gw)
	d.mu.Lock()
	defer d.mu.Unlock()
	e.client, e.err = client, err
	e.lastUsed = d.clock()
	if err != nil {
		if d.pool[gw.ID] == e {
			delete(d.pool, gw.ID)
		}
		close(e.ready)
		return
	}
	e.dead = make(chan struct{})
	go func() {
		client.Wait()
		close(e.dead)
	}()
	close(e.ready)
	if d.closed || d.pool[gw.ID] != e {
		// Closed (or replaced) while dialing: hand the client out once, closed with its last connection.
		return
	}
	d.log.Info("gateway client connected", "gateway", gw.Name, "gateway_id", gw.ID)
	if !d.janitor {
		d.janitor = true
		d.wg.Add(1)
		go d.runJanitor()
	}
}

func (d *Dialer) acquire(g *gwClient) {
	d.mu.Lock()
	g.active++
	d.mu.Unlock()
}

func (d *Dialer) release(g *gwClient) {
	d.mu.Lock()
	g.active--
	g.lastUsed = d.clock()
	orphan := g.active == 0 && (d.closed || d.pool[g.id] != g)
	d.mu.Unlock()
	if orphan {
		g.client.Close()
	}
}

func (d *Dialer) releaseFunc(g *gwClient) func() { return func() { d.release(g) } }

// drop removes g from the pool and closes it.
func (d *Dialer) drop(g *gwClient) {
	d.mu.Lock()
	if d.pool[g.id] == g {
		delete(d.pool, g.id)
	}
	d.mu.Unlock()
	g.client.Close()
}

func (d *Dialer) runJanitor() {
	defer d.wg.Done()
	t := time.NewTicker(d.keepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		if d.sweep() == 0 {
			d.mu.Lock()
			if len(d.pool) == 0 {
				d.janitor = false
				d.mu.Unlock()
				return
			}
			d.mu.Unlock()
		}
	}
}

// sweep closes idle and dead gateway clients and probes the others with a
// keepalive@openssh.com request; a client that does not answer within the
// keepalive timeout is closed and its gateway marked unhealthy. It returns
// how many clients stay pooled.
func (d *Dialer) sweep() int {
	d.sweepMu.Lock()
	defer d.sweepMu.Unlock()
	now := d.clock()
	var idle, probe []*gwClient
	d.mu.Lock()
	for id, g := range d.pool {
		if !isClosed(g.ready) {
			continue
		}
		switch {
		case g.isDead():
			delete(d.pool, id)
			idle = append(idle, g)
		case g.active == 0 && now.Sub(g.lastUsed) >= d.idleTimeout:
			delete(d.pool, id)
			idle = append(idle, g)
		default:
			probe = append(probe, g)
		}
	}
	for id, until := range d.unhealthy {
		if !now.Before(until) {
			delete(d.unhealthy, id)
		}
	}
	d.mu.Unlock()
	for _, g := range idle {
		d.log.Info("gateway client closed", "gateway", g.name, "reason", "idle or dead")
		g.client.Close()
	}
	var wg sync.WaitGroup
	alive := make([]bool, len(probe))
	for i, g := range probe {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alive[i] = d.keepalive(g)
		}()
	}
	wg.Wait()
	kept := 0
	for i, g := range probe {
		if alive[i] {
			kept++
			continue
		}
		d.log.Warn("gateway client did not answer a keepalive; closed", "gateway", g.name)
		d.drop(g)
		d.markUnhealthy(g.id)
	}
	return kept
}

// keepalive sends keepalive@openssh.com and reports whether any reply came in
// time (OpenSSH answers with a failure, which proves it is alive).
func (d *Dialer) keepalive(g *gwClient) bool {
	done := make(chan error, 1)
	go func() {
		_, _, err := g.client.SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}()
	t := time.NewTimer(d.keepaliveTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err == nil
	case <-g.dead:
		return false
	case <-t.C:
		return false
	}
}

// Close closes every pooled gateway client that has no open connection (the
// others close with their last connection) and stops the janitor. Dial fails
// with ErrClosed afterwards.
func (d *Dialer) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.stop)
	var idle []*gwClient
	for id, g := range d.pool {
		delete(d.pool, id)
		if isClosed(g.ready) && g.client != nil && g.active == 0 {
			idle = append(idle, g)
		}
	}
	d.mu.Unlock()
	for _, g := range idle {
		g.client.Close()
	}
	d.wg.Wait()
	return nil
}

// gatewayAuth returns the auth methods for gw's secret.
func (d *Dialer) gatewayAuth(gw *store.Gateway) ([]ssh.AuthMethod, error) {
	if d.vault == nil {
		return nil, errors.New("no vault to open the gateway's secret")
	}
	secret, err := asset.OpenGatewaySecret(d.vault, gw)
	if err != nil {
		return nil, err
	}
	switch gw.SecretType {
	case store.SecretSSHKey:
		signer, err := ssh.ParsePrivateKey([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("gateway private key: %w", err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, nil
	case store.SecretPassword, "":
		return []ssh.AuthMethod{
			ssh.Password(secret),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					answers[i] = secret
				}
				return answers, nil
			}),
		}, nil
	default:
		return nil, fmt.Errorf("unknown secret type %q", gw.SecretType)
	}
}
