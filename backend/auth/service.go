package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// Channels of a request (RequestMeta.Channel, store.LoginLog.Channel).
const (
	ChannelWeb = "web"
	ChannelSSH = "ssh"
	ChannelAPI = "api"
)

// Methods of a login attempt (store.LoginLog.Method).
const (
	MethodPassword     = "password"
	MethodOTP          = "otp"
	MethodRecoveryCode = "recovery_code"
	MethodToken        = "token"
)

// Lifetimes and limits of the login flow.
const (
	// StepTokenTTL is the lifetime of a login step token.
	StepTokenTTL = 5 * time.Minute
	// MaxStepFailures is how many wrong codes one step token survives.
	MaxStepFailures = 5
	// DefaultSessionTTL applies when the policy has no session lifetime.
	DefaultSessionTTL = 12 * time.Hour
	// lastUsedGranularity bounds how often Authenticate writes LastUsedAt.
	lastUsedGranularity = time.Minute
	// maxUsernameLen is the longest username looked up or logged, in bytes.
	maxUsernameLen = 128
	// maxMemoEntries bounds the in-memory maps before they are swept.
	maxMemoEntries = 10_000
)

// RequestMeta describes where a request comes from. SourceIP is the client
// address (a bare address; "addr:port" is tolerated); Channel is "web",
// "ssh" or "api".
type RequestMeta struct {
	SourceIP  string
	UserAgent string
	Channel   string
}

// LoginRequest is a password login. OTP may be given at once (SSH
// keyboard-interactive asks for both); it may be a TOTP code or a recovery code.
type LoginRequest struct {
	Username string
	Password string
	OTP      string
	Meta     RequestMeta
}

// Step says what a login needs next.
type Step string

// Steps of a login.
const (
	StepOK                     Step = "ok"
	StepOTPRequired            Step = "otp_required"
	StepPasswordChangeRequired Step = "password_change_required"
	StepMFAEnrollRequired      Step = "mfa_enroll_required"
)

// LoginResult is the outcome of a login step. With StepOK, Token is a session
// token ("pcs_..."); otherwise it is a step token ("pcx_...") for the next
// call. ExpiresAt is the token's expiry. User is set for every step, but only
// StepOK means the caller is logged in: do not show the profile before.
type LoginResult struct {
	Step      Step
	Token     string
	ExpiresAt time.Time
	User      *store.User
}

// Principal is the caller behind a session or API token.
type Principal struct {
	User  *store.User
	Token *store.AuthToken
}

// Service authenticates users against the database. It is safe for concurrent use.
type Service struct {
	db       *gorm.DB
	vault    *vault.Vault
	settings *settings.Store
	audit    *audit.Logger
	log      *slog.Logger
	clock    func() time.Time
	throttle *Throttle
	hashSem  chan struct{} // bounds concurrent argon2 runs: each holds ~19 MiB

	dummyOnce sync.Once
	dummyHash string // hash checked for unknown users, so that timing does not tell

	// The reuse guard of TOTP codes and the failure count of step tokens live
	// in memory: both matter only for minutes (a code for 90 s, a step token
	// for 5 min), so losing them on restart is harmless. With several nodes a
	// code could be replayed once on another node within its 90 s window;
	// persisting the last step on the user would close that.
	mu           sync.Mutex           // guards totpSteps and stepFailures
	totpSteps    map[uint]int64       // user ID -> last TOTP time step accepted
	stepFailures map[uint]stepFailure // step token ID -> wrong codes so far
}

type stepFailure struct {
	n       int
	expires time.Time
}

// NewService returns a Service. log may be nil (discard); clock may be nil (time.Now).
func NewService(db *gorm.DB, v *vault.Vault, st *settings.Store, aud *audit.Logger, log *slog.Logger, clock func() time.Time) *Service {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		db: db, vault: v, settings: st, audit: aud,
		log:          log.With("component", "auth"),
		clock:        clock,
		throttle:     NewThrottle(clock, DefaultThrottleEntries),
		hashSem:      make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		totpSteps:    make(map[uint]int64),
		stepFailures: make(map[uint]stepFailure),
	}
}

type ctxKey struct{ name string }

