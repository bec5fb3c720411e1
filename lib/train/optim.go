package train

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// Optimizer configures the update rule and its learning-rate schedule. Build one with SGD, Adam or
// AdamW and chain WithWarmup / WithCosine.
type Optimizer struct {
	// Kind is "sgd", "adam" or "adamw".
	Kind string
	// LR is the peak learning rate.
	LR float64
	// Momentum μ for SGD (heavy ball, PyTorch convention: b ← μb + g, w ← w − η·b); 0 for plain SGD.
	Momentum float64
	// WeightDecay λ: for SGD it is added to the gradient (g + λw); for AdamW it is decoupled
	// (w ← w − η·λ·w in addition to the Adam step). Adam ignores it.
	WeightDecay float64
	// Beta1, Beta2, Epsilon for Adam/AdamW (defaults 0.9, 0.999, 1e-8 when zero).
	Beta1, Beta2, Epsilon float64
	// WarmupSteps W: the learning rate rises linearly, η_t = η·(t+1)/W for steps t < W (0-based).
	WarmupSteps int
	// Cosine: after warm-up, η_t = η_min + (η − η_min)·½(1 + cos(π·p)), p = (t − W)/(T − W), over the
	// run's T steps.
	Cosine bool
	// MinLR is η_min of the cosine decay.
	MinLR float64
}

// SGD returns stochastic gradient descent with heavy-ball momentum (0 for none).
func SGD(lr, momentum float64) Optimizer { return Optimizer{Kind: "sgd", LR: lr, Momentum: momentum} }

// Adam returns Adam (Kingma & Ba) with β = (0.9, 0.999), ε = 1e-8.
func Adam(lr float64) Optimizer { return Optimizer{Kind: "adam", LR: lr} }

// AdamW returns Adam with decoupled weight decay (Loshchilov & Hutter).
func AdamW(lr, weightDecay float64) Optimizer {
	return Optimizer{Kind: "adamw", LR: lr, WeightDecay: weightDecay}
}

// WithWarmup returns o with a linear warm-up over the first steps.
func (o Optimizer) WithWarmup(steps int) Optimizer { o.WarmupSteps = steps; return o }

// WithCosine returns o with a cosine decay to minLR over the rest of the run.
func (o Optimizer) WithCosine(minLR float64) Optimizer { o.Cosine, o.MinLR = true, minLR; return o }

// Check validates the configuration.
func (o Optimizer) Check() error {
	switch o.Kind {
	case "sgd", "adam", "adamw":
	default:
		return fmt.Errorf("train: unknown optimizer %q (valid: sgd, adam, adamw)", o.Kind)
	}
	switch {
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("train: learning rate must be positive and finite, got %g", o.LR)
	// Written as "not in range" so that NaN, which compares false with everything, is out of range.
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("train: momentum must be in [0, 1), got %g", o.Momentum)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("train: weight decay must be ≥ 0 and finite, got %g", o.WeightDecay)
	case !(o.Beta1 >= 0 && o.Beta1 < 1 && o.Beta2 >= 0 && o.Beta2 < 1):
		return fmt.Errorf("train: Adam betas must be in [0, 1), got %g, %g", o.Beta1, o.Beta2)
	case !(o.Epsilon >= 0) || math.IsInf(o.Epsilon, 0):
		return fmt.Errorf("train: Adam epsilon must be ≥ 0 and finite, got %g", o.Epsilon)
	case o.WarmupSteps < 0:
		return fmt.Errorf("train: warm-up steps must be ≥ 0, got %d", o.WarmupSteps)
	case !(o.MinLR >= 0) || (o.Cosine && o.MinLR > o.LR):
		return fmt.Errorf("train: cosine MinLR must be in [0, LR=%g], got %g", o.LR, o.MinLR)
	}
	return nil
}

// String describes the optimizer, e.g. "adam(lr=0.001, warmup=100, cosine→0)".
func (o Optimizer) String() string {
	s := fmt.Sprintf("%s(lr=%g", o.Kind, o.LR)
	if o.Kind == "sgd" && o.Momentum > 0 {
		s += fmt.Sprintf(", momentum=%g", o.Momentum)
	}
	if o.WeightDecay > 0 && o.Kind != "adam" {
		s += fmt.Sprintf(", wd=%g", o.WeightDecay)
	}
	if o.WarmupSteps > 0 {
		s += fmt.Sprintf(", warmup=%d", o.WarmupSteps)
	}
	if o.Cosine {
		s += fmt.Sprintf(", cosine→%g", o.MinLR)
	}
	return s + ")"
}

// LearningRate returns η_t for the 0-based step t of a run of total steps (the schedule in the field
// docs). The training graph computes the same value.
func (o Optimizer) LearningRate(step, total int) float64 {
	t, w := float64(step), float64(o.WarmupSteps)
	if t < w {
		return o.LR * (t + 1) / w
	}
	if !o.Cosine {
		return o.LR
	}
	p := math.Min(1, math.Max(0, (t-w)/math.Max(1, float64(total)-w)))
	return o.MinLR + (o.LR-o.MinLR)*0.5*(1+math.Cos(math.Pi*p))
}

