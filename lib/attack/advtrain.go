package attack

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/nb"
	"github.com/losslab/losslab/lib/train"
)

// Adversarial training: at every step the batch is attacked against the current parameters (the inner
// maximisation), and the optimizer takes one step on a loss of the model's logits on the adversarial
// inputs, and optionally on the clean ones (the outer minimisation). With the default loss, the mean
// cross-entropy on the adversarial inputs, this is PGD adversarial training (Madry et al. 2018). Other
// losses (instance reweighting, distillation from teachers) receive extra per-step inputs computed on the
// host (TrainConfig.Extra) and can hand quantities back (aux outputs, TrainConfig.After). Gradients are
// Danskin-style: the adversarial inputs are constants of the step's graph.

// LossInputs are the graph nodes a training loss is built from.
type LossInputs struct {
	// Adv holds the logits [B,K] on the adversarial inputs (training mode).
	Adv *Node
	// Clean holds the logits [B,K] on the clean inputs; nil unless TrainConfig.Clean.
	Clean *Node
	// Labels are the class labels [B] (int32).
	Labels *Node
	// Extra are this step's values from TrainConfig.Extra, in order.
	Extra []*Node
}

// LossFn builds a training loss: the scalar to minimise (a non-scalar is averaged) and optional
// auxiliary outputs, computed with the parameters before the step and handed to TrainConfig.After.
type LossFn func(in LossInputs) (loss *Node, aux []*Node)

// TrainBatch is one step's batch, as the Extra and After callbacks see it.
type TrainBatch struct {
	// Step is the 1-based step number.
	Step int
	// Index holds the positions of the batch's examples in the training set.
	Index []int
	// X and Adv are the clean and adversarial inputs (row-major, B·Dim values); Labels the classes.
	X, Adv []float32
	Labels []int32
	// Attack is the training attack on this batch, made with the parameters before the step (its
	// AdvLoss holds the attack objective per example at Adv, e.g. the robust cross-entropy).
	Attack *Result
}

// TrainRecord is one step's metrics.
type TrainRecord struct {
	Step int
	// Loss is the training loss of the step (before the update).
	Loss float64
	// CleanAccuracy and RobustAccuracy are the batch's accuracies under the training attack, before the
	// update.
	CleanAccuracy, RobustAccuracy float64
	// Aux holds the loss's auxiliary outputs (flattened to float64), in order.
	Aux [][]float64
}

// TrainConfig describes an adversarial training run. Model, Train and Attack are required.
type TrainConfig struct {
	Model models.Model
	Train *data.Set
	// Attack crafts the adversarial inputs of every step against the current parameters; step s uses
	// the random-start seed Attack.Seed + s. Its objective must be per-example (the default "ce" is).
	Attack Config
	// Loss is the training loss; nil means the mean cross-entropy on the adversarial inputs (PGD-AT).
	Loss LossFn
	// Clean also runs the model on the clean inputs (LossInputs.Clean).
	Clean bool
	// Extra, if set, returns the extra inputs of the step's loss (LossInputs.Extra), computed on the host
	// before the step: anything GoMLX's Exec accepts (*tensors.Tensor, a Go scalar such as float32, a
	// slice). Their shapes should not change between steps (each new shape compiles the step again).
	Extra func(b *TrainBatch) ([]any, error)
	// After, if set, is called after each step with its batch and record; an error stops training.
	After func(b *TrainBatch, r TrainRecord) error
	// Optimizer defaults to Adam(1e-3).
	Optimizer train.Optimizer
	// BatchSize defaults to 128 (the whole set if smaller); the last partial batch of an epoch is dropped.
	BatchSize int
	// Steps to train; if 0, Epochs full passes (default 1).
	Steps, Epochs int
	// Seed fixes the parameter initialisation; DataSeed the data order (0: derived from Seed).
	Seed, DataSeed uint64
	// Init, if set, supplies the starting parameters (its trainable variables, which must match the
	// model's; it is not modified).
	Init *context.Context
	// Label names the progress bar; Silent turns it off.
	Label  string
	Silent bool
}