var txKey = &ctxKey{"auth-tx"}

// WithTx returns a context that makes the Service run its database work in
// tx, for callers that hold a transaction (e.g. SetPassword right after
// creating the user). Login log rows are still written by the audit logger on
// its own connection, so do not hold a write transaction around Login.
func WithTx(ctx context.Context, tx *gorm.DB) context.Context {
	return context.WithValue(ctx, txKey, tx)
}

// conn returns the database handle for ctx: its transaction if any.
func (s *Service) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey).(*gorm.DB); ok && tx != nil {
		return tx.WithContext(ctx)
	}
	return s.db.WithContext(ctx)
}

func (s *Service) now() time.Time { return s.clock().UTC() }

func (s *Service) security(ctx context.Context) (settings.Security, error) {
	sec, err := s.settings.Security(ctx)
	if err != nil {
		return sec, fmt.Errorf("auth: %w", err)
	}
	return sec, nil
}

func sessionTTL(sec settings.Security) time.Duration {
	if sec.SessionTTLMinutes <= 0 {
		return DefaultSessionTTL
	}
	return time.Duration(sec.SessionTTLMinutes) * time.Minute
}

func mfaRequired(sec settings.Security, u *store.User) bool {
	return u.MFARequired || sec.RequiresMFA(u.Role, u.OrgRole)
}

// ---- passwords -------------------------------------------------------------

func (s *Service) acquireHash(ctx context.Context) (release func(), err error) {
	select {
	case s.hashSem <- struct{}{}:
		return func() { <-s.hashSem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: %w", ctx.Err())
	}
}

// hash hashes a password, bounded by the argon2 semaphore.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password)
}

func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(rand.Text())
		if err != nil {
			h, _ = hashPasswordWith("portcullis-dummy", DefaultPasswordParams())
		}
		s.dummyHash = h
	})
	return s.dummyHash
}

