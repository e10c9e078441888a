package auth

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/timewindow"
)

// Login ACL actions (store.LoginACL.Action).
const (
	ACLAllow = "allow"
	ACLDeny  = "deny"
)

// Limits of a login ACL's IP range list.
const (
	MaxIPRanges     = 256
	maxIPRangeBytes = 64
)

// Decision is the outcome of EvaluateLoginACL.
type Decision struct {
	// Allow reports whether the login may proceed.
	Allow bool
	// Rule is the rule that decided, or nil when no rule applied (default allow).
	Rule *store.LoginACL
}

// EvaluateLoginACL decides whether user may log in from ip at now. Rules are
// taken by ascending Priority (then ID); inactive rules are skipped. A rule
// applies when its UserID is nil or the user's, ip is in one of its IPRanges
// (CIDRs or single addresses; an empty list matches any address), and now is
// in its TimeWindow (empty = always). The first applying rule decides; when
// none applies, the login is allowed. An invalid ip matches only rules with an
// empty range list. A malformed rule that could apply is an error: the caller
// must then refuse the login (fail closed). rules is not modified.
func EvaluateLoginACL(rules []store.LoginACL, user *store.User, ip netip.Addr, now time.Time) (Decision, error) {
	ordered := make([]*store.LoginACL, 0, len(rules))
	for i := range rules {
		if rules[i].IsActive {
			ordered = append(ordered, &rules[i])
		}
	}
	slices.SortStableFunc(ordered, func(a, b *store.LoginACL) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	ip = ip.WithZone("").Unmap()
	for _, r := range ordered {
		if r.UserID != nil && (user == nil || *r.UserID != user.ID) {
			continue
		}
		if r.Action != ACLAllow && r.Action != ACLDeny {
			return Decision{}, fmt.Errorf("auth: login ACL %q: unknown action %q", r.Name, r.Action)
		}
		inRange, err := ipInRanges(r.IPRanges, ip)
		if err != nil {
			return Decision{}, fmt.Errorf("auth: login ACL %q: %w", r.Name, err)
		}
		if !inRange {
			continue
		}
		w, err := timewindow.Parse(r.TimeWindow)
		if err != nil {
			return Decision{}, fmt.Errorf("auth: login ACL %q: %w", r.Name, err)
		}
		if !w.Contains(now) {
			continue
		}
		return Decision{Allow: r.Action == ACLAllow, Rule: r}, nil
	}
	return Decision{Allow: true}, nil
}

func ipInRanges(ranges []string, ip netip.Addr) (bool, error) {
	if len(ranges) == 0 {
		return true, nil
	}
	for _, s := range ranges {
		p, err := parseIPRange(s)
		if err != nil {
			return false, err
		}
		if ip.IsValid() && p.Contains(ip) {
			return true, nil
		}
	}
	return false, nil
}

// parseIPRange parses "10.0.0.0/8", "2001:db8::/32" or a single address. A
// CIDR with host bits set ("10.1.2.3/8") is taken as its network.
func parseIPRange(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty IP range")
	}
	if len(s) > maxIPRangeBytes {
		return netip.Prefix{}, fmt.Errorf("IP range longer than %d characters", maxIPRangeBytes)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range", s)
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8; client addresses are unmapped too.
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ValidateIPRanges checks the ip_ranges of a login ACL: at most MaxIPRanges
// entries, each a CIDR ("10.0.0.0/8", "2001:db8::/32") or a single address.
// The error is a *FieldError for "ip_ranges" wrapping ErrInvalid.
func ValidateIPRanges(ranges []string) error {
	if len(ranges) > MaxIPRanges {
		return invalidError("ip_ranges", fmt.Sprintf("at most %d entries", MaxIPRanges))
	}
	for i, s := range ranges {
		if _, err := parseIPRange(s); err != nil {
			return invalidError("ip_ranges", fmt.Sprintf("entry %d: %v", i+1, err))
		}
	}
	return nil
}

// ParseSourceIP parses the source address of a request: a bare address
// ("192.0.2.1", "2001:db8::1") or an address with a port ("192.0.2.1:22",
// "[2001:db8::1]:22"). IPv4-mapped IPv6 addresses are unmapped and zones
// dropped. It returns the zero Addr when s is none of these.
func ParseSourceIP(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	return netip.Addr{}
}
