package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// target is a real OpenSSH sshd on loopback with its own configuration and
// ephemeral keys. As root it logs in a throwaway account with a fresh home
// (so that no dotfile of the machine's users, such as a slow .bashrc, weighs
// on the figures); otherwise the user running the benchmark. One key serves
// both the direct client and the bastion's account.
type target struct {
	dir     string
	port    int
	user    string
	made    bool       // user is a throwaway account: remove it at stop
	keyPEM  []byte     // OpenSSH private key authorized on the target
	keyPath string     // the same, as a file for ssh -i
	signer  ssh.Signer // the same, for x/crypto clients
	cmd     *exec.Cmd
	done    chan struct{} // closed when sshd exited
}

// startTarget writes the configuration and keys into dir and starts sshd.
func startTarget(ctx context.Context, sshdPath, dir string) (*target, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	os.Chmod(filepath.Dir(dir), 0o755) // the account reads the text file in dir
	t := &target{dir: dir, done: make(chan struct{})}
	if err := t.account(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			t.stop()
		}
	}()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	_, _, err := writeKey(hostKey)
	if err != nil {
		return nil, err
	}
	t.keyPath = filepath.Join(dir, "id_ed25519")
	if t.keyPEM, t.signer, err = writeKey(t.keyPath); err != nil {
		return nil, err
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(t.signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	if t.port, err = freePort(); err != nil {
		return nil, err
	}
	// Every session of the benchmark is one connection; MaxStartups is raised
	// so that the idle-session ramp (a few handshakes at a time) is never
	// throttled, and nothing slow (DNS, lastlog, MOTD, PAM) runs at login.
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
AllowUsers %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:300
MaxSessions 16
AllowTcpForwarding no
X11Forwarding no
LogLevel ERROR
`, t.port, hostKey, filepath.Join(dir, "sshd.pid"), authKeys, t.user)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	}
	logFile, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	t.cmd = exec.Command(sshdPath, "-D", "-e", "-f", cfg)
	t.cmd.Stderr = logFile
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("target: start sshd: %w", err)
	}
	go func() { t.cmd.Wait(); close(t.done) }()
	addr := t.addr()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			ok = true
			return t, nil
		}
		select {
		case <-t.done:
			out, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			return nil, fmt.Errorf("target: sshd exited: %s", bytes.TrimSpace(out))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("target: sshd did not listen on %s within 10s", addr)
		}
	}
}

func (t *target) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.port)) }

// accountPrefix starts the names of the throwaway accounts.
const accountPrefix = "pcbench"

// account chooses the login on the target: as root, a throwaway account with
// its home under dir; otherwise the current user.
func (t *target) account() error {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return fmt.Errorf("target: current user: %w", err)
		}
		t.user = u.Username
		return nil
	}
	removeStaleAccounts()
	var rb [4]byte
	rand.Read(rb[:])
	name := fmt.Sprintf("%s%x", accountPrefix, rb)
	home := filepath.Join(t.dir, "home")
	if out, err := exec.Command("useradd", "-m", "-d", home, "-s", "/bin/bash", name).CombinedOutput(); err != nil {
		return fmt.Errorf("target: useradd: %v: %s", err, bytes.TrimSpace(out))
	}
	t.user, t.made = name, true
	// A fresh account is locked ("!"), and sshd without PAM refuses even keys
	// for a locked account: "*" has no password and is not locked.
	if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
		return fmt.Errorf("target: usermod: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// removeStaleAccounts removes the throwaway accounts of earlier runs that
// were killed before they could clean up: named pcbench..., with a home under
// the temporary directory that no longer exists.
func removeStaleAccounts() {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 6 || !strings.HasPrefix(f[0], accountPrefix) || !strings.HasPrefix(f[5], filepath.Join(os.TempDir(), "portcullis-sshbench-")) {
			continue
		}
		if _, err := os.Stat(f[5]); os.IsNotExist(err) {
			exec.Command("userdel", "-f", f[0]).Run()
		}
	}
}

// stop kills sshd and every process it started (per-connection sshd
// processes and the shells of open sessions), by their ids, and removes the
// throwaway account.
func (t *target) stop() {
	if t.cmd != nil && t.cmd.Process != nil {
		killTree(t.cmd.Process.Pid)
		select {
		case <-t.done:
		case <-time.After(5 * time.Second):
		}
	}
	if t.made {
		exec.Command("userdel", "-f", t.user).Run()
		t.made = false
	}
}

// descendants returns the ids of the processes below pid, found through the
// parent ids in /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 100000 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads the parent id of pid from /proc/PID/stat.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// killTree sends SIGKILL to pid's descendants, then to pid.
func killTree(pid int) {
	for _, p := range descendants(pid) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// writeKey generates an Ed25519 key and writes its private half in OpenSSH
// format (0600) to path.
func writeKey(path string) ([]byte, ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	data := pem.EncodeToMemory(block)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	return data, signer, err
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }
