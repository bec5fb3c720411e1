// Package setup installs and checks the `losslab` Jupyter kernel and what it needs. It backs the
// `go run ./kernel` command and the Docker image, so that there is one copy of the install logic.
package setup

import (
	"github.com/losslab/losslab/internal/atomicfile"

	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/losslab/losslab/internal/lab"
	"github.com/losslab/losslab/lib/backend/probe"
	"github.com/losslab/losslab/lib/nb"
)

// Module is LossLab's module path; notebooks import ModulePath+"/lib/...".
const Module = "github.com/losslab/losslab"

// KernelName and KernelDisplayName identify the kernelspec.
const (
	KernelName        = "losslab"
	KernelDisplayName = "Go (LossLab)"
)

// Python is the interpreter that runs Jupyter: Debian's, never a pyenv or virtualenv one on PATH.
const Python = lab.Python

// DatasetDir is where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
const DatasetDir = "/usr/share/datasets/fashion-mnist"

// AptPackages are the Debian packages LossLab needs: Jupyter (classic Notebook, nbconvert, nbclient, and
// the server side of JupyterLab, see internal/lab), OpenBLAS for the fast CPU path and the Fashion-MNIST
// data set.
var AptPackages = append([]string{
	"jupyter-notebook", "jupyter-nbconvert", "jupyter-client", "python3-nbclient", "python3-jupyter-client", "python3-ipykernel",
	"python3-jupyter-kernel-test", // Jupyter's kernel conformance suite, run by internal/kernelconf's test
	"chromium",                    // the headless browser of internal/browser's and lib/viz's visual tests
	"librsvg2-bin",                // rsvg-convert, the second SVG renderer of lib/viz's visual test
	"fonts-liberation2",           // the house font, so that browsers measure figure text as it was laid out
	"libopenblas0-pthread",        // matrix products of the "blas" backend (lib/backend/blas), LossLab's fast CPU path
	"dataset-fashion-mnist",
}, lab.AptPackages...)

// Tools are the Go programs built from the versions pinned in go.mod's tool lines.
var Tools = []struct{ Name, Package string }{
	{"gonb", "github.com/janpfeifer/gonb"},
	{"goimports", "golang.org/x/tools/cmd/goimports"},
	{"gopls", "golang.org/x/tools/gopls"},
}

// Paths are the folders setup works with.
type Paths struct {
	Repo       string // the LossLab checkout (holds go.mod)
	Home       string // LossLab's home: built tools, plotly.js
	Bin        string // Home/bin: gonb, goimports, gopls and the `go` wrapper
	KernelSpec string // Jupyter's kernels/losslab folder
}

// FindPaths locates the checkout from the working directory upwards and derives the other folders.
func FindPaths() (Paths, error) {
	wd, err := os.Getwd()
	if err != nil {
		return Paths{}, err
	}
	repo, err := FindRepo(wd)
	if err != nil {
		return Paths{}, err
	}
	home := nb.Home()
	return Paths{Repo: repo, Home: home, Bin: filepath.Join(home, "bin"), KernelSpec: filepath.Join(JupyterDataDir(), "kernels", KernelName)}, nil
}

// FindRepo walks up from dir to the folder whose go.mod declares LossLab's module.
func FindRepo(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module "+Module+"\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("not inside a LossLab checkout (no go.mod for %s above %s): run this from the repository", Module, dir)
		}
	}
}

// JupyterDataDir is $JUPYTER_DATA_DIR, or ~/.local/share/jupyter.
func JupyterDataDir() string {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "jupyter")
}

// RealGo returns the path of the `go` command that is not LossLab's wrapper.
func RealGo(p Paths) (string, error) {
	if goroot := runtime.GOROOT(); goroot != "" {
		if g := filepath.Join(goroot, "bin", "go"); isExecutable(g) {
			return g, nil
		}
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		g := filepath.Join(dir, "go")
		if dir != p.Bin && isExecutable(g) {
			return g, nil
		}
	}
	return "", errors.New("no `go` command found on PATH: install Go 1.26 from https://go.dev/dl")
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Step prints one install/doctor line: "✓ what: detail" or "✗ what: detail".
func Step(w io.Writer, ok bool, what, detail string) {
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	fmt.Fprintf(w, "%s %-12s %s\n", mark, what, detail)
}

// toolsStamp identifies a build of the tools: go.mod, go.sum and the Go version.
func toolsStamp(p Paths, goCmd string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(p.Repo, f))
		if err != nil {
			return "", err
		}
		h.Write(data)
	}
	version, err := goVersion(goCmd)
	if err != nil {
		return "", err
	}
	h.Write(version)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func goVersion(goCmd string) ([]byte, error) {
	out, err := exec.Command(goCmd, "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s env GOVERSION: %w", goCmd, err)
	}
	return out, nil
}

