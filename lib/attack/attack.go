// Package attack crafts adversarial examples against LossLab models: the fast gradient sign method
// (FGSM) and projected gradient descent (PGD), in L∞ and L2 balls, maximising any registered
// classification objective of lib/losses.
//
// For inputs x with labels y, a model f and an objective ℓ (cross-entropy by default), PGD looks for
//
//	δ* ≈ argmax_{‖δ‖ ≤ ε, lo ≤ x+δ ≤ hi} ℓ(f(x+δ), y)
//
// by k steps of size α from a start δ₀ (0, or uniform in the ball with RandomStart):
//
//	L∞:  x_{t+1} = Π( x_t + α·sign(∇ₓℓ(x_t)) )
//	L2:  x_{t+1} = Π( x_t + α·∇ₓℓ(x_t)/‖∇ₓℓ(x_t)‖₂ )
//
// where Π clips x_{t+1}−x into the ball (coordinate-wise to [−ε, ε] for L∞; rescaled by
// min(1, ε/‖δ‖₂) for L2) and then clips x_{t+1} to [lo, hi] when Config.Clip is set. Clipping to the
// box after the projection keeps the point in the ball, since x itself lies in the box. Norms and
// gradients are per example. FGSM is the one-step case with α = ε from δ₀ = 0 (for L2 this is the
// "fast gradient method" step ε·g/‖g‖₂).
//
// The gradient is that of the sum of the per-example losses (so each example's step depends only on its
// own loss), or of the batch loss for objectives that are not per-example means.
//
// # Speed
//
// An Attack compiles the whole attack (start, the k unrolled gradient steps, the final evaluation) into
// one graph per input shape, reads the model's parameters from its context (no re-upload per step) and
// takes ε and α as graph inputs, so sweeping ε does not recompile. Compiles counts the compilations.
// RobustAccuracy keeps its attacks in a small cache keyed by model, context and configuration, and pads
// the last partial batch (for per-example objectives) so a data set costs one compilation.
//
// The model runs in inference mode (BatchNorm uses its moving averages and updates nothing).
package attack

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
)

// Norm names the ball the perturbation lives in.
type Norm string

const (
	// LInf is the L∞ ball: every coordinate of δ in [−ε, ε].
	LInf Norm = "linf"
	// L2 is the Euclidean ball: ‖δ‖₂ ≤ ε per example.
	L2 Norm = "l2"
)

// Range is a closed interval [Min, Max] of valid input values, e.g. {0, 1} for images.
type Range struct{ Min, Max float64 }

// Config describes an attack. FGSM and PGD return common configurations.
type Config struct {
	// Norm is LInf or L2; "" means LInf.
	Norm Norm
	// Epsilon is the radius of the ball (≥ 0; 0 leaves inputs unchanged).
	Epsilon float64
	// Steps is the number of gradient steps (≥ 1); FGSM is 1 step of size Epsilon.
	Steps int
	// StepSize is α; 0 means the usual 2.5·ε/Steps.
	StepSize float64
	// RandomStart starts from a point drawn uniformly in the ball (then clipped to Clip) instead of x.
	RandomStart bool
	// Seed fixes the random start: the same seed, inputs and parameters give the same result.
	Seed int64
	// Clip, when set, keeps adversarial inputs in [Clip.Min, Clip.Max] (the inputs themselves should
	// already lie there).
	Clip *Range
	// KeepBest returns, per example, the iterate with the highest loss among x₀…x_k instead of the
	// last one. It needs a per-example objective.
	KeepBest bool
	// Objective is a registered classification objective of lib/losses; "" means "ce".
	Objective string
	// Params are the objective's hyperparameters (defaults for the rest).
	Params losses.Params
	// BatchSize is the batch size of RobustAccuracy; 0 means 256.
	BatchSize int
}

// FGSM returns the configuration of the fast gradient sign method: one step of size ε from x
// (the fast gradient method ε·g/‖g‖₂ for L2), maximising cross-entropy.
func FGSM(norm Norm, eps float64) Config {
	return Config{Norm: norm, Epsilon: eps, Steps: 1, StepSize: eps}
}

