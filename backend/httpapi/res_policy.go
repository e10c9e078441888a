package httpapi

import (
	"context"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/auth"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/timewindow"
)

type permissionIn struct {
	Name        opt[string]    `json:"name"`
	UserIDs     opt[[]uint]    `json:"user_ids"`
	GroupIDs    opt[[]uint]    `json:"group_ids"`
	AssetIDs    opt[[]uint]    `json:"asset_ids"`
	NodeIDs     opt[[]uint]    `json:"node_ids"`
	Accounts    opt[[]string]  `json:"accounts"`
	Protocols   opt[[]string]  `json:"protocols"`
	Actions     opt[[]string]  `json:"actions"`
	DateStart   opt[time.Time] `json:"date_start"`
	DateExpired opt[time.Time] `json:"date_expired"`
	TimeWindow  opt[string]    `json:"time_window"`
	IsActive    opt[bool]      `json:"is_active"`
	Comment     opt[string]    `json:"comment"`
}

type commandGroupIn struct {
	Name       opt[string] `json:"name"`
	Kind       opt[string] `json:"kind"`
	Content    opt[string] `json:"content"`
	IgnoreCase opt[bool]   `json:"ignore_case"`
	Comment    opt[string] `json:"comment"`
}

type commandFilterIn struct {
	Name         opt[string]   `json:"name"`
	Priority     opt[int]      `json:"priority"`
	Action       opt[string]   `json:"action"`
	GroupIDs     opt[[]uint]   `json:"group_ids"`
	UserIDs      opt[[]uint]   `json:"user_ids"`
	UserGroupIDs opt[[]uint]   `json:"user_group_ids"`
	AssetIDs     opt[[]uint]   `json:"asset_ids"`
	Accounts     opt[[]string] `json:"accounts"`
	IsActive     opt[bool]     `json:"is_active"`
	Comment      opt[string]   `json:"comment"`
}

type loginACLIn struct {
	Name       opt[string]   `json:"name"`
	Priority   opt[int]      `json:"priority"`
	UserID     opt[uint]     `json:"user_id"`
	IPRanges   opt[[]string] `json:"ip_ranges"`
	TimeWindow opt[string]   `json:"time_window"`
	Action     opt[string]   `json:"action"`
	IsActive   opt[bool]     `json:"is_active"`
	Comment    opt[string]   `json:"comment"`
}

