// Package settings reads and writes Portcullis' typed system settings (site,
// SMTP, security policy), stored as JSON rows of the settings table.
package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/portcullis/portcullis/backend/store"
)

// ErrInvalid wraps every validation error; FieldError says which field.
var ErrInvalid = errors.New("settings: invalid")

// FieldError is a validation error naming the offending field.
type FieldError struct {
	Name    string
	Message string
}

func (e *FieldError) Error() string { return e.Name + ": " + e.Message }

// FieldName names the offending JSON field.
func (e *FieldError) FieldName() string { return e.Name }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Site holds how the site presents itself.
type Site struct {
	URL  string `json:"url"`
	Name string `json:"name"`
}

// SMTP holds outgoing mail settings. Security is "ssl" (implicit TLS, usually port
// 465), "starttls" (usually 587) or "none". The password is sealed by the vault and
// never returned; HasPassword tells whether one is set.
type SMTP struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Username    string `json:"username"`
	Password    string `json:"password,omitempty"` // write-only
	PasswordEnc []byte `json:"password_enc,omitempty"`
	HasPassword bool   `json:"has_password"`
	From        string `json:"from"`
	Security    string `json:"security"`
}

// Security is the security policy.
type Security struct {
	PasswordMinLength     int      `json:"password_min_length"`
	PasswordRequireUpper  bool     `json:"password_require_upper"`
	PasswordRequireLower  bool     `json:"password_require_lower"`
	PasswordRequireDigit  bool     `json:"password_require_digit"`
	PasswordRequireSymbol bool     `json:"password_require_symbol"`
	MFAGlobal             bool     `json:"mfa_global"`             // every user must use TOTP
	MFARoles              []string `json:"mfa_roles"`              // roles that must use TOTP
	LockoutThreshold      int      `json:"lockout_threshold"`      // failures before lockout
	LockoutMinutes        int      `json:"lockout_minutes"`        // lockout duration
	IPThrottlePerMinute   int      `json:"ip_throttle_per_minute"` // failed logins per source IP per minute
	SessionTTLMinutes     int      `json:"session_ttl_minutes"`    // web login lifetime
	SessionIdleMinutes    int      `json:"session_idle_minutes"`   // terminal idle timeout
	SessionMaxHours       int      `json:"session_max_hours"`      // terminal maximum duration
	ConnectTokenTTLSecond int      `json:"connect_token_ttl_seconds"`
}

// DefaultSecurity is the policy of a fresh install.
func DefaultSecurity() Security {
	return Security{
		PasswordMinLength: 12, PasswordRequireUpper: true, PasswordRequireLower: true, PasswordRequireDigit: true,
		LockoutThreshold: 5, LockoutMinutes: 15, IPThrottlePerMinute: 30, SessionTTLMinutes: 720,
		SessionIdleMinutes: 30, SessionMaxHours: 12, ConnectTokenTTLSecond: 300,
		MFARoles: []string{},
	}
}

// Validate checks the policy.
func (s *Security) Validate() error {
	checks := []struct {
		field     string
		v, lo, hi int
	}{
		{"password_min_length", s.PasswordMinLength, 8, 128},
		{"lockout_threshold", s.LockoutThreshold, 1, 100},
		{"lockout_minutes", s.LockoutMinutes, 1, 10080},
		{"ip_throttle_per_minute", s.IPThrottlePerMinute, 1, 10000},
		{"session_ttl_minutes", s.SessionTTLMinutes, 5, 43200},
		{"session_idle_minutes", s.SessionIdleMinutes, 1, 1440},
		{"session_max_hours", s.SessionMaxHours, 1, 168},
		{"connect_token_ttl_seconds", s.ConnectTokenTTLSecond, 30, 3600},
	}
	for _, c := range checks {
		if c.v < c.lo || c.v > c.hi {
			return &FieldError{c.field, fmt.Sprintf("must be between %d and %d", c.lo, c.hi)}
		}
	}
	valid := map[string]bool{store.RoleSystemAdmin: true, store.RoleSystemAuditor: true, store.RoleUser: true,
		store.OrgRoleAdmin: true, store.OrgRoleAuditor: true, store.OrgRoleUser: true}
	for _, r := range s.MFARoles {
		if !valid[r] {
			return &FieldError{"mfa_roles", fmt.Sprintf("unknown role %q", r)}
		}
	}
	if s.MFARoles == nil {
		s.MFARoles = []string{}
	}
	return nil
}

// RequiresMFA reports whether a user with these roles must use TOTP.
func (s *Security) RequiresMFA(role, orgRole string) bool {
	if s.MFAGlobal {
		return true
	}
	for _, r := range s.MFARoles {
		if r == role || r == orgRole {
			return true
		}
	}
	return false
}

// Validate checks the site settings.
func (s *Site) Validate() error {
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &FieldError{"url", "must be an absolute http(s) URL"}
		}
	}
	if len(s.Name) > 128 {
		return &FieldError{"name", "must be at most 128 characters"}
	}
	return nil
}

// Validate checks the SMTP settings.
func (s *SMTP) Validate() error {
	switch s.Security {
	case "ssl", "starttls", "none":
	case "":
		s.Security = "starttls"
	default:
		return &FieldError{"security", `must be "ssl", "starttls" or "none"`}
	}
	if s.Host == "" {
		return nil // mail disabled
	}
	if strings.ContainsAny(s.Host, " /\t\r\n") {
		return &FieldError{"host", "must be a host name or address"}
	}
	if s.Port < 1 || s.Port > 65535 {
		return &FieldError{"port", "must be between 1 and 65535"}
	}
	if s.From == "" || !strings.Contains(s.From, "@") {
		return &FieldError{"from", "must be an email address"}
	}
	return nil
}

