package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// dhkdLogSigmoid is a stable float64 log σ(x).
func dhkdLogSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// refBernKL is KL(Bern(p) ‖ Bern(q)) for p = σ(a), q = σ(b), in float64 from log-sigmoids.
func refBernKL(a, b float64) float64 {
	p := 1 / (1 + math.Exp(-a))
	return p*(dhkdLogSigmoid(a)-dhkdLogSigmoid(b)) + (1-p)*(dhkdLogSigmoid(-a)-dhkdLogSigmoid(-b))
}

// refBKLNRow is BinaryKL-Norm in its Bernoulli form: T²·Σ_k KL(Bern(½) ‖ Bern(σ((z−t)/T))).
func refBKLNRow(z, t []float64, temp float64) float64 {
	s := 0.0
	for k := range z {
		s += refBernKL(0, (z[k]-t[k])/temp)
	}
	return temp * temp * s
}

// refBKLRow is BinaryKL: T²·Σ_k KL(Bern(σ(t/T)) ‖ Bern(σ(z/T))).
func refBKLRow(z, t []float64, temp float64) float64 {
	s := 0.0
	for k := range z {
		s += refBernKL(t[k]/temp, z[k]/temp)
	}
	return temp * temp * s
}

func dhkdRef(row func(z, t []float64, temp float64) float64, ce bool) RefFn {
	return func(in map[string]Arr, p Params) (float64, []float64) {
		s, t, y := in["student"], in["teacher"], in["labels"]
		per := make([]float64, s.Shape[0])
		for i := range per {
			per[i] = row(s.Row(i), t.Row(i), p["temperature"])
			if ce {
				per[i] = p["alpha"]*per[i] + p["gamma"]*refCE(s.Row(i), y.Int(i))
			}
		}
		return MeanOf(per), per
	}
}

func TestDHKDReference(t *testing.T) {
	in := kdBatch()
	bkln, bkl, one := dhkdRef(refBKLNRow, false), dhkdRef(refBKLRow, false), dhkdRef(refBKLNRow, true)
	for _, p := range []Params{nil, {"temperature": 0.7}, {"temperature": 4}} {
		CheckObjectiveGrad(t, "bkl-norm", in, p, bkln, kdHold(bkln, in, "teacher"))
		CheckObjectiveGrad(t, "binary-kl", in, p, bkl, kdHold(bkl, in, "teacher"))
	}
	for _, p := range []Params{nil, {"gamma": 0.5, "alpha": 0.1, "temperature": 3}} {
		CheckObjectiveGrad(t, "dhkd-one-head", in, p, one, kdHold(one, in, "teacher"))
	}
	huge := map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(-1e4), "labels": in["labels"]}
	for _, name := range []string{"bkl-norm", "binary-kl", "dhkd-one-head"} {
		CheckFinite(t, name, huge, nil)
		CheckFinite(t, name, huge, Params{"temperature": 0.01})
	}
}

// dhkdExample is a small worked example: t = [2, 0, −1], z² = [3, −2, −0.5].
func dhkdExample(z ...float64) map[string]Arr {
	return map[string]Arr{"student": Mat(z), "teacher": Mat([]float64{2, 0, -1}), "labels": Vec(0)}
}

