package httpapi

import (
	"context"
	"net/http"

	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/storage"
	"github.com/portcullis/portcullis/backend/store"
)

// Recordings is the server's recording housekeeping: the object store's
// upload (restarted when its settings change) and its backlog.
type Recordings interface {
	Reconfigure(ctx context.Context) error
	Backlog() (enabled bool, errText string, backlog *storage.Backlog)
}

// storageStatus is GET /storage/status.
type storageStatus struct {
	Enabled bool             `json:"enabled"`
	Error   string           `json:"error,omitempty"`
	Backlog *storage.Backlog `json:"backlog,omitempty"`
}

// recordingsView is the recordings settings as the API shows them: the S3
// secret never leaves the server.
func recordingsView(r settings.Recordings) settings.Recordings {
	r.S3.HasSecret = len(r.S3.SecretEnc) > 0
	r.S3.SecretEnc, r.S3.Secret = nil, ""
	return r
}

type legalHoldIn struct {
	Hold *bool `json:"hold"`
}

// registerStorage adds the recordings settings (object store, retention),
// the upload backlog and the legal hold of sessions.
func (a *API) registerStorage() {
	a.add(&route{method: "GET", path: "/settings/recordings", tag: "Settings",
		summary: "Where recordings are kept: retention in days (0: forever), keep a local copy, and an S3-compatible object store (the secret key is never returned)",
		access:  systemRead, resp: settings.Recordings{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			cur, err := a.Settings.Recordings(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, recordingsView(cur))
			return nil
		}})
	a.add(&route{method: "PUT", path: "/settings/recordings", tag: "Settings",
		summary: "Replace the recordings settings; omit s3.secret to keep the stored one. The upload restarts with them.",
		access:  systemAdmin, req: settings.Recordings{}, resp: settings.Recordings{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			in := settings.DefaultRecordings()
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			cur, err := a.Settings.Recordings(r.Context())
			if err != nil {
				return err
			}
			in.S3.SecretEnc, in.S3.HasSecret = cur.S3.SecretEnc, false
			if in.S3.Secret != "" {
				if len(in.S3.Secret) > 1024 {
					return errValidation("s3", "the secret key is too long")
				}
				enc, err := a.Vault.Seal([]byte(in.S3.Secret), settings.S3SecretAAD)
				if err != nil {
					return err
				}
				in.S3.SecretEnc = enc
			}
			in.S3.Secret = ""
			if in.S3.Enabled && len(in.S3.SecretEnc) == 0 {
				return errValidation("s3", "a secret key is required to enable S3")
			}
			if err := in.Validate(); err != nil {
				return err
			}
			if err := a.Settings.Put(r.Context(), settings.KeyRecords, in); err != nil {
				return err
			}
			a.oplog(r.Context(), rc, "settings.update", "settings", settings.KeyRecords, settings.KeyRecords, recordingsView(cur), recordingsView(in), true, "")
			if a.Recordings != nil {
				if err := a.Recordings.Reconfigure(context.WithoutCancel(r.Context())); err != nil {
					a.log.WarnContext(r.Context(), "object storage", "err", err)
				}
			}
			writeJSON(w, http.StatusOK, recordingsView(in))
			return nil
		}})
	a.add(&route{method: "GET", path: "/storage/status", tag: "Settings",
		summary: "The object store's upload: on or off, why it could not start, and the backlog of recordings waiting (pending, bytes, failing, last error, next attempt)",
		access:  adminRead, resp: storageStatus{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var st storageStatus
			if a.Recordings != nil {
				st.Enabled, st.Error, st.Backlog = a.Recordings.Backlog()
			}
			writeJSON(w, http.StatusOK, st)
			return nil
		}})
	a.add(&route{method: "POST", path: "/sessions/{id}/legal-hold", tag: "Sessions",
		summary: "Put a session's recording on legal hold (retention never deletes it) or release it: {\"hold\": true}",
		access:  adminWrite, req: legalHoldIn{}, resp: store.Session{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in legalHoldIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if in.Hold == nil {
				return errValidation("hold", "required: true or false")
			}
			s, err := a.sessionOf(r, rc, "POST /sessions/{id}/legal-hold")
			if err != nil {
				return err
			}
			if err := a.db.WithContext(r.Context()).Model(&store.Session{}).Where("id = ?", s.ID).Update("legal_hold", *in.Hold).Error; err != nil {
				return store.Translate(err)
			}
			action := "session.legal_hold"
			if !*in.Hold {
				action = "session.legal_hold_release"
			}
			a.oplog(r.Context(), rc, action, "session", s.ID, s.Username+"@"+s.AssetName, map[string]bool{"legal_hold": s.LegalHold}, map[string]bool{"legal_hold": *in.Hold}, true, "")
			s.LegalHold = *in.Hold
			writeJSON(w, http.StatusOK, s)
			return nil
		}})
}
