package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/store"
)

// Error is the JSON error body: {"error": {"code", "message", "field"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Message }

type errorBody struct {
	Error *Error `json:"error"`
}

// Error codes.
const (
	codeBadRequest = "bad_request"
	codeValidation = "validation"
	codeUnauth     = "unauthorized"
	codeForbidden  = "forbidden"
	codeNotFound   = "not_found"
	codeConflict   = "conflict"
	codeTooLarge   = "too_large"
	codeLocked     = "locked"
	codeThrottled  = "too_many_requests"
	codeInternal   = "internal"
)

func errBadRequest(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errValidation(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if field != "" && !strings.HasPrefix(msg, field+":") {
		msg = field + ": " + msg
	}
	return &Error{Status: http.StatusBadRequest, Code: codeValidation, Field: field, Message: msg}
}

func errForbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: codeForbidden, Message: msg}
}

func errNotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: what + " not found"}
}

func errConflict(field, msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: codeConflict, Field: field, Message: msg}
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: codeUnauth, Message: "authentication required"}

// fieldNamer is implemented by every validation error of the domain packages.
type fieldNamer interface{ FieldName() string }

// toAPIError maps any error to the error answered to the client. Unknown errors
// become a 500 whose detail is logged, not sent.
func toAPIError(err error) (*Error, bool) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae, false
	}
	var fn fieldNamer
	if errors.As(err, &fn) {
		return &Error{Status: http.StatusBadRequest, Code: codeValidation, Field: fn.FieldName(), Message: err.Error()}, false
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}, false
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("object"), false
	case errors.Is(err, store.ErrDuplicate):
		return errConflict("name", "an object with this name already exists"), false
	case errors.Is(err, store.ErrConflict):
		return errConflict("", "the object is still referenced"), false
	case errors.Is(err, asset.ErrNodeNotEmpty):
		return errConflict("", err.Error()), false
	case errors.Is(err, asset.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: codeValidation, Message: err.Error()}, false
	case errors.Is(err, perm.ErrInvalidQuery):
		return errValidation("sort", "%v", err), false
	case errors.Is(err, perm.ErrDenied):
		return errForbidden("access denied"), false
	case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrOTPInvalid), errors.Is(err, auth.ErrTokenInvalid):
		return &Error{Status: http.StatusUnauthorized, Code: codeUnauth, Message: authMessage(err)}, false
	case errors.Is(err, auth.ErrLocked):
		return &Error{Status: http.StatusLocked, Code: codeLocked, Message: "account locked after repeated failures; try again later or ask an administrator"}, false
	case errors.Is(err, auth.ErrInactive):
		return errForbidden("account disabled"), false
	case errors.Is(err, auth.ErrACLDenied):
		return errForbidden("login not allowed from this address or at this time"), false
	case errors.Is(err, auth.ErrThrottled):
		return &Error{Status: http.StatusTooManyRequests, Code: codeThrottled, Message: "too many failed attempts from this address; wait a minute"}, false
	case errors.Is(err, auth.ErrMFAAlreadyEnabled):
		return errConflict("", "TOTP is already enabled; disable it first to enrol a new device"), false
	case errors.Is(err, auth.ErrNoPendingTOTP):
		return errConflict("", "no TOTP enrolment in progress; start with /auth/mfa/setup"), false
	case errors.Is(err, auth.ErrMFAEnforced):
		return errForbidden("multi-factor authentication is required by the security policy"), false
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"}, true
}

func authMessage(err error) string {
	switch {
	case errors.Is(err, auth.ErrOTPInvalid):
		return "invalid one-time code"
	case errors.Is(err, auth.ErrTokenInvalid):
		return "invalid or expired token"
	}
	return "invalid username or password"
}

// decodeJSON reads one JSON object into v, refusing unknown fields, wrong
// types, trailing data and oversized bodies with a clear error.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: codeBadRequest, Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadRequest("", "request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errBadRequest("", "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("", "request body is truncated JSON")
	case errors.As(err, &se):
		return errBadRequest("", "malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		return errBadRequest(field, "%s: must be %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errBadRequest(name, "unknown field %q", name)
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return errBadRequest("", "invalid JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return k
}
