// Package zlossexp runs the top-k experiment of de Brébisson & Vincent, "The Z-loss: a shift and scale
// invariant classification loss belonging to the Spherical Family", arXiv:1604.08859 (2016), at notebook
// scale, in the form a verdict needs: every arm (cross-entropy, the one-hot MSE, the Z-loss) is tuned on a
// validation split over a grid of the same size, the configuration chosen for each selection metric
// (top-1 or top-k validation error) is trained from several independent initialisations and data orders,
// and its top-k errors (k = 1..MaxK) are measured on a test set.
//
// The task stands in for the paper's word language modelling: K overlapping Gaussian blobs
// (lib/data.Blobs), an MLP with one ReLU hidden layer trained by Adam.
package zlossexp

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/losslab/losslab/lib/calibexp"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/ldrexp"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Point is one configuration of a grid: Adam's learning rate and the objective's hyperparameters (the
// label-noise experiment's grid point, lib/ldrexp).
type Point = ldrexp.Point

// Arm is one method or baseline: an objective of lib/losses and the grid it is tuned over.
type Arm = ldrexp.Arm

// LRGrid returns one point per learning rate (an objective without hyperparameters).
func LRGrid(lrs ...float64) []Point { return ldrexp.Grid(lrs, "", nil) }

// ABGrid returns the Z-loss points (a, b) for every a in as and b in bs, at learning rate lr.
func ABGrid(lr float64, as, bs []float64) []Point {
	var g []Point
	for _, a := range as {
		for _, b := range bs {
			g = append(g, Point{LR: lr, Params: losses.Params{"a": a, "b": b}})
		}
	}
	return g
}

// Config is the whole experiment.
type Config struct {
	NTrain, NVal, NTest int // examples in the three splits
	Classes, Dim        int // K and d of the blobs
	Radius, Spread      float64
	DataSeed            uint64 // the blobs and the splits (the same for every run)
	Hidden              int    // width of the MLP's hidden layer

	Epochs, Batch int
	// Runs is the number of independent final runs of each chosen point (run r: initialisation and
	// data-order seed r+1); tuning trains every grid point once with TuneSeed.
	Runs     int
	TuneSeed uint64
	// MaxK is the largest k whose top-k error is measured; SelectK the k values a point is chosen on
	// (validation top-k error), e.g. 1 and 5.
	MaxK    int
	SelectK []int

	Arms []Arm
}

// LogLRs returns n learning rates spaced evenly in log scale from lo to hi (n ≥ 2), rounded to two
// significant digits, as a grid.
func LogLRs(lo, hi float64, n int) []Point {
	lrs := make([]float64, n)
	for i := range lrs {
		lr := lo * math.Pow(hi/lo, float64(i)/float64(n-1))
		lrs[i], _ = strconv.ParseFloat(strconv.FormatFloat(lr, 'g', 2, 64), 64) // two significant digits
	}
	return LRGrid(lrs...)
}

// Default is the full-size experiment: the spec's task (K = 50 blobs in d = 32, radius 3, spread 1.5,
// 20 000 training examples, an MLP 32-128-50, Adam, batch 128, 20 epochs), five final runs per chosen
// point, and grids of eight points per arm: CE and MSE over learning rates from 10⁻⁴ to 10⁻¹, the Z-loss
// over a ∈ {1, 5} and b ∈ {0, 1, 2, 3.5 = ½√(K−1)} at Adam's default learning rate 10⁻³.
func Default() Config {
	return Config{NTrain: 20000, NVal: 5000, NTest: 5000, Classes: 50, Dim: 32, Radius: 3, Spread: 1.5, DataSeed: 11,
		Hidden: 128, Epochs: 20, Batch: 128, Runs: 5, TuneSeed: 100, MaxK: 10, SelectK: []int{1, 5},
		Arms: []Arm{
			{Name: "CE", Objective: "ce", Grid: LogLRs(1e-4, 1e-1, 8)},
			{Name: "MSE", Objective: "mse", Grid: LogLRs(1e-4, 1e-1, 8)},
			{Name: "Z-loss", Objective: "z-loss", Grid: ABGrid(1e-3, []float64{1, 5}, []float64{0, 1, 2, 3.5})},
		}}
}

// Quick is Default at CI sizes (the same code path): small splits, two epochs, three runs, and every
// fourth point of each grid.
func Quick() Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest, c.Epochs, c.Runs = 1024, 512, 512, 2, 3
	for i := range c.Arms {
		var g []Point
		for j := 0; j < len(c.Arms[i].Grid); j += 4 {
			g = append(g, c.Arms[i].Grid[j])
		}
		c.Arms[i].Grid = g
	}
	return c
}

