package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Client-side ciphers measured, and the key exchange forced on both paths.
const (
	cipherAES    = "aes128-gcm@openssh.com"
	cipherChaCha = "chacha20-poly1305@openssh.com"
	kexForced    = "curve25519-sha256"
)

// The two ways to the target.
const (
	viaDirect  = "direct"
	viaBastion = "bastion"
	viaRelay   = "relay" // the minimal x/crypto relay, a reference
)

// sshCommand returns the real OpenSSH client running remote on the target,
// directly or through the bastion (alice@web01@127.0.0.1), without a pty.
func (b *bench) sshCommand(ctx context.Context, via, cipher, remote string) *exec.Cmd {
	args := []string{"-F", "/dev/null", "-T",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentityAgent=none", "-o", "IdentitiesOnly=yes",
		"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "Compression=no", "-o", "UpdateHostKeys=no",
		"-o", "KexAlgorithms=" + kexForced, "-c", cipher}
	switch via {
	case viaDirect:
		args = append(args, "-p", strconv.Itoa(b.target.port), "-i", b.target.keyPath, b.target.user+"@127.0.0.1")
	case viaBastion:
		args = append(args, "-p", b.bastion.sshPort(), "-i", b.alice.keyPath, benchUser+"@"+benchAsset+"@127.0.0.1")
	case viaRelay:
		_, port, _ := net.SplitHostPort(b.relay.addr)
		args = append(args, "-p", port, "-i", b.alice.keyPath, "relay@127.0.0.1")
	}
	cmd := exec.CommandContext(ctx, b.opts.sshPath, append(args, remote)...)
	cmd.Env = append(os.Environ(), "HOME="+b.dir)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// usage is the wall time and CPU time of one ssh run: of the whole machine,
// of the client, of the process in the middle (bastion or relay; none
// direct), and the rest (the target's sshd and command, and whatever else ran:
// sshd does not always account its session processes to its listener), and
// the share of the machine's CPU that was busy.
type usage struct {
	wall, machine, client, middle, rest time.Duration
	busy                                float64
}

// runSSH runs remote with stdin from inPath (or /dev/null) and stdout to
// /dev/null, and returns the wall time and CPU use.
func (b *bench) runSSH(ctx context.Context, via, cipher, remote, inPath string, timeout time.Duration) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := b.sshCommand(ctx, via, cipher, remote)
	if inPath == "" {
		inPath = os.DevNull
	}
	in, err := os.Open(inPath)
	if err != nil {
		return usage{}, err
	}
	defer in.Close()
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return usage{}, err
	}
	defer out.Close()
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &stderr
	mid0 := b.middleCPU(via)
	busy0, total0 := machineCPU()
	t0 := time.Now()
	err = cmd.Run()
	u := usage{wall: time.Since(t0)}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500]
		}
		if ctx.Err() != nil {
			return u, fmt.Errorf("ssh %s %q: timed out after %v: %s", via, remote, timeout, msg)
		}
		return u, fmt.Errorf("ssh %s %q: %v: %s", via, remote, err, msg)
	}
	busy1, total1 := machineCPU()
	if total1 > total0 {
		u.busy = (busy1 - busy0) / (total1 - total0)
	}
	u.machine = time.Duration(busy1-busy0) * 10 * time.Millisecond
	u.client = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	u.middle = b.middleCPU(via) - mid0
	u.rest = u.machine - u.client - u.middle
	return u, nil
}

// machineCPU returns the busy and total jiffies of all CPUs (/proc/stat).
func machineCPU() (busy, total float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i >= 7 { // guest times are counted in user already
			break
		}
		total += x
		if i != 3 && i != 4 { // idle, iowait
			busy += x
		}
	}
	return busy, total
}

// middleCPU is the CPU time used so far by the process between client and
// target.
func (b *bench) middleCPU(via string) time.Duration {
	switch via {
	case viaBastion:
		return b.bastion.cpu()
	case viaRelay:
		return processCPU(b.relay.pid())
	}
	return 0
}

