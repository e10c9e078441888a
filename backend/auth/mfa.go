package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
)

// DefaultIssuer names Portcullis in authenticator apps when the site has no name.
const DefaultIssuer = "Portcullis"

// enrollSubject resolves the token of a TOTP enrollment: the step token of a
// login that must enroll (isStep), or a session of a user not yet enrolled.
func (s *Service) enrollSubject(ctx context.Context, token string) (u *store.User, tok *store.AuthToken, isStep bool, err error) {
	if strings.HasPrefix(token, PrefixStep) {
		tok, u, err = s.lookupToken(ctx, token, store.TokenMFA)
		if err != nil {
			return nil, nil, false, err
		}
		if u.TOTPEnabled {
			// This step token is for an OTP: enrolling again would bypass it.
			return nil, nil, false, fmt.Errorf("%w: TOTP is enrolled: submit a code", ErrTokenInvalid)
		}
		if !u.IsActive {
			return nil, nil, false, ErrInactive
		}
		return u, tok, true, nil
	}
	tok, u, err = s.lookupToken(ctx, token, store.TokenSession)
	if err != nil {
		return nil, nil, false, err
	}
	if !u.IsActive {
		return nil, nil, false, ErrInactive
	}
	if u.TOTPEnabled {
		return nil, nil, false, ErrMFAAlreadyEnabled
	}
	return u, tok, false, nil
}

