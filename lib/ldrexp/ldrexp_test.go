package ldrexp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
)

// tiny is the experiment at test sizes: two arms with grids of two points, two settings, three runs.
func tiny() Config {
	return Config{NTrain: 128, NVal: 64, NTest: 64, Classes: 4, Dim: 3, Radius: 3, Spread: 1, DataSeed: 5,
		Epochs: 2, Batch: 32, WeightDecay: 5e-3, Runs: 3, TuneSeed: 100,
		Noise: []data.NoiseConfig{{Kind: data.Uniform, Rate: 0}, {Kind: data.Pairwise, Rate: 0.5}},
		Arms: []Arm{
			{Name: "CE", Objective: "ce", Grid: Grid([]float64{0.01, 0.1}, "", nil)},
			{Name: "LDR", Objective: "ldr-kl-code", Grid: Grid([]float64{0.05}, "lambda", []float64{1, 10})},
		}}
}

func TestGrid(t *testing.T) {
	g := Grid([]float64{0.1, 0.2}, "lambda", []float64{1, 10, 100})
	if len(g) != 6 || g[4].LR != 0.2 || g[4].Params["lambda"] != 10 {
		t.Fatalf("grid %v: want 6 points, the 5th lr=0.2 lambda=10", g)
	}
	if s := (Point{LR: 0.1, Params: losses.Params{"margin": 0.5, "lambda": 1}}).String(); s != "lr=0.1 lambda=1 margin=0.5" {
		t.Errorf("Point.String: %q", s)
	}
	if g := Grid([]float64{0.1, 0.2}, "", nil); len(g) != 2 || g[1].Params != nil {
		t.Fatalf("learning-rate grid %v", g)
	}
}

func TestCheckWantsEqualGrids(t *testing.T) {
	c := tiny()
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	c.Arms[1].Grid = c.Arms[1].Grid[:1]
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "same tuning budget") {
		t.Fatalf("unequal grids: got %v", err)
	}
	c = tiny()
	c.Arms[0].Objective = "no-such-loss"
	if err := c.Check(); err == nil {
		t.Fatal("an unknown objective passed Check")
	}
}

