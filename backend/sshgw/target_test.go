package sshgw

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Target
		err  error
	}{
		{"user only", "alice", Target{User: "alice"}, nil},
		{"asset", "alice@web01", Target{User: "alice", Asset: "web01"}, nil},
		{"account and asset", "alice@root@web01", Target{User: "alice", Account: "root", Asset: "web01"}, nil},
		{"input account", "alice@@INPUT@web01", Target{User: "alice", Account: "@INPUT", Asset: "web01"}, nil},
		{"utf-8 asset", "alice@数据库-01", Target{User: "alice", Asset: "数据库-01"}, nil},
		{"empty", "", Target{}, ErrEmptyName},
		{"double at", "a@@b", Target{}, ErrEmptyPart},
		{"trailing at", "alice@", Target{}, ErrEmptyPart},
		{"leading at", "@web01", Target{}, ErrEmptyPart},
		{"empty asset after account", "alice@root@", Target{}, ErrEmptyPart},
		{"only ats", "@@@", Target{}, ErrEmptyPart},
		{"control character", "alice\x1b[2J@web01", Target{}, ErrControlChars},
		{"newline", "alice\n@web01", Target{}, ErrControlChars},
		{"bidi override", "alice\u202e@web01", Target{}, ErrControlChars},
		{"invalid utf-8", "alice@\xff\xfe", Target{}, ErrInvalidUTF8},
		{"10 KB", strings.Repeat("a", 10<<10), Target{}, ErrNameTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseTarget(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("ParseTarget(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err == nil {
				if back := got.String(); back != tt.in {
					t.Errorf("String() = %q, want %q", back, tt.in)
				}
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"alice", "alice@web01", "alice@root@web01", "a@@b", "alice@@INPUT@web01", "\xff@x", "a@b@c@d", "@", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s)
		if err != nil {
			if got != (Target{}) {
				t.Fatalf("ParseTarget(%q) = %+v with error %v, want the zero Target", s, got, err)
			}
			return
		}
		if !utf8.ValidString(s) || len(s) > MaxLoginNameLen {
			t.Fatalf("ParseTarget(%q) accepted an invalid name", s)
		}
		if got.User == "" || strings.Contains(got.User, "@") || strings.Contains(got.Asset, "@") {
			t.Fatalf("ParseTarget(%q) = %+v: bad split", s, got)
		}
		if got.Account != "" && got.Asset == "" {
			t.Fatalf("ParseTarget(%q) = %+v: account without asset", s, got)
		}
		if back := got.String(); back != s {
			t.Fatalf("ParseTarget(%q).String() = %q, want the input", s, back)
		}
	})
}
