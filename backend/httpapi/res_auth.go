package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/store"
)

type loginIn struct {
	Username string `json:"username"`
	Password string `json:"password"`
	OTP      string `json:"otp,omitempty"`
}

type otpIn struct {
	OTP string `json:"otp"`
}

type passwordIn struct {
	OldPassword string `json:"old_password,omitempty"`
	NewPassword string `json:"new_password"`
}

type reauthIn struct {
	Password string `json:"password"`
	OTP      string `json:"otp,omitempty"`
}

type tokenIn struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days,omitempty"`
}

// OrgRef names an organization.
type OrgRef struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
}

// Me describes the caller.
type Me struct {
	ID                 uint     `json:"id"`
	Username           string   `json:"username"`
	Name               string   `json:"name"`
	Email              string   `json:"email"`
	Role               string   `json:"role"`
	OrgRole            string   `json:"org_role"`
	OrgID              uint     `json:"org_id"`
	OrgName            string   `json:"org_name"`
	TOTPEnabled        bool     `json:"totp_enabled"`
	MFARequired        bool     `json:"mfa_required"`
	MustChangePassword bool     `json:"must_change_password"`
	IsAdmin            bool     `json:"is_admin"`
	IsAuditor          bool     `json:"is_auditor"`
	Orgs               []OrgRef `json:"orgs"`
}

