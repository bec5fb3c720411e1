// Package amclexp runs the pre-training experiment of Wang, Koniusz, Gedeon & Zheng, "Adaptive
// Multi-head Contrastive Learning", arXiv:2310.05615 (ECCV 2024), at notebook scale, in the form a
// verdict needs: SimCLR-style contrastive pre-training of an MLP on Fashion-MNIST with two arms, SimCLR's
// NT-Xent and AMCL (several projection heads, a learned per-pair temperature from lib/amcl, the loss
// losses.AMCLLoss), each tuned on a validation split over a grid of the same size, then trained from
// several independent initialisations, augmentation draws and data orders and scored on the test set.
//
// Scores are taken on the frozen backbone h: a k-nearest-neighbour vote (cosine similarity, the training
// images as memory) and a linear probe; and, on pairs of augmented test views, the overlap of the
// positive and negative pairs' s/τ (the paper's Fig. 1 analysis) and where AMCL's learned temperatures
// sit (the fraction at a bound of [τ_min, τ_max], which the loss's regulariser can push them to).
//
// Every pre-training run trains through lib/train's ContextStep with Adam; each epoch visits the
// images in train.EpochOrder and draws a fresh pair of views of each image (data.Augmenter).
package amclexp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/amcl"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Point is one configuration of a grid: SimCLR's temperature Tau, or AMCL's regulariser weight Beta
// and upper temperature bound TauMax (τ_min is always losses.AMCLTauMin).
type Point struct {
	Tau    float64 `json:",omitempty"`
	Beta   float64 `json:",omitempty"`
	TauMax float64 `json:",omitempty"`
}

// String is the point in words, e.g. "τ=0.5" or "β=0.1 τ_max=2".
func (p Point) String() string {
	if p.Tau > 0 {
		return fmt.Sprintf("τ=%g", p.Tau)
	}
	return fmt.Sprintf("β=%g τ_max=%g", p.Beta, p.TauMax)
}

// Arm is one method or baseline and the grid it is tuned over.
type Arm struct {
	Name string // shown in tables, e.g. "SimCLR"
	// AMCL selects AMCL's loss with Heads heads; otherwise NT-Xent with one head.
	AMCL  bool
	Heads int
	Grid  []Point
}

// SimCLRGrid returns NT-Xent grid points, one per temperature.
func SimCLRGrid(taus ...float64) []Point {
	g := make([]Point, len(taus))
	for i, t := range taus {
		g[i] = Point{Tau: t}
	}
	return g
}

// AMCLGrid returns every pair of a regulariser weight β from betas and an upper bound from tauMaxes.
func AMCLGrid(betas, tauMaxes []float64) []Point {
	var g []Point
	for _, b := range betas {
		for _, t := range tauMaxes {
			g = append(g, Point{Beta: b, TauMax: t})
		}
	}
	return g
}

// Config is the whole experiment. Defaults (the notebook's full size) are in Default.
type Config struct {
	NTrain, NVal, NTest int    // images: training (pre-training, kNN memory, probe), validation, test
	DataSeed            uint64 // which images, and the split

	Epochs, Batch int     // pre-training epochs over the training images, image pairs per step
	LR            float64 // Adam's learning rate
	// Width is the backbone g (an MLP 784-Width[0]-…; h is the last layer, after a ReLU).
	Width []int
	// HeadHidden and HeadDim: each projection head is an MLP h-HeadHidden-HeadDim (d').
	HeadHidden, HeadDim int
	// TauHidden is the hidden size H of AMCL's temperature network φ_c.
	TauHidden int

	KNN         int // neighbours of the kNN vote
	ProbeEpochs int // epochs of the linear probe (Adam 1e-2, batch 256)
	PairBatch   int // image pairs of test views measured for the s/τ overlap and the temperatures

	Augs []int // the settings: numbers of augmentation types switched on (see Augment)
	// Runs is the number of independent final runs per arm and setting (run r: seed r+1 for the
	// initialisation, the augmentations and the data order; shared by the arms, so runs are paired);
	// tuning uses one run with TuneSeed.
	Runs     int
	TuneSeed uint64
	Arms     []Arm
}

