package normlrexp

import (
	"fmt"
	"slices"

	"github.com/losslab/losslab/lib/data"
)

// FashionConfig sizes a Fashion-MNIST experiment.
type FashionConfig struct {
	N      int       // images per subset (T-shirts and Trousers together)
	Ratio  int       // T-shirts per Trouser: 1 is balanced; the paper's imbalanced set uses 10
	Budget int       // iteration budget per run
	Runs   int       // independent subsets the claims are decided on (≥ 3)
	Gammas []float64 // step sizes: the tuning grid (Imbalanced) or the curves shown (Balanced)
	Seed   uint64    // subsets are drawn with seeds Seed·1000 + i: i = 0 is the validation subset
}

// DefaultImbalanced is the notebook's imbalanced setting: 4000 images at 10:1, γ tuned over the paper's
// grid for Normalized LR+GD, {0.1, 1, 10, 100}, for both methods.
func DefaultImbalanced() FashionConfig {
	return FashionConfig{N: 4000, Ratio: 10, Budget: 2500, Runs: 4, Gammas: []float64{0.1, 1, 10, 100}, Seed: 17}
}

// DefaultBalanced is the notebook's balanced setting: 4000 images, LR+GD over the paper's γ grid.
func DefaultBalanced() FashionConfig {
	return FashionConfig{N: 4000, Ratio: 1, Budget: 2500, Runs: 3, Gammas: []float64{0.001, 0.01, 0.1, 1, 10, 100}, Seed: 17}
}

// Quick returns c at CI's size (the same code path).
func (c FashionConfig) Quick() FashionConfig {
	c.N, c.Budget, c.Runs = 600, 150, 3
	return c
}

// Check reports a configuration that cannot run.
func (c FashionConfig) Check() error {
	switch {
	case c.Ratio < 1 || c.N < c.Ratio+1:
		return fmt.Errorf("normlrexp: N = %d images at ratio %d:1 leaves no Trouser", c.N, c.Ratio)
	case c.Budget < 1:
		return fmt.Errorf("normlrexp: budget %d, want ≥ 1", c.Budget)
	case c.Runs < 3:
		return fmt.Errorf("normlrexp: %d runs, a claim is decided on at least 3", c.Runs)
	case len(c.Gammas) == 0:
		return fmt.Errorf("normlrexp: no step sizes")
	}
	for _, g := range c.Gammas {
		if !(g > 0) {
			return fmt.Errorf("normlrexp: step size %g, want > 0", g)
		}
	}
	return nil
}

// subset draws subset i of the configuration (0: validation).
func (c FashionConfig) subset(fm *data.Set, i int) ([][]float64, []float64, error) {
	nPos := c.N / (c.Ratio + 1)
	return TwoClass(fm, c.N-nPos, nPos, c.Seed*1000+uint64(i))
}

// Tuning is the validation subset's counts per step size and the step size chosen (fewest iterations;
// the smaller γ on a tie).
type Tuning struct {
	Gammas []float64 `json:"gammas"`
	Counts []Count   `json:"counts"`
	Chosen float64   `json:"chosen"`
}

// ImbalancedResult holds the imbalanced experiment: each method's tuning, and per run subset the counts of
// both methods at their tuned γ and at the paper's γ = 100; Traces are those of run subset 1 (LR+GD at
// γ = 100, Normalized LR+GD over the grid, the Normalized Batch Perceptron), for the figure.
type ImbalancedResult struct {
	TuneLR, TuneNorm       Tuning
	TunedLR, TunedNorm     []Count
	Paper100LR, Paper100NR []Count
	Traces                 []Trace
}

// runner runs methods on one subset, each at most once.
type runner struct {
	a      [][]float64
	y      []float64
	budget int
	extra  int
	done   map[string]Trace
}

func (r *runner) run(m Method) (Trace, error) {
	if t, ok := r.done[m.Name]; ok {
		return t, nil
	}
	t, err := Run(m, r.a, r.y, r.budget, r.extra)
	if err == nil {
		r.done[m.Name] = t
	}
	return t, err
}

func (c FashionConfig) runner(fm *data.Set, i, extra int) (*runner, error) {
	a, y, err := c.subset(fm, i)
	if err != nil {
		return nil, err
	}
	return &runner{a: a, y: y, budget: c.Budget, extra: extra, done: map[string]Trace{}}, nil
}

