package asset

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// bigAssetFile returns an asset file of n rows spread over 100 nodes.
func bigAssetFile(n int) string {
	var b strings.Builder
	b.WriteString(assetHeader)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "host%05d,10.%d.%d.%d,Linux,\"ssh/22,sftp/22\",/Region%d/Rack%d,dmz,env:prod;idx:%d,true,asset number %d\n",
			i, i>>16&255, i>>8&255, i&255, i%10, i%100, i, i)
	}
	return b.String()
}

// BenchmarkImportAssets imports 10,000 new assets, then re-imports them unchanged.
func BenchmarkImportAssets(b *testing.B) {
	in := bigAssetFile(10000)
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, storetest.SQLite(b))
		b.StartTimer()
		for _, want := range []string{"created", "unchanged"} {
			res, err := ImportAssets(e.ctx, e.db, e.orgA, strings.NewReader(in), ImportOptions{})
			if err != nil || len(res.Errors) != 0 || (want == "created" && res.Created != 10000) || (want == "unchanged" && res.Unchanged != 10000) {
				b.Fatalf("got %+v, %v, want 10000 %s", res, err, want)
			}
		}
	}
}

// TestImportAssetsMaxRows imports a file of the largest size allowed and
// checks that its export is the same file.
func TestImportAssetsMaxRows(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 50,000 rows")
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		in := bigAssetFile(MaxImportRows)
		if len(in) > MaxImportSize {
			t.Fatalf("test file is %d bytes, over the limit", len(in))
		}
		res := e.importAssets(t, e.orgA, in, ImportOptions{})
		if res.Created != MaxImportRows || len(res.Errors) != 0 {
			t.Fatalf("got %d created, %d errors", res.Created, len(res.Errors))
		}
		if got := e.exportAssets(t, e.orgA, ExportFilter{}); got != in {
			t.Errorf("export differs from the imported file")
		}
	})
}
