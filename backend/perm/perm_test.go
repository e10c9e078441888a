package perm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// now is a Wednesday morning, UTC.
var now = time.Date(2025, 3, 12, 10, 30, 0, 0, time.UTC)

// fixture builds rows in one organization of a test store.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	db    *gorm.DB
	org   uint
	r     *perm.Resolver // probes candidate sets by primary key
	scan  *perm.Resolver // intersects candidate sets with a scan
	perms int            // permissions created, for unique names
}

func newFixture(t *testing.T, s *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := perm.EnsureIndexes(ctx, s.DB); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	if err := perm.EnsureIndexes(ctx, s.DB); err != nil {
		t.Fatalf("EnsureIndexes again: %v", err)
	}
	org, err := s.DefaultOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	r, scan := perm.New(s.DB, clock), perm.New(s.DB, clock)
	perm.SetProbeLimit(r, 1<<20)
	perm.SetProbeLimit(scan, -1)
	return &fixture{t: t, ctx: ctx, db: s.DB, org: org.ID, r: r, scan: scan}
}

// each runs f on SQLite and on PostgreSQL.
func each(t *testing.T, f func(t *testing.T, fx *fixture)) {
	storetest.Each(t, func(t *testing.T, s *store.Store) { f(t, newFixture(t, s)) })
}

// userAssets lists with candidate sets probed by primary key and with
// candidate sets intersected with a scan, and checks that both agree.
func (fx *fixture) userAssets(userID uint, q perm.Query) ([]perm.AssetAccess, int64, error) {
	fx.t.Helper()
	items, total, err := fx.r.UserAssets(fx.ctx, userID, q)
	sItems, sTotal, sErr := fx.scan.UserAssets(fx.ctx, userID, q)
	if !reflect.DeepEqual(items, sItems) || total != sTotal || fmt.Sprint(err) != fmt.Sprint(sErr) {
		fx.t.Errorf("%+v: probing gave %v of %d (%v), scanning %v of %d (%v)", q, items, total, err, sItems, sTotal, sErr)
	}
	return items, total, err
}

// userNodes is UserNodes, checked the same way.
func (fx *fixture) userNodes(userID uint) ([]perm.NodeCount, error) {
	fx.t.Helper()
	nodes, err := fx.r.UserNodes(fx.ctx, userID)
	sNodes, sErr := fx.scan.UserNodes(fx.ctx, userID)
	if !reflect.DeepEqual(nodes, sNodes) || fmt.Sprint(err) != fmt.Sprint(sErr) {
		fx.t.Errorf("probing gave %v (%v), scanning %v (%v)", nodes, err, sNodes, sErr)
	}
	return nodes, err
}

func (fx *fixture) create(v any) { fx.t.Helper(); storetest.MustCreate(fx.t, fx.db, v) }

func (fx *fixture) otherOrg(name string) uint {
	o := store.Organization{Name: name}
	fx.create(&o)
	return o.ID
}

func (fx *fixture) user(username string, groups ...*store.UserGroup) *store.User {
	fx.t.Helper()
	u := store.User{OrgID: fx.org, Username: username, Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true}
	fx.create(&u)
	for _, g := range groups {
		fx.create(&store.UserGroupMember{UserGroupID: g.ID, UserID: u.ID})
	}
	return &u
}

func (fx *fixture) group(name string) *store.UserGroup { return fx.groupIn(fx.org, name) }

func (fx *fixture) groupIn(org uint, name string) *store.UserGroup {
	fx.t.Helper()
	g := store.UserGroup{OrgID: org, Name: name}
	fx.create(&g)
	return &g
}

// node creates a node under parent (nil: a root) and sets its key.
func (fx *fixture) node(name string, parent *store.Node) *store.Node {
	fx.t.Helper()
	return fx.nodeWithID(0, fx.org, name, parent)
}

// nodeWithID creates a node with a chosen ID (0: automatic).
func (fx *fixture) nodeWithID(id, org uint, name string, parent *store.Node) *store.Node {
	fx.t.Helper()
	n := store.Node{ID: id, OrgID: org, Name: name}
	if parent != nil {
		n.ParentID = &parent.ID
	}
	fx.create(&n)
	n.Key = strconv.FormatUint(uint64(n.ID), 10)
	if parent != nil {
		n.Key = parent.Key + ":" + n.Key
	}
	if err := fx.db.Model(&n).Update("key", n.Key).Error; err != nil {
		fx.t.Fatal(err)
	}
	return &n
}

