package sshgw_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"

	assetpkg "github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/reach"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/sshgw"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

// testPassword meets the default password policy.
const testPassword = "Correct-Horse-42-battery"

// target is a real OpenSSH sshd on loopback with a throwaway Unix account,
// shared by the tests of the package (started once by TestMain).
type target struct {
	port     int
	user     string // throwaway Unix account
	password string // its password
	key      []byte // OpenSSH private key (PEM) authorized for it
	home     string
	dir      string // its configuration
	err      error  // why there is no target
}

// sshdConfigPath is the shared target's sshd_config.
func sshdConfigPath() string { return filepath.Join(sshd.dir, "sshd_config") }

var (
	sshd       target
	targetOnce sync.Once
	stopTarget = func() {}
)

// TestMain stops the shared target (started on first use by needTarget,
// so that fuzzing workers and unit tests start none).
func TestMain(m *testing.M) {
	code := m.Run()
	stopTarget()
	os.Exit(code)
}

// startTarget starts the shared sshd, or records why it cannot.
func startTarget() (stop func()) {
	stop = func() {}
	switch {
	case os.Geteuid() != 0:
		sshd.err = fmt.Errorf("needs root to run sshd and create a throwaway account")
		return
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		sshd.err = fmt.Errorf("openssh-server not installed: %v", err)
		return
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		sshd.err = fmt.Errorf("openssh-client not installed: %v", err)
		return
	}
	dir, err := os.MkdirTemp("", "sshgw-target-")
	if err != nil {
		sshd.err = err
		return
	}
	var cleanups []func()
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // sshd reads authorized_keys as the user
	sshd.dir = dir
	fail := func(err error) func() { sshd.err = err; return stop }

	var rb [4]byte
	rand.Read(rb[:])
	sshd.user = fmt.Sprintf("pcgw%x", rb)
	sshd.password = "Tgt-" + rand.Text()[:16]
	sshd.home = filepath.Join(dir, "home")
	if out, err := exec.Command("useradd", "-m", "-d", sshd.home, "-s", "/bin/bash", sshd.user).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("useradd: %v: %s", err, out))
	}
	cleanups = append(cleanups, func() {
		// sshd's per-connection processes outlive its listener: end those of
		// this throwaway user (named uniquely for this run) before removing it.
		exec.Command("pkill", "-KILL", "-f", "^sshd: "+sshd.user+"[ @]").Run()
		exec.Command("pkill", "-KILL", "-u", sshd.user).Run()
		exec.Command("userdel", "-f", sshd.user).Run()
	})
	chp := exec.Command("chpasswd")
	chp.Stdin = strings.NewReader(sshd.user + ":" + sshd.password + "\n")
	if out, err := chp.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("chpasswd: %v: %s", err, out))
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	sshd.key = pem.EncodeToMemory(block)
	signer, _ := ssh.NewSignerFromKey(priv)
	authKeys := filepath.Join(dir, "authorized_keys")
	os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644)
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("ssh-keygen: %v: %s", err, out))
	}
	sshd.port = freePort()
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s/sshd.pid
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers %s
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
Subsystem sftp internal-sftp
LogLevel ERROR
`, sshd.port, hostKey, dir, authKeys, sshd.user)), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("sshd: %v", err))
	}
	cleanups = append(cleanups, func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sshd.port))
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			return fail(fmt.Errorf("sshd did not listen: %s", errOut.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func needTarget(t *testing.T) {
	t.Helper()
	targetOnce.Do(func() { stopTarget = startTarget() })
	if sshd.err != nil {
		skipUnlessCI(t, "no OpenSSH target: %v", sshd.err)
	}
}

// gw is a gateway on a fresh database, listening on loopback.
type gw struct {
	t       *testing.T
	ctx     context.Context
	st      *store.Store
	vault   *vault.Vault
	auth    *auth.Service
	sets    *settings.Store
	reg     *session.Registry
	srv     *sshgw.Server
	port    int
	dataDir string
	org     *store.Organization
	logs    *syncBuffer
	web01   *store.Asset
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newGW(t *testing.T, mutate ...func(*sshgw.Config)) *gw {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	aud := audit.New(st.DB, log, nil)
	sets := settings.New(st.DB)
	svc := auth.NewService(st.DB, v, sets, aud, log, nil)
	reg := session.NewRegistry(st.DB, aud, log, nil, "test", session.WithApprovalPoll(50*time.Millisecond))
	hk := hostkey.New(st.DB, aud, nil, log, nil)
	dialer := reach.New(st.DB, v, hk, log)
	org, err := st.DefaultOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	cfg := sshgw.Config{HostKeyDir: filepath.Join(dataDir, "ssh"), RecordingDir: filepath.Join(dataDir, "recordings"), ConfirmTimeout: 3 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := sshgw.New(cfg, sshgw.Deps{
		DB: st.DB, Auth: svc, Perm: perm.New(st.DB, nil), Vault: v, Audit: aud, Settings: sets,
		Sessions: reg, Dialer: dialer, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Serve(sctx, ln); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		sd, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		srv.Shutdown(sd)
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	g := &gw{t: t, ctx: ctx, st: st, vault: v, auth: svc, sets: sets, reg: reg, srv: srv,
		port: ln.Addr().(*net.TCPAddr).Port, dataDir: dataDir, org: org, logs: logs}
	return g
}

// user creates an active Portcullis user with testPassword.
func (g *gw) user(name string) *store.User {
	g.t.Helper()
	u := &store.User{OrgID: g.org.ID, Username: name, Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true}
	storetest.MustCreate(g.t, g.st.DB, u)
	if err := g.auth.SetPassword(g.ctx, u, testPassword, false); err != nil {
		g.t.Fatal(err)
	}
	return u
}

// enrollTOTP enables TOTP for the user and returns the secret.
func (g *gw) enrollTOTP(name string) string {
	g.t.Helper()
	meta := auth.RequestMeta{SourceIP: "192.0.2.1", Channel: auth.ChannelWeb}
	res, err := g.auth.Login(g.ctx, auth.LoginRequest{Username: name, Password: testPassword, Meta: meta})
	if err != nil {
		g.t.Fatal(err)
	}
	secret, _, err := g.auth.BeginTOTPEnroll(g.ctx, res.Token)
	if err != nil {
		g.t.Fatal(err)
	}
	code, _ := auth.TOTPCode(secret, time.Now().Add(-auth.TOTPPeriod))
	if _, _, err := g.auth.ConfirmTOTPEnroll(g.ctx, res.Token, code, meta); err != nil {
		g.t.Fatal(err)
	}
	return secret
}

// clientKey registers a new key for the user and writes its private half
// to a file for ssh -i.
func (g *gw) clientKey(u *store.User) string {
	g.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	if _, err := g.auth.AddPublicKey(g.ctx, u.ID, "test", string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
		g.t.Fatal(err)
	}
	block, _ := ssh.MarshalPrivateKey(priv, "")
	path := filepath.Join(g.t.TempDir(), "id_ed25519")
	os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
	return path
}

// asset creates an asset on the shared target with protocols.
func (g *gw) asset(name string, protocols ...store.Protocol) *store.Asset {
	g.t.Helper()
	var pl store.Platform
	if err := g.st.DB.Where("category = ?", store.CategoryLinux).First(&pl).Error; err != nil {
		g.t.Fatal(err)
	}
	if len(protocols) == 0 {
		protocols = []store.Protocol{{Name: "ssh", Port: sshd.port}}
	}
	a := &store.Asset{OrgID: g.org.ID, Name: name, Address: "127.0.0.1", PlatformID: pl.ID, Protocols: protocols, IsActive: true}
	storetest.MustCreate(g.t, g.st.DB, a)
	return a
}

// account creates an account on a for the target's throwaway user; secret is
// its key (kind ssh_key) or password.
func (g *gw) account(a *store.Asset, name, secretType, secret string) *store.Account {
	g.t.Helper()
	acc := &store.Account{OrgID: g.org.ID, AssetID: a.ID, Name: name, Username: sshd.user, SecretType: secretType, IsActive: true}
	storetest.MustCreate(g.t, g.st.DB, acc)
	if err := assetpkg.SealAccountSecret(g.vault, acc, secret); err != nil {
		g.t.Fatal(err)
	}
	if err := g.st.DB.Save(acc).Error; err != nil {
		g.t.Fatal(err)
	}
	return acc
}

// grant gives users the assets with accounts and actions, by every protocol.
func (g *gw) grant(name string, users []*store.User, assets []*store.Asset, accounts []string, actions ...string) {
	g.t.Helper()
	p := &store.AssetPermission{OrgID: g.org.ID, Name: name, Accounts: accounts, Protocols: store.JSONList{"all"}, Actions: actions, IsActive: true}
	for _, u := range users {
		p.Users = append(p.Users, *u)
	}
	for _, a := range assets {
		p.Assets = append(p.Assets, *a)
	}
	storetest.MustCreate(g.t, g.st.DB, p)
}

// standard sets up alice with web01 (key account "deploy") granted with
// connect, upload and download, and returns alice.
func (g *gw) standard() *store.User {
	g.t.Helper()
	alice := g.user("alice")
	g.web01 = g.asset("web01")
	g.account(g.web01, "deploy", store.SecretSSHKey, string(sshd.key))
	g.grant("alice-web01", []*store.User{alice}, []*store.Asset{g.web01}, []string{store.AccountAll},
		store.ActionConnect, store.ActionUpload, store.ActionDownload)
	return alice
}

// sshArgs are the client options of every test: no config, no agent, no
// known hosts.
func (g *gw) sshArgs(extra ...string) []string {
	args := []string{"-F", "/dev/null", "-p", strconv.Itoa(g.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentityAgent=none", "-o", "ConnectTimeout=10"}
	return append(args, extra...)
}

// term is an OpenSSH client (or sftp, scp) running in a pty.
type term struct {
	t    *testing.T
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex // guards out, mark
	out  bytes.Buffer
	mark int
	done chan struct{}
	err  error
}

// run starts name args in an 80x24 pty.
func run(t *testing.T, env []string, name string, args ...string) *term {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "HOME="+t.TempDir(), "TERM=xterm"), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, cmd: cmd, pty: f, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				break
			}
		}
		tm.err = cmd.Wait()
		close(tm.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-tm.done
		f.Close()
	})
	return tm
}

// expect waits until the output since the last match contains s, and
// returns that output.
func (tm *term) expect(s string) string {
	tm.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tm.mu.Lock()
		out := tm.out.String()[tm.mark:]
		if i := strings.Index(out, s); i >= 0 {
			tm.mark += i + len(s)
			tm.mu.Unlock()
			return out[:i+len(s)]
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out waiting for %q; output so far:\n%q", s, out)
		}
		select {
		case <-tm.done:
			// Let the reader drain, then check once more.
			time.Sleep(50 * time.Millisecond)
			tm.mu.Lock()
			out = tm.out.String()[tm.mark:]
			tm.mu.Unlock()
			if i := strings.Index(out, s); i >= 0 {
				tm.mark += i + len(s)
				return out[:i+len(s)]
			}
			tm.t.Fatalf("process exited (%v) before %q; output:\n%q", tm.err, s, out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.pty.Write([]byte(s)); err != nil {
		tm.t.Fatalf("write to pty: %v", err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(20 * time.Second):
		tm.t.Fatalf("process did not exit; output:\n%q", tm.all())
	}
	if tm.err == nil {
		return 0
	}
	if ee, ok := tm.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	tm.t.Fatalf("wait: %v", tm.err)
	return -1
}

func (tm *term) all() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// rows returns the rows of a table, in id order.
func rows[T any](g *gw, where ...any) []T {
	g.t.Helper()
	var out []T
	q := g.st.DB.Order("id")
	if len(where) > 0 {
		q = q.Where(where[0], where[1:]...)
	}
	if err := q.Find(&out).Error; err != nil {
		g.t.Fatal(err)
	}
	return out
}

// eventually retries f until it returns true, for at most 10 s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setSize resizes the client's pty (the client sends a window-change).
func setSize(tm *term, cols, rows int) error {
	return pty.Setsize(tm.pty, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
}

// waitEnded waits until every session row has ended.
func (g *gw) waitEnded() {
	g.t.Helper()
	eventually(g.t, "sessions to end", func() bool {
		var n int64
		g.st.DB.Model(&store.Session{}).Where("ended_at IS NULL").Count(&n)
		return n == 0
	})
}
