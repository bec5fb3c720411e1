package landscape

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/nb"
)

// ForwardFn builds the logits [B, K] for inputs x [B, ...], reading every parameter from variables of ctx
// (so that the engine can override their values inside the graph with Variable.SetValueGraph).
type ForwardFn func(ctx *context.Context, x *graph.Node) *graph.Node

// Model is the part of LossLab's models.Model contract the engine needs.
type Model interface {
	Forward(ctx *context.Context, x *graph.Node) (logits, features *graph.Node)
}

// FromModel adapts a models.Model to a ForwardFn (keeping the logits).
func FromModel(m Model) ForwardFn {
	return func(ctx *context.Context, x *graph.Node) *graph.Node {
		logits, _ := m.Forward(ctx, x)
		return logits
	}
}

// FromSet converts a lib/data Set to evaluation Data (sharing its slices). The engine keeps one device
// copy per *Data: convert a set once and reuse the result.
func FromSet(s *data.Set) *Data {
	if s == nil {
		return nil
	}
	return &Data{Name: s.Name, Shape: s.Shape, X: s.X, Y: s.Y}
}

// LossFn is a custom per-example loss: given logits [B, K] and labels int32 [B] it returns losses [B].
type LossFn func(logits, labels *graph.Node) *graph.Node

// Data is an evaluation set held in memory: example i has features X[i*Dim():(i+1)*Dim()] of shape Shape
// and label Y[i]. (A lib/data Set converts with FromSet.)
// The engine keeps a device copy per *Data; do not modify X or Y after the first evaluation.
type Data struct {
	Name  string
	Shape []int
	X     []float32
	Y     []int32
}

// Len is the number of examples.
func (d *Data) Len() int { return len(d.Y) }

func (d *Data) check() error {
	if d == nil || len(d.Y) == 0 {
		name := ""
		if d != nil {
			name = d.Name
		}
		return fmt.Errorf("landscape: empty evaluation data %q (no examples)", name)
	}
	dim := prod(d.Shape)
	if len(d.X) != len(d.Y)*dim {
		return fmt.Errorf("landscape: data %q has %d feature values for %d examples of shape %v (want %d)",
			d.Name, len(d.X), len(d.Y), d.Shape, len(d.Y)*dim)
	}
	return nil
}

// Config configures an Evaluator.
type Config struct {
	// Objective is a lib/losses registry name of kind "classification"; "" means plain cross-entropy.
	Objective string
	// ObjectiveParams are its hyperparameters (defaults for the rest).
	ObjectiveParams losses.Params
	// Loss, if set, is a custom per-example loss used instead of Objective; LossName labels it.
	Loss     LossFn
	LossName string
	// BatchSize is the number of examples per call (default 1000). Objectives that are not per-example
	// (batch-level losses) always see the whole evaluation set in one batch.
	BatchSize int
	// PointsPerCall is the number K of parameter points evaluated by one call of the compiled program
	// (default 8).
	PointsPerCall int
	// Label names the work in progress bars; Silent turns them off (for loops of many small
	// evaluations, whose bars would fill a notebook).
	Label  string
	Silent bool
	// BatchNorm configures the re-estimation of BatchNorm statistics at each point.
	BatchNorm BNConfig
}

// BNConfig configures BatchNorm re-estimation. When the model has BatchNorm layers (State variables
// "moving_mean" and "moving_variance", as lib/models' BatchNorm keeps them), the engine re-estimates
// them at every parameter point by default: one forward pass in training mode over the statistics data
// at that point gives each layer's batch mean μ and (biased) variance σ², which replace the stored
// moving averages for the evaluation of that point (a point between two models has no statistics of its
// own: the endpoints' averages do not describe its activations; Garipov et al., Ainsworth et al. reset
// them the same way). The statistics are read through lib/models' moving-average update
// m ← β·m + (1−β)·batch (β = models.BatchNormMomentum) with m set to 0 inside the graph, so μ = m'/(1−β).
// Grad is not affected: it holds the statistics of θ's State (or the template's) fixed.
type BNConfig struct {
	// Off keeps the base point's stored statistics (its State) at every point.
	Off bool
	// Data holds the examples the statistics are computed on (a training subset, usually); nil means the
	// data being evaluated.
	Data *Data
	// Examples is how many of Data's first examples are used, in one batch (default 1000).
	Examples int
}