func TestDataNoiseOnTrainAndValidationOnly(t *testing.T) {
	c := tiny()
	clean, err := c.Data(data.NoiseConfig{Kind: data.Uniform, Rate: 0})
	if err != nil {
		t.Fatal(err)
	}
	noisy, err := c.Data(data.NoiseConfig{Kind: data.Pairwise, Rate: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if clean.Train.Len() != c.NTrain || clean.Val.Len() != c.NVal || clean.Test.Len() != c.NTest {
		t.Fatalf("split sizes %d/%d/%d", clean.Train.Len(), clean.Val.Len(), clean.Test.Len())
	}
	if clean.Changed != 0 || !slices.Equal(clean.Train.Y, clean.Clean) {
		t.Fatal("rate 0 changed training labels")
	}
	if !slices.Equal(noisy.Clean, clean.Train.Y) || !slices.Equal(noisy.Test.Y, clean.Test.Y) {
		t.Fatal("the clean training labels or the test labels differ between settings")
	}
	if noisy.Changed < 0.3 || slices.Equal(noisy.Val.Y, clean.Val.Y) {
		t.Fatalf("pairwise 0.5 changed %.2f of the training labels and the validation labels changed: %v",
			noisy.Changed, !slices.Equal(noisy.Val.Y, clean.Val.Y))
	}
	for i, y := range noisy.Train.Y {
		if y != clean.Train.Y[i] && y != (clean.Train.Y[i]+1)%int32(c.Classes) {
			t.Fatalf("example %d: label %d from %d is not pairwise noise", i, y, clean.Train.Y[i])
		}
	}
}

func TestRun(t *testing.T) {
	c := tiny()
	var calls int
	res, err := Run(c, func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if want := len(c.Noise) * len(c.Arms) * (2 + c.Runs); calls != want {
		t.Errorf("%d progress calls, want %d (one per training run)", calls, want)
	}
	if len(res) != 2 || res[1].Setting != "pairwise 0.5" {
		t.Fatalf("settings %v", res)
	}
	for _, s := range res {
		for _, a := range s.Arms {
			if len(a.Tuning.ValAcc) != 2 || len(a.Test) != c.Runs || len(a.Curves) != c.Runs {
				t.Fatalf("%s %s: %d tuning values, %d runs, %d curves", s.Setting, a.Arm, len(a.Tuning.ValAcc), len(a.Test), len(a.Curves))
			}
			for i, v := range a.Tuning.ValAcc {
				if v > a.Tuning.ValAcc[a.Tuning.Best] || (i < a.Tuning.Best && v == a.Tuning.ValAcc[a.Tuning.Best]) {
					t.Errorf("%s %s: chose point %d of %v", s.Setting, a.Arm, a.Tuning.Best, a.Tuning.ValAcc)
				}
			}
			for r, curve := range a.Curves {
				if len(curve) != c.Epochs || curve[len(curve)-1] != a.Test[r] || math.IsNaN(a.Test[r]) {
					t.Errorf("%s %s run %d: curve %v, final %v", s.Setting, a.Arm, r, curve, a.Test[r])
				}
			}
			if a.Test[0] == a.Test[1] && a.Test[1] == a.Test[2] && slices.Equal(a.Curves[0], a.Curves[1]) {
				t.Errorf("%s %s: the runs are identical (%v): not independent", s.Setting, a.Arm, a.Curves)
			}
		}
	}
	if res[0].Arm("LDR") == nil || res[0].Arm("none") != nil {
		t.Error("SettingResult.Arm")
	}
}

func TestTrainConfigModel(t *testing.T) {
	c := tiny()
	sp, err := c.Data(c.Noise[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TrainConfig("ce", Point{LR: 0.1}, sp.Train, sp.Val, 1, false).Model.Name(); got != "mlp-3-3-4-tanh" {
		t.Errorf("default model %q, want the official two tanh layers of width min(d, K) = 3", got)
	}
	c.Hidden, c.Activation = []int{8, 8}, "relu"
	if got := c.TrainConfig("ce", Point{LR: 0.1}, sp.Train, sp.Val, 1, false).Model.Name(); got != "mlp-8-8-4" {
		t.Errorf("model %q, want mlp-8-8-4 from Hidden and Activation", got)
	}
}

// TestDivergedFinalRun: a final run that diverges is an error, unless ScoreDiverged, which scores it at
// chance (1/K, every epoch) and says so.
func TestDivergedFinalRun(t *testing.T) {
	c := tiny()
	c.Hidden, c.Activation = []int{16, 16}, "relu" // unbounded logits: sum-exp at lr 1 overflows
	sp, err := c.Data(c.Noise[0])
	if err != nil {
		t.Fatal(err)
	}
	p := Point{LR: 1, Params: losses.Params{"tau": 0}}
	if _, _, _, err := c.finalRun("comp-sum", p, sp, 1); err == nil {
		t.Fatal("a diverged final run was not an error")
	}
	c.ScoreDiverged = true
	curve, acc, diverged, err := c.finalRun("comp-sum", p, sp, 1)
	if err != nil || !diverged || acc != 0.25 || len(curve) != c.Epochs || curve[c.Epochs-1] != 0.25 {
		t.Fatalf("diverged run: curve %v, accuracy %v, diverged %v, %v; want chance 0.25 every epoch", curve, acc, diverged, err)
	}
	if _, acc, diverged, err := c.finalRun("ce", Point{LR: 0.1}, sp, 1); err != nil || diverged || acc == 0.25 {
		t.Fatalf("a sane run: accuracy %v, diverged %v, %v", acc, diverged, err)
	}
}
