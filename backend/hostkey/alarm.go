package hostkey

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/notify"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// smtpPasswordAAD is the vault AAD of the sealed SMTP password (see httpapi).
const smtpPasswordAAD = "smtp"

// MailAlarm logs every mismatch at error level and, when SMTP is configured,
// mails the administrators of the owner's organization and the system
// administrators (active users with an email address). Mail goes out in the
// background; the same change (owner, address, presented key) is mailed at
// most once per Every.
type MailAlarm struct {
	// Every is the minimum interval between two mails about the same change (default 1h).
	Every time.Duration
	// Timeout bounds the sending of one mail (default 30s).
	Timeout time.Duration

	db    *gorm.DB
	sets  *settings.Store
	vault *vault.Vault
	log   *slog.Logger
	clock func() time.Time

	mu   sync.Mutex           // guards last
	last map[string]time.Time // change key -> when it was last mailed
	wg   sync.WaitGroup       // mails in flight
}

var _ Alarm = (*MailAlarm)(nil)

// NewMailAlarm returns a MailAlarm reading the SMTP settings from sets and
// unsealing the SMTP password with v.
func NewMailAlarm(db *gorm.DB, sets *settings.Store, v *vault.Vault, log *slog.Logger, clock func() time.Time) *MailAlarm {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	return &MailAlarm{
		Every: time.Hour, Timeout: 30 * time.Second,
		db: db, sets: sets, vault: v, log: log.With("component", "hostkey.alarm"), clock: clock,
		last: map[string]time.Time{},
	}
}

// HostKeyChanged logs ev and mails the administrators in the background.
func (a *MailAlarm) HostKeyChanged(ctx context.Context, ev Mismatch) {
	a.log.ErrorContext(ctx, "ALARM: host key changed", "org_id", ev.OrgID, "owner_kind", ev.OwnerKind,
		"owner_id", ev.OwnerID, "name", ev.Name, "address", ev.Address, "remote", ev.Remote,
		"expected", ev.ExpectedAlgorithm+" "+ev.ExpectedFingerprint, "got", ev.GotAlgorithm+" "+ev.GotFingerprint)
	if a.sets == nil {
		return
	}
	key := fmt.Sprintf("%s/%d/%s/%s", ev.OwnerKind, ev.OwnerID, ev.Address, ev.GotFingerprint)
	now := a.clock()
	a.mu.Lock()
	if t, ok := a.last[key]; ok && now.Sub(t) < a.Every {
		a.mu.Unlock()
		return
	}
	a.last[key] = now
	for k, t := range a.last {
		if now.Sub(t) >= a.Every {
			delete(a.last, k)
		}
	}
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Timeout)
		defer cancel()
		if err := a.mail(ctx, ev); err != nil {
			a.log.ErrorContext(ctx, "host key alarm mail not sent", "name", ev.Name, "err", err)
		}
	}()
}

// Wait blocks until the mails in flight are sent or have failed.
func (a *MailAlarm) Wait() { a.wg.Wait() }

func (a *MailAlarm) mail(ctx context.Context, ev Mismatch) error {
	cfg, err := a.sets.SMTP(ctx)
	if err != nil {
		return err
	}
	if cfg.Host == "" {
		return nil // mail disabled: the log line is the alarm
	}
	to, err := a.recipients(ctx, ev.OrgID)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		a.log.WarnContext(ctx, "host key alarm: no administrator has an email address", "org_id", ev.OrgID)
		return nil
	}
	pw := ""
	if len(cfg.PasswordEnc) > 0 {
		if a.vault == nil {
			return fmt.Errorf("hostkey: SMTP password is sealed and no vault was given")
		}
		b, err := a.vault.Unseal(cfg.PasswordEnc, smtpPasswordAAD)
		if err != nil {
			return fmt.Errorf("hostkey: unseal SMTP password: %w", err)
		}
		pw = string(b)
	}
	return notify.Send(ctx, cfg, pw, MismatchMail(ev, to))
}

// recipients are the active org admins of orgID and the active system admins with an email.
func (a *MailAlarm) recipients(ctx context.Context, orgID uint) ([]string, error) {
	var users []store.User
	err := a.db.WithContext(ctx).
		Where("is_active = ? AND email <> ''", true).
		Where("role = ? OR (org_id = ? AND org_role = ?)", store.RoleSystemAdmin, orgID, store.OrgRoleAdmin).
		Order("id").Find(&users).Error
	if err != nil {
		return nil, fmt.Errorf("hostkey: alarm recipients: %w", err)
	}
	seen := map[string]bool{}
	var to []string
	for _, u := range users {
		e := strings.TrimSpace(u.Email)
		if e != "" && !seen[strings.ToLower(e)] && !strings.ContainsAny(e, "\r\n<>") {
			seen[strings.ToLower(e)] = true
			to = append(to, e)
		}
	}
	return to, nil
}

// MismatchMail is the alarm mail about ev sent to the addresses to.
func MismatchMail(ev Mismatch, to []string) notify.Mail {
	subject := fmt.Sprintf("[Portcullis] ALARM: host key of %s %s changed", ev.OwnerKind, oneLine(ev.Name))
	var b strings.Builder
	fmt.Fprintf(&b, "Portcullis refused a connection because the SSH host key changed.\n\n")
	fmt.Fprintf(&b, "  %s:      %s (id %d)\n", ev.OwnerKind, ev.Name, ev.OwnerID)
	fmt.Fprintf(&b, "  address:    %s\n", ev.Address)
	if ev.Remote != "" {
		fmt.Fprintf(&b, "  peer:       %s\n", ev.Remote)
	}
	fmt.Fprintf(&b, "  recorded:   %s %s\n", ev.ExpectedAlgorithm, ev.ExpectedFingerprint)
	fmt.Fprintf(&b, "  presented:  %s %s\n", ev.GotAlgorithm, ev.GotFingerprint)
	fmt.Fprintf(&b, "  time:       %s\n\n", ev.At.UTC().Format(time.RFC3339))
	b.WriteString("Someone could be eavesdropping (a man-in-the-middle attack), or the host was\n" +
		"reinstalled or its keys were regenerated. Check the new fingerprint with the host's\n" +
		"owner. If the change is expected, delete the recorded key (Host keys in the admin UI,\n" +
		"or DELETE /api/v1/host-keys/{id}); the next connection records the new key.\n")
	return notify.Mail{To: to, Subject: subject, Body: b.String()}
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
