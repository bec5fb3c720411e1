// Package dvergeexp runs the ensemble experiment of DVERGE (Yang, Zhang, Dong, Inkawhich, Gardner,
// Touchet, Wilkes, Berry & Li, "DVERGE: Diversifying Vulnerabilities for Enhanced Robust Generation of
// Ensembles", NeurIPS 2020, arXiv:2009.14720) at notebook scale, in the form a verdict needs.
//
// An ensemble of M MLPs is first trained on cross-entropy (the baseline). Two arms then continue from
// that same baseline for the same number of epochs on the same batches: the control on cross-entropy,
// DVERGE on its diversity loss (lib/dverge's feature distillation, lib/losses' DVERGELoss). Both arms
// get the same tuning budget: each picks its continuation learning rate from the same grid, on a
// validation split, by the ensemble's accuracy under a transfer attack crafted on an independently
// trained surrogate. The chosen rates are then run from several independent initialisations and data
// orders (run r seeds the baseline's initialisation, every data order and the surrogate), and after
// every epoch of both arms the ensemble is scored on the test set: clean accuracy, accuracy under the
// surrogate's PGD, and the M×M transferability matrix (member j's accuracy on PGD images crafted against
// member i). Keeping both arms' curves from the shared starting point shows whether a gap between them
// is DVERGE improving or the control getting worse.
//
// Deviations from the paper, all stated: Fashion-MNIST MLPs instead of CIFAR-10 ResNet-20s; Adam
// instead of SGD, restarted every epoch (one lib/train run per epoch, since the distilled layer is drawn
// per epoch) in both arms; each source's target image comes from the same shuffled batch.
package dvergeexp

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/dverge"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Config is the whole experiment. Default and Quick return the notebook's sizes.
type Config struct {
	// NTrain and NVal examples are drawn from Fashion-MNIST's training split (stratified), NTest from its
	// test split; pixels in [0, 1]. DataSeed fixes the subsets and the split.
	NTrain, NVal, NTest int
	DataSeed            uint64

	// Members is M; Hidden the widths of each member's ReLU layers; Classes is 10 for Fashion-MNIST.
	Members int
	Hidden  []int
	Classes int

	// The baseline trains BaseEpochs on cross-entropy with Adam(BaseLR); each arm then trains
	// ExtraEpochs more with Adam at its tuned rate, chosen from LRs (the same grid for both arms).
	Batch                   int
	BaseLR                  float64
	BaseEpochs, ExtraEpochs int
	LRs                     []float64

	// Distill is DVERGE's feature distillation (ε = 0.07, α = 0.007, 10 steps by default).
	Distill dverge.DistillConfig

	// AttackEps is the L∞ radius of every PGD attack the claims use (the surrogate's transfer attack
	// and the transferability matrix), PGDSteps its steps (step 2ε/PGDSteps, random start, clipped to
	// [0, 1]); SweepEps are the radii of the final transfer-attack curve.
	AttackEps float64
	PGDSteps  int
	SweepEps  []float64

	// Runs is the number of independent final runs (run r uses seed r); TuneSeed seeds the one tuning run.
	Runs     int
	TuneSeed uint64
}

// Default returns the notebook's full size: 10,000 training, 2,000 validation and 1,500 test images,
// three 784-128-128-10 members, 3 baseline epochs then 5 epochs per arm, learning rates {3·10⁻⁴, 10⁻³},
// PGD ε = 0.1 with 20 steps, 3 runs.
func Default() Config {
	return Config{NTrain: 10000, NVal: 2000, NTest: 1500, DataSeed: 18,
		Members: 3, Hidden: []int{128, 128}, Classes: 10,
		Batch: 128, BaseLR: 1e-3, BaseEpochs: 3, ExtraEpochs: 5, LRs: []float64{3e-4, 1e-3},
		Distill:   dverge.DefaultDistillConfig(),
		AttackEps: 0.1, PGDSteps: 20, SweepEps: []float64{0.03, 0.06, 0.1, 0.15},
		Runs: 3, TuneSeed: 100}
}

