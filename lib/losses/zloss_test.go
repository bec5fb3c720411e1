package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func refZy(o []float64, y int) float64 {
	K := float64(len(o))
	mu := 0.0
	for _, v := range o {
		mu += v / K
	}
	v2 := 0.0
	for _, v := range o {
		v2 += (v - mu) * (v - mu) / K
	}
	return (o[y] - mu) / math.Sqrt(v2+1e-12)
}

func refZLoss(o []float64, y int, a, b float64) float64 {
	x := a * (b - refZy(o, y))
	return (math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))) / a
}

func zRef(in map[string]Arr, p Params) (float64, []float64) {
	return refPerRow(in, func(h []float64, y int) float64 { return refZLoss(h, y, p["a"], p["b"]) })
}

func TestZLossReference(t *testing.T) {
	for _, p := range []Params{nil, {"a": 1.5, "b": 1}, {"a": 0.5, "b": -0.3}, {"a": 5, "b": 0.7}} {
		CheckObjective(t, "z-loss", smallBatch(), p, zRef)
		CheckFinite(t, "z-loss", hugeBatch(), p)
	}
	CheckFinite(t, "z-loss", map[string]Arr{"logits": Mat([]float64{1e4, 1e4, 1e4}), "labels": Vec(0)}, nil)
}

func TestZLossProperties(t *testing.T) {
	o := []float64{2, 1, 0.1}
	ab := Params{"a": 1, "b": 1}
	// 1 and 2. Shift and positive-scale invariance, with the worked numbers.
	if z := refZy(o, 0); math.Abs(z-1.245657) > 1e-6 {
		t.Errorf("reference z_y = %.6f, want 1.245657", z)
	}
	for _, bits := range []int{32, 64} {
		base := EvalArr(t, "z-loss", one(o, 0), ab, bits).Loss
		if math.Abs(base-0.577843) > 1e-6 {
			t.Errorf("float%d: z-loss([2,1,0.1]) = %.6f, want 0.577843", bits, base)
		}
		trs := [][2]float64{{5, 3}, {1, -7}}
		if bits == 64 { // In float32, 0.01·o + 100 loses o's digits to rounding (not the loss's fault).
			trs = append(trs, [2]float64{0.01, 100})
		}
		for _, tr := range trs {
			moved := make([]float64, 3)
			for k, v := range o {
				moved[k] = tr[0]*v + tr[1]
			}
			if got := EvalArr(t, "z-loss", one(moved, 0), ab, bits).Loss; math.Abs(got-base) > 1e-5*base {
				t.Errorf("float%d: z-loss(%g·o + %g) = %.7f, want %.7f", bits, tr[0], tr[1], got, base)
			}
		}
	}
	// 3. Gradient example; orthogonal to 1 and to o.
	o4 := []float64{2, 1, 0.1, -0.5}
	g := EvalArr(t, "z-loss", one(o4, 0), Params{"a": 1.5, "b": 1}, 64).Grad["logits"]
	sum, dot := 0.0, 0.0
	for k, w := range []float64{-0.087323, 0.139411, 0.015320, -0.067408} {
		if math.Abs(g[k]-w) > 1e-6 {
			t.Errorf("z-loss gradient[%d] = %.6f, want %.6f", k, g[k], w)
		}
		sum += g[k]
		dot += g[k] * o4[k]
	}
	if math.Abs(sum) > 1e-9 || math.Abs(dot) > 1e-9 {
		t.Errorf("z-loss gradient: Σ = %g, <g,o> = %g, want 0", sum, dot)
	}
	// 4. Σ z = 0, Σ z² = K.
	z := execFloat64(t, func(x []*Node) []*Node { return []*Node{ZScores(x[0])} }, tensors.FromValue([][]float64{o4}))[0]
	s1, s2 := 0.0, 0.0
	for _, v := range z {
		s1 += v
		s2 += v * v
	}
	if math.Abs(s1) > 1e-12 || math.Abs(s2-4) > 1e-9 {
		t.Errorf("Σz = %g, Σz² = %g, want 0 and 4", s1, s2)
	}
	// 5. Range: one-hot at y with K = 10 gives z_y = 3 and the minimum loss 0.009075 (a=2, b=1).
	oh := make([]float64, 10)
	oh[4] = 1
	if got := EvalArr(t, "z-loss", one(oh, 4), Params{"a": 2, "b": 1}, 64).Loss; math.Abs(got-0.009075) > 1e-6 {
		t.Errorf("one-hot K=10: %.6f, want 0.009075", got)
	}
	// 6. Non-increasing in o_y: dL/do_y <= 0 for every row.
	r := EvalArr(t, "z-loss", smallBatch(), Params{"a": 2, "b": 0.5}, 64)
	for i := 0; i < 4; i++ {
		if d := r.Grad["logits"][3*i+smallBatch()["labels"].Int(i)]; d > 0 {
			t.Errorf("row %d: dL/do_y = %g > 0", i, d)
		}
	}
	// 7. All-equal outputs: z = 0, L = log 2 for a=1, b=0.
	if got := EvalArr(t, "z-loss", one([]float64{0.3, 0.3, 0.3}, 2), nil, 64).Loss; math.Abs(got-math.Ln2) > 1e-9 {
		t.Errorf("all-equal outputs: %g, want log 2", got)
	}
	// 8. a = 1e4 approaches the hinge max(0, b - z_y).
	for i := 0; i < 4; i++ {
		b := smallBatch()
		h, y := b["logits"].Row(i), b["labels"].Int(i)
		got := EvalArr(t, "z-loss", one(h, y), Params{"a": 1e4, "b": 1}, 64).Loss
		if want := math.Max(0, 1-refZy(h, y)); math.Abs(got-want) > 1e-4 {
			t.Errorf("row %d, a=1e4: %g, hinge %g", i, got, want)
		}
	}
}

