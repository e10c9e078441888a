package httpapi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// applyName validates a name-like field and stores it when given.
func applyName(dst *string, o opt[string], field string, creating bool) error {
	if !o.Set || o.Null {
		if creating || o.Null {
			return errValidation(field, "is required")
		}
		return nil
	}
	v := o.V
	if v != strings.TrimSpace(v) {
		return errValidation(field, "must not start or end with spaces")
	}
	if err := checkText(field, v, 1, 128); err != nil {
		return err
	}
	*dst = v
	return nil
}

// applyText stores an optional free-text field of at most max bytes.
func applyText(dst *string, o opt[string], field string, max int) error {
	if !o.Set {
		return nil
	}
	if o.Null {
		*dst = ""
		return nil
	}
	if err := checkText(field, o.V, 0, max); err != nil {
		return err
	}
	*dst = o.V
	return nil
}

func checkText(field, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return errValidation(field, "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		return errValidation(field, "is required")
	}
	if len(v) > max*4 || n > max {
		return errValidation(field, "must be at most %d characters", max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return errValidation(field, "must not contain control characters")
		}
	}
	return nil
}

// applyBool stores an optional boolean.
func applyBool(dst *bool, o opt[bool]) {
	if o.Set && !o.Null {
		*dst = o.V
	}
}

func oneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return errValidation(field, "must be one of %s", strings.Join(allowed, ", "))
}
