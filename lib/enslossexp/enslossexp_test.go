package enslossexp

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/verdict"
)

// tiny is the experiment at test sizes.
func tiny() Config {
	return Config{Dim: 6, Informative: 2, Shift: 1, Flip: 0.2, NTrain: 64, NVal: 32, NTest: 48,
		Hidden: []int{8}, Batch: 16, Epochs: 3, Momentum: 0.9, WeightDecay: 5e-4,
		LRs: []float64{0.01, 0.1}, EvalEvery: 2, Runs: 3, TuneSeed: 100}
}

func TestConfigs(t *testing.T) {
	for name, c := range map[string]Config{"default": Default(), "quick": Quick(), "tiny": tiny()} {
		if err := c.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]func(*Config){
		"no flips":         func(c *Config) { c.Flip = 0 },
		"informative>dim":  func(c *Config) { c.Informative = 7 },
		"batch>train":      func(c *Config) { c.Batch = 65 },
		"empty grid":       func(c *Config) { c.LRs = nil },
		"negative lr":      func(c *Config) { c.LRs = []float64{0.1, -1} },
		"tune seed reused": func(c *Config) { c.TuneSeed = c.RunSeed(1) },
		"no hidden layer":  func(c *Config) { c.Hidden = nil },
	}
	for name, f := range bad {
		c := tiny()
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
}

func TestSampleFlipsTrainingLabelsOnly(t *testing.T) {
	c := tiny()
	c.NTrain, c.NTest = 4000, 4000
	tr, te := c.Data(1, false)
	flipped := 0
	for _, f := range tr.Flipped {
		if f {
			flipped++
		}
	}
	if frac := float64(flipped) / float64(tr.Len()); math.Abs(frac-c.Flip) > 0.03 {
		t.Errorf("flipped fraction %.3f, want about %g", frac, c.Flip)
	}
	if slices.Contains(te.Flipped, true) {
		t.Error("the test set has flipped labels")
	}
	// The informative dimensions point to the clean label, so a flipped label disagrees with them.
	agree := func(s Set, flippedOnly bool) float64 {
		hit, n := 0.0, 0.0
		for i := range s.Y {
			if flippedOnly != s.Flipped[i] {
				continue
			}
			sum := float64(s.X[i*c.Dim] + s.X[i*c.Dim+1])
			if (sum > 0) == (s.Y[i] == 1) {
				hit++
			}
			n++
		}
		return hit / n
	}
	if a, b := agree(tr, false), agree(tr, true); !(a > 0.8 && b < 0.2) {
		t.Errorf("informative features agree with clean labels %.2f, flipped %.2f; want > 0.8 and < 0.2", a, b)
	}
	tr2, _ := c.Data(2, false)
	if slices.Equal(tr.X, tr2.X) {
		t.Error("two run seeds drew the same training set")
	}
	_, val := c.Data(1, true)
	if !slices.Contains(val.Flipped, true) {
		t.Error("the validation split has no flipped labels; it should look like the training data")
	}
}

func TestAccuracyAndMemorised(t *testing.T) {
	s := Set{Y: []int32{1, 0, 1, 0}, Flipped: []bool{false, false, true, true}}
	acc, mem := Accuracy([]float32{1, -1, 2, -3}, s) // all four labels fit, both flipped ones included
	if acc != 1 || mem != 1 {
		t.Errorf("got %v %v, want 1 1", acc, mem)
	}
	acc, mem = Accuracy([]float32{1, 1, -2, -3}, s) // hits: 0 and 3; flipped fit: 3 only
	if acc != 0.5 || mem != 0.5 {
		t.Errorf("got %v %v, want 0.5 0.5", acc, mem)
	}
	if _, mem := Accuracy([]float32{1}, Set{Y: []int32{1}, Flipped: []bool{false}}); !math.IsNaN(mem) {
		t.Errorf("no flipped label: memorised %v, want NaN", mem)
	}
}

func TestDrawsAreValidAndValidDrawCatchesBadOnes(t *testing.T) {
	z := []float64{-2, -0.5, 0, 0.3, 1.2, 2.5, 4}
	seeds := []int{0, 1, 2}
	draws, err := Draws(z, seeds, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := DrawsCheck(z, draws); !c.Holds || c.Kind != verdict.Sanity {
		t.Fatalf("draws rejected: %+v", c)
	}
	if err := ValidDraw(z, []float64{-1, -1, -0.5, -0.7, -0.2, -0.1, -0.05}); err == nil || !strings.Contains(err.Error(), ">") {
		t.Errorf("a decreasing step passed: %v", err)
	}
	if err := ValidDraw(z, []float64{-1, -1, -1, -1, -0.5, -0.2, 0}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("a zero derivative passed: %v", err)
	}
	if c := DrawsCheck(z, [][]float64{{-2, -1, -1, -1, -1, -1, -1}}); c.Holds {
		t.Error("DrawsCheck accepted a derivative below -1")
	}
	// Spec property 4: the limit r ≡ -1 is Log-Hinge's derivative.
	for _, p := range [][2]float64{{-1.5, -1}, {0.2, -1}, {1.2, -1 / 1.2}, {4, -0.25}} {
		if got := LogHingeDerivative(p[0]); math.Abs(got-p[1]) > 1e-12 {
			t.Errorf("LogHingeDerivative(%g) = %g, want %g", p[0], got, p[1])
		}
	}
}

// fake returns a Result with the given last-epoch values per arm over three runs.
func fake(acc, mem map[string][]float64) Result {
	r := Result{Runs: map[string][]Run{}}
	for _, arm := range Arms {
		r.Tuning = append(r.Tuning, Tuning{Arm: arm, LRs: []float64{0.01}, ValAcc: []float64{0.8}, Diverged: []bool{false}, Best: 0.01})
		for i, a := range acc[arm] {
			r.Runs[arm] = append(r.Runs[arm], Run{Arm: arm, Epochs: []float64{1, 2},
				EvalAcc: []float64{a + 0.05, a}, Memorised: []float64{0.1, mem[arm][i]}, TrainAcc: []float64{1, 1}})
		}
	}
	return r
}

func TestClaims(t *testing.T) {
	acc := map[string][]float64{BCE: {0.80, 0.81, 0.79}, Hinge: {0.80, 0.81, 0.79}, EXP: {0.80, 0.81, 0.79}, EnsLoss: {0.85, 0.87, 0.84}}
	mem := map[string][]float64{BCE: {1, 1, 0.98}, Hinge: {1, 1, 1}, EXP: {1, 1, 1}, EnsLoss: {0.5, 0.6, 0.55}}
	rep, err := verdict.Decide("22-ensloss", fake(acc, mem).Claims()...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verdict.VerdictReproduced || len(rep.Claims) != 4 {
		t.Fatalf("verdict %q over %d claims, want reproduced over 4: %+v", rep.Verdict, len(rep.Claims), rep.Claims)
	}
	if last := rep.Claims[3]; !(last.Effect > 0.4) {
		t.Errorf("fewer flipped labels fit should be a positive effect, got %+v", last)
	}
	// EnsLoss memorising more than BCE is the opposite direction.
	mem[EnsLoss], mem[BCE] = []float64{1, 1, 1}, []float64{0.6, 0.5, 0.55}
	rep, _ = verdict.Decide("22-ensloss", fake(acc, mem).Claims()...)
	if rep.Claims[3].Outcome != verdict.NotReproduced {
		t.Errorf("EnsLoss fitting more flipped labels: outcome %q", rep.Claims[3].Outcome)
	}
	// A control that does not overfit makes every claim untestable, naming the measurement.
	mem[BCE] = []float64{0.2, 0.3, 0.25}
	for _, c := range fake(acc, mem).Claims() {
		if !strings.Contains(c.Untestable, "flipped training labels") {
			t.Errorf("claim %q: untestable %q", c.Claim, c.Untestable)
		}
	}
	if p := fake(acc, mem).Peak(BCE); len(p) != 3 || math.Abs(p[0]-0.05) > 1e-12 {
		t.Errorf("Peak %v, want 0.05 each", p)
	}
}

func TestTuningSkipsDivergedRates(t *testing.T) {
	c := tiny()
	c.LRs = []float64{1e4, 0.01}
	tu, err := c.Tune(EXP, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tu.Diverged[0] || tu.Diverged[1] || tu.Best != 0.01 {
		t.Errorf("tuning %+v: want lr 1e4 diverged and 0.01 chosen", tu)
	}
	// A diverged final run is kept, with the diverged model's evaluations at every evaluation epoch.
	tr, te := c.Data(c.RunSeed(0), false)
	run, err := c.Train(EXP, 1e4, 1, tr, te)
	if !errors.Is(err, ErrDiverged) || run.Diverged < 1 || len(run.EvalAcc) != 2 || !slices.Equal(run.Epochs, []float64{2, 3}) {
		t.Errorf("diverged run %+v, error %v", run, err)
	}
	c.LRs = []float64{1e4}
	if _, err := c.Tune(EXP, nil); err == nil || !strings.Contains(err.Error(), "every learning rate") {
		t.Errorf("every rate diverged: %v", err)
	}
}

func TestTrainAndExperiment(t *testing.T) {
	c := tiny()
	tr, te := c.Data(c.RunSeed(0), false)
	if _, err := c.Train("MSE", 0.1, 1, tr, te); err == nil || !strings.Contains(err.Error(), "unknown arm") {
		t.Errorf("unknown arm: %v", err)
	}
	a, err := c.Train(EnsLoss, 0.1, 1, tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Epochs, []float64{2, 3}) || len(a.EvalAcc) != 2 || len(a.Memorised) != 2 {
		t.Fatalf("evaluations %+v, want epochs 2 and 3", a)
	}
	b, err := c.Train(EnsLoss, 0.1, 1, tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.TrainAcc, b.TrainAcc) || !slices.Equal(a.EvalAcc, b.EvalAcc) {
		t.Errorf("the same seed gave different runs: %v %v", a.EvalAcc, b.EvalAcc)
	}
	c.Epochs, c.EvalEvery = 2, 1
	var calls int
	res, err := c.Experiment(func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != c.Steps() || len(res.Tuning) != len(Arms) {
		t.Errorf("%d progress calls (want %d), %d tunings", calls, c.Steps(), len(res.Tuning))
	}
	for _, tu := range res.Tuning {
		if !slices.Contains(c.LRs, tu.Best) || len(tu.ValAcc) != len(c.LRs) || tu.ValAcc[slices.Index(c.LRs, tu.Best)] != slices.Max(tu.ValAcc) {
			t.Errorf("%s: chosen lr %v is not the best of %v", tu.Arm, tu.Best, tu.ValAcc)
		}
		runs := res.Runs[tu.Arm]
		if len(runs) != c.Runs || runs[0].Seed == runs[1].Seed || runs[0].LR != tu.Best {
			t.Errorf("%s: runs %+v", tu.Arm, runs)
		}
	}
	if _, err := verdict.Decide("22-ensloss", res.Claims()...); err != nil {
		t.Errorf("claims of a real run: %v", err)
	}
}
