// Package config loads portcullisd's configuration from a YAML file,
// PORTCULLIS_* environment variables and command-line flags, in that order of
// increasing precedence, and validates it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("config: invalid")

// Config is the whole configuration of a backend instance.
type Config struct {
	// DataDir holds the SQLite database, the vault key, host keys and recordings.
	DataDir string `yaml:"data_dir"`
	// HTTPAddr is the listen address of the REST/WebSocket API and web UI.
	HTTPAddr string `yaml:"http"`
	// SSHAddr is the listen address of the SSH gateway.
	SSHAddr string `yaml:"ssh"`
	// DSN selects PostgreSQL ("postgres://..."); empty means SQLite in DataDir.
	DSN string `yaml:"dsn"`
	// GuacdAddr is the address of guacd for RDP and VNC.
	GuacdAddr string `yaml:"guacd"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log_format"`
	// AllowedOrigins are extra browser origins allowed to call the API (CORS)
	// and open WebSockets, besides the server's own origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MaxBodyBytes bounds JSON request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TLS is how the HTTP listener speaks: "auto" (the default of portcullisd:
	// HTTPS with TLSCert/TLSKey when both are set, else with a self-signed
	// certificate generated on the first start in <data dir>/tls and kept),
	// or "off" (plain HTTP: behind a TLS-terminating proxy, or the desktop's
	// loopback backend). The zero value is off.
	TLS string `yaml:"tls"`
	// TLSCert and TLSKey are PEM files of a configured certificate and key.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`

	// LaunchToken, when set, must accompany every request
	// (X-Portcullis-Launch header): the desktop's embedded backend uses a
	// per-launch secret so that other local processes cannot talk to it.
	LaunchToken string `yaml:"-"`
}

// Default returns the configuration of a fresh install.
func Default() Config {
	return Config{
		DataDir:      "/var/lib/portcullis",
		HTTPAddr:     "127.0.0.1:8080",
		SSHAddr:      ":2222",
		GuacdAddr:    "127.0.0.1:4822",
		LogLevel:     "info",
		LogFormat:    "text",
		MaxBodyBytes: 1 << 20,
		TLS:          TLSAuto,
	}
}

// TLS modes of the HTTP listener.
const (
	TLSAuto = "auto"
	TLSOff  = "off"
)

// CheckAndSetDefaults fills zero values with defaults and validates the rest.
func (c *Config) CheckAndSetDefaults() error {
	d := Default()
	if c.DataDir == "" {
		c.DataDir = d.DataDir
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = d.HTTPAddr
	}
	if c.GuacdAddr == "" {
		c.GuacdAddr = d.GuacdAddr
	}
	if c.LogLevel == "" {
		c.LogLevel = d.LogLevel
	}
	if c.LogFormat == "" {
		c.LogFormat = d.LogFormat
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	for name, addr := range map[string]string{"http": c.HTTPAddr, "ssh": c.SSHAddr, "guacd": c.GuacdAddr} {
		if addr == "" && name == "ssh" {
			continue // SSH gateway disabled
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return fmt.Errorf("%w: %s address %q must be host:port", ErrInvalid, name, addr)
		}
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("%w: log_format %q must be text or json", ErrInvalid, c.LogFormat)
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		return fmt.Errorf("%w: max_body_bytes must be between 1024 and 1 GiB", ErrInvalid)
	}
	switch c.TLS {
	case "", TLSOff, TLSAuto:
	default:
		return fmt.Errorf("%w: tls %q must be auto or off", ErrInvalid, c.TLS)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: tls_cert and tls_key go together", ErrInvalid)
	}
	if c.TLSCert != "" && c.TLS != TLSAuto {
		return fmt.Errorf("%w: tls_cert and tls_key need tls: auto", ErrInvalid)
	}
	for _, o := range c.AllowedOrigins {
		if !strings.Contains(o, "://") {
			return fmt.Errorf("%w: allowed origin %q must be scheme://host[:port]", ErrInvalid, o)
		}
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			return fmt.Errorf("%w: trusted proxy %q must be a CIDR", ErrInvalid, p)
		}
	}
	return nil
}

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%w: log_level %q must be debug, info, warn or error", ErrInvalid, s)
	}
	return l, nil
}