// Quick returns the same experiment at CI size (a few hundred images, one epoch per phase, 5 PGD steps).
func Quick() Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest = 512, 256, 256
	c.Hidden = []int{32, 32}
	c.BaseEpochs, c.ExtraEpochs = 1, 1
	c.PGDSteps = 5
	c.SweepEps = []float64{0.05, 0.1}
	return c
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1 || c.Batch < 2:
		return fmt.Errorf("dvergeexp: sizes train %d (≥ batch %d ≥ 2), validation %d, test %d", c.NTrain, c.Batch, c.NVal, c.NTest)
	case c.Members < 2:
		return fmt.Errorf("dvergeexp: %d members; DVERGE needs at least 2", c.Members)
	case len(c.Hidden) == 0 || c.Classes < 2:
		return fmt.Errorf("dvergeexp: %d hidden layers (DVERGE distills a hidden layer: need ≥ 1), %d classes", len(c.Hidden), c.Classes)
	case c.BaseEpochs < 1 || c.ExtraEpochs < 1 || c.Runs < 1:
		return fmt.Errorf("dvergeexp: base epochs %d, extra epochs %d, runs %d must be ≥ 1", c.BaseEpochs, c.ExtraEpochs, c.Runs)
	case len(c.LRs) == 0 || !(c.BaseLR > 0):
		return fmt.Errorf("dvergeexp: base learning rate %g and grid %v: need a positive rate and a non-empty grid", c.BaseLR, c.LRs)
	case !(c.AttackEps > 0) || c.PGDSteps < 1:
		return fmt.Errorf("dvergeexp: attack ε %g and %d PGD steps must be positive", c.AttackEps, c.PGDSteps)
	case !(c.Distill.Epsilon >= 0) || !(c.Distill.StepSize >= 0) || c.Distill.Steps < 0:
		return fmt.Errorf("dvergeexp: bad distillation %+v", c.Distill)
	}
	for _, lr := range c.LRs {
		if !(lr > 0) {
			return fmt.Errorf("dvergeexp: learning rate %g in the grid must be positive", lr)
		}
	}
	for _, e := range c.SweepEps {
		if !(e >= 0) {
			return fmt.Errorf("dvergeexp: sweep radius %g must be ≥ 0", e)
		}
	}
	return nil
}

// Splits are the experiment's data.
type Splits struct{ Train, Val, Test *data.Set }

// Data loads the training, validation and test sets.
func (c Config) Data() (*Splits, error) {
	fit, err := data.FashionMNIST("train", data.WithScaling(data.Unit), data.WithSubset(c.NTrain+c.NVal), data.WithSeed(c.DataSeed))
	if err != nil {
		return nil, err
	}
	tr, va, err := fit.Split(float64(c.NTrain)/float64(c.NTrain+c.NVal), c.DataSeed)
	if err != nil {
		return nil, err
	}
	te, err := data.FashionMNIST("test", data.WithScaling(data.Unit), data.WithSubset(c.NTest), data.WithSeed(c.DataSeed))
	if err != nil {
		return nil, err
	}
	return &Splits{Train: tr, Val: va, Test: te}, nil
}

func (c Config) arch() *arch { return &arch{Hidden: c.Hidden, Classes: c.Classes} }

// The two arms.
const (
	Control = "control"
	DVERGE  = "DVERGE"
)

// EpochEval scores one ensemble. Val* are on the validation split, the rest on the test set.
type EpochEval struct {
	Epoch int // epochs since the baseline (0: the baseline itself)
	// ValClean and ValTransfer are the ensemble's validation accuracy, clean and under the surrogate's
	// PGD at AttackEps (the tuning and early-stopping criterion).
	ValClean, ValTransfer float64
	// Clean is the ensemble's test accuracy, Members each member's; Transfer the ensemble's accuracy on
	// the surrogate's PGD images at AttackEps.
	Clean    float64
	Members  []float64
	Transfer float64
	// Matrix[i][j] is member j's accuracy on PGD images (AttackEps) crafted against member i; Sibling is
	// its mean off-diagonal entry (transfer between members), WhiteBox its mean diagonal. Nil in tuning.
	Matrix            [][]float64
	Sibling, WhiteBox float64
}

// ArmRun is one arm's continuation in one run.
type ArmRun struct {
	Arm    string
	LR     float64
	Layers []int     // DVERGE's distilled layer per epoch (1-based); none for the control
	Loss   []float64 // training loss per step
	Curve  []EpochEval
	// Stop is the epoch early stopping picks: the highest ValTransfer (ties to the earlier epoch).
	Stop int
}

// Final returns the evaluation after the last epoch (the matched training budget).
func (a *ArmRun) Final() EpochEval { return a.Curve[len(a.Curve)-1] }

// Stopped returns the evaluation at the early-stopping epoch.
func (a *ArmRun) Stopped() EpochEval { return a.Curve[a.Stop] }