// Default is the notebook's full-size experiment: SimCLR tuned over τ ∈ {0.1, 0.2, 0.5, 1} against
// AMCL with three heads tuned over the remedy for pinned temperatures, β ∈ {0.1, 1} × τ_max ∈ {2, 0.5}.
func Default() Config {
	return Config{NTrain: 4000, NVal: 1000, NTest: 2000, DataSeed: 21,
		Epochs: 3, Batch: 128, LR: 1e-3, Width: []int{256, 128}, HeadHidden: 128, HeadDim: 32, TauHidden: 16,
		KNN: 20, ProbeEpochs: 10, PairBatch: 256,
		Augs: []int{1, 5}, Runs: 3, TuneSeed: 100,
		Arms: []Arm{
			{Name: "SimCLR", Heads: 1, Grid: SimCLRGrid(0.1, 0.2, 0.5, 1)},
			{Name: "AMCL C=3", AMCL: true, Heads: 3, Grid: AMCLGrid([]float64{0.1, 1}, []float64{2, 0.5})},
		}}
}

// Quick is Default at CI sizes: the same code path on a few hundred images, one epoch.
func Quick() Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest = 256, 128, 128
	c.Epochs, c.Batch, c.ProbeEpochs, c.PairBatch = 1, 64, 2, 64
	return c
}

// Check says what is wrong with c, if anything: every arm needs a grid, and all grids the same size
// (the same tuning budget for method and baseline).
func (c Config) Check() error {
	switch {
	case c.Batch < 2 || c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("amclexp: sizes train %d (≥ batch %d ≥ 2), validation %d, test %d", c.NTrain, c.Batch, c.NVal, c.NTest)
	case c.Epochs < 1 || c.Runs < 1 || !(c.LR > 0):
		return fmt.Errorf("amclexp: epochs %d, runs %d must be ≥ 1 and the learning rate %g > 0", c.Epochs, c.Runs, c.LR)
	case len(c.Width) == 0 || c.HeadHidden < 1 || c.HeadDim < 1 || c.TauHidden < 1:
		return fmt.Errorf("amclexp: backbone %v, head %d-%d, temperature network %d", c.Width, c.HeadHidden, c.HeadDim, c.TauHidden)
	case c.KNN < 1 || c.KNN > c.NTrain || c.ProbeEpochs < 1 || c.PairBatch < 2 || c.PairBatch > c.NTest:
		return fmt.Errorf("amclexp: k = %d (≤ %d training images), probe epochs %d, pair batch %d (2…%d test images)",
			c.KNN, c.NTrain, c.ProbeEpochs, c.PairBatch, c.NTest)
	case len(c.Augs) == 0 || len(c.Arms) == 0:
		return errors.New("amclexp: no augmentation settings or no arms")
	}
	for _, n := range c.Augs {
		if n < 1 || n > MaxAugs {
			return fmt.Errorf("amclexp: %d augmentation types; want 1…%d", n, MaxAugs)
		}
	}
	for _, a := range c.Arms {
		if len(a.Grid) == 0 {
			return fmt.Errorf("amclexp: arm %q has an empty grid", a.Name)
		}
		if len(a.Grid) != len(c.Arms[0].Grid) {
			return fmt.Errorf("amclexp: arm %q has a grid of %d points, arm %q of %d: every arm gets the same tuning budget",
				a.Name, len(a.Grid), c.Arms[0].Name, len(c.Arms[0].Grid))
		}
		if a.Heads < 1 || (!a.AMCL && a.Heads != 1) {
			return fmt.Errorf("amclexp: arm %q has %d heads (NT-Xent takes one)", a.Name, a.Heads)
		}
		for _, p := range a.Grid {
			if a.AMCL && !(p.Beta >= 0 && p.TauMax > losses.AMCLTauMin && p.Tau == 0) {
				return fmt.Errorf("amclexp: arm %q, point %v: AMCL needs β ≥ 0 and τ_max > τ_min = %g", a.Name, p, losses.AMCLTauMin)
			}
			if !a.AMCL && !(p.Tau > 0 && p.Beta == 0 && p.TauMax == 0) {
				return fmt.Errorf("amclexp: arm %q, point %v: NT-Xent needs a temperature τ > 0 only", a.Name, p)
			}
		}
	}
	return nil
}

// MaxAugs is the number of augmentation types Augment knows.
const MaxAugs = 5

