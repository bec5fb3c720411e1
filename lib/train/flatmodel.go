package train

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
)

// FlatModel evaluates a classifier at parameter vectors held on the host, in Flat's order: the mean
// cross-entropy of a batch with its gradient, and the loss and accuracy on a data set. The parameters
// are inputs of the compiled programs (one per batch shape), so a training loop can keep parameters
// and optimizer state on the host and change them freely between steps: federated averaging with many
// client copies of one model, gradient masks, projections after each step.
//
// The model runs in inference mode; models with BatchNorm (whose training graph writes its moving
// averages) are refused. A FlatModel is not safe for concurrent use.
type FlatModel struct {
	model    models.Model
	classes  int
	shape    []int
	ctx      *context.Context
	vars     []*context.Variable
	names    []string
	shapes   [][]int
	size     int
	init     []float32
	gradExec *context.Exec
	evalExec *context.Exec
}

// NewFlatModel builds the programs of model m for inputs shaped like set's examples and set.Classes
// classes, and initialises its parameters from seed (the model's own initialisers, as Run with that
// Seed). set is only read for its shape and class count.
func NewFlatModel(m models.Model, set *data.Set, seed uint64) (*FlatModel, error) {
	if m == nil || set == nil {
		return nil, errors.New("train.NewFlatModel: model and data set must not be nil")
	}
	if set.Classes < 2 || set.Dim() < 1 {
		return nil, fmt.Errorf("train.NewFlatModel: set %q has %d classes and %d input values per example; need ≥ 2 and ≥ 1",
			set.Name, set.Classes, set.Dim())
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	f := &FlatModel{model: m, classes: set.Classes, shape: slices.Clone(set.Shape)}
	f.ctx = context.New()
	if err := f.ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, fmt.Errorf("train.NewFlatModel: %w", err)
	}
	f.ctx = f.ctx.Checked(false)
	mfn := modelFn(m, set.Classes)
	// Initialise the variables with one forward pass on a zero example.
	initExec, err := context.NewExec(bk, f.ctx, func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		return mfn(ctx, nil, []*Node{x})[0]
	})
	if err != nil {
		return nil, fmt.Errorf("train.NewFlatModel: %w", err)
	}
	x0 := tensors.FromFlatDataAndDimensions(make([]float32, set.Dim()), append([]int{1}, set.Shape...)...)
	if err := f.exec(initExec, x0); err != nil {
		return nil, err
	}
	for v := range f.ctx.IterVariables() {
		if v.Name() == models.MeanVar || v.Name() == models.VarVar {
			return nil, fmt.Errorf("train.NewFlatModel: model %s has BatchNorm statistics (%s); FlatModel runs models without BatchNorm",
				m.Name(), v.ScopeAndName())
		}
	}
	f.vars = ParamVariables(f.ctx)
	if len(f.vars) == 0 {
		return nil, fmt.Errorf("train.NewFlatModel: model %s created no trainable float32 parameters", m.Name())
	}
	for _, v := range f.vars {
		f.names = append(f.names, v.ScopeAndName())
		f.shapes = append(f.shapes, slices.Clone(v.Shape().Dimensions))
		f.size += v.Shape().Size()
	}
	if f.init, err = Flat(f.ctx); err != nil {
		return nil, err
	}
	ce, err := losses.TrainLoss("ce", nil)
	if err != nil {
		return nil, err
	}
	P := len(f.vars)
	// setTheta overrides the variables' graph values with the parameter inputs and returns a function
	// that restores them, so that the Exec does not write the inputs back into the variables.
	setTheta := func(g *Graph, theta []*Node) func() {
		orig := make([]*Node, P)
		for i, v := range f.vars {
			orig[i] = v.ValueGraph(g)
			v.SetValueGraph(theta[i])
		}
		return func() {
			for i, v := range f.vars {
				v.SetValueGraph(orig[i])
			}
		}
	}
	f.gradExec, err = context.NewExec(bk, f.ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		theta, x, y := inputs[:P], inputs[P], inputs[P+1]
		ctx.SetTraining(x.Graph(), false)
		restore := setTheta(x.Graph(), theta)
		defer restore()
		preds := mfn(ctx, nil, []*Node{x})
		l := ce([]*Node{y}, preds)
		grads := Gradient(l, theta...)
		return append([]*Node{ConvertDType(l, dtypes.Float64)}, grads...)
	})
	if err != nil {
		return nil, fmt.Errorf("train.NewFlatModel: %w", err)
	}
	f.evalExec, err = context.NewExec(bk, f.ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		theta, x, y := inputs[:P], inputs[P], inputs[P+1]
		ctx.SetTraining(x.Graph(), false)
		restore := setTheta(x.Graph(), theta)
		defer restore()
		preds := mfn(ctx, nil, []*Node{x})
		l := ce([]*Node{y}, preds)
		return []*Node{ConvertDType(l, dtypes.Float64), ConvertDType(accuracyGraph([]*Node{y}, preds), dtypes.Float64)}
	})
	if err != nil {
		return nil, fmt.Errorf("train.NewFlatModel: %w", err)
	}
	return f, nil
}

// Model returns the model.
func (f *FlatModel) Model() models.Model { return f.model }

// Size is the number of parameters P (the length of every parameter vector).
func (f *FlatModel) Size() int { return f.size }

