package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/store"
)

// PermConfig sizes the dataset GeneratePerm builds.
type PermConfig struct {
	Seed   uint64
	Nodes  int // nodes of the asset tree, depth 5 (root, 10, 100, 1000, the rest)
	Assets int
	Users  int
	Groups int // each user is in 1 to 4 of them
	Perms  int
	// Now is the instant around which validity periods and time windows are laid:
	// give the resolver a clock that answers it.
	Now time.Time
}

// DefaultPermConfig is the size `make bench` measures: 100,000 assets in 5,000
// nodes, 10,000 users in 2,000 groups and 50,000 permissions.
func DefaultPermConfig() PermConfig {
	return PermConfig{
		Seed: 1, Nodes: 5000, Assets: 100000, Users: 10000, Groups: 2000, Perms: 50000,
		Now: time.Date(2025, 3, 12, 10, 30, 0, 0, time.UTC), // a Wednesday morning
	}
}

// PermDataset says what GeneratePerm built.
type PermDataset struct {
	OrgID uint
	Now   time.Time
	// TypicalUser has a few direct permissions and the permissions of its
	// groups, most of them on single assets or on small nodes.
	TypicalUser uint
	// BroadUser leads operations: besides ordinary grants, its group holds
	// half of the tree (five of the ten second-level nodes).
	BroadUser uint
	// Rows counts the rows inserted per table.
	Rows map[string]int
}

// GeneratePerm fills an empty, migrated store with a realistic permission
// dataset: a node tree of depth 5, assets mostly in leaf nodes (one in ten in
// two nodes), two or three accounts per asset, users in groups, and
// permissions granting a mix of assets and nodes to users and groups, with some
// inactive, expired, not yet valid and time-windowed ones. It is deterministic
// for a given config and writes in large batches inside one transaction.
func GeneratePerm(ctx context.Context, s *store.Store, cfg PermConfig) (*PermDataset, error) {
	org, err := s.DefaultOrg(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: default org: %w", err)
	}
	platforms := map[string]uint{}
	var ps []store.Platform
	if err := s.DB.WithContext(ctx).Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("bench: platforms: %w", err)
	}
	for _, p := range ps {
		platforms[p.Name] = p.ID
	}
	sqlDB, err := s.DB.DB()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: begin: %w", err)
	}
	defer tx.Rollback()
	g := &permGen{
		tx: tx, pg: s.Driver == "postgres", cfg: cfg, org: org.ID,
		rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), platforms: platforms,
		ds: &PermDataset{OrgID: org.ID, Now: cfg.Now, Rows: map[string]int{}},
	}
	for _, step := range []func(context.Context) error{g.nodes, g.assets, g.users, g.perms} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	if g.pg {
		for _, t := range []string{"users", "user_groups", "nodes", "assets", "accounts", "asset_permissions"} {
			q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT MAX(id) FROM %s))", t, t)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("bench: reset sequence of %s: %w", t, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("bench: commit: %w", err)
	}
	return g.ds, nil
}

// permGen writes one dataset inside one transaction.
type permGen struct {
	tx        *sql.Tx
	pg        bool
	cfg       PermConfig
	org       uint
	rnd       *rand.Rand
	platforms map[string]uint
	ds        *PermDataset

	nodeKeys []string // by node ID - 1
	byDepth  [][]uint // node IDs per depth (0 = root)
}

// insert starts a batch of rows for table. A batch holds about 400 parameters:
// SQLite's driver binds parameters in quadratic time, parsing favours more.
func (g *permGen) insert(table string, cols ...string) *batch {
	return &batch{g: g, table: table, cols: cols, per: max(1, 400/len(cols))}
}

// batch accumulates rows and writes them as multi-row INSERTs.
type batch struct {
	g     *permGen
	table string
	cols  []string
	per   int
	args  []any
	n     int
	full  *sql.Stmt // the INSERT of per rows, prepared once, closed with the transaction
}

func (b *batch) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	b.n++
	if b.n == b.per {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	if b.n == 0 {
		return nil
	}
	var err error
	if b.n == b.per {
		if b.full == nil {
			if b.full, err = b.g.tx.PrepareContext(ctx, b.query()); err != nil {
				return fmt.Errorf("bench: prepare insert into %s: %w", b.table, err)
			}
		}
		_, err = b.full.ExecContext(ctx, b.args...)
	} else {
		_, err = b.g.tx.ExecContext(ctx, b.query(), b.args...)
	}
	if err != nil {
		return fmt.Errorf("bench: insert into %s: %w", b.table, err)
	}
	b.g.ds.Rows[b.table] += b.n
	b.args, b.n = b.args[:0], 0
	return nil
}