// PGD returns the configuration of projected gradient descent with a random start, `steps` steps of
// size 2.5·ε/steps, maximising cross-entropy; set Seed, Clip, Objective etc. on the result.
func PGD(norm Norm, eps float64, steps int) Config {
	return Config{Norm: norm, Epsilon: eps, Steps: steps, RandomStart: true}
}

// Alpha returns the step size the attack uses: StepSize, or 2.5·ε/Steps when StepSize is 0.
func (c Config) Alpha() float64 {
	if c.StepSize != 0 || c.Steps <= 0 {
		return c.StepSize
	}
	return 2.5 * c.Epsilon / float64(c.Steps)
}

// Check validates the configuration: norm, ε, steps, step size, clip range, batch size, and the
// objective (registered, of kind classification) with its hyperparameters.
func (c Config) Check() error {
	_, _, err := c.resolve()
	return err
}

// resolve validates the configuration and returns the objective it names and its resolved params.
func (c Config) resolve() (*losses.Objective, losses.Params, error) {
	switch c.Norm {
	case "", LInf, L2:
	default:
		return nil, nil, fmt.Errorf("attack: unknown norm %q (valid: %q, %q)", c.Norm, LInf, L2)
	}
	if math.IsNaN(c.Epsilon) || math.IsInf(c.Epsilon, 0) || c.Epsilon < 0 {
		return nil, nil, fmt.Errorf("attack: epsilon must be a finite number ≥ 0, got %g", c.Epsilon)
	}
	if c.Steps < 1 {
		return nil, nil, fmt.Errorf("attack: steps must be ≥ 1, got %d (FGSM is 1 step)", c.Steps)
	}
	if math.IsNaN(c.StepSize) || math.IsInf(c.StepSize, 0) || c.StepSize < 0 {
		return nil, nil, fmt.Errorf("attack: step size must be a finite number ≥ 0 (0 means 2.5·ε/steps), got %g", c.StepSize)
	}
	if c.Clip != nil {
		lo, hi := c.Clip.Min, c.Clip.Max
		if math.IsNaN(lo) || math.IsNaN(hi) || !(lo < hi) {
			return nil, nil, fmt.Errorf("attack: clip range [%g, %g] is empty or NaN; want Min < Max", lo, hi)
		}
	}
	if c.BatchSize < 0 {
		return nil, nil, fmt.Errorf("attack: batch size must be ≥ 0 (0 means 256), got %d", c.BatchSize)
	}
	cl, err := losses.ResolveClassifier(c.Objective, c.Params)
	if err != nil {
		return nil, nil, fmt.Errorf("attack: %w", err)
	}
	o, params := cl.Objective, cl.Params
	if c.KeepBest && !o.PerExample {
		return nil, nil, fmt.Errorf("attack: KeepBest needs a per-example objective, and %q is a batch-level loss", o.Name)
	}
	return o, params, nil
}

// graphKey identifies what a compiled attack graph depends on besides input shapes (ε and α are inputs).
func (c Config) graphKey(params losses.Params) string {
	var sb strings.Builder
	norm := c.Norm
	if norm == "" {
		norm = LInf
	}
	obj := c.Objective
	if obj == "" {
		obj = "ce"
	}
	fmt.Fprintf(&sb, "%s|steps=%d|rand=%v|best=%v|%s", norm, c.Steps, c.RandomStart, c.KeepBest, obj)
	if c.Clip != nil {
		fmt.Fprintf(&sb, "|clip=%g,%g", c.Clip.Min, c.Clip.Max)
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&sb, "|%s=%v", n, params[n])
	}
	return sb.String()
}

