package app

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTokenStoreKeyring runs the token store against a real GNOME Keyring
// (gnome-keyring-daemon's Secret Service on a private D-Bus session bus, with
// its keyrings in a temporary home): the key goes to the keyring and not to
// disk, tokens sealed with an older key file still open and the file goes once
// nothing needs it, and a session that cannot reach the keyring cannot open
// what was sealed with it.
func TestTokenStoreKeyring(t *testing.T) {
	startKeyring(t)
	kr := newOSKeyring()
	if kr == nil {
		t.Fatal("newOSKeyring: nil with DBUS_SESSION_BUS_ADDRESS set")
	}
	dir := t.TempDir()

	// A token sealed before there was a keyring: its key is a file.
	old := &tokenStore{dir: dir}
	if where, err := old.put("r-old", "pcs_sealed-with-the-file"); err != nil || where != keyInFile {
		t.Fatalf("put without a keyring: %q, %v", where, err)
	}

	s := &tokenStore{dir: dir, keyring: kr}
	const tok = "pcs_SECRET-keyring-token"
	if where, err := s.put("r-1", tok); err != nil || where != keyInKeyring {
		t.Fatalf("put with the keyring: %q, %v", where, err)
	}
	if _, err := os.Stat(filepath.Join(dir, tokenKeyFile)); err != nil {
		t.Errorf("the key file went while an entry still needs it: %v", err)
	}
	if got := (&tokenStore{dir: dir, keyring: kr}).get("r-1"); got != tok {
		t.Errorf("get: %q, want %q", got, tok)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, tokenFile))
	if bytes.Contains(raw, []byte("SECRET")) {
		t.Fatal("the token is in plain text on disk")
	}

	// The key is an item of the keyring, as the keyring's own client sees it.
	out, err := exec.Command("secret-tool", "lookup", "service", keyringService, "username", s.keyringUser()).Output()
	if err != nil {
		t.Fatalf("secret-tool lookup: %v", err)
	}
	if len(strings.TrimSpace(string(out))) != 44 { // base64 of 32 bytes
		t.Errorf("secret-tool: the keyring item is %q, want a base64 key", out)
	}

	// Opened, the token sealed with the key file moves to the keyring's key, and
	// the key file, needed by no entry any more, goes.
	if got := s.get("r-old"); got != "pcs_sealed-with-the-file" {
		t.Errorf("the token sealed with the key file: %q", got)
	}
	if m, _ := s.load(); m["r-old"].Key != keyInKeyring {
		t.Errorf("the token opened with the key file is still sealed by %q", m["r-old"].Key)
	}
	if _, err := os.Stat(filepath.Join(dir, tokenKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key file is still there with every entry sealed by the keyring: %v", err)
	}
	if got := (&tokenStore{dir: dir, keyring: kr}).get("r-old"); got != "pcs_sealed-with-the-file" {
		t.Errorf("after the move: %q", got)
	}

	// A session without the keyring (no D-Bus) cannot open them, and seals new
	// tokens with a key file instead.
	bare := &tokenStore{dir: dir}
	if got := bare.get("r-1"); got != "" {
		t.Errorf("opened without the keyring: %q", got)
	}
	if where, err := bare.put("r-2", "pcs_bare"); err != nil || where != keyInFile {
		t.Fatalf("put without the keyring: %q, %v", where, err)
	}
	if s.get("r-2") != "pcs_bare" || s.get("r-1") != tok {
		t.Error("the store with the keyring lost an entry sealed by either key")
	}
	// The keyring item deleted (by the user, in their keyring manager): what it
	// sealed is lost, the login is asked for again, and a new key is made.
	if out, err := exec.Command("secret-tool", "clear", "service", keyringService, "username", s.keyringUser()).CombinedOutput(); err != nil {
		t.Fatalf("secret-tool clear: %v: %s", err, out)
	}
	fresh := &tokenStore{dir: dir, keyring: kr}
	if got := fresh.get("r-1"); got != "" {
		t.Errorf("opened with its keyring item deleted: %q", got)
	}
	if where, err := fresh.put("r-1", "pcs_again"); err != nil || where != keyInKeyring || fresh.get("r-1") != "pcs_again" {
		t.Errorf("a new login after the item was deleted: %q, %v", where, err)
	}
	s = fresh

	// Logging out of every profile leaves the keyring's key for the next login.
	for _, p := range []string{"r-1", "r-2", "r-old"} {
		if _, err := s.put(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kr.Get(keyringService, s.keyringUser()); err != nil {
		t.Errorf("the keyring item after logout: %v", err)
	}
}

// TestTokenStoreKeyringFails: a keyring that errors or does not answer does
// not lose the login: the token is sealed with a key file.
func TestTokenStoreKeyringFails(t *testing.T) {
	dir := t.TempDir()
	s := &tokenStore{dir: dir, keyring: brokenKeyring{}}
	if where, err := s.put("r-1", "pcs_x"); err != nil || where != keyInFile {
		t.Fatalf("put: %q, %v", where, err)
	}
	if got := s.get("r-1"); got != "pcs_x" {
		t.Errorf("get: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, tokenKeyFile)); err != nil {
		t.Errorf("no key file: %v", err)
	}
}

// TestTokenStoreKeyringHangs: a keyring that does not answer (a locked one
// whose unlock prompt nobody answers) costs one keyringTimeout per run, not
// one per call, and a late answer does not replace the key tokens were sealed
// with since.
func TestTokenStoreKeyringHangs(t *testing.T) {
	old := keyringTimeout
	keyringTimeout = 50 * time.Millisecond
	defer func() { keyringTimeout = old }()
	kr := &hangingKeyring{release: make(chan struct{})}
	defer close(kr.release)
	dir := t.TempDir()
	s := &tokenStore{dir: dir, keyring: boundedStore{kr}}
	t0 := time.Now()
	for _, p := range []string{"r-1", "r-2", "r-3"} {
		if where, err := s.put(p, "pcs_"+p); err != nil || where != keyInFile {
			t.Fatalf("put %s: %q, %v", p, where, err)
		}
	}
	if got := s.get("r-2"); got != "pcs_r-2" {
		t.Errorf("get: %q", got)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("three puts and a get took %v with a hanging keyring", d)
	}
	if n := kr.calls.Load(); n != 1 {
		t.Errorf("the hanging keyring was asked %d times, want once", n)
	}
}

// hangingKeyring answers nothing until release is closed.
type hangingKeyring struct {
	release chan struct{}
	calls   atomic.Int32
}

func (k *hangingKeyring) Get(string, string) (string, error) {
	k.calls.Add(1)
	<-k.release
	return "", errSecretNotFound
}

func (k *hangingKeyring) Set(string, string, string) error {
	k.calls.Add(1)
	<-k.release
	return nil
}

// brokenKeyring fails every call, as a keyring that refuses does (a dismissed
// unlock prompt).
type brokenKeyring struct{}

var errBroken = errors.New("org.freedesktop.DBus.Error.NoReply")

func (brokenKeyring) Get(string, string) (string, error) { return "", errBroken }
func (brokenKeyring) Set(string, string, string) error   { return errBroken }

// TestNewOSKeyringNeedsABus: with no session bus, no keyring is tried (the
// D-Bus library would otherwise run dbus-launch).
func TestNewOSKeyringNeedsABus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the session bus is Linux's")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	if newOSKeyring() != nil {
		t.Error("a keyring without a session bus")
	}
	// The systemd user bus in XDG_RUNTIME_DIR is named for the D-Bus library,
	// which looks only under /run/user/<uid>.
	ln, err := net.Listen("unix", filepath.Join(run, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if newOSKeyring() == nil {
		t.Error("no keyring with a bus at $XDG_RUNTIME_DIR/bus")
	}
	if got, want := os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path="+filepath.Join(run, "bus"); got != want {
		t.Errorf("DBUS_SESSION_BUS_ADDRESS = %q, want %q", got, want)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	t.Setenv("PORTCULLIS_KEYRING", "off")
	if newOSKeyring() != nil {
		t.Error("a keyring with PORTCULLIS_KEYRING=off")
	}
}

// startKeyring starts a D-Bus session bus and gnome-keyring-daemon (Secret
// Service only, its login keyring created and unlocked in a temporary home)
// for this test, and points DBUS_SESSION_BUS_ADDRESS at the bus.
func startKeyring(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"dbus-daemon", "gnome-keyring-daemon", "secret-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipUnlessCI(t, "%s not installed (make setup installs dbus, gnome-keyring and libsecret-tools): %v", tool, err)
		}
	}
	dir := t.TempDir()
	// A bus of our own with no service activation: the session bus's usual
	// configuration would start a second gnome-keyring-daemon (the system's
	// org.freedesktop.secrets service file, with the real home) on the first
	// call that comes before ours has taken the name.
	conf := filepath.Join(dir, "bus.conf")
	err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	bus := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	stdout, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	t.Setenv("PORTCULLIS_KEYRING", "")

	home := filepath.Join(dir, "home")
	gk := exec.Command("gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground")
	// Nothing of the developer's own session: no control socket of their keyring.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GNOME_KEYRING_") && !strings.HasPrefix(kv, "DBUS_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	gk.Env = append(env, "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_RUNTIME_DIR="+dir, "DBUS_SESSION_BUS_ADDRESS="+addr)
	gk.Stdin = strings.NewReader("test-login-password") // creates and unlocks the login keyring
	var logs bytes.Buffer
	gk.Stdout, gk.Stderr = &logs, &logs
	if err := gk.Start(); err != nil {
		t.Fatalf("gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { gk.Process.Kill(); gk.Wait() })
	// Ready once the Secret Service answers "no such item".
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := boundedStore{goKeyring{}}.Get(keyringService, "readiness probe")
		if isNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Secret Service did not come up: %v; gnome-keyring-daemon: %s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// skipUnlessCI skips a test whose real component is missing on a developer's
// machine; under CI (CI=true), where make test installs every component, a
// missing one is a failure, so a broken setup cannot pass as a skipped test.
func skipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required test component missing under CI: "+format, args...)
	}
	t.Skipf(format, args...)
}