// Point is the result at one parameter point: mean loss and error rate (1 − accuracy) over the data.
type Point struct {
	Loss, Error float64
}

// Evaluator evaluates a model's loss and error at many parameter points θ = θ₀ + Σ_m c_m·d_m with one
// compiled program per input shape: the base point θ₀ lives in the variables of a private context, the
// directions d_m and a batch of K coefficient rows are inputs, the data stays on the device, and the K
// points are unrolled inside the graph. Compilations counts how many programs were built.
type Evaluator struct {
	forward   ForwardFn
	template  *ParamSet
	cfg       Config
	lossName  string
	lossFn    LossFn
	batchLoss func(logits, labels *graph.Node) *graph.Node // non-per-example objectives
	backend   backends.Backend
	ctx       *context.Context
	vars      []*context.Variable
	dtype     dtypes.DType
	exec      *context.Exec
	gradExec  *context.Exec
	compiles  atomic.Int64
	chunks    map[*Data][]dataChunk
	// BatchNorm: the State variables (all), those re-estimated at each point, and the statistics program.
	stateVars []*context.Variable
	bnVars    []*context.Variable
	bnState   []int // index in template.State of each bnVars entry
	statsExec *context.Exec
	statsData map[*Data]*tensors.Tensor
	// chainPoints orders the points of one call (see buildEval): only for a parallel pure-Go executor.
	chainPoints bool
}

type dataChunk struct {
	x, y, mask *tensors.Tensor
	n          int // real examples in the chunk
}

