// Package lab builds and starts LossLab's JupyterLab: JupyterLab 3.6, the newest JupyterLab that runs on
// the Jupyter Server of Debian 12 (python3-jupyter-server 1.23, python3-jupyterlab-server 2.16), with its
// front end built here from npm's @jupyterlab/* 3.6.8 packages.
//
// The sources are in app/ and embedded in the binary: package.json (the core extensions LossLab ships),
// the committed package-lock.json, webpack.config.js, src/index.js (the application) and losslab_lab.py
// (the server: a LabServerApp serving the build and Debian's MathJax). Build installs them under
// Dir(home), runs `npm ci` and webpack there, and keeps the result until the sources change: the stamp
// is a hash of them, so a new lockfile means a new build and anything else means none.
//
//	Dir(home)/src/            package.json, package-lock.json, webpack.config.js, src/index.js
//	Dir(home)/build/          static/, schemas/, themes/, settings/ (what LabServerApp serves)
//	Dir(home)/losslab_lab.py  the launcher: python3 losslab_lab.py [Jupyter Server options]
package lab

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Version is the JupyterLab release whose front-end packages app/package.json pins.
const Version = "3.6.8"

// Python is the interpreter with Debian's Jupyter Server and jupyterlab_server.
const Python = "/usr/bin/python3"

// AptPackages are the Debian packages the server side needs: Jupyter Server, jupyterlab_server and
// MathJax (served locally, never from a CDN).
var AptPackages = []string{"python3-jupyter-server", "python3-jupyterlab-server", "libjs-mathjax"}

//go:embed app/package.json app/package-lock.json app/webpack.config.js app/src/index.js app/losslab_lab.py
var app embed.FS

// buildInputs are the files of app/ that the build depends on; the stamp hashes them.
var buildInputs = []string{"package.json", "package-lock.json", "webpack.config.js", "src/index.js"}

// launcherName is the launcher's file name; Jupyter Server imports it as a module of that name.
const launcherName = "losslab_lab.py"

// Dir is where the build lives under LossLab's home folder.
func Dir(home string) string { return filepath.Join(home, "lab") }

// Launcher is the path of the installed launcher.
func Launcher(home string) string { return filepath.Join(Dir(home), launcherName) }

func buildDir(home string) string  { return filepath.Join(Dir(home), "build") }
func stampPath(home string) string { return filepath.Join(Dir(home), ".build-stamp") }