// Augment switches on the first n augmentation types, in this order: a random shift of ±3 px; random
// erasing of an 8×8 patch; Gaussian noise σ = 0.1; a horizontal flip; a random resized crop (side ≥ 60%).
func Augment(n int, seed uint64) data.AugmentConfig {
	cfg := data.AugmentConfig{Seed: seed}
	if n >= 1 {
		cfg.Shift = 3
	}
	if n >= 2 {
		cfg.Erase = 8
	}
	if n >= 3 {
		cfg.Noise = 0.1
	}
	if n >= 4 {
		cfg.Flip = true
	}
	if n >= 5 {
		cfg.CropMin = 0.6
	}
	return cfg
}

// Splits are the images of the experiment, in [0, 1].
type Splits struct {
	Train, Val, Test *data.Set
}

// Data returns c's Fashion-MNIST splits: training and validation from the training split (stratified),
// the test images from the test split.
func (c Config) Data() (*Splits, error) {
	all, err := data.FashionMNIST("train", data.WithScaling(data.Unit), data.WithSubset(c.NTrain+c.NVal), data.WithSeed(c.DataSeed))
	if err != nil {
		return nil, err
	}
	te, err := data.FashionMNIST("test", data.WithScaling(data.Unit), data.WithSubset(c.NTest), data.WithSeed(c.DataSeed))
	if err != nil {
		return nil, err
	}
	tr, va, err := all.Split(float64(c.NTrain)/float64(c.NTrain+c.NVal), c.DataSeed)
	if err != nil {
		return nil, err
	}
	return &Splits{Train: tr, Val: va, Test: te}, nil
}

// encode is the backbone h = g(x) for flat images x [N, D].
func (c Config) encode(ctx *context.Context, x *Node) *Node {
	h := x
	for i, w := range c.Width {
		h = models.Activate("relu", models.Dense(ctx.Inf("enc_%d", i), h, w, true))
	}
	return h
}

// pairs returns, for the first views v1 and the second views v2 [B, D] of B images, the similarities
// and temperatures of every head, [C, 2B, 2B] (rows 0…B−1 the first views, B…2B−1 the second), and the
// head embeddings z [C, 2B, d']. NT-Xent's temperature is the constant p.Tau.
func (c Config) pairs(ctx *context.Context, arm Arm, p Point, v1, v2 *Node) (z, sim, tau *Node) {
	h := c.encode(ctx, Concatenate([]*Node{v1, v2}, 0))
	zs := make([]*Node, arm.Heads)
	for k := range zs {
		zk := models.Activate("relu", models.Dense(ctx.Inf("head_%d_0", k), h, c.HeadHidden, true))
		zs[k] = InsertAxes(models.Dense(ctx.Inf("head_%d_1", k), zk, c.HeadDim, true), 0)
	}
	z = Concatenate(zs, 0)
	sim = losses.AMCLSimilarities(z)
	if arm.AMCL {
		tau = amcl.PairTemperatures(ctx, z, c.TauHidden, false, losses.AMCLTauMin, p.TauMax)
	} else {
		tau = MulScalar(OnesLike(sim), p.Tau)
	}
	return z, sim, tau
}

// masks returns the positive and negative masks [2B, 2B] of 2B views of B images.
func masks(g *Graph, b int) (pos, neg *Node) {
	half := Iota(g, shapes.Make(dtypes.Int32, b), 0)
	ids := Concatenate([]*Node{half, half}, 0)
	same := Equal(InsertAxes(ids, 1), InsertAxes(ids, 0))
	return LogicalAnd(same, LogicalNot(Diagonal(g, 2*b))), LogicalNot(same)
}

// lossGraph is the arm's loss of each of the 2B anchors.
func (c Config) lossGraph(ctx *context.Context, arm Arm, p Point, v1, v2 *Node) *Node {
	z, sim, tau := c.pairs(ctx, arm, p, v1, v2)
	b := v1.Shape().Dimensions[0]
	if !arm.AMCL {
		half := Iota(v1.Graph(), shapes.Make(dtypes.Int32, b), 0)
		ids := Concatenate([]*Node{half, half}, 0)
		// NT-Xent is SupCon with instance ids as labels (one head).
		return losses.SupCon(Reshape(z, 2*b, c.HeadDim), ids, p.Tau, true)
	}
	pos, neg := masks(v1.Graph(), b)
	return losses.AMCLLoss(sim, tau, pos, neg, p.Beta, c.HeadDim)
}

