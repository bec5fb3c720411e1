// Package proxyexp runs the learning-rate sweep of Wortsman et al., "Small-scale proxies for
// large-scale Transformer training instabilities", ICLR 2024, arXiv:2309.14322, at notebook scale, in
// the form a verdict needs.
//
// The sweep trains every arm (the baseline, +qk-layernorm, +z-loss, +both) at every learning rate of
// one grid, from Runs independent initialisations and data orders (run r: initialisation seed r+1,
// batch seed r+101; the arms share them, so run r of two arms is paired). Every arm sees the same
// grid, so method and baseline get the same tuning budget; the paper's summary, the LR sensitivity
// (proxies.LRSensitivity), is computed per run.
//
// Before the sweep, a pilot decides the scale: candidate model scales, cheapest first, are tried one
// at a time with one baseline run per learning rate (its own seeds, never used by the sweep), and the
// first scale at which the baseline's max attention logit grows by at least Growth× over a run at
// some learning rate ≤ MaxFocusLR is kept; the smallest such learning rate is the focus of the
// per-step measurements. When no candidate shows it, the last scale is kept with no focus, and the
// claims about attention-logit growth are not testable at that scale.
package proxyexp

import (
	"errors"
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/proxies"
)

// Arm is one configuration of the sweep. The baseline has neither intervention.
type Arm struct {
	Name   string
	QKNorm bool
	// ZLoss is α_z of the output-logit z-loss (0: off).
	ZLoss float64
}

// Scale is a model size and training length.
type Scale struct {
	Name                    string
	Dim, Heads, Layers, FFN int
	Seq, Batch              int
	Steps, Warmup           int
}

// LM is the model of arm a at this scale.
func (s Scale) LM(a Arm, vocab int) proxies.LMConfig {
	return proxies.LMConfig{Vocab: vocab, Seq: s.Seq, Dim: s.Dim, Heads: s.Heads, Layers: s.Layers, FFN: s.FFN, QKNorm: a.QKNorm}
}

// Config is the whole experiment.
type Config struct {
	Markov proxies.MarkovConfig
	// Scales are the candidates of the pilot, cheapest first.
	Scales []Scale
	LRs    []float64
	// Growth is the factor by which the baseline's max attention logit must grow over a pilot run
	// (peak over the steps / first step) at some learning rate ≤ MaxFocusLR.
	Growth, MaxFocusLR float64
	// Arms[0] is the baseline (no qk-layernorm, no z-loss).
	Arms []Arm
	Runs int
	// Clip is the global gradient-norm clip.
	Clip float64
	// PilotSeed is the pilot's initialisation seed (its batches: PilotSeed+1).
	PilotSeed uint64
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case len(c.Scales) == 0 || len(c.LRs) == 0 || len(c.Arms) == 0:
		return errors.New("proxyexp: no scales, learning rates or arms")
	case c.Runs < 1:
		return fmt.Errorf("proxyexp: %d runs, want ≥ 1", c.Runs)
	case c.Arms[0].QKNorm || c.Arms[0].ZLoss != 0:
		return fmt.Errorf("proxyexp: the first arm %q must be the baseline (no qk-layernorm, no z-loss)", c.Arms[0].Name)
	case !(c.Growth > 0) || !(c.MaxFocusLR > 0):
		return fmt.Errorf("proxyexp: Growth (%g) and MaxFocusLR (%g) must be positive", c.Growth, c.MaxFocusLR)
	}
	for i, lr := range c.LRs {
		if !(lr > 0) || (i > 0 && lr <= c.LRs[i-1]) {
			return fmt.Errorf("proxyexp: learning rates %v must be positive and increasing", c.LRs)
		}
	}
	for _, s := range c.Scales {
		for _, a := range c.Arms {
			if err := s.LM(a, c.Markov.Vocab).Check(); err != nil {
				return fmt.Errorf("proxyexp: scale %q: %w", s.Name, err)
			}
		}
		if s.Steps < 1 || s.Batch < 1 || s.Warmup < 0 {
			return fmt.Errorf("proxyexp: scale %q: steps %d, batch %d, warm-up %d", s.Name, s.Steps, s.Batch, s.Warmup)
		}
	}
	return nil
}

// Run is one training run of an arm at a learning rate: its losses and its per-step measurements.
type Run struct {
	Arm  string
	LR   float64
	Run  int // 0-based index of the independent run (−1: a pilot run)
	Init float64
	// Final is the held-out loss after training (NaN when the run diverged).
	Final    float64
	Diverged bool
	// Per step: the max over layers of max |q·k|/√d_h, the mean log Z of the output logits, the mean
	// attention entropy over layers (nats), and the training loss.
	MaxLogit, LogZ, Entropy, Loss []float64
}

