// Package ldrexp runs the label-noise experiment of Zhu, Ying & Yang, "Label Distributionally Robust
// Losses for Multi-class Classification: Consistency, Robustness and Adaptivity", ICML 2023,
// arXiv:2112.14869, at notebook scale, in the form a verdict needs: every arm (cross-entropy, LDR-KL,
// ALDR-KL) is tuned on a validation split over a grid of the same size, and the chosen configuration is
// then trained from several independent initialisations and data orders and scored on a clean test set.
//
// The task stands in for the paper's Letter data: Gaussian blobs (K classes in d dimensions), features
// standardised with the training statistics. Label noise (lib/data.LabelNoise) corrupts the training
// and the validation labels alike, so the tuner never sees a clean label; the test labels stay clean.
// The model is the official tabular one, an MLP with two tanh hidden layers of width min(d, K), trained
// by SGD with momentum 0.9 and weight decay 5·10⁻³ and a cosine learning-rate decay.
package ldrexp

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Point is one configuration of a grid: a learning rate and the objective's hyperparameters.
type Point struct {
	LR     float64
	Params losses.Params
}

// String is the point in words, e.g. "lr=0.1 lambda=1" (hyperparameters in name order).
func (p Point) String() string {
	s := fmt.Sprintf("lr=%g", p.LR)
	for _, k := range slices.Sorted(maps.Keys(p.Params)) {
		s += fmt.Sprintf(" %s=%g", k, p.Params[k])
	}
	return s
}

// Arm is one method or baseline: an objective of lib/losses and the grid it is tuned over.
type Arm struct {
	Name      string // shown in tables, e.g. "CE"
	Objective string // a classification objective of lib/losses, e.g. "ldr-kl-code"
	Grid      []Point
}

// Grid returns every pair of a learning rate from lrs and a value of the objective's hyperparameter
// param from values (param "" or no values: the learning rates alone).
func Grid(lrs []float64, param string, values []float64) []Point {
	var g []Point
	for _, lr := range lrs {
		if param == "" || len(values) == 0 {
			g = append(g, Point{LR: lr})
			continue
		}
		for _, v := range values {
			g = append(g, Point{LR: lr, Params: losses.Params{param: v}})
		}
	}
	return g
}

// Config is the whole experiment.
type Config struct {
	NTrain, NVal, NTest int // examples in the three splits
	Classes, Dim        int // K and d of the blobs
	Radius, Spread      float64
	DataSeed            uint64 // the blobs, the splits and the label noise

	// Hidden are the widths of the MLP's hidden layers (nil: the official two layers of width min(d, K)),
	// Activation their activation (one of models.Activations; "": the official tanh).
	Hidden     []int
	Activation string

	Epochs, Batch int
	WeightDecay   float64
	// Runs is the number of independent final runs per arm and setting (initialisation seed and data
	// order r+1 for run r); tuning uses one run with TuneSeed.
	Runs     int
	TuneSeed uint64
	// ScoreDiverged scores a final run whose loss diverges at chance, 1/K at every epoch, and counts it in
	// ArmResult.Diverged (an unstable method pays for its instability); when false such a run is an error.
	ScoreDiverged bool

	Noise []data.NoiseConfig // the settings; Seed is replaced by DataSeed
	Arms  []Arm
}

// Check says what is wrong with c, if anything: every arm needs a grid, and all grids the same size
// (the same tuning budget for method and baseline).
func (c Config) Check() error {
	switch {
	case c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("ldrexp: sizes train %d (≥ batch %d), validation %d, test %d", c.NTrain, c.Batch, c.NVal, c.NTest)
	case c.Classes < 2 || c.Dim < 1:
		return fmt.Errorf("ldrexp: %d classes in %d dimensions", c.Classes, c.Dim)
	case c.Epochs < 1 || c.Batch < 1 || c.Runs < 1:
		return fmt.Errorf("ldrexp: epochs %d, batch %d, runs %d must be ≥ 1", c.Epochs, c.Batch, c.Runs)
	case len(c.Noise) == 0 || len(c.Arms) == 0:
		return errors.New("ldrexp: no noise settings or no arms")
	}
	for _, a := range c.Arms {
		if len(a.Grid) == 0 {
			return fmt.Errorf("ldrexp: arm %q has an empty grid", a.Name)
		}
		if len(a.Grid) != len(c.Arms[0].Grid) {
			return fmt.Errorf("ldrexp: arm %q has a grid of %d points, arm %q of %d: every arm gets the same tuning budget",
				a.Name, len(a.Grid), c.Arms[0].Name, len(c.Arms[0].Grid))
		}
		if _, err := losses.TrainLoss(a.Objective, nil); err != nil {
			return fmt.Errorf("ldrexp: arm %q: %w", a.Name, err)
		}
	}
	return nil
}

