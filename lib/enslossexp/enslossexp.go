// Package enslossexp runs the notebook-scale experiment of Ben Dai, "EnsLoss: Stochastic Calibrated Loss
// Ensembles for Preventing Overfitting in Classification" (ICML 2025; the arXiv id was not verified), in
// the form a verdict needs: an MLP trained on an overfitting-prone binary task (a few informative
// Gaussian dimensions among many noise dimensions, a fraction of the training labels flipped) under BCE,
// hinge, the exponential loss and EnsLoss (losses.EnsLoss with a fresh draw of derivatives every step),
// each arm tuned over the same learning-rate grid on a validation split, then trained from several
// independent runs (initialisation, data order, EnsLoss draws and training sample all seeded from the
// run index; the arms of one run share them, so comparisons are paired) and scored on a clean test set.
//
// Besides test accuracy, each evaluation records how many of the flipped training labels the model
// fits (predicts the flipped, wrong label for): the memorisation that "overfitting" means here. It can
// differ between arms whose test accuracies agree, and it shows whether the control overfits at all.
//
// Every run trains through lib/train's ContextStep (SGD with heavy-ball momentum and weight decay) and
// visits the training set in train.EpochOrder.
package enslossexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// The arms: the method and the paper's baselines.
const (
	BCE     = "BCE"     // logistic loss log(1 + e^{-z})
	Hinge   = "hinge"   // max(0, 1 - z)
	EXP     = "EXP"     // e^{-z}
	EnsLoss = "EnsLoss" // random calibrated derivatives, Box–Cox λ = 0
)

// Arms lists every arm, the method last.
var Arms = []string{BCE, Hinge, EXP, EnsLoss}

// Config describes the task, the model, training, the tuning grid and the number of runs.
type Config struct {
	// Dim features, of which the first Informative carry the class (means ±Shift on them); every
	// feature has N(0,1) noise. Flip is the fraction of training and validation labels flipped (the
	// test labels are clean).
	Dim, Informative int
	Shift, Flip      float64
	NTrain, NVal     int
	NTest            int
	// Hidden is the widths of the ReLU hidden layers; the output is one score.
	Hidden []int
	// Batch, Epochs: mini-batch SGD with momentum Momentum and L2 weight decay WeightDecay, a constant
	// learning rate chosen from LRs (the same grid for every arm).
	Batch, Epochs         int
	Momentum, WeightDecay float64
	LRs                   []float64
	// EvalEvery: evaluate every so many epochs (and at the last).
	EvalEvery int
	// Runs is the number of independent final runs; run i uses seed RunSeed(i). TuneSeed seeds the one
	// tuning run of each grid point (and its data), distinct from every final run's.
	Runs     int
	TuneSeed uint64
}

// Default is the notebook's full size: the spec's task (d = 200, 10 informative dimensions with class
// means ±0.5, 1000 training examples with 10% of labels flipped, 5000 clean test examples), MLP
// 200-128-128-1, SGD with momentum 0.9, weight decay 5e-4 and batch 128 as in the paper's image
// configuration, the spec's 300 epochs, the learning rate tuned over {1e-3, 3e-3, 1e-2, 3e-2, 1e-1}
// (the paper's image and tabular rates are 1e-3 and 1e-4 with 200-300 epochs on far larger sets; the
// spec suggests 1e-3 and 1e-2 here), 5 runs.
func Default() Config {
	return Config{Dim: 200, Informative: 10, Shift: 0.5, Flip: 0.1, NTrain: 1000, NVal: 1000, NTest: 5000,
		Hidden: []int{128, 128}, Batch: 128, Epochs: 300, Momentum: 0.9, WeightDecay: 5e-4,
		LRs: []float64{1e-3, 3e-3, 1e-2, 3e-2, 1e-1}, EvalEvery: 10, Runs: 5, TuneSeed: 1000}
}

// Quick is Default at CI sizes: the same code path, a smaller task, few epochs, three runs.
func Quick() Config {
	c := Default()
	c.Dim, c.NTrain, c.NVal, c.NTest = 50, 256, 256, 400
	c.Hidden = []int{32, 32}
	c.Epochs, c.EvalEvery, c.Runs = 6, 3, 3
	c.LRs = []float64{1e-2, 3e-2}
	return c
}