// asset creates an active asset speaking protocols ("ssh/22 rdp/3389") in nodes.
func (fx *fixture) asset(name, address, protocols string, nodes ...*store.Node) *store.Asset {
	fx.t.Helper()
	return fx.assetIn(fx.org, name, address, protocols, nodes...)
}

func (fx *fixture) assetIn(org uint, name, address, protocols string, nodes ...*store.Node) *store.Asset {
	fx.t.Helper()
	var ps store.Protocols
	for _, p := range strings.Fields(protocols) {
		name, port, _ := strings.Cut(p, "/")
		n, _ := strconv.Atoi(port)
		ps = append(ps, store.Protocol{Name: name, Port: n})
	}
	a := store.Asset{OrgID: org, Name: name, Address: address, Protocols: ps, IsActive: true, Labels: store.JSONList{"env:test"}}
	fx.create(&a)
	for _, n := range nodes {
		fx.create(&store.AssetNode{AssetID: a.ID, NodeID: n.ID})
	}
	return &a
}

func (fx *fixture) account(a *store.Asset, name, username string) *store.Account {
	fx.t.Helper()
	acc := store.Account{OrgID: a.OrgID, AssetID: a.ID, Name: name, Username: username, SecretType: store.SecretPassword, IsActive: true}
	fx.create(&acc)
	return &acc
}

func (fx *fixture) deactivate(v any) {
	fx.t.Helper()
	if err := fx.db.Model(v).Update("is_active", false).Error; err != nil {
		fx.t.Fatal(err)
	}
}

// spec describes a permission; nil lists default to the usual grant.
type spec struct {
	org       uint // 0: the fixture's
	users     []*store.User
	groups    []*store.UserGroup
	assets    []*store.Asset
	nodes     []*store.Node
	accounts  []string // default @ALL
	protocols []string // default all
	actions   []string // default connect
	start     *time.Time
	expired   *time.Time
	window    string
	inactive  bool
}

func (fx *fixture) perm(s spec) *store.AssetPermission {
	fx.t.Helper()
	fx.perms++
	org := s.org
	if org == 0 {
		org = fx.org
	}
	p := store.AssetPermission{
		OrgID: org, Name: fmt.Sprintf("perm-%d", fx.perms),
		Accounts:  orDefault(s.accounts, []string{store.AccountAll}),
		Protocols: orDefault(s.protocols, []string{"all"}),
		Actions:   orDefault(s.actions, []string{store.ActionConnect}),
		DateStart: s.start, DateExpired: s.expired, TimeWindow: s.window, IsActive: !s.inactive,
	}
	fx.create(&p)
	for _, u := range s.users {
		fx.create(&store.PermUser{AssetPermissionID: p.ID, UserID: u.ID})
	}
	for _, g := range s.groups {
		fx.create(&store.PermGroup{AssetPermissionID: p.ID, UserGroupID: g.ID})
	}
	for _, a := range s.assets {
		fx.create(&store.PermAsset{AssetPermissionID: p.ID, AssetID: a.ID})
	}
	for _, n := range s.nodes {
		fx.create(&store.PermNode{AssetPermissionID: p.ID, NodeID: n.ID})
	}
	return &p
}

func orDefault(list, def []string) []string {
	if list == nil {
		return def
	}
	return list
}

// wantNames checks the names of the assets the user may reach, and their total
// when q asks for the first page.
func (fx *fixture) wantNames(u *store.User, q perm.Query, want ...string) {
	fx.t.Helper()
	items, total, err := fx.userAssets(u.ID, q)
	if err != nil {
		fx.t.Fatalf("UserAssets(%s): %v", u.Username, err)
	}
	got := []string{}
	for _, it := range items {
		got = append(got, it.Asset.Name)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		fx.t.Errorf("%s %+v: got %v, want %v", u.Username, q, got, want)
	}
	if q.Offset == 0 && q.Limit == 0 && total != int64(len(want)) {
		fx.t.Errorf("%s %+v: total %d, want %d", u.Username, q, total, len(want))
	}
}

