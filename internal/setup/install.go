package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/go-xla/pkg/installer"
	"github.com/losslab/losslab/internal/lab"
	"github.com/losslab/losslab/lib/plotlyjs"
)

// Options tune Install.
type Options struct {
	// NoSystem skips installing Debian packages (Jupyter, Fashion-MNIST) even when root or sudo is available.
	NoSystem bool
	// NoPlugin skips the attempt to download the PJRT CPU plugin.
	NoPlugin bool
	// PluginTimeout bounds the plugin download attempt (default 60 s); offline it fails in well under that.
	PluginTimeout time.Duration
}

// Install does everything `go run ./kernel install` promises, printing one line per step. It returns an
// error listing what is still missing, if anything.
func Install(w io.Writer, p Paths, opts Options) error {
	goCmd, err := RealGo(p)
	if err != nil {
		return err
	}
	out, _ := exec.Command(goCmd, "env", "GOVERSION").Output()
	Step(w, true, "go", strings.TrimSpace(string(out))+" at "+goCmd)

	var missing []string
	if !opts.NoSystem {
		if err := installSystemPackages(w); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if err := BuildTools(w, p, goCmd); err != nil {
		return err
	}
	if err := WriteGoWrapper(w, p, goCmd); err != nil {
		return err
	}
	if err := WriteGoplsGuard(w, p, goCmd); err != nil {
		return err
	}
	if err := WriteRelay(w, p, goCmd); err != nil {
		return err
	}
	if !opts.NoSystem {
		ensureNpm(w)
	}
	if err := installPlotly(w, p); err != nil {
		Step(w, false, "plotly.js", err.Error()+" — interactive plots fall back to static ones")
	}
	if err := lab.Build(w, p.Home); err != nil {
		Step(w, false, "jupyterlab", firstLine(err.Error()))
		missing = append(missing, "JupyterLab: "+err.Error())
	}
	if !opts.NoPlugin {
		installPlugin(w, opts.PluginTimeout)
	}
	if err := InstallKernelSpec(w, p, goCmd); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("still missing:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

// MissingPackages returns the AptPackages that dpkg does not report as installed (all of them when there
// is no dpkg: then the caller falls back to checking Jupyter and the data set directly).
func MissingPackages() []string {
	var missing []string
	for _, pkg := range AptPackages {
		out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, pkg)
		}
	}
	return missing
}

// installSystemPackages installs the Debian packages that are missing, with apt-get as root or through
// passwordless sudo; otherwise it says which command to run.
func installSystemPackages(w io.Writer) error {
	missing := MissingPackages()
	if len(missing) == 0 {
		_, jupInfo := JupyterOK()
		Step(w, true, "jupyter", jupInfo)
		Step(w, DatasetOK(), "dataset", "Fashion-MNIST in "+DatasetDir)
		Step(w, true, "system", "Debian packages installed: "+strings.Join(AptPackages, " "))
		return nil
	}
	cmdline := "apt-get update && apt-get install -y --no-install-recommends " + strings.Join(missing, " ")
	var prefix []string
	switch {
	case os.Geteuid() == 0:
	case exec.Command("sudo", "-n", "true").Run() == nil:
		prefix = []string{"sudo", "-n"}
	default:
		if ok, _ := JupyterOK(); ok && DatasetOK() {
			Step(w, false, "system", "missing Debian packages (needed by some tests): "+strings.Join(missing, " ")+" — run: sudo sh -c '"+cmdline+"'")
			return nil
		}
		return fmt.Errorf("Debian packages %s — run: sudo sh -c '%s'", strings.Join(missing, " "), cmdline)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("Jupyter or Fashion-MNIST: no apt-get here; install Jupyter Notebook, nbconvert and nbclient for %s, and Fashion-MNIST's idx.gz files into %s", Python, DatasetDir)
	}
	fmt.Fprintf(w, "… system       installing Debian packages: %s\n", strings.Join(missing, " "))
	run := func(args ...string) error {
		argv := append(append([]string(nil), prefix...), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 20))
		}
		return nil
	}
	if err := run("apt-get", "update"); err != nil {
		return err
	}
	if err := run(append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, missing...)...); err != nil {
		return err
	}
	jupOK, jupInfo := JupyterOK()
	Step(w, jupOK, "jupyter", jupInfo)
	Step(w, DatasetOK(), "dataset", "Fashion-MNIST in "+DatasetDir)
	if !jupOK || !DatasetOK() {
		return errors.New("Debian packages installed, but Jupyter or Fashion-MNIST is still not usable")
	}
	if still := MissingPackages(); len(still) > 0 {
		return fmt.Errorf("apt-get ran, but these packages are still not installed: %s", strings.Join(still, " "))
	}
	return nil
}

// PlotlyDir is where plotly.js is installed (lib/viz finds it there).
func PlotlyDir(p Paths) string { return plotlyjs.DirIn(p.Home) }

func installPlotly(w io.Writer, p Paths) error {
	if err := plotlyjs.Install(PlotlyDir(p)); err != nil {
		return err
	}
	Step(w, true, "plotly.js", "in "+PlotlyDir(p))
	return nil
}

// installPlugin tries go-xla's installer for the PJRT CPU plugin, bounded in time. Offline it fails fast
// and says so; LossLab then runs on its CPU backend (lib/backend).
func installPlugin(w io.Writer, timeout time.Duration) {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	// Install where lib/backend looks: the first folder of $PJRT_PLUGIN_LIBRARY_PATH when set (the Docker
	// image sets it, so every user sees the plugin), else go-xla's ~/.local/lib/go-xla.
	target := ""
	if dirs := filepath.SplitList(os.Getenv("PJRT_PLUGIN_LIBRARY_PATH")); len(dirs) > 0 && dirs[0] != "" {
		target = dirs[0]
	} else {
		lib, err := installer.DefaultHomeLibPath()
		if err != nil {
			Step(w, false, "pjrt plugin", err.Error())
			return
		}
		target = filepath.Join(lib, "go-xla")
	}
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- installer.CPUAutoInstall(target, true, installer.Quiet) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %s", timeout)
	}
	if err != nil {
		Step(w, false, "pjrt plugin", "could not install the XLA CPU plugin ("+firstLine(err.Error())+"); using the CPU backend (OpenBLAS or pure Go), which works offline")
		return
	}
	Step(w, true, "pjrt plugin", "XLA CPU plugin in "+target+" (cells link XLA)")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
