package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	assetpkg "github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/server"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// memProfileRateEnv sets the bastion's runtime.MemProfileRate (profiling runs).
const memProfileRateEnv = "SSHBENCH_MEMPROFILERATE"

// Names in the bastion's data dir.
const (
	benchUser     = "alice"
	benchAsset    = "web01"
	benchAccount  = "target"
	benchPassword = "Bench-Horse-42-battery" // meets the default policy; unused (key logins)
)

// client is the bench user's SSH identity on the bastion.
type client struct {
	keyPath string
	signer  ssh.Signer
}

func loadClient(dir string) (*client, error) {
	path := filepath.Join(dir, "id_ed25519")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, err
	}
	return &client{keyPath: path, signer: s}, nil
}

// prepareData creates the bastion's data dir before the bastion starts: user
// alice with a key registered through the auth service (its private half in
// clientDir), asset web01 on the target, an account holding the target's key
// in the vault, and a permission granting it. The bastion process opens the
// same data dir afterwards, as portcullisd would.
func prepareData(ctx context.Context, dataDir string, t *target, clientDir string) error {
	if err := os.MkdirAll(clientDir, 0o700); err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Options{DataDir: dataDir})
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := vault.Open(dataDir)
	if err != nil {
		return err
	}
	aud := audit.New(st.DB, nil, nil)
	svc := auth.NewService(st.DB, v, settings.New(st.DB), aud, nil, nil)
	org, err := st.DefaultOrg(ctx)
	if err != nil {
		return err
	}
	db := st.DB.WithContext(ctx)
	u := &store.User{OrgID: org.ID, Username: benchUser, Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true}
	if err := db.Create(u).Error; err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if err := svc.SetPassword(ctx, u, benchPassword, false); err != nil {
		return err
	}
	_, signer, err := writeKey(filepath.Join(clientDir, "id_ed25519"))
	if err != nil {
		return err
	}
	if _, err := svc.AddPublicKey(ctx, u.ID, "sshbench", string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
		return err
	}
	var pl store.Platform
	if err := db.Where("category = ?", store.CategoryLinux).First(&pl).Error; err != nil {
		return fmt.Errorf("linux platform: %w", err)
	}
	a := &store.Asset{OrgID: org.ID, Name: benchAsset, Address: "127.0.0.1", PlatformID: pl.ID,
		Protocols: store.Protocols{{Name: "ssh", Port: t.port}}, IsActive: true}
	if err := db.Create(a).Error; err != nil {
		return fmt.Errorf("create asset: %w", err)
	}
	acc := &store.Account{OrgID: org.ID, AssetID: a.ID, Name: benchAccount, Username: t.user, SecretType: store.SecretSSHKey, IsActive: true}
	if err := db.Create(acc).Error; err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if err := assetpkg.SealAccountSecret(v, acc, string(t.keyPEM)); err != nil {
		return err
	}
	if err := db.Save(acc).Error; err != nil {
		return err
	}
	p := &store.AssetPermission{OrgID: org.ID, Name: "sshbench", Users: []store.User{*u}, Assets: []store.Asset{*a},
		Accounts: store.JSONList{store.AccountAll}, Protocols: store.JSONList{"all"},
		Actions: store.JSONList{store.ActionConnect}, IsActive: true}
	if err := db.Create(p).Error; err != nil {
		return fmt.Errorf("create permission: %w", err)
	}
	return nil
}

// bastion is the Portcullis server running in a child process.
type bastion struct {
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	addrs   childAddrs
	http    *http.Client
}

// childAddrs is what the bastion process prints once it listens.
type childAddrs struct {
	HTTP  string `json:"http"`
	SSH   string `json:"ssh"`
	Debug string `json:"debug"`
}

// startBastion runs this binary in bastion mode on dataDir, logging (JSON)
// to logPath, and waits until it listens.
func startBastion(ctx context.Context, dataDir, logPath string, env ...string) (*bastion, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(exe, "-serve-bastion", dataDir)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bastion: start: %w", err)
	}
	b := &bastion{cmd: cmd, done: make(chan struct{}), logPath: logPath, http: &http.Client{Timeout: 60 * time.Second}}
	first := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &b.addrs)
		}
		first <- err
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(b.done)
	}()
	select {
	case err = <-first:
	case <-time.After(60 * time.Second):
		err = errors.New("did not listen within 60s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		b.stop()
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return nil, fmt.Errorf("bastion: %w; log:\n%s", err, tail)
	}
	return b, nil
}

func (b *bastion) pid() int { return b.cmd.Process.Pid }

func (b *bastion) sshPort() string {
	_, port, _ := net.SplitHostPort(b.addrs.SSH)
	return port
}

