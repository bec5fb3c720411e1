package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/losslab/losslab/lib/nb"
)

// The committed lockfile must be the one npm wrote for this package.json: `npm ci` refuses a lockfile
// out of step with package.json, and the build stamp trusts the lockfile to pin everything.
func TestLockfileMatchesPackageJSON(t *testing.T) {
	var pkg struct {
		Name            string            `json:"name"`
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Version         string            `json:"version"`
			Dependencies    map[string]string `json:"dependencies"`
			DevDependencies map[string]string `json:"devDependencies"`
		} `json:"packages"`
	}
	for name, v := range map[string]any{"package.json": &pkg, "package-lock.json": &lock} {
		data, err := app.ReadFile("app/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	root := lock.Packages[""]
	if !reflect.DeepEqual(root.Dependencies, pkg.Dependencies) || !reflect.DeepEqual(root.DevDependencies, pkg.DevDependencies) {
		t.Errorf("package-lock.json lists other dependencies than package.json: run npm install in internal/lab/app and commit the lockfile")
	}
	if lock.LockfileVersion < 2 {
		t.Errorf("lockfileVersion %d: npm ci needs version 2 or 3", lock.LockfileVersion)
	}
	// Every front-end package is pinned to the release the launcher announces, and resolved once.
	for name, want := range pkg.Dependencies {
		if strings.HasPrefix(name, "@jupyterlab/") && !regexp.MustCompile(`^\d+\.6\.8$`).MatchString(want) {
			t.Errorf("%s is pinned to %q, not a JupyterLab %s package", name, want, Version)
		}
		if got := lock.Packages["node_modules/"+name].Version; got != want {
			t.Errorf("lockfile resolves %s to %q, package.json pins %q", name, got, want)
		}
	}
	// Two copies of a @jupyterlab or @lumino package would break JupyterLab's plugin tokens.
	for path := range lock.Packages {
		if i := strings.LastIndex(path, "node_modules/"); i > 0 {
			if name := path[i+len("node_modules/"):]; strings.HasPrefix(name, "@jupyterlab/") || strings.HasPrefix(name, "@lumino/") {
				t.Errorf("lockfile holds a second copy of %s at %s", name, path)
			}
		}
	}
	launcher, _ := app.ReadFile("app/" + launcherName)
	if !strings.Contains(string(launcher), `VERSION = "`+Version+`"`) {
		t.Errorf("%s does not announce version %s", launcherName, Version)
	}
}

// fakeTools puts stand-ins for npm and node first on PATH: npm ci makes node_modules, node (webpack)
// writes a minimal build into the folder given as --env out=DIR, or fails when $FAKE_WEBPACK_FAIL is
// set. Each call is appended to the returned log file.
func fakeTools(t *testing.T) (logPath string) {
	t.Helper()
	bin := t.TempDir()
	logPath = filepath.Join(bin, "calls.log")
	scripts := map[string]string{
		"npm": `#!/bin/sh
echo "npm $*" >> '` + logPath + `'
[ "$1" = ci ] && [ -f package-lock.json ] && mkdir -p node_modules
`,
		"node": `#!/bin/sh
echo "node $*" >> '` + logPath + `'
[ -n "$FAKE_WEBPACK_FAIL" ] && { echo "webpack: boom" >&2; exit 1; }
for a in "$@"; do case "$a" in out=*) out="${a#out=}";; esac; done
mkdir -p "$out/static" && echo '<html>' > "$out/static/index.html"
`,
	}
	for name, s := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(filepath.ListSeparator)+os.Getenv("PATH"))
	return logPath
}