// NewLogger returns the slog logger the configuration asks for.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	lvl, _ := ParseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// envVars maps each setting to its environment variable.
var envNames = []struct {
	env string
	set func(*Config, string)
}{
	{"PORTCULLIS_DATA_DIR", func(c *Config, v string) { c.DataDir = v }},
	{"PORTCULLIS_HTTP", func(c *Config, v string) { c.HTTPAddr = v }},
	{"PORTCULLIS_SSH", func(c *Config, v string) { c.SSHAddr = v }},
	{"PORTCULLIS_DSN", func(c *Config, v string) { c.DSN = v }},
	{"PORTCULLIS_GUACD", func(c *Config, v string) { c.GuacdAddr = v }},
	{"PORTCULLIS_LOG_LEVEL", func(c *Config, v string) { c.LogLevel = v }},
	{"PORTCULLIS_LOG_FORMAT", func(c *Config, v string) { c.LogFormat = v }},
	{"PORTCULLIS_ALLOWED_ORIGINS", func(c *Config, v string) { c.AllowedOrigins = splitList(v) }},
	{"PORTCULLIS_TRUSTED_PROXIES", func(c *Config, v string) { c.TrustedProxies = splitList(v) }},
	{"PORTCULLIS_TLS", func(c *Config, v string) { c.TLS = v }},
	{"PORTCULLIS_TLS_CERT", func(c *Config, v string) { c.TLSCert = v }},
	{"PORTCULLIS_TLS_KEY", func(c *Config, v string) { c.TLSKey = v }},
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Load builds the configuration for `portcullisd serve ARGS`: defaults, then
// the YAML file (--config or PORTCULLIS_CONFIG), then environment, then flags.
func Load(args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		file                                            = fs.String("config", getenv("PORTCULLIS_CONFIG"), "YAML configuration file")
		dataDir, httpAddr, sshAddr, dsn, guacd, lvl, lf string
		origins, proxies                                string
		tlsMode, tlsCert, tlsKey                        string
	)
	fs.StringVar(&dataDir, "data-dir", "", "data directory (PORTCULLIS_DATA_DIR)")
	fs.StringVar(&httpAddr, "http", "", "HTTP listen address (PORTCULLIS_HTTP)")
	fs.StringVar(&sshAddr, "ssh", "", "SSH gateway listen address, empty to disable (PORTCULLIS_SSH)")
	fs.StringVar(&dsn, "dsn", "", "PostgreSQL DSN; empty for SQLite in the data dir (PORTCULLIS_DSN)")
	fs.StringVar(&guacd, "guacd", "", "guacd address (PORTCULLIS_GUACD)")
	fs.StringVar(&lvl, "log-level", "", "debug, info, warn, error (PORTCULLIS_LOG_LEVEL)")
	fs.StringVar(&lf, "log-format", "", "text or json (PORTCULLIS_LOG_FORMAT)")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated extra origins (PORTCULLIS_ALLOWED_ORIGINS)")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated proxy CIDRs (PORTCULLIS_TRUSTED_PROXIES)")
	fs.StringVar(&tlsMode, "tls", "", "auto (HTTPS, self-signed unless a certificate is configured) or off (PORTCULLIS_TLS)")
	fs.StringVar(&tlsCert, "tls-cert", "", "PEM certificate (chain) file (PORTCULLIS_TLS_CERT)")
	fs.StringVar(&tlsKey, "tls-key", "", "PEM private key file (PORTCULLIS_TLS_KEY)")
	if err := fs.Parse(args); err != nil {
		return cfg, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", ErrInvalid, fs.Arg(0))
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return cfg, fmt.Errorf("config: read %s: %w", *file, err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("%w: %s: %v", ErrInvalid, *file, err)
		}
	}
	for _, e := range envNames {
		if v, ok := lookup(getenv, e.env); ok {
			e.set(&cfg, v)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	apply := []struct {
		name string
		v    string
		dst  *string
	}{
		{"data-dir", dataDir, &cfg.DataDir}, {"http", httpAddr, &cfg.HTTPAddr}, {"ssh", sshAddr, &cfg.SSHAddr},
		{"dsn", dsn, &cfg.DSN}, {"guacd", guacd, &cfg.GuacdAddr}, {"log-level", lvl, &cfg.LogLevel}, {"log-format", lf, &cfg.LogFormat},
		{"tls", tlsMode, &cfg.TLS}, {"tls-cert", tlsCert, &cfg.TLSCert}, {"tls-key", tlsKey, &cfg.TLSKey},
	}
	for _, a := range apply {
		if set[a.name] {
			*a.dst = a.v
		}
	}
	if set["allowed-origins"] {
		cfg.AllowedOrigins = splitList(origins)
	}
	if set["trusted-proxies"] {
		cfg.TrustedProxies = splitList(proxies)
	}
	return cfg, cfg.CheckAndSetDefaults()
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// Usage describes the flags of `portcullisd serve`.
const Usage = `Usage: portcullisd serve [flags]

Flags (each also as an environment variable, and as a key of the YAML file given by --config):
  --config FILE            YAML configuration file (PORTCULLIS_CONFIG)
  --data-dir DIR           data directory (PORTCULLIS_DATA_DIR, data_dir; default /var/lib/portcullis)
  --http ADDR              HTTP listen address (PORTCULLIS_HTTP, http; default 127.0.0.1:8080)
  --ssh ADDR               SSH gateway listen address, empty to disable (PORTCULLIS_SSH, ssh; default :2222)
  --dsn DSN                PostgreSQL DSN; empty for SQLite in the data dir (PORTCULLIS_DSN, dsn)
  --guacd ADDR             guacd address (PORTCULLIS_GUACD, guacd; default 127.0.0.1:4822)
  --log-level LEVEL        debug, info, warn, error (PORTCULLIS_LOG_LEVEL, log_level; default info)
  --log-format FORMAT      text or json (PORTCULLIS_LOG_FORMAT, log_format; default text)
  --allowed-origins LIST   extra browser origins (PORTCULLIS_ALLOWED_ORIGINS, allowed_origins)
  --trusted-proxies LIST   reverse proxy CIDRs (PORTCULLIS_TRUSTED_PROXIES, trusted_proxies)
`
