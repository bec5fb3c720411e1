// Command bench runs LossLab and a PyTorch reference side by side on the same work and prints one table
// of medians and ratios (LossLab ÷ PyTorch throughput), with each side's peak memory and LossLab's graph
// compilations, and writes it to bench/out/results.json. Run it from the repository root:
//
//	go run -tags=noxla ./bench                 # every workload, 3 interleaved repetitions
//	go run -tags=noxla ./bench -quick          # smoke run with small sizes
//	go run -tags=noxla ./bench -only train-mlp,pgd -reps 5
//
// Each workload runs in two fresh child processes, one per side (this program in worker mode, and
// bench/torch_peer.py under Debian's /usr/bin/python3 with python3-torch), both with the same number of
// threads. Each child loads its data and compiles or warms up before the first timed repetition; then
// the parent asks them for repetitions in turn (LossLab, PyTorch, LossLab, PyTorch, ...), so that a
// change in the machine's load hits both sides alike. See bench/README.md.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// workloadDef is one workload of the issue and how its rows are reported.
type workloadDef struct {
	name, title, unit string
	goVariants        []string // the Go worker's variants; the first is compared with PyTorch
	target            float64  // minimum LossLab ÷ PyTorch ratio (0: none)
}

var workloads = []workloadDef{
	{name: "train-mlp", title: "training step, MLP 784-256-256-10, batch 256, Adam", unit: "examples/s", goVariants: []string{""}, target: 1.0},
	{name: "train-cnn", title: "training step, small CNN (conv16-conv32-dense64), batch 256, Adam", unit: "examples/s", goVariants: []string{""}, target: 0.5},
	{name: "grid", title: "21×21 loss grid, MLP (LossLab batched vs PyTorch per-point loop)", unit: "points/s", goVariants: []string{"batched", "per-point"}, target: 1.0},
	{name: "lmc", title: "LMC path, 21 points + refinement, two trained MLPs", unit: "points/s", goVariants: []string{""}, target: 0.5},
	{name: "pgd", title: "PGD-10 (L∞), small CNN, batch 256", unit: "images/s", goVariants: []string{""}, target: 0.5},
	{name: "hessian", title: "top Hessian eigenvalue, power iteration, MLP", unit: "iterations/s", goVariants: []string{""}, target: 0.5},
	{name: "atlas", title: "objective atlas: per objective (ce, gce), 3 MLPs trained, test accuracy, LMC barrier, top Hessian eigenvalue", unit: "objectives/h", goVariants: []string{""}},
	{name: "cells", title: "notebook cell latency through the losslab kernel", unit: "s"},
}

type options struct {
	reps         int
	only         map[string]bool
	quick        bool
	threads      int
	out          string
	root         string
	python       string
	fixtureSteps int
	gridPoints   int
	profileDir   string
	cold         bool
	peerEnv      []string
	baseline     string
	baselineEnv  []string
}

