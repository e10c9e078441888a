// Command desktopfloor is the smallest Wails v2 window: one static page, no
// bindings, no backend. The desktop benchmark (scripts/desktop-bench.sh)
// measures its idle memory beside the Portcullis desktop app's, as the floor
// that WebKitGTK and Wails set for any app built this way; what is left
// between the two is Portcullis' own cost. Build it like the app:
//
//	go build -tags desktop,production,webkit2_41 -o bin/desktopfloor ./bench/desktopfloor
package main

import (
	"embed"
	"fmt"
	"os"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
)

//go:embed index.html
var assets embed.FS

func main() {
	err := wails.Run(&options.App{
		Title:       "desktopfloor",
		Width:       1280,
		Height:      800,
		AssetServer: &assetserver.Options{Assets: assets},
		Linux:       &linux.Options{WebviewGpuPolicy: linux.WebviewGpuPolicyNever},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "desktopfloor:", err)
		os.Exit(1)
	}
}
