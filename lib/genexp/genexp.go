// Package genexp runs the experiments of Gastpar, Nachum, Shafer & Weinberger, "Fantastic Generalization
// Measures are Nowhere to be Found", ICLR 2024, arXiv:2309.13658, at notebook scale and in the form a
// verdict needs, with the measures of Jiang, Neyshabur, Mobahi, Krishnan & Bengio, "Fantastic
// Generalization Measures and Where to Find Them", ICLR 2020, arXiv:1912.02178 (lib/genmeasure).
//
// Three parts:
//
//   - Twin: the indistinguishability argument on real data. One training sample S, two populations that
//     agree on S (true labels everywhere; labels of S kept and every other label uniformly random). The
//     deterministic training sees only S, so both give the same network h and the same value of every
//     measure E(S, h), while the test errors differ: a construction, shown as a sanity check.
//   - Families: Jiang et al.'s correlation study in small. A family is a sweep of MLPs (label-noise rates
//     × hidden widths) trained on one training sample; each run draws its own sample, its own label
//     noise and its own initialisations from the run's seed, so runs are independent. Per run, Kendall's
//     τ of each measure with the generalization gap (test error on clean labels − training error).
//   - Parity: the learnability/estimability trade-off of the paper's finite-field construction, exactly
//     (genmeasure.ParityExact) and by simulation.
//
// Training uses lib/train (full-batch Adam on cross-entropy, so the data order plays no role: a run's
// independence comes from its sample, its noise and its initialisations).
package genexp

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/genmeasure"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Config sets the sizes of the twin and family experiments.
type Config struct {
	// Runs is the number of independent families (default 5; verdict.MinRuns is 3).
	Runs int
	// TwinTrain is the twin experiment's sample size (default 512); Train a family's (default 256).
	TwinTrain, Train int
	// Test is the number of test examples per run (default 2000).
	Test int
	// Steps of full-batch Adam (default 400) at learning rate LR (default 1e-3).
	Steps int
	LR    float64
	// Noises are the label-noise rates of a family (labels redrawn uniformly, possibly unchanged, with
	// that probability; default 0, 0.2, …, 1) and Widths its hidden widths (default 32, 128).
	Noises []float64
	Widths []int
	// TwinWidth is the twin network's hidden width (default 128).
	TwinWidth int
	// Search configures the flatness and sharpness searches of genmeasure.Measures (default: depth 12,
	// 8 Monte-Carlo draws, 12 ascent steps).
	Search genmeasure.Config
	// Seed offsets every run's seeds (run r uses Seed + r).
	Seed uint64
}

// Default returns the notebook's full-size configuration.
func Default() Config {
	return Config{
		Runs: 5, TwinTrain: 512, Train: 256, Test: 2000, Steps: 400, LR: 1e-3,
		Noises: []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, Widths: []int{32, 128}, TwinWidth: 128,
		Search: genmeasure.Config{
			Flatness:  genmeasure.FlatnessConfig{Depth: 12, Samples: 8, Seed: 1},
			Sharpness: genmeasure.SharpnessConfig{Depth: 12, Steps: 12},
		},
		Seed: 1,
	}
}

// Quick returns CI's sizes: the same code path, fewer and smaller models, shallower searches.
func Quick() Config {
	c := Default()
	c.Runs, c.TwinTrain, c.Train, c.Test, c.Steps = 3, 128, 96, 500, 60
	c.Noises, c.Widths, c.TwinWidth = []float64{0, 0.5, 1}, []int{16, 32}, 32
	c.Search.Flatness.Depth, c.Search.Flatness.Samples = 6, 2
	c.Search.Sharpness.Depth, c.Search.Sharpness.Steps = 6, 3
	return c
}