func main() {
	var (
		worker     = flag.String("worker", "", "internal: run as the LossLab worker of this workload")
		fixture    = flag.String("fixture", "", "internal: the fixture folder (worker mode)")
		cpuProfile = flag.String("cpuprofile", "", "internal: CPU profile of the timed repetitions (worker mode)")
		o          options
		only       string
	)
	flag.IntVar(&o.reps, "reps", 3, "timed repetitions per side (interleaved LossLab, PyTorch, LossLab, ...)")
	flag.StringVar(&only, "only", "", "comma-separated workloads to run (default all): "+workloadNames())
	flag.BoolVar(&o.quick, "quick", false, "smoke run: small sizes, 1 repetition unless -reps is given, no cold-cache cell")
	flag.IntVar(&o.threads, "threads", runtime.NumCPU(), "threads of each side (GOMAXPROCS; torch.set_num_threads)")
	flag.StringVar(&o.out, "out", "bench/out/results.json", "where the JSON results go")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the Python that has torch (Debian's python3-torch)")
	flag.IntVar(&o.fixtureSteps, "fixture-steps", 0, "training steps of each fixture MLP (default 235, one epoch; 30 with -quick)")
	flag.IntVar(&o.gridPoints, "grid-points", 0, "grid points per repetition (default 16; 441 is the whole 21×21 grid)")
	flag.StringVar(&o.profileDir, "profile", "", "write a CPU profile of each LossLab worker's timed repetitions into this folder")
	peerEnv := flag.String("peer-env", "OMP_WAIT_POLICY=PASSIVE", "space-separated VAR=value settings added to the PyTorch peer's environment\n"+
		"(default: OpenMP threads sleep instead of spinning between operations, which keeps torch from collapsing on a loaded machine)")
	flag.StringVar(&o.baseline, "baseline", "", "also run LossLab with this GOMLX_BACKEND (e.g. go:ops_sequential), interleaved in the same\n"+
		"repetitions, and report what the default backend gains over it")
	baselineEnv := flag.String("baseline-env", "", "space-separated VAR=value settings added to the -baseline worker's environment only")
	flag.BoolVar(&o.cold, "cold", true, "also time the first cell of a kernel with an empty Go build cache (slow: rebuilds GoMLX)")
	flag.Parse()

	if *worker != "" {
		if err := runGoWorker(*worker, *fixture, o.threads, o.quick, o.gridPoints, *cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	repsSet := false
	flag.Visit(func(f *flag.Flag) { repsSet = repsSet || f.Name == "reps" })
	if o.quick && !repsSet {
		o.reps = 1
	}
	if o.quick {
		o.cold = false
	}
	if o.reps < 1 || o.threads < 1 {
		fatal(errors.New("-reps and -threads must be ≥ 1"))
	}
	o.peerEnv = strings.Fields(*peerEnv)
	o.baselineEnv = strings.Fields(*baselineEnv)
	var err error
	if o.only, err = parseOnly(only); err != nil {
		fatal(err)
	}
	if o.root, err = repoRoot(); err != nil {
		fatal(err)
	}
	if !filepath.IsAbs(o.out) {
		o.out = filepath.Join(o.root, o.out)
	}
	if o.fixtureSteps == 0 {
		o.fixtureSteps = 235
		if o.quick {
			o.fixtureSteps = 30
		}
	}
	rep, err := runAll(o)
	if rep != nil && len(rep.Rows) > 0 {
		fmt.Println()
		rep.Table(os.Stdout)
		if rep.Peer != "" {
			fmt.Println("PyTorch peer:", rep.Peer)
		}
		fmt.Printf("load average (1, 5, 15 min): %s at the start, %s at the end\n", rep.LoadBefore, rep.LoadAfter)
		if werr := rep.WriteJSON(o.out); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		} else {
			fmt.Println("\nwritten:", o.out)
		}
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func workloadNames() string {
	var n []string
	for _, w := range workloads {
		n = append(n, w.name)
	}
	return strings.Join(n, ",")
}

// parseOnly turns the -only list into a set (nil: everything), rejecting unknown names.
func parseOnly(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	known := map[string]bool{}
	for _, w := range workloads {
		known[w.name] = true
	}
	out := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !known[name] {
			return nil, fmt.Errorf("-only: unknown workload %q (known: %s)", name, workloadNames())
		}
		out[name] = true
	}
	return out, nil
}

// repoRoot finds the folder holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "bench", "torch_peer.py")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the LossLab repository (no go.mod with bench/torch_peer.py above the working directory)")
		}
		dir = parent
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func runAll(o options) (*Report, error) {
	rep := &Report{Date: today(), LoadBefore: loadavg(),
		Machine: map[string]any{"cpus": runtime.NumCPU(), "cpu": cpuModel(), "go": runtime.Version(), "threads_per_side": o.threads},
		Flags: map[string]any{"reps": o.reps, "quick": o.quick, "grid_points": o.gridPoints, "fixture_steps": o.fixtureSteps,
			"peer_env": o.peerEnv}}
	defer func() { rep.LoadAfter = loadavg() }()
	logf("load average: %s (1, 5, 15 min); %d threads per side", rep.LoadBefore, o.threads)
	outDir := filepath.Dir(o.out)
	fixture := filepath.Join(outDir, fmt.Sprintf("fixture-%d", o.fixtureSteps))
	needFixture := false
	for _, w := range []string{"grid", "lmc", "hessian"} {
		needFixture = needFixture || o.only == nil || o.only[w]
	}
	if needFixture {
		if err := makeFixture(fixture, o.fixtureSteps, logf); err != nil {
			return rep, fmt.Errorf("fixture: %w", err)
		}
	}
	var errs []error
	for _, w := range workloads {
		if o.only != nil && !o.only[w.name] {
			continue
		}
		var rows []*Row
		var err error
		if w.name == "cells" {
			rows, err = runCells(o, outDir)
		} else {
			rows, err = runPair(o, w, fixture, outDir)
		}
		rep.Rows = append(rep.Rows, rows...)
		if err != nil {
			logf("%s: %v", w.name, err)
			errs = append(errs, fmt.Errorf("%s: %w", w.name, err))
		}
		if w.name != "cells" && len(rows) > 0 && rows[0].Peer != nil {
			rep.Machine["pytorch"] = rows[0].Peer.Info
			rep.Peer = peerLine(rows[0].Peer.Info) + "; env " + strings.Join(o.peerEnv, " ")
		}
	}
	return rep, errors.Join(errs...)
}

// child is a running worker process speaking the line protocol of worker.go.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *json.Decoder
	log   string
}

func startChild(name string, cmd *exec.Cmd, logPath string) (*child, message, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, message{}, err
	}
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, message{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, message{}, err
	}
	if err := cmd.Start(); err != nil {
		return nil, message{}, fmt.Errorf("%s: %w", name, err)
	}
	go func() { cmd.Wait(); logFile.Close() }()
	c := &child{name: name, cmd: cmd, stdin: stdin, out: json.NewDecoder(bufio.NewReader(stdout)), log: logPath}
	m, err := c.read()
	return c, m, err
}