func (u usage) String() string {
	return fmt.Sprintf("%.2f s; CPU s: %.2f in all (%.0f%% of the machine): client %.2f, middle %.2f, target and rest %.2f",
		u.wall.Seconds(), u.machine.Seconds(), 100*u.busy, u.client.Seconds(), u.middle.Seconds(), u.rest.Seconds())
}

// transfer is one throughput measurement.
type transfer struct {
	name   string
	up     bool   // client to target
	data   string // "zero" or "text"
	cipher string
	target bool // the 0.65x target applies
	relay  bool // also measure the minimal relay
}

// remote returns the command run on the target and the client's input file.
func (b *bench) remote(x transfer) (cmd, in string) {
	switch {
	case x.up:
		return "cat > /dev/null", b.zeroFile
	case x.data == "text":
		return "cat " + b.textFile, ""
	case x.data == "log":
		return "cat " + b.logFile, ""
	}
	return "head -c " + strconv.FormatInt(b.opts.size, 10) + " /dev/zero", ""
}

// bastionRun is what a transfer through the bastion left behind.
type bastionRun struct {
	wall      time.Duration
	cpu       time.Duration // CPU time of the bastion process
	bytes     int64         // the session's bytes (out for down, in for up)
	recording string
	recSize   int64
	dropLog   int64 // bytes the recorder said it dropped (its log)
}

// throughput measures every transfer direct and through the bastion,
// interleaved, reps times each (the fastest counts), then the recordings.
func (b *bench) throughput(ctx context.Context) error {
	if err := b.prepareFiles(); err != nil {
		return err
	}
	gib := float64(b.opts.size) / (1 << 30)
	label := humanSize(b.opts.size)
	xs := []transfer{
		{name: "down " + label + " aes128-gcm (zero)", data: "zero", cipher: cipherAES, target: true, relay: true},
		{name: "up " + label + " aes128-gcm (zero)", up: true, data: "zero", cipher: cipherAES, target: true, relay: true},
		{name: "down " + label + " aes128-gcm (text)", data: "text", cipher: cipherAES, target: true},
		{name: "down " + label + " aes128-gcm (log)", data: "log", cipher: cipherAES, target: true},
		{name: "down " + label + " chacha20 (zero)", data: "zero", cipher: cipherChaCha},
		{name: "up " + label + " chacha20 (zero)", up: true, data: "zero", cipher: cipherChaCha},
	}
	timeout := time.Duration(gib*90)*time.Second + 30*time.Second
	var errs []error
	for _, x := range xs {
		vias := []string{viaDirect, viaBastion}
		if x.relay && b.relay != nil {
			vias = append(vias, viaRelay)
		}
		remote, in := b.remote(x)
		best := map[string]usage{}
		var run bastionRun
		var failed bool
		for rep := 0; rep < max(1, b.opts.reps) && !failed; rep++ {
			order := slices.Clone(vias)
			if rep%2 == 1 { // alternate which goes first
				slices.Reverse(order)
			}
			for _, via := range order {
				syscall.Sync() // each transfer starts with no writeback pending (the recordings are large)
				b.waitQuiet(ctx)
				u, err := b.runSSH(ctx, via, x.cipher, remote, in, timeout)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", x.name, err))
					failed = true
					break
				}
				b.logf("%-32s %-7s %v", x.name, via, u)
				if via == viaBastion {
					r, err := b.bastionRun(ctx, x, u.wall, u.middle)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", x.name, err))
						failed = true
						break
					}
					if best[via].wall == 0 || u.wall < best[via].wall {
						run = r
					}
				}
				if best[via].wall == 0 || u.wall < best[via].wall {
					best[via] = u
				}
			}
		}
		if failed {
			b.table.add(row{metric: x.name, status: "ERROR"})
			continue
		}
		direct, gw := best[viaDirect].wall, best[viaBastion].wall
		ratio := direct.Seconds() / gw.Seconds()
		r := row{metric: x.name, direct: fmt.Sprintf("%.2f s", direct.Seconds()), bastion: fmt.Sprintf("%.2f s", gw.Seconds()),
			ratio: fmt.Sprintf("%.2fx", ratio)}
		if x.target {
			r.target, r.status = ">= 0.65x", verdict(ratio >= 0.65)
		} else {
			r.target = "(info)"
		}
		b.table.add(r)
		mbs := func(d time.Duration) float64 { return float64(b.opts.size) / d.Seconds() / 1e6 }
		b.table.note("%s, best of %d: direct %.0f MB/s, bastion %.0f MB/s", x.name, max(1, b.opts.reps), mbs(direct), mbs(gw))
		b.table.note("    direct  %v", best[viaDirect])
		b.table.note("    bastion %v", best[viaBastion])
		if rel, ok := best[viaRelay]; ok {
			b.table.add(row{metric: "  same, minimal x/crypto relay", direct: fmt.Sprintf("%.2f s", direct.Seconds()),
				bastion: fmt.Sprintf("%.2f s", rel.wall.Seconds()), ratio: fmt.Sprintf("%.2fx", direct.Seconds()/rel.wall.Seconds()), target: "(reference)"})
			b.table.note("    relay   %v", rel)
		}
		if !x.up {
			b.recordings = append(b.recordings, recordingResult{name: x.name, data: x.data, path: run.recording,
				size: run.recSize, output: run.bytes, dropLog: run.dropLog})
		}
	}
	b.recordingRows(ctx)
	if b.opts.profile != "" {
		if err := b.profiles(ctx, xs[:4], timeout); err != nil {
			errs = append(errs, fmt.Errorf("profiles: %w", err))
		}
	}
	return errors.Join(errs...)
}

