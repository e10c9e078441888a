package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/asset"
	"github.com/portcullis/portcullis/backend/store"
)

type nodeIn struct {
	Name     opt[string] `json:"name"`
	ParentID opt[uint]   `json:"parent_id"`
}

type assetIn struct {
	Name       opt[string]          `json:"name"`
	Address    opt[string]          `json:"address"`
	PlatformID opt[uint]            `json:"platform_id"`
	Protocols  opt[store.Protocols] `json:"protocols"`
	ZoneID     opt[uint]            `json:"zone_id"`
	NodeIDs    opt[[]uint]          `json:"node_ids"`
	Labels     opt[[]string]        `json:"labels"`
	IsActive   opt[bool]            `json:"is_active"`
	Comment    opt[string]          `json:"comment"`
}

type accountIn struct {
	AssetID    opt[uint]   `json:"asset_id"`
	Name       opt[string] `json:"name"`
	Username   opt[string] `json:"username"`
	SecretType opt[string] `json:"secret_type"`
	Secret     opt[string] `json:"secret"`
	Privileged opt[bool]   `json:"privileged"`
	IsActive   opt[bool]   `json:"is_active"`
	Comment    opt[string] `json:"comment"`
}

type zoneIn struct {
	Name    opt[string] `json:"name"`
	Comment opt[string] `json:"comment"`
}

type gatewayIn struct {
	ZoneID     opt[uint]   `json:"zone_id"`
	Name       opt[string] `json:"name"`
	Address    opt[string] `json:"address"`
	Port       opt[int]    `json:"port"`
	Username   opt[string] `json:"username"`
	SecretType opt[string] `json:"secret_type"`
	Secret     opt[string] `json:"secret"`
	Priority   opt[int]    `json:"priority"`
	IsActive   opt[bool]   `json:"is_active"`
}

func uintParam(r *http.Request, name string) (uint, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseUint(v, 10, 32)
	if err != nil || id == 0 {
		return 0, false, errValidation(name, "must be a positive integer")
	}
	return uint(id), true, nil
}

// nodeSubtree returns a subquery of the ids of node id's subtree in the org.
func nodeSubtree(db *gorm.DB, orgID, id uint) (*gorm.DB, error) {
	var n store.Node
	if err := db.Where("org_id = ? AND id = ?", orgID, id).Take(&n).Error; err != nil {
		return nil, errValidation("node_id", "no such node in this organization")
	}
	return db.Session(&gorm.Session{NewDB: true}).Model(&store.Node{}).Select("id").
		Where("org_id = ? AND (key = ? OR (key >= ? AND key < ?))", orgID, n.Key, n.Key+":", n.Key+";"), nil
}

