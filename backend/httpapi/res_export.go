package httpapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/portcullis/portcullis/backend/bundle"
	"github.com/portcullis/portcullis/backend/store"
)

// signingInfo is the server's recording-signing key as settings show it.
type signingInfo struct {
	Algorithm   string `json:"algorithm"`
	PublicKey   string `json:"public_key"` // OpenSSH one-line form
	Fingerprint string `json:"fingerprint"`
}

// registerExport adds the export of sessions as signed bundles and the
// signing key's description.
func (a *API) registerExport() {
	a.add(&route{method: "GET", path: "/settings/signing-key", tag: "Settings",
		summary: "The Ed25519 key that signs exported recordings: its public key and fingerprint, to compare with what `portcullisd verify` and the desktop app print",
		access:  adminRead, resp: signingInfo{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			if a.Signer == nil {
				return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "no signing key on this server"}
			}
			writeJSON(w, http.StatusOK, signingInfo{Algorithm: "ed25519", PublicKey: a.Signer.PublicKeyText(), Fingerprint: a.Signer.Fingerprint()})
			return nil
		}})
	a.add(&route{method: "GET", path: "/sessions/{id}/export", tag: "Sessions",
		summary: "Export a session as one signed bundle (.pcbundle, a zip): the recording (a .cast plays with asciinema unchanged), its index, the session's metadata with its commands and file transfers, and a manifest of SHA-256 digests signed with the server's Ed25519 key; audited as session.export",
		access:  adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			if a.Signer == nil {
				return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "no signing key on this server"}
			}
			s, err := a.sessionOf(r, rc, "GET /sessions/{id}/export")
			if err != nil {
				return err
			}
			if s.EndedAt == nil {
				return &Error{Status: http.StatusConflict, Code: codeConflict, Message: "the session is still running: export it once it ends"}
			}
			f, err := a.openRecording(s.Recording)
			if err != nil {
				a.oplog(r.Context(), rc, "session.export", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, false, err.Error())
				return errNotFound("recording")
			}
			defer f.Close()
			meta, err := a.bundleMetadata(r, rc, s)
			if err != nil {
				return err
			}
			c := bundle.Contents{Metadata: meta, Recording: f, RecordingName: f.Name()}
			if idx, err := os.Open(f.Name() + ".idx"); err == nil {
				defer idx.Close()
				c.Index = idx
			}
			h := w.Header()
			h.Set("Content-Type", "application/zip")
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+".pcbundle"))
			w.WriteHeader(http.StatusOK)
			m, err := bundle.Write(r.Context(), w, c, a.Signer)
			detail := ""
			if err == nil {
				detail = fmt.Sprintf("%d files, signed by %s", len(m.Files), a.Signer.Fingerprint())
			}
			a.oplog(r.Context(), rc, "session.export", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, err == nil, cmp.Or(errMessage(err), detail))
			if err != nil {
				// The status line is gone: the truncated zip fails verification.
				a.log.ErrorContext(r.Context(), "export session", "session", s.ID, "err", err)
			}
			return nil
		}})
}

// bundleMetadata gathers what a bundle says about a session.
func (a *API) bundleMetadata(r *http.Request, rc *reqCtx, s *store.Session) (bundle.Metadata, error) {
	ctx := r.Context()
	m := bundle.Metadata{
		SessionID: s.ID, OrgID: s.OrgID, UserID: s.UserID, Username: s.Username, SourceIP: s.SourceIP,
		AssetName: s.AssetName, Account: s.AccountName, Protocol: s.Protocol, Kind: s.Kind, Via: s.Via, Node: s.Node,
		StartedAt: s.StartedAt, EndedAt: s.EndedAt, EndReason: s.EndReason, BytesIn: s.BytesIn, BytesOut: s.BytesOut,
		Interrupted: s.EndReason == "interrupted", ExportedAt: a.Clock().UTC(),
	}
	if rc.user != nil {
		m.ExportedBy = rc.user.Username
	}
	var asset store.Asset
	if err := a.db.WithContext(ctx).Where("id = ?", s.AssetID).Take(&asset).Error; err == nil {
		m.AssetAddress = asset.Address
	} else if !errors.Is(store.Translate(err), store.ErrNotFound) {
		return m, store.Translate(err)
	}
	var cmds []store.Command
	if err := a.db.WithContext(ctx).Where("session_id = ?", s.ID).Order("id").Find(&cmds).Error; err != nil {
		return m, store.Translate(err)
	}
	for _, c := range cmds {
		m.Commands = append(m.Commands, bundle.Command{Time: c.CreatedAt, Offset: c.Offset, Input: c.Input, Verdict: c.Verdict, Risk: c.Risk})
	}
	var fts []store.FileTransfer
	if err := a.db.WithContext(ctx).Where("session_id = ?", s.ID).Order("id").Find(&fts).Error; err != nil {
		return m, store.Translate(err)
	}
	for _, t := range fts {
		m.FileTransfers = append(m.FileTransfers, bundle.FileTransfer{Time: t.CreatedAt, Direction: t.Direction, Path: t.Path,
			Size: t.Size, SHA256: t.SHA256, Success: t.Allowed})
	}
	return m, nil
}
