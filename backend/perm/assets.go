package perm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// filter selects the assets of an organization that may be listed.
type filter struct {
	org      uint
	search   string
	protocol string
}

// where returns the condition on assets a, and its arguments.
func (f filter) where(d dialect) (string, []any) {
	return f.whereOrg(d, "a.org_id = ?")
}

// wholeScan returns the condition for reading all the organization's matching
// assets in no order. A protocol filter reads the table anyway: SQLite does it
// faster in one pass over the table than through the org_id indexes (see "Join
// order" in sql.go for the unary +).
func (f filter) wholeScan(d dialect) (string, []any) {
	if f.protocol != "" {
		return f.whereOrg(d, "+a.org_id = ?")
	}
	return f.where(d)
}

func (f filter) whereOrg(d dialect, org string) (string, []any) {
	w := org + " AND a.is_active = ?"
	args := []any{f.org, true}
	if f.search != "" {
		p := likePattern(f.search)
		w += " AND (" + d.ilike("a.name") + " OR " + d.ilike("a.address") + ")"
		args = append(args, p, p)
	}
	if f.protocol != "" {
		w += " AND " + d.instr("a.protocols")
		args = append(args, protocolNeedle(f.protocol))
	}
	return w, args
}

// candidates returns the IDs of the assets g grants, before the checks on the
// assets themselves (organization, active, filters).
func (r *Resolver) candidates(ctx context.Context, g *grants) (*idSet, error) {
	parts := []string{`SELECT asset_id AS id FROM perm_assets WHERE asset_permission_id IN (` + idList(permIDs(g.perms)) + `)`}
	var args []any
	if roots := g.roots(); len(roots) > 0 {
		sub, subArgs := r.subtreeAssets(roots, g.user.orgID)
		parts = append(parts, sub)
		args = subArgs
	}
	ids, err := r.aggIDs(ctx, `SELECT `+r.dialect.agg("t.id")+` FROM (`+strings.Join(parts, " UNION ALL ")+`) t`, args...)
	if err != nil {
		return nil, fmt.Errorf("perm: granted assets: %w", err)
	}
	return newIDSet(ids), nil
}

// subtreeAssets returns a query of the asset IDs (with duplicates) in the
// subtrees of the nodes of the organization, and its arguments.
func (r *Resolver) subtreeAssets(nodes []uint, org uint) (string, []any) {
	list := idList(nodes)
	// On CROSS JOIN and the unary +, see "Join order" in sql.go.
	return `SELECT an.asset_id FROM nodes g CROSS JOIN asset_nodes an
			WHERE g.id IN (` + list + `) AND +g.org_id = ? AND an.node_id = g.id
		UNION ALL
		SELECT an.asset_id FROM nodes g CROSS JOIN nodes c CROSS JOIN asset_nodes an
			WHERE g.id IN (` + list + `) AND +g.org_id = ? AND ` + r.dialect.subtreeJoin() + `
				AND +c.org_id = ? AND an.node_id = c.id`, []any{org, org, org}
}

// probeLimit is the size up to which a candidate set is probed by primary key
// rather than intersected with a scan of the organization's assets: a probe
// costs about as much as scanning 16 index entries.
func (r *Resolver) probeLimit(ctx context.Context) (int, error) {
	if r.probeMax != 0 {
		return max(r.probeMax, 0), nil
	}
	var top *uint64
	if err := r.db.WithContext(ctx).Raw(`SELECT MAX(id) FROM assets`).Row().Scan(&top); err != nil {
		return 0, fmt.Errorf("perm: count assets: %w", err)
	}
	limit := 4096
	if top != nil {
		limit = max(limit, int(min(*top/16, 1<<30)))
	}
	return limit, nil
}

