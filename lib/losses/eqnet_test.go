package losses

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refGPG is the float64 reference of one GPG step for one example: ½ KL(softmax(g) ‖ softmax(z)) + ½ CE.
func refGPG(z, g []float64, y int) float64 {
	lq, lp := hbLogSoftmax(g), hbLogSoftmax(z)
	kl := 0.0
	for k := range z {
		kl += math.Exp(lq[k]) * (lq[k] - lp[k])
	}
	return 0.5*kl - 0.5*lp[y]
}

func gpgRef(frozenTeacher *Arr) RefFn {
	return func(in map[string]Arr, _ Params) (float64, []float64) {
		s, tt := in["student"], in["teacher"]
		if frozenTeacher != nil {
			tt = *frozenTeacher
		}
		per := make([]float64, s.Shape[0])
		for i := range per {
			per[i] = refGPG(s.Row(i), tt.Row(i), in["labels"].Int(i))
		}
		return MeanOf(per), per
	}
}

func TestGPGReference(t *testing.T) {
	in := map[string]Arr{
		"student": Mat([]float64{0.3, -1.2, 2.0}, []float64{0.7, 1.1, -0.4}, []float64{-0.9, 0.5, 1.6}),
		"teacher": Mat([]float64{1.0, -0.5, 1.5}, []float64{0.2, 2.1, -1.0}, []float64{-0.3, 0.4, 0.9}),
		"labels":  Vec(2, 1, 0),
	}
	frozen := in["teacher"].clone()
	// The guide is detached: the gradient reference holds it fixed.
	CheckObjectiveGrad(t, "gpg", in, nil, gpgRef(nil), gpgRef(&frozen))
	res := EvalArr(t, "gpg", in, nil, 64)
	for i, g := range res.Grad["teacher"] {
		if g != 0 {
			t.Errorf("d L/d guide[%d] = %g, want 0", i, g)
		}
	}
	CheckFinite(t, "gpg", map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(1e4), "labels": in["labels"]}, nil)
	// Property 7: equal logits give ½ CE.
	same := map[string]Arr{"student": in["student"], "teacher": in["student"], "labels": in["labels"]}
	got := EvalArr(t, "gpg", same, nil, 64).PerExample
	for i := range got {
		if want := 0.5 * refCE(in["student"].Row(i), in["labels"].Int(i)); math.Abs(got[i]-want) > 1e-12 {
			t.Errorf("z = ẑ: per-example %g, want ½ CE = %g", got[i], want)
		}
	}
}

// The GPG chain over several subnets (the ẑ ← sg(z_k) state carried from subnet to subnet) against its
// float64 reference, with gradients against finite differences that hold the guides fixed.
func TestGPGChain(t *testing.T) {
	const n, b, k = 4, 3, 4
	rng := rand.New(rand.NewPCG(3, 4))
	zs := make([][]float64, n)
	for s := range zs {
		zs[s] = make([]float64, b*k)
		for i := range zs[s] {
			zs[s][i] = rng.NormFloat64() * 1.5
		}
	}
	labels := []int32{1, 3, 0}
	refChain := func(zs, guides [][]float64, subnets int) float64 {
		total := 0.0
		for i := range b {
			total += refCE(zs[0][i*k:(i+1)*k], int(labels[i])) / b
		}
		for s := 1; s < subnets; s++ {
			for i := range b {
				total += refGPG(zs[s][i*k:(i+1)*k], guides[s-1][i*k:(i+1)*k], int(labels[i])) / b
			}
		}
		return total
	}
	for subnets := 1; subnets <= n; subnets++ {
		out := runGraph(t, func(z []*Node) []*Node {
			l := GPGChain(z[:subnets], z[n])
			return append([]*Node{l}, Gradient(l, z[:n]...)...)
		}, hbTensor(zs[0], b, k), hbTensor(zs[1], b, k), hbTensor(zs[2], b, k), hbTensor(zs[3], b, k),
			tensors.FromFlatDataAndDimensions(labels, b))
		want := refChain(zs, zs, subnets)
		if math.Abs(out[0][0]-want) > 1e-12 {
			t.Errorf("%d subnets: chain loss %.12g, reference %.12g", subnets, out[0][0], want)
		}
		if subnets == 1 {
			ce := 0.0
			for i := range b {
				ce += refCE(zs[0][i*k:(i+1)*k], int(labels[i])) / b
			}
			if math.Abs(out[0][0]-ce) > 1e-12 {
				t.Errorf("n = 1: %g, want plain CE %g", out[0][0], ce)
			}
		}
		for s := range n {
			arr := map[string]Arr{"z": {Shape: []int{b * k}, Data: zs[s]}}
			fd := FiniteDiff(arr, "z", func(m map[string]Arr) float64 {
				pert := append([][]float64(nil), zs...)
				pert[s] = m["z"].Data
				return refChain(pert, zs, subnets) // guides stay at the unperturbed logits
			})
			for i := range fd {
				if math.Abs(out[1+s][i]-fd[i]) > 1e-6 {
					t.Errorf("%d subnets: dL/dz_%d[%d] = %g, finite differences %g", subnets, s, i, out[1+s][i], fd[i])
				}
			}
		}
	}
}

