// Package timewindow parses and evaluates recurring weekly time windows, used
// by asset permissions and login ACLs to say when they apply.
//
// Syntax: clauses separated by ";", each a day list and/or a list of hour
// ranges, with an optional IANA time zone after "@" at the end:
//
//	mon-fri 09:00-18:00; sat 10:00-12:00 @Asia/Shanghai
//	daily 22:00-02:00          (crosses midnight into the next day)
//	mon,wed,fri                (whole days)
//	08:00-12:00,13:00-17:00    (every day)
//
// An empty string is the window that always applies. Without a zone, times
// are UTC.
package timewindow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax wraps every parse error.
var ErrSyntax = errors.New("timewindow: syntax")

// MaxLen bounds the input length.
const MaxLen = 1024

// Window is a parsed time window. The zero Window (and nil) always applies.
type Window struct {
	// minutes[d] is a bitmap of the 1440 minutes of weekday d (0 = Sunday) in loc.
	minutes [7][(1440 + 63) / 64]uint64
	always  bool
	loc     *time.Location
	src     string
}

var dayNames = map[string]int{
	"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
}

// Parse parses s. The error names the clause that is wrong.
func Parse(s string) (*Window, error) {
	if len(s) > MaxLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, MaxLen)
	}
	w := &Window{loc: time.UTC, src: strings.TrimSpace(s)}
	body := w.src
	if i := strings.LastIndexByte(body, '@'); i >= 0 {
		zone := strings.TrimSpace(body[i+1:])
		if zone == "" {
			return nil, fmt.Errorf("%w: empty time zone after @", ErrSyntax)
		}
		if strings.ContainsAny(zone, " ;,") || strings.Contains(zone, "..") {
			return nil, fmt.Errorf("%w: bad time zone %q", ErrSyntax, zone)
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("%w: unknown time zone %q", ErrSyntax, zone)
		}
		w.loc = loc
		body = strings.TrimSpace(body[:i])
	}
	if body == "" {
		w.always = true
		return w, nil
	}
	for _, clause := range strings.Split(body, ";") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		if err := w.addClause(clause); err != nil {
			return nil, fmt.Errorf("%w: clause %q: %v", ErrSyntax, clause, err)
		}
	}
	return w, nil
}

func (w *Window) addClause(clause string) error {
	fields := strings.Fields(clause)
	var days [7]bool
	haveDays, haveHours := false, false
	var ranges [][2]int
	for _, f := range fields {
		f = strings.ToLower(f)
		if strings.Contains(f, ":") {
			if haveHours {
				return errors.New("hour ranges must be one comma-separated list")
			}
			haveHours = true
			for _, r := range strings.Split(f, ",") {
				lo, hi, err := parseRange(r)
				if err != nil {
					return err
				}
				ranges = append(ranges, [2]int{lo, hi})
			}
			continue
		}
		if haveDays || haveHours {
			return fmt.Errorf("unexpected %q: write days first, then hours", f)
		}
		haveDays = true
		if err := parseDays(f, &days); err != nil {
			return err
		}
	}
	if !haveDays {
		days = [7]bool{true, true, true, true, true, true, true}
	}
	if !haveHours {
		ranges = [][2]int{{0, 1440}}
	}
	for d := 0; d < 7; d++ {
		if !days[d] {
			continue
		}
		for _, r := range ranges {
			if r[0] < r[1] {
				w.set(d, r[0], r[1])
			} else { // crosses midnight
				w.set(d, r[0], 1440)
				w.set((d+1)%7, 0, r[1])
			}
		}
	}
	return nil
}

func (w *Window) set(day, from, to int) {
	for m := from; m < to; m++ {
		w.minutes[day][m/64] |= 1 << (m % 64)
	}
}

func parseDays(f string, days *[7]bool) error {
	switch f {
	case "*", "daily", "everyday", "all":
		*days = [7]bool{true, true, true, true, true, true, true}
		return nil
	case "weekdays":
		f = "mon-fri"
	case "weekends":
		f = "sat,sun"
	}
	for _, part := range strings.Split(f, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := dayNames[lo]
		if !ok {
			return fmt.Errorf("unknown day %q", lo)
		}
		if !isRange {
			days[a] = true
			continue
		}
		b, ok := dayNames[hi]
		if !ok {
			return fmt.Errorf("unknown day %q", hi)
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

func parseRange(r string) (int, int, error) {
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, fmt.Errorf("hour range %q must be HH:MM-HH:MM", r)
	}
	lo, err := parseClock(a, false)
	if err != nil {
		return 0, 0, err
	}
	hi, err := parseClock(b, true)
	if err != nil {
		return 0, 0, err
	}
	if lo == hi {
		return 0, 0, fmt.Errorf("hour range %q is empty", r)
	}
	return lo, hi, nil
}

func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("time %q must be HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !end)) {
		return 0, fmt.Errorf("time %q is not a valid HH:MM", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether t falls inside the window. A nil window always applies.
func (w *Window) Contains(t time.Time) bool {
	if w == nil || w.always {
		return true
	}
	lt := t.In(w.loc)
	m := lt.Hour()*60 + lt.Minute()
	return w.minutes[lt.Weekday()][m/64]&(1<<(m%64)) != 0
}

// String returns the source text.
func (w *Window) String() string {
	if w == nil {
		return ""
	}
	return w.src
}

// Validate reports whether s parses.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}
