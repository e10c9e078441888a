package sftpproxy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// This file is the test harness: a real OpenSSH sshd as the target, and a
// minimal SSH server standing in for the gateway, which hands the "sftp"
// subsystem and scp execs to ServeSFTP and ServeSCP. The real OpenSSH sftp
// and scp clients are run against the latter.

// requireOpenSSH skips the test when the OpenSSH programs are missing.
func requireOpenSSH(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/usr/sbin/sshd", "sftp", "scp", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			skipUnlessCI(t, "OpenSSH is not installed (%s: %v); apt-get install openssh-server openssh-client", p, err)
		}
	}
}

// targetSSHD is a real OpenSSH sshd on a loopback port.
type targetSSHD struct {
	addr    string
	user    string
	signer  ssh.Signer
	hostKey ssh.PublicKey
}

// startTargetSSHD starts Debian's sshd with its own configuration, host key
// and authorized key, as the current user; it is stopped at cleanup.
func startTargetSSHD(t *testing.T) *targetSSHD {
	t.Helper()
	requireOpenSSH(t)
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("mkdir /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pubBytes, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostPub, _, _, _, err := ssh.ParseAuthorizedKey(pubBytes)
	if err != nil {
		t.Fatalf("parse host key: %v", err)
	}
	signer := newSigner(t)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
`, port, hostKey, filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("sshd stderr:\n%s", stderr.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, addr)
	return &targetSSHD{addr: addr, user: u.Username, signer: signer, hostKey: hostPub}
}

// dial opens a client connection to the target, as the gateway would.
func (s *targetSSHD) dial() (*ssh.Client, error) {
	return ssh.Dial("tcp", s.addr, &ssh.ClientConfig{
		User:            s.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.signer)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey),
		Timeout:         10 * time.Second,
	})
}

// newSigner makes a fresh ed25519 key.
func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts connections on addr (a
// process we started has to get there by itself; there is no event to wait
// on).
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memSink keeps the records in memory.
type memSink struct {
	mu        sync.Mutex // guards the slices
	transfers []store.FileTransfer
	denials   []Denial
}

func (m *memSink) Transfer(_ context.Context, t store.FileTransfer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.transfers = append(m.transfers, t)
	return nil
}

func (m *memSink) Denied(_ context.Context, d Denial) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.denials = append(m.denials, d)
	return nil
}

// Transfers returns a copy of the transfers recorded so far.
func (m *memSink) Transfers() []store.FileTransfer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.FileTransfer(nil), m.transfers...)
}

// Denials returns a copy of the denials recorded so far.
func (m *memSink) Denials() []Denial {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Denial(nil), m.denials...)
}

// harness is the stand-in gateway: an SSH server on a loopback port that
// serves "sftp" and scp with this package, backed by the target.
type harness struct {
	target  *targetSSHD
	opts    Options
	sink    *memSink
	addr    string
	port    string
	keyPath string // the user's private key, for the OpenSSH clients
	signer  ssh.Signer

	wg      sync.WaitGroup // the sessions being served
	mu      sync.Mutex     // guards results
	results []result
}

// result is what one served channel returned.
type result struct {
	kind    string // "sftp" or "scp"
	command string
	err     error
}

// testTemplate is the identity the records must carry.
var testTemplate = store.FileTransfer{OrgID: 7, SessionID: "sess-1", UserID: 42, Username: "alice",
	AssetName: "web01", Account: "root"}

// newHarness starts the stand-in gateway with opts (Sink and Template are
// set by the harness when empty).
func newHarness(t *testing.T, target *targetSSHD, opts Options) *harness {
	t.Helper()
	h := &harness{target: target, sink: &memSink{}}
	if opts.Sink == nil {
		opts.Sink = h.sink
	}
	if opts.Template == (store.FileTransfer{}) {
		opts.Template = testTemplate
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.opts = opts

	dir := t.TempDir()
	h.signer = newSigner(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	userSigner, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	h.keyPath = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(h.keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	userKey := userSigner.PublicKey().Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), userKey) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(h.signer)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	_, h.port, _ = net.SplitHostPort(h.addr)
	ctx, cancel := context.WithCancel(context.Background())
	var conns sync.WaitGroup
	conns.Add(1)
	go func() {
		defer conns.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				h.serveConn(ctx, c, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		conns.Wait()
	})
	return h
}

// serveConn serves one user connection.
func (h *harness) serveConn(ctx context.Context, c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var (
		once    sync.Once
		tc      *ssh.Client
		dialErr error
	)
	target := func() (*ssh.Client, error) {
		once.Do(func() { tc, dialErr = h.target.dial() })
		return tc, dialErr
	}
	defer func() {
		if tc != nil {
			_ = tc.Close()
		}
	}()
	var sessions sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		h.wg.Add(1)
		go func() {
			defer sessions.Done()
			defer h.wg.Done()
			h.serveSession(ctx, ch, creqs, target)
		}()
	}
	sessions.Wait()
}

// serveSession waits for the subsystem or exec request of a session channel
// and serves it.
func (h *harness) serveSession(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, target func() (*ssh.Client, error)) {
	defer ch.Close()
	for req := range reqs {
		var arg struct{ Value string }
		switch req.Type {
		case "subsystem", "exec":
			if err := ssh.Unmarshal(req.Payload, &arg); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
			continue
		}
		sftpWanted := (req.Type == "subsystem" && arg.Value == "sftp") ||
			(req.Type == "exec" && IsSFTPServerCommand(arg.Value))
		scpWanted := req.Type == "exec" && IsSCPCommand(arg.Value)
		if !sftpWanted && !scpWanted {
			_ = req.Reply(false, nil)
			continue
		}
		tc, err := target()
		if err != nil {
			_ = req.Reply(false, nil)
			h.record(result{kind: req.Type, command: arg.Value, err: err})
			return
		}
		_ = req.Reply(true, nil)
		go ssh.DiscardRequests(reqs)
		if sftpWanted {
			err := ServeSFTP(ctx, ch, tc, h.opts)
			h.record(result{kind: "sftp", command: arg.Value, err: err})
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			return
		}
		err = ServeSCP(ctx, ch, arg.Value, tc, h.opts)
		h.record(result{kind: "scp", command: arg.Value, err: err})
		return
	}
}

func (h *harness) record(r result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.results = append(h.results, r)
}

// Results waits for the sessions served so far to end and returns what they
// returned.
func (h *harness) Results() []result {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]result(nil), h.results...)
}

// clientArgs are the options every OpenSSH client run gets.
func (h *harness) clientArgs() []string {
	return []string{"-F", "/dev/null", "-P", h.port, "-i", h.keyPath,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"}
}

// remote is the scp spelling of a path behind the gateway.
func (h *harness) remote(p string) string { return "alice@127.0.0.1:" + p }

// sftp runs the real OpenSSH sftp with a batch of commands.
func (h *harness) sftp(t *testing.T, batch string, extra ...string) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(f, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(h.clientArgs(), "-b", f)
	args = append(args, extra...)
	args = append(args, "alice@127.0.0.1")
	return run(t, "sftp", args...)
}

// scp runs the real OpenSSH scp.
func (h *harness) scp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return run(t, "scp", append(h.clientArgs(), args...)...)
}

// run runs a program with a deadline and returns its combined output.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// testWriter sends log output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
