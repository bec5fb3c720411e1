package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"k8s.io/klog/v2"

	"github.com/losslab/losslab/lib/attack"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// compileCounter counts GoMLX graph compilations in this process: GoMLX logs "Graph.Compile time for
// graph ..." at verbosity 1 in its graph.go once per compiled graph; the worker turns that one file's
// verbosity on and counts the lines instead of printing them.
type compileCounter struct{ n atomic.Int64 }

func (c *compileCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(strings.Count(string(p), "Graph.Compile time for graph")))
	return len(p), nil
}

var compiles compileCounter

func countCompilations() error {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{"logtostderr": "false", "alsologtostderr": "false",
		"stderrthreshold": "FATAL", "vmodule": "graph=1", "skip_headers": "true"} {
		if err := fs.Set(k, v); err != nil {
			return err
		}
	}
	klog.SetOutput(&compiles)
	return nil
}

// workerSizes are the amounts of work of one repetition (full or -quick).
type workerSizes struct {
	TrainSteps, CNNSteps int // training steps per repetition
	GridPoints           int // grid points per repetition (of the 21×21 grid)
	GridExamples         int // test images for the grid and the LMC path
	HessianExamples      int
	HessianIters         int
	Atlas                atlasSizes
}

// atlasSizes are the sizes of the atlas workload's unit of work, one objective (torch_peer.py's
// atlas_sizes must be the same): Runs MLPs 784-Hidden-Hidden-10 trained for Steps Adam(1e-3) steps of
// Batch examples on the first Train training images; test accuracy on the first Test test images; the
// path between runs 0 and 1 at Alpha points on the first PathExamples of them; PowerIters power-iteration
// steps for run 0's top Hessian eigenvalue on the first HessianExamples training images.
type atlasSizes struct {
	Runs, Hidden, Steps, Batch, Train, Test int
	Alpha, PathExamples                     int
	PowerIters, HessianExamples             int
}

func sizesFor(quick bool, gridPoints int) workerSizes {
	s := workerSizes{TrainSteps: 40, CNNSteps: 4, GridPoints: 16, GridExamples: 10000, HessianExamples: 2000, HessianIters: 20,
		Atlas: atlasSizes{Runs: 3, Hidden: 128, Steps: 800, Batch: 128, Train: 10000, Test: 2000, Alpha: 11, PathExamples: 2000,
			PowerIters: 20, HessianExamples: 1000}}
	if quick {
		s = workerSizes{TrainSteps: 4, CNNSteps: 1, GridPoints: 8, GridExamples: 1000, HessianExamples: 500, HessianIters: 3,
			Atlas: atlasSizes{Runs: 3, Hidden: 32, Steps: 20, Batch: 64, Train: 1000, Test: 500, Alpha: 5, PathExamples: 500,
				PowerIters: 3, HessianExamples: 200}}
	}
	if gridPoints > 0 {
		s.GridPoints = gridPoints
	}
	return s
}

// goWorkload is LossLab's side of one workload: run does one repetition of the named variant.
type goWorkload struct {
	info     map[string]any
	variants map[string]func() (Sample, error)
	counters func() map[string]int // per-object compilation counters of our code
}