// Check reports the first setting that cannot work.
func (c Config) Check() error {
	switch {
	case c.Dim < 1 || c.Informative < 1 || c.Informative > c.Dim:
		return fmt.Errorf("enslossexp: need 1 ≤ Informative (%d) ≤ Dim (%d)", c.Informative, c.Dim)
	case !(c.Shift > 0) || math.IsInf(c.Shift, 0):
		return fmt.Errorf("enslossexp: Shift %v must be positive and finite", c.Shift)
	case !(c.Flip > 0 && c.Flip < 0.5):
		return fmt.Errorf("enslossexp: Flip %v must be in (0, 0.5): the experiment is about fitting flipped labels", c.Flip)
	case c.Batch < 2 || c.NTrain < c.Batch:
		return fmt.Errorf("enslossexp: need 2 ≤ Batch (%d) ≤ NTrain (%d)", c.Batch, c.NTrain)
	case c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("enslossexp: NVal (%d) and NTest (%d) must be positive", c.NVal, c.NTest)
	case len(c.Hidden) == 0 || slices.Min(c.Hidden) < 1:
		return fmt.Errorf("enslossexp: Hidden %v needs at least one positive width", c.Hidden)
	case c.Epochs < 1 || c.EvalEvery < 1:
		return fmt.Errorf("enslossexp: Epochs (%d) and EvalEvery (%d) must be positive", c.Epochs, c.EvalEvery)
	case !(c.Momentum >= 0 && c.Momentum < 1) || !(c.WeightDecay >= 0):
		return fmt.Errorf("enslossexp: Momentum %v must be in [0, 1) and WeightDecay %v ≥ 0", c.Momentum, c.WeightDecay)
	case len(c.LRs) == 0:
		return errors.New("enslossexp: empty learning-rate grid")
	case c.Runs < 1:
		return fmt.Errorf("enslossexp: Runs %d must be positive", c.Runs)
	}
	for _, lr := range c.LRs {
		if !(lr > 0) || math.IsInf(lr, 0) {
			return fmt.Errorf("enslossexp: learning rate %v must be positive and finite", lr)
		}
	}
	for i := range c.Runs {
		if c.RunSeed(i) == c.TuneSeed {
			return fmt.Errorf("enslossexp: TuneSeed %d equals run %d's seed", c.TuneSeed, i)
		}
	}
	return nil
}

// RunSeed is the seed of final run i: its training sample, initialisation, data order and EnsLoss draws.
func (c Config) RunSeed(i int) uint64 { return uint64(i + 1) }

// Set is a labelled sample: X [N·Dim] row-major, labels 0/1, and which labels were flipped.
type Set struct {
	X       []float32
	Y       []int32
	Flipped []bool
}

// Len is the number of examples.
func (s Set) Len() int { return len(s.Y) }

// Sample draws n examples from seed (stream stream), flipping each label with probability flip.
func (c Config) Sample(n int, flip float64, seed, stream uint64) Set {
	rng := rand.New(rand.NewPCG(seed, 0x22e0+stream))
	s := Set{X: make([]float32, n*c.Dim), Y: make([]int32, n), Flipped: make([]bool, n)}
	for i := range n {
		y := int32(rng.IntN(2))
		for j := range c.Dim {
			v := rng.NormFloat64()
			if j < c.Informative {
				v += c.Shift * float64(2*y-1)
			}
			s.X[i*c.Dim+j] = float32(v)
		}
		if rng.Float64() < flip {
			y, s.Flipped[i] = 1-y, true
		}
		s.Y[i] = y
	}
	return s
}

// Data returns the training set and the set it is scored on for seed: for a tuning run the validation
// split (labels flipped like the training labels'), for a final run the clean test set.
func (c Config) Data(seed uint64, tuning bool) (tr, eval Set) {
	tr = c.Sample(c.NTrain, c.Flip, seed, 0)
	if tuning {
		return tr, c.Sample(c.NVal, c.Flip, seed, 1)
	}
	return tr, c.Sample(c.NTest, 0, seed, 2)
}

