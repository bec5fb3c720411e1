// Package dratexp runs the long-tailed adversarial-training experiment of Sow, Lin, Wang & Liang,
// "Doubly Robust Instance-Reweighted Adversarial Training", ICLR 2024, arXiv:2308.00311 (DONE), at
// notebook scale, in the form a verdict needs: PGD adversarial training (mean robust cross-entropy, the
// control) and DONE (the KL-regularised DRO over instance weights, trained with the surrogate
// sg[ω_i]·ℓ_i and a running estimate u of the normaliser, lib/losses "done") are each tuned over a grid
// of the same size on a balanced validation split, and the chosen point of each is trained from several
// independent initialisations and data orders and scored on a balanced test set: clean accuracy, PGD
// accuracy and RA-Tail-30, the mean PGD accuracy of the 30% worst classes.
//
// Gradients are Danskin-style (attack.Train): the implicit-differentiation term through δ*(θ) of the
// paper's CID solver is left out, as in PGD adversarial training.
package dratexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.

	"github.com/losslab/losslab/lib/attack"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Point is one configuration of a grid: Adam's learning rate and DONE's KL strength R (0: PGD-AT, the
// mean robust cross-entropy).
type Point struct {
	LR, R float64
}

// String is the point in words, e.g. "lr=0.001 r=1" or "lr=0.001" for PGD-AT.
func (p Point) String() string {
	if p.R == 0 {
		return fmt.Sprintf("lr=%g", p.LR)
	}
	return fmt.Sprintf("lr=%g r=%g", p.LR, p.R)
}

// Grid returns every pair of a learning rate from lrs and an r from rs (no rs: PGD-AT points, r = 0).
func Grid(lrs, rs []float64) []Point {
	var g []Point
	for _, lr := range lrs {
		if len(rs) == 0 {
			g = append(g, Point{LR: lr})
		}
		for _, r := range rs {
			g = append(g, Point{LR: lr, R: r})
		}
	}
	return g
}

// Arm is the method or the baseline and the grid it is tuned over.
type Arm struct {
	Name string
	Grid []Point
}

// Config is the whole experiment. The training set keeps n_c = floor(Head·Ratio^(−c/(K−1))) images of
// class c (lib/data.LongTail); the validation and test sets are balanced.
type Config struct {
	Head       int     // n_0, the head class's training images
	Ratio      float64 // n_0/n_{K−1}, the imbalance
	Downsample int     // average-pooling factor of the 28×28 images (1: none)
	NVal       int     // balanced validation images, from training images the long-tailed set leaves out
	NTest      int     // balanced test images
	DataSeed   uint64  // the long-tailed subsample and the validation and test choices

	Hidden      []int // widths of the ReLU MLP's hidden layers
	Epochs      int
	Batch       int
	TrainAttack attack.Config // its Seed is replaced per run
	EvalAttack  attack.Config
	Beta        float64 // DONE's EMA rate of u
	TailClasses int     // RA-Tail: the mean PGD accuracy of this many worst classes (3 of 10: RA-Tail-30)

	// Runs is the number of independent final runs per arm (run i: initialisation, data order and
	// attack seeds i+1, shared by the two arms so that runs pair); tuning uses one run with TuneSeed.
	Runs     int
	TuneSeed uint64

	Baseline, Method Arm
}

// Default is the notebook's full-size experiment: long-tailed Fashion-MNIST at 14×14 with imbalance 10
// (n_0 = 3000 down to n_9 = 300), 3000 validation and all 10,000 test images, an MLP 128-128, PGD
// ε = 0.05 (5 steps of 0.015 with a random start in training, 20 of 0.005 in evaluation), Adam, batch
// 128, 8 epochs, EMA rate β = 0.1, RA-Tail-30, and grids of 6 points per arm: PGD-AT over learning rates
// {2.5·10⁻⁴, …, 8·10⁻³} (doubling), DONE over learning rates {10⁻³, 2·10⁻³} × r ∈ {0.3, 1, 3}; 5 runs
// of each chosen point. A pilot of PGD-AT alone picked ε and the imbalance: at the spec's ε = 0.1 and
// imbalance 100 the three worst classes had no robust accuracy at all.
func Default() Config {
	box := &attack.Range{Min: 0, Max: 1}
	return Config{
		Head: 3000, Ratio: 10, Downsample: 2, NVal: 3000, NTest: 10000, DataSeed: 10,
		Hidden: []int{128, 128}, Epochs: 8, Batch: 128,
		TrainAttack: attack.Config{Epsilon: 0.05, Steps: 5, StepSize: 0.015, RandomStart: true, Clip: box},
		EvalAttack:  attack.Config{Epsilon: 0.05, Steps: 20, StepSize: 0.005, RandomStart: true, Clip: box, Seed: 777},
		Beta:        0.1, TailClasses: 3, Runs: 5, TuneSeed: 100,
		Baseline: Arm{Name: "PGD-AT", Grid: Grid([]float64{2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3}, nil)},
		Method:   Arm{Name: "DONE", Grid: Grid([]float64{1e-3, 2e-3}, []float64{0.3, 1, 3})},
	}
}

// Quick is Default at CI sizes: the same code path on fewer images, 1 epoch, PGD-5 in evaluation, 3
// runs and grids of 2 points.
func Quick() Config {
	c := Default()
	c.Head, c.NVal, c.NTest, c.Epochs, c.Runs = 400, 200, 300, 1, 3
	c.EvalAttack.Steps, c.EvalAttack.StepSize = 5, 0.015
	c.Baseline.Grid = Grid([]float64{1e-3, 2e-3}, nil)
	c.Method.Grid = Grid([]float64{1e-3}, []float64{0.3, 1})
	return c
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.Head < 1 || !(c.Ratio >= 1) || math.IsInf(c.Ratio, 0):
		return fmt.Errorf("dratexp: head count %d must be ≥ 1 and ratio %g ≥ 1", c.Head, c.Ratio)
	case c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("dratexp: validation %d and test %d images must be ≥ 1", c.NVal, c.NTest)
	case c.Epochs < 1 || c.Batch < 1 || c.Runs < 1:
		return fmt.Errorf("dratexp: epochs %d, batch %d, runs %d must be ≥ 1", c.Epochs, c.Batch, c.Runs)
	case len(c.Hidden) == 0:
		return errors.New("dratexp: the MLP needs at least one hidden layer")
	case !(c.Beta > 0 && c.Beta <= 1):
		return fmt.Errorf("dratexp: EMA rate β=%g must be in (0, 1]", c.Beta)
	case c.TailClasses < 1:
		return fmt.Errorf("dratexp: RA-Tail needs ≥ 1 class, have %d", c.TailClasses)
	}
	if err := c.TrainAttack.Check(); err != nil {
		return fmt.Errorf("dratexp: training attack: %w", err)
	}
	if err := c.EvalAttack.Check(); err != nil {
		return fmt.Errorf("dratexp: evaluation attack: %w", err)
	}
	for _, a := range []Arm{c.Baseline, c.Method} {
		if len(a.Grid) == 0 {
			return fmt.Errorf("dratexp: arm %q has an empty grid", a.Name)
		}
		for _, p := range a.Grid {
			if !(p.LR > 0) || !(p.R >= 0) || math.IsInf(p.R, 0) {
				return fmt.Errorf("dratexp: arm %q, point %v: want lr > 0 and a finite r ≥ 0", a.Name, p)
			}
		}
	}
	if len(c.Baseline.Grid) != len(c.Method.Grid) {
		return fmt.Errorf("dratexp: arm %q has a grid of %d points, arm %q of %d: both arms get the same tuning budget",
			c.Method.Name, len(c.Method.Grid), c.Baseline.Name, len(c.Baseline.Grid))
	}
	return nil
}

