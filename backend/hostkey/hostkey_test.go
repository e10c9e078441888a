package hostkey_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// alarmRecorder is an Alarm that keeps the events.
type alarmRecorder struct {
	mu     sync.Mutex
	events []hostkey.Mismatch
}

func (a *alarmRecorder) HostKeyChanged(_ context.Context, ev hostkey.Mismatch) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
}

func (a *alarmRecorder) got() []hostkey.Mismatch {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]hostkey.Mismatch(nil), a.events...)
}

type env struct {
	s      *store.Store
	hk     *hostkey.Store
	alarm  *alarmRecorder
	clock  *fakeClock
	org    uint
	web01  uint
	gw1    uint
	ctx    context.Context
	cancel context.CancelFunc
}

func newEnv(t *testing.T, s *store.Store) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{s: s, alarm: &alarmRecorder{}, clock: newClock(), ctx: ctx, cancel: cancel}
	org, err := s.DefaultOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.org = org.ID
	a := &store.Asset{OrgID: e.org, Name: "web01", Address: "10.0.0.5", IsActive: true}
	storetest.MustCreate(t, s.DB, a)
	e.web01 = a.ID
	z := &store.Zone{OrgID: e.org, Name: "dmz"}
	storetest.MustCreate(t, s.DB, z)
	g := &store.Gateway{OrgID: e.org, ZoneID: z.ID, Name: "gw1", Address: "10.1.0.2", Port: 22, Username: "jump", SecretType: store.SecretPassword, IsActive: true}
	storetest.MustCreate(t, s.DB, g)
	e.gw1 = g.ID
	aud := audit.New(s.DB, nil, e.clock.Now)
	e.hk = hostkey.New(s.DB, aud, e.alarm, nil, e.clock.Now)
	return e
}

func (e *env) oplog(t *testing.T, action string) []store.OperationLog {
	t.Helper()
	var rows []store.OperationLog
	if err := e.s.DB.Where("action = ?", action).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

func (e *env) rows(t *testing.T) []store.HostKey {
	t.Helper()
	var rows []store.HostKey
	if err := e.s.DB.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

func edKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTrustOnFirstUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		k1, k2, k3 := edKey(t), edKey(t), ecKey(t)
		type step struct {
			name    string
			kind    string
			owner   func() uint
			addr    string
			key     ssh.PublicKey
			changed bool
		}
		asset := func() uint { return e.web01 }
		gw := func() uint { return e.gw1 }
		steps := []step{
			{"first use records", hostkey.OwnerAsset, asset, "10.0.0.5:22", k1, false},
			{"same key passes", hostkey.OwnerAsset, asset, "10.0.0.5:22", k1, false},
			{"another key is refused", hostkey.OwnerAsset, asset, "10.0.0.5:22", k2, true},
			{"another key type is refused", hostkey.OwnerAsset, asset, "10.0.0.5:22", k3, true},
			{"recorded key still passes", hostkey.OwnerAsset, asset, "10.0.0.5:22", k1, false},
			{"another port is another host", hostkey.OwnerAsset, asset, "10.0.0.5:2222", k2, false},
			{"a gateway is another owner", hostkey.OwnerGateway, gw, "10.0.0.5:22", k3, false},
			{"gateway key is pinned too", hostkey.OwnerGateway, gw, "10.0.0.5:22", k1, true},
		}
		for _, st := range steps {
			err := e.hk.Callback(e.org, st.kind, st.owner())(st.addr, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 22}, st.key)
			if got := errors.Is(err, hostkey.ErrChanged); got != st.changed {
				t.Fatalf("%s: got changed=%v (err %v), want %v", st.name, got, err, st.changed)
			}
			if !st.changed && err != nil {
				t.Fatalf("%s: got err %v, want nil", st.name, err)
			}
		}
		rows := e.rows(t)
		if len(rows) != 3 {
			t.Fatalf("got %d recorded keys, want 3", len(rows))
		}
		if got, want := rows[0].Fingerprint, ssh.FingerprintSHA256(k1); got != want {
			t.Errorf("got fingerprint %v, want %v", got, want)
		}
		if got, want := rows[0].Algorithm, ssh.KeyAlgoED25519; got != want {
			t.Errorf("got algorithm %v, want %v", got, want)
		}
		if got, want := string(rows[0].Key), string(k1.Marshal()); got != want {
			t.Errorf("recorded key bytes differ from the presented key")
		}
		if got, want := rows[0].OrgID, e.org; got != want {
			t.Errorf("got org %v, want %v", got, want)
		}
		if got, want := len(e.oplog(t, hostkey.ActionRecord)), 3; got != want {
			t.Errorf("got %d hostkey.record rows, want %d", got, want)
		}
		if got, want := len(e.oplog(t, hostkey.ActionMismatch)), 3; got != want {
			t.Errorf("got %d hostkey.mismatch rows, want %d", got, want)
		}
		if got, want := len(e.alarm.got()), 3; got != want {
			t.Errorf("got %d alarms, want %d", got, want)
		}
	})
}