// RunResult is one independent run: a baseline, its surrogate and both arms.
type RunResult struct {
	Seed uint64
	// SurrogateClean and SurrogateWhiteBox are the surrogate's test accuracy, clean and under its own PGD.
	SurrogateClean, SurrogateWhiteBox float64
	BaseLoss                          []float64
	Control, DVERGE                   ArmRun
	// SweepEps and the ensembles' test accuracy under the surrogate's PGD at each radius: the baseline,
	// and each arm after its last epoch.
	SweepEps                                 []float64
	SweepBaseline, SweepControl, SweepDVERGE []float64
}

// Tuning is one arm's validation score (ValTransfer after the last epoch) at each grid point, and the
// chosen point.
type Tuning struct {
	Arm         string
	LRs         []float64
	ValTransfer []float64
	ValClean    []float64
	Best        int
}

// Result is the whole experiment.
type Result struct {
	Tuning []Tuning // Control, then DVERGE
	Runs   []RunResult
}

// Run runs the experiment: the tuning run (seed TuneSeed) over every grid point of both arms, then Runs
// independent runs with the chosen rates. progress, if not nil, is told after every phase.
func Run(c Config, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	s, err := c.Data()
	if err != nil {
		return nil, err
	}
	say := reporter(progress)
	res := &Result{}
	if res.Tuning, err = c.tune(s, say); err != nil {
		return nil, err
	}
	for r := 1; r <= c.Runs; r++ {
		seed := uint64(r)
		st, err := c.start(s, seed)
		if err != nil {
			return nil, err
		}
		rr := RunResult{Seed: seed, SurrogateClean: st.surClean, SurrogateWhiteBox: st.surWhite, BaseLoss: st.baseLoss, SweepEps: c.SweepEps}
		for k, arm := range []string{Control, DVERGE} {
			ar, err := c.continueArm(s, st, arm, c.LRs[res.Tuning[k].Best], true)
			if err != nil {
				return nil, err
			}
			*rr.Arm(arm) = *ar
			say.say("run %d, %s: test transfer accuracy %.3f", r, arm, ar.Final().Transfer)
		}
		if rr.SweepBaseline, rr.SweepControl, rr.SweepDVERGE, err = c.sweep(s, st); err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, rr)
	}
	return res, nil
}

// reporter passes progress lines to a callback (none when it is nil).
type reporter func(done string)

func (r reporter) say(format string, args ...any) {
	if r != nil {
		r(fmt.Sprintf(format, args...))
	}
}

// tune trains one baseline and surrogate (seed TuneSeed) and every grid point of both arms from it, scored
// on the validation split only (ValTransfer after the last epoch; ties to the earlier rate).
func (c Config) tune(s *Splits, say reporter) ([]Tuning, error) {
	st, err := c.start(s, c.TuneSeed)
	if err != nil {
		return nil, err
	}
	say.say("tuning baseline and surrogate (seed %d)", c.TuneSeed)
	var out []Tuning
	for _, arm := range []string{Control, DVERGE} {
		t := Tuning{Arm: arm, LRs: c.LRs, Best: -1}
		for i, lr := range c.LRs {
			ar, err := c.continueArm(s, st, arm, lr, false)
			if err != nil {
				return nil, err
			}
			f := ar.Final()
			t.ValTransfer, t.ValClean = append(t.ValTransfer, f.ValTransfer), append(t.ValClean, f.ValClean)
			if t.Best < 0 || f.ValTransfer > t.ValTransfer[t.Best] {
				t.Best = i
			}
			say.say("tuning %s lr=%g: validation transfer accuracy %.3f", arm, lr, f.ValTransfer)
		}
		out = append(out, t)
	}
	return out, nil
}

// state is a run's shared start: the baseline ensemble, the surrogate and its PGD images, and each
// arm's last ensemble.
type state struct {
	seed               uint64
	base               *context.Context
	finals             map[string]*context.Context
	baseLoss           []float64
	surrogate          *context.Context
	valAdv, testAdv    *data.Set
	surClean, surWhite float64
	baseEval           map[bool]*EpochEval // the baseline's scores (key: full), computed once
}

