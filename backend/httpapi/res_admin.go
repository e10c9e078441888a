package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/notify"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
)

type smtpTestIn struct {
	To string `json:"to"`
}

type revealOut struct {
	Secret string `json:"secret"`
}

// timeRange applies ?since and ?until (RFC 3339) to column col.
func timeRange(r *http.Request, q *gorm.DB, col string) (*gorm.DB, error) {
	for _, p := range []struct{ name, op string }{{"since", ">="}, {"until", "<"}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, errValidation(p.name, "must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
			}
			q = q.Where(col+" "+p.op+" ?", t.UTC())
		}
	}
	return q, nil
}

// auditScope limits audit rows to the request's organization unless the caller is a system role.
func auditScope(r *http.Request, q *gorm.DB, rc *reqCtx) *gorm.DB {
	if rc.isSystem() && r.URL.Query().Get("all_orgs") == "true" {
		return q
	}
	return q.Where("org_id = ?", rc.orgID)
}

func eqFilters(r *http.Request, q *gorm.DB, cols ...string) *gorm.DB {
	for _, c := range cols {
		if v := r.URL.Query().Get(c); v != "" {
			q = q.Where(c+" = ?", v)
		}
	}
	return q
}

type noInput struct{}

func (a *API) registerAdmin() {
	// Audit trails (read-only).
	registerResource(a, resource[store.LoginLog, noInput]{
		name: "login_log", path: "/audit/login-logs", tag: "Audit", read: adminRead, global: true,
		spec: listSpec{search: []string{"username", "source_ip", "reason"}, sort: sortCols("username", "source_ip", "success"), def: "-id"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			q = auditScope(r, q, rc)
			q = eqFilters(r, q, "username", "channel")
			if v := r.URL.Query().Get("success"); v != "" {
				if v != "true" && v != "false" {
					return nil, errValidation("success", "must be true or false")
				}
				q = q.Where("success = ?", v == "true")
			}
			return timeRange(r, q, "created_at")
		},
		idOf: func(l *store.LoginLog) uint { return l.ID }, nameOf: func(l *store.LoginLog) string { return l.Username },
	})
	registerResource(a, resource[store.OperationLog, noInput]{
		name: "operation_log", path: "/audit/operation-logs", tag: "Audit", read: adminRead, global: true,
		spec: listSpec{search: []string{"username", "action", "resource_name", "detail"}, sort: sortCols("username", "action", "resource_type"), def: "-id"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			q = auditScope(r, q, rc)
			q = eqFilters(r, q, "username", "action", "resource_type")
			return timeRange(r, q, "created_at")
		},
		idOf: func(l *store.OperationLog) uint { return l.ID }, nameOf: func(l *store.OperationLog) string { return l.Action },
	})
	a.add(&route{method: "GET", path: "/audit/verify", tag: "Audit", summary: "Verify the hash chains of the login and operation logs", access: systemRead, resp: struct {
		OK bool `json:"ok"`
	}{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			res, err := a.Audit.Verify(r.Context())
			if err != nil && res.LoginRows == 0 && res.OperationRows == 0 {
				return err
			}
			writeJSON(w, 200, res)
			return nil
		}})
	registerResource(a, resource[store.Session, noInput]{
		name: "session", path: "/sessions", tag: "Sessions", read: adminRead, noGet: true,
		spec: listSpec{search: []string{"username", "asset_name", "account_name", "source_ip"}, sort: map[string]string{"started_at": "started_at", "username": "username", "asset_name": "asset_name", "id": "id"}, def: "-started_at"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			q = eqFilters(r, q, "username", "asset_name", "protocol")
			return timeRange(r, q, "started_at")
		},
		idOf: func(s *store.Session) uint { return 0 }, nameOf: func(s *store.Session) string { return s.ID },
	})
	registerResource(a, resource[store.Command, noInput]{
		name: "command", path: "/commands", tag: "Sessions", read: adminRead,
		spec: listSpec{search: []string{"input", "username", "asset_name"}, sort: sortCols("username", "asset_name", "risk"), def: "-id"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			q = eqFilters(r, q, "username", "asset_name", "session_id", "risk")
			return timeRange(r, q, "created_at")
		},
		idOf: func(c *store.Command) uint { return c.ID }, nameOf: func(c *store.Command) string { return c.Input },
	})
	registerResource(a, resource[store.FileTransfer, noInput]{
		name: "file_transfer", path: "/file-transfers", tag: "Sessions", read: adminRead,
		spec: listSpec{search: []string{"path", "username", "asset_name"}, sort: sortCols("username", "asset_name", "size"), def: "-id"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			q = eqFilters(r, q, "username", "asset_name", "session_id", "direction")
			return timeRange(r, q, "created_at")
		},
		idOf: func(f *store.FileTransfer) uint { return f.ID }, nameOf: func(f *store.FileTransfer) string { return f.Path },
	})

	// Settings.
	a.add(&route{method: "GET", path: "/settings/site", tag: "Settings", summary: "Site settings", access: systemRead, resp: settings.Site{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.Settings.Site(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, s)
			return nil
		}})
	a.add(&route{method: "PUT", path: "/settings/site", tag: "Settings", summary: "Replace the site settings", access: systemAdmin, req: settings.Site{}, resp: settings.Site{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in settings.Site
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			return a.putSetting(w, r, rc, settings.KeySite, &in, in.Validate)
		}})
	a.add(&route{method: "GET", path: "/settings/security", tag: "Settings", summary: "Security policy", access: systemRead, resp: settings.Security{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.Settings.Security(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, s)
			return nil
		}})
	a.add(&route{method: "PUT", path: "/settings/security", tag: "Settings", summary: "Replace the security policy", access: systemAdmin, req: settings.Security{}, resp: settings.Security{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			in := settings.DefaultSecurity()
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			return a.putSetting(w, r, rc, settings.KeySecurity, &in, in.Validate)
		}})
	a.add(&route{method: "GET", path: "/settings/smtp", tag: "Settings", summary: "SMTP settings (password never returned)", access: systemRead, resp: smtpView{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.Settings.SMTP(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, viewSMTP(s))
			return nil
		}})
	a.add(&route{method: "PUT", path: "/settings/smtp", tag: "Settings", summary: "Replace the SMTP settings; omit password to keep it", access: systemAdmin, req: smtpIn{}, resp: smtpView{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in smtpIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			cur, err := a.Settings.SMTP(r.Context())
			if err != nil {
				return err
			}
			next := settings.SMTP{Host: in.Host, Port: in.Port, Username: in.Username, From: in.From, Security: in.Security, PasswordEnc: cur.PasswordEnc}
			if in.Password != nil {
				next.PasswordEnc = nil
				if *in.Password != "" {
					if next.PasswordEnc, err = a.Vault.Seal([]byte(*in.Password), "smtp"); err != nil {
						return err
					}
				}
			}
			if err := next.Validate(); err != nil {
				return err
			}
			before := viewSMTP(cur)
			if err := a.Settings.Put(r.Context(), settings.KeySMTP, next); err != nil {
				return err
			}
			next.HasPassword = len(next.PasswordEnc) > 0
			after := viewSMTP(next)
			a.oplog(r.Context(), rc, "settings.update", "settings", settings.KeySMTP, settings.KeySMTP, before, after, true, "")
			writeJSON(w, 200, after)
			return nil
		}})
	a.add(&route{method: "POST", path: "/settings/smtp/test", tag: "Settings", summary: "Send a test mail", access: systemAdmin, req: smtpTestIn{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in smtpTestIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if !validEmail(in.To) {
				return errValidation("to", "must be an email address")
			}
			cfg, err := a.Settings.SMTP(r.Context())
			if err != nil {
				return err
			}
			pw := ""
			if len(cfg.PasswordEnc) > 0 {
				b, err := a.Vault.Unseal(cfg.PasswordEnc, "smtp")
				if err != nil {
					return err
				}
				pw = string(b)
			}
			ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
			defer cancel()
			err = notify.Send(ctx, cfg, pw, notify.Mail{To: []string{in.To}, Subject: "Portcullis test mail", Body: "This is a test mail from Portcullis.\n"})
			a.oplog(r.Context(), rc, "settings.smtp_test", "settings", settings.KeySMTP, in.To, nil, nil, err == nil, errMessage(err))
			if err != nil {
				return &Error{Status: http.StatusBadGateway, Code: "smtp_failed", Message: err.Error()}
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})

	// Secrets: reveal needs re-authentication and is audited.
	a.add(&route{method: "POST", path: "/accounts/{id}/reveal", tag: "Accounts", summary: "Reveal an account secret (re-authentication required; audited)", access: adminWrite, req: reauthIn{}, resp: revealOut{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			id, err := pathID(r)
			if err != nil {
				return err
			}
			var in reauthIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			var acc store.Account
			if err := a.db.WithContext(r.Context()).Where("org_id = ? AND id = ?", rc.orgID, id).Take(&acc).Error; err != nil {
				return errNotFound("account")
			}
			if err := a.Auth.Reauthenticate(r.Context(), rc.user, in.Password, in.OTP, rc.meta("web")); err != nil {
				a.oplog(r.Context(), rc, "account.reveal", "account", idString(acc.ID), acc.Name, nil, nil, false, "re-authentication failed")
				return err
			}
			if len(acc.SecretEnc) == 0 {
				return errConflict("", "the account has no secret")
			}
			secret, err := a.Vault.Unseal(acc.SecretEnc, fmt.Sprintf("account:%d", acc.ID))
			if err != nil {
				return err
			}
			a.oplog(r.Context(), rc, "account.reveal", "account", idString(acc.ID), acc.Name, nil, nil, true, "")
			writeJSON(w, 200, revealOut{Secret: string(secret)})
			return nil
		}})

	// CSV import and export.
	a.add(&route{method: "GET", path: "/assets/export", tag: "Assets", summary: "Export assets as CSV", access: adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="assets.csv"`)
			err := asset.ExportAssets(r.Context(), a.db, rc.orgID, w, asset.ExportFilter{})
			a.oplog(r.Context(), rc, "asset.export", "asset", "", "", nil, nil, err == nil, errMessage(err))
			return err
		}})
	a.add(&route{method: "GET", path: "/accounts/export", tag: "Accounts", summary: "Export accounts as CSV (without secrets)", access: adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="accounts.csv"`)
			err := asset.ExportAccounts(r.Context(), a.db, rc.orgID, w, asset.ExportFilter{})
			a.oplog(r.Context(), rc, "account.export", "account", "", "", nil, nil, err == nil, errMessage(err))
			return err
		}})
	a.add(&route{method: "POST", path: "/assets/import", tag: "Assets", summary: "Import assets from CSV (text/csv body); per-row errors", access: adminWrite, resp: asset.ImportResult{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			opts, err := importOptions(r)
			if err != nil {
				return err
			}
			res, err := asset.ImportAssets(r.Context(), a.db, rc.orgID, r.Body, opts)
			return a.importDone(w, r, rc, "asset.import", res, err)
		}})
	a.add(&route{method: "POST", path: "/accounts/import", tag: "Accounts", summary: "Import accounts from CSV (text/csv body); per-row errors", access: adminWrite, resp: asset.ImportResult{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			opts, err := importOptions(r)
			if err != nil {
				return err
			}
			res, err := asset.ImportAccounts(r.Context(), a.db, a.Vault, rc.orgID, r.Body, opts)
			return a.importDone(w, r, rc, "account.import", res, err)
		}})
}

