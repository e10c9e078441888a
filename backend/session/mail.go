package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/notify"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// MailNotifier mails new approval requests to the active administrators of
// the approval's organization who have an email address, through the SMTP
// server of the settings. Without SMTP settings it does nothing. Failures are
// logged, never returned: mail is best effort.
type MailNotifier struct {
	db       *gorm.DB
	settings *settings.Store
	vault    *vault.Vault
	log      *slog.Logger
}

var _ Notifier = (*MailNotifier)(nil)

// NewMailNotifier returns a MailNotifier; v unseals the SMTP password.
func NewMailNotifier(db *gorm.DB, sets *settings.Store, v *vault.Vault, log *slog.Logger) *MailNotifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MailNotifier{db: db, settings: sets, vault: v, log: log.With("component", "session.mail")}
}

// ApprovalRequested implements Notifier.
func (n *MailNotifier) ApprovalRequested(ctx context.Context, a store.Approval) {
	if err := n.send(ctx, a); err != nil && !errors.Is(err, notify.ErrNotConfigured) {
		n.log.WarnContext(ctx, "approval mail not sent", "approval", a.ID, "err", err)
	}
}

func (n *MailNotifier) send(ctx context.Context, a store.Approval) error {
	cfg, err := n.settings.SMTP(ctx)
	if err != nil {
		return err
	}
	if cfg.Host == "" {
		return notify.ErrNotConfigured
	}
	var to []string
	err = n.db.WithContext(ctx).Model(&store.User{}).
		Where("org_id = ? AND org_role = ? AND is_active = ? AND email <> ''", a.OrgID, store.OrgRoleAdmin, true).
		Order("id").Limit(50).Pluck("email", &to).Error
	if err != nil {
		return fmt.Errorf("session: approvers of org %d: %w", a.OrgID, err)
	}
	if len(to) == 0 {
		return nil
	}
	pw := ""
	if len(cfg.PasswordEnc) > 0 {
		if n.vault == nil {
			return errors.New("session: no vault to unseal the SMTP password")
		}
		b, err := n.vault.Unseal(cfg.PasswordEnc, "smtp")
		if err != nil {
			return fmt.Errorf("session: unseal SMTP password: %w", err)
		}
		pw = string(b)
	}
	site, _ := n.settings.Site(ctx)
	return notify.Send(ctx, cfg, pw, approvalMail(a, to, site.URL))
}

// approvalMail writes the message telling approvers about a.
func approvalMail(a store.Approval, to []string, siteURL string) notify.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "%s wants to run a command that needs approval.\n\n", printable(a.Username))
	fmt.Fprintf(&b, "Asset:    %s\nAccount:  %s\nCommand:  %s\nFilter:   %s\nSession:  %s\n", printable(a.AssetName),
		printable(a.Account), printable(a.Command), printable(a.FilterName), a.SessionID)
	fmt.Fprintf(&b, "Deadline: %s (then the command is denied)\n\n", a.ExpiresAt.UTC().Format(time.RFC1123))
	b.WriteString("Approve or deny it in Portcullis (Approvals)")
	if siteURL != "" {
		fmt.Fprintf(&b, " at %s", strings.TrimRight(siteURL, "/"))
	}
	fmt.Fprintf(&b, ", or with POST /api/v1/approvals/%d/approve (or /deny).\n", a.ID)
	return notify.Mail{
		To:      to,
		Subject: fmt.Sprintf("Portcullis: approve a command of %s on %s", cut(printable(a.Username), 64), cut(printable(a.AssetName), 64)),
		Body:    b.String(),
	}
}

// printable replaces control characters (a command may hold escape
// sequences or newlines) so that a mail shows them harmlessly.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
}
