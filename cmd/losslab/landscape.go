package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
	"github.com/losslab/losslab/lib/viz"
)

// The `losslab landscape` commands run lib/landscape on checkpoints written by lib/train
// (train.Config.CheckpointDir) and write OUT.json (the result and its provenance) and OUT.svg/.png/.html.

const (
	interpolateUsage = "-a CKPT -b CKPT [-match none|weight|activation|ste] [-repair] [-points N] -o OUT"
	planeUsage       = "-a CKPT (-b CKPT -c CKPT | -random | -pca RUN) [-grid N] -o OUT"
	curvatureUsage   = "-a CKPT [-top K] [-trace N] [-density] -o OUT"
)

const landscapeHelp = `
CKPT is a checkpoint written by lib/train (train.Config.CheckpointDir): a run folder (its latest step),
RUN@STEP, or a step folder. The model is rebuilt from the name the checkpoint records (-model for one
that records none). Every landscape command also takes -data (fashion-mnist), -split, -n, -data-seed,
-objective, -set and -picture (svg,png,html), writes OUT.json and the pictures, prints a summary on
stdout and its progress on stderr; ` + "`losslab landscape VERB -h`" + ` lists all its flags.
` + "`landscape atlas`" + ` trains its own runs instead (-model, -objectives, -runs, -steps, -n, -test-n) and
keeps one record per objective in -cache (default OUT.cache), so that it resumes and adds objectives.
`

// landscapeFlags are the flags every landscape command takes.
type landscapeFlags struct {
	fs                        *flag.FlagSet
	dataset, split, objective *string
	set, model, out, formats  *string
	n                         *int
	dataSeed                  *uint64
	usage                     string
	manySplits                bool // -split may list several splits
}

func newLandscapeFlags(name, usage, split string, n int) *landscapeFlags {
	f := newOutputFlags(name, usage, "the dataset the checkpoints were trained on", "examples of the split, balanced across classes (0: all)", n)
	f.split = f.fs.String("split", split, "the split evaluated: train or test")
	f.objective = f.fs.String("objective", "ce", "the loss: a classification objective of 'losslab objective list'")
	f.set = f.fs.String("set", "", "the objective's hyperparameters, name=value,name=value")
	f.model = f.fs.String("model", "", "the model, for checkpoints that do not record it (e.g. mlp-64-64-10)")
	return f
}

// newOutputFlags makes the flags of the output (-o, -picture) and of the data (-data, -n, -data-seed)
// that every landscape command takes; -split is "train" unless the command adds the flag.
func newOutputFlags(name, usage, dataUsage, nUsage string, n int) *landscapeFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &landscapeFlags{fs: fs, usage: usage, split: new(string)}
	*f.split = "train"
	f.out = fs.String("o", "", "output path without extension: writes OUT.json and the pictures")
	f.formats = fs.String("picture", "svg,png", "picture formats, comma-separated: svg, png, html")
	f.dataset = fs.String("data", "fashion-mnist", dataUsage+": "+strings.Join(datasets, ", "))
	f.n = fs.Int("n", n, nUsage)
	f.dataSeed = fs.Uint64("data-seed", 0, "seed of the choice of examples")
	return f
}

// errHelped is parse's answer to -h: the flags were listed, there is nothing to run.
var errHelped = errors.New("help shown")

// parse parses args (no positional arguments) and checks the output flags. Given -h, it lists the flags
// with their defaults on stdout and returns errHelped.
func (f *landscapeFlags) parse(args []string, stdout io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprintf(stdout, "Usage: losslab %s %s\n\nFlags:\n", f.fs.Name(), f.usage)
			f.fs.SetOutput(stdout)
			f.fs.PrintDefaults()
			return errHelped
		}
	}
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s takes no positional arguments, got %q (checkpoints are given with -a, -b, ...)", f.fs.Name(), pos[0])
	}
	if *f.out == "" {
		return usagef("%s needs -o OUT (it writes OUT.json and OUT.svg, OUT.png)", f.fs.Name())
	}
	*f.out = strings.TrimSuffix(*f.out, ".json")
	for _, ext := range f.pictureFormats() {
		if ext != "svg" && ext != "png" && ext != "html" {
			return usagef("%s: unknown -picture format %q (svg, png, html)", f.fs.Name(), ext)
		}
	}
	splits := strings.Split(*f.split, ",")
	for _, sp := range splits {
		if sp != "train" && sp != "test" {
			return usagef("%s: -split %q, want train or test", f.fs.Name(), sp)
		}
	}
	if len(splits) > 1 && !f.manySplits {
		return usagef("%s takes one -split, got %q", f.fs.Name(), *f.split)
	}
	if *f.n < 0 {
		return usagef("%s: -n %d must be ≥ 0", f.fs.Name(), *f.n)
	}
	if dir := filepath.Dir(*f.out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: output folder: %w", f.fs.Name(), err)
		}
	}
	return nil
}

