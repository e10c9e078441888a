package sshgw

import (
	"context"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// serve runs an authenticated connection until the client goes away or the
// server closes: global requests, then channels. When it returns, every
// channel has ended, the target connection is closed and the login's session
// token is revoked.
func (c *conn) serve(ctx context.Context, sconn *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	ctx, cancel := context.WithCancel(ctx)
	c.sconn, c.ctx = sconn, ctx
	defer c.disconnected(ctx, cancel)
	c.connected(ctx)
	// One goroutine takes both the global requests and the new channels: an idle
	// connection costs one goroutine here, not two.
	for chans != nil || reqs != nil {
		var nc ssh.NewChannel
		select {
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
			} else {
				c.globalRequest(r)
			}
			continue
		case n, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			nc = n
		}
		if !c.acquireChannel() {
			c.rejectChannel(nc, false)
			continue
		}
		var run func(ssh.NewChannel)
		switch nc.ChannelType() {
		case "session":
			run = c.handleSession
		case "direct-tcpip":
			run = c.handleDirectTCPIP
		default:
			c.releaseChannel()
			c.rejectChannel(nc, true)
			continue
		}
		c.wg.Add(1)
		c.srv.goSafe(c, func() {
			defer c.wg.Done()
			defer c.releaseChannel()
			run(nc)
		})
	}
}

// connected and disconnected are the start and the end of serve, out of its
// frame (see rejectChannel).
func (c *conn) connected(ctx context.Context) {
	c.srv.log.InfoContext(ctx, "user connected", "user", c.user.Username, "remote", c.remote, "target", c.target.String())
}

func (c *conn) disconnected(ctx context.Context, cancel context.CancelFunc) {
	cancel()
	c.sconn.Close()
	c.wg.Wait()
	c.closeUpstream()
	if c.token != "" {
		if err := c.srv.deps.Auth.Logout(context.WithoutCancel(ctx), c.token); err != nil {
			c.srv.log.WarnContext(ctx, "revoke SSH login token", "err", err)
		}
	}
}

// rejectChannel refuses a new channel, over the channel limit or (unknown)
// of a type the gateway does not serve, and audits it. Out of serve's loop:
// the goroutine waiting there for a whole idle connection keeps a stack small
// enough for the garbage collector to halve it.
func (c *conn) rejectChannel(nc ssh.NewChannel, unknown bool) {
	if unknown {
		nc.Reject(ssh.UnknownChannelType, "unsupported channel type")
		c.srv.refuse(c.ctx, c.user, c.remote, "ssh.channel_refused", "unsupported channel type "+cut(cleanText(nc.ChannelType()), 64))
		return
	}
	nc.Reject(ssh.ResourceShortage, fmt.Sprintf("too many channels (at most %d)", c.srv.cfg.MaxChannels))
	c.srv.refuse(c.ctx, c.user, c.remote, "ssh.channel_refused", "channel limit reached: "+nc.ChannelType())
}

func (c *conn) acquireChannel() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels >= c.srv.cfg.MaxChannels {
		return false
	}
	c.channels++
	return true
}

func (c *conn) releaseChannel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels--
}

// globalRequest answers a global request of the connection. Remote port
// forwarding (tcpip-forward) is refused and audited; keepalives are answered.
func (c *conn) globalRequest(r *ssh.Request) {
	switch r.Type {
	case "tcpip-forward", "streamlocal-forward@openssh.com":
		c.srv.refuse(c.ctx, c.user, c.remote, "ssh.forward_denied", "remote forwarding ("+r.Type+") is not supported by the gateway; target "+c.target.String())
		r.Reply(false, nil)
	default: // keepalive@openssh.com, no-more-sessions@openssh.com, ...
		if r.WantReply {
			r.Reply(false, nil)
		}
	}
}

// deny audits a refusal by an authenticated user.
func (c *conn) deny(ctx context.Context, action, resName, detail string) {
	c.srv.oplog(ctx, c.user, c.remote, action, "asset", resName, false, detail)
}