func (fx *fixture) access(u *store.User, a *store.Asset) *perm.AssetAccess {
	fx.t.Helper()
	got, err := fx.r.Access(fx.ctx, u.ID, a.ID)
	if err != nil {
		fx.t.Fatalf("Access(%s, %s): %v", u.Username, a.Name, err)
	}
	return got
}

func grantNames(gs []perm.AccountGrant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.Kind+":"+g.Name+"/"+g.Username)
	}
	return out
}

func ptr(t time.Time) *time.Time { return &t }

func TestGrantSources(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		ops := fx.group("ops")
		alice := fx.user("alice")
		bob := fx.user("bob", ops)
		carol := fx.user("carol")

		root := fx.nodeWithID(100, fx.org, "root", nil)
		a := fx.nodeWithID(101, fx.org, "a", root)
		a1 := fx.nodeWithID(102, fx.org, "a1", a)
		a1x := fx.nodeWithID(103, fx.org, "a1x", a1)
		// 1010's key "100:1010" starts with "100:101", a's key: a sibling
		// subtree that must not leak into a's.
		b := fx.nodeWithID(1010, fx.org, "b", root)
		b1 := fx.nodeWithID(1011, fx.org, "b1", b)

		web := fx.asset("web", "10.0.0.1", "ssh/22")
		inA := fx.asset("in-a", "10.0.1.1", "ssh/22", a)
		inA1x := fx.asset("in-a1x", "10.0.1.2", "ssh/22", a1x)
		fx.asset("in-root", "10.0.2.1", "ssh/22", root)
		fx.asset("in-b", "10.0.3.1", "ssh/22", b)
		fx.asset("in-b1", "10.0.3.2", "ssh/22", b1)

		fx.perm(spec{users: []*store.User{alice}, assets: []*store.Asset{web}})
		fx.perm(spec{groups: []*store.UserGroup{ops}, nodes: []*store.Node{a}})
		fx.perm(spec{users: []*store.User{carol}, nodes: []*store.Node{b}, assets: []*store.Asset{inA1x}})
		fx.wantNames(alice, perm.Query{}, "web")
		fx.wantNames(bob, perm.Query{}, "in-a", "in-a1x")
		fx.wantNames(carol, perm.Query{}, "in-a1x", "in-b", "in-b1")
		if got := fx.access(bob, inA1x); !slices.Equal(got.Protocols, []string{"ssh"}) {
			t.Errorf("bob on in-a1x: protocols %v", got.Protocols)
		}

		// Nested grants count each asset once.
		eve := fx.user("eve")
		fx.perm(spec{users: []*store.User{eve}, nodes: []*store.Node{root, a1x}})
		fx.perm(spec{users: []*store.User{eve}, nodes: []*store.Node{a}, assets: []*store.Asset{inA}})
		fx.wantNames(eve, perm.Query{}, "in-a", "in-a1x", "in-b", "in-b1", "in-root")

		// A node whose key is not set (yet) still grants its own assets.
		keyless := store.Node{OrgID: fx.org, Name: "keyless"}
		fx.create(&keyless)
		if err := fx.db.Exec(`UPDATE nodes SET "key" = NULL WHERE id = ?`, keyless.ID).Error; err != nil {
			t.Fatal(err)
		}
		inKeyless := fx.asset("in-keyless", "10.0.4.1", "ssh/22", &keyless)
		dave := fx.user("dave")
		fx.perm(spec{users: []*store.User{dave}, nodes: []*store.Node{&keyless}})
		fx.wantNames(dave, perm.Query{}, "in-keyless")
		if got := fx.access(dave, inKeyless); len(got.Protocols) != 1 {
			t.Errorf("dave on in-keyless: got %+v", got)
		}
		if nodes, err := fx.userNodes(dave.ID); err != nil || len(nodes) != 1 || nodes[0].AssetCount != 1 {
			t.Errorf("dave's nodes: got %+v, %v", nodes, err)
		}

		if _, err := fx.r.Access(fx.ctx, alice.ID, inA.ID); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("alice on in-a: got %v, want ErrDenied", err)
		}
	})
}

