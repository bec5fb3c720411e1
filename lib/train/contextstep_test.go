package train

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// lsqContext holds lsqInit's parameters as the variables /lsq/w and /lsq/b.
func lsqContext() *context.Context {
	ctx := context.New().Checked(false)
	for _, p := range lsqInit() {
		ctx.In("lsq").VariableWithValue(p.Name, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	return ctx
}

func lsqContextLoss(ctx *context.Context, in []*Node) (*Node, []*Node) {
	g := in[0].Graph()
	w := ctx.In("lsq").GetVariable("w").ValueGraph(g)
	b := ctx.In("lsq").GetVariable("b").ValueGraph(g)
	loss, report := lsqLoss([]*Node{w, b}, in)
	return loss, append(report, ReduceSum(b, 0), b)
}

// TestContextStep: three steps of momentum SGD (an Optimizer's Build) on the least-squares model held
// in a context, against the float64 reference; the report comes back flattened to float64.
func TestContextStep(t *testing.T) {
	ctx := lsqContext()
	opt, err := SGD(0.1, 0.5).Build(3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewContextStep(ctx, opt, lsqContextLoss)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	x, y := lsqData()
	w, b := f64s(lsqInit()[0].Data), f64s(lsqInit()[1].Data)
	bw, bb := make([]float64, len(w)), make([]float64, len(b))
	for step := range 3 {
		loss, report, err := s.Step(tensors.FromFlatDataAndDimensions(x, lsqN, lsqIn), tensors.FromFlatDataAndDimensions(y, lsqN, lsqOut))
		if err != nil {
			t.Fatal(err)
		}
		refLoss, gw, gb, sum := lsqRef(w, b, x, y)
		if math.Abs(loss-refLoss) > 1e-5 || len(report) != 3 || math.Abs(report[0][0]-sum) > 1e-4 || len(report[2]) != 2 || math.Abs(report[2][1]-b[1]) > 1e-6 {
			t.Fatalf("step %d: loss %v report %v; reference loss %v, sum %v, b %v", step+1, loss, report, refLoss, sum, b)
		}
		for _, q := range []struct{ p, buf, g []float64 }{{w, bw, gw}, {b, bb, gb}} {
			for i := range q.p {
				q.buf[i] = 0.5*q.buf[i] + q.g[i]
				q.p[i] -= 0.1 * q.buf[i]
			}
		}
	}
	got, err := Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "W", got[0].Data, w)
	closeTo(t, "b", got[1].Data, b)
}

// TestContextStepErrors: a nil loss, an integer loss and a step without inputs are errors, not panics.
func TestContextStepErrors(t *testing.T) {
	x, y := lsqData()
	in := []any{tensors.FromFlatDataAndDimensions(x, lsqN, lsqIn), tensors.FromFlatDataAndDimensions(y, lsqN, lsqOut)}
	for _, c := range []struct {
		loss ContextLossGraph
		want string
	}{
		{func(*context.Context, []*Node) (*Node, []*Node) { return nil, nil }, "nil loss"},
		{func(_ *context.Context, in []*Node) (*Node, []*Node) {
			return ConvertDType(ReduceAllSum(in[0]), dtypes.Int32), nil
		}, "want a float"},
	} {
		opt, _ := Adam(0.1).Build(1)
		s, err := NewContextStep(lsqContext(), opt, c.loss)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Step(in...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one saying %q", err, c.want)
		}
	}
	opt, _ := Adam(0.1).Build(1)
	s, _ := NewContextStep(lsqContext(), opt, lsqContextLoss)
	if _, _, err := s.Step(); err == nil {
		t.Error("a step without inputs did not fail")
	}
	if _, err := NewContextStep(nil, opt, lsqContextLoss); err == nil {
		t.Error("NewContextStep accepted a nil context")
	}
}
