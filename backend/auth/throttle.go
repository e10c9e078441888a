package auth

import (
	"net/netip"
	"sync"
	"time"
)

// DefaultThrottleEntries bounds the number of source addresses a Throttle
// remembers when NewThrottle is given no bound.
const DefaultThrottleEntries = 100_000

// Throttle limits failed logins per source address per minute, in memory. It
// counts with a sliding-window estimate (this minute's failures plus the
// previous minute's, weighted by how much of it still overlaps the last 60 s),
// which needs two counters per address. IPv6 addresses are grouped by /64,
// since one client usually holds a whole /64. Memory is bounded: stale entries
// are swept, and when the table is full of fresh ones an arbitrary entry is
// dropped. Each portcullisd node throttles on its own. It is safe for
// concurrent use.
type Throttle struct {
	clock      func() time.Time
	maxEntries int

	mu        sync.Mutex // guards entries and lastSweep
	entries   map[netip.Prefix]*throttleEntry
	lastSweep int64 // minute of the last sweep
}

type throttleEntry struct {
	minute    int64 // Unix minute that cur counts
	cur, prev int
}

// NewThrottle returns a Throttle that remembers at most maxEntries addresses
// (DefaultThrottleEntries when maxEntries <= 0). clock nil means time.Now.
func NewThrottle(clock func() time.Time, maxEntries int) *Throttle {
	if clock == nil {
		clock = time.Now
	}
	if maxEntries <= 0 {
		maxEntries = DefaultThrottleEntries
	}
	return &Throttle{clock: clock, maxEntries: maxEntries, entries: make(map[netip.Prefix]*throttleEntry)}
}

// throttleKey groups addresses: IPv4 by address, IPv6 by /64. All invalid
// addresses share the zero key.
func throttleKey(ip netip.Addr) netip.Prefix {
	ip = ip.WithZone("").Unmap()
	switch {
	case ip.Is4():
		return netip.PrefixFrom(ip, 32)
	case ip.Is6():
		p, _ := ip.Prefix(64)
		return p
	}
	return netip.Prefix{}
}

func minuteOf(t time.Time) (minute int64, frac float64) {
	ns := t.UnixNano()
	const m = int64(time.Minute)
	minute = ns / m
	rem := ns % m
	if rem < 0 { // before 1970: keep the floor
		minute--
		rem += m
	}
	return minute, float64(rem) / float64(m)
}

// roll moves e's counters forward to minute.
func (e *throttleEntry) roll(minute int64) {
	switch {
	case minute == e.minute:
	case minute == e.minute+1:
		e.prev, e.cur, e.minute = e.cur, 0, minute
	case minute > e.minute:
		e.prev, e.cur, e.minute = 0, 0, minute
	}
}

// Allow reports whether ip may make another attempt: whether it made fewer
// than limit failed attempts in the last minute. limit <= 0 disables the check.
func (t *Throttle) Allow(ip netip.Addr, limit int) bool {
	if limit <= 0 {
		return true
	}
	minute, frac := minuteOf(t.clock())
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[throttleKey(ip)]
	if !ok {
		return true
	}
	e.roll(minute)
	estimate := float64(e.prev)*(1-frac) + float64(e.cur)
	return estimate < float64(limit)
}

// Fail records one failed attempt from ip.
func (t *Throttle) Fail(ip netip.Addr) {
	minute, _ := minuteOf(t.clock())
	key := throttleKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok {
		if len(t.entries) >= t.maxEntries || minute > t.lastSweep+1 {
			t.sweep(minute)
		}
		for k := range t.entries { // still full of fresh entries: drop any one
			if len(t.entries) < t.maxEntries {
				break
			}
			delete(t.entries, k)
		}
		e = &throttleEntry{minute: minute}
		t.entries[key] = e
	}
	e.roll(minute)
	e.cur++
}

// sweep drops the entries whose counters no longer count. t.mu must be held.
func (t *Throttle) sweep(minute int64) {
	for k, e := range t.entries {
		if e.minute < minute-1 {
			delete(t.entries, k)
		}
	}
	t.lastSweep = minute
}

// Len returns the number of addresses remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
