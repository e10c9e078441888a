package asset

import (
	"context"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// CheckAssetRefs checks what ValidateAsset cannot: that a's platform exists and
// that its zone and the given nodes belong to a.OrgID. Errors are validation
// errors of platform_id, zone_id or node_ids.
func CheckAssetRefs(ctx context.Context, db *gorm.DB, a *store.Asset, nodeIDs []uint) error {
	tx := db.WithContext(ctx)
	var n int64
	if err := tx.Model(&store.Platform{}).Where("id = ?", a.PlatformID).Count(&n).Error; err != nil {
		return fmt.Errorf("asset: %w", store.Translate(err))
	}
	if n == 0 {
		return invalid("platform_id", "no platform %d", a.PlatformID)
	}
	if a.ZoneID != nil {
		if err := tx.Model(&store.Zone{}).Where("id = ? AND org_id = ?", *a.ZoneID, a.OrgID).Count(&n).Error; err != nil {
			return fmt.Errorf("asset: %w", store.Translate(err))
		}
		if n == 0 {
			return invalid("zone_id", "no zone %d in this organization", *a.ZoneID)
		}
	}
	return checkNodes(tx, a.OrgID, nodeIDs)
}

func checkNodes(tx *gorm.DB, orgID uint, nodeIDs []uint) error {
	ids := slices.Compact(slices.Sorted(slices.Values(nodeIDs)))
	if len(ids) == 0 {
		return nil
	}
	var found []uint
	if err := tx.Model(&store.Node{}).Where("org_id = ? AND id IN ?", orgID, ids).Pluck("id", &found).Error; err != nil {
		return fmt.Errorf("asset: %w", store.Translate(err))
	}
	if len(found) != len(ids) {
		for _, id := range ids {
			if !slices.Contains(found, id) {
				return invalid("node_ids", "no node %d in this organization", id)
			}
		}
	}
	return nil
}

// CheckAccountRefs checks that a's asset belongs to a.OrgID (a validation
// error of asset_id otherwise).
func CheckAccountRefs(ctx context.Context, db *gorm.DB, a *store.Account) error {
	var n int64
	if err := db.WithContext(ctx).Model(&store.Asset{}).Where("id = ? AND org_id = ?", a.AssetID, a.OrgID).Count(&n).Error; err != nil {
		return fmt.Errorf("asset: %w", store.Translate(err))
	}
	if n == 0 {
		return invalid("asset_id", "no asset %d in this organization", a.AssetID)
	}
	return nil
}

// CheckGatewayRefs checks that g's zone belongs to g.OrgID (a validation
// error of zone_id otherwise).
func CheckGatewayRefs(ctx context.Context, db *gorm.DB, g *store.Gateway) error {
	var n int64
	if err := db.WithContext(ctx).Model(&store.Zone{}).Where("id = ? AND org_id = ?", g.ZoneID, g.OrgID).Count(&n).Error; err != nil {
		return fmt.Errorf("asset: %w", store.Translate(err))
	}
	if n == 0 {
		return invalid("zone_id", "no zone %d in this organization", g.ZoneID)
	}
	return nil
}

// SetAssetNodes replaces the node memberships of an asset of orgID. A node of
// another organization is a validation error of node_ids; a missing asset is
// store.ErrNotFound.
func SetAssetNodes(ctx context.Context, db *gorm.DB, orgID, assetID uint, nodeIDs []uint) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&store.Asset{}).Where("id = ? AND org_id = ?", assetID, orgID).Count(&n).Error; err != nil {
			return fmt.Errorf("asset: %w", store.Translate(err))
		}
		if n == 0 {
			return fmt.Errorf("asset: asset %d: %w", assetID, store.ErrNotFound)
		}
		if err := checkNodes(tx, orgID, nodeIDs); err != nil {
			return err
		}
		if err := tx.Where("asset_id = ?", assetID).Delete(&store.AssetNode{}).Error; err != nil {
			return fmt.Errorf("asset: set nodes of asset %d: %w", assetID, store.Translate(err))
		}
		ids := slices.Compact(slices.Sorted(slices.Values(nodeIDs)))
		if len(ids) == 0 {
			return nil
		}
		links := make([]store.AssetNode, len(ids))
		for i, id := range ids {
			links[i] = store.AssetNode{AssetID: assetID, NodeID: id}
		}
		if err := tx.Create(&links).Error; err != nil {
			return fmt.Errorf("asset: set nodes of asset %d: %w", assetID, store.Translate(err))
		}
		return nil
	})
}

// DeleteAsset deletes an asset of orgID with its accounts and every row that
// names it: node memberships, permission grants, command-filter scopes.
func DeleteAsset(ctx context.Context, db *gorm.DB, orgID, id uint) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a store.Asset
		if err := tx.Select("id").Where("id = ? AND org_id = ?", id, orgID).Take(&a).Error; err != nil {
			return fmt.Errorf("asset: asset %d: %w", id, store.Translate(err))
		}
		steps := []struct {
			what string
			run  func() error
		}{
			{"accounts", func() error { return tx.Where("asset_id = ?", id).Delete(&store.Account{}).Error }},
			{"node memberships", func() error { return tx.Where("asset_id = ?", id).Delete(&store.AssetNode{}).Error }},
			{"permission grants", func() error { return tx.Where("asset_id = ?", id).Delete(&store.PermAsset{}).Error }},
			{"command filter scopes", func() error { return tx.Exec("DELETE FROM cmdfilter_assets WHERE asset_id = ?", id).Error }},
			{"asset", func() error { return tx.Delete(&store.Asset{}, id).Error }},
		}
		for _, s := range steps {
			if err := s.run(); err != nil {
				return fmt.Errorf("asset: delete asset %d: %s: %w", id, s.what, store.Translate(err))
			}
		}
		return nil
	})
}

// DeleteZone deletes a zone of orgID with its gateways. A zone that assets
// still use is refused with an error matching store.ErrConflict.
func DeleteZone(ctx context.Context, db *gorm.DB, orgID, id uint) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var z store.Zone
		if err := tx.Where("id = ? AND org_id = ?", id, orgID).Take(&z).Error; err != nil {
			return fmt.Errorf("asset: zone %d: %w", id, store.Translate(err))
		}
		var n int64
		if err := tx.Model(&store.Asset{}).Where("zone_id = ?", id).Count(&n).Error; err != nil {
			return fmt.Errorf("asset: delete zone %d: %w", id, store.Translate(err))
		}
		if n > 0 {
			return fmt.Errorf("%w: zone %q is used by %s", store.ErrConflict, z.Name, plural(n, "asset", "assets"))
		}
		if err := tx.Where("zone_id = ?", id).Delete(&store.Gateway{}).Error; err != nil {
			return fmt.Errorf("asset: delete zone %d: gateways: %w", id, store.Translate(err))
		}
		if err := tx.Delete(&store.Zone{}, id).Error; err != nil {
			return fmt.Errorf("asset: delete zone %d: %w", id, store.Translate(err))
		}
		return nil
	})
}
