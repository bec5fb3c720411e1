package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/losslab/losslab/internal/lab"
	"github.com/losslab/losslab/internal/nbcheck"
	"github.com/losslab/losslab/internal/setup"
	"github.com/losslab/losslab/lib/backend/probe"
)

func install() (setup.Paths, error) {
	p, err := setup.FindPaths()
	if err != nil {
		return p, err
	}
	return p, setup.Install(os.Stdout, p, setup.Options{
		NoSystem: os.Getenv("LOSSLAB_NO_SYSTEM") == "1",
		NoPlugin: os.Getenv("LOSSLAB_NO_PLUGIN") == "1",
	})
}

func cmdInstall(args []string) error {
	fs := flag.NewFlagSet("install", flag.ExitOnError)
	_ = fs.Parse(args)
	start := time.Now()
	_, err := install()
	if err == nil {
		fmt.Printf("done in %.1fs: open Jupyter and pick the kernel %q\n", time.Since(start).Seconds(), setup.KernelDisplayName)
	}
	return err
}

func cmdDoctor(args []string) error {
	p, err := setup.FindPaths()
	if err != nil {
		return err
	}
	if n := setup.Doctor(os.Stdout, p); n > 0 {
		os.Exit(1)
	}
	return nil
}

// cmdUp installs what is missing, then replaces itself with JupyterLab (LossLab's build, internal/lab)
// serving notebooks/, or with the classic Notebook under -classic. Jupyter prints the URL with its token.
func cmdUp(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	ip := fs.String("ip", "127.0.0.1", "address Jupyter listens on")
	port := fs.Int("port", 8888, "port Jupyter listens on")
	classic := fs.Bool("classic", false, "start the classic Notebook instead of JupyterLab")
	_ = fs.Parse(args)
	p, err := install()
	if err != nil {
		return err
	}
	argv := upCommand(p, *classic, *ip, *port, os.Geteuid() == 0, fs.Args())
	fmt.Printf("starting: %v\n(Jupyter prints the URL to open, with its token, below)\n", argv)
	return syscall.Exec(argv[0], argv, os.Environ())
}

// upCommand is the command line `up` runs: JupyterLab, or the classic Notebook, on notebooks/ with a
// token of Jupyter's choosing (printed in the URL), plus any extra arguments.
func upCommand(p setup.Paths, classic bool, ip string, port int, root bool, extra []string) []string {
	common := []string{"--no-browser", "--ip=" + ip, fmt.Sprintf("--port=%d", port)}
	notebooks := filepath.Join(p.Repo, "notebooks")
	var argv []string
	if classic {
		argv = append([]string{setup.Python, "-m", "notebook"}, common...)
		argv = append(argv, "--notebook-dir="+notebooks)
	} else {
		argv = lab.Command(p.Home, append(common, "--ServerApp.root_dir="+notebooks)...)
	}
	if root {
		// Jupyter refuses to run as root unless told (CI machines, containers run as root).
		argv = append(argv, "--allow-root")
	}
	return append(argv, extra...)
}

// cmdTest is the README's one test command: install, then every Go test including the notebooks, with
// the notebooks at their quick (CI) sizes unless LOSSLAB_QUICK is already set.
func cmdTest(args []string) error {
	p, err := install()
	if err != nil {
		return err
	}
	if os.Getenv("LOSSLAB_QUICK") == "" {
		os.Setenv("LOSSLAB_QUICK", "1")
	}
	goCmd, err := setup.RealGo(p)
	if err != nil {
		return err
	}
	// -count=1: the notebook, browser and kernel tests drive the kernel through Jupyter, so Go's test cache
	// cannot see that an edit to lib/ changes their outcome; never reuse a cached pass.
	argv := append([]string{"test", "-tags=noxla", "-count=1", "-timeout=75m", "-p=2", "./..."}, args...)
	fmt.Printf("running: go %v (LOSSLAB_QUICK=%s)\n", argv, os.Getenv("LOSSLAB_QUICK"))
	cmd := exec.Command(goCmd, argv...)
	cmd.Dir = p.Repo
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run()
	if len(args) > 0 {
		return err
	}
	// The library's tests once more on the pure-Go backend, the fallback where OpenBLAS is missing: both
	// backends must give the same answers to every test.
	libArgv := []string{"test", "-tags=noxla", "-count=1", "-timeout=30m", "-p=2", "./lib/..."}
	fmt.Printf("running: go %v with %s=%s (the pure-Go fallback)\n", libArgv, probe.EnvVar, probe.PureGo)
	lib := exec.Command(goCmd, libArgv...)
	lib.Dir = p.Repo
	lib.Env = append(os.Environ(), probe.EnvVar+"="+probe.PureGo)
	lib.Stdout, lib.Stderr = os.Stdout, os.Stderr
	if libErr := lib.Run(); err == nil && libErr != nil {
		err = fmt.Errorf("lib/ tests on the pure-Go backend: %w", libErr)
	}
	return err
}

// cmdExecute runs notebooks through the kernel and checks them; with -inplace the executed notebook
// (with its outputs) replaces the original, e.g. to commit full-size results.
func cmdExecute(args []string) error {
	fs := flag.NewFlagSet("execute", flag.ExitOnError)
	inplace := fs.Bool("inplace", false, "write the executed notebook (with outputs) over the original when it passes")
	timeout := fs.Duration("timeout", 20*time.Minute, "limit per notebook")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("name at least one notebook")
	}
	if err := nbcheck.KernelInstalled("losslab"); err != nil {
		return err
	}
	// Ctrl-C or SIGTERM stops the notebook running and every process it started, then the command.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := 0
	for _, path := range fs.Args() {
		if ctx.Err() != nil {
			return errors.New("stopped")
		}
		opts := nbcheck.Options{Timeout: *timeout, Context: ctx}
		if *inplace {
			opts.Output = path + ".executed"
		}
		rep, err := nbcheck.Execute(path, opts)
		if err != nil {
			return err
		}
		fmt.Println(rep)
		if !rep.OK() {
			failed++
			if *inplace {
				os.Remove(opts.Output)
			}
			continue
		}
		if *inplace {
			if err := os.Rename(opts.Output, path); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d notebook(s) failed", failed)
	}
	return nil
}
