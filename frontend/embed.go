// Package frontend embeds the built web UI (frontend/dist) so that portcullisd
// and the desktop app serve the same pages. Run `make frontend` to build it.
package frontend

import "embed"

// Dist is the built web UI; it holds only .gitkeep until the frontend is built.
//
//go:embed all:dist
var Dist embed.FS
