package setup

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func repo(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	r, err := FindRepo(wd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The Docker image must reuse the README's set-up entry point, run as a non-root user, pin its base image
// and serve Jupyter with a token, never one baked into the image.
func TestDockerfileUsesTheSetupEntryPoint(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repo(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{"go run ./kernel install", `"go", "run", "./kernel", "up"`, "EXPOSE 8888", "-ip=0.0.0.0"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile does not contain %q", want)
		}
	}
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindStringSubmatch(df)
	if from != nil && from[1] == "${BASE}" {
		// The base is a build argument (the image test builds on a local base); its default is pinned.
		from = regexp.MustCompile(`(?m)^ARG\s+BASE=(\S+)`).FindStringSubmatch(df)
	}
	if from == nil || !regexp.MustCompile(`:\d+\.\d+\.\d+`).MatchString(from[1]) {
		t.Errorf("base image must be pinned to a full version, got %v", from)
	}
	// The image serves the JupyterLab that the tests exercise (LossLab's build, started by `up`), not
	// another one from PyPI.
	for _, bad := range []string{"pip install", "pip3 install", "jupyterlab==", `"-lab"`} {
		if strings.Contains(df, bad) {
			t.Errorf("Dockerfile contains %q: the image must serve LossLab's own JupyterLab build", bad)
		}
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 || users[len(users)-1][1] == "root" || users[len(users)-1][1] == "0" {
		t.Errorf("the image must end as a non-root USER, got %v", users)
	}
	for _, bad := range []string{"token=''", `token=""`, "--NotebookApp.token=", "--ServerApp.token=", "JUPYTER_TOKEN=", "PASSWORD"} {
		if strings.Contains(df, bad) {
			t.Errorf("Dockerfile must not set a token or credential (%q)", bad)
		}
	}
	// The README shows how to run it.
	readme, _ := os.ReadFile(filepath.Join(repo(t), "README.md"))
	if !strings.Contains(string(readme), "docker run") {
		t.Error("README has no `docker run` line")
	}
}

// The kernelspec points GoNB at the wrapper folder first, so its `go mod init` gets the replace directive.
func TestKernelSpecAndWrapper(t *testing.T) {
	p := Paths{Repo: repo(t), Home: t.TempDir()}
	p.Bin = filepath.Join(p.Home, "bin")
	p.KernelSpec = filepath.Join(t.TempDir(), "kernels", KernelName)
	goCmd, err := RealGo(p)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteGoWrapper(&out, p, goCmd); err != nil {
		t.Fatal(err)
	}
	if err := InstallKernelSpec(&out, p, goCmd); err != nil {
		t.Fatal(err)
	}
	spec, err := ReadKernelSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	if spec.DisplayName != "Go (LossLab)" || spec.Argv[0] != filepath.Join(p.Bin, RelayName) {
		t.Errorf("unexpected spec %+v", spec)
	}
	if problem := KernelSpecProblem(p, spec); problem != "" {
		t.Errorf("doctor finds a problem with the spec install wrote: %s", problem)
	}
	// A kernelspec written before the relay (GoNB started directly) or for another checkout is a problem.
	old := *spec
	old.Argv = []string{filepath.Join(p.Bin, "gonb"), "--kernel", "{connection_file}"}
	if problem := KernelSpecProblem(p, &old); !strings.Contains(problem, "without the relay") {
		t.Errorf("a kernelspec starting GoNB directly: problem %q", problem)
	}
	other := *spec
	other.Env = map[string]string{"LOSSLAB_REPO": "/elsewhere"}
	if problem := KernelSpecProblem(p, &other); !strings.Contains(problem, "another checkout") {
		t.Errorf("a kernelspec of another checkout: problem %q", problem)
	}
	if path := filepath.SplitList(spec.Env["PATH"]); path[0] != GuardDir(p) || path[1] != p.Bin {
		t.Errorf("PATH must start with %s and %s, got %s", GuardDir(p), p.Bin, spec.Env["PATH"])
	}
	// Cells built without XLA need no cgo, and link with Go's own linker.
	if cgo := spec.Env["CGO_ENABLED"]; (GoFlags() == "-tags=noxla") != (cgo == "0") {
		t.Errorf("GOFLAGS %q with CGO_ENABLED=%q: want 0 exactly when XLA is not linked", GoFlags(), cgo)
	}
	// Second install with nothing to do says so.
	out.Reset()
	if err := InstallKernelSpec(&out, p, goCmd); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Errorf("second install: %v %q", err, out.String())
	}

	// The wrapper's `go mod init` yields a module that resolves LossLab to this checkout.
	mod := t.TempDir()
	cmd := exec.Command(filepath.Join(p.Bin, "go"), "mod", "init", "cellmod")
	cmd.Dir = mod
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wrapper go mod init: %v\n%s", err, b)
	}
	gomod, _ := os.ReadFile(filepath.Join(mod, "go.mod"))
	if !strings.Contains(string(gomod), "replace "+Module+" => "+p.Repo) {
		t.Errorf("go.mod lacks the replace directive:\n%s", gomod)
	}
	if _, err := os.Stat(filepath.Join(mod, "go.sum")); err != nil {
		t.Errorf("go.sum not copied: %v", err)
	}
}

// The wrapper works for a checkout whose path holds characters special to the shell: the path is
// quoted, never executed (`…` and $(…) once ran commands when LOSSLAB_REPO was unset), never cut at a
// quote (which killed the kernel at start) or a brace (which mangled the replace target).
func TestWrapperQuotesTheCheckoutPath(t *testing.T) {
	real := repo(t)
	goCmd, err := RealGo(Paths{Repo: real})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`with "quote`, `with }brace`, "with `touch PWNED` backticks", `with $(touch PWNED) dollar`, `with 'single' quotes`} {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			p := Paths{Repo: filepath.Join(base, name), Home: filepath.Join(base, "home")}
			p.Bin = filepath.Join(p.Home, "bin")
			if err := os.MkdirAll(p.Repo, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"go.mod", "go.sum"} {
				b, err := os.ReadFile(filepath.Join(real, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(p.Repo, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			if err := WriteGoWrapper(&out, p, goCmd); err != nil {
				t.Fatal(err)
			}
			mod := filepath.Join(base, "cell")
			if err := os.MkdirAll(mod, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(p.Bin, "go"), "mod", "init", "cellmod")
			cmd.Dir = mod
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "LOSSLAB_REPO=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("wrapper go mod init: %v\n%s", err, b)
			}
			js, err := exec.Command(goCmd, "mod", "edit", "-json", filepath.Join(mod, "go.mod")).Output()
			if err != nil {
				t.Fatal(err)
			}
			var gm struct {
				Replace []struct{ Old, New struct{ Path string } }
			}
			if err := json.Unmarshal(js, &gm); err != nil {
				t.Fatal(err)
			}
			if len(gm.Replace) != 1 || gm.Replace[0].Old.Path != Module || gm.Replace[0].New.Path != p.Repo {
				t.Errorf("replace directives %+v, want %s => %q", gm.Replace, Module, p.Repo)
			}
			if _, err := os.Stat(filepath.Join(mod, "go.sum")); err != nil {
				t.Errorf("go.sum not copied: %v", err)
			}
			for _, dir := range []string{mod, base, p.Bin} {
				if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
					t.Errorf("the checkout path was executed as a command (%s/PWNED exists)", dir)
				}
			}
		})
	}
}
