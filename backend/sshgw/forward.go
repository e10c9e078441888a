package sshgw

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// directTCPIP is the payload of a "direct-tcpip" channel (RFC 4254 7.2).
type directTCPIP struct {
	DestAddr string
	DestPort uint32
	OrigAddr string
	OrigPort uint32
}

// handleDirectTCPIP serves local port forwarding (ssh -L, ssh -W, ssh -J):
// the connection is opened by the target named in the user name (a
// direct-tcpip channel of the gateway's connection to it), if a permission
// grants the "forward" action there. The forward is audited with its
// destination and byte counts when it ends; a refusal is audited too.
func (c *conn) handleDirectTCPIP(nc ssh.NewChannel) {
	var d directTCPIP
	if err := ssh.Unmarshal(nc.ExtraData(), &d); err != nil || d.DestPort == 0 || d.DestPort > 65535 {
		nc.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		c.srv.refuse(c.ctx, c.user, c.remote, "ssh.forward_denied", "malformed direct-tcpip request")
		return
	}
	dest := net.JoinHostPort(cut(cleanText(d.DestAddr), 255), strconv.Itoa(int(d.DestPort)))
	if !c.target.Direct() {
		nc.Reject(ssh.Prohibited, "port forwarding needs a target: ssh -L ... user@asset@bastion")
		c.deny(c.ctx, "ssh.forward_denied", "", "forward to "+dest+" without a target asset")
		return
	}
	up, err := c.direct(c.ctx, nil, "en", nil, nil)
	if err != nil {
		nc.Reject(ssh.Prohibited, message("en", err))
		return
	}
	if !c.allowed(c.ctx, &up.pick, store.ActionForward) {
		nc.Reject(ssh.Prohibited, "port forwarding is not permitted on "+up.pick.asset.Name)
		return
	}
	tconn, err := up.client.Dial("tcp", dest)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, "the target cannot connect to "+dest)
		c.deny(c.ctx, "ssh.forward_failed", up.pick.asset.Name, "forward to "+dest+": "+err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		tconn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	var in, out atomic.Int64
	pipe(ch, tconn, &in, &out)
	c.srv.oplog(c.ctx, c.user, c.remote, "ssh.forward", "asset", up.pick.asset.Name, true,
		fmt.Sprintf("local forward via %s (account %s) to %s: %d bytes sent, %d bytes received", up.pick.asset.Name, up.account, dest, in.Load(), out.Load()))
}

// pipe copies both ways between a and b until both directions end, counting
// the bytes from a to b in aToB and back in bToA (either may be nil).
func pipe(a, b io.ReadWriteCloser, aToB, bToA *atomic.Int64) {
	var wg sync.WaitGroup
	cp := func(dst, src io.ReadWriteCloser, n *atomic.Int64) {
		defer wg.Done()
		w := io.Writer(dst)
		if n != nil {
			w = countWriter{dst, n}
		}
		io.Copy(w, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go cp(b, a, aToB)
	go cp(a, b, bToA)
	wg.Wait()
	a.Close()
	b.Close()
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