func (a *API) registerPolicy() {
	registerResource(a, resource[store.AssetPermission, permissionIn]{
		name: "permission", path: "/permissions", tag: "Permissions", read: adminRead, write: adminWrite,
		spec:    listSpec{search: []string{"name", "comment"}, sort: sortCols("name", "date_expired", "is_active"), def: "name"},
		preload: []string{"Users", "Groups", "Assets", "Nodes"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *permissionIn) (*store.AssetPermission, error) {
			p := &store.AssetPermission{OrgID: rc.orgID, IsActive: true, Accounts: store.JSONList{store.AccountAll},
				Protocols: store.JSONList{"all"}, Actions: store.JSONList{store.ActionConnect}}
			return p, a.savePermission(ctx, tx, rc, p, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, p *store.AssetPermission, in *permissionIn) error {
			return a.savePermission(ctx, tx, rc, p, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, p *store.AssetPermission) error {
			return tx.Select("Users", "Groups", "Assets", "Nodes").Delete(p).Error
		},
		idOf: func(p *store.AssetPermission) uint { return p.ID }, nameOf: func(p *store.AssetPermission) string { return p.Name },
	})

	registerResource(a, resource[store.CommandGroup, commandGroupIn]{
		name: "command_group", path: "/command-groups", tag: "Command filters", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"name", "content", "comment"}, sort: sortCols("name", "kind"), def: "name"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *commandGroupIn) (*store.CommandGroup, error) {
			g := &store.CommandGroup{OrgID: rc.orgID, Kind: "command"}
			return g, saveCommandGroup(tx, g, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.CommandGroup, in *commandGroupIn) error {
			return saveCommandGroup(tx, g, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.CommandGroup) error {
			if err := tx.Exec("DELETE FROM cmdfilter_groups WHERE command_group_id = ?", g.ID).Error; err != nil {
				return err
			}
			return tx.Delete(g).Error
		},
		idOf: func(g *store.CommandGroup) uint { return g.ID }, nameOf: func(g *store.CommandGroup) string { return g.Name },
	})

	registerResource(a, resource[store.CommandFilter, commandFilterIn]{
		name: "command_filter", path: "/command-filters", tag: "Command filters", read: adminRead, write: adminWrite,
		spec:    listSpec{search: []string{"name", "comment"}, sort: sortCols("name", "priority", "action"), def: "priority"},
		preload: []string{"Groups", "Users", "UserGroups", "Assets"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *commandFilterIn) (*store.CommandFilter, error) {
			f := &store.CommandFilter{OrgID: rc.orgID, IsActive: true, Priority: 50}
			return f, a.saveCommandFilter(ctx, tx, rc, f, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, f *store.CommandFilter, in *commandFilterIn) error {
			return a.saveCommandFilter(ctx, tx, rc, f, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, f *store.CommandFilter) error {
			return tx.Select("Groups", "Users", "UserGroups", "Assets").Delete(f).Error
		},
		idOf: func(f *store.CommandFilter) uint { return f.ID }, nameOf: func(f *store.CommandFilter) string { return f.Name },
	})

	registerResource(a, resource[store.LoginACL, loginACLIn]{
		name: "login_acl", path: "/login-acls", tag: "Login ACLs", read: systemRead, write: systemAdmin, global: true,
		spec: listSpec{search: []string{"name", "comment"}, sort: sortCols("name", "priority", "action"), def: "priority"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *loginACLIn) (*store.LoginACL, error) {
			l := &store.LoginACL{IsActive: true, Priority: 50, Action: "deny"}
			return l, saveLoginACL(tx, l, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, l *store.LoginACL, in *loginACLIn) error {
			return saveLoginACL(tx, l, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, l *store.LoginACL) error {
			return tx.Delete(l).Error
		},
		idOf: func(l *store.LoginACL) uint { return l.ID }, nameOf: func(l *store.LoginACL) string { return l.Name },
	})
}

func checkTimeWindow(field, s string) error {
	if err := timewindow.Validate(s); err != nil {
		return errValidation(field, "%s", strings.TrimPrefix(err.Error(), "timewindow: syntax: "))
	}
	return nil
}

var protocolNames = []string{"all", "ssh", "sftp", "telnet", "rdp", "vnc", "mysql", "mariadb", "postgresql", "redis"}

func (a *API) savePermission(ctx context.Context, tx *gorm.DB, rc *reqCtx, p *store.AssetPermission, in *permissionIn, creating bool) error {
	if err := applyName(&p.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if err := applyText(&p.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	applyBool(&p.IsActive, in.IsActive)
	if in.Accounts.Set {
		if len(in.Accounts.V) == 0 {
			return errValidation("accounts", "name at least one account, or @ALL, @INPUT, @USER")
		}
		for _, acc := range in.Accounts.V {
			if acc == "" || len(acc) > 128 || (strings.HasPrefix(acc, "@") && acc != store.AccountAll && acc != store.AccountInput && acc != store.AccountUser) {
				return errValidation("accounts", "%q is not an account name, @ALL, @INPUT or @USER", acc)
			}
		}
		p.Accounts = dedupe(in.Accounts.V)
	}
	if in.Protocols.Set {
		if len(in.Protocols.V) == 0 {
			return errValidation("protocols", "name at least one protocol, or \"all\"")
		}
		for _, pr := range in.Protocols.V {
			if err := oneOf("protocols", pr, protocolNames...); err != nil {
				return err
			}
		}
		p.Protocols = dedupe(in.Protocols.V)
	}
	if in.Actions.Set {
		if len(in.Actions.V) == 0 {
			return errValidation("actions", "grant at least one action")
		}
		for _, ac := range in.Actions.V {
			if err := oneOf("actions", ac, store.AllActions...); err != nil {
				return err
			}
		}
		p.Actions = dedupe(in.Actions.V)
	}
	if in.DateStart.Set {
		p.DateStart = nil
		if !in.DateStart.Null {
			t := in.DateStart.V.UTC()
			p.DateStart = &t
		}
	}
	if in.DateExpired.Set {
		p.DateExpired = nil
		if !in.DateExpired.Null {
			t := in.DateExpired.V.UTC()
			p.DateExpired = &t
		}
	}
	if p.DateStart != nil && p.DateExpired != nil && !p.DateExpired.After(*p.DateStart) {
		return errValidation("date_expired", "must be after date_start")
	}
	if in.TimeWindow.Set {
		if err := checkTimeWindow("time_window", in.TimeWindow.V); err != nil {
			return err
		}
		p.TimeWindow = in.TimeWindow.V
	}
	if err := tx.Omit("Users", "Groups", "Assets", "Nodes").Save(p).Error; err != nil {
		return store.Translate(err)
	}
	if in.UserIDs.Set {
		rows, err := idsIn[store.User](ctx, tx, rc.orgID, "user_ids", in.UserIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(p).Association("Users").Replace(rows); err != nil {
			return err
		}
	}
	if in.GroupIDs.Set {
		rows, err := idsIn[store.UserGroup](ctx, tx, rc.orgID, "group_ids", in.GroupIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(p).Association("Groups").Replace(rows); err != nil {
			return err
		}
	}
	if in.AssetIDs.Set {
		rows, err := idsIn[store.Asset](ctx, tx, rc.orgID, "asset_ids", in.AssetIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(p).Association("Assets").Replace(rows); err != nil {
			return err
		}
	}
	if in.NodeIDs.Set {
		rows, err := idsIn[store.Node](ctx, tx, rc.orgID, "node_ids", in.NodeIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(p).Association("Nodes").Replace(rows); err != nil {
			return err
		}
	}
	return nil
}

func dedupe(in []string) store.JSONList {
	seen := map[string]bool{}
	out := store.JSONList{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func saveCommandGroup(tx *gorm.DB, g *store.CommandGroup, in *commandGroupIn, creating bool) error {
	if err := applyName(&g.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if in.Kind.Set {
		if err := oneOf("kind", in.Kind.V, "command", "regex"); err != nil {
			return err
		}
		g.Kind = in.Kind.V
	}
	if err := applyText(&g.Content, in.Content, "content", 64*1024); err != nil {
		return err
	}
	applyBool(&g.IgnoreCase, in.IgnoreCase)
	if err := applyText(&g.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	if strings.TrimSpace(g.Content) == "" {
		return errValidation("content", "list at least one command, one per line")
	}
	if g.Kind == "regex" {
		for i, line := range strings.Split(g.Content, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if _, err := regexp.Compile(line); err != nil {
				return errValidation("content", "line %d is not a valid regular expression: %v", i+1, err)
			}
		}
	}
	return store.Translate(tx.Save(g).Error)
}

func (a *API) saveCommandFilter(ctx context.Context, tx *gorm.DB, rc *reqCtx, f *store.CommandFilter, in *commandFilterIn, creating bool) error {
	if err := applyName(&f.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if creating {
		if err := requireSet("action", in.Action.Set); err != nil {
			return err
		}
	}
	if in.Action.Set {
		if err := oneOf("action", in.Action.V, store.FilterDeny, store.FilterConfirm, store.FilterWarn, store.FilterAllow); err != nil {
			return err
		}
		f.Action = in.Action.V
	}
	if in.Priority.Set {
		if in.Priority.V < 0 || in.Priority.V > 10000 {
			return errValidation("priority", "must be between 0 and 10000")
		}
		f.Priority = in.Priority.V
	}
	if in.Accounts.Set {
		f.Accounts = dedupe(in.Accounts.V)
	}
	applyBool(&f.IsActive, in.IsActive)
	if err := applyText(&f.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	if err := tx.Omit("Groups", "Users", "UserGroups", "Assets").Save(f).Error; err != nil {
		return store.Translate(err)
	}
	if in.GroupIDs.Set {
		rows, err := idsIn[store.CommandGroup](ctx, tx, rc.orgID, "group_ids", in.GroupIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(f).Association("Groups").Replace(rows); err != nil {
			return err
		}
	}
	if in.UserIDs.Set {
		rows, err := idsIn[store.User](ctx, tx, rc.orgID, "user_ids", in.UserIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(f).Association("Users").Replace(rows); err != nil {
			return err
		}
	}
	if in.UserGroupIDs.Set {
		rows, err := idsIn[store.UserGroup](ctx, tx, rc.orgID, "user_group_ids", in.UserGroupIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(f).Association("UserGroups").Replace(rows); err != nil {
			return err
		}
	}
	if in.AssetIDs.Set {
		rows, err := idsIn[store.Asset](ctx, tx, rc.orgID, "asset_ids", in.AssetIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(f).Association("Assets").Replace(rows); err != nil {
			return err
		}
	}
	return nil
}

func saveLoginACL(tx *gorm.DB, l *store.LoginACL, in *loginACLIn, creating bool) error {
	if err := applyName(&l.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if in.Priority.Set {
		if in.Priority.V < 0 || in.Priority.V > 10000 {
			return errValidation("priority", "must be between 0 and 10000")
		}
		l.Priority = in.Priority.V
	}
	if in.UserID.Set {
		l.UserID = nil
		if !in.UserID.Null && in.UserID.V != 0 {
			var n int64
			tx.Model(&store.User{}).Where("id = ?", in.UserID.V).Count(&n)
			if n == 0 {
				return errValidation("user_id", "no such user")
			}
			id := in.UserID.V
			l.UserID = &id
		}
	}
	if in.IPRanges.Set {
		if err := auth.ValidateIPRanges(in.IPRanges.V); err != nil {
			return err
		}
		l.IPRanges = store.JSONList(in.IPRanges.V)
	}
	if in.TimeWindow.Set {
		if err := checkTimeWindow("time_window", in.TimeWindow.V); err != nil {
			return err
		}
		l.TimeWindow = in.TimeWindow.V
	}
	if in.Action.Set {
		if err := oneOf("action", in.Action.V, "allow", "deny"); err != nil {
			return err
		}
		l.Action = in.Action.V
	}
	applyBool(&l.IsActive, in.IsActive)
	if err := applyText(&l.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	return store.Translate(tx.Save(l).Error)
}
