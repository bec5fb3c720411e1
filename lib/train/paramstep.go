package train

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
)

// LossGraph builds a training objective over explicit parameters (one node per Param of the step, in
// order) and the caller's per-step inputs (batches, and any scalars the objective reads, such as a
// loss weight). It returns the scalar loss that the step minimises and any further nodes the caller
// wants back from each step (metrics computed before the update, e.g. accuracy); report nodes must
// be float32 scalars.
type LossGraph func(params, inputs []*Node) (loss *Node, report []*Node)

// Rule is the update rule of a ParamStep, fixed when the step is compiled; its hyperparameters are
// per-step inputs (Hyper), so one compiled step serves any learning-rate schedule and any run.
type Rule struct {
	// Kind is "adamw" or "sgd".
	//
	// adamw is Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980) with
	// decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
	// arXiv:1711.05101): with t the 1-based step,
	//	m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  θ ← θ − d·θ − η·(m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε).
	// sgd is heavy-ball momentum (PyTorch convention): b ← μb + g,  θ ← θ − d·θ − η·b.
	Kind string
	// Clip adds global gradient-norm clipping, g ← g·min(1, c/(‖g‖ + 10⁻⁶)) with c = Hyper.Clip (c = 0:
	// none), and reports ‖g‖ (before clipping) in StepOut.GradNorm.
	Clip bool
	// Decay tells which parameters the decay d applies to (nil: all of them).
	Decay func(p Param) bool
}

// Hyper are the hyperparameters of one step.
type Hyper struct {
	// LR is the learning rate η of the step.
	LR float64
	// Decay is the multiplier d of the decoupled decay θ ← θ − d·θ (AdamW's d = η·λ; d = λ makes the
	// decay independent of the learning rate).
	Decay float64
	// Clip is the gradient-norm threshold c of a Rule with Clip (0: no clipping).
	Clip float64
	// Beta1, Beta2, Epsilon of adamw (no defaults: the caller's method states them).
	Beta1, Beta2, Epsilon float64
	// Momentum μ of sgd.
	Momentum float64
}

// StepOut is what one step reports; all of it is computed before the step's update.
type StepOut struct {
	Loss     float64
	GradNorm float64 // ‖g‖ (Rule.Clip only)
	// Report holds the values of the LossGraph's report nodes, in order.
	Report []float64
}

// ParamStep is a compiled training step over explicit parameters: the loss graph, its gradient and the
// update rule in one program, with the parameters and the optimizer state as inputs and outputs (they
// stay tensors between steps). Build it once per model and use it for any number of runs (Start, Run).
type ParamStep struct {
	specs []Param // names and shapes
	rule  Rule
	slots int // optimizer state tensors per parameter
	exec  *Exec
}

// hyperInputs is the number of scalar inputs after the parameters and the state: t, η, d, c, β₁, β₂, ε, μ.
const hyperInputs = 8