// bastionRun collects the session row, the recording and its drops after a
// transfer through the bastion, and checks that every byte went through.
func (b *bench) bastionRun(ctx context.Context, x transfer, wall, cpu time.Duration) (bastionRun, error) {
	s, err := b.bastion.lastSession(ctx)
	if err != nil {
		return bastionRun{}, err
	}
	r := bastionRun{wall: wall, cpu: cpu, bytes: s.BytesOut, recording: s.Recording}
	if x.up {
		r.bytes = s.BytesIn
	}
	if r.bytes != b.opts.size {
		return r, fmt.Errorf("the bastion's session %s moved %d bytes, want %d (end: %s)", s.ID, r.bytes, b.opts.size, s.EndReason)
	}
	if fi, err := os.Stat(s.Recording); err == nil {
		r.recSize = fi.Size()
	} else {
		return r, fmt.Errorf("recording: %w", err)
	}
	r.dropLog, err = droppedFromLog(b.bastion.logPath, s.Recording)
	return r, err
}

// droppedFromLog sums what the recorder of path logged as dropped
// ("recording: output dropped", bytes).
func droppedFromLog(logPath, recording string) (int64, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"recording: output dropped"`)) {
			continue
		}
		var ev struct {
			Recording string `json:"recording"`
			Bytes     int64  `json:"bytes"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Recording == recording {
			total += ev.Bytes
		}
	}
	return total, sc.Err()
}

// recordingResult is the recording of one download through the bastion.
type recordingResult struct {
	name, data string
	path       string
	size       int64 // bytes on disk
	output     int64 // output bytes of the session
	dropLog    int64 // dropped, per the recorder's log
	dropped    int64 // dropped, per the log or the markers
	scan       string
}

