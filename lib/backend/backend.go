// Package backend owns LossLab's choice of GoMLX backend: every other package asks it,
// none picks a backend on its own.
//
// The rule, in order:
//
//  1. $GOMLX_BACKEND, when set, wins (e.g. "go", "xla:cpu", "xla:cuda").
//  2. When this program was built with the XLA backend linked in (no "noxla" build tag) and a PJRT
//     plugin is installed (in $PJRT_PLUGIN_LIBRARY_PATH or go-xla's default folders), XLA is used:
//     CUDA if its plugin is there, else CPU.
//  3. Otherwise, when OpenBLAS can be opened (Debian's libopenblas0-pthread), "blas": the pure-Go backend with
//     its matrix products on OpenBLAS and its large element-wise operations split across cores (package
//     lib/backend/blas), 4–14× faster than pure Go on LossLab's workloads (bench/README.md).
//  4. Otherwise the pure-Go backend, which is always compiled in and always works offline, configured as
//     "go:ops_sequential" (PureGo). Describe and `go run ./kernel doctor` then say how to get OpenBLAS.
//
// Why ops_sequential: GoMLX v0.26's pure-Go backend can deadlock its worker pool when several matrix
// products of one graph are ready at once in its default parallel mode (each holds a worker while waiting
// for more); with 2 cores this hung lib/landscape's batched evaluation and every mixture-of-experts
// gradient. Running ops one after another (each op still uses all cores) avoids it, and measured faster
// here for the MLP training step (2,009 vs 1,221 examples/s in the same run, lib/train's benchmark).
// Set GOMLX_BACKEND=go to get GoMLX's default back.
//
// Nothing here downloads a plugin: go-xla's auto-install is switched off in every LossLab program.
// Installing a plugin is the job of `go run ./kernel install`, which may do it when it has internet.
package backend

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // The embedded default: pure Go, offline.

	"github.com/losslab/losslab/lib/backend/blas" // Registers "blas": pure Go with OpenBLAS products.
	"github.com/losslab/losslab/lib/backend/probe"
)

// EnvVar is GoMLX's own override variable; LossLab honours it unchanged.
const EnvVar = probe.EnvVar

// PureGo is the configuration LossLab uses for GoMLX's pure-Go backend (see the package doc).
const PureGo = probe.PureGo

// BLAS is the configuration of LossLab's fast CPU path (package lib/backend/blas), the default when
// OpenBLAS is installed and no PJRT plugin is.
const BLAS = blas.Name

// xlaLinked is set by xla.go when the XLA backend is compiled in (builds without -tags=noxla).
var xlaLinked bool

// XLALinked reports whether this program was built with the XLA backend compiled in.
func XLALinked() bool { return xlaLinked }

// Choice is the backend configuration LossLab will use and why.
type Choice = probe.Choice

// PluginSearchPaths lists the folders searched for PJRT plugins (see probe.PluginSearchPaths).
func PluginSearchPaths() []string { return probe.PluginSearchPaths() }

// Plugins returns the PJRT plugins found on this machine, name ("cpu", "cuda", ...) to file path
// (see probe.Plugins). It only looks at file names; it loads nothing and downloads nothing.
func Plugins() map[string]string { return probe.Plugins() }

// Choose applies the rule in the package doc and returns the configuration to use.
func Choose() Choice { return probe.Choose(xlaLinked, blas.Status()) }

// ParallelOps reports whether the chosen backend is GoMLX's pure-Go executor running independent
// operations in parallel ("go", "go:ops_parallel", "blas:ops_parallel"), the mode whose worker pool can
// deadlock when many matrix products are ready at once (see the package doc): graphs that would expose it
// add ordering dependencies only then.
func ParallelOps() bool {
	cfg := Choose().Config
	name, opts, _ := strings.Cut(cfg, ":")
	if name != "go" && name != BLAS {
		return false
	}
	return !strings.Contains(opts, "ops_sequential") && (name == "go" || strings.Contains(opts, "ops_parallel"))
}

// FastPath returns nil when LossLab's fast CPU path (OpenBLAS) is available, or what is missing and how
// to install it. `go run ./kernel doctor` reports it.
func FastPath() error { return blas.Status() }

var (
	once    sync.Once
	chosen  Choice
	backend backends.Backend
	newErr  error
)

// Get returns the process-wide backend, created on first use from Choose.
func Get() (backends.Backend, error) {
	once.Do(func() {
		chosen = Choose()
		backend, newErr = newBackend(chosen.Config)
		if newErr != nil {
			newErr = fmt.Errorf("losslab: cannot start GoMLX backend %q (%s): %w", chosen.Config, chosen.Reason, newErr)
		}
	})
	return backend, newErr
}

// newBackend turns GoMLX's panics (unknown backend name, plugin load failures) into errors.
func newBackend(config string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return backends.NewWithConfig(config)
}

// Must is Get for notebooks and examples: it panics with Get's error.
func Must() backends.Backend {
	b, err := Get()
	if err != nil {
		panic(err)
	}
	return b
}

// Describe returns one line saying which backend runs and why, e.g.
// "backend: go (pure Go, 2 CPU cores) — no PJRT plugin installed (pure-Go backend, offline)".
func Describe() string {
	b, err := Get()
	if err != nil {
		return "backend: unavailable — " + err.Error()
	}
	desc := chosen.Config
	if d := b.Description(); d != "" {
		desc += " (" + d + ")"
	}
	return fmt.Sprintf("backend: %s on %d CPU cores — %s", desc, runtime.NumCPU(), chosen.Reason)
}
