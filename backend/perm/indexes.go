package perm

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// indexes are the indexes resolution relies on beyond those of the models.
var indexes = []struct {
	name, def    string
	postgresOnly bool
}{
	// Subtree assets: node -> asset without touching the table.
	{"idx_perm_asset_nodes_node_asset", `asset_nodes (node_id, asset_id)`, false},
	// Scans of an organization's active assets: covering for search, and in
	// name or address order for pages (names are unique in an organization).
	{"idx_perm_assets_name", `assets (org_id, is_active, name, address)`, false},
	{"idx_perm_assets_address", `assets (org_id, is_active, address, name)`, false},
	// Subtree ranges compare keys bytewise whatever the database collation;
	// SQLite's default collation already does.
	{"idx_perm_nodes_key_c", `nodes ("key" COLLATE "C")`, true},
}

// EnsureIndexes creates the indexes the resolver needs to stay fast at scale;
// those that exist are left alone. Call it after migrating the store.
func EnsureIndexes(ctx context.Context, db *gorm.DB) error {
	postgres := dialectOf(db).postgres
	for _, ix := range indexes {
		if ix.postgresOnly && !postgres {
			continue
		}
		if err := db.WithContext(ctx).Exec("CREATE INDEX IF NOT EXISTS " + ix.name + " ON " + ix.def).Error; err != nil {
			return fmt.Errorf("perm: create index %s: %w", ix.name, err)
		}
	}
	return nil
}
