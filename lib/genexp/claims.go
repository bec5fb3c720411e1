package genexp

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/verdict"
)

// The measures the claims compare, named before the run: Jiang et al. found the magnitude-aware
// PAC-Bayes and sharpness flatness measures among the best predictors of the gap and the spectral-norm
// product among the worst.
const (
	FlatPACBayes  = "pacbayes.mag.flatness"
	FlatSharpness = "sharpness.mag.flatness"
	SpecProduct   = "log.prod.of.spec"
)

// ParityN is the dimension of the parity trade-off (n of F₂ⁿ).
const ParityN = 20

// Result is the whole experiment.
type Result struct {
	Config   Config
	Twin     *Twin
	Families []*Family
	Parity   *ParityCurves
}

// Run runs the twin experiment, cfg.Runs families and the parity curves (m = 10 … 30 over F₂²⁰,
// parityTrials samples per m). done, if set, is told after each trained model.
func Run(d Data, cfg Config, parityTrials int, done func(string)) (*Result, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	say := func(s string) {
		if done != nil {
			done(s)
		}
	}
	r := &Result{Config: cfg}
	var err error
	if r.Twin, err = RunTwin(d, cfg); err != nil {
		return nil, err
	}
	say("twin")
	for run := range cfg.Runs {
		f, err := RunFamily(d, cfg, run, func(m Model) {
			say(fmt.Sprintf("run %d, noise %.2f, width %d: train error %.3f, test error %.3f", run, m.Noise, m.Width, m.TrainErr, m.TestErr))
		})
		if err != nil {
			return nil, err
		}
		r.Families = append(r.Families, f)
	}
	if r.Parity, err = Parity(ParityN, 10, 30, parityTrials, cfg.Seed); err != nil {
		return nil, err
	}
	return r, nil
}

// Models returns the number of models Run trains (for a progress bar): the twin and every family.
func (c Config) Models() int { return 1 + c.Runs*len(c.Noises)*len(c.Widths) }

// Claims returns the claims decided by verdict.Decide, in the order the notebook states them:
//
//  1. Comparison, paired over runs: τ(pacbayes.mag.flatness, gap) > τ(log.prod.of.spec, gap);
//  2. Comparison, paired over runs: τ(sharpness.mag.flatness, gap) > τ(log.prod.of.spec, gap);
//  3. Exact: the best achievable estimation error of the parity learner over F₂²⁰ (closed form) peaks
//     at m ∈ [n − 1, n + 1], where the learner starts to succeed;
//
// and the sanity checks (never counted): the twin networks and all their measures are identical and
// their test errors under the two populations differ by ≥ 0.5; the sweep drives the gap
// (τ(noise, gap) ≥ 0.6 in every run); the simulated parity learner is within 4 SE of the closed form.
func (r *Result) Claims() ([]verdict.Claim, error) {
	if r.Twin == nil || r.Parity == nil || len(r.Families) == 0 {
		return nil, fmt.Errorf("genexp: incomplete result (twin %v, %d families, parity %v)", r.Twin != nil, len(r.Families), r.Parity != nil)
	}
	spec, err := TausAcross(r.Families, SpecProduct)
	if err != nil {
		return nil, err
	}
	var cs []verdict.Claim
	for _, name := range []string{FlatPACBayes, FlatSharpness} {
		flat, err := TausAcross(r.Families, name)
		if err != nil {
			return nil, err
		}
		cs = append(cs, verdict.Claim{
			Claim: fmt.Sprintf("%s ranks the models by generalization gap better than %s (Kendall τ with the gap, per family)", name, SpecProduct),
			Kind:  verdict.Comparison, Method: flat, Baseline: spec, Paired: true,
			Detail: fmt.Sprintf("%d models per family", len(r.Families[0].Models)),
		})
	}
	n, p := r.Parity.N, r.Parity.PeakM
	cs = append(cs, verdict.Claim{
		Claim: fmt.Sprintf("estimating a parity learner's error is hardest where it starts to learn: the best achievable E|err − est| over F₂^%d peaks at m ∈ [%d, %d] (closed form)", n, n-1, n+1),
		Kind:  verdict.Exact, Holds: p >= n-1 && p <= n+1, Value: float64(p),
	})
	tw := r.Twin
	cs = append(cs,
		verdict.Claim{Claim: "twin: the networks trained under D1 and D2 are bit-identical and so is every measure", Kind: verdict.Sanity,
			Holds: tw.Identical && tw.SameMeasures},
		verdict.Claim{Claim: "twin: test error under D2 − under D1 ≥ 0.5 (any E(S,h) is off by ≥ 0.25 on one)", Kind: verdict.Sanity,
			Holds: tw.ErrD2-tw.ErrD1 >= 0.5, Value: tw.ErrD2 - tw.ErrD1})
	worst := math.Inf(1)
	for _, f := range r.Families {
		tn, err := f.NoiseTau()
		if err != nil {
			return nil, err
		}
		worst = math.Min(worst, tn)
	}
	cs = append(cs,
		verdict.Claim{Claim: "the sweep drives the gap: τ(noise rate, gap) ≥ 0.6 in every family (smallest shown)", Kind: verdict.Sanity,
			Holds: worst >= 0.6, Value: worst},
		verdict.Claim{Claim: "the simulated parity learner is within 4 SE of the closed form at every m (largest deviation shown)", Kind: verdict.Sanity,
			Holds: r.Parity.WorstZ <= 4, Value: r.Parity.WorstZ})
	return cs, nil
}
