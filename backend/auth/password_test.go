package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/settings"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash format: got %q", h)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", "correct horse battery staple", true},
		{"wrong password", "correct horse battery stapler", false},
		{"empty password", "", false},
		{"case differs", "Correct horse battery staple", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(h, tt.password)
			if err != nil {
				t.Fatalf("VerifyPassword: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyPasswordReadsParamsFromHash(t *testing.T) {
	old := PasswordParams{Memory: 64, Time: 1, Threads: 2, SaltLen: 8, KeyLen: 16}
	h, err := hashPasswordWith("s3cret-Password", old)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h[:strings.LastIndexByte(h[:strings.LastIndexByte(h, '$')], '$')], "$argon2id$v=19$m=64,t=1,p=2"; got != want {
		t.Fatalf("prefix: got %q, want %q", got, want)
	}
	ok, err := VerifyPassword(h, "s3cret-Password")
	if err != nil || !ok {
		t.Fatalf("got %v, %v, want true, nil", ok, err)
	}
	if got, want := PasswordNeedsRehash(h), true; got != want {
		t.Fatalf("PasswordNeedsRehash(old params): got %v, want %v", got, want)
	}
	cur, _ := HashPassword("x")
	if got, want := PasswordNeedsRehash(cur), false; got != want {
		t.Fatalf("PasswordNeedsRehash(current params): got %v, want %v", got, want)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	salt, key := "c29tZXNhbHRzb21lc2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := VerifyPassword(good, "x"); err != nil {
		t.Fatalf("control hash refused: %v", err)
	}
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"params reordered", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"param missing", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"memory below 8p", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"huge time", "$argon2id$v=19$m=64,t=100000,p=1$" + salt + "$" + key},
		{"threads over 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"bad base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$YWJj$" + key},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$YWJj"},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"trailing field", good + "$x"},
		{"no leading dollar", good[1:]},
		{"too long", good + strings.Repeat("A", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.hash, "x")
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("got %v, want ErrMalformedHash", err)
			}
			if ok {
				t.Fatal("a malformed hash matched")
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	h, _ := hashPasswordWith("x", PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	f.Add(h)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		// What parses must be within bounds and encode back to the same string.
		if p.params.Memory > maxHashMemory || p.params.Time > maxHashTime || p.params.Memory < 8*uint32(p.params.Threads) {
			t.Fatalf("params out of bounds: %+v", p.params)
		}
		if got := encodePHC(p.params, p.salt, p.key); got != s {
			t.Fatalf("re-encoded: got %q, want %q", got, s)
		}
	})
}

func TestCheckPasswordPolicy(t *testing.T) {
	def := settings.DefaultSecurity() // 12 chars, upper, lower, digit
	withSymbol := def
	withSymbol.PasswordRequireSymbol = true
	lax := settings.Security{PasswordMinLength: 8}
	tests := []struct {
		name     string
		sec      settings.Security
		password string
		username string
		wantErr  string // substring of the message; "" = accepted
	}{
		{"meets default", def, "Tr0ub4dor&Horse", "alice", ""},
		{"too short", def, "Sh0rtPass", "alice", "at least 12 characters"},
		{"no upper", def, "tr0ub4dor&horse", "alice", "upper-case"},
		{"no lower", def, "TR0UB4DOR&HORSE", "alice", "lower-case"},
		{"no digit", def, "Troubador&Horse", "alice", "digit"},
		{"no symbol when required", withSymbol, "Tr0ub4dorHorse", "alice", "symbol"},
		{"symbol when required", withSymbol, "Tr0ub4dor Horse", "alice", ""},
		{"equal to username", lax, "alicealice", "alicealice", "username"},
		{"contains username", def, "MyAlice2024Pass", "alice", "username"},
		{"short username may appear", lax, "bobcat-xylophone", "bo", ""},
		{"too long", lax, strings.Repeat("a", MaxPasswordLength+1), "alice", "at most 256"},
		{"longest accepted", lax, strings.Repeat("a", MaxPasswordLength), "alice", ""},
		{"unicode counts characters", lax, "пароль-пароль", "alice", ""},
		{"control character", lax, "password\x00123", "alice", "control"},
		{"invalid utf-8", lax, "password\xff123", "alice", "UTF-8"},
		{"min length floor of 8", settings.Security{}, "Ab1!x", "alice", "at least 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPasswordPolicy(tt.sec, tt.password, tt.username)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrPasswordPolicy) {
				t.Fatalf("got %v, want it to wrap ErrPasswordPolicy", err)
			}
			var fn interface{ FieldName() string }
			if !errors.As(err, &fn) || fn.FieldName() != "password" {
				t.Fatalf("field: got %v, want password", err)
			}
		})
	}
}