// Result is an attack on one batch of B examples.
type Result struct {
	// Adv holds the adversarial inputs, row-major like the inputs (B·Dim values).
	Adv []float32
	// CleanPred and AdvPred are the arg-max classes on the clean and adversarial inputs.
	CleanPred, AdvPred []int32
	// CleanCorrect[i] is CleanPred[i] == label; RobustCorrect[i] is true when example i is classified
	// correctly both clean and under attack (so robust accuracy ≤ clean accuracy).
	CleanCorrect, RobustCorrect []bool
	// CleanLoss and AdvLoss are the per-example losses; nil for batch-level objectives.
	CleanLoss, AdvLoss []float64
	// MeanCleanLoss and MeanAdvLoss are the objective on the clean and adversarial batch (the mean of
	// the per-example losses, or the batch loss).
	MeanCleanLoss, MeanAdvLoss float64
}

// totalCompiles counts attack graphs built by every Attack in this process.
var totalCompiles atomic.Int64

// TotalCompiles returns the number of attack graphs compiled so far in this process.
func TotalCompiles() int64 { return totalCompiles.Load() }

// Attack is a compiled attack of one model (with the parameters held in a context) and one
// configuration. It is safe for concurrent use.
type Attack struct {
	model  models.Model
	cfg    Config
	obj    *losses.Objective
	params losses.Params
	*compiled
}

// compiled is the part of an Attack shared by the copies Cached hands out.
type compiled struct {
	exec     *context.Exec
	compiles atomic.Int64
}

// New checks the configuration and prepares the attack; graphs are compiled on first use for each input
// shape. The model reads its parameters from ctx (which should hold trained variables; missing ones would
// be created by their initializers).
func New(model models.Model, ctx *context.Context, cfg Config) (*Attack, error) {
	if model == nil || ctx == nil {
		return nil, errors.New("attack: model and context must not be nil")
	}
	o, params, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	a := &Attack{model: model, cfg: cfg, obj: o, params: params, compiled: &compiled{}}
	a.exec, err = context.NewExec(b, ctx.Checked(false), a.build)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	a.exec = a.exec.WithName("attack." + model.Name())
	return a, nil
}

// Config returns the attack's configuration.
func (a *Attack) Config() Config { return a.cfg }

// Compiles returns how many graphs this attack has compiled (one per distinct input shape).
func (a *Attack) Compiles() int { return int(a.compiles.Load()) }

// Run attacks a batch: x holds B = len(labels) examples of per-example shape `shape` (row-major).
// Labels must lie in [0, K) for the model's K classes.
func (a *Attack) Run(x []float32, shape []int, labels []int32) (*Result, error) {
	return a.run(x, shape, labels, a.cfg.Seed)
}