// tune runs method(γ) for every γ of the grid on the validation subset.
func tune(r *runner, gammas []float64, method func(float64) Method, progress func(string)) (Tuning, error) {
	t := Tuning{Gammas: gammas}
	best := -1
	for i, g := range gammas {
		tr, err := r.run(method(g))
		if err != nil {
			return Tuning{}, err
		}
		t.Counts = append(t.Counts, tr.Count)
		if best < 0 || tr.Count.Value() < t.Counts[best].Value() {
			best = i
		}
		progress("validation " + tr.Method)
	}
	t.Chosen = gammas[best]
	return t, nil
}

// Imbalanced runs the imbalanced experiment on fm (Fashion-MNIST's training set, pixels in [0, 1]).
func Imbalanced(c FashionConfig, fm *data.Set, progress func(string)) (ImbalancedResult, error) {
	if err := c.Check(); err != nil {
		return ImbalancedResult{}, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	var res ImbalancedResult
	val, err := c.runner(fm, 0, -1)
	if err != nil {
		return res, err
	}
	if res.TuneLR, err = tune(val, c.Gammas, LRGD, progress); err != nil {
		return res, err
	}
	if res.TuneNorm, err = tune(val, c.Gammas, NormalizedLRGD, progress); err != nil {
		return res, err
	}
	for i := 1; i <= c.Runs; i++ {
		extra := -1
		if i == 1 {
			extra = 20
		}
		r, err := c.runner(fm, i, extra)
		if err != nil {
			return res, err
		}
		var counts [4]Count
		for k, m := range []Method{LRGD(res.TuneLR.Chosen), NormalizedLRGD(res.TuneNorm.Chosen), LRGD(100), NormalizedLRGD(100)} {
			tr, err := r.run(m)
			if err != nil {
				return res, err
			}
			counts[k] = tr.Count
			progress(fmt.Sprintf("run %d %s", i, m.Name))
		}
		res.TunedLR, res.TunedNorm = append(res.TunedLR, counts[0]), append(res.TunedNorm, counts[1])
		res.Paper100LR, res.Paper100NR = append(res.Paper100LR, counts[2]), append(res.Paper100NR, counts[3])
		if i == 1 {
			shown := []Method{LRGD(100)}
			for _, g := range c.Gammas {
				shown = append(shown, NormalizedLRGD(g))
			}
			for _, m := range append(shown, BatchPerceptron(true)) {
				tr, err := r.run(m)
				if err != nil {
					return res, err
				}
				res.Traces = append(res.Traces, tr)
			}
		}
	}
	return res, nil
}

// BalancedResult holds the balanced experiment: the traces of run subset 1 (LR+GD over the γ grid and the
// Batch Perceptron) and, per run subset, the counts of LR+GD at γ = Small and γ = Large.
type BalancedResult struct {
	Small, Large           float64
	CountSmall, CountLarge []Count
	Traces                 []Trace
}

// Balanced runs the balanced experiment on fm; small and large are the two step sizes compared on every
// run subset (both must be in c.Gammas).
func Balanced(c FashionConfig, fm *data.Set, small, large float64, progress func(string)) (BalancedResult, error) {
	if err := c.Check(); err != nil {
		return BalancedResult{}, err
	}
	if !slices.Contains(c.Gammas, small) || !slices.Contains(c.Gammas, large) || !(small < large) {
		return BalancedResult{}, fmt.Errorf("normlrexp.Balanced: compared step sizes %g < %g must both be in the grid %v", small, large, c.Gammas)
	}
	if progress == nil {
		progress = func(string) {}
	}
	res := BalancedResult{Small: small, Large: large}
	for i := 1; i <= c.Runs; i++ {
		extra := -1
		if i == 1 {
			extra = 20
		}
		r, err := c.runner(fm, i, extra)
		if err != nil {
			return res, err
		}
		ms := []Method{LRGD(small), LRGD(large)}
		if i == 1 {
			ms = nil
			for _, g := range c.Gammas {
				ms = append(ms, LRGD(g))
			}
			ms = append(ms, BatchPerceptron(false))
		}
		for _, m := range ms {
			tr, err := r.run(m)
			if err != nil {
				return res, err
			}
			if i == 1 {
				res.Traces = append(res.Traces, tr)
			}
			progress(fmt.Sprintf("run %d %s", i, m.Name))
		}
		s, _ := r.run(LRGD(small))
		l, _ := r.run(LRGD(large))
		res.CountSmall, res.CountLarge = append(res.CountSmall, s.Count), append(res.CountLarge, l.Count)
	}
	return res, nil
}

// Values returns the counts as numbers for statistics (Count.Value).
func Values(cs []Count) []float64 {
	v := make([]float64, len(cs))
	for i, c := range cs {
		v[i] = c.Value()
	}
	return v
}
