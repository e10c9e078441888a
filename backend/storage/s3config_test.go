package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func validS3Config() S3Config {
	return S3Config{
		Endpoint: "s3.example.com:9000", Bucket: "recordings", Prefix: "portcullis",
		AccessKey: "AKIAEXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Region: "eu-west-1", UseTLS: true,
	}
}

func TestS3ConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *S3Config)
		ok     bool
	}{
		{"valid", func(c *S3Config) {}, true},
		{"host without port", func(c *S3Config) { c.Endpoint = "s3.example.com" }, true},
		{"IPv6", func(c *S3Config) { c.Endpoint = "[::1]:9000" }, true},
		{"no prefix", func(c *S3Config) { c.Prefix = "" }, true},
		{"prefix with slashes", func(c *S3Config) { c.Prefix = "/a/b/" }, true},
		{"no region", func(c *S3Config) { c.Region = "" }, true},
		{"no endpoint", func(c *S3Config) { c.Endpoint = "" }, false},
		{"endpoint with scheme", func(c *S3Config) { c.Endpoint = "https://s3.example.com" }, false},
		{"endpoint with path", func(c *S3Config) { c.Endpoint = "s3.example.com/bucket" }, false},
		{"bad port", func(c *S3Config) { c.Endpoint = "s3.example.com:99999" }, false},
		{"no bucket", func(c *S3Config) { c.Bucket = "" }, false},
		{"uppercase bucket", func(c *S3Config) { c.Bucket = "Recordings" }, false},
		{"bucket with underscore", func(c *S3Config) { c.Bucket = "my_recordings" }, false},
		{"short bucket", func(c *S3Config) { c.Bucket = "ab" }, false},
		{"bucket ending in dash", func(c *S3Config) { c.Bucket = "recordings-" }, false},
		{"prefix with ..", func(c *S3Config) { c.Prefix = "a/../b" }, false},
		{"prefix with backslash", func(c *S3Config) { c.Prefix = `a\b` }, false},
		{"no access key", func(c *S3Config) { c.AccessKey = "" }, false},
		{"no secret key", func(c *S3Config) { c.SecretKey = "" }, false},
		{"insecure without TLS", func(c *S3Config) { c.UseTLS = false; c.InsecureSkipVerify = true }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validS3Config()
			tt.change(&c)
			err := c.Validate()
			if got := err == nil; got != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if c.SecretKey != "" && strings.Contains(err.Error(), c.SecretKey) {
					t.Fatalf("error shows the secret key: %v", err)
				}
				if _, nerr := NewS3(context.Background(), c); nerr == nil {
					t.Fatal("NewS3 accepted a config Validate refuses")
				}
			}
		})
	}
}

func TestS3ConfigNeverShowsSecret(t *testing.T) {
	c := validS3Config()
	c.InsecureSkipVerify = true
	var js, text bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "s3", c, "ptr", &c)
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "s3", c)
	outputs := map[string]string{
		"String":      c.String(),
		"%v":          fmt.Sprintf("%v", c),
		"%+v":         fmt.Sprintf("%+v", c),
		"%#v":         fmt.Sprintf("%#v", c),
		"%v pointer":  fmt.Sprintf("%v", &c),
		"%v in slice": fmt.Sprintf("%v", []S3Config{c}),
		"slog JSON":   js.String(),
		"slog text":   text.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, c.SecretKey) {
			t.Errorf("%s shows the secret key: %s", name, out)
		}
		if !strings.Contains(out, c.AccessKey) || !strings.Contains(out, "recordings") {
			t.Errorf("%s does not say which bucket and access key: %s", name, out)
		}
	}
	want := `s3://recordings/portcullis at https://s3.example.com:9000 (region eu-west-1, access key "AKIAEXAMPLE", secret key set, certificate not verified)`
	if got := c.String(); got != want {
		t.Errorf("String() = %s\nwant       %s", got, want)
	}
	// JSON is for storing settings, not logging: it is left alone, and the
	// settings code decides what to do with the secret.
	if b, _ := json.Marshal(c); !strings.Contains(string(b), c.SecretKey) {
		t.Errorf("json.Marshal dropped the secret key: %s", b)
	}
}

func TestScrub(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG"
	base := errors.New("server said: bad key " + secret)
	err := scrub(fmt.Errorf("storage: s3 put k: %w", base), secret)
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[secret]") {
		t.Fatalf("scrubbed error = %q", err)
	}
	if !errors.Is(err, base) {
		t.Fatal("scrub broke errors.Is")
	}
	plain := errors.New("connection refused")
	if got := scrub(plain, secret); got != plain {
		t.Fatalf("scrub changed an error without the secret: %v", got)
	}
	if got := scrub(errors.New("abc"), "a"); got.Error() != "abc" {
		t.Fatalf("scrub of a one-letter secret garbled the message: %q", got)
	}
}
