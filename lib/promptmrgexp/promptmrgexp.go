// Package promptmrgexp runs the classification-loss experiment of Jin, Che, Lin & Chen, "PromptMRG:
// Diagnosis-Driven Prompts for Medical Report Generation", AAAI 2024, arXiv:2308.12604, at notebook
// scale, in the form a verdict needs.
//
// The paper trains its disease classifier (four states per disease: BLA, POS, NEG, UNC) with a
// logit-adjusted cross-entropy whose per-disease prior π is "adaptive": recomputed after every epoch from
// the mean POS probability on the validation positives (lib/losses: PromptMRGLoss, PromptMRGUpdatePrior).
// The stand-in for MIMIC-CXR labels is a synthetic long-tailed multi-label task: C diseases with POS
// prevalences from 40 % to 1 %, features in R^Dim that carry a mean shift on each positive disease's own
// coordinates. Three arms share an MLP, Adam and the tuning budget (the same learning-rate grid, chosen on
// validation macro-F1): plain CE (π ≡ 1), static logit adjustment (π = prevalence / max) and the adaptive
// prior. The chosen learning rate of each arm is trained from Runs independent initialisations and data
// orders (run r: seed r+1), on the same data, so runs of different arms are paired.
package promptmrgexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/calibexp"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// The four states of a disease, in the order of the logits' axis 1.
const (
	BLA = iota
	POS
	NEG
	UNC
	States
)

// Prior says how an arm sets π.
type Prior int

// The three arms' priors.
const (
	Plain    Prior = iota // π ≡ 1: plain softmax CE over the states
	Static                // π = prevalence / max prevalence, fixed
	Adaptive              // starts as Static, then the validation learning status after every epoch
)

// String names the prior.
func (p Prior) String() string {
	switch p {
	case Plain:
		return "plain CE"
	case Static:
		return "static LA"
	case Adaptive:
		return "adaptive LA"
	}
	return fmt.Sprintf("Prior(%d)", int(p))
}

// Config is the whole experiment.
type Config struct {
	// Prevalence is each disease's POS probability; a non-positive entry is NEG, BLA or UNC with
	// probabilities 0.4, 0.5, 0.1.
	Prevalence []float64
	Dim        int     // feature dimension (≥ 4·len(Prevalence): each disease shifts 4 coordinates)
	Shift      float64 // mean shift of a positive disease's coordinates
	NTrain     int
	NVal       int
	NTest      int
	DataSeed   uint64 // the three splits (the same for every run)

	Hidden, Epochs, Batch int
	// LRs is the learning-rate grid every arm is tuned over (validation macro-F1, one run with TuneSeed).
	LRs      []float64
	TuneSeed uint64
	// Runs is the number of independent final runs of each arm at its chosen learning rate (run r:
	// initialisation and data-order seed r+1).
	Runs int
	Arms []Prior
}

// Default is the full-size experiment: the paper-spec task (8 diseases with prevalences 40 %, 25 %, 15 %,
// 10 %, 6 %, 4 %, 2 %, 1 %, features in R^32, shift 0.8, 20 000 / 4 000 / 4 000 examples), an MLP
// 32-64-32, Adam, batch 128, 15 epochs, the grid lr ∈ {3·10⁻⁴, 10⁻³, 3·10⁻³, 10⁻²} for every arm, 8 final
// runs per arm.
func Default() Config {
	return Config{Prevalence: []float64{0.40, 0.25, 0.15, 0.10, 0.06, 0.04, 0.02, 0.01}, Dim: 32, Shift: 0.8,
		NTrain: 20000, NVal: 4000, NTest: 4000, DataSeed: 1, Hidden: 64, Epochs: 15, Batch: 128,
		LRs: []float64{3e-4, 1e-3, 3e-3, 1e-2}, TuneSeed: 100, Runs: 8, Arms: []Prior{Plain, Static, Adaptive}}
}