// NewEvaluator prepares an evaluator for the model forward whose parameters have the names and shapes of
// template.
func NewEvaluator(forward ForwardFn, template *ParamSet, cfg Config) (*Evaluator, error) {
	if forward == nil || template == nil || len(template.Params) == 0 {
		return nil, fmt.Errorf("landscape.NewEvaluator: need a forward function and a non-empty parameter template")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1000
	}
	if cfg.PointsPerCall == 0 {
		cfg.PointsPerCall = 8
	}
	if cfg.BatchSize < 1 || cfg.PointsPerCall < 1 {
		return nil, fmt.Errorf("landscape.NewEvaluator: BatchSize=%d and PointsPerCall=%d must be ≥ 1", cfg.BatchSize, cfg.PointsPerCall)
	}
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	e := &Evaluator{forward: forward, template: template.Clone(), cfg: cfg, backend: b, chunks: map[*Data][]dataChunk{},
		chainPoints: backend.ParallelOps()}
	switch {
	case cfg.Loss != nil:
		e.lossFn, e.lossName = cfg.Loss, cfg.LossName
		if e.lossName == "" {
			e.lossName = "custom"
		}
	default:
		name := cfg.Objective
		if name == "cross-entropy" {
			name = "ce"
		}
		c, err := losses.ResolveClassifier(name, cfg.ObjectiveParams)
		if err != nil {
			return nil, fmt.Errorf("landscape: %w", err)
		}
		e.lossName = c.Name()
		if name == "" || name == "ce" {
			e.lossName = "cross-entropy" // The provenance name results have always carried.
		}
		if c.PerExample() {
			e.lossFn = c.Loss
		} else {
			e.batchLoss = c.Loss
		}
	}
	e.dtype = template.Params[0].DType
	for _, p := range template.Params {
		if p.DType != e.dtype {
			return nil, fmt.Errorf("landscape: mixed parameter dtypes (%s is %s, %s is %s) are not supported",
				template.Params[0].Name(), e.dtype, p.Name(), p.DType)
		}
	}
	e.ctx = context.New()
	if err := e.template.ToContext(e.ctx); err != nil {
		return nil, err
	}
	for _, p := range e.template.Params {
		e.vars = append(e.vars, e.ctx.GetVariableByScopeAndName(p.Scope, p.Var))
	}
	for i, p := range e.template.State {
		v := e.ctx.GetVariableByScopeAndName(p.Scope, p.Var)
		e.stateVars = append(e.stateVars, v)
		if !cfg.BatchNorm.Off && (p.Var == models.MeanVar || p.Var == models.VarVar) {
			if p.DType != e.dtype {
				return nil, fmt.Errorf("landscape: BatchNorm statistic %s is %s, the parameters %s", p.Name(), p.DType, e.dtype)
			}
			e.bnVars = append(e.bnVars, v)
			e.bnState = append(e.bnState, i)
		}
	}
	if e.cfg.BatchNorm.Examples == 0 {
		e.cfg.BatchNorm.Examples = 1000
	}
	if e.cfg.BatchNorm.Examples < 1 {
		return nil, fmt.Errorf("landscape.NewEvaluator: BatchNorm.Examples=%d must be ≥ 1", e.cfg.BatchNorm.Examples)
	}
	if len(e.bnVars) > 0 {
		e.statsData = map[*Data]*tensors.Tensor{}
		e.statsExec, err = context.NewExec(b, e.ctx, e.buildStats)
		if err != nil {
			return nil, err
		}
	}
	e.exec, err = context.NewExec(b, e.ctx, e.buildEval)
	if err != nil {
		return nil, err
	}
	e.gradExec, err = context.NewExec(b, e.ctx, e.buildGrad)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// LossName is the objective's name, for provenance.
func (e *Evaluator) LossName() string { return e.lossName }

// Template returns the parameter names, groups and shapes the evaluator works with.
func (e *Evaluator) Template() *ParamSet { return e.template }

// ReestimatesBN tells whether the evaluator re-estimates BatchNorm statistics at each point.
func (e *Evaluator) ReestimatesBN() bool { return len(e.bnVars) > 0 }

// Compilations is the number of programs built so far (one per distinct input shape).
func (e *Evaluator) Compilations() int { return int(e.compiles.Load()) }

// setBase writes base into the evaluator's variables (the θ₀ of the compiled programs).
func (e *Evaluator) setBase(base *ParamSet) error {
	if err := e.template.Compatible(base); err != nil {
		return err
	}
	if name := base.HasNaN(); name != "" {
		return fmt.Errorf("landscape: parameter %s holds NaN or Inf", name)
	}
	for i, p := range base.Params {
		t, err := float64ToTensor(p.Data, e.dtype, p.Shape)
		if err != nil {
			return err
		}
		if err := e.vars[i].SetValue(t); err != nil {
			return err
		}
	}
	return e.setState(base)
}

// setState writes theta's State (the template's when theta has none) into the evaluator's variables.
func (e *Evaluator) setState(theta *ParamSet) error {
	state := theta.State
	if len(state) == 0 {
		state = e.template.State
	}
	if len(state) != len(e.template.State) {
		return fmt.Errorf("landscape: the point has %d state variables (BatchNorm statistics), the model %d", len(state), len(e.template.State))
	}
	for i, p := range state {
		q := e.template.State[i]
		if p.Name() != q.Name() || !equalInts(p.Shape, q.Shape) {
			return fmt.Errorf("landscape: state variable %s %v does not match the model's %s %v", p.Name(), p.Shape, q.Name(), q.Shape)
		}
		t, err := float64ToTensor(p.Data, q.DType, p.Shape)
		if err != nil {
			return err
		}
		if err := e.stateVars[i].SetValue(t); err != nil {
			return err
		}
	}
	return nil
}

// statsInput returns the device batch the BatchNorm statistics of points evaluated on d come from.
func (e *Evaluator) statsInput(d *Data) (*tensors.Tensor, error) {
	src := d
	if e.cfg.BatchNorm.Data != nil {
		src = e.cfg.BatchNorm.Data
	}
	if err := src.check(); err != nil {
		return nil, fmt.Errorf("BatchNorm statistics data: %w", err)
	}
	if t, ok := e.statsData[src]; ok {
		return t, nil
	}
	n := min(src.Len(), e.cfg.BatchNorm.Examples)
	dim := prod(src.Shape)
	x := append([]float32(nil), src.X[:n*dim]...)
	t := tensors.FromFlatDataAndDimensions(x, append([]int{n}, src.Shape...)...)
	e.statsData[src] = t
	return t, nil
}

func (e *Evaluator) dirTensors(dirs []*ParamSet) ([]*tensors.Tensor, error) {
	var out []*tensors.Tensor
	for m, d := range dirs {
		if err := e.template.Compatible(d); err != nil {
			return nil, fmt.Errorf("direction %d: %w", m, err)
		}
		if name := d.HasNaN(); name != "" {
			return nil, fmt.Errorf("landscape: direction %d: parameter %s holds NaN or Inf", m, name)
		}
		for _, p := range d.Params {
			t, err := float64ToTensor(p.Data, e.dtype, p.Shape)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// dataChunks splits d into device-resident chunks of BatchSize examples (the last one zero-padded, with
// a mask), cached per *Data.
func (e *Evaluator) dataChunks(d *Data) ([]dataChunk, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if c, ok := e.chunks[d]; ok {
		return c, nil
	}
	bs := min(e.cfg.BatchSize, d.Len()) // no padding beyond the data
	if e.batchLoss != nil {
		bs = d.Len() // batch-level objectives see the whole set at once
	}
	dim := prod(d.Shape)
	var chunks []dataChunk
	for start := 0; start < d.Len(); start += bs {
		n := min(bs, d.Len()-start)
		x := make([]float32, bs*dim)
		copy(x, d.X[start*dim:(start+n)*dim])
		y := make([]int32, bs)
		copy(y, d.Y[start:start+n])
		mask := make([]float32, bs)
		for i := range n {
			mask[i] = 1
		}
		dims := append([]int{bs}, d.Shape...)
		chunks = append(chunks, dataChunk{
			x: tensors.FromFlatDataAndDimensions(x, dims...), y: tensors.FromFlatDataAndDimensions(y, bs),
			mask: tensors.FromFlatDataAndDimensions(mask, bs), n: n,
		})
	}
	e.chunks[d] = chunks
	return chunks, nil
}

// Eval returns loss and error on d at the points base + Σ_m coeffs[i][m]·dirs[m], i = 0..len(coeffs)−1.
// Points are evaluated K = PointsPerCall at a time by one compiled program (reused for every chunk).
func (e *Evaluator) Eval(base *ParamSet, dirs []*ParamSet, coeffs [][]float64, d *Data) ([]Point, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("landscape.Eval: need at least one direction")
	}
	for i, c := range coeffs {
		if len(c) != len(dirs) {
			return nil, fmt.Errorf("landscape.Eval: coefficient row %d has %d values for %d directions", i, len(c), len(dirs))
		}
	}
	if err := e.setBase(base); err != nil {
		return nil, err
	}
	dirT, err := e.dirTensors(dirs)
	if err != nil {
		return nil, err
	}
	chunks, err := e.dataChunks(d)
	if err != nil {
		return nil, err
	}
	var xStats *tensors.Tensor
	if len(e.bnVars) > 0 {
		if xStats, err = e.statsInput(d); err != nil {
			return nil, err
		}
	}
	K, M := e.cfg.PointsPerCall, len(dirs)
	out := make([]Point, len(coeffs))
	label := e.cfg.Label
	if label == "" {
		label = fmt.Sprintf("landscape: %d points on %s", len(coeffs), d.Name)
	}
	var prog *nb.Progress
	if !e.cfg.Silent {
		prog = nb.NewProgress(len(coeffs), label)
		defer prog.Done()
	}
	for start := 0; start < len(coeffs); start += K {
		n := min(K, len(coeffs)-start)
		cf := make([]float64, K*M)
		for i := range n {
			copy(cf[i*M:(i+1)*M], coeffs[start+i])
		}
		cT, err := float64ToTensor(cf, e.dtype, []int{K, M})
		if err != nil {
			return nil, err
		}
		var stats []*tensors.Tensor
		if xStats != nil {
			// The BatchNorm statistics of the K points, [K, features] each, computed once per block.
			if stats, err = e.run(e.statsExec, append(append([]*tensors.Tensor{}, dirT...), cT, xStats)); err != nil {
				return nil, err
			}
		}
		lossSum := make([]float64, K)
		errSum := make([]float64, K)
		for _, ch := range chunks {
			args := append(append(append([]*tensors.Tensor{}, dirT...), cT), stats...)
			args = append(args, ch.x, ch.y, ch.mask)
			res, err := e.run(e.exec, args)
			if err != nil {
				return nil, err
			}
			l, err := tensorToFloat64(res[0])
			if err != nil {
				return nil, err
			}
			er, err := tensorToFloat64(res[1])
			if err != nil {
				return nil, err
			}
			for i := range K {
				lossSum[i] += l[i]
				errSum[i] += er[i]
			}
		}
		for i := range n {
			p := Point{Loss: lossSum[i] / float64(d.Len()), Error: errSum[i] / float64(d.Len())}
			if e.batchLoss != nil {
				p.Loss = lossSum[i] // one chunk holding the whole set: already the loss
			}
			if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
				return nil, fmt.Errorf("landscape: loss %q is %g at the point with coefficients %v on %q",
					e.lossName, p.Loss, coeffs[start+i], d.Name)
			}
			out[start+i] = p
		}
		if prog != nil {
			prog.Add(n, "")
		}
	}
	return out, nil
}

// run executes a compiled program, turning graph-building panics into errors.
func (e *Evaluator) run(exec *context.Exec, args []*tensors.Tensor) (res []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("landscape: building or running the evaluation graph: %v", r)
		}
	}()
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	res, err = exec.Exec(anyArgs...)
	if err != nil {
		return nil, fmt.Errorf("landscape: evaluation graph: %w", err)
	}
	return res, nil
}

