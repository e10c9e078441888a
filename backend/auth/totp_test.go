package auth

import (
	"encoding/base32"
	"errors"
	"net/url"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 key of the RFC 6238 test vectors, "12345678901234567890".
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

func TestTOTPRFC6238Vectors(t *testing.T) {
	// RFC 6238 appendix B, SHA-1 column (8 digits); the 6-digit code is the tail.
	tests := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	key := []byte("12345678901234567890")
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			at := time.Unix(tt.unix, 0)
			if got := hotp(key, uint64(TOTPStep(at)), 8); got != tt.want {
				t.Fatalf("8 digits: got %v, want %v", got, tt.want)
			}
			code, err := TOTPCode(rfcSecret, at)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want[2:]; code != want {
				t.Fatalf("6 digits: got %v, want %v", code, want)
			}
			step, err := ValidateTOTP(rfcSecret, code, at)
			if err != nil {
				t.Fatalf("ValidateTOTP: %v", err)
			}
			if want := tt.unix / 30; step != want {
				t.Fatalf("step: got %v, want %v", step, want)
			}
		})
	}
}

func TestValidateTOTPWindow(t *testing.T) {
	now := time.Unix(1111111111, 0) // step 37037037
	cur := TOTPStep(now)
	codeAt := func(step int64) string {
		c, err := TOTPCode(rfcSecret, time.Unix(step*30, 0))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		code     string
		wantStep int64
		wantErr  error
	}{
		{"current step", codeAt(cur), cur, nil},
		{"one step back", codeAt(cur - 1), cur - 1, nil},
		{"one step ahead", codeAt(cur + 1), cur + 1, nil},
		{"two steps back", codeAt(cur - 2), 0, ErrOTPInvalid},
		{"two steps ahead", codeAt(cur + 2), 0, ErrOTPInvalid},
		{"spaces tolerated", codeAt(cur)[:3] + " " + codeAt(cur)[3:], cur, nil},
		{"five digits", codeAt(cur)[:5], 0, ErrOTPInvalid},
		{"seven digits", codeAt(cur) + "0", 0, ErrOTPInvalid},
		{"letters", "12a456", 0, ErrOTPInvalid},
		{"empty", "", 0, ErrOTPInvalid},
		{"unicode digits", "١٢٣٤٥٦", 0, ErrOTPInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := ValidateTOTP(rfcSecret, tt.code, now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if step != tt.wantStep {
				t.Fatalf("step: got %v, want %v", step, tt.wantStep)
			}
		})
	}
}

func TestValidateTOTPBadSecret(t *testing.T) {
	for _, secret := range []string{"", "not base32!", "AAAA"} {
		if _, err := ValidateTOTP(secret, "123456", time.Unix(1e9, 0)); err == nil || errors.Is(err, ErrOTPInvalid) {
			t.Fatalf("secret %q: got %v, want a secret error", secret, err)
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	s, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s), 32; got != want { // 160 bits in base32 without padding
		t.Fatalf("length: got %v, want %v", got, want)
	}
	key, err := decodeTOTPSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(key), 20; got != want {
		t.Fatalf("key bytes: got %v, want %v", got, want)
	}
	s2, _ := NewTOTPSecret()
	if s == s2 {
		t.Fatal("two secrets are equal")
	}
}

func TestTOTPURI(t *testing.T) {
	got := TOTPURI("Acme Bastion", "alice@example.com", "JBSWY3DPEHPK3PXP")
	want := "otpauth://totp/Acme%20Bastion:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Bastion&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	u, err := url.Parse(TOTPURI("A&B=C?", "bob", "JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Query().Get("issuer"), "A&B=C?"; got != want {
		t.Fatalf("issuer round trip: got %v, want %v", got, want)
	}
	if got, want := u.Query().Get("digits"), "6"; got != want {
		t.Fatalf("digits: got %v, want %v", got, want)
	}
}