// page returns one page of the granted assets matching f (and in the subtree
// of node when not 0) in the given order, and their total.
func (r *Resolver) page(ctx context.Context, g *grants, f filter, node uint, order string, offset, limit int) ([]uint, int64, error) {
	cand, err := r.candidates(ctx, g)
	if err != nil {
		return nil, 0, err
	}
	if node != 0 && cand.len() > 0 {
		sub, args := r.subtreeAssets([]uint{node}, g.user.orgID)
		in, err := r.aggIDs(ctx, `SELECT `+r.dialect.agg("t.asset_id")+` FROM (`+sub+`) t`, args...)
		if err != nil {
			return nil, 0, fmt.Errorf("perm: assets of node %d: %w", node, err)
		}
		cand = cand.intersect(in)
	}
	if cand.len() == 0 {
		return nil, 0, nil
	}
	probe, err := r.probeLimit(ctx)
	if err != nil {
		return nil, 0, err
	}
	if cand.len() <= probe {
		// Few candidates: look each up by primary key, sort the survivors.
		ids, err := r.sorted(ctx, cand, f, order)
		if err != nil {
			return nil, 0, err
		}
		total := len(ids)
		return ids[min(offset, total):min(offset+limit, total)], int64(total), nil
	}
	// Many candidates: intersect them with one scan of the organization's
	// matching assets.
	scan, args := f.wholeScan(r.dialect)
	matching, err := r.aggIDs(ctx, `SELECT `+r.dialect.agg("a.id")+` FROM assets a WHERE `+scan, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("perm: count granted assets: %w", err)
	}
	granted := cand.intersect(matching)
	total := granted.len()
	switch {
	case offset >= total:
		return nil, int64(total), nil
	case total <= probe:
		// Filters left few: sort those.
		ids, err := r.sorted(ctx, granted, filter{org: f.org}, order)
		if err != nil {
			return nil, 0, err
		}
		return ids[min(offset, len(ids)):min(offset+limit, len(ids))], int64(total), nil
	}
	// Still many: walk the organization's assets in order on a covering
	// index, keeping the granted ones, until the page is full. Should the
	// granted ones come late in that order (names often begin with the kind
	// of the asset), give up when the walk has cost as much as sorting them.
	where, args := filter{org: f.org}.where(r.dialect)
	budget := sortCost * total
	ids, read, err := r.streamIDs(ctx, offset+limit, granted,
		`SELECT a.id FROM assets a WHERE `+where+` ORDER BY `+order+` LIMIT `+strconv.Itoa(budget), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("perm: list granted assets: %w", err)
	}
	if len(ids) < offset+limit && read == budget {
		if ids, err = r.sorted(ctx, granted, filter{org: f.org}, order); err != nil {
			return nil, 0, err
		}
		ids = ids[:min(offset+limit, len(ids))]
	}
	return ids[min(offset, len(ids)):], int64(total), nil
}

// sortCost is how many index entries a walk in order reads in the time it
// takes to look an asset up by primary key and sort it.
const sortCost = 5

// sorted looks the ids up by primary key and returns, in order, those
// matching f.
func (r *Resolver) sorted(ctx context.Context, ids *idSet, f filter, order string) ([]uint, error) {
	where, args := f.where(r.dialect)
	from, arg := r.dialect.idTable(ids.ids())
	out, _, err := r.streamIDs(ctx, -1, nil, `SELECT a.id FROM `+from+` CROSS JOIN assets a
		WHERE a.id = j.value AND `+where+` ORDER BY `+order, append([]any{arg}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("perm: list granted assets: %w", err)
	}
	return out, nil
}

// streamIDs reads the first column of the rows of a query, keeping only the
// members of keep (all when nil), and stops after n of them (never when n < 0).
// It also tells how many rows it read.
func (r *Resolver) streamIDs(ctx context.Context, n int, keep *idSet, query string, args ...any) ([]uint, int, error) {
	rows, err := r.db.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []uint
	read := 0
	for (n < 0 || len(out) < n) && rows.Next() {
		var id uint
		if err := rows.Scan(&id); err != nil {
			return nil, read, err
		}
		read++
		if keep == nil || keep.has(id) {
			out = append(out, id)
		}
	}
	return out, read, rows.Err()
}
