package timewindow

import (
	"errors"
	"testing"
	"time"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestContains(t *testing.T) {
	// 2026-11-23 is a Monday.
	tests := []struct {
		name   string
		window string
		when   string
		want   bool
	}{
		{"empty always", "", "2026-11-23T03:00:00Z", true},
		{"weekday inside", "mon-fri 09:00-18:00", "2026-11-23T09:00:00Z", true},
		{"weekday end exclusive", "mon-fri 09:00-18:00", "2026-11-23T18:00:00Z", false},
		{"weekday before", "mon-fri 09:00-18:00", "2026-11-23T08:59:00Z", false},
		{"saturday excluded", "mon-fri 09:00-18:00", "2026-11-28T10:00:00Z", false},
		{"second clause", "mon-fri 09:00-18:00; sat 10:00-12:00", "2026-11-28T11:00:00Z", true},
		{"zone shifts", "mon 09:00-10:00 @Asia/Shanghai", "2026-11-23T01:30:00Z", true},
		{"zone shifts out", "mon 09:00-10:00 @Asia/Shanghai", "2026-11-23T09:30:00Z", false},
		{"midnight crossing next day", "fri 22:00-02:00", "2026-11-28T01:00:00Z", true},
		{"midnight crossing same day", "fri 22:00-02:00", "2026-11-27T23:00:00Z", true},
		{"midnight crossing outside", "fri 22:00-02:00", "2026-11-28T02:00:00Z", false},
		{"whole days", "sat,sun", "2026-11-29T23:59:00Z", true},
		{"whole days miss", "sat,sun", "2026-11-23T12:00:00Z", false},
		{"hours only", "08:00-12:00,13:00-17:00", "2026-11-25T12:30:00Z", false},
		{"hours only hit", "08:00-12:00,13:00-17:00", "2026-11-25T13:30:00Z", true},
		{"until 24:00", "daily 20:00-24:00", "2026-11-25T23:59:00Z", true},
		{"wrapping day range", "sat-mon", "2026-11-23T10:00:00Z", true},
		{"wrapping day range miss", "sat-mon", "2026-11-24T10:00:00Z", false},
		{"weekdays keyword", "weekdays", "2026-11-27T10:00:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Parse(tt.window)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.window, err)
			}
			if got := w.Contains(at(t, tt.when)); got != tt.want {
				t.Fatalf("Contains(%s) in %q: got %v, want %v", tt.when, tt.window, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"funday", "mon 9-18", "mon 25:00-26:00", "mon 09:00-09:00", "mon 09:60-10:00",
		"09:00-10:00 mon", "mon 09:00-10:00 @Nowhere/City", "mon @", "mon 24:00-01:00",
		"mon 09:00-10:00 08:00-09:00", "mon-xyz", string(make([]byte, MaxLen+1)),
	} {
		t.Run(s[:min(len(s), 30)], func(t *testing.T) {
			if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): got %v, want ErrSyntax", s, err)
			}
		})
	}
}

func TestNilWindowAlwaysApplies(t *testing.T) {
	var w *Window
	if !w.Contains(time.Now()) {
		t.Fatal("nil window must always apply")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "mon-fri 09:00-18:00; sat 10:00-12:00 @Asia/Shanghai", "daily 22:00-02:00", "sat,sun", "@UTC", "mon 24:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error does not wrap ErrSyntax: %v", err)
			}
			return
		}
		// A parsed window evaluates without panicking and re-parses identically.
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		got := w.Contains(now)
		w2, err := Parse(w.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", w.String(), err)
		}
		if w2.Contains(now) != got {
			t.Fatalf("re-parse of %q changed the answer", w.String())
		}
	})
}