// BeginTOTPEnroll starts a TOTP enrollment for the owner of token (the step
// token of a login that must enroll, or a session of a user not enrolled yet:
// ErrMFAAlreadyEnabled otherwise). It stores a fresh secret, sealed, as the
// user's pending secret and returns it with its otpauth:// URI (issuer: the
// site name). Calling it again replaces the pending secret.
func (s *Service) BeginTOTPEnroll(ctx context.Context, token string) (secret, uri string, err error) {
	u, _, isStep, err := s.enrollSubject(ctx, token)
	if err != nil {
		return "", "", err
	}
	if isStep {
		if locked, err := s.isLocked(ctx, u, s.now()); err != nil {
			return "", "", err
		} else if locked {
			return "", "", ErrLocked
		}
	}
	secret, err = NewTOTPSecret()
	if err != nil {
		return "", "", err
	}
	sealed, err := s.vault.Seal([]byte(secret), aadTOTPPending(u.ID))
	if err != nil {
		return "", "", fmt.Errorf("auth: seal TOTP secret: %w", err)
	}
	res := s.conn(ctx).Model(&store.User{}).Where("id = ? AND totp_enabled = ?", u.ID, false).
		UpdateColumn("totp_pending_enc", sealed)
	if res.Error != nil {
		return "", "", fmt.Errorf("auth: store pending TOTP secret: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return "", "", ErrMFAAlreadyEnabled
	}
	issuer := DefaultIssuer
	if site, err := s.settings.Site(ctx); err == nil && strings.TrimSpace(site.Name) != "" {
		issuer = strings.TrimSpace(site.Name)
	}
	return secret, TOTPURI(issuer, u.Username, secret), nil
}

// ConfirmTOTPEnroll activates the pending secret of BeginTOTPEnroll once otp
// proves the authenticator app has it (ErrNoPendingTOTP without one), and
// returns RecoveryCodeCount fresh recovery codes, shown once. With a login
// step token the login completes (StepOK with a new session; a wrong code
// counts toward the step token's MaxStepFailures); with a session token the
// answer is StepOK with that same token.
func (s *Service) ConfirmTOTPEnroll(ctx context.Context, token, otp string, meta RequestMeta) (*LoginResult, []string, error) {
	u, tok, isStep, err := s.enrollSubject(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	sec, err := s.security(ctx)
	if err != nil {
		return nil, nil, err
	}
	ip := ParseSourceIP(meta.SourceIP)
	a := attempt{user: u, username: u.Username, meta: meta, method: MethodOTP}
	if isStep {
		if err := s.checkStepUser(ctx, u, a, ip); err != nil {
			return nil, nil, err
		}
	}
	if len(u.TOTPPendingEnc) == 0 {
		return nil, nil, ErrNoPendingTOTP
	}
	secret, err := s.vault.Unseal(u.TOTPPendingEnc, aadTOTPPending(u.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("auth: unseal pending TOTP secret of user %d: %w", u.ID, err)
	}
	step, err := ValidateTOTP(string(secret), otp, s.now())
	if errors.Is(err, ErrOTPInvalid) {
		// The code is checked against a secret the caller was just given, so a
		// wrong one is a typo, not a guess: it does not count toward the lockout.
		if isStep {
			if s.stepFailed(tok) >= MaxStepFailures {
				_ = s.consumeToken(ctx, tok)
			}
			_ = s.record(ctx, a, false, reasonBadOTP)
		}
		return nil, nil, ErrOTPInvalid
	} else if err != nil {
		return nil, nil, fmt.Errorf("auth: pending TOTP of user %d: %w", u.ID, err)
	}
	s.forgetTOTPStep(u.ID)
	s.claimTOTPStep(u.ID, step) // the enrollment code cannot log in again
	codes, err := NewRecoveryCodes(RecoveryCodeCount)
	if err != nil {
		return nil, nil, err
	}
	hashed, err := HashRecoveryCodes(codes)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.vault.Seal(secret, aadTOTP(u.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("auth: seal TOTP secret: %w", err)
	}
	if isStep {
		if err := s.consumeToken(ctx, tok); err != nil {
			return nil, nil, err
		}
	}
	res := s.conn(ctx).Model(&store.User{}).Where("id = ? AND totp_enabled = ?", u.ID, false).UpdateColumns(map[string]any{
		"totp_enabled": true, "totp_secret_enc": sealed, "totp_pending_enc": nil, "recovery_codes": hashed,
	})
	if res.Error != nil {
		return nil, nil, fmt.Errorf("auth: activate TOTP: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil, ErrMFAAlreadyEnabled
	}
	u.TOTPEnabled, u.TOTPSecretEnc, u.TOTPPendingEnc, u.RecoveryCodes = true, sealed, nil, hashed
	s.log.InfoContext(ctx, "TOTP enrolled", "user_id", u.ID)
	if isStep {
		r, err := s.completeLogin(ctx, u, sec, a)
		if err != nil {
			return nil, nil, err
		}
		return r, codes, nil
	}
	r := &LoginResult{Step: StepOK, Token: token, User: u}
	if tok.ExpiresAt != nil {
		r.ExpiresAt = *tok.ExpiresAt
	}
	return r, codes, nil
}

// DisableTOTP turns TOTP off for user after checking password and otp (a TOTP
// code or a recovery code); failures count toward the lockout and are logged.
// It answers ErrMFAEnforced when the policy requires MFA for the user, and
// nil when TOTP is not enabled. user is updated in place.
func (s *Service) DisableTOTP(ctx context.Context, user *store.User, password, otp string) error {
	sec, err := s.security(ctx)
	if err != nil {
		return err
	}
	u, err := s.userByID(ctx, user.ID)
	if err != nil {
		return err
	}
	if mfaRequired(sec, u) {
		return ErrMFAEnforced
	}
	if !u.TOTPEnabled {
		return nil
	}
	if err := s.reauth(ctx, u, sec, password, otp, RequestMeta{}, purposeMFADisable); err != nil {
		return err
	}
	if err := s.clearTOTP(ctx, u.ID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "TOTP disabled by its owner", "user_id", u.ID)
	user.TOTPEnabled, user.TOTPSecretEnc, user.TOTPPendingEnc, user.RecoveryCodes = false, nil, nil, ""
	return nil
}

// ResetMFA removes a user's TOTP enrollment and recovery codes (an
// administrator's action, e.g. for a lost phone). If the policy requires MFA,
// the user enrolls again at the next login. Pending OTP login steps are
// revoked. A missing user is store.ErrNotFound.
func (s *Service) ResetMFA(ctx context.Context, userID uint) error {
	if err := s.clearTOTP(ctx, userID); err != nil {
		return err
	}
	if err := s.conn(ctx).Where("user_id = ? AND kind = ?", userID, store.TokenMFA).Delete(&store.AuthToken{}).Error; err != nil {
		return fmt.Errorf("auth: revoke OTP steps of user %d: %w", userID, err)
	}
	s.log.InfoContext(ctx, "TOTP reset", "user_id", userID)
	return nil
}

func (s *Service) clearTOTP(ctx context.Context, userID uint) error {
	res := s.conn(ctx).Model(&store.User{}).Where("id = ?", userID).UpdateColumns(map[string]any{
		"totp_enabled": false, "totp_secret_enc": nil, "totp_pending_enc": nil, "recovery_codes": "",
	})
	if res.Error != nil {
		return fmt.Errorf("auth: clear TOTP of user %d: %w", userID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("auth: user %d: %w", userID, store.ErrNotFound)
	}
	s.forgetTOTPStep(userID)
	return nil
}

// Reauthenticate checks a logged-in user's password, and TOTP code (or
// recovery code) when enrolled, before a sensitive action such as revealing a
// secret. Failures count toward the lockout and the throttle; every call
// writes a login log row (reasons "reauth_..."). A missing code for an
// enrolled user is ErrOTPInvalid.
func (s *Service) Reauthenticate(ctx context.Context, user *store.User, password, otp string, meta RequestMeta) error {
	sec, err := s.security(ctx)
	if err != nil {
		return err
	}
	u, err := s.userByID(ctx, user.ID)
	if err != nil {
		return err
	}
	return s.reauth(ctx, u, sec, password, otp, meta, purposeReauth)
}

func (s *Service) reauth(ctx context.Context, u *store.User, sec settings.Security, password, otp string, meta RequestMeta, purpose string) error {
	ip := ParseSourceIP(meta.SourceIP)
	a := attempt{user: u, username: u.Username, meta: meta, method: MethodPassword}
	if !s.throttle.Allow(ip, sec.IPThrottlePerMinute) {
		return s.refuse(ctx, a, withPurpose(purpose, reasonThrottled), ErrThrottled)
	}
	if !u.IsActive {
		return s.refuse(ctx, a, withPurpose(purpose, reasonInactive), ErrInactive)
	}
	locked, err := s.isLocked(ctx, u, s.now())
	if err != nil {
		return err
	}
	if locked {
		return s.refuse(ctx, a, withPurpose(purpose, reasonLocked), ErrLocked)
	}
	ok, err := s.checkPassword(ctx, u, password)
	if err != nil {
		return err
	}
	if !ok {
		return s.badPassword(ctx, u, sec, a, ip, purpose)
	}
	if u.TOTPEnabled {
		a.method = MethodOTP
		if strings.TrimSpace(otp) == "" {
			return s.refuse(ctx, a, withPurpose(purpose, reasonOTPRequired), ErrOTPInvalid)
		}
		method, reason, err := s.verifySecondFactor(ctx, u, otp)
		if err != nil {
			return err
		}
		a.method = method
		if reason != "" {
			return s.badOTP(ctx, u, sec, a, ip, nil, withPurpose(purpose, reason))
		}
	}
	if err := s.conn(ctx).Model(&store.User{}).Where("id = ?", u.ID).UpdateColumn("failed_logins", 0).Error; err != nil {
		return fmt.Errorf("auth: reset failures: %w", err)
	}
	u.FailedLogins = 0
	return s.record(ctx, a, true, withPurpose(purpose, reasonOK))
}
