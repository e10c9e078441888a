package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// idleSessions opens -sessions interactive shells through a freshly started
// bastion, all at once, and reports the bastion's memory per session. The
// clients are x/crypto clients in this process; the bastion runs in its own
// process, so its RSS and heap are its alone. Every session is a real shell
// on the real sshd target (one SSH connection from the bastion each, as in
// production): the target runs an sshd monitor, an sshd session process and
// a bash per session.
func (b *bench) idleSessions(ctx context.Context) error {
	// A fresh bastion: the baseline must not hold what the transfers left.
	b.bastion.stop()
	var env []string
	if b.opts.profile != "" {
		// Exact heap profiles; the allocation sampling costs some memory of its own.
		env = append(env, memProfileRateEnv+"=1")
		b.table.note("idle sessions: measured with -profile (MemProfileRate=1 in the bastion): the figures include the profiler's own buckets")
	}
	var err error
	if b.bastion, err = startBastion(ctx, filepath.Join(b.dir, "data"), filepath.Join(b.dir, "bastion.log"), env...); err != nil {
		return err
	}
	user := benchUser + "@" + benchAsset
	addr := b.bastion.addrs.SSH
	if err := b.warmUp(ctx, addr, user); err != nil {
		return err
	}
	rawBefore := rss(b.bastion.pid())
	if err := b.bastion.gc(ctx); err != nil {
		return err
	}
	before, err := b.bastion.memory(ctx)
	if err != nil {
		return err
	}

	n := b.opts.sessions
	shells, rampTime, firstErr := b.openIdleMany(ctx, addr, user, n)
	closed := false
	closeShells := func() {
		if !closed {
			closeAll(shells)
			closed = true
		}
	}
	defer closeShells()
	k := len(shells)
	if k == 0 {
		return fmt.Errorf("no session opened: %v", firstErr)
	}
	time.Sleep(3 * time.Second) // settle: prompts drawn, read buffers shrunk
	rawAfter := rss(b.bastion.pid())
	if err := b.bastion.gc(ctx); err != nil {
		return err
	}
	after, err := b.bastion.memory(ctx)
	if err != nil {
		return err
	}
	procs, pss := treePSS(b.target.cmd.Process.Pid)
	if b.opts.profile != "" && os.MkdirAll(b.opts.profile, 0o755) == nil {
		for name, q := range map[string]string{"heap": "heap", "goroutines": "goroutine?debug=1"} {
			path := filepath.Join(b.opts.profile, fmt.Sprintf("bastion-idle-%d-%s.pprof", k, name))
			if err := b.bastion.fetch(ctx, "/debug/pprof/"+q, path); err != nil {
				b.logf("idle sessions: %s profile: %v", name, err)
			}
		}
	}

	kib := func(v int64) string { return fmt.Sprintf("%.1f KiB", float64(v)/float64(k)/1024) }
	label := fmt.Sprintf("%d idle sessions", k)
	if k < n {
		label = fmt.Sprintf("%d idle sessions (of %d asked)", k, n)
	}
	perRSS := (rawAfter - rawBefore) / int64(k)
	b.table.add(row{metric: label + ": bastion RSS/session", bastion: kib(rawAfter - rawBefore),
		target: "< 100 KiB", status: verdict(perRSS < 100<<10)})
	b.table.add(row{metric: label + ": RSS/session after GC", bastion: kib(after.RSS - before.RSS), target: "(info)"})
	b.table.add(row{metric: label + ": Go heap+stack/session", bastion: kib(after.HeapInuse + after.StackInuse - before.HeapInuse - before.StackInuse),
		target: "(info)"})
	b.table.note("idle sessions: opened %d in %v (8 at a time); bastion RSS %s -> %s (%s -> %s after a forced GC), heap in use %s -> %s, stacks %s -> %s, goroutines %d -> %d (%.1f per session)",
		k, rampTime.Round(time.Millisecond), humanSize(rawBefore), humanSize(rawAfter), humanSize(before.RSS), humanSize(after.RSS),
		humanSize(before.HeapInuse), humanSize(after.HeapInuse), humanSize(before.StackInuse), humanSize(after.StackInuse),
		before.Goroutines, after.Goroutines, float64(after.Goroutines-before.Goroutines)/float64(k))
	b.table.note("idle sessions: target side %d processes (sshd and bash per session), %s PSS in all", procs, humanSize(pss))
	if firstErr != nil {
		b.table.note("idle sessions: stopped at %d: %v", k, firstErr)
		if k < n {
			b.table.note("idle sessions: per-session figures measured at N=%d; %d sessions extrapolate linearly to %s of bastion RSS", k, n, humanSize(perRSS*int64(n)))
		}
	}
	closeShells()
	return b.idleFloor(ctx, n)
}

// idleFloor measures the same idle sessions through the minimal relay in its
// lean mode (two x/crypto connections per session, ssh.Client and Session on
// the target side, 2 KiB copy buffers; no authentication service, recording,
// command parsing or live registry): the memory that x/crypto/ssh alone takes
// per session, under which no Go bastion built on it can go.
func (b *bench) idleFloor(ctx context.Context, n int) error {
	b.waitQuiet(ctx)
	relay, err := startRelay(ctx, b.target, filepath.Join(b.dir, "relay-lean.log"), relayLeanEnv+"=1")
	if err != nil {
		return err
	}
	defer relay.stop()
	if err := b.warmUp(ctx, relay.addr, benchUser); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	before := rss(relay.pid())
	shells, rampTime, firstErr := b.openIdleMany(ctx, relay.addr, benchUser, n)
	defer closeAll(shells)
	k := len(shells)
	if k == 0 {
		return fmt.Errorf("floor: no session opened: %v", firstErr)
	}
	time.Sleep(3 * time.Second)
	after := rss(relay.pid())
	per := (after - before) / int64(k)
	b.table.add(row{metric: fmt.Sprintf("%d idle sessions: floor, minimal x/crypto relay RSS/session", k),
		bastion: fmt.Sprintf("%.1f KiB", float64(per)/1024), target: "(floor)"})
	b.table.note("idle sessions, floor: the minimal relay (lean copies) opened %d in %v; RSS %s -> %s",
		k, rampTime.Round(time.Millisecond), humanSize(before), humanSize(after))
	if firstErr != nil {
		b.table.note("idle sessions, floor: stopped at %d: %v", k, firstErr)
	}
	return nil
}

// warmUp opens and closes two sessions to addr (pools, prepared statements,
// caches), then waits for the machine to be quiet: what is measured next
// starts from a warm process.
func (b *bench) warmUp(ctx context.Context, addr, user string) error {
	for range 2 {
		s, err := openShell(ctx, addr, user, b.alice.signer)
		if err != nil {
			return fmt.Errorf("warm-up session: %w", err)
		}
		s.quiet(200*time.Millisecond, 5*time.Second)
		s.close()
	}
	time.Sleep(time.Second)
	b.waitQuiet(ctx)
	return nil
}

// openIdleMany opens n idle interactive sessions to addr, 8 at a time, within
// 240 s; it answers those it opened and the first error.
func (b *bench) openIdleMany(ctx context.Context, addr, user string, n int) ([]*shell, time.Duration, error) {
	openCtx, cancel := context.WithTimeout(ctx, 240*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex // guards shells, firstErr
		shells   []*shell
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan int)
	t0 := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				s, err := openIdle(openCtx, addr, user, b)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
				} else {
					shells = append(shells, s)
					if len(shells)%100 == 0 {
						b.logf("idle sessions: %d open after %v", len(shells), time.Since(t0).Round(time.Second))
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case <-openCtx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return shells, time.Since(t0), firstErr
}

// closeAll closes shells, all at once.
func closeAll(shells []*shell) {
	var wg sync.WaitGroup
	for _, s := range shells {
		wg.Add(1)
		go func() { defer wg.Done(); s.close() }()
	}
	wg.Wait()
}

// openIdle opens one interactive session through the bastion and waits for
// the target shell's prompt ("$ "); its output is then drained until it
// closes.
func openIdle(ctx context.Context, addr, user string, b *bench) (*shell, error) {
	s, err := openShell(ctx, addr, user, b.alice.signer)
	if err != nil {
		return nil, err
	}
	var got []byte
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	for !bytes.Contains(got, []byte("$ ")) {
		select {
		case p, ok := <-s.out:
			if !ok {
				s.close()
				return nil, fmt.Errorf("session closed before the prompt: %q", cutText(got, 300))
			}
			got = append(got, p...)
		case <-timer.C:
			s.close()
			return nil, fmt.Errorf("no prompt within 30s: %q", cutText(got, 300))
		case <-ctx.Done():
			s.close()
			return nil, ctx.Err()
		}
	}
	go func() {
		for range s.out {
		}
	}()
	return s, nil
}

func cutText(p []byte, n int) string {
	if len(p) > n {
		p = p[:n]
	}
	return string(p)
}

// treePSS counts pid and its descendants and sums their proportional set
// size (shared pages divided among the processes sharing them).
func treePSS(pid int) (int, int64) {
	pids := append(descendants(pid), pid)
	var total int64
	for _, p := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/smaps_rollup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Pss:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					total += kb << 10
				}
				break
			}
		}
	}
	return len(pids), total
}
