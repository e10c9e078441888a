package auth

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestLoginPasswordOnly(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("alice")
		res, err := e.login("alice")
		wantStep(t, res, err, StepOK)
		if got, want := res.ExpiresAt, e.clock.Now().Add(720*time.Minute); !got.Equal(want) {
			t.Fatalf("expires: got %v, want %v", got, want)
		}
		if res.User == nil || res.User.ID != u.ID {
			t.Fatalf("user: got %+v, want alice", res.User)
		}
		p, err := e.svc.Authenticate(e.ctx, res.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.User.Username, "alice"; got != want {
			t.Fatalf("principal: got %v, want %v", got, want)
		}
		if got, want := p.Token.Kind, store.TokenSession; got != want {
			t.Fatalf("token kind: got %v, want %v", got, want)
		}
		got := e.reload(u)
		if got.LastLoginAt == nil || got.LastLoginIP != web.SourceIP {
			t.Fatalf("last login: got %v from %q, want set from %q", got.LastLoginAt, got.LastLoginIP, web.SourceIP)
		}
		r := e.lastRow()
		if !r.Success || r.Reason != "ok" || r.Method != "password" || r.Channel != "web" || r.SourceIP != web.SourceIP ||
			r.UserAgent != web.UserAgent || r.Username != "alice" || r.UserID == nil || *r.UserID != u.ID || r.OrgID == nil {
			t.Fatalf("login row: got %+v", r)
		}
		var tok store.AuthToken
		e.st.DB.First(&tok, p.Token.ID)
		if tok.TokenHash == res.Token || strings.Contains(tok.TokenHash, res.Token[4:]) || tok.Prefix != res.Token[:8] {
			t.Fatalf("stored token: got hash %q prefix %q, want only a hash and the first 8 chars", tok.TokenHash, tok.Prefix)
		}
	})
}

func TestLoginForcedChangeThenEnrollThenOK(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setSecurity(func(s *settings.Security) { s.MFARoles = []string{store.RoleUser} })
		e.user("bob", func(u *store.User) { u.MustChangePassword = true })

		res, err := e.login("bob")
		step1 := wantStep(t, res, err, StepPasswordChangeRequired)
		e.wantRow(false, "password_change_required", "password")

		// A step token is not a session, and not an OTP step.
		_, err = e.svc.Authenticate(e.ctx, step1.Token)
		wantErr(t, err, ErrTokenInvalid)
		_, err = e.svc.SubmitOTP(e.ctx, step1.Token, "123456", web)
		wantErr(t, err, ErrTokenInvalid)

		// The new password must meet the policy and differ from the old one.
		_, err = e.svc.ChangePassword(e.ctx, step1.Token, "", "short", web)
		wantErr(t, err, ErrPasswordPolicy)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.FieldName() != "new_password" {
			t.Fatalf("got %v, want a field error for new_password", err)
		}
		_, err = e.svc.ChangePassword(e.ctx, step1.Token, "", testPassword, web)
		wantErr(t, err, ErrPasswordPolicy)

		const newPassword = "Brand-New-Pass-7"
		res, err = e.svc.ChangePassword(e.ctx, step1.Token, "", newPassword, web)
		step2 := wantStep(t, res, err, StepMFAEnrollRequired)
		e.wantRow(false, "mfa_enroll_required", "token")
		_, err = e.svc.ChangePassword(e.ctx, step1.Token, "", "Another-Pass-77", web)
		wantErr(t, err, ErrTokenInvalid) // single use

		secret, uri, err := e.svc.BeginTOTPEnroll(e.ctx, step2.Token)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(uri, "otpauth://totp/Portcullis:bob?secret="+secret+"&issuer=Portcullis&") {
			t.Fatalf("uri: got %v", uri)
		}
		pending := e.reload(res.User)
		if len(pending.TOTPPendingEnc) == 0 || strings.Contains(string(pending.TOTPPendingEnc), secret) {
			t.Fatal("pending secret not stored sealed")
		}

		_, _, err = e.svc.ConfirmTOTPEnroll(e.ctx, step2.Token, "000000", web)
		wantErr(t, err, ErrOTPInvalid)
		res, codes, err := e.svc.ConfirmTOTPEnroll(e.ctx, step2.Token, e.code(secret), web)
		wantStep(t, res, err, StepOK)
		e.wantRow(true, "ok", "otp")
		if got, want := len(codes), 10; got != want {
			t.Fatalf("recovery codes: got %v, want %v", got, want)
		}
		if _, err := e.svc.Authenticate(e.ctx, res.Token); err != nil {
			t.Fatalf("session: %v", err)
		}
		_, _, err = e.svc.ConfirmTOTPEnroll(e.ctx, step2.Token, e.code(secret), web)
		wantErr(t, err, ErrTokenInvalid)

		u := e.reload(res.User)
		if !u.TOTPEnabled || u.MustChangePassword || len(u.TOTPPendingEnc) != 0 || len(u.TOTPSecretEnc) == 0 {
			t.Fatalf("user after enrollment: %+v", u)
		}
		plain, err := e.vault.Unseal(u.TOTPSecretEnc, aadTOTP(u.ID))
		if err != nil || string(plain) != secret {
			t.Fatalf("sealed secret: got %q, %v", plain, err)
		}

		// Next login: the new password, then an OTP.
		e.clock.Advance(TOTPPeriod)
		res, err = e.svc.Login(e.ctx, LoginRequest{Username: "bob", Password: newPassword, Meta: web})
		step3 := wantStep(t, res, err, StepOTPRequired)
		res, err = e.svc.SubmitOTP(e.ctx, step3.Token, e.code(secret), web)
		wantStep(t, res, err, StepOK)
	})
}

