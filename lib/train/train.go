package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/nb"
)

// LossFn is a plain GoMLX training loss (GoMLX's train.LossFn). Run calls it with
// labels = [class labels int32 [B], example ids int32 [B]] and predictions = [logits [B,K], features [B,D]];
// it returns the scalar loss (a non-scalar result is averaged).
type LossFn = func(labels, predictions []*Node) *Node

// Config describes one training run. Model and Train are required; everything else has a default.
type Config struct {
	Model models.Model
	Train *data.Set
	// Test, if set, is evaluated every EvalEvery steps and at the end.
	Test *data.Set

	// Objective names a classification objective of lib/losses ("ce", "ldr-kl", ...) with
	// hyperparameters ObjectiveParams. Loss, if set, is used instead. Default: "ce".
	Objective       string
	ObjectiveParams losses.Params
	Loss            LossFn

	// Optimizer defaults to Adam(1e-3).
	Optimizer Optimizer
	// BatchSize defaults to 128 (the whole set if it is smaller). Each epoch is a fresh permutation;
	// its last partial batch is dropped so every step has the same shape.
	BatchSize int
	// Steps to train; if 0, Epochs full passes (default 1 epoch).
	Steps, Epochs int
	// Seed fixes the parameter initialisation; DataSeed the data order (0: derived from Seed).
	Seed, DataSeed uint64
	// Init, if set, supplies the starting parameters (its model variables are copied; it is not
	// modified). Seed then only matters for parameters Init lacks.
	Init *context.Context

	// EvalEvery evaluates Test every so many steps (0: only at the end).
	EvalEvery int
	// SnapshotEvery keeps the flat parameter vector (see Flat) in memory every so many steps, and at
	// step 0 (0: no snapshots).
	SnapshotEvery int
	// CheckpointDir receives checkpoints at CheckpointSteps and every CheckpointEvery steps (0: none).
	// Step 0 is the initialisation.
	CheckpointDir   string
	CheckpointSteps []int
	CheckpointEvery int

	// Label names the progress bar (default: model and objective). Silent turns the bar off.
	Label  string
	Silent bool

	// Watch, if set, is called after every step with the run so far (read it there, do not keep or
	// change it), and once more with done true when Run returns, e.g. viz.LiveTraining's curves.
	Watch func(res *Result, done bool)
}

// StepRecord is the training metrics of one step (Step counts completed steps: 1, 2, ...).
type StepRecord struct {
	Step     int
	Loss     float64 // this batch's loss
	Accuracy float64 // this batch's accuracy
	LR       float64 // learning rate used by this step
}

// EvalRecord is an evaluation of the test set after Step steps.
type EvalRecord struct {
	Step     int
	Loss     float64
	Accuracy float64
}

// Snapshot is the flat parameter vector after Step steps (see Flat for the order).
type Snapshot struct {
	Step   int
	Params []float32
}

// Result is what Run returns: the trained context and the run's history as plain data for plots.
type Result struct {
	// Context holds the trained variables (parameters and optimizer state).
	Context     *context.Context
	Model       models.Model
	Objective   string
	History     []StepRecord
	Evals       []EvalRecord
	Snapshots   []Snapshot
	Checkpoints []Checkpoint
	// Steps completed; BatchSize used.
	Steps, BatchSize int
	// Elapsed is the wall time of the training steps (graph compilation included).
	Elapsed time.Duration
}

// Final returns the last evaluation (ok is false if none was made).
func (r *Result) Final() (e EvalRecord, ok bool) {
	if len(r.Evals) == 0 {
		return EvalRecord{}, false
	}
	return r.Evals[len(r.Evals)-1], true
}

// DivergedError reports a NaN or infinite training loss.
type DivergedError struct {
	Step int
	Loss float64
	// LastCheckpoint is the folder of the last checkpoint saved before the divergence ("" if none).
	LastCheckpoint string
}

func (e *DivergedError) Error() string {
	ck := "no checkpoint was saved"
	if e.LastCheckpoint != "" {
		ck = "last good checkpoint: " + e.LastCheckpoint
	}
	return fmt.Sprintf("train: loss is %v at step %d; training stopped (%s)", e.Loss, e.Step, ck)
}

// Run trains cfg.Model on cfg.Train. On a NaN/Inf loss it stops and returns the partial Result with a
// *DivergedError.
func Run(cfg Config) (*Result, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	return r.run()
}

