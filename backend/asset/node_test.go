package asset

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func ptr(v uint) *uint { return &v }

func TestCreateNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		root, err := CreateNode(e.ctx, e.db, e.orgA, nil, " Default ")
		if err != nil {
			t.Fatal(err)
		}
		if root.Name != "Default" || root.ParentID != nil || root.Key != strconv.Itoa(int(root.ID)) {
			t.Errorf("root: got %+v", root)
		}
		child, err := CreateNode(e.ctx, e.db, e.orgA, &root.ID, "Web")
		if err != nil {
			t.Fatal(err)
		}
		if want := root.Key + ":" + strconv.Itoa(int(child.ID)); child.Key != want {
			t.Errorf("child key: got %q, want %q", child.Key, want)
		}
		var stored store.Node
		e.db.First(&stored, child.ID)
		if stored.Key != child.Key {
			t.Errorf("stored key: got %q, want %q", stored.Key, child.Key)
		}

		tests := []struct {
			name   string
			org    uint
			parent *uint
			node   string
			check  func(error) bool
		}{
			{"duplicate root", e.orgA, nil, "Default", func(err error) bool { return errors.Is(err, store.ErrDuplicate) }},
			{"duplicate child", e.orgA, &root.ID, "Web", func(err error) bool { return errors.Is(err, store.ErrDuplicate) }},
			{"slash in name", e.orgA, nil, "a/b", func(err error) bool { return fieldIs(err, "name") }},
			{"semicolon in name", e.orgA, nil, "a;b", func(err error) bool { return fieldIs(err, "name") }},
			{"missing parent", e.orgA, ptr(99999), "x", func(err error) bool { return fieldIs(err, "parent_id") }},
			{"parent of another org", e.orgB, &root.ID, "x", func(err error) bool { return fieldIs(err, "parent_id") }},
			{"unknown org", 99999, nil, "x", func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := CreateNode(e.ctx, e.db, tt.org, tt.parent, tt.node)
				if !tt.check(err) {
					t.Errorf("got %v", err)
				}
			})
		}
		// The same name is fine in another org and under another parent.
		if _, err := CreateNode(e.ctx, e.db, e.orgB, nil, "Default"); err != nil {
			t.Errorf("same root name in org B: %v", err)
		}
		if _, err := CreateNode(e.ctx, e.db, e.orgA, &child.ID, "Web"); err != nil {
			t.Errorf("same name under another parent: %v", err)
		}
	})
}

func fieldIs(err error, field string) bool {
	var fe interface{ FieldName() string }
	return errors.As(err, &fe) && fe.FieldName() == field && errors.Is(err, ErrInvalid)
}

func TestNodeDepthLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		deep := "/" + strings.Repeat("n/", MaxNodeDepth)
		n, err := NodeByPath(e.ctx, e.db, e.orgA, deep, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(n.Key, ":") + 1; got != MaxNodeDepth {
			t.Fatalf("depth: got %d, want %d", got, MaxNodeDepth)
		}
		if _, err := CreateNode(e.ctx, e.db, e.orgA, &n.ID, "one-too-many"); !fieldIs(err, "parent_id") {
			t.Errorf("create below the limit: got %v", err)
		}
		// Moving a two-level subtree under depth 31 would make depth 33.
		a, _ := NodeByPath(e.ctx, e.db, e.orgA, "/other/child", true)
		top, _ := NodeByPath(e.ctx, e.db, e.orgA, "/other", false)
		if a == nil || top == nil {
			t.Fatal("setup failed")
		}
		if _, err := MoveNode(e.ctx, e.db, e.orgA, top.ID, n.ParentID); !fieldIs(err, "parent_id") {
			t.Errorf("move beyond the limit: got %v", err)
		}
	})
}

func TestNodeByPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		if _, err := NodeByPath(e.ctx, e.db, e.orgA, "/Default/Web", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing path without create: got %v", err)
		}
		prod, err := NodeByPath(e.ctx, e.db, e.orgA, "/Default/Web/Prod", true)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.count(t, &store.Node{}, "org_id = ?", e.orgA); got != 3 {
			t.Errorf("nodes created: got %d, want 3", got)
		}
		again, err := NodeByPath(e.ctx, e.db, e.orgA, "Default/Web/Prod/", false)
		if err != nil || again.ID != prod.ID {
			t.Errorf("lookup: got %v, %v, want node %d", again, err, prod.ID)
		}
		canary, err := NodeByPath(e.ctx, e.db, e.orgA, "/Default/Web/Canary", true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(canary.Key, strings.TrimSuffix(prod.Key, strconv.Itoa(int(prod.ID)))) {
			t.Errorf("siblings have different parent keys: %q, %q", canary.Key, prod.Key)
		}
		if got := e.count(t, &store.Node{}, "org_id = ?", e.orgA); got != 4 {
			t.Errorf("nodes: got %d, want 4", got)
		}
		if _, err := NodeByPath(e.ctx, e.db, e.orgB, "/Default/Web/Prod", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("org B sees org A's nodes: %v", err)
		}
		if _, err := NodeByPath(e.ctx, e.db, e.orgA, "/Default//Prod", true); !fieldIs(err, "path") {
			t.Errorf("bad path: got %v", err)
		}
		paths, err := NodePaths(e.ctx, e.db, e.orgA)
		if err != nil {
			t.Fatal(err)
		}
		if paths[prod.ID] != "/Default/Web/Prod" || paths[canary.ID] != "/Default/Web/Canary" {
			t.Errorf("NodePaths: got %v", paths)
		}
	})
}

func TestMoveNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		mk := func(p string) *store.Node {
			n, err := NodeByPath(e.ctx, e.db, e.orgA, p, true)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		leaf := mk("/A/B/C/D")
		mk("/A/B/C2")
		b := mk("/A/B")
		x := mk("/X")
		a := mk("/A")

		if _, err := MoveNode(e.ctx, e.db, e.orgA, b.ID, &b.ID); !fieldIs(err, "parent_id") {
			t.Errorf("move under itself: got %v", err)
		}
		if _, err := MoveNode(e.ctx, e.db, e.orgA, b.ID, &leaf.ID); !fieldIs(err, "parent_id") {
			t.Errorf("move under a descendant: got %v", err)
		}
		if _, err := MoveNode(e.ctx, e.db, e.orgB, b.ID, &x.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("move from another org: got %v", err)
		}

		moved, err := MoveNode(e.ctx, e.db, e.orgA, b.ID, &x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if moved.ParentID == nil || *moved.ParentID != x.ID {
			t.Errorf("parent: got %v, want %d", moved.ParentID, x.ID)
		}
		checkTree(t, e, e.orgA)
		paths, _ := NodePaths(e.ctx, e.db, e.orgA)
		if got := paths[leaf.ID]; got != "/X/B/C/D" {
			t.Errorf("leaf path after move: got %q", got)
		}
		// Assets of the subtree follow it.
		as := &store.Asset{OrgID: e.orgA, Name: "web", Address: "h", PlatformID: e.linuxP, IsActive: true}
		storetest.MustCreate(t, e.db, as)
		storetest.MustCreate(t, e.db, &store.AssetNode{AssetID: as.ID, NodeID: leaf.ID})
		var under []uint
		e.db.Model(&store.Asset{}).Where("id IN (?)", AssetIDsUnder(e.db, x)).Pluck("id", &under)
		if len(under) != 1 || under[0] != as.ID {
			t.Errorf("assets under /X: got %v, want [%d]", under, as.ID)
		}
		under = nil
		e.db.Model(&store.Asset{}).Where("id IN (?)", AssetIDsUnder(e.db, a)).Pluck("id", &under)
		if len(under) != 0 {
			t.Errorf("assets under /A: got %v, want none", under)
		}

		// Back to the root, then a name clash.
		if _, err := MoveNode(e.ctx, e.db, e.orgA, b.ID, nil); err != nil {
			t.Fatal(err)
		}
		checkTree(t, e, e.orgA)
		mk("/X/B")
		if _, err := MoveNode(e.ctx, e.db, e.orgA, b.ID, &x.ID); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("move onto a sibling's name: got %v", err)
		}
		checkTree(t, e, e.orgA)
	})
}