// TrainResult is what Train returns.
type TrainResult struct {
	// Context holds the trained parameters (and the optimizer's state).
	Context *context.Context
	Model   models.Model
	History []TrainRecord
	// Steps completed; BatchSize used.
	Steps, BatchSize int
	Elapsed          time.Duration
}

// Train runs adversarial training as cfg describes. On a NaN or infinite loss it stops and returns the
// partial result with an error.
func Train(cfg TrainConfig) (res *TrainResult, err error) {
	if cfg.Model == nil {
		return nil, errors.New("attack.Train: Model is nil")
	}
	set := cfg.Train
	if set == nil || set.Len() == 0 {
		return nil, errors.New("attack.Train: the training set is empty")
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	}
	if set.Classes < 2 {
		return nil, fmt.Errorf("attack.Train: training set %q has %d classes; want ≥ 2", set.Name, set.Classes)
	}
	obj, _, err := cfg.Attack.resolve()
	if err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	}
	if !obj.PerExample {
		return nil, fmt.Errorf("attack.Train: the training attack's objective %q is not per-example", obj.Name)
	}
	opt := cfg.Optimizer
	if opt.Kind == "" {
		opt = train.Adam(1e-3)
	}
	n := set.Len()
	batch := cfg.BatchSize
	switch {
	case batch < 0:
		return nil, fmt.Errorf("attack.Train: negative batch size %d", batch)
	case batch == 0:
		batch = 128
	}
	batch = min(batch, n)
	var total int
	switch {
	case cfg.Steps < 0 || cfg.Epochs < 0:
		return nil, fmt.Errorf("attack.Train: negative Steps (%d) or Epochs (%d)", cfg.Steps, cfg.Epochs)
	case cfg.Steps > 0:
		total = cfg.Steps
	default:
		total = max(cfg.Epochs, 1) * (n / batch)
	}
	optimizer, err := opt.Build(total)
	if err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	}
	ctx = ctx.Checked(false)

	// Create the parameters with their initializers before anything else reads them, and check the
	// model's output against the data set.
	pred, err := NewPredictor(cfg.Model, ctx)
	if err != nil {
		return nil, err
	}
	if _, k, err := pred.Logits(set.Example(0), set.Shape); err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	} else if k != set.Classes {
		return nil, fmt.Errorf("attack.Train: model %s has %d outputs, the training set %d classes", cfg.Model.Name(), k, set.Classes)
	}
	pred.Finalize()
	if cfg.Init != nil {
		params, err := train.Params(cfg.Init)
		if err == nil && len(params) == 0 {
			err = errors.New("it has no parameters")
		}
		if err == nil {
			err = train.SetParams(ctx, params)
		}
		if err != nil {
			return nil, fmt.Errorf("attack.Train: Init: %w", err)
		}
	}

	atk, err := New(cfg.Model, ctx, cfg.Attack)
	if err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	}
	defer atk.exec.Finalize()

	lossFn := cfg.Loss
	if lossFn == nil {
		lossFn = func(in LossInputs) (*Node, []*Node) {
			return ReduceAllMean(losses.CrossEntropy(in.Adv, in.Labels)), nil
		}
	}
	trainStep, err := train.NewContextStep(ctx, optimizer, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		li := LossInputs{Labels: in[1], Extra: in[2:]}
		li.Adv, _ = cfg.Model.Forward(ctx, in[0])
		if cfg.Clean {
			li.Clean, _ = cfg.Model.Forward(ctx, in[2])
			li.Extra = in[3:]
		}
		return lossFn(li)
	})
	if err != nil {
		return nil, fmt.Errorf("attack.Train: %w", err)
	}
	trainStep = trainStep.WithName("advtrain." + cfg.Model.Name())
	defer trainStep.Finalize()

	dataSeed := cfg.DataSeed
	if dataSeed == 0 {
		dataSeed = cfg.Seed ^ 0x9e3779b97f4a7c15
	}
	label := cfg.Label
	if label == "" {
		label = fmt.Sprintf("adversarial training %s (%s ε=%g)", cfg.Model.Name(), attackName(cfg.Attack), cfg.Attack.Epsilon)
	}
	var bar *nb.Progress
	if !cfg.Silent {
		bar = nb.NewProgress(total, label)
		defer bar.Done()
	}

	res = &TrainResult{Context: ctx, Model: cfg.Model, BatchSize: batch}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	perEpoch := n / batch
	var order []int
	for step := 1; step <= total; step++ {
		pos := (step - 1) % perEpoch
		if pos == 0 {
			order = data.EpochOrder(n, dataSeed, (step-1)/perEpoch)
		}
		idx := order[pos*batch : (pos+1)*batch]
		x, y := set.Gather(idx)
		ar, err := atk.run(x, set.Shape, y, cfg.Attack.Seed+int64(step))
		if err != nil {
			return res, fmt.Errorf("attack.Train: step %d: %w", step, err)
		}
		b := &TrainBatch{Step: step, Index: idx, X: x, Adv: ar.Adv, Labels: y, Attack: ar}
		shape := append([]int{batch}, set.Shape...)
		inputs := []any{tensors.FromFlatDataAndDimensions(ar.Adv, shape...), tensors.FromFlatDataAndDimensions(y, batch)}
		if cfg.Clean {
			inputs = append(inputs, tensors.FromFlatDataAndDimensions(x, shape...))
		}
		if cfg.Extra != nil {
			extra, err := cfg.Extra(b)
			if err != nil {
				return res, fmt.Errorf("attack.Train: step %d: extra inputs: %w", step, err)
			}
			inputs = append(inputs, extra...)
		}
		loss, aux, err := trainStep.Step(inputs...)
		for _, in := range inputs {
			if t, ok := in.(*tensors.Tensor); ok {
				t.MustFinalizeAll()
			}
		}
		if err != nil {
			return res, fmt.Errorf("attack.Train: step %d: %w", step, err)
		}
		rec := TrainRecord{Step: step, Loss: loss, Aux: aux}
		var nc, nr int
		for i := range y {
			if ar.CleanCorrect[i] {
				nc++
			}
			if ar.RobustCorrect[i] {
				nr++
			}
		}
		rec.CleanAccuracy, rec.RobustAccuracy = float64(nc)/float64(batch), float64(nr)/float64(batch)
		res.History = append(res.History, rec)
		res.Steps = step
		if math.IsNaN(rec.Loss) || math.IsInf(rec.Loss, 0) {
			return res, fmt.Errorf("attack.Train: the loss is %g at step %d; training stopped", rec.Loss, step)
		}
		if cfg.After != nil {
			if err := cfg.After(b, rec); err != nil {
				return res, fmt.Errorf("attack.Train: step %d: %w", step, err)
			}
		}
		if bar != nil {
			bar.Add(1, fmt.Sprintf("loss %.4f · batch clean %.3f robust %.3f", rec.Loss, rec.CleanAccuracy, rec.RobustAccuracy))
		}
	}
	return res, nil
}