// message is one line of the worker protocol (both the Go and the Python worker speak it).
type message struct {
	Ready     bool           `json:"ready,omitempty"`
	Setup     float64        `json:"setup_seconds,omitempty"`
	Compiles  int            `json:"compiles"`
	Info      map[string]any `json:"info,omitempty"`
	Sample    *Sample        `json:"sample,omitempty"`
	PeakRSSMB float64        `json:"peak_rss_mb,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// runGoWorker is the child process of one workload: it sets up (loading data, compiling, one untimed
// repetition per variant), prints a ready line, then answers "run <variant>" lines with one timed
// repetition each and "quit" with its peak memory. Protocol lines go to the original stdout; anything
// else the libraries print goes to stderr.
func runGoWorker(name, fixture string, threads int, quick bool, gridPoints int, cpuProfile string) error {
	out := json.NewEncoder(os.Stdout)
	os.Stdout = os.Stderr
	runtime.GOMAXPROCS(threads)
	if err := countCompilations(); err != nil {
		return err
	}
	start := time.Now()
	w, err := newGoWorkload(name, fixture, sizesFor(quick, gridPoints))
	if err == nil {
		for _, v := range w.variants { // warm-up: compile outside the timed repetitions
			if _, err = v(); err != nil {
				break
			}
		}
	}
	if err != nil {
		out.Encode(message{Error: err.Error()})
		return err
	}
	if w.info == nil {
		w.info = map[string]any{}
	}
	w.info["backend"] = backend.Describe()
	w.info["gomaxprocs"] = runtime.GOMAXPROCS(0)
	setupCompiles := int(compiles.n.Load())
	out.Encode(message{Ready: true, Setup: time.Since(start).Seconds(), Compiles: setupCompiles, Info: w.info})
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "run":
			variant := ""
			if len(f) > 1 {
				variant = f[1]
			}
			run, ok := w.variants[variant]
			if !ok {
				out.Encode(message{Error: fmt.Sprintf("workload %s has no variant %q", name, variant)})
				continue
			}
			before := compiles.n.Load()
			s, err := run()
			if err != nil {
				out.Encode(message{Error: err.Error()})
				continue
			}
			s.Compiles = int(compiles.n.Load() - before)
			out.Encode(message{Sample: &s})
		case "quit":
			info := map[string]any{}
			if w.counters != nil {
				for k, v := range w.counters() {
					info[k] = v
				}
			}
			pprof.StopCPUProfile()
			out.Encode(message{PeakRSSMB: peakRSSMB(), Compiles: int(compiles.n.Load()), Info: info})
			return nil
		}
	}
	return in.Err()
}

// timed runs f and returns its wall time.
func timed(f func() error) (float64, error) {
	t := time.Now()
	err := f()
	return time.Since(t).Seconds(), err
}

func newGoWorkload(name, fixture string, sz workerSizes) (*goWorkload, error) {
	switch name {
	case "train-mlp", "train-cnn":
		return trainWorkload(name, sz)
	case "grid":
		return gridWorkload(fixture, sz)
	case "lmc":
		return lmcWorkload(fixture, sz)
	case "pgd":
		return pgdWorkload()
	case "hessian":
		return hessianWorkload(fixture, sz)
	case "atlas":
		return atlasWorkload(sz.Atlas)
	}
	return nil, fmt.Errorf("unknown workload %q", name)
}

func trainWorkload(name string, sz workerSizes) (*goWorkload, error) {
	set, err := data.FashionMNIST("train")
	if err != nil {
		return nil, err
	}
	var m models.Model = models.NewMLP(10, 256, 256)
	steps := sz.TrainSteps
	if name == "train-cnn" {
		m, steps = &models.CNN{Classes: 10}, sz.CNNSteps
	}
	st, err := train.NewStepper(train.Config{Model: m, Train: set, Optimizer: train.Adam(1e-3), BatchSize: 256,
		Steps: 1 << 30, Seed: 1, Silent: true})
	if err != nil {
		return nil, err
	}
	run := func() (Sample, error) {
		var loss float64
		sec, err := timed(func() error {
			for range steps {
				l, _, err := st.Step()
				if err != nil {
					return err
				}
				loss = l
			}
			return nil
		})
		return Sample{Seconds: sec, Work: float64(steps * 256), Check: loss}, err
	}
	return &goWorkload{
		info:     map[string]any{"model": m.Name(), "batch": 256, "steps_per_rep": steps, "optimizer": "adam 1e-3"},
		variants: map[string]func() (Sample, error){"": run},
		counters: func() map[string]int { return map[string]int{"stepper_compilations": st.Compilations()} },
	}, nil
}

// mlpFixture is what the parent wrote for the MLP workloads: the two trained MLPs, the grid's plane
// directions, and the test images.
type mlpFixture struct {
	forward    landscape.ForwardFn
	a, b, u, v *landscape.ParamSet
	test       *landscape.Data
}

func loadMLPFixture(dir string, examples int) (*mlpFixture, error) {
	mb, err := os.ReadFile(dir + "/manifest.json")
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	var man manifest
	if err := json.Unmarshal(mb, &man); err != nil {
		return nil, fmt.Errorf("fixture manifest: %w", err)
	}
	f := &mlpFixture{forward: landscape.FromModel(models.NewMLP(10, 256, 256))}
	for _, p := range []struct {
		dst  **landscape.ParamSet
		name string
	}{{&f.a, "a"}, {&f.b, "b"}, {&f.u, "u"}, {&f.v, "v"}} {
		vals, err := readFloat32s(dir + "/" + p.name + ".bin")
		if err != nil {
			return nil, err
		}
		if *p.dst, err = man.paramSet(vals); err != nil {
			return nil, fmt.Errorf("fixture %s: %w", p.name, err)
		}
	}
	test, err := data.FashionMNIST("test")
	if err != nil {
		return nil, err
	}
	n := min(examples, test.Len())
	f.test = &landscape.Data{Name: "fashion-mnist test", Shape: test.Shape, X: test.X[:n*test.Dim()], Y: test.Y[:n]}
	return f, nil
}

var gridSpec = landscape.GridSpec{SMin: -1, SMax: 1, NS: 21, TMin: -1, TMax: 1, NT: 21}

func gridWorkload(fixture string, sz workerSizes) (*goWorkload, error) {
	f, err := loadMLPFixture(fixture, sz.GridExamples)
	if err != nil {
		return nil, err
	}
	plane := &landscape.Plane{Kind: "random", Origin: f.a, U: f.u, V: f.v}
	batched, err := landscape.NewEvaluator(f.forward, f.a, landscape.Config{})
	if err != nil {
		return nil, err
	}
	perPoint, err := landscape.NewEvaluator(f.forward, f.a, landscape.Config{PointsPerCall: 1})
	if err != nil {
		return nil, err
	}
	grid := func(ev *landscape.Evaluator) func() (Sample, error) {
		return func() (Sample, error) {
			var g *landscape.Grid
			sec, err := timed(func() (err error) {
				g, err = landscape.EvaluateGrid(ev, plane, f.test, gridSpec, landscape.GridOptions{MaxNewPoints: sz.GridPoints})
				return err
			})
			if err != nil {
				return Sample{}, err
			}
			return Sample{Seconds: sec, Work: float64(sz.GridPoints), Check: g.Loss[0][0]}, nil
		}
	}
	return &goWorkload{
		info: map[string]any{"examples": f.test.Len(), "points_per_rep": sz.GridPoints, "grid": "21x21 over [-1,1]², first points in row order",
			"batch": 1000, "points_per_call": 8},
		variants: map[string]func() (Sample, error){"batched": grid(batched), "per-point": grid(perPoint)},
		counters: func() map[string]int {
			return map[string]int{"batched_evaluator_compilations": batched.Compilations(), "per_point_evaluator_compilations": perPoint.Compilations()}
		},
	}, nil
}

func lmcWorkload(fixture string, sz workerSizes) (*goWorkload, error) {
	f, err := loadMLPFixture(fixture, sz.GridExamples)
	if err != nil {
		return nil, err
	}
	ev, err := landscape.NewEvaluator(f.forward, f.a, landscape.Config{})
	if err != nil {
		return nil, err
	}
	run := func() (Sample, error) {
		var p *landscape.Path
		sec, err := timed(func() (err error) {
			p, err = landscape.Interpolate(ev, f.a, f.b, []*landscape.Data{f.test}, landscape.PathOptions{NumAlpha: 21, Refine: true})
			return err
		})
		if err != nil {
			return Sample{}, err
		}
		return Sample{Seconds: sec, Work: float64(len(p.Alpha)), Check: p.Curves[0].LossBarrier.Linear}, nil
	}
	return &goWorkload{
		info:     map[string]any{"examples": f.test.Len(), "alpha": 21, "refine": "linear barrier, tol 1e-3, ≤12 rounds"},
		variants: map[string]func() (Sample, error){"": run},
		counters: func() map[string]int { return map[string]int{"evaluator_compilations": ev.Compilations()} },
	}, nil
}

func hessianWorkload(fixture string, sz workerSizes) (*goWorkload, error) {
	f, err := loadMLPFixture(fixture, sz.HessianExamples)
	if err != nil {
		return nil, err
	}
	ev, err := landscape.NewEvaluator(f.forward, f.a, landscape.Config{})
	if err != nil {
		return nil, err
	}
	run := func() (Sample, error) {
		var lambda float64
		sec, err := timed(func() error {
			var err error
			lambda, err = powerIteration(ev, f.a, f.test, sz.HessianIters)
			return err
		})
		return Sample{Seconds: sec, Work: float64(sz.HessianIters), Check: lambda}, err
	}
	return &goWorkload{
		info:     map[string]any{"examples": f.test.Len(), "iterations": sz.HessianIters, "hvp": "central differences of gradients, h=1e-3"},
		variants: map[string]func() (Sample, error){"": run},
		counters: func() map[string]int { return map[string]int{"evaluator_compilations": ev.Compilations()} },
	}, nil
}

// powerIteration runs exactly iters power-iteration steps on landscape.HVP from a seeded start and
// returns the last Rayleigh quotient vᵀHv (landscape.TopEigenvalue may stop early on its tolerance; the
// benchmark wants a fixed amount of work).
func powerIteration(ev *landscape.Evaluator, theta *landscape.ParamSet, d *landscape.Data, iters int) (float64, error) {
	r := rand.New(rand.NewPCG(7, 7))
	flat := make([]float64, len(theta.Flat()))
	for i := range flat {
		flat[i] = r.NormFloat64()
	}
	v, err := theta.FromFlat(flat)
	if err != nil {
		return 0, err
	}
	v = v.Scale(1 / v.Norm())
	lambda := 0.0
	for range iters {
		hv, err := landscape.HVP(ev, theta, v, d, 0)
		if err != nil {
			return 0, err
		}
		if lambda, err = landscape.Dot(v, hv); err != nil {
			return 0, err
		}
		n := hv.Norm()
		if n == 0 {
			return 0, nil
		}
		v = hv.Scale(1 / n)
	}
	return lambda, nil
}

func pgdWorkload() (*goWorkload, error) {
	const batch = 256
	test, err := data.FashionMNIST("test", data.WithScaling(data.Unit), data.AsImages())
	if err != nil {
		return nil, err
	}
	x := test.X[:batch*test.Dim()]
	y := test.Y[:batch]
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	cfg := attack.PGD(attack.LInf, 0.1, 10)
	cfg.Clip = &attack.Range{Min: 0, Max: 1}
	model := &models.CNN{Classes: 10}
	a, err := attack.New(model, ctx, cfg)
	if err != nil {
		return nil, err
	}
	run := func() (Sample, error) {
		var res *attack.Result
		sec, err := timed(func() (err error) {
			res, err = a.Run(x, []int{28, 28, 1}, y)
			return err
		})
		if err != nil {
			return Sample{}, err
		}
		return Sample{Seconds: sec, Work: batch, Check: res.MeanAdvLoss}, nil
	}
	return &goWorkload{
		info:     map[string]any{"model": model.Name(), "batch": batch, "attack": "PGD-10 L∞ ε=0.1 α=0.025, random start, clip [0,1]"},
		variants: map[string]func() (Sample, error){"": run},
		counters: func() map[string]int { return map[string]int{"attack_compilations": a.Compiles()} },
	}, nil
}

// atlasObjectives are the objectives of the atlas workload: cross-entropy and generalized
// cross-entropy at its default q = 0.7 (Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training
// Deep Neural Networks with Noisy Labels", NeurIPS 2018, arXiv:1805.07836), (1 − p_y^q)/q.
var atlasObjectives = []string{"ce", "gce"}

// atlasWorkload is the per-objective work of lib/atlas, on lib/atlas's own path (train.Run,
// train.Evaluate, landscape.Interpolate) with power iteration on landscape.HVP for the top eigenvalue:
// for each objective, sz.Runs MLPs trained from seeds 1..Runs, their mean test accuracy, the linear
// cross-entropy barrier between runs 0 and 1 and run 0's top Hessian eigenvalue. A repetition does every
// objective of atlasObjectives; its Work is in objective-seconds (objectives × 3600), so that the rate
// is in objectives per hour.
func atlasWorkload(sz atlasSizes) (*goWorkload, error) {
	head := func(s *data.Set, n int) *data.Set {
		idx := make([]int, min(n, s.Len()))
		for i := range idx {
			idx[i] = i
		}
		return s.Subset(idx)
	}
	full, err := data.FashionMNIST("train")
	if err != nil {
		return nil, err
	}
	testFull, err := data.FashionMNIST("test")
	if err != nil {
		return nil, err
	}
	trainSet, testSet := head(full, sz.Train), head(testFull, sz.Test)
	pathData := landscape.FromSet(head(testSet, sz.PathExamples))
	hessData := landscape.FromSet(head(trainSet, sz.HessianExamples))
	model := models.NewMLP(10, sz.Hidden, sz.Hidden)
	forward := landscape.FromModel(model)
	var ev *landscape.Evaluator // built on the first parameters, reused like lib/atlas's
	objective := func(name string) (acc, barrier, lambda float64, err error) {
		runs := make([]*landscape.ParamSet, sz.Runs)
		for i := range runs {
			res, err := train.Run(train.Config{Model: model, Train: trainSet, Objective: name, Optimizer: train.Adam(1e-3),
				BatchSize: sz.Batch, Steps: sz.Steps, Seed: uint64(i + 1), Silent: true})
			if err != nil {
				return 0, 0, 0, err
			}
			met, err := train.Evaluate(model, res.Context, testSet)
			if err != nil {
				return 0, 0, 0, err
			}
			acc += met.Accuracy / float64(sz.Runs)
			if runs[i], err = landscape.FromContext(res.Context, nil); err != nil {
				return 0, 0, 0, err
			}
		}
		if ev == nil {
			if ev, err = landscape.NewEvaluator(forward, runs[0], landscape.Config{Silent: true}); err != nil {
				return 0, 0, 0, err
			}
		}
		p, err := landscape.Interpolate(ev, runs[0], runs[1], []*landscape.Data{pathData}, landscape.PathOptions{NumAlpha: sz.Alpha})
		if err != nil {
			return 0, 0, 0, err
		}
		lambda, err = powerIteration(ev, runs[0], hessData, sz.PowerIters)
		return acc, p.Curves[0].LossBarrier.Linear, lambda, err
	}
	run := func() (Sample, error) {
		var check float64
		sec, err := timed(func() error {
			for _, name := range atlasObjectives {
				acc, _, _, err := objective(name)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				check += acc / float64(len(atlasObjectives))
			}
			return nil
		})
		return Sample{Seconds: sec, Work: float64(3600 * len(atlasObjectives)), Check: check}, err
	}
	return &goWorkload{
		info: map[string]any{"objectives": atlasObjectives, "model": model.Name(), "sizes": sz, "optimizer": "adam 1e-3",
			"hvp": "central differences of gradients", "check": "mean test accuracy over the objectives' runs"},
		variants: map[string]func() (Sample, error){"": run},
		counters: func() map[string]int {
			if ev == nil {
				return nil
			}
			return map[string]int{"evaluator_compilations": ev.Compilations()}
		},
	}, nil
}

// peakRSSMB is this process's peak resident set size (VmHWM) in MB (NaN if unknown).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return kb / 1024
				}
			}
		}
	}
	return math.NaN()
}
