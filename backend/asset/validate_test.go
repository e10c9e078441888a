package asset

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

func validAsset() *store.Asset {
	return &store.Asset{Name: "web01", Address: "10.0.0.1", PlatformID: 1, Protocols: store.Protocols{{Name: "ssh", Port: 22}}}
}

// wantField checks that err is a validation error of field (or nil when field is "").
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one on %q", field)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
	var fe interface{ FieldName() string }
	if !errors.As(err, &fe) {
		t.Fatalf("error %v has no FieldName", err)
	}
	if got := fe.FieldName(); got != field {
		t.Errorf("got field %q (%v), want %q", got, err, field)
	}
}

func TestValidateAsset(t *testing.T) {
	zero := uint(0)
	tests := []struct {
		name  string
		edit  func(a *store.Asset)
		field string
	}{
		{"valid", func(a *store.Asset) {}, ""},
		{"empty name", func(a *store.Asset) { a.Name = "  " }, "name"},
		{"long name", func(a *store.Asset) { a.Name = strings.Repeat("é", 129) }, "name"},
		{"128 multibyte chars", func(a *store.Asset) { a.Name = strings.Repeat("é", 128) }, ""},
		{"control char in name", func(a *store.Asset) { a.Name = "web\x0001" }, "name"},
		{"newline in name", func(a *store.Asset) { a.Name = "web\n01" }, "name"},
		{"at sign in name", func(a *store.Asset) { a.Name = "root@web" }, "name"},
		{"invalid utf8 name", func(a *store.Asset) { a.Name = "web\xff" }, "name"},
		{"hostname", func(a *store.Asset) { a.Address = "db-1.Example.COM" }, ""},
		{"ipv6", func(a *store.Asset) { a.Address = "2001:db8::1" }, ""},
		{"bracketed ipv6", func(a *store.Asset) { a.Address = "[2001:db8::1]" }, ""},
		{"ipv6 zone", func(a *store.Asset) { a.Address = "fe80::1%eth0" }, ""},
		{"bad ipv6 zone", func(a *store.Asset) { a.Address = "fe80::1%a b" }, "address"},
		{"bracketed ipv4", func(a *store.Asset) { a.Address = "[10.0.0.1]" }, "address"},
		{"empty address", func(a *store.Asset) { a.Address = "" }, "address"},
		{"bad ipv4", func(a *store.Asset) { a.Address = "10.0.0.300" }, "address"},
		{"numeric name", func(a *store.Asset) { a.Address = "1234" }, "address"},
		{"underscore", func(a *store.Asset) { a.Address = "my_host" }, "address"},
		{"leading hyphen label", func(a *store.Asset) { a.Address = "-a.example" }, "address"},
		{"empty label", func(a *store.Asset) { a.Address = "a..example" }, "address"},
		{"label 64", func(a *store.Asset) { a.Address = strings.Repeat("a", 64) + ".example" }, "address"},
		{"address 254", func(a *store.Asset) { a.Address = strings.Repeat("a.", 126) + "ab" }, "address"},
		{"address with port", func(a *store.Asset) { a.Address = "host:22" }, "address"},
		{"no platform", func(a *store.Asset) { a.PlatformID = 0 }, "platform_id"},
		{"no protocol", func(a *store.Asset) { a.Protocols = nil }, "protocols"},
		{"unknown protocol", func(a *store.Asset) { a.Protocols = store.Protocols{{Name: "gopher", Port: 70}} }, "protocols"},
		{"port 0", func(a *store.Asset) { a.Protocols = store.Protocols{{Name: "ssh", Port: 0}} }, "protocols"},
		{"port 65536", func(a *store.Asset) { a.Protocols = store.Protocols{{Name: "ssh", Port: 65536}} }, "protocols"},
		{"port 65535", func(a *store.Asset) { a.Protocols = store.Protocols{{Name: "ssh", Port: 65535}} }, ""},
		{"duplicate protocol", func(a *store.Asset) {
			a.Protocols = store.Protocols{{Name: "ssh", Port: 22}, {Name: "SSH", Port: 2222}}
		}, "protocols"},
		{"label without colon", func(a *store.Asset) { a.Labels = store.JSONList{"prod"} }, "labels"},
		{"label without key", func(a *store.Asset) { a.Labels = store.JSONList{":prod"} }, "labels"},
		{"label with semicolon", func(a *store.Asset) { a.Labels = store.JSONList{"env:a;b"} }, "labels"},
		{"long label", func(a *store.Asset) { a.Labels = store.JSONList{"k:" + strings.Repeat("v", 127)} }, "labels"},
		{"label 128", func(a *store.Asset) { a.Labels = store.JSONList{"k:" + strings.Repeat("v", 126)} }, ""},
		{"long comment", func(a *store.Asset) { a.Comment = strings.Repeat("x", 1025) }, "comment"},
		{"multiline comment", func(a *store.Asset) { a.Comment = "line 1\nline 2\ttab" }, ""},
		{"bell in comment", func(a *store.Asset) { a.Comment = "ding\a" }, "comment"},
		{"zero zone", func(a *store.Asset) { a.ZoneID = &zero }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validAsset()
			tt.edit(a)
			wantField(t, ValidateAsset(a), tt.field)
		})
	}
}

