package auth

import "errors"

// Errors returned by this package. Callers test them with errors.Is; the
// HTTP API maps them to status codes. The caller-visible error for an unknown
// user and for a wrong password is the same ErrInvalidCredentials, so that a
// client cannot tell which usernames exist; the login log records the truth.
var (
	// ErrInvalidCredentials: unknown user or wrong password.
	ErrInvalidCredentials = errors.New("auth: invalid username or password")
	// ErrLocked: the account is locked after repeated failures.
	ErrLocked = errors.New("auth: account locked")
	// ErrInactive: the account is disabled.
	ErrInactive = errors.New("auth: account disabled")
	// ErrACLDenied: a login ACL refuses this address or time.
	ErrACLDenied = errors.New("auth: login denied by access control rule")
	// ErrThrottled: too many failed attempts from this source address.
	ErrThrottled = errors.New("auth: too many failed attempts from this address")
	// ErrOTPInvalid: wrong, reused or malformed one-time code or recovery code.
	ErrOTPInvalid = errors.New("auth: invalid one-time code")
	// ErrTokenInvalid: unknown, expired or wrong-kind token.
	ErrTokenInvalid = errors.New("auth: invalid or expired token")
	// ErrMFAEnforced: the policy requires MFA for this user, so it cannot be disabled.
	ErrMFAEnforced = errors.New("auth: multi-factor authentication is enforced")
	// ErrMFAAlreadyEnabled: TOTP is already active; disable or reset it first.
	ErrMFAAlreadyEnabled = errors.New("auth: TOTP is already enabled")
	// ErrNoPendingTOTP: ConfirmTOTPEnroll was called without BeginTOTPEnroll.
	ErrNoPendingTOTP = errors.New("auth: no TOTP enrollment in progress")
	// ErrPasswordPolicy: a new password does not meet the policy (wrapped by a *FieldError).
	ErrPasswordPolicy = errors.New("auth: password does not meet the policy")
	// ErrInvalid: other invalid input (wrapped by a *FieldError).
	ErrInvalid = errors.New("auth: invalid input")
	// ErrMalformedHash: a stored password hash is not a valid argon2id PHC string.
	ErrMalformedHash = errors.New("auth: malformed password hash")
)

// FieldError is a validation error naming the offending JSON field. Like every
// validation error of the project it has a FieldName method, which the HTTP API
// turns into a 400 answer with "field". It unwraps to ErrPasswordPolicy or ErrInvalid.
type FieldError struct {
	Field   string // JSON field name, e.g. "password", "ip_ranges"
	Message string // what is wrong, without the field name
	Err     error  // ErrPasswordPolicy or ErrInvalid
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldName returns the name of the offending field.
func (e *FieldError) FieldName() string { return e.Field }

// Unwrap returns the sentinel the error belongs to.
func (e *FieldError) Unwrap() error { return e.Err }

func policyError(field, msg string) error {
	return &FieldError{Field: field, Message: msg, Err: ErrPasswordPolicy}
}

func invalidError(field, msg string) error {
	return &FieldError{Field: field, Message: msg, Err: ErrInvalid}
}