func TestLoginWithInlineOTP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("carol")
		secret, _ := e.enroll("carol")
		ssh := RequestMeta{SourceIP: "198.51.100.7", Channel: ChannelSSH}

		code := e.code(secret)
		res, err := e.svc.Login(e.ctx, LoginRequest{Username: "carol", Password: testPassword, OTP: code, Meta: ssh})
		wantStep(t, res, err, StepOK)
		e.wantRow(true, "ok", "otp")
		if got := e.lastRow().Channel; got != "ssh" {
			t.Fatalf("channel: got %v, want ssh", got)
		}

		// The same code again is refused, even within its window.
		_, err = e.svc.Login(e.ctx, LoginRequest{Username: "carol", Password: testPassword, OTP: code, Meta: ssh})
		wantErr(t, err, ErrOTPInvalid)
		e.wantRow(false, "otp_reused", "otp")

		// A wrong code is refused and counts toward the lockout.
		_, err = e.svc.Login(e.ctx, LoginRequest{Username: "carol", Password: testPassword, OTP: "000000", Meta: ssh})
		wantErr(t, err, ErrOTPInvalid)
		e.wantRow(false, "bad_otp", "otp")
		if got, want := e.reload(u).FailedLogins, 2; got != want {
			t.Fatalf("failed logins: got %v, want %v", got, want)
		}

		// Without a code, an OTP step; the previous step's code is still refused there.
		res = e.mustLogin("carol", StepOTPRequired)
		_, err = e.svc.SubmitOTP(e.ctx, res.Token, code, web)
		wantErr(t, err, ErrOTPInvalid)
		e.clock.Advance(TOTPPeriod)
		res, err = e.svc.SubmitOTP(e.ctx, res.Token, e.code(secret), web)
		wantStep(t, res, err, StepOK)
		if got, want := e.reload(u).FailedLogins, 0; got != want {
			t.Fatalf("failed logins after success: got %v, want %v", got, want)
		}
	})
}

func TestSubmitOTPStepTokenLimits(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setSecurity(func(s *settings.Security) { s.LockoutThreshold = 50 })
		e.user("dave")
		secret, _ := e.enroll("dave")

		res := e.mustLogin("dave", StepOTPRequired)
		for i := 0; i < MaxStepFailures; i++ {
			_, err := e.svc.SubmitOTP(e.ctx, res.Token, "000000", web)
			wantErr(t, err, ErrOTPInvalid)
			e.wantRow(false, "bad_otp", "otp")
		}
		_, err := e.svc.SubmitOTP(e.ctx, res.Token, e.code(secret), web)
		wantErr(t, err, ErrTokenInvalid)
		e.wantRow(false, "token_invalid", "otp")

		// A step token works once.
		res = e.mustLogin("dave", StepOTPRequired)
		ok, err := e.svc.SubmitOTP(e.ctx, res.Token, e.code(secret), web)
		wantStep(t, ok, err, StepOK)
		e.clock.Advance(TOTPPeriod)
		_, err = e.svc.SubmitOTP(e.ctx, res.Token, e.code(secret), web)
		wantErr(t, err, ErrTokenInvalid)

		// And lives StepTokenTTL.
		res = e.mustLogin("dave", StepOTPRequired)
		e.clock.Advance(StepTokenTTL)
		_, err = e.svc.SubmitOTP(e.ctx, res.Token, e.code(secret), web)
		wantErr(t, err, ErrTokenInvalid)
	})
}

