// Package notify sends mail through the SMTP server of the settings, over
// implicit TLS ("ssl"), STARTTLS ("starttls", required, never downgraded) or
// plain SMTP ("none").
package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/settings"
)

// ErrNotConfigured is returned when no SMTP host is set.
var ErrNotConfigured = errors.New("notify: SMTP is not configured")

// Mail is one message.
type Mail struct {
	To      []string
	Subject string
	Body    string
}

// Send delivers m with the SMTP settings cfg; password is the unsealed SMTP password.
func Send(ctx context.Context, cfg settings.SMTP, password string, m Mail) error {
	if cfg.Host == "" {
		return ErrNotConfigured
	}
	for _, to := range append([]string{cfg.From}, m.To...) {
		if strings.ContainsAny(to, "\r\n<>") || !strings.Contains(to, "@") {
			return fmt.Errorf("notify: bad address %q", to)
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("notify: subject must be one line")
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	d := net.Dialer{Timeout: 15 * time.Second}
	if deadline, ok := ctx.Deadline(); ok {
		d.Deadline = deadline
	}
	tlsCfg := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	var err error
	if cfg.Security == "ssl" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("notify: dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("notify: %s: %w", addr, err)
	}
	defer c.Close()
	if cfg.Security == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("notify: %s does not offer STARTTLS", addr)
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("notify: STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, password, cfg.Host)); err != nil {
			return fmt.Errorf("notify: auth: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("notify: MAIL FROM: %w", err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("notify: RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("notify: DATA: %w", err)
	}
	msg := "From: " + cfg.From + "\r\nTo: " + strings.Join(m.To, ", ") + "\r\nSubject: " + m.Subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(m.Body, "\n", "\r\n")
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("notify: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("notify: send: %w", err)
	}
	return c.Quit()
}
