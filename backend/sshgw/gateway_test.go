package sshgw_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/sshgw"
	"github.com/portcullis/portcullis/backend/store"
)

func TestHostKeysPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ssh")
	first, err := sshgw.LoadHostKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := sshgw.LoadHostKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("got %d and %d keys, want 2", len(first), len(second))
	}
	for i := range first {
		if got, want := ssh.FingerprintSHA256(second[i].PublicKey()), ssh.FingerprintSHA256(first[i].PublicKey()); got != want {
			t.Errorf("key %d after reload: got %v, want %v", i, got, want)
		}
	}
	for _, name := range []string{sshgw.HostKeyEd25519File, sshgw.HostKeyRSAFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s mode: got %v, want %v", name, got, want)
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if !strings.HasPrefix(string(data), "-----BEGIN OPENSSH PRIVATE KEY-----") {
			t.Errorf("%s is not an OpenSSH private key", name)
		}
		raw, err := ssh.ParseRawPrivateKey(data)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := raw.(*rsa.PrivateKey); ok && k.N.BitLen() < sshgw.MinRSABits {
			t.Errorf("RSA key of %d bits, want at least %d", k.N.BitLen(), sshgw.MinRSABits)
		}
	}
}

// TestSSHAudit runs ssh-audit against the gateway: no [fail] line.
func TestSSHAudit(t *testing.T) {
	bin, err := exec.LookPath("ssh-audit")
	if err != nil {
		skipUnlessCI(t, "ssh-audit not installed (apt-get install ssh-audit)")
	}
	t.Parallel()
	g := newGW(t)
	out, _ := exec.Command(bin, "-n", "-p", strconv.Itoa(g.port), "127.0.0.1").CombinedOutput()
	text := string(out)
	if !strings.Contains(text, "mlkem768x25519-sha256") || !strings.Contains(text, "aes128-gcm@openssh.com") {
		t.Fatalf("ssh-audit did not see the gateway's algorithms:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "[fail]") {
			t.Errorf("ssh-audit failure: %s", line)
		}
	}
	for _, weak := range []string{"cbc", "diffie-hellman-group1", "group14-sha1", "hmac-sha1", "ssh-rsa "} {
		if strings.Contains(text, "(kex) "+weak) || strings.Contains(text, "(enc) "+weak) || strings.Contains(text, "(mac) "+weak) || strings.Contains(text, "(key) "+weak) {
			t.Errorf("weak algorithm %q offered:\n%s", weak, text)
		}
	}
}

// loginRows returns the SSH login log.
func (g *gw) loginRows() []store.LoginLog {
	return rows[store.LoginLog](g, "channel = ?", auth.ChannelSSH)
}

func (g *gw) oplogRows(action string) []store.OperationLog {
	return rows[store.OperationLog](g, "action = ?", action)
}