// Check returns an error naming the first setting out of range.
func (c Config) Check() error {
	switch {
	case c.Runs < 1:
		return fmt.Errorf("genexp: Runs = %d, need ≥ 1", c.Runs)
	case c.TwinTrain < 10 || c.Train < 10:
		return fmt.Errorf("genexp: training samples %d (twin) and %d (family), need ≥ 10", c.TwinTrain, c.Train)
	case c.Test < 1:
		return fmt.Errorf("genexp: Test = %d, need ≥ 1", c.Test)
	case c.Steps < 1 || !(c.LR > 0):
		return fmt.Errorf("genexp: Steps = %d, LR = %g, need positive", c.Steps, c.LR)
	case len(c.Noises) < 2 || len(c.Widths) < 1:
		return fmt.Errorf("genexp: %d noise rates and %d widths, need ≥ 2 and ≥ 1", len(c.Noises), len(c.Widths))
	case c.TwinWidth < 1:
		return fmt.Errorf("genexp: TwinWidth = %d", c.TwinWidth)
	}
	for _, r := range c.Noises {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("genexp: noise rate %g outside [0, 1]", r)
		}
	}
	for _, w := range c.Widths {
		if w < 1 {
			return fmt.Errorf("genexp: width %d", w)
		}
	}
	return nil
}

// Data is where runs draw their examples: a pool of training examples and a pool of test examples with
// the same input size and classes (e.g. 2×2-averaged Fashion-MNIST).
type Data struct {
	Train, Test *data.Set
}

func (d Data) check(train, test int) error {
	if d.Train == nil || d.Test == nil {
		return fmt.Errorf("genexp: missing training or test pool")
	}
	if d.Train.Dim() != d.Test.Dim() || d.Train.Classes != d.Test.Classes {
		return fmt.Errorf("genexp: pools differ: %d inputs and %d classes (train), %d and %d (test)",
			d.Train.Dim(), d.Train.Classes, d.Test.Dim(), d.Test.Classes)
	}
	if d.Train.Len() < train || d.Test.Len() < test {
		return fmt.Errorf("genexp: pools hold %d training and %d test examples, need %d and %d",
			d.Train.Len(), d.Test.Len(), train, test)
	}
	return nil
}

// draw returns a training sample of n and a test sample of nTest examples drawn without replacement
// from the pools by seed.
func (d Data) draw(n, nTest int, seed uint64) (tr, te *data.Set) {
	tr = d.Train.Subset(rand.New(rand.NewPCG(seed, 1)).Perm(d.Train.Len())[:n])
	te = d.Test.Subset(rand.New(rand.NewPCG(seed, 2)).Perm(d.Test.Len())[:nTest])
	return tr, te
}

// Fit trains an MLP with one hidden layer of the given width on s (full-batch Adam, cfg's steps and
// learning rate, initialisation from seed) and returns the trained and the initial network.
func Fit(s *data.Set, width int, cfg Config, seed uint64) (net, init *genmeasure.Net, err error) {
	res, err := train.Run(train.Config{Model: models.NewMLP(s.Classes, width), Train: s, BatchSize: s.Len(),
		Steps: cfg.Steps, Optimizer: train.Adam(cfg.LR), Seed: seed, SnapshotEvery: cfg.Steps, Silent: true})
	if err != nil {
		return nil, nil, fmt.Errorf("genexp.Fit (width %d): %w", width, err)
	}
	ps, err := train.Params(res.Context)
	if err != nil {
		return nil, nil, fmt.Errorf("genexp.Fit: %w", err)
	}
	if net, err = genmeasure.FromParams(ps); err != nil {
		return nil, nil, fmt.Errorf("genexp.Fit: %w", err)
	}
	if len(res.Snapshots) == 0 || res.Snapshots[0].Step != 0 {
		return nil, nil, fmt.Errorf("genexp.Fit: no step-0 snapshot")
	}
	flat := res.Snapshots[0].Params
	off := 0
	for i := range ps { // the step-0 snapshot, in the same (Flat) order as Params
		if off+len(ps[i].Data) > len(flat) {
			return nil, nil, fmt.Errorf("genexp.Fit: step-0 snapshot holds %d values, parameters need more", len(flat))
		}
		ps[i].Data = flat[off : off+len(ps[i].Data)]
		off += len(ps[i].Data)
	}
	if init, err = genmeasure.FromParams(ps); err != nil {
		return nil, nil, fmt.Errorf("genexp.Fit: %w", err)
	}
	return net, init, nil
}

