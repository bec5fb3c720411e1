package atlas

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// tiny returns an atlas configuration that trains in a fraction of a second per run: a 4-8-3 MLP on
// 3-class Gaussian blobs.
func tiny(t *testing.T) Config {
	t.Helper()
	all, err := data.Blobs(data.BlobsConfig{N: 160, Classes: 3, Dim: 4, Spread: 1.2, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := all.Split(0.75, 1)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Model: models.NewMLP(3, 8), Train: tr, Test: te, Runs: 3, Steps: 15, BatchSize: 40, Seed: 1,
		Optimizer: train.Adam(0.02),
		Measure:   Measure{Examples: 40, Alpha: 5, Lanczos: 4, TraceSamples: 2, Slice: 5, Grid: 3},
	}
}

// countRuns makes trainRun count its calls for the duration of the test.
func countRuns(t *testing.T) *int {
	t.Helper()
	n := new(int)
	trainRun = func(c train.Config) (*train.Result, error) {
		*n++
		return train.Run(c)
	}
	t.Cleanup(func() { trainRun = train.Run })
	return n
}

func TestConfigErrors(t *testing.T) {
	base := tiny(t)
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"two runs", func(c *Config) { c.Runs = 2 }, "Runs=2, need ≥ 3"},
		{"no model", func(c *Config) { c.Model = nil }, "Model is nil"},
		{"no test set", func(c *Config) { c.Test = nil }, "test set is empty"},
		{"unknown objective", func(c *Config) { c.Objectives = []Entry{{Name: "gcee"}} }, `unknown objective "gcee" (did you mean "gce"?)`},
		{"other kind", func(c *Config) { c.Objectives = []Entry{{Name: "infonce"}} }, "kind retrieval"},
		{"bad hyperparameter", func(c *Config) { c.Objectives = []Entry{{Name: "gce", Params: map[string]float64{"q": 2}}} }, "q=2 is out of range"},
		{"twice", func(c *Config) {
			c.Objectives = []Entry{{Name: "gce"}, {Name: "gce", Params: map[string]float64{"q": 0.7}}}
		}, "listed twice"},
		{"empty list", func(c *Config) { c.Objectives = []Entry{} }, "objective list is empty"},
		{"measure", func(c *Config) { c.Measure.Alpha = 2 }, "Alpha (2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := countRuns(t)
			c := base
			tc.edit(&c)
			_, err := Run(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if *n != 0 {
				t.Errorf("%d runs trained before the configuration error was reported", *n)
			}
		})
	}
}

func TestDefaultObjectives(t *testing.T) {
	d := DefaultObjectives()
	if len(d) == 0 || d[0].Name != "ce" {
		t.Fatalf("DefaultObjectives starts with %v, want ce first", d[:min(1, len(d))])
	}
	papers := map[string]bool{}
	for _, e := range d {
		o, _, err := resolve(e)
		if err != nil {
			t.Fatal(err)
		}
		papers[o.Paper] = true
	}
	// Every paper with a classification objective, the baselines included.
	for _, p := range []string{"baseline", "04-compsum", "09-ldr", "10-drat", "11-zloss", "16-calib", "18-dverge", "28-smallproxies"} {
		if !papers[p] {
			t.Errorf("no default objective from paper %s", p)
		}
	}
}