func TestRecoveryCodeSingleUse(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("erin")
		_, codes := e.enroll("erin")

		res := e.mustLogin("erin", StepOTPRequired)
		ok, err := e.svc.SubmitOTP(e.ctx, res.Token, codes[0], web)
		wantStep(t, ok, err, StepOK)
		e.wantRow(true, "ok", "recovery_code")

		res = e.mustLogin("erin", StepOTPRequired)
		_, err = e.svc.SubmitOTP(e.ctx, res.Token, codes[0], web)
		wantErr(t, err, ErrOTPInvalid)
		e.wantRow(false, "bad_recovery_code", "recovery_code")

		typed := strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))
		ok, err = e.svc.SubmitOTP(e.ctx, res.Token, typed, web)
		wantStep(t, ok, err, StepOK)

		if got := e.reload(u).RecoveryCodes; strings.Count(got, `"`) != 2*8 {
			t.Fatalf("stored codes after two uses: got %v, want 8 hashes", got)
		}
	})
}

func TestLockout(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setSecurity(func(s *settings.Security) { s.LockoutThreshold = 3; s.LockoutMinutes = 15 })
		u := e.user("frank")
		bad := LoginRequest{Username: "frank", Password: "wrong-password", Meta: web}
		for i, reason := range []string{"bad_password", "bad_password", "bad_password_lockout"} {
			_, err := e.svc.Login(e.ctx, bad)
			wantErr(t, err, ErrInvalidCredentials)
			if got := e.lastRow().Reason; got != reason {
				t.Fatalf("attempt %d reason: got %v, want %v", i+1, got, reason)
			}
		}
		got := e.reload(u)
		if got.LockedUntil == nil || !got.LockedUntil.Equal(e.clock.Now().Add(15*time.Minute)) {
			t.Fatalf("locked until: got %v, want now+15m", got.LockedUntil)
		}
		// Even the right password is refused while locked.
		_, err := e.login("frank")
		wantErr(t, err, ErrLocked)
		e.wantRow(false, "locked", "password")

		e.clock.Advance(14 * time.Minute)
		_, err = e.login("frank")
		wantErr(t, err, ErrLocked)

		e.clock.Advance(time.Minute)
		e.mustLogin("frank", StepOK)
		if got := e.reload(u); got.FailedLogins != 0 || got.LockedUntil != nil {
			t.Fatalf("after unlock by time: failed=%v locked=%v, want 0, nil", got.FailedLogins, got.LockedUntil)
		}

		// An administrator can unlock early.
		for i := 0; i < 3; i++ {
			e.svc.Login(e.ctx, bad)
		}
		_, err = e.login("frank")
		wantErr(t, err, ErrLocked)
		if err := e.svc.Unlock(e.ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		e.mustLogin("frank", StepOK)
		wantErr(t, e.svc.Unlock(e.ctx, 999999), store.ErrNotFound)
	})
}

func TestUnknownUserLooksLikeBadPassword(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.user("grace")
		_, errUnknown := e.svc.Login(e.ctx, LoginRequest{Username: "nobody", Password: "whatever-Pass1", Meta: web})
		unknownRow := e.lastRow()
		_, errBad := e.svc.Login(e.ctx, LoginRequest{Username: "grace", Password: "whatever-Pass1", Meta: web})
		badRow := e.lastRow()

		wantErr(t, errUnknown, ErrInvalidCredentials)
		wantErr(t, errBad, ErrInvalidCredentials)
		if errUnknown.Error() != errBad.Error() {
			t.Fatalf("messages differ: %q vs %q", errUnknown, errBad)
		}
		if e.svc.dummyHash == "" {
			t.Fatal("no password hashing was done for the unknown user")
		}
		if unknownRow.Reason != "unknown_user" || unknownRow.UserID != nil || unknownRow.Username != "nobody" {
			t.Fatalf("unknown user row: %+v", unknownRow)
		}
		if badRow.Reason != "bad_password" || badRow.UserID == nil {
			t.Fatalf("bad password row: %+v", badRow)
		}

		// Typed usernames are cleaned and bounded in the log.
		_, err := e.svc.Login(e.ctx, LoginRequest{Username: "evil\r\nFAKE LINE\x1b[31m" + strings.Repeat("é", 100), Password: "x", Meta: web})
		wantErr(t, err, ErrInvalidCredentials)
		r := e.lastRow()
		if strings.ContainsAny(r.Username, "\r\n\x1b") || len(r.Username) > 128 || !strings.HasPrefix(r.Username, "evilFAKE LINE[31m") {
			t.Fatalf("logged username: %q (%d bytes)", r.Username, len(r.Username))
		}
	})
}

