package session_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

type smtpMessage struct {
	rcpt []string
	data string
}

// smtpServer is a minimal SMTP server on 127.0.0.1 that accepts every message.
func smtpServer(t *testing.T) (host string, port int, msgs <-chan smtpMessage) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan smtpMessage, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(c, ch)
		}
	}()
	a := ln.Addr().(*net.TCPAddr)
	return "127.0.0.1", a.Port, ch
}

func serveSMTP(c net.Conn, out chan<- smtpMessage) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	say := func(s string) { c.Write([]byte(s + "\r\n")) }
	say("220 localhost test SMTP")
	var m smtpMessage
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 localhost")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.rcpt = append(m.rcpt, strings.Trim(strings.TrimSpace(line)[len("RCPT TO:"):], "<>"))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			out <- m
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func TestMailNotifierMailsTheOrgAdmins(t *testing.T) {
	s := storetest.SQLite(t)
	host, port, msgs := smtpServer(t)
	sets := settings.New(s.DB)
	if err := sets.Put(t.Context(), settings.KeySMTP, settings.SMTP{Host: host, Port: port, From: "bastion@example.com", Security: "none"}); err != nil {
		t.Fatal(err)
	}
	users := []store.User{
		{OrgID: 1, Username: "boss", Email: "boss@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAdmin, IsActive: true},
		{OrgID: 1, Username: "gone", Email: "gone@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAdmin, IsActive: false},
		{OrgID: 1, Username: "audit", Email: "audit@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAuditor, IsActive: true},
		{OrgID: 2, Username: "other", Email: "other@example.com", Role: store.RoleUser, OrgRole: store.OrgRoleAdmin, IsActive: true},
	}
	for i := range users {
		storetest.MustCreate(t, s.DB, &users[i])
	}
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	n := session.NewMailNotifier(s.DB, sets, v, nil)
	n.ApprovalRequested(t.Context(), store.Approval{ID: 42, OrgID: 1, Username: "alice", AssetName: "web01", Account: "root",
		Command: "rm -rf /srv\x1b[2J", FilterName: "confirm deletes", ExpiresAt: time.Date(2026, 3, 4, 10, 5, 0, 0, time.UTC)})
	m, _ := recv(t, msgs)
	if strings.Join(m.rcpt, ",") != "boss@example.com" {
		t.Fatalf("recipients: got %v, want [boss@example.com]", m.rcpt)
	}
	for _, want := range []string{"Subject: Portcullis: approve a command of alice on web01", "rm -rf /srv\uFFFD[2J", "/api/v1/approvals/42/approve", "confirm deletes"} {
		if !strings.Contains(m.data, want) {
			t.Fatalf("mail lacks %q:\n%s", want, m.data)
		}
	}
	if strings.Contains(m.data, "\x1b") {
		t.Fatal("the mail carries a raw escape character")
	}
}

func TestMailNotifierWithoutSMTPDoesNothing(t *testing.T) {
	s := storetest.SQLite(t)
	n := session.NewMailNotifier(s.DB, settings.New(s.DB), nil, nil)
	done := make(chan struct{})
	go func() {
		n.ApprovalRequested(t.Context(), store.Approval{ID: 1, OrgID: 1, Command: "reboot"})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ApprovalRequested blocked without SMTP settings")
	}
}

// notifierFunc adapts a function to session.Notifier.
type notifierFunc func(store.Approval)

func (f notifierFunc) ApprovalRequested(_ context.Context, a store.Approval) { f(a) }

func TestRequestApprovalNotifiesWithoutWaiting(t *testing.T) {
	s := storetest.SQLite(t)
	release := make(chan struct{})
	got := make(chan store.Approval, 1)
	r, _ := newRegistry(t, s, "n", session.WithNotifier(notifierFunc(func(a store.Approval) {
		got <- a
		<-release // a stuck mail server
	})))
	defer close(release)
	l := start(t, r, testMeta())
	defer l.End(t.Context(), "")
	a, done := request(t, t.Context(), r, l, time.Minute)
	if n, _ := recv(t, got); n.ID != a.ID {
		t.Fatalf("notified approval: got %d, want %d", n.ID, a.ID)
	}
	if err := r.Decide(t.Context(), a.ID, true, "carol"); err != nil {
		t.Fatal(err)
	}
	if res, _ := recv(t, done); !res.approved {
		t.Fatalf("got %+v, want approved while the notifier is stuck", res)
	}
}
