package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
)

// Reasons written to the login log. They are for auditors; callers see
// sentinels. A login that stops at a step logs the step's name as its reason
// ("otp_required", ...). Checks made outside a login prefix the reason with
// their purpose ("reauth_bad_password").
const (
	reasonOK                  = "ok"
	reasonUnknownUser         = "unknown_user"
	reasonBadPassword         = "bad_password"
	reasonInactive            = "inactive"
	reasonInactiveBadPassword = "inactive_bad_password"
	reasonLocked              = "locked"
	reasonACLDenied           = "acl_denied"
	reasonACLError            = "acl_error"
	reasonThrottled           = "throttled"
	reasonBadOTP              = "bad_otp"
	reasonOTPReused           = "otp_reused"
	reasonBadRecoveryCode     = "bad_recovery_code"
	reasonOTPRequired         = "otp_required"
	reasonTokenInvalid        = "token_invalid"
	suffixLockout             = "_lockout" // appended when this failure locked the account
	purposeChangePassword     = "change_password"
	purposeReauth             = "reauth"
	purposeMFADisable         = "mfa_disable"
)

func withPurpose(purpose, reason string) string {
	if purpose == "" {
		return reason
	}
	return purpose + "_" + reason
}

// Login checks a username and password and answers the next step: a session
// (StepOK), or a step token for a password change, an OTP or a TOTP
// enrollment. req.OTP, when given, is checked at once for users enrolled in
// TOTP. Every call writes exactly one login log row.
//
// Checks, in order: source throttle (ErrThrottled), user lookup
// (ErrInvalidCredentials), disabled account (ErrInactive, told only to
// a caller who gave the right password), lock (ErrLocked), password
// (ErrInvalidCredentials; failures count toward the lockout), login ACL
// (ErrACLDenied). An unknown user costs the same password hashing as a known
// one, so neither the answer nor its timing tells whether a username exists.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	sec, err := s.security(ctx)
	if err != nil {
		return nil, err
	}
	ip := ParseSourceIP(req.Meta.SourceIP)
	a := attempt{username: req.Username, meta: req.Meta, method: MethodPassword}
	if !s.throttle.Allow(ip, sec.IPThrottlePerMinute) {
		return nil, s.refuse(ctx, a, reasonThrottled, ErrThrottled)
	}
	u, err := s.userByName(ctx, req.Username)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := s.checkPassword(ctx, nil, req.Password); err != nil {
			return nil, err
		}
		s.throttle.Fail(ip)
		return nil, s.refuse(ctx, a, reasonUnknownUser, ErrInvalidCredentials)
	} else if err != nil {
		return nil, err
	}
	a.user = u
	if !u.IsActive {
		ok, err := s.checkPassword(ctx, u, req.Password)
		if err != nil {
			return nil, err
		}
		s.throttle.Fail(ip)
		if !ok {
			return nil, s.refuse(ctx, a, reasonInactiveBadPassword, ErrInvalidCredentials)
		}
		return nil, s.refuse(ctx, a, reasonInactive, ErrInactive)
	}
	locked, err := s.isLocked(ctx, u, s.now())
	if err != nil {
		return nil, err
	}
	if locked {
		s.throttle.Fail(ip)
		return nil, s.refuse(ctx, a, reasonLocked, ErrLocked)
	}
	ok, err := s.checkPassword(ctx, u, req.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.badPassword(ctx, u, sec, a, ip, "")
	}
	s.rehashIfNeeded(ctx, u, req.Password)
	if err := s.checkACL(ctx, u, ip, a); err != nil {
		return nil, err
	}
	if u.MustChangePassword {
		return s.issueStep(ctx, u, a, store.TokenPasswordChange, StepPasswordChangeRequired)
	}
	return s.afterPassword(ctx, u, sec, a, ip, req.OTP)
}

// afterPassword runs the second-factor part of a login whose password (and
// password change) is done.
func (s *Service) afterPassword(ctx context.Context, u *store.User, sec settings.Security, a attempt, ip netip.Addr, otp string) (*LoginResult, error) {
	switch {
	case u.TOTPEnabled && otp == "":
		return s.issueStep(ctx, u, a, store.TokenMFA, StepOTPRequired)
	case u.TOTPEnabled:
		method, reason, err := s.verifySecondFactor(ctx, u, otp)
		if err != nil {
			return nil, err
		}
		a.method = method
		if reason != "" {
			return nil, s.badOTP(ctx, u, sec, a, ip, nil, reason)
		}
		return s.completeLogin(ctx, u, sec, a)
	case mfaRequired(sec, u):
		return s.issueStep(ctx, u, a, store.TokenMFA, StepMFAEnrollRequired)
	}
	return s.completeLogin(ctx, u, sec, a)
}