func (a *Attack) run(x []float32, shape []int, labels []int32, seed int64) (res *Result, err error) {
	b := len(labels)
	if b == 0 {
		return nil, errors.New("attack: empty batch")
	}
	dim := 1
	for _, d := range shape {
		if d <= 0 {
			return nil, fmt.Errorf("attack: per-example shape %v has a non-positive dimension", shape)
		}
		dim *= d
	}
	if len(x) != b*dim {
		return nil, fmt.Errorf("attack: got %d input values for %d examples of shape %v (want %d)", len(x), b, shape, b*dim)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("attack: input has a non-finite value %g at flat index %d", v, i)
		}
	}
	for i, y := range labels {
		if y < 0 {
			return nil, fmt.Errorf("attack: label %d of example %d is negative", y, i)
		}
	}
	rng, err := RNGStateFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	xt := tensors.FromFlatDataAndDimensions(append([]float32(nil), x...), append([]int{b}, shape...)...)
	yt := tensors.FromFlatDataAndDimensions(append([]int32(nil), labels...), b)
	inputs := []any{xt, yt, rng, float32(a.cfg.Epsilon), float32(a.cfg.Alpha())}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("attack on %s: %s", a.model.Name(), backend.FirstLine(backend.Recovered(r)))
		}
		for _, in := range inputs[:3] {
			in.(*tensors.Tensor).MustFinalizeAll()
		}
	}()
	out, err := a.exec.Exec(inputs...)
	if err != nil {
		return nil, fmt.Errorf("attack on %s: %s", a.model.Name(), backend.FirstLine(err))
	}
	defer func() {
		for _, t := range out {
			t.MustFinalizeAll()
		}
	}()
	{
		k := tensors.ToScalar[int32](out[5])
		for i, y := range labels {
			if y >= k {
				return nil, fmt.Errorf("attack: label %d of example %d is out of range for the %d classes of %s", y, i, k, a.model.Name())
			}
		}
	}
	res = &Result{
		Adv:       tensors.MustCopyFlatData[float32](out[0]),
		CleanPred: tensors.MustCopyFlatData[int32](out[1]),
		AdvPred:   tensors.MustCopyFlatData[int32](out[2]),
	}
	cleanLoss := tensors.MustCopyFlatData[float32](out[3])
	advLoss := tensors.MustCopyFlatData[float32](out[4])
	res.CleanCorrect = make([]bool, b)
	res.RobustCorrect = make([]bool, b)
	for i, y := range labels {
		res.CleanCorrect[i] = res.CleanPred[i] == y
		res.RobustCorrect[i] = res.CleanCorrect[i] && res.AdvPred[i] == y
	}
	if a.obj.PerExample {
		res.CleanLoss, res.AdvLoss = toFloat64(cleanLoss), toFloat64(advLoss)
		res.MeanCleanLoss, res.MeanAdvLoss = mean(res.CleanLoss), mean(res.AdvLoss)
	} else {
		res.MeanCleanLoss, res.MeanAdvLoss = float64(cleanLoss[0]), float64(advLoss[0])
	}
	if math.IsNaN(res.MeanAdvLoss) || math.IsNaN(res.MeanCleanLoss) {
		return res, fmt.Errorf("attack on %s: objective %q is NaN (clean %g, adversarial %g)", a.model.Name(), a.obj.Name, res.MeanCleanLoss, res.MeanAdvLoss)
	}
	return res, nil
}