// query returns the INSERT statement of b.n rows.
func (b *batch) query() string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + b.table + " (")
	for i, c := range b.cols {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"` + c + `"`)
	}
	sb.WriteString(") VALUES ")
	p := 0
	for r := 0; r < b.n; r++ {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := range b.cols {
			if c > 0 {
				sb.WriteByte(',')
			}
			p++
			if b.g.pg {
				sb.WriteString("$" + strconv.Itoa(p))
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

func (g *permGen) nodes(ctx context.Context) error {
	b := g.insert("nodes", "id", "org_id", "parent_id", "name", "key", "created_at", "updated_at")
	add := func(parent uint, depth int) (uint, error) {
		id := uint(len(g.nodeKeys) + 1)
		key := strconv.FormatUint(uint64(id), 10)
		var pid any
		if parent != 0 {
			key = g.nodeKeys[parent-1] + ":" + key
			pid = parent
		}
		g.nodeKeys = append(g.nodeKeys, key)
		for len(g.byDepth) <= depth {
			g.byDepth = append(g.byDepth, nil)
		}
		g.byDepth[depth] = append(g.byDepth[depth], id)
		name := "Default"
		if parent != 0 {
			name = fmt.Sprintf("%s-%d", []string{"", "region", "site", "team", "service"}[depth], id)
		}
		return id, b.add(ctx, id, g.org, pid, name, key, g.cfg.Now, g.cfg.Now)
	}
	if _, err := add(0, 0); err != nil {
		return err
	}
	// Levels 1-3 fan out by ten; the remaining nodes go round-robin under level 3.
	for depth := 1; depth <= 4 && len(g.nodeKeys) < g.cfg.Nodes; depth++ {
		parents := g.byDepth[depth-1]
		per := 10
		if depth == 4 {
			per = (g.cfg.Nodes - len(g.nodeKeys) + len(parents) - 1) / len(parents)
		}
		for i := 0; i < per; i++ {
			for _, p := range parents {
				if len(g.nodeKeys) >= g.cfg.Nodes {
					break
				}
				if _, err := add(p, depth); err != nil {
					return err
				}
			}
		}
	}
	return b.flush(ctx)
}

// assetNode picks a node for an asset: leaves mostly.
func (g *permGen) assetNode() uint {
	r := g.rnd.IntN(100)
	depth := 4
	switch {
	case r < 5:
		depth = 2
	case r < 20:
		depth = 3
	}
	depth = min(depth, len(g.byDepth)-1)
	ns := g.byDepth[depth]
	return ns[g.rnd.IntN(len(ns))]
}

var benchPlatforms = []struct {
	prefix, platform string
	protocols        store.Protocols
}{
	{"web", "Linux", store.Protocols{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}},
	{"app", "Linux", store.Protocols{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}},
	{"k8s", "Linux", store.Protocols{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}, {Name: "telnet", Port: 23}}},
	{"aix", "Unix", store.Protocols{{Name: "ssh", Port: 22}}},
	{"win", "Windows", store.Protocols{{Name: "rdp", Port: 3389}, {Name: "ssh", Port: 22}}},
	{"sw", "Network device", store.Protocols{{Name: "ssh", Port: 22}, {Name: "telnet", Port: 23}}},
	{"db", "MySQL", store.Protocols{{Name: "mysql", Port: 3306}}},
	{"pg", "PostgreSQL", store.Protocols{{Name: "postgresql", Port: 5432}}},
}

func (g *permGen) assets(ctx context.Context) error {
	ab := g.insert("assets", "id", "org_id", "name", "address", "platform_id", "protocols", "is_active", "labels", "comment", "created_at", "updated_at")
	nb := g.insert("asset_nodes", "asset_id", "node_id")
	cb := g.insert("accounts", "id", "org_id", "asset_id", "name", "username", "secret_type", "has_secret", "privileged", "is_active", "comment", "created_at", "updated_at")
	accountID := 0
	addAccount := func(asset int, name, username string, privileged bool) error {
		accountID++
		active := g.rnd.IntN(100) >= 3
		return cb.add(ctx, accountID, g.org, asset, name, username, store.SecretPassword, true, privileged, active, "", g.cfg.Now, g.cfg.Now)
	}
	envs := []string{"env:prod", "env:staging", "env:dev"}
	for id := 1; id <= g.cfg.Assets; id++ {
		p := benchPlatforms[g.rnd.IntN(len(benchPlatforms))]
		protos, _ := json.Marshal(p.protocols)
		labels, _ := json.Marshal([]string{envs[g.rnd.IntN(len(envs))]})
		name := fmt.Sprintf("%s-%06d", p.prefix, id)
		addr := fmt.Sprintf("10.%d.%d.%d", id>>16&255, id>>8&255, id&255)
		active := g.rnd.IntN(100) >= 2
		if err := ab.add(ctx, id, g.org, name, addr, g.platforms[p.platform], string(protos), active, string(labels), "", g.cfg.Now, g.cfg.Now); err != nil {
			return err
		}
		n1 := g.assetNode()
		if err := nb.add(ctx, id, n1); err != nil {
			return err
		}
		if g.rnd.IntN(10) == 0 {
			if n2 := g.assetNode(); n2 != n1 {
				if err := nb.add(ctx, id, n2); err != nil {
					return err
				}
			}
		}
		if err := addAccount(id, "root", "root", true); err != nil {
			return err
		}
		if err := addAccount(id, "ops", "ops", false); err != nil {
			return err
		}
		// One asset in five has a personal account matching a user (for @USER).
		if g.rnd.IntN(5) == 0 && g.cfg.Users > 0 {
			u := benchUsername(1 + g.rnd.IntN(g.cfg.Users))
			if err := addAccount(id, u, u, false); err != nil {
				return err
			}
		}
	}
	for _, b := range []*batch{ab, nb, cb} {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func benchUsername(id int) string { return fmt.Sprintf("user%05d", id) }

func (g *permGen) users(ctx context.Context) error {
	ub := g.insert("users", "id", "org_id", "username", "name", "email", "role", "org_role", "is_active",
		"must_change_password", "mfa_required", "totp_enabled", "failed_logins", "created_at", "updated_at")
	for id := 1; id <= g.cfg.Users; id++ {
		u := benchUsername(id)
		if err := ub.add(ctx, id, g.org, u, "User "+strconv.Itoa(id), u+"@example.com", store.RoleUser, store.OrgRoleUser, true,
			false, false, false, 0, g.cfg.Now, g.cfg.Now); err != nil {
			return err
		}
	}
	if err := ub.flush(ctx); err != nil {
		return err
	}
	gb := g.insert("user_groups", "id", "org_id", "name", "comment", "created_at", "updated_at")
	for id := 1; id <= g.cfg.Groups; id++ {
		if err := gb.add(ctx, id, g.org, fmt.Sprintf("group-%04d", id), "", g.cfg.Now, g.cfg.Now); err != nil {
			return err
		}
	}
	if err := gb.flush(ctx); err != nil {
		return err
	}
	mb := g.insert("user_group_members", "user_group_id", "user_id")
	for id := 1; id <= g.cfg.Users; id++ {
		seen := map[int]bool{}
		if id == 1 { // the operations lead, see perms
			seen[1] = true
			if err := mb.add(ctx, 1, 1); err != nil {
				return err
			}
		}
		err := distinct(1+g.rnd.IntN(4), seen, func() int { return 1 + g.rnd.IntN(g.cfg.Groups) },
			func(grp int) error { return mb.add(ctx, grp, id) })
		if err != nil {
			return err
		}
	}
	return mb.flush(ctx)
}

// distinct adds up to n values drawn by draw, skipping those in seen, which
// it updates.
func distinct[T comparable](n int, seen map[T]bool, draw func() T, add func(T) error) error {
	for ; n > 0; n-- {
		v := draw()
		if seen[v] {
			continue
		}
		seen[v] = true
		if err := add(v); err != nil {
			return err
		}
	}
	return nil
}

func (g *permGen) perms(ctx context.Context) error {
	pb := g.insert("asset_permissions", "id", "org_id", "name", "accounts", "protocols", "actions",
		"date_start", "date_expired", "time_window", "is_active", "comment", "created_at", "updated_at")
	ub := g.insert("perm_users", "asset_permission_id", "user_id")
	grb := g.insert("perm_groups", "asset_permission_id", "user_group_id")
	ab := g.insert("perm_assets", "asset_permission_id", "asset_id")
	nb := g.insert("perm_nodes", "asset_permission_id", "node_id")
	pick := func(weights []int) int {
		r := g.rnd.IntN(100)
		for i, w := range weights {
			if r < w {
				return i
			}
			r -= w
		}
		return len(weights) - 1
	}
	accountSets := []string{`["@ALL"]`, `["root"]`, `["ops"]`, `["@INPUT"]`, `["@USER"]`, `["root","@INPUT"]`}
	protocolSets := []string{`["all"]`, `["ssh","sftp"]`, `["rdp"]`, `["ssh"]`}
	actionSets := []string{`["connect","upload","download","copy","paste","share"]`, `["connect"]`, `["connect","upload","download"]`}
	now := g.cfg.Now
	addPerm := func(id int) error {
		var start, expired any
		window, active := "", g.rnd.IntN(100) >= 5
		switch pick([]int{5, 3, 5, 30}) {
		case 0: // expired
			expired = now.AddDate(0, 0, -1-g.rnd.IntN(300))
		case 1: // not yet valid
			start = now.AddDate(0, 0, 1+g.rnd.IntN(30))
		case 2: // time-windowed, half of them open now
			window = []string{"mon-fri 09:00-18:00", "sat,sun"}[g.rnd.IntN(2)]
		case 3: // valid for a while
			start, expired = now.AddDate(0, -6, 0), now.AddDate(1, 0, 0)
		}
		return pb.add(ctx, id, g.org, fmt.Sprintf("perm-%05d", id),
			accountSets[pick([]int{30, 20, 15, 10, 10, 15})],
			protocolSets[pick([]int{60, 25, 10, 5})],
			actionSets[pick([]int{40, 30, 30})],
			start, expired, window, active, "", now, now)
	}
	grantNodes := func(id, n int) error {
		return distinct(n, map[uint]bool{}, func() uint {
			depth := 4 - pick([]int{55, 35, 9, 1}) // leaves, level 3, level 2, level 1
			ns := g.byDepth[max(1, min(depth, len(g.byDepth)-1))]
			return ns[g.rnd.IntN(len(ns))]
		}, func(node uint) error { return nb.add(ctx, id, node) })
	}
	grantAssets := func(id, n int) error {
		return distinct(n, map[int]bool{}, func() int { return 1 + g.rnd.IntN(g.cfg.Assets) },
			func(a int) error { return ab.add(ctx, id, a) })
	}

	// Permission 1: the operations leads' group (group 1, which holds user 1)
	// reaches half of the tree.
	g.ds.BroadUser, g.ds.TypicalUser = 1, uint(min(4242, g.cfg.Users))
	if err := pb.add(ctx, 1, g.org, "ops-leads", `["@ALL","@INPUT"]`, `["all"]`, actionSets[0], nil, nil, "", true, "", now, now); err != nil {
		return err
	}
	if err := grb.add(ctx, 1, 1); err != nil {
		return err
	}
	for i := 0; i < 5 && i < len(g.byDepth[1]); i++ {
		if err := nb.add(ctx, 1, g.byDepth[1][i]); err != nil {
			return err
		}
	}

	for id := 2; id <= g.cfg.Perms; id++ {
		if err := addPerm(id); err != nil {
			return err
		}
		// 60% to one to three users, 40% to a group.
		if g.rnd.IntN(10) < 6 {
			err := distinct(1+g.rnd.IntN(3), map[int]bool{}, func() int { return 1 + g.rnd.IntN(g.cfg.Users) },
				func(u int) error { return ub.add(ctx, id, u) })
			if err != nil {
				return err
			}
		} else if err := grb.add(ctx, id, 1+g.rnd.IntN(g.cfg.Groups)); err != nil {
			return err
		}
		// 50% assets only, 40% nodes only, 10% both.
		switch r := g.rnd.IntN(10); {
		case r < 5:
			if err := grantAssets(id, 1+g.rnd.IntN(5)); err != nil {
				return err
			}
		case r < 9:
			if err := grantNodes(id, 1+g.rnd.IntN(2)); err != nil {
				return err
			}
		default:
			if err := grantAssets(id, 1+g.rnd.IntN(5)); err != nil {
				return err
			}
			if err := grantNodes(id, 1); err != nil {
				return err
			}
		}
	}
	for _, b := range []*batch{pb, ub, grb, ab, nb} {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}
