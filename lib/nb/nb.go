// Package nb is the glue between LossLab and where it runs: a GoNB notebook, a terminal or a test.
// It owns the one switch that shrinks work for CI (LOSSLAB_QUICK), LossLab's data folder, inline
// display, the progress bar every long computation shows, and how a cell's result outlives the cell.
//
// Each GoNB cell runs as its own program, so whatever a later cell needs goes through disk. Memo
// computes a value once per key (notebook, value name, size mode, the caller's config, the result's
// type and the version of lib/'s sources) and loads it on later runs; Store and Recall hand a value
// from the cell that computes it to a later cell under the same kind of key; StateDir is a private
// folder per notebook and configuration for other files (checkpoints). LOSSLAB_RECOMPUTE=1 makes Memo
// recompute everything once.
package nb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/janpfeifer/gonb/gonbui"
)

// QuickEnv is the one documented environment variable that shrinks sizes for CI: when it is "1" (or
// "true"), notebooks and examples use their quick sizes. The code path stays the same as a full run.
const QuickEnv = "LOSSLAB_QUICK"

// HomeEnv overrides LossLab's data folder (built tools, plotly.js, caches).
const HomeEnv = "LOSSLAB_HOME"

// Quick reports whether LOSSLAB_QUICK asks for reduced sizes.
func Quick() bool {
	v := os.Getenv(QuickEnv)
	return v == "1" || v == "true" || v == "yes"
}

// Size returns quick when Quick() is set, else full. Use it for every size a notebook picks:
// nb.Size(60000, 2000) examples, nb.Size(20, 2) epochs, ...
func Size(full, quick int) int {
	if Quick() {
		return quick
	}
	return full
}

// Home returns LossLab's data folder: $LOSSLAB_HOME if set, else ~/.local/share/losslab
// ($XDG_DATA_HOME/losslab when XDG_DATA_HOME is set).
func Home() string {
	if h := os.Getenv(HomeEnv); h != "" {
		return h
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "losslab")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "losslab")
	}
	return filepath.Join(os.TempDir(), "losslab")
}

// InNotebook reports whether this program runs as a GoNB cell (inline display available).
func InNotebook() bool { return gonbui.IsNotebook }

// Must returns v, or panics with err: for notebooks and examples, where a failure should stop the cell
// with its message. Library code returns errors instead.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Check panics if err is not nil (the one-value form of Must).
func Check(err error) {
	if err != nil {
		panic(err)
	}
}

// HTML shows an HTML fragment inline in a notebook; outside one it does nothing.
//
// It waits until GoNB has the output: display data travels through a pipe, and a cell program that
// exits right after displaying can otherwise lose its last picture.
func HTML(html string) {
	gonbui.DisplayHTML(html)
	gonbui.Sync()
}

// SVG shows an SVG image inline in a notebook (as HTML, which survives nbconvert to HTML);
// outside one it does nothing. Like HTML, it waits until GoNB has the output.
func SVG(svg string) {
	gonbui.DisplaySVG(svg)
	gonbui.Sync()
}

// Markdown shows Markdown inline in a notebook, or prints it outside one.
func Markdown(md string) {
	if gonbui.IsNotebook {
		gonbui.DisplayMarkdown(md)
		gonbui.Sync()
		return
	}
	fmt.Println(md)
}
