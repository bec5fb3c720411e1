package enslossexp

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Tuning is one arm's tuning: the validation accuracy (last epoch) of each learning rate of the grid,
// one run each from Config.TuneSeed, and the chosen rate (the best; the smaller on ties). A rate whose
// run diverged has Diverged set and validation accuracy 0, so it is never chosen over one that trained.
type Tuning struct {
	Arm      string
	LRs      []float64
	ValAcc   []float64
	Diverged []bool
	Best     float64
}

// Result is the whole experiment: each arm's tuning and its final runs (Runs[arm][i] is run i).
type Result struct {
	Tuning []Tuning
	Runs   map[string][]Run
}

// Tune tunes arm's learning rate over c.LRs on the validation split of the tuning data.
func (c Config) Tune(arm string, progress func(string)) (Tuning, error) {
	tr, val := c.Data(c.TuneSeed, true)
	t := Tuning{Arm: arm, LRs: slices.Clone(c.LRs)}
	for _, lr := range c.LRs {
		r, err := c.Train(arm, lr, c.TuneSeed, tr, val)
		diverged := errors.Is(err, ErrDiverged)
		if err != nil && !diverged {
			return Tuning{}, err
		}
		acc := 0.0
		if !diverged {
			acc, _ = r.Final()
		}
		t.ValAcc, t.Diverged = append(t.ValAcc, acc), append(t.Diverged, diverged)
		if progress != nil {
			progress(fmt.Sprintf("tuning %s lr=%g: validation accuracy %.3f (diverged: %v)", arm, lr, acc, diverged))
		}
	}
	if !slices.Contains(t.Diverged, false) {
		return Tuning{}, fmt.Errorf("enslossexp: %s diverged at every learning rate of %v", arm, c.LRs)
	}
	best := slices.Index(t.Diverged, false)
	for i, a := range t.ValAcc {
		if !t.Diverged[i] && a > t.ValAcc[best] {
			best = i
		}
	}
	t.Best = t.LRs[best]
	return t, nil
}

// Steps is the number of progress reports Experiment makes (one per training run).
func (c Config) Steps() int { return len(Arms) * (len(c.LRs) + c.Runs) }

// Experiment tunes every arm, then trains each at its chosen learning rate for c.Runs independent runs
// (the arms of run i share its seed: training sample, initialisation, data order). A final run that
// diverges is kept and scored as the model it ended with (see Train and Run.Diverged). progress, if
// not nil, is called after every training run.
func (c Config) Experiment(progress func(string)) (Result, error) {
	if err := c.Check(); err != nil {
		return Result{}, err
	}
	res := Result{Runs: map[string][]Run{}}
	for _, arm := range Arms {
		t, err := c.Tune(arm, progress)
		if err != nil {
			return Result{}, err
		}
		res.Tuning = append(res.Tuning, t)
	}
	for i := range c.Runs {
		seed := c.RunSeed(i)
		tr, te := c.Data(seed, false)
		for _, t := range res.Tuning {
			r, err := c.Train(t.Arm, t.Best, seed, tr, te)
			if err != nil && !errors.Is(err, ErrDiverged) {
				return Result{}, err
			}
			res.Runs[t.Arm] = append(res.Runs[t.Arm], r)
			if progress != nil {
				acc, mem := r.Final()
				progress(fmt.Sprintf("run %d %s: test accuracy %.3f, flipped labels fit %.2f, diverged at epoch %d (0: no)", i+1, t.Arm, acc, mem, r.Diverged))
			}
		}
	}
	return res, nil
}

// Final returns arm's last-epoch test accuracy and fraction of flipped training labels fit, one value
// per run.
func (r Result) Final(arm string) (acc, memorised []float64) {
	for _, run := range r.Runs[arm] {
		a, m := run.Final()
		acc, memorised = append(acc, a), append(memorised, m)
	}
	return acc, memorised
}

// DivergedRuns is the number of arm's final runs that diverged.
func (r Result) DivergedRuns(arm string) int {
	n := 0
	for _, run := range r.Runs[arm] {
		if run.Diverged > 0 {
			n++
		}
	}
	return n
}

// Peak returns, per run of arm, the best test accuracy over the evaluations minus the last one: how
// much test accuracy the run lost by training on (≥ 0).
func (r Result) Peak(arm string) []float64 {
	var out []float64
	for _, run := range r.Runs[arm] {
		out = append(out, slices.Max(run.EvalAcc)-run.EvalAcc[len(run.EvalAcc)-1])
	}
	return out
}

// Mean is the mean of xs (NaN when empty).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
