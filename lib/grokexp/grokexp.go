// Package grokexp runs the notebook-scale test of Li, Fan and Zhou, "Where to find Grokking in LLM
// Pretraining? Monitor Memorization-to-Generalization without Test" (arXiv:2506.21551), in the form a
// verdict needs: a small mixture-of-experts network (lib/grokking) learns (a + b) mod P full-batch, and
// the paper's two training-data-only metrics of its routing — the mean pathway distance D̄/(H·k) and the
// pathway consistency — are logged along training, for the real task and for a control trained on the
// same inputs with shuffled labels (nothing to generalise to).
//
// # Grokking and its window
//
// A run memorises at the first logged step where train accuracy reaches MemAcc and generalises at the
// first logged step where test accuracy reaches GenAcc (Milestone; a milestone never reached is shown as
// "not reached in N steps" and never enters a statistic). It groks when both are reached and generalisation
// comes at least MinDelay steps after memorisation; the steps between are its grokking window, where the
// training data alone no longer says what happens. The paper's claim, transferred to the toy: over the
// window, D̄ falls and consistency rises, more than in the shuffled-label control over the same steps.
//
// # Runs and the pilot
//
// Run r (0-based) of the experiment draws its own train/test split and initialisation (seed r+1) and its
// control's label permutation (seed r+1001); the real-label and shuffled-label runs of one index share
// the initialisation and the inputs, so they are paired. Each run also trains the dense network of the
// classic grokking setup (Power et al., "Grokking: Generalization beyond overfitting on small algorithmic
// datasets", arXiv:2201.02177) on the same split: the check that grokking happens at this scale.
//
// Before the runs a pilot picks the MoE's weight decay: the candidates are tried in order, one
// real-label run each on the pilot's own split and initialisation (PilotSeed, never used by the runs;
// its held-out pairs serve as the validation set), and the first candidate at which the MoE groks with
// a delay of at least PilotDelay steps (a margin over MinDelay, since the delay varies from run to run)
// is kept. When none does, the last candidate is kept and Result.Found is false: the MoE then shows no
// grokking at this scale, and the claims about the grokking window are not testable.
package grokexp

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/grokking"
)

// Config is the whole experiment.
type Config struct {
	// P is the modulus; TrainFrac the fraction of the P² pairs in the training set.
	P         int
	TrainFrac float64
	// Dense is the classic grokking network (Blocks = 0), trained with weight decay DenseDecay.
	Dense      grokking.Config
	DenseDecay float64
	// MoE is the mixture-of-experts network; Decays are the weight decays the pilot tries, in order.
	MoE    grokking.Config
	Decays []float64
	// LR is AdamW's learning rate for both networks (β = (0.9, 0.98), ε = 1e-8).
	LR float64
	// Steps is each run's number of full-batch steps; Every the logging interval.
	Steps, Every int
	// Pairs is the number of random sample pairs of D̄ (0: all pairs of the training set).
	Pairs int
	// MemAcc and GenAcc are the train and test accuracies of memorisation and generalisation; MinDelay
	// the fewest steps between them for a run to count as grokking.
	MemAcc, GenAcc float64
	MinDelay       int
	// PilotDelay is the delay the pilot asks of a candidate (≥ MinDelay).
	PilotDelay int
	Runs       int
	PilotSeed  uint64
}

// Default is the notebook's full size: the spec's dense setup on (a + b) mod 31 with 60% of the pairs
// for training (AdamW, lr 3·10⁻³, weight decay 1), and a small MoE — a dense ReLU stem, then 2 residual
// MoE blocks of 4 experts (top-2, expert width 16, Switch load balancing 0.01) — whose weight decay the
// pilot picks from {3, 2, 1.5, 1}; 4 000 steps logged every 50; D̄ over 20 000 random pairs;
// memorisation at train accuracy 0.99, generalisation at test accuracy 0.9, grokking when they are at
// least 500 steps apart (the pilot asks 1 000); 5 runs.
func Default() Config {
	return Config{
		P: 31, TrainFrac: 0.6,
		Dense: grokking.Config{P: 31, Hidden: 64}, DenseDecay: 1,
		MoE:    grokking.Config{P: 31, Blocks: 2, Experts: 4, TopK: 2, ExpertHidden: 16, Balance: 0.01, Stem: true},
		Decays: []float64{3, 2, 1.5, 1},
		LR:     3e-3, Steps: 4000, Every: 50, Pairs: 20000,
		MemAcc: 0.99, GenAcc: 0.9, MinDelay: 500, PilotDelay: 1000, Runs: 5, PilotSeed: 1000,
	}
}