// Splits are the experiment's data: the long-tailed training set and the balanced validation and test
// sets, pixels in [0, 1].
type Splits struct {
	Train, Val, Test *data.Set
}

// Data loads Fashion-MNIST (lib/data) and builds the splits: the long-tailed training set from the
// training images, the validation set from training images it leaves out (NVal/K per class), the test
// set from the test images (NTest/K per class).
func (c Config) Data() (*Splits, error) {
	full, err := data.FashionMNIST("train", data.WithScaling(data.Unit))
	if err != nil {
		return nil, err
	}
	test, err := data.FashionMNIST("test", data.WithScaling(data.Unit), data.WithSubset(c.NTest), data.WithSeed(c.DataSeed))
	if err != nil {
		return nil, err
	}
	return c.SplitsFrom(full, test)
}

// SplitsFrom builds the splits from a pool of training images and a test set (already balanced):
// the long-tailed training set, and a balanced validation set of NVal images drawn from the pool's
// images the training set leaves out, both downsampled by Downsample.
func (c Config) SplitsFrom(pool, test *data.Set) (*Splits, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	counts := data.ImbalanceCounts(pool.Classes, c.Head, c.Ratio)
	tr, err := data.LongTail(pool, data.ImbalanceConfig{Counts: counts, Seed: c.DataSeed})
	if err != nil {
		return nil, fmt.Errorf("dratexp: %w", err)
	}
	used := make(map[int32]bool, tr.Len())
	for _, id := range tr.IDs {
		used[id] = true
	}
	per := c.NVal / pool.Classes
	if per < 1 {
		return nil, fmt.Errorf("dratexp: %d validation images are fewer than one per class (%d classes)", c.NVal, pool.Classes)
	}
	rng := rand.New(rand.NewPCG(c.DataSeed, 0x7a1))
	var val []int
	for cl, idx := range pool.ByClass() {
		free := slices.DeleteFunc(idx, func(i int) bool { return used[pool.IDs[i]] })
		if len(free) < per {
			return nil, fmt.Errorf("dratexp: class %d has %d images left after the long-tailed set, want %d for validation", cl, len(free), per)
		}
		rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
		val = append(val, free[:per]...)
	}
	slices.Sort(val)
	s := &Splits{Train: tr, Val: pool.Subset(val), Test: test}
	s.Val.Name = pool.Name + "+validation"
	if c.Downsample > 1 {
		for _, p := range []**data.Set{&s.Train, &s.Val, &s.Test} {
			if *p, err = (*p).Downsample(c.Downsample); err != nil {
				return nil, fmt.Errorf("dratexp: %w", err)
			}
		}
	}
	return s, nil
}

