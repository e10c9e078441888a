package reach

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/store"
)

// netLab is two network namespaces made by the test:
//
//	root ns 10.231.A.1 --veth-- 10.231.A.2 gateway ns 10.231.B.1 --veth-- 10.231.B.2 inner ns
//
// The root namespace (where the Dialer runs) reaches the gateway namespace
// only; only the gateway namespace reaches the inner one.
type netLab struct {
	gwNS, innerNS string
	gwOuter       string // the gateway namespace's address seen from the root namespace
	gwInner       string // the gateway namespace's address on the inner link
	inner         string // the inner namespace's address
}

func ipCmd(args ...string) error {
	out, err := exec.Command("/usr/sbin/ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("zone test skipped: network namespaces need root (run the tests as root)")
	}
	if _, err := os.Stat("/usr/sbin/ip"); err != nil {
		skipUnlessCI(t, "zone test skipped: /usr/sbin/ip missing (apt-get install iproute2)")
	}
	requireSSHD(t)
	r := randHex(3)
	l := &netLab{gwNS: "pc-gw-" + r, innerNS: "pc-in-" + r}
	if err := ipCmd("netns", "add", l.gwNS); err != nil {
		skipUnlessCI(t, "zone test skipped: `ip netns add` is not permitted here: %v", err)
	}
	t.Cleanup(func() { deleteNetns(t, l.gwNS) })
	if err := ipCmd("netns", "add", l.innerNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNetns(t, l.innerNS) })

	a, b := freeSubnets(t)
	l.gwOuter = fmt.Sprintf("10.231.%d.2", a)
	l.gwInner = fmt.Sprintf("10.231.%d.1", b)
	l.inner = fmt.Sprintf("10.231.%d.2", b)
	outerRoot, outerGw := "pcg"+r+"a", "pcg"+r+"b"
	innerGw, innerIn := "pci"+r+"a", "pci"+r+"b"
	t.Cleanup(func() { exec.Command("/usr/sbin/ip", "link", "del", outerRoot).Run() }) // gone with the namespace already, normally
	steps := [][]string{
		{"link", "add", outerRoot, "type", "veth", "peer", "name", outerGw, "netns", l.gwNS},
		{"addr", "add", fmt.Sprintf("10.231.%d.1/24", a), "dev", outerRoot},
		{"link", "set", outerRoot, "up"},
		{"-n", l.gwNS, "link", "set", "lo", "up"},
		{"-n", l.gwNS, "addr", "add", l.gwOuter + "/24", "dev", outerGw},
		{"-n", l.gwNS, "link", "set", outerGw, "up"},
		{"-n", l.gwNS, "link", "add", innerGw, "type", "veth", "peer", "name", innerIn, "netns", l.innerNS},
		{"-n", l.gwNS, "addr", "add", l.gwInner + "/24", "dev", innerGw},
		{"-n", l.gwNS, "link", "set", innerGw, "up"},
		{"-n", l.innerNS, "link", "set", "lo", "up"},
		{"-n", l.innerNS, "addr", "add", l.inner + "/24", "dev", innerIn},
		{"-n", l.innerNS, "link", "set", innerIn, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// freeSubnets picks two 10.231.x.0/24 subnets no route of the root namespace uses.
func freeSubnets(t *testing.T) (int, int) {
	t.Helper()
	out, err := exec.Command("/usr/sbin/ip", "-4", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
	used := string(out)
	for range 100 {
		a := rand.IntN(127) * 2
		b := a + 1
		if !strings.Contains(used, fmt.Sprintf("10.231.%d.", a)) && !strings.Contains(used, fmt.Sprintf("10.231.%d.", b)) {
			return a, b
		}
	}
	t.Fatal("no free 10.231.x.0/24 subnet")
	return 0, 0
}

// deleteNetns kills what runs in a namespace this test made, then deletes it
// (its veth ends, and their peers, go with it).
func deleteNetns(t *testing.T, ns string) {
	out, _ := exec.Command("/usr/sbin/ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ipCmd("netns", "del", ns)
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// throwawayUser creates a local user with a password for the test's duration.
func throwawayUser(t *testing.T, password string) string {
	t.Helper()
	name := "pcreach" + randHex(3)
	if out, err := exec.Command("useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// -f: another test's leftover process may run under the same (reused) uid.
		if out, err := exec.Command("userdel", "-f", name).CombinedOutput(); err != nil {
			t.Errorf("cleanup: userdel %s: %v: %s", name, err, out)
		}
	})
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	return name
}

func TestZoneThroughGatewayInNetworkNamespaces(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("zone test skipped: network namespaces need root (run the tests as root)")
	}
	gwPassword := "Gw-" + randHex(8)
	gwUser := throwawayUser(t, gwPassword) // first: removed last, after the namespaces' processes
	lab := newNetLab(t)
	e := newTestEnv(t)
	k := newClientKey(t)

	target := startSSHD(t, sshdOpts{netns: lab.innerNS, addr: lab.inner, port: 22, authz: k.authz})
	gw1 := startSSHD(t, sshdOpts{netns: lab.gwNS, addr: lab.gwOuter, port: 22, authz: k.authz})
	gw2 := startSSHD(t, sshdOpts{netns: lab.gwNS, addr: lab.gwOuter, port: 2222, password: true})

	z := e.zone(t, "dmz")
	g1 := e.gateway(t, z, "gw1", lab.gwOuter, 22, 1, "root", store.SecretSSHKey, k.pem)
	g2 := e.gateway(t, z, "gw2", lab.gwOuter, 2222, 2, gwUser, store.SecretPassword, gwPassword)
	web01 := e.asset(t, "web01", lab.inner, z)

	t.Run("root namespace cannot reach the target", func(t *testing.T) {
		// The root namespace has no route to the inner subnet. Its default route
		// may lead to a network that accepts any TCP connection (a sandbox's
		// proxy), so "reached" means: the target's SSH banner came back.
		c, err := net.DialTimeout("tcp", net.JoinHostPort(lab.inner, "22"), time.Second)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		buf := make([]byte, 64)
		n, _ := io.ReadAtLeast(c, buf, 4)
		if strings.HasPrefix(string(buf[:n]), "SSH-") {
			t.Fatalf("the root namespace talked to the target's sshd directly (%q), want it reachable through the gateway only", buf[:n])
		}
	})

	t.Run("through the first gateway", func(t *testing.T) {
		d := e.dialer(t)
		c, err := d.SSH(e.ctx, web01, 22, rootConfig(k))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := run(t, c, "echo ok"); got != "ok\n" {
			t.Errorf("got %q, want ok", got)
		}
		if got := run(t, c, "ip -o -4 addr show"); !strings.Contains(got, lab.inner+"/24") {
			t.Errorf("the command did not run in the inner namespace: %s", got)
		}
		if log := target.logText(); !strings.Contains(log, "Accepted publickey for root from "+lab.gwInner) {
			t.Errorf("the target did not see the gateway as the client:\n%s", log)
		}
		if got := c.Conn.(interface{ RemoteAddr() net.Addr }).RemoteAddr().String(); got != net.JoinHostPort(lab.inner, "22") {
			t.Errorf("got remote %v, want the target", got)
		}
	})

	t.Run("failover when the first gateway is down", func(t *testing.T) {
		gw1.stop()
		d := e.dialer(t) // a fresh pool: no client to gw1 survives
		c, err := d.SSH(e.ctx, web01, 22, rootConfig(k))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := run(t, c, "echo ok"); got != "ok\n" {
			t.Errorf("got %q, want ok", got)
		}
		if !d.Unhealthy(g1.ID) || d.Unhealthy(g2.ID) {
			t.Errorf("got gw1 unhealthy=%v gw2 unhealthy=%v, want true, false", d.Unhealthy(g1.ID), d.Unhealthy(g2.ID))
		}
		if log := gw2.logText(); !strings.Contains(log, "Accepted password for "+gwUser) {
			t.Errorf("gw2 (password auth) was not used:\n%s", log)
		}
	})

	t.Run("changed target host key is refused and audited", func(t *testing.T) {
		old := target.hostKey()
		target.newHostKey()
		target.restart()
		d := e.dialer(t)
		_, err := d.SSH(e.ctx, web01, 22, rootConfig(k))
		if !errors.Is(err, hostkey.ErrChanged) {
			t.Fatalf("got %v, want a host key mismatch", err)
		}
		addr := net.JoinHostPort(lab.inner, "22")
		want := fmt.Sprintf("reach: asset web01 (%s) via gateway gw2 (%s): ssh: handshake failed: hostkey: REMOTE HOST IDENTIFICATION HAS CHANGED for web01 (%s): expected %s, got %s",
			addr, net.JoinHostPort(lab.gwOuter, "2222"), addr, fingerprint(old), fingerprint(target.hostKey()))
		if got := err.Error(); got != want {
			t.Errorf("got %v, want %v", got, want)
		}
		ops := e.oplog(t, hostkey.ActionMismatch)
		if len(ops) != 1 || ops[0].Success || ops[0].ResourceName != "web01" || ops[0].RemoteAddr != addr {
			t.Errorf("got %+v, want one failed hostkey.mismatch row for web01", ops)
		}
	})

	var rows []store.HostKey
	e.s.DB.Order("id").Find(&rows)
	kinds := map[string]int{}
	for _, r := range rows {
		kinds[r.OwnerKind]++
	}
	if kinds[hostkey.OwnerAsset] != 1 || kinds[hostkey.OwnerGateway] != 2 {
		t.Errorf("got recorded keys %v, want 1 asset and 2 gateways", kinds)
	}
}