func TestLoginPasswordAndTOTP(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	g.standard()
	secret := g.enrollTOTP("alice")
	c := run(t, nil, "ssh", g.sshArgs("-t", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive", "alice@127.0.0.1")...)
	c.expect("Password: ")
	c.send(testPassword + "\r")
	c.expect("Verification code: ")
	code, _ := auth.TOTPCode(secret, time.Now())
	c.send(code + "\r")
	c.expect("web01")
	c.send("q")
	c.expect("Bye.")
	if got := c.wait(); got != 0 {
		t.Errorf("exit status: got %v, want 0", got)
	}
	logs := g.loginRows()
	if len(logs) != 2 || logs[0].Reason != "otp_required" || !logs[1].Success || logs[1].Method != auth.MethodOTP {
		t.Fatalf("login log: got %+v, want otp_required then an OTP success", logs)
	}
}

func TestLoginPasswordMethodThenOTP(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	g.standard()
	secret := g.enrollTOTP("alice")
	// The "password" method first: the gateway answers partial success and
	// asks the code by keyboard-interactive.
	c := run(t, nil, "ssh", g.sshArgs("-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive", "alice@web01@127.0.0.1", "echo", "via-password")...)
	c.expect("password: ")
	c.send(testPassword + "\r")
	c.expect("Verification code: ")
	code, _ := auth.TOTPCode(secret, time.Now())
	c.send(code + "\r")
	c.expect("via-password")
	if got := c.wait(); got != 0 {
		t.Errorf("exit status: got %v, want 0", got)
	}
}

func TestLoginWithKey(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey", "alice@web01@127.0.0.1", "echo", "hello-from-"+"target")...)
	c.expect("hello-from-target")
	if got := c.wait(); got != 0 {
		t.Errorf("exit status: got %v, want 0", got)
	}
	logs := g.loginRows()
	if len(logs) != 1 || !logs[0].Success || logs[0].Method != auth.MethodKey {
		t.Fatalf("login log: got %+v, want one key success", logs)
	}

	t.Run("with TOTP", func(t *testing.T) {
		secret := g.enrollTOTP("alice")
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "echo", "key-and-"+"otp")...)
		c.expect("Verification code: ")
		code, _ := auth.TOTPCode(secret, time.Now())
		c.send(code + "\r")
		c.expect("key-and-otp")
		if got := c.wait(); got != 0 {
			t.Errorf("exit status: got %v, want 0", got)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		bob := g.user("bob")
		other := g.clientKey(bob)
		c := run(t, nil, "ssh", g.sshArgs("-i", other, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey", "alice@web01@127.0.0.1", "true")...)
		if got := c.wait(); got != 255 {
			t.Errorf("exit status: got %v, want 255", got)
		}
		// The row is written when the server sees the client give up.
		eventually(t, "the unknown_key login row", func() bool {
			logs := g.loginRows()
			last := logs[len(logs)-1]
			return !last.Success && last.Reason == "unknown_key"
		})
	})
}

func TestMustChangePasswordIsRefused(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	g.standard()
	g.st.DB.Model(&store.User{}).Where("username = ?", "alice").Update("must_change_password", true)
	c := run(t, nil, "ssh", g.sshArgs("-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive", "-o", "NumberOfPasswordPrompts=1", "alice@127.0.0.1")...)
	c.expect("Password: ")
	c.send(testPassword + "\r")
	c.expect("log in to the Portcullis web UI first")
	if got := c.wait(); got != 255 {
		t.Errorf("exit status: got %v, want 255", got)
	}
}

func TestDeniedUser(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	g.standard()
	bob := g.user("bob")
	key := g.clientKey(bob)
	t.Run("picker is empty", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "bob@127.0.0.1")...)
		c.expect("You have no assets")
		c.send("q")
		c.wait()
	})
	t.Run("direct target refused", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "bob@web01@127.0.0.1", "echo", "never")...)
		c.expect("No asset named web01")
		if got := c.wait(); got != 1 {
			t.Errorf("exit status: got %v, want 1", got)
		}
		if got := g.oplogRows("ssh.access_denied"); len(got) != 1 || got[0].Username != "bob" {
			t.Errorf("access_denied rows: got %+v, want one for bob", got)
		}
	})
}

// rawClient connects with x/crypto as the given user name and password.
func rawClient(g *gw, user, password string) (*ssh.Client, error) {
	return ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(g.port)), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
}

func TestMalformedUserNames(t *testing.T) {
	t.Parallel()
	g := newGW(t)
	g.user("alice")
	for _, name := range []string{"a@@b", "alice@", "@web01", "alice\x1b[31m@web01", "alice@\xff", strings.Repeat("x", 10<<10), "alice\u202e@web01"} {
		if c, err := rawClient(g, name, testPassword); err == nil {
			c.Close()
			t.Errorf("user name %q accepted", name)
		}
	}
	if got := len(g.oplogRows("ssh.username_invalid")); got < 6 {
		t.Errorf("username_invalid rows: got %v, want at least 6", got)
	}
	c, err := rawClient(g, "alice", testPassword)
	if err != nil {
		t.Fatalf("gateway unusable after malformed names: %v", err)
	}
	c.Close()
}

