package asset

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/portcullis/portcullis/backend/store"
)

// assetColumns are the columns of an asset CSV file, in export order.
var assetColumns = []string{"name", "address", "platform", "protocols", "nodes", "zone", "labels", "is_active", "comment"}

var assetRequired = []string{"name", "address", "platform", "protocols"}

// assetFieldColumn maps the JSON field names of validation errors to columns.
var assetFieldColumn = map[string]string{"platform_id": "platform", "zone_id": "zone", "node_ids": "nodes", "path": "nodes"}

// AssetColumns returns the columns of an asset CSV file, in export order.
func AssetColumns() []string { return slices.Clone(assetColumns) }

// ImportAssets reads an asset CSV file (see the package comment and
// AssetColumns) and upserts its rows into organization orgID by name.
// "nodes" is a ";"-separated list of node paths, created as needed; platform
// is a platform name (case-insensitive, must exist); zone a zone name of the
// organization (must exist); protocols "ssh/22,sftp/22"; labels a
// ";"-separated list of "key:value"; is_active true or false. A name given
// twice in one file is an error of the later row. Problems with the file as a
// whole (size, syntax, header) return an error wrapping ErrInvalid (field
// "file") or ErrTooLarge, and nothing is written.
func ImportAssets(ctx context.Context, db *gorm.DB, orgID uint, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	return runImport(ctx, db, orgID, r, opts, assetColumns, assetRequired, assetFieldColumn,
		func(tx *gorm.DB, t *csvTable) (rowImporter[*assetPlan], error) { return newAssetImporter(tx, orgID, t) })
}

type assetImporter struct {
	orgID     uint
	t         *csvTable
	platforms []store.Platform
	zones     map[string]uint         // zone name -> ID
	nodes     *nodeIndex              // the org's tree, kept in step with tx
	assets    map[string]*store.Asset // by name, kept in step with tx
	members   map[uint][]uint         // asset ID -> sorted node IDs
	seen      map[string]int          // name -> first row of the file naming it
}

func newAssetImporter(tx *gorm.DB, orgID uint, t *csvTable) (*assetImporter, error) {
	im := &assetImporter{orgID: orgID, t: t, zones: map[string]uint{}, assets: map[string]*store.Asset{},
		members: map[uint][]uint{}, seen: map[string]int{}}
	if err := tx.Order("id").Find(&im.platforms).Error; err != nil {
		return nil, fmt.Errorf("asset: load platforms: %w", store.Translate(err))
	}
	var zones []store.Zone
	if err := tx.Where("org_id = ?", orgID).Find(&zones).Error; err != nil {
		return nil, fmt.Errorf("asset: load zones: %w", store.Translate(err))
	}
	for _, z := range zones {
		im.zones[z.Name] = z.ID
	}
	var err error
	if im.nodes, err = loadNodeIndex(tx, orgID); err != nil {
		return nil, err
	}
	var assets []*store.Asset
	if err := tx.Where("org_id = ?", orgID).Find(&assets).Error; err != nil {
		return nil, fmt.Errorf("asset: load assets: %w", store.Translate(err))
	}
	for _, a := range assets {
		im.assets[a.Name] = a
	}
	var links []store.AssetNode
	if err := tx.Model(&store.AssetNode{}).Joins("JOIN assets ON assets.id = asset_nodes.asset_id").
		Where("assets.org_id = ?", orgID).Find(&links).Error; err != nil {
		return nil, fmt.Errorf("asset: load node memberships: %w", store.Translate(err))
	}
	for _, l := range links {
		im.members[l.AssetID] = append(im.members[l.AssetID], l.NodeID)
	}
	for id := range im.members {
		slices.Sort(im.members[id])
	}
	return im, nil
}

