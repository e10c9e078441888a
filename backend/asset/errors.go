package asset

import (
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/backend/store"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("asset: invalid")

// ErrTooLarge is returned by the importers when a file exceeds MaxImportSize
// bytes or MaxImportRows data rows (the API answers 413).
var ErrTooLarge = errors.New("asset: import file too large")

// ErrNodeNotEmpty is returned by DeleteNode for a node that still holds child
// nodes or assets. It matches store.ErrConflict as well (errors.Is), so a
// handler mapping store.ErrConflict to 409 needs no special case.
var ErrNodeNotEmpty error = &conflictError{msg: "asset: node not empty"}

// conflictError is a sentinel that also matches store.ErrConflict.
type conflictError struct{ msg string }

func (e *conflictError) Error() string        { return e.msg }
func (e *conflictError) Is(target error) bool { return target == store.ErrConflict }

// FieldError is a validation error naming the offending field: a JSON field of
// the REST API, or a column of an import file.
type FieldError struct {
	Field   string
	Message string
}

// Error returns "field: message", fit to show to the user.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// FieldName names the offending field.
func (e *FieldError) FieldName() string { return e.Field }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
