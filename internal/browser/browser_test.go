package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/losslab/losslab/internal/lab"
	"github.com/losslab/losslab/internal/nbcheck"
	"github.com/losslab/losslab/internal/setup"
	"github.com/losslab/losslab/lib/nb"
)

// The notebooks the browser tests open, relative to notebooks/; a missing one is skipped with a log line.
// JupyterLab, which `go run ./kernel up` starts, runs them all; the classic Notebook keeps one run.
var (
	labNotebooks     = []string{"00-quickstart.ipynb", "papers/02-lmc.ipynb"}
	classicNotebooks = []string{"00-quickstart.ipynb"}
)

// Limits. Measured in quick mode on the shared 2-core machine at load 13–18, the JupyterLab run took 27 s
// (negative control), 52 s (quickstart), 182 s (02-lmc) and 55 s (interactive); the limit per notebook
// leaves room for such a load.
const (
	serverStartLimit = 60 * time.Second
	notebookLimit    = 5 * time.Minute
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

// frontEnd is the Jupyter front end a test server runs.
type frontEnd int

const (
	classicNotebook frontEnd = iota // classic Notebook 6, `go run ./kernel up -classic`
	jupyterLab                      // LossLab's JupyterLab build (internal/lab), `go run ./kernel up`
)

func (f frontEnd) String() string {
	if f == jupyterLab {
		return "JupyterLab"
	}
	return "Jupyter Notebook"
}

// server is a Jupyter server started the way `go run ./kernel up` starts it.
type server struct {
	url, token string
	cmd        *exec.Cmd
	log        *os.File
	exited     chan struct{} // closed when the server process has exited
	waitErr    error
}

// startServer starts the front end on 127.0.0.1 with the same arguments as `go run ./kernel up`
// (kernel/commands.go, upCommand), serving dir with a known token and LOSSLAB_QUICK=1 for the kernels.
// The notebooks are copies in dir, so autosave can never touch the checkout.
//
// The port is probed free and then handed to Jupyter, so another process (in CI, the kernels that the
// kernelconf and nbcheck tests start in parallel bind random ports) can take it in between. When Jupyter
// says the port is taken, startServer tries again on a fresh port, a few times; any other failure is fatal.
func startServer(t *testing.T, fe frontEnd, dir string) *server {
	t.Helper()
	const attempts = 5
	for i := 1; ; i++ {
		if s, _ := tryServer(t, fe, dir, freePort(t)); s != nil {
			return s
		}
		if i == attempts {
			t.Fatalf("%v found its port taken %d times in a row (logs above)", fe, attempts)
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
func tryServer(t *testing.T, fe frontEnd, dir string, port int) (*server, bool) {
	t.Helper()
	token := fmt.Sprintf("losslab-browser-test-%d", time.Now().UnixNano())
	tmp := t.TempDir()
	logf, err := os.Create(filepath.Join(tmp, "jupyter.log"))
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--no-browser", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port)}
	var argv []string
	if fe == jupyterLab {
		home := nb.Home()
		if ok, line := lab.Status(home); !ok {
			t.Fatalf("%s: run `go run ./kernel install`", line)
		}
		// window.jupyterapp lets the test read the notebook's model; everything it does goes through the UI.
		argv = lab.Command(home, append(common, "--ServerApp.root_dir="+dir, "--ServerApp.token="+token,
			"--ServerApp.port_retries=0", "--LossLabApp.expose_app_in_browser=True")...)
	} else {
		argv = append([]string{setup.Python, "-m", "notebook"}, common...)
		argv = append(argv, "--notebook-dir="+dir, "--NotebookApp.token="+token, "--NotebookApp.port_retries=0")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LOSSLAB_QUICK=1",
		"JUPYTER_CONFIG_DIR="+filepath.Join(tmp, "config"), // no user configuration (passwords, extensions, Lab settings and workspaces)
		"JUPYTER_RUNTIME_DIR="+filepath.Join(tmp, "runtime"))
	if os.Geteuid() == 0 {
		// Jupyter refuses to run as root without this flag (`go run ./kernel up` passes extra flags through).
		cmd.Args = append(cmd.Args, "--allow-root")
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that cleanup also stops the kernels it started
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v (%s): %v", fe, strings.Join(argv, " "), err)
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
			t.Fatalf("%v exited (%v) before answering on %s; its log:\n%s", fe, s.waitErr, s.url, log)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("%v did not answer on %s within %v; its log:\n%s", fe, s.url, serverStartLimit, s.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServerPortTaken checks that a taken port is recognised (and so retried) rather than reported as
// some other failure: it holds a port open and asks each front end's server to serve on it.
func TestServerPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, fe := range []frontEnd{classicNotebook, jupyterLab} {
		s, taken := tryServer(t, fe, t.TempDir(), l.Addr().(*net.TCPAddr).Port)
		if s != nil || !taken {
			t.Errorf("%v on a taken port: got server %v, taken %v; want nil, true", fe, s != nil, taken)
		}
	}
}

func (s *server) logTail() string {
	if s.log == nil {
		return "(no log: the server was started outside the test, $" + labURLEnv + ")"
	}
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
	if s.cmd == nil {
		return // started outside the test: its owner stops it
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

// labURLEnv and labTokenEnv name a JupyterLab that TestNotebooksInLab uses instead of starting one (the
// image test points it at the one in the image): the notebooks are uploaded into uploadDir there.
const (
	labURLEnv   = "LOSSLAB_LAB_URL"
	labTokenEnv = "LOSSLAB_LAB_TOKEN"
	uploadDir   = "losslab-browser-test"
)

// upload copies every notebook under dir into the folder to of the server, through Jupyter's contents
// API, creating the folders on the way.
func upload(t *testing.T, srv *server, dir, to string) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	put := func(path string, model any) {
		body, err := json.Marshal(model)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", srv.url+"/api/contents/"+path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "token "+srv.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("uploading %s to %s: %v", path, srv.url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			msg, _ := io.ReadAll(resp.Body)
			t.Fatalf("uploading %s to %s: %s: %s", path, srv.url, resp.Status, msg)
		}
	}
	put(to, map[string]any{"type": "directory"})
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		target := to + "/" + filepath.ToSlash(rel)
		if d.IsDir() {
			put(target, map[string]any{"type": "directory"})
			return nil
		}
		if !strings.HasSuffix(p, ".ipynb") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		put(target, map[string]any{"type": "notebook", "format": "json", "content": json.RawMessage(data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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
// TestNotebooksInLab (lab_test.go) does the same in JupyterLab, and more.
//
// A negative control (testdata/bad.ipynb: a LossLab error box with a panic, then a compile error) runs
// first in the same page, so that a check that cannot fail would show up; Run All must stop at the panic
// (the kernel's relay reports it as an error and aborts the cells queued behind it).
//
// LOSSLAB_BROWSER_TIMEOUT (a Go duration, default 3m) bounds each notebook.
func TestNotebooksInBrowser(t *testing.T) {
	browserSuite(t, classicNotebook, classicNotebooks, nil, runInBrowser)
}

// runner opens one notebook (relative to the server's folder) in a new tab, runs all its cells and
// returns what the page shows per code cell, saving a screenshot into arts.
type runner func(t *testing.T, b *Browser, srv *server, name, arts string, width int, limit time.Duration) []cellReport

// browserSuite runs the negative control, then the named notebooks of notebooks/, then the named
// notebooks of testdata/ (each as its own subtest, checked by its own extra test if any) in front end fe.
func browserSuite(t *testing.T, fe frontEnd, names, testdata []string, run runner, extra ...func(*testing.T, []cellReport)) {
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
	names = copyNotebooks(t, repo, dir, names)
	if len(names) == 0 {
		t.Fatal("none of the browser test's notebooks exists")
	}
	for _, f := range append([]string{"bad.ipynb"}, testdata...) {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "bad.ipynb" {
			f = "negative-control.ipynb"
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var srv *server
	if url := os.Getenv(labURLEnv); url != "" && fe == jupyterLab {
		srv = &server{url: strings.TrimRight(url, "/"), token: os.Getenv(labTokenEnv)}
		t.Cleanup(srv.stop)
		upload(t, srv, dir, uploadDir)
		for i := range names {
			names[i] = uploadDir + "/" + names[i]
		}
		for i := range testdata {
			testdata[i] = uploadDir + "/" + testdata[i]
		}
	} else {
		srv = startServer(t, fe, dir)
	}
	negative := "negative-control.ipynb"
	if srv.cmd == nil {
		negative = uploadDir + "/" + negative
	}
	const width, height = 1280, 900
	b := launch(t, width, height)
	arts := artifactsDir(t)

	t.Run("negative-control", func(t *testing.T) {
		cells := run(t, b, srv, negative, arts, width, limit)
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
		}{{1, "losslab-error"}, {1, "panic"}, {1, "error output"}} {
			if !found(want.cell, want.kind) {
				t.Errorf("negative control: the page checks missed the %s in cell %d (reported: %q)", want.kind, cells[want.cell].Index, cells[want.cell].Errors)
			}
		}
		if c := cells[2]; c.Prompt != nil || len(c.Errors) > 0 {
			t.Errorf("negative control: Run All went on past the failed cell: cell %d ran (prompt %v, %q)", c.Index, c.Prompt, c.Errors)
		}
	})
	for i, name := range append(names, testdata...) {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			cells := run(t, b, srv, name, arts, width, limit)
			for _, p := range problems(cells) {
				t.Error(p)
			}
			if j := i - len(names); j >= 0 && j < len(extra) && extra[j] != nil {
				extra[j](t, cells)
			}
		})
	}
	if t.Failed() {
		t.Logf("%v's log (tail):\n%s", fe, srv.logTail())
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
	Plotly    int      `json:"plotly"`    // interactive (plotly.js) figures; JupyterLab run only
	Figures   []figure `json:"figures"`   // each figure's box and how much of it is drawn; JupyterLab run only
}

// figure is one figure in a cell's output: its box in the full-length screenshot, in CSS pixels (device
// scale 1), and the share of its pixels that differ from its background.
type figure struct {
	Kind string  `json:"kind"` // "svg", "plotly" or "img"
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
	W    float64 `json:"w"`
	H    float64 `json:"h"`
	Note string  `json:"note"` // a message the figure shows instead of a plot (plotly: no WebGL)
	Ink  float64 `json:"-"`    // share of the box's pixels that differ from its background
	Hue  float64 `json:"-"`    // share of the box's pixels in colour (not grey): the data of a plot
}

// problems lists what is wrong with a notebook's cells; empty when it passed.
func problems(cells []cellReport) []string {
	var out []string
	svgs := 0
	for _, c := range cells {
		svgs += c.SVGs + c.Plotly
		for _, e := range c.Errors {
			out = append(out, fmt.Sprintf("cell %d (%q): %s", c.Index, c.Source, e))
		}
		if c.Prompt == nil || c.Prompt == "*" {
			out = append(out, fmt.Sprintf("cell %d (%q) did not run (prompt %v)", c.Index, c.Source, c.Prompt))
		}
		if c.ShowsPlot && c.SVGs == 0 && c.Plotly == 0 && len(c.Errors) == 0 {
			out = append(out, fmt.Sprintf("cell %d (%q) shows a figure, but its output holds no SVG", c.Index, c.Source))
		}
		for j, f := range c.Figures {
			if f.Note != "" {
				out = append(out, fmt.Sprintf("cell %d (%q): %s figure %d says %q", c.Index, c.Source, f.Kind, j+1, f.Note))
			}
			if f.Ink < minInk {
				out = append(out, fmt.Sprintf("cell %d (%q): %s figure %d (%.0f×%.0f at %.0f,%.0f) is blank in the screenshot: %.2f%% of its pixels drawn, want ≥ %.2f%%",
					c.Index, c.Source, f.Kind, j+1, f.W, f.H, f.X, f.Y, 100*f.Ink, 100*minInk))
			}
			// A plotly figure that drew its frame (title, axes, ticks: grey) but not its data (coloured).
			if f.Kind == "plotly" && f.Ink >= minInk && f.Hue < minHue {
				out = append(out, fmt.Sprintf("cell %d (%q): plotly figure %d shows no data: %.3f%% of its pixels in colour, want ≥ %.3f%%",
					c.Index, c.Source, j+1, 100*f.Hue, 100*minHue))
			}
		}
	}
	if len(cells) > 0 && svgs == 0 {
		out = append(out, "no SVG or interactive figure rendered in any output area")
	}
	return out
}

// showsPlotJS defines showsPlot(src): whether a cell's source shows a figure. A picture is expected
// where the cell shows a figure: a .Show() that is not a table's (tables render as HTML tables; their
// variables come from viz.NewTable), or nb.SVG.
const showsPlotJS = `const showsPlot = src => {
  const tables = [...src.matchAll(/(\w+)\s*:?=\s*viz\.NewTable/g)].map(m => m[1]);
  return src.split("\n").some(l => /nb\.SVG\(/.test(l) ||
    (/\.Show\(\)/.test(l) && !/NewTable/.test(l) && !tables.some(v => new RegExp("\\b" + v + "\\.Show\\(").test(l))));
};
`

// The page-side checks, as one JavaScript expression returning []cellReport. The patterns follow
// internal/nbcheck: GoNB reports a panic or a non-zero exit of the cell program with status "ok" and
// shows compile errors as HTML, so the outputs themselves are read.
const reportJS = `(() => {` + showsPlotJS + `return Jupyter.notebook.get_cells().map((c, i) => ({c, i})).filter(x => x.c.cell_type === "code").map(({c, i}) => {
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
  return {
    index: i,
    source: src.split("\n").find(l => l.trim() !== "" && l.trim() !== "%%") || "",
    prompt: c.input_prompt_number === undefined ? null : c.input_prompt_number,
    svgs: out ? out.querySelectorAll(".output_area svg").length : 0,
    images: out ? out.querySelectorAll(".output_area img").length : 0,
    errors,
    showsPlot: showsPlot(src),
  };
})})()`

// newTab opens a tab for one notebook, with a context that ends after limit (or with the test).
func newTab(t *testing.T, b *Browser, limit time.Duration) (context.Context, *Page) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, p
}

// runInBrowser opens the notebook name (relative to the server's folder) in a new tab, runs all cells,
// waits until they are done, saves a screenshot into arts and returns what the page shows per code cell.
func runInBrowser(t *testing.T, b *Browser, srv *server, name, arts string, width int, limit time.Duration) []cellReport {
	ctx, p := newTab(t, b, limit)
	start := time.Now()
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