// RunPair trains two copies of the same initialisation (cfg.Seed, or cfg.Init) that differ only in
// data order (dataSeedA, dataSeedB): the setting of linear-mode-connectivity experiments. With a
// CheckpointDir, the two runs save under its sub-folders "a" and "b".
func RunPair(cfg Config, dataSeedA, dataSeedB uint64) (a, b *Result, err error) {
	if dataSeedA == dataSeedB {
		return nil, nil, fmt.Errorf("train.RunPair: the two data seeds are equal (%d); the runs would be identical", dataSeedA)
	}
	run := func(seed uint64, sub string) (*Result, error) {
		c := cfg
		c.DataSeed = seed
		if c.CheckpointDir != "" {
			c.CheckpointDir = c.CheckpointDir + "/" + sub
		}
		if c.Label == "" {
			c.Label = "run " + sub
		}
		return Run(c)
	}
	if a, err = run(dataSeedA, "a"); err != nil {
		return a, nil, err
	}
	b, err = run(dataSeedB, "b")
	return a, b, err
}

type runner struct {
	cfg       Config
	loss      LossFn
	objective string
	ctx       *context.Context
	total     int
	batch     int
	eval      *evaluator
}

func newRunner(cfg Config) (*runner, error) {
	if cfg.Model == nil {
		return nil, errors.New("train: Config.Model is nil")
	}
	if cfg.Train == nil || cfg.Train.Len() == 0 {
		return nil, errors.New("train: the training set is empty")
	}
	if err := cfg.Train.Validate(); err != nil {
		return nil, fmt.Errorf("train: training set: %w", err)
	}
	if cfg.Train.Classes < 2 {
		return nil, fmt.Errorf("train: training set %q has %d classes; Run trains classifiers (≥ 2 classes)", cfg.Train.Name, cfg.Train.Classes)
	}
	if cfg.Test != nil {
		if cfg.Test.Len() == 0 {
			return nil, errors.New("train: the test set is empty")
		}
		if err := cfg.Test.Validate(); err != nil {
			return nil, fmt.Errorf("train: test set: %w", err)
		}
		if !slices.Equal(cfg.Test.Shape, cfg.Train.Shape) || cfg.Test.Classes != cfg.Train.Classes {
			return nil, fmt.Errorf("train: test set has shape %v and %d classes, training set %v and %d classes",
				cfg.Test.Shape, cfg.Test.Classes, cfg.Train.Shape, cfg.Train.Classes)
		}
	}
	r := &runner{cfg: cfg}
	switch {
	case cfg.Loss != nil:
		r.loss, r.objective = cfg.Loss, "custom loss"
	default:
		name := cfg.Objective
		if name == "" {
			name = "ce"
		}
		fn, err := losses.TrainLoss(name, cfg.ObjectiveParams)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		r.loss, r.objective = fn, name
	}
	if r.cfg.Optimizer.Kind == "" {
		r.cfg.Optimizer = Adam(1e-3)
	}
	if err := r.cfg.Optimizer.Check(); err != nil {
		return nil, err
	}
	n := cfg.Train.Len()
	r.batch = cfg.BatchSize
	switch {
	case r.batch < 0:
		return nil, fmt.Errorf("train: negative batch size %d", r.batch)
	case r.batch == 0:
		r.batch = 128
	}
	r.batch = min(r.batch, n)
	switch {
	case cfg.Steps < 0 || cfg.Epochs < 0:
		return nil, fmt.Errorf("train: negative Steps (%d) or Epochs (%d)", cfg.Steps, cfg.Epochs)
	case cfg.Steps > 0:
		r.total = cfg.Steps
	default:
		r.total = max(cfg.Epochs, 1) * (n / r.batch)
	}
	if cfg.EvalEvery < 0 || cfg.SnapshotEvery < 0 || cfg.CheckpointEvery < 0 {
		return nil, errors.New("train: EvalEvery, SnapshotEvery and CheckpointEvery must be ≥ 0")
	}
	if (len(cfg.CheckpointSteps) > 0 || cfg.CheckpointEvery > 0) && cfg.CheckpointDir == "" {
		return nil, errors.New("train: checkpoint steps given but CheckpointDir is empty")
	}
	for _, s := range cfg.CheckpointSteps {
		if s < 0 || s > r.total {
			return nil, fmt.Errorf("train: checkpoint step %d is outside the run's steps [0, %d]", s, r.total)
		}
	}

	r.ctx = context.New()
	if err := r.ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if cfg.Init != nil {
		if err := copyModelVariables(cfg.Init, r.ctx); err != nil {
			return nil, err
		}
	}
	r.ctx = r.ctx.Checked(false)
	return r, nil
}

// newTrainer returns GoMLX's Trainer for the run, with a batch-accuracy metric after GoMLX's loss metrics.
func (r *runner) newTrainer(bk backends.Backend) *gomlxtrain.Trainer {
	accMetric := metrics.NewBaseMetric("Batch Accuracy", "acc", metrics.AccuracyMetricType,
		func(_ *context.Context, labels, predictions []*Node) *Node { return accuracyGraph(labels, predictions) }, nil)
	return gomlxtrain.NewTrainer(bk, r.ctx, modelFn(r.cfg.Model, r.cfg.Train.Classes), r.loss,
		r.cfg.Optimizer.build(r.total), []metrics.Interface{accMetric}, nil)
}