// Properties 1–8 on hand-worked numbers (T = 2).
func TestDHKDProperties(t *testing.T) {
	ex := dhkdExample(3, -2, -0.5)
	for _, bits := range []int{32, 64} {
		tol := 1e-6
		if bits == 32 {
			tol = 3e-6
		}
		// 1: closed form and Bernoulli form.
		res := EvalArr(t, "bkl-norm", ex, nil, bits)
		closed := 4 * (math.Log(math.Cosh(0.25)) + math.Log(math.Cosh(0.5)) + math.Log(math.Cosh(0.125)))
		if math.Abs(res.Loss-0.635346) > tol || math.Abs(closed-0.635346) > 1e-6 ||
			math.Abs(refBKLNRow([]float64{3, -2, -0.5}, []float64{2, 0, -1}, 2)-closed) > 1e-12 {
			t.Errorf("float%d: L_BKLN = %.7f, closed form %.7f, want 0.635346", bits, res.Loss, closed)
		}
		// 7: gradient (T/(2B))·tanh(Δ/(2T)) and its bound T/(2B).
		for k, want := range []float64{0.244919, -0.462117, 0.124353} {
			if g := res.Grad["student"][k]; math.Abs(g-want) > tol || math.Abs(g) > 1 {
				t.Errorf("float%d: dL/dz²[%d] = %.6f, want %.6f", bits, k, g, want)
			}
		}
		// 3: the original BinaryKL.
		if l := EvalArr(t, "binary-kl", ex, nil, bits).Loss; math.Abs(l-0.600856) > tol {
			t.Errorf("float%d: L_BKL = %.6f, want 0.600856", bits, l)
		}
		// 6: not shift-invariant: +5 on every student logit.
		if l := EvalArr(t, "bkl-norm", dhkdExample(8, 3, 4.5), nil, bits).Loss; math.Abs(l-7.430107) > 5*tol {
			t.Errorf("float%d: L_BKLN after +5 = %.6f, want 7.430107", bits, l)
		}
		// 8: batch mean over an identical pair.
		pair := map[string]Arr{"student": Mat([]float64{3, -2, -0.5}, []float64{2, 0, -1}),
			"teacher": Mat([]float64{2, 0, -1}, []float64{2, 0, -1}), "labels": Vec(0, 0)}
		if l := EvalArr(t, "bkl-norm", pair, nil, bits).Loss; math.Abs(l-0.317673) > tol {
			t.Errorf("float%d: batch of two = %.6f, want 0.317673", bits, l)
		}
	}
	// 2: zero at identity, non-negative elsewhere; both forms.
	in := kdBatch()
	same := map[string]Arr{"student": in["teacher"], "teacher": in["teacher"], "labels": in["labels"]}
	for _, name := range []string{"bkl-norm", "binary-kl"} {
		if l := EvalArr(t, name, same, nil, 64).Loss; math.Abs(l) > 1e-12 {
			t.Errorf("%s(t, t) = %g, want 0", name, l)
		}
		for i, v := range EvalArr(t, name, in, Params{"temperature": 0.3}, 64).PerExample {
			if v < 0 {
				t.Errorf("%s: per-example[%d] = %g < 0", name, i, v)
			}
		}
	}
	// 4: symmetry in (z, t).
	swapped := map[string]Arr{"student": in["teacher"], "teacher": in["student"], "labels": in["labels"]}
	if a, b := EvalArr(t, "bkl-norm", in, nil, 64).Loss, EvalArr(t, "bkl-norm", swapped, nil, 64).Loss; math.Abs(a-b) > 1e-12 {
		t.Errorf("L_BKLN(z,t) = %g but L_BKLN(t,z) = %g", a, b)
	}
	// 5: small-Δ limit ‖Δ‖²/(8B) whatever T, and the large-Δ slope T·|Δ|/2 − T²·log 2 per entry.
	// The relative error of the limit is about (max|Δ|/(2T))²/6: 1.5e-4 at T = 0.5, 1e-5 at T = 2.
	for _, c := range []struct{ temp, tol float64 }{{0.5, 3e-8}, {2, 2e-9}, {8, 2e-10}} {
		small := dhkdExample(2.01, -0.02, -0.97)
		if l := EvalArr(t, "bkl-norm", small, Params{"temperature": c.temp}, 64).Loss; math.Abs(l-1.75e-4) > c.tol {
			t.Errorf("T=%g: small-Δ loss = %.9g, want ≈ 1.75e-4", c.temp, l)
		}
	}
	big := map[string]Arr{"student": Mat([]float64{400}), "teacher": Mat([]float64{0}), "labels": Vec(0)}
	if l, want := EvalArr(t, "bkl-norm", big, nil, 64).Loss, 2*400/2.0-4*math.Ln2; math.Abs(l-want) > 1e-9 {
		t.Errorf("large Δ: %g, want %g", l, want)
	}
}