func TestMismatchErrorAuditAndAlarm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		old, presented := edKey(t), rsaKey(t)
		cb := e.hk.Callback(e.org, hostkey.OwnerAsset, e.web01)
		remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 22}
		if err := cb("10.0.0.5:22", remote, old); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Hour)
		err := cb("10.0.0.5:22", remote, presented)
		var me *hostkey.MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("got %v, want a *MismatchError", err)
		}
		want := fmt.Sprintf("hostkey: REMOTE HOST IDENTIFICATION HAS CHANGED for web01 (10.0.0.5:22): expected %s, got %s",
			ssh.FingerprintSHA256(old), ssh.FingerprintSHA256(presented))
		if got := err.Error(); got != want {
			t.Errorf("got %v, want %v", got, want)
		}
		ops := e.oplog(t, hostkey.ActionMismatch)
		if len(ops) != 1 {
			t.Fatalf("got %d mismatch rows, want 1", len(ops))
		}
		op := ops[0]
		if op.Success || op.ResourceType != hostkey.OwnerAsset || op.ResourceName != "web01" || op.OrgID == nil || *op.OrgID != e.org ||
			!strings.Contains(op.Detail, want) || op.RemoteAddr != "10.0.0.5:22" {
			t.Errorf("mismatch row: %+v", op)
		}
		evs := e.alarm.got()
		if len(evs) != 1 {
			t.Fatalf("got %d alarms, want 1", len(evs))
		}
		ev := evs[0]
		wantEv := hostkey.Mismatch{
			OrgID: e.org, OwnerKind: hostkey.OwnerAsset, OwnerID: e.web01, Name: "web01", Address: "10.0.0.5:22", Remote: "10.0.0.5:22",
			ExpectedAlgorithm: ssh.KeyAlgoED25519, ExpectedFingerprint: ssh.FingerprintSHA256(old),
			GotAlgorithm: ssh.KeyAlgoRSA, GotFingerprint: ssh.FingerprintSHA256(presented), At: e.clock.Now(),
		}
		if ev != wantEv {
			t.Errorf("got alarm %+v, want %+v", ev, wantEv)
		}
		// The recorded key is untouched.
		rows := e.rows(t)
		if len(rows) != 1 || rows[0].Fingerprint != ssh.FingerprintSHA256(old) {
			t.Errorf("recorded rows changed: %+v", rows)
		}
		if _, err := audit.New(s.DB, nil, nil).Verify(e.ctx); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})
}

func TestConcurrentFirstUseRecordsOneKey(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	keys := []ssh.PublicKey{edKey(t), edKey(t), edKey(t), edKey(t)}
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.hk.Callback(e.org, hostkey.OwnerAsset, e.web01)("10.0.0.5:22", nil, k)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, hostkey.ErrChanged):
			t.Fatalf("got %v, want nil or a mismatch", err)
		}
	}
	if ok != 1 {
		t.Errorf("got %d accepted keys, want exactly 1", ok)
	}
	if got := len(e.rows(t)); got != 1 {
		t.Errorf("got %d rows, want 1", got)
	}
}

