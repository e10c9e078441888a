package perm

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// UserNodes returns the nodes that hold assets the user may reach, with their
// ancestors, each with the number of distinct granted assets in its subtree.
// The list is in tree order: a node comes before its children, siblings by name.
func (r *Resolver) UserNodes(ctx context.Context, userID uint) ([]NodeCount, error) {
	g, err := r.loadGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(g.perms) == 0 {
		return []NodeCount{}, nil
	}
	probe, err := r.probeLimit(ctx)
	if err != nil {
		return nil, err
	}
	granted, err := r.grantedAssets(ctx, g, probe)
	if err != nil {
		return nil, err
	}
	if granted.len() == 0 {
		return []NodeCount{}, nil
	}

	// The (asset, node) memberships of the granted assets.
	pair := r.dialect.agg(`an.asset_id || ',' || an.node_id`)
	var flat []uint
	if granted.len() <= probe {
		from, arg := r.dialect.idTable(granted.ids())
		flat, err = r.aggIDs(ctx, `SELECT `+pair+` FROM `+from+` CROSS JOIN asset_nodes an WHERE an.asset_id = j.value`, arg)
	} else {
		flat, err = r.aggIDs(ctx, `SELECT `+pair+` FROM asset_nodes an`)
	}
	if err != nil {
		return nil, fmt.Errorf("perm: nodes of granted assets: %w", err)
	}
	type membership struct{ asset, node uint }
	var members []membership
	var on []uint
	for i := 0; i+1 < len(flat); i += 2 {
		if granted.has(flat[i]) {
			members = append(members, membership{flat[i], flat[i+1]})
			on = append(on, flat[i+1])
		}
	}
	nodes, err := r.loadNodes(ctx, g.user.orgID, on)
	if err != nil {
		return nil, err
	}
	// Their ancestors, read from their paths.
	paths := make(map[uint][]uint, len(nodes))
	var missing []uint
	for id, n := range nodes {
		paths[id] = path(id, n.Key)
		for _, a := range paths[id] {
			if nodes[a] == nil {
				missing = append(missing, a)
			}
		}
	}
	ancestors, err := r.loadNodes(ctx, g.user.orgID, missing)
	if err != nil {
		return nil, err
	}
	for id, n := range ancestors {
		nodes[id] = n
	}

	// Count each asset once in every node on the paths of its nodes.
	slices.SortFunc(members, func(a, b membership) int { return cmp.Compare(a.asset, b.asset) })
	for i := 0; i < len(members); {
		on = on[:0]
		j := i
		for ; j < len(members) && members[j].asset == members[i].asset; j++ {
			on = append(on, paths[members[j].node]...)
		}
		slices.Sort(on)
		for _, id := range slices.Compact(on) {
			if n := nodes[id]; n != nil {
				n.AssetCount++
			}
		}
		i = j
	}
	out := make([]NodeCount, 0, len(nodes))
	for _, n := range nodes {
		if n.AssetCount > 0 {
			out = append(out, *n)
		}
	}
	return treeOrder(out), nil
}

// grantedAssets returns the IDs of the active assets of the user's
// organization that g grants, probing the candidates up to probe of them.
func (r *Resolver) grantedAssets(ctx context.Context, g *grants, probe int) (*idSet, error) {
	cand, err := r.candidates(ctx, g)
	if err != nil || cand.len() == 0 {
		return cand, err
	}
	where, args := filter{org: g.user.orgID}.where(r.dialect)
	var ids []uint
	if cand.len() <= probe {
		from, arg := r.dialect.idTable(cand.ids())
		ids, err = r.aggIDs(ctx, `SELECT `+r.dialect.agg("a.id")+` FROM `+from+` CROSS JOIN assets a
			WHERE a.id = j.value AND `+where, append([]any{arg}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("perm: granted assets: %w", err)
		}
		return newIDSet(ids), nil
	}
	ids, err = r.aggIDs(ctx, `SELECT `+r.dialect.agg("a.id")+` FROM assets a WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("perm: granted assets: %w", err)
	}
	return cand.intersect(ids), nil
}

// loadNodes loads the nodes of the organization among ids (duplicates
// allowed), without counts.
func (r *Resolver) loadNodes(ctx context.Context, org uint, ids []uint) (map[uint]*NodeCount, error) {
	out := map[uint]*NodeCount{}
	if len(ids) == 0 {
		return out, nil
	}
	from, arg := r.dialect.idTable(newIDSet(ids).ids())
	err := r.eachRow(ctx, "load nodes", func(scan scanFunc) error {
		var (
			n      NodeCount
			parent sql.NullInt64
		)
		if err := scan(&n.ID, &n.OrgID, &parent, &n.Name, &n.Key); err != nil {
			return err
		}
		if parent.Valid {
			p := uint(parent.Int64)
			n.ParentID = &p
		}
		out[n.ID] = &n
		return nil
	}, `SELECT n.id, n.org_id, n.parent_id, n.name, COALESCE(n."key", '')
		FROM `+from+` CROSS JOIN nodes n WHERE n.id = j.value AND n.org_id = ?`, arg, org)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// treeOrder lists the nodes depth first, siblings by name; a node whose
// parent is not among them is a root.
func treeOrder(nodes []NodeCount) []NodeCount {
	present := make(map[uint]bool, len(nodes))
	for _, n := range nodes {
		present[n.ID] = true
	}
	children := map[uint][]NodeCount{}
	var roots []NodeCount
	for _, n := range nodes {
		if n.ParentID != nil && present[*n.ParentID] {
			children[*n.ParentID] = append(children[*n.ParentID], n)
		} else {
			roots = append(roots, n)
		}
	}
	byName := func(a, b NodeCount) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) }
	out := make([]NodeCount, 0, len(nodes))
	var walk func([]NodeCount)
	walk = func(level []NodeCount) {
		slices.SortFunc(level, byName)
		for _, n := range level {
			out = append(out, n)
			walk(children[n.ID])
		}
	}
	walk(roots)
	return out
}