// buildStamped runs the go command with args in the checkout (module read-only) and, when it succeeds,
// writes stamp to stampPath; what names the build in the error.
func buildStamped(p Paths, goCmd, what string, args []string, stampPath, stamp string) error {
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = p.Repo
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s failed: %w\n%s", what, err, out)
	}
	return atomicfile.Write(stampPath, []byte(stamp), 0o644)
}

// BuildTools builds GoNB, goimports and gopls from go.mod's pinned tool versions into p.Bin. It does
// nothing when the binaries are there and go.mod, go.sum and Go are unchanged since the last build.
func BuildTools(w io.Writer, p Paths, goCmd string) error {
	stamp, err := toolsStamp(p, goCmd)
	if err != nil {
		return err
	}
	stampPath := filepath.Join(p.Bin, ".tools-stamp")
	upToDate := true
	if old, err := os.ReadFile(stampPath); err != nil || string(old) != stamp {
		upToDate = false
	}
	for _, t := range Tools {
		if !isExecutable(filepath.Join(p.Bin, t.Name)) {
			upToDate = false
		}
	}
	if upToDate {
		Step(w, true, "tools", "gonb, goimports, gopls up to date in "+p.Bin)
		return nil
	}
	if err := os.MkdirAll(p.Bin, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(w, "… tools        building gonb, goimports, gopls (pinned in go.mod) into %s (a minute or two the first time)\n", p.Bin)
	args := []string{"build", "-o", p.Bin + string(filepath.Separator)}
	for _, t := range Tools {
		args = append(args, t.Package)
	}
	if err := buildStamped(p, goCmd, "the tools", args, stampPath, stamp); err != nil {
		return err
	}
	Step(w, true, "tools", "built gonb, goimports, gopls into "+p.Bin)
	return nil
}

// goWrapper is the `go` that GoNB finds first on the kernel's PATH. GoNB creates each kernel's module
// with `go mod init`; the wrapper then points that module at this checkout (require + replace) and copies
// its go.sum, so `import "github.com/losslab/losslab/lib/..."` works in any notebook with no setup cell,
// and edits to lib/ are picked up by the next cell. Every other `go` command passes through unchanged.
const goWrapper = `#!/bin/sh
# Written by "go run ./kernel install" (LossLab). See internal/setup/setup.go.
real_go=@GO@
if [ "$1" = "mod" ] && [ "$2" = "init" ]; then
	"$real_go" "$@" || exit $?
	repo=@REPO@
	if [ -n "$LOSSLAB_REPO" ]; then repo=$LOSSLAB_REPO; fi
	"$real_go" mod edit -require=@MODULE@@v0.0.0-00010101000000-000000000000 -replace=@MODULE@="$repo" || exit $?
	cp "$repo/go.sum" go.sum 2>/dev/null
	exit 0
fi
exec "$real_go" "$@"
`

// WriteGoWrapper writes the wrapper described at goWrapper into p.Bin/go.
func WriteGoWrapper(w io.Writer, p Paths, goCmd string) error {
	script := strings.NewReplacer("@GO@", shellQuote(goCmd), "@REPO@", shellQuote(p.Repo), "@MODULE@", Module).Replace(goWrapper)
	if err := os.MkdirAll(p.Bin, 0o755); err != nil {
		return err
	}
	path := filepath.Join(p.Bin, "go")
	if old, err := os.ReadFile(path); err == nil && string(old) == script {
		Step(w, true, "go wrapper", path+" up to date")
		return nil
	}
	if err := atomicfile.Write(path, []byte(script), 0o755); err != nil {
		return err
	}
	Step(w, true, "go wrapper", "wrote "+path)
	return nil
}

// shellQuote returns s as one word of a POSIX shell, taken literally: in single quotes, each single
// quote of s closing the quotes, written escaped, and opening them again. A checkout path may hold
// quotes, braces, $(…) or backticks.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// GuardDir is the folder of the gopls guard (internal/goplsguard), first on the kernel's PATH so that
// GoNB starts gopls through it.
func GuardDir(p Paths) string { return filepath.Join(p.Bin, "guard") }

// WriteGoplsGuard builds internal/goplsguard into GuardDir(p)/gopls, when its source or Go changed since
// the last build: a gopls that ends with its kernel, even a killed one.
func WriteGoplsGuard(w io.Writer, p Paths, goCmd string) error {
	dir := GuardDir(p)
	return buildHelper(w, p, goCmd, "gopls guard", "goplsguard", filepath.Join(dir, "gopls"), filepath.Join(dir, ".stamp"), "gopls ends with its kernel")
}

// RelayName is the name in p.Bin of the kernel's relay, the program the kernelspec starts.
const RelayName = "gonb-relay"

// WriteRelay builds internal/relay into p.Bin/RelayName, when its source or Go changed since the last
// build: the kernel that starts GoNB behind it and reports failed cells as errors.
func WriteRelay(w io.Writer, p Paths, goCmd string) error {
	return buildHelper(w, p, goCmd, "kernel relay", "relay", filepath.Join(p.Bin, RelayName), filepath.Join(p.Bin, ".relay-stamp"), "GoNB behind it, failed cells reported as errors")
}

// buildHelper builds the command in internal/<dir> into bin, unless the file stampPath says it was built
// from the same source (non-test files) with the same Go.
func buildHelper(w io.Writer, p Paths, goCmd, what, dir, bin, stampPath, purpose string) error {
	src := filepath.Join(p.Repo, "internal", dir)
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(data))
		h.Write(data)
	}
	version, err := goVersion(goCmd)
	if err != nil {
		return err
	}
	h.Write(version)
	stamp := hex.EncodeToString(h.Sum(nil))
	if old, err := os.ReadFile(stampPath); err == nil && string(old) == stamp && isExecutable(bin) {
		Step(w, true, what, bin+" up to date")
		return nil
	}
	if err := buildStamped(p, goCmd, "the "+what, []string{"build", "-o", bin, "./internal/" + dir}, stampPath, stamp); err != nil {
		return err
	}
	Step(w, true, what, "built "+bin+" ("+purpose+")")
	return nil
}