func TestValidity(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		u := fx.user("alice")
		tests := []struct {
			name    string
			spec    spec
			granted bool
		}{
			{"open", spec{}, true},
			{"expired", spec{expired: ptr(now.Add(-time.Hour))}, false},
			{"expires now", spec{expired: ptr(now)}, false},
			{"expires later", spec{expired: ptr(now.Add(time.Minute))}, true},
			{"not yet valid", spec{start: ptr(now.Add(time.Hour))}, false},
			{"starts now", spec{start: ptr(now)}, true},
			{"within dates", spec{start: ptr(now.AddDate(0, -1, 0)), expired: ptr(now.AddDate(0, 1, 0))}, true},
			{"inside time window", spec{window: "mon-fri 09:00-18:00"}, true},
			{"outside time window", spec{window: "sat,sun"}, false},
			{"window in another zone", spec{window: "wed 18:00-19:00 @Asia/Shanghai"}, true},
			{"bad time window", spec{window: "every blue moon"}, false},
			{"inactive", spec{inactive: true}, false},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := fx.asset(fmt.Sprintf("asset-%d", i), "10.0.0.1", "ssh/22")
				tt.spec.users = []*store.User{u}
				tt.spec.assets = []*store.Asset{a}
				fx.perm(tt.spec)
				_, err := fx.r.Access(fx.ctx, u.ID, a.ID)
				if got := err == nil; got != tt.granted {
					t.Errorf("granted: got %v (%v), want %v", got, err, tt.granted)
				}
			})
		}
	})
}

func TestInactiveRows(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		u := fx.user("alice")
		on := fx.asset("on", "10.0.0.1", "ssh/22")
		off := fx.asset("off", "10.0.0.2", "ssh/22")
		fx.account(on, "root", "root")
		fx.deactivate(fx.account(on, "old", "old"))
		fx.deactivate(off)
		fx.perm(spec{users: []*store.User{u}, assets: []*store.Asset{on, off}})
		fx.wantNames(u, perm.Query{}, "on")
		if _, err := fx.r.Access(fx.ctx, u.ID, off.ID); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("inactive asset: got %v, want ErrDenied", err)
		}
		if got, want := grantNames(fx.access(u, on).Accounts), []string{"account:root/root"}; !slices.Equal(got, want) {
			t.Errorf("accounts: got %v, want %v", got, want)
		}
		if _, err := fx.r.Check(fx.ctx, u.ID, on.ID, "old", "ssh", "connect"); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("inactive account: got %v, want ErrDenied", err)
		}

		fx.deactivate(u)
		fx.wantNames(u, perm.Query{})
		if _, err := fx.r.Check(fx.ctx, u.ID, on.ID, "root", "ssh", "connect"); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("inactive user: got %v, want ErrDenied", err)
		}
		if _, _, err := fx.userAssets(999999, perm.Query{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown user: got %v, want ErrNotFound", err)
		}
		if _, err := fx.r.Check(fx.ctx, 999999, on.ID, "root", "ssh", "connect"); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("unknown user: got %v, want ErrDenied", err)
		}
		if _, err := fx.r.Access(fx.ctx, fx.user("erin").ID, 999999); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("unknown asset: got %v, want ErrDenied", err)
		}
	})
}

func TestAccountsAndProtocols(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		alice := fx.user("alice")
		bob := fx.user("bob")
		tests := []struct {
			name      string
			user      *store.User
			accounts  []string
			protocols []string
			wantAccts []string
			wantProto []string
		}{
			{"all accounts", alice, []string{"@ALL"}, []string{"all"},
				[]string{"account:alice-personal/alice", "account:deploy/deploy", "account:root/root"}, []string{"ssh", "sftp", "rdp"}},
			{"named", alice, []string{"root", "nosuch"}, []string{"ssh", "telnet"},
				[]string{"account:root/root"}, []string{"ssh"}},
			{"input", alice, []string{"@INPUT"}, []string{"rdp"},
				[]string{"@INPUT:@INPUT/"}, []string{"rdp"}},
			{"user with account", alice, []string{"@USER"}, []string{"sftp", "ssh"},
				[]string{"account:alice-personal/alice"}, []string{"ssh", "sftp"}},
			{"user without account", bob, []string{"@USER", "@INPUT"}, []string{"vnc"},
				[]string{"@USER:@USER/bob", "@INPUT:@INPUT/"}, []string{}},
			{"all and named", alice, []string{"root", "@ALL"}, []string{"all", "ssh"},
				[]string{"account:alice-personal/alice", "account:deploy/deploy", "account:root/root"}, []string{"ssh", "sftp", "rdp"}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := fx.asset(fmt.Sprintf("web-%d", i), "10.0.0.1", "ssh/22 sftp/22 rdp/3389")
				fx.account(a, "root", "root")
				fx.account(a, "deploy", "deploy")
				fx.account(a, "alice-personal", "alice")
				fx.perm(spec{users: []*store.User{tt.user}, assets: []*store.Asset{a}, accounts: tt.accounts, protocols: tt.protocols})
				got := fx.access(tt.user, a)
				if names := grantNames(got.Accounts); !slices.Equal(names, tt.wantAccts) {
					t.Errorf("accounts: got %v, want %v", names, tt.wantAccts)
				}
				if !slices.Equal(got.Protocols, tt.wantProto) {
					t.Errorf("protocols: got %v, want %v", got.Protocols, tt.wantProto)
				}
			})
		}
	})
}

