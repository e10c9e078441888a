package sshgw_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// confirmFilter holds "echo needs-approval" for an approver.
func (g *gw) confirmFilter() {
	g.t.Helper()
	grp := &store.CommandGroup{OrgID: g.org.ID, Name: "confirm", Kind: "command", Content: "echo needs-approval"}
	storetest.MustCreate(g.t, g.st.DB, grp)
	f := &store.CommandFilter{OrgID: g.org.ID, Name: "confirm echo", Priority: 5, Action: store.FilterConfirm, IsActive: true, Groups: []store.CommandGroup{*grp}}
	storetest.MustCreate(g.t, g.st.DB, f)
}

func TestConfirmFlow(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	g.confirmFilter()

	t.Run("approved", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "echo needs-approval")...)
		c.expect("needs approval")
		var pending []store.Approval
		eventually(t, "an approval request", func() bool {
			pending = rows[store.Approval](g, "status = ?", store.ApprovalPending)
			return len(pending) == 1
		})
		if err := g.reg.Decide(g.ctx, pending[0].ID, true, "admin"); err != nil {
			t.Fatal(err)
		}
		c.expect("needs-approval\r\n")
		if got := c.wait(); got != 0 {
			t.Errorf("exit status: got %v, want 0", got)
		}
	})
	t.Run("timed out", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "echo needs-approval")...)
		c.expect("Nobody approved the command in time")
		if got := c.wait(); got != 1 {
			t.Errorf("exit status: got %v, want 1", got)
		}
	})
	verdicts := map[string]int{}
	for _, cmd := range rows[store.Command](g) {
		verdicts[cmd.Verdict]++
	}
	if verdicts["approved"] != 1 || verdicts["expired"] != 1 {
		t.Errorf("verdicts: got %v, want one approved and one expired", verdicts)
	}
}

func TestWatchAndKill(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1")...)
	setPrompt(c)
	var id string
	eventually(t, "the live session", func() bool {
		if l := g.reg.List(g.org.ID); len(l) == 1 {
			id = l[0].ID
			return true
		}
		return false
	})
	live, _ := g.reg.Get(id)
	events, cancel := live.Watch()
	defer cancel()
	c.send("echo watched-$((40+2))\r")
	c.expect("watched-42")
	seen := ""
	for deadline := time.After(10 * time.Second); !strings.Contains(seen, "watched-42"); {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("watch ended early")
			}
			seen += ev.Data
		case <-deadline:
			t.Fatalf("watcher did not see the output; got %q", seen)
		}
	}
	if err := g.reg.Kill(g.ctx, id, "maintenance window", "admin"); err != nil {
		t.Fatal(err)
	}
	c.expect("maintenance window")
	c.wait()
	g.waitEnded()
	s := rows[store.Session](g)[0]
	if !strings.Contains(s.EndReason, "maintenance window") {
		t.Errorf("end reason: got %q, want the kill reason", s.EndReason)
	}
}

func TestRecordingPlaysWithAsciinema(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1")...)
	setPrompt(c)
	c.send("echo recorded-$((1+1))\r")
	c.expect("recorded-2")
	c.send("exit\r")
	c.wait()
	g.waitEnded()
	s := rows[store.Session](g)[0]
	if !strings.HasPrefix(s.Recording, filepath.Join(g.dataDir, "recordings", time.Now().UTC().Format("2006/01/02"))) {
		t.Errorf("recording path: got %q, want under recordings/YYYY/MM/DD", s.Recording)
	}
	if out := playRecording(t, s.Recording); !strings.Contains(out, "recorded-2") {
		t.Errorf("asciinema cat: got %q, want the session output", out)
	}
}

