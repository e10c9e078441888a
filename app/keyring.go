package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// secretStore is an OS keyring: the Secret Service of the desktop session
// (GNOME Keyring, KWallet, KeePassXC). The token store keeps its key there
// when there is one.
type secretStore interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
}

// errSecretNotFound is what a secretStore answers for an item it does not hold.
var errSecretNotFound = keyring.ErrNotFound

// keyringTimeout bounds a keyring call: a keyring that waits for the user to
// unlock it (a prompt nobody answers, a session without a display) must not
// hang the window; the token store then falls back to its key file. A
// variable for the tests.
var keyringTimeout = 5 * time.Second

// goKeyring is the OS keyring through github.com/zalando/go-keyring.
type goKeyring struct{}

func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (goKeyring) Set(service, user, secret string) error   { return keyring.Set(service, user, secret) }

// boundedStore bounds each call of a secretStore by keyringTimeout.
type boundedStore struct{ secretStore }

func (b boundedStore) Get(service, user string) (string, error) {
	var v string
	err := bounded(func() (err error) { v, err = b.secretStore.Get(service, user); return err })
	return v, err
}

func (b boundedStore) Set(service, user, secret string) error {
	return bounded(func() error { return b.secretStore.Set(service, user, secret) })
}

// newOSKeyring answers the OS keyring, or nil where there is none to use: on
// Linux, a session without a D-Bus session bus (a server, a bare X session, a
// test under Xvfb). Without the bus, the D-Bus library would try to start one
// with dbus-launch, which is not ours to do. PORTCULLIS_KEYRING=off turns the
// keyring off.
func newOSKeyring() secretStore {
	if os.Getenv("PORTCULLIS_KEYRING") == "off" {
		return nil
	}
	if runtime.GOOS == "linux" && !sessionBus() {
		return nil
	}
	return boundedStore{goKeyring{}}
}

// sessionBus says whether a D-Bus session bus is there to reach: named by
// DBUS_SESSION_BUS_ADDRESS, or the systemd user bus $XDG_RUNTIME_DIR/bus. The
// D-Bus library looks for the latter only under /run/user/<uid>, so a bus
// found there is named in DBUS_SESSION_BUS_ADDRESS for it.
func sessionBus() bool {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return true
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return false
	}
	path := filepath.Join(dir, "bus")
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeSocket == 0 {
		return false
	}
	return os.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+path) == nil
}

// bounded runs f, giving up after keyringTimeout (f then finishes on its own).
func bounded(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(keyringTimeout):
		return fmt.Errorf("app: the OS keyring did not answer within %v", keyringTimeout)
	}
}

// isNotFound says whether err is a keyring's "no such item".
func isNotFound(err error) bool { return errors.Is(err, errSecretNotFound) }