func TestMergeAndCheck(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		u := fx.user("alice")
		team := fx.group("team")
		fx.create(&store.UserGroupMember{UserGroupID: team.ID, UserID: u.ID})
		n := fx.node("dc", nil)
		a := fx.asset("win", "10.0.0.9", "ssh/22 rdp/3389", n)
		fx.account(a, "root", "root")
		admin := fx.account(a, "admin", "Administrator")
		fx.account(a, "alice", "alice")
		fx.perm(spec{users: []*store.User{u}, assets: []*store.Asset{a}, accounts: []string{"root"}, protocols: []string{"ssh"}, actions: []string{"connect"}})
		fx.perm(spec{groups: []*store.UserGroup{team}, nodes: []*store.Node{n}, accounts: []string{"admin", "@INPUT"}, protocols: []string{"rdp"}, actions: []string{"upload", "connect"}})
		fx.perm(spec{users: []*store.User{u}, assets: []*store.Asset{a}, accounts: []string{"@USER"}, protocols: []string{"all"}, actions: []string{"download"}})

		got := fx.access(u, a)
		wantAccts := []string{"account:admin/Administrator", "account:alice/alice", "account:root/root", "@INPUT:@INPUT/"}
		if names := grantNames(got.Accounts); !slices.Equal(names, wantAccts) {
			t.Errorf("merged accounts: got %v, want %v", names, wantAccts)
		}
		if want := []string{"ssh", "rdp"}; !slices.Equal(got.Protocols, want) {
			t.Errorf("merged protocols: got %v, want %v", got.Protocols, want)
		}
		if want := []string{"connect", "upload", "download"}; !slices.Equal(got.Actions, want) {
			t.Errorf("merged actions: got %v, want %v", got.Actions, want)
		}

		tests := []struct {
			account, protocol, action string
			want                      string // account name granted, "" for denied
		}{
			{"root", "ssh", "connect", "root"},
			{"root", "rdp", "connect", ""}, // rdp comes from another permission
			{"root", "ssh", "upload", ""},  // upload too
			{"admin", "rdp", "upload", "admin"},
			{"admin", "ssh", "connect", ""},
			{"@INPUT", "rdp", "connect", "@INPUT"},
			{"@INPUT", "ssh", "connect", ""},
			{"@USER", "ssh", "download", "alice"},
			{"alice", "rdp", "download", "alice"},
			{"alice", "rdp", "connect", ""},
			{"root", "telnet", "connect", ""},
			{"nosuch", "ssh", "connect", ""},
			{"", "ssh", "connect", ""},
		}
		for _, tt := range tests {
			name := tt.account + "/" + tt.protocol + "/" + tt.action
			t.Run(name, func(t *testing.T) {
				g, err := fx.r.Check(fx.ctx, u.ID, a.ID, tt.account, tt.protocol, tt.action)
				switch {
				case tt.want == "" && !errors.Is(err, perm.ErrDenied):
					t.Errorf("got %v, %v, want ErrDenied", g, err)
				case tt.want != "" && err != nil:
					t.Errorf("got %v, want %s", err, tt.want)
				case tt.want != "" && g.Name != tt.want:
					t.Errorf("got %+v, want %s", g, tt.want)
				}
			})
		}
		if g, err := fx.r.Check(fx.ctx, u.ID, a.ID, "admin", "rdp", "connect"); err != nil || g.ID != admin.ID || g.Kind != perm.KindAccount {
			t.Errorf("admin grant: got %+v, %v", g, err)
		}
	})
}