// platform finds a platform by name: exactly, else case-insensitively.
func (im *assetImporter) platform(name string) (uint, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, invalid("platform", "is required")
	}
	var found []uint
	for _, p := range im.platforms {
		if p.Name == name {
			return p.ID, nil
		}
		if strings.EqualFold(p.Name, name) {
			found = append(found, p.ID)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	names := make([]string, len(im.platforms))
	for i, p := range im.platforms {
		names[i] = p.Name
	}
	return 0, invalid("platform", "no platform named %q (known: %s)", clip(name, 64), strings.Join(names, ", "))
}

type assetPlan struct {
	row      csvRow
	asset    store.Asset  // the row's final state
	existing *store.Asset // nil when creating
	setNodes bool         // the file has a nodes column
	paths    [][]string   // node paths of the row
}

// prepare validates a row completely, without writing, and returns every
// bad field it finds.
func (im *assetImporter) prepare(row csvRow) (*assetPlan, []*FieldError) {
	t := im.t
	bad := map[string]bool{}
	var errs []*FieldError
	fail := func(err error) {
		fe := err.(*FieldError)
		if c, ok := assetFieldColumn[fe.Field]; ok {
			fe = &FieldError{Field: c, Message: fe.Message}
		}
		if !bad[fe.Field] {
			bad[fe.Field] = true
			errs = append(errs, fe)
		}
	}
	name, _ := t.get(row, "name")
	name = strings.TrimSpace(name)
	if name != "" {
		if first, dup := im.seen[name]; dup {
			return nil, []*FieldError{invalid("name", "%q is also on row %d", clip(name, 64), first)}
		}
		im.seen[name] = row.num
	}
	p := &assetPlan{row: row, existing: im.assets[name]}
	if p.existing != nil {
		p.asset = *p.existing
		p.asset.Labels = slices.Clone(p.existing.Labels)
		p.asset.Protocols = slices.Clone(p.existing.Protocols)
	} else {
		p.asset = store.Asset{OrgID: im.orgID, Name: name, IsActive: true}
	}
	a := &p.asset
	a.Address, _ = t.get(row, "address")
	pname, _ := t.get(row, "platform")
	if id, err := im.platform(pname); err != nil {
		fail(err)
	} else {
		a.PlatformID = id
	}
	protos, _ := t.get(row, "protocols")
	if pr, err := ParseProtocols(protos); err != nil {
		fail(err)
	} else {
		a.Protocols = pr
	}
	if z, ok := t.get(row, "zone"); ok {
		a.ZoneID = nil
		if z = strings.TrimSpace(z); z != "" {
			if id, ok := im.zones[z]; ok {
				a.ZoneID = &id
			} else {
				fail(invalid("zone", "no zone named %q in this organization", clip(z, 64)))
			}
		}
	}
	if l, ok := t.get(row, "labels"); ok {
		a.Labels = splitList(l)
	}
	if s, ok := t.get(row, "is_active"); ok && strings.TrimSpace(s) != "" {
		if v, err := parseBool("is_active", s); err != nil {
			fail(err)
		} else {
			a.IsActive = v
		}
	}
	if c, ok := t.get(row, "comment"); ok {
		a.Comment = c
	}
	if n, ok := t.get(row, "nodes"); ok {
		p.setNodes = true
		seen := map[string]bool{}
		for _, path := range splitList(n) {
			names, err := SplitNodePath(path)
			if err != nil {
				fail(err)
				break
			}
			if k := JoinNodePath(names); !seen[k] {
				seen[k] = true
				p.paths = append(p.paths, names)
			}
		}
	}
	for _, fe := range validateAsset(a) {
		if c, ok := assetFieldColumn[fe.Field]; ok && bad[c] {
			continue // already reported, e.g. an unknown platform
		}
		fail(fe)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(x, y *FieldError) int {
			return slices.Index(assetColumns, x.Field) - slices.Index(assetColumns, y.Field)
		})
		return nil, errs
	}
	return p, nil
}

// splitList splits a ";"-separated cell, trimming items and dropping empty ones.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (im *assetImporter) row(p *assetPlan) csvRow { return p.row }