// LoginResponse is the answer of every login step.
type LoginResponse struct {
	Status        string     `json:"status"`
	Token         string     `json:"token,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	User          *Me        `json:"user,omitempty"`
	RecoveryCodes []string   `json:"recovery_codes,omitempty"`
}

type mfaSetup struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
}

type apiToken struct {
	Token string           `json:"token,omitempty"`
	Info  *store.AuthToken `json:"info"`
}

func (a *API) me(ctx context.Context, u *store.User) (*Me, error) {
	var org store.Organization
	if err := a.db.WithContext(ctx).Where("id = ?", u.OrgID).Take(&org).Error; err != nil {
		return nil, store.Translate(err)
	}
	sec, err := a.Settings.Security(ctx)
	if err != nil {
		return nil, err
	}
	m := &Me{
		ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Role: u.Role, OrgRole: u.OrgRole,
		OrgID: u.OrgID, OrgName: org.Name, TOTPEnabled: u.TOTPEnabled, MustChangePassword: u.MustChangePassword,
		MFARequired: u.MFARequired || sec.RequiresMFA(u.Role, u.OrgRole),
		IsAdmin:     u.Role == store.RoleSystemAdmin || u.OrgRole == store.OrgRoleAdmin,
		IsAuditor:   u.Role == store.RoleSystemAuditor || u.OrgRole == store.OrgRoleAuditor,
		Orgs:        []OrgRef{{ID: org.ID, Name: org.Name}},
	}
	if u.Role == store.RoleSystemAdmin || u.Role == store.RoleSystemAuditor {
		var orgs []store.Organization
		if err := a.db.WithContext(ctx).Order("id").Find(&orgs).Error; err != nil {
			return nil, err
		}
		m.Orgs = m.Orgs[:0]
		for _, o := range orgs {
			m.Orgs = append(m.Orgs, OrgRef{ID: o.ID, Name: o.Name})
		}
	}
	return m, nil
}

func (a *API) loginResponse(ctx context.Context, res *auth.LoginResult, codes []string) (*LoginResponse, error) {
	out := &LoginResponse{Status: string(res.Step), Token: res.Token, RecoveryCodes: codes}
	if !res.ExpiresAt.IsZero() {
		t := res.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	if res.Step == auth.StepOK && res.User != nil {
		m, err := a.me(ctx, res.User)
		if err != nil {
			return nil, err
		}
		out.User = m
	}
	return out, nil
}

func (a *API) registerAuth() {
	respond := func(w http.ResponseWriter, r *http.Request, res *auth.LoginResult, codes []string, err error) error {
		if err != nil {
			return err
		}
		out, err := a.loginResponse(r.Context(), res, codes)
		if err != nil {
			return err
		}
		writeJSON(w, 200, out)
		return nil
	}
	a.add(&route{method: "POST", path: "/auth/login", tag: "Auth", summary: "Log in with username and password (and OTP)", access: public, req: loginIn{}, resp: LoginResponse{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in loginIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if in.Username == "" {
				return errValidation("username", "is required")
			}
			if in.Password == "" {
				return errValidation("password", "is required")
			}
			res, err := a.Auth.Login(r.Context(), auth.LoginRequest{Username: in.Username, Password: in.Password, OTP: in.OTP, Meta: rc.meta("web")})
			return respond(w, r, res, nil, err)
		}})
	a.add(&route{method: "POST", path: "/auth/otp", tag: "Auth", summary: "Submit a one-time code (or a recovery code) for a login step", access: stepOrUser, req: otpIn{}, resp: LoginResponse{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in otpIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if in.OTP == "" {
				return errValidation("otp", "is required")
			}
			res, err := a.Auth.SubmitOTP(r.Context(), rc.stepToken, in.OTP, rc.meta("web"))
			return respond(w, r, res, nil, err)
		}})
	a.add(&route{method: "POST", path: "/auth/password", tag: "Auth", summary: "Change the password (forced at first login, or by choice)", access: stepOrUser, req: passwordIn{}, resp: LoginResponse{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in passwordIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if in.NewPassword == "" {
				return errValidation("new_password", "is required")
			}
			res, err := a.Auth.ChangePassword(r.Context(), rc.stepToken, in.OldPassword, in.NewPassword, rc.meta("web"))
			if err == nil && rc.user != nil {
				a.oplog(r.Context(), rc, "user.password_change", "user", idString(rc.user.ID), rc.user.Username, nil, nil, true, "")
			}
			return respond(w, r, res, nil, err)
		}})
	a.add(&route{method: "POST", path: "/auth/mfa/setup", tag: "Auth", summary: "Start TOTP enrolment: returns the secret and otpauth URI", access: stepOrUser, resp: mfaSetup{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			secret, uri, err := a.Auth.BeginTOTPEnroll(r.Context(), rc.stepToken)
			if err != nil {
				return err
			}
			writeJSON(w, 200, mfaSetup{Secret: secret, OTPAuthURI: uri})
			return nil
		}})
	a.add(&route{method: "POST", path: "/auth/mfa/confirm", tag: "Auth", summary: "Confirm TOTP enrolment with a code; returns recovery codes once", access: stepOrUser, req: otpIn{}, resp: LoginResponse{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in otpIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			if in.OTP == "" {
				return errValidation("otp", "is required")
			}
			res, codes, err := a.Auth.ConfirmTOTPEnroll(r.Context(), rc.stepToken, in.OTP, rc.meta("web"))
			return respond(w, r, res, codes, err)
		}})
	a.add(&route{method: "POST", path: "/auth/logout", tag: "Auth", summary: "Log out (revoke the session token)", access: anyUser,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			tok, _ := bearerToken(r)
			if err := a.Auth.Logout(r.Context(), tok); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})

	a.add(&route{method: "GET", path: "/me", tag: "Me", summary: "The caller", access: anyUser, resp: Me{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			m, err := a.me(r.Context(), rc.user)
			if err != nil {
				return err
			}
			writeJSON(w, 200, m)
			return nil
		}})
	a.add(&route{method: "DELETE", path: "/me/mfa", tag: "Me", summary: "Disable TOTP (refused where the policy enforces MFA)", access: anyUser, req: reauthIn{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in reauthIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			err := a.Auth.DisableTOTP(r.Context(), rc.user, in.Password, in.OTP)
			a.oplog(r.Context(), rc, "user.mfa_disable", "user", idString(rc.user.ID), rc.user.Username, nil, nil, err == nil, errDetail(err))
			if err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(&route{method: "GET", path: "/me/tokens", tag: "Me", summary: "List my API tokens", access: anyUser, resp: store.AuthToken{}, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			items, err := a.Auth.ListAPITokens(r.Context(), rc.user.ID)
			if err != nil {
				return err
			}
			if items == nil {
				items = []store.AuthToken{}
			}
			writeJSON(w, 200, page[store.AuthToken]{Items: items, Total: int64(len(items)), Page: 1, PageSize: len(items)})
			return nil
		}})
	a.add(&route{method: "POST", path: "/me/tokens", tag: "Me", summary: "Create an API token (shown once)", access: anyUser, req: tokenIn{}, resp: apiToken{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in tokenIn
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			var name string
			if err := applyName(&name, opt[string]{Set: true, V: in.Name}, "name", true); err != nil {
				return err
			}
			if in.ExpiresInDays < 0 || in.ExpiresInDays > 3650 {
				return errValidation("expires_in_days", "must be between 0 (never) and 3650")
			}
			if rc.token != nil && rc.token.Kind == store.TokenAPI {
				return errForbidden("an API token cannot create API tokens")
			}
			tok, info, err := a.Auth.CreateAPIToken(r.Context(), rc.user, name, time.Duration(in.ExpiresInDays)*24*time.Hour)
			if err != nil {
				return err
			}
			a.oplog(r.Context(), rc, "token.create", "token", idString(info.ID), name, nil, info, true, "")
			writeJSON(w, http.StatusCreated, apiToken{Token: tok, Info: info})
			return nil
		}})
	a.add(&route{method: "DELETE", path: "/me/tokens/{id}", tag: "Me", summary: "Revoke an API token", access: anyUser,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			id, err := pathID(r)
			if err != nil {
				return err
			}
			if err := a.Auth.RevokeAPIToken(r.Context(), rc.user.ID, id); err != nil {
				return err
			}
			a.oplog(r.Context(), rc, "token.revoke", "token", idString(id), "", nil, nil, true, "")
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(&route{method: "GET", path: "/me/assets", tag: "Me", summary: "Assets the caller may reach, with accounts, protocols and actions", access: anyUser, resp: perm.AssetAccess{}, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			q := perm.Query{Search: r.URL.Query().Get("search"), Sort: r.URL.Query().Get("sort"), Protocol: r.URL.Query().Get("protocol")}
			if len(q.Search) > 256 {
				return errValidation("search", "must be at most 256 characters")
			}
			switch q.Sort {
			case "", "name", "-name", "address", "-address":
			default:
				return errValidation("sort", "cannot sort by %q", q.Sort)
			}
			if id, ok, err := uintParam(r, "node_id"); err != nil {
				return err
			} else if ok {
				q.NodeID = id
			}
			// Reuse the common page parsing on an empty spec.
			pp, err := pageOf(r)
			if err != nil {
				return err
			}
			q.Offset, q.Limit = (pp.page-1)*pp.size, pp.size
			items, total, err := a.Perm.UserAssets(r.Context(), rc.user.ID, q)
			if err != nil {
				return err
			}
			if items == nil {
				items = []perm.AssetAccess{}
			}
			writeJSON(w, 200, page[perm.AssetAccess]{Items: items, Total: total, Page: pp.page, PageSize: pp.size})
			return nil
		}})
	a.add(&route{method: "GET", path: "/me/nodes", tag: "Me", summary: "Nodes holding assets the caller may reach, with counts", access: anyUser, resp: perm.NodeCount{}, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			items, err := a.Perm.UserNodes(r.Context(), rc.user.ID)
			if err != nil {
				return err
			}
			if items == nil {
				items = []perm.NodeCount{}
			}
			writeJSON(w, 200, page[perm.NodeCount]{Items: items, Total: int64(len(items)), Page: 1, PageSize: len(items)})
			return nil
		}})
}