func TestValidateAssetNormalizes(t *testing.T) {
	a := &store.Asset{
		Name: "  web01 ", Address: " [::1] ", PlatformID: 1,
		Protocols: store.Protocols{{Name: " SSH ", Port: 22}, {Name: "Rdp", Port: 3389}},
		Labels:    store.JSONList{" env : prod ", "env:prod", "", "team:web"},
		Comment:   " hello \n",
		ZoneID:    new(uint),
	}
	if err := ValidateAsset(a); err != nil {
		t.Fatal(err)
	}
	want := &store.Asset{
		Name: "web01", Address: "::1", PlatformID: 1,
		Protocols: store.Protocols{{Name: "ssh", Port: 22}, {Name: "rdp", Port: 3389}},
		Labels:    store.JSONList{"env:prod", "team:web"},
		Comment:   "hello",
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got %+v, want %+v", a, want)
	}
}

func TestParseProtocols(t *testing.T) {
	tests := []struct {
		in   string
		want store.Protocols
		ok   bool
	}{
		{"ssh/22,rdp/3389", store.Protocols{{Name: "ssh", Port: 22}, {Name: "rdp", Port: 3389}}, true},
		{" SSH / 2222 , sftp/22 ,", store.Protocols{{Name: "ssh", Port: 2222}, {Name: "sftp", Port: 22}}, true},
		{"ssh", store.Protocols{{Name: "ssh", Port: 22}}, true},
		{"postgresql,redis,vnc,telnet,mysql,mariadb", store.Protocols{{Name: "postgresql", Port: 5432}, {Name: "redis", Port: 6379}, {Name: "vnc", Port: 5900}, {Name: "telnet", Port: 23}, {Name: "mysql", Port: 3306}, {Name: "mariadb", Port: 3306}}, true},
		{"", nil, false},
		{",", nil, false},
		{"ssh/", nil, false},
		{"ssh/+22", nil, false},
		{"ssh/0x16", nil, false},
		{"ssh/000022", nil, false},
		{"ssh/0", nil, false},
		{"ssh/99999", nil, false},
		{"ssh/22/23", nil, false},
		{"http/80", nil, false},
		{"ssh/22,ssh/23", nil, false},
		{"ssh/22;rdp/3389", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProtocols(tt.in)
			if !tt.ok {
				wantField(t, err, "protocols")
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			again, err := ParseProtocols(FormatProtocols(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %q: got %v, %v", FormatProtocols(got), again, err)
			}
		})
	}
}

func TestFormatProtocols(t *testing.T) {
	if got, want := FormatProtocols(store.Protocols{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}), "ssh/22,sftp/22"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := FormatProtocols(nil); got != "" {
		t.Errorf("got %q, want empty", got)
	}
}

// testKeys returns a plain and a passphrase-protected OpenSSH private key
// and the public key line.
func testKeys(t testing.TB) (plain, encrypted, public string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	eb, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(b)), string(pem.EncodeToMemory(eb)), string(ssh.MarshalAuthorizedKey(pub))
}

