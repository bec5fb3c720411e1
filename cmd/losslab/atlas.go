package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/losslab/losslab/lib/atlas"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/train"
	"github.com/losslab/losslab/lib/viz"
)

// `losslab landscape atlas` runs lib/atlas: it trains the runs itself, so it reads no checkpoints.

const atlasUsage = "[-objectives ce,gce,...] [-model mlp-128-128-10] [-runs R] [-steps N] [-cache DIR] -o OUT"

// atlasOutput is OUT.json: the atlas with what it was computed from.
type atlasOutput struct {
	Command string            `json:"command"`
	Version string            `json:"losslab_version"`
	Data    []dataInfo        `json:"data"`
	Options map[string]string `json:"options"`
	Cache   string            `json:"cache"`
	Atlas   *atlas.Atlas      `json:"atlas"`
}

// parseObjectives reads -objectives: "all" (atlas.DefaultObjectives) or a comma-separated list of
// NAME or NAME:k=v/k=v (hyperparameters other than the defaults, e.g. gce:q=0.5).
func parseObjectives(s string) ([]atlas.Entry, error) {
	if strings.TrimSpace(s) == "all" {
		return atlas.DefaultObjectives(), nil
	}
	var out []atlas.Entry
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, set, _ := strings.Cut(item, ":")
		if _, err := losses.Lookup(name); err != nil {
			return nil, usagef("landscape atlas: -objectives: %v", err)
		}
		p, err := losses.ParseParams(strings.ReplaceAll(set, "/", ","))
		if err != nil {
			return nil, usagef("landscape atlas: -objectives %q: %v", item, err)
		}
		e := atlas.Entry{Name: name}
		if len(p) > 0 {
			e.Params = p
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, usagef("landscape atlas: -objectives %q names no objective (all: every classification objective)", s)
	}
	return out, nil
}

