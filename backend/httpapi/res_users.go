package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/store"
)

type userIn struct {
	Username           opt[string] `json:"username"`
	Name               opt[string] `json:"name"`
	Email              opt[string] `json:"email"`
	Role               opt[string] `json:"role"`
	OrgRole            opt[string] `json:"org_role"`
	IsActive           opt[bool]   `json:"is_active"`
	Password           opt[string] `json:"password"`
	MFARequired        opt[bool]   `json:"mfa_required"`
	MustChangePassword opt[bool]   `json:"must_change_password"`
	Comment            opt[string] `json:"comment"`
}

type groupIn struct {
	Name    opt[string] `json:"name"`
	Comment opt[string] `json:"comment"`
	UserIDs opt[[]uint] `json:"user_ids"`
}

type orgIn struct {
	Name        opt[string] `json:"name"`
	Description opt[string] `json:"description"`
}

func (a *API) applyUser(ctx context.Context, tx *gorm.DB, rc *reqCtx, u *store.User, in *userIn, creating bool) error {
	if err := applyName(&u.Username, in.Username, "username", creating); err != nil {
		return err
	}
	for _, r := range u.Username {
		if r == '@' || r == ' ' || r == '/' || r == ':' {
			return errValidation("username", "must not contain '@', '/', ':' or spaces")
		}
	}
	if err := applyText(&u.Name, in.Name, "name", 128); err != nil {
		return err
	}
	if err := applyText(&u.Email, in.Email, "email", 256); err != nil {
		return err
	}
	if u.Email != "" && !validEmail(u.Email) {
		return errValidation("email", "must be an email address")
	}
	if err := applyText(&u.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	if in.Role.Set {
		if err := oneOf("role", in.Role.V, store.RoleSystemAdmin, store.RoleSystemAuditor, store.RoleUser); err != nil {
			return err
		}
		if in.Role.V != u.Role && rc.user.Role != store.RoleSystemAdmin {
			return errForbidden("only a system admin may grant or revoke system roles")
		}
		if in.Role.V != store.RoleSystemAdmin && u.Role == store.RoleSystemAdmin && !creating {
			if err := a.keepOneSystemAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		u.Role = in.Role.V
	} else if creating {
		u.Role = store.RoleUser
	}
	if in.OrgRole.Set {
		if err := oneOf("org_role", in.OrgRole.V, store.OrgRoleAdmin, store.OrgRoleAuditor, store.OrgRoleUser); err != nil {
			return err
		}
		u.OrgRole = in.OrgRole.V
	} else if creating {
		u.OrgRole = store.OrgRoleUser
	}
	if in.IsActive.Set && !in.IsActive.V && u.ID == rc.user.ID {
		return errValidation("is_active", "you cannot disable yourself")
	}
	applyBool(&u.IsActive, in.IsActive)
	applyBool(&u.MFARequired, in.MFARequired)
	applyBool(&u.MustChangePassword, in.MustChangePassword)
	return nil
}

func (a *API) keepOneSystemAdmin(ctx context.Context, tx *gorm.DB, exceptID uint) error {
	var n int64
	if err := tx.WithContext(ctx).Model(&store.User{}).Where("role = ? AND is_active = ? AND id <> ?", store.RoleSystemAdmin, true, exceptID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return errConflict("role", "this is the last active system admin")
	}
	return nil
}

func validEmail(s string) bool {
	at := -1
	for i, r := range s {
		if r == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
		if r == ' ' || r == '<' || r == '>' {
			return false
		}
	}
	return at > 0 && at < len(s)-3
}

func (a *API) registerUsers() {
	registerResource(a, resource[store.User, userIn]{
		name: "user", path: "/users", tag: "Users", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"username", "name", "email"}, sort: sortCols("username", "name", "email", "role", "org_role", "last_login_at", "is_active"), def: "username"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if v := r.URL.Query().Get("group_id"); v != "" {
				id, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return nil, errValidation("group_id", "must be an id")
				}
				q = q.Where("id IN (SELECT user_id FROM user_group_members WHERE user_group_id = ?)", id)
			}
			return q, nil
		},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *userIn) (*store.User, error) {
			u := &store.User{OrgID: rc.orgID, IsActive: true, MustChangePassword: true}
			if err := a.applyUser(ctx, tx, rc, u, in, true); err != nil {
				return nil, err
			}
			if !in.Password.Set || in.Password.V == "" {
				return nil, errValidation("password", "is required: set an initial password the user must change at first login")
			}
			if err := a.Auth.SetPassword(auth.WithTx(ctx, tx), u, in.Password.V, u.MustChangePassword); err != nil {
				return nil, err
			}
			if err := tx.Create(u).Error; err != nil {
				return nil, store.Translate(err)
			}
			return u, nil
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, u *store.User, in *userIn) error {
			if in.Username.Set && in.Username.V != u.Username {
				return errValidation("username", "cannot be changed")
			}
			if err := a.applyUser(ctx, tx, rc, u, in, false); err != nil {
				return err
			}
			if err := tx.Save(u).Error; err != nil {
				return store.Translate(err)
			}
			if in.Password.Set && in.Password.V != "" {
				// Resetting a password also ends the user's sessions.
				must := true
				if in.MustChangePassword.Set {
					must = in.MustChangePassword.V
				}
				return a.Auth.SetPassword(auth.WithTx(ctx, tx), u, in.Password.V, must)
			}
			return nil
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, u *store.User) error {
			if u.ID == rc.user.ID {
				return errConflict("", "you cannot delete yourself")
			}
			if u.Role == store.RoleSystemAdmin {
				if err := a.keepOneSystemAdmin(ctx, tx, u.ID); err != nil {
					return err
				}
			}
			for _, q := range []string{
				"DELETE FROM user_group_members WHERE user_id = ?", "DELETE FROM perm_users WHERE user_id = ?",
				"DELETE FROM cmdfilter_users WHERE user_id = ?", "DELETE FROM auth_tokens WHERE user_id = ?",
				"UPDATE login_acls SET is_active = false WHERE user_id = ?",
			} {
				if err := tx.Exec(q, u.ID).Error; err != nil {
					return err
				}
			}
			return tx.Delete(u).Error
		},
		idOf: func(u *store.User) uint { return u.ID }, nameOf: func(u *store.User) string { return u.Username },
	})
	for _, action := range []struct{ path, name, summary string }{
		{"/users/{id}/unlock", "user.unlock", "Unlock a user locked out by failed logins"},
		{"/users/{id}/reset-mfa", "user.reset_mfa", "Remove a user's TOTP enrolment"},
	} {
		action := action
		a.add(&route{method: "POST", path: action.path, tag: "Users", summary: action.summary, access: adminWrite,
			h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
				id, err := pathID(r)
				if err != nil {
					return err
				}
				var u store.User
				if err := a.db.WithContext(r.Context()).Where("org_id = ? AND id = ?", rc.orgID, id).Take(&u).Error; err != nil {
					return errNotFound("user")
				}
				if action.name == "user.unlock" {
					err = a.Auth.Unlock(r.Context(), u.ID)
				} else {
					err = a.Auth.ResetMFA(r.Context(), u.ID)
				}
				a.oplog(r.Context(), rc, action.name, "user", idString(u.ID), u.Username, nil, nil, err == nil, errDetail(err))
				if err != nil {
					return err
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			}})
	}

	registerResource(a, resource[store.UserGroup, groupIn]{
		name: "group", path: "/groups", tag: "Groups", read: adminRead, write: adminWrite,
		spec:    listSpec{search: []string{"name", "comment"}, sort: sortCols("name"), def: "name"},
		preload: []string{"Users"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *groupIn) (*store.UserGroup, error) {
			g := &store.UserGroup{OrgID: rc.orgID}
			return g, a.saveGroup(ctx, tx, rc, g, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.UserGroup, in *groupIn) error {
			return a.saveGroup(ctx, tx, rc, g, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.UserGroup) error {
			for _, q := range []string{"DELETE FROM user_group_members WHERE user_group_id = ?", "DELETE FROM perm_groups WHERE user_group_id = ?", "DELETE FROM cmdfilter_user_groups WHERE user_group_id = ?"} {
				if err := tx.Exec(q, g.ID).Error; err != nil {
					return err
				}
			}
			return tx.Delete(g).Error
		},
		idOf: func(g *store.UserGroup) uint { return g.ID }, nameOf: func(g *store.UserGroup) string { return g.Name },
	})

	registerResource(a, resource[store.Organization, orgIn]{
		name: "organization", path: "/orgs", tag: "Organizations", read: systemRead, write: systemAdmin, global: true,
		spec: listSpec{search: []string{"name", "description"}, sort: sortCols("name"), def: "name"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *orgIn) (*store.Organization, error) {
			o := &store.Organization{}
			if err := applyName(&o.Name, in.Name, "name", true); err != nil {
				return nil, err
			}
			if err := applyText(&o.Description, in.Description, "description", 1024); err != nil {
				return nil, err
			}
			if err := tx.Create(o).Error; err != nil {
				return nil, store.Translate(err)
			}
			return o, a.seedOrg(ctx, tx, o.ID)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, o *store.Organization, in *orgIn) error {
			if err := applyName(&o.Name, in.Name, "name", false); err != nil {
				return err
			}
			if err := applyText(&o.Description, in.Description, "description", 1024); err != nil {
				return err
			}
			return store.Translate(tx.Save(o).Error)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, o *store.Organization) error {
			if o.Builtin {
				return errConflict("", "the default organization cannot be deleted")
			}
			for _, m := range []any{&store.User{}, &store.Asset{}} {
				var n int64
				if err := tx.Model(m).Where("org_id = ?", o.ID).Count(&n).Error; err != nil {
					return err
				}
				if n > 0 {
					return errConflict("", "the organization still holds users or assets")
				}
			}
			return tx.Delete(o).Error
		},
		idOf: func(o *store.Organization) uint { return o.ID }, nameOf: func(o *store.Organization) string { return o.Name },
	})
}

// seedOrg gives a new organization its own copy of the built-in command groups and filters.
func (a *API) seedOrg(ctx context.Context, tx *gorm.DB, orgID uint) error {
	return store.SeedOrg(ctx, tx, orgID)
}

func (a *API) saveGroup(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.UserGroup, in *groupIn, creating bool) error {
	if err := applyName(&g.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if err := applyText(&g.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	if err := tx.Omit("Users").Save(g).Error; err != nil {
		return store.Translate(err)
	}
	if in.UserIDs.Set {
		users, err := idsIn[store.User](ctx, tx, rc.orgID, "user_ids", in.UserIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(g).Association("Users").Replace(users); err != nil {
			return err
		}
	}
	return nil
}