func TestInactiveUser(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("heidi")
		session := e.mustLogin("heidi", StepOK)
		e.st.DB.Model(u).Update("is_active", false)

		_, err := e.login("heidi")
		wantErr(t, err, ErrInactive)
		e.wantRow(false, "inactive", "password")
		_, err = e.svc.Login(e.ctx, LoginRequest{Username: "heidi", Password: "wrong-Pass-1", Meta: web})
		wantErr(t, err, ErrInvalidCredentials) // a disabled account is told only to who knows its password
		e.wantRow(false, "inactive_bad_password", "password")
		_, err = e.svc.Authenticate(e.ctx, session.Token)
		wantErr(t, err, ErrInactive)
	})
}

func TestLoginACL(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ivan := e.user("ivan")
		e.user("judy")
		acl := func(name string, prio int, user *store.User, ranges []string, window, action string) {
			r := &store.LoginACL{Name: name, Priority: prio, IPRanges: ranges, TimeWindow: window, Action: action, IsActive: true}
			if user != nil {
				r.UserID = &user.ID
			}
			storetest.MustCreate(t, e.st.DB, r)
		}
		acl("block test net", 10, nil, []string{"203.0.113.0/24"}, "", ACLDeny)
		acl("ivan office hours", 20, ivan, nil, "mon-fri 12:00-18:00", ACLAllow)
		acl("ivan otherwise", 30, ivan, nil, "", ACLDeny)

		tests := []struct {
			name    string
			user    string
			ip      string
			advance time.Duration
			wantErr error
		}{
			{"judy from blocked CIDR", "judy", "203.0.113.9", 0, ErrACLDenied},
			{"judy from elsewhere", "judy", "198.51.100.1", 0, nil},
			{"ivan before office hours", "ivan", "198.51.100.1", 0, ErrACLDenied},
			{"ivan in office hours", "ivan", "198.51.100.1", 3 * time.Hour, nil},
			{"ivan in office hours from blocked CIDR", "ivan", "203.0.113.9", 0, ErrACLDenied},
			{"ivan on saturday", "ivan", "198.51.100.1", 5 * 24 * time.Hour, ErrACLDenied},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.clock.Advance(tt.advance)
				meta := RequestMeta{SourceIP: tt.ip, Channel: ChannelWeb}
				res, err := e.svc.Login(e.ctx, LoginRequest{Username: tt.user, Password: testPassword, Meta: meta})
				if tt.wantErr == nil {
					wantStep(t, res, err, StepOK)
					return
				}
				wantErr(t, err, tt.wantErr)
				e.wantRow(false, "acl_denied", "password")
			})
		}

		// A rule broken behind the API's back fails closed.
		e.st.DB.Model(&store.LoginACL{}).Where("name = ?", "block test net").Update("ip_ranges", `["not-an-ip"]`)
		_, err := e.login("judy")
		wantErr(t, err, ErrACLDenied)
		e.wantRow(false, "acl_error", "password")
	})
}

func TestThrottleByIP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setSecurity(func(s *settings.Security) { s.IPThrottlePerMinute = 3 })
		e.user("kim")
		for i := 0; i < 3; i++ {
			_, err := e.svc.Login(e.ctx, LoginRequest{Username: "nobody", Password: "x", Meta: web})
			wantErr(t, err, ErrInvalidCredentials)
		}
		_, err := e.login("kim")
		wantErr(t, err, ErrThrottled)
		e.wantRow(false, "throttled", "password")

		other := RequestMeta{SourceIP: "192.0.2.99", Channel: ChannelWeb}
		res, err := e.svc.Login(e.ctx, LoginRequest{Username: "kim", Password: testPassword, Meta: other})
		wantStep(t, res, err, StepOK)

		e.clock.Advance(2 * time.Minute)
		e.mustLogin("kim", StepOK)
	})
}

