package nbcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requireKernel(t *testing.T) {
	t.Helper()
	if err := KernelInstalled("losslab"); err != nil {
		t.Fatal(err)
	}
}

// The harness must fail a notebook for each way a GoNB cell can go wrong: the relay reports those as
// errors, and the harness also reads the outputs (stock GoNB said "ok" to a failed program).
func TestHarnessCatchesFailures(t *testing.T) {
	requireKernel(t)
	cases := map[string]string{
		"good.ipynb":          "",
		"panic.ipynb":         "panicked: panic: assignment to entry in nil map",
		"exit3.ipynb":         "exit status 3", // an error output through the relay, a stream from stock GoNB
		"compile-error.ipynb": "undefinedThing",
		"noplot.ipynb":        "shows no picture",
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			rep, err := Execute(filepath.Join("testdata", name), Options{Timeout: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if want == "" {
				if !rep.OK() {
					t.Fatalf("want pass, got:\n%s", rep)
				}
				if rep.Pictures != 1 {
					t.Errorf("want 1 picture, got %d", rep.Pictures)
				}
				return
			}
			if rep.OK() {
				t.Fatalf("want a failure mentioning %q, the notebook passed", want)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), want) {
				t.Fatalf("want a problem mentioning %q, got:\n%s", want, rep)
			}
		})
	}
}

// A notebook in a new, empty folder outside the repository imports lib/ with no setup cell.
func TestFreshFolderOutsideRepo(t *testing.T) {
	requireKernel(t)
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "good.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fresh.ipynb")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "fresh.out.ipynb")
	rep, err := Execute(path, Options{Timeout: 5 * time.Minute, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("notebook outside the repo failed:\n%s", rep)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), "backend: ") {
		t.Errorf("the first cell should say which backend runs; output notebook:\n%.2000s", data)
	}
}

func TestCheckReadsOutputs(t *testing.T) {
	nb := &Notebook{Cells: []Cell{
		{CellType: "markdown"},
		{CellType: "code", Source: "%%\nfmt.Println(1)", Outputs: []Output{
			{OutputType: "stream", Name: "stdout", Text: "1\n"},
			{OutputType: "display_data", Data: map[string]any{"text/html": []any{"<div><svg></svg></div>"}}},
		}},
	}}
	problems, pics := Check(nb)
	if len(problems) != 0 || pics != 1 {
		t.Fatalf("clean notebook: problems %v, pictures %d", problems, pics)
	}
	nb.Cells[1].Outputs = append(nb.Cells[1].Outputs, Output{OutputType: "stream", Name: "stderr", Text: "signal: killed\n"})
	problems, _ = Check(nb)
	if len(problems) != 1 || !strings.Contains(problems[0], "signal: killed") {
		t.Fatalf("killed cell: got %v", problems)
	}
}

// A panic whose "panic: " and message arrive as separate stream messages is still read as one.
func TestCheckJoinsStreamMessages(t *testing.T) {
	nb := &Notebook{Cells: []Cell{{CellType: "code", Source: "%%\npanic(1)", Outputs: []Output{
		{OutputType: "stream", Name: "stderr", Text: "panic: "},
		{OutputType: "stream", Name: "stderr", Text: "assignment to entry in nil map\n\ngoroutine 1 [running]:\n"},
		{OutputType: "stream", Name: "stderr", Text: "exit status 2\n"},
		{OutputType: "display_data", Data: map[string]any{"image/png": "x"}},
	}}}}
	problems, _ := Check(nb)
	if len(problems) != 1 || !strings.Contains(problems[0], "panicked: panic: assignment to entry in nil map") {
		t.Fatalf("got %q", problems)
	}
}

