package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// JSONList is a list of strings stored as a JSON text column.
type JSONList []string

// Value implements driver.Valuer.
func (l JSONList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// Scan implements sql.Scanner.
func (l *JSONList) Scan(src any) error {
	return scanJSON(src, (*[]string)(l))
}

// Contains reports whether s is in the list.
func (l JSONList) Contains(s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// JSONMap is a string map stored as a JSON text column.
type JSONMap map[string]string

// Value implements driver.Valuer.
func (m JSONMap) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]string(m))
	return string(b), err
}

// Scan implements sql.Scanner.
func (m *JSONMap) Scan(src any) error {
	return scanJSON(src, (*map[string]string)(m))
}

// Protocols is an asset's protocol list stored as a JSON text column.
type Protocols []Protocol

// Value implements driver.Valuer.
func (p Protocols) Value() (driver.Value, error) {
	if p == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]Protocol(p))
	return string(b), err
}

// Scan implements sql.Scanner.
func (p *Protocols) Scan(src any) error {
	return scanJSON(src, (*[]Protocol)(p))
}

// Port returns the port of the named protocol and whether the asset speaks it.
func (p Protocols) Port(name string) (int, bool) {
	for _, pr := range p {
		if pr.Name == name {
			return pr.Port, true
		}
	}
	return 0, false
}

func scanJSON(src any, dst any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot scan %T into JSON column", src)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("store: bad JSON column: %w", err)
	}
	return nil
}