// Property 9: head isolation. A tiny backbone h = tanh(x·W_b) feeds the main head z¹ = h·W₁ + b₁ and the
// auxiliary head z² = h·W₂. The gradient of the DHKD loss w.r.t. (W₁, b₁) equals that of γ·CE alone and
// w.r.t. W₂ that of α·BKLN alone (the other loss contributes exactly zero), while the backbone gets both.
func TestDHKDHeadIsolation(t *testing.T) {
	x := tensors.FromValue([][]float64{{0.5, -1.0, 2.0}, {1.5, 0.3, -0.7}})
	wb := tensors.FromValue([][]float64{{0.2, -0.4}, {0.7, 0.1}, {-0.3, 0.5}})
	w1 := tensors.FromValue([][]float64{{1.0, -0.5, 0.3}, {0.2, 0.8, -1.1}})
	b1 := tensors.FromValue([]float64{0.1, -0.2, 0.05})
	w2 := tensors.FromValue([][]float64{{-0.6, 0.4, 0.9}, {1.2, -0.3, 0.2}})
	teacher := tensors.FromValue([][]float64{{2, 0, -1}, {-0.5, 1.5, 0.3}})
	labels := tensors.FromValue([]int32{0, 2})
	const gamma, alpha, temp = 1.0, 0.7, 2.0
	out := runGraph(t, func(x, wb, w1, b1, w2, teacher, labels *Node) []*Node {
		h := Tanh(MatMul(x, wb))
		main := Add(MatMul(h, w1), InsertAxes(b1, 0))
		aux := MatMul(h, w2)
		total := ReduceAllMean(DualHeadKD(main, aux, teacher, labels, gamma, alpha, temp))
		ce := ReduceAllMean(MulScalar(CrossEntropy(main, labels), gamma))
		bkln := ReduceAllMean(MulScalar(BinaryKLNorm(aux, teacher, temp), alpha))
		gt := Gradient(total, w1, b1, w2, wb)
		gc := Gradient(ce, w1, b1, wb)
		gk := Gradient(bkln, w2, wb)
		return append(append(append([]*Node{Sub(total, Add(ce, bkln))}, gt...), gc...), gk...)
	}, x, wb, w1, b1, w2, teacher, labels)
	if math.Abs(out[0][0]) > 1e-12 {
		t.Errorf("total − (γ·CE + α·BKLN) = %g", out[0][0])
	}
	gtW1, gtB1, gtW2, gtWb := out[1], out[2], out[3], out[4]
	gcW1, gcB1, gcWb := out[5], out[6], out[7]
	gkW2, gkWb := out[8], out[9]
	same := func(what string, a, b []float64) {
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s[%d]: %g vs %g (want exactly equal)", what, i, a[i], b[i])
			}
		}
	}
	same("dL/dW₁ vs d(γCE)/dW₁", gtW1, gcW1)
	same("dL/db₁ vs d(γCE)/db₁", gtB1, gcB1)
	same("dL/dW₂ vs d(αBKLN)/dW₂", gtW2, gkW2)
	nonzero := func(v []float64) bool {
		for _, x := range v {
			if x != 0 {
				return true
			}
		}
		return false
	}
	if !nonzero(gcWb) || !nonzero(gkWb) {
		t.Error("the backbone should receive gradient from both losses")
	}
	for i := range gtWb {
		if math.Abs(gtWb[i]-(gcWb[i]+gkWb[i])) > 1e-12 {
			t.Errorf("dL/dW_b[%d] = %g, want %g + %g", i, gtWb[i], gcWb[i], gkWb[i])
		}
	}
}

// Property 10: gradient alignment, over gradients split into two parameters.
func TestDHKDAlignGradients(t *testing.T) {
	align := func(kd, ce [][]float64) [][]float64 {
		return runGraph(t, func(k0, k1, c0, c1 *Node) []*Node {
			return AlignGradients([]*Node{k0, k1}, []*Node{c0, c1})
		}, tensors.FromValue(kd[0]), tensors.FromValue(kd[1]), tensors.FromValue(ce[0]), tensors.FromValue(ce[1]))
	}
	dot := func(a, b [][]float64) float64 {
		s := 0.0
		for i := range a {
			for j := range a[i] {
				s += a[i][j] * b[i][j]
			}
		}
		return s
	}
	ce := [][]float64{{1, 2}, {-1, 0.5, 3}}
	// Non-conflicting: unchanged.
	kd := [][]float64{{0.5, 0.1}, {0.2, -0.3, 0.4}}
	if dot(kd, ce) < 0 {
		t.Fatal("test setup: want a non-negative dot product")
	}
	got := align(kd, ce)
	for i := range kd {
		for j := range kd[i] {
			if got[i][j] != kd[i][j] {
				t.Errorf("non-conflicting: g_KD'[%d][%d] = %g, want %g unchanged", i, j, got[i][j], kd[i][j])
			}
		}
	}
	// Conflicting: projected onto the normal plane of g_CE; check against the plain formula.
	kd = [][]float64{{-1, 0.3}, {0.5, 0.2, -2}}
	d := dot(kd, ce)
	if d >= 0 {
		t.Fatal("test setup: want a negative dot product")
	}
	coef := d / dot(ce, ce)
	got = align(kd, ce)
	for i := range kd {
		for j := range kd[i] {
			if want := kd[i][j] - coef*ce[i][j]; math.Abs(got[i][j]-want) > 1e-12 {
				t.Errorf("conflicting: g_KD'[%d][%d] = %g, want %g", i, j, got[i][j], want)
			}
		}
	}
	if o := dot(got, ce); math.Abs(o) > 1e-12 {
		t.Errorf("⟨g_KD', g_CE⟩ = %g, want 0", o)
	}
	// A nil entry counts as zeros.
	out := runGraph(t, func(k0, c0, c1 *Node) []*Node {
		return AlignGradients([]*Node{k0, nil}, []*Node{c0, c1})
	}, tensors.FromValue([]float64{-1, -1}), tensors.FromValue([]float64{1, 1}), tensors.FromValue([]float64{0, 0, 2}))
	// ⟨g_KD, g_CE⟩ = −2, ‖g_CE‖² = 6: g_KD' = g_KD + g_CE/3.
	want := [][]float64{{-2.0 / 3, -2.0 / 3}, {0, 0, 2.0 / 3}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(out[i][j]-want[i][j]) > 1e-12 {
				t.Errorf("nil entry: g_KD'[%d][%d] = %g, want %g", i, j, out[i][j], want[i][j])
			}
		}
	}
}