// Check says what is wrong with c, if anything: every arm needs a grid, and all grids the same size
// (the same tuning budget for method and baselines).
func (c Config) Check() error {
	switch {
	case c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("zlossexp: sizes train %d (≥ batch %d), validation %d, test %d", c.NTrain, c.Batch, c.NVal, c.NTest)
	case c.Classes < 2 || c.Dim < 1 || c.Hidden < 1:
		return fmt.Errorf("zlossexp: %d classes in %d dimensions, hidden width %d", c.Classes, c.Dim, c.Hidden)
	case c.Epochs < 1 || c.Batch < 1 || c.Runs < 1:
		return fmt.Errorf("zlossexp: epochs %d, batch %d, runs %d must be ≥ 1", c.Epochs, c.Batch, c.Runs)
	case c.MaxK < 1 || c.MaxK > c.Classes:
		return fmt.Errorf("zlossexp: MaxK %d must lie in 1..%d (the classes)", c.MaxK, c.Classes)
	case len(c.SelectK) == 0 || len(c.Arms) == 0:
		return errors.New("zlossexp: no selection metric or no arms")
	}
	for _, k := range c.SelectK {
		if k < 1 || k > c.MaxK {
			return fmt.Errorf("zlossexp: selection on top-%d error, outside 1..MaxK = %d", k, c.MaxK)
		}
	}
	for _, a := range c.Arms {
		if len(a.Grid) == 0 {
			return fmt.Errorf("zlossexp: arm %q has an empty grid", a.Name)
		}
		if len(a.Grid) != len(c.Arms[0].Grid) {
			return fmt.Errorf("zlossexp: arm %q has a grid of %d points, arm %q of %d: every arm gets the same tuning budget",
				a.Name, len(a.Grid), c.Arms[0].Name, len(c.Arms[0].Grid))
		}
		for _, p := range a.Grid {
			if _, err := losses.TrainLoss(a.Objective, p.Params); err != nil {
				return fmt.Errorf("zlossexp: arm %q at %v: %w", a.Name, p, err)
			}
		}
	}
	return nil
}

// Data returns the training, validation and test splits (the same for every run).
func (c Config) Data() (tr, va, te *data.Set, err error) {
	all, err := data.Blobs(data.BlobsConfig{N: c.NTrain + c.NVal + c.NTest, Classes: c.Classes, Dim: c.Dim,
		Radius: c.Radius, Spread: c.Spread, Seed: c.DataSeed})
	if err != nil {
		return nil, nil, nil, err
	}
	total := float64(c.NTrain + c.NVal + c.NTest)
	tr, rest, err := all.Split(float64(c.NTrain)/total, c.DataSeed)
	if err != nil {
		return nil, nil, nil, err
	}
	va, te, err = rest.Split(float64(c.NVal)/float64(c.NVal+c.NTest), c.DataSeed+1)
	if err != nil {
		return nil, nil, nil, err
	}
	return tr, va, te, nil
}

// TrainConfig is the training run of objective obj at point p on tr, from initialisation and data-order
// seed (the data order is derived from it).
func (c Config) TrainConfig(obj string, p Point, tr *data.Set, seed uint64) train.Config {
	return train.Config{Model: models.NewMLP(c.Classes, c.Hidden), Train: tr, Objective: obj, ObjectiveParams: p.Params,
		Optimizer: train.Adam(p.LR), BatchSize: c.Batch, Epochs: c.Epochs, Seed: seed, Silent: true}
}

// TopKErrors returns the top-k error rates, k = 1..maxK, of logits [N*K] (row-major) against labels y:
// an example counts as correct at k when fewer than k classes score strictly above its label.
func TopKErrors(logits []float32, y []int32, maxK int) ([]float64, error) {
	n := len(y)
	if n == 0 || len(logits)%n != 0 {
		return nil, fmt.Errorf("zlossexp: %d logits for %d labels", len(logits), n)
	}
	k := len(logits) / n
	if maxK < 1 || maxK > k {
		return nil, fmt.Errorf("zlossexp: top-%d error of %d classes", maxK, k)
	}
	hits := make([]int, maxK)
	for i, label := range y {
		if label < 0 || int(label) >= k {
			return nil, fmt.Errorf("zlossexp: label %d of example %d outside 0..%d", label, i, k-1)
		}
		row := logits[i*k : (i+1)*k]
		above := 0
		for _, v := range row {
			if v > row[label] {
				above++
			}
		}
		for j := above; j < maxK; j++ {
			hits[j]++
		}
	}
	errs := make([]float64, maxK)
	for j, h := range hits {
		errs[j] = 1 - float64(h)/float64(n)
	}
	return errs, nil
}