// build is the attack graph: inputs x [B,...], labels [B] int32, rng state, ε and α (float32 scalars).
// Outputs: adversarial x, clean and adversarial predictions [B] int32, clean and adversarial losses
// ([B] for per-example objectives, else scalars).
func (a *Attack) build(ctx *context.Context, in []*Node) []*Node {
	a.compiles.Add(1)
	totalCompiles.Add(1)
	x, labels, rng, eps, alpha := in[0], in[1], in[2], in[3], in[4]
	g := x.Graph()
	ctx.SetTraining(g, false)
	if x.DType() != dtypes.Float32 {
		x = ConvertDType(x, dtypes.Float32)
	}
	b := x.Shape().Dimensions[0]
	featAxes := make([]int, x.Rank()-1)
	for i := range featAxes {
		featAxes[i] = i + 1
	}
	norm := a.cfg.Norm
	if norm == "" {
		norm = LInf
	}

	var classes int
	// loss returns the per-example losses (or the batch loss), the scalar to differentiate and the logits.
	loss := func(xa *Node) (perEx, total, pred *Node) {
		logits, _ := a.model.Forward(ctx, xa)
		if logits.Rank() != 2 || logits.Shape().Dimensions[0] != b {
			panic(fmt.Errorf("model %s returned logits of shape %s, want [%d,K]", a.model.Name(), logits.Shape(), b))
		}
		classes = logits.Shape().Dimensions[1]
		out := a.obj.Fn(losses.Batch{"logits": logits, "labels": labels}, a.params)
		if a.obj.PerExample {
			if out.Rank() != 1 {
				panic(fmt.Errorf("objective %q returned shape %s, want per-example losses [B]", a.obj.Name, out.Shape()))
			}
			total = ReduceAllSum(out)
		} else {
			total = out
		}
		return out, total, ArgMax(logits, 1, dtypes.Int32)
	}
	clip := func(xa *Node) *Node {
		if a.cfg.Clip == nil {
			return xa
		}
		return ClipScalar(xa, a.cfg.Clip.Min, a.cfg.Clip.Max)
	}
	// perNorm returns the per-example L2 norm with the feature axes kept as size 1, for broadcasting.
	perNorm := func(v *Node) *Node {
		return Sqrt(ReduceAndKeep(Square(v), ReduceSum, featAxes...))
	}
	// project puts xa in the ball around x, then in the clip range.
	project := func(xa *Node) *Node {
		d := Sub(xa, x)
		if norm == LInf {
			d = Min(eps, Max(d, Neg(eps)))
		} else {
			// Scale by min(1, ε/‖δ‖); the Max guards ‖δ‖ = 0.
			n := perNorm(d)
			d = Mul(d, Min(ScalarOne(g, d.DType()), Div(eps, Max(n, Scalar(g, d.DType(), 1e-12)))))
		}
		return clip(Add(x, d))
	}

	// Start.
	xa := x
	if a.cfg.RandomStart {
		var u *Node
		if norm == LInf {
			_, u = RandomUniform(rng, x.Shape())
			u = Mul(eps, SubScalar(MulScalar(u, 2), 1)) // uniform in [−ε, ε]
		} else {
			// Uniform in the L2 ball: a Gaussian direction, radius ε·r^(1/d) with r uniform in [0,1).
			var dir, r *Node
			rng, dir = RandomNormal(rng, x.Shape())
			_, r = RandomUniform(rng, shapes.Make(dtypes.Float32, b))
			dimF := float64(x.Shape().Size() / b)
			radius := Mul(eps, Pow(r, Scalar(g, dtypes.Float32, 1/dimF)))
			dir = Div(dir, Max(perNorm(dir), Scalar(g, dtypes.Float32, 1e-12)))
			keep := make([]int, x.Rank())
			for i := range keep {
				keep[i] = 1
			}
			keep[0] = b
			u = Mul(dir, Reshape(radius, keep...))
		}
		xa = project(Add(x, u))
	}

	var bestX, bestLoss, bestPred *Node
	var cleanLoss, cleanPred *Node
	for step := 0; step < a.cfg.Steps; step++ {
		// The gradient is taken with respect to a fresh node cut from the previous iterates, so reverse-mode
		// only walks this step's forward pass. (A StopGradient node itself cannot be a gradient target in
		// GoMLX v0.26: it is skipped by the reverse pass, so the Identity after it is the target.)
		xIn := Identity(StopGradient(xa))
		perEx, total, pred := loss(xIn)
		if step == 0 && !a.cfg.RandomStart {
			cleanLoss, cleanPred = perEx, pred
		}
		if a.cfg.KeepBest {
			bestX, bestLoss, bestPred = keepBest(bestX, bestLoss, bestPred, xIn, perEx, pred)
		}
		grad := Gradient(total, xIn)[0]
		var dir *Node
		if norm == LInf {
			dir = Sign(grad)
		} else {
			dir = Div(grad, Max(perNorm(grad), Scalar(g, grad.DType(), 1e-12)))
		}
		xa = project(Add(xIn, Mul(alpha, dir)))
	}
	xa = StopGradient(xa)
	advLoss, _, advPred := loss(xa)
	if a.cfg.KeepBest {
		xa, advLoss, advPred = keepBest(bestX, bestLoss, bestPred, xa, advLoss, advPred)
	}
	if cleanLoss == nil {
		cleanLoss, _, cleanPred = loss(x)
	}
	return []*Node{xa, cleanPred, advPred, ConvertDType(cleanLoss, dtypes.Float32), ConvertDType(advLoss, dtypes.Float32),
		Const(g, int32(classes))}
}

// keepBest returns, per example, the candidate (input, loss, prediction) with the higher loss; ties keep
// the earlier one.
func keepBest(bestX, bestLoss, bestPred, x, perEx, pred *Node) (*Node, *Node, *Node) {
	if bestX == nil {
		return x, perEx, pred
	}
	better := GreaterThan(perEx, bestLoss)
	return Where(better, x, bestX), Where(better, perEx, bestLoss), Where(better, pred, bestPred)
}

func toFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// cache holds the attacks RobustAccuracy compiled, keyed by model, context and configuration.
var (
	cacheMu sync.Mutex
	cache   = map[cacheKey]*Attack{}
)

type cacheKey struct {
	model any
	ctx   *context.Context
	graph string
}
