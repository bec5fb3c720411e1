package fedexp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
)

// tiny is the experiment at test sizes: blobs, four clients, three rounds, three runs, grids of two
// points; the second arm is a copy of the baseline under another name unless explore is set.
func tiny(explore bool) Config {
	g := []Point{{LR: 0.05}, {LR: 0.2}}
	return Config{Hidden: 8, Clients: 4, PerRound: 2, Rounds: 3, LocalEpochs: 1, Batch: 8, Alphas: []float64{0.3},
		ExploreLR: 0.1, ExploreEpochs: 2, Patience: 1, Runs: 3, TuneSeed: 100,
		Arms: []Arm{{Name: "FedAvg", Grid: g}, {Name: "Other", Explore: explore, Grid: g}}}
}

func tinySplits(t *testing.T) *Splits {
	t.Helper()
	all, err := data.Blobs(data.BlobsConfig{N: 320, Classes: 3, Dim: 4, Spread: 1.5, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	fit, te, err := all.Split(0.75, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, va, err := fit.Split(0.75, 2)
	if err != nil {
		t.Fatal(err)
	}
	return &Splits{Train: tr, Val: va, Test: te}
}

func TestMeasures(t *testing.T) {
	c := []float64{0.1, 0.5, 0.3, 0.6, 0.4, 0.8}
	if got := Final(c, 2); math.Abs(got-0.6) > 1e-12 {
		t.Errorf("Final(c, 2) = %v, want 0.6", got)
	}
	if got := Final(c, 99); math.Abs(got-Mean(c)) > 1e-12 {
		t.Errorf("Final(c, 99) = %v, want the mean of all rounds %v", got, Mean(c))
	}
	// Second half: rounds 4..6 (1-based) against their predecessors: |0.6−0.3|, |0.4−0.6|, |0.8−0.4|.
	if got, want := Jitter(c), (0.3+0.2+0.4)/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("Jitter = %v, want %v", got, want)
	}
	if !math.IsNaN(Jitter([]float64{0.5})) {
		t.Error("Jitter of one round is not NaN")
	}
	if RoundsTo(c, 0.5) != 2 || RoundsTo(c, 0.8) != 6 || RoundsTo(c, 0.9) != 7 {
		t.Errorf("RoundsTo: %d %d %d, want 2 6 7", RoundsTo(c, 0.5), RoundsTo(c, 0.8), RoundsTo(c, 0.9))
	}
	// Speed: the target is 0.9 × the baseline's final accuracy of the same run.
	base := &ArmResult{Curves: [][]float64{{0.2, 0.6, 1.0}, {0.5, 0.5, 0.5}}}
	meth := &ArmResult{Curves: [][]float64{{0.95, 0.1, 0.1}, {0.1, 0.2, 0.3}}}
	m, b := Speed(meth, base, 0.9, 1)
	if !slices.Equal(m, []float64{1, 4}) || !slices.Equal(b, []float64{3, 1}) {
		t.Errorf("Speed = %v, %v; want [1 4], [3 1]", m, b)
	}
	if got := base.PerRun(func(c []float64) float64 { return c[0] }); !slices.Equal(got, []float64{0.2, 0.5}) {
		t.Errorf("PerRun = %v", got)
	}
	if got := dominantShare([][]int{{3, 1}, {0, 2}}); math.Abs(got-0.875) > 1e-12 {
		t.Errorf("dominantShare = %v, want (0.75 + 1)/2", got)
	}
}

func TestCheck(t *testing.T) {
	if err := tiny(true).Check(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"unequal grids":  func(c *Config) { c.Arms[1].Grid = c.Arms[1].Grid[:1] },
		"one arm":        func(c *Config) { c.Arms = c.Arms[:1] },
		"α = 0":          func(c *Config) { c.Alphas = []float64{0} },
		"no settings":    func(c *Config) { c.Alphas = nil },
		"per round > K":  func(c *Config) { c.PerRound = 5 },
		"one round":      func(c *Config) { c.Rounds = 1 },
		"lr 0":           func(c *Config) { c.Arms[0].Grid[0].LR = 0 },
		"no explore lr":  func(c *Config) { c.ExploreLR = 0 },
		"no runs":        func(c *Config) { c.Runs = 0 },
		"no hidden unit": func(c *Config) { c.Hidden = 0 },
	} {
		c := tiny(true)
		c.Arms = slices.Clone(c.Arms)
		c.Arms[0].Grid = slices.Clone(c.Arms[0].Grid)
		mod(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
	c := tiny(true)
	c.Arms[1].Grid = c.Arms[1].Grid[:1]
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "same tuning budget") {
		t.Errorf("unequal grids: %v", err)
	}
	if _, err := Run(tiny(false), nil, nil); err == nil {
		t.Error("Run without data passed")
	}
}

// TestRunsIndependentAndPaired: run r of two arms shares its seeds (an arm identical to the baseline
// gives bit-identical curves in every run and the same tuning), while different runs differ in the
// initialisation, the partition and the curves.
func TestRunsIndependentAndPaired(t *testing.T) {
	c, s := tiny(false), tinySplits(t)
	var notes []string
	res, err := Run(c, s, func(d string) { notes = append(notes, d) })
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != c.Jobs() {
		t.Errorf("%d progress notes, Jobs() = %d", len(notes), c.Jobs())
	}
	if len(res) != 1 || len(res[0].Arms) != 2 || len(res[0].DominantShare) != c.Runs {
		t.Fatalf("results %+v", res)
	}
	a, o := res[0].Arm("FedAvg"), res[0].Arm("Other")
	if !slices.Equal(a.Tuning.Score, o.Tuning.Score) || a.Chosen != o.Chosen {
		t.Errorf("identical arms tuned differently: %v vs %v", a.Tuning, o.Tuning)
	}
	if a.Chosen != c.Arms[0].Grid[a.Tuning.Best] || a.Tuning.Score[a.Tuning.Best] != slices.Max(a.Tuning.Score) {
		t.Errorf("chosen %v is not the best of %v", a.Chosen, a.Tuning.Score)
	}
	for r := range c.Runs {
		if len(a.Curves[r]) != c.Rounds || !slices.Equal(a.Curves[r], o.Curves[r]) {
			t.Errorf("run %d: identical arms differ: %v vs %v", r+1, a.Curves[r], o.Curves[r])
		}
	}
	if slices.Equal(a.Curves[0], a.Curves[1]) || slices.Equal(a.Curves[1], a.Curves[2]) {
		t.Error("independent runs gave identical curves")
	}
	// The tuning score is the mean validation accuracy of the tuning seed's run (not the test split).
	rd, err := c.prepare(s, 0, c.TuneSeed, false)
	if err != nil {
		t.Fatal(err)
	}
	_, val, err := c.run(rd, c.Arms[0], c.Arms[0].Grid[1], s.Val, c.TuneSeed, false)
	if err != nil {
		t.Fatal(err)
	}
	if Mean(val) != a.Tuning.Score[1] {
		t.Errorf("tuning score %v, mean validation accuracy %v", a.Tuning.Score[1], Mean(val))
	}
	// Different seeds: different initialisations and partitions; the same seed: the same.
	r1, _ := c.prepare(s, 0, 1, false)
	r2, _ := c.prepare(s, 0, 2, false)
	r1b, _ := c.prepare(s, 0, 1, false)
	if slices.Equal(r1.f.Init(), r2.f.Init()) || slices.Equal(r1.parts[0], r2.parts[0]) {
		t.Error("runs 1 and 2 share the initialisation or the partition")
	}
	if !slices.Equal(r1.f.Init(), r1b.f.Init()) || !slices.Equal(r1.parts[0], r1b.parts[0]) {
		t.Error("the same seed drew different runs")
	}
}

// TestFedLExArm: the exploring arm uses a guidance from every run's own exploration, differs from
// FedAvg, and keeps run 0's client models when asked.
func TestFedLExArm(t *testing.T) {
	c, s := tiny(true), tinySplits(t)
	c.KeepLocal = true
	res, err := Run(c, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	sr := res[0]
	if len(sr.Explorations) != c.Runs || sr.Explorations[0].Seed == sr.Explorations[1].Seed {
		t.Fatalf("explorations %+v", sr.Explorations)
	}
	for _, e := range sr.Explorations {
		if !(e.MeanG > 0 && e.MeanG < 1) || e.Steps < 1 || len(e.Epochs) != c.Clients {
			t.Errorf("exploration %+v", e)
		}
	}
	if len(sr.Guidance) == 0 || Mean32(sr.Guidance) != sr.Explorations[0].MeanG {
		t.Error("run 0's guidance not kept")
	}
	a, l := sr.Arm("FedAvg"), sr.Arm("Other")
	if slices.Equal(a.Curves[0], l.Curves[0]) {
		t.Error("FedLEx gave FedAvg's curve")
	}
	if len(a.Local) != c.PerRound || len(l.Local) != c.PerRound || sr.RoundSteps <= 0 {
		t.Errorf("kept %d and %d client models, round steps %v", len(a.Local), len(l.Local), sr.RoundSteps)
	}
}

// TestDivergence: a grid point that blows up scores NaN and is not chosen; an arm whose every point
// blows up is an error; a diverged final run continues at chance accuracy.
func TestDivergence(t *testing.T) {
	c, s := tiny(false), tinySplits(t)
	c.Runs = 1
	c.Arms[0].Grid = []Point{{LR: 1e30}, {LR: 0.1}}
	c.Arms[1].Grid = []Point{{LR: 0.1}, {LR: 0.2}}
	res, err := Run(c, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := res[0].Arm("FedAvg")
	if !math.IsNaN(a.Tuning.Score[0]) || a.Tuning.Best != 1 || a.Diverged != 0 {
		t.Errorf("tuning %+v, diverged %d: want a NaN score for lr 1e30 and lr 0.1 chosen", a.Tuning, a.Diverged)
	}
	c.Arms[0].Grid = []Point{{LR: 1e30}, {LR: 1e31}}
	if _, err := Run(c, s, nil); err == nil || !strings.Contains(err.Error(), "no grid point") {
		t.Errorf("every point diverged: got %v", err)
	}
	if got := padDiverged([]float64{0.5, 0.6}, 4, 0.25); !slices.Equal(got, []float64{0.5, 0.6, 0.25, 0.25}) {
		t.Errorf("padDiverged = %v", got)
	}
}
