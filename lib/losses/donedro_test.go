package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// dratCE returns the per-example cross-entropies of a classification batch (float64 reference).
func dratCE(in map[string]Arr) []float64 {
	z, y := in["logits"], in["labels"]
	ce := make([]float64, z.Shape[0])
	for i := range ce {
		ce[i] = refCE(z.Row(i), y.Int(i))
	}
	return ce
}

// refDROWeights is softmax(ℓ/r) written directly (no max shift: the test losses are small).
func refDROWeights(l []float64, r float64) []float64 {
	w := make([]float64, len(l))
	s := 0.0
	for i, v := range l {
		w[i] = math.Exp(v / r)
		s += w[i]
	}
	for i := range w {
		w[i] /= s
	}
	return w
}

// refDROValue is r·log((1/n) Σ exp(ℓ/r)), written directly.
func refDROValue(l []float64, r float64) float64 {
	s := 0.0
	for _, v := range l {
		s += math.Exp(v / r)
	}
	return r * math.Log(s/float64(len(l)))
}

func dratBatch() map[string]Arr {
	return map[string]Arr{
		"logits": Mat([]float64{1.5, -0.3, 0.2}, []float64{-0.8, 0.4, 1.1}, []float64{0.1, 0.2, -1.3}, []float64{2.2, -1.0, 0.6}),
		"labels": Vec(0, 0, 2, 1),
	}
}

func TestDRATReference(t *testing.T) {
	in := dratBatch()
	dro := func(in map[string]Arr, p Params) (float64, []float64) { return refDROValue(dratCE(in), p["r"]), nil }
	done := func(in map[string]Arr, p Params) (float64, []float64) {
		ce := dratCE(in)
		w := refDROWeights(ce, p["r"])
		per := make([]float64, len(ce))
		for i := range ce {
			per[i] = float64(len(ce)) * w[i] * ce[i]
		}
		return MeanOf(per), per
	}
	// The gradient reference holds the weights ω at their values on the unperturbed logits.
	doneGrad := func(m map[string]Arr, p Params) (float64, []float64) {
		w := refDROWeights(dratCE(in), p["r"])
		ce := dratCE(m)
		s := 0.0
		for i := range ce {
			s += w[i] * ce[i]
		}
		return s, nil
	}
	for _, r := range []float64{0.3, 1, 5} {
		CheckObjective(t, "done-dro", in, Params{"r": r}, dro)
		CheckObjectiveGrad(t, "done", in, Params{"r": r}, done, doneGrad)
		// Property 7: the surrogate's gradient equals the DRO objective's.
		a := EvalArr(t, "done", in, Params{"r": r}, 64).Grad["logits"]
		b := EvalArr(t, "done-dro", in, Params{"r": r}, 64).Grad["logits"]
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-12 {
				t.Errorf("r=%g: d done/d logits[%d] = %g, d done-dro = %g", r, i, a[i], b[i])
			}
		}
	}
	huge := map[string]Arr{"logits": in["logits"].Scaled(1e4), "labels": in["labels"]}
	for _, r := range []float64{0.01, 1, 100} {
		CheckFinite(t, "done-dro", huge, Params{"r": r})
		CheckFinite(t, "done", huge, Params{"r": r})
	}
}

// dratGraph evaluates DROWeights, DROValue and DONEWeights (with log u = logU, or the batch's own
// DROLogMeanExp when logU is NaN) on a vector of losses, in float64.
func dratGraph(t *testing.T, losses []float64, r, logU float64) (w []float64, f, logMean float64, omega []float64) {
	t.Helper()
	out := runGraph(t, func(l, lu *Node) []*Node {
		lm := DROLogMeanExp(l, r)
		u := lu
		if math.IsNaN(logU) {
			u = lm
		}
		return []*Node{DROWeights(l, r), DROValue(l, r), lm, DONEWeights(l, u, r)}
	}, tensors.FromValue(losses), tensors.FromValue(logU))
	return out[0], out[1][0], out[2][0], out[3]
}