// learningRateGraph is LearningRate as a graph of the 0-based step (any numeric dtype).
func (o Optimizer) learningRateGraph(step *Node, total int, dtype dtypes.DType) *Node {
	g := step.Graph()
	t := ConvertDType(step, dtype)
	base := Scalar(g, dtype, o.LR)
	lr := base
	w := float64(o.WarmupSteps)
	if o.Cosine {
		p := DivScalar(SubScalar(t, w), math.Max(1, float64(total)-w))
		p = ClipScalar(p, 0, 1)
		cos := MulScalar(OnePlus(Cos(MulScalar(p, math.Pi))), 0.5*(o.LR-o.MinLR))
		lr = AddScalar(cos, o.MinLR)
	}
	if o.WarmupSteps > 0 {
		warm := MulScalar(OnePlus(t), o.LR/w)
		lr = Where(LessThan(t, Scalar(g, dtype, w)), warm, lr)
	}
	return lr
}

// build returns the GoMLX optimizer running o with its schedule over a run of total steps.
func (o Optimizer) build(total int) optimizers.Interface {
	var inner optimizers.Interface
	switch o.Kind {
	case "sgd":
		inner = &momentumSGD{momentum: o.Momentum, weightDecay: o.WeightDecay, lr: o.LR}
	default:
		b1, b2, eps := o.Beta1, o.Beta2, o.Epsilon
		if b1 == 0 {
			b1 = 0.9
		}
		if b2 == 0 {
			b2 = 0.999
		}
		if eps == 0 {
			eps = 1e-8
		}
		c := optimizers.Adam().LearningRate(o.LR).Betas(b1, b2).Epsilon(eps)
		if o.Kind == "adamw" && o.WeightDecay > 0 {
			c = c.WeightDecay(o.WeightDecay)
		}
		inner = c.Done()
	}
	return &scheduled{inner: inner, opt: o, total: total}
}

// scheduled sets GoMLX's learning-rate variable to the schedule's value for the current step and then
// runs the inner optimizer, which reads that variable.
type scheduled struct {
	inner optimizers.Interface
	opt   Optimizer
	total int
}

func (s *scheduled) UpdateGraph(ctx *context.Context, g *Graph, loss *Node) {
	if s.opt.WarmupSteps > 0 || s.opt.Cosine {
		step := optimizers.GetGlobalStepVar(ctx).ValueGraph(g) // Before this step's increment: 0-based.
		lr := s.opt.learningRateGraph(step, s.total, loss.DType())
		optimizers.LearningRateVarWithValue(ctx, loss.DType(), s.opt.LR).SetValueGraph(lr)
	}
	s.inner.UpdateGraph(ctx, g, loss)
}

func (s *scheduled) Clear(ctx *context.Context) error { return s.inner.Clear(ctx) }

// MomentumScope holds SGD's velocity buffers: "/sgd_momentum/<layer scope>/<var>_velocity".
const MomentumScope = "sgd_momentum"

// momentumSGD is SGD with heavy-ball momentum and coupled weight decay (GoMLX v0.26 has only plain SGD).
type momentumSGD struct {
	momentum, weightDecay, lr float64
}

func (o *momentumSGD) UpdateGraph(ctx *context.Context, g *Graph, loss *Node) {
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	dtype := loss.DType()
	lr := optimizers.LearningRateVar(ctx, dtype, o.lr).ValueGraph(g)
	_ = optimizers.IncrementGlobalStepGraph(ctx, g, dtype)
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	if len(vars) != len(grads) {
		panic(fmt.Errorf("train: %d gradients for %d trainable variables", len(grads), len(vars)))
	}
	for i, v := range vars {
		w := v.ValueGraph(g)
		grad := grads[i]
		if grad.DType() != w.DType() {
			grad = ConvertDType(grad, w.DType())
		}
		if o.weightDecay > 0 {
			grad = Add(grad, MulScalar(w, o.weightDecay))
		}
		if o.momentum > 0 {
			buf := ctx.InAbsPath(context.ScopeSeparator+MomentumScope+v.Scope()).Checked(false).
				WithInitializer(initializers.Zero).
				VariableWithShape(v.Name()+"_velocity", w.Shape()).SetTrainable(false)
			b := Add(MulScalar(buf.ValueGraph(g), o.momentum), grad)
			buf.SetValueGraph(b)
			grad = b
		}
		step := Mul(grad, ConvertDType(lr, w.DType()))
		v.SetValueGraph(Sub(w, step))
	}
}

func (o *momentumSGD) Clear(ctx *context.Context) error {
	return ctx.InAbsPath(context.ScopeSeparator + MomentumScope).DeleteVariablesInScope()
}