// pointLoss builds the (masked) summed loss and error count of one parameter point.
func (e *Evaluator) pointLoss(ctx *context.Context, x, y, mask *graph.Node) (lossSum, errSum *graph.Node) {
	if x.DType() != e.dtype {
		x = graph.ConvertDType(x, e.dtype)
	}
	logits := e.forward(ctx.Reuse(), x)
	if logits.Rank() != 2 {
		panic(fmt.Errorf("forward returned logits of shape %s, want [B, K]", logits.Shape()))
	}
	m := graph.ConvertDType(mask, logits.DType())
	valid := graph.GreaterThan(m, graph.ZerosLike(m))
	if e.batchLoss != nil {
		lossSum = graph.ConvertDType(e.batchLoss(logits, y), logits.DType())
	} else {
		l := e.lossFn(logits, y)
		// graph.Where, not a product with the mask: a padded example's loss may be NaN and NaN·0 is NaN.
		lossSum = graph.ReduceAllSum(graph.Where(valid, l, graph.ZerosLike(l)))
	}
	pred := graph.ArgMax(logits, -1, dtypes.Int32)
	wrong := graph.ConvertDType(graph.NotEqual(pred, y), logits.DType())
	errSum = graph.ReduceAllSum(graph.Mul(wrong, m))
	return
}