func calls(t *testing.T, logPath string) []string {
	data, err := os.ReadFile(logPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(logPath)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// Build runs npm ci and webpack once per set of sources: a second install does nothing, a changed
// lockfile (a stamp that no longer matches) builds again, and a failed build keeps the earlier one.
func TestBuildOncePerLockfile(t *testing.T) {
	log := fakeTools(t)
	home := t.TempDir()
	var out strings.Builder
	if err := Build(&out, home); err != nil {
		t.Fatal(err)
	}
	got := calls(t, log)
	if len(got) != 2 || !strings.HasPrefix(got[0], "npm ci ") || !strings.Contains(got[1], "webpack-cli") {
		t.Fatalf("first build ran %q, want npm ci then webpack", got)
	}
	if !Built(home) {
		t.Fatal("after a build, Built is false")
	}
	for _, f := range append([]string{"losslab_lab.py"}, "src/package-lock.json", "src/webpack.config.js", "src/src/index.js") {
		if _, err := os.Stat(filepath.Join(Dir(home), f)); err != nil {
			t.Errorf("build folder lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(Dir(home), "src", "node_modules")); !os.IsNotExist(err) {
		t.Errorf("node_modules left behind after the build (err %v)", err)
	}

	out.Reset()
	if err := Build(&out, home); err != nil {
		t.Fatal(err)
	}
	if got := calls(t, log); len(got) != 0 || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("second build ran %q and said %q; want nothing run, up to date", got, out.String())
	}

	// A stamp from other sources (as after a lockfile change) means a new build.
	if err := os.WriteFile(stampPath(home), []byte("another lockfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if Built(home) {
		t.Fatal("Built is true with a stamp of other sources")
	}
	if ok, line := Status(home); ok || !strings.Contains(line, "other sources") && !strings.Contains(line, "server is missing") {
		t.Errorf("Status with a stale build: %v %q", ok, line)
	}
	t.Setenv("FAKE_WEBPACK_FAIL", "1")
	err := Build(&out, home)
	if err == nil || !strings.Contains(err.Error(), "webpack: boom") {
		t.Fatalf("failing webpack: got %v, want an error with its output", err)
	}
	if _, err := os.Stat(filepath.Join(buildDir(home), "static", "index.html")); err != nil {
		t.Errorf("a failed build removed the earlier one: %v", err)
	}
	calls(t, log)
	os.Unsetenv("FAKE_WEBPACK_FAIL")
	if err := Build(&out, home); err != nil {
		t.Fatal(err)
	}
	if got := calls(t, log); len(got) != 2 || !Built(home) {
		t.Fatalf("rebuild after a stamp change ran %q (built %v), want npm ci and webpack", got, Built(home))
	}
}

// Without npm, Build says what to install instead of failing obscurely.
func TestBuildWithoutNpm(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Build(&strings.Builder{}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "npm") {
		t.Fatalf("got %v, want an error naming npm", err)
	}
}

// The installed JupyterLab (`go run ./kernel install` builds it into $LOSSLAB_HOME) serves its page,
// bundle, settings schemas, theme and MathJax from this machine, and only with the token.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Jupyter server")
	}
	home := nb.Home()
	if ok, line := Status(home); !ok {
		t.Fatalf("%s: run `go run ./kernel install`", line)
	}
	tmp := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the server
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const token = "losslab-lab-test"
	argv := Command(home, "--no-browser", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--ServerApp.port_retries=0", "--ServerApp.token="+token, "--ServerApp.root_dir="+tmp)
	if os.Geteuid() == 0 {
		argv = append(argv, "--allow-root")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "JUPYTER_CONFIG_DIR="+filepath.Join(tmp, ".config"), "JUPYTER_RUNTIME_DIR="+filepath.Join(tmp, ".runtime"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		return resp.StatusCode, body.String()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := get("/api/status?token=" + token); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("JupyterLab did not answer on %s within 60s; its log:\n%s", base, log.String())
		}
		time.Sleep(300 * time.Millisecond)
	}

	if code, _ := get("/lab"); code == http.StatusOK {
		t.Errorf("/lab without the token answered 200; want a redirect to the login page")
	}
	code, page := get("/lab?token=" + token)
	if code != http.StatusOK {
		t.Fatalf("/lab: status %d\n%s", code, log.String())
	}
	m := regexp.MustCompile(`(?s)<script id="?jupyter-config-data"? type="?application/json"?>(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("/lab has no page config:\n%s", page)
	}
	var config map[string]any
	if err := json.Unmarshal([]byte(m[1]), &config); err != nil {
		t.Fatalf("page config: %v", err)
	}
	if config["appVersion"] != Version || config["fullMathjaxUrl"] != "/static/losslab-mathjax/MathJax.js" {
		t.Errorf("page config: appVersion %v, fullMathjaxUrl %v", config["appVersion"], config["fullMathjaxUrl"])
	}
	if d, _ := config["disabledExtensions"].([]any); len(d) != 1 || d[0] != "@jupyterlab/apputils-extension:announcements" {
		t.Errorf("page config disables %v, want the news announcements plugin only", config["disabledExtensions"])
	}
	for k, v := range config {
		if s, ok := v.(string); ok && regexp.MustCompile(`^(https?:)?//`).MatchString(s) {
			t.Errorf("page config %s points off this server: %s", k, s)
		}
	}
	scripts := regexp.MustCompile(`<script src="?([^" >]+)`).FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Error("/lab loads no script")
	}
	for _, s := range scripts {
		if code, body := get(s[1]); code != http.StatusOK || len(body) < 1000 {
			t.Errorf("%s: status %d, %d bytes", s[1], code, len(body))
		}
	}
	for _, path := range []string{
		"/static/losslab-mathjax/MathJax.js",
		"/static/losslab-mathjax/config/TeX-AMS_HTML-full.js",
		"/lab/api/themes/@jupyterlab/theme-light-extension/index.css",
		"/lab/api/settings/@jupyterlab/notebook-extension:tracker?token=" + token,
	} {
		if code, body := get(path); code != http.StatusOK {
			t.Errorf("%s: status %d: %.200s", path, code, body)
		}
	}
	code, body := get("/lab/api/settings?token=" + token)
	var settings struct {
		Settings []struct {
			ID string `json:"id"`
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(body), &settings); code != http.StatusOK || err != nil || len(settings.Settings) < 20 {
		t.Errorf("/lab/api/settings: status %d, %d plugins (%v)", code, len(settings.Settings), err)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", log.String())
	}
}

// The launcher is importable as the module Jupyter Server loads it as, and names itself as the
// extension point of that module, with the application name "lab" (the front end's static URL).
func TestLauncherIsAnExtensionModule(t *testing.T) {
	dir := t.TempDir()
	data, _ := app.ReadFile("app/" + launcherName)
	if err := os.WriteFile(filepath.Join(dir, launcherName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, line := ServerOK(); !ok {
		t.Fatalf("JupyterLab's server packages: %s (apt-get install %s)", line, strings.Join(AptPackages, " "))
	}
	cmd := exec.Command(Python, "-c", `import losslab_lab as m
[p] = m._jupyter_server_extension_points()
print(p["module"], p["app"].name, p["app"].__module__, p["app"]().build_dir)`)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("importing the launcher: %v\n%s", err, out)
	}
	want := "losslab_lab lab losslab_lab " + filepath.Join(dir, "build")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("extension point: got %q, want %q", got, want)
	}
}
