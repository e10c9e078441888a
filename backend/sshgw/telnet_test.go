package sshgw_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/store"
)

const (
	devUser = "netops"
	devPass = "S3cret-pa55"
)

// deviceLogin is a device-like login served by the real telnetd: banner,
// login and password prompts, then a shell with a known prompt.
const deviceLogin = `#!/bin/sh
printf 'Portcullis test device\n\n'
printf 'login: '
IFS= read -r user || exit 1
stty -echo
printf 'Password: '
IFS= read -r pass || exit 1
stty echo
printf '\n'
if [ "$user" = "` + devUser + `" ] && [ "$pass" = "` + devPass + `" ]; then
	PS1='device# ' exec /bin/sh -i
fi
printf 'Login incorrect\n'
exit 1
`

// startTelnetd runs inetutils telnetd behind socat on a loopback port.
func startTelnetd(t *testing.T) int {
	t.Helper()
	for _, p := range []string{"/usr/sbin/telnetd", "/usr/bin/socat"} {
		if _, err := os.Stat(p); err != nil {
			skipUnlessCI(t, "%s missing (apt-get install inetutils-telnetd socat): %v", p, err)
		}
	}
	script := filepath.Join(t.TempDir(), "device-login")
	os.WriteFile(script, []byte(deviceLogin), 0o755)
	port := freePort()
	cmd := exec.Command("/usr/bin/socat", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", port), "EXEC:/usr/sbin/telnetd -h -E "+script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	eventually(t, "telnetd to listen", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port
}

func TestTelnetThroughPicker(t *testing.T) {
	needTarget(t)
	t.Parallel()
	port := startTelnetd(t)
	g := newGW(t)
	alice := g.user("alice")
	key := g.clientKey(alice)
	sw := g.asset("switch01", store.Protocol{Name: "telnet", Port: port})
	acc := g.account(sw, "admin", store.SecretPassword, devPass)
	g.st.DB.Model(acc).Update("username", devUser)
	g.grant("alice-switch", []*store.User{alice}, []*store.Asset{sw}, []string{store.AccountAll}, store.ActionConnect)

	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@127.0.0.1")...)
	c.expect("switch01")
	c.send("\r")
	c.expect("device# ")
	c.send("echo on-the-$((3*3))-device\r")
	c.expect("on-the-9-device")
	c.send("exit\r")
	c.expect("Disconnected from switch01")
	c.send("q")
	c.wait()
	g.waitEnded()
	s := rows[store.Session](g)
	if len(s) != 1 || s[0].Protocol != "telnet" || s[0].AccountName != "admin" {
		t.Fatalf("sessions: got %+v, want one telnet session as admin", s)
	}
}