// Inputs views a set as genmeasure.Inputs.
func Inputs(s *data.Set) genmeasure.Inputs { return genmeasure.Inputs{X: s.X, Dim: s.Dim(), Y: s.Y} }

// Twin is what the indistinguishability experiment measured.
type Twin struct {
	// Identical: the networks trained "under D1" and "under D2" are bit-identical.
	Identical bool
	// SameMeasures: every measure has the same value for both (NaN equal to NaN).
	SameMeasures bool
	// TrainErr is the training error on S; ErrD1 and ErrD2 the test errors under the two populations.
	TrainErr, ErrD1, ErrD2 float64
	Measures               []genmeasure.Measure
}

// RunTwin trains twice on the same sample S of cfg.TwinTrain examples, as the two populations see it, and
// measures both networks. D2's test labels are redrawn uniformly at random (a redraw may keep the label).
func RunTwin(d Data, cfg Config) (*Twin, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := d.check(cfg.TwinTrain, cfg.Test); err != nil {
		return nil, err
	}
	s, test := d.draw(cfg.TwinTrain, cfg.Test, cfg.Seed)
	d2, _, err := data.LabelNoise(test, data.NoiseConfig{Kind: data.Uniform, Rate: 1, Seed: cfg.Seed + 99})
	if err != nil {
		return nil, fmt.Errorf("genexp.RunTwin: %w", err)
	}
	h1, init1, err := Fit(s, cfg.TwinWidth, cfg, cfg.Seed)
	if err != nil {
		return nil, err
	}
	h2, init2, err := Fit(s.Clone(), cfg.TwinWidth, cfg, cfg.Seed) // D2 agrees with D1 on S
	if err != nil {
		return nil, err
	}
	t := &Twin{Identical: true}
	f1, f2 := h1.Flat(), h2.Flat()
	for i := range f1 {
		t.Identical = t.Identical && f1[i] == f2[i]
	}
	if t.Measures, err = genmeasure.Measures(h1, init1, Inputs(s), cfg.Search); err != nil {
		return nil, fmt.Errorf("genexp.RunTwin: %w", err)
	}
	m2, err := genmeasure.Measures(h2, init2, Inputs(s), cfg.Search)
	if err != nil {
		return nil, fmt.Errorf("genexp.RunTwin: %w", err)
	}
	t.SameMeasures = len(m2) == len(t.Measures)
	for i := range m2 {
		a, b := t.Measures[i].Value, m2[i].Value
		t.SameMeasures = t.SameMeasures && (a == b || math.IsNaN(a) && math.IsNaN(b))
	}
	if t.TrainErr, err = h1.Error(Inputs(s)); err != nil {
		return nil, err
	}
	if t.ErrD1, err = h1.Error(Inputs(test)); err != nil {
		return nil, err
	}
	if t.ErrD2, err = h2.Error(Inputs(d2)); err != nil {
		return nil, err
	}
	return t, nil
}

// Fashion returns the Fashion-MNIST pools, 2×2-averaged to 14×14 (196 inputs).
func Fashion() (Data, error) {
	var d Data
	for _, split := range []string{"train", "test"} {
		s, err := data.FashionMNIST(split)
		if err != nil {
			return Data{}, fmt.Errorf("genexp.Fashion: %w", err)
		}
		if s, err = s.Downsample(2); err != nil {
			return Data{}, fmt.Errorf("genexp.Fashion: %w", err)
		}
		if split == "train" {
			d.Train = s
		} else {
			d.Test = s
		}
	}
	return d, nil
}
