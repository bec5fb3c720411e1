package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/losslab/losslab/internal/nbcheck"
	"github.com/losslab/losslab/internal/setup"
)

// The notebooks the browser test opens, relative to notebooks/. A missing one is skipped with a log line
// (papers/02-lmc.ipynb is still being written).
var browserNotebooks = []string{"00-quickstart.ipynb", "papers/02-lmc.ipynb"}

// Limits: the whole test is meant to stay under about three minutes in quick mode.
const (
	serverStartLimit = 60 * time.Second
	notebookLimit    = 3 * time.Minute
)

// artifactsDir is $LOSSLAB_ARTIFACTS, or losslab-artifacts in the system's temporary folder.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("LOSSLAB_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "losslab-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artefacts folder: %v", err)
	}
	return dir
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestLaunch checks the protocol client alone: Chromium starts off the network, evaluates JavaScript and
// takes a screenshot of a local page.
func TestLaunch(t *testing.T) {
	b := launch(t, 800, 600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := b.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("browser: %s", v)
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, `data:text/html,<svg width="10" height="10"><circle r="4" cx="5" cy="5"/></svg>`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitFor(ctx, `document.readyState === "complete"`, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := p.Eval(ctx, `document.querySelectorAll("svg circle").length`, &n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("page has %d circles, want 1", n)
	}
	if err := p.Eval(ctx, `(() => { throw new Error("boom") })()`, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a thrown exception should come back as an error naming it, got %v", err)
	}
	png, err := p.Screenshot(ctx, 200, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("screenshot is not a PNG (starts %q)", png[:min(8, len(png))])
	}
}

func launch(t *testing.T, width, height int) *Browser {
	t.Helper()
	if _, err := Find(); err != nil {
		t.Fatal(err)
	}
	b, err := Launch(t.TempDir(), width, height)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// server is a Jupyter Notebook server started the way `go run ./kernel up` starts it.
type server struct {
	url, token string
	cmd        *exec.Cmd
	log        *os.File
	exited     chan struct{} // closed when the server process has exited
	waitErr    error
}

// startServer starts classic Jupyter Notebook on 127.0.0.1 with the same arguments as `go run ./kernel
// up` (kernel/commands.go, cmdUp), serving dir with a known token and LOSSLAB_QUICK=1 for the kernels.
// The notebooks are copies in dir, so autosave can never touch the checkout.
//
// The port is probed free and then handed to Jupyter, so another process (in CI, the kernels that the
// kernelconf and nbcheck tests start in parallel bind random ports) can take it in between. When Jupyter
// says the port is taken, startServer tries again on a fresh port, a few times; any other failure is fatal.
func startServer(t *testing.T, dir string) *server {
	t.Helper()
	const attempts = 5
	for i := 1; ; i++ {
		if s, _ := tryServer(t, dir, freePort(t)); s != nil {
			return s
		}
		if i == attempts {
			t.Fatalf("Jupyter Notebook found its port taken %d times in a row (logs above)", attempts)
		}
		t.Logf("port was taken before Jupyter could bind it; retrying on another (attempt %d of %d)", i+1, attempts)
	}
}

// portTaken reports whether a Jupyter log says its port was not available.
func portTaken(log string) bool {
	return strings.Contains(log, "is already in use") || strings.Contains(log, "is not available")
}

// tryServer starts one server on port. It returns the server once it answers, or nil and true when
// Jupyter exited because the port was taken; every other failure ends the test.
func tryServer(t *testing.T, dir string, port int) (*server, bool) {
	t.Helper()
	token := fmt.Sprintf("losslab-browser-test-%d", time.Now().UnixNano())
	tmp := t.TempDir()
	logf, err := os.Create(filepath.Join(tmp, "jupyter.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setup.Python, "-m", "notebook", "--no-browser", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--notebook-dir="+dir, "--NotebookApp.token="+token, "--NotebookApp.port_retries=0")
	cmd.Env = append(os.Environ(), "LOSSLAB_QUICK=1",
		"JUPYTER_CONFIG_DIR="+filepath.Join(tmp, "config"), // no user configuration (passwords, extensions)
		"JUPYTER_RUNTIME_DIR="+filepath.Join(tmp, "runtime"))
	if os.Geteuid() == 0 {
		// Jupyter refuses to run as root without this flag (`go run ./kernel up` passes extra flags through).
		cmd.Args = append(cmd.Args, "--allow-root")
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that cleanup also stops the kernels it started
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Jupyter Notebook (%s -m notebook): %v", setup.Python, err)
	}
	s := &server{url: fmt.Sprintf("http://127.0.0.1:%d", port), token: token, cmd: cmd, log: logf, exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(serverStartLimit)
	// A timeout per request: whatever holds a taken port may accept the connection and never answer.
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(s.url + "/api/status?token=" + token)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(s.stop)
				return s, false
			}
		}
		select {
		case <-s.exited:
			log := s.logTail()
			if portTaken(log) {
				t.Logf("Jupyter could not bind %s; its log:\n%s", s.url, log)
				return nil, true
			}
			t.Fatalf("Jupyter Notebook exited (%v) before answering on %s; its log:\n%s", s.waitErr, s.url, log)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("Jupyter Notebook did not answer on %s within %v; its log:\n%s", s.url, serverStartLimit, s.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServerPortTaken checks that a taken port is recognised (and so retried) rather than reported as
// some other failure: it holds a port open and asks Jupyter to serve on it.
func TestServerPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, taken := tryServer(t, t.TempDir(), l.Addr().(*net.TCPAddr).Port)
	if s != nil || !taken {
		t.Fatalf("Jupyter on a taken port: got server %v, taken %v; want nil, true", s != nil, taken)
	}
}

func (s *server) logTail() string {
	data, _ := os.ReadFile(s.log.Name())
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// stop shuts the kernels down through the REST API, then stops the server's process group.
func (s *server) stop() {
	client := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", s.url+"/api/kernels", nil)
	req.Header.Set("Authorization", "token "+s.token)
	if resp, err := client.Do(req); err == nil {
		var kernels []struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&kernels)
		resp.Body.Close()
		for _, k := range kernels {
			del, _ := http.NewRequest("DELETE", s.url+"/api/kernels/"+k.ID, nil)
			del.Header.Set("Authorization", "token "+s.token)
			if r, err := client.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	s.log.Close()
}

// copyNotebooks copies the named notebooks (relative to the checkout's notebooks/) into dst, keeping
// their relative paths, and returns the ones that exist.
func copyNotebooks(t *testing.T, repo, dst string, names []string) []string {
	var found []string
	for _, name := range names {
		src := filepath.Join(repo, "notebooks", filepath.FromSlash(name))
		data, err := os.ReadFile(src)
		if os.IsNotExist(err) {
			t.Logf("skipping %s: notebooks/%s does not exist (yet)", name, name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
		found = append(found, name)
	}
	return found
}

// TestNotebooksInBrowser opens LossLab's notebooks in classic Jupyter Notebook in headless Chromium,
// runs all cells, waits for the kernel to be idle, and checks the page: every cell that shows a figure
// has an SVG in its output, the notebook shows at least one, and no output area holds an error, a
// compile error, a LossLab error box, a Go panic or a non-zero exit. A screenshot of each notebook is
// saved as an artefact under $LOSSLAB_ARTIFACTS (default: losslab-artifacts in the temporary folder).
//
// A negative control (testdata/bad.ipynb: a LossLab error box with a panic, then a compile error) runs
// first in the same page, so that a check that cannot fail would show up.
//
// LOSSLAB_BROWSER_TIMEOUT (a Go duration, default 3m) bounds each notebook.
func TestNotebooksInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser run skipped in -short mode")
	}
	if _, err := Find(); err != nil {
		t.Fatal(err)
	}
	if err := nbcheck.KernelInstalled(setup.KernelName); err != nil {
		t.Fatal(err)
	}
	limit := notebookLimit
	if v := os.Getenv("LOSSLAB_BROWSER_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOSSLAB_BROWSER_TIMEOUT=%q: %v", v, err)
		}
		limit = d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := setup.FindRepo(wd)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := copyNotebooks(t, repo, dir, browserNotebooks)
	if len(names) == 0 {
		t.Fatal("none of the browser test's notebooks exists")
	}
	bad, err := os.ReadFile(filepath.Join("testdata", "bad.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "negative-control.ipynb"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, dir)
	const width, height = 1280, 900
	b := launch(t, width, height)
	arts := artifactsDir(t)

	t.Run("negative-control", func(t *testing.T) {
		cells := runInBrowser(t, b, srv, "negative-control.ipynb", arts, width, limit)
		found := func(i int, kind string) bool {
			for _, e := range cells[i].Errors {
				if strings.HasPrefix(e, kind) {
					return true
				}
			}
			return false
		}
		if len(cells) != 3 {
			t.Fatalf("negative control: %d code cells reported, want 3", len(cells))
		}
		if p := problems(cells[:1]); len(p) > 0 || cells[0].SVGs == 0 {
			t.Errorf("negative control: the good first cell was reported as %v with %d SVG", p, cells[0].SVGs)
		}
		for _, want := range []struct {
			cell int
			kind string
		}{{1, "losslab-error"}, {1, "panic"}, {2, "compile error"}} {
			if !found(want.cell, want.kind) {
				t.Errorf("negative control: the page checks missed the %s in cell %d (reported: %q)", want.kind, cells[want.cell].Index, cells[want.cell].Errors)
			}
		}
	})
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			cells := runInBrowser(t, b, srv, name, arts, width, limit)
			for _, p := range problems(cells) {
				t.Error(p)
			}
		})
	}
	if t.Failed() {
		t.Logf("Jupyter's log (tail):\n%s", srv.logTail())
	}
}

// cellReport is what the page says about one code cell after the run.
type cellReport struct {
	Index     int      `json:"index"`
	Source    string   `json:"source"` // first line
	Prompt    any      `json:"prompt"` // execution count; "*" while queued or running; null when never run
	SVGs      int      `json:"svgs"`
	Images    int      `json:"images"`
	Errors    []string `json:"errors"`    // each starts with its kind: error output, compile error, losslab-error, panic, exit
	ShowsPlot bool     `json:"showsPlot"` // the source shows a figure (.Show() not on a table, or nb.SVG)
}

// problems lists what is wrong with a notebook's cells; empty when it passed.
func problems(cells []cellReport) []string {
	var out []string
	svgs := 0
	for _, c := range cells {
		svgs += c.SVGs
		for _, e := range c.Errors {
			out = append(out, fmt.Sprintf("cell %d (%q): %s", c.Index, c.Source, e))
		}
		if c.Prompt == nil || c.Prompt == "*" {
			out = append(out, fmt.Sprintf("cell %d (%q) did not run (prompt %v)", c.Index, c.Source, c.Prompt))
		}
		if c.ShowsPlot && c.SVGs == 0 && len(c.Errors) == 0 {
			out = append(out, fmt.Sprintf("cell %d (%q) shows a figure, but its output holds no SVG", c.Index, c.Source))
		}
	}
	if len(cells) > 0 && svgs == 0 {
		out = append(out, "no SVG rendered in any output area")
	}
	return out
}

// The page-side checks, as one JavaScript expression returning []cellReport. The patterns follow
// internal/nbcheck: GoNB reports a panic or a non-zero exit of the cell program with status "ok" and
// shows compile errors as HTML, so the outputs themselves are read.
const reportJS = `Jupyter.notebook.get_cells().map((c, i) => ({c, i})).filter(x => x.c.cell_type === "code").map(({c, i}) => {
  const out = c.element[0].querySelector(".output");
  const errors = [];
  const clip = s => s.trim().slice(0, 300);
  if (out) {
    out.querySelectorAll(".output_error").forEach(e => errors.push("error output: " + clip(e.innerText)));
    out.querySelectorAll(".losslab-error").forEach(e => errors.push("losslab-error: " + clip(e.innerText)));
    out.querySelectorAll(".output_html, .output_text").forEach(e => {
      if (/failed to run "[^"]*go (build|get)|# gonb_/.test(e.innerText) || /gonb_err/.test(e.innerHTML))
        errors.push("compile error: " + clip(e.innerText));
    });
    out.querySelectorAll(".output_stderr, .output_stdout").forEach(e => {
      const s = e.innerText;
      if (/^panic: |^fatal error: |goroutine \d+ \[running\]/m.test(s)) errors.push("panic: " + clip(s));
      else if (/^exit status \d+\s*$|^signal: [a-z ]+$/m.test(s)) errors.push("exit: " + clip(s));
    });
  }
  const src = c.get_text();
  // A picture is expected where the cell shows a figure: a .Show() that is not a table's (tables render
  // as HTML tables; their variables come from viz.NewTable), or nb.SVG.
  const tables = [...src.matchAll(/(\w+)\s*:?=\s*viz\.NewTable/g)].map(m => m[1]);
  const showsPlot = src.split("\n").some(l => /nb\.SVG\(/.test(l) ||
    (/\.Show\(\)/.test(l) && !/NewTable/.test(l) && !tables.some(v => new RegExp("\\b" + v + "\\.Show\\(").test(l))));
  return {
    index: i,
    source: src.split("\n").find(l => l.trim() !== "" && l.trim() !== "%%") || "",
    prompt: c.input_prompt_number === undefined ? null : c.input_prompt_number,
    svgs: out ? out.querySelectorAll(".output_area svg").length : 0,
    images: out ? out.querySelectorAll(".output_area img").length : 0,
    errors,
    showsPlot,
  };
})`

// runInBrowser opens the notebook name (relative to the server's folder) in a new tab, runs all cells,
// waits until they are done, saves a screenshot into arts and returns what the page shows per code cell.
func runInBrowser(t *testing.T, b *Browser, srv *server, name, arts string, width int, limit time.Duration) []cellReport {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(arts, "browser-"+strings.ReplaceAll(strings.TrimSuffix(name, ".ipynb"), "/", "-")+".png")
	// Save a screenshot whatever happens: on failure it is the first thing to look at.
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		h := 900
		var contentH int
		if p.Eval(sctx, `(() => { const c = document.querySelector("#notebook-container");
			const hdr = document.querySelector("#header");
			return (c ? c.scrollHeight : document.body.scrollHeight) + (hdr ? hdr.offsetHeight : 0) + 60; })()`, &contentH) == nil && contentH > h {
			h = min(contentH, 16000)
		}
		png, err := p.Screenshot(sctx, width, h)
		if err != nil {
			t.Errorf("screenshot of %s: %v", name, err)
			return
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Errorf("saving screenshot: %v", err)
			return
		}
		t.Logf("screenshot of %s (%dx%d): %s", name, width, h, shot)
	}()

	url := srv.url + "/notebooks/" + name + "?token=" + srv.token
	if err := p.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	waited, err := p.WaitFor(ctx, `!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded &&
		Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())`, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("notebook page or its kernel did not come up: %v", err)
	}
	t.Logf("%s: page loaded and kernel connected in %.1fs", name, waited.Seconds())
	// No autosave (the copy is thrown away anyway), no outputs from the file: everything checked below
	// comes from this run.
	run := `(() => { Jupyter.notebook.set_autosave_interval(0); Jupyter.notebook.clear_all_output();
		Jupyter.notebook.execute_all_cells(); return true; })()`
	if err := p.Eval(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	// Done when no cell is queued or running and the kernel indicator says idle, twice in a row.
	done := `(() => { const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type === "code");
		const busy = cells.some(c => c.element[0].classList.contains("running") || c.input_prompt_number === "*");
		const idle = !!document.querySelector("#kernel_indicator_icon.kernel_idle_icon");
		return !busy && idle; })()`
	for settled := 0; settled < 2; settled++ {
		if _, err := p.WaitFor(ctx, done, 500*time.Millisecond); err != nil {
			t.Fatalf("cells still running after %v: %v", time.Since(start).Round(time.Second), err)
		}
		time.Sleep(time.Second)
	}
	t.Logf("%s: all cells ran in %.1fs", name, time.Since(start).Seconds())

	var cells []cellReport
	if err := p.Eval(ctx, reportJS, &cells); err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		t.Logf("cell %d [%v] %q: %d svg, %d img, %d problem(s)", c.Index, c.Prompt, c.Source, c.SVGs, c.Images, len(c.Errors))
	}
	return cells
}
