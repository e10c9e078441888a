//go:build desktop || dev || bindings

// Command portcullis-desktop is the Portcullis desktop app (Wails v2). Build it with
// `make build` (tags desktop,production,webkit2_41); a build without those tags would compile
// but not run, so this file only builds with the Wails tags and `go build .` fails loudly.
package main

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/wailsapp/wails/v2"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/frontend"
)

//go:embed build/appicon.png
var icon []byte

func main() {
	desktop, err := app.New(app.Config{UI: frontend.Dist, Icon: icon, Open: os.Args[1:]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "portcullis:", err)
		os.Exit(1)
	}
	opts := app.Options(desktop)
	opts.Bind = []any{desktop}
	if err := wails.Run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "portcullis:", err)
		os.Exit(1)
	}
}
