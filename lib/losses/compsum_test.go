package losses

import (
	"math"
	"testing"
)

// refCompSum is the u-form of the comp-sum loss, independent of the graph's expm1 form.
func refCompSum(h []float64, y int, tau float64) float64 {
	u := 0.0
	for k, v := range h {
		if k != y {
			u += math.Exp(v - h[y])
		}
	}
	if tau == 1 {
		return math.Log1p(u)
	}
	return (math.Pow(1+u, 1-tau) - 1) / (1 - tau)
}

func compSumRef(tau func(p Params) float64) RefFn {
	return func(in map[string]Arr, p Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, y int) float64 { return refCompSum(h, y, tau(p)) })
	}
}

func TestCompSumReference(t *testing.T) {
	for _, tau := range []float64{0, 0.5, 1, 1.5, 1.7, 2, 3} {
		CheckObjective(t, "comp-sum", smallBatch(), Params{"tau": tau}, compSumRef(func(p Params) float64 { return p["tau"] }))
		CheckFinite(t, "comp-sum", hugeBatch(), Params{"tau": tau})
	}
	CheckObjective(t, "gce", smallBatch(), nil, compSumRef(func(p Params) float64 { return 1 + p["q"] }))
	CheckObjective(t, "gce", smallBatch(), Params{"q": 0.3}, compSumRef(func(p Params) float64 { return 1 + p["q"] }))
	CheckObjective(t, "mae", smallBatch(), nil, compSumRef(func(Params) float64 { return 2 }))
	CheckObjective(t, "sum-exp", smallBatch(), nil, compSumRef(func(Params) float64 { return 0 }))
	for _, name := range []string{"gce", "mae", "sum-exp"} {
		CheckFinite(t, name, hugeBatch(), nil)
	}
}

func one(h []float64, y int) map[string]Arr {
	return map[string]Arr{"logits": Mat(h), "labels": Vec(float64(y))}
}

func TestCompSumProperties(t *testing.T) {
	h := []float64{2, 1, 0.1}
	// 1. Worked table, and 6. strictly decreasing in tau, >= 0.
	taus := []float64{0, 0.5, 1, 1.5, 1.7, 2, 3}
	want := []float64{0.517448, 0.463695, 0.417030, 0.376422, 0.361675, 0.340999, 0.282859}
	prev := math.Inf(1)
	for i, tau := range taus {
		got := EvalArr(t, "comp-sum", one(h, 0), Params{"tau": tau}, 64).Loss
		if math.Abs(got-want[i]) > 1e-6 {
			t.Errorf("comp-sum tau=%g: %.6f, want %.6f", tau, got, want[i])
		}
		if got >= prev || got < 0 {
			t.Errorf("comp-sum tau=%g: %.6f not in (0, %g)", tau, got, prev)
		}
		prev = got
	}
	// Named members agree with the table.
	for name, w := range map[string]float64{"gce": 0.361675, "mae": 0.340999, "sum-exp": 0.517448, "ce": 0.417030} {
		if got := EvalArr(t, name, one(h, 0), nil, 64).Loss; math.Abs(got-w) > 1e-6 {
			t.Errorf("%s([2,1,0.1], 0) = %.6f, want %.6f", name, got, w)
		}
	}
	// 2. Gradient at tau = 1.7.
	g := EvalArr(t, "gce", one(h, 0), nil, 64).Grad["logits"]
	for k, w := range []float64{-0.254667, 0.181056, 0.073612} {
		if math.Abs(g[k]-w) > 1e-6 {
			t.Errorf("gce gradient[%d] = %.6f, want %.6f", k, g[k], w)
		}
	}
	// 3. Uniform logits, K = 3.
	for tau, w := range map[float64]float64{0: 2, 1: 1.098612, 1.7: 0.766481, 2: 0.666667} {
		if got := EvalArr(t, "comp-sum", one([]float64{0.4, 0.4, 0.4}, 1), Params{"tau": tau}, 64).Loss; math.Abs(got-w) > 1e-6 {
			t.Errorf("uniform logits tau=%g: %.6f, want %.6f", tau, got, w)
		}
	}
	// 4. Continuity at tau = 1.
	if got := EvalArr(t, "comp-sum", one(h, 0), Params{"tau": 0.999}, 64).Loss; math.Abs(got-0.417117) > 1e-6 {
		t.Errorf("tau=0.999: %.6f, want 0.417117", got)
	}
	// 5. Shift invariance; gradient rows sum to 0.
	for _, tau := range []float64{0, 1, 1.7, 3} {
		p := Params{"tau": tau}
		a := EvalArr(t, "comp-sum", smallBatch(), p, 64)
		shifted := smallBatch()
		for i := range shifted["logits"].Data {
			shifted["logits"].Data[i] += 3.5
		}
		b := EvalArr(t, "comp-sum", shifted, p, 64)
		if math.Abs(a.Loss-b.Loss) > 1e-12 {
			t.Errorf("tau=%g: shift changes loss %g -> %g", tau, a.Loss, b.Loss)
		}
		gr := a.Grad["logits"]
		for i := 0; i < 4; i++ {
			if s := gr[3*i] + gr[3*i+1] + gr[3*i+2]; math.Abs(s) > 1e-12 {
				t.Errorf("tau=%g: gradient row %d sums to %g", tau, i, s)
			}
		}
	}
	// 7. Bounded for tau > 1, unbounded (large) for tau <= 1, when p_y -> 0.
	bad := one([]float64{-5, 0, 0}, 0)
	for _, tau := range []float64{1.5, 2, 3} {
		if got := EvalArr(t, "comp-sum", bad, Params{"tau": tau}, 64).Loss; got >= 1/(tau-1) || got < 0.9/(tau-1) {
			t.Errorf("tau=%g: loss %g should approach the bound %g from below", tau, got, 1/(tau-1))
		}
	}
	if got := EvalArr(t, "comp-sum", one([]float64{-30, 0, 0}, 0), Params{"tau": 1}, 64).Loss; got < 30 {
		t.Errorf("tau=1: loss %g should grow without bound (> 30)", got)
	}
	// 8. MAE symmetry: Σ_k loss(h, k) = K - 1.
	sum := 0.0
	for k := 0; k < 3; k++ {
		sum += EvalArr(t, "mae", one(h, k), nil, 64).Loss
	}
	if math.Abs(sum-2) > 1e-12 {
		t.Errorf("Σ_k MAE(h,k) = %g, want 2", sum)
	}
	// 9. Binary, tau = 1: softplus(-(h_y - h_other)).
	if got, w := EvalArr(t, "comp-sum", one([]float64{0.3, 1.4}, 0), nil, 64).Loss, math.Log1p(math.Exp(1.1)); math.Abs(got-w) > 1e-12 {
		t.Errorf("binary CE = %g, want softplus(1.1) = %g", got, w)
	}
	// 10. Batch loss is the mean of the per-example losses (exactly, also in float32).
	for _, bits := range []int{32, 64} {
		r := EvalArr(t, "gce", smallBatch(), nil, bits)
		if m := MeanOf(r.PerExample); math.Abs(m-r.Loss) > 1e-6*math.Abs(m) {
			t.Errorf("float%d: loss %g != mean of per-example %g", bits, r.Loss, m)
		}
	}
	// (An "all-masked batch gives 0" property has no counterpart: Evaluate takes no mask, and empty
	// batches are rejected with an error; see TestEvaluateErrors.)
}
