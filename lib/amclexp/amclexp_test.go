package amclexp

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
)

// tiny is the experiment at test sizes: a 16-unit backbone, grids of two points, three runs.
func tiny() Config {
	return Config{NTrain: 64, NVal: 32, NTest: 32, DataSeed: 3,
		Epochs: 1, Batch: 16, LR: 1e-3, Width: []int{16}, HeadHidden: 8, HeadDim: 4, TauHidden: 4,
		KNN: 3, ProbeEpochs: 1, PairBatch: 8, Augs: []int{1, 5}, Runs: 3, TuneSeed: 100,
		Arms: []Arm{
			{Name: "SimCLR", Heads: 1, Grid: SimCLRGrid(0.2, 0.5)},
			{Name: "AMCL", AMCL: true, Heads: 2, Grid: AMCLGrid([]float64{0.1, 1}, []float64{2})},
		}}
}

// images returns n random 28×28 images in [0, 1] with a class-dependent bright row, labels in 0…3.
func images(n int, seed uint64) *data.Set {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &data.Set{Name: "synthetic", Shape: []int{784}, Classes: 4}
	for i := range n {
		y := int32(i % 4)
		img := make([]float32, 784)
		for j := range img {
			img[j] = 0.2 * r.Float32()
		}
		for j := range 28 {
			img[(4+6*int(y))*28+j] = 1
		}
		s.X = append(s.X, img...)
		s.Y = append(s.Y, y)
		s.IDs = append(s.IDs, int32(i))
	}
	return s
}

func tinySplits(c Config) *Splits {
	return &Splits{Train: images(c.NTrain, 1), Val: images(c.NVal, 2), Test: images(c.NTest, 3)}
}

