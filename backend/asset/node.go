package asset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/portcullis/portcullis/backend/store"
)

// MaxNodeDepth bounds the depth of the node tree (a root node is at depth 1),
// which keeps every Key within its column.
const MaxNodeDepth = 32

// ValidateNodeName trims name and checks it: 1..128 characters, no control
// characters, no "/" (the path separator) and no ";" (the separator of node
// paths in CSV files). Errors name the field "name".
func ValidateNodeName(name string) (string, error) {
	if err := checkName("name", &name); err != nil {
		return "", err
	}
	if strings.ContainsAny(name, "/;") {
		return "", invalid("name", `must not contain "/" or ";"`)
	}
	return name, nil
}

// SplitNodePath splits "/Default/Web/Prod" into its names. The leading "/" is
// optional, a trailing "/" is ignored, names are trimmed and validated.
// Errors name the field "path".
func SplitNodePath(path string) ([]string, error) {
	p := strings.TrimSpace(path)
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, invalid("path", "is empty")
	}
	parts := strings.Split(p, "/")
	if len(parts) > MaxNodeDepth {
		return nil, invalid("path", "%q is deeper than %d levels", clip(path, 256), MaxNodeDepth)
	}
	for i, name := range parts {
		if strings.TrimSpace(name) == "" {
			return nil, invalid("path", "%q has an empty node name", clip(path, 256))
		}
		n, err := ValidateNodeName(name)
		if err != nil {
			return nil, invalid("path", "%q: node name %q %s", clip(path, 256), clip(strings.TrimSpace(name), 64), err.(*FieldError).Message)
		}
		parts[i] = n
	}
	return parts, nil
}

// JoinNodePath is the inverse of SplitNodePath: "/Default/Web/Prod".
func JoinNodePath(names []string) string {
	return "/" + strings.Join(names, "/")
}

func keyDepth(key string) int { return strings.Count(key, ":") + 1 }

func childKey(parentKey string, id uint) string {
	k := strconv.FormatUint(uint64(id), 10)
	if parentKey == "" {
		return k
	}
	return parentKey + ":" + k
}

// lockOrg takes the organization row for update, serializing the tree
// mutations and imports of one organization, and checks that it exists.
func lockOrg(tx *gorm.DB, orgID uint) error {
	var org store.Organization
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").Where("id = ?", orgID).Take(&org).Error
	if err != nil {
		return fmt.Errorf("asset: organization %d: %w", orgID, store.Translate(err))
	}
	return nil
}

func loadNode(tx *gorm.DB, orgID, id uint) (*store.Node, error) {
	var n store.Node
	if err := tx.Where("id = ? AND org_id = ?", id, orgID).Take(&n).Error; err != nil {
		return nil, fmt.Errorf("asset: node %d: %w", id, store.Translate(err))
	}
	return &n, nil
}

// loadParent loads the would-be parent of a node; a missing one is a
// validation error of parent_id rather than a 404 of the node itself.
func loadParent(tx *gorm.DB, orgID, id uint) (*store.Node, error) {
	p, err := loadNode(tx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid("parent_id", "no node %d in this organization", id)
	}
	return p, err
}

func parentCond(tx *gorm.DB, parentID *uint) *gorm.DB {
	if parentID == nil {
		return tx.Where("parent_id IS NULL")
	}
	return tx.Where("parent_id = ?", *parentID)
}

// checkSiblingFree refuses a second node named name under the same parent.
func checkSiblingFree(tx *gorm.DB, orgID uint, parentID *uint, name string, except uint) error {
	var n int64
	q := parentCond(tx.Model(&store.Node{}).Where("org_id = ? AND name = ? AND id <> ?", orgID, name, except), parentID)
	if err := q.Count(&n).Error; err != nil {
		return fmt.Errorf("asset: %w", store.Translate(err))
	}
	if n > 0 {
		return fmt.Errorf("%w: a node named %q already exists there", store.ErrDuplicate, name)
	}
	return nil
}

