package asset

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// ExportFilter narrows an export; the zero value exports everything of the
// organization. For accounts it selects the accounts of the matching assets.
type ExportFilter struct {
	NodeID     uint   // only assets in this node's subtree
	PlatformID uint   // only assets of this platform
	ZoneID     uint   // only assets of this zone
	AssetIDs   []uint // only these assets (nil: no restriction)
}

const exportBatch = 500

// assetScope returns the assets of orgID that f selects.
func (f ExportFilter) assetScope(tx *gorm.DB, orgID uint) (*gorm.DB, error) {
	q := tx.Model(&store.Asset{}).Where("assets.org_id = ?", orgID)
	if f.NodeID != 0 {
		n, err := loadNode(tx, orgID, f.NodeID)
		if err != nil {
			return nil, err
		}
		q = q.Where("assets.id IN (?)", AssetIDsUnder(tx, n))
	}
	if f.PlatformID != 0 {
		q = q.Where("assets.platform_id = ?", f.PlatformID)
	}
	if f.ZoneID != 0 {
		q = q.Where("assets.zone_id = ?", f.ZoneID)
	}
	if f.AssetIDs != nil {
		if len(f.AssetIDs) == 0 {
			q = q.Where("1 = 0")
		} else {
			q = q.Where("assets.id IN ?", f.AssetIDs)
		}
	}
	return q, nil
}

// ExportAssets writes the assets of orgID selected by f as CSV (columns of
// AssetColumns, in ID order), fit for ImportAssets. Cells are guarded against
// formula injection (see the package comment).
func ExportAssets(ctx context.Context, db *gorm.DB, orgID uint, w io.Writer, f ExportFilter) error {
	tx := db.WithContext(ctx)
	q, err := f.assetScope(tx, orgID)
	if err != nil {
		return err
	}
	platforms, err := platformNames(tx)
	if err != nil {
		return err
	}
	var zones []store.Zone
	if err := tx.Select("id", "name").Where("org_id = ?", orgID).Find(&zones).Error; err != nil {
		return fmt.Errorf("asset: export: load zones: %w", store.Translate(err))
	}
	zoneName := make(map[uint]string, len(zones))
	for _, z := range zones {
		zoneName[z.ID] = z.Name
	}
	ix, err := loadNodeIndex(tx, orgID)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(assetColumns); err != nil {
		return fmt.Errorf("asset: export: %w", err)
	}
	var batch []store.Asset
	res := q.FindInBatches(&batch, exportBatch, func(btx *gorm.DB, _ int) error {
		ids := make([]uint, len(batch))
		for i, a := range batch {
			ids[i] = a.ID
		}
		var links []store.AssetNode
		if err := tx.Where("asset_id IN ?", ids).Find(&links).Error; err != nil {
			return fmt.Errorf("asset: export: load node memberships: %w", store.Translate(err))
		}
		paths := make(map[uint][]string, len(batch))
		for _, l := range links {
			if _, ok := ix.byID[l.NodeID]; ok {
				paths[l.AssetID] = append(paths[l.AssetID], ix.path(l.NodeID))
			}
		}
		for _, a := range batch {
			slices.Sort(paths[a.ID])
			zone := ""
			if a.ZoneID != nil {
				zone = zoneName[*a.ZoneID]
			}
			err := writeRecord(cw, a.Name, a.Address, platforms[a.PlatformID], FormatProtocols(a.Protocols),
				strings.Join(paths[a.ID], ";"), zone, strings.Join(a.Labels, ";"), formatBool(a.IsActive), a.Comment)
			if err != nil {
				return fmt.Errorf("asset: export: %w", err)
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if res.Error != nil {
		return fmt.Errorf("asset: export assets: %w", res.Error)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("asset: export: %w", err)
	}
	return nil
}

func platformNames(tx *gorm.DB) (map[uint]string, error) {
	var ps []store.Platform
	if err := tx.Select("id", "name").Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("asset: export: load platforms: %w", store.Translate(err))
	}
	m := make(map[uint]string, len(ps))
	for _, p := range ps {
		m[p.ID] = p.Name
	}
	return m, nil
}

// ExportAccounts writes the accounts of the assets of orgID selected by f as
// CSV (the columns of AccountColumns but "secret", in ID order), fit for
// ImportAccounts. Secrets are never exported; re-importing the file keeps
// the stored ones.
func ExportAccounts(ctx context.Context, db *gorm.DB, orgID uint, w io.Writer, f ExportFilter) error {
	tx := db.WithContext(ctx)
	scope, err := f.assetScope(tx, orgID)
	if err != nil {
		return err
	}
	var assets []store.Asset
	if err := tx.Select("id", "name").Where("org_id = ?", orgID).Find(&assets).Error; err != nil {
		return fmt.Errorf("asset: export: load assets: %w", store.Translate(err))
	}
	assetName := make(map[uint]string, len(assets))
	for _, a := range assets {
		assetName[a.ID] = a.Name
	}
	cols := slices.DeleteFunc(slices.Clone(accountColumns), func(c string) bool { return c == "secret" })
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return fmt.Errorf("asset: export: %w", err)
	}
	var batch []store.Account
	q := tx.Model(&store.Account{}).Omit("secret_enc").
		Where("org_id = ? AND asset_id IN (?)", orgID, scope.Select("assets.id"))
	res := q.FindInBatches(&batch, exportBatch, func(_ *gorm.DB, _ int) error {
		for _, a := range batch {
			err := writeRecord(cw, assetName[a.AssetID], a.Name, a.Username, a.SecretType,
				formatBool(a.Privileged), formatBool(a.IsActive), a.Comment)
			if err != nil {
				return fmt.Errorf("asset: export: %w", err)
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if res.Error != nil {
		return fmt.Errorf("asset: export accounts: %w", res.Error)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("asset: export: %w", err)
	}
	return nil
}