// checkTree checks every key of org's tree against its parents.
func checkTree(t *testing.T, e *env, org uint) {
	t.Helper()
	var nodes []store.Node
	e.db.Where("org_id = ?", org).Find(&nodes)
	byID := map[uint]store.Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	for _, n := range nodes {
		want := strconv.Itoa(int(n.ID))
		if n.ParentID != nil {
			p, ok := byID[*n.ParentID]
			if !ok {
				t.Errorf("node %d: parent %d missing", n.ID, *n.ParentID)
				continue
			}
			want = p.Key + ":" + want
		}
		if n.Key != want {
			t.Errorf("node %d %q: key %q, want %q", n.ID, n.Name, n.Key, want)
		}
		if _, err := ValidateNodeName(n.Name); err != nil {
			t.Errorf("node %d: %v", n.ID, err)
		}
	}
}

func TestRenameNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		web, _ := NodeByPath(e.ctx, e.db, e.orgA, "/D/Web", true)
		NodeByPath(e.ctx, e.db, e.orgA, "/D/DB", true)
		if _, err := RenameNode(e.ctx, e.db, e.orgA, web.ID, "DB"); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("rename onto a sibling: got %v", err)
		}
		if _, err := RenameNode(e.ctx, e.db, e.orgB, web.ID, "Z"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rename from another org: got %v", err)
		}
		n, err := RenameNode(e.ctx, e.db, e.orgA, web.ID, "Frontend")
		if err != nil || n.Name != "Frontend" {
			t.Fatalf("rename: %v, %v", n, err)
		}
		if _, err := NodeByPath(e.ctx, e.db, e.orgA, "/D/Frontend", false); err != nil {
			t.Errorf("renamed path: %v", err)
		}
	})
}

func TestDeleteNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		d, _ := NodeByPath(e.ctx, e.db, e.orgA, "/D", true)
		web, _ := NodeByPath(e.ctx, e.db, e.orgA, "/D/Web", true)
		NodeByPath(e.ctx, e.db, e.orgA, "/D/DB", true)
		for _, name := range []string{"a1", "a2"} {
			a := &store.Asset{OrgID: e.orgA, Name: name, Address: "h", PlatformID: e.linuxP, IsActive: true}
			storetest.MustCreate(t, e.db, a)
			storetest.MustCreate(t, e.db, &store.AssetNode{AssetID: a.ID, NodeID: web.ID})
		}
		err := DeleteNode(e.ctx, e.db, e.orgA, d.ID)
		if !errors.Is(err, ErrNodeNotEmpty) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("delete a node with children: got %v", err)
		}
		if !strings.Contains(err.Error(), "2 child nodes and 0 assets") {
			t.Errorf("message %q does not count the children", err)
		}
		err = DeleteNode(e.ctx, e.db, e.orgA, web.ID)
		if !errors.Is(err, ErrNodeNotEmpty) || !strings.Contains(err.Error(), "0 child nodes and 2 assets") {
			t.Fatalf("delete a node with assets: got %v", err)
		}
		if err := DeleteNode(e.ctx, e.db, e.orgB, web.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete from another org: got %v", err)
		}
		e.db.Where("node_id = ?", web.ID).Delete(&store.AssetNode{})
		perm := &store.AssetPermission{OrgID: e.orgA, Name: "p", IsActive: true}
		storetest.MustCreate(t, e.db, perm)
		storetest.MustCreate(t, e.db, &store.PermNode{AssetPermissionID: perm.ID, NodeID: web.ID})
		if err := DeleteNode(e.ctx, e.db, e.orgA, web.ID); err != nil {
			t.Fatalf("delete an empty node: %v", err)
		}
		if n := e.count(t, &store.Node{}, "id = ?", web.ID); n != 0 {
			t.Errorf("node still there")
		}
		if n := e.count(t, &store.PermNode{}, "node_id = ?", web.ID); n != 0 {
			t.Errorf("permission grant of the deleted node still there")
		}
	})
}
