package reach

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

// fakeClock is the injected clock; tests move it by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// clientKey is a key pair the tests log in to sshd with (as root, through a
// dedicated AuthorizedKeysFile).
type clientKey struct {
	signer ssh.Signer
	pem    string
	authz  string // authorized_keys line
}

func newClientKey(t testing.TB) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "portcullis-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{signer: signer, pem: string(pem.EncodeToMemory(blk)), authz: string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}
}

// sshd is a real OpenSSH server started by a test, optionally inside a network namespace.
type sshd struct {
	t       testing.TB
	dir     string
	netns   string
	addr    string // listen host
	port    int
	cfgPath string

	mu  sync.Mutex // guards cmd and log
	cmd *exec.Cmd
	log strings.Builder
}

type sshdOpts struct {
	netns    string // run inside this namespace ("" = root namespace)
	addr     string // listen address (default 127.0.0.1)
	port     int    // 0 = pick a free loopback port
	authz    string // authorized_keys content
	password bool   // PasswordAuthentication yes
}

func requireSSHD(t testing.TB) {
	t.Helper()
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/ssh-keygen"} {
		if _, err := os.Stat(p); err != nil {
			skipUnlessCI(t, "%s missing (apt-get install openssh-server openssh-client): %v", p, err)
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startSSHD(t testing.TB, o sshdOpts) *sshd {
	t.Helper()
	requireSSHD(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	if o.addr == "" {
		o.addr = "127.0.0.1"
	}
	if o.port == 0 {
		o.port = freePort(t)
	}
	s := &sshd{t: t, dir: t.TempDir(), netns: o.netns, addr: o.addr, port: o.port}
	s.newHostKey()
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), []byte(o.authz), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := "no"
	if o.password {
		pw = "yes"
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s/host_ed25519
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication %s
KbdInteractiveAuthentication no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
`, o.port, o.addr, s.dir, s.dir, s.dir, pw)
	s.cfgPath = filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// newHostKey writes a fresh ed25519 host key (used at the next start).
func (s *sshd) newHostKey() {
	s.t.Helper()
	p := filepath.Join(s.dir, "host_ed25519")
	os.Remove(p)
	os.Remove(p + ".pub")
	if out, err := exec.Command("/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p).CombinedOutput(); err != nil {
		s.t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

// hostKey returns the server's current public host key.
func (s *sshd) hostKey() ssh.PublicKey {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "host_ed25519.pub"))
	if err != nil {
		s.t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		s.t.Fatal(err)
	}
	return k
}

func (s *sshd) start() {
	s.t.Helper()
	args := []string{"/usr/sbin/sshd", "-D", "-e", "-f", s.cfgPath}
	if s.netns != "" {
		args = append([]string{"/usr/sbin/ip", "netns", "exec", s.netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start sshd: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Server listening on") {
				signalled = true
				ready <- true
			}
		}
		if !signalled {
			ready <- false
		}
	}()
	ok := false
	select {
	case ok = <-ready:
	case <-time.After(10 * time.Second):
	}
	if !ok {
		cmd.Process.Kill()
		cmd.Wait()
		s.t.Fatalf("sshd did not start:\n%s", s.logText())
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
}

func (s *sshd) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop kills the listening sshd (sessions it forked live on until their connection closes).
func (s *sshd) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	cmd.Wait()
}

func (s *sshd) restart() {
	s.stop()
	s.start()
}

func (s *sshd) hostPort() string { return net.JoinHostPort(s.addr, fmt.Sprint(s.port)) }

// testEnv is a database with an organization, a vault and a host key store.
type testEnv struct {
	s     *store.Store
	v     *vault.Vault
	hk    *hostkey.Store
	clock *fakeClock
	org   uint
	ctx   context.Context
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	s := storetest.SQLite(t)
	ctx := context.Background()
	org, err := s.DefaultOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	hk := hostkey.New(s.DB, audit.New(s.DB, nil, clock.Now), nil, nil, clock.Now)
	return &testEnv{s: s, v: v, hk: hk, clock: clock, org: org.ID, ctx: ctx}
}

func (e *testEnv) dialer(t testing.TB, opts ...Option) *Dialer {
	t.Helper()
	d := New(e.s.DB, e.v, e.hk, nil, append([]Option{WithClock(e.clock.Now), WithTimeouts(2*time.Second, 5*time.Second)}, opts...)...)
	t.Cleanup(func() { d.Close() })
	return d
}

func (e *testEnv) zone(t testing.TB, name string) *store.Zone {
	t.Helper()
	z := &store.Zone{OrgID: e.org, Name: name}
	storetest.MustCreate(t, e.s.DB, z)
	return z
}

func (e *testEnv) gateway(t testing.TB, z *store.Zone, name, host string, port, priority int, user, secretType, secret string) *store.Gateway {
	t.Helper()
	g := &store.Gateway{OrgID: e.org, ZoneID: z.ID, Name: name, Address: host, Port: port, Username: user,
		SecretType: secretType, Priority: priority, IsActive: true}
	storetest.MustCreate(t, e.s.DB, g)
	if err := asset.SealGatewaySecret(e.v, g, secret); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DB.Save(g).Error; err != nil {
		t.Fatal(err)
	}
	return g
}

func (e *testEnv) asset(t testing.TB, name, host string, z *store.Zone) *store.Asset {
	t.Helper()
	a := &store.Asset{OrgID: e.org, Name: name, Address: host, IsActive: true}
	if z != nil {
		a.ZoneID = &z.ID
	}
	storetest.MustCreate(t, e.s.DB, a)
	return a
}

func (e *testEnv) oplog(t testing.TB, action string) []store.OperationLog {
	t.Helper()
	var rows []store.OperationLog
	if err := e.s.DB.Where("action = ?", action).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// rootConfig logs in as root with key k.
func rootConfig(k clientKey) *ssh.ClientConfig {
	return &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(k.signer)}}
}

// run runs cmd in a session of c and returns its output.
func run(t testing.TB, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, out)
	}
	return string(out)
}

// freezeProxy forwards TCP to a backend until frozen: then it stops moving bytes
// (a gateway that hangs without closing the connection).
type freezeProxy struct {
	ln     net.Listener
	frozen chan struct{}
	once   sync.Once
}

func startFreezeProxy(t testing.TB, backend string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, frozen: make(chan struct{})}
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, b)
			mu.Unlock()
			go p.pipe(b, c)
			go p.pipe(c, b)
		}
	}()
	return p
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			// Swallow everything: the peer never hears back.
			if err != nil {
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (p *freezeProxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

func (p *freezeProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }
