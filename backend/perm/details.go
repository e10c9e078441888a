package perm

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/portcullis/portcullis/backend/store"
)

// account is an active account of an asset.
type account struct {
	id             uint
	name, username string
}

// assetDetail is a granted asset with what resolution needs of it.
type assetDetail struct {
	asset    AssetSummary
	accounts []account     // active, by name
	perms    []*permission // the applicable permissions granting it, by ID
}

// details loads the assets (active, of the user's organization), their
// accounts and the permissions of g granting each, in four queries whatever
// the number of assets. Assets that are missing or inactive are absent.
func (r *Resolver) details(ctx context.Context, g *grants, ids []uint) (map[uint]*assetDetail, error) {
	list := idList(ids)
	out := make(map[uint]*assetDetail, len(ids))
	err := r.eachRow(ctx, "load assets", func(scan scanFunc) error {
		var (
			a      AssetSummary
			zone   sql.NullInt64
			labels store.JSONList
		)
		if err := scan(&a.ID, &a.Name, &a.Address, &a.Platform, &a.Category, &a.Protocols, &zone, &labels, &a.Comment); err != nil {
			return err
		}
		if zone.Valid {
			z := uint(zone.Int64)
			a.ZoneID = &z
		}
		a.Labels = []string(labels)
		if a.Labels == nil {
			a.Labels = []string{}
		}
		if a.Protocols == nil {
			a.Protocols = store.Protocols{}
		}
		out[a.ID] = &assetDetail{asset: a}
		return nil
	}, `SELECT a.id, a.name, a.address, COALESCE(p.name, ''), COALESCE(p.category, ''),
			a.protocols, a.zone_id, a.labels, COALESCE(a.comment, '')
		FROM assets a LEFT JOIN platforms p ON p.id = a.platform_id
		WHERE a.id IN (`+list+`) AND +a.org_id = ? AND a.is_active = ?`, g.user.orgID, true)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}

	// Which permissions grant each asset: directly, or through a granted node
	// on the path of one of the asset's nodes.
	byID := make(map[uint]*permission, len(g.perms))
	for _, p := range g.perms {
		byID[p.id] = p
	}
	grantedBy := func(assetID uint, p *permission) {
		if d := out[assetID]; d != nil && !slices.Contains(d.perms, p) {
			d.perms = append(d.perms, p)
		}
	}
	err = r.eachRow(ctx, "load direct grants", func(scan scanFunc) error {
		var assetID, permID uint
		if err := scan(&assetID, &permID); err != nil {
			return err
		}
		grantedBy(assetID, byID[permID])
		return nil
	}, `SELECT asset_id, asset_permission_id FROM perm_assets
		WHERE asset_id IN (`+list+`) AND asset_permission_id IN (`+idList(permIDs(g.perms))+`)`)
	if err != nil {
		return nil, err
	}
	if len(g.byNode) > 0 {
		err = r.eachRow(ctx, "load asset nodes", func(scan scanFunc) error {
			var (
				assetID, nodeID uint
				key             string
			)
			if err := scan(&assetID, &nodeID, &key); err != nil {
				return err
			}
			for _, n := range path(nodeID, key) {
				for _, p := range g.byNode[n] {
					grantedBy(assetID, p)
				}
			}
			return nil
		}, `SELECT an.asset_id, n.id, COALESCE(n."key", '') FROM asset_nodes an CROSS JOIN nodes n
			WHERE an.asset_id IN (`+list+`) AND n.id = an.node_id AND n.org_id = ?`, g.user.orgID)
		if err != nil {
			return nil, err
		}
	}

	err = r.eachRow(ctx, "load accounts", func(scan scanFunc) error {
		var (
			a       account
			assetID uint
		)
		if err := scan(&a.id, &assetID, &a.name, &a.username); err != nil {
			return err
		}
		if d := out[assetID]; d != nil {
			d.accounts = append(d.accounts, a)
		}
		return nil
	}, `SELECT id, asset_id, name, username FROM accounts
		WHERE asset_id IN (`+list+`) AND +org_id = ? AND is_active = ? ORDER BY name, id`, g.user.orgID, true)
	if err != nil {
		return nil, err
	}
	for _, d := range out {
		slices.SortFunc(d.perms, func(a, b *permission) int { return cmp.Compare(a.id, b.id) })
	}
	return out, nil
}