func landscapeAtlas(args []string, _ io.Reader, stdout io.Writer) error {
	f := newOutputFlags("landscape atlas", atlasUsage, "the dataset", "training examples, balanced across classes (0: all)", 10000)
	testN := f.fs.Int("test-n", 5000, "test examples, balanced across classes (0: all)")
	model := f.fs.String("model", "mlp-128-128-10", "the model trained, as lib/models names it (the last number is the classes)")
	objectives := f.fs.String("objectives", "all", "comma-separated objectives, NAME or NAME:k=v/k=v; all: every classification objective of 'losslab objective list', ce first")
	runs := f.fs.Int("runs", atlas.MinRuns, fmt.Sprintf("independently initialised runs per objective (≥ %d), each with a data-order sibling", atlas.MinRuns))
	steps := f.fs.Int("steps", 1500, "training steps of each run")
	epochs := f.fs.Int("epochs", 0, "training epochs of each run, instead of -steps")
	batch := f.fs.Int("batch", 128, "batch size")
	lr := f.fs.Float64("lr", 1e-3, "Adam's learning rate")
	seed := f.fs.Uint64("seed", 1, "seed of the runs' initialisations and of the measurements' random directions")
	examples := f.fs.Int("examples", 1000, "examples of each split that the barriers, ECE, curvature and slices are measured on")
	alpha := f.fs.Int("alpha", 11, "points of each interpolation path, ends included")
	lanczos := f.fs.Int("lanczos", 20, "Lanczos steps for the top Hessian eigenvalue")
	trace := f.fs.Int("trace", 10, "Hutchinson samples of the Hessian trace")
	slice := f.fs.Int("slice", 21, "points of the 1-D slices")
	grid := f.fs.Int("grid", 11, "points per side of the 2-D slice")
	radius := f.fs.Float64("radius", 1, "half-width of the slices, in filter-normalised units")
	cache := f.fs.String("cache", "", "folder of one record per objective, reused when the same atlas is run again (default OUT.cache)")
	if err := f.parse(args, stdout); err != nil {
		return ignoreHelped(err)
	}
	if *epochs > 0 {
		stepsGiven := false
		f.fs.Visit(func(fl *flag.Flag) { stepsGiven = stepsGiven || fl.Name == "steps" })
		if stepsGiven && *steps > 0 {
			return usagef("landscape atlas: give -steps or -epochs, not both")
		}
		*steps = 0
	}
	switch {
	case *runs < atlas.MinRuns:
		return usagef("landscape atlas: -runs %d, need ≥ %d independent runs per objective for a spread", *runs, atlas.MinRuns)
	case *steps < 0 || *epochs < 0 || *batch < 1 || *testN < 0:
		return usagef("landscape atlas: -steps, -epochs and -test-n must be ≥ 0, -batch ≥ 1")
	case *steps == 0 && *epochs == 0:
		return usagef("landscape atlas: -steps 0 needs -epochs")
	case !(*lr > 0):
		return usagef("landscape atlas: -lr %g must be > 0", *lr)
	}
	entries, err := parseObjectives(*objectives)
	if err != nil {
		return err
	}
	m, err := modelFromName(*model)
	if err != nil {
		return usagef("landscape atlas: -model: %v", err)
	}
	if *cache == "" {
		*cache = *f.out + ".cache"
	}
	progressf("loading %d training and %d test examples of %s", *f.n, *testN, *f.dataset)
	trainSet, trainInfo, err := loadSet(*f.dataset, "train", *f.n, *f.dataSeed)
	if err != nil {
		return err
	}
	testSet, testInfo, err := loadSet(*f.dataset, "test", *testN, *f.dataSeed)
	if err != nil {
		return err
	}
	if k := modelClasses(m); k != trainInfo.Classes {
		return usagef("landscape atlas: -model %s predicts %d classes but %s has %d: the last number of the name is the number of classes (e.g. %s-%d)",
			*model, k, *f.dataset, trainInfo.Classes, *model, trainInfo.Classes)
	}
	cfg := atlas.Config{
		Model: m, Train: trainSet, Test: testSet, Objectives: entries, Runs: *runs,
		Steps: *steps, Epochs: *epochs, BatchSize: *batch, Optimizer: train.Adam(*lr), Seed: *seed,
		Measure: atlas.Measure{Examples: *examples, Alpha: *alpha, Lanczos: *lanczos, TraceSamples: *trace,
			Slice: *slice, Grid: *grid, Radius: *radius},
		CacheDir: *cache,
		Progress: func(s atlas.Step) { progressf("[%d/%d] %s", s.Done, s.Total, s.Message) },
	}
	progressf("atlas of %d objectives × %d runs (and their siblings) of %s; records are kept in %s", len(entries), *runs, *model, *cache)
	a, err := atlas.Run(cfg)
	if err != nil {
		return err
	}
	out := atlasOutput{Command: "losslab " + f.fs.Name(), Version: version(), Data: []dataInfo{trainInfo, testInfo},
		Options: map[string]string{}, Cache: *cache, Atlas: a}
	f.fs.VisitAll(func(fl *flag.Flag) { out.Options[fl.Name] = fl.Value.String() })

	table, err := a.Table().Markdown()
	if err != nil {
		return err
	}
	report := table
	if len(a.Skipped) > 0 {
		skipped, err := a.SkippedTable().Markdown()
		if err != nil {
			return err
		}
		report += "\n" + skipped
	}
	fmt.Fprintf(stdout, "%s on %d train and %d test examples of %s, %d runs of %s each\n\n%s\n",
		*model, trainInfo.N, testInfo.N, *f.dataset, *runs, stepsText(*steps, *epochs), report)
	fmt.Fprintf(stdout, "%d objectives computed, %d from the cache (%s), %d skipped, in %.0f s\n",
		len(a.Computed), len(a.Cached), *cache, len(a.Skipped), a.Provenance.Seconds)
	md := *f.out + ".md"
	if err := os.WriteFile(md, []byte(report+"\n"+a.Reading()), 0o644); err != nil {
		return err
	}
	return f.writeAll(stdout, out, []string{md},
		picture{"", a.Paths()},
		picture{"-scatter", viz.Panels("", 2, a.Scatter(atlas.TopEigenvalue), a.Scatter(atlas.MatchedBarrier))},
		picture{"-planes", a.Planes()})
}

func stepsText(steps, epochs int) string {
	if steps > 0 {
		return fmt.Sprintf("%d steps", steps)
	}
	return fmt.Sprintf("%d epochs", epochs)
}