// A kernel that dies before the first cell (as when another process takes one of its ports between
// Jupyter picking it and the kernel binding it) is started again; the notebook then runs normally.
func TestKernelStartRetried(t *testing.T) {
	requireKernel(t)
	out, err := exec.Command(Python, "-c", `from jupyter_client.kernelspec import KernelSpecManager
print(KernelSpecManager().get_kernel_spec("losslab").resource_dir)`).Output()
	if err != nil {
		t.Fatalf("finding the losslab kernelspec: %v", err)
	}
	specJSON, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(specJSON, &spec); err != nil {
		t.Fatal(err)
	}
	argv := spec["argv"].([]any)
	tmp := t.TempDir()
	mark := filepath.Join(tmp, "first-start-failed")
	script := filepath.Join(tmp, "flaky.sh")
	// The first start exits at once; later ones run the real kernel, as its kernelspec starts it.
	var run []string
	for _, a := range argv {
		if a == "{connection_file}" {
			run = append(run, `"$1"`)
		} else {
			run = append(run, fmt.Sprintf("%q", a))
		}
	}
	body := fmt.Sprintf("#!/bin/sh\nif [ ! -e %q ]; then : > %q; exit 1; fi\nexec %s\n", mark, mark, strings.Join(run, " "))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	spec["argv"] = []string{"/bin/sh", script, "{connection_file}"}
	spec["display_name"] = "LossLab (fails once)"
	dir := filepath.Join(tmp, "kernels", "losslab-flaky")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Execute(filepath.Join("testdata", "good.ipynb"), Options{Kernel: "losslab-flaky", Timeout: 5 * time.Minute,
		Env: []string{"JUPYTER_PATH=" + tmp}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the flaky kernel never ran (%v); report:\n%s", err, rep)
	}
	if !rep.OK() || rep.Pictures != 1 {
		t.Fatalf("after one failed kernel start the notebook should pass with 1 picture, got:\n%s", rep)
	}
}

// A notebook that never finishes (a cell running `for {}`) ends at the timeout: Execute returns, says
// so, and leaves no process of the run behind (the kernel, the cell program, gopls). Before, it never
// returned: the kernel outlived the killed driver and held its output pipe.
func TestTimeoutEndsEverything(t *testing.T) {
	stopLoop(t, Options{Timeout: 30 * time.Second}, "timed out after 30s")
}

// A run whose context ends (go run ./kernel execute on Ctrl-C or SIGTERM) stops the same way.
func TestCancelEndsEverything(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stopLoop(t, Options{Timeout: 10 * time.Minute, Context: ctx}, "stopped after")
}

// stopLoop runs testdata/loop.ipynb with opts, which must stop it: Execute must return within minutes
// with a problem mentioning want, and no process of the run (found by a tag in their environment)
// may be left.
func stopLoop(t *testing.T, opts Options, want string) {
	requireKernel(t)
	tag := fmt.Sprintf("LOSSLAB_NBCHECK_TEST=%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { killTagged(t, tag) })
	opts.Env = append(opts.Env, tag)
	done := make(chan *Report, 1)
	go func() {
		rep, err := Execute(filepath.Join("testdata", "loop.ipynb"), opts)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	var rep *Report
	select {
	case rep = <-done:
	case <-time.After(4 * time.Minute):
		t.Fatalf("Execute had not returned 4 minutes after it should have stopped; processes of the run: %v", tagged(tag))
	}
	if rep == nil {
		return
	}
	if !strings.Contains(strings.Join(rep.Problems, "\n"), want) {
		t.Errorf("want a problem mentioning %q, got:\n%s", want, rep)
	}
	if left := tagged(tag); len(left) > 0 {
		t.Errorf("processes of the run still alive after Execute returned: %v", left)
	}
}

// tagged lists the processes (pid: command) whose environment holds tag.
func tagged(tag string) []string {
	var out []string
	for _, pid := range processesWithEnv(tag) {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return out
}

func killTagged(t *testing.T, tag string) {
	for _, pid := range processesWithEnv(tag) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// A file that is not a notebook is reported in one line naming the problem, not with the Python
// traceback of the driver; a notebook with no code cell fails like one whose cells show no picture.
func TestNotANotebook(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"broken.ipynb":   `{"cells": [`,
		"array.ipynb":    `[1, 2]`,
		"empty.ipynb":    ``,
		"nocells.ipynb":  `{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`,
		"markdown.ipynb": `{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# hi"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Execute(path, Options{Timeout: 2 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(rep.Problems, "\n")
			if rep.OK() || strings.Contains(text, "Traceback") || strings.Count(text, "\n") > 2 {
				t.Fatalf("want a short failure naming the problem, got:\n%s", rep)
			}
			if !strings.Contains(text, name) && !strings.Contains(text, "no code cell") {
				t.Errorf("the problem should name the file or say there is no code cell: %s", text)
			}
		})
	}
}

// Check fails a notebook without code cells, as it fails one whose cells show no picture.
func TestCheckNoCodeCell(t *testing.T) {
	for _, nb := range []*Notebook{{}, {Cells: []Cell{{CellType: "markdown", Source: "# title"}}}} {
		if problems, _ := Check(nb); len(problems) != 1 || !strings.Contains(problems[0], "no code cell") {
			t.Errorf("%d cells, no code: problems %q", len(nb.Cells), problems)
		}
	}
}
