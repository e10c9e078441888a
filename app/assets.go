package app

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
)

// ErrUINotBuilt means the embedded frontend has no index.html: the binary was built before
// `make frontend`.
var ErrUINotBuilt = errors.New("app: frontend not built (frontend/dist has no index.html): build with `make build`")

// uiAssets returns the built UI inside dist (the frontend package's embed.FS has it under
// "dist/").
func uiAssets(dist fs.FS) (fs.FS, error) {
	if dist == nil {
		return nil, ErrUINotBuilt
	}
	ui, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, fmt.Errorf("app: frontend assets: %w", err)
	}
	if _, err := fs.Stat(ui, "index.html"); err != nil {
		return nil, ErrUINotBuilt
	}
	return ui, nil
}

// spaFallback answers the requests the asset server found no file for: page routes (paths
// without an extension, e.g. /assets/42 after a reload) get index.html so the frontend's router
// can take over; anything else is a 404.
func spaFallback(ui fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || path.Ext(r.URL.Path) != "" {
			http.NotFound(w, r)
			return
		}
		index, err := fs.ReadFile(ui, "index.html")
		if err != nil {
			http.Error(w, "frontend not built", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(index)
	})
}