// recordingRows adds the recording size and drop rows; the drops are also
// counted from the recording's own "m" markers.
func (b *bench) recordingRows(ctx context.Context) {
	// The drops first: the size is compared with the output that was
	// recorded, or a recorder that drops would look small.
	for i := range b.recordings {
		r := &b.recordings[i]
		t0 := time.Now()
		markers, err := droppedFromMarkers(ctx, r.path, 60*time.Second)
		r.scan = fmt.Sprintf("markers %s (scanned in %.1f s)", humanSize(markers), time.Since(t0).Seconds())
		if err != nil {
			r.scan = "markers: " + err.Error()
		}
		r.dropped = max(r.dropLog, markers)
	}
	for _, r := range b.recordings {
		if !strings.Contains(r.name, "aes128") {
			continue // one row per kind of data
		}
		recorded := r.output - r.dropped
		ratio := float64(r.size) / float64(max(1, recorded))
		out := humanSize(r.output) + " out"
		if r.dropped > 0 {
			out = humanSize(recorded) + " recorded"
		}
		b.table.add(row{metric: "recording size (" + r.data + ")", direct: out,
			bastion: humanSize(r.size), ratio: fmt.Sprintf("%.3f", ratio), target: "<= 1.0", status: verdict(ratio <= 1.0)})
	}
	for _, r := range b.recordings {
		pct := 100 * float64(r.dropped) / float64(r.output)
		b.table.add(row{metric: "recording dropped, " + strings.TrimPrefix(r.name, "down "), bastion: humanSize(r.dropped),
			ratio: fmt.Sprintf("%.1f%%", pct), target: "0", status: verdict(r.dropped == 0)})
		b.table.note("recording of %s: %s; dropped per the log %s, per the %s", r.name, r.path, humanSize(r.dropLog), r.scan)
	}
}

// droppedFromMarkers decompresses a recording and sums its "recording: N
// bytes dropped" marker events. A raw `, "m", "` can only be an event's kind:
// quotes inside event data are escaped.
func droppedFromMarkers(ctx context.Context, path string, limit time.Duration) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, err
	}
	pat := []byte(`, "m", "recording: `)
	buf := make([]byte, 4<<20)
	keep := 0 // bytes carried over from the previous chunk
	var total int64
	deadline := time.Now().Add(limit)
	for {
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
		if time.Now().After(deadline) {
			return total, fmt.Errorf("gave up after %v", limit)
		}
		n, err := io.ReadFull(zr, buf[keep:])
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return total, err
		}
		chunk := buf[:keep+n]
		next := max(0, len(chunk)-len(pat)-24) // start of the tail carried to the next chunk
		for i := 0; ; {
			j := bytes.Index(chunk[i:], pat)
			if j < 0 {
				break
			}
			start := i + j
			end := start + len(pat)
			for end < len(chunk) && chunk[end] >= '0' && chunk[end] <= '9' {
				end++
			}
			if end == len(chunk) && !eof {
				next = min(next, start) // the number goes on in the next chunk
				break
			}
			v, _ := strconv.ParseInt(string(chunk[start+len(pat):end]), 10, 64)
			total += v
			i = end
			next = max(next, end)
		}
		if eof {
			return total, nil
		}
		keep = copy(buf, chunk[next:])
	}
}

// prepareFiles writes the upload source (a sparse file of zeros) and the text
// file that `cat` sends (base64 lines, like a log or a listing of base64
// data: printable, and little compressible), both of exactly -size bytes.
func (b *bench) prepareFiles() error {
	if b.zeroFile != "" {
		return nil
	}
	zero := filepath.Join(b.dir, "zero.bin")
	f, err := os.Create(zero)
	if err != nil {
		return err
	}
	if err := f.Truncate(b.opts.size); err != nil {
		f.Close()
		return err
	}
	f.Close()
	text := filepath.Join(b.target.dir, "text.b64")
	t0 := time.Now()
	if err := writeText(text, b.opts.size); err != nil {
		return err
	}
	logs := filepath.Join(b.target.dir, "text.log")
	if err := writeLog(logs, b.opts.size); err != nil {
		return err
	}
	b.logf("wrote %s of base64 text and of log lines in %v", humanSize(b.opts.size), time.Since(t0).Round(time.Millisecond))
	b.zeroFile, b.textFile, b.logFile = zero, text, logs
	return nil
}

