package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
)

// execFloat64 runs a graph function on float64/int32 inputs and returns every output as float64.
func execFloat64(t *testing.T, fn func([]*Node) []*Node, args ...any) [][]float64 {
	t.Helper()
	e, err := NewExec(backend.Must(), fn)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := e.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	res := make([][]float64, len(outs))
	for i, o := range outs {
		if res[i], err = toFloat64(o); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func refDeltas(h []float64, y int, c float64) []float64 {
	d := make([]float64, len(h))
	for k := range h {
		d[k] = h[k] - h[y]
		if k != y {
			d[k] += c
		}
	}
	return d
}

func refLDR(h []float64, y int, lambda, c float64) float64 {
	d := refDeltas(h, y, c)
	s := make([]float64, len(d))
	for k := range d {
		s[k] = d[k] / lambda
	}
	return lambda * (RefLogSumExp(s) - math.Log(float64(len(h))))
}

func refLDRCodeNorm(h []float64) []float64 {
	out := make([]float64, len(h))
	mean := 0.0
	for k, v := range h {
		out[k] = math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v)))
		mean += out[k] / float64(len(h))
	}
	for k := range out {
		out[k] /= mean
	}
	return out
}

// refALDR computes one ALDR step in float64; code selects the official form. If fixedLam is non-nil it
// is used instead of λ_new (for the gradient reference, where λ is a constant).
func refALDR(h []float64, y int, lamOld, lambda0, alpha, c float64, code bool, fixedLam *float64) (loss, lamNew float64) {
	K := float64(len(h))
	f := h
	var p []float64
	if code {
		l1 := 0.0
		for _, v := range h {
			l1 += math.Abs(v) / K
		}
		f = make([]float64, len(h))
		for k, v := range h {
			f[k] = v / l1
		}
		s := make([]float64, len(f))
		for k := range f {
			s[k] = f[k] / lamOld
		}
		p = RefSoftmax(s)
		sum := 0.0
		for k := range p {
			p[k] += 1e-5
			sum += p[k]
		}
		for k := range p {
			p[k] /= sum
		}
	} else {
		d := refDeltas(h, y, c)
		for k := range d {
			d[k] /= lamOld
		}
		p = RefSoftmax(d)
	}
	kl := 0.0
	for _, v := range p {
		if v > 0 {
			kl += v * math.Log(K*v)
		}
	}
	lamNew = lambda0 * (1 - kl/(alpha*math.Log(K)))
	lam := lamNew
	if fixedLam != nil {
		lam = *fixedLam
	}
	loss = refLDR(f, y, lam, c) - alpha*math.Log(K)/(2*lambda0)*(lam-lambda0)*(lam-lambda0)
	return loss, lamNew
}

func TestLDRReference(t *testing.T) {
	ldr := func(in map[string]Arr, p Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, y int) float64 { return refLDR(h, y, p["lambda"], p["margin"]) })
	}
	ldrCode := func(in map[string]Arr, p Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, y int) float64 { return refLDR(refLDRCodeNorm(h), y, p["lambda"], p["margin"]) })
	}
	for _, p := range []Params{nil, {"lambda": 0.5, "margin": 0}, {"lambda": 2, "margin": 1}} {
		CheckObjective(t, "ldr-kl", smallBatch(), p, ldr)
		CheckObjective(t, "ldr-kl-code", smallBatch(), p, ldrCode)
	}
	for _, code := range []bool{false, true} {
		name := "aldr-kl"
		if code {
			name = "aldr-kl-code"
		}
		for _, p := range []Params{nil, {"lambda0": 1, "alpha": 1.5, "margin": 0.5}} {
			ref := func(in map[string]Arr, p Params) (float64, []float64) {
				return refPerRow(in, func(h []float64, y int) float64 {
					l, _ := refALDR(h, y, p["lambda0"], p["lambda0"], p["alpha"], p["margin"], code, nil)
					return l
				})
			}
			// λ_new is detached in the graph: the gradient reference holds it at its unperturbed value.
			base := smallBatch()
			lams := make([]float64, base["logits"].Shape[0])
			rp, _ := mustLookup(t, name).Resolve(p)
			for i := range lams {
				_, lams[i] = refALDR(base["logits"].Row(i), base["labels"].Int(i), rp["lambda0"], rp["lambda0"], rp["alpha"], rp["margin"], code, nil)
			}
			gradRef := func(in map[string]Arr, p Params) (float64, []float64) {
				h, y := in["logits"], in["labels"]
				per := make([]float64, h.Shape[0])
				for i := range per {
					per[i], _ = refALDR(h.Row(i), y.Int(i), p["lambda0"], p["lambda0"], p["alpha"], p["margin"], code, &lams[i])
				}
				return MeanOf(per), per
			}
			CheckObjectiveGrad(t, name, base, p, ref, gradRef)
		}
	}
	for _, name := range []string{"ldr-kl", "ldr-kl-code", "aldr-kl", "aldr-kl-code"} {
		CheckFinite(t, name, hugeBatch(), nil)
		neg := hugeBatch()
		for i := range neg["logits"].Data {
			neg["logits"].Data[i] = -1e4
		}
		CheckFinite(t, name, neg, nil) // all scores -1e4: softplus underflows, L1 norm is large.
		zero := smallBatch()
		for i := range zero["logits"].Data {
			zero["logits"].Data[i] = 0
		}
		CheckFinite(t, name, zero, nil) // all-zero scores: the normalisations' floor.
	}
	CheckFinite(t, "ldr-kl", hugeBatch(), Params{"lambda": 1e-3})
	CheckFinite(t, "aldr-kl-code", hugeBatch(), Params{"softplus": 1})
}