// checkPassword verifies password against a user's hash. An unset or
// malformed hash never matches, but costs the same work. The error is only
// for a cancelled context.
func (s *Service) checkPassword(ctx context.Context, u *store.User, password string) (bool, error) {
	encoded := s.dummy()
	if u != nil && u.PasswordHash != "" {
		encoded = u.PasswordHash
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	ok, err := VerifyPassword(encoded, password)
	if err != nil { // only a stored hash can be malformed, not the dummy
		s.log.ErrorContext(ctx, "stored password hash is malformed", "user_id", u.ID, "err", err)
		_, _ = VerifyPassword(s.dummy(), password)
		return false, nil
	}
	return ok && encoded != s.dummy() && password != "", nil
}

// ---- login log --------------------------------------------------------------

// attempt is one login log row in the making.
type attempt struct {
	user     *store.User // nil when the username is unknown
	username string      // as typed
	meta     RequestMeta
	method   string
}

// cleanLogText drops invalid UTF-8, control and format characters (so that a
// typed value cannot forge log lines or reorder text) and truncates to max bytes.
func cleanLogText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// record writes the login log row of a. An error is logged and returned.
func (s *Service) record(ctx context.Context, a attempt, success bool, reason string) error {
	row := store.LoginLog{
		Username:  cleanLogText(a.username, maxUsernameLen),
		SourceIP:  cleanLogText(a.meta.SourceIP, 64),
		UserAgent: cleanLogText(a.meta.UserAgent, 512),
		Channel:   cleanLogText(a.meta.Channel, 16),
		Method:    a.method,
		Success:   success,
		Reason:    reason,
		CreatedAt: s.now(),
	}
	if a.user != nil {
		id, org := a.user.ID, a.user.OrgID
		row.UserID, row.OrgID = &id, &org
	}
	if err := s.audit.Login(ctx, row); err != nil {
		s.log.ErrorContext(ctx, "login log write failed", "reason", reason, "err", err)
		return fmt.Errorf("auth: login log: %w", err)
	}
	return nil
}

// refuse logs a failed attempt and returns sentinel. It does not count
// toward the throttle (the caller decides).
func (s *Service) refuse(ctx context.Context, a attempt, reason string, sentinel error) error {
	_ = s.record(ctx, a, false, reason) // the sentinel matters more to the caller than a log failure
	return sentinel
}

// ---- lockout ----------------------------------------------------------------

// isLocked reports whether u is locked at now. An expired lock is cleared
// (with the failure count, for a fresh start).
func (s *Service) isLocked(ctx context.Context, u *store.User, now time.Time) (bool, error) {
	if u.LockedUntil == nil {
		return false, nil
	}
	if u.LockedUntil.After(now) {
		return true, nil
	}
	err := s.conn(ctx).Model(&store.User{}).Where("id = ? AND locked_until <= ?", u.ID, now).
		UpdateColumns(map[string]any{"locked_until": nil, "failed_logins": 0}).Error
	if err != nil {
		return false, fmt.Errorf("auth: clear expired lock: %w", err)
	}
	u.LockedUntil, u.FailedLogins = nil, 0
	return false, nil
}

// countFailure adds one credential failure to u and locks it when the policy
// threshold is reached. It reports whether this failure locked the account.
func (s *Service) countFailure(ctx context.Context, u *store.User, sec settings.Security) (bool, error) {
	db := s.conn(ctx)
	if err := db.Model(&store.User{}).Where("id = ?", u.ID).
		UpdateColumn("failed_logins", gorm.Expr("failed_logins + 1")).Error; err != nil {
		return false, fmt.Errorf("auth: count failure: %w", err)
	}
	var n []int
	if err := db.Model(&store.User{}).Where("id = ?", u.ID).Pluck("failed_logins", &n).Error; err != nil {
		return false, fmt.Errorf("auth: count failure: %w", err)
	}
	if len(n) == 0 {
		return false, fmt.Errorf("auth: count failure of user %d: %w", u.ID, store.ErrNotFound)
	}
	u.FailedLogins = n[0]
	if sec.LockoutThreshold <= 0 || u.FailedLogins < sec.LockoutThreshold {
		return false, nil
	}
	minutes := sec.LockoutMinutes
	if minutes <= 0 {
		minutes = settings.DefaultSecurity().LockoutMinutes
	}
	now := s.now()
	until := now.Add(time.Duration(minutes) * time.Minute)
	res := db.Model(&store.User{}).Where("id = ? AND (locked_until IS NULL OR locked_until <= ?)", u.ID, now).
		UpdateColumn("locked_until", until)
	if res.Error != nil {
		return false, fmt.Errorf("auth: lock account: %w", res.Error)
	}
	u.LockedUntil = &until
	if res.RowsAffected == 0 { // another request locked it first
		return false, nil
	}
	s.log.WarnContext(ctx, "account locked after repeated failures", "user_id", u.ID, "username", u.Username,
		"failures", u.FailedLogins, "until", until)
	return true, nil
}

// ---- users and tokens -------------------------------------------------------

func (s *Service) userByID(ctx context.Context, id uint) (*store.User, error) {
	var u store.User
	if err := s.conn(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, fmt.Errorf("auth: user %d: %w", id, store.Translate(err))
	}
	return &u, nil
}

// userByName looks a typed username up. Names that cannot exist are not
// looked up and answer store.ErrNotFound.
func (s *Service) userByName(ctx context.Context, name string) (*store.User, error) {
	if name == "" || len(name) > maxUsernameLen || cleanLogText(name, maxUsernameLen) != name {
		return nil, store.ErrNotFound
	}
	var u store.User
	if err := s.conn(ctx).Where("username = ?", name).Take(&u).Error; err != nil {
		return nil, fmt.Errorf("auth: user %q: %w", name, store.Translate(err))
	}
	return &u, nil
}

// issueToken stores a new token of kind for u and returns it.
func (s *Service) issueToken(ctx context.Context, u *store.User, kind, name string, ttl time.Duration, remote string) (string, *store.AuthToken, error) {
	raw, hash, err := newToken(kind)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	t := &store.AuthToken{
		UserID: u.ID, Kind: kind, Name: name, Prefix: raw[:tokenDisplayLen], TokenHash: hash,
		RemoteAddr: cleanLogText(remote, 64), CreatedAt: now,
	}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := s.conn(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("auth: store %s token: %w", kind, store.Translate(err))
	}
	return raw, t, nil
}

// lookupToken resolves a bearer token of one of kinds, with its user. Every
// refusal is ErrTokenInvalid; an expired token is deleted on the way.
func (s *Service) lookupToken(ctx context.Context, raw string, kinds ...string) (*store.AuthToken, *store.User, error) {
	if !wellFormedToken(raw) {
		return nil, nil, ErrTokenInvalid
	}
	var t store.AuthToken
	err := s.conn(ctx).Where("token_hash = ?", HashToken(raw)).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrTokenInvalid
	} else if err != nil {
		return nil, nil, fmt.Errorf("auth: look token up: %w", err)
	}
	if prefixOf(t.Kind) != raw[:len(PrefixStep)] || !containsString(kinds, t.Kind) {
		return nil, nil, fmt.Errorf("%w: wrong kind", ErrTokenInvalid)
	}
	if t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt) {
		if err := s.conn(ctx).Delete(&store.AuthToken{}, t.ID).Error; err != nil {
			s.log.WarnContext(ctx, "delete expired token", "token_id", t.ID, "err", err)
		}
		return nil, nil, fmt.Errorf("%w: expired", ErrTokenInvalid)
	}
	u, err := s.userByID(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: user gone", ErrTokenInvalid)
	} else if err != nil {
		return nil, nil, err
	}
	return &t, u, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// consumeToken deletes a step token; only one caller can consume it.