// Growth is the peak max attention logit of the run over its first step's (0 without steps).
func (r *Run) Growth() float64 {
	if len(r.MaxLogit) == 0 || !(r.MaxLogit[0] > 0) {
		return 0
	}
	return r.PeakLogit() / r.MaxLogit[0]
}

// PeakLogit is the largest max attention logit over the steps (NaN steps skipped; +Inf counts).
func (r *Run) PeakLogit() float64 {
	p := 0.0
	for _, v := range r.MaxLogit {
		if v > p {
			p = v
		}
	}
	return p
}

// LastAbsLogZ is |log Z| at the last finite step.
func (r *Run) LastAbsLogZ() float64 {
	for i := len(r.LogZ) - 1; i >= 0; i-- {
		if v := r.LogZ[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			return math.Abs(v)
		}
	}
	return math.NaN()
}

// Pilot is the pilot's baseline run at every learning rate of one scale.
type Pilot struct {
	Scale  string
	Growth []float64 // per learning rate of the grid
	// Focus is the smallest learning rate ≤ MaxFocusLR whose growth reaches Config.Growth (0: none).
	Focus float64
}

// Result is the experiment: the pilots, the chosen scale and its sweep.
type Result struct {
	Pilots []Pilot
	Scale  Scale
	// Focus is the learning rate of the per-step measurements (0: the baseline showed no
	// attention-logit growth at any candidate scale).
	Focus float64
	Runs  []Run
}

// train runs arm a at learning rate lr with the given seeds.
func train(m *proxies.LM, c *proxies.Corpus, s Scale, a Arm, lr, clip float64, seed, dataSeed uint64) (Run, error) {
	res, err := m.Train(c, proxies.RunConfig{LR: lr, Steps: s.Steps, Warmup: s.Warmup, Batch: s.Batch, ZLoss: a.ZLoss,
		Clip: clip, Seed: seed, DataSeed: dataSeed})
	if err != nil {
		return Run{}, fmt.Errorf("proxyexp: %s at η=%g: %w", a.Name, lr, err)
	}
	r := Run{Arm: a.Name, LR: lr, Init: res.InitEval, Final: res.FinalEval, Diverged: res.Diverged}
	for _, st := range res.History {
		ml, ent := 0.0, 0.0
		for l := range st.MaxLogit {
			ml = math.Max(ml, st.MaxLogit[l])
			ent += st.Entropy[l] / float64(len(st.Entropy))
		}
		if math.IsNaN(st.MaxLogit[0]) {
			ml = math.NaN()
		}
		r.MaxLogit = append(r.MaxLogit, ml)
		r.LogZ = append(r.LogZ, st.LogZ)
		r.Entropy = append(r.Entropy, ent)
		r.Loss = append(r.Loss, st.Loss)
	}
	return r, nil
}

// RunPilot runs the pilot and returns its scales' results and the index of the chosen scale.
func RunPilot(c Config, corpus *proxies.Corpus, progress func(done string)) ([]Pilot, int, error) {
	var pilots []Pilot
	for i, s := range c.Scales {
		m, err := proxies.NewLM(s.LM(c.Arms[0], c.Markov.Vocab))
		if err != nil {
			return nil, 0, err
		}
		p := Pilot{Scale: s.Name}
		for _, lr := range c.LRs {
			r, err := train(m, corpus, s, c.Arms[0], lr, c.Clip, c.PilotSeed, c.PilotSeed+1)
			if err != nil {
				return nil, 0, fmt.Errorf("proxyexp: pilot at scale %q: %w", s.Name, err)
			}
			g := r.Growth()
			p.Growth = append(p.Growth, g)
			if p.Focus == 0 && lr <= c.MaxFocusLR && g >= c.Growth {
				p.Focus = lr
			}
			if progress != nil {
				progress(fmt.Sprintf("pilot %s, baseline η=%g: max attention logit grows %.3g×", s.Name, lr, g))
			}
		}
		pilots = append(pilots, p)
		if p.Focus > 0 {
			return pilots, i, nil
		}
	}
	return pilots, len(c.Scales) - 1, nil
}

// Execute runs the pilot, then the sweep at the chosen scale: every arm at every learning rate, Runs
// times. progress, if not nil, is called after every training run.
func Execute(c Config, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	corpus, err := proxies.Markov(c.Markov)
	if err != nil {
		return nil, err
	}
	pilots, chosen, err := RunPilot(c, corpus, progress)
	if err != nil {
		return nil, err
	}
	res := &Result{Pilots: pilots, Scale: c.Scales[chosen], Focus: pilots[chosen].Focus}
	models := map[bool]*proxies.LM{} // arms with the same model share its compiled graphs (α_z is an input)
	for _, a := range c.Arms {
		if models[a.QKNorm] == nil {
			if models[a.QKNorm], err = proxies.NewLM(res.Scale.LM(a, c.Markov.Vocab)); err != nil {
				return nil, err
			}
		}
		for _, lr := range c.LRs {
			for r := range c.Runs {
				run, err := train(models[a.QKNorm], corpus, res.Scale, a, lr, c.Clip, uint64(r+1), uint64(r+101))
				if err != nil {
					return nil, fmt.Errorf("%w (run %d)", err, r+1)
				}
				run.Run = r
				res.Runs = append(res.Runs, run)
				if progress != nil {
					progress(fmt.Sprintf("%s η=%g run %d: final loss %.3f", a.Name, lr, r+1, run.Final))
				}
			}
		}
	}
	return res, nil
}