// TestAtlas trains one small atlas and checks it against direct measurements, then the cache: a second
// Run with one objective added trains only that one, and a changed configuration recomputes.
func TestAtlas(t *testing.T) {
	n := countRuns(t)
	cfg := tiny(t)
	cfg.CacheDir = t.TempDir()
	cfg.Objectives = []Entry{{Name: "ce"}, {Name: "dverge"}, {Name: "gce", Params: map[string]float64{"q": 0.5}}}
	var steps []Step
	cfg.Progress = func(s Step) { steps = append(steps, s) }
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if *n != 2*2*cfg.Runs {
		t.Errorf("first atlas trained %d runs, want %d (2 objectives × %d runs × run and sibling)", *n, 4*cfg.Runs, cfg.Runs)
	}
	if len(a.Records) != 2 || a.Records[0].Label != "ce" || a.Records[1].Label != "gce (q=0.5)" {
		t.Fatalf("records %v, want ce and gce (q=0.5)", labels(a.Records))
	}
	if len(a.Skipped) != 1 || a.Skipped[0].Entry.Name != "dverge" || a.Skipped[0].Paper != "18-dverge" || !strings.Contains(a.Skipped[0].Reason, "ensemble") {
		t.Errorf("skipped %+v, want dverge with its reason", a.Skipped)
	}
	if !slices.Equal(a.Computed, []string{"ce", "gce (q=0.5)"}) || len(a.Cached) != 0 {
		t.Errorf("computed %v cached %v", a.Computed, a.Cached)
	}
	if len(steps) == 0 || steps[0].Total != 3 || steps[0].Done != 0 || steps[len(steps)-1].Done != 3 {
		t.Errorf("progress steps %+v, want Done from 0 to Total = 3", steps)
	}
	ce := a.Record("ce")
	checkShapes(t, cfg, ce)

	// Direct measurements of runs 0 and 1 of ce, trained again from the atlas's own configuration.
	m := cfg.Measure.withDefaults()
	var ps [2]*landscape.ParamSet
	for i := range 2 {
		res, err := train.Run(cfg.TrainConfig(Entry{Name: "ce"}, i, false))
		if err != nil {
			t.Fatal(err)
		}
		met, err := train.Evaluate(cfg.Model, res.Context, cfg.Test)
		if err != nil {
			t.Fatal(err)
		}
		if got := ce.Runs[i].TestAccuracy; got != met.Accuracy || ce.Runs[i].TestLoss != met.Loss {
			t.Errorf("run %d: atlas test accuracy %v loss %v, train.Evaluate %v %v", i, got, ce.Runs[i].TestLoss, met.Accuracy, met.Loss)
		}
		if ps[i], err = landscape.FromContext(res.Context, nil); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := landscape.NewEvaluator(landscape.FromModel(cfg.Model), ps[0], landscape.Config{Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	test := landscape.FromSet(cfg.Test)
	test = &landscape.Data{Name: test.Name, Shape: test.Shape, X: test.X[:m.Examples*4], Y: test.Y[:m.Examples]}
	p, err := landscape.Interpolate(ev, ps[0], ps[1], []*landscape.Data{test}, landscape.PathOptions{NumAlpha: m.Alpha})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ce.Independent[0].Barrier, p.Curves[0].LossBarrier.Linear; math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
		t.Errorf("barrier 0–1: atlas %v, landscape.Interpolate %v", got, want)
	}
	if got, want := ce.Independent[0].Loss, p.Curves[0].Loss; !slices.Equal(got, want) {
		t.Errorf("path 0–1: atlas %v, landscape.Interpolate %v", got, want)
	}
	if got, want := ce.Independent[0].ErrorBarrier, p.Curves[0].ErrorBarrier.Linear; got != want {
		t.Errorf("error barrier 0–1: atlas %v, landscape.Interpolate %v", got, want)
	}
	// Run 0's top Hessian eigenvalue with the same Lanczos steps and seed.
	train0 := landscape.FromSet(cfg.Train)
	train0 = &landscape.Data{Name: train0.Name, Shape: train0.Shape, X: train0.X[:m.Examples*4], Y: train0.Y[:m.Examples]}
	eig, _, err := landscape.TopEigenvalues(ev, ps[0], train0, 1, landscape.SpectrumOptions{Steps: m.Lanczos, Seed: cfg.Seed + 0xe1})
	if err != nil {
		t.Fatal(err)
	}
	if got := ce.Runs[0].TopEigenvalue; math.Abs(got-eig[0]) > 1e-9*(1+math.Abs(eig[0])) || !(got > 0) {
		t.Errorf("run 0: atlas λ_max %v, landscape.TopEigenvalues %v", got, eig[0])
	}
	// gce's run 2: test cross-entropy and its own loss, directly.
	gce := Entry{Name: "gce", Params: map[string]float64{"q": 0.5}}
	res, err := train.Run(cfg.TrainConfig(gce, 2, false))
	if err != nil {
		t.Fatal(err)
	}
	own, err := losses.TrainLoss("gce", gce.Params)
	if err != nil {
		t.Fatal(err)
	}
	wantCE, err1 := train.Evaluate(cfg.Model, res.Context, cfg.Test)
	wantOwn, err2 := train.EvaluateLoss(cfg.Model, res.Context, cfg.Test, own)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if got := a.Record("gce (q=0.5)").Runs[2]; got.TestLoss != wantCE.Loss || got.ObjectiveLoss != wantOwn.Loss || got.TestLoss == got.ObjectiveLoss {
		t.Errorf("gce run 2: test CE %v and own loss %v, want %v and %v (different)", got.TestLoss, got.ObjectiveLoss, wantCE.Loss, wantOwn.Loss)
	}
	if got, want := ce.Summary.Barrier.Mean, (ce.Independent[0].Barrier+ce.Independent[1].Barrier+ce.Independent[2].Barrier)/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("summary barrier mean %v, want %v", got, want)
	}

	// Resume: one objective added; only it is trained.
	*n = 0
	cfg.Objectives = append(cfg.Objectives, Entry{Name: "mae"})
	b, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if *n != 2*cfg.Runs {
		t.Errorf("adding one objective trained %d runs, want %d", *n, 2*cfg.Runs)
	}
	if !slices.Equal(b.Cached, []string{"ce", "gce (q=0.5)"}) || !slices.Equal(b.Computed, []string{"mae"}) {
		t.Errorf("second atlas computed %v cached %v, want mae computed and the rest cached", b.Computed, b.Cached)
	}
	if got := b.Record("ce"); got.Summary != ce.Summary || got.Key != ce.Key {
		t.Errorf("cached ce record differs: %+v vs %+v", got.Summary, ce.Summary)
	}

	// A changed configuration recomputes.
	*n = 0
	cfg.Objectives = []Entry{{Name: "ce"}}
	cfg.Steps++
	if _, err := Run(cfg); err != nil {
		t.Fatal(err)
	}
	if *n != 2*cfg.Runs {
		t.Errorf("after changing Steps, %d runs trained, want %d", *n, 2*cfg.Runs)
	}

	// A cache file whose key was edited is an error, not a silent reuse.
	files, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "gce-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files for gce: %v", files)
	}
	buf, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	gceKey := a.Record("gce (q=0.5)").Key
	edited := strings.Replace(string(buf), `"Key": "`+gceKey+`"`, `"Key": "0000"`, 1)
	if edited == string(buf) {
		t.Fatalf("key %s not found in %s", gceKey, files[0])
	}
	if err := os.WriteFile(files[0], []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	*n = 0
	cfg.Objectives = []Entry{{Name: "gce", Params: map[string]float64{"q": 0.5}}}
	cfg.Steps--
	if _, err := Run(cfg); err == nil || !strings.Contains(err.Error(), "edited or damaged") {
		t.Errorf("edited cache file: error %v, want one saying it was edited", err)
	}
	if *n != 0 {
		t.Errorf("edited cache file: %d runs trained", *n)
	}
}