func TestAPITokens(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("leo")
		mallory := e.user("mallory")

		raw, tok, err := e.svc.CreateAPIToken(e.ctx, u, " ci deploy ", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(raw, PrefixAPI) || tok.Name != "ci deploy" || tok.Kind != store.TokenAPI || tok.Prefix != raw[:8] {
			t.Fatalf("token: %q %+v", raw[:8], tok)
		}
		p, err := e.svc.Authenticate(e.ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if p.User.ID != u.ID || p.Token.LastUsedAt == nil {
			t.Fatalf("principal: %+v", p.Token)
		}
		first := *p.Token.LastUsedAt
		e.clock.Advance(30 * time.Second)
		p, _ = e.svc.Authenticate(e.ctx, raw)
		if !p.Token.LastUsedAt.Equal(first) {
			t.Fatalf("last used written twice within a minute: %v then %v", first, p.Token.LastUsedAt)
		}
		e.clock.Advance(31 * time.Second)
		p, _ = e.svc.Authenticate(e.ctx, raw)
		if !p.Token.LastUsedAt.After(first) {
			t.Fatalf("last used not updated after a minute: %v", p.Token.LastUsedAt)
		}

		list, err := e.svc.ListAPITokens(e.ctx, u.ID)
		if err != nil || len(list) != 1 || list[0].ID != tok.ID {
			t.Fatalf("list: got %v, %v", list, err)
		}
		// Logout does not end an API token.
		if err := e.svc.Logout(e.ctx, raw); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(e.ctx, raw); err != nil {
			t.Fatalf("after logout: %v", err)
		}

		wantErr(t, e.svc.RevokeAPIToken(e.ctx, mallory.ID, tok.ID), store.ErrNotFound)
		if err := e.svc.RevokeAPIToken(e.ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(e.ctx, raw)
		wantErr(t, err, ErrTokenInvalid)
		wantErr(t, e.svc.RevokeAPIToken(e.ctx, u.ID, tok.ID), store.ErrNotFound)

		// Expiry.
		raw, _, _ = e.svc.CreateAPIToken(e.ctx, u, "short", time.Hour)
		forever, tok2, _ := e.svc.CreateAPIToken(e.ctx, u, "forever", 0)
		if tok2.ExpiresAt != nil {
			t.Fatalf("ttl 0: expires %v, want never", tok2.ExpiresAt)
		}
		e.clock.Advance(time.Hour)
		_, err = e.svc.Authenticate(e.ctx, raw)
		wantErr(t, err, ErrTokenInvalid)
		e.clock.Advance(365 * 24 * time.Hour)
		if _, err := e.svc.Authenticate(e.ctx, forever); err != nil {
			t.Fatalf("token without expiry: %v", err)
		}

		// Validation.
		for _, tt := range []struct {
			name, field string
			ttl         time.Duration
		}{
			{"", "name", 0}, {strings.Repeat("x", 129), "name", 0}, {"a\nb", "name", 0}, {"ok", "expires_in_days", -time.Hour},
		} {
			_, _, err := e.svc.CreateAPIToken(e.ctx, u, tt.name, tt.ttl)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.FieldName() != tt.field {
				t.Fatalf("CreateAPIToken(%q, %v): got %v, want a field error for %s", tt.name, tt.ttl, err, tt.field)
			}
		}
	})
}

func TestSessionExpiryAndLogout(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setSecurity(func(s *settings.Security) { s.SessionTTLMinutes = 60 })
		e.user("mike")
		res := e.mustLogin("mike", StepOK)
		e.clock.Advance(59 * time.Minute)
		if _, err := e.svc.Authenticate(e.ctx, res.Token); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		e.clock.Advance(time.Minute)
		_, err := e.svc.Authenticate(e.ctx, res.Token)
		wantErr(t, err, ErrTokenInvalid)

		res = e.mustLogin("mike", StepOK)
		if err := e.svc.Logout(e.ctx, res.Token); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(e.ctx, res.Token)
		wantErr(t, err, ErrTokenInvalid)
		if err := e.svc.Logout(e.ctx, res.Token); err != nil {
			t.Fatalf("second logout: got %v, want nil", err)
		}

		e.mustLogin("mike", StepOK)
		e.clock.Advance(time.Hour)
		n, err := e.svc.PruneExpiredTokens(e.ctx)
		if err != nil || n != 1 {
			t.Fatalf("prune: got %v, %v, want 1 expired session", n, err)
		}
	})
}

