package sftpproxy

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// dialHarness opens a Go SSH client to the stand-in gateway.
func (h *harness) dialHarness(t *testing.T) *ssh.Client {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(mustRead(t, h.keyPath))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", h.addr, &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(h.signer.PublicKey()),
	})
	if err != nil {
		t.Fatalf("dial harness: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSCPBadInput plays a hostile scp client: malformed records, names that
// climb out of the target directory, truncated data. Each must be refused
// with an error record, nothing may be written outside the target, and the
// server must end the session with exit status 1.
func TestSCPBadInput(t *testing.T) {
	target := startTargetSSHD(t)
	tests := []struct {
		name    string
		command string // %R is the remote directory
		send    string // written after the initial acknowledgement
		wantMsg string // in the error record answered
		wantErr error
	}{
		{name: "dot dot name", command: "scp -t %R/in", send: "C0644 5 ..\nhello\x00", wantMsg: "unexpected filename", wantErr: ErrProtocol},
		{name: "slash in name", command: "scp -t %R/in", send: "C0644 5 ../evil\nhello\x00", wantMsg: "unexpected filename", wantErr: ErrProtocol},
		{name: "directory without -r", command: "scp -t %R/in", send: "D0755 0 evil\n", wantMsg: "received directory without -r", wantErr: ErrProtocol},
		{name: "directory named dot dot", command: "scp -r -t %R/in", send: "D0755 0 ..\n", wantMsg: "unexpected filename", wantErr: ErrProtocol},
		{name: "garbage record", command: "scp -t %R/in", send: "Xgarbage\n", wantMsg: "expected control record", wantErr: ErrProtocol},
		{name: "bad mode", command: "scp -t %R/in", send: "C0X44 5 f\n", wantMsg: "bad mode", wantErr: ErrProtocol},
		{name: "size out of range", command: "scp -t %R/in", send: "C0644 99999999999999999999 f\n", wantMsg: "out of range", wantErr: ErrProtocol},
		{name: "record too long", command: "scp -t %R/in", send: "C0644 1 " + strings.Repeat("a", 70000) + "\n", wantMsg: "too long", wantErr: ErrProtocol},
		{name: "E at top level", command: "scp -t %R/in", send: "E\n", wantMsg: "E record outside a directory", wantErr: ErrProtocol},
		{name: "bad times", command: "scp -t %R/in", send: "T1 2000000 3 0\n", wantMsg: "microseconds", wantErr: ErrProtocol},
		{name: "unknown flag", command: "scp -x -t %R/in", wantMsg: "unknown flag", wantErr: ErrBadCommand},
		{name: "both directions", command: "scp -t -f %R/in", wantMsg: "exactly one of -t and -f", wantErr: ErrBadCommand},
		{name: "home of another user", command: "scp -f ~root/.ssh/id_rsa", wantMsg: "~user", wantErr: ErrBadCommand},
		{name: "variable", command: "scp -f $HOME/x", wantMsg: "shell syntax", wantErr: ErrBadCommand},
		{name: "backquotes", command: "scp -t %R/`id`", wantMsg: "shell syntax", wantErr: ErrBadCommand},
		{name: "redirect", command: "scp -t %R/in >%R/evil", wantMsg: "shell syntax", wantErr: ErrBadCommand},
		{name: "ambiguous target", command: "scp -t %R/in %R/other", wantMsg: "ambiguous target", wantErr: ErrTransfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := t.TempDir()
			if err := os.Mkdir(filepath.Join(remote, "in"), 0o755); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}})
			c := h.dialHarness(t)
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			stdin, _ := sess.StdinPipe()
			stdout, _ := sess.StdoutPipe()
			command := strings.ReplaceAll(tt.command, "%R", remote)
			if err := sess.Start(command); err != nil {
				t.Fatalf("start %q: %v", command, err)
			}
			r := bufio.NewReader(stdout)
			first, err := r.ReadByte()
			if err != nil {
				t.Fatalf("first answer: %v", err)
			}
			var answer string
			if first == 0 {
				if _, err := io.WriteString(stdin, tt.send); err != nil {
					t.Fatalf("send: %v", err)
				}
				_ = stdin.Close()
				b, err := r.ReadByte()
				if err != nil {
					t.Fatalf("answer to %q: %v", clip(tt.send, 40), err)
				}
				first = b
			}
			line, _ := r.ReadString('\n')
			answer = string([]byte{first}) + line
			if first != 1 || !strings.Contains(answer, tt.wantMsg) {
				t.Errorf("got answer %q, want an error record with %q", answer, tt.wantMsg)
			}
			_ = stdin.Close()
			var exitErr *ssh.ExitError
			if err := sess.Wait(); !errors.As(err, &exitErr) || exitErr.ExitStatus() != 1 {
				t.Errorf("got exit %v, want exit status 1", err)
			}
			entries, _ := os.ReadDir(remote)
			for _, e := range entries {
				if e.Name() != "in" {
					t.Errorf("found %s in the remote directory, want only in/", e.Name())
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(remote, "in")); len(entries) != 0 {
				t.Errorf("got %d entries in the target directory, want none", len(entries))
			}
			for _, res := range h.Results() {
				if !errors.Is(res.err, tt.wantErr) {
					t.Errorf("ServeSCP returned %v, want %v", res.err, tt.wantErr)
				}
			}
			found := false
			for _, d := range h.sink.Denials() {
				found = found || d.Op == "scp"
			}
			if tt.wantErr != ErrTransfer && !found {
				t.Errorf("got denials %+v, want an scp denial", h.sink.Denials())
			}
		})
	}
}

// TestSCPTruncatedUpload cuts the data of a file short: the session must end
// with an error, and what reached the target must be recorded.
func TestSCPTruncatedUpload(t *testing.T) {
	target := startTargetSSHD(t)
	remote := t.TempDir()
	h := newHarness(t, target, Options{Policy: Policy{Upload: true}})
	c := h.dialHarness(t)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	if err := sess.Start("scp -t " + remote); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if b, err := r.ReadByte(); err != nil || b != 0 {
		t.Fatalf("initial ack: got %v %v, want 0", b, err)
	}
	_, _ = io.WriteString(stdin, "C0644 100 cut.txt\n")
	if b, err := r.ReadByte(); err != nil || b != 0 {
		t.Fatalf("C ack: got %v %v, want 0", b, err)
	}
	_, _ = io.WriteString(stdin, "only ten b")
	_ = stdin.Close()
	var exitErr *ssh.ExitError
	if err := sess.Wait(); err != nil && !errors.As(err, &exitErr) {
		t.Logf("session ended with %v", err)
	}
	res := h.Results()
	if len(res) != 1 || !errors.Is(res[0].err, ErrProtocol) {
		t.Fatalf("got results %+v, want one ending with a protocol error", res)
	}
	tr := h.sink.Transfers()
	if len(tr) != 1 || tr[0].Path != remote+"/cut.txt" || tr[0].Size != 10 || tr[0].SHA256 != "" || !tr[0].Allowed {
		t.Errorf("got transfers %+v, want one partial upload of 10 bytes without a digest", tr)
	}
}