// pointValues sets the graph values of the parameter variables to θ₀ + Σ_m c_km·d_m for point k.
func (e *Evaluator) pointValues(orig, dirs []*graph.Node, coeffs *graph.Node, k int) {
	P := len(e.vars)
	M := len(dirs) / P
	cs := make([]*graph.Node, M)
	for m := range M {
		cs[m] = graph.Reshape(graph.Slice(coeffs, graph.AxisElem(k), graph.AxisElem(m)))
	}
	for i, v := range e.vars {
		val := orig[i]
		for m := range M {
			val = graph.Add(val, graph.Mul(cs[m], dirs[m*P+i]))
		}
		v.SetValueGraph(val)
	}
}

// buildStats is the graph of the BatchNorm statistics: inputs are M·P direction tensors, coefficients
// [K, M] and the statistics batch; outputs, for each re-estimated variable, its values at the K points
// stacked [K, ...]. Each point runs the model in training mode with the moving averages set to 0, so
// that the updated average is (1−β)·(batch statistic).
func (e *Evaluator) buildStats(ctx *context.Context, inputs []*graph.Node) []*graph.Node {
	e.compiles.Add(1)
	n := len(inputs)
	x, coeffs, dirs := inputs[n-1], inputs[n-2], inputs[:n-2]
	if x.DType() != e.dtype {
		x = graph.ConvertDType(x, e.dtype)
	}
	K := coeffs.Shape().Dimensions[0]
	g := x.Graph()
	orig := make([]*graph.Node, len(e.vars))
	for i, v := range e.vars {
		orig[i] = v.ValueGraph(g)
	}
	origBN := make([]*graph.Node, len(e.bnVars))
	for i, v := range e.bnVars {
		origBN[i] = v.ValueGraph(g)
	}
	perVar := make([][]*graph.Node, len(e.bnVars))
	for k := range K {
		e.pointValues(orig, dirs, coeffs, k)
		for i, v := range e.bnVars {
			v.SetValueGraph(graph.ZerosLike(origBN[i]))
		}
		c := ctx.Reuse()
		c.SetTraining(g, true)
		e.forward(c, x)
		c.SetTraining(g, false)
		for i, v := range e.bnVars {
			perVar[i] = append(perVar[i], graph.DivScalar(v.ValueGraph(g), 1-models.BatchNormMomentum))
		}
	}
	for i, v := range e.vars {
		v.SetValueGraph(orig[i])
	}
	for i, v := range e.bnVars {
		v.SetValueGraph(origBN[i])
	}
	out := make([]*graph.Node, len(perVar))
	for i, vals := range perVar {
		out[i] = graph.Stack(vals, 0)
	}
	return out
}