func (a *API) registerAssets() {
	registerResource(a, resource[store.Node, nodeIn]{
		name: "node", path: "/nodes", tag: "Nodes", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"name"}, sort: sortCols("name", "key"), def: "key"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if r.URL.Query().Get("page_size") == "" {
				q = q.Limit(500)
			}
			return q, nil
		},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *nodeIn) (*store.Node, error) {
			var name string
			if err := applyName(&name, in.Name, "name", true); err != nil {
				return nil, err
			}
			var parent *uint
			if in.ParentID.Set && !in.ParentID.Null {
				parent = &in.ParentID.V
			}
			return asset.CreateNode(ctx, tx, rc.orgID, parent, name)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, n *store.Node, in *nodeIn) error {
			if in.Name.Set {
				var name string
				if err := applyName(&name, in.Name, "name", false); err != nil {
					return err
				}
				if _, err := asset.RenameNode(ctx, tx, rc.orgID, n.ID, name); err != nil {
					return err
				}
			}
			if in.ParentID.Set {
				var parent *uint
				if !in.ParentID.Null {
					parent = &in.ParentID.V
				}
				_, err := asset.MoveNode(ctx, tx, rc.orgID, n.ID, parent)
				return err
			}
			return nil
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, n *store.Node) error {
			if err := asset.DeleteNode(ctx, tx, rc.orgID, n.ID); err != nil {
				return err
			}
			for _, q := range []string{"DELETE FROM perm_nodes WHERE node_id = ?"} {
				if err := tx.Exec(q, n.ID).Error; err != nil {
					return err
				}
			}
			return nil
		},
		idOf: func(n *store.Node) uint { return n.ID }, nameOf: func(n *store.Node) string { return n.Name },
	})

	a.add(&route{method: "GET", path: "/platforms", tag: "Assets", summary: "List platforms", access: anyUser, resp: store.Platform{}, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			items := []store.Platform{}
			if err := a.db.WithContext(r.Context()).Order("id").Find(&items).Error; err != nil {
				return err
			}
			writeJSON(w, 200, page[store.Platform]{Items: items, Total: int64(len(items)), Page: 1, PageSize: len(items)})
			return nil
		}})

	registerResource(a, resource[store.Asset, assetIn]{
		name: "asset", path: "/assets", tag: "Assets", read: adminRead, write: adminWrite,
		spec:    listSpec{search: []string{"name", "address", "comment"}, sort: sortCols("name", "address", "platform_id", "is_active"), def: "name"},
		preload: []string{"Platform", "Nodes"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if id, ok, err := uintParam(r, "node_id"); err != nil {
				return nil, err
			} else if ok {
				sub, err := nodeSubtree(a.db.WithContext(r.Context()), rc.orgID, id)
				if err != nil {
					return nil, err
				}
				q = q.Where("id IN (?)", a.db.Model(&store.AssetNode{}).Select("asset_id").Where("node_id IN (?)", sub))
			}
			if id, ok, err := uintParam(r, "platform_id"); err != nil {
				return nil, err
			} else if ok {
				q = q.Where("platform_id = ?", id)
			}
			if id, ok, err := uintParam(r, "zone_id"); err != nil {
				return nil, err
			} else if ok {
				q = q.Where("zone_id = ?", id)
			}
			return q, nil
		},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *assetIn) (*store.Asset, error) {
			m := &store.Asset{OrgID: rc.orgID, IsActive: true}
			return m, a.saveAsset(ctx, tx, rc, m, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *store.Asset, in *assetIn) error {
			return a.saveAsset(ctx, tx, rc, m, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *store.Asset) error {
			for _, q := range []string{"DELETE FROM asset_nodes WHERE asset_id = ?", "DELETE FROM perm_assets WHERE asset_id = ?",
				"DELETE FROM cmdfilter_assets WHERE asset_id = ?", "DELETE FROM accounts WHERE asset_id = ?"} {
				if err := tx.Exec(q, m.ID).Error; err != nil {
					return err
				}
			}
			return tx.Select("Nodes").Delete(m).Error
		},
		idOf: func(m *store.Asset) uint { return m.ID }, nameOf: func(m *store.Asset) string { return m.Name },
	})

	registerResource(a, resource[store.Account, accountIn]{
		name: "account", path: "/accounts", tag: "Accounts", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"name", "username"}, sort: sortCols("name", "username", "asset_id", "privileged"), def: "name"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if id, ok, err := uintParam(r, "asset_id"); err != nil {
				return nil, err
			} else if ok {
				q = q.Where("asset_id = ?", id)
			}
			return q, nil
		},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *accountIn) (*store.Account, error) {
			m := &store.Account{OrgID: rc.orgID, IsActive: true, SecretType: store.SecretPassword}
			return m, a.saveAccount(ctx, tx, rc, m, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *store.Account, in *accountIn) error {
			return a.saveAccount(ctx, tx, rc, m, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *store.Account) error {
			return tx.Delete(m).Error
		},
		idOf: func(m *store.Account) uint { return m.ID }, nameOf: func(m *store.Account) string { return m.Name },
	})

	registerResource(a, resource[store.Zone, zoneIn]{
		name: "zone", path: "/zones", tag: "Zones", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"name", "comment"}, sort: sortCols("name"), def: "name"},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *zoneIn) (*store.Zone, error) {
			z := &store.Zone{OrgID: rc.orgID}
			return z, saveZone(tx, z, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, z *store.Zone, in *zoneIn) error {
			return saveZone(tx, z, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, z *store.Zone) error {
			var n int64
			tx.Model(&store.Asset{}).Where("zone_id = ?", z.ID).Count(&n)
			if n > 0 {
				return errConflict("", fmt.Sprintf("the zone still holds %d assets", n))
			}
			if err := tx.Where("zone_id = ?", z.ID).Delete(&store.Gateway{}).Error; err != nil {
				return err
			}
			return tx.Delete(z).Error
		},
		idOf: func(z *store.Zone) uint { return z.ID }, nameOf: func(z *store.Zone) string { return z.Name },
	})

	registerResource(a, resource[store.Gateway, gatewayIn]{
		name: "gateway", path: "/gateways", tag: "Zones", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"name", "address"}, sort: sortCols("name", "address", "priority", "zone_id"), def: "priority"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if id, ok, err := uintParam(r, "zone_id"); err != nil {
				return nil, err
			} else if ok {
				q = q.Where("zone_id = ?", id)
			}
			return q, nil
		},
		create: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *gatewayIn) (*store.Gateway, error) {
			g := &store.Gateway{OrgID: rc.orgID, IsActive: true, Port: 22, SecretType: store.SecretPassword}
			return g, a.saveGateway(ctx, tx, rc, g, in, true)
		},
		update: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.Gateway, in *gatewayIn) error {
			return a.saveGateway(ctx, tx, rc, g, in, false)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.Gateway) error {
			return tx.Delete(g).Error
		},
		idOf: func(g *store.Gateway) uint { return g.ID }, nameOf: func(g *store.Gateway) string { return g.Name },
	})
}