// start trains the baseline and the surrogate of a run with seed seed.
func (c Config) start(s *Splits, seed uint64) (*state, error) {
	st := &state{seed: seed, finals: map[string]*context.Context{}, baseEval: map[bool]*EpochEval{}}
	t := trainer{ensemble: ensemble{a: c.arch(), M: c.Members}}
	loss, err := t.loss()
	if err != nil {
		return nil, err
	}
	base, err := train.Run(train.Config{Model: t, Train: s.Train, Loss: loss, Optimizer: train.Adam(c.BaseLR),
		BatchSize: c.Batch, Epochs: c.BaseEpochs, Seed: seed, DataSeed: seed * 1000, Silent: true})
	if err != nil {
		return nil, fmt.Errorf("dvergeexp: baseline, seed %d: %w", seed, err)
	}
	st.base = base.Context
	for _, h := range base.History {
		st.baseLoss = append(st.baseLoss, h.Loss)
	}
	// The surrogate: one MLP of a member's shape, its own initialisation and data order, trained as long
	// as the arms in all.
	sm := models.NewMLP(c.Classes, c.Hidden...)
	sur, err := train.Run(train.Config{Model: sm, Train: s.Train, Optimizer: train.Adam(c.BaseLR), BatchSize: c.Batch,
		Epochs: c.BaseEpochs + c.ExtraEpochs, Seed: 500 + seed, DataSeed: 700 + seed, Silent: true})
	if err != nil {
		return nil, fmt.Errorf("dvergeexp: surrogate, seed %d: %w", seed, err)
	}
	st.surrogate = sur.Context
	if st.valAdv, err = c.pgd(sm, st.surrogate, s.Val, c.AttackEps, seed); err != nil {
		return nil, err
	}
	if st.testAdv, err = c.pgd(sm, st.surrogate, s.Test, c.AttackEps, seed); err != nil {
		return nil, err
	}
	m, err := train.Evaluate(sm, st.surrogate, s.Test)
	if err != nil {
		return nil, err
	}
	w, err := train.Evaluate(sm, st.surrogate, st.testAdv)
	if err != nil {
		return nil, err
	}
	st.surClean, st.surWhite = m.Accuracy, w.Accuracy
	return st, nil
}

// continueArm trains arm from the run's baseline for ExtraEpochs at rate lr, one lib/train run per epoch
// (DVERGE draws its distilled layer per epoch; both arms see the same batches), scoring after every
// epoch. full adds the test-set scores and the transferability matrix.
func (c Config) continueArm(s *Splits, st *state, arm string, lr float64, full bool) (*ArmRun, error) {
	ar := &ArmRun{Arm: arm, LR: lr}
	if st.baseEval[full] == nil {
		e0, err := c.evaluate(s, st, st.base, full)
		if err != nil {
			return nil, err
		}
		st.baseEval[full] = &e0
	}
	ar.Curve = append(ar.Curve, *st.baseEval[full])
	rng := rand.New(rand.NewPCG(st.seed, 18))
	ctx := st.base
	for e := 1; e <= c.ExtraEpochs; e++ {
		layer := 1 + rng.IntN(len(c.Hidden)) // drawn in both arms, so the random streams stay aligned
		t := trainer{ensemble: ensemble{a: c.arch(), M: c.Members}, Distill: c.Distill}
		if arm == DVERGE {
			t.Layer = layer
			ar.Layers = append(ar.Layers, layer)
		}
		loss, err := t.loss()
		if err != nil {
			return nil, err
		}
		res, err := train.Run(train.Config{Model: t, Train: s.Train, Loss: loss, Optimizer: train.Adam(lr), BatchSize: c.Batch,
			Epochs: 1, Seed: st.seed, DataSeed: st.seed*1000 + uint64(e), Init: ctx, Silent: true})
		if err != nil {
			return nil, fmt.Errorf("dvergeexp: %s, seed %d, epoch %d: %w", arm, st.seed, e, err)
		}
		ctx = res.Context
		for _, h := range res.History {
			ar.Loss = append(ar.Loss, h.Loss)
		}
		ev, err := c.evaluate(s, st, ctx, full)
		if err != nil {
			return nil, err
		}
		ev.Epoch = e
		ar.Curve = append(ar.Curve, ev)
	}
	ar.Stop = stopEpoch(ar.Curve)
	st.finals[arm] = ctx
	return ar, nil
}

// stopEpoch returns the epoch of curve with the highest validation transfer accuracy, the earlier on ties.
func stopEpoch(curve []EpochEval) int {
	best := 0
	for e, ev := range curve {
		if ev.ValTransfer > curve[best].ValTransfer {
			best = e
		}
	}
	return best
}

// PerRun returns f of every run, in run order: one value per independent run, for lib/verdict.
func (r *Result) PerRun(f func(*RunResult) float64) []float64 {
	out := make([]float64, len(r.Runs))
	for i := range r.Runs {
		out[i] = f(&r.Runs[i])
	}
	return out
}

// Arm returns the run's arm named name (Control or DVERGE), nil for another name.
func (r *RunResult) Arm(name string) *ArmRun {
	switch name {
	case Control:
		return &r.Control
	case DVERGE:
		return &r.DVERGE
	}
	return nil
}