func mustLookup(t *testing.T, name string) *Objective {
	t.Helper()
	o, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestLDRProperties(t *testing.T) {
	h := []float64{2, 1, 0.1}
	ex := one(h, 0)
	// 1. c = 0, λ = 1: CE - log K.
	if got := EvalArr(t, "ldr-kl", ex, Params{"lambda": 1, "margin": 0}, 64).Loss; math.Abs(got-(-0.681582)) > 1e-6 {
		t.Errorf("ldr-kl(c=0, λ=1) = %.6f, want -0.681582", got)
	}
	// 2 and 3. Limits, sandwich, monotone in λ.
	lambdas := []float64{1e-3, 0.1, 1, 10, 1e3}
	want := []float64{-0.0010986, -0.109849, -0.646347, -0.873018, -0.899730}
	prev := math.Inf(1)
	for i, l := range lambdas {
		got := EvalArr(t, "ldr-kl", ex, Params{"lambda": l}, 64).Loss
		if math.Abs(got-want[i]) > 1e-6 {
			t.Errorf("ldr-kl λ=%g: %.7f, want %.7f", l, got, want[i])
		}
		if got < -0.9 || got > 0 || got > prev {
			t.Errorf("ldr-kl λ=%g: %.7f outside [mean δ, max δ] = [-0.9, 0] or increasing in λ", l, got)
		}
		prev = got
	}
	// λ → 0 is the Crammer–Singer hinge with the same margin (here on a batch where it is positive).
	for i := range 4 {
		b := smallBatch()
		row := map[string]Arr{"logits": Mat(b["logits"].Row(i)), "labels": Vec(b["labels"].Data[i])}
		ldr := EvalArr(t, "ldr-kl", row, Params{"lambda": 1e-4, "margin": 1}, 64).Loss
		hinge := EvalArr(t, "hinge", row, Params{"margin": 1}, 64).Loss
		if math.Abs(ldr-hinge) > 2e-4 {
			t.Errorf("row %d: ldr-kl(λ=1e-4) = %g, hinge %g", i, ldr, hinge)
		}
	}
	// 4. Gradient at λ = 2, c = 0.1; sums to 0.
	g := EvalArr(t, "ldr-kl", ex, Params{"lambda": 2}, 64).Grad["logits"]
	for k, w := range []float64{-0.510811, 0.311921, 0.198890} {
		if math.Abs(g[k]-w) > 1e-6 {
			t.Errorf("ldr-kl gradient[%d] = %.6f, want %.6f", k, g[k], w)
		}
	}
	if s := g[0] + g[1] + g[2]; math.Abs(s) > 1e-12 {
		t.Errorf("ldr-kl gradient sums to %g", s)
	}
	// 5. Official LDR normalisation and its value.
	norm := execFloat64(t, func(x []*Node) []*Node { return []*Node{LDRCodeNormalize(x[0])} },
		tensors.FromValue([][]float64{h}))[0]
	for k, w := range []float64{1.524830, 0.941499, 0.533670} {
		if math.Abs(norm[k]-w) > 1e-6 {
			t.Errorf("LDRCodeNormalize[%d] = %.6f, want %.6f", k, norm[k], w)
		}
	}
	if got := EvalArr(t, "ldr-kl-code", ex, nil, 64).Loss; math.Abs(got-(-0.451523)) > 1e-6 {
		t.Errorf("ldr-kl-code = %.6f, want -0.451523", got)
	}
	// 6. One official ALDR step from λ_old = λ0 = 10.
	out := execFloat64(t, func(x []*Node) []*Node {
		f := ALDRCodeNormalize(x[0], false)
		p := AddScalar(Softmax(DivScalar(f, 10), -1), 1e-5)
		p = Div(p, ReduceAndKeep(p, ReduceSum, -1))
		loss, lam := ALDRKLCodeStep(x[0], x[1], x[2], 10, 2, 0.1, false)
		quad := MulScalar(Square(SubScalar(lam, 10)), -2*math.Log(3)/20)
		return []*Node{f, p, lam, quad, loss}
	}, tensors.FromValue([][]float64{h}), tensors.FromValue([]int32{0}), tensors.FromValue([]float64{10}))
	checkVals := func(what string, got, want []float64, tol float64) {
		for k := range want {
			if math.Abs(got[k]-want[k]) > tol {
				t.Errorf("ALDR %s[%d] = %.8g, want %.8g", what, k, got[k], want[k])
			}
		}
	}
	checkVals("normalised f", out[0], []float64{1.935484, 0.967742, 0.096774}, 1e-6)
	checkVals("p", out[1], []float64{0.364989, 0.331323, 0.303688}, 1e-6)
	checkVals("λ_new", out[2], []float64{9.987152}, 1e-6)
	checkVals("quadratic term", out[3], []float64{-1.81338e-05}, 1e-9)
	checkVals("loss", out[4], []float64{-0.843628}, 1e-6)
	if got := EvalArr(t, "aldr-kl-code", ex, nil, 64).Loss; math.Abs(got-(-0.843628)) > 1e-6 {
		t.Errorf("aldr-kl-code = %.6f, want -0.843628", got)
	}
	// 7. Scale invariance of the official ALDR (L1 normalisation, no softplus); λ_new ∈ [λ0/2, λ0].
	a := EvalArr(t, "aldr-kl-code", smallBatch(), nil, 64)
	b := EvalArr(t, "aldr-kl-code", map[string]Arr{"logits": smallBatch()["logits"].Scaled(3), "labels": smallBatch()["labels"]}, nil, 64)
	if math.Abs(a.Loss-b.Loss) > 1e-12 {
		t.Errorf("aldr-kl-code(3f) = %g, aldr-kl-code(f) = %g", b.Loss, a.Loss)
	}
	// 8. State: a second step starts from the stored λ; λ gets no gradient.
	st := NewALDRState(10, 10)
	ids := []int32{7, 2, 5, 0}
	bt := smallBatch()
	logitsT := tensors.FromFlatDataAndDimensions(bt["logits"].Data, 4, 3)
	labelsT := tensors.FromValue([]int32{0, 2, 1, 1})
	step := func(x []*Node) []*Node {
		loss, lam := ALDRKLCodeStep(x[0], x[1], x[2], 10, 2, 0.1, false)
		g := Gradient(ReduceAllMean(loss), x[2])[0]
		return []*Node{loss, lam, g}
	}
	for round := 0; round < 2; round++ {
		old, err := st.Gather(ids)
		if err != nil {
			t.Fatal(err)
		}
		old64 := make([]float64, len(old))
		for i, v := range old {
			old64[i] = float64(v)
		}
		out := execFloat64(t, step, logitsT, labelsT, tensors.FromValue(old64))
		for i := range ids {
			h, y := bt["logits"].Row(i), bt["labels"].Int(i)
			wantLoss, wantLam := refALDR(h, y, old64[i], 10, 2, 0.1, true, nil)
			if math.Abs(out[0][i]-wantLoss) > 1e-9 || math.Abs(out[1][i]-wantLam) > 1e-9 {
				t.Errorf("round %d example %d: loss %g λ %g, reference %g %g", round, ids[i], out[0][i], out[1][i], wantLoss, wantLam)
			}
			if out[1][i] < 5 || out[1][i] > 10 {
				t.Errorf("λ_new = %g outside [λ0/2, λ0]", out[1][i])
			}
			if out[2][i] != 0 {
				t.Errorf("gradient reaches λ_old: %g", out[2][i])
			}
		}
		if err := st.Update(ids, out[1]); err != nil {
			t.Fatal(err)
		}
	}
	if st.Lam[1] != 10 || st.Lam[7] == 10 {
		t.Errorf("state update touched the wrong ids: %v", st.Lam)
	}
	if _, err := st.Gather([]int32{10}); err == nil {
		t.Error("Gather accepted an out-of-range id")
	}
}
