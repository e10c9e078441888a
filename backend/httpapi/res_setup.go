package httpapi

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/backend/auth"
)

// setupIn is the first administrator's password, chosen in the desktop's
// first-run wizard.
type setupIn struct {
	Password string `json:"password"`
}

// setupOut tells whether the first-run wizard is due.
type setupOut struct {
	Needed bool `json:"needed"`
}

// registerSetup adds the first-run wizard of the desktop's embedded backend.
// Only a backend guarded by a launch token (the desktop's, on loopback, whose
// token only the window holds) offers it: a server reachable over the network
// prints a one-time password instead, so that nobody else can claim it first.
func (a *API) registerSetup() {
	a.add(&route{method: "GET", path: "/setup", tag: "Auth", summary: "Whether the first administrator still has to choose a password (desktop first run)", access: public, resp: setupOut{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			if a.LaunchToken == "" || a.SetupDir == "" {
				writeJSON(w, http.StatusOK, setupOut{})
				return nil
			}
			needed, err := a.Auth.SetupNeeded(r.Context(), a.SetupDir)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, setupOut{Needed: needed})
			return nil
		}})
	a.add(&route{method: "POST", path: "/setup", tag: "Auth", summary: "Choose the first administrator's password (desktop first run; 409 once done)", access: public, req: setupIn{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			if a.LaunchToken == "" || a.SetupDir == "" {
				a.deny(r.Context(), rc, "POST /setup", "first-run setup on a server (only the desktop's embedded backend offers it)")
				return errNotFound("setup")
			}
			var in setupIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			err := a.Auth.CompleteSetup(r.Context(), a.SetupDir, in.Password)
			if errors.Is(err, auth.ErrSetupDone) {
				a.deny(r.Context(), rc, "POST /setup", "first-run setup again: the administrator is set up already")
				return errConflict("", "the administrator is set up already")
			}
			a.oplog(r.Context(), rc, "setup.admin_password", "user", "", auth.InitialAdminUsername, nil, nil, err == nil, errDetail(err))
			if err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
}
