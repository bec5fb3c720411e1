// Package lmcexp is the experiment of the notebook on linear mode connectivity: independently initialised
// pairs of MLPs, their loss barrier on the straight path before and after weight matching, and the
// barriers of the layer-wise paths, each measured on several independent pairs.
//
// Papers: Sidak Pal Singh, Linara Adilova, Michael Kamp, Asja Fischer, Bernhard Schölkopf, Thomas
// Hofmann, "Landscaping Linear Mode Connectivity" (arXiv:2406.16300); the tools it builds on: Entezari,
// Sedghi, Saukh, Neyshabur, "The Role of Permutation Invariance in Linear Mode Connectivity of Neural
// Networks" (arXiv:2110.06296, the linear-chord barrier), Ainsworth, Hayase, Srinivasa, "Git Re-Basin:
// Merging Models modulo Permutation Symmetries" (arXiv:2209.04836, weight matching) and Adilova,
// Andriushchenko, Kamp, Fischer, Jaggi, "Layer-wise Linear Mode Connectivity" (arXiv:2307.06966).
//
// Training goes through lib/train, paths, matching and barriers through lib/landscape; this package
// only arranges the runs and states the claims for lib/verdict.
package lmcexp

import (
	"errors"
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Config sizes the experiment. Zero fields take the defaults given with each field.
type Config struct {
	// Train is the training set, Test the evaluation set of every path (both required).
	Train, Test *data.Set `json:"-"`
	// Data names the data for the memo key and the tables (e.g. "fashion-mnist 6000/2000").
	Data string
	// Hidden are the hidden widths of the ReLU MLP (default 64, 64).
	Hidden []int
	// Runs is the number of independent pairs (default 3). Pair i initialises its two networks from seeds
	// 2i+1 and 2i+2; each network's data order is derived from its own seed.
	Runs int
	// Epochs of plain SGD per network (default 2), learning rate LR (default 0.1), batch Batch (default 64).
	Epochs int
	LR     float64
	Batch  int
	// NumAlpha is the size of the evenly spaced α grid of every path, both ends included (default 21).
	NumAlpha int
}

// Quick is the configuration for CI sizes: the same code, one epoch, three pairs, an 11-point grid.
func Quick(trainSet, test *data.Set, name string) Config {
	return Config{Train: trainSet, Test: test, Data: name, Hidden: []int{32, 32}, Runs: 3, Epochs: 1, NumAlpha: 11}
}

// WithDefaults returns the configuration with its zero fields filled in.
func (c Config) WithDefaults() Config {
	if len(c.Hidden) == 0 {
		c.Hidden = []int{64, 64}
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Epochs == 0 {
		c.Epochs = 2
	}
	if c.LR == 0 {
		c.LR = 0.1
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.NumAlpha == 0 {
		c.NumAlpha = 21
	}
	return c
}

// Check reports the first problem with a (defaulted) configuration.
func (c Config) Check() error {
	switch {
	case c.Train == nil || c.Test == nil:
		return errors.New("lmcexp: Config needs both Train and Test data")
	case c.Train.Classes < 2 || c.Test.Classes != c.Train.Classes:
		return fmt.Errorf("lmcexp: train has %d classes and test %d: want the same number, at least 2", c.Train.Classes, c.Test.Classes)
	case c.Runs < 1:
		return fmt.Errorf("lmcexp: Runs = %d, want ≥ 1", c.Runs)
	case c.Epochs < 1 || c.Batch < 1 || !(c.LR > 0):
		return fmt.Errorf("lmcexp: Epochs = %d, Batch = %d, LR = %g: want all positive", c.Epochs, c.Batch, c.LR)
	case c.NumAlpha < 3 || c.NumAlpha%2 == 0:
		return fmt.Errorf("lmcexp: NumAlpha = %d, want an odd number ≥ 3 (the grid must hold α = ½)", c.NumAlpha)
	}
	for _, w := range c.Hidden {
		if w < 1 {
			return fmt.Errorf("lmcexp: hidden widths %v, want all ≥ 1", c.Hidden)
		}
	}
	return nil
}

// Pair is the measurement of one independently initialised pair (A, B) on the test data. Barriers are
// linear-chord barriers B_lin (Entezari et al.) of the mean cross-entropy, in nats, unless named Err.
type Pair struct {
	SeedA, SeedB uint64
	// AccA, AccB are the test accuracies of the endpoints.
	AccA, AccB float64
	// Naive and Matched are the barriers of the paths A → B and A → π(B), π from weight matching;
	// NaiveErr and MatchedErr the same on the test error.
	Naive, Matched       float64
	NaiveErr, MatchedErr float64
	// LossNaive and LossMatched are the test loss along the two paths at Alpha.
	Alpha                  []float64
	LossNaive, LossMatched []float64
	// Layers names the parameter groups; LayerNaive[ℓ] and LayerMatched[ℓ] are the barriers of the
	// paths where only group ℓ moves from A towards B (resp. π(B)) and every other group stays at A.
	Layers                   []string
	LayerNaive, LayerMatched []float64
	// RiseNaive[ℓ] and RiseMatched[ℓ] are the raw rise φ(½) − φ(0) of those single-layer paths, and
	// HybridNaive[ℓ], HybridMatched[ℓ] the loss at their end (A with layer ℓ of B, resp. π(B)): an end
	// far above A makes the chord steep, so a rising path can have a small B_lin.
	RiseNaive, RiseMatched     []float64
	HybridNaive, HybridMatched []float64
	// DistNaive = ‖θ_B − θ_A‖, DistMatched = ‖π(θ_B) − θ_A‖.
	DistNaive, DistMatched float64
	// SameFunction is max |logits(B) − logits(π(B))| on the test data (zero up to round-off).
	SameFunction float64
	Sweeps       int
}

// MaxLayer returns the largest single-layer barrier of the given list.
func MaxLayer(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// Result holds every pair, in run order.
type Result struct {
	Config Config
	// Classes is the number of classes (Config's data sets are not stored with a memoised result).
	Classes int
	Pairs   []Pair
}

// Run trains cfg.Runs independent pairs and measures each. progress, when not nil, is called after each pair.
func Run(cfg Config, progress func(i int, p Pair)) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	testData := landscape.FromSet(cfg.Test)
	testData.Name = "test"
	res := &Result{Config: cfg, Classes: cfg.Train.Classes}
	for i := 0; i < cfg.Runs; i++ {
		p, err := measurePair(cfg, testData, uint64(2*i+1), uint64(2*i+2))
		if err != nil {
			return nil, fmt.Errorf("lmcexp: pair %d: %w", i, err)
		}
		res.Pairs = append(res.Pairs, p)
		if progress != nil {
			progress(i, p)
		}
	}
	return res, nil
}

func (c Config) model() *models.MLP { return models.NewMLP(c.Train.Classes, c.Hidden...) }

// trainOne trains one network from its own seed (initialisation and data order) and returns its
// parameters and test accuracy.
func trainOne(cfg Config, seed uint64) (*landscape.ParamSet, float64, error) {
	tc := train.Config{Model: cfg.model(), Train: cfg.Train, Objective: "ce", Optimizer: train.SGD(cfg.LR, 0),
		BatchSize: cfg.Batch, Epochs: cfg.Epochs, Seed: seed, Silent: true}
	r, err := train.Run(tc)
	if err != nil {
		return nil, 0, err
	}
	m, err := train.Evaluate(tc.Model, r.Context, cfg.Test)
	if err != nil {
		return nil, 0, err
	}
	ps, err := landscape.FromContext(r.Context, nil)
	return ps, m.Accuracy, err
}

func measurePair(cfg Config, testData *landscape.Data, seedA, seedB uint64) (Pair, error) {
	p := Pair{SeedA: seedA, SeedB: seedB}
	a, accA, err := trainOne(cfg, seedA)
	if err != nil {
		return p, err
	}
	b, accB, err := trainOne(cfg, seedB)
	if err != nil {
		return p, err
	}
	p.AccA, p.AccB = accA, accB
	layers, err := landscape.InferMLP(a)
	if err != nil {
		return p, err
	}
	al, err := landscape.WeightMatching(a, b, layers, landscape.MatchOptions{Seed: seedA})
	if err != nil {
		return p, err
	}
	p.Sweeps = al.Sweeps
	forward := landscape.FromModel(cfg.model())
	if p.SameFunction, err = landscape.MaxLogitDiff(forward, b, al.Aligned, testData); err != nil {
		return p, err
	}
	if p.DistNaive, err = dist(a, b); err != nil {
		return p, err
	}
	if p.DistMatched, err = dist(a, al.Aligned); err != nil {
		return p, err
	}
	ev, err := landscape.NewEvaluator(forward, a, landscape.Config{Label: "lmcexp", Silent: true})
	if err != nil {
		return p, err
	}
	opts := landscape.PathOptions{NumAlpha: cfg.NumAlpha}
	data := []*landscape.Data{testData}
	naive, err := landscape.Interpolate(ev, a, b, data, opts)
	if err != nil {
		return p, err
	}
	matched, err := landscape.Interpolate(ev, a, al.Aligned, data, opts)
	if err != nil {
		return p, err
	}
	p.Alpha = naive.Alpha
	p.LossNaive, p.LossMatched = naive.Curves[0].Loss, matched.Curves[0].Loss
	p.Naive, p.NaiveErr = naive.Curves[0].LossBarrier.Linear, naive.Curves[0].ErrorBarrier.Linear
	p.Matched, p.MatchedErr = matched.Curves[0].LossBarrier.Linear, matched.Curves[0].ErrorBarrier.Linear
	lo := landscape.LayerwiseOptions{NumAlpha: cfg.NumAlpha}
	for _, other := range []struct {
		b                  *landscape.ParamSet
		barrier, rise, end *[]float64
	}{{b, &p.LayerNaive, &p.RiseNaive, &p.HybridNaive}, {al.Aligned, &p.LayerMatched, &p.RiseMatched, &p.HybridMatched}} {
		lw, err := landscape.InterpolateLayers(ev, a, other.b, testData, lo)
		if err != nil {
			return p, err
		}
		p.Layers = lw.Rows
		for i, br := range lw.Barrier {
			l := lw.Loss[i]
			*other.barrier = append(*other.barrier, br.Linear)
			*other.rise = append(*other.rise, l[len(l)/2]-l[0])
			*other.end = append(*other.end, l[len(l)-1])
		}
	}
	return p, nil
}

func dist(a, b *landscape.ParamSet) (float64, error) {
	d, err := landscape.Sub(b, a)
	if err != nil {
		return 0, err
	}
	return d.Norm(), nil
}
