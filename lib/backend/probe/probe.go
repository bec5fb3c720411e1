// Package probe looks at what this machine offers LossLab's backends — PJRT plugins for XLA, OpenBLAS for
// the "blas" backend — and applies lib/backend's rule for choosing one. It links no GoMLX, so the kernel
// installer and its doctor can use it; package backend applies the same rule inside a LossLab program.
package probe

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/losslab/losslab/lib/backend/openblas"
)

// EnvVar is GoMLX's own override variable; LossLab honours it unchanged.
const EnvVar = "GOMLX_BACKEND"

// PureGo is the configuration LossLab uses for GoMLX's pure-Go backend (see package backend for why
// ops_sequential).
const PureGo = "go:ops_sequential"

// BLAS is the name of LossLab's fast CPU backend (package lib/backend/blas).
const BLAS = "blas"

// Choice is a backend configuration and why it was chosen.
type Choice struct {
	// Config is a GoMLX backend configuration string: "go", "xla:cpu", "xla:cuda", ...
	Config string
	// Reason says in a few words why this configuration was chosen.
	Reason string
}

// PluginSearchPaths lists the folders searched for PJRT plugins, in order: $PJRT_PLUGIN_LIBRARY_PATH
// (":"-separated) if set, else ~/.local/lib/go-xla, /usr/local/lib/go-xla and $LD_LIBRARY_PATH.
func PluginSearchPaths() []string {
	if p := os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); p != "" {
		return filepath.SplitList(p)
	}
	var paths []string
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".local", "lib", "go-xla"))
	}
	paths = append(paths, "/usr/local/lib/go-xla")
	if ld := os.Getenv("LD_LIBRARY_PATH"); ld != "" {
		paths = append(paths, filepath.SplitList(ld)...)
	}
	return paths
}

// Plugins returns the PJRT plugins found on this machine, name ("cpu", "cuda", ...) to file path.
// It only looks at file names; it loads nothing and downloads nothing.
func Plugins() map[string]string {
	found := make(map[string]string)
	for _, dir := range PluginSearchPaths() {
		for _, pattern := range []string{"pjrt_c_api_*_plugin.so", "pjrt-plugin-*.so", "pjrt_plugin_*.so"} {
			matches, _ := filepath.Glob(filepath.Join(dir, pattern))
			sort.Strings(matches)
			for _, m := range matches {
				name := pluginName(filepath.Base(m))
				if _, seen := found[name]; name != "" && !seen {
					found[name] = m
				}
			}
		}
	}
	return found
}

func pluginName(base string) string {
	base = strings.TrimSuffix(base, ".so")
	for _, prefix := range []string{"pjrt_c_api_", "pjrt-plugin-", "pjrt_plugin_"} {
		if strings.HasPrefix(base, prefix) {
			return strings.TrimSuffix(strings.TrimPrefix(base, prefix), "_plugin")
		}
	}
	return ""
}

// Choose applies package backend's rule for a program built with or without XLA (xlaLinked); fastPath is
// nil when the "blas" backend can run (backend passes blas.Status(), which also checks GoMLX's
// internals; the installer passes openblas.Load()).
func Choose(xlaLinked bool, fastPath error) Choice {
	if cfg, ok := os.LookupEnv(EnvVar); ok && cfg != "" {
		return Choice{Config: cfg, Reason: "set by $" + EnvVar}
	}
	plugins := Plugins()
	if xlaLinked {
		for _, kind := range []string{"cuda", "cpu"} {
			for name, path := range plugins {
				// Installed plugins may carry a version: "cpu", "cpu_v0.83.1", "cuda13".
				if strings.HasPrefix(name, kind) {
					return Choice{Config: "xla:" + name, Reason: "PJRT plugin " + path}
				}
			}
		}
	}
	var why string
	switch {
	case xlaLinked:
		why = "XLA is linked but no PJRT plugin is installed"
	case len(plugins) > 0:
		why = "a PJRT plugin is installed, but this build has -tags=noxla; rebuild without it to use XLA"
	default:
		why = "no PJRT plugin installed"
	}
	if fastPath != nil {
		return Choice{Config: PureGo, Reason: why + "; pure-Go backend, slow: " + fastPath.Error()}
	}
	return Choice{Config: BLAS, Reason: why + "; matrix products on " + openblas.Version()}
}
