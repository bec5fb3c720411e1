//go:build ((linux && amd64) || darwin) && !noxla

package backend

import "github.com/gomlx/gomlx/backends/xla"

func init() {
	xlaLinked = true
	// Cells and programs must never try to download a plugin (no hang offline).
	xla.EnableAutoInstall(false)
}
