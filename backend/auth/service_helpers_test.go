package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
	"github.com/portcullis/portcullis/backend/vault"
)

// testPassword meets the default policy.
const testPassword = "Correct-Horse-42"

// fakeClock is a settable clock shared by the service and the audit logger.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a Service on a fresh database with a fake clock and captured logs.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	svc   *Service
	clock *fakeClock
	logs  *syncBuffer
	vault *vault.Vault
	sets  *settings.Store
	audit *audit.Logger
	org   *store.Organization
}

var web = RequestMeta{SourceIP: "192.0.2.10", UserAgent: "test-agent/1.0", Channel: ChannelWeb}

// eachEnv runs f on SQLite and, when PORTCULLIS_TEST_PG_DSN is set, on PostgreSQL.
func eachEnv(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, s *store.Store) { f(t, newEnv(t, s)) })
}

func newEnv(t *testing.T, s *store.Store) *env {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	// Monday 2026-11-23 10:00 UTC.
	clk := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	aud := audit.New(s.DB, log, clk.Now)
	sets := settings.New(s.DB)
	ctx := context.Background()
	org, err := s.DefaultOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		t: t, ctx: ctx, st: s, clock: clk, logs: logs, vault: v, sets: sets, audit: aud, org: org,
		svc: NewService(s.DB, v, sets, aud, log, clk.Now),
	}
}

// setSecurity edits the security policy.
func (e *env) setSecurity(edit func(*settings.Security)) {
	e.t.Helper()
	sec, err := e.sets.Security(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	edit(&sec)
	if err := sec.Validate(); err != nil {
		e.t.Fatalf("policy: %v", err)
	}
	if err := e.sets.Put(e.ctx, settings.KeySecurity, sec); err != nil {
		e.t.Fatal(err)
	}
}

// user creates an active user with testPassword.
func (e *env) user(name string, edit ...func(*store.User)) *store.User {
	e.t.Helper()
	u := &store.User{OrgID: e.org.ID, Username: name, Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true}
	for _, f := range edit {
		f(u)
	}
	storetest.MustCreate(e.t, e.st.DB, u)
	if err := e.svc.SetPassword(e.ctx, u, testPassword, u.MustChangePassword); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// reload reads a user back.
func (e *env) reload(u *store.User) *store.User {
	e.t.Helper()
	var got store.User
	if err := e.st.DB.First(&got, u.ID).Error; err != nil {
		e.t.Fatal(err)
	}
	return &got
}

// login logs in with testPassword from web.
func (e *env) login(name string) (*LoginResult, error) {
	return e.svc.Login(e.ctx, LoginRequest{Username: name, Password: testPassword, Meta: web})
}

// mustLogin logs in and wants step.
func (e *env) mustLogin(name string, want Step) *LoginResult {
	e.t.Helper()
	res, err := e.login(name)
	if err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	if res.Step != want {
		e.t.Fatalf("login %s step: got %v, want %v", name, res.Step, want)
	}
	return res
}

// code returns the current TOTP code of secret.
func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := TOTPCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enroll logs u in and enrolls TOTP with a session; it returns the secret and
// recovery codes and moves the clock past the enrollment code's step.
func (e *env) enroll(name string) (secret string, codes []string) {
	e.t.Helper()
	res := e.mustLogin(name, StepOK)
	secret, _, err := e.svc.BeginTOTPEnroll(e.ctx, res.Token)
	if err != nil {
		e.t.Fatal(err)
	}
	_, codes, err = e.svc.ConfirmTOTPEnroll(e.ctx, res.Token, e.code(secret), web)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(TOTPPeriod)
	return secret, codes
}

// rows returns the login log, oldest first.
func (e *env) rows() []store.LoginLog {
	e.t.Helper()
	var rows []store.LoginLog
	if err := e.st.DB.Order("id").Find(&rows).Error; err != nil {
		e.t.Fatal(err)
	}
	return rows
}

// lastRow returns the newest login log row.
func (e *env) lastRow() store.LoginLog {
	e.t.Helper()
	rows := e.rows()
	if len(rows) == 0 {
		e.t.Fatal("login log is empty")
	}
	return rows[len(rows)-1]
}

// wantRow checks the newest login log row.
func (e *env) wantRow(success bool, reason, method string) {
	e.t.Helper()
	r := e.lastRow()
	if r.Success != success || r.Reason != reason || r.Method != method {
		e.t.Fatalf("last login row: got success=%v reason=%q method=%q, want success=%v reason=%q method=%q",
			r.Success, r.Reason, r.Method, success, reason, method)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func wantStep(t *testing.T, res *LoginResult, err error, want Step) *LoginResult {
	t.Helper()
	if err != nil {
		t.Fatalf("got %v, want step %v", err, want)
	}
	if res.Step != want {
		t.Fatalf("step: got %v, want %v", res.Step, want)
	}
	prefix := PrefixStep
	if want == StepOK {
		prefix = PrefixSession
	}
	if !strings.HasPrefix(res.Token, prefix) {
		t.Fatalf("token %q: want prefix %q", res.Token[:8], prefix)
	}
	return res
}