func TestTokenKindsDoNotMix(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.user("nina")
		e.user("oscar", func(u *store.User) { u.MustChangePassword = true })
		secret, _ := e.enroll("nina")
		nina := e.mustLogin("nina", StepOTPRequired)
		sess, err := e.svc.SubmitOTP(e.ctx, nina.Token, e.code(secret), web)
		wantStep(t, sess, err, StepOK)
		apiRaw, _, _ := e.svc.CreateAPIToken(e.ctx, sess.User, "api", 0)
		pwStep := e.mustLogin("oscar", StepPasswordChangeRequired)
		e.clock.Advance(TOTPPeriod)
		otpStep := e.mustLogin("nina", StepOTPRequired)

		tests := []struct {
			name string
			call func() error
		}{
			{"OTP step as session", func() error { _, err := e.svc.Authenticate(e.ctx, otpStep.Token); return err }},
			{"password step as session", func() error { _, err := e.svc.Authenticate(e.ctx, pwStep.Token); return err }},
			{"session as OTP step", func() error { _, err := e.svc.SubmitOTP(e.ctx, sess.Token, e.code(secret), web); return err }},
			{"API token as OTP step", func() error { _, err := e.svc.SubmitOTP(e.ctx, apiRaw, e.code(secret), web); return err }},
			{"OTP step as password step", func() error {
				_, err := e.svc.ChangePassword(e.ctx, otpStep.Token, "", "Fresh-Password-9", web)
				return err
			}},
			{"password step as OTP step", func() error { _, err := e.svc.SubmitOTP(e.ctx, pwStep.Token, "123456", web); return err }},
			{"API token to change password", func() error {
				_, err := e.svc.ChangePassword(e.ctx, apiRaw, testPassword, "Fresh-Password-9", web)
				return err
			}},
			{"OTP step of an enrolled user to re-enroll", func() error { _, _, err := e.svc.BeginTOTPEnroll(e.ctx, otpStep.Token); return err }},
			{"forged session", func() error { _, err := e.svc.Authenticate(e.ctx, PrefixSession+strings.Repeat("A", 43)); return err }},
			{"session token with another prefix", func() error { _, err := e.svc.Authenticate(e.ctx, PrefixAPI+sess.Token[4:]); return err }},
			{"garbage", func() error { _, err := e.svc.Authenticate(e.ctx, "hello"); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.call(), ErrTokenInvalid) })
		}
		// A session of an enrolled user cannot re-enroll either (that would bypass DisableTOTP).
		_, _, err = e.svc.BeginTOTPEnroll(e.ctx, sess.Token)
		wantErr(t, err, ErrMFAAlreadyEnabled)
		// Nothing above consumed the real steps.
		res, err := e.svc.SubmitOTP(e.ctx, otpStep.Token, e.code(secret), web)
		wantStep(t, res, err, StepOK)
	})
}

func TestChangePasswordWithSession(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("pat")
		a := e.mustLogin("pat", StepOK)
		b := e.mustLogin("pat", StepOK)

		_, err := e.svc.ChangePassword(e.ctx, a.Token, "wrong-Password-1", "Brand-New-Pass-7", web)
		wantErr(t, err, ErrInvalidCredentials)
		e.wantRow(false, "change_password_bad_password", "password")
		if got, want := e.reload(u).FailedLogins, 1; got != want {
			t.Fatalf("failed logins: got %v, want %v", got, want)
		}
		_, err = e.svc.ChangePassword(e.ctx, a.Token, testPassword, testPassword, web)
		wantErr(t, err, ErrPasswordPolicy)

		res, err := e.svc.ChangePassword(e.ctx, a.Token, testPassword, "Brand-New-Pass-7", web)
		if err != nil || res.Step != StepOK || res.Token != a.Token {
			t.Fatalf("got %+v, %v, want ok with the same token", res, err)
		}
		if _, err := e.svc.Authenticate(e.ctx, a.Token); err != nil {
			t.Fatalf("current session: %v", err)
		}
		_, err = e.svc.Authenticate(e.ctx, b.Token)
		wantErr(t, err, ErrTokenInvalid)
		_, err = e.login("pat")
		wantErr(t, err, ErrInvalidCredentials)
		if got := e.reload(u); got.PasswordChangedAt == nil || got.MustChangePassword {
			t.Fatalf("user after change: %+v", got)
		}
	})
}

func TestSetPassword(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("quinn")
		s := e.mustLogin("quinn", StepOK)
		api, _, _ := e.svc.CreateAPIToken(e.ctx, u, "api", 0)

		err := e.svc.SetPassword(e.ctx, u, "quinn-Password-1", false)
		wantErr(t, err, ErrPasswordPolicy)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.FieldName() != "password" {
			t.Fatalf("got %v, want a field error for password", err)
		}

		if err := e.svc.SetPassword(e.ctx, u, "Reset-By-Admin-9", true); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(e.ctx, s.Token)
		wantErr(t, err, ErrTokenInvalid)
		if _, err := e.svc.Authenticate(e.ctx, api); err != nil {
			t.Fatalf("API token after a password reset: %v", err)
		}
		res, err := e.svc.Login(e.ctx, LoginRequest{Username: "quinn", Password: "Reset-By-Admin-9", Meta: web})
		wantStep(t, res, err, StepPasswordChangeRequired)

		// A user not created yet only gets the fields, within the caller's transaction too.
		err = e.st.DB.Transaction(func(tx *gorm.DB) error {
			nu := &store.User{OrgID: e.org.ID, Username: "rita", Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true}
			if err := e.svc.SetPassword(WithTx(e.ctx, tx), nu, testPassword, true); err != nil {
				return err
			}
			if nu.PasswordHash == "" || !nu.MustChangePassword {
				t.Fatalf("fields not set: %+v", nu)
			}
			if err := tx.Create(nu).Error; err != nil {
				return err
			}
			return e.svc.SetPassword(WithTx(e.ctx, tx), nu, "Second-Pass-word-2", false)
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err = e.svc.Login(e.ctx, LoginRequest{Username: "rita", Password: "Second-Pass-word-2", Meta: web})
		wantStep(t, res, err, StepOK)
		wantErr(t, e.svc.SetPassword(e.ctx, &store.User{ID: 424242, Username: "ghost"}, testPassword, false), store.ErrNotFound)
	})
}