// accountGrant is an AccountGrant with how a permission produced it.
type accountGrant struct {
	AccountGrant
	viaUser bool // from @USER
}

// matches reports whether a requested account (a name, "@INPUT" or "@USER")
// designates the grant.
func (ag accountGrant) matches(account string) bool {
	return ag.Name == account || account == store.AccountUser && ag.viaUser
}

// accountsOn lists what p grants as accounts on the asset of d, for user u.
func (p *permission) accountsOn(d *assetDetail, u user) []accountGrant {
	var out []accountGrant
	grantOf := func(a account) AccountGrant {
		return AccountGrant{ID: a.id, Name: a.name, Username: a.username, Kind: KindAccount}
	}
	for _, e := range p.accounts {
		switch e {
		case store.AccountAll:
			for _, a := range d.accounts {
				out = append(out, accountGrant{AccountGrant: grantOf(a)})
			}
		case store.AccountInput:
			out = append(out, accountGrant{AccountGrant: AccountGrant{Name: store.AccountInput, Kind: KindInput}})
		case store.AccountUser:
			if a, ok := d.accountWithUsername(u.username); ok {
				out = append(out, accountGrant{AccountGrant: grantOf(a), viaUser: true})
			} else {
				out = append(out, accountGrant{AccountGrant: AccountGrant{Name: store.AccountUser, Username: u.username, Kind: KindUser}, viaUser: true})
			}
		default:
			for _, a := range d.accounts {
				if a.name == e {
					out = append(out, accountGrant{AccountGrant: grantOf(a)})
				}
			}
		}
	}
	return out
}

// accountWithUsername returns the account of that username, preferring the
// one also named so.
func (d *assetDetail) accountWithUsername(username string) (account, bool) {
	var found *account
	for i, a := range d.accounts {
		if a.username != username {
			continue
		}
		if a.name == username {
			return a, true
		}
		if found == nil {
			found = &d.accounts[i]
		}
	}
	if found == nil {
		return account{}, false
	}
	return *found, true
}

// protocolsOn lists the protocols p grants on the asset, in the asset's order.
func (p *permission) protocolsOn(a AssetSummary) []string {
	all := contains(p.protocols, "all")
	var out []string
	for _, pr := range a.Protocols {
		if (all || contains(p.protocols, pr.Name)) && !contains(out, pr.Name) {
			out = append(out, pr.Name)
		}
	}
	return out
}

// merged is the union of what d's permissions grant: real accounts by name,
// then @USER, then @INPUT; protocols in the asset's order; actions in
// store.AllActions order, unknown ones last.
func (d *assetDetail) merged(u user) AssetAccess {
	out := AssetAccess{Asset: d.asset, Accounts: []AccountGrant{}, Protocols: []string{}, Actions: []string{}}
	seen := map[AccountGrant]bool{}
	protocols := map[string]bool{}
	actions := map[string]bool{}
	for _, p := range d.perms {
		for _, ag := range p.accountsOn(d, u) {
			if !seen[ag.AccountGrant] {
				seen[ag.AccountGrant] = true
				out.Accounts = append(out.Accounts, ag.AccountGrant)
			}
		}
		for _, pr := range p.protocolsOn(d.asset) {
			protocols[pr] = true
		}
		for _, a := range p.actions {
			actions[a] = true
		}
	}
	kindRank := map[string]int{KindAccount: 0, KindUser: 1, KindInput: 2}
	slices.SortFunc(out.Accounts, func(a, b AccountGrant) int {
		return cmp.Or(cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	for _, pr := range d.asset.Protocols {
		if protocols[pr.Name] && !contains(out.Protocols, pr.Name) {
			out.Protocols = append(out.Protocols, pr.Name)
		}
	}
	for _, a := range store.AllActions {
		if actions[a] {
			out.Actions = append(out.Actions, a)
			delete(actions, a)
		}
	}
	var extra []string
	for a := range actions {
		extra = append(extra, a)
	}
	slices.Sort(extra)
	out.Actions = append(out.Actions, extra...)
	return out
}
