package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
)

// clientConfig is the x/crypto client configuration of the benchmark:
// the same key exchange and cipher on both paths.
func clientConfig(user string, signer ssh.Signer) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // loopback servers the bench started itself
		Timeout:         15 * time.Second,
		Config:          ssh.Config{KeyExchanges: []string{kexForced}, Ciphers: []string{ssh.CipherAES128GCM}},
	}
}

// shell is an interactive shell session with a pty, its output read on one
// goroutine and handed over in chunks.
type shell struct {
	stdin   io.Writer
	out     chan []byte // closed at EOF
	closeFn func()
}

// openShell dials addr as user, asks for an 80x24 pty and starts the shell.
func openShell(ctx context.Context, addr, user string, signer ssh.Signer) (*shell, error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, clientConfig(user, signer))
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	s, err := startShell(client)
	if err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

func startShell(client *ssh.Client) (*shell, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		return nil, err
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := sess.Shell(); err != nil {
		return nil, err
	}
	s := &shell{stdin: stdin, out: make(chan []byte, 64), closeFn: func() { client.Close() }}
	go func() {
		defer close(s.out)
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				s.out <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	return s, nil
}

func (s *shell) close() { s.closeFn() }

// quiet reads output until none came for quiet, or max passed.
func (s *shell) quiet(quiet, maxWait time.Duration) []byte {
	var got []byte
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		select {
		case p, ok := <-s.out:
			if !ok {
				return got
			}
			got = append(got, p...)
		case <-time.After(quiet):
			return got
		case <-deadline.C:
			return got
		}
	}
}

// await reads output until it holds c, for at most wait.
func (s *shell) await(c byte, wait time.Duration) error {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case p, ok := <-s.out:
			if !ok {
				return io.EOF
			}
			if bytes.IndexByte(p, c) >= 0 {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("no echo of %q within %v", c, wait)
		}
	}
}

// echoSamples opens a shell, turns it into a raw echo (`stty raw -echo;
// exec cat`: each byte comes back as soon as cat reads it) and times n
// round trips of one byte each, after a warm-up.
func echoSamples(ctx context.Context, addr, user string, signer ssh.Signer, n int) ([]time.Duration, error) {
	s, err := openShell(ctx, addr, user, signer)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return echoOn(ctx, s, n)
}

// echoOn times n one-byte round trips on an open shell (see echoSamples).
func echoOn(ctx context.Context, s *shell, n int) ([]time.Duration, error) {
	s.quiet(300*time.Millisecond, 10*time.Second) // the prompt
	if _, err := io.WriteString(s.stdin, "stty raw -echo; exec cat\r"); err != nil {
		return nil, err
	}
	s.quiet(500*time.Millisecond, 10*time.Second)
	if _, err := s.stdin.Write([]byte{'Z'}); err != nil {
		return nil, err
	}
	if err := s.await('Z', 10*time.Second); err != nil {
		return nil, fmt.Errorf("raw echo did not start: %w", err)
	}
	const warmup = 100
	samples := make([]time.Duration, 0, n)
	deadline := time.Now().Add(60 * time.Second)
	one := []byte{0}
	for i := 0; i < warmup+n; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, errors.New("echo samples took longer than 60s")
		}
		one[0] = 'a' + byte(i%26)
		t0 := time.Now()
		if _, err := s.stdin.Write(one); err != nil {
			return nil, err
		}
		if err := s.await(one[0], 5*time.Second); err != nil {
			return nil, err
		}
		if i >= warmup {
			samples = append(samples, time.Since(t0))
		}
	}
	return samples, nil
}

// percentile returns the p-th percentile (0..100) of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// latency measures keystroke echo direct, through the bastion and through
// the minimal relay.
func (b *bench) latency(ctx context.Context) error {
	n := b.opts.samples
	b.waitQuiet(ctx)
	direct, err := echoSamples(ctx, b.target.addr(), b.target.user, b.target.signer, n)
	if err != nil {
		return fmt.Errorf("direct: %w", err)
	}
	b.waitQuiet(ctx)
	gw, err := echoSamples(ctx, b.bastion.addrs.SSH, benchUser+"@"+benchAsset, b.alice.signer, n)
	if err != nil {
		return fmt.Errorf("bastion: %w", err)
	}
	var rel []time.Duration
	if b.relay != nil {
		b.waitQuiet(ctx)
		if rel, err = echoSamples(ctx, b.relay.addr, "relay", b.alice.signer, n); err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		slices.Sort(rel)
	}
	slices.Sort(direct)
	slices.Sort(gw)
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f us", float64(d.Nanoseconds())/1e3) }
	added := func(a, b time.Duration) string { return fmt.Sprintf("%+.0f us", float64((a-b).Nanoseconds())/1e3) }
	for _, p := range []float64{50, 99} {
		dp, bp := percentile(direct, p), percentile(gw, p)
		r := row{metric: fmt.Sprintf("keystroke echo p%.0f (n=%d)", p, n), direct: us(dp), bastion: us(bp), ratio: added(bp, dp)}
		if p == 99 {
			r.target, r.status = "added < 300 us", verdict(bp-dp < 300*time.Microsecond)
		}
		b.table.add(r)
		if rel != nil {
			rp := percentile(rel, p)
			b.table.add(row{metric: "  same, minimal x/crypto relay", direct: us(dp), bastion: us(rp), ratio: added(rp, dp), target: "(reference)"})
		}
	}
	b.table.note("keystroke echo: x/crypto client, pty, `stty raw -echo; exec cat` on the target, one byte per round trip; max %s direct, %s bastion",
		us(direct[len(direct)-1]), us(gw[len(gw)-1]))
	return nil
}