// Quick is Default at CI sizes (the same code path): smaller splits, 3 epochs, a two-point grid, 3 runs.
func Quick() Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest, c.Epochs, c.Runs = 3000, 2000, 2000, 3, 3
	c.LRs = []float64{1e-3, 3e-3}
	return c
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case len(c.Prevalence) == 0 || c.Dim < 4*len(c.Prevalence):
		return fmt.Errorf("promptmrgexp: %d diseases need Dim ≥ %d, got %d", len(c.Prevalence), 4*len(c.Prevalence), c.Dim)
	case c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("promptmrgexp: sizes train %d (≥ batch %d), validation %d, test %d", c.NTrain, c.Batch, c.NVal, c.NTest)
	case c.Hidden < 1 || c.Epochs < 1 || c.Batch < 1 || c.Runs < 1:
		return fmt.Errorf("promptmrgexp: hidden %d, epochs %d, batch %d, runs %d must be ≥ 1", c.Hidden, c.Epochs, c.Batch, c.Runs)
	case len(c.LRs) == 0 || len(c.Arms) == 0:
		return errors.New("promptmrgexp: no learning rates or no arms")
	}
	for i, p := range c.Prevalence {
		if !(p > 0 && p < 1) {
			return fmt.Errorf("promptmrgexp: prevalence %v of disease %d outside (0, 1)", p, i)
		}
	}
	for _, lr := range c.LRs {
		if !(lr > 0) {
			return fmt.Errorf("promptmrgexp: learning rate %v must be > 0", lr)
		}
	}
	return nil
}

// Set is one split: features X [N·Dim] and labels Y [N·C] (states, row-major).
type Set struct {
	X []float32
	Y []int32
	N int
}

// IsPos returns the POS mask of s, [N][C].
func (s Set) IsPos(c int) [][]bool {
	m := make([][]bool, s.N)
	for b := range m {
		m[b] = make([]bool, c)
		for d := range c {
			m[b][d] = s.Y[b*c+d] == POS
		}
	}
	return m
}

// Draw returns n examples drawn from seed.
func (c Config) Draw(n int, seed uint64) Set {
	rng := rand.New(rand.NewPCG(seed, 3))
	nd := len(c.Prevalence)
	s := Set{X: make([]float32, n*c.Dim), Y: make([]int32, n*nd), N: n}
	for i := range n {
		for j := range c.Dim {
			s.X[i*c.Dim+j] = float32(rng.NormFloat64())
		}
		for d, p := range c.Prevalence {
			u, v := rng.Float64(), rng.Float64()
			switch {
			case u < p:
				s.Y[i*nd+d] = POS
				for j := 4 * d; j < 4*d+4; j++ {
					s.X[i*c.Dim+j] += float32(c.Shift)
				}
			case v < 0.4:
				s.Y[i*nd+d] = NEG
			case v < 0.9:
				s.Y[i*nd+d] = BLA
			default:
				s.Y[i*nd+d] = UNC
			}
		}
	}
	return s
}

// Data returns the training, validation and test splits.
func (c Config) Data() (tr, va, te Set) {
	return c.Draw(c.NTrain, c.DataSeed), c.Draw(c.NVal, c.DataSeed+1), c.Draw(c.NTest, c.DataSeed+2)
}

// Scores are per-disease POS precision, recall and F1 (POS is predicted iff it is the argmax of the raw
// logits, as at the paper's inference).
type Scores struct{ Precision, Recall, F1 []float64 }

// MacroF1 is the mean F1 over the diseases.
func (s Scores) MacroF1() float64 {
	m := 0.0
	for _, f := range s.F1 {
		m += f / float64(len(s.F1))
	}
	return m
}

// Score returns the scores of logits [N·States·C] (layout [N][States][C]) against labels y [N·C].
func Score(logits []float32, y []int32, c int) (Scores, error) {
	if c < 1 || len(y)%c != 0 || len(logits) != len(y)*States {
		return Scores{}, fmt.Errorf("promptmrgexp: %d logits and %d labels for %d diseases", len(logits), len(y), c)
	}
	n := len(y) / c
	var s Scores
	for d := range c {
		tp, fp, fn := 0.0, 0.0, 0.0
		for b := range n {
			best := 0
			for st := 1; st < States; st++ {
				if logits[(b*States+st)*c+d] > logits[(b*States+best)*c+d] {
					best = st
				}
			}
			pred, truth := best == POS, y[b*c+d] == POS
			switch {
			case pred && truth:
				tp++
			case pred:
				fp++
			case truth:
				fn++
			}
		}
		p, r := tp/math.Max(tp+fp, 1), tp/math.Max(tp+fn, 1)
		f := 0.0
		if p+r > 0 {
			f = 2 * p * r / (p + r)
		}
		s.Precision, s.Recall, s.F1 = append(s.Precision, p), append(s.Recall, r), append(s.F1, f)
	}
	return s, nil
}

