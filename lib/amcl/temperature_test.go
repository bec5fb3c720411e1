package amcl

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/internal/graphtest"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/losses"
)

func flat(x [][][]float64) []float64 {
	var out []float64
	for _, a := range x {
		for _, b := range a {
			out = append(out, b...)
		}
	}
	return out
}

// τ stays in [τ_min, τ_max]; a = 0 gives (τ_min + τ_max)/2 = 1.000005.
func TestTemperatureBounds(t *testing.T) {
	out := graphtest.Run(t, func(a *Node) *Node { return Temperature(a, losses.AMCLTauMin, losses.AMCLTauMax) },
		[]float64{0, -1e4, 1e4, 3})[0]
	if math.Abs(out[0]-1.000005) > 1e-12 {
		t.Errorf("τ(0) = %.7g, want 1.000005", out[0])
	}
	for i, v := range out {
		if v < losses.AMCLTauMin || v > losses.AMCLTauMax {
			t.Errorf("τ[%d] = %g outside [%g, %g]", i, v, losses.AMCLTauMin, losses.AMCLTauMax)
		}
	}
}

// The temperature network: shape, bounds, and head independence: head c's temperatures never depend on
// another head's embeddings (a shared φ couples the heads only through its parameters).
func TestPairTemperatures(t *testing.T) {
	z := make([]float64, 2*3*4)
	for i := range z {
		z[i] = math.Sin(float64(i)*1.3) * 3
	}
	for _, shared := range []bool{false, true} {
		ctx := context.New()
		e, err := context.NewExec(backend.Must(), ctx, func(ctx *context.Context, z *Node) []*Node {
			tau := PairTemperatures(ctx, z, 5, shared, losses.AMCLTauMin, losses.AMCLTauMax)
			// Head 0's temperatures only: their gradient w.r.t. head 1's embeddings.
			head0 := ReduceSum(Mul(tau, Const(z.Graph(), [][][]float64{{{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}})))
			return []*Node{tau, Gradient(head0, z)[0]}
		})
		if err != nil {
			t.Fatal(err)
		}
		zs := make([][][]float64, 2) // z as [2,3,4]
		for c := range zs {
			zs[c] = make([][]float64, 3)
			for a := range zs[c] {
				zs[c][a] = z[(c*3+a)*4 : (c*3+a+1)*4]
			}
		}
		outs, err := e.Exec(zs)
		if err != nil {
			t.Fatal(err)
		}
		tau := outs[0].Value().([][][]float64)
		grad := flat(outs[1].Value().([][][]float64))
		if len(flat(tau)) != 2*3*3 {
			t.Fatalf("shared=%v: %d temperatures, want 18", shared, len(flat(tau)))
		}
		for i, v := range flat(tau) {
			if v < losses.AMCLTauMin || v > losses.AMCLTauMax || math.IsNaN(v) {
				t.Errorf("shared=%v: τ[%d] = %g outside the bounds", shared, i, v)
			}
		}
		other := 0.0
		for _, g := range grad[12:] { // head 1's embeddings
			other += math.Abs(g)
		}
		if other != 0 {
			t.Errorf("shared=%v: head 0's temperatures depend on head 1's embeddings (|grad| = %g)", shared, other)
		}
		own := 0.0
		for _, g := range grad[:12] {
			own += math.Abs(g)
		}
		if own == 0 {
			t.Errorf("shared=%v: head 0's temperatures do not depend on its embeddings", shared)
		}
	}
}