// KernelSpec is the content of kernel.json.
type KernelSpec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// GoFlags returns the GOFLAGS cells are built with: -tags=noxla unless a PJRT plugin is installed, in which
// case XLA is linked so lib/backend can use it.
func GoFlags() string {
	if len(probe.Plugins()) > 0 {
		return ""
	}
	return "-tags=noxla"
}

// MakeKernelSpec builds the kernelspec for the paths. The kernel is the relay (internal/relay), which
// starts p.Bin/gonb behind it.
func MakeKernelSpec(p Paths, goCmd string) KernelSpec {
	path := []string{GuardDir(p), p.Bin, filepath.Dir(goCmd)}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d != GuardDir(p) && d != p.Bin && d != filepath.Dir(goCmd) && d != "" {
			path = append(path, d)
		}
	}
	env := map[string]string{
		"PATH":                  strings.Join(path, string(filepath.ListSeparator)),
		"GOFLAGS":               GoFlags(),
		"LOSSLAB_HOME":          p.Home,
		"LOSSLAB_REPO":          p.Repo,
		"GOMLX_NO_AUTO_INSTALL": "1",
	}
	if GoFlags() == "-tags=noxla" {
		// Without XLA no package a cell links needs cgo (OpenBLAS is opened at run time through purego),
		// and without cgo the cell links with Go's own linker: a warm cell importing lib/ measured 1.79 s
		// against 2.27 s through the host linker (bench -only cells, same machine and load).
		env["CGO_ENABLED"] = "0"
	}
	for _, k := range []string{"GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	return KernelSpec{
		Argv:          []string{filepath.Join(p.Bin, RelayName), "{connection_file}"},
		DisplayName:   KernelDisplayName,
		Language:      "go",
		InterruptMode: "message",
		Env:           env,
	}
}

// InstallKernelSpec writes kernel.json (and the logo, if any) into p.KernelSpec.
func InstallKernelSpec(w io.Writer, p Paths, goCmd string) error {
	spec := MakeKernelSpec(p, goCmd)
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(p.KernelSpec, "kernel.json")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		Step(w, true, "kernelspec", fmt.Sprintf("%q (%s) up to date in %s", KernelName, KernelDisplayName, p.KernelSpec))
		return nil
	}
	if err := os.MkdirAll(p.KernelSpec, 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return err
	}
	Step(w, true, "kernelspec", fmt.Sprintf("installed %q (%s) in %s", KernelName, KernelDisplayName, p.KernelSpec))
	return nil
}

// ReadKernelSpec reads the installed kernel.json, if any.
func ReadKernelSpec(p Paths) (*KernelSpec, error) {
	data, err := os.ReadFile(filepath.Join(p.KernelSpec, "kernel.json"))
	if err != nil {
		return nil, err
	}
	var spec KernelSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(p.KernelSpec, "kernel.json"), err)
	}
	return &spec, nil
}

// JupyterOK reports whether Debian's Jupyter (notebook, nbconvert, nbclient, jupyter_client) is importable
// by /usr/bin/python3, and the versions found.
func JupyterOK() (bool, string) {
	out, err := exec.Command(Python, "-c",
		"import shutil, notebook, nbconvert, nbclient, jupyter_client; assert shutil.which('jupyter-kernelspec'), 'no jupyter-kernelspec command (Debian package jupyter-client)'; import jupyter_kernel_test; "+
			"print('notebook', notebook.__version__, 'nbconvert', nbconvert.__version__, 'nbclient', nbclient.__version__)").CombinedOutput()
	if err != nil {
		return false, strings.TrimSpace(lastLine(string(out)))
	}
	return true, strings.TrimSpace(string(out))
}

// DatasetOK reports whether Fashion-MNIST's four idx.gz files are in DatasetDir.
func DatasetOK() bool {
	for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(DatasetDir, f)); err != nil {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			last = t
		}
	}
	return last
}