// Desktop holds the settings of RDP and VNC sessions. GuacdAddr is where
// guacd listens (host:port); empty means the server's configured default.
// RecordKeys puts the user's key presses in desktop recordings: off by
// default, since they may hold passwords.
type Desktop struct {
	GuacdAddr  string `json:"guacd_addr"`
	RecordKeys bool   `json:"record_keys"`
}

// Validate checks the guacd address.
func (d *Desktop) Validate() error {
	d.GuacdAddr = strings.TrimSpace(d.GuacdAddr)
	if d.GuacdAddr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(d.GuacdAddr)
	if err != nil || host == "" || len(d.GuacdAddr) > 256 {
		return &FieldError{"guacd_addr", "must be host:port, e.g. 127.0.0.1:4822"}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return &FieldError{"guacd_addr", "port must be between 1 and 65535"}
	}
	return nil
}

// Recordings holds where recordings are kept and for how long. Recordings are
// always written to, and kept in, the local recordings directory (replay and
// export read them there); with S3 enabled, finished ones are also copied to
// the object store in the background. RetentionDays > 0 deletes recordings
// of sessions that ended longer ago, from both (sessions on legal hold
// excepted); 0 keeps them forever.
type Recordings struct {
	RetentionDays int `json:"retention_days"`
	S3            S3  `json:"s3"`
}

// S3 is an S3-compatible object store for recordings. The secret key is
// sealed by the vault (SecretEnc) and never returned; HasSecret tells whether
// one is set, and Secret is write-only.
type S3 struct {
	Enabled            bool   `json:"enabled"`
	Endpoint           string `json:"endpoint"`
	Bucket             string `json:"bucket"`
	Prefix             string `json:"prefix"`
	Region             string `json:"region"`
	AccessKey          string `json:"access_key"`
	Secret             string `json:"secret,omitempty"` // write-only
	SecretEnc          []byte `json:"secret_enc,omitempty"`
	HasSecret          bool   `json:"has_secret"`
	UseTLS             bool   `json:"use_tls"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

// S3SecretAAD binds the sealed S3 secret key (S3.SecretEnc) to its purpose.
const S3SecretAAD = "portcullis/settings/s3-secret/v1"

// DefaultRecordings keeps everything, locally only.
func DefaultRecordings() Recordings { return Recordings{} }

// Validate checks the retention.
func (r *Recordings) Validate() error {
	if r.RetentionDays < 0 || r.RetentionDays > 36500 {
		return &FieldError{"retention_days", "must be between 0 (keep forever) and 36500"}
	}
	if r.S3.Enabled && (r.S3.Endpoint == "" || r.S3.Bucket == "" || r.S3.AccessKey == "") {
		return &FieldError{"s3", "endpoint, bucket and access key are required to enable S3"}
	}
	return nil
}

// Keys of the settings rows.
const (
	KeySite     = "site"
	KeySMTP     = "smtp"
	KeySecurity = "security"
	KeyDesktop  = "desktop"
	KeyRecords  = "recordings"
)

// Store reads and writes settings.
type Store struct {
	db *gorm.DB
}

// New returns a settings store on db.
func New(db *gorm.DB) *Store { return &Store{db: db} }

// Get reads the setting key into v; v keeps its defaults when the row does not exist.
func (s *Store) Get(ctx context.Context, key string, v any) error {
	var row store.Setting
	err := s.db.WithContext(ctx).Where("key = ?", key).Limit(1).Find(&row).Error
	if err != nil {
		return fmt.Errorf("settings: get %s: %w", key, err)
	}
	if row.Key == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(row.Value), v); err != nil {
		return fmt.Errorf("settings: decode %s: %w", key, err)
	}
	return nil
}

// Put writes the setting key.
func (s *Store) Put(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("settings: encode %s: %w", key, err)
	}
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "key"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"}),
	}).Create(&store.Setting{Key: key, Value: string(b)}).Error
	if err != nil {
		return fmt.Errorf("settings: put %s: %w", key, err)
	}
	return nil
}

// Security returns the security policy (defaults where unset).
func (s *Store) Security(ctx context.Context) (Security, error) {
	sec := DefaultSecurity()
	err := s.Get(ctx, KeySecurity, &sec)
	return sec, err
}

// Site returns the site settings.
func (s *Store) Site(ctx context.Context) (Site, error) {
	site := Site{Name: "Portcullis"}
	err := s.Get(ctx, KeySite, &site)
	return site, err
}

// Desktop returns the RDP/VNC settings as stored (an empty GuacdAddr means
// the server's default).
func (s *Store) Desktop(ctx context.Context) (Desktop, error) {
	var d Desktop
	err := s.Get(ctx, KeyDesktop, &d)
	return d, err
}

// Recordings returns where recordings are kept, with the sealed S3 secret.
func (s *Store) Recordings(ctx context.Context) (Recordings, error) {
	r := DefaultRecordings()
	err := s.Get(ctx, KeyRecords, &r)
	r.S3.HasSecret = len(r.S3.SecretEnc) > 0
	return r, err
}

// SMTP returns the SMTP settings with the sealed password (PasswordEnc).
func (s *Store) SMTP(ctx context.Context) (SMTP, error) {
	m := SMTP{Security: "starttls", Port: 587}
	err := s.Get(ctx, KeySMTP, &m)
	m.HasPassword = len(m.PasswordEnc) > 0
	return m, err
}
