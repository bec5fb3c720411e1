package models

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/losses"
)

// auxOnly exposes DualHead's auxiliary head as a Model, so the generic finite-difference check covers
// the auxiliary head and the backbone under it.
type auxOnly struct{ m *DualHead }

func (a auxOnly) Name() string { return a.m.Name() + "-aux" }
func (a auxOnly) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	_, aux, h := a.m.Heads(ctx, x)
	return aux, h
}

func TestDualHeadCheck(t *testing.T) {
	for _, tc := range []struct {
		m    DualHead
		want string
	}{
		{DualHead{Hidden: []int{4}, Classes: 0}, "Classes must be positive"},
		{DualHead{Classes: 3}, "at least one hidden layer"},
		{DualHead{Hidden: []int{4, 0}, Classes: 3}, "hidden width 1 is 0"},
		{DualHead{Hidden: []int{4}, Classes: 3, AuxHidden: -1}, "AuxHidden must be ≥ 0"},
	} {
		err := tc.m.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got error %v, want one containing %q", tc.m, err, tc.want)
		}
	}
	if err := NewDualHead(10, 64, 32).Check(); err != nil {
		t.Errorf("valid model: %v", err)
	}
	if got := (&DualHead{Hidden: []int{64, 32}, Classes: 10, AuxHidden: 200}).Name(); got != "dualhead-64-32-10-aux200" {
		t.Errorf("Name = %q", got)
	}
}

// TestDualHeadMatchesMLP: with the same seed, the backbone and main head are NewMLP's variables (names,
// values) and Forward gives the MLP's logits bit for bit.
func TestDualHeadMatchesMLP(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := tensors.FromFlatDataAndDimensions(randVec(r, 5*7), 5, 7)
	run := func(m Model) (*context.Context, []float64) {
		ctx := context.New()
		if err := ctx.SetRNGStateFromSeed(9); err != nil {
			t.Fatal(err)
		}
		ctx = ctx.Checked(false)
		exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, x *Node) *Node {
			logits, _ := m.Forward(ctx, x)
			return logits
		})
		return ctx, tensors.MustCopyFlatData[float64](exec.MustExec(x)[0])
	}
	ctxD, yD := run(NewDualHead(3, 6, 4))
	ctxM, yM := run(NewMLP(3, 6, 4))
	for i := range yD {
		if yD[i] != yM[i] {
			t.Fatalf("logit %d: dual head %v, MLP %v", i, yD[i], yM[i])
		}
	}
	var namesD, namesM []string
	for v := range ctxD.IterVariables() {
		if v.Trainable {
			namesD = append(namesD, v.ScopeAndName())
		}
	}
	for v := range ctxM.IterVariables() {
		if v.Trainable {
			namesM = append(namesM, v.ScopeAndName())
		}
	}
	if strings.Join(namesD, ",") != strings.Join(namesM, ",") {
		t.Errorf("variables: dual head %v, MLP %v", namesD, namesM)
	}
}

func TestDualHeadGradients(t *testing.T) {
	checkModelGradients(t, NewDualHead(3, 6, 5), []int{4, 7}, 1e-6)
	checkModelGradients(t, auxOnly{NewDualHead(3, 6, 5)}, []int{4, 7}, 1e-6)
	checkModelGradients(t, auxOnly{&DualHead{Hidden: []int{6}, Classes: 3, AuxHidden: 5}}, []int{4, 7}, 1e-6)
}

// TestDualHeadIsolation is property 9 of Dual-Head KD (Yang et al., arXiv:2411.08937): BinaryKL-Norm on the auxiliary head gives exactly zero
// gradient to the main head, CE on the main head exactly zero to the auxiliary head, and the backbone
// gets a non-zero gradient from both.
func TestDualHeadIsolation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const b, d, k = 6, 7, 4
	x := tensors.FromFlatDataAndDimensions(randVec(r, b*d), b, d)
	teacher := tensors.FromFlatDataAndDimensions(randVec(r, b*k), b, k)
	labels := tensors.FromFlatDataAndDimensions([]int32{0, 1, 2, 3, 0, 1}, b)
	m := NewDualHead(k, 5)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(2); err != nil {
		t.Fatal(err)
	}
	ctx = ctx.Checked(false)
	exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, x, teacher, labels *Node) []*Node {
		main, aux, _ := m.Heads(ctx, x)
		ce := ReduceAllMean(losses.CrossEntropy(main, labels))
		bkln := ReduceAllMean(losses.BinaryKLNorm(aux, teacher, 2))
		return append(ctx.BuildTrainableVariablesGradientsGraph(ce), ctx.BuildTrainableVariablesGradientsGraph(bkln)...)
	})
	out := exec.MustExec(x, teacher, labels)
	var names []string
	for v := range ctx.IterVariables() {
		if v.Trainable {
			names = append(names, v.Scope())
		}
	}
	n := len(names)
	if len(out) != 2*n || n != 6 {
		t.Fatalf("%d gradients for %d variables %v", len(out), n, names)
	}
	maxAbs := func(tt *tensors.Tensor) float64 {
		m := 0.0
		for _, v := range tensors.MustCopyFlatData[float64](tt) {
			m = math.Max(m, math.Abs(v))
		}
		return m
	}
	for i, scope := range names {
		ce, bkln := maxAbs(out[i]), maxAbs(out[n+i])
		switch {
		case IsAuxVariable(scope):
			if ce != 0 || bkln == 0 {
				t.Errorf("%s (auxiliary head): |∂CE| = %g (want exactly 0), |∂BKLN| = %g (want > 0)", scope, ce, bkln)
			}
		case scope == "/dense_1":
			if bkln != 0 || ce == 0 {
				t.Errorf("%s (main head): |∂BKLN| = %g (want exactly 0), |∂CE| = %g (want > 0)", scope, bkln, ce)
			}
		default:
			if ce == 0 || bkln == 0 {
				t.Errorf("%s (backbone): |∂CE| = %g, |∂BKLN| = %g, want both > 0", scope, ce, bkln)
			}
		}
	}
}