// apply writes prepared rows in tx: node paths are created as needed, new
// assets inserted in batches, changed ones updated, memberships replaced.
func (im *assetImporter) apply(tx *gorm.DB, plans []*assetPlan) (func(*ImportResult), func(), error) {
	var newNodes []uint
	undo := func() {
		for _, id := range newNodes {
			im.nodes.remove(id)
		}
	}
	type result struct {
		a       store.Asset
		nodes   []uint
		setNode bool // replace the memberships by nodes
		out     outcome
	}
	results := make([]result, len(plans))
	var (
		fresh    []store.Asset
		freshIdx []int
		relink   []uint
	)
	for i, p := range plans {
		d := &results[i]
		d.a = p.asset
		for _, names := range p.paths {
			id, err := im.nodes.ensure(tx, im.orgID, names, &newNodes)
			if err != nil {
				return nil, undo, err
			}
			d.nodes = append(d.nodes, id)
		}
		slices.Sort(d.nodes)
		d.nodes = slices.Compact(d.nodes)
		if p.existing == nil {
			d.out, d.setNode = outCreated, p.setNodes
			fresh, freshIdx = append(fresh, d.a), append(freshIdx, i)
			continue
		}
		d.out = outUnchanged
		if !sameAsset(p.existing, &d.a) {
			d.out = outUpdated
			err := tx.Model(&store.Asset{ID: d.a.ID}).Updates(map[string]any{
				"address": d.a.Address, "platform_id": d.a.PlatformID, "protocols": d.a.Protocols, "zone_id": d.a.ZoneID,
				"is_active": d.a.IsActive, "labels": d.a.Labels, "comment": d.a.Comment,
			}).Error
			if err != nil {
				return nil, undo, fmt.Errorf("asset: update %q: %w", d.a.Name, store.Translate(err))
			}
		}
		if p.setNodes && !slices.Equal(im.members[d.a.ID], d.nodes) {
			d.out, d.setNode = outUpdated, true
			relink = append(relink, d.a.ID)
		}
	}
	if len(fresh) > 0 {
		if err := tx.Omit(clause.Associations).CreateInBatches(&fresh, importChunk).Error; err != nil {
			return nil, undo, fmt.Errorf("asset: create %s: %w", assetNames(fresh), store.Translate(err))
		}
		for j, i := range freshIdx {
			results[i].a.ID = fresh[j].ID
		}
	}
	if len(relink) > 0 {
		if err := tx.Where("asset_id IN ?", relink).Delete(&store.AssetNode{}).Error; err != nil {
			return nil, undo, fmt.Errorf("asset: update node memberships: %w", store.Translate(err))
		}
	}
	var links []store.AssetNode
	for _, d := range results {
		if d.setNode {
			for _, id := range d.nodes {
				links = append(links, store.AssetNode{AssetID: d.a.ID, NodeID: id})
			}
		}
	}
	if len(links) > 0 {
		if err := tx.CreateInBatches(&links, 1000).Error; err != nil {
			return nil, undo, fmt.Errorf("asset: set node memberships: %w", store.Translate(err))
		}
	}
	commit := func(res *ImportResult) {
		for i := range results {
			d := &results[i]
			im.assets[d.a.Name] = &d.a
			if d.setNode {
				im.members[d.a.ID] = d.nodes
			}
			res.count(d.out)
		}
	}
	return commit, undo, nil
}

// assetNames names the assets of a failed insert: the name of one, or a count.
func assetNames(as []store.Asset) string {
	if len(as) == 1 {
		return fmt.Sprintf("%q", as[0].Name)
	}
	return fmt.Sprintf("%d assets", len(as))
}

func sameAsset(x, y *store.Asset) bool {
	return x.Address == y.Address && x.PlatformID == y.PlatformID && slices.Equal(x.Protocols, y.Protocols) &&
		sameUint(x.ZoneID, y.ZoneID) && x.IsActive == y.IsActive && slices.Equal(x.Labels, y.Labels) &&
		x.Comment == y.Comment
}