func TestOrgIsolation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		other := fx.otherOrg("other")
		alice := fx.user("alice")
		mine := fx.asset("mine", "10.0.0.1", "ssh/22")
		theirs := fx.assetIn(other, "theirs", "10.9.0.1", "ssh/22")
		theirNode := fx.nodeWithID(0, other, "their-node", nil)
		fx.assetIn(other, "theirs-in-node", "10.9.0.2", "ssh/22", theirNode)
		theirGroup := fx.groupIn(other, "their-group")
		fx.create(&store.UserGroupMember{UserGroupID: theirGroup.ID, UserID: alice.ID})
		myNode := fx.node("my-node", nil)
		// A misconfigured membership: their asset in my node.
		fx.assetIn(other, "theirs-in-my-node", "10.9.0.3", "ssh/22", myNode)
		// Their account on my asset.
		fx.create(&store.Account{OrgID: other, AssetID: mine.ID, Name: "intruder", Username: "x", SecretType: store.SecretPassword, IsActive: true})

		// Their permission naming alice directly, granting both assets.
		fx.perm(spec{org: other, users: []*store.User{alice}, assets: []*store.Asset{mine, theirs}})
		// My permission on their group.
		fx.perm(spec{groups: []*store.UserGroup{theirGroup}, assets: []*store.Asset{mine}})
		// My permission on their asset and their node.
		fx.perm(spec{users: []*store.User{alice}, assets: []*store.Asset{theirs}, nodes: []*store.Node{theirNode}})
		fx.wantNames(alice, perm.Query{})
		if _, err := fx.r.Check(fx.ctx, alice.ID, mine.ID, "intruder", "ssh", "connect"); !errors.Is(err, perm.ErrDenied) {
			t.Errorf("check via other org: got %v, want ErrDenied", err)
		}
		nodes, err := fx.userNodes(alice.ID)
		if err != nil || len(nodes) != 0 {
			t.Errorf("nodes: got %v, %v, want none", nodes, err)
		}

		// A proper grant of my node shows only my organization's assets and accounts.
		fx.account(mine, "root", "root")
		fx.create(&store.AssetNode{AssetID: mine.ID, NodeID: myNode.ID})
		fx.perm(spec{users: []*store.User{alice}, nodes: []*store.Node{myNode}})
		fx.wantNames(alice, perm.Query{}, "mine")
		if got, want := grantNames(fx.access(alice, mine).Accounts), []string{"account:root/root"}; !slices.Equal(got, want) {
			t.Errorf("accounts: got %v, want %v", got, want)
		}
		nodes, err = fx.userNodes(alice.ID)
		if err != nil || len(nodes) != 1 || nodes[0].ID != myNode.ID || nodes[0].AssetCount != 1 {
			t.Errorf("nodes: got %+v, %v, want my-node with 1 asset", nodes, err)
		}
	})
}