// PosProbs returns softmax over the states of the raw logits, at POS, per example and disease.
func PosProbs(logits []float32, c int) [][]float64 {
	n := len(logits) / (States * c)
	out := make([][]float64, n)
	for b := range out {
		out[b] = make([]float64, c)
		for d := range c {
			m := math.Inf(-1)
			for st := range States {
				m = math.Max(m, float64(logits[(b*States+st)*c+d]))
			}
			sum := 0.0
			for st := range States {
				sum += math.Exp(float64(logits[(b*States+st)*c+d]) - m)
			}
			out[b][d] = math.Exp(float64(logits[(b*States+POS)*c+d])-m) / sum
		}
	}
	return out
}

// RunResult is one training run.
type RunResult struct {
	Test   Scores      // on the test split
	Val    float64     // validation macro-F1
	Priors [][]float64 // π used in each epoch, then the final π
	Curve  []float64   // mean training loss per epoch
}

// model is the MLP head: x [B, Dim] → logits [B, States·C] (reshaped to [B, States, C] by the loss).
func (c Config) model() models.Model { return models.NewMLP(States*len(c.Prevalence), c.Hidden) }

// Train trains one run of arm at learning rate lr on tr from seed (initialisation and data order),
// updating an adaptive prior from va, and scores it on va and te.
func (c Config) Train(arm Prior, lr float64, tr, va, te Set, seed uint64) (RunResult, error) {
	if err := c.Check(); err != nil {
		return RunResult{}, err
	}
	nd := len(c.Prevalence)
	pi := make([]float64, nd)
	switch arm {
	case Plain:
		for d := range pi {
			pi[d] = 1
		}
	case Static, Adaptive:
		p, err := losses.PromptMRGInitialPrior(c.Prevalence, 0)
		if err != nil {
			return RunResult{}, err
		}
		copy(pi, p)
	default:
		return RunResult{}, fmt.Errorf("promptmrgexp: unknown arm %v", arm)
	}
	m := c.model()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return RunResult{}, err
	}
	ctx = ctx.Checked(false)
	opt, err := train.Adam(lr).Build(c.Epochs * (c.NTrain / c.Batch))
	if err != nil {
		return RunResult{}, err
	}
	step, err := train.NewContextStep(ctx, opt, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		logits, _ := m.Forward(ctx, in[0])
		logits = Reshape(logits, c.Batch, States, nd)
		return ReduceAllMean(losses.PromptMRGLoss(logits, in[1], in[2])), nil
	})
	if err != nil {
		return RunResult{}, fmt.Errorf("promptmrgexp: %v: %w", arm, err)
	}
	defer step.Finalize()
	var out RunResult
	isPos := va.IsPos(nd)
	xb, yb := make([]float32, c.Batch*c.Dim), make([]int32, c.Batch*nd)
	steps := tr.N / c.Batch
	for e := range c.Epochs {
		out.Priors = append(out.Priors, append([]float64(nil), pi...))
		piT := make([]float32, nd)
		for d := range piT {
			piT[d] = float32(pi[d])
		}
		order, sum := train.EpochOrder(tr.N, seed, e), 0.0
		for s := range steps {
			for b, i := range order[s*c.Batch : (s+1)*c.Batch] {
				copy(xb[b*c.Dim:(b+1)*c.Dim], tr.X[i*c.Dim:(i+1)*c.Dim])
				copy(yb[b*nd:(b+1)*nd], tr.Y[i*nd:(i+1)*nd])
			}
			loss, _, err := step.Step(tensors.FromFlatDataAndDimensions(xb, c.Batch, c.Dim),
				tensors.FromFlatDataAndDimensions(yb, c.Batch, nd), piT)
			if err == nil && (math.IsNaN(loss) || math.IsInf(loss, 0)) {
				err = fmt.Errorf("the loss is %v", loss)
			}
			if err != nil {
				return RunResult{}, fmt.Errorf("promptmrgexp: %v (lr %g), epoch %d, step %d: %w", arm, lr, e+1, s+1, err)
			}
			sum += loss
		}
		out.Curve = append(out.Curve, sum/float64(steps))
		if arm == Adaptive {
			z, err := calibexp.Logits(m, ctx, va.X, va.N, c.Dim)
			if err != nil {
				return RunResult{}, err
			}
			if pi, _, err = losses.PromptMRGUpdatePrior(pi, PosProbs(z, nd), isPos); err != nil {
				return RunResult{}, fmt.Errorf("promptmrgexp: epoch %d: %w", e+1, err)
			}
		}
	}
	out.Priors = append(out.Priors, append([]float64(nil), pi...))
	for _, sp := range []struct {
		set Set
		to  func(Scores)
	}{{va, func(s Scores) { out.Val = s.MacroF1() }}, {te, func(s Scores) { out.Test = s }}} {
		z, err := calibexp.Logits(m, ctx, sp.set.X, sp.set.N, c.Dim)
		if err != nil {
			return RunResult{}, err
		}
		s, err := Score(z, sp.set.Y, nd)
		if err != nil {
			return RunResult{}, err
		}
		sp.to(s)
	}
	return out, nil
}