// createNodeUnder inserts a node below parent (nil: a root node) and sets its
// Key. The caller has checked the name and its uniqueness among siblings.
func createNodeUnder(tx *gorm.DB, orgID uint, parent *store.Node, name string) (*store.Node, error) {
	n := &store.Node{OrgID: orgID, Name: name}
	parentKey := ""
	if parent != nil {
		if keyDepth(parent.Key) >= MaxNodeDepth {
			return nil, invalid("parent_id", "the node tree may not be deeper than %d levels", MaxNodeDepth)
		}
		id := parent.ID
		n.ParentID, parentKey = &id, parent.Key
	}
	if err := tx.Create(n).Error; err != nil {
		return nil, fmt.Errorf("asset: create node %q: %w", name, store.Translate(err))
	}
	n.Key = childKey(parentKey, n.ID)
	if err := tx.Model(n).Update("key", n.Key).Error; err != nil {
		return nil, fmt.Errorf("asset: create node %q: %w", name, store.Translate(err))
	}
	return n, nil
}

// CreateNode creates a node named name under parentID (nil: a root node) and
// sets its Key to the parent's key + ":" + its ID. A missing parent is a
// validation error of parent_id; a sibling with the same name is
// store.ErrDuplicate.
func CreateNode(ctx context.Context, db *gorm.DB, orgID uint, parentID *uint, name string) (*store.Node, error) {
	name, err := ValidateNodeName(name)
	if err != nil {
		return nil, err
	}
	var n *store.Node
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		var parent *store.Node
		if parentID != nil {
			if parent, err = loadParent(tx, orgID, *parentID); err != nil {
				return err
			}
		}
		if err := checkSiblingFree(tx, orgID, parentID, name, 0); err != nil {
			return err
		}
		n, err = createNodeUnder(tx, orgID, parent, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// RenameNode renames a node. A sibling with the same name is store.ErrDuplicate.
func RenameNode(ctx context.Context, db *gorm.DB, orgID, id uint, name string) (*store.Node, error) {
	name, err := ValidateNodeName(name)
	if err != nil {
		return nil, err
	}
	var n *store.Node
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		if n, err = loadNode(tx, orgID, id); err != nil {
			return err
		}
		if n.Name == name {
			return nil
		}
		if err := checkSiblingFree(tx, orgID, n.ParentID, name, n.ID); err != nil {
			return err
		}
		n.Name = name
		if err := tx.Model(n).Update("name", name).Error; err != nil {
			return fmt.Errorf("asset: rename node %d: %w", id, store.Translate(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// MoveNode moves a node and its subtree under parentID (nil: to the root),
// re-keying every node of the subtree. Moving a node under itself or one of
// its descendants is a validation error of parent_id.
func MoveNode(ctx context.Context, db *gorm.DB, orgID, id uint, parentID *uint) (*store.Node, error) {
	var n *store.Node
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		var err error
		if n, err = loadNode(tx, orgID, id); err != nil {
			return err
		}
		parentKey := ""
		if parentID != nil {
			p, err := loadParent(tx, orgID, *parentID)
			if err != nil {
				return err
			}
			if p.Key == n.Key || strings.HasPrefix(p.Key, n.Key+":") {
				return invalid("parent_id", "cannot move node %q under itself or one of its descendants", n.Name)
			}
			parentKey = p.Key
		}
		if sameUint(n.ParentID, parentID) {
			return nil
		}
		if err := checkSiblingFree(tx, orgID, parentID, n.Name, n.ID); err != nil {
			return err
		}
		oldKey, newKey := n.Key, childKey(parentKey, n.ID)
		var keys []string
		if err := tx.Model(&store.Node{}).Where("org_id = ? AND key LIKE ?", orgID, oldKey+":%").Pluck("key", &keys).Error; err != nil {
			return fmt.Errorf("asset: move node %d: %w", id, store.Translate(err))
		}
		height := 1
		for _, k := range keys {
			height = max(height, keyDepth(k)-keyDepth(oldKey)+1)
		}
		if keyDepth(newKey)+height-1 > MaxNodeDepth {
			return invalid("parent_id", "the node tree may not be deeper than %d levels", MaxNodeDepth)
		}
		var newParent *uint
		if parentID != nil {
			pid := *parentID
			newParent = &pid
		}
		if err := tx.Model(&store.Node{}).Where("id = ?", n.ID).
			Updates(map[string]any{"parent_id": newParent, "key": newKey}).Error; err != nil {
			return fmt.Errorf("asset: move node %d: %w", id, store.Translate(err))
		}
		if len(keys) > 0 {
			// Descendant keys all start with oldKey + ":"; swap that prefix.
			if err := tx.Model(&store.Node{}).Where("org_id = ? AND key LIKE ?", orgID, oldKey+":%").
				UpdateColumn("key", gorm.Expr("? || SUBSTR(key, ?)", newKey, len(oldKey)+1)).Error; err != nil {
				return fmt.Errorf("asset: move node %d: re-key subtree: %w", id, store.Translate(err))
			}
		}
		n.ParentID, n.Key = newParent, newKey
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func sameUint(a, b *uint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DeleteNode deletes an empty node and the permission grants naming it. A node
// that holds child nodes or assets is refused with ErrNodeNotEmpty, which says
// how many of each.
func DeleteNode(ctx context.Context, db *gorm.DB, orgID, id uint) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		n, err := loadNode(tx, orgID, id)
		if err != nil {
			return err
		}
		var children, assets int64
		if err := tx.Model(&store.Node{}).Where("parent_id = ?", id).Count(&children).Error; err != nil {
			return fmt.Errorf("asset: delete node %d: %w", id, store.Translate(err))
		}
		if err := tx.Model(&store.AssetNode{}).Where("node_id = ?", id).Count(&assets).Error; err != nil {
			return fmt.Errorf("asset: delete node %d: %w", id, store.Translate(err))
		}
		if children > 0 || assets > 0 {
			return fmt.Errorf("%w: %q holds %s and %s; move or delete them first", ErrNodeNotEmpty,
				n.Name, plural(children, "child node", "child nodes"), plural(assets, "asset", "assets"))
		}
		if err := tx.Where("node_id = ?", id).Delete(&store.PermNode{}).Error; err != nil {
			return fmt.Errorf("asset: delete node %d: %w", id, store.Translate(err))
		}
		if err := tx.Delete(&store.Node{}, id).Error; err != nil {
			return fmt.Errorf("asset: delete node %d: %w", id, store.Translate(err))
		}
		return nil
	})
}

// NodeByPath finds the node at path ("/Default/Web/Prod"; root nodes are those
// without parent). With create, missing nodes along the path are created;
// without, a missing node is store.ErrNotFound. A malformed path is a
// validation error of the field "path".
func NodeByPath(ctx context.Context, db *gorm.DB, orgID uint, path string, create bool) (*store.Node, error) {
	names, err := SplitNodePath(path)
	if err != nil {
		return nil, err
	}
	walk := func(tx *gorm.DB) (*store.Node, error) {
		var cur *store.Node
		for _, name := range names {
			var parentID *uint
			if cur != nil {
				parentID = &cur.ID
			}
			var next store.Node
			err := parentCond(tx.Where("org_id = ? AND name = ?", orgID, name), parentID).Take(&next).Error
			switch {
			case err == nil:
				cur = &next
			case errors.Is(err, gorm.ErrRecordNotFound) && create:
				if cur, err = createNodeUnder(tx, orgID, cur, name); err != nil {
					return nil, err
				}
			case errors.Is(err, gorm.ErrRecordNotFound):
				return nil, fmt.Errorf("asset: node %s: %w", path, store.ErrNotFound)
			default:
				return nil, fmt.Errorf("asset: node %s: %w", path, store.Translate(err))
			}
		}
		return cur, nil
	}
	if !create {
		return walk(db.WithContext(ctx))
	}
	var n *store.Node
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		n, err = walk(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// NodePaths returns the path ("/Default/Web") of every node of an organization.
func NodePaths(ctx context.Context, db *gorm.DB, orgID uint) (map[uint]string, error) {
	ix, err := loadNodeIndex(db.WithContext(ctx), orgID)
	if err != nil {
		return nil, err
	}
	out := make(map[uint]string, len(ix.byID))
	for id := range ix.byID {
		out[id] = ix.path(id)
	}
	return out, nil
}

// AssetIDsUnder returns a subquery of the IDs of the assets in n's subtree,
// for use as db.Where("id IN (?)", asset.AssetIDsUnder(db, n)).
func AssetIDsUnder(db *gorm.DB, n *store.Node) *gorm.DB {
	return db.Session(&gorm.Session{NewDB: true}).Model(&store.AssetNode{}).
		Select("asset_nodes.asset_id").
		Joins("JOIN nodes ON nodes.id = asset_nodes.node_id").
		Where("nodes.org_id = ? AND (nodes.key = ? OR nodes.key LIKE ?)", n.OrgID, n.Key, n.Key+":%")
}

// nodeIndex is an in-memory copy of an organization's tree, used by import
// and export to resolve paths without a query per row.
type nodeIndex struct {
	byID  map[uint]*store.Node
	child map[nodeSlot]uint
}

// nodeSlot is a place in the tree: a name under a parent (0: the root level).
type nodeSlot struct {
	parent uint
	name   string
}

func loadNodeIndex(tx *gorm.DB, orgID uint) (*nodeIndex, error) {
	var nodes []*store.Node
	if err := tx.Where("org_id = ?", orgID).Find(&nodes).Error; err != nil {
		return nil, fmt.Errorf("asset: load nodes: %w", store.Translate(err))
	}
	ix := &nodeIndex{byID: make(map[uint]*store.Node, len(nodes)), child: make(map[nodeSlot]uint, len(nodes))}
	for _, n := range nodes {
		ix.add(n)
	}
	return ix, nil
}

func slotOf(n *store.Node) nodeSlot {
	s := nodeSlot{name: n.Name}
	if n.ParentID != nil {
		s.parent = *n.ParentID
	}
	return s
}

func (ix *nodeIndex) add(n *store.Node) {
	ix.byID[n.ID] = n
	ix.child[slotOf(n)] = n.ID
}

func (ix *nodeIndex) remove(id uint) {
	if n, ok := ix.byID[id]; ok {
		delete(ix.child, slotOf(n))
		delete(ix.byID, id)
	}
}

// path returns "/A/B/C" for a node of the index.
func (ix *nodeIndex) path(id uint) string {
	var names []string
	for n := ix.byID[id]; n != nil && len(names) <= MaxNodeDepth; {
		names = append(names, n.Name)
		if n.ParentID == nil {
			break
		}
		n = ix.byID[*n.ParentID]
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return JoinNodePath(names)
}

// ensure returns the ID of the node at names, creating missing nodes in tx.
// The IDs of created nodes are appended to *created so that the caller can
// forget them if tx is rolled back.
func (ix *nodeIndex) ensure(tx *gorm.DB, orgID uint, names []string, created *[]uint) (uint, error) {
	var cur *store.Node
	for _, name := range names {
		slot := nodeSlot{name: name}
		if cur != nil {
			slot.parent = cur.ID
		}
		if id, ok := ix.child[slot]; ok {
			cur = ix.byID[id]
			continue
		}
		n, err := createNodeUnder(tx, orgID, cur, name)
		if err != nil {
			return 0, err
		}
		ix.add(n)
		*created = append(*created, n.ID)
		cur = n
	}
	return cur.ID, nil
}