// SubmitOTP completes a login waiting for a second factor (StepOTPRequired)
// with a TOTP code or a recovery code (which is then used up). A wrong code
// counts toward the lockout; MaxStepFailures wrong codes invalidate the step
// token. On success the step token is consumed and a session is issued.
func (s *Service) SubmitOTP(ctx context.Context, stepToken, otp string, meta RequestMeta) (*LoginResult, error) {
	sec, err := s.security(ctx)
	if err != nil {
		return nil, err
	}
	ip := ParseSourceIP(meta.SourceIP)
	a := attempt{meta: meta, method: MethodOTP}
	if !s.throttle.Allow(ip, sec.IPThrottlePerMinute) {
		return nil, s.refuse(ctx, a, reasonThrottled, ErrThrottled)
	}
	tok, u, err := s.lookupToken(ctx, stepToken, store.TokenMFA)
	if err != nil {
		return nil, s.badToken(ctx, a, ip, err)
	}
	a.user, a.username = u, u.Username
	if !u.TOTPEnabled { // an enrollment step: it takes BeginTOTPEnroll, not a code
		return nil, s.refuse(ctx, a, reasonTokenInvalid, fmt.Errorf("%w: no TOTP enrolled yet", ErrTokenInvalid))
	}
	if err := s.checkStepUser(ctx, u, a, ip); err != nil {
		return nil, err
	}
	method, reason, err := s.verifySecondFactor(ctx, u, otp)
	if err != nil {
		return nil, err
	}
	a.method = method
	if reason != "" {
		return nil, s.badOTP(ctx, u, sec, a, ip, tok, reason)
	}
	if err := s.consumeToken(ctx, tok); err != nil {
		return nil, s.badToken(ctx, a, ip, err)
	}
	return s.completeLogin(ctx, u, sec, a)
}

// ChangePassword sets a new password. token is either the step token of a
// login that must change its password (oldPassword is then ignored: the login
// just proved it), or a session token (oldPassword is required and checked;
// failures count toward the lockout). The new password must meet the policy
// (a *FieldError for "new_password") and differ from the current one.
//
// With a step token the login goes on: the answer is the next step (OTP,
// enrollment or a session). With a session token the answer is StepOK with
// the same token; the user's other sessions and pending login steps are revoked.
func (s *Service) ChangePassword(ctx context.Context, token, oldPassword, newPassword string, meta RequestMeta) (*LoginResult, error) {
	sec, err := s.security(ctx)
	if err != nil {
		return nil, err
	}
	ip := ParseSourceIP(meta.SourceIP)
	if strings.HasPrefix(token, PrefixStep) {
		a := attempt{meta: meta, method: MethodToken}
		tok, u, err := s.lookupToken(ctx, token, store.TokenPasswordChange)
		if err != nil {
			return nil, s.badToken(ctx, a, ip, err)
		}
		a.user, a.username = u, u.Username
		if err := s.checkStepUser(ctx, u, a, ip); err != nil {
			return nil, err
		}
		if err := s.validateNewPassword(ctx, sec, u, newPassword); err != nil {
			return nil, err
		}
		if err := s.consumeToken(ctx, tok); err != nil {
			return nil, s.badToken(ctx, a, ip, err)
		}
		if err := s.storePassword(ctx, u, newPassword, false); err != nil {
			return nil, err
		}
		if err := s.revokeTokens(ctx, u.ID, 0); err != nil {
			return nil, err
		}
		s.log.InfoContext(ctx, "password changed at login", "user_id", u.ID)
		return s.afterPassword(ctx, u, sec, a, ip, "")
	}

	tok, u, err := s.lookupToken(ctx, token, store.TokenSession)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, ErrInactive
	}
	a := attempt{user: u, username: u.Username, meta: meta, method: MethodPassword}
	if !s.throttle.Allow(ip, sec.IPThrottlePerMinute) {
		return nil, s.refuse(ctx, a, withPurpose(purposeChangePassword, reasonThrottled), ErrThrottled)
	}
	locked, err := s.isLocked(ctx, u, s.now())
	if err != nil {
		return nil, err
	}
	if locked {
		return nil, s.refuse(ctx, a, withPurpose(purposeChangePassword, reasonLocked), ErrLocked)
	}
	ok, err := s.checkPassword(ctx, u, oldPassword)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.badPassword(ctx, u, sec, a, ip, purposeChangePassword)
	}
	if err := s.validateNewPassword(ctx, sec, u, newPassword); err != nil {
		return nil, err
	}
	if err := s.storePassword(ctx, u, newPassword, false); err != nil {
		return nil, err
	}
	if err := s.revokeTokens(ctx, u.ID, tok.ID); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "password changed", "user_id", u.ID)
	res := &LoginResult{Step: StepOK, Token: token, User: u}
	if tok.ExpiresAt != nil {
		res.ExpiresAt = *tok.ExpiresAt
	}
	return res, nil
}

