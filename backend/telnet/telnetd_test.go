package telnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// telnetd is the real inetutils telnetd behind socat on a loopback port, with
// a device-like login script instead of /bin/login.
type telnetd struct {
	addr string
}

const (
	devUser = "netops"
	devPass = "S3cret-pa55"
	devPS1  = "pc-device$ "
)

// loginScript prints a banner, asks for the username and the password (echo
// off), checks them and execs an interactive shell with a known prompt.
var loginScript = `#!/bin/sh
printf 'Portcullis test device\n\n'
tries=0
while [ $tries -lt 3 ]; do
	printf 'login: '
	IFS= read -r user || exit 1
	stty -echo
	printf 'Password: '
	IFS= read -r pass || exit 1
	stty echo
	printf '\n'
	if [ "$user" = "` + devUser + `" ] && [ "$pass" = "` + devPass + `" ]; then
		printf 'Last login: never\n'
		PS1='` + devPS1 + `' exec /bin/sh -i
	fi
	sleep 0.3
	printf 'Login incorrect\n'
	tries=$((tries+1))
done
exit 1
`

func startTelnetd(t *testing.T) *telnetd {
	t.Helper()
	for _, p := range []string{"/usr/sbin/telnetd", "/usr/bin/socat"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing (apt-get install inetutils-telnetd socat): %v", p, err)
		}
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "device-login")
	if err := os.WriteFile(script, []byte(loginScript), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("/usr/bin/socat",
		fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", port),
		"EXEC:/usr/sbin/telnetd -h -E "+script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // socat and the telnetds it forked
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat did not listen on %s: %v: %s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &telnetd{addr: addr}
}

func (d *telnetd) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect reads from c until the output matches re or the timeout passes.
func expect(t *testing.T, c *Conn, re string, timeout time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var got []byte
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	for !rx.Match(got) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; got %q", re, err, got)
		}
	}
	return string(got)
}

func TestRealTelnetdLoginCommandAndWindowSize(t *testing.T) {
	d := startTelnetd(t)
	ctx := context.Background()
	c, err := Dial(ctx, d.dial(t), Options{Username: devUser, Password: devPass, Cols: 132, Rows: 43, Term: "vt220", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	banner := string(c.Banner())
	for _, want := range []string{"Portcullis test device", "login: ", "Password: ", "Last login: never", devPS1} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q: %q", want, banner)
		}
	}
	if strings.Contains(banner, devPass) {
		t.Errorf("banner holds the password: %q", banner)
	}
	if !strings.HasSuffix(banner, devPS1) {
		t.Errorf("banner does not end with the shell prompt: %q", banner)
	}
	// inetutils telnetd accepts binary input but keeps its output in NVT mode.
	if got, want := c.Negotiated(), (OptionState{SendBinary: true, NAWS: true, TTYPE: true, Echo: true, SGA: true}); got != want {
		t.Errorf("got options %+v, want %+v", got, want)
	}

	c.Write([]byte("echo hello-$((6*7))\r"))
	expect(t, c, `hello-42\r?\n`+regexp.QuoteMeta(devPS1), 5*time.Second)

	c.Write([]byte("stty size; echo $TERM\r"))
	expect(t, c, `43 132\r?\nvt220\r?\n`+regexp.QuoteMeta(devPS1), 5*time.Second)
	if err := c.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("stty size\r"))
	expect(t, c, `30 100\r?\n`+regexp.QuoteMeta(devPS1), 5*time.Second)
}

func TestRealTelnetdByte0xFFRoundTrips(t *testing.T) {
	d := startTelnetd(t)
	c, err := Dial(context.Background(), d.dial(t), Options{Username: devUser, Password: devPass, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Input: a raw 0xFF byte inside a command line reaches the shell.
	c.Write([]byte("printf %s 'A\xffB' | od -An -tx1\r"))
	expect(t, c, `41 ff 42\r?\n`, 5*time.Second)
	// Output: bytes 0xFF printed by the shell come back as 0xFF (telnetd sends IAC IAC).
	c.Write([]byte("printf 'X\\377\\377Y\\n'\r"))
	out := expect(t, c, `Y\r?\n`+regexp.QuoteMeta(devPS1), 5*time.Second)
	if !strings.Contains(out, "X\xff\xffY\r\n") {
		t.Errorf("got %q, want a line X 0xFF 0xFF Y", out)
	}
}

func TestRealTelnetdWrongPassword(t *testing.T) {
	d := startTelnetd(t)
	start := time.Now()
	_, err := Dial(context.Background(), d.dial(t), Options{Username: devUser, Password: "wrong", Timeout: 10 * time.Second})
	if !errors.Is(err, ErrLoginFailed) {
		t.Fatalf("got %v, want ErrLoginFailed", err)
	}
	if got, want := err.Error(), `telnet: login failed: the device said "Login incorrect"`; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v to see the refusal", el)
	}
}