func TestCheck(t *testing.T) {
	if err := tiny().Check(); err != nil {
		t.Fatal(err)
	}
	if err := Default().Check(); err != nil {
		t.Fatal(err)
	}
	if err := Quick().Check(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(c *Config){
		"same tuning budget": func(c *Config) { c.Arms[1].Grid = c.Arms[1].Grid[:1] },
		"NT-Xent needs":      func(c *Config) { c.Arms[0].Grid[0].Beta = 0.1 },
		"AMCL needs":         func(c *Config) { c.Arms[1].Grid[0].TauMax = 1e-6 },
		"augmentation types": func(c *Config) { c.Augs = []int{6} },
		"NT-Xent takes one":  func(c *Config) { c.Arms[0].Heads = 2 },
		"sizes":              func(c *Config) { c.NTrain = 8 },
	} {
		c := tiny()
		edit(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestAugmentAddsOneTypeEach(t *testing.T) {
	prev := data.AugmentConfig{}
	for n := 1; n <= MaxAugs; n++ {
		a := Augment(n, 0)
		if a == prev {
			t.Fatalf("%d augmentation types switch on nothing more than %d", n, n-1)
		}
		prev = a
	}
	if a := Augment(1, 0); a.Shift == 0 || a.Erase != 0 || a.Noise != 0 || a.Flip || a.CropMin != 0 {
		t.Fatalf("one type: %+v, want the shift alone", a)
	}
}

func TestKNN(t *testing.T) {
	// Memory: two clusters along x (class 0) and y (class 1), 2-d; queries near each axis.
	mem := []float32{1, 0, 0.9, 0.1, 0.8, 0.1, 0, 1, 0.1, 0.9}
	memY := []int32{0, 0, 0, 1, 1}
	q := []float32{5, 0.5, 0.2, 3, 1, 1.1}
	qY := []int32{0, 1, 1}
	acc, err := KNN(mem, memY, q, qY, 2, 1, 2)
	if err != nil || acc != 1 {
		t.Fatalf("1-NN accuracy %v (%v), want 1", acc, err)
	}
	// With k = 5 every query sees all five: three votes for class 0.
	if acc, _ := KNN(mem, memY, q, qY, 2, 5, 2); math.Abs(acc-1.0/3) > 1e-12 {
		t.Fatalf("5-NN accuracy %v, want 1/3", acc)
	}
	// k = 4 on query (1, 1.1): neighbours (0.1,0.9), (0,1), (0.9,0.1)… two votes each → the nearest, class 1.
	if acc, _ := KNN(mem, memY, q[4:], qY[2:], 2, 4, 2); acc != 1 {
		t.Fatalf("a tied vote went to %v, want the nearest neighbour's class", acc)
	}
	if _, err := KNN(mem, memY, q, qY, 2, 6, 2); err == nil {
		t.Fatal("k larger than the memory passed")
	}
	if _, err := KNN(mem[:9], memY, q, qY, 2, 1, 2); err == nil {
		t.Fatal("ragged features passed")
	}
}

func TestPairStats(t *testing.T) {
	// One head, b = 2 images, views 0,1 (first) and 2,3 (second): positives (0,2), (1,3).
	sim := []float32{
		1, 0.1, 0.9, 0.3,
		0.1, 1, 0.2, 0.8,
		0.9, 0.2, 1, 0.4,
		0.3, 0.8, 0.4, 1,
	}
	tau := make([]float32, 16)
	for i := range tau {
		tau[i] = 1
	}
	tau[2], tau[3] = 1e-5, 2 // anchor 0: positive at τ_min, its hardest negative (0.3, view 3) at τ_max
	st := pairStats(sim, tau, 1, 2, 1e-5, 2)
	// Positives s/τ: 0.9/1e-5, 0.8, 0.9, 0.8; negatives: 0.1, 0.3/2, 0.1, 0.2, 0.2, 0.4, 0.3, 0.4.
	// No negative reaches a positive: overlap 0.
	if st.Overlap != 0 {
		t.Fatalf("overlap %v, want 0", st.Overlap)
	}
	// The loss's 8 temperatures: 4 positives (one at τ_min), 4 hardest negatives (one at τ_max).
	if st.AtLower != 1.0/8 || st.AtUpper != 1.0/8 {
		t.Fatalf("at bounds %v, %v; want 1/8 each", st.AtLower, st.AtUpper)
	}
	if want := (1e-5 + 3) / 4; math.Abs(st.TauPos-want) > 1e-6 || math.Abs(st.TauNeg-1.25) > 1e-6 {
		t.Fatalf("mean τ %v, %v; want %v, 1.25", st.TauPos, st.TauNeg, want)
	}
	if len(st.Pos) != 4 || len(st.Neg) != 8 {
		t.Fatalf("%d positive and %d negative samples", len(st.Pos), len(st.Neg))
	}
	if o := overlap([]float64{1, 2}, []float64{0, 1.5, 3}); math.Abs(o-0.5) > 1e-12 {
		t.Fatalf("overlap %v, want 3/6", o)
	}
}

func TestMasksPairTheViews(t *testing.T) {
	exec, err := NewExec(backend.Must(), func(g *Graph) []*Node {
		p, n := masks(g, 3)
		return []*Node{p, n}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec()
	if err != nil {
		t.Fatal(err)
	}
	pos, neg := tensors.MustCopyFlatData[bool](out[0]), tensors.MustCopyFlatData[bool](out[1])
	for i := range 6 {
		for j := range 6 {
			wantPos, wantNeg := j == (i+3)%6, i%3 != j%3
			if pos[i*6+j] != wantPos || neg[i*6+j] != wantNeg {
				t.Fatalf("pair (%d, %d): positive %v negative %v", i, j, pos[i*6+j], neg[i*6+j])
			}
		}
	}
}

func TestPretrainSeeds(t *testing.T) {
	c := tiny()
	sp := tinySplits(c)
	arm, p := c.Arms[1], c.Arms[1].Grid[1]
	run := func(seed uint64) ([]float32, []float64) {
		ctx, curve, err := c.Pretrain(arm, p, sp.Train, 5, seed)
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Embed(ctx, sp.Test)
		if err != nil {
			t.Fatal(err)
		}
		v1, v2, err := views(sp.Test, 5, 8, 9)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.Measure(ctx, arm, p, v1, v2, 8)
		if err != nil {
			t.Fatal(err)
		}
		if !(st.TauPos >= losses.AMCLTauMin && st.TauPos <= p.TauMax && st.TauNeg >= losses.AMCLTauMin && st.TauNeg <= p.TauMax) {
			t.Fatalf("mean temperatures %v, %v outside [τ_min, %g]", st.TauPos, st.TauNeg, p.TauMax)
		}
		return h, curve
	}
	h1, c1 := run(1)
	h1b, c1b := run(1)
	h2, _ := run(2)
	if !slices.Equal(h1, h1b) || !slices.Equal(c1, c1b) {
		t.Fatal("the same seed gave different runs")
	}
	if slices.Equal(h1, h2) {
		t.Fatal("seeds 1 and 2 gave the same features: runs are not independent")
	}
	if len(c1) != c.Epochs || math.IsNaN(c1[0]) {
		t.Fatalf("loss curve %v", c1)
	}
}

func TestRunTiny(t *testing.T) {
	c := tiny()
	calls := 0
	res, err := Run(c, tinySplits(c), func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != c.NumRuns() || len(res) != len(c.Augs) {
		t.Fatalf("%d progress calls (want %d), %d settings", calls, c.NumRuns(), len(res))
	}
	for _, s := range res {
		for ai, a := range s.Arms {
			tu := a.Tuning
			if len(tu.ValKNN) != 2 || a.Chosen != c.Arms[ai].Grid[tu.Best] || tu.ValKNN[tu.Best] != slices.Max(tu.ValKNN) {
				t.Fatalf("%d aug, %s: tuning %+v chose %v", s.Augs, a.Arm, tu, a.Chosen)
			}
			if len(a.KNN) != c.Runs || len(a.Probe) != c.Runs || len(a.Overlap) != c.Runs || len(a.Loss) != c.Runs {
				t.Fatalf("%d aug, %s: %d/%d/%d/%d runs", s.Augs, a.Arm, len(a.KNN), len(a.Probe), len(a.Overlap), len(a.Loss))
			}
			if slices.Equal(a.Loss[0], a.Loss[1]) {
				t.Fatalf("%d aug, %s: runs 1 and 2 have the same loss curve %v", s.Augs, a.Arm, a.Loss[0])
			}
			if len(a.Pos) == 0 || len(a.Neg) == 0 {
				t.Fatalf("%d aug, %s: no s/τ samples", s.Augs, a.Arm)
			}
		}
		if s.Arm("AMCL") == nil || s.Arm("nope") != nil {
			t.Fatal("SettingResult.Arm")
		}
	}
	if _, err := Run(c, &Splits{Train: images(4, 1), Val: images(32, 2), Test: images(32, 3)}, nil); err == nil {
		t.Fatal("a training split smaller than the batch passed")
	}
}

func TestAnchorLossWorkedExample(t *testing.T) {
	// C = 2, d' = 4; head 1: positive 0.8 (τ 0.5), negatives [0.1, 0.3, −0.2] (τ [1, 0.5, 1]);
	// head 2: positive 0.6 (τ 1), negatives [0.5, 0.0, 0.2] (τ [0.2, 1, 1]). Hand computation: β = 0 gives
	// (−1.6 + 0.6) + (−0.6 + 2.5) = 0.9; β = 0.1 adds 0.1·[Ω(0.5) − Ω(0.5) + Ω(1) − Ω(0.2)] = −0.078112.
	sim := [][]float64{{0.8, 0.1, 0.3, -0.2}, {0.6, 0.5, 0.0, 0.2}}
	tau := [][]float64{{0.5, 1, 0.5, 1}, {1, 0.2, 1, 1}}
	for _, tc := range []struct{ beta, want float64 }{{0, 0.9}, {0.1, 0.821888}} {
		got, err := AnchorLoss(sim, tau, tc.beta, 4)
		if err != nil || math.Abs(got-tc.want) > 1e-6 {
			t.Fatalf("β = %g: loss %v (%v), want %v", tc.beta, got, err, tc.want)
		}
	}
	if _, err := AnchorLoss(sim, tau[:1], 0, 4); err == nil {
		t.Fatal("one head of temperatures for two of similarities passed")
	}
}

func TestResultHelpers(t *testing.T) {
	res := []SettingResult{
		{Augs: 1, Arms: []ArmResult{{Arm: "A", KNN: []float64{0.5, 0.6}, Chosen: Point{Beta: 1, TauMax: 2},
			Tuning: Tuning{AtLower: []float64{0.5, 0.1}, AtUpper: []float64{0.2, 0}}}, {Arm: "B", KNN: []float64{0.4, 0.7}, Chosen: Point{Tau: 0.5}}}},
		{Augs: 5, Arms: []ArmResult{{Arm: "A", KNN: []float64{0.1, 0.1}}, {Arm: "B", KNN: []float64{0.2, 0.3}}}},
	}
	g, err := Gain(res, 1, "A", "B", KNNOf)
	if err != nil || math.Abs(g[0]-0.1) > 1e-12 || math.Abs(g[1]+0.1) > 1e-12 {
		t.Fatalf("gain %v (%v), want [0.1 −0.1]", g, err)
	}
	if v, _ := Values(res, 5, "B", KNNOf); v[1] != 0.3 {
		t.Fatalf("values %v: wrong setting or arm", v)
	}
	if _, err := Values(res, 3, "A", KNNOf); err == nil {
		t.Fatal("a missing setting passed")
	}
	if s := Chosen(res, 1); s != "A β=1 τ_max=2, B τ=0.5" {
		t.Fatalf("chosen %q", s)
	}
	if lo, hi := res[0].Arms[0].PinnedRange(); math.Abs(lo-0.1) > 1e-12 || math.Abs(hi-0.7) > 1e-12 {
		t.Fatalf("pinned range %v–%v, want 0.1–0.7", lo, hi)
	}
}

func TestSeedsInitialiseIndependently(t *testing.T) {
	// With a negligible learning rate the features are the initialisation's: different seeds must give
	// different initial backbones, not only different augmentations and data orders.
	c := tiny()
	c.LR = 1e-12
	sp := tinySplits(c)
	feats := func(seed uint64) []float32 {
		ctx, _, err := c.Pretrain(c.Arms[0], c.Arms[0].Grid[0], sp.Train, 1, seed)
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Embed(ctx, sp.Test)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if slices.Equal(feats(1), feats(2)) {
		t.Fatal("seeds 1 and 2 start from the same backbone")
	}
}