// execRecovered runs exec, turning a GoMLX panic into a one-line error and finalizing the tensor inputs.
func execRecovered(exec *context.Exec, inputs []any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New(backend.FirstLine(backend.Recovered(r)))
		}
		for _, in := range inputs {
			if t, ok := in.(*tensors.Tensor); ok {
				t.MustFinalizeAll()
			}
		}
	}()
	out, err = exec.Exec(inputs...)
	if err != nil {
		return nil, errors.New(backend.FirstLine(err))
	}
	return out, nil
}

// PredictBatch is the batch size of Predictor.Logits.
const PredictBatch = 1000

// Predictor computes a model's logits with the parameters in a context, in inference mode.
type Predictor struct {
	model models.Model
	exec  *context.Exec
}

// NewPredictor prepares the model's forward pass; graphs are compiled per input shape on first use.
// Parameters missing from ctx are created by their initializers.
func NewPredictor(model models.Model, ctx *context.Context) (*Predictor, error) {
	if model == nil || ctx == nil {
		return nil, errors.New("attack.NewPredictor: model and context must not be nil")
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	exec, err := context.NewExec(bk, ctx.Checked(false), func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		if x.DType() != dtypes.Float32 {
			x = ConvertDType(x, dtypes.Float32)
		}
		logits, _ := model.Forward(ctx, x)
		if logits.Rank() != 2 || logits.Shape().Dimensions[0] != x.Shape().Dimensions[0] {
			panic(fmt.Errorf("model %s returned logits of shape %s, want [%d,K]", model.Name(), logits.Shape(), x.Shape().Dimensions[0]))
		}
		return ConvertDType(logits, dtypes.Float32)
	})
	if err != nil {
		return nil, fmt.Errorf("attack.NewPredictor: %w", err)
	}
	return &Predictor{model: model, exec: exec.WithName("predict." + model.Name())}, nil
}