// Pretrain trains arm at point p on the images of tr with nAug augmentation types, from seed (the
// initialisation, the augmentations and the data order). It returns the trained context and the mean
// loss of each epoch.
func (c Config) Pretrain(arm Arm, p Point, tr *data.Set, nAug int, seed uint64) (*context.Context, []float64, error) {
	aug, err := data.NewAugmenter(tr.Shape, Augment(nAug, seed))
	if err != nil {
		return nil, nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, nil, err
	}
	ctx = ctx.Checked(false)
	step, err := train.NewContextStep(ctx, optimizers.Adam().LearningRate(c.LR).Done(),
		func(ctx *context.Context, in []*Node) (*Node, []*Node) {
			return ReduceAllMean(c.lossGraph(ctx, arm, p, in[0], in[1])), nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("amclexp: %s: %w", arm.Name, err)
	}
	defer step.Finalize()
	d, steps := tr.Dim(), tr.Len()/c.Batch
	var curve []float64
	for e := range c.Epochs {
		order, sum := train.EpochOrder(tr.Len(), seed, e), 0.0
		for s := range steps {
			v1, v2 := aug.TwoViews(tr, order[s*c.Batch:(s+1)*c.Batch])
			t1 := tensors.FromFlatDataAndDimensions(v1, c.Batch, d)
			t2 := tensors.FromFlatDataAndDimensions(v2, c.Batch, d)
			loss, _, err := step.Step(t1, t2)
			t1.MustFinalizeAll()
			t2.MustFinalizeAll()
			if err == nil && (math.IsNaN(loss) || math.IsInf(loss, 0)) {
				err = fmt.Errorf("the loss is %v", loss)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("amclexp: %s (%v), epoch %d, step %d: %w", arm.Name, p, e+1, s+1, err)
			}
			sum += loss
		}
		curve = append(curve, sum/float64(steps))
	}
	return ctx, curve, nil
}

// Embed returns the frozen backbone features h [N·Width[last]] of the images of s.
func (c Config) Embed(ctx *context.Context, s *data.Set) ([]float32, error) {
	exec, err := context.NewExecAny(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x *Node) *Node { return c.encode(ctx, x) })
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	x := tensors.FromFlatDataAndDimensions(s.X, s.Len(), s.Dim())
	defer x.MustFinalizeAll()
	out, err := exec.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("amclexp: embedding %s: %w", s.Name, err)
	}
	defer out[0].MustFinalizeAll()
	return tensors.CopyFlatData[float32](out[0])
}

// unitRows returns a copy of the rows of x [n·d] scaled to unit L2 norm (zero rows stay zero).
func unitRows(x []float32, d int) []float32 {
	out := slices.Clone(x)
	for i := 0; i < len(out); i += d {
		s := 0.0
		for _, v := range out[i : i+d] {
			s += float64(v) * float64(v)
		}
		if s > 0 {
			inv := float32(1 / math.Sqrt(s))
			for j := i; j < i+d; j++ {
				out[j] *= inv
			}
		}
	}
	return out
}

// KNN returns the top-1 accuracy of a k-nearest-neighbour vote of the queries against the memory
// (features [n·d], cosine similarity, majority vote over classes 0…classes−1, ties to the class of the
// nearest neighbour among the tied ones).
func KNN(memory []float32, memoryY []int32, query []float32, queryY []int32, d, k, classes int) (float64, error) {
	switch {
	case d < 1 || len(memory) != len(memoryY)*d || len(query) != len(queryY)*d:
		return 0, fmt.Errorf("amclexp.KNN: features of %d and %d values for %d and %d labels of dimension %d",
			len(memory), len(query), len(memoryY), len(queryY), d)
	case k < 1 || k > len(memoryY) || len(queryY) == 0:
		return 0, fmt.Errorf("amclexp.KNN: k = %d with %d memory and %d query examples", k, len(memoryY), len(queryY))
	}
	a, b := unitRows(memory, d), unitRows(query, d)
	type nbr struct {
		s float32
		y int32
	}
	correct := 0
	best := make([]nbr, 0, k+1)
	votes := make([]int, classes)
	for i, y := range queryY {
		q := b[i*d : (i+1)*d]
		best = best[:0]
		for j, my := range memoryY {
			r := a[j*d : (j+1)*d]
			var s float32
			for t := range q {
				s += q[t] * r[t]
			}
			if len(best) == k && s <= best[k-1].s {
				continue
			}
			pos := sort.Search(len(best), func(p int) bool { return best[p].s < s })
			best = slices.Insert(best, pos, nbr{s, my})
			if len(best) > k {
				best = best[:k]
			}
		}
		clear(votes)
		for _, n := range best {
			if n.y < 0 || int(n.y) >= classes {
				return 0, fmt.Errorf("amclexp.KNN: label %d outside 0…%d", n.y, classes-1)
			}
			votes[n.y]++
		}
		pred := best[0].y
		for _, n := range best { // nearest first: the first class with the most votes wins
			if votes[n.y] > votes[pred] {
				pred = n.y
			}
		}
		if pred == y {
			correct++
		}
	}
	return float64(correct) / float64(len(queryY)), nil
}

