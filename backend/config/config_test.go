package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(file, []byte("data_dir: /from/file\nhttp: 127.0.0.1:9000\nlog_level: debug\nguacd: 10.0.0.5:4822\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load([]string{"--config", file, "--http", "127.0.0.1:9100"}, env(map[string]string{
		"PORTCULLIS_DATA_DIR": "/from/env", "PORTCULLIS_HTTP": "127.0.0.1:9050",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{"file only", cfg.GuacdAddr, "10.0.0.5:4822"},
		{"env over file", cfg.DataDir, "/from/env"},
		{"flag over env", cfg.HTTPAddr, "127.0.0.1:9100"},
		{"file log level", cfg.LogLevel, "debug"},
		{"default ssh", cfg.SSHAddr, ":2222"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("htp: typo\n"), 0o600)
	tests := []struct {
		name string
		args []string
	}{
		{"bad http address", []string{"--http", "nonsense"}},
		{"bad log level", []string{"--log-level", "loud"}},
		{"bad log format", []string{"--log-format", "xml"}},
		{"unknown flag", []string{"--nope"}},
		{"unknown yaml key", []string{"--config", bad}},
		{"stray argument", []string{"extra"}},
		{"bad proxy", []string{"--trusted-proxies", "10.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(tt.args, env(nil)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}