// validateNewPassword checks a password chosen by its owner.
func (s *Service) validateNewPassword(ctx context.Context, sec settings.Security, u *store.User, password string) error {
	const field = "new_password"
	if err := checkPasswordPolicy(sec, password, u.Username, field); err != nil {
		return err
	}
	if u.PasswordHash != "" {
		same, err := s.checkPassword(ctx, u, password)
		if err != nil {
			return err
		}
		if same {
			return policyError(field, "must differ from the current password")
		}
	}
	return nil
}

// storePassword hashes and saves u's password.
func (s *Service) storePassword(ctx context.Context, u *store.User, password string, mustChange bool) error {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	u.PasswordHash, u.MustChangePassword, u.PasswordChangedAt = hash, mustChange, &now
	if u.ID == 0 {
		return nil
	}
	res := s.conn(ctx).Model(&store.User{}).Where("id = ?", u.ID).UpdateColumns(map[string]any{
		"password_hash": hash, "must_change_password": mustChange, "password_changed_at": now, "updated_at": now,
	})
	if res.Error != nil {
		return fmt.Errorf("auth: store password: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("auth: store password of user %d: %w", u.ID, store.ErrNotFound)
	}
	return nil
}

// rehashIfNeeded upgrades a hash made with older parameters, best effort.
func (s *Service) rehashIfNeeded(ctx context.Context, u *store.User, password string) {
	if !PasswordNeedsRehash(u.PasswordHash) {
		return
	}
	hash, err := s.hash(ctx, password)
	if err == nil {
		err = s.conn(ctx).Model(&store.User{}).Where("id = ? AND password_hash = ?", u.ID, u.PasswordHash).
			UpdateColumn("password_hash", hash).Error
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", u.ID, "err", err)
		return
	}
	u.PasswordHash = hash
}

// verifySecondFactor checks a TOTP code (refusing reuse) or a recovery code
// (using it up). reason is empty on success, else the login log reason; err
// is for internal failures only.
func (s *Service) verifySecondFactor(ctx context.Context, u *store.User, code string) (method, reason string, err error) {
	if norm, ok := normalizeOTP(code); ok {
		secret, err := s.vault.Unseal(u.TOTPSecretEnc, aadTOTP(u.ID))
		if err != nil {
			return MethodOTP, "", fmt.Errorf("auth: unseal TOTP secret of user %d: %w", u.ID, err)
		}
		step, err := ValidateTOTP(string(secret), norm, s.now())
		if errors.Is(err, ErrOTPInvalid) {
			return MethodOTP, reasonBadOTP, nil
		} else if err != nil {
			return MethodOTP, "", fmt.Errorf("auth: TOTP of user %d: %w", u.ID, err)
		}
		if !s.claimTOTPStep(u.ID, step) {
			return MethodOTP, reasonOTPReused, nil
		}
		return MethodOTP, "", nil
	}
	if len(normalizeRecoveryCode(code)) != recoveryGroups*recoveryGroupLen {
		return MethodOTP, reasonBadOTP, nil
	}
	remaining, ok, err := useRecoveryCode(u.RecoveryCodes, code)
	if err != nil {
		return MethodRecoveryCode, "", err
	}
	if !ok {
		return MethodRecoveryCode, reasonBadRecoveryCode, nil
	}
	// Compare-and-swap, so that two concurrent uses of one code cannot both win.
	res := s.conn(ctx).Model(&store.User{}).Where("id = ? AND recovery_codes = ?", u.ID, u.RecoveryCodes).
		UpdateColumn("recovery_codes", remaining)
	if res.Error != nil {
		return MethodRecoveryCode, "", fmt.Errorf("auth: use recovery code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return MethodRecoveryCode, reasonBadRecoveryCode, nil
	}
	u.RecoveryCodes = remaining
	s.log.InfoContext(ctx, "recovery code used", "user_id", u.ID)
	return MethodRecoveryCode, "", nil
}

// badPassword handles a wrong password of a known user.
func (s *Service) badPassword(ctx context.Context, u *store.User, sec settings.Security, a attempt, ip netip.Addr, purpose string) error {
	s.throttle.Fail(ip)
	reason := withPurpose(purpose, reasonBadPassword)
	locked, err := s.countFailure(ctx, u, sec)
	if err != nil {
		s.log.ErrorContext(ctx, "count login failure", "user_id", u.ID, "err", err)
	}
	if locked {
		reason += suffixLockout
	}
	return s.refuse(ctx, a, reason, ErrInvalidCredentials)
}

// badOTP handles a wrong second factor of a known user; tok is the step
// token it came with, if any.
func (s *Service) badOTP(ctx context.Context, u *store.User, sec settings.Security, a attempt, ip netip.Addr, tok *store.AuthToken, reason string) error {
	s.throttle.Fail(ip)
	locked, err := s.countFailure(ctx, u, sec)
	if err != nil {
		s.log.ErrorContext(ctx, "count login failure", "user_id", u.ID, "err", err)
	}
	if locked {
		reason += suffixLockout
	}
	if tok != nil && s.stepFailed(tok) >= MaxStepFailures {
		if err := s.consumeToken(ctx, tok); err != nil && !errors.Is(err, ErrTokenInvalid) {
			s.log.ErrorContext(ctx, "invalidate step token", "token_id", tok.ID, "err", err)
		}
		s.log.InfoContext(ctx, "step token invalidated after repeated wrong codes", "user_id", u.ID)
	}
	return s.refuse(ctx, a, reason, ErrOTPInvalid)
}

// badToken logs a refused step token and counts it toward the throttle.
func (s *Service) badToken(ctx context.Context, a attempt, ip netip.Addr, err error) error {
	if !errors.Is(err, ErrTokenInvalid) {
		return err
	}
	s.throttle.Fail(ip)
	return s.refuse(ctx, a, reasonTokenInvalid, err)
}

// checkStepUser re-checks, at each login step, that the user may still log in.
func (s *Service) checkStepUser(ctx context.Context, u *store.User, a attempt, ip netip.Addr) error {
	if !u.IsActive {
		s.throttle.Fail(ip)
		return s.refuse(ctx, a, reasonInactive, ErrInactive)
	}
	locked, err := s.isLocked(ctx, u, s.now())
	if err != nil {
		return err
	}
	if locked {
		s.throttle.Fail(ip)
		return s.refuse(ctx, a, reasonLocked, ErrLocked)
	}
	return s.checkACL(ctx, u, ip, a)
}

// checkACL applies the login ACLs. A malformed rule refuses the login.
func (s *Service) checkACL(ctx context.Context, u *store.User, ip netip.Addr, a attempt) error {
	var rules []store.LoginACL
	if err := s.conn(ctx).Where("is_active = ?", true).Where("user_id IS NULL OR user_id = ?", u.ID).
		Find(&rules).Error; err != nil {
		return fmt.Errorf("auth: load login ACLs: %w", err)
	}
	d, err := EvaluateLoginACL(rules, u, ip, s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "login ACL is malformed: refusing login", "user_id", u.ID, "err", err)
		s.throttle.Fail(ip)
		return s.refuse(ctx, a, reasonACLError, fmt.Errorf("%w: %v", ErrACLDenied, err))
	}
	if !d.Allow {
		s.log.InfoContext(ctx, "login denied by ACL", "user_id", u.ID, "rule_id", d.Rule.ID, "rule", d.Rule.Name, "source_ip", a.meta.SourceIP)
		s.throttle.Fail(ip)
		return s.refuse(ctx, a, reasonACLDenied, ErrACLDenied)
	}
	return nil
}

// issueStep answers a step token of kind for the next login step.
func (s *Service) issueStep(ctx context.Context, u *store.User, a attempt, kind string, step Step) (*LoginResult, error) {
	raw, t, err := s.issueToken(ctx, u, kind, "", StepTokenTTL, a.meta.SourceIP)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, a, false, string(step)); err != nil {
		s.conn(ctx).Delete(&store.AuthToken{}, t.ID)
		return nil, err
	}
	return &LoginResult{Step: step, Token: raw, ExpiresAt: *t.ExpiresAt, User: u}, nil
}

// completeLogin issues a session: the login succeeded.
func (s *Service) completeLogin(ctx context.Context, u *store.User, sec settings.Security, a attempt) (*LoginResult, error) {
	now := s.now()
	ip := cleanLogText(a.meta.SourceIP, 64)
	if err := s.conn(ctx).Model(&store.User{}).Where("id = ?", u.ID).UpdateColumns(map[string]any{
		"failed_logins": 0, "locked_until": nil, "last_login_at": now, "last_login_ip": ip,
	}).Error; err != nil {
		return nil, fmt.Errorf("auth: record login: %w", err)
	}
	u.FailedLogins, u.LockedUntil, u.LastLoginAt, u.LastLoginIP = 0, nil, &now, ip
	raw, t, err := s.issueToken(ctx, u, store.TokenSession, "", sessionTTL(sec), a.meta.SourceIP)
	if err != nil {
		return nil, err
	}
	// No unaudited session: if the login log cannot be written, the session goes.
	if err := s.record(ctx, a, true, reasonOK); err != nil {
		s.conn(ctx).Delete(&store.AuthToken{}, t.ID)
		return nil, err
	}
	return &LoginResult{Step: StepOK, Token: raw, ExpiresAt: *t.ExpiresAt, User: u}, nil
}
