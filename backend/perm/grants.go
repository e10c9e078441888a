package perm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/timewindow"
)

// user is what resolution needs of a user.
type user struct {
	id       uint
	orgID    uint
	username string
}

// permission is an applicable AssetPermission.
type permission struct {
	id        uint
	accounts  store.JSONList // names, @ALL, @INPUT, @USER
	protocols store.JSONList // names or "all"
	actions   store.JSONList
	nodes     []uint // granted nodes of the user's organization
}

// allows reports whether p grants the protocol on assets that speak it.
func (p *permission) allows(protocol string) bool {
	return contains(p.protocols, "all") || contains(p.protocols, protocol)
}

// grants are a user's applicable permissions at one instant.
type grants struct {
	user  user
	perms []*permission // sorted by ID
	// byNode maps each granted node to the permissions granting it.
	byNode map[uint][]*permission
	// keys maps each granted node to its materialized path.
	keys map[uint]string
}

// loadGrants loads the permissions that apply to the user now. A user who
// does not exist is store.ErrNotFound; an inactive user has no permissions.
func (r *Resolver) loadGrants(ctx context.Context, userID uint) (*grants, error) {
	var (
		u      user
		active bool
	)
	err := r.db.WithContext(ctx).Raw(`SELECT id, org_id, username, is_active FROM users WHERE id = ?`, userID).Row().
		Scan(&u.id, &u.orgID, &u.username, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("perm: user %d: %w", userID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("perm: load user %d: %w", userID, err)
	}
	g := &grants{user: u, byNode: map[uint][]*permission{}, keys: map[uint]string{}}
	if !active {
		return g, nil
	}
	// The permission, and the group through which it reaches the user, must
	// belong to the user's organization, whatever the join rows say. On CROSS
	// JOIN, see "Join order" in sql.go.
	now := r.clock()
	byID := map[uint]*permission{}
	err = r.eachRow(ctx, "load permissions", func(scan scanFunc) error {
		var (
			p             permission
			start, expiry sql.NullTime
			window        sql.NullString
		)
		if err := scan(&p.id, &p.accounts, &p.protocols, &p.actions, &start, &expiry, &window); err != nil {
			return err
		}
		if start.Valid && now.Before(start.Time) || expiry.Valid && !now.Before(expiry.Time) ||
			!r.windows.contains(window.String, now) {
			return nil
		}
		g.perms = append(g.perms, &p)
		byID[p.id] = &p
		return nil
	}, `SELECT p.id, p.accounts, p.protocols, p.actions, p.date_start, p.date_expired, p.time_window
		FROM (
			SELECT pu.asset_permission_id AS id FROM perm_users pu WHERE pu.user_id = ?
			UNION
			SELECT pg.asset_permission_id FROM user_group_members m
				CROSS JOIN user_groups ug CROSS JOIN perm_groups pg
			WHERE m.user_id = ? AND ug.id = m.user_group_id AND ug.org_id = ? AND pg.user_group_id = m.user_group_id
		) x CROSS JOIN asset_permissions p
		WHERE p.id = x.id AND p.org_id = ? AND p.is_active = ?
		ORDER BY p.id`, u.id, u.id, u.orgID, u.orgID, true)
	if err != nil {
		return nil, err
	}
	if len(g.perms) == 0 {
		return g, nil
	}

	// Their granted nodes.
	err = r.eachRow(ctx, "load granted nodes", func(scan scanFunc) error {
		var (
			permID, nodeID uint
			key            string
		)
		if err := scan(&permID, &nodeID, &key); err != nil {
			return err
		}
		p := byID[permID]
		p.nodes = append(p.nodes, nodeID)
		g.byNode[nodeID] = append(g.byNode[nodeID], p)
		g.keys[nodeID] = key
		return nil
	}, `SELECT pn.asset_permission_id, n.id, COALESCE(n."key", '')
		FROM perm_nodes pn CROSS JOIN nodes n
		WHERE pn.asset_permission_id IN (`+idList(permIDs(g.perms))+`) AND n.id = pn.node_id AND n.org_id = ?`, g.user.orgID)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// roots returns the granted nodes that are not inside another granted node,
// sorted: their subtrees cover every granted subtree once.
func (g *grants) roots() []uint {
	inSet := make(map[string]bool, len(g.keys))
	for _, k := range g.keys {
		inSet[k] = true
	}
	var out []uint
	for id, k := range g.keys {
		nested := false
		for i := strings.LastIndexByte(k, ':'); i >= 0 && !nested; i = strings.LastIndexByte(k[:i], ':') {
			nested = inSet[k[:i]]
		}
		if !nested {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// path returns the IDs of the node and its ancestors, root first, read from
// its materialized path. Malformed parts are skipped (they can name no node),
// and the node itself is always there, even when its key is not yet set.
func path(node uint, key string) []uint {
	out := make([]uint, 0, 6)
	for part := range strings.SplitSeq(key, ":") {
		if id, err := strconv.ParseUint(part, 10, 64); err == nil && uint(id) != node {
			out = append(out, uint(id))
		}
	}
	return append(out, node)
}

// forProtocol returns the grants restricted to the permissions that allow the
// protocol; an empty protocol keeps them all.
func (g *grants) forProtocol(protocol string) *grants {
	if protocol == "" {
		return g
	}
	out := &grants{user: g.user, byNode: map[uint][]*permission{}, keys: map[uint]string{}}
	for _, p := range g.perms {
		if !p.allows(protocol) {
			continue
		}
		out.perms = append(out.perms, p)
		for _, n := range p.nodes {
			out.byNode[n] = append(out.byNode[n], p)
			out.keys[n] = g.keys[n]
		}
	}
	return out
}

func permIDs(ps []*permission) []uint {
	ids := make([]uint, len(ps))
	for i, p := range ps {
		ids[i] = p.id
	}
	return ids
}

// windowCache memoizes parsed time windows by their text, which makes it
// always consistent with the database: the text is the key.
type windowCache struct {
	mu sync.Mutex // guards m
	m  map[string]*timewindow.Window
}

const maxCachedWindows = 1024

// contains reports whether the window s applies at t. A window that does not
// parse never applies.
func (c *windowCache) contains(s string, t time.Time) bool {
	if strings.TrimSpace(s) == "" {
		return true
	}
	c.mu.Lock()
	w, ok := c.m[s]
	c.mu.Unlock()
	if !ok {
		w, _ = timewindow.Parse(s) // nil when it does not parse
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxCachedWindows {
			c.m = map[string]*timewindow.Window{}
		}
		c.m[s] = w
		c.mu.Unlock()
	}
	return w != nil && w.Contains(t)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