// Layout returns the parameters' names ("/dense_0/weights") and shapes in vector order: parameter i
// occupies the next prod(shapes[i]) entries.
func (f *FlatModel) Layout() (names []string, shapes [][]int) {
	shapes = make([][]int, len(f.shapes))
	for i, s := range f.shapes {
		shapes[i] = slices.Clone(s)
	}
	return slices.Clone(f.names), shapes
}

// Init returns a copy of the initial parameters (from NewFlatModel's seed).
func (f *FlatModel) Init() []float32 { return slices.Clone(f.init) }

// Context returns a new context holding params as the model's variables (for lib/landscape or
// Evaluate).
func (f *FlatModel) Context(params []float32) (*context.Context, error) {
	if err := f.checkParams(params); err != nil {
		return nil, err
	}
	ctx := context.New().Checked(false)
	pos := 0
	for i, v := range f.vars {
		n := v.Shape().Size()
		t := tensors.FromFlatDataAndDimensions(slices.Clone(params[pos:pos+n]), f.shapes[i]...)
		ctx.InAbsPath(v.Scope()).VariableWithValue(v.Name(), t)
		pos += n
	}
	return ctx, nil
}

// Grad returns the mean cross-entropy of the batch (x holds its examples back to back, y their labels)
// at params, and its gradient with respect to params.
func (f *FlatModel) Grad(params []float32, x []float32, y []int32) (loss float64, grad []float32, err error) {
	args, err := f.args(params, x, y)
	if err != nil {
		return 0, nil, err
	}
	out, err := f.run(f.gradExec, args)
	if err != nil {
		return 0, nil, err
	}
	loss = tensors.ToScalar[float64](out[0])
	grad = make([]float32, 0, f.size)
	for _, t := range out[1:] {
		grad = append(grad, tensors.MustCopyFlatData[float32](t)...)
	}
	finalize(out)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, grad, fmt.Errorf("train.FlatModel.Grad: the loss is %v (NaN or infinite parameters or inputs?)", loss)
	}
	return loss, grad, nil
}

// Evaluate returns the mean cross-entropy and the accuracy at params on set, in batches of EvalBatch.
func (f *FlatModel) Evaluate(params []float32, set *data.Set) (Metrics, error) {
	if set == nil || set.Len() == 0 {
		return Metrics{}, errors.New("train.FlatModel.Evaluate: the data set is empty")
	}
	n, d := set.Len(), set.Dim()
	var lossSum, accSum float64
	for lo := 0; lo < n; lo += EvalBatch {
		hi := min(lo+EvalBatch, n)
		args, err := f.args(params, set.X[lo*d:hi*d], set.Y[lo:hi])
		if err != nil {
			return Metrics{}, err
		}
		out, err := f.run(f.evalExec, args)
		if err != nil {
			return Metrics{}, err
		}
		l := tensors.ToScalar[float64](out[0])
		lossSum += l * float64(hi-lo)
		accSum += tensors.ToScalar[float64](out[1]) * float64(hi-lo)
		finalize(out)
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return Metrics{}, fmt.Errorf("train.FlatModel.Evaluate: the loss on %q is %v on examples %d..%d", set.Name, l, lo, hi-1)
		}
	}
	return Metrics{Loss: lossSum / float64(n), Accuracy: accSum / float64(n), N: n}, nil
}

func (f *FlatModel) checkParams(params []float32) error {
	if len(params) != f.size {
		return fmt.Errorf("train.FlatModel: got a parameter vector of %d values, model %s has %d", len(params), f.model.Name(), f.size)
	}
	return nil
}

// args converts params and a batch into the programs' input tensors.
func (f *FlatModel) args(params []float32, x []float32, y []int32) ([]any, error) {
	if err := f.checkParams(params); err != nil {
		return nil, err
	}
	d := 1
	for _, s := range f.shape {
		d *= s
	}
	b := len(y)
	if b == 0 || len(x) != b*d {
		return nil, fmt.Errorf("train.FlatModel: a batch of %d labels needs %d input values (%d per example), got %d", b, b*d, d, len(x))
	}
	for i, c := range y {
		if c < 0 || int(c) >= f.classes {
			return nil, fmt.Errorf("train.FlatModel: label %d of example %d is outside [0, %d)", c, i, f.classes)
		}
	}
	args := make([]any, 0, len(f.vars)+2)
	pos := 0
	for i := range f.vars {
		n := 1
		for _, s := range f.shapes[i] {
			n *= s
		}
		args = append(args, tensors.FromFlatDataAndDimensions(slices.Clone(params[pos:pos+n]), f.shapes[i]...))
		pos += n
	}
	args = append(args, tensors.FromFlatDataAndDimensions(slices.Clone(x), append([]int{b}, f.shape...)...))
	args = append(args, tensors.FromFlatDataAndDimensions(slices.Clone(y), b))
	return args, nil
}

func (f *FlatModel) exec(e *context.Exec, args ...any) error {
	out, err := f.run(e, args)
	if err != nil {
		return err
	}
	finalize(out)
	return nil
}

// run executes a program, turning graph-building panics into errors.
func (f *FlatModel) run(e *context.Exec, args []any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train.FlatModel (%s): %v", f.model.Name(), backend.Recovered(r))
		}
	}()
	out, err = e.Exec(args...)
	for _, a := range args {
		if t, ok := a.(*tensors.Tensor); ok {
			t.MustFinalizeAll()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("train.FlatModel (%s): %w", f.model.Name(), err)
	}
	return out, nil
}

func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		t.MustFinalizeAll()
	}
}