func labels(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Label)
	}
	return out
}

// checkShapes checks that a record holds every measurement, finite.
func checkShapes(t *testing.T, cfg Config, r *Record) {
	t.Helper()
	m := cfg.Measure.withDefaults()
	if len(r.Runs) != cfg.Runs || len(r.Independent) != cfg.Runs || len(r.Matched) != cfg.Runs || len(r.Siblings) != cfg.Runs {
		t.Fatalf("%s: %d runs, %d/%d/%d pairs, want %d each", r.Label, len(r.Runs), len(r.Independent), len(r.Matched), len(r.Siblings), cfg.Runs)
	}
	if len(r.Alpha) != m.Alpha || len(r.SliceX) != m.Slice || len(r.Plane.S) != m.Grid || len(r.Plane.Loss) != m.Grid {
		t.Errorf("%s: grids α %d, slice %d, plane %d×%d", r.Label, len(r.Alpha), len(r.SliceX), len(r.Plane.S), len(r.Plane.Loss))
	}
	if r.SliceX[0] != -1 || r.SliceX[m.Slice-1] != 1 {
		t.Errorf("%s: slice from %v to %v, want −1 to 1", r.Label, r.SliceX[0], r.SliceX[m.Slice-1])
	}
	for i, rr := range r.Runs {
		for name, v := range map[string]float64{"accuracy": rr.TestAccuracy, "ECE": rr.ECE, "λ_max": rr.TopEigenvalue, "trace": rr.Trace} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s run %d: %s is %v", r.Label, i, name, v)
			}
		}
		if rr.TestAccuracy < 0.5 {
			t.Errorf("%s run %d: test accuracy %v on easy blobs", r.Label, i, rr.TestAccuracy)
		}
		if rr.Seed == r.Runs[(i+1)%cfg.Runs].Seed || rr.DataSeed == rr.SiblingDataSeed {
			t.Errorf("%s run %d: seeds %+v are not distinct", r.Label, i, rr)
		}
		// The slice's middle point is the solution itself.
		if mid := rr.Slice[m.Slice/2]; math.Abs(mid-rr.TrainLoss) > 1e-5*(1+rr.TrainLoss) {
			t.Errorf("%s run %d: slice at 0 is %v, train loss %v", r.Label, i, mid, rr.TrainLoss)
		}
	}
	if r.Summary.TestAccuracy.N != cfg.Runs || r.Summary.MatchedBarrier.N != cfg.Runs {
		t.Errorf("%s: summary counts %d, %d", r.Label, r.Summary.TestAccuracy.N, r.Summary.MatchedBarrier.N)
	}
}