// scores is the MLP: x [B,Dim] → one score per example [B].
func (c Config) scores(ctx *context.Context, x *Node) *Node {
	h := x
	for i, w := range c.Hidden {
		h = activations.Relu(models.Dense(ctx.In(fmt.Sprintf("dense_%d", i)), h, w, true))
	}
	out := models.Dense(ctx.In(fmt.Sprintf("dense_%d", len(c.Hidden))), h, 1, true)
	return Reshape(out, out.Shape().Dimensions[0])
}

// LossGraph is the arm's per-example training loss of scores [B] and 0/1 labels [B]; EnsLoss draws its
// N(0,1) noise from the context's RNG, so each step sees new derivatives.
func LossGraph(ctx *context.Context, arm string, s, labels *Node) (*Node, error) {
	switch arm {
	case BCE:
		return losses.LogisticLoss(s, labels), nil
	case Hinge:
		return activations.Relu(OneMinus(losses.BinaryMargins(arm, s, labels))), nil
	case EXP:
		return Exp(Neg(losses.BinaryMargins(arm, s, labels))), nil
	case EnsLoss:
		return losses.EnsLossContext(ctx, s, labels, 0), nil
	}
	return nil, fmt.Errorf("enslossexp: unknown arm %q (want one of %v)", arm, Arms)
}

// ErrDiverged is wrapped by Train's error when the training loss becomes NaN or infinite.
var ErrDiverged = errors.New("diverged")

// Run is one training run's curves, at the evaluation epochs.
type Run struct {
	Arm  string
	LR   float64
	Seed uint64
	// Epochs are the evaluation epochs. TrainAcc is the accuracy on the (noisy) training labels,
	// EvalAcc on the evaluation set (validation when tuning, test otherwise), Memorised the fraction
	// of flipped training labels the model predicts.
	Epochs                       []float64
	TrainAcc, EvalAcc, Memorised []float64
	// Diverged is the epoch whose training loss became NaN or infinite (0: none); training stopped
	// there and the model was evaluated as it was.
	Diverged int `json:",omitempty"`
}

// Final returns the run's last evaluation accuracy and memorised fraction.
func (r Run) Final() (acc, memorised float64) {
	n := len(r.EvalAcc) - 1
	return r.EvalAcc[n], r.Memorised[n]
}