func TestGarbageAndLimits(t *testing.T) {
	t.Parallel()
	g := newGW(t, func(c *sshgw.Config) { c.MaxUnauthenticated = 2; c.HandshakeTimeout = 2 * time.Second })
	g.user("alice")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(g.port))
	payloads := [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		[]byte("SSH-2.0-x\r\n\x00\x00\xff\xff\xff\x14garbage"),
		[]byte("SSH-2.0-x\r\n\x00\x00\x00\x10\x04\x14\x00\x00"),
		append([]byte("SSH-2.0-x\r\n"), make([]byte, 70000)...),
	}
	for _, p := range payloads {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(p)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
	// Two silent connections fill the unauthenticated slots; a third is cut.
	var held []net.Conn
	for range 2 {
		c, _ := net.Dial("tcp", addr)
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	c, _ := net.Dial("tcp", addr)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 64)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("third unauthenticated connection: got %v, want closed", err)
	}
	c.Close()
	eventually(t, "connection_refused audit row", func() bool { return len(g.oplogRows("ssh.connection_refused")) > 0 })
	// The handshake timeout frees the slots.
	time.Sleep(2500 * time.Millisecond)
	for _, h := range held {
		h.Close()
	}
	// The slots free as the server notices the closed connections.
	var lastErr error
	eventually(t, "a login after the garbage", func() bool {
		cl, err := rawClient(g, "alice", testPassword)
		if err != nil {
			lastErr = err
			return false
		}
		cl.Close()
		return true
	})
	_ = lastErr
	if len(g.oplogRows("ssh.handshake_failed")) == 0 {
		t.Error("no handshake_failed audit row")
	}
}

func TestHugeWindowChange(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	g.standard()
	c, err := rawClient(g, "alice@web01", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 0xffffffff, 0xffffffff, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	in, _ := s.StdinPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	s.WindowChange(1<<31-1, 1<<31-1)
	s.WindowChange(0, 0)
	in.Write([]byte("stty size; exit\r"))
	buf := make([]byte, 1<<16)
	var got strings.Builder
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(got.String(), "1000 1000") && time.Now().Before(deadline) {
		n, err := out.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(got.String(), "1000 1000") {
		t.Errorf("stty size after huge window changes: got %q, want 1000 1000 (clamped)", got.String())
	}
}

func TestExecExitStatusAndRecording(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "echo out-line; echo err-line >&2; exit 3")...)
	c.expect("out-line")
	if got := c.wait(); got != 3 {
		t.Errorf("exit status: got %v, want 3", got)
	}
	cmds := rows[store.Command](g)
	if len(cmds) != 1 || cmds[0].Input != "echo out-line; echo err-line >&2; exit 3" || cmds[0].Verdict != "allowed" {
		t.Fatalf("commands: got %+v, want the exec command, allowed", cmds)
	}
	sessions := rows[store.Session](g)
	if len(sessions) != 1 || sessions[0].Kind != "exec" || sessions[0].EndedAt == nil || sessions[0].Recording == "" {
		t.Fatalf("sessions: got %+v, want one ended exec session with a recording", sessions)
	}
	played := playRecording(t, sessions[0].Recording)
	if !strings.Contains(played, "out-line") || !strings.Contains(played, "err-line") {
		t.Errorf("asciinema cat: got %q, want the command's output", played)
	}
}

// playRecording decompresses a .cast.gz and prints it with asciinema cat.
func playRecording(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("asciinema")
	if err != nil {
		skipUnlessCI(t, "asciinema not installed (apt-get install asciinema)")
	}
	plain := filepath.Join(t.TempDir(), "rec.cast")
	gz, err := exec.Command("gzip", "-dc", path).Output()
	if err != nil {
		t.Fatalf("gunzip %s: %v", path, err)
	}
	os.WriteFile(plain, gz, 0o600)
	// asciinema 2.2 reads /dev/tty: give it a terminal.
	c := run(t, nil, bin, "cat", plain)
	if code := c.wait(); code != 0 {
		t.Fatalf("asciinema cat: exit status %d: %s", code, c.all())
	}
	return c.all()
}

func TestExecWithoutTarget(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@127.0.0.1", "uptime")...)
	c.expect("No target")
	if got := c.wait(); got != 1 {
		t.Errorf("exit status: got %v, want 1", got)
	}
}

var _ = context.Background

func TestChangedHostKeyIsRefused(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "true")...)
	if got := c.wait(); got != 0 {
		t.Fatalf("first connection: exit status %v, want 0; output:\n%s", got, c.all())
	}
	// Another key recorded for web01: the target now looks impersonated.
	other, err := sshgw.LoadHostKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pk := other[0].PublicKey()
	if err := g.st.DB.Model(&store.HostKey{}).Where("owner_kind = ? AND owner_id = ?", "asset", g.web01.ID).
		Updates(map[string]any{"key": pk.Marshal(), "fingerprint": ssh.FingerprintSHA256(pk), "algorithm": pk.Type()}).Error; err != nil {
		t.Fatal(err)
	}
	c = run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "echo never")...)
	c.expect("The host key of web01 has changed")
	if got := c.wait(); got != 1 {
		t.Errorf("exit status: got %v, want 1", got)
	}
}