func TestListing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		u := fx.user("alice")
		root := fx.node("root", nil)
		east := fx.node("east", root)
		west := fx.node("west", root)
		type row struct {
			name, address, protocol string
			west                    bool
		}
		var rows []row
		for i := 1; i <= 12; i++ {
			r := row{fmt.Sprintf("web-%02d", i), fmt.Sprintf("10.0.%d.%d", 13-i, i), "ssh", i%3 == 0}
			if i%4 == 0 {
				r.protocol = "rdp"
			}
			rows = append(rows, r)
		}
		// LIKE wildcards in names: searches must take them literally.
		rows = append(rows, row{"db_1", "192.168.1.1", "mysql", true}, row{"dbx%1", "192.168.1.2", "mysql", true})
		for _, r := range rows {
			n := east
			if r.west {
				n = west
			}
			fx.asset(r.name, r.address, r.protocol+"/1", n)
		}
		fx.asset("elsewhere", "10.0.0.99", "ssh/22", fx.node("other", nil))
		fx.perm(spec{users: []*store.User{u}, nodes: []*store.Node{root}})

		// expect answers q from rows, the way the resolver should.
		expect := func(q perm.Query) []string {
			var sel []row
			for _, r := range rows {
				if q.Search != "" && !strings.Contains(strings.ToLower(r.name), strings.ToLower(q.Search)) && !strings.Contains(r.address, q.Search) ||
					q.NodeID == west.ID && !r.west || q.NodeID == east.ID && r.west || q.Protocol != "" && r.protocol != q.Protocol {
					continue
				}
				sel = append(sel, r)
			}
			slices.SortFunc(sel, func(a, b row) int {
				switch strings.TrimPrefix(q.Sort, "-") {
				case "address":
					if c := strings.Compare(a.address, b.address); c != 0 {
						return c
					}
				}
				return strings.Compare(a.name, b.name)
			})
			if strings.HasPrefix(q.Sort, "-") {
				slices.Reverse(sel)
			}
			limit := q.Limit
			if limit == 0 {
				limit = perm.DefaultLimit
			}
			names := []string{}
			for i := q.Offset; i < len(sel) && i < q.Offset+limit; i++ {
				names = append(names, sel[i].name)
			}
			return names
		}
		for _, q := range []perm.Query{
			{}, {Limit: 100}, {Offset: 5, Limit: 4}, {Offset: 12, Limit: 4}, {Offset: 50},
			{Search: "web-1"}, {Search: "WEB-0", Limit: 3}, {Search: "10.0.1."}, {Search: "db_"}, {Search: "%1"}, {Search: "nothing"},
			{NodeID: west.ID}, {NodeID: west.ID, Search: "db"}, {NodeID: east.ID, Sort: "-address"},
			{Protocol: "rdp"}, {Protocol: "mysql", Sort: "-name"}, {Protocol: "telnet"},
			{Sort: "-name", Limit: 2}, {Sort: "address", Limit: 3}, {Sort: "-address", Limit: 2}, {Sort: "address", Offset: 3, Limit: 5},
		} {
			items, total, err := fx.userAssets(u.ID, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			got := []string{}
			for _, it := range items {
				got = append(got, it.Asset.Name)
			}
			q0 := q
			q0.Offset, q0.Limit = 0, 1000
			if want, wantTotal := expect(q), len(expect(q0)); !slices.Equal(got, want) || total != int64(wantTotal) {
				t.Errorf("%+v: got %v of %d, want %v of %d", q, got, total, want, wantTotal)
			}
		}
		if _, _, err := fx.userAssets(u.ID, perm.Query{Sort: "id; DROP TABLE assets"}); !errors.Is(err, perm.ErrInvalidQuery) {
			t.Errorf("bad sort: got %v, want ErrInvalidQuery", err)
		}
		// A node the user holds nothing in, and a node of nowhere.
		fx.wantNames(u, perm.Query{NodeID: fx.node("empty", nil).ID})
		fx.wantNames(u, perm.Query{NodeID: 987654})

		// A protocol filter keeps only the permissions that grant it.
		other := fx.user("bob")
		mixed := fx.asset("mixed", "10.1.0.1", "ssh/22 rdp/3389")
		fx.account(mixed, "root", "root")
		fx.account(mixed, "admin", "admin")
		fx.perm(spec{users: []*store.User{other}, assets: []*store.Asset{mixed}, accounts: []string{"root"}, protocols: []string{"ssh"}})
		fx.perm(spec{users: []*store.User{other}, assets: []*store.Asset{mixed}, accounts: []string{"admin"}, protocols: []string{"rdp"}})
		items, _, err := fx.userAssets(other.ID, perm.Query{Protocol: "rdp"})
		if err != nil || len(items) != 1 {
			t.Fatalf("rdp listing: got %v, %v", items, err)
		}
		if got := grantNames(items[0].Accounts); !slices.Equal(got, []string{"account:admin/admin"}) || !slices.Equal(items[0].Protocols, []string{"rdp"}) {
			t.Errorf("rdp listing: got %v %v", got, items[0].Protocols)
		}
		fx.wantNames(other, perm.Query{Protocol: "telnet"})
	})
}