// Scores are one trained model's test (or validation) measurements.
type Scores struct {
	Clean, Robust           float64   // accuracy, clean and under EvalAttack
	ClassClean, ClassRobust []float64 // per class
	Tail                    float64   // mean PGD accuracy of the TailClasses worst classes
	TailOf                  []int     // those classes
}

// Trace is what a DONE run's weights looked like during training (empty for PGD-AT).
type Trace struct {
	// OmegaSteps are the steps at which one batch's weights ω_i = exp(ℓ_i/r)/u were kept (Omega).
	OmegaSteps []int
	Omega      [][]float64
	// ClassOmega is the mean ω per class over all of training.
	ClassOmega []float64
	// Loss is the training loss per step.
	Loss []float64
}

// Tail returns the mean of the k smallest values of perClass and their indices (ties: lower index).
func Tail(perClass []float64, k int) (float64, []int, error) {
	if k < 1 || k > len(perClass) {
		return 0, nil, fmt.Errorf("dratexp: tail of %d classes out of %d", k, len(perClass))
	}
	idx := make([]int, len(perClass))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case perClass[a] < perClass[b]:
			return -1
		case perClass[a] > perClass[b]:
			return 1
		}
		return 0
	})
	s := 0.0
	for _, i := range idx[:k] {
		s += perClass[i]
	}
	return s / float64(k), idx[:k], nil
}