// modelFn adapts a Model to GoMLX's train.ModelFn, checking the logits' shape.
func modelFn(m models.Model, classes int) func(ctx *context.Context, _ any, inputs []*Node) []*Node {
	return func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		x := inputs[0]
		logits, features := m.Forward(ctx, x)
		b := x.Shape().Dimensions[0]
		if logits.Rank() != 2 || logits.Shape().Dimensions[0] != b || logits.Shape().Dimensions[1] != classes {
			panic(fmt.Errorf("model %s returned logits of shape %s, want [%d %d] (batch, classes of the data set)",
				m.Name(), logits.Shape(), b, classes))
		}
		if features == nil {
			features = logits
		}
		return []*Node{logits, features}
	}
}

func accuracyGraph(labels, predictions []*Node) *Node {
	pred := ArgMax(predictions[0], -1, dtypes.Int32)
	y := labels[0]
	if y.Rank() == 2 {
		y = Reshape(y, y.Shape().Dimensions[0])
	}
	return ReduceAllMean(ConvertDType(Equal(pred, ConvertDType(y, dtypes.Int32)), predictions[0].DType()))
}

func (r *runner) run() (res *Result, err error) {
	cfg := r.cfg
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	classes := cfg.Train.Classes
	trainer := r.newTrainer(bk)

	// Evaluator, also used to initialise the variables (so step 0 can be snapshotted/checkpointed)
	// and to report a shape mismatch before training starts.
	evalSet := cfg.Test
	if evalSet == nil {
		evalSet = cfg.Train
	}
	r.eval, err = newEvaluator(cfg.Model, r.ctx, r.loss, classes)
	if err != nil {
		return nil, err
	}
	if _, err := r.eval.run(evalSet.Subset([]int{0})); err != nil {
		return nil, err
	}

	res = &Result{Context: r.ctx, Model: cfg.Model, Objective: r.objective, BatchSize: r.batch}
	if cfg.Watch != nil {
		defer func() { cfg.Watch(res, true) }()
	}
	ckSteps := make(map[int]bool)
	for _, s := range cfg.CheckpointSteps {
		ckSteps[s] = true
	}
	lastCheckpoint := ""
	afterStep := func(step int) error {
		if cfg.SnapshotEvery > 0 && step%cfg.SnapshotEvery == 0 {
			flat, err := Flat(r.ctx)
			if err != nil {
				return err
			}
			res.Snapshots = append(res.Snapshots, Snapshot{Step: step, Params: flat})
		}
		if ckSteps[step] || (cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0) {
			path, err := SaveCheckpoint(cfg.CheckpointDir, r.ctx, step, cfg.Model.Name())
			if err != nil {
				return err
			}
			lastCheckpoint = path
			res.Checkpoints = append(res.Checkpoints, Checkpoint{Step: step, Path: path})
		}
		if cfg.Test != nil && step > 0 && ((cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0) || step == r.total) {
			m, err := r.eval.run(cfg.Test)
			if err != nil {
				return err
			}
			res.Evals = append(res.Evals, EvalRecord{Step: step, Loss: m.Loss, Accuracy: m.Accuracy})
		}
		return nil
	}
	if err := afterStep(0); err != nil {
		return res, err
	}

	label := cfg.Label
	if label == "" {
		label = cfg.Model.Name() + " · " + r.objective
	}
	var bar *nb.Progress
	if !cfg.Silent {
		bar = nb.NewProgress(r.total, label)
		defer bar.Done()
	}

	st := newStepper(trainer, cfg.Train, r.batch, cfg.DataSeed, cfg.Seed)
	start := time.Now()
	for step := 1; step <= r.total; step++ {
		loss, acc, err := st.step()
		if err != nil {
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("train: step %d: %w", step, err)
		}
		res.History = append(res.History, StepRecord{Step: step, Loss: loss, Accuracy: acc,
			LR: cfg.Optimizer.LearningRate(step-1, r.total)})
		res.Steps = step
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			res.Elapsed = time.Since(start)
			return res, &DivergedError{Step: step, Loss: loss, LastCheckpoint: lastCheckpoint}
		}
		if err := afterStep(step); err != nil {
			res.Elapsed = time.Since(start)
			return res, err
		}
		if cfg.Watch != nil {
			cfg.Watch(res, false)
		}
		if bar != nil {
			status := fmt.Sprintf("loss %.4f acc %.3f", loss, acc)
			if e, ok := res.Final(); ok {
				status += fmt.Sprintf(" · test acc %.3f", e.Accuracy)
			}
			bar.Add(1, status)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// stepper feeds batches of a set to a GoMLX trainer, one training step at a time.
type stepper struct {
	trainer     *gomlxtrain.Trainer
	set         *data.Set
	batch       int
	xShape      []int
	yBuf, idBuf []int32
	order       *order
}

func newStepper(trainer *gomlxtrain.Trainer, set *data.Set, batch int, dataSeed, seed uint64) *stepper {
	if dataSeed == 0 {
		dataSeed = seed ^ 0x9e3779b97f4a7c15
	}
	return &stepper{
		trainer: trainer, set: set, batch: batch,
		xShape: append([]int{batch}, set.Shape...),
		yBuf:   make([]int32, batch),
		idBuf:  make([]int32, batch),
		order:  newOrder(set.Len(), batch, dataSeed),
	}
}

// step runs one training step on the next batch and returns its loss and accuracy.
func (s *stepper) step() (loss, acc float64, err error) {
	d := s.set.Dim()
	// The batch's rows are copied straight into the input tensor (one copy of the images, not two).
	xT := tensors.FromShape(shapes.Make(dtypes.Float32, s.xShape...))
	tensors.MustMutableFlatData(xT, func(x []float32) {
		for j, i := range s.order.next() {
			copy(x[j*d:(j+1)*d], s.set.X[i*d:(i+1)*d])
			s.yBuf[j] = s.set.Y[i]
			s.idBuf[j] = s.set.IDs[i]
		}
	})
	yT := tensors.FromFlatDataAndDimensions(s.yBuf, s.batch)
	idT := tensors.FromFlatDataAndDimensions(s.idBuf, s.batch)
	out, err := s.trainer.TrainStep(nil, []*tensors.Tensor{xT}, []*tensors.Tensor{yT, idT})
	xT.MustFinalizeAll()
	yT.MustFinalizeAll()
	idT.MustFinalizeAll()
	if err != nil {
		return 0, 0, err
	}
	loss, acc = scalar(out[0]), scalar(out[len(out)-1])
	for _, t := range out {
		t.MustFinalizeAll()
	}
	return loss, acc, nil
}

func scalar(t *tensors.Tensor) float64 {
	switch t.DType() {
	case dtypes.Float32:
		return float64(tensors.ToScalar[float32](t))
	case dtypes.Float64:
		return tensors.ToScalar[float64](t)
	}
	return math.NaN()
}

// EpochOrder is the order in which Run visits n examples in epoch e (0-based) with data seed seed: a
// permutation drawn from a PCG generator seeded with (seed, e). Methods with their own batching use it
// to visit data as Run does (lib/fed's clients, lib/nap's batches).
func EpochOrder(n int, seed uint64, e int) []int {
	return rand.New(rand.NewPCG(seed, uint64(e))).Perm(n)
}

// order yields the batches of successive epochs, each a fresh permutation drawn from the seed.
type order struct {
	n, batch, pos int
	epoch         uint64
	seed          uint64
	perm          []int
}

func newOrder(n, batch int, seed uint64) *order {
	return &order{n: n, batch: batch, seed: seed, pos: n}
}

func (o *order) next() []int {
	if o.pos+o.batch > o.n {
		o.perm = EpochOrder(o.n, o.seed, int(o.epoch))
		o.epoch++
		o.pos = 0
	}
	idx := o.perm[o.pos : o.pos+o.batch]
	o.pos += o.batch
	return idx
}

// copyModelVariables copies src's model variables (everything but optimizer, metric and RNG state) into dst.
func copyModelVariables(src, dst *context.Context) error {
	n := 0
	for v := range src.IterVariables() {
		if !IsModelVariable(v) || !v.HasValue() {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("train: Init variable %s: %w", v.ScopeAndName(), err)
		}
		c, err := t.LocalClone()
		if err != nil {
			return fmt.Errorf("train: Init variable %s: %w", v.ScopeAndName(), err)
		}
		dst.InAbsPath(v.Scope()).Checked(false).VariableWithValue(v.Name(), c).SetTrainable(v.Trainable)
		n++
	}
	if n == 0 {
		return errors.New("train: Config.Init has no model variables")
	}
	return nil
}

// IsModelVariable tells a model's variables from the training machinery's: the optimizers' state
// (scopes "/optimizers", "/AdamOptimizer" and lib/train's momentum scope), the metrics' ("/metrics"),
// the trainer's ("/trainer"), the global step and the RNG state. A model's non-trainable variables
// (BatchNorm's moving statistics) are model variables.
func IsModelVariable(v *context.Variable) bool {
	if v.Name() == context.RNGStateVariableName || v.Name() == optimizers.GlobalStepVariableName {
		return false
	}
	first := strings.SplitN(strings.TrimPrefix(v.Scope(), context.ScopeSeparator), context.ScopeSeparator, 2)[0]
	switch first {
	case optimizers.Scope, optimizers.AdamDefaultScope, MomentumScope, metrics.Scope, "trainer":
		return false
	}
	return true
}