func TestAlgorithmsPreferTheRecordedType(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	cb := func(addr string, k ssh.PublicKey) {
		t.Helper()
		if err := e.hk.Callback(e.org, hostkey.OwnerAsset, e.web01)(addr, nil, k); err != nil {
			t.Fatal(err)
		}
	}
	cb("a:22", ecKey(t))
	cb("b:22", rsaKey(t))
	cb("c:22", edKey(t))
	tests := []struct {
		name  string
		addr  string
		first []string
	}{
		{"nothing recorded", "z:22", []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256}},
		{"ecdsa recorded", "a:22", []string{ssh.KeyAlgoECDSA256, ssh.KeyAlgoED25519}},
		{"rsa recorded", "b:22", []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA, ssh.KeyAlgoED25519}},
		{"ed25519 recorded", "c:22", []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.hk.Algorithms(hostkey.OwnerAsset, e.web01, tt.addr)
			if len(got) < len(tt.first) {
				t.Fatalf("got %v, want it to start with %v", got, tt.first)
			}
			if g := got[:len(tt.first)]; strings.Join(g, ",") != strings.Join(tt.first, ",") {
				t.Errorf("got %v, want it to start with %v", got, tt.first)
			}
			seen := map[string]bool{}
			for _, a := range got {
				if seen[a] {
					t.Errorf("got %s twice in %v", a, got)
				}
				seen[a] = true
				if strings.Contains(a, "-cert-") {
					t.Errorf("got certificate algorithm %s, want plain keys only", a)
				}
			}
			if len(got) != len(hostkey.DefaultAlgorithms()) {
				t.Errorf("got %d algorithms, want %d", len(got), len(hostkey.DefaultAlgorithms()))
			}
		})
	}
}

func TestForgetLetsTheNextKeyIn(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	cb := e.hk.Callback(e.org, hostkey.OwnerAsset, e.web01)
	if err := cb("10.0.0.5:22", nil, edKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := cb("10.0.0.5:2222", nil, edKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.hk.Callback(e.org, hostkey.OwnerGateway, e.gw1)("10.1.0.2:22", nil, edKey(t)); err != nil {
		t.Fatal(err)
	}
	newKey := edKey(t)
	if err := cb("10.0.0.5:22", nil, newKey); !errors.Is(err, hostkey.ErrChanged) {
		t.Fatalf("got %v, want a mismatch before Forget", err)
	}
	n, err := e.hk.Forget(e.ctx, hostkey.OwnerAsset, e.web01)
	if err != nil || n != 2 {
		t.Fatalf("got %d, %v, want 2, nil", n, err)
	}
	if err := cb("10.0.0.5:22", nil, newKey); err != nil {
		t.Fatalf("got %v after Forget, want nil", err)
	}
	if got := len(e.rows(t)); got != 2 {
		t.Errorf("got %d rows, want 2 (the gateway's and the new one)", got)
	}
	if _, err := e.hk.Forget(e.ctx, "router", 1); !errors.Is(err, hostkey.ErrBadOwner) {
		t.Errorf("got %v, want ErrBadOwner", err)
	}
}

func TestKnownHostsExportIsReadByOpenSSHParser(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	k22, k2222 := edKey(t), rsaKey(t)
	cb := e.hk.Callback(e.org, hostkey.OwnerAsset, e.web01)
	if err := cb("10.0.0.5:22", nil, k22); err != nil {
		t.Fatal(err)
	}
	if err := cb("10.0.0.5:2222", nil, k2222); err != nil {
		t.Fatal(err)
	}
	b, err := e.hk.KnownHosts(e.ctx, e.org)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "[10.0.0.5]:2222 ssh-rsa ") || !strings.HasPrefix(string(b), "10.0.0.5 ssh-ed25519 ") {
		t.Errorf("got known_hosts %q", b)
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	check, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 22}
	if err := check("10.0.0.5:22", remote, k22); err != nil {
		t.Errorf("got %v, want the exported key accepted", err)
	}
	if err := check("10.0.0.5:2222", remote, k2222); err != nil {
		t.Errorf("got %v, want the exported key accepted", err)
	}
	if err := check("10.0.0.5:22", remote, edKey(t)); err == nil {
		t.Errorf("got nil, want another key refused")
	}
}

// smtpServer is a minimal SMTP server on loopback that keeps every message.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []smtpMsg
	got  chan struct{}
}

type smtpMsg struct {
	rcpt []string
	data string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, got: make(chan struct{}, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "220 test ESMTP\r\n")
	var m smtpMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			fmt.Fprintf(c, "250 test\r\n")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			fmt.Fprintf(c, "250 ok\r\n")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			addr := strings.Trim(strings.TrimSpace(line)[len("RCPT TO:"):], "<>")
			m.rcpt = append(m.rcpt, addr)
			fmt.Fprintf(c, "250 ok\r\n")
		case cmd == "DATA":
			fmt.Fprintf(c, "354 go on\r\n")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			s.got <- struct{}{}
			m = smtpMsg{}
			fmt.Fprintf(c, "250 queued\r\n")
		case cmd == "QUIT":
			fmt.Fprintf(c, "221 bye\r\n")
			return
		default:
			fmt.Fprintf(c, "250 ok\r\n")
		}
	}
}

