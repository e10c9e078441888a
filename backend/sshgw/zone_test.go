package sshgw_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	assetpkg "github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// netns runs a command, failing the test on error.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// startSSHDIn runs an sshd for the throwaway account inside network
// namespace ns, listening on addr:22.
func startSSHDIn(t *testing.T, ns, addr string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sshgw-zone-") // t.TempDir's parent is 0700: sshd reads as the user
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	authKeys := filepath.Join(dir, "authorized_keys")
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(sshdConfigPath()), "authorized_keys"))
	os.WriteFile(authKeys, data, 0o644)
	hostKey := filepath.Join(dir, "host_ed25519")
	sh(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	cfg := filepath.Join(dir, "sshd_config")
	pid := filepath.Join(dir, "sshd.pid")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Port 22\nListenAddress %s\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\nStrictModes no\nUsePAM no\nAllowUsers %s\nAllowTcpForwarding yes\nLogLevel ERROR\n",
		addr, hostKey, pid, authKeys, sshd.user)), 0o600)
	cmd := exec.Command("ip", "netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, "sshd in "+ns, func() bool { _, err := os.Stat(pid); return err == nil })
}

// TestZoneThroughGateway reaches an asset that only a zone gateway can
// reach: the target sshd lives in a network namespace behind the gateway's.
func TestZoneThroughGateway(t *testing.T) {
	needTarget(t)
	if _, err := exec.LookPath("ip"); err != nil {
		skipUnlessCI(t, "iproute2 not installed")
	}
	t.Parallel()
	var rb [3]byte
	rand.Read(rb[:])
	id := fmt.Sprintf("%x", rb)
	gwNS, inNS := "pcgwg"+id, "pcgwi"+id
	sub := 100 + int(rb[0])%100 // 10.<sub>.1.0/24 and 10.<sub>.2.0/24
	if out, err := exec.Command("ip", "netns", "add", gwNS).CombinedOutput(); err != nil {
		skipUnlessCI(t, "cannot create network namespaces: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", gwNS).Run() })
	sh(t, "ip", "netns", "add", inNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", inNS).Run() })
	outer, inner := "pco"+id, "pci"+id
	sh(t, "ip", "link", "add", outer, "type", "veth", "peer", "name", outer+"g")
	t.Cleanup(func() { exec.Command("ip", "link", "del", outer).Run() })
	sh(t, "ip", "link", "set", outer+"g", "netns", gwNS)
	sh(t, "ip", "addr", "add", fmt.Sprintf("10.%d.1.1/24", sub), "dev", outer)
	sh(t, "ip", "link", "set", outer, "up")
	sh(t, "ip", "-n", gwNS, "addr", "add", fmt.Sprintf("10.%d.1.2/24", sub), "dev", outer+"g")
	sh(t, "ip", "-n", gwNS, "link", "set", outer+"g", "up")
	sh(t, "ip", "-n", gwNS, "link", "set", "lo", "up")
	sh(t, "ip", "-n", gwNS, "link", "add", inner, "type", "veth", "peer", "name", inner+"i")
	sh(t, "ip", "-n", gwNS, "link", "set", inner+"i", "netns", inNS)
	sh(t, "ip", "-n", gwNS, "addr", "add", fmt.Sprintf("10.%d.2.1/24", sub), "dev", inner)
	sh(t, "ip", "-n", gwNS, "link", "set", inner, "up")
	sh(t, "ip", "-n", inNS, "addr", "add", fmt.Sprintf("10.%d.2.2/24", sub), "dev", inner+"i")
	sh(t, "ip", "-n", inNS, "link", "set", inner+"i", "up")
	gwAddr, targetAddr := fmt.Sprintf("10.%d.1.2", sub), fmt.Sprintf("10.%d.2.2", sub)
	startSSHDIn(t, gwNS, gwAddr)
	startSSHDIn(t, inNS, targetAddr)

	g := newGW(t)
	alice := g.user("alice")
	key := g.clientKey(alice)
	zone := &store.Zone{OrgID: g.org.ID, Name: "dmz"}
	storetest.MustCreate(t, g.st.DB, zone)
	gw := &store.Gateway{OrgID: g.org.ID, ZoneID: zone.ID, Name: "jump", Address: gwAddr, Port: 22, Username: sshd.user,
		SecretType: store.SecretSSHKey, Priority: 1, IsActive: true}
	storetest.MustCreate(t, g.st.DB, gw)
	if err := assetpkg.SealGatewaySecret(g.vault, gw, string(sshd.key)); err != nil {
		t.Fatal(err)
	}
	g.st.DB.Save(gw)
	a := g.asset("inner01", store.Protocol{Name: "ssh", Port: 22})
	g.st.DB.Model(a).Updates(map[string]any{"address": targetAddr, "zone_id": zone.ID})
	g.account(a, "deploy", store.SecretSSHKey, string(sshd.key))
	g.grant("alice-inner", []*store.User{alice}, []*store.Asset{a}, []string{store.AccountAll}, store.ActionConnect)

	c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@inner01@127.0.0.1", "ip -brief addr show "+inner+"i")...)
	c.expect(targetAddr)
	if got := c.wait(); got != 0 {
		t.Errorf("exit status: got %v, want 0", got)
	}
	_ = time.Second
}