// stop asks the bastion to shut down (SIGTERM) and kills it after 15 s.
func (b *bastion) stop() {
	if b == nil || b.cmd.Process == nil {
		return
	}
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		killTree(b.pid())
		<-b.done
	}
}

// cpu returns the CPU time (user + system) the bastion process used so far.
func (b *bastion) cpu() time.Duration { return processCPU(b.pid()) }

// processCPU reads utime + stime of pid from /proc (clock ticks of 10 ms).
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// rss returns the resident set size of pid in bytes (VmRSS).
func rss(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// memory is a reading of the bastion's memory.
type memory struct {
	RSS        int64 // VmRSS
	HeapInuse  int64 // go_memstats_heap_inuse_bytes
	StackInuse int64 // go_memstats_stack_inuse_bytes
	Goroutines int64 // go_goroutines
}

// memory reads RSS from /proc and the Go figures from the bastion's
// Prometheus /metrics.
func (b *bastion) memory(ctx context.Context) (memory, error) {
	m := memory{RSS: rss(b.pid())}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addrs.HTTP+"/metrics", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = int64(v)
		case "go_memstats_stack_inuse_bytes":
			m.StackInuse = int64(v)
		case "go_goroutines":
			m.Goroutines = int64(v)
		}
	}
	if m.HeapInuse == 0 {
		return m, errors.New("bastion /metrics has no go_memstats_heap_inuse_bytes")
	}
	return m, sc.Err()
}

// gc makes the bastion collect garbage and return free memory to the OS, so
// that two readings compare live memory.
func (b *bastion) gc(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.addrs.Debug+"/bench/gc", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// sessions returns the bastion's newest n session rows.
func (b *bastion) sessions(ctx context.Context, n int) ([]store.Session, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addrs.Debug+"/bench/sessions?n="+strconv.Itoa(n), nil)
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rows []store.Session
	err = json.NewDecoder(resp.Body).Decode(&rows)
	return rows, err
}

// lastSession waits (at most 10 s) until the newest session has ended and
// returns it.
func (b *bastion) lastSession(ctx context.Context) (store.Session, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := b.sessions(ctx, 1)
		if err != nil {
			return store.Session{}, err
		}
		if len(rows) == 1 && rows[0].EndedAt != nil {
			return rows[0], nil
		}
		if time.Now().After(deadline) {
			return store.Session{}, errors.New("the session did not end within 10s")
		}
		select {
		case <-ctx.Done():
			return store.Session{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// profile takes a CPU profile of the bastion for d and writes it to path.
func (b *bastion) profile(ctx context.Context, d time.Duration, path string) error {
	secs := int((d + time.Second - 1) / time.Second)
	return b.fetchTimeout(ctx, "/debug/pprof/profile?seconds="+strconv.Itoa(secs), path, d+30*time.Second)
}

// fetch writes what the bastion's debug listener serves at uri to path.
func (b *bastion) fetch(ctx context.Context, uri, path string) error {
	return b.fetchTimeout(ctx, uri, path, 60*time.Second)
}

func (b *bastion) fetchTimeout(ctx context.Context, uri, path string, timeout time.Duration) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addrs.Debug+uri, nil)
	c := &http.Client{Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("pprof: %s: %s", resp.Status, msg)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serveBastion is the bastion process: server.New and ServeListeners on
// loopback ports, as portcullisd serve runs them, plus a debug listener for
// the benchmark (pprof, a forced GC, the newest session rows). It prints the
// addresses as one JSON line and serves until SIGTERM.
func serveBastion(dataDir string) error {
	if v, err := strconv.Atoi(os.Getenv(memProfileRateEnv)); err == nil && v > 0 {
		runtime.MemProfileRate = v
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := config.Config{DataDir: dataDir, HTTPAddr: "127.0.0.1:0", SSHAddr: "127.0.0.1:0", LogLevel: "info", LogFormat: "json"}
	log := cfg.NewLogger(os.Stderr)
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	var lns [3]net.Listener
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /bench/gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /bench/sessions", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		var rows []store.Session
		if err := srv.Store().DB.WithContext(r.Context()).Order("started_at DESC").Limit(max(1, n)).Find(&rows).Error; err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(rows)
	})
	dbg := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go dbg.Serve(lns[2])
	defer dbg.Close()
	if err := json.NewEncoder(os.Stdout).Encode(childAddrs{HTTP: lns[0].Addr().String(), SSH: lns[1].Addr().String(), Debug: lns[2].Addr().String()}); err != nil {
		return err
	}
	return srv.ServeListeners(ctx, lns[0], lns[1])
}