func TestAssetSummary(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		u := fx.user("alice")
		var linux store.Platform
		if err := fx.db.Where("name = ?", "Linux").First(&linux).Error; err != nil {
			t.Fatal(err)
		}
		zone := store.Zone{OrgID: fx.org, Name: "dmz"}
		fx.create(&zone)
		a := store.Asset{OrgID: fx.org, Name: "web", Address: "web.example.com", PlatformID: linux.ID, ZoneID: &zone.ID,
			Protocols: store.Protocols{{Name: "ssh", Port: 2222}}, IsActive: true, Labels: store.JSONList{"env:prod"}, Comment: "front"}
		fx.create(&a)
		fx.perm(spec{users: []*store.User{u}, assets: []*store.Asset{&a}})
		items, total, err := fx.userAssets(u.ID, perm.Query{})
		if err != nil || total != 1 || len(items) != 1 {
			t.Fatalf("got %v, %d, %v", items, total, err)
		}
		got := items[0].Asset
		want := perm.AssetSummary{ID: a.ID, Name: "web", Address: "web.example.com", Platform: "Linux", Category: store.CategoryLinux,
			Protocols: store.Protocols{{Name: "ssh", Port: 2222}}, ZoneID: &zone.ID, Labels: []string{"env:prod"}, Comment: "front"}
		if got.ZoneID == nil || *got.ZoneID != zone.ID {
			t.Fatalf("zone: got %v, want %d", got.ZoneID, zone.ID)
		}
		got.ZoneID = want.ZoneID
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %+v, want %+v", got, want)
		}

		// The JSON of docs/api.md.
		root := fx.account(&a, "root", "root")
		fx.perm(spec{users: []*store.User{u}, assets: []*store.Asset{&a}, accounts: []string{"root", "@INPUT"}, protocols: []string{"ssh"}})
		b, err := json.Marshal(fx.access(u, &a))
		if err != nil {
			t.Fatal(err)
		}
		wantJSON := fmt.Sprintf(`{"asset":{"id":%d,"name":"web","address":"web.example.com","platform":"Linux","category":"linux",`+
			`"protocols":[{"name":"ssh","port":2222}],"zone_id":%d,"labels":["env:prod"],"comment":"front"},`+
			`"accounts":[{"id":%d,"name":"root","username":"root","kind":"account"},{"name":"@INPUT","username":"","kind":"@INPUT"}],`+
			`"protocols":["ssh"],"actions":["connect"]}`, a.ID, zone.ID, root.ID)
		if string(b) != wantJSON {
			t.Errorf("JSON:\n got %s\nwant %s", b, wantJSON)
		}
	})
}

func TestUserNodes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, fx *fixture) {
		u := fx.user("alice")
		root := fx.node("root", nil)
		a := fx.node("a", root)
		a1 := fx.node("a1", a)
		a2 := fx.node("a2", a)
		b := fx.node("b", root)
		fx.node("empty", a)
		x := fx.asset("x", "10.0.0.1", "ssh/22", a1, a2) // in two granted nodes: counted once in a
		fx.asset("y", "10.0.0.2", "ssh/22", a)
		fx.asset("z", "10.0.0.3", "ssh/22", a1)
		off := fx.asset("off", "10.0.0.4", "ssh/22", a2)
		fx.deactivate(off)
		direct := fx.asset("direct", "10.0.0.5", "ssh/22", b)
		fx.asset("not-granted", "10.0.0.6", "ssh/22", b)
		fx.perm(spec{users: []*store.User{u}, nodes: []*store.Node{a}, assets: []*store.Asset{direct, x}})

		got, err := fx.userNodes(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, n := range got {
			lines = append(lines, fmt.Sprintf("%s=%d", n.Name, n.AssetCount))
		}
		want := []string{"root=4", "a=3", "a1=2", "a2=1", "b=1"}
		if !slices.Equal(lines, want) {
			t.Errorf("got %v, want %v", lines, want)
		}
		if len(got) > 1 && (got[1].ParentID == nil || *got[1].ParentID != root.ID || got[1].Key != a.Key || got[1].OrgID != fx.org) {
			t.Errorf("node a: got %+v", got[1])
		}
		if nodes, err := fx.userNodes(fx.user("nobody").ID); err != nil || len(nodes) != 0 {
			t.Errorf("user without grants: got %v, %v", nodes, err)
		}
	})
}