// Properties 1–6 and 9 on ℓ = (0.5, 1, 2).
func TestDRATProperties(t *testing.T) {
	l := []float64{0.5, 1, 2}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f", what, got, want)
		}
	}
	// 1: r = 1, with the duality check Σ w*ℓ − r Σ w* log(n w*) = F.
	w, f, _, omega := dratGraph(t, l, 1, math.NaN())
	for i, want := range []float64{0.1402, 0.2312, 0.6285} {
		near("r=1: w*", w[i], want, 5e-5)
		near("r=1: ω = n·w*", omega[i], 3*w[i], 1e-12)
	}
	near("r=1: F", f, 1.3658, 5e-5)
	primal := 0.0
	for i := range l {
		primal += w[i]*l[i] - w[i]*math.Log(3*w[i])
	}
	near("r=1: primal value", primal, f, 1e-12)
	// 2: r = 0.1.
	w, f, _, _ = dratGraph(t, l, 0.1, math.NaN())
	near("r=0.1: w*_3", w[2], 1, 1e-4)
	near("r=0.1: F", f, 1.8901, 5e-5)
	near("r=0.1: F vs 2 − 0.1·log 3", f, 2-0.1*math.Log(3), 1e-4)
	// 3: r = 10 and r = 1000.
	w, f, _, _ = dratGraph(t, l, 10, math.NaN())
	for i, want := range []float64{0.3112, 0.3272, 0.3616} {
		near("r=10: w*", w[i], want, 5e-5)
	}
	near("r=10: F", f, 1.1863, 5e-5)
	_, f, _, _ = dratGraph(t, l, 1000, math.NaN())
	near("r=1000: F", f, 1.1669, 5e-5)
	// 4 and 6: Jensen bounds, monotone in r, weights on the simplex with KL(w* ‖ uniform) ∈ [0, log n].
	prev := math.Inf(1)
	for _, r := range []float64{0.01, 0.1, 0.5, 1, 2, 10, 100} {
		w, f, _, _ := dratGraph(t, l, r, math.NaN())
		if f < MeanOf(l)-1e-12 || f > 2+1e-12 || f > prev {
			t.Errorf("r=%g: F = %g is outside [mean ℓ, max ℓ] or not decreasing in r (previous %g)", r, f, prev)
		}
		prev = f
		sum, kl := 0.0, 0.0
		for _, v := range w {
			if v < 0 {
				t.Errorf("r=%g: negative weight %g", r, v)
			}
			sum += v
			if v > 0 {
				kl += v * math.Log(3*v)
			}
		}
		if math.Abs(sum-1) > 1e-12 || kl < -1e-12 || kl > math.Log(3)+1e-12 {
			t.Errorf("r=%g: Σw = %g, KL(w* ‖ uniform) = %g", r, sum, kl)
		}
		want := refDROWeights(l, r)
		for i := range w {
			near("w* vs reference", w[i], want[i], 1e-12)
		}
		near("F vs reference", f, refDROValue(l, r), 1e-12)
	}
	// 5: shift invariance.
	w0, f0, _, _ := dratGraph(t, l, 0.7, math.NaN())
	w1, f1, _, _ := dratGraph(t, []float64{3.5, 4, 5}, 0.7, math.NaN())
	for i := range w0 {
		near("w*(ℓ+3)", w1[i], w0[i], 1e-12)
	}
	near("F(ℓ+3) − 3", f1-3, f0, 1e-12)
	// 9: overflow.
	for _, bits := range []int{32, 64} {
		var lt *tensors.Tensor
		if bits == 32 {
			lt = tensors.FromValue([]float32{1000, 1001})
		} else {
			lt = tensors.FromValue([]float64{1000, 1001})
		}
		out := runGraph(t, func(l *Node) []*Node {
			return []*Node{DROWeights(l, 1), DONEWeights(l, DROLogMeanExp(l, 1), 1), DROValue(l, 1)}
		}, lt)
		near("ℓ=(1000,1001): w*_1", out[0][0], 0.2689, 5e-5)
		near("ℓ=(1000,1001): w*_2", out[0][1], 0.7311, 5e-5)
		// float32 resolves ℓ ≈ 1000 to about 6e-5, which bounds the accuracy of exp(ℓ/r − log u).
		near("ℓ=(1000,1001): ω_1", out[1][0], 2*0.268941, 2e-4)
		near("ℓ=(1000,1001): F", out[2][0], 1001+math.Log((1+math.Exp(-1))/2), 1e-4)
	}
}

// Property 8 and the state over several steps: the stochastic solver's u (log domain, float32 graph)
// against a plain float64 loop in the linear domain.
func TestDRATStateUpdate(t *testing.T) {
	// 8: r = 1, u₀ = 1, β = 0.1.
	s := DONEState{LogU: 0, Started: true}
	l := []float64{0.5, 1, 2}
	_, _, lm, _ := dratGraph(t, l, 1, math.NaN())
	if err := s.Update(lm, 0.1); err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.U()-1.29187) > 5e-6 {
		t.Errorf("u = %.6f, want 1.29187", s.U())
	}
	_, _, _, omega := dratGraph(t, l, 1, s.LogU)
	for i, want := range []float64{1.276, 2.104, 5.720} {
		if math.Abs(omega[i]-want) > 5e-4 {
			t.Errorf("ω[%d] = %.4f, want %.3f", i, omega[i], want)
		}
	}
	// Several steps: batches of losses, r = 0.5, β = 0.2, unstarted state (u = first batch mean).
	const r, beta = 0.5, 0.2
	batches := [][]float32{{0.3, 1.2, 0.8, 2.1}, {0.5, 0.4, 1.9}, {2.5, 0.1, 0.7, 1.4, 0.9}, {0.2, 0.2}, {3.0, 1.0, 0.5}}
	exec := func(losses []float32, logU float32) (float64, []float64) {
		out := runGraph(t, func(l, lu *Node) []*Node {
			return []*Node{DROLogMeanExp(l, r), DONELoss(l, lu, r)}
		}, tensors.FromValue(losses), tensors.FromValue(logU))
		return out[0][0], out[1]
	}
	var st DONEState
	refU := 0.0
	for step, b := range batches {
		lm, _ := exec(b, float32(st.LogU))
		if err := st.Update(lm, beta); err != nil {
			t.Fatal(err)
		}
		mean := 0.0
		for _, v := range b {
			mean += math.Exp(float64(v)/r) / float64(len(b))
		}
		if step == 0 {
			refU = mean
		} else {
			refU = (1-beta)*refU + beta*mean
		}
		if math.Abs(st.U()-refU) > 1e-5*refU {
			t.Errorf("step %d: u = %.7g, reference %.7g", step, st.U(), refU)
		}
		// The surrogate with the updated u: ω_i·ℓ_i.
		_, per := exec(b, float32(st.LogU))
		for i, v := range b {
			want := math.Exp(float64(v)/r) / refU * float64(v)
			if math.Abs(per[i]-want) > 1e-5*math.Abs(want)+1e-6 {
				t.Errorf("step %d: ω_%d·ℓ_%d = %.7g, reference %.7g", step, i, i, per[i], want)
			}
		}
	}
	for _, bad := range []float64{0, -0.1, 1.5, math.NaN()} {
		if err := st.Update(0, bad); err == nil {
			t.Errorf("β=%g accepted", bad)
		}
	}
	if err := st.Update(math.Inf(1), 0.1); err == nil {
		t.Error("infinite log mean accepted")
	}
}