// ArmResult is one arm: its tuning and its final runs.
type ArmResult struct {
	Arm  Prior
	Val  []float64 // validation macro-F1 per learning rate of the grid
	LR   float64   // the chosen learning rate (highest validation macro-F1; ties: the earlier)
	Runs []RunResult
}

// Run runs the experiment: every arm is tuned over the grid, then trained Runs times at its chosen
// learning rate. progress, if not nil, is called after every training run.
func Run(c Config, progress func(done string)) ([]ArmResult, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	tr, va, te := c.Data()
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	var out []ArmResult
	for _, a := range c.Arms {
		ar := ArmResult{Arm: a}
		best := math.Inf(-1)
		for _, lr := range c.LRs {
			r, err := c.Train(a, lr, tr, va, te, c.TuneSeed)
			if err != nil {
				return nil, err
			}
			ar.Val = append(ar.Val, r.Val)
			if r.Val > best {
				best, ar.LR = r.Val, lr
			}
			say("%v, tuning lr %g: validation macro-F1 %.3f", a, lr, r.Val)
		}
		for i := range c.Runs {
			r, err := c.Train(a, ar.LR, tr, va, te, uint64(i+1))
			if err != nil {
				return nil, err
			}
			ar.Runs = append(ar.Runs, r)
			say("%v (lr %g), run %d: test macro-F1 %.3f", a, ar.LR, i+1, r.Test.MacroF1())
		}
		out = append(out, ar)
	}
	return out, nil
}

// RunsAtMost is the number of training runs Run makes.
func (c Config) RunsAtMost() int { return len(c.Arms) * (len(c.LRs) + c.Runs) }

// Group returns the indices of the diseases whose prevalence lies in [lo, hi].
func (c Config) Group(lo, hi float64) []int {
	var g []int
	for d, p := range c.Prevalence {
		if p >= lo && p <= hi {
			g = append(g, d)
		}
	}
	return g
}

// MacroF1 returns the test macro-F1 of each run of a.
func (a ArmResult) MacroF1() []float64 {
	v := make([]float64, len(a.Runs))
	for i, r := range a.Runs {
		v[i] = r.Test.MacroF1()
	}
	return v
}

// GroupMean returns, per run of a, the mean over the diseases of group of the metric picked by pick
// (e.g. func(s Scores) []float64 { return s.Recall }).
func (a ArmResult) GroupMean(group []int, pick func(Scores) []float64) []float64 {
	v := make([]float64, len(a.Runs))
	for i, r := range a.Runs {
		m := pick(r.Test)
		for _, d := range group {
			v[i] += m[d] / float64(len(group))
		}
	}
	return v
}