// topK trains cfg and returns its top-k errors on s (nil when the run diverged).
func (c Config) topK(cfg train.Config, s *data.Set) ([]float64, error) {
	res, err := train.Run(cfg)
	var div *train.DivergedError
	switch {
	case errors.As(err, &div):
		return nil, nil
	case err != nil:
		return nil, err
	}
	logits, err := calibexp.Logits(res.Model, res.Context, s.X, s.Len(), s.Dim())
	if err != nil {
		return nil, err
	}
	return TopKErrors(logits, s.Y, c.MaxK)
}

// Selection is the point an arm chose on validation top-K error and the test errors of its final runs.
type Selection struct {
	K      int         // the selection metric: validation top-K error
	Best   int         // the chosen grid point
	Chosen string      // the chosen point, in words
	Test   [][]float64 // per final run, the top-k test errors, k = 1..MaxK
}

// ArmResult is one arm: its tuning and its selections (one per Config.SelectK, in that order).
type ArmResult struct {
	Arm        string
	Val        [][]float64 // per grid point, the top-k validation errors (nil: the run diverged)
	Selections []Selection
}

// TestErr returns the top-k test error of each final run of the point selected on validation
// top-selectK error (nil when there is no such selection or k is out of range).
func (a *ArmResult) TestErr(selectK, k int) []float64 {
	for _, s := range a.Selections {
		if s.K != selectK {
			continue
		}
		var v []float64
		for _, run := range s.Test {
			if k < 1 || k > len(run) {
				return nil
			}
			v = append(v, run[k-1])
		}
		return v
	}
	return nil
}

// Selected returns the selection of arm a on validation top-k error (nil if none).
func (a *ArmResult) Selected(k int) *Selection {
	for i := range a.Selections {
		if a.Selections[i].K == k {
			return &a.Selections[i]
		}
	}
	return nil
}

// best returns the grid point with the lowest validation top-k error (ties: the earlier point), or -1
// when every run diverged.
func best(val [][]float64, k int) int {
	b, low := -1, math.Inf(1)
	for i, v := range val {
		if v != nil && v[k-1] < low {
			b, low = i, v[k-1]
		}
	}
	return b
}

// Run runs the experiment: for every arm, one tuning run per grid point, then Runs final runs of the
// point chosen for each selection metric (a point chosen twice is trained once). progress, if not nil,
// is called after every training run with a description of it.
func Run(c Config, progress func(done string)) ([]ArmResult, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	tr, va, te, err := c.Data()
	if err != nil {
		return nil, err
	}
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	var out []ArmResult
	for _, a := range c.Arms {
		ar := ArmResult{Arm: a.Name}
		for _, p := range a.Grid {
			v, err := c.topK(c.TrainConfig(a.Objective, p, tr, c.TuneSeed), va)
			if err != nil {
				return nil, fmt.Errorf("zlossexp: %s, tuning %v: %w", a.Name, p, err)
			}
			ar.Val = append(ar.Val, v)
			say("%s, tuning %v: validation top-1 error %v", a.Name, p, first(v))
		}
		finals := map[int][][]float64{}
		for _, k := range c.SelectK {
			b := best(ar.Val, k)
			if b < 0 {
				return nil, fmt.Errorf("zlossexp: %s: every tuning run diverged", a.Name)
			}
			p := a.Grid[b]
			if _, done := finals[b]; !done {
				for r := range c.Runs {
					v, err := c.topK(c.TrainConfig(a.Objective, p, tr, uint64(r+1)), te)
					if err == nil && v == nil {
						err = errors.New("the run diverged")
					}
					if err != nil {
						return nil, fmt.Errorf("zlossexp: %s (%v), run %d: %w", a.Name, p, r+1, err)
					}
					finals[b] = append(finals[b], v)
					say("%s (%v), run %d: test top-1 error %.3f", a.Name, p, r+1, v[0])
				}
			}
			ar.Selections = append(ar.Selections, Selection{K: k, Best: b, Chosen: p.String(), Test: finals[b]})
		}
		out = append(out, ar)
	}
	return out, nil
}

// first returns v[0] in words, or "diverged" when v is nil.
func first(v []float64) string {
	if v == nil {
		return "diverged"
	}
	return fmt.Sprintf("%.3f", v[0])
}

// RunsAtMost is the most training runs Run makes: one per grid point of every arm, and Runs for each
// selection (fewer when two selections choose the same point).
func (c Config) RunsAtMost() int {
	n := 0
	for _, a := range c.Arms {
		n += len(a.Grid) + len(c.SelectK)*c.Runs
	}
	return n
}
