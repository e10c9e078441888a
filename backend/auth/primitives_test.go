package auth

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/store"
)

func TestRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes(RecoveryCodeCount)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(codes), 10; got != want {
		t.Fatalf("count: got %v, want %v", got, want)
	}
	shape := regexp.MustCompile(`^[` + recoveryAlphabet + `]{4}-[` + recoveryAlphabet + `]{4}-[` + recoveryAlphabet + `]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !shape.MatchString(c) {
			t.Fatalf("code %q: not like abcd-efgh-jkmn", c)
		}
		if seen[c] {
			t.Fatalf("code %q twice", c)
		}
		seen[c] = true
	}
	stored, err := HashRecoveryCodes(codes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if strings.Contains(stored, c) || strings.Contains(stored, normalizeRecoveryCode(c)) {
			t.Fatal("stored value holds a code in clear")
		}
	}

	tests := []struct {
		name   string
		code   string
		wantOK bool
	}{
		{"first code", codes[0], true},
		{"first code again", codes[0], false},
		{"upper case and spaces", strings.ToUpper(strings.ReplaceAll(codes[1], "-", " ")), true},
		{"no dashes", strings.ReplaceAll(codes[2], "-", ""), true},
		{"unknown code", "aaaa-bbbb-cccc", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remaining, ok, err := useRecoveryCode(stored, tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK {
				t.Fatalf("got %v, want %v", ok, tt.wantOK)
			}
			stored = remaining
		})
	}
	if _, _, err := useRecoveryCode("{not json", codes[3]); err == nil {
		t.Fatal("corrupt stored codes: got nil error")
	}
}

func TestTokens(t *testing.T) {
	for _, kind := range []string{store.TokenSession, store.TokenAPI, store.TokenMFA, store.TokenPasswordChange} {
		raw, hash, err := newToken(kind)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := raw[:4], prefixOf(kind); got != want {
			t.Fatalf("%s prefix: got %v, want %v", kind, got, want)
		}
		if got, want := len(raw), tokenLen; got != want {
			t.Fatalf("%s length: got %v, want %v", kind, got, want)
		}
		if !wellFormedToken(raw) {
			t.Fatalf("%s token %q not well formed", kind, raw)
		}
		if got, want := hash, HashToken(raw); got != want || len(hash) != 64 {
			t.Fatalf("hash: got %v, want %v", got, want)
		}
	}
	raw, _, _ := newToken(store.TokenSession)
	for _, bad := range []string{"", "pcs_", "xyz_" + raw[4:], raw + "A", raw[:len(raw)-1] + "!", "Bearer " + raw} {
		if wellFormedToken(bad) {
			t.Fatalf("%q: got well formed, want refused", bad)
		}
	}
}

func uptr(v uint) *uint { return &v }

func TestEvaluateLoginACL(t *testing.T) {
	alice := &store.User{ID: 1, Username: "alice"}
	monday10 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	sunday10 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rule := func(id uint, prio int, action string, ranges []string, window string) store.LoginACL {
		return store.LoginACL{ID: id, Name: "r" + string(rune('0'+id)), Priority: prio, Action: action, IPRanges: ranges, TimeWindow: window, IsActive: true}
	}
	tests := []struct {
		name     string
		rules    []store.LoginACL
		ip       string
		now      time.Time
		want     bool
		wantRule uint
	}{
		{"no rules allows", nil, "10.1.2.3", monday10, true, 0},
		{"deny CIDR matches", []store.LoginACL{rule(1, 10, ACLDeny, []string{"10.0.0.0/8"}, "")}, "10.1.2.3", monday10, false, 1},
		{"deny CIDR misses", []store.LoginACL{rule(1, 10, ACLDeny, []string{"10.0.0.0/8"}, "")}, "192.0.2.1", monday10, true, 0},
		{"single address", []store.LoginACL{rule(1, 10, ACLDeny, []string{"192.0.2.7"}, "")}, "192.0.2.7", monday10, false, 1},
		{"IPv6 CIDR", []store.LoginACL{rule(1, 10, ACLDeny, []string{"2001:db8::/32"}, "")}, "2001:db8:1::5", monday10, false, 1},
		{"IPv4-mapped client", []store.LoginACL{rule(1, 10, ACLDeny, []string{"10.0.0.0/8"}, "")}, "::ffff:10.9.9.9", monday10, false, 1},
		{"empty ranges match any", []store.LoginACL{rule(1, 10, ACLDeny, nil, "")}, "198.51.100.1", monday10, false, 1},
		{"allow list then deny all", []store.LoginACL{
			rule(2, 20, ACLDeny, nil, ""),
			rule(1, 10, ACLAllow, []string{"10.0.0.0/8"}, ""),
		}, "10.0.0.1", monday10, true, 1},
		{"allow list then deny all, outsider", []store.LoginACL{
			rule(2, 20, ACLDeny, nil, ""),
			rule(1, 10, ACLAllow, []string{"10.0.0.0/8"}, ""),
		}, "192.0.2.1", monday10, false, 2},
		{"priority tie broken by ID", []store.LoginACL{
			rule(2, 10, ACLAllow, nil, ""),
			rule(1, 10, ACLDeny, nil, ""),
		}, "192.0.2.1", monday10, false, 1},
		{"inactive skipped", []store.LoginACL{{ID: 1, Name: "off", Action: ACLDeny, IsActive: false}}, "192.0.2.1", monday10, true, 0},
		{"time window inside", []store.LoginACL{rule(1, 10, ACLDeny, nil, "mon-fri 09:00-18:00")}, "192.0.2.1", monday10, false, 1},
		{"time window outside", []store.LoginACL{rule(1, 10, ACLDeny, nil, "mon-fri 09:00-18:00")}, "192.0.2.1", sunday10, true, 0},
		{"other user's rule skipped", []store.LoginACL{{ID: 1, Name: "bob", UserID: uptr(2), Action: ACLDeny, IsActive: true}}, "192.0.2.1", monday10, true, 0},
		{"own rule applies", []store.LoginACL{{ID: 1, Name: "alice", UserID: uptr(1), Action: ACLDeny, IsActive: true}}, "192.0.2.1", monday10, false, 1},
		{"invalid client IP misses ranges", []store.LoginACL{rule(1, 10, ACLDeny, []string{"0.0.0.0/0", "::/0"}, "")}, "", monday10, true, 0},
		{"invalid client IP hits empty ranges", []store.LoginACL{rule(1, 10, ACLDeny, nil, "")}, "", monday10, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := EvaluateLoginACL(tt.rules, alice, ParseSourceIP(tt.ip), tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.want {
				t.Fatalf("allow: got %v, want %v", d.Allow, tt.want)
			}
			var gotRule uint
			if d.Rule != nil {
				gotRule = d.Rule.ID
			}
			if gotRule != tt.wantRule {
				t.Fatalf("rule: got %v, want %v", gotRule, tt.wantRule)
			}
		})
	}
}

func TestEvaluateLoginACLMalformed(t *testing.T) {
	alice := &store.User{ID: 1}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rule store.LoginACL
	}{
		{"bad range", store.LoginACL{Name: "x", Action: ACLDeny, IPRanges: store.JSONList{"10.0.0.0/33"}, IsActive: true}},
		{"bad window", store.LoginACL{Name: "x", Action: ACLDeny, TimeWindow: "someday", IsActive: true}},
		{"bad action", store.LoginACL{Name: "x", Action: "maybe", IsActive: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := EvaluateLoginACL([]store.LoginACL{tt.rule}, alice, netip.MustParseAddr("10.0.0.1"), now); err == nil {
				t.Fatal("got nil error, want one")
			}
		})
	}
	// A malformed rule of another user does not break this user's logins.
	other := store.LoginACL{Name: "x", UserID: uptr(9), Action: ACLDeny, IPRanges: store.JSONList{"junk"}, IsActive: true}
	if d, err := EvaluateLoginACL([]store.LoginACL{other}, alice, netip.MustParseAddr("10.0.0.1"), now); err != nil || !d.Allow {
		t.Fatalf("got %v, %v, want allow, nil", d, err)
	}
}

func TestValidateIPRanges(t *testing.T) {
	tests := []struct {
		name   string
		ranges []string
		ok     bool
	}{
		{"empty list", nil, true},
		{"v4 CIDR", []string{"10.0.0.0/8"}, true},
		{"v6 CIDR", []string{"2001:db8::/32"}, true},
		{"addresses", []string{"192.0.2.1", "2001:db8::1"}, true},
		{"host bits set", []string{"10.1.2.3/8"}, true},
		{"mapped CIDR", []string{"::ffff:10.0.0.0/104"}, true},
		{"spaces trimmed", []string{" 10.0.0.0/8 "}, true},
		{"prefix too long", []string{"10.0.0.0/33"}, false},
		{"hostname", []string{"example.com"}, false},
		{"empty entry", []string{""}, false},
		{"zone", []string{"fe80::1%eth0"}, false},
		{"range syntax", []string{"10.0.0.1-10.0.0.9"}, false},
		{"too many", make([]string, MaxIPRanges+1), false},
		{"overlong", []string{strings.Repeat("1", 100)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateIPRanges(tt.ranges)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err == nil {
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.FieldName() != "ip_ranges" || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %#v, want a FieldError for ip_ranges wrapping ErrInvalid", err)
			}
		})
	}
}

func FuzzValidateIPRanges(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "2001:db8::/32,192.0.2.1", "::ffff:1.2.3.4/120", "fe80::1%eth0", ",", "1.2.3.4/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ranges := strings.Split(s, ",")
		if err := ValidateIPRanges(ranges); err != nil {
			return
		}
		// Whatever validates must evaluate without error, and match its own network address.
		rules := []store.LoginACL{{Name: "f", Action: ACLDeny, IPRanges: ranges, IsActive: true}}
		for _, r := range ranges {
			p, err := parseIPRange(r)
			if err != nil {
				t.Fatalf("validated %q does not parse: %v", r, err)
			}
			d, err := EvaluateLoginACL(rules, &store.User{ID: 1}, p.Addr(), time.Unix(0, 0))
			if err != nil {
				t.Fatalf("validated %q: %v", s, err)
			}
			if d.Allow {
				t.Fatalf("%q: network address %v not matched", r, p.Addr())
			}
		}
	})
}

func TestParseSourceIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:2222", "192.0.2.1"},
		{"[2001:db8::1]:22", "2001:db8::1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"fe80::1%eth0", "fe80::1"},
		{"", "invalid IP"},
		{"example.com", "invalid IP"},
	}
	for _, tt := range tests {
		if got := ParseSourceIP(tt.in).String(); got != tt.want {
			t.Fatalf("ParseSourceIP(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

type manualClock struct{ t time.Time }

func (c *manualClock) Now() time.Time          { return c.t }
func (c *manualClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func TestThrottle(t *testing.T) {
	clk := &manualClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	th := NewThrottle(clk.Now, 0)
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	for i := 0; i < 3; i++ {
		if !th.Allow(a, 3) {
			t.Fatalf("attempt %d refused before the limit", i+1)
		}
		th.Fail(a)
	}
	if got, want := th.Allow(a, 3), false; got != want {
		t.Fatalf("after 3 failures: got %v, want %v", got, want)
	}
	if got, want := th.Allow(b, 3), true; got != want {
		t.Fatalf("other address: got %v, want %v", got, want)
	}
	if got, want := th.Allow(a, 0), true; got != want {
		t.Fatalf("limit 0 disables: got %v, want %v", got, want)
	}
	clk.Advance(30 * time.Second) // still within the sliding minute
	if got, want := th.Allow(a, 3), false; got != want {
		t.Fatalf("30 s later: got %v, want %v", got, want)
	}
	clk.Advance(2 * time.Minute)
	if got, want := th.Allow(a, 3), true; got != want {
		t.Fatalf("after the window: got %v, want %v", got, want)
	}

	// IPv6 clients are grouped by /64.
	v6a, v6b := netip.MustParseAddr("2001:db8:0:1::1"), netip.MustParseAddr("2001:db8:0:1::ffff")
	th.Fail(v6a)
	if got, want := th.Allow(v6b, 1), false; got != want {
		t.Fatalf("same /64: got %v, want %v", got, want)
	}
	if got, want := th.Allow(netip.MustParseAddr("2001:db8:0:2::1"), 1), true; got != want {
		t.Fatalf("other /64: got %v, want %v", got, want)
	}
}

func TestThrottleBoundedMemory(t *testing.T) {
	clk := &manualClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	th := NewThrottle(clk.Now, 100)
	for i := 0; i < 1000; i++ {
		th.Fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if th.Len() > 100 {
			t.Fatalf("after %d addresses: got %v entries, want at most 100", i+1, th.Len())
		}
	}
	clk.Advance(5 * time.Minute)
	th.Fail(netip.MustParseAddr("192.0.2.1"))
	if got, want := th.Len(), 1; got != want {
		t.Fatalf("after stale entries swept: got %v, want %v", got, want)
	}
}