// Quick is Default at CI sizes: the same code path with 3 runs of 200 steps and one pilot candidate
// (too few steps to grok: the claims come out not testable).
func Quick() Config {
	c := Default()
	c.Decays = c.Decays[:1]
	c.Steps, c.Every, c.Pairs, c.Runs = 200, 50, 2000, 3
	return c
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.Dense.Blocks != 0 || c.MoE.Blocks < 2:
		return fmt.Errorf("grokexp: Dense must be dense (Blocks 0, got %d) and MoE must have ≥ 2 blocks for the consistency (got %d)", c.Dense.Blocks, c.MoE.Blocks)
	case c.Dense.P != c.P || c.MoE.P != c.P:
		return fmt.Errorf("grokexp: the networks' moduli (%d, %d) differ from P = %d", c.Dense.P, c.MoE.P, c.P)
	case !(c.TrainFrac > 0 && c.TrainFrac < 1):
		return fmt.Errorf("grokexp: TrainFrac %g, want in (0, 1): grokking needs held-out pairs", c.TrainFrac)
	case len(c.Decays) == 0:
		return errors.New("grokexp: no weight decays for the pilot")
	case c.Steps < 1 || c.Every < 1 || c.Runs < 1 || c.Pairs < 0 || c.MinDelay < 0 || c.PilotDelay < c.MinDelay:
		return fmt.Errorf("grokexp: Steps (%d), Every (%d) and Runs (%d) must be ≥ 1, Pairs (%d) and MinDelay (%d) ≥ 0, PilotDelay (%d) ≥ MinDelay",
			c.Steps, c.Every, c.Runs, c.Pairs, c.MinDelay, c.PilotDelay)
	case !(c.MemAcc > 0 && c.MemAcc <= 1) || !(c.GenAcc > 0 && c.GenAcc <= 1):
		return fmt.Errorf("grokexp: MemAcc (%g) and GenAcc (%g) must be in (0, 1]", c.MemAcc, c.GenAcc)
	}
	if err := (grokking.Optimizer{LR: c.LR, WeightDecay: c.DenseDecay}).Check(); err != nil {
		return err
	}
	for _, d := range c.Decays {
		if err := (grokking.Optimizer{LR: c.LR, WeightDecay: d}).Check(); err != nil {
			return err
		}
	}
	for _, m := range []grokking.Config{c.Dense, c.MoE} {
		if err := m.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Point is one logged step of a run. Distance (D̄/(H·k)), Consistency and Entropy (expert usage per
// block, nats) are measured on the training set of the run, for MoE runs only.
type Point struct {
	Step                  int
	TrainLoss, TrainAcc   float64
	TestLoss, TestAcc     float64
	Distance, Consistency float64
	Entropy               []float64 `json:",omitempty"`
}

// Curve is one training run's log.
type Curve struct {
	Points []Point
	// Steps is the run's budget, for the milestones it never reached.
	Steps int
}

// Milestone is the first logged step at which something happened, or the fact that it did not happen
// within the run's budget.
type Milestone struct {
	Step    int
	Reached bool
	Budget  int
}

// String reads "step 250" or "not reached in 4000 steps".
func (m Milestone) String() string {
	if !m.Reached {
		return fmt.Sprintf("not reached in %d steps", m.Budget)
	}
	return fmt.Sprintf("step %d", m.Step)
}

// First returns the first logged step whose point satisfies ok.
func (c Curve) First(ok func(Point) bool) Milestone {
	for _, p := range c.Points {
		if ok(p) {
			return Milestone{Step: p.Step, Reached: true, Budget: c.Steps}
		}
	}
	return Milestone{Budget: c.Steps}
}

// At returns the point logged at step s.
func (c Curve) At(s int) (Point, error) {
	for _, p := range c.Points {
		if p.Step == s {
			return p, nil
		}
	}
	return Point{}, fmt.Errorf("grokexp: no point logged at step %d", s)
}

// Grokking is what a run shows about grokking.
type Grokking struct {
	Memorised, Generalised Milestone
	// Delay is Generalised − Memorised in steps, valid only when Groks or both milestones are reached.
	Delay int
	// Groks: both reached, with a delay of at least MinDelay steps.
	Groks bool
}

// String reads e.g. "memorised at step 200, generalised at step 2250 (delay 2050 steps)".
func (g Grokking) String() string {
	s := fmt.Sprintf("memorised: %s, generalised: %s", g.Memorised, g.Generalised)
	if g.Memorised.Reached && g.Generalised.Reached {
		s += fmt.Sprintf(" (delay %d steps)", g.Delay)
	}
	return s
}

// Grokking reads the milestones of curve c under the thresholds of cfg.
func (cfg Config) Grokking(c Curve) Grokking {
	g := Grokking{
		Memorised:   c.First(func(p Point) bool { return p.TrainAcc >= cfg.MemAcc }),
		Generalised: c.First(func(p Point) bool { return p.TestAcc >= cfg.GenAcc }),
	}
	if g.Memorised.Reached && g.Generalised.Reached {
		g.Delay = g.Generalised.Step - g.Memorised.Step
		g.Groks = g.Delay >= cfg.MinDelay
	}
	return g
}

// Run is one independent run: the dense network, and the MoE on real and on shuffled labels.
type Run struct {
	Index                int
	Dense, Task, Control Curve
}

// Pilot is the pilot's run at one MoE weight decay.
type Pilot struct {
	Decay    float64
	Grokking Grokking
}

// Result is the experiment.
type Result struct {
	Pilots []Pilot
	// Decay is the MoE weight decay kept; Found is false when no candidate grokked in the pilot.
	Decay float64
	Found bool
	Runs  []Run
}

// PilotKeeps says whether the pilot keeps a candidate whose run shows g: it groks, with a delay of at
// least PilotDelay steps.
func (c Config) PilotKeeps(g Grokking) bool { return g.Groks && g.Delay >= c.PilotDelay }

// modelSet holds the compiled networks (their graphs are reused across runs).
type modelSet struct{ dense, moe *grokking.Model }

// Execute runs the pilot and then the runs. progress, if not nil, is called after every training run.
func Execute(c Config, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var ms modelSet
	var err error
	if ms.dense, err = grokking.New(c.Dense); err != nil {
		return nil, err
	}
	if ms.moe, err = grokking.New(c.MoE); err != nil {
		return nil, err
	}
	say := func(s string) {
		if progress != nil {
			progress(s)
		}
	}
	res := &Result{}
	tr, te, err := c.split(c.PilotSeed)
	if err != nil {
		return nil, err
	}
	for _, d := range c.Decays {
		cv, err := c.train(ms.moe, d, c.PilotSeed, tr, te, false)
		if err != nil {
			return nil, fmt.Errorf("grokexp: pilot at weight decay %g: %w", d, err)
		}
		p := Pilot{Decay: d, Grokking: c.Grokking(cv)}
		res.Pilots = append(res.Pilots, p)
		say(fmt.Sprintf("pilot, MoE at weight decay %g: %s", d, p.Grokking))
		res.Decay = d
		if c.PilotKeeps(p.Grokking) {
			res.Found = true
			break
		}
	}
	for r := range c.Runs {
		run, err := c.run(ms, res.Decay, r, say)
		if err != nil {
			return nil, fmt.Errorf("grokexp: run %d: %w", r+1, err)
		}
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

// split draws the train/test split of a seed.
func (c Config) split(seed uint64) (tr, te *data.Set, err error) {
	return data.Modular(data.ModularConfig{P: c.P, TrainFrac: c.TrainFrac, OneHot: true, Seed: seed})
}

// Shuffled returns a copy of s with its labels permuted by seed (the control's training set).
func Shuffled(s *data.Set, seed uint64) *data.Set {
	out := s.Clone()
	rand.New(rand.NewPCG(seed, 0x5eed)).Shuffle(len(out.Y), func(i, j int) { out.Y[i], out.Y[j] = out.Y[j], out.Y[i] })
	return out
}

// run trains run r: the dense network, then the MoE on real and on shuffled labels.
func (c Config) run(ms modelSet, decay float64, r int, say func(string)) (Run, error) {
	seed := uint64(r + 1)
	tr, te, err := c.split(seed)
	if err != nil {
		return Run{}, err
	}
	run := Run{Index: r}
	if run.Dense, err = c.train(ms.dense, c.DenseDecay, seed, tr, te, false); err != nil {
		return Run{}, fmt.Errorf("dense: %w", err)
	}
	say(fmt.Sprintf("run %d, dense: %s", r+1, c.Grokking(run.Dense)))
	if run.Task, err = c.train(ms.moe, decay, seed, tr, te, true); err != nil {
		return Run{}, fmt.Errorf("MoE: %w", err)
	}
	say(fmt.Sprintf("run %d, MoE: %s", r+1, c.Grokking(run.Task)))
	if run.Control, err = c.train(ms.moe, decay, seed, Shuffled(tr, seed+1000), te, true); err != nil {
		return Run{}, fmt.Errorf("MoE on shuffled labels: %w", err)
	}
	say(fmt.Sprintf("run %d, MoE on shuffled labels: memorised %s", r+1, c.Grokking(run.Control).Memorised))
	return run, nil
}

// train runs m from the initialisation of seed on tr, logging every Every steps; with metrics, the
// pathway metrics on tr at every logged step.
func (c Config) train(m *grokking.Model, decay float64, seed uint64, tr, te *data.Set, metrics bool) (Curve, error) {
	cv := Curve{Steps: c.Steps}
	_, _, err := m.Train(m.Init(seed), tr, te, grokking.RunConfig{
		Opt: grokking.Optimizer{LR: c.LR, WeightDecay: decay}, Steps: c.Steps, Every: c.Every,
		Observe: func(r grokking.Record, ps grokking.Params) error {
			p := Point{Step: r.Step, TrainLoss: r.TrainLoss, TrainAcc: r.TrainAcc, TestLoss: r.TestLoss, TestAcc: r.TestAcc}
			if metrics {
				rt, err := m.Route(ps, tr)
				if err != nil {
					return err
				}
				pm, err := rt.Metrics(c.Pairs, seed)
				if err != nil {
					return fmt.Errorf("step %d: %w", r.Step, err)
				}
				p.Distance, p.Consistency, p.Entropy = pm.Distance.Normalized, pm.Consistency, pm.Entropy
			}
			cv.Points = append(cv.Points, p)
			return nil
		}})
	return cv, err
}

// Change is a metric's change over the grokking windows of the runs that grok: for each such run,
// f at the end of the window minus f at its start, on the real-label run (Task) and on the
// shuffled-label run over the same steps (Control); Runs are their indices. Skipped says, for each run
// that does not grok, why.
type Change struct {
	Task, Control []float64
	Runs          []int
	Skipped       []string
}

// WindowChange measures f's change over the grokking window of every run whose MoE groks.
func (res *Result) WindowChange(cfg Config, f func(Point) float64) (Change, error) {
	var ch Change
	for _, run := range res.Runs {
		g := cfg.Grokking(run.Task)
		if !g.Groks {
			ch.Skipped = append(ch.Skipped, fmt.Sprintf("run %d: %s", run.Index+1, g))
			continue
		}
		var d [2]float64
		for i, cv := range []Curve{run.Task, run.Control} {
			a, err := cv.At(g.Memorised.Step)
			if err != nil {
				return Change{}, fmt.Errorf("grokexp: run %d: %w", run.Index+1, err)
			}
			b, err := cv.At(g.Generalised.Step)
			if err != nil {
				return Change{}, fmt.Errorf("grokexp: run %d: %w", run.Index+1, err)
			}
			d[i] = f(b) - f(a)
		}
		ch.Task, ch.Control, ch.Runs = append(ch.Task, d[0]), append(ch.Control, d[1]), append(ch.Runs, run.Index)
	}
	return ch, nil
}

// DenseGroks returns how many runs' dense networks grok.
func (res *Result) DenseGroks(cfg Config) int {
	n := 0
	for _, run := range res.Runs {
		if cfg.Grokking(run.Dense).Groks {
			n++
		}
	}
	return n
}

// Columns returns the logged steps of the runs (from the first run) and, for each run, f of the curve
// that which picks (e.g. func(r Run) Curve { return r.Task }) at those steps: the input of
// viz.MeanBand.
func (res *Result) Columns(which func(Run) Curve, f func(Point) float64) (steps []float64, runs [][]float64) {
	for i, run := range res.Runs {
		var v []float64
		for _, p := range which(run).Points {
			if i == 0 {
				steps = append(steps, float64(p.Step))
			}
			v = append(v, f(p))
		}
		runs = append(runs, v)
	}
	return steps, runs
}
