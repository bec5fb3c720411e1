package advmdp

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// Tuning sets a learner's hyperparameters as powers of the horizon K:
// η = CEta·K^(−EtaExp), γ = CGamma·K^(−GammaExp) (capped at 1), β = CBeta·K^(−BetaExp).
type Tuning struct {
	Name      string
	Algorithm Algorithm
	Estimator Estimator
	CEta      float64
	EtaExp    float64
	CGamma    float64
	GammaExp  float64
	CBeta     float64
	BetaExp   float64
}

// Config returns the run configuration of the tuning at horizon K with the given trajectory seed.
func (t Tuning) Config(K int, seed uint64) Config {
	k := float64(K)
	return Config{
		Algorithm: t.Algorithm,
		Estimator: t.Estimator,
		Eta:       t.CEta * math.Pow(k, -t.EtaExp),
		Gamma:     min(1, t.CGamma*math.Pow(k, -t.GammaExp)),
		Beta:      t.CBeta * math.Pow(k, -t.BetaExp),
		Seed:      seed,
	}
}

// LogBarrierTuning is the paper's rate for log-barrier FTRL: η = cη/√K, γ = 1/√K, no bonus.
func LogBarrierTuning(cEta float64) Tuning {
	return Tuning{Name: fmt.Sprintf("log-barrier cη=%g", cEta), Algorithm: LogBarrier, CEta: cEta, EtaExp: 0.5, CGamma: 1, GammaExp: 0.5}
}

// HedgeSqrtTuning is Hedge with the same estimator and the same √K rates: η = cη/√K, γ = 1/√K.
func HedgeSqrtTuning(cEta float64) Tuning {
	return Tuning{Name: fmt.Sprintf("hedge √K cη=%g", cEta), Algorithm: Hedge, CEta: cEta, EtaExp: 0.5, CGamma: 1, GammaExp: 0.5}
}

// HedgePriorTuning is Hedge with the prior-work tuning η = cη·K^(−2/3), γ = K^(−1/3), whose
// exploration cost γK = K^(2/3) keeps η|Q̂| bounded.
func HedgePriorTuning(cEta float64) Tuning {
	return Tuning{Name: fmt.Sprintf("hedge K^⅔ cη=%g", cEta), Algorithm: Hedge, CEta: cEta, EtaExp: 2.0 / 3, CGamma: 1, GammaExp: 1.0 / 3}
}

// Sweep is a regret-against-K experiment: every tuning runs at every horizon in Ks on Seeds random
// MDPs and adversaries (seed i draws MDP i with Gen and its adversary with Adv; the learners of one
// seed share them).
type Sweep struct {
	Ks    []int
	Seeds int
	// FirstSeed is the first seed: the runs use seeds FirstSeed, …, FirstSeed+Seeds−1 (use disjoint
	// seed ranges to tune and to evaluate).
	FirstSeed uint64
	Tunings   []Tuning
	Gen       GenConfig       // zero value means DefaultGen
	Adv       AdversaryConfig // zero value means DefaultAdversary
	// Workers bounds the parallel runs (0 = GOMAXPROCS). Results do not depend on it.
	Workers int
}

// SweepResult holds Regret[t][seed][i] for tuning t at horizon Ks[i], and the most negative
// estimate seen in each run, MinQ[t][seed][i].
type SweepResult struct {
	Ks      []int
	Tunings []Tuning
	Regret  [][][]float64
	MinQ    [][][]float64
}

