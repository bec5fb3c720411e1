package train

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/backend"
)

// ContextLossGraph builds a training loss over the variables of a GoMLX context (a model's, through
// its Forward) from a step's inputs. It returns the loss (averaged if it is not a scalar) and any
// further nodes the caller wants back from each step (any shape and float or integer dtype).
type ContextLossGraph func(ctx *context.Context, inputs []*Node) (loss *Node, report []*Node)

// ContextStep is a compiled training step over the trainable variables of a GoMLX context: the loss
// graph (in training mode) and an optimizer's update in one program, the variables staying in the
// context between steps. The optimizer is any GoMLX optimizers.Interface: one of GoMLX's, or an
// Optimizer's Build (SGD with momentum, Adam, AdamW, with warm-up and cosine schedules). A new shape
// of the inputs compiles the step again.
type ContextStep struct {
	exec    *context.Exec
	nReport int
}

// NewContextStep prepares the training step of loss with optimizer opt on the variables of ctx.
func NewContextStep(ctx *context.Context, opt optimizers.Interface, loss ContextLossGraph) (*ContextStep, error) {
	if ctx == nil || opt == nil || loss == nil {
		return nil, errors.New("train.NewContextStep: need a context, an optimizer and a loss graph")
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	s := &ContextStep{nReport: -1}
	s.exec, err = context.NewExec(bk, ctx, func(ctx *context.Context, in []*Node) []*Node {
		g := in[0].Graph()
		ctx.SetTraining(g, true)
		l, report := loss(ctx, in)
		if l == nil {
			panic(errors.New("the loss function returned a nil loss"))
		}
		if !l.DType().IsFloat() {
			panic(fmt.Errorf("the loss has dtype %s; want a float", l.DType()))
		}
		if l.Rank() > 0 {
			l = ReduceAllMean(l)
		}
		opt.UpdateGraph(ctx, g, l)
		s.nReport = len(report)
		out := []*Node{ConvertDType(l, dtypes.Float64)}
		for i, r := range report {
			if r == nil {
				panic(fmt.Errorf("report output %d is nil", i))
			}
			out = append(out, ConvertDType(r, dtypes.Float64))
		}
		return out
	})
	if err != nil {
		return nil, fmt.Errorf("train.NewContextStep: %w", err)
	}
	return s, nil
}

// WithName names the compiled program (it shows in profiles and error messages).
func (s *ContextStep) WithName(name string) *ContextStep {
	s.exec = s.exec.WithName(name)
	return s
}

// Step runs one training step on inputs (anything GoMLX's Exec accepts: tensors, Go scalars and
// slices; the caller keeps ownership of its tensors). It returns the loss before the update and the
// report values, each flattened to float64. A panic while building or running the step is returned
// as an error.
func (s *ContextStep) Step(inputs ...any) (loss float64, report [][]float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New(backend.FirstLine(backend.Recovered(r)))
		}
	}()
	if len(inputs) == 0 {
		return 0, nil, errors.New("train.ContextStep: a step needs at least one input")
	}
	out, err := s.exec.Exec(inputs...)
	if err != nil {
		return 0, nil, errors.New(backend.FirstLine(err))
	}
	defer func() {
		for _, t := range out {
			t.MustFinalizeAll()
		}
	}()
	loss = tensors.ToScalar[float64](out[0])
	for _, t := range out[1:] {
		report = append(report, tensors.MustCopyFlatData[float64](t))
	}
	if len(report) != s.nReport {
		return loss, report, fmt.Errorf("train.ContextStep: got %d report outputs, want %d", len(report), s.nReport)
	}
	return loss, report, nil
}

// Finalize releases the compiled programs.
func (s *ContextStep) Finalize() { s.exec.Finalize() }
