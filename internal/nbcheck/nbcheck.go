// Package nbcheck runs notebooks headless through the `losslab` kernel (Debian's nbconvert) and checks
// what they printed. The kernel's relay (internal/relay) reports a cell whose program panicked or exited
// non-zero as an error; stock GoNB said "ok", so the outputs are read for errors, panics and exit statuses
// as well, and a notebook must show at least one picture.
package nbcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// runCounter numbers the runs of this process, for their tags.
var runCounter atomic.Int64

// Python runs Jupyter: Debian's interpreter, not a pyenv one.
const Python = "/usr/bin/python3"

// Notebook is the part of an .ipynb file the checks read.
type Notebook struct {
	Cells []Cell `json:"cells"`
}

// Cell is one notebook cell.
type Cell struct {
	CellType string   `json:"cell_type"`
	Source   any      `json:"source"`
	Outputs  []Output `json:"outputs"`
}

// Output is one cell output.
type Output struct {
	OutputType string         `json:"output_type"`
	Name       string         `json:"name"`
	Text       any            `json:"text"`
	Data       map[string]any `json:"data"`
	EName      string         `json:"ename"`
	EValue     string         `json:"evalue"`
}

// Options for Execute.
type Options struct {
	Kernel  string        // kernelspec name; default "losslab"
	Timeout time.Duration // whole-notebook limit; default 10 minutes
	// Dir is the folder the kernel runs in; default the notebook's own folder.
	Dir string
	// Output is where the executed notebook is written; default a temporary file that is removed.
	Output string
	// Env adds environment variables for the kernel (e.g. LOSSLAB_QUICK=1).
	Env []string
	// Context, if set, ends the run early when it is done (e.g. on Ctrl-C), as the timeout does:
	// every process of the run is killed.
	Context context.Context
}

// Report is the outcome of one notebook.
type Report struct {
	Path     string
	Duration time.Duration
	Problems []string // empty when the notebook passed
	Pictures int      // outputs that are a picture (SVG, PNG, or HTML holding an <svg>/<img>/plotly div)
}

// OK reports whether the notebook passed every check.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) String() string {
	if r.OK() {
		return fmt.Sprintf("ok   %s (%.1fs, %d picture(s))", r.Path, r.Duration.Seconds(), r.Pictures)
	}
	return fmt.Sprintf("FAIL %s (%.1fs):\n  %s", r.Path, r.Duration.Seconds(), strings.Join(r.Problems, "\n  "))
}