// eqQuant runs EQQuantize on x with per-layer scale s (and offset β when asym) and returns x̂, the
// element-wise ∂x̂/∂x, ∂Σx̂/∂s and ∂Σx̂/∂β.
func eqQuant(t *testing.T, x []float64, s, beta float64, bits int, signed, asym bool, g float64, parity bool) (xq, dx, ds, db []float64) {
	t.Helper()
	out := runGraph(t, func(x, s, b *Node) []*Node {
		var off *Node
		if asym {
			off = b
		}
		q := EQQuantize(x, s, off, bits, signed, g, parity)
		grads := Gradient(ReduceAllSum(q), x, s, b)
		return []*Node{q, grads[0], grads[1], grads[2]}
	}, hbTensor(x, len(x)), hbTensor([]float64{s}), hbTensor([]float64{beta}))
	return out[0], out[1], out[2], out[3]
}

// Properties 1–4 and 8: the quantiser.
func TestEQQuantizer(t *testing.T) {
	x := []float64{-1, -0.3, 0, 0.26, 0.9, 2}
	s1 := 0.25 + 1e-6
	for bits, want := range map[int][]float64{
		2: {-2, -1, 0, 1, 1, 1},
		3: {-4, -1, 0, 1, 3, 3},
		4: {-4, -1, 0, 1, 4, 7},
	} {
		got, _, _, _ := eqQuant(t, x, 0.25, 0, bits, true, false, 1, false)
		for i := range want {
			if math.Abs(got[i]-want[i]*s1) > 1e-15 {
				t.Errorf("symmetric %d-bit: x̂[%d] = %.9g, want %.9g", bits, i, got[i], want[i]*s1)
			}
		}
	}
	// Property 2: asymmetric 2-bit with β = -0.5 (sign-preserving), and with parity_abs (β = +0.5).
	got, _, _, _ := eqQuant(t, x, 0.25, -0.5, 2, true, true, 1, false)
	for i, w := range []float64{-1, -0.25, -0.25, -0.25, -0.25, -0.25} {
		if math.Abs(got[i]-w) > 1e-5 {
			t.Errorf("asymmetric β=-0.5: x̂[%d] = %g, want %g", i, got[i], w)
		}
	}
	gotAbs, _, _, _ := eqQuant(t, x, 0.25, -0.5, 2, true, true, 1, true)
	gotPlus, _, _, _ := eqQuant(t, x, 0.25, 0.5, 2, true, true, 1, false)
	for i := range gotAbs {
		if gotAbs[i] != gotPlus[i] {
			t.Errorf("parity_abs with β=-0.5 should equal β=+0.5: [%d] %g vs %g", i, gotAbs[i], gotPlus[i])
		}
	}
	got, _, _, _ = eqQuant(t, []float64{0, 0.3, 1.2, 5}, 0.25, 0, 2, false, false, 1, false)
	for i, w := range []float64{0, 0.25, 0.75, 0.75} {
		if math.Abs(got[i]-w) > 1e-5 {
			t.Errorf("unsigned 2-bit: x̂[%d] = %g, want %g", i, got[i], w)
		}
	}
	// Property 3: idempotence, grid, error ≤ s/2 inside the range; against the float64 value function.
	rng := rand.New(rand.NewPCG(5, 6))
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	const s, beta = 0.13, 0.07
	q1, dx, ds, db := eqQuant(t, xs, s, beta, 4, true, true, 0.3, false)
	q2, _, _, _ := eqQuant(t, q1, s, beta, 4, true, true, 0.3, false)
	qn, qp := EQRange(4, true)
	se := s + 1e-6
	dsWant, dbWant := 0.0, 0.0
	for i, v := range xs {
		if math.Abs(q2[i]-q1[i]) > 1e-12 {
			t.Errorf("not idempotent at %d: %g → %g", i, q1[i], q2[i])
		}
		if r := EQQuantizeValue(v, s, beta, 4, true); math.Abs(q1[i]-r) > 1e-12 {
			t.Errorf("x̂[%d] = %g, float64 reference %g", i, q1[i], r)
		}
		k := (q1[i] - beta) / se
		if math.Abs(k-math.Round(k)) > 1e-9 || k < qn-1e-9 || k > qp+1e-9 {
			t.Errorf("x̂[%d] = %g is off the grid β + q·s (q = %g)", i, q1[i], k)
		}
		v0 := (v - beta) / se
		inside := v0 > qn && v0 < qp
		if inside && math.Abs(q1[i]-v) > se/2+1e-12 {
			t.Errorf("error |x̂ - x| = %g > s/2 inside the range", math.Abs(q1[i]-v))
		}
		// Property 4: STE and the LSQ gradients (g = 0.3).
		wantDx := 0.0
		switch {
		case inside:
			wantDx = 1
			dsWant += (math.RoundToEven(v0) - v0) * 0.3
		case v0 <= qn:
			dsWant += qn * 0.3
			dbWant += 0.3
		default:
			dsWant += qp * 0.3
			dbWant += 0.3
		}
		if dx[i] != wantDx {
			t.Errorf("∂x̂/∂x[%d] = %g, want %g (v = %g)", i, dx[i], wantDx, v0)
		}
	}
	if math.Abs(ds[0]-dsWant) > 1e-9 || math.Abs(db[0]-dbWant) > 1e-9 {
		t.Errorf("LSQ gradients: ∂/∂s = %g (want %g), ∂/∂β = %g (want %g)", ds[0], dsWant, db[0], dbWant)
	}
	// Ties round to even, like PyTorch: 0.375/0.25 = 1.5 → 2 and 0.625/0.25 = 2.5 → 2 (s without the 1e-6).
	tie, _, _, _ := eqQuant(t, []float64{1.5 * s1, 2.5 * s1, -0.5 * s1}, 0.25, 0, 4, true, false, 1, false)
	for i, w := range []float64{2, 2, 0} {
		if math.Abs(tie[i]-w*s1) > 1e-15 {
			t.Errorf("tie %d: x̂ = %.9g, want %.9g", i, tie[i], w*s1)
		}
	}
	// Property 8.
	if g := EQGradScale(7, 4608, 0); math.Abs(g-0.005568) > 1e-6 {
		t.Errorf("per-layer grad scale = %g, want 0.005568", g)
	}
	if g := EQGradScale(7, 4608, 64); math.Abs(g-2/math.Sqrt(7*72)) > 1e-15 {
		t.Errorf("per-channel grad scale = %g", g)
	}
	// Per-channel scales broadcast over rows.
	out := runGraph(t, func(x, s *Node) *Node { return EQQuantize(x, s, nil, 3, true, 1, false) },
		hbTensor([]float64{0.3, -0.7, 0.3, -0.7}, 2, 2), hbTensor([]float64{0.1, 0.5}, 2, 1))
	for i, w := range []float64{EQQuantizeValue(0.3, 0.1, 0, 3, true), EQQuantizeValue(-0.7, 0.1, 0, 3, true),
		EQQuantizeValue(0.3, 0.5, 0, 3, true), EQQuantizeValue(-0.7, 0.5, 0, 3, true)} {
		if math.Abs(out[0][i]-w) > 1e-15 {
			t.Errorf("per-channel x̂[%d] = %g, want %g", i, out[0][i], w)
		}
	}
	// Initial scale search: never worse than the unshrunk range, and it quantises exactly representable data exactly.
	sc, off, err := EQInitScale(xs, 3, true, true, 80)
	if err != nil {
		t.Fatal(err)
	}
	errOf := func(s, b float64) float64 {
		e := 0.0
		for _, v := range xs {
			e += math.Pow(math.Abs(v-EQQuantizeValue(v, s, b, 3, true)), 2.4)
		}
		return e
	}
	amax := 0.0
	for _, v := range xs {
		amax = math.Max(amax, math.Abs(v))
	}
	if errOf(sc, off) > errOf(amax/3, 0) || off != 0 || sc >= amax/3 {
		t.Errorf("init search: s=%g β=%g error %g, unshrunk error %g", sc, off, errOf(sc, off), errOf(amax/3, 0))
	}
	sc, off, err = EQInitScale([]float64{0, 1, 2, 3}, 2, false, false, 80)
	if err != nil || math.Abs(sc-1) > 1e-12 || off != 0 {
		t.Errorf("init search on {0,1,2,3}, 2-bit unsigned asymmetric: s=%g β=%g (%v), want 1, 0", sc, off, err)
	}
	if _, _, err := EQInitScale(nil, 2, true, true, 80); err == nil {
		t.Error("empty input accepted")
	}
}