func importOptions(r *http.Request) (asset.ImportOptions, error) {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "text/csv") && !strings.HasPrefix(ct, "text/plain") && !strings.HasPrefix(ct, "application/octet-stream") {
		return asset.ImportOptions{}, &Error{Status: http.StatusUnsupportedMediaType, Code: codeBadRequest, Message: "send the CSV file as the request body with Content-Type text/csv"}
	}
	return asset.ImportOptions{DryRun: r.URL.Query().Get("dry_run") == "true"}, nil
}

func (a *API) importDone(w http.ResponseWriter, r *http.Request, rc *reqCtx, action string, res *asset.ImportResult, err error) error {
	if err != nil {
		a.oplog(r.Context(), rc, action, "", "", "", nil, nil, false, errMessage(err))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if _, internal := toAPIError(err); internal {
			return errBadRequest("file", "%v", err)
		}
		return err
	}
	a.oplog(r.Context(), rc, action, "", "", "", nil, res, true, fmt.Sprintf("created %d, updated %d, errors %d", res.Created, res.Updated, len(res.Errors)))
	writeJSON(w, 200, res)
	return nil
}

func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

type smtpIn struct {
	Host     string  `json:"host"`
	Port     int     `json:"port"`
	Username string  `json:"username"`
	Password *string `json:"password,omitempty"`
	From     string  `json:"from"`
	Security string  `json:"security"`
}

type smtpView struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Username    string `json:"username"`
	HasPassword bool   `json:"has_password"`
	From        string `json:"from"`
	Security    string `json:"security"`
}

func viewSMTP(s settings.SMTP) smtpView {
	return smtpView{Host: s.Host, Port: s.Port, Username: s.Username, HasPassword: len(s.PasswordEnc) > 0, From: s.From, Security: s.Security}
}

func (a *API) putSetting(w http.ResponseWriter, r *http.Request, rc *reqCtx, key string, v any, validate func() error) error {
	if err := validate(); err != nil {
		return err
	}
	var before any
	switch key {
	case settings.KeySite:
		s, _ := a.Settings.Site(r.Context())
		before = s
	case settings.KeySecurity:
		s, _ := a.Settings.Security(r.Context())
		before = s
	}
	if err := a.Settings.Put(r.Context(), key, v); err != nil {
		return err
	}
	a.oplog(r.Context(), rc, "settings.update", "settings", key, key, before, v, true, "")
	writeJSON(w, 200, v)
	return nil
}