// DRO returns the closed form of the KL-regularised inner maximisation over instance weights, in float64:
// the weights w*_i = exp(l_i/r)/Σ_j exp(l_j/r) and the value F = r·log((1/n) Σ_i exp(l_i/r)), computed
// stably (the reference the graph objectives "done-dro" and "done" are checked against).
func DRO(l []float64, r float64) (w []float64, f float64, err error) {
	if len(l) == 0 || !(r > 0) || math.IsInf(r, 0) {
		return nil, 0, fmt.Errorf("dratexp.DRO: %d losses and r=%g: want ≥ 1 loss and a finite r > 0", len(l), r)
	}
	m := math.Inf(-1)
	for i, v := range l {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("dratexp.DRO: loss %d is %g", i, v)
		}
		m = math.Max(m, v/r)
	}
	w = make([]float64, len(l))
	s := 0.0
	for i, v := range l {
		w[i] = math.Exp(v/r - m)
		s += w[i]
	}
	for i := range w {
		w[i] /= s
	}
	return w, r * (m + math.Log(s/float64(len(l)))), nil
}

// Model returns the experiment's MLP.
func (c Config) Model(classes int) models.Model { return models.NewMLP(classes, c.Hidden...) }

// TrainConfig is the PGD-AT training run at learning rate p.LR on tr whose initialisation, data order
// and training-attack random starts all follow from seed (Train adds DONE's loss when p.R > 0).
func (c Config) TrainConfig(p Point, tr *data.Set, seed uint64) attack.TrainConfig {
	cfg := attack.TrainConfig{Model: c.Model(tr.Classes), Train: tr, Attack: c.TrainAttack, Optimizer: train.Adam(p.LR),
		BatchSize: c.Batch, Epochs: c.Epochs, Seed: seed, DataSeed: 1000 + seed, Silent: true}
	cfg.Attack.Seed = int64(1_000_000 * seed)
	return cfg
}

// Train runs adversarial training at point p on tr from seed (TrainConfig): PGD-AT when p.R is 0, else
// DONE with rate Beta.
func (c Config) Train(p Point, tr *data.Set, seed uint64) (*attack.TrainResult, *Trace, error) {
	t := &Trace{ClassOmega: make([]float64, tr.Classes)}
	cfg := c.TrainConfig(p, tr, seed)
	total := c.Epochs * (tr.Len() / min(c.Batch, tr.Len()))
	keep := map[int]bool{1: true, max(1, total/2): true, total: true}
	counts := make([]float64, tr.Classes)
	if p.R > 0 {
		r := p.R
		var st losses.DONEState
		cfg.Extra = func(b *attack.TrainBatch) ([]any, error) {
			// AdvLoss holds each example's robust cross-entropy at the parameters before the step.
			_, f, err := DRO(b.Attack.AdvLoss, r) // f/r = log mean exp(ℓ/r)
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", b.Step, err)
			}
			if err := st.Update(f/r, c.Beta); err != nil {
				return nil, fmt.Errorf("step %d: %w", b.Step, err)
			}
			omega := make([]float64, len(b.Labels))
			for i, l := range b.Attack.AdvLoss {
				omega[i] = math.Exp(l/r - st.LogU)
				t.ClassOmega[b.Labels[i]] += omega[i]
				counts[b.Labels[i]]++
			}
			if keep[b.Step] {
				t.OmegaSteps, t.Omega = append(t.OmegaSteps, b.Step), append(t.Omega, omega)
			}
			return []any{float32(st.LogU)}, nil
		}
		cfg.Loss = func(in attack.LossInputs) (*Node, []*Node) {
			return ReduceAllMean(losses.DONELoss(losses.CrossEntropy(in.Adv, in.Labels), in.Extra[0], r)), nil
		}
	}
	cfg.After = func(_ *attack.TrainBatch, rec attack.TrainRecord) error {
		t.Loss = append(t.Loss, rec.Loss)
		return nil
	}
	res, err := attack.Train(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("dratexp: %v, seed %d: %w", p, seed, err)
	}
	for cl, n := range counts {
		if n > 0 {
			t.ClassOmega[cl] /= n
		}
	}
	return res, t, nil
}

// Score measures a trained model on set: clean and EvalAttack accuracy, per class, and RA-Tail.
func (c Config) Score(res *attack.TrainResult, set *data.Set) (Scores, error) {
	clean, robust, err := attack.Correctness(res.Model, res.Context, set, c.EvalAttack)
	if err != nil {
		return Scores{}, fmt.Errorf("dratexp: %w", err)
	}
	return c.scores(clean, robust, set.Y, set.Classes)
}