// buildEval is the graph of Eval: inputs are M·P direction tensors, coefficients [K, M], the BatchNorm
// statistics [K, ...] (one per re-estimated variable, none without BatchNorm), x, y, mask; outputs the
// loss sums [K] and error counts [K].
func (e *Evaluator) buildEval(ctx *context.Context, inputs []*graph.Node) []*graph.Node {
	e.compiles.Add(1)
	P := len(e.vars)
	S := len(e.bnVars)
	n := len(inputs)
	x, y, mask := inputs[n-3], inputs[n-2], inputs[n-1]
	stats := inputs[n-3-S : n-3]
	coeffs := inputs[n-4-S]
	dirs := inputs[:n-4-S]
	K := coeffs.Shape().Dimensions[0]
	g := x.Graph()
	orig := make([]*graph.Node, P)
	for i, v := range e.vars {
		orig[i] = v.ValueGraph(g)
	}
	origBN := make([]*graph.Node, S)
	for i, v := range e.bnVars {
		origBN[i] = v.ValueGraph(g)
	}
	var losses, errs []*graph.Node
	xk := x
	for k := range K {
		e.pointValues(orig, dirs, coeffs, k)
		for i, v := range e.bnVars {
			v.SetValueGraph(graph.Reshape(graph.Slice(stats[i], graph.AxisElem(k)), origBN[i].Shape().Dimensions...))
		}
		l, er := e.pointLoss(ctx, xk, y, mask)
		// Workaround (simplego v0.26.0): K independent forward passes let the parallel executor run
		// ≥ 2·NumCPU DotGeneral nodes at once; each holds a worker slot while waiting for more slots for
		// its batch split, and the executor deadlocks. Chaining point k+1's input on point k's error count
		// (a finite count, so 0·count is exactly 0 and cannot spread a NaN) runs the points one after
		// another. lib/backend's own configurations run ops sequentially, which avoids the deadlock, so the
		// chain is only added for a parallel executor chosen through $GOMLX_BACKEND: it costs a full pass
		// over the data per point (19% of the batched grid's time on the blas backend).
		if e.chainPoints {
			xk = graph.Add(x, graph.ConvertDType(graph.MulScalar(er, 0), x.DType()))
		}
		losses = append(losses, l)
		errs = append(errs, er)
	}
	// Restore the variables' graph values so that the Exec does not write a point back into them.
	for i, v := range e.vars {
		v.SetValueGraph(orig[i])
	}
	for i, v := range e.bnVars {
		v.SetValueGraph(origBN[i])
	}
	return []*graph.Node{graph.Stack(losses, 0), graph.Stack(errs, 0)}
}