// Logits returns the logits (row-major [N,K]) and K for the N examples in x, each of shape `shape`,
// computed in batches of PredictBatch.
func (p *Predictor) Logits(x []float32, shape []int) (logits []float32, classes int, err error) {
	dim := 1
	for _, d := range shape {
		if d <= 0 {
			return nil, 0, fmt.Errorf("attack.Predictor: per-example shape %v has a non-positive dimension", shape)
		}
		dim *= d
	}
	if len(x) == 0 || len(x)%dim != 0 {
		return nil, 0, fmt.Errorf("attack.Predictor: %d input values are not a positive whole number of examples of shape %v", len(x), shape)
	}
	n := len(x) / dim
	for lo := 0; lo < n; lo += PredictBatch {
		hi := min(lo+PredictBatch, n)
		in := tensors.FromFlatDataAndDimensions(slices.Clone(x[lo*dim:hi*dim]), append([]int{hi - lo}, shape...)...)
		out, err := execRecovered(p.exec, []any{in})
		if err != nil {
			return nil, 0, fmt.Errorf("attack.Predictor on %s: %w", p.model.Name(), err)
		}
		classes = out[0].Shape().Dimensions[1]
		logits = append(logits, tensors.MustCopyFlatData[float32](out[0])...)
		out[0].MustFinalizeAll()
	}
	return logits, classes, nil
}

// Finalize frees the compiled graphs.
func (p *Predictor) Finalize() { p.exec.Finalize() }

// Correctness attacks every example of set like RobustAccuracy (same batches, seeds and padding) and
// returns, per example, whether it is classified correctly clean and both clean and under attack, for
// per-class or per-group robust accuracies.
func Correctness(model models.Model, ctx *context.Context, set *data.Set, cfg Config) (clean, robust []bool, err error) {
	if set == nil || set.Len() == 0 {
		return nil, nil, errors.New("attack: the data set is empty")
	}
	if err := set.Validate(); err != nil {
		return nil, nil, fmt.Errorf("attack: %w", err)
	}
	a, err := Cached(model, ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if !a.obj.PerExample {
		return nil, nil, fmt.Errorf("attack.Correctness: objective %q is not per-example", a.obj.Name)
	}
	bs := cfg.BatchSize
	if bs == 0 {
		bs = DefaultBatchSize
	}
	n, dim := set.Len(), set.Dim()
	bs = min(bs, n)
	batches := (n + bs - 1) / bs
	p := nb.NewProgress(batches, fmt.Sprintf("%s ε=%g on %s", attackName(cfg), cfg.Epsilon, set.Name))
	defer p.Done()
	clean, robust = make([]bool, n), make([]bool, n)
	x := make([]float32, bs*dim)
	y := make([]int32, bs)
	var nc, nr int
	for i := 0; i < batches; i++ {
		lo, hi := i*bs, min((i+1)*bs, n)
		copy(x, set.X[lo*dim:hi*dim])
		copy(y, set.Y[lo:hi])
		for j := hi - lo; j < bs; j++ { // pad the last batch with its first example
			copy(x[j*dim:(j+1)*dim], set.X[lo*dim:(lo+1)*dim])
			y[j] = set.Y[lo]
		}
		res, err := a.run(x, set.Shape, y, cfg.Seed+int64(i))
		if err != nil {
			return nil, nil, fmt.Errorf("%w (batch %d of %d of %q)", err, i+1, batches, set.Name)
		}
		for j := 0; j < hi-lo; j++ {
			clean[lo+j], robust[lo+j] = res.CleanCorrect[j], res.RobustCorrect[j]
			if clean[lo+j] {
				nc++
			}
			if robust[lo+j] {
				nr++
			}
		}
		p.Add(1, fmt.Sprintf("clean %.3f robust %.3f", float64(nc)/float64(hi), float64(nr)/float64(hi)))
	}
	return clean, robust, nil
}