// scores turns per-example correctness into Scores.
func (c Config) scores(clean, robust []bool, y []int32, classes int) (Scores, error) {
	s := Scores{ClassClean: make([]float64, classes), ClassRobust: make([]float64, classes)}
	n := make([]float64, classes)
	for i, cl := range y {
		n[cl]++
		if clean[i] {
			s.ClassClean[cl]++
			s.Clean++
		}
		if robust[i] {
			s.ClassRobust[cl]++
			s.Robust++
		}
	}
	s.Clean /= float64(len(y))
	s.Robust /= float64(len(y))
	for cl := range n {
		if n[cl] == 0 {
			return Scores{}, fmt.Errorf("dratexp: class %d has no example in the scored set", cl)
		}
		s.ClassClean[cl] /= n[cl]
		s.ClassRobust[cl] /= n[cl]
	}
	var err error
	s.Tail, s.TailOf, err = Tail(s.ClassRobust, c.TailClasses)
	return s, err
}

// Tuning is the validation scores of every grid point of one arm and the index of the chosen one.
type Tuning struct {
	Val  []Scores
	Best int
}

// ArmResult is one arm: its tuning and the final runs of the chosen point (run i: seed i+1).
type ArmResult struct {
	Arm    string
	Tuning Tuning
	Chosen Point
	Test   []Scores
	Traces []Trace
}

// Result is the whole experiment.
type Result struct {
	TrainCounts      []int
	Baseline, Method ArmResult
}

// criterion is what tuning maximises: validation RA-Tail plus validation PGD accuracy, the two
// quantities the paper claims to improve, weighted alike.
func criterion(s Scores) float64 { return s.Tail + s.Robust }

// Criterion documents the tuning criterion in words.
const Criterion = "validation RA-Tail + validation PGD accuracy"

// Run tunes both arms on s.Val (one run per grid point, seed TuneSeed; the point with the highest
// Criterion, ties to the earlier point) and trains each chosen point Runs times, scored on s.Test.
// progress, if not nil, is called after each training run with a description of it.
func Run(c Config, s *Splits, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if s == nil || s.Train == nil || s.Val == nil || s.Test == nil {
		return nil, errors.New("dratexp.Run: missing splits")
	}
	out := &Result{TrainCounts: s.Train.ClassCounts()}
	for _, a := range []struct {
		arm Arm
		dst *ArmResult
	}{{c.Baseline, &out.Baseline}, {c.Method, &out.Method}} {
		ar := ArmResult{Arm: a.arm.Name, Tuning: Tuning{Best: -1}}
		best := math.Inf(-1)
		for i, p := range a.arm.Grid {
			res, _, err := c.Train(p, s.Train, c.TuneSeed)
			var sc Scores
			var div *train.DivergedError
			switch {
			case errors.As(err, &div): // a diverged tuning run scores NaN and is never chosen
				sc = Scores{Clean: math.NaN(), Robust: math.NaN(), Tail: math.NaN()}
			case err != nil:
				return nil, fmt.Errorf("dratexp: %s, tuning: %w", a.arm.Name, err)
			default:
				if sc, err = c.Score(res, s.Val); err != nil {
					return nil, err
				}
			}
			ar.Tuning.Val = append(ar.Tuning.Val, sc)
			if v := criterion(sc); v > best {
				best, ar.Tuning.Best = v, i
			}
			if progress != nil {
				progress(fmt.Sprintf("%s tuning %v: validation PGD %.3f, RA-Tail %.3f", a.arm.Name, p, sc.Robust, sc.Tail))
			}
		}
		if ar.Tuning.Best < 0 {
			return nil, fmt.Errorf("dratexp: %s: every tuning run diverged", a.arm.Name)
		}
		ar.Chosen = a.arm.Grid[ar.Tuning.Best]
		for run := range c.Runs {
			res, tr, err := c.Train(ar.Chosen, s.Train, uint64(run+1))
			if err != nil {
				return nil, fmt.Errorf("dratexp: %s run %d: %w", a.arm.Name, run+1, err)
			}
			sc, err := c.Score(res, s.Test)
			if err != nil {
				return nil, err
			}
			ar.Test, ar.Traces = append(ar.Test, sc), append(ar.Traces, *tr)
			if progress != nil {
				progress(fmt.Sprintf("%s %v run %d: test clean %.3f, PGD %.3f, RA-Tail %.3f", a.arm.Name, ar.Chosen, run+1, sc.Clean, sc.Robust, sc.Tail))
			}
		}
		*a.dst = ar
	}
	return out, nil
}