func ignoreHelped(err error) error {
	if err == errHelped {
		return nil
	}
	return err
}

func (f *landscapeFlags) pictureFormats() []string {
	var out []string
	for _, s := range strings.Split(*f.formats, ",") {
		if s = strings.TrimSpace(strings.ToLower(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// provenance opens every landscape command's JSON: what was computed from what.
type provenance struct {
	Command   string            `json:"command"`
	Version   string            `json:"losslab_version"`
	Inputs    []checkpointRef   `json:"inputs"`
	Model     string            `json:"model"`
	Data      []dataInfo        `json:"data"`
	Objective objectiveInfo     `json:"objective"`
	Options   map[string]string `json:"options"`
}

func (f *landscapeFlags) provenance(obj objectiveInfo, data []dataInfo, inputs ...*loaded) provenance {
	p := provenance{Command: "losslab " + f.fs.Name(), Version: version(), Model: inputs[0].ref.Model, Data: data,
		Objective: obj, Options: map[string]string{}}
	for _, in := range inputs {
		p.Inputs = append(p.Inputs, in.ref)
	}
	f.fs.VisitAll(func(fl *flag.Flag) { p.Options[fl.Name] = fl.Value.String() })
	return p
}

// write saves the result as OUT.json and the figure in every picture format, and lists the files on
// stdout. The HTML page is the interactive (Plotly) figure where the kind has one.
func (f *landscapeFlags) write(stdout io.Writer, result any, fig *viz.Figure) error {
	return f.writeAll(stdout, result, nil, picture{"", fig})
}

// picture is a figure written to OUT+suffix.EXT.
type picture struct {
	suffix string
	fig    *viz.Figure
}

// writeAll saves the result as OUT.json and each picture in every picture format, and lists them and
// the files already written (written) on stdout.
func (f *landscapeFlags) writeAll(stdout io.Writer, result any, written []string, pictures ...picture) error {
	files := append([]string{*f.out + ".json"}, written...)
	if err := landscape.SaveJSON(files[0], result); err != nil {
		return err
	}
	for _, p := range pictures {
		if p.fig.HasInteractive() {
			p.fig.Interactive()
		}
		for _, ext := range f.pictureFormats() {
			path := *f.out + p.suffix + "." + ext
			if err := p.fig.Save(path); err != nil {
				return err
			}
			files = append(files, path)
		}
	}
	_, err := fmt.Fprintf(stdout, "wrote %s\n", strings.Join(files, ", "))
	return err
}

// evalData loads the split that -split, -n and -data-seed name.
func (f *landscapeFlags) evalData() (*landscape.Data, dataInfo, error) {
	progressf("loading %d examples of %s %s", *f.n, *f.dataset, *f.split)
	return loadData(*f.dataset, *f.split, *f.n, *f.dataSeed)
}

// evalSets loads every split -split names (interpolate takes several, e.g. train,test).
func (f *landscapeFlags) evalSets() ([]*landscape.Data, []dataInfo, error) {
	var sets []*landscape.Data
	var infos []dataInfo
	for _, sp := range strings.Split(*f.split, ",") {
		progressf("loading %d examples of %s %s", *f.n, *f.dataset, sp)
		d, info, err := loadData(*f.dataset, sp, *f.n, *f.dataSeed)
		if err != nil {
			return nil, nil, err
		}
		sets, infos = append(sets, d), append(infos, info)
	}
	return sets, infos, nil
}

// alignmentInfo reports how B was aligned to A.
type alignmentInfo struct {
	Method    string  `json:"method"`
	Objective float64 `json:"objective"`
	Sweeps    int     `json:"sweeps,omitempty"`
	// MaxLogitChange is max |logits(π(θ_B)) − logits(θ_B)| on the evaluation data: ~0 when the
	// permutation kept B's function, as it must.
	MaxLogitChange float64 `json:"max_logit_change"`
}

type interpolateOutput struct {
	provenance
	Alignment *alignmentInfo  `json:"alignment,omitempty"`
	Path      *landscape.Path `json:"path"`
	Repaired  *landscape.Path `json:"repaired,omitempty"`
}

func landscapeInterpolate(args []string, _ io.Reader, stdout io.Writer) error {
	f := newLandscapeFlags("landscape interpolate", interpolateUsage, "test", 1000)
	f.manySplits = true
	f.fs.Lookup("split").Usage = "the splits evaluated: train, test or train,test"
	a := f.fs.String("a", "", "checkpoint A: a run folder (its latest step), RUN@STEP or a step folder")
	b := f.fs.String("b", "", "checkpoint B, as -a")
	match := f.fs.String("match", "none", "align B to A first (Ainsworth et al., Git Re-Basin): none, weight, activation or ste")
	repair := f.fs.Bool("repair", false, "also evaluate the path with REPAIR (Jordan et al.; RESET for BatchNorm models)")
	points := f.fs.Int("points", 11, "α values from 0 to 1")
	refine := f.fs.Bool("refine", false, "add α values around the loss barrier until it is pinned down")
	stats := f.fs.Int("stats", 500, "training examples for activation matching, STE and REPAIR")
	steSteps := f.fs.Int("ste-steps", 20, "Adam steps of STE matching")
	seed := f.fs.Uint64("seed", 0, "seed of weight matching and STE")
	if err := f.parse(args, stdout); err != nil {
		return ignoreHelped(err)
	}
	if *a == "" || *b == "" {
		return usagef("landscape interpolate needs two checkpoints, -a and -b")
	}
	if !slices.Contains([]string{"none", "weight", "activation", "ste"}, *match) {
		return usagef("landscape interpolate: unknown -match %q (none, weight, activation, ste)", *match)
	}
	if *points < 2 {
		return usagef("landscape interpolate: -points %d, need ≥ 2", *points)
	}
	if *stats < 1 || *steSteps < 1 {
		return usagef("landscape interpolate: -stats %d and -ste-steps %d must be ≥ 1", *stats, *steSteps)
	}
	cfg, obj, err := evaluatorConfig(*f.objective, *f.set, "interpolating")
	if err != nil {
		return err
	}
	A, err := loadCheckpoint(*a, *f.model)
	if err != nil {
		return err
	}
	B, err := loadCheckpoint(*b, *f.model)
	if err != nil {
		return err
	}
	if err := sameModel(A, B); err != nil {
		return err
	}
	if *repair {
		if err := checkRepair(A); err != nil {
			return err
		}
	}
	sets, infos, err := f.evalSets()
	if err != nil {
		return err
	}
	if err := checkFits(A, infos[0], sets[0]); err != nil {
		return err
	}
	test, testInfo := sets[0], infos[0]
	var statsData *landscape.Data
	if *match == "activation" || *match == "ste" || *repair {
		progressf("loading %d training examples for the activation statistics", *stats)
		var info dataInfo
		if statsData, info, err = loadData(*f.dataset, "train", *stats, *f.dataSeed); err != nil {
			return err
		}
		infos = append(infos, info)
	}
	cfg.PointsPerCall = min(*points, 8)
	ev, err := landscape.NewEvaluator(landscape.FromModel(A.model), A.params, cfg)
	if err != nil {
		return err
	}
	out := interpolateOutput{provenance: f.provenance(obj, infos, A, B)}
	aligned := B.params
	var spec *landscape.PermSpec
	if *match != "none" || *repair {
		if spec, err = landscape.InferPermSpec(A.params); err != nil {
			return err
		}
	}
	var probe landscape.ProbeFn
	if *match == "activation" || *repair {
		if probe, err = landscape.ModelProbe(A.model); err != nil {
			return err
		}
	}
	if *match != "none" {
		var m landscape.Matcher
		switch *match {
		case "weight":
			m = landscape.WeightMatcher{Options: landscape.MatchOptions{Seed: *seed}}
		case "activation":
			m = landscape.ActivationMatcher{Probe: probe, Data: statsData}
		case "ste":
			m = landscape.STEMatcher{Evaluator: ev, Data: []*landscape.Data{statsData}, Steps: *steSteps, Seed: *seed}
		}
		progressf("aligning B to A (%s matching)", *match)
		al, err := m.Match(A.params, B.params, spec)
		if err != nil {
			return err
		}
		diff, err := landscape.MaxLogitDiff(landscape.FromModel(A.model), B.params, al.Aligned, test)
		if err != nil {
			return err
		}
		aligned = al.Aligned
		out.Alignment = &alignmentInfo{Method: *match, Objective: al.Objective, Sweeps: al.Sweeps, MaxLogitChange: diff}
	}
	progressf("evaluating the path at %d α values on %s", *points, *f.split)
	out.Path, err = landscape.Interpolate(ev, A.params, aligned, sets, landscape.PathOptions{NumAlpha: *points, Refine: *refine})
	if err != nil {
		return err
	}
	out.Path.Provenance.Checkpoints = []string{A.ref.Path, B.ref.Path}
	if *repair {
		opts := landscape.RepairOptions{Probe: probe, Spec: spec, Data: statsData, Reset: ev.ReestimatesBN()}
		progressf("evaluating the repaired path")
		if out.Repaired, err = landscape.RepairPath(ev, A.params, aligned, sets, *points, opts); err != nil {
			return err
		}
		out.Repaired.Provenance.Checkpoints = out.Path.Provenance.Checkpoints
	}
	var on []string
	for _, d := range sets {
		on = append(on, fmt.Sprintf("%d %s", d.Len(), d.Name))
	}
	fmt.Fprintf(stdout, "A: %s (step %d)\nB: %s (step %d)\nmodel %s, %s on %s examples of %s\n",
		A.ref.Path, A.ref.Step, B.ref.Path, B.ref.Step, A.ref.Model, obj.Name, strings.Join(on, " and "), testInfo.Dataset)
	if out.Alignment != nil {
		fmt.Fprintf(stdout, "aligned B to A by %s matching (max |Δlogit| %.2g)\n", *match, out.Alignment.MaxLogitChange)
	}
	paths := []namedPath{{"", out.Path}}
	if out.Repaired != nil {
		name := "REPAIR"
		if ev.ReestimatesBN() {
			// RESET: the evaluator re-estimates BatchNorm statistics at every point, on the plain path too.
			name = "RESET"
		}
		paths = append(paths, namedPath{name, out.Repaired})
	}
	for _, p := range paths {
		// Refinement inserts α values: the ends are found by value.
		ia, ib := slices.Index(p.path.Alpha, 0), slices.Index(p.path.Alpha, 1)
		for _, c := range p.path.Curves {
			name := c.Data
			if p.name != "" {
				name += ", " + p.name
			}
			fmt.Fprintf(stdout, "%s: loss %.4f (A) %.4f (B); barrier B_lin %.4f at α=%.2f, B_mean %.4f, midpoint %.4f; error barrier %.4f\n",
				name, c.Loss[ia], c.Loss[ib], c.LossBarrier.Linear, c.LossBarrier.LinearAlpha, c.LossBarrier.Mean,
				c.LossBarrier.Midpoint, c.ErrorBarrier.Linear)
		}
	}
	title := fmt.Sprintf("%s: %s@%d → %s@%d", A.ref.Model, filepath.Base(filepath.Dir(A.ref.Path)), A.ref.Step,
		filepath.Base(filepath.Dir(B.ref.Path)), B.ref.Step)
	if *match != "none" {
		title += " (" + *match + " matching)"
	}
	lines := len(paths) * len(sets) // legend entries under each panel
	fig := viz.Panels(title, 2, pathFigure("loss", paths), pathFigure("error", paths)).Size(2*viz.PanelWidth+160, viz.PanelHeight+50+20*lines)
	return f.write(stdout, out, fig)
}

type namedPath struct {
	name string
	path *landscape.Path
}

// pathFigure draws metric ("loss" or "error") along the paths, one line per path and dataset, with the
// linear-chord barrier in the legend.
func pathFigure(metric string, paths []namedPath) *viz.Figure {
	var series []viz.Series
	for _, p := range paths {
		idx := make([]int, len(p.path.Alpha))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return p.path.Alpha[idx[i]] < p.path.Alpha[idx[j]] })
		for _, c := range p.path.Curves {
			y, b := c.Loss, c.LossBarrier
			if metric == "error" {
				y, b = c.Error, c.ErrorBarrier
			}
			xs, ys := make([]float64, len(idx)), make([]float64, len(idx))
			for i, k := range idx {
				xs[i], ys[i] = p.path.Alpha[k], y[k]
			}
			name := c.Data
			if p.name != "" {
				name += ", " + p.name
			}
			series = append(series, viz.XY(fmt.Sprintf("%s (B_lin %.3g)", name, b.Linear), xs, ys))
		}
	}
	ylabel := "loss (nats)"
	if metric == "error" {
		ylabel = "error rate"
	}
	title := metric
	if len(series) == 1 {
		title += ", " + series[0].Name // a single line has no legend
	}
	return viz.Lines(title, "α (0 = A, 1 = B)", ylabel, series...)
}

type planeOutput struct {
	provenance
	Kind              string           `json:"kind"`
	Marks             []landscape.Mark `json:"marks"`
	ExplainedVariance []float64        `json:"explained_variance,omitempty"`
	Grid              *landscape.Grid  `json:"grid"`
}

func landscapePlane(args []string, _ io.Reader, stdout io.Writer) error {
	f := newLandscapeFlags("landscape plane", planeUsage, "test", 1000)
	a := f.fs.String("a", "", "checkpoint at the plane's origin (with -pca: default the run's last checkpoint)")
	b := f.fs.String("b", "", "with -c: the plane through A, B and C")
	c := f.fs.String("c", "", "with -b: the plane through A, B and C")
	random := f.fs.Bool("random", false, "the plane of two filter-normalised random directions around A (Li et al.)")
	pca := f.fs.String("pca", "", "a run folder: the plane of the top two principal directions of its checkpoints")
	grid := f.fs.Int("grid", 11, "grid points per side")
	span := f.fs.Float64("span", 1, "with -random: the grid covers ±span filter norms")
	margin := f.fs.Float64("margin", 0.25, "with -b/-c or -pca: margin around the marked points, as a fraction of their extent")
	seed := f.fs.Uint64("seed", 0, "seed of the random directions")
	metric := f.fs.String("metric", "loss", "what the picture shows: loss or error")
	maxPoints := f.fs.Int("max-points", 0, "stop after this many new grid points (0: no limit); the same command again goes on from OUT.partial.json")
	if err := f.parse(args, stdout); err != nil {
		return ignoreHelped(err)
	}
	modes := 0
	for _, on := range []bool{*b != "" || *c != "", *random, *pca != ""} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1:
		return usagef("landscape plane needs one kind of plane: -b and -c (three points), -random, or -pca RUN")
	case (*b == "") != (*c == ""):
		return usagef("landscape plane: the plane through three points needs both -b and -c")
	case *a == "" && *pca == "":
		return usagef("landscape plane needs the origin checkpoint -a")
	case *grid < 2:
		return usagef("landscape plane: -grid %d, need ≥ 2", *grid)
	case *metric != "loss" && *metric != "error":
		return usagef("landscape plane: -metric %q, want loss or error", *metric)
	case !(*span > 0) || !(*margin >= 0) || *maxPoints < 0:
		return usagef("landscape plane: -span must be > 0, -margin and -max-points ≥ 0")
	}
	cfg, obj, err := evaluatorConfig(*f.objective, *f.set, "plane")
	if err != nil {
		return err
	}
	var inputs []*loaded
	var plane *landscape.Plane
	switch {
	case *b != "":
		for _, arg := range []string{*a, *b, *c} {
			in, err := loadCheckpoint(arg, *f.model)
			if err != nil {
				return err
			}
			inputs = append(inputs, in)
		}
		if err := sameModel(inputs[0], inputs[1:]...); err != nil {
			return err
		}
		if plane, err = landscape.PlaneThrough(inputs[0].params, inputs[1].params, inputs[2].params); err != nil {
			return err
		}
	case *random:
		in, err := loadCheckpoint(*a, *f.model)
		if err != nil {
			return err
		}
		inputs = []*loaded{in}
		if plane, err = landscape.RandomPlane(in.params, *seed, landscape.DirectionOptions{Norm: landscape.NormFilter}); err != nil {
			return err
		}
	default:
		if inputs, err = loadRun(*pca, *f.model); err != nil {
			return err
		}
		origin := inputs[len(inputs)-1]
		if *a != "" {
			if origin, err = loadCheckpoint(*a, *f.model); err != nil {
				return err
			}
		}
		if err := sameModel(origin, inputs...); err != nil {
			return err
		}
		snaps := make([]*landscape.ParamSet, len(inputs))
		for i, in := range inputs {
			snaps[i] = in.params
		}
		if plane, err = landscape.PCAPlane(snaps, origin.params); err != nil {
			return err
		}
		if origin != inputs[len(inputs)-1] {
			inputs = append([]*loaded{origin}, inputs...)
		}
	}
	spec := landscape.GridSpec{SMin: -*span, SMax: *span, NS: *grid, TMin: -*span, TMax: *span, NT: *grid}
	if !*random {
		spec = gridAround(plane.Marks, *margin, *grid)
	}
	d, info, err := f.evalData()
	if err != nil {
		return err
	}
	if err := checkFits(inputs[0], info, d); err != nil {
		return err
	}
	ev, err := landscape.NewEvaluator(landscape.FromModel(inputs[0].model), plane.Origin, cfg)
	if err != nil {
		return err
	}
	// The grid so far is kept in OUT.partial.json: an interrupted (or -max-points) run goes on from it
	// when the same command is run again (EvaluateGrid reuses it only if plane, grid, data and objective
	// match), and it is removed once the grid is complete.
	partial := *f.out + ".partial.json"
	progressf("evaluating a %d×%d grid (%s plane) on %d examples; points done so far are kept in %s", *grid, *grid, plane.Kind, d.Len(), partial)
	var before landscape.Grid
	_ = landscape.LoadJSON(partial, &before) // absent or unreadable: EvaluateGrid starts afresh
	g, err := landscape.EvaluateGrid(ev, plane, d, spec, landscape.GridOptions{CacheFile: partial, MaxNewPoints: *maxPoints})
	if err != nil {
		return err
	}
	if before.Key != "" && before.Key == g.Key {
		n := 0
		for _, row := range before.Done {
			for _, ok := range row {
				if ok {
					n++
				}
			}
		}
		progressf("went on from the %d points of %s", n, partial)
	}
	if g.Complete {
		if err := os.Remove(partial); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	g.Provenance.Checkpoints = make([]string, len(inputs))
	for i, in := range inputs {
		g.Provenance.Checkpoints[i] = in.ref.Path
	}
	if *random {
		g.Provenance.Seeds = []uint64{*seed, *seed + 1}
	}
	out := planeOutput{provenance: f.provenance(obj, []dataInfo{info}, inputs...), Kind: plane.Kind, Marks: plane.Marks,
		ExplainedVariance: plane.ExplainedVariance, Grid: g}
	lo, hi, los, lot, his, hit, done := gridExtremes(g)
	fmt.Fprintf(stdout, "%s plane of %s, %d×%d grid, s in [%.3g, %.3g], t in [%.3g, %.3g]; %s on %d %s examples of %s\n",
		plane.Kind, inputs[0].ref.Model, *grid, *grid, spec.SMin, spec.SMax, spec.TMin, spec.TMax, obj.Name, d.Len(), info.Split, info.Dataset)
	if !g.Complete {
		fmt.Fprintf(stdout, "stopped at -max-points: %d of %d points computed; run the same command again to go on (from %s)\n", done, *grid**grid, partial)
	}
	fmt.Fprintf(stdout, "loss from %.4f at (%.3g, %.3g) to %.4f at (%.3g, %.3g)\n", lo, los, lot, hi, his, hit)
	if len(plane.ExplainedVariance) > 0 {
		fmt.Fprintf(stdout, "explained variance of the two directions: %.3f, %.3f\n", plane.ExplainedVariance[0], plane.ExplainedVariance[1])
	}
	title := fmt.Sprintf("%s, %s plane: %s on %d %s examples", inputs[0].ref.Model, plane.Kind, *metric, d.Len(), info.Split)
	return f.write(stdout, out, viz.LandscapeGrid(title, g, *metric))
}

// loadRun reads every checkpoint of a run folder, by increasing step.
func loadRun(run, model string) ([]*loaded, error) {
	list, err := train.ListCheckpoints(run)
	if err != nil {
		return nil, fmt.Errorf("-pca %q: %w", run, err)
	}
	if len(list) < 2 {
		return nil, fmt.Errorf("-pca %q: the run folder holds %d checkpoints; a PCA plane needs at least 2", run, len(list))
	}
	out := make([]*loaded, len(list))
	for i, c := range list {
		if out[i], err = loadCheckpoint(c.Path, model); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// gridAround returns an n×n grid covering the marks (and the origin) with a margin.
func gridAround(marks []landscape.Mark, margin float64, n int) landscape.GridSpec {
	smin, smax, tmin, tmax := 0.0, 0.0, 0.0, 0.0
	for _, m := range marks {
		smin, smax, tmin, tmax = math.Min(smin, m.S), math.Max(smax, m.S), math.Min(tmin, m.T), math.Max(tmax, m.T)
	}
	ds, dt := margin*(smax-smin), margin*(tmax-tmin)
	if ds == 0 {
		ds = math.Max(dt, 1)
	}
	if dt == 0 {
		dt = ds
	}
	return landscape.GridSpec{SMin: smin - ds, SMax: smax + ds, NS: n, TMin: tmin - dt, TMax: tmax + dt, NT: n}
}

// gridExtremes returns the smallest and largest loss of the grid's computed points with their
// coordinates, and how many points are computed.
func gridExtremes(g *landscape.Grid) (lo, hi, los, lot, his, hit float64, done int) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for i, row := range g.Loss {
		for j, v := range row {
			if !g.Done[i][j] {
				continue
			}
			done++
			if v < lo {
				lo, los, lot = v, g.S[j], g.T[i]
			}
			if v > hi {
				hi, his, hit = v, g.S[j], g.T[i]
			}
		}
	}
	return
}

// hasKinks tells whether a model's loss has kinks (ReLU, leaky ReLU, max-pooling), where finite-difference
// Hessian-vector products are unreliable.
func hasKinks(m models.Model) bool {
	switch m := m.(type) {
	case *models.MLP:
		return len(m.Hidden) > 0 && (m.Activation == "" || m.Activation == "relu" || m.Activation == "leaky_relu")
	case *models.CNN:
		return true
	}
	return false
}

// checkRepair refuses -repair for models whose normalisation layers would undo it.
func checkRepair(in *loaded) error {
	if m, ok := in.model.(*models.MLP); ok && m.Norm == "layernorm" {
		return fmt.Errorf("-repair: %s holds %s, whose LayerNorm after each hidden layer would undo REPAIR's correction (Jordan et al.); it applies to networks without normalisation (REPAIR) and with BatchNorm (RESET)", in.ref.Path, in.ref.Model)
	}
	return nil
}

type curvatureOutput struct {
	provenance
	// TopEigenvalues are the largest Hessian eigenvalues, descending (Lanczos).
	TopEigenvalues []float64 `json:"top_eigenvalues"`
	LanczosSteps   int       `json:"lanczos_steps"`
	// Trace is Hutchinson's estimate of tr H with its standard error (omitted with -trace 0).
	Trace        *float64 `json:"trace,omitempty"`
	TraceStdErr  *float64 `json:"trace_stderr,omitempty"`
	TraceSamples int      `json:"trace_samples"`
	Loss         float64  `json:"loss"`
	Params       int      `json:"params"`
	// Density is the stochastic Lanczos quadrature of the eigenvalue density (with -density).
	Density *landscape.Spectrum `json:"density,omitempty"`
	Notes   []string            `json:"notes,omitempty"`
}

func landscapeCurvature(args []string, _ io.Reader, stdout io.Writer) error {
	f := newLandscapeFlags("landscape curvature", curvatureUsage, "train", 500)
	a := f.fs.String("a", "", "the checkpoint: a run folder (its latest step), RUN@STEP or a step folder")
	top := f.fs.Int("top", 3, "how many of the largest Hessian eigenvalues to compute (Lanczos)")
	steps := f.fs.Int("steps", 0, "Lanczos steps for -top (default 3·top+10)")
	trace := f.fs.Int("trace", 10, "Rademacher vectors of Hutchinson's trace estimate (0: no trace)")
	density := f.fs.Bool("density", false, "also estimate the eigenvalue density (stochastic Lanczos quadrature) and plot it")
	vectors := f.fs.Int("vectors", 3, "with -density: random start vectors")
	slqSteps := f.fs.Int("slq-steps", 30, "with -density: Lanczos steps per start vector")
	seed := f.fs.Uint64("seed", 0, "seed of the random vectors")
	if err := f.parse(args, stdout); err != nil {
		return ignoreHelped(err)
	}
	switch {
	case *a == "":
		return usagef("landscape curvature needs the checkpoint -a")
	case *top < 1 || *trace < 0 || *steps < 0 || *vectors < 1 || *slqSteps < 1:
		return usagef("landscape curvature: -top, -vectors and -slq-steps must be ≥ 1, -trace and -steps ≥ 0")
	}
	cfg, obj, err := evaluatorConfig(*f.objective, *f.set, "curvature")
	if err != nil {
		return err
	}
	cfg.Silent = true // thousands of small gradient evaluations; the stage lines say where it is
	in, err := loadCheckpoint(*a, *f.model)
	if err != nil {
		return err
	}
	d, info, err := f.evalData()
	if err != nil {
		return err
	}
	if err := checkFits(in, info, d); err != nil {
		return err
	}
	ev, err := landscape.NewEvaluator(landscape.FromModel(in.model), in.params, cfg)
	if err != nil {
		return err
	}
	out := curvatureOutput{provenance: f.provenance(obj, []dataInfo{info}, in), Params: in.params.Size(), TraceSamples: *trace}
	if hasKinks(in.model) {
		out.Notes = append(out.Notes, "the Hessian-vector products are finite differences of the gradient: across the kinks of ReLU (and max-pooling) they can add spikes that are not eigenvalues (see lib/landscape's spectrum.go); smooth activations (gelu, tanh) give reliable spectra")
	}
	p, err := ev.Loss(in.params, d)
	if err != nil {
		return err
	}
	out.Loss = p.Loss
	out.LanczosSteps = *steps
	if out.LanczosSteps == 0 {
		out.LanczosSteps = min(3**top+10, out.Params)
	}
	progressf("top %d eigenvalues: %d Lanczos steps on %d examples", *top, out.LanczosSteps, d.Len())
	if out.TopEigenvalues, _, err = landscape.TopEigenvalues(ev, in.params, d, *top, landscape.SpectrumOptions{Steps: out.LanczosSteps, Seed: *seed}); err != nil {
		return err
	}
	if *trace > 0 {
		progressf("trace: %d Hutchinson samples", *trace)
		tr, se, err := landscape.HessianTrace(ev, in.params, d, *trace, *seed)
		if err != nil {
			return err
		}
		out.Trace, out.TraceStdErr = &tr, &se
	}
	if *density {
		progressf("eigenvalue density: %d vectors × %d Lanczos steps", *vectors, *slqSteps)
		if out.Density, err = landscape.SpectralDensity(ev, in.params, d, landscape.SpectrumOptions{Steps: *slqSteps, Vectors: *vectors, Seed: *seed}); err != nil {
			return err
		}
		out.Density.Provenance.Checkpoints = []string{in.ref.Path}
	}
	fmt.Fprintf(stdout, "%s (step %d, %s, %d parameters): %s %.4f on %d %s examples of %s\n",
		in.ref.Path, in.ref.Step, in.ref.Model, out.Params, obj.Name, out.Loss, d.Len(), info.Split, info.Dataset)
	fmt.Fprintf(stdout, "top eigenvalues: %.4g\n", out.TopEigenvalues)
	if out.Trace != nil {
		fmt.Fprintf(stdout, "trace: %.4g ± %.2g (Hutchinson, %d samples)\n", *out.Trace, *out.TraceStdErr, *trace)
	}
	if out.Density != nil {
		lo, hi := out.Density.Range()
		fmt.Fprintf(stdout, "density: eigenvalues from %.4g to %.4g, tr(H)/n ≈ %.4g (SLQ)\n", lo, hi, out.Density.Moment(1))
	}
	var fig *viz.Figure
	name := fmt.Sprintf("%s step %d", in.ref.Model, in.ref.Step)
	if out.Density != nil {
		fig = viz.HessianDensity(fmt.Sprintf("Hessian eigenvalue density of %s on %d %s examples (SLQ)", in.ref.Model, d.Len(), info.Split),
			[]string{name}, []*landscape.Spectrum{out.Density}, 0)
	} else {
		cats := make([]string, len(out.TopEigenvalues))
		for i := range cats {
			cats[i] = fmt.Sprintf("λ%d", i+1)
		}
		title := fmt.Sprintf("Top Hessian eigenvalues of %s on %d %s examples", name, d.Len(), info.Split)
		fig = viz.Bar(title, "rank (largest first)", "eigenvalue λ", cats, viz.Values("Lanczos", out.TopEigenvalues))
	}
	return f.write(stdout, out, fig)
}
