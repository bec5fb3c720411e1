package setup

import (
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
	if spec.DisplayName != "Go (LossLab)" || spec.Argv[0] != filepath.Join(p.Bin, "gonb") {
		t.Errorf("unexpected spec %+v", spec)
	}
	if first := filepath.SplitList(spec.Env["PATH"])[0]; first != p.Bin {
		t.Errorf("PATH must start with %s, got %s", p.Bin, first)
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