// Properties 5 and 6: moments and WDR.
func TestWDR(t *testing.T) {
	moments := func(w []float64, dims ...int) (float64, float64) {
		out := runGraph(t, func(w *Node) []*Node { s, k := EQMoments(w); return []*Node{s, k} }, hbTensor(w, dims...))
		return out[0][0], out[1][0]
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	s, k := moments([]float64{-1, 0, 1}, 3)
	near("skew [-1,0,1]", s, 0, 1e-15)
	near("kurt [-1,0,1]", k, 2.0/3, 1e-15)
	near("(kurt-1.8)²", (k-1.8)*(k-1.8), 1.284444, 1e-6)
	s, k = moments([]float64{0, 0, 0, 4}, 2, 2)
	near("skew [0,0,0,4]", s, 0.75, 1e-15)
	near("kurt [0,0,0,4]", k, 1.3125, 1e-15)
	s, k = moments([]float64{7, 7, 7, 19}, 4)
	near("skew under 3W+7", s, 0.75, 1e-12)
	near("kurt under 3W+7", k, 1.3125, 1e-12)
	// WDR over two tensors, value and gradient against float64 finite differences.
	w1, w2 := []float64{-1, 0, 1}, []float64{0, 0.5, 0, 4}
	refMom := func(w []float64) (float64, float64) {
		m := MeanOf(w)
		v := 0.0
		for _, x := range w {
			v += (x - m) * (x - m)
		}
		sd := math.Sqrt(v / float64(len(w)-1))
		s3, s4 := 0.0, 0.0
		for _, x := range w {
			z := (x - m) / sd
			s3 += z * z * z
			s4 += z * z * z * z
		}
		return s3 / float64(len(w)), s4 / float64(len(w))
	}
	refWDR := func(a, b []float64) float64 {
		kt, st := 0.0, 0.0
		for _, w := range [][]float64{a, b} {
			s, k := refMom(w)
			kt += (k - 1.8) * (k - 1.8)
			st += s * s
		}
		return WDRLambdaK*kt/2 + WDRLambdaS*st/2
	}
	out := runGraph(t, func(a, b *Node) []*Node {
		l := WDRLoss([]*Node{a, b}, WDRLambdaK, WDRLambdaS, WDRTargetKurtosis)
		return append([]*Node{l}, Gradient(l, a, b)...)
	}, hbTensor(w1, 3), hbTensor(w2, 2, 2))
	near("WDR", out[0][0], refWDR(w1, w2), 1e-14)
	fd1 := FiniteDiff(map[string]Arr{"w": Vec(w1...)}, "w", func(m map[string]Arr) float64 { return refWDR(m["w"].Data, w2) })
	fd2 := FiniteDiff(map[string]Arr{"w": Vec(w2...)}, "w", func(m map[string]Arr) float64 { return refWDR(w1, m["w"].Data) })
	checkGrad(t, "dWDR/dW1", out[1], fd1, 1e-6, 1e-9)
	checkGrad(t, "dWDR/dW2", out[2], fd2, 1e-6, 1e-9)
	// Large samples: uniform ≈ 1.8, Gaussian ≈ 3 (WDR kurtosis term ≈ 0.0216), Laplace ≈ 6 (≈ 0.26).
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 100000
	uni, gau, lap := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		uni[i] = rng.Float64()
		gau[i] = rng.NormFloat64()
		lap[i] = rng.ExpFloat64()
		if rng.IntN(2) == 0 {
			lap[i] = -lap[i]
		}
	}
	_, ku := moments(uni, n)
	_, kg := moments(gau, n)
	_, kl := moments(lap, n)
	near("uniform kurtosis", ku, 1.8, 0.02)
	near("Gaussian kurtosis", kg, 3, 0.06)
	near("Laplace kurtosis", kl, 6, 0.35)
	near("Gaussian WDR kurtosis term", WDRLambdaK*(kg-1.8)*(kg-1.8), 0.0214, 0.003)
}