// Find returns run r of arm at learning rate lr (nil if none).
func (res *Result) Find(arm string, lr float64, r int) *Run {
	for i := range res.Runs {
		if x := &res.Runs[i]; x.Arm == arm && x.LR == lr && x.Run == r {
			return x
		}
	}
	return nil
}

// NumRuns is the number of independent runs of the sweep.
func (res *Result) NumRuns() int {
	n := 0
	for _, r := range res.Runs {
		n = max(n, r.Run+1)
	}
	return n
}

// LRs are the learning rates of the sweep, in order.
func (res *Result) LRs() []float64 {
	var lrs []float64
	for _, r := range res.Runs {
		if len(lrs) == 0 || r.LR > lrs[len(lrs)-1] {
			lrs = append(lrs, r.LR)
		}
	}
	return lrs
}

// each returns f of every run r of arm, over the grid, for r = 0 … NumRuns−1.
func (res *Result) each(arm string, f func(grid []*Run) (float64, error)) ([]float64, error) {
	var out []float64
	for r := range res.NumRuns() {
		var grid []*Run
		for _, lr := range res.LRs() {
			x := res.Find(arm, lr, r)
			if x == nil {
				return nil, fmt.Errorf("proxyexp: no run %d of %q at η=%g", r+1, arm, lr)
			}
			grid = append(grid, x)
		}
		v, err := f(grid)
		if err != nil {
			return nil, fmt.Errorf("proxyexp: %s, run %d: %w", arm, r+1, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Finals returns the final held-out losses of run r of arm over the grid (NaN: diverged) and its
// loss at initialisation.
func (res *Result) Finals(arm string, r int) (ls []float64, init float64) {
	for _, lr := range res.LRs() {
		if x := res.Find(arm, lr, r); x != nil {
			ls, init = append(ls, x.Final), x.Init
		}
	}
	return ls, init
}

// LRS returns the LR sensitivity of each run of arm (proxies.LRSensitivity over the grid).
func (res *Result) LRS(arm string) ([]float64, error) {
	return res.each(arm, func(grid []*Run) (float64, error) {
		ls := make([]float64, len(grid))
		for i, x := range grid {
			ls[i] = x.Final
		}
		lrs, _, err := proxies.LRSensitivity(ls, grid[0].Init)
		return lrs, err
	})
}

// Spread returns, for each run of arm, its worst final loss over the grid minus its best (a diverged
// run counts as its loss at initialisation, as in the LR sensitivity).
func (res *Result) Spread(arm string) ([]float64, error) {
	return res.each(arm, func(grid []*Run) (float64, error) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range grid {
			l := x.Final
			if math.IsNaN(l) || math.IsInf(l, 0) {
				l = x.Init
			}
			lo, hi = math.Min(lo, l), math.Max(hi, l)
		}
		return hi - lo, nil
	})
}

// MeanAbsLogZ returns, for each run of arm, the mean over the grid of |log Z| at the last step.
func (res *Result) MeanAbsLogZ(arm string) ([]float64, error) {
	return res.each(arm, func(grid []*Run) (float64, error) {
		s := 0.0
		for _, x := range grid {
			v := x.LastAbsLogZ()
			if math.IsNaN(v) {
				return 0, fmt.Errorf("η=%g has no finite log Z", x.LR)
			}
			s += v
		}
		return s / float64(len(grid)), nil
	})
}

// Log10Peak returns, for each run of arm at learning rate lr, log₁₀ of its peak max attention logit.
func (res *Result) Log10Peak(arm string, lr float64) ([]float64, error) {
	return res.at(arm, lr, func(x *Run) float64 { return math.Log10(x.PeakLogit()) })
}

// Log10Growth returns, for each run of arm at learning rate lr, log₁₀ of its max-logit growth.
func (res *Result) Log10Growth(arm string, lr float64) ([]float64, error) {
	return res.at(arm, lr, func(x *Run) float64 { return math.Log10(x.Growth()) })
}

// at returns f of every run of arm at learning rate lr.
func (res *Result) at(arm string, lr float64, f func(*Run) float64) ([]float64, error) {
	var out []float64
	for r := range res.NumRuns() {
		x := res.Find(arm, lr, r)
		if x == nil {
			return nil, fmt.Errorf("proxyexp: no run %d of %q at η=%g", r+1, arm, lr)
		}
		out = append(out, f(x))
	}
	return out, nil
}
