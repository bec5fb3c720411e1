package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// refAMCL is the float64 reference of the registered "amcl" (constant τ).
func refAMCL(in map[string]Arr, p Params) (float64, []float64) {
	x, lab := in["features"], in["labels"]
	b, d := x.Shape[0], x.Shape[1]
	c := int(p["heads"])
	dp := d / c
	tau, beta := p["tau"], p["beta"]
	omega := func(t float64) float64 { return float64(dp)/2*math.Log(t) + 1/t }
	per := make([]float64, b)
	for h := range c {
		unit := make([][]float64, b)
		for i := range b {
			v := x.Row(i)[h*dp : (h+1)*dp]
			n := 0.0
			for _, e := range v {
				n += e * e
			}
			unit[i] = make([]float64, dp)
			for k := range v {
				if n > 0 {
					unit[i][k] = v[k] / math.Sqrt(n)
				}
			}
		}
		for i := range b {
			sumPos, nPos, hard, hasNeg := 0.0, 0, math.Inf(-1), false
			for j := range b {
				s := 0.0
				for k := range dp {
					s += unit[i][k] * unit[j][k]
				}
				switch {
				case j != i && lab.Int(j) == lab.Int(i):
					sumPos += -s/tau + beta*omega(tau)
					nPos++
				case lab.Int(j) != lab.Int(i):
					hasNeg = true
					hard = math.Max(hard, s)
				}
			}
			if nPos > 0 {
				per[i] += sumPos / float64(nPos)
			}
			if hasNeg {
				per[i] += hard/tau - beta*omega(tau)
			}
		}
	}
	return MeanOf(per), per
}

func amclBatch() map[string]Arr {
	return map[string]Arr{
		"features": Mat([]float64{0.3, -1.2, 2.0, 0.7}, []float64{1.1, -0.4, -0.9, 0.5}, []float64{1.6, 0.2, -0.3, 0.8},
			[]float64{0.25, -1.0, 1.7, 0.9}, []float64{1.3, -0.6, -0.5, 0.1}, []float64{-0.7, 1.4, 0.6, -1.1}),
		"labels": Vec(0, 1, 2, 0, 1, 3), // two views each of instances 0 and 1; 2 and 3 have no positive
	}
}

func TestAMCLReference(t *testing.T) {
	for _, p := range []Params{nil, {"heads": 2, "tau": 0.3}, {"heads": 4, "tau": 1.2, "beta": 1}} {
		CheckObjective(t, "amcl", amclBatch(), p, refAMCL)
	}
	CheckFinite(t, "amcl", map[string]Arr{"features": amclBatch()["features"].Scaled(1e4), "labels": amclBatch()["labels"]}, Params{"heads": 2})
	CheckFinite(t, "amcl", map[string]Arr{"features": amclBatch()["features"].Scaled(1e4), "labels": amclBatch()["labels"]}, Params{"tau": AMCLTauMin})
}

// amclSpec evaluates AMCLLoss on a small two-head worked example (one anchor; column 0 is the positive).
func amclSpec(t *testing.T, sim, tau []float64, heads int, beta float64) float64 {
	t.Helper()
	n := len(sim) / heads
	posMask := make([]float64, n)
	negMask := make([]float64, n)
	posMask[0] = 1
	for j := 1; j < n; j++ {
		negMask[j] = 1
	}
	out := runGraph(t, func(s, tt, pm, nm *Node) *Node {
		return AMCLLoss(s, tt, GreaterThan(pm, ZerosLike(pm)), GreaterThan(nm, ZerosLike(nm)), beta, 4)
	}, hbTensor(sim, heads, 1, n), hbTensor(tau, heads, 1, n), hbTensor(posMask, 1, n), hbTensor(negMask, 1, n))
	return out[0][0]
}

// Properties 1–7 on hand-worked numbers.
func TestAMCLWorkedNumbers(t *testing.T) {
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	sim := []float64{0.8, 0.1, 0.3, -0.2, 0.6, 0.5, 0.0, 0.2}
	tau := []float64{0.5, 1, 0.5, 1, 1, 0.2, 1, 1}
	near("ℓ (β=0.1)", amclSpec(t, sim, tau, 2, 0.1), 0.821888, 1e-6)
	near("ℓ (β=0)", amclSpec(t, sim, tau, 2, 0), 0.9, 1e-12)
	// Property 2: non-maximal negatives (and their τ) do not matter.
	sim2, tau2 := append([]float64(nil), sim...), append([]float64(nil), tau...)
	sim2[1], tau2[3], sim2[6], tau2[7] = -0.5, 0.01, 0.45, 0.3
	near("ℓ with other non-hardest negatives", amclSpec(t, sim2, tau2, 2, 0.1), 0.821888, 1e-6)
	// Property 3: C = 1, constant τ = 0.5, β = 0: (s_neg - s_pos)/τ.
	near("hard-negative margin form", amclSpec(t, []float64{0.8, 0.1, 0.3}, []float64{0.5, 0.5, 0.5}, 1, 0), -1.0, 1e-12)
	// Property 4: f(τ) = -s/τ + Ω(τ) (β = 1) has zero derivative at τ* = 2(1-s)/d' = 0.2 for s = 0.6, d' = 4.
	out := runGraph(t, func(tt *Node) []*Node {
		f := Add(Neg(Div(Scalar(tt.Graph(), tt.DType(), 0.6), tt)), AMCLOmega(tt, 4))
		return []*Node{Gradient(ReduceAllSum(f), tt)[0], f}
	}, hbTensor([]float64{0.2, 0.19, 0.21}, 3))
	near("f'(τ*)", out[0][0], 0, 1e-12)
	if !(out[1][1] > out[1][0] && out[1][2] > out[1][0]) {
		t.Errorf("τ* = 0.2 is not a minimum: f = %v", out[1])
	}
	// Property 5 (bounded temperatures) is tested in lib/amcl.
	// Property 6: swapping the two views (reordering rows) leaves the anchor mean unchanged.
	in := amclBatch()
	sw := in["features"].clone()
	swl := in["labels"].clone()
	for k := range 4 { // swap rows 0 and 3 (the two views of instance 0)
		sw.Data[k], sw.Data[12+k] = sw.Data[12+k], sw.Data[k]
	}
	p := Params{"heads": 2}
	near("view swap", EvalArr(t, "amcl", map[string]Arr{"features": sw, "labels": swl}, p, 64).Loss, EvalArr(t, "amcl", in, p, 64).Loss, 1e-12)
	// Property 7: heads are independent: the 2-head loss is the sum of the single-head losses of each chunk.
	chunk := func(h int) Arr {
		a := Arr{Shape: []int{6, 2}}
		for i := range 6 {
			a.Data = append(a.Data, in["features"].Row(i)[2*h:2*h+2]...)
		}
		return a
	}
	l0 := EvalArr(t, "amcl", map[string]Arr{"features": chunk(0), "labels": in["labels"]}, nil, 64).Loss
	l1 := EvalArr(t, "amcl", map[string]Arr{"features": chunk(1), "labels": in["labels"]}, nil, 64).Loss
	near("2 heads = head 1 + head 2", EvalArr(t, "amcl", in, p, 64).Loss, l0+l1, 1e-12)
}
