// Package auth authenticates the people who use Portcullis: it hashes and checks
// passwords (argon2id in PHC format), runs TOTP second factors (RFC 6238) with
// single-use recovery codes, issues and checks bearer tokens, enforces login
// ACLs, per-account lockout and per-address throttling, and writes one login
// log row for every attempt.
//
// The primitives (HashPassword, ValidateTOTP, EvaluateLoginACL, Throttle, ...)
// are pure and usable alone. Service ties them to the database and is the one
// door used by every front end: the HTTP API calls it with Channel "web" or
// "api", the SSH gateway with Channel "ssh", so that login ACLs, lockout,
// throttling and the login log apply identically whatever the client.
//
// A login is a short state machine. Login checks the password and answers
// either a session token (Step "ok") or a step token for the next call:
//
//	Login ──► password_change_required ──ChangePassword──┐
//	   │                                                 ▼
//	   ├────► otp_required ─────────────SubmitOTP──────► ok (session token)
//	   │                                                 ▲
//	   └────► mfa_enroll_required ──Begin/ConfirmTOTPEnroll
//
// Tokens carry their kind in a prefix: "pcs_" sessions, "pca_" API tokens,
// "pcx_" login steps. Only the SHA-256 of a token is stored.
package auth