// buildGrad is the graph of Grad: inputs are P parameter tensors, x, y, mask; outputs the summed loss
// followed by its gradient with respect to each parameter.
func (e *Evaluator) buildGrad(ctx *context.Context, inputs []*graph.Node) []*graph.Node {
	e.compiles.Add(1)
	P := len(e.vars)
	theta := inputs[:P]
	x, y, mask := inputs[P], inputs[P+1], inputs[P+2]
	g := x.Graph()
	orig := make([]*graph.Node, P)
	for i, v := range e.vars {
		orig[i] = v.ValueGraph(g)
		v.SetValueGraph(theta[i])
	}
	l, _ := e.pointLoss(ctx, x, y, mask)
	grads := graph.Gradient(l, theta...)
	for i, v := range e.vars {
		v.SetValueGraph(orig[i])
	}
	return append([]*graph.Node{l}, grads...)
}

// Loss returns the mean loss at theta on d (a convenience over Eval).
func (e *Evaluator) Loss(theta *ParamSet, d *Data) (Point, error) {
	pts, err := e.Eval(theta, []*ParamSet{theta.Zeros()}, [][]float64{{0}}, d)
	if err != nil {
		return Point{}, err
	}
	return pts[0], nil
}

// Grad returns the mean loss at theta on d and its gradient (float64 accumulation over chunks).
func (e *Evaluator) Grad(theta *ParamSet, d *Data) (float64, *ParamSet, error) {
	if err := e.template.Compatible(theta); err != nil {
		return 0, nil, err
	}
	if name := theta.HasNaN(); name != "" {
		return 0, nil, fmt.Errorf("landscape.Grad: parameter %s holds NaN or Inf", name)
	}
	chunks, err := e.dataChunks(d)
	if err != nil {
		return 0, nil, err
	}
	thetaT, err := e.dirTensors([]*ParamSet{theta})
	if err != nil {
		return 0, nil, err
	}
	if err := e.setState(theta); err != nil {
		return 0, nil, err
	}
	grad := theta.Zeros()
	loss := 0.0
	for _, ch := range chunks {
		args := append(append([]*tensors.Tensor{}, thetaT...), ch.x, ch.y, ch.mask)
		res, err := e.run(e.gradExec, args)
		if err != nil {
			return 0, nil, err
		}
		l, err := tensorToFloat64(res[0])
		if err != nil {
			return 0, nil, err
		}
		loss += l[0]
		for i, p := range grad.Params {
			gv, err := tensorToFloat64(res[i+1])
			if err != nil {
				return 0, nil, err
			}
			for j, v := range gv {
				p.Data[j] += v
			}
		}
	}
	scale := 1 / float64(d.Len())
	if e.batchLoss != nil {
		scale = 1
	}
	loss *= scale
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, nil, fmt.Errorf("landscape.Grad: loss %q is %g on %q", e.lossName, loss, d.Name)
	}
	return loss, grad.Scale(scale), nil
}