func TestDisableAndResetTOTP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("sam")
		secret, codes := e.enroll("sam")

		err := e.svc.DisableTOTP(e.ctx, u, testPassword, "000000")
		wantErr(t, err, ErrOTPInvalid)
		e.wantRow(false, "mfa_disable_bad_otp", "otp")
		err = e.svc.DisableTOTP(e.ctx, u, "wrong-Password-1", e.code(secret))
		wantErr(t, err, ErrInvalidCredentials)
		e.wantRow(false, "mfa_disable_bad_password", "password")

		e.setSecurity(func(s *settings.Security) { s.MFAGlobal = true })
		wantErr(t, e.svc.DisableTOTP(e.ctx, u, testPassword, e.code(secret)), ErrMFAEnforced)
		e.setSecurity(func(s *settings.Security) { s.MFAGlobal = false })

		if err := e.svc.DisableTOTP(e.ctx, u, testPassword, codes[0]); err != nil {
			t.Fatal(err)
		}
		if got := e.reload(u); got.TOTPEnabled || len(got.TOTPSecretEnc) != 0 || got.RecoveryCodes != "" || u.TOTPEnabled {
			t.Fatalf("after disable: %+v", got)
		}
		e.mustLogin("sam", StepOK)

		// Reset by an administrator; with MFA enforced the user must enroll again.
		e.enroll("sam")
		otpStep := e.mustLogin("sam", StepOTPRequired)
		if err := e.svc.ResetMFA(e.ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.SubmitOTP(e.ctx, otpStep.Token, "123456", web)
		wantErr(t, err, ErrTokenInvalid)
		e.st.DB.Model(u).Update("mfa_required", true)
		e.mustLogin("sam", StepMFAEnrollRequired)
		wantErr(t, e.svc.ResetMFA(e.ctx, 999999), store.ErrNotFound)
	})
}

func TestConfirmWithoutBegin(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.user("tess")
		s := e.mustLogin("tess", StepOK)
		_, _, err := e.svc.ConfirmTOTPEnroll(e.ctx, s.Token, "123456", web)
		wantErr(t, err, ErrNoPendingTOTP)
	})
}

func TestReauthenticate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("uma")
		err := e.svc.Reauthenticate(e.ctx, u, "wrong-Password-1", "", web)
		wantErr(t, err, ErrInvalidCredentials)
		e.wantRow(false, "reauth_bad_password", "password")
		if got, want := e.reload(u).FailedLogins, 1; got != want {
			t.Fatalf("failed logins: got %v, want %v", got, want)
		}
		if err := e.svc.Reauthenticate(e.ctx, u, testPassword, "", web); err != nil {
			t.Fatal(err)
		}
		e.wantRow(true, "reauth_ok", "password")

		secret, _ := e.enroll("uma")
		wantErr(t, e.svc.Reauthenticate(e.ctx, u, testPassword, "", web), ErrOTPInvalid)
		e.wantRow(false, "reauth_otp_required", "otp")
		if err := e.svc.Reauthenticate(e.ctx, u, testPassword, e.code(secret), web); err != nil {
			t.Fatal(err)
		}
		e.wantRow(true, "reauth_ok", "otp")

		e.setSecurity(func(s *settings.Security) { s.LockoutThreshold = 2 })
		for i := 0; i < 2; i++ {
			e.svc.Reauthenticate(e.ctx, u, "wrong-Password-1", "", web)
		}
		wantErr(t, e.svc.Reauthenticate(e.ctx, u, testPassword, e.code(secret), web), ErrLocked)
		_, err = e.login("uma")
		wantErr(t, err, ErrLocked)
	})
}