// Splits are the standardised data of one noise setting; Clean holds the training labels before noise.
type Splits struct {
	Train, Val, Test *data.Set
	Clean            []int32
	Changed          float64 // realised fraction of changed training labels
}

// Data returns the splits of noise setting n.
func (c Config) Data(n data.NoiseConfig) (*Splits, error) {
	all, err := data.Blobs(data.BlobsConfig{N: c.NTrain + c.NVal + c.NTest, Classes: c.Classes, Dim: c.Dim,
		Radius: c.Radius, Spread: c.Spread, Seed: c.DataSeed})
	if err != nil {
		return nil, err
	}
	total := float64(c.NTrain + c.NVal + c.NTest)
	fit, te, err := all.Split(float64(c.NTrain+c.NVal)/total, c.DataSeed)
	if err != nil {
		return nil, err
	}
	tr, va, err := fit.Split(float64(c.NTrain)/float64(c.NTrain+c.NVal), c.DataSeed+1)
	if err != nil {
		return nil, err
	}
	mean, std := tr.FeatureStats()
	s := &Splits{Clean: append([]int32(nil), tr.Y...)}
	if s.Train, err = tr.Normalize(mean, std); err != nil {
		return nil, err
	}
	if s.Val, err = va.Normalize(mean, std); err != nil {
		return nil, err
	}
	if s.Test, err = te.Normalize(mean, std); err != nil {
		return nil, err
	}
	n.Seed = c.DataSeed
	if s.Train, s.Changed, err = data.LabelNoise(s.Train, n); err != nil {
		return nil, err
	}
	n.Seed = c.DataSeed + 1
	if s.Val, _, err = data.LabelNoise(s.Val, n); err != nil {
		return nil, err
	}
	return s, nil
}

// TrainConfig is the training run of arm objective obj at point p on tr, scored on eval every epoch
// when curve is set (else at the end), from initialisation and data-order seed.
func (c Config) TrainConfig(obj string, p Point, tr, eval *data.Set, seed uint64, curve bool) train.Config {
	opt := train.SGD(p.LR, 0.9).WithCosine(p.LR / 100)
	opt.WeightDecay = c.WeightDecay
	hidden := c.Hidden
	if hidden == nil {
		width := min(c.Dim, c.Classes)
		hidden = []int{width, width}
	}
	m := models.NewMLP(c.Classes, hidden...)
	m.Activation = c.Activation
	if m.Activation == "" {
		m.Activation = "tanh"
	}
	cfg := train.Config{Model: m, Train: tr, Test: eval, Objective: obj, ObjectiveParams: p.Params, Optimizer: opt,
		BatchSize: c.Batch, Epochs: c.Epochs, Seed: seed, Silent: true}
	if curve {
		cfg.EvalEvery = tr.Len() / c.Batch
	}
	return cfg
}

// accuracies returns the accuracy after each full epoch (curve) and at the end of a run.
func accuracies(res *train.Result, stepsPerEpoch int) (curve []float64, final float64, err error) {
	for _, e := range res.Evals {
		if e.Step > 0 && e.Step%stepsPerEpoch == 0 {
			curve = append(curve, e.Accuracy)
		}
	}
	f, ok := res.Final()
	if !ok {
		return nil, 0, errors.New("ldrexp: the run has no final evaluation")
	}
	return curve, f.Accuracy, nil
}