func (s *smtpServer) messages() []smtpMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMsg(nil), s.msgs...)
}

func TestMailAlarmMailsAdminsOncePerChange(t *testing.T) {
	s := storetest.SQLite(t)
	e := newEnv(t, s)
	other := &store.Organization{Name: "Other"}
	storetest.MustCreate(t, s.DB, other)
	users := []store.User{
		{OrgID: e.org, Username: "root", Email: "root@example.com", Role: store.RoleSystemAdmin, OrgRole: store.OrgRoleUser, IsActive: true},
		{OrgID: e.org, Username: "oadmin", Email: "oadmin@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAdmin, IsActive: true},
		{OrgID: e.org, Username: "alice", Email: "alice@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true},
		{OrgID: e.org, Username: "gone", Email: "gone@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAdmin, IsActive: false},
		{OrgID: other.ID, Username: "xadmin", Email: "x@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAdmin, IsActive: true},
	}
	for i := range users {
		storetest.MustCreate(t, s.DB, &users[i])
	}
	srv := startSMTP(t)
	_, port, _ := net.SplitHostPort(srv.ln.Addr().String())
	sets := settings.New(s.DB)
	var p int
	fmt.Sscan(port, &p)
	if err := sets.Put(e.ctx, settings.KeySMTP, settings.SMTP{Host: "127.0.0.1", Port: p, From: "portcullis@example.com", Security: "none"}); err != nil {
		t.Fatal(err)
	}
	alarm := hostkey.NewMailAlarm(s.DB, sets, nil, nil, e.clock.Now)
	hk := hostkey.New(s.DB, audit.New(s.DB, nil, e.clock.Now), alarm, nil, e.clock.Now)
	cb := hk.Callback(e.org, hostkey.OwnerAsset, e.web01)
	if err := cb("10.0.0.5:22", nil, edKey(t)); err != nil {
		t.Fatal(err)
	}
	bad := edKey(t)
	for range 3 { // the same change, three times within the hour: one mail
		if err := cb("10.0.0.5:22", nil, bad); !errors.Is(err, hostkey.ErrChanged) {
			t.Fatalf("got %v, want a mismatch", err)
		}
	}
	alarm.Wait()
	e.clock.Add(2 * time.Hour)
	if err := cb("10.0.0.5:22", nil, bad); !errors.Is(err, hostkey.ErrChanged) {
		t.Fatalf("got %v, want a mismatch", err)
	}
	alarm.Wait()
	msgs := srv.messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d mails, want 2 (one per hour for the same change)", len(msgs))
	}
	m := msgs[0]
	if got, want := strings.Join(m.rcpt, ","), "root@example.com,oadmin@example.com"; got != want {
		t.Errorf("got recipients %v, want %v", got, want)
	}
	for _, want := range []string{"Subject: [Portcullis] ALARM: host key of asset web01 changed", "10.0.0.5:22", ssh.FingerprintSHA256(bad)} {
		if !strings.Contains(m.data, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.data)
		}
	}
}

func TestMailAlarmWithoutSMTPOnlyLogs(t *testing.T) {
	s := storetest.SQLite(t)
	e := newEnv(t, s)
	alarm := hostkey.NewMailAlarm(s.DB, settings.New(s.DB), nil, nil, e.clock.Now)
	alarm.HostKeyChanged(e.ctx, hostkey.Mismatch{OrgID: e.org, OwnerKind: hostkey.OwnerAsset, OwnerID: e.web01, Name: "web01"})
	alarm.Wait() // returns: nothing to send, nothing hangs
}

func TestCallbackRekeyOnTheSameConnection(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	cb := e.hk.Callback(e.org, hostkey.OwnerAsset, e.web01) // one connection
	k := edKey(t)
	if err := cb("10.0.0.5:22", nil, k); err != nil {
		t.Fatal(err)
	}
	if err := cb("10.0.0.5:22", nil, k); err != nil {
		t.Fatalf("re-key with the same key: got %v, want nil", err)
	}
	if err := cb("10.0.0.5:22", nil, edKey(t)); !errors.Is(err, hostkey.ErrChanged) {
		t.Fatalf("re-key with another key: got %v, want a mismatch", err)
	}
}