func (a *API) saveAsset(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *store.Asset, in *assetIn, creating bool) error {
	if creating {
		for field, set := range map[string]bool{"name": in.Name.Set, "address": in.Address.Set, "platform_id": in.PlatformID.Set} {
			if err := requireSet(field, set); err != nil {
				return err
			}
		}
	}
	if in.Name.Set {
		m.Name = in.Name.V
	}
	if in.Address.Set {
		m.Address = in.Address.V
	}
	if err := applyText(&m.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	applyBool(&m.IsActive, in.IsActive)
	if in.Labels.Set {
		m.Labels = store.JSONList(in.Labels.V)
	}
	if in.PlatformID.Set {
		var p store.Platform
		if err := tx.Where("id = ?", in.PlatformID.V).Take(&p).Error; err != nil {
			return errValidation("platform_id", "no such platform")
		}
		m.PlatformID = p.ID
		if creating && !in.Protocols.Set {
			protos, err := asset.ParseProtocols(joinList(p.Protocols))
			if err != nil {
				return err
			}
			m.Protocols = protos
		}
	}
	if in.Protocols.Set {
		m.Protocols = in.Protocols.V
	}
	if in.ZoneID.Set {
		if in.ZoneID.Null || in.ZoneID.V == 0 {
			m.ZoneID = nil
		} else {
			if _, err := idsIn[store.Zone](ctx, tx, rc.orgID, "zone_id", []uint{in.ZoneID.V}); err != nil {
				return err
			}
			id := in.ZoneID.V
			m.ZoneID = &id
		}
	}
	if err := asset.ValidateAsset(m); err != nil {
		return err
	}
	m.Nodes, m.Platform = nil, nil
	if err := tx.Omit("Nodes", "Platform").Save(m).Error; err != nil {
		return store.Translate(err)
	}
	if in.NodeIDs.Set {
		nodes, err := idsIn[store.Node](ctx, tx, rc.orgID, "node_ids", in.NodeIDs.V)
		if err != nil {
			return err
		}
		if err := tx.Model(m).Association("Nodes").Replace(nodes); err != nil {
			return err
		}
	}
	return nil
}

func joinList(l store.JSONList) string {
	s := ""
	for i, v := range l {
		if i > 0 {
			s += ","
		}
		s += v
	}
	return s
}

func (a *API) saveAccount(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *store.Account, in *accountIn, creating bool) error {
	if creating {
		if err := requireSet("asset_id", in.AssetID.Set); err != nil {
			return err
		}
		if _, err := idsIn[store.Asset](ctx, tx, rc.orgID, "asset_id", []uint{in.AssetID.V}); err != nil {
			return err
		}
		m.AssetID = in.AssetID.V
		if !in.Name.Set && in.Username.Set {
			in.Name = in.Username
		}
	} else if in.AssetID.Set && in.AssetID.V != m.AssetID {
		return errValidation("asset_id", "an account cannot move to another asset")
	}
	if err := applyName(&m.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if in.Username.Set {
		m.Username = in.Username.V
	}
	if in.SecretType.Set {
		if !creating && m.HasSecret && in.SecretType.V != m.SecretType && (!in.Secret.Set || in.Secret.V == "") {
			return errValidation("secret", "changing secret_type needs the new secret")
		}
		m.SecretType = in.SecretType.V
	}
	applyBool(&m.Privileged, in.Privileged)
	applyBool(&m.IsActive, in.IsActive)
	if err := applyText(&m.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	secret := ""
	if in.Secret.Set && !in.Secret.Null {
		secret = in.Secret.V
	}
	if err := asset.ValidateAccount(m, secret, creating || in.SecretType.Set); err != nil {
		return err
	}
	if err := tx.Save(m).Error; err != nil {
		return store.Translate(err)
	}
	if in.Secret.Set {
		if in.Secret.Null || secret == "" {
			m.SecretEnc, m.HasSecret = nil, false
		} else {
			enc, err := a.Vault.Seal([]byte(secret), fmt.Sprintf("account:%d", m.ID))
			if err != nil {
				return err
			}
			m.SecretEnc, m.HasSecret = enc, true
		}
		return tx.Model(m).Select("secret_enc", "has_secret").Updates(m).Error
	}
	return nil
}

func saveZone(tx *gorm.DB, z *store.Zone, in *zoneIn, creating bool) error {
	if err := applyName(&z.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if err := applyText(&z.Comment, in.Comment, "comment", 1024); err != nil {
		return err
	}
	return store.Translate(tx.Save(z).Error)
}

func (a *API) saveGateway(ctx context.Context, tx *gorm.DB, rc *reqCtx, g *store.Gateway, in *gatewayIn, creating bool) error {
	if creating {
		if err := requireSet("zone_id", in.ZoneID.Set); err != nil {
			return err
		}
	}
	if in.ZoneID.Set {
		if _, err := idsIn[store.Zone](ctx, tx, rc.orgID, "zone_id", []uint{in.ZoneID.V}); err != nil {
			return err
		}
		g.ZoneID = in.ZoneID.V
	}
	if err := applyName(&g.Name, in.Name, "name", creating); err != nil {
		return err
	}
	if in.Address.Set {
		g.Address = in.Address.V
	}
	if in.Port.Set {
		g.Port = in.Port.V
	}
	if in.Username.Set {
		g.Username = in.Username.V
	}
	if in.SecretType.Set {
		g.SecretType = in.SecretType.V
	}
	if in.Priority.Set {
		g.Priority = in.Priority.V
	}
	applyBool(&g.IsActive, in.IsActive)
	secret := ""
	if in.Secret.Set && !in.Secret.Null {
		secret = in.Secret.V
	}
	if err := asset.ValidateGateway(g, secret, creating || in.SecretType.Set); err != nil {
		return err
	}
	if err := tx.Save(g).Error; err != nil {
		return store.Translate(err)
	}
	if in.Secret.Set {
		if secret == "" {
			g.SecretEnc, g.HasSecret = nil, false
		} else {
			enc, err := a.Vault.Seal([]byte(secret), fmt.Sprintf("gateway:%d", g.ID))
			if err != nil {
				return err
			}
			g.SecretEnc, g.HasSecret = enc, true
		}
		return tx.Model(g).Select("secret_enc", "has_secret").Updates(g).Error
	}
	return nil
}