// finalRun trains objective obj at point p on s.Train from seed and returns its clean-test accuracy after
// every epoch and at the end; a diverged run is an error, or scored at chance with ScoreDiverged.
func (c Config) finalRun(obj string, p Point, s *Splits, seed uint64) (curve []float64, acc float64, diverged bool, err error) {
	res, err := train.Run(c.TrainConfig(obj, p, s.Train, s.Test, seed, true))
	var div *train.DivergedError
	if c.ScoreDiverged && errors.As(err, &div) {
		chance := 1 / float64(c.Classes)
		curve = make([]float64, c.Epochs)
		for i := range curve {
			curve[i] = chance
		}
		return curve, chance, true, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	curve, acc, err = accuracies(res, s.Train.Len()/c.Batch)
	return curve, acc, false, err
}

// Tuning is the validation accuracy of every grid point of one arm (NaN: the run diverged), and the
// index of the chosen point.
type Tuning struct {
	ValAcc []float64
	Best   int
}

// ArmResult is one arm in one setting: its tuning and the final runs of the chosen point.
type ArmResult struct {
	Arm    string
	Tuning Tuning
	Chosen string      // the chosen point, in words
	Test   []float64   // clean-test accuracy of each final run (run r: seed r+1)
	Curves [][]float64 // clean-test accuracy after each epoch of each final run
	// Diverged is the number of final runs that diverged and were scored at chance (Config.ScoreDiverged).
	Diverged int
}

// SettingResult is every arm in one noise setting.
type SettingResult struct {
	Setting string
	Changed float64
	Arms    []ArmResult
}

// Arm returns the result of the arm named name (nil if none).
func (s *SettingResult) Arm(name string) *ArmResult {
	for i := range s.Arms {
		if s.Arms[i].Arm == name {
			return &s.Arms[i]
		}
	}
	return nil
}

// SettingName names a noise setting, e.g. "uniform 0.6".
func SettingName(n data.NoiseConfig) string { return fmt.Sprintf("%s %.1f", n.Kind, n.Rate) }

// Run runs the experiment: for every setting and arm, one tuning run per grid point (validation
// accuracy, ties to the earlier point), then Runs final runs of the chosen point. progress, if not nil,
// is called after every training run with a description of it.
func Run(c Config, progress func(done string)) ([]SettingResult, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var out []SettingResult
	for _, n := range c.Noise {
		s, err := c.Data(n)
		if err != nil {
			return nil, err
		}
		sr := SettingResult{Setting: SettingName(n), Changed: s.Changed}
		steps := s.Train.Len() / c.Batch
		for _, a := range c.Arms {
			ar := ArmResult{Arm: a.Name, Tuning: Tuning{Best: -1}}
			best := math.Inf(-1)
			for i, p := range a.Grid {
				res, err := train.Run(c.TrainConfig(a.Objective, p, s.Train, s.Val, c.TuneSeed, false))
				acc := math.NaN() // a diverged tuning run is recorded as NaN and never chosen
				var div *train.DivergedError
				switch {
				case errors.As(err, &div):
				case err != nil:
					return nil, fmt.Errorf("ldrexp: %s, %s, tuning %v: %w", sr.Setting, a.Name, p, err)
				default:
					if _, acc, err = accuracies(res, steps); err != nil {
						return nil, err
					}
				}
				ar.Tuning.ValAcc = append(ar.Tuning.ValAcc, acc)
				if acc > best {
					best, ar.Tuning.Best = acc, i
				}
				if progress != nil {
					progress(fmt.Sprintf("%s, %s, tuning %v: validation accuracy %.3f", sr.Setting, a.Name, p, acc))
				}
			}
			if ar.Tuning.Best < 0 {
				return nil, fmt.Errorf("ldrexp: %s, %s: every tuning run diverged", sr.Setting, a.Name)
			}
			p := a.Grid[ar.Tuning.Best]
			ar.Chosen = p.String()
			for r := range c.Runs {
				curve, acc, diverged, err := c.finalRun(a.Objective, p, s, uint64(r+1))
				if err != nil {
					return nil, fmt.Errorf("ldrexp: %s, %s, run %d: %w", sr.Setting, a.Name, r+1, err)
				}
				if diverged {
					ar.Diverged++
				}
				ar.Test = append(ar.Test, acc)
				ar.Curves = append(ar.Curves, curve)
				if progress != nil {
					progress(fmt.Sprintf("%s, %s (%v), run %d: test accuracy %.3f", sr.Setting, a.Name, p, r+1, acc))
				}
			}
			sr.Arms = append(sr.Arms, ar)
		}
		out = append(out, sr)
	}
	return out, nil
}

// closedForm returns the loss of objective name with params p on the paper's worked example
// f = [2, 1, 0.1], y = 0.
func closedForm(name string, p losses.Params) (float64, error) {
	in := map[string]*tensors.Tensor{"logits": tensors.FromValue([][]float32{{2, 1, 0.1}}), "labels": tensors.FromValue([]int32{0})}
	r, err := losses.Evaluate(name, in, p)
	if err != nil {
		return 0, err
	}
	return r.Loss, nil
}