// Train trains arm with learning rate lr from seed (initialisation, data order, EnsLoss draws) on tr
// and evaluates on eval every EvalEvery epochs. A non-finite training loss stops training: the run is
// returned, with Diverged set and the diverged model's evaluations, together with an error wrapping
// ErrDiverged.
func (c Config) Train(arm string, lr float64, seed uint64, tr, eval Set) (Run, error) {
	if err := c.Check(); err != nil {
		return Run{}, err
	}
	if tr.Len() < c.Batch || eval.Len() == 0 || len(tr.X) != tr.Len()*c.Dim || len(eval.X) != eval.Len()*c.Dim {
		return Run{}, fmt.Errorf("enslossexp: sets of %d and %d examples do not fit Dim %d and Batch %d",
			tr.Len(), eval.Len(), c.Dim, c.Batch)
	}
	if !slices.Contains(Arms, arm) {
		return Run{}, fmt.Errorf("enslossexp: unknown arm %q (want one of %v)", arm, Arms)
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(seed))
	if err := ctx.SetRNGStateFromSeed(int64(seed) + 7919); err != nil {
		return Run{}, err
	}
	ctx = ctx.Checked(false)
	steps := c.Epochs * (tr.Len() / c.Batch)
	o := train.SGD(lr, c.Momentum)
	o.WeightDecay = c.WeightDecay
	opt, err := o.Build(steps)
	if err != nil {
		return Run{}, err
	}
	step, err := train.NewContextStep(ctx, opt, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		l, err := LossGraph(ctx, arm, c.scores(ctx, in[0]), in[1])
		if err != nil {
			panic(err)
		}
		return ReduceAllMean(l), nil
	})
	if err != nil {
		return Run{}, fmt.Errorf("enslossexp: %s: %w", arm, err)
	}
	defer step.Finalize()
	score, err := context.NewExec(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		return c.scores(ctx, x)
	})
	if err != nil {
		return Run{}, err
	}
	defer score.Finalize()
	run := Run{Arm: arm, LR: lr, Seed: seed}
	xb, yb := make([]float32, c.Batch*c.Dim), make([]int32, c.Batch)
	var diverged error
	for e := range c.Epochs {
		if diverged == nil {
			if err := c.epoch(step, tr, seed, e, xb, yb); err != nil {
				if !errors.Is(err, ErrDiverged) {
					return Run{}, fmt.Errorf("enslossexp: %s lr=%g seed %d, epoch %d: %w", arm, lr, seed, e+1, err)
				}
				// Training stops; the diverged model is still evaluated as it is, as a user would get it
				// (non-finite scores predict class 0).
				diverged, run.Diverged = err, e+1
			}
		}
		if (e+1)%c.EvalEvery != 0 && e+1 != c.Epochs {
			continue
		}
		trS, err := c.predict(score, tr)
		if err != nil {
			return Run{}, err
		}
		evS, err := c.predict(score, eval)
		if err != nil {
			return Run{}, err
		}
		trAcc, mem := Accuracy(trS, tr)
		evAcc, _ := Accuracy(evS, eval)
		run.Epochs = append(run.Epochs, float64(e+1))
		run.TrainAcc, run.EvalAcc, run.Memorised = append(run.TrainAcc, trAcc), append(run.EvalAcc, evAcc), append(run.Memorised, mem)
	}
	if diverged != nil {
		return run, fmt.Errorf("enslossexp: %s lr=%g seed %d, epoch %d: %w", arm, lr, seed, run.Diverged, diverged)
	}
	return run, nil
}

// epoch runs one epoch of training steps; a non-finite loss stops it with an error wrapping ErrDiverged.
func (c Config) epoch(step *train.ContextStep, tr Set, seed uint64, e int, xb []float32, yb []int32) error {
	order := train.EpochOrder(tr.Len(), seed, e)
	for s := 0; s+c.Batch <= len(order); s += c.Batch {
		for b, i := range order[s : s+c.Batch] {
			copy(xb[b*c.Dim:(b+1)*c.Dim], tr.X[i*c.Dim:(i+1)*c.Dim])
			yb[b] = tr.Y[i]
		}
		x := tensors.FromFlatDataAndDimensions(xb, c.Batch, c.Dim)
		loss, _, err := step.Step(x, tensors.FromValue(yb))
		x.MustFinalizeAll()
		if err == nil && (math.IsNaN(loss) || math.IsInf(loss, 0)) {
			err = fmt.Errorf("%w: the training loss is %v", ErrDiverged, loss)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// predict returns the model's scores on s.
func (c Config) predict(score *context.Exec, s Set) ([]float32, error) {
	x := tensors.FromFlatDataAndDimensions(s.X, s.Len(), c.Dim)
	defer x.MustFinalizeAll()
	out, err := score.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("enslossexp: scoring: %w", err)
	}
	defer out[0].MustFinalizeAll()
	if out[0].DType() != dtypes.Float32 {
		return nil, fmt.Errorf("enslossexp: scores have dtype %s", out[0].DType())
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// Accuracy returns the fraction of s whose (possibly flipped) label the sign of the scores predicts,
// and the fraction of the flipped examples among them (NaN when none is flipped).
func Accuracy(scores []float32, s Set) (acc, memorised float64) {
	var hit, flipped, fit float64
	for i, v := range scores {
		ok := (v > 0) == (s.Y[i] == 1)
		if ok {
			hit++
		}
		if s.Flipped[i] {
			flipped++
			if ok {
				fit++
			}
		}
	}
	if flipped == 0 {
		return hit / float64(len(scores)), math.NaN()
	}
	return hit / float64(len(scores)), fit / flipped
}