func TestLogitZReg(t *testing.T) {
	reg := func(in map[string]Arr, p Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, _ int) float64 { l := RefLogSumExp(h); return p["alpha"] * l * l })
	}
	ceReg := func(in map[string]Arr, p Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, y int) float64 { l := RefLogSumExp(h); return l - h[y] + p["alpha"]*l*l })
	}
	for _, p := range []Params{nil, {"alpha": 0.05}} {
		CheckObjective(t, "logit-z-reg", smallBatch(), p, reg)
		CheckObjective(t, "ce-logit-z", smallBatch(), p, ceReg)
		CheckFinite(t, "logit-z-reg", hugeBatch(), p)
		CheckFinite(t, "ce-logit-z", hugeBatch(), p)
	}
	// 1. Worked example.
	h := []float64{2, 1, 0.1}
	r := EvalArr(t, "logit-z-reg", one(h, 0), nil, 64)
	if math.Abs(r.Loss-5.842034e-4) > 1e-10 {
		t.Errorf("L_z = %.7g, want 5.842034e-4", r.Loss)
	}
	for k, w := range []float64{3.19e-4, 1.17e-4, 4.8e-5} {
		if math.Abs(r.Grad["logits"][k]-w) > 1e-6 {
			t.Errorf("L_z gradient[%d] = %.4g, want %.3g", k, r.Grad["logits"][k], w)
		}
	}
	// 2. Not shift-invariant (unlike CE): c = -5.
	shifted := []float64{-3, -4, -4.9}
	if got := EvalArr(t, "logit-z-reg", one(shifted, 0), nil, 64).Loss; math.Abs(got-6.671734e-4) > 1e-10 {
		t.Errorf("L_z(h-5) = %.7g, want 6.671734e-4", got)
	}
	ce0, ce1 := EvalArr(t, "ce", one(h, 0), nil, 64).Loss, EvalArr(t, "ce", one(shifted, 0), nil, 64).Loss
	if math.Abs(ce0-ce1) > 1e-12 {
		t.Errorf("CE changed under a shift: %g vs %g", ce0, ce1)
	}
	// Minimising CE + L_z over the shift c: d/dc = 2α log Z, zero exactly at log Z = 0
	// (c* = -logsumexp(h)); 6. the L_z gradient vanishes there.
	lz := RefLogSumExp(h)
	for _, c := range []float64{-lz - 1, -lz, -lz + 1} {
		hc := []float64{h[0] + c, h[1] + c, h[2] + c}
		g := EvalArr(t, "ce-logit-z", one(hc, 0), Params{"alpha": 0.01}, 64).Grad["logits"]
		dc := g[0] + g[1] + g[2]
		want := 2 * 0.01 * (lz + c)
		if math.Abs(dc-want) > 1e-12 {
			t.Errorf("c=%g: d(CE+L_z)/dc = %g, want 2α log Z = %g", c, dc, want)
		}
		if c == -lz {
			gz := EvalArr(t, "logit-z-reg", one(hc, 0), nil, 64).Grad["logits"]
			for k := range gz {
				if math.Abs(gz[k]) > 1e-15 {
					t.Errorf("L_z gradient at log Z = 0: %g", gz[k])
				}
			}
		}
	}
}