func (s *Service) consumeToken(ctx context.Context, t *store.AuthToken) error {
	res := s.conn(ctx).Where("id = ?", t.ID).Delete(&store.AuthToken{})
	if res.Error != nil {
		return fmt.Errorf("auth: consume token: %w", res.Error)
	}
	s.forgetStepFailures(t.ID)
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: already used", ErrTokenInvalid)
	}
	return nil
}

// revokeTokens deletes u's session and step tokens except keepID (0 = none).
// API tokens are separate credentials and stay.
func (s *Service) revokeTokens(ctx context.Context, userID, keepID uint) error {
	q := s.conn(ctx).Where("user_id = ? AND kind IN ?", userID, []string{store.TokenSession, store.TokenMFA, store.TokenPasswordChange})
	if keepID != 0 {
		q = q.Where("id <> ?", keepID)
	}
	if err := q.Delete(&store.AuthToken{}).Error; err != nil {
		return fmt.Errorf("auth: revoke tokens of user %d: %w", userID, err)
	}
	return nil
}

// ---- in-memory guards ---------------------------------------------------------

// claimTOTPStep records that user used the code of step, refusing a step that
// is not after the last one used (so a code, or an older one, works once).
func (s *Service) claimTOTPStep(userID uint, step int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.totpSteps[userID]; ok && step <= last {
		return false
	}
	if len(s.totpSteps) >= maxMemoEntries {
		old := TOTPStep(s.clock()) - 2*TOTPSkew - 1
		for id, st := range s.totpSteps {
			if st < old {
				delete(s.totpSteps, id)
			}
		}
	}
	s.totpSteps[userID] = step
	return true
}

func (s *Service) forgetTOTPStep(userID uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.totpSteps, userID)
}

// stepFailed counts a wrong code on a step token and returns the count.
func (s *Service) stepFailed(t *store.AuthToken) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stepFailures) >= maxMemoEntries {
		now := s.clock()
		for id, f := range s.stepFailures {
			if now.After(f.expires) {
				delete(s.stepFailures, id)
			}
		}
	}
	f := s.stepFailures[t.ID]
	f.n++
	if t.ExpiresAt != nil {
		f.expires = *t.ExpiresAt
	}
	s.stepFailures[t.ID] = f
	return f.n
}

func (s *Service) forgetStepFailures(tokenID uint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.stepFailures, tokenID)
}

// aadTOTP binds a sealed TOTP secret to its user row.
func aadTOTP(userID uint) string {
	return "totp:" + strconv.FormatUint(uint64(userID), 10)
}

// aadTOTPPending binds a sealed pending TOTP secret to its user row.
func aadTOTPPending(userID uint) string {
	return "totp-pending:" + strconv.FormatUint(uint64(userID), 10)
}
