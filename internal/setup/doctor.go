package setup

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/losslab/losslab/internal/lab"
	"github.com/losslab/losslab/lib/backend/openblas"
	"github.com/losslab/losslab/lib/backend/probe"
)

// Doctor prints what is installed and what to do about anything missing. It returns the number of
// problems found.
func Doctor(w io.Writer, p Paths) int {
	problems := 0
	check := func(ok bool, what, detail, fix string) {
		if !ok {
			problems++
			if fix != "" {
				detail += " — " + fix
			}
		}
		Step(w, ok, what, detail)
	}
	const fixInstall = "run: go run ./kernel install"

	goCmd, err := RealGo(p)
	if err != nil {
		check(false, "go", err.Error(), "")
	} else {
		out, _ := exec.Command(goCmd, "env", "GOVERSION").Output()
		v := strings.TrimSpace(string(out))
		check(strings.HasPrefix(v, "go1.26") || strings.HasPrefix(v, "go1.27"), "go", v+" at "+goCmd, "LossLab needs Go 1.26")
	}
	for _, t := range Tools {
		path := filepath.Join(p.Bin, t.Name)
		check(isExecutable(path), t.Name, path, fixInstall)
	}
	check(isExecutable(filepath.Join(p.Bin, "go")), "go wrapper", filepath.Join(p.Bin, "go"), fixInstall)
	check(isExecutable(filepath.Join(GuardDir(p), "gopls")), "gopls guard", filepath.Join(GuardDir(p), "gopls"), fixInstall)
	check(isExecutable(filepath.Join(p.Bin, RelayName)), "kernel relay", filepath.Join(p.Bin, RelayName), fixInstall)
	if goCmd != "" {
		if stamp, err := toolsStamp(p, goCmd); err == nil {
			old, _ := os.ReadFile(filepath.Join(p.Bin, ".tools-stamp"))
			check(string(old) == stamp, "tool pins", "tools built from this go.mod/go.sum and Go", "go.mod changed since the last build; "+fixInstall)
		}
	}
	jupOK, jupInfo := JupyterOK()
	check(jupOK, "jupyter", jupInfo+" ("+Python+")", "install Debian's jupyter-notebook jupyter-nbconvert python3-nbclient python3-jupyter-client, or "+fixInstall+" as root")
	labOK, labInfo := lab.Status(p.Home)
	check(labOK, "jupyterlab", labInfo, fixInstall+" (needs npm; `go run ./kernel up -classic` starts the classic Notebook without it)")
	check(DatasetOK(), "dataset", "Fashion-MNIST in "+DatasetDir, "apt-get install dataset-fashion-mnist")
	cellFlags := GoFlags()
	if spec, err := ReadKernelSpec(p); err != nil {
		check(false, "kernelspec", fmt.Sprintf("%q not installed in %s", KernelName, p.KernelSpec), fixInstall)
	} else {
		detail := fmt.Sprintf("%q (%s) → %s, cells see %s, GOFLAGS=%q", KernelName, spec.DisplayName, strings.Join(spec.Argv, " "), spec.Env["LOSSLAB_REPO"], spec.Env["GOFLAGS"])
		problem := KernelSpecProblem(p, spec)
		check(problem == "", "kernelspec", detail, problem)
		cellFlags = spec.Env["GOFLAGS"]
	}
	plotly := PlotlyDir(p)
	_, err = os.Stat(plotly)
	check(err == nil, "plotly.js", plotly, "interactive plots fall back to static ones; "+fixInstall+" with npm available")

	openErr := openblas.Load()
	if openErr != nil {
		check(false, "openblas", openErr.Error(), "install it ("+openblas.InstallHint+", or "+fixInstall+" as root): without it every matrix product runs on the pure-Go backend, 4–14× slower")
	} else {
		check(true, "openblas", openblas.Version()+": the \"blas\" backend (LossLab's fast CPU path) is available", "")
	}
	plugins := probe.Plugins()
	if len(plugins) == 0 {
		Step(w, true, "pjrt plugin", "none installed (searched "+strings.Join(probe.PluginSearchPaths(), ", ")+"); the CPU backend below is used — fine offline")
	} else {
		for name, path := range plugins {
			Step(w, true, "pjrt plugin", name+" at "+path)
		}
	}
	// The rule of lib/backend as cells apply it: XLA is linked unless their GOFLAGS say noxla.
	choice := probe.Choose(!strings.Contains(cellFlags, "noxla"), openErr)
	Step(w, true, "backend", fmt.Sprintf("%s — %s (what cells built with GOFLAGS=%q get)", choice.Config, choice.Reason, cellFlags))
	if problems == 0 {
		fmt.Fprintln(w, "all good")
	} else {
		fmt.Fprintf(w, "%d problem(s) found\n", problems)
	}
	return problems
}

// KernelSpecProblem says what is wrong with an installed kernelspec, with what to do, or returns "": it
// must point at this checkout and start the relay (internal/relay), not GoNB directly.
func KernelSpecProblem(p Paths, spec *KernelSpec) string {
	const fixInstall = "run: go run ./kernel install"
	relay := filepath.Join(p.Bin, RelayName)
	switch {
	case spec.Env["LOSSLAB_REPO"] != p.Repo:
		return "it points at another checkout; " + fixInstall + " here to switch"
	case len(spec.Argv) == 0 || spec.Argv[0] != relay:
		return "it starts the kernel without the relay " + relay + ", so failed cells are reported \"ok\"; " + fixInstall
	}
	return ""
}