// TestDiverged: a run that diverges puts its objective among the skipped, with the reason, and leaves no
// cache file; the other objectives are unaffected.
func TestDiverged(t *testing.T) {
	cfg := tiny(t)
	cfg.CacheDir = t.TempDir()
	cfg.Objectives = []Entry{{Name: "ce"}, {Name: "mae"}}
	trainRun = func(c train.Config) (*train.Result, error) {
		if c.Objective == "mae" {
			return &train.Result{}, &train.DivergedError{Step: 3, Loss: math.NaN()}
		}
		return train.Run(c)
	}
	t.Cleanup(func() { trainRun = train.Run })
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Records) != 1 || a.Records[0].Label != "ce" {
		t.Errorf("records %v, want ce only", labels(a.Records))
	}
	if len(a.Skipped) != 1 || a.Skipped[0].Entry.Name != "mae" || a.Skipped[0].Paper != "04-compsum" ||
		!strings.Contains(a.Skipped[0].Reason, "loss is NaN at step 3") {
		t.Errorf("skipped %+v, want mae with the divergence", a.Skipped)
	}
	if files, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "mae-*")); len(files) != 0 {
		t.Errorf("a diverged objective left cache files %v", files)
	}
}

// TestEveryDefaultObjective runs the whole default list at toy size: each objective is either measured
// (finite numbers) or skipped for a listed reason, so that a full-size atlas does not stop half-way.
func TestEveryDefaultObjective(t *testing.T) {
	cfg := tiny(t)
	cfg.Steps = 5
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(a.Records)+len(a.Skipped), len(DefaultObjectives()); got != want {
		t.Fatalf("%d records and skips for %d objectives", got, want)
	}
	for _, s := range a.Skipped {
		if SkipReason(s.Entry.Name) == "" {
			t.Errorf("%s skipped for a reason outside the table: %s", s.Entry.Name, s.Reason)
		}
	}
	for _, r := range a.Records {
		for name, v := range map[string]float64{"accuracy": r.Summary.TestAccuracy.Mean, "ECE": r.Summary.ECE.Mean,
			"barrier": r.Summary.Barrier.Mean, "λ_max": r.Summary.TopEigenvalue.Mean, "objective loss": r.Summary.ObjectiveLoss.Mean} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s: %s is %v", r.Label, name, v)
			}
		}
	}
	t.Logf("%d measured, %d skipped", len(a.Records), len(a.Skipped))
}