func TestEveryAttemptWritesOneLoginRow(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setSecurity(func(s *settings.Security) { s.LockoutThreshold = 100 })
		e.user("vera")
		e.user("walt", func(u *store.User) { u.MustChangePassword = true })
		secret, _ := e.enroll("vera")
		before := len(e.rows())

		calls := []func(){
			func() { e.login("vera") },
			func() { e.login("nobody") },
			func() { e.svc.Login(e.ctx, LoginRequest{Username: "vera", Password: "bad", Meta: web}) },
			func() {
				e.svc.Login(e.ctx, LoginRequest{Username: "vera", Password: testPassword, OTP: "000000", Meta: web})
			},
			func() {
				e.svc.Login(e.ctx, LoginRequest{Username: "vera", Password: testPassword, OTP: e.code(secret), Meta: web})
			},
			func() { e.svc.SubmitOTP(e.ctx, "pcx_garbage", "123456", web) },
			func() {
				e.clock.Advance(TOTPPeriod)
				r, _ := e.login("vera")
				e.svc.SubmitOTP(e.ctx, r.Token, e.code(secret), web)
			}, // two attempts
			func() {
				r, _ := e.login("walt")
				e.svc.ChangePassword(e.ctx, r.Token, "", "Fresh-Start-99", web)
			}, // two attempts
		}
		for _, c := range calls {
			c()
		}
		if got, want := len(e.rows())-before, len(calls)+2; got != want {
			for _, r := range e.rows()[before:] {
				t.Logf("row: %s %s %v %s", r.Username, r.Method, r.Success, r.Reason)
			}
			t.Fatalf("login rows: got %v, want %v", got, want)
		}
		if _, err := e.audit.Verify(e.ctx); err != nil {
			t.Fatalf("audit chain: %v", err)
		}
	})
}

func TestEnsureInitialAdmin(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		dir := t.TempDir()
		password, created, err := e.svc.EnsureInitialAdmin(e.ctx, dir)
		if err != nil || !created {
			t.Fatalf("got created=%v, %v, want true, nil", created, err)
		}
		if len(password) != 20 {
			t.Fatalf("password length: got %v, want 20", len(password))
		}
		path := filepath.Join(dir, InitialAdminPasswordFile)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st.Mode().Perm(), fs.FileMode(0o600); got != want {
			t.Fatalf("file mode: got %v, want %v", got, want)
		}
		if got, want := readFile(t, path), password+"\n"; got != want {
			t.Fatalf("file content: got %q, want the password and a newline", got)
		}
		var admin store.User
		if err := e.st.DB.Where("username = ?", "admin").Take(&admin).Error; err != nil {
			t.Fatal(err)
		}
		if admin.Role != store.RoleSystemAdmin || admin.OrgRole != store.OrgRoleAdmin || admin.OrgID != e.org.ID ||
			!admin.MustChangePassword || !admin.IsActive || strings.Contains(admin.PasswordHash, password) {
			t.Fatalf("admin: %+v", admin)
		}

		again, created, err := e.svc.EnsureInitialAdmin(e.ctx, dir)
		if err != nil || created || again != "" {
			t.Fatalf("second call: got %q, %v, %v, want nothing done", again, created, err)
		}

		// The whole first login, with the password, leaves it out of every log.
		res, err := e.svc.Login(e.ctx, LoginRequest{Username: "admin", Password: password, Meta: web})
		res = wantStep(t, res, err, StepPasswordChangeRequired)
		e.svc.Login(e.ctx, LoginRequest{Username: "admin", Password: password + "x", Meta: web})
		if _, err := e.svc.ChangePassword(e.ctx, res.Token, "", "Root-Of-Trust-42", web); err != nil {
			t.Fatal(err)
		}
		if logs := e.logs.String(); strings.Contains(logs, password) || !strings.Contains(logs, "initial administrator created") {
			t.Fatalf("slog output holds the password or misses the creation:\n%s", logs)
		}
		var rows []store.LoginLog
		e.st.DB.Find(&rows)
		for _, r := range rows {
			if strings.Contains(r.Username+r.Reason+r.UserAgent, password) {
				t.Fatalf("login row holds the password: %+v", r)
			}
		}
	})
}

func TestEnsureInitialAdminReplacesStaleFile(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	dir := t.TempDir()
	path := filepath.Join(dir, InitialAdminPasswordFile)
	writeFile(t, path, "old\n")
	password, created, err := e.svc.EnsureInitialAdmin(e.ctx, dir)
	if err != nil || !created {
		t.Fatalf("got %v, %v", created, err)
	}
	if got := readFile(t, path); got != password+"\n" {
		t.Fatalf("content: got %q", got)
	}
}

func TestConcurrentSubmitOTPOneWins(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.user("xena")
	_, codes := e.enroll("xena")
	step := e.mustLogin("xena", StepOTPRequired)
	type result struct {
		res *LoginResult
		err error
	}
	out := make(chan result, 4)
	for i := 0; i < 4; i++ {
		go func() {
			r, err := e.svc.SubmitOTP(context.Background(), step.Token, codes[0], web)
			out <- result{r, err}
		}()
	}
	wins := 0
	for i := 0; i < 4; i++ {
		if r := <-out; r.err == nil {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("sessions from one step token and one recovery code: got %v, want 1", wins)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