// Execute runs the notebook at path through the kernel and checks its outputs.
func Execute(path string, opts Options) (*Report, error) {
	if opts.Kernel == "" {
		opts.Kernel = "losslab"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	// A file that is not a notebook is one line of report, not the Python traceback of the driver.
	if err := readNotebook(abs); err != nil {
		return &Report{Path: path, Problems: []string{err.Error()}}, nil
	}
	dir := opts.Dir
	if dir == "" {
		dir = filepath.Dir(abs)
	}
	out := opts.Output
	if out == "" {
		tmp, err := os.MkdirTemp("", "nbcheck-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		out = filepath.Join(tmp, filepath.Base(abs))
	}
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	// nbclient drives the kernel; errors stay in the outputs (allow_errors) so that every problem of
	// the notebook is reported, not only the first. A kernel that fails before the first cell starts
	// (its ports are picked free and bound later, so a kernel of a test running in parallel can take one
	// in between) is started again, up to 3 times; once a cell has started, nothing is retried.
	script := `
import os, sys, nbformat
from nbclient import NotebookClient
src, dst, kernel, timeout, cwd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

def write(nb):
    tmp = dst + ".tmp"
    nbformat.write(nb, tmp)
    os.replace(tmp, dst)

started = []
for attempt in range(1, 4):
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": cwd}}, record_timing=False,
                            on_cell_start=lambda cell, cell_index: started.append(cell_index))
    try:
        client.execute()
    except Exception as e:
        if started or attempt == 3:
            write(nb)
            raise
        print("nbcheck: the kernel failed before the first cell (%r); starting it again" % e, file=sys.stderr)
        continue
    write(nb)
    break
`
	parent := opts.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, opts.Timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, Python, "-c", script, abs, outAbs, opts.Kernel, fmt.Sprint(int(opts.Timeout.Seconds())), dir)
	cmd.Dir = dir
	// Every process of the run (the driver, the kernel Jupyter starts in a session of its own, the cell
	// programs, gopls) inherits this tag, so that at the timeout, and after a normal end, nothing of the
	// run survives: not a cell stuck in `for {}`, and not a kernel holding the output pipe open.
	tag := fmt.Sprintf("LOSSLAB_NBCHECK_RUN=%d-%d", os.Getpid(), runCounter.Add(1))
	cmd.Env = append(append(os.Environ(), opts.Env...), tag)
	cmd.Cancel = func() error {
		killRun(cmd.Process.Pid, tag)
		return nil
	}
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	runErr := cmd.Run()
	killRun(0, tag)
	rep := &Report{Path: path, Duration: time.Since(start)}
	switch {
	case parent.Err() != nil:
		rep.Problems = append(rep.Problems, fmt.Sprintf("stopped after %s: %v", rep.Duration.Round(time.Second), context.Cause(parent)))
	case ctx.Err() != nil:
		rep.Problems = append(rep.Problems, fmt.Sprintf("timed out after %s", opts.Timeout))
	}
	if runErr != nil && ctx.Err() == nil {
		rep.Problems = append(rep.Problems, "executing the notebook failed: "+lastLines(stderr.String(), 8))
	}
	data, err := os.ReadFile(outAbs)
	if err != nil {
		if len(rep.Problems) == 0 {
			rep.Problems = append(rep.Problems, "no executed notebook was written: "+err.Error())
		}
		return rep, nil
	}
	var nb Notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("reading executed notebook %s: %w", outAbs, err)
	}
	problems, pictures := Check(&nb)
	rep.Problems = append(rep.Problems, problems...)
	rep.Pictures = pictures
	return rep, nil
}

// maxNotebookBytes bounds the notebooks Execute reads (outputs included): far above any of ours.
const maxNotebookBytes = 512 << 20