// NewParamStep compiles (lazily, on the first step) the training step of loss over parameters with
// the names and shapes of specs (their Data is not used).
func NewParamStep(specs []Param, rule Rule, loss LossGraph) (*ParamStep, error) {
	if len(specs) == 0 {
		return nil, errors.New("train.NewParamStep: no parameters")
	}
	if loss == nil {
		return nil, errors.New("train.NewParamStep: nil loss graph")
	}
	s := &ParamStep{rule: rule}
	switch rule.Kind {
	case "adamw":
		s.slots = 2
	case "sgd":
		s.slots = 1
	default:
		return nil, fmt.Errorf("train.NewParamStep: unknown rule %q (valid: adamw, sgd)", rule.Kind)
	}
	for _, p := range specs {
		s.specs = append(s.specs, Param{Name: p.Name, Shape: slices.Clone(p.Shape)})
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	s.exec, err = NewExec(bk, func(in []*Node) []*Node { return s.graph(loss, in) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// graph is the step. Inputs: params (k), state (slots·k, slot-major), the hyperInputs scalars, then the
// caller's inputs. Outputs: params, state, loss, ‖g‖ (Clip only), then the report nodes.
func (s *ParamStep) graph(loss LossGraph, in []*Node) []*Node {
	k := len(s.specs)
	params, state := in[:k], in[k:(1+s.slots)*k]
	h := in[(1+s.slots)*k:]
	t, lr, decay, clip, b1, b2, eps, mu := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
	l, report := loss(params, h[hyperInputs:])
	grads := Gradient(l, params...)
	out := make([]*Node, 0, (1+s.slots)*k+2+len(report))
	var norm *Node
	if s.rule.Clip {
		sq := ScalarZero(t.Graph(), t.DType())
		for _, gr := range grads {
			sq = Add(sq, ReduceAllSum(Square(gr)))
		}
		norm = Sqrt(sq)
		scale := Where(GreaterThan(clip, ZerosLike(clip)), Min(OnesLike(norm), Div(clip, AddScalar(norm, 1e-6))), OnesLike(norm))
		for i := range grads {
			grads[i] = Mul(grads[i], scale)
		}
	}
	newState := make([]*Node, s.slots*k)
	one := OnesLike(t)
	c1, c2 := Sub(one, Pow(b1, t)), Sub(one, Pow(b2, t)) // Adam's bias corrections 1 − βᵗ
	for i, p := range params {
		gr := grads[i]
		var step *Node
		switch s.rule.Kind {
		case "adamw":
			m := Add(Mul(b1, state[i]), Mul(Sub(one, b1), gr))
			v := Add(Mul(b2, state[k+i]), Mul(Sub(one, b2), Square(gr)))
			newState[i], newState[k+i] = m, v
			step = Div(Div(m, c1), Add(Sqrt(Div(v, c2)), eps))
		case "sgd":
			b := Add(Mul(mu, state[i]), gr)
			newState[i] = b
			step = b
		}
		np := p
		if s.rule.Decay == nil || s.rule.Decay(s.specs[i]) {
			np = Sub(np, Mul(decay, p))
		}
		out = append(out, Sub(np, Mul(lr, step)))
	}
	out = append(out, newState...)
	out = append(out, l)
	if norm != nil {
		out = append(out, norm)
	}
	return append(out, report...)
}

// Params returns the names and shapes of the step's parameters (Data nil).
func (s *ParamStep) Params() ParamList { return ParamList(s.specs).Clone() }

// ParamState is a run in progress: the parameters and the optimizer state, as tensors.
type ParamState struct {
	s     *ParamStep
	t     int // steps taken
	state []*tensors.Tensor
}

// Start begins a run from init (copied; names and shapes must be those of the step) with zero
// optimizer state.
func (s *ParamStep) Start(init ParamList) (*ParamState, error) {
	if err := init.CheckLayout(s.specs); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	k := len(s.specs)
	st := &ParamState{s: s, state: make([]*tensors.Tensor, (1+s.slots)*k)}
	copy(st.state, init.Tensors())
	for i, p := range init {
		for j := 1; j <= s.slots; j++ {
			st.state[j*k+i] = tensors.FromShape(shapes.Make(dtypes.Float32, p.Shape...))
		}
	}
	return st, nil
}

// Steps is the number of steps taken.
func (st *ParamState) Steps() int { return st.t }

// Params copies the current parameters to the host.
func (st *ParamState) Params() ParamList {
	out := make(ParamList, len(st.s.specs))
	for i, sp := range st.s.specs {
		out[i] = Param{Name: sp.Name, Shape: slices.Clone(sp.Shape), Data: tensors.MustCopyFlatData[float32](st.state[i])}
	}
	return out
}

// Step takes one step with hyperparameters h on the loss graph's inputs.
func (st *ParamState) Step(h Hyper, inputs ...*tensors.Tensor) (out StepOut, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: step %d: %s", st.t+1, backend.FirstLine(backend.Recovered(r)))
		}
	}()
	s := st.s
	args := make([]any, 0, len(st.state)+hyperInputs+len(inputs))
	for _, t := range st.state {
		args = append(args, t)
	}
	for _, v := range []float64{float64(st.t + 1), h.LR, h.Decay, h.Clip, h.Beta1, h.Beta2, h.Epsilon, h.Momentum} {
		args = append(args, tensors.FromScalar(float32(v)))
	}
	for _, t := range inputs {
		args = append(args, t)
	}
	res, err := s.exec.Exec(args...)
	if err != nil {
		return out, fmt.Errorf("train: step %d: %s", st.t+1, backend.FirstLine(err))
	}
	for _, t := range st.state {
		t.MustFinalizeAll()
	}
	n := len(st.state)
	copy(st.state, res[:n])
	st.t++
	rest := res[n:]
	out.Loss, rest = scalar(rest[0]), rest[1:]
	if s.rule.Clip {
		out.GradNorm, rest = scalar(rest[0]), rest[1:]
	}
	for _, t := range rest {
		out.Report = append(out.Report, scalar(t))
	}
	return out, nil
}

// ParamRun describes a run of a ParamStep.
type ParamRun struct {
	Steps int
	// Hyper gives the hyperparameters of the 1-based step (a schedule, or a constant).
	Hyper func(step int) Hyper
	// Inputs gives the loss graph's inputs of the step: the same tensors every step for full-batch
	// training, a fresh batch for mini-batch training.
	Inputs func(step int) ([]*tensors.Tensor, error)
	// After, if set, is called after each step with its output and the run's state (read the
	// parameters there with st.Params); an error stops the run and is returned as is. It is called
	// before the divergence check, so it sees the step that diverged.
	After func(step int, out StepOut, st *ParamState) error
	// Diverged, if set, tells a diverged step from its output (default: the loss is NaN or infinite),
	// e.g. to watch one term of a composite loss.
	Diverged func(out StepOut) bool
}

// Run takes run.Steps steps from init. A diverged step (see ParamRun.Diverged) stops the run with a
// *DivergedError naming the step and its loss; the state so far is returned with any error.
func (s *ParamStep) Run(init ParamList, run ParamRun) (*ParamState, error) {
	if run.Steps < 0 || run.Hyper == nil || run.Inputs == nil {
		return nil, fmt.Errorf("train: a ParamRun needs Steps ≥ 0 (got %d), Hyper and Inputs", run.Steps)
	}
	st, err := s.Start(init)
	if err != nil {
		return nil, err
	}
	for step := 1; step <= run.Steps; step++ {
		in, err := run.Inputs(step)
		if err != nil {
			return st, err
		}
		out, err := st.Step(run.Hyper(step), in...)
		if err != nil {
			return st, err
		}
		if run.After != nil {
			if err := run.After(step, out, st); err != nil {
				return st, err
			}
		}
		diverged := math.IsNaN(out.Loss) || math.IsInf(out.Loss, 0)
		if run.Diverged != nil {
			diverged = run.Diverged(out)
		}
		if diverged {
			return st, &DivergedError{Step: step, Loss: out.Loss}
		}
	}
	return st, nil
}