// writeLog writes size bytes of colored log lines, like `cat` of a service
// log or a build: ANSI escapes, timestamps, words, numbers; it compresses
// about 5:1.
func writeLog(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields(`session deploy config build release request user asset account token upload
		download health metrics login logout approve deny watch join share lock unlock kill record replay`)
	levels := []string{"\x1b[32mINFO\x1b[0m", "\x1b[33mWARN\x1b[0m", "\x1b[36mDEBUG\x1b[0m", "\x1b[31mERROR\x1b[0m"}
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	line := make([]byte, 0, 256)
	for left := size; left > 0; {
		line = append(line[:0], "2026-11-27T"...)
		line = two(line, rng.IntN(24))
		line = append(line, ':')
		line = two(line, rng.IntN(60))
		line = append(line, ':')
		line = two(line, rng.IntN(60))
		line = append(line, '.')
		line = strconv.AppendInt(line, int64(100+rng.IntN(900)), 10)
		line = append(line, "Z "...)
		line = append(line, levels[rng.IntN(len(levels))]...)
		line = append(line, " request id="...)
		line = strconv.AppendUint(line, uint64(rng.Uint32()), 16)
		line = append(line, " path=/api/v1/"...)
		line = append(line, words[rng.IntN(len(words))]...)
		line = append(line, '/')
		line = append(line, words[rng.IntN(len(words))]...)
		line = append(line, " status="...)
		line = strconv.AppendInt(line, int64(200+rng.IntN(4)*100), 10)
		line = append(line, " dur="...)
		line = strconv.AppendInt(line, int64(rng.IntN(900)), 10)
		line = append(line, "ms\n"...)
		n := min(left, int64(len(line)))
		if _, err := w.Write(line[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeText writes size bytes of base64 lines (76 characters and a newline)
// of pseudo-random data.
func writeText(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.NewChaCha8([32]byte{'s', 's', 'h', 'b', 'e', 'n', 'c', 'h'})
	var raw [57]byte
	var line [77]byte
	line[76] = '\n'
	for left := size; left > 0; {
		rng.Read(raw[:])
		base64.StdEncoding.Encode(line[:76], raw[:])
		n := min(left, int64(len(line)))
		if _, err := w.Write(line[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profiles repeats transfers through the bastion while taking a CPU profile
// of the bastion process, and writes each profile and its top functions.
func (b *bench) profiles(ctx context.Context, xs []transfer, timeout time.Duration) error {
	if err := os.MkdirAll(b.opts.profile, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, x := range xs {
		remote, in := b.remote(x)
		u, err := b.runSSH(ctx, viaBastion, x.cipher, remote, in, timeout) // to know how long to profile
		d := u.wall
		if err != nil {
			errs = append(errs, err)
			continue
		}
		name := strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(x.name)
		path := filepath.Join(b.opts.profile, "bastion-"+name+".pprof")
		perr := make(chan error, 1)
		go func() { perr <- b.bastion.profile(ctx, d+time.Second, path) }()
		time.Sleep(300 * time.Millisecond)
		if _, err := b.runSSH(ctx, viaBastion, x.cipher, remote, in, timeout); err != nil {
			errs = append(errs, err)
		}
		if err := <-perr; err != nil {
			errs = append(errs, err)
			continue
		}
		top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=40", path).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("go tool pprof: %v: %s", err, top))
			continue
		}
		os.WriteFile(strings.TrimSuffix(path, ".pprof")+".top.txt", top, 0o644)
		b.logf("profile of %s: %s", x.name, path)
	}
	return errors.Join(errs...)
}

// humanSize formats a byte count with a binary unit.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