// sftpArgs are sftp/scp options (-P for the port).
func (g *gw) sftpArgs(key string, extra ...string) []string {
	args := []string{"-F", "/dev/null", "-P", strconv.Itoa(g.port), "-i", key,
		"-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR"}
	return append(args, extra...)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestSFTPAndSCP(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	bob := g.user("bob")
	bobKey := g.clientKey(bob)
	g.grant("bob-read", []*store.User{bob}, []*store.Asset{g.web01}, []string{store.AccountAll}, store.ActionConnect, store.ActionDownload)

	dir := t.TempDir()
	local := filepath.Join(dir, "payload.bin")
	payload := []byte(strings.Repeat("portcullis-sftp\n", 5000))
	os.WriteFile(local, payload, 0o644)
	remote := filepath.Join(sshd.home, fmt.Sprintf("up-%d.bin", time.Now().UnixNano()))
	t.Cleanup(func() { os.Remove(remote) })

	t.Run("sftp upload and download", func(t *testing.T) {
		batch := filepath.Join(dir, "batch")
		back := filepath.Join(dir, "back.bin")
		os.WriteFile(batch, []byte(fmt.Sprintf("put %s %s\nget %s %s\n", local, remote, remote, back)), 0o644)
		c := run(t, nil, "sftp", g.sftpArgs(key, "-b", batch, "alice@web01@127.0.0.1")...)
		if got := c.wait(); got != 0 {
			t.Fatalf("sftp exit status: got %v, want 0; output:\n%s", got, c.all())
		}
		got, _ := os.ReadFile(back)
		if sum(got) != sum(payload) {
			t.Fatal("downloaded file differs")
		}
	})
	t.Run("scp (SFTP protocol) and scp -O", func(t *testing.T) {
		for _, legacy := range []bool{false, true} {
			args := g.sftpArgs(key)
			if legacy {
				args = append(args, "-O")
			}
			dest := filepath.Join(dir, fmt.Sprintf("scp-%v.bin", legacy))
			c := run(t, nil, "scp", append(args, "alice@web01@127.0.0.1:"+remote, dest)...)
			if got := c.wait(); got != 0 {
				t.Fatalf("scp (legacy=%v) exit status: got %v, want 0; output:\n%s", legacy, got, c.all())
			}
			if got, _ := os.ReadFile(dest); sum(got) != sum(payload) {
				t.Fatalf("scp (legacy=%v): file differs", legacy)
			}
		}
	})
	t.Run("upload denied", func(t *testing.T) {
		for _, legacy := range []bool{false, true} {
			args := g.sftpArgs(bobKey)
			if legacy {
				args = append(args, "-O")
			}
			c := run(t, nil, "scp", append(args, local, "bob@web01@127.0.0.1:"+remote+".bob")...)
			if got := c.wait(); got == 0 {
				t.Errorf("scp upload without permission (legacy=%v): exit status 0", legacy)
			}
			if _, err := os.Stat(remote + ".bob"); err == nil {
				t.Fatalf("denied upload reached the target (legacy=%v)", legacy)
			}
		}
	})
	g.waitEnded()
	transfers := rows[store.FileTransfer](g)
	var up, down, denied int
	for _, tr := range transfers {
		switch {
		case !tr.Allowed:
			denied++
			if tr.Username != "bob" {
				t.Errorf("denied transfer by %q, want bob", tr.Username)
			}
		case tr.Direction == "upload":
			up++
			if tr.SHA256 != sum(payload) || tr.Size != int64(len(payload)) || tr.Path != remote || tr.SessionID == "" || tr.AssetName != "web01" {
				t.Errorf("upload row: got %+v, want path, size and SHA-256 of the payload", tr)
			}
		case tr.Direction == "download":
			down++
			if tr.SHA256 != sum(payload) {
				t.Errorf("download row: got %+v, want the payload's SHA-256", tr)
			}
		}
	}
	if up != 1 || down != 3 || denied != 2 {
		t.Errorf("transfers: got %d uploads, %d downloads, %d denied, want 1, 3, 2", up, down, denied)
	}
	if len(g.oplogRows("ssh.transfer_denied")) < 2 {
		t.Error("denied uploads not audited")
	}
}

func TestLocalForwarding(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	carol := g.user("carol")
	g.grant("carol-forward", []*store.User{carol}, []*store.Asset{g.web01}, []string{store.AccountAll}, store.ActionConnect, store.ActionForward)
	dest := net.JoinHostPort("127.0.0.1", strconv.Itoa(sshd.port))
	banner := func(user string) (string, error) {
		c, err := rawClient(g, user, testPassword)
		if err != nil {
			return "", err
		}
		defer c.Close()
		conn, err := c.Dial("tcp", dest)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(conn, buf, 8)
		return string(buf[:n]), err
	}
	if _, err := banner("alice@web01"); err == nil {
		t.Error("alice forwarded without the forward action")
	}
	if got := g.oplogRows("ssh.forward_denied"); len(got) != 1 || got[0].Username != alice.Username {
		t.Errorf("forward_denied rows: got %+v, want one for alice", got)
	}
	got, err := banner("carol@web01")
	if err != nil || !strings.HasPrefix(got, "SSH-2.0-OpenSSH") {
		t.Fatalf("carol's forward: got %q, %v, want the target's SSH banner", got, err)
	}
	eventually(t, "the forward audit row", func() bool { return len(g.oplogRows("ssh.forward")) == 1 })
	if row := g.oplogRows("ssh.forward")[0]; !strings.Contains(row.Detail, dest) || !strings.Contains(row.Detail, "bytes") {
		t.Errorf("forward row: got %q, want the destination and byte counts", row.Detail)
	}
	// Remote forwarding is refused and audited.
	c, err := rawClient(g, "carol@web01", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ln, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Error("remote forwarding accepted")
	}
	var _ ssh.Conn = c
}

func TestAgentForwarding(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	dir, err := os.MkdirTemp("", "pcgw-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Skipf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agentCmd.Process.Kill(); agentCmd.Wait() })
	eventually(t, "ssh-agent", func() bool { _, err := os.Stat(sock); return err == nil })
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	env := []string{"SSH_AUTH_SOCK=" + sock}
	list := func() *term {
		// Not sshArgs: its IdentityAgent=none would win (ssh keeps the first value).
		return run(t, env, "ssh", "-F", "/dev/null", "-p", strconv.Itoa(g.port), "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentityAgent="+sock, "-A", "-i", key, "-o", "IdentitiesOnly=yes",
			"alice@web01@127.0.0.1", "ssh-add -l")
	}
	c := list()
	c.expect("not permitted")
	c.wait()
	if got := g.oplogRows("ssh.agent_denied"); len(got) != 1 {
		t.Errorf("agent_denied rows: got %d, want 1", len(got))
	}

	g.grant("alice-agent", []*store.User{alice}, []*store.Asset{g.web01}, []string{store.AccountAll}, store.ActionConnect, store.ActionAgent)
	c = list()
	c.expect("ED25519")
	if got := c.wait(); got != 0 {
		t.Errorf("ssh-add -l exit status: got %v, want 0", got)
	}
}
