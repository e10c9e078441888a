// Command sshbench measures the Portcullis SSH gateway against direct OpenSSH
// on loopback, side by side in one run, and prints a table of the ratios
// (also written to -out). `make bench` runs it.
//
// What it sets up, all on 127.0.0.1 and removed at the end:
//   - a real OpenSSH sshd target with its own configuration, ephemeral host
//     and user keys, logging in as the current user (root on CI);
//   - a Portcullis bastion in a separate process (this binary re-executed in
//     bastion mode: server.New and ServeListeners, exactly what portcullisd
//     serve runs, plus a loopback-only debug listener for pprof and a forced
//     GC), on a data dir prepared beforehand with user alice (key registered
//     through the auth service), asset web01 on the target, an account with
//     the target key in the vault and a permission; recording is on, as in
//     production.
//
// What it measures:
//   - throughput: 1 GiB down (head -c of /dev/zero, and cat of a prepared
//     base64 text file) and up (cat > /dev/null fed from a file) with the real
//     ssh client, aes128-gcm and chacha20-poly1305 on the client side;
//   - recording size and dropped bytes of those transfers;
//   - keystroke echo latency through an interactive shell (x/crypto client,
//     pty, `stty raw -echo; exec cat` on the target, one byte at a time);
//   - connection time of `ssh ... true` (curve25519-sha256 forced);
//   - memory of idle interactive sessions (RSS and Go heap of the bastion
//     process, before and after opening them), and the same sessions through
//     the minimal relay in its lean mode (2 KiB copy buffers) as the floor.
//
// The minimal x/crypto relay (relay.go) runs beside the bastion as a
// reference: what a Go relay with two crypto hops and nothing else reaches.
// -profile DIR writes CPU profiles of the bastion during extra transfers and
// heap and goroutine profiles with the idle sessions open; -hold keeps the
// set-up running for experiments by hand. SSHBENCH_RELAY_QUICKACK=1,
// SSHBENCH_RELAY_READBUF=N and SSHBENCH_RELAY_CPUPROFILE=FILE try changes on
// the relay before anyone makes them in the gateway.
//
// It never fails `make bench` for a missing sshd or ssh: it says why it
// skipped and exits 0. Every wait is bounded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	out       string
	size      int64
	sessions  int
	samples   int
	connRuns  int
	reps      int
	profile   string
	only      string
	keep      bool
	hold      time.Duration
	budget    time.Duration
	sshPath   string
	sshdPath  string
	childData string // internal: serve the bastion on this data dir
	relayTo   string // internal: serve the minimal relay to this target
	relayUser string
	relayKey  string
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "artifacts/bench-ssh.txt", "also write the table to this file (empty: don't)")
	flag.Int64Var(&o.size, "size", 1<<30, "bytes per throughput transfer")
	flag.IntVar(&o.sessions, "sessions", 1000, "concurrent idle sessions to open through the bastion")
	flag.IntVar(&o.samples, "samples", 2000, "keystroke echo samples per path")
	flag.IntVar(&o.connRuns, "conn-runs", 20, "ssh ... true runs per path")
	flag.IntVar(&o.reps, "reps", 3, "runs of each throughput transfer per path (the best counts)")
	flag.StringVar(&o.profile, "profile", "", "directory: after the timed runs, take CPU profiles of the bastion during extra transfers")
	flag.StringVar(&o.only, "only", "", "comma-separated sections to run: conn, latency, throughput, web, idle (default all)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (data dir, recordings, logs)")
	flag.DurationVar(&o.hold, "hold", 0, "set up, print how to reach the target, bastion and relay, and keep them up this long (no measurement)")
	flag.DurationVar(&o.budget, "budget", 25*time.Minute, "give up on what is left after this long")
	flag.StringVar(&o.sshPath, "ssh", "ssh", "OpenSSH client")
	flag.StringVar(&o.sshdPath, "sshd", "/usr/sbin/sshd", "OpenSSH server (absolute path: sshd re-executes itself)")
	flag.StringVar(&o.childData, "serve-bastion", "", "internal: run the bastion on this data dir")
	flag.StringVar(&o.relayTo, "serve-relay", "", "internal: run the minimal relay to this target address")
	flag.StringVar(&o.relayUser, "relay-user", "", "internal: the relay's login on the target")
	flag.StringVar(&o.relayKey, "relay-key", "", "internal: the relay's key for the target")
	flag.Parse()

	if o.relayTo != "" {
		if err := serveRelay(o.relayTo, o.relayUser, o.relayKey); err != nil {
			fmt.Fprintln(os.Stderr, "sshbench relay:", err)
			os.Exit(1)
		}
		return
	}
	if o.childData != "" {
		if err := serveBastion(o.childData); err != nil {
			fmt.Fprintln(os.Stderr, "sshbench bastion:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.budget)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		var skip *skipError
		if errors.As(err, &skip) {
			fmt.Printf("sshbench: skipped: %v\n", skip.reason)
			return
		}
		fmt.Fprintln(os.Stderr, "sshbench:", err)
		os.Exit(1)
	}
}

// skipError says why the benchmark cannot run on this machine; it is
// reported, not failed.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// sections says whether a section is to run.
func (o options) section(name string) bool {
	if o.only == "" {
		return true
	}
	for _, s := range strings.Split(o.only, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// run sets everything up, measures and prints the table.
func run(ctx context.Context, o options, stdout io.Writer) error {
	if err := checkTools(o); err != nil {
		return err
	}
	raiseFileLimit()
	dir, err := os.MkdirTemp("", "portcullis-sshbench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(stdout, "sshbench: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{opts: o, dir: dir, log: stdout, table: newTable(o.size)}
	defer b.cleanup()

	start := time.Now()
	b.logf("setting up: sshd target, bastion data dir")
	if b.target, err = startTarget(ctx, o.sshdPath, filepath.Join(dir, "target")); err != nil {
		return err
	}
	b.defer_(b.target.stop)
	if err := prepareData(ctx, filepath.Join(dir, "data"), b.target, filepath.Join(dir, "client")); err != nil {
		return err
	}
	if b.alice, err = loadClient(filepath.Join(dir, "client")); err != nil {
		return err
	}
	if b.bastion, err = startBastion(ctx, filepath.Join(dir, "data"), filepath.Join(dir, "bastion.log")); err != nil {
		return err
	}
	if b.relay, err = startRelay(ctx, b.target, filepath.Join(dir, "relay.log")); err != nil {
		return err
	}
	b.defer_(b.relay.stop)

	if o.hold > 0 {
		return b.holdOpen(ctx, o.hold)
	}
	var errs []error
	step := func(name string, f func(context.Context) error) {
		if !o.section(name) {
			return
		}
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%s: not run: %w", name, ctx.Err()))
			return
		}
		syscall.Sync() // the writeback of what the run wrote so far must not weigh on this step
		t0 := time.Now()
		if err := f(ctx); err != nil {
			b.logf("%s: %v", name, err)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		b.logf("%s done in %v", name, time.Since(t0).Round(time.Millisecond))
	}
	step("conn", b.connTime)
	step("latency", b.latency)
	// Throughput last: after each 1 GiB transfer the bastion indexes the
	// recording for up to a minute, and what the budget cuts short is then
	// the tail of the transfers (the chacha20 rows, for information).
	step("web", b.web)
	step("idle", b.idleSessions)
	step("throughput", b.throughput)
	if b.notQuiet > 0 {
		b.table.note("the machine was still busy with other work when %d measurements started (waited %v each)", b.notQuiet, quietWait)
	}
	b.table.note("total run time %v", time.Since(start).Round(time.Second))

	text := b.table.String()
	fmt.Fprint(stdout, "\n"+text)
	if o.out != "" {
		err := os.MkdirAll(filepath.Dir(o.out), 0o755)
		if err == nil {
			err = os.WriteFile(o.out, []byte(text), 0o644)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", o.out, err))
		}
	}
	return errors.Join(errs...)
}

// bench is one run: the target, the bastion, the client key and the table.
type bench struct {
	opts     options
	dir      string
	log      io.Writer
	table    *table
	target   *target
	bastion  *bastion
	relay    *relayProc
	alice    *client
	cleanups []func()

	zeroFile, textFile, logFile string            // throughput inputs, written on first use
	recordings                  []recordingResult // of the downloads through the bastion
	notQuiet                    int               // measurements started while the machine was busy
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "sshbench: "+format+"\n", args...)
}

// defer_ registers a cleanup, run in reverse order by cleanup.
func (b *bench) defer_(f func()) { b.cleanups = append(b.cleanups, f) }

func (b *bench) cleanup() {
	if b.bastion != nil {
		b.bastion.stop()
	}
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

// checkTools skips the benchmark when OpenSSH is missing.
func checkTools(o options) error {
	if _, err := os.Stat(o.sshdPath); err != nil {
		return &skipError{fmt.Sprintf("no OpenSSH server at %s (apt-get install openssh-server): %v", o.sshdPath, err)}
	}
	if !filepath.IsAbs(o.sshdPath) {
		return &skipError{fmt.Sprintf("sshd must be given by its absolute path, not %q", o.sshdPath)}
	}
	if _, err := lookPath(o.sshPath); err != nil {
		return &skipError{fmt.Sprintf("no OpenSSH client %q (apt-get install openssh-client): %v", o.sshPath, err)}
	}
	return nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one: a
// thousand sessions need two descriptors each in the bastion and one in this
// process. Children inherit it.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// quietWait bounds waitQuiet. A session's end sets the bastion to work off
// the data path for a while (the seek index of a 1 GiB recording is about
// half a minute of one core), which the next measurement must not share.
const quietWait = 60 * time.Second

// waitQuiet waits, at most quietWait, until the machine's CPUs have been
// mostly idle (under 20% busy) for 150 ms, so that a measurement does not
// start in the middle of someone else's burst of work (the cores are shared).
// It counts the times it gave up.
func (b *bench) waitQuiet(ctx context.Context) {
	deadline := time.Now().Add(quietWait)
	for {
		busy0, total0 := machineCPU()
		select {
		case <-ctx.Done():
			return
		case <-time.After(150 * time.Millisecond):
		}
		busy1, total1 := machineCPU()
		if total1 > total0 && (busy1-busy0)/(total1-total0) < 0.2 {
			return
		}
		if time.Now().After(deadline) {
			b.notQuiet++
			return
		}
	}
}

// holdOpen keeps the set-up running for manual experiments.
func (b *bench) holdOpen(ctx context.Context, d time.Duration) error {
	common := "ssh -F /dev/null -T -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o KexAlgorithms=" + kexForced
	b.logf("holding for %v (Ctrl-C ends):", d)
	b.logf("  direct:  HOME=%s %s -p %d -i %s %s@127.0.0.1 CMD", b.dir, common, b.target.port, b.target.keyPath, b.target.user)
	b.logf("  bastion: HOME=%s %s -p %s -i %s %s@%s@127.0.0.1 CMD", b.dir, common, b.bastion.sshPort(), b.alice.keyPath, benchUser, benchAsset)
	if b.relay != nil {
		b.logf("  relay:   HOME=%s %s -p %s -i %s relay@%s", b.dir, common, b.relay.addr[strings.LastIndexByte(b.relay.addr, ':')+1:], b.alice.keyPath, "127.0.0.1")
	}
	b.logf("  bastion pid %d, debug http://%s/debug/pprof/, metrics http://%s/metrics", b.bastion.pid(), b.bastion.addrs.Debug, b.bastion.addrs.HTTP)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	return nil
}