// readNotebook checks that path holds a notebook of format 4 with at least one code cell.
func readNotebook(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() > maxNotebookBytes {
		return fmt.Errorf("%s: %d bytes, more than a notebook this harness runs (%d)", path, st.Size(), maxNotebookBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var nb struct {
		Notebook
		Format *int `json:"nbformat"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return fmt.Errorf("%s is not a notebook: invalid JSON at byte %d: %v", path, syn.Offset, err)
		}
		return fmt.Errorf("%s is not a notebook: %v", path, err)
	}
	if nb.Format == nil || *nb.Format != 4 || nb.Cells == nil {
		return fmt.Errorf("%s is not a Jupyter notebook of format 4 (no \"nbformat\": 4 and \"cells\" list)", path)
	}
	if !slices.ContainsFunc(nb.Cells, func(c Cell) bool { return c.CellType == "code" }) {
		return fmt.Errorf("%s: the notebook has no code cell, so it shows no picture", path)
	}
	return nil
}

var (
	reExit  = regexp.MustCompile(`(?m)^(\^C\n)?exit status \d+\s*$|(?m)^signal: [a-z ]+$`)
	rePanic = regexp.MustCompile(`(?m)^panic: |^fatal error: |goroutine \d+ \[running\]`)
	// GoNB shows compile errors and failed `go get`s as HTML (and sometimes only there).
	reCompile = regexp.MustCompile(`(?i)failed to run "/[^"]*go (build|get)|failed to run .go (build|get)|gonb_err|# gonb_`)
)

// Check reads an executed notebook's outputs. It returns one line per problem (error outputs, panics,
// non-zero exits, compile errors, no picture at all) and the number of picture outputs.
func Check(nb *Notebook) (problems []string, pictures int) {
	code := 0
	for _, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		code++
		where := fmt.Sprintf("code cell %d (%s)", code, firstSourceLine(c.Source))
		// A program's output arrives in as many stream messages as the kernel cares to send ("panic: " and
		// its message may be two): read each stream of the cell as one text.
		streams := map[string]*strings.Builder{}
		for _, o := range c.Outputs {
			switch o.OutputType {
			case "error":
				problems = append(problems, fmt.Sprintf("%s: error output %s: %s", where, o.EName, oneLine(o.EValue)))
			case "stream":
				if streams[o.Name] == nil {
					streams[o.Name] = &strings.Builder{}
				}
				streams[o.Name].WriteString(joinText(o.Text))
			case "display_data", "execute_result":
				if isPicture(o.Data) {
					pictures++
				}
				if h := joinText(o.Data["text/html"]); h != "" && reCompile.MatchString(h) {
					problems = append(problems, fmt.Sprintf("%s: compile error: %s", where, oneLine(stripTags(h))))
				} else if strings.Contains(h, `class="losslab-error"`) {
					// lib/viz and lib/nb show library errors in the cell this way, even when the cell ignores
					// the returned error.
					problems = append(problems, fmt.Sprintf("%s: LossLab error shown in the cell: %s", where, oneLine(stripTags(h))))
				}
			}
		}
		for _, name := range []string{"stdout", "stderr"} {
			if streams[name] == nil {
				continue
			}
			text := streams[name].String()
			if m := rePanic.FindString(text); m != "" {
				problems = append(problems, fmt.Sprintf("%s: the cell program panicked: %s", where, oneLine(lineAround(text, m))))
			} else if m := reExit.FindString(text); m != "" {
				problems = append(problems, fmt.Sprintf("%s: the cell program ended with %q", where, strings.TrimSpace(m)))
			}
		}
	}
	switch {
	case code == 0:
		problems = append(problems, "the notebook has no code cell, so it shows no picture")
	case pictures == 0:
		problems = append(problems, "the notebook shows no picture (no image/svg/png output, no HTML holding an <svg> or <img>)")
	}
	return problems, pictures
}

func isPicture(data map[string]any) bool {
	for mime := range data {
		if strings.HasPrefix(mime, "image/") {
			return true
		}
	}
	html := joinText(data["text/html"])
	return strings.Contains(html, "<svg") || strings.Contains(html, "<img") || strings.Contains(html, "Plotly.newPlot")
}

func joinText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		var b strings.Builder
		for _, s := range t {
			if str, ok := s.(string); ok {
				b.WriteString(str)
			}
		}
		return b.String()
	}
	return ""
}

func firstSourceLine(src any) string {
	for _, line := range strings.Split(joinText(src), "\n") {
		if t := strings.TrimSpace(line); t != "" && t != "%%" {
			if len(t) > 60 {
				t = t[:60] + "…"
			}
			return t
		}
	}
	return "empty"
}

func lineAround(text, m string) string {
	i := strings.Index(text, m)
	rest := text[i:]
	if j := strings.IndexByte(rest, '\n'); j >= 0 && !strings.HasPrefix(m, "goroutine") {
		rest = rest[:j]
	}
	return rest
}

var (
	reStyle = regexp.MustCompile(`(?s)<style.*?</style>|<script.*?</script>`)
	reTags  = regexp.MustCompile(`<[^>]*>`)
)

func stripTags(s string) string {
	return html.UnescapeString(reTags.ReplaceAllString(reStyle.ReplaceAllString(s, " "), " "))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ErrNoKernel is returned by KernelInstalled when the kernelspec is missing.
var ErrNoKernel = errors.New(`the "losslab" kernel is not installed: run "go run ./kernel install" (the README's test command does it)`)

// KernelInstalled checks that Jupyter knows the kernel.
func KernelInstalled(name string) error {
	out, err := exec.Command(Python, "-m", "jupyter", "kernelspec", "list", "--json").Output()
	if err != nil {
		return fmt.Errorf("cannot list Jupyter kernels with %s -m jupyter (is Debian's jupyter installed?): %w", Python, err)
	}
	var specs struct {
		Kernelspecs map[string]any `json:"kernelspecs"`
	}
	if err := json.Unmarshal(out, &specs); err != nil {
		return err
	}
	if _, ok := specs.Kernelspecs[name]; !ok {
		return ErrNoKernel
	}
	return nil
}