// Stamp identifies a build: a hash of the build inputs (the lockfile above all).
func Stamp() string {
	h := sha256.New()
	for _, name := range buildInputs {
		data, err := app.ReadFile("app/" + name)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Built reports whether the build in home is complete and made from these sources.
func Built(home string) bool {
	old, err := os.ReadFile(stampPath(home))
	if err != nil || strings.TrimSpace(string(old)) != Stamp() {
		return false
	}
	_, err = os.Stat(filepath.Join(buildDir(home), "static", "index.html"))
	return err == nil
}

// Step prints one progress line in the style of the install command.
func step(w io.Writer, mark, detail string) {
	fmt.Fprintf(w, "%s %-12s %s\n", mark, "jupyterlab", detail)
}

// Build installs the launcher and builds the front end into Dir(home) unless an up-to-date build is
// there. It needs npm and Node.js; the npm packages come from the registry (or npm's cache) exactly as
// package-lock.json pins them. A failed build leaves any earlier build in place.
func Build(w io.Writer, home string) error {
	if err := os.MkdirAll(Dir(home), 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := installLauncher(home); err != nil {
		return err
	}
	if Built(home) {
		step(w, "✓", "JupyterLab "+Version+" up to date in "+Dir(home))
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("lab: building JupyterLab needs npm and Node.js, which are not on PATH (Debian: apt-get install nodejs npm)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return errors.New("lab: building JupyterLab needs Node.js (`node`), which is not on PATH (Debian: apt-get install nodejs)")
	}
	start := time.Now()
	step(w, "…", "building JupyterLab "+Version+" in "+Dir(home)+" (npm ci and webpack: a few minutes, once per lockfile)")
	src := filepath.Join(Dir(home), "src")
	if err := os.RemoveAll(src); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := writeSources(src); err != nil {
		return err
	}
	if err := run(src, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"); err != nil {
		return err
	}
	// Build beside the current build and swap at the end, so a failure never leaves half a build.
	next := buildDir(home) + ".new"
	if err := os.RemoveAll(next); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := run(src, node, filepath.Join("node_modules", "webpack-cli", "bin", "cli.js"), "--mode=production", "--env", "out="+next); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(next, "static", "index.html")); err != nil {
		return fmt.Errorf("lab: webpack finished but wrote no index.html: %w", err)
	}
	old := buildDir(home) + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(buildDir(home), old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.Rename(next, buildDir(home)); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	_ = os.RemoveAll(old)
	// node_modules is only needed to build (~150 MB); npm's own cache makes a rebuild quick.
	_ = os.RemoveAll(filepath.Join(src, "node_modules"))
	if err := writeFile(stampPath(home), []byte(Stamp()+"\n"), 0o644); err != nil {
		return err
	}
	step(w, "✓", fmt.Sprintf("built JupyterLab %s into %s in %.0fs", Version, buildDir(home), time.Since(start).Seconds()))
	return nil
}

// installLauncher writes the launcher next to the build when it differs from the embedded one.
func installLauncher(home string) error {
	data, err := app.ReadFile("app/" + launcherName)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(Launcher(home)); err == nil && string(old) == string(data) {
		return nil
	}
	return writeFile(Launcher(home), data, 0o644)
}

func writeSources(dir string) error {
	for _, name := range buildInputs {
		data, err := app.ReadFile("app/" + name)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(name)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// run runs a build command in dir, returning its output's tail in the error when it fails.
func run(dir, exe string, args ...string) error {
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: %s %s in %s failed: %w\n%s", filepath.Base(exe), strings.Join(args, " "), dir, err, lastBytes(out, 3000))
	}
	return nil
}

// writeFile writes data to path, creating its folder. A file cut short by a crash is harmless here: the
// launcher is compared with the embedded one at every install and rewritten when it differs, the sources
// are rewritten before every build, and the stamp is written last, so a damaged one means a rebuild.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// lastBytes keeps the end of a command's output for an error message.
func lastBytes(out []byte, n int) string {
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.TrimSpace(string(out))
}

// Command returns the command line that serves JupyterLab from the build in home, with Jupyter Server
// options appended (e.g. --ip, --port, --ServerApp.root_dir).
func Command(home string, args ...string) []string {
	return append([]string{Python, Launcher(home)}, args...)
}

// ServerOK reports whether Debian's Jupyter Server and jupyterlab_server are importable by Python, with
// their versions or the import error.
func ServerOK() (bool, string) {
	out, err := exec.Command(Python, "-c",
		"import jupyter_server, jupyterlab_server; print('jupyter_server', jupyter_server.__version__, 'jupyterlab_server', jupyterlab_server.__version__)").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return false, lines[len(lines)-1]
	}
	return true, strings.TrimSpace(string(out))
}

// MathJaxOK reports whether Debian's MathJax is where the launcher serves it from.
func MathJaxOK() bool {
	_, err := os.Stat("/usr/share/javascript/mathjax/MathJax.js")
	return err == nil
}

// Status says what doctor should print about the JupyterLab in home: whether it is usable, and a line.
func Status(home string) (bool, string) {
	srvOK, srv := ServerOK()
	switch {
	case !srvOK:
		return false, "JupyterLab's server is missing (" + srv + ")"
	case !Built(home):
		if _, err := os.Stat(stampPath(home)); err == nil {
			return false, "JupyterLab " + Version + " in " + Dir(home) + " was built from other sources (package-lock.json changed)"
		}
		return false, "JupyterLab " + Version + " is not built in " + Dir(home)
	case !MathJaxOK():
		return false, "JupyterLab " + Version + " in " + Dir(home) + ", but MathJax (libjs-mathjax) is missing: formulas show as TeX"
	}
	return true, "JupyterLab " + Version + " in " + Dir(home) + " (" + srv + ", MathJax from libjs-mathjax)"
}