func TestValidateAccount(t *testing.T) {
	key, encKey, pubKey := testKeys(t)
	tests := []struct {
		name     string
		edit     func(a *store.Account)
		secret   string
		creating bool
		field    string
		message  string
	}{
		{"password", func(a *store.Account) {}, "s3cret", true, "", ""},
		{"no secret", func(a *store.Account) {}, "", true, "", ""},
		{"default type on create", func(a *store.Account) { a.SecretType = "" }, "x", true, "", ""},
		{"type required on update", func(a *store.Account) { a.SecretType = "" }, "", false, "secret_type", ""},
		{"bad type", func(a *store.Account) { a.SecretType = "token" }, "", true, "secret_type", ""},
		{"type is case-insensitive", func(a *store.Account) { a.SecretType = " SSH_KEY " }, key, true, "", ""},
		{"empty name", func(a *store.Account) { a.Name = "" }, "", true, "name", ""},
		{"at sign in name", func(a *store.Account) { a.Name = "@ALL" }, "", true, "name", ""},
		{"empty username", func(a *store.Account) { a.Username = " " }, "", true, "username", ""},
		{"space in username", func(a *store.Account) { a.Username = "john smith" }, "", true, "username", ""},
		{"upn username", func(a *store.Account) { a.Username = "admin@corp.example" }, "", true, "", ""},
		{"long username", func(a *store.Account) { a.Username = strings.Repeat("u", 129) }, "", true, "username", ""},
		{"no asset", func(a *store.Account) { a.AssetID = 0 }, "", true, "asset_id", ""},
		{"long password", func(a *store.Account) {}, strings.Repeat("p", 1025), true, "secret", ""},
		{"password 1024", func(a *store.Account) {}, strings.Repeat("p", 1024), true, "", ""},
		{"ssh key", func(a *store.Account) { a.SecretType = "ssh_key" }, key, true, "", ""},
		{"ssh key with CRLF", func(a *store.Account) { a.SecretType = "ssh_key" }, strings.ReplaceAll(key, "\n", "\r\n"), true, "", ""},
		{"ssh key required on create", func(a *store.Account) { a.SecretType = "ssh_key" }, "", true, "secret", "required"},
		{"ssh key kept on update", func(a *store.Account) { a.SecretType = "ssh_key" }, "", false, "", ""},
		{"encrypted key", func(a *store.Account) { a.SecretType = "ssh_key" }, encKey, true, "secret", "encrypted private keys are not supported"},
		{"public key", func(a *store.Account) { a.SecretType = "ssh_key" }, pubKey, true, "secret", "public key"},
		{"garbage key", func(a *store.Account) { a.SecretType = "ssh_key" }, "hunter2", true, "secret", "not a private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &store.Account{AssetID: 1, Name: "root", Username: "root", SecretType: "password"}
			tt.edit(a)
			err := ValidateAccount(a, tt.secret, tt.creating)
			wantField(t, err, tt.field)
			if tt.message != "" && (err == nil || !strings.Contains(err.Error(), tt.message)) {
				t.Errorf("got %v, want a message containing %q", err, tt.message)
			}
		})
	}
}

func TestValidateZoneAndGateway(t *testing.T) {
	wantField(t, ValidateZone(&store.Zone{Name: " dmz "}), "")
	wantField(t, ValidateZone(&store.Zone{Name: ""}), "name")
	wantField(t, ValidateZone(&store.Zone{Name: "z", Comment: strings.Repeat("c", 1025)}), "comment")

	key, _, _ := testKeys(t)
	tests := []struct {
		name   string
		edit   func(g *store.Gateway)
		secret string
		field  string
	}{
		{"valid", func(g *store.Gateway) {}, "pw", ""},
		{"ssh key", func(g *store.Gateway) { g.SecretType = "ssh_key" }, key, ""},
		{"bad key", func(g *store.Gateway) { g.SecretType = "ssh_key" }, "nope", "secret"},
		{"no zone", func(g *store.Gateway) { g.ZoneID = 0 }, "", "zone_id"},
		{"bad address", func(g *store.Gateway) { g.Address = "a b" }, "", "address"},
		{"port 0", func(g *store.Gateway) { g.Port = 0 }, "", "port"},
		{"port 65536", func(g *store.Gateway) { g.Port = 65536 }, "", "port"},
		{"username", func(g *store.Gateway) { g.Username = "a b" }, "", "username"},
		{"secret type", func(g *store.Gateway) { g.SecretType = "x" }, "", "secret_type"},
		{"priority", func(g *store.Gateway) { g.Priority = -1 }, "", "priority"},
		{"name", func(g *store.Gateway) { g.Name = "" }, "", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &store.Gateway{Name: "gw1", ZoneID: 1, Address: "gw.example", Port: 22, Username: "jump", SecretType: "password"}
			tt.edit(g)
			wantField(t, ValidateGateway(g, tt.secret, true), tt.field)
		})
	}
}

func TestNodeNames(t *testing.T) {
	tests := []struct {
		path string
		want []string
		ok   bool
	}{
		{"/Default/Web/Prod", []string{"Default", "Web", "Prod"}, true},
		{"Default/Web/", []string{"Default", "Web"}, true},
		{" / A / B ", []string{"A", "B"}, true},
		{"/", nil, false},
		{"/A//B", nil, false},
		{"/A/B;C", nil, false},
		{"/" + strings.Repeat("x/", MaxNodeDepth+1), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := SplitNodePath(tt.path)
			if !tt.ok {
				wantField(t, err, "path")
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}