func (c *child) read() (message, error) {
	var m message
	if err := c.out.Decode(&m); err != nil {
		return m, fmt.Errorf("%s stopped (%v); its log %s ends with:\n%s", c.name, err, c.log, tailFile(c.log, 15))
	}
	if m.Error != "" {
		return m, fmt.Errorf("%s: %s", c.name, m.Error)
	}
	return m, nil
}

func (c *child) run(variant string) (Sample, error) {
	if _, err := fmt.Fprintf(c.stdin, "run %s\n", variant); err != nil {
		return Sample{}, fmt.Errorf("%s: %w", c.name, err)
	}
	m, err := c.read()
	if err != nil {
		return Sample{}, err
	}
	if m.Sample == nil {
		return Sample{}, fmt.Errorf("%s: answer without a sample", c.name)
	}
	return *m.Sample, nil
}

func (c *child) quit() (message, error) {
	if _, err := fmt.Fprintln(c.stdin, "quit"); err != nil {
		return message{}, err
	}
	m, err := c.read()
	c.stdin.Close()
	return m, err
}

func (c *child) kill() {
	if c != nil && c.cmd.Process != nil {
		c.cmd.Process.Kill()
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runPair runs one workload: both children set up (one after the other, so neither's setup slows the
// other's), then o.reps interleaved timed repetitions, then both report their peak memory.
func runPair(o options, w workloadDef, fixture, outDir string) ([]*Row, error) {
	logDir := filepath.Join(outDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	goArgs := []string{"-worker", w.name, "-fixture", fixture, "-threads", fmt.Sprint(o.threads), "-grid-points", fmt.Sprint(o.gridPoints)}
	pyArgs := []string{filepath.Join(o.root, "bench", "torch_peer.py"), w.name, "--fixture", fixture, "--threads", fmt.Sprint(o.threads)}
	if o.gridPoints > 0 {
		pyArgs = append(pyArgs, "--grid-points", fmt.Sprint(o.gridPoints))
	}
	if o.quick {
		goArgs = append(goArgs, "-quick")
		pyArgs = append(pyArgs, "--quick")
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, err
		}
		abs, _ := filepath.Abs(filepath.Join(o.profileDir, w.name+".pprof"))
		goArgs = append(goArgs, "-cpuprofile", abs)
	}
	goCmd := exec.Command(self, goArgs...)
	goCmd.Dir = o.root
	pyCmd := exec.Command(o.python, pyArgs...)
	pyCmd.Dir = o.root
	threads := fmt.Sprint(o.threads)
	pyCmd.Env = append(append(os.Environ(), "OMP_NUM_THREADS="+threads, "OPENBLAS_NUM_THREADS="+threads, "MKL_NUM_THREADS="+threads), o.peerEnv...)

	logf("%s: setting up LossLab (load, compile, one untimed repetition)", w.name)
	gw, gReady, err := startChild("losslab "+w.name, goCmd, filepath.Join(logDir, w.name+"-losslab.log"))
	if err != nil {
		gw.kill()
		return nil, err
	}
	defer gw.kill()
	logf("%s: LossLab ready in %.1f s; setting up PyTorch", w.name, gReady.Setup)
	pw, pReady, err := startChild("pytorch "+w.name, pyCmd, filepath.Join(logDir, w.name+"-pytorch.log"))
	if err != nil {
		pw.kill()
		return nil, err
	}
	defer pw.kill()
	logf("%s: PyTorch ready in %.1f s (%s)", w.name, pReady.Setup, peerLine(pReady.Info))

	var bw *child
	var baseSide *Side
	if o.baseline != "" {
		bCmd := exec.Command(self, goArgs...)
		bCmd.Dir = o.root
		bCmd.Env = append(append(os.Environ(), "GOMLX_BACKEND="+o.baseline), o.baselineEnv...)
		logf("%s: setting up LossLab on %s", w.name, o.baseline)
		var bReady message
		bw, bReady, err = startChild("losslab "+o.baseline+" "+w.name, bCmd, filepath.Join(logDir, w.name+"-baseline.log"))
		if err != nil {
			bw.kill()
			return nil, err
		}
		defer bw.kill()
		baseName := o.baseline
		if len(o.baselineEnv) > 0 {
			baseName += " " + strings.Join(o.baselineEnv, " ")
		}
		baseSide = &Side{Name: "losslab " + baseName, SetupSeconds: bReady.Setup, SetupCompiles: bReady.Compiles, Info: bReady.Info}
	}

	goSides := make([]*Side, len(w.goVariants))
	for i, v := range w.goVariants {
		name := "losslab"
		if v != "" {
			name += " " + v
		}
		goSides[i] = &Side{Name: name, SetupSeconds: gReady.Setup, SetupCompiles: gReady.Compiles, Info: gReady.Info}
	}
	peer := &Side{Name: "pytorch", SetupSeconds: pReady.Setup, Info: pReady.Info}
	for r := range o.reps {
		for i, v := range w.goVariants {
			s, err := gw.run(v)
			if err != nil {
				return nil, err
			}
			goSides[i].Samples = append(goSides[i].Samples, s)
			logf("%s rep %d/%d: %s %s %s (%.2f s, %d compilations)", w.name, r+1, o.reps, goSides[i].Name, num(s.Rate()), w.unit, s.Seconds, s.Compiles)
		}
		if bw != nil {
			s, err := bw.run(w.goVariants[0])
			if err != nil {
				return nil, err
			}
			baseSide.Samples = append(baseSide.Samples, s)
			logf("%s rep %d/%d: %s %s %s (%.2f s)", w.name, r+1, o.reps, baseSide.Name, num(s.Rate()), w.unit, s.Seconds)
		}
		s, err := pw.run("")
		if err != nil {
			return nil, err
		}
		peer.Samples = append(peer.Samples, s)
		logf("%s rep %d/%d: pytorch %s %s (%.2f s)", w.name, r+1, o.reps, num(s.Rate()), w.unit, s.Seconds)
	}
	gq, err := gw.quit()
	if err != nil {
		return nil, err
	}
	pq, err := pw.quit()
	if err != nil {
		return nil, err
	}
	for _, s := range goSides {
		s.PeakRSSMB = gq.PeakRSSMB
		s.Info = mergeInfo(s.Info, gq.Info)
		s.Finish()
	}
	peer.PeakRSSMB = pq.PeakRSSMB
	peer.Info = mergeInfo(peer.Info, pq.Info)
	peer.Finish()
	if bw != nil {
		bq, err := bw.quit()
		if err != nil {
			return nil, err
		}
		baseSide.PeakRSSMB = bq.PeakRSSMB
		baseSide.Info = mergeInfo(baseSide.Info, bq.Info)
		baseSide.Finish()
	}

	note := w.title + checkNote(goSides[0], peer)
	if w.unit == "objectives/h" {
		note += fmt.Sprintf("; %.1f s per objective (LossLab), %.1f s (PyTorch)", 3600/goSides[0].Median, 3600/peer.Median)
	}
	rows := []*Row{{Workload: w.name, Unit: w.unit, LossLab: goSides[0], Peer: peer, Target: w.target, Note: note}}
	if w.target > 0 {
		rows[0].TargetKind = "ratio"
	}
	if w.name == "grid" {
		rows = append(rows,
			&Row{Workload: "grid per-point", Unit: w.unit, LossLab: goSides[1], Peer: peer,
				Note: "LossLab's own per-point loop (one point per call) against the same PyTorch loop"},
			&Row{Workload: "grid batched÷per-point", Unit: w.unit, LossLab: goSides[0], Peer: goSides[1], Target: 1, TargetKind: "ratio",
				Note: "LossLab batched against LossLab's per-point loop (the PyTorch column holds LossLab per-point here)"})
	}
	if baseSide != nil {
		rows = append(rows,
			&Row{Workload: w.name + " on " + o.baseline, Unit: w.unit, LossLab: baseSide, Peer: peer,
				Note: "the same workload with GOMLX_BACKEND=" + o.baseline + ", interleaved in the same repetitions"},
			&Row{Workload: w.name + " default÷" + o.baseline, Unit: w.unit, LossLab: goSides[0], Peer: baseSide,
				Note: "LossLab on its default backend against LossLab on " + o.baseline + " (the PyTorch column holds the latter)"})
	}
	for _, r := range rows {
		r.Evaluate()
	}
	return rows, nil
}

// checkNote compares the value each side computed in its last repetition (a loss, an eigenvalue).
func checkNote(a, b *Side) string {
	if len(a.Samples) == 0 || len(b.Samples) == 0 {
		return ""
	}
	x, y := a.Samples[len(a.Samples)-1].Check, b.Samples[len(b.Samples)-1].Check
	if math.IsNaN(x) || math.IsNaN(y) || (x == 0 && y == 0) {
		return ""
	}
	return fmt.Sprintf("; check value LossLab %.5g, PyTorch %.5g", x, y)
}

// peerLine says which torch, BLAS and threads the PyTorch peer used.
func peerLine(info map[string]any) string {
	libs, _ := info["loaded_blas_libraries"].([]any)
	var blas []string
	for _, l := range libs {
		if s, ok := l.(string); ok && strings.Contains(s, "blas") {
			blas = append(blas, s)
		}
	}
	b := "no BLAS library loaded"
	if len(blas) > 0 {
		b = "BLAS " + strings.Join(blas, ", ")
	}
	return fmt.Sprintf("torch %v, %s, %v intra-op threads", info["torch"], b, info["threads"])
}

func mergeInfo(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
