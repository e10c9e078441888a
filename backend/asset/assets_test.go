package asset

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestCheckRefs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		nodeA, _ := NodeByPath(e.ctx, e.db, e.orgA, "/A", true)
		nodeB, _ := NodeByPath(e.ctx, e.db, e.orgB, "/B", true)
		var zoneB store.Zone
		e.db.Where("org_id = ?", e.orgB).Take(&zoneB)
		tests := []struct {
			name  string
			a     store.Asset
			nodes []uint
			field string
		}{
			{"ok", store.Asset{OrgID: e.orgA, PlatformID: e.linuxP, ZoneID: &e.zoneA}, []uint{nodeA.ID, nodeA.ID}, ""},
			{"platform", store.Asset{OrgID: e.orgA, PlatformID: 9999}, nil, "platform_id"},
			{"zone of org B", store.Asset{OrgID: e.orgA, PlatformID: e.linuxP, ZoneID: &zoneB.ID}, nil, "zone_id"},
			{"node of org B", store.Asset{OrgID: e.orgA, PlatformID: e.linuxP}, []uint{nodeA.ID, nodeB.ID}, "node_ids"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantField(t, CheckAssetRefs(e.ctx, e.db, &tt.a, tt.nodes), tt.field)
			})
		}
		a := &store.Asset{OrgID: e.orgA, Name: "web", Address: "h", PlatformID: e.linuxP, IsActive: true}
		storetest.MustCreate(t, e.db, a)
		wantField(t, CheckAccountRefs(e.ctx, e.db, &store.Account{OrgID: e.orgA, AssetID: a.ID}), "")
		wantField(t, CheckAccountRefs(e.ctx, e.db, &store.Account{OrgID: e.orgB, AssetID: a.ID}), "asset_id")
		wantField(t, CheckGatewayRefs(e.ctx, e.db, &store.Gateway{OrgID: e.orgA, ZoneID: e.zoneA}), "")
		wantField(t, CheckGatewayRefs(e.ctx, e.db, &store.Gateway{OrgID: e.orgA, ZoneID: zoneB.ID}), "zone_id")

		if err := SetAssetNodes(e.ctx, e.db, e.orgA, a.ID, []uint{nodeB.ID}); !fieldIs(err, "node_ids") {
			t.Errorf("SetAssetNodes with a node of B: got %v", err)
		}
		if err := SetAssetNodes(e.ctx, e.db, e.orgB, a.ID, []uint{nodeB.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetAssetNodes on an asset of A as B: got %v", err)
		}
		if err := SetAssetNodes(e.ctx, e.db, e.orgA, a.ID, []uint{nodeA.ID, nodeA.ID}); err != nil {
			t.Fatal(err)
		}
		if got := e.asset(t, e.orgA, "web").Nodes; len(got) != 1 || got[0].ID != nodeA.ID {
			t.Errorf("nodes: got %+v", got)
		}
		if err := SetAssetNodes(e.ctx, e.db, e.orgA, a.ID, nil); err != nil || len(e.asset(t, e.orgA, "web").Nodes) != 0 {
			t.Errorf("clearing nodes: %v", err)
		}
	})
}

func TestDeleteAssetAndZone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		e.importAssets(t, e.orgA, assetHeader+"web01,10.0.0.1,Linux,ssh/22,/N,dmz,,,\n", ImportOptions{})
		e.importAccounts(t, e.orgA, accountHeader+"web01,root,root,,pw,,,\n", ImportOptions{})
		a := e.asset(t, e.orgA, "web01")
		perm := &store.AssetPermission{OrgID: e.orgA, Name: "p", IsActive: true}
		storetest.MustCreate(t, e.db, perm)
		storetest.MustCreate(t, e.db, &store.PermAsset{AssetPermissionID: perm.ID, AssetID: a.ID})
		storetest.MustCreate(t, e.db, &store.Gateway{OrgID: e.orgA, ZoneID: e.zoneA, Name: "gw", Address: "gw", Port: 22, Username: "u", SecretType: "password"})

		err := DeleteZone(e.ctx, e.db, e.orgA, e.zoneA)
		if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "used by 1 asset") {
			t.Errorf("delete a used zone: got %v", err)
		}
		if err := DeleteAsset(e.ctx, e.db, e.orgB, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete A's asset as B: got %v", err)
		}
		if err := DeleteAsset(e.ctx, e.db, e.orgA, a.ID); err != nil {
			t.Fatal(err)
		}
		for what, model := range map[string]any{"asset": &store.Asset{}, "account": &store.Account{}, "membership": &store.AssetNode{}, "grant": &store.PermAsset{}} {
			col := "asset_id"
			if what == "asset" {
				col = "id"
			}
			if n := e.count(t, model, col+" = ?", a.ID); n != 0 {
				t.Errorf("%s left behind", what)
			}
		}
		if err := DeleteZone(e.ctx, e.db, e.orgB, e.zoneA); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete A's zone as B: got %v", err)
		}
		if err := DeleteZone(e.ctx, e.db, e.orgA, e.zoneA); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, &store.Gateway{}, "zone_id = ?", e.zoneA); n != 0 {
			t.Errorf("gateways of the deleted zone left behind")
		}
	})
}
