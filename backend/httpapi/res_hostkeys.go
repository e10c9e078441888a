package httpapi

import (
	"context"
	"net/http"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/hostkey"
	"github.com/portcullis/portcullis/backend/store"
)

// hostKeyView is a recorded host key with the name of its asset or gateway.
type hostKeyView struct {
	store.HostKey
	OwnerName string `json:"owner_name"`
}

// registerHostKeys adds the endpoints for the SSH host keys trusted on first
// use (see backend/hostkey): list them, and delete one so that the next
// connection records the key the host presents now (after a reinstall).
func (a *API) registerHostKeys() {
	registerResource(a, resource[store.HostKey, noInput]{
		name: "hostkey", path: "/host-keys", tag: "Host keys", read: adminRead, write: adminWrite,
		spec: listSpec{search: []string{"address", "fingerprint", "algorithm"},
			sort: map[string]string{"id": "id", "address": "address", "owner_kind": "owner_kind", "first_seen_at": "first_seen_at", "last_seen_at": "last_seen_at"}, def: "-id"},
		filter: func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error) {
			if k := r.URL.Query().Get("owner_kind"); k != "" {
				if k != hostkey.OwnerAsset && k != hostkey.OwnerGateway {
					return nil, errValidation("owner_kind", "must be %q or %q", hostkey.OwnerAsset, hostkey.OwnerGateway)
				}
				q = q.Where("owner_kind = ?", k)
			}
			if id, ok, err := uintParam(r, "owner_id"); err != nil {
				return nil, err
			} else if ok {
				q = q.Where("owner_id = ?", id)
			}
			return q, nil
		},
		view: func(ctx context.Context, db *gorm.DB, items []store.HostKey) (any, error) {
			return hostKeyViews(ctx, db, items)
		},
		remove: func(ctx context.Context, tx *gorm.DB, rc *reqCtx, k *store.HostKey) error {
			return tx.Delete(k).Error
		},
		idOf:   func(k *store.HostKey) uint { return k.ID },
		nameOf: func(k *store.HostKey) string { return k.OwnerKind + " " + idString(k.OwnerID) + " " + k.Address },
	})
	a.add(&route{method: "GET", path: "/host-keys/known-hosts", tag: "Host keys", summary: "The organization's recorded host keys as an OpenSSH known_hosts file", access: adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var rows []store.HostKey
			if err := a.db.WithContext(r.Context()).Where("org_id = ?", rc.orgID).Order("id").Find(&rows).Error; err != nil {
				return err
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="known_hosts"`)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			w.Write(hostkey.FormatKnownHosts(rows))
			return nil
		}})
}

// hostKeyViews adds the owners' names to items.
func hostKeyViews(ctx context.Context, db *gorm.DB, items []store.HostKey) ([]hostKeyView, error) {
	ids := map[string][]uint{}
	for _, k := range items {
		ids[k.OwnerKind] = append(ids[k.OwnerKind], k.OwnerID)
	}
	names := map[string]map[uint]string{hostkey.OwnerAsset: {}, hostkey.OwnerGateway: {}}
	type row struct {
		ID   uint
		Name string
	}
	for kind, model := range map[string]any{hostkey.OwnerAsset: &store.Asset{}, hostkey.OwnerGateway: &store.Gateway{}} {
		if len(ids[kind]) == 0 {
			continue
		}
		var rows []row
		if err := db.WithContext(ctx).Model(model).Select("id, name").Where("id IN ?", ids[kind]).Find(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			names[kind][r.ID] = r.Name
		}
	}
	out := make([]hostKeyView, len(items))
	for i, k := range items {
		out[i] = hostKeyView{HostKey: k, OwnerName: names[k.OwnerKind][k.OwnerID]}
	}
	return out, nil
}