// Probe trains a linear classifier (Adam 1e-2, batch 256, epochs, from seed) on the standardised
// features trH of tr and returns its accuracy on the features teH of te.
func Probe(trH, teH []float32, tr, te *data.Set, d, epochs int, seed uint64) (float64, error) {
	if d < 1 || len(trH) != tr.Len()*d || len(teH) != te.Len()*d {
		return 0, fmt.Errorf("amclexp.Probe: %d and %d feature values for %d and %d examples of dimension %d", len(trH), len(teH), tr.Len(), te.Len(), d)
	}
	n := tr.Len()
	mean, std := make([]float64, d), make([]float64, d)
	for i := range n {
		for j := range d {
			mean[j] += float64(trH[i*d+j]) / float64(n)
		}
	}
	for i := range n {
		for j := range d {
			x := float64(trH[i*d+j]) - mean[j]
			std[j] += x * x / float64(n)
		}
	}
	set := func(h []float32, s *data.Set) *data.Set {
		x := make([]float32, len(h))
		for i := range x {
			x[i] = float32((float64(h[i]) - mean[i%d]) / math.Max(math.Sqrt(std[i%d]), 1e-6))
		}
		return &data.Set{Name: s.Name + " features", Shape: []int{d}, X: x, Y: s.Y, IDs: s.IDs, Classes: s.Classes}
	}
	res, err := train.Run(train.Config{Model: models.NewMLP(tr.Classes), Train: set(trH, tr), Optimizer: train.Adam(1e-2),
		BatchSize: 256, Epochs: epochs, Seed: seed, Silent: true})
	if err != nil {
		return 0, fmt.Errorf("amclexp.Probe: %w", err)
	}
	m, err := train.Evaluate(res.Model, res.Context, set(teH, te))
	if err != nil {
		return 0, fmt.Errorf("amclexp.Probe: %w", err)
	}
	return m.Accuracy, nil
}

// AnchorLoss evaluates losses.AMCLLoss for one anchor: sim and tau are [C][N], column 0 the anchor's
// positive and the other columns its negatives, with regulariser weight beta and head size dim (d').
func AnchorLoss(sim, tau [][]float64, beta float64, dim int) (float64, error) {
	if len(sim) == 0 || len(tau) != len(sim) || len(sim[0]) < 2 {
		return 0, fmt.Errorf("amclexp.AnchorLoss: need [C][N] similarities and temperatures (N ≥ 2), got %d and %d heads", len(sim), len(tau))
	}
	n := len(sim[0])
	s3, t3 := make([][][]float64, len(sim)), make([][][]float64, len(sim))
	for c := range sim {
		if len(sim[c]) != n || len(tau[c]) != n {
			return 0, fmt.Errorf("amclexp.AnchorLoss: head %d has %d similarities and %d temperatures, want %d", c, len(sim[c]), len(tau[c]), n)
		}
		s3[c], t3[c] = [][]float64{sim[c]}, [][]float64{tau[c]}
	}
	pos, neg := make([]bool, n), make([]bool, n)
	pos[0] = true
	for j := 1; j < n; j++ {
		neg[j] = true
	}
	exec, err := NewExec(backend.Must(), func(s, t, p, q *Node) *Node { return losses.AMCLLoss(s, t, p, q, beta, dim) })
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	out, err := exec.Exec(s3, t3, [][]bool{pos}, [][]bool{neg})
	if err != nil {
		return 0, fmt.Errorf("amclexp.AnchorLoss: %w", err)
	}
	defer out[0].MustFinalizeAll()
	v, err := tensors.CopyFlatData[float64](out[0])
	if err != nil {
		return 0, err
	}
	return v[0], nil
}