// The measurements of Scores, as functions for Values.
var (
	CleanAccuracy = func(s Scores) float64 { return s.Clean }
	PGDAccuracy   = func(s Scores) float64 { return s.Robust }
	TailAccuracy  = func(s Scores) float64 { return s.Tail }
)

// Values returns f of each of the scores, e.g. Values(runs, TailAccuracy).
func Values(sc []Scores, f func(Scores) float64) []float64 {
	v := make([]float64, len(sc))
	for i, s := range sc {
		v[i] = f(s)
	}
	return v
}

// Values returns f of each final run of the arm.
func (a *ArmResult) Values(f func(Scores) float64) []float64 { return Values(a.Test, f) }

// PerClass returns, for each class k, the per-class measurement f(s)[k] of each final run of the arm
// (f: e.g. the ClassRobust field), for bars with error bars across runs.
func (a *ArmResult) PerClass(f func(Scores) []float64) [][]float64 {
	var out [][]float64
	for _, s := range a.Test {
		for k, v := range f(s) {
			if k == len(out) {
				out = append(out, nil)
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

// Measurable says why the control's runs cannot show an effect on the tail, or "" when they can: their
// RA-Tail must be clearly above 0 (mean − 2 SE > 0, SE = sd/√n across runs) and clearly below their
// average PGD accuracy (the paired gap's mean − 2 SE > 0). tail and avg hold one value per run.
func Measurable(tail, avg []float64) (string, error) {
	if len(tail) < 2 || len(tail) != len(avg) {
		return "", fmt.Errorf("dratexp.Measurable: %d tail and %d average values: want ≥ 2 runs of each, paired", len(tail), len(avg))
	}
	gap := make([]float64, len(tail))
	for i := range tail {
		gap[i] = avg[i] - tail[i]
	}
	t, g := landscape.Summarize(tail), landscape.Summarize(gap)
	se := func(s landscape.Stats) float64 { return s.Std / math.Sqrt(float64(s.N)) }
	switch {
	case t.Mean-2*se(t) <= 0:
		return fmt.Sprintf("the control's RA-Tail (%.3f ± %.3f over %d runs) is not clearly above 0: its worst classes have no robust accuracy to improve on", t.Mean, se(t), t.N), nil
	case g.Mean-2*se(g) <= 0:
		return fmt.Sprintf("the control's RA-Tail is not clearly below its average PGD accuracy (gap %.3f ± %.3f over %d runs): it has no tail", g.Mean, se(g), g.N), nil
	}
	return "", nil
}

// WithEpsilon returns c with attack budget eps in training (5 steps of 0.3·eps, as Default) and
// evaluation (steps of eps/10).
func (c Config) WithEpsilon(eps float64) Config {
	c.TrainAttack.Epsilon, c.TrainAttack.StepSize = eps, 0.3*eps
	c.EvalAttack.Epsilon, c.EvalAttack.StepSize = eps, eps/10
	return c
}

// Control trains the control, PGD-AT at learning rate lr, from seeds 1..runs and scores each run on
// s.Val: the check that a setting shows a tail (Measurable) before any method runs on it.
func Control(c Config, s *Splits, lr float64, runs int) ([]Scores, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var out []Scores
	for run := range runs {
		res, _, err := c.Train(Point{LR: lr}, s.Train, uint64(run+1))
		if err != nil {
			return nil, err
		}
		sc, err := c.Score(res, s.Val)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}