// Run runs the sweep; progress (may be nil) is called after each finished run with the number of
// runs done and the total. Runs are independent and seeded, so the result is deterministic.
func (sw Sweep) Run(progress func(done, total int)) (*SweepResult, error) {
	if len(sw.Ks) == 0 || sw.Seeds < 1 || len(sw.Tunings) == 0 {
		return nil, errors.New("advmdp: Sweep needs at least one K, one seed and one tuning")
	}
	for _, K := range sw.Ks {
		if K < 1 {
			return nil, fmt.Errorf("advmdp: Sweep: horizon %d must be ≥ 1", K)
		}
	}
	gen, advCfg := sw.Gen, sw.Adv
	if gen == (GenConfig{}) {
		gen = DefaultGen
	}
	if advCfg == (AdversaryConfig{}) {
		advCfg = DefaultAdversary
	}
	T, nS, nK := len(sw.Tunings), sw.Seeds, len(sw.Ks)
	res := &SweepResult{Ks: append([]int(nil), sw.Ks...), Tunings: append([]Tuning(nil), sw.Tunings...)}
	res.Regret, res.MinQ = make([][][]float64, T), make([][][]float64, T)
	for t := range T {
		res.Regret[t], res.MinQ[t] = make([][]float64, nS), make([][]float64, nS)
		for s := range nS {
			res.Regret[t][s], res.MinQ[t][s] = make([]float64, nK), make([]float64, nK)
		}
	}
	mdps := make([]*MDP, nS)
	for s := range nS {
		m, err := Generate(gen, sw.FirstSeed+uint64(s))
		if err != nil {
			return nil, err
		}
		mdps[s] = m
	}
	type job struct{ s, i int }
	jobs := make(chan job)
	workers := sw.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	total := nS * nK * T
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				K := sw.Ks[j.i]
				seed := sw.FirstSeed + uint64(j.s)
				adv, err := NewAdversary(mdps[j.s], K, advCfg, seed)
				for t, tu := range sw.Tunings {
					var r *Result
					if err == nil {
						r, err = Run(mdps[j.s], adv, tu.Config(K, seed*1000003+uint64(t)))
					}
					mu.Lock()
					if err != nil {
						if firstErr == nil {
							firstErr = fmt.Errorf("advmdp: Sweep: %s, K=%d, seed %d: %w", tu.Name, K, seed, err)
						}
					} else {
						res.Regret[t][j.s][j.i] = r.Regret
						mq := math.Inf(1)
						for _, v := range r.MinQ {
							mq = min(mq, v)
						}
						res.MinQ[t][j.s][j.i] = mq
					}
					done++
					if progress != nil {
						progress(done, total)
					}
					mu.Unlock()
				}
			}
		}()
	}
	// Largest horizons first, so the long runs do not end up last on one worker.
	for i := nK - 1; i >= 0; i-- {
		for s := range nS {
			jobs <- job{s, i}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return res, nil
}

// Mean returns, for tuning t, the mean regret over seeds at each horizon and its standard error
// (sample standard deviation / √seeds).
func (r *SweepResult) Mean(t int) (mean, se []float64) {
	nK := len(r.Ks)
	mean, se = make([]float64, nK), make([]float64, nK)
	for i := range nK {
		xs := make([]float64, len(r.Regret[t]))
		for s := range r.Regret[t] {
			xs[s] = r.Regret[t][s][i]
		}
		mean[i], se[i] = MeanSE(xs)
	}
	return mean, se
}

// Runs returns the regret runs of tuning t, runs[seed][i] at horizon Ks[i] (the layout viz.MeanBand and
// BootstrapSlope take).
func (r *SweepResult) Runs(t int) [][]float64 { return r.Regret[t] }

// MeanSE returns the mean of xs and its standard error (sample sd/√n; 0 for n = 1).
func MeanSE(xs []float64) (mean, se float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// FitSlope fits log y = a + b·log x by least squares and returns the slope b and intercept a. All
// x and y must be positive; it returns an error otherwise (regret can be ≤ 0 against a fixed
// comparator, in which case no power law fits).
func FitSlope(x, y []float64) (slope, intercept float64, err error) {
	if len(x) != len(y) || len(x) < 2 {
		return 0, 0, fmt.Errorf("advmdp: FitSlope needs ≥ 2 points of equal length, got %d and %d", len(x), len(y))
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		if !(x[i] > 0) || !(y[i] > 0) || math.IsInf(x[i], 0) || math.IsInf(y[i], 0) {
			return 0, 0, fmt.Errorf("advmdp: FitSlope: point %d (%v, %v) is not positive and finite", i, x[i], y[i])
		}
		lx, ly := math.Log(x[i]), math.Log(y[i])
		sx += lx
		sy += ly
		sxx += lx * lx
		sxy += lx * ly
	}
	n := float64(len(x))
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, 0, errors.New("advmdp: FitSlope: all x are equal")
	}
	slope = (n*sxy - sx*sy) / den
	return slope, (sy - slope*sx) / n, nil
}

// SlopeCI is a fitted log-log growth rate with a bootstrap interval.
type SlopeCI struct {
	Slope    float64 // slope of log(mean regret) against log K over all seeds
	Lo, Hi   float64 // percentile bootstrap interval (resampling seeds)
	Level    float64 // e.g. 0.9
	Resample int     // bootstrap samples that could be fitted (all means positive)
	Skipped  int     // bootstrap samples with a non-positive mean regret (no power law)
}

// BootstrapSlope fits the slope of log mean-regret against log K for runs[seed][i] at horizons Ks,
// and a percentile interval at the given level from B bootstrap resamples of the seeds (seeded,
// so reproducible). It returns an error if the mean over all seeds is not positive at every K.
func BootstrapSlope(Ks []int, runs [][]float64, B int, level float64, seed uint64) (SlopeCI, error) {
	if len(runs) < 2 || B < 10 || !(level > 0 && level < 1) {
		return SlopeCI{}, fmt.Errorf("advmdp: BootstrapSlope needs ≥ 2 seeds, B ≥ 10 and level in (0,1); got %d, %d, %v", len(runs), B, level)
	}
	x := make([]float64, len(Ks))
	for i, K := range Ks {
		x[i] = float64(K)
	}
	meanOf := func(idx []int) []float64 {
		m := make([]float64, len(Ks))
		for _, s := range idx {
			for i := range Ks {
				m[i] += runs[s][i] / float64(len(idx))
			}
		}
		return m
	}
	all := make([]int, len(runs))
	for i := range all {
		all[i] = i
	}
	slope, _, err := FitSlope(x, meanOf(all))
	if err != nil {
		return SlopeCI{}, err
	}
	out := SlopeCI{Slope: slope, Level: level}
	rng := newRand(seed, 0xb007)
	var slopes []float64
	idx := make([]int, len(runs))
	for range B {
		for i := range idx {
			idx[i] = rng.IntN(len(runs))
		}
		b, _, err := FitSlope(x, meanOf(idx))
		if err != nil {
			out.Skipped++
			continue
		}
		slopes = append(slopes, b)
	}
	out.Resample = len(slopes)
	if len(slopes) == 0 {
		return out, fmt.Errorf("advmdp: BootstrapSlope: no bootstrap resample had positive mean regret at every K")
	}
	slices.Sort(slopes)
	q := func(p float64) float64 {
		i := int(math.Round(p * float64(len(slopes)-1)))
		return slopes[i]
	}
	out.Lo, out.Hi = q((1-level)/2), q((1+level)/2)
	return out, nil
}
