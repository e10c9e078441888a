package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
)

// connTime measures `ssh ... true` (real client, key authentication,
// curve25519-sha256 forced) direct, through the bastion and through the
// minimal relay, in rotating order, and compares the medians.
func (b *bench) connTime(ctx context.Context) error {
	const warmup = 2
	vias := []string{viaDirect, viaBastion}
	if b.relay != nil {
		vias = append(vias, viaRelay)
	}
	times := map[string][]time.Duration{}
	for i := 0; i < warmup+b.opts.connRuns; i++ {
		b.waitQuiet(ctx)
		for j := range vias {
			via := vias[(i+j)%len(vias)]
			u, err := b.runSSH(ctx, via, cipherAES, "true", "", 30*time.Second)
			if err != nil {
				return err
			}
			if i >= warmup {
				times[via] = append(times[via], u.wall)
			}
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1e3) }
	for _, via := range vias {
		slices.Sort(times[via])
	}
	dm := percentile(times[viaDirect], 50)
	add := func(metric, via, target string, limit float64) {
		m := percentile(times[via], 50)
		ratio := m.Seconds() / dm.Seconds()
		r := row{metric: metric, direct: ms(dm), bastion: ms(m), ratio: fmt.Sprintf("%.2fx", ratio), target: target}
		if limit > 0 {
			r.status = verdict(ratio < limit)
		}
		b.table.add(r)
		t := times[via]
		b.table.note("connect %s: min %s, median %s, max %s", via, ms(t[0]), ms(m), ms(t[len(t)-1]))
	}
	add(fmt.Sprintf("connect: ssh ... true (median of %d)", b.opts.connRuns), viaBastion, "< 1.3x", 1.3)
	if b.relay != nil {
		add("  same, minimal x/crypto relay", viaRelay, "(reference)", 0)
	}
	b.table.note("connect direct: min %s, max %s", ms(times[viaDirect][0]), ms(times[viaDirect][len(times[viaDirect])-1]))
	// Where the time goes, seen from an x/crypto client.
	phases := []struct{ via, addr, user string }{
		{viaDirect, b.target.addr(), b.target.user},
		{viaBastion, b.bastion.addrs.SSH, benchUser + "@" + benchAsset},
	}
	if b.relay != nil {
		phases = append(phases, struct{ via, addr, user string }{viaRelay, b.relay.addr, "relay"})
	}
	for _, p := range phases {
		b.waitQuiet(ctx)
		hs, ss, err := connPhases(ctx, p.addr, p.user, b, 10)
		if err != nil {
			return fmt.Errorf("connect phases %s: %w", p.via, err)
		}
		b.table.note("connect %s, x/crypto client, medians of 10: handshake+auth %s, exec true to close %s", p.via, ms(hs), ms(ss))
	}
	return nil
}

// connPhases times, with an x/crypto client, the two halves of a connection
// to addr: key exchange and authentication, then `exec true` up to its exit
// status and the close (for the bastion, that is where it dials the target,
// checks the command and opens and closes the recording). It returns the
// medians of n runs.
func connPhases(ctx context.Context, addr, user string, b *bench, n int) (handshake, session time.Duration, err error) {
	var hs, ss []time.Duration
	signer := b.alice.signer
	if user == b.target.user {
		signer = b.target.signer
	}
	for range n {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		t0 := time.Now()
		c, err := ssh.Dial("tcp", addr, clientConfig(user, signer))
		if err != nil {
			return 0, 0, err
		}
		t1 := time.Now()
		s, err := c.NewSession()
		if err == nil {
			err = s.Run("true")
		}
		c.Close()
		if err != nil {
			return 0, 0, err
		}
		hs, ss = append(hs, t1.Sub(t0)), append(ss, time.Since(t1))
	}
	slices.Sort(hs)
	slices.Sort(ss)
	return percentile(hs, 50), percentile(ss, 50), nil
}
