package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/backend/store"
)

// registerRecordings adds the download of a session's recording, for the
// replay in the UI (asciinema-player) and for `asciinema play`.
func (a *API) registerRecordings() {
	a.add(&route{method: "GET", path: "/sessions/{id}/recording", tag: "Sessions",
		summary: "A session's recording: asciicast v2 for terminals (sent gzip-encoded: Content-Encoding: gzip), Guacamole instructions (.guac) for desktops; every read is audited",
		access:  adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			id := r.PathValue("id")
			if len(id) > 64 {
				return errNotFound("session")
			}
			var s store.Session
			if err := a.db.WithContext(r.Context()).Where("id = ? AND org_id = ?", id, rc.orgID).Take(&s).Error; err != nil {
				if errors.Is(store.Translate(err), store.ErrNotFound) {
					var n int64
					a.db.WithContext(r.Context()).Model(&store.Session{}).Where("id = ?", id).Count(&n)
					if n > 0 {
						a.deny(r.Context(), rc, "GET /sessions/{id}/recording", "recording of another organization's session "+id)
					}
					return errNotFound("session")
				}
				return store.Translate(err)
			}
			f, err := a.openRecording(s.Recording)
			if err != nil {
				a.oplog(r.Context(), rc, "session.replay", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, false, err.Error())
				return errNotFound("recording")
			}
			defer f.Close()
			a.oplog(r.Context(), rc, "session.replay", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, true, "")
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			if strings.HasSuffix(s.Recording, ".guac") {
				// A desktop session: the Guacamole instructions its user received.
				h.Set("Content-Type", "application/x-guacamole")
				h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+".guac"))
			} else {
				h.Set("Content-Type", "application/x-asciicast")
				h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+".cast"))
			}
			if strings.HasSuffix(s.Recording, ".gz") {
				h.Set("Content-Encoding", "gzip")
			}
			w.WriteHeader(http.StatusOK)
			io.Copy(w, f)
			return nil
		}})
}

// openRecording opens a recording file, which must lie in the recordings
// directory (a row pointing elsewhere is refused).
func (a *API) openRecording(path string) (*os.File, error) {
	if path == "" || a.RecordingDir == "" {
		return nil, errors.New("no recording")
	}
	dir, err := filepath.Abs(a.RecordingDir)
	if err != nil {
		return nil, err
	}
	p, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(dir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, errors.New("recording outside the recordings directory")
	}
	return os.Open(p)
}
