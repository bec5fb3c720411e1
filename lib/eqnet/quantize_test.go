package eqnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/internal/graphtest"
	"github.com/losslab/losslab/lib/backend"
)

func hbTensor(data []float64, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), data...), dims...)
}

// eqQuant runs Quantize on x with per-layer scale s (and offset β when asym) and returns x̂, the
// element-wise ∂x̂/∂x, ∂Σx̂/∂s and ∂Σx̂/∂β.
func eqQuant(t *testing.T, x []float64, s, beta float64, bits int, signed, asym bool, g float64, parity bool) (xq, dx, ds, db []float64) {
	t.Helper()
	out := graphtest.Run(t, func(x, s, b *Node) []*Node {
		var off *Node
		if asym {
			off = b
		}
		q := Quantize(x, s, off, bits, signed, g, parity)
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
	qn, qp := Range(4, true)
	se := s + 1e-6
	dsWant, dbWant := 0.0, 0.0
	for i, v := range xs {
		if math.Abs(q2[i]-q1[i]) > 1e-12 {
			t.Errorf("not idempotent at %d: %g → %g", i, q1[i], q2[i])
		}
		if r := QuantizeValue(v, s, beta, 4, true); math.Abs(q1[i]-r) > 1e-12 {
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
	if g := GradScale(7, 4608, 0); math.Abs(g-0.005568) > 1e-6 {
		t.Errorf("per-layer grad scale = %g, want 0.005568", g)
	}
	if g := GradScale(7, 4608, 64); math.Abs(g-2/math.Sqrt(7*72)) > 1e-15 {
		t.Errorf("per-channel grad scale = %g", g)
	}
	// Per-channel scales broadcast over rows.
	out := graphtest.Run(t, func(x, s *Node) *Node { return Quantize(x, s, nil, 3, true, 1, false) },
		hbTensor([]float64{0.3, -0.7, 0.3, -0.7}, 2, 2), hbTensor([]float64{0.1, 0.5}, 2, 1))
	for i, w := range []float64{QuantizeValue(0.3, 0.1, 0, 3, true), QuantizeValue(-0.7, 0.1, 0, 3, true),
		QuantizeValue(0.3, 0.5, 0, 3, true), QuantizeValue(-0.7, 0.5, 0, 3, true)} {
		if math.Abs(out[0][i]-w) > 1e-15 {
			t.Errorf("per-channel x̂[%d] = %g, want %g", i, out[0][i], w)
		}
	}
	// Initial scale search: never worse than the unshrunk range, and it quantises exactly representable data exactly.
	sc, off, err := InitScale(xs, 3, true, true, 80)
	if err != nil {
		t.Fatal(err)
	}
	errOf := func(s, b float64) float64 {
		e := 0.0
		for _, v := range xs {
			e += math.Pow(math.Abs(v-QuantizeValue(v, s, b, 3, true)), 2.4)
		}
		return e
	}
	amax := 0.0
	for _, v := range xs {
		amax = math.Max(amax, math.Abs(v))
	}
	unshrunk := 2 * amax / 7 // 2·max|x|/(Q_P - Q_N) at 3 bits
	if errOf(sc, off) > errOf(unshrunk, 0) || off != 0 || sc >= unshrunk {
		t.Errorf("init search: s=%g β=%g error %g, unshrunk error %g", sc, off, errOf(sc, off), errOf(unshrunk, 0))
	}
	// Non-negative inputs: the reference's asymmetric offset is -1e-9 (not 0).
	sc, off, err = InitScale([]float64{0, 1, 2, 3}, 2, false, false, 80)
	if err != nil || math.Abs(sc-1) > 1e-12 || off != -1e-9 {
		t.Errorf("init search on {0,1,2,3}, 2-bit unsigned asymmetric: s=%g β=%g (%v), want 1, -1e-9", sc, off, err)
	}
	if _, _, err := InitScale(nil, 2, true, true, 80); err == nil {
		t.Error("empty input accepted")
	}
}

// QuantizeRange with the range fed as values must match Quantize (itself checked against worked
// numbers) in value and in every gradient, for each bit-width, signedness, symmetry and parity mode, and
// with per-channel scales.
func TestEQQuantizeRangeMatchesEQQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	xs := make([]float64, 2*40)
	for i := range xs {
		xs[i] = 1.5 * rng.NormFloat64()
	}
	xs[3] = 1.5 * (0.2 + 1e-6) // a rounding tie for s = 0.2 at some bit-widths
	for _, bits := range []int{2, 3, 4, 8} {
		for _, signed := range []bool{true, false} {
			for _, asym := range []bool{false, true} {
				for _, parity := range []bool{false, true} {
					for _, perChannel := range []bool{false, true} {
						qn, qp := Range(bits, signed)
						g := GradScale(qp, len(xs), 0)
						scale, sDims := []float64{0.2}, []int{}
						offset := []float64{-0.3}
						if perChannel {
							scale, sDims = []float64{0.2, 0.07}, []int{2, 1}
							offset = []float64{-0.3, 0.1}
							g = GradScale(qp, len(xs), 2)
						}
						run := func(elastic bool) [][]float64 {
							return graphtest.Run(t, func(x, s, b, qnN, qpN, gN *Node) []*Node {
								var off *Node
								if asym {
									off = b
								}
								var q *Node
								if elastic {
									q = QuantizeRange(x, s, off, qnN, qpN, gN, parity)
								} else {
									q = Quantize(x, s, off, bits, signed, g, parity)
								}
								// A non-uniform weighting so the gradients are not plain sums.
								w := Iota(x.Graph(), x.Shape(), 1)
								loss := ReduceAllSum(Mul(Square(q), AddScalar(w, 1)))
								grads := Gradient(loss, x, s, b)
								return []*Node{q, grads[0], grads[1], grads[2]}
							}, hbTensor(xs, 2, 40), hbTensor(scale, sDims...), hbTensor(offset, sDims...),
								hbTensor([]float64{qn}), hbTensor([]float64{qp}), hbTensor([]float64{g}))
						}
						want, got := run(false), run(true)
						for k, what := range []string{"x̂", "∂/∂x", "∂/∂s", "∂/∂β"} {
							for i := range want[k] {
								if math.Abs(got[k][i]-want[k][i]) > 1e-12*(1+math.Abs(want[k][i])) {
									t.Fatalf("bits=%d signed=%v asym=%v parity=%v perChannel=%v: %s[%d] = %g, Quantize gives %g",
										bits, signed, asym, parity, perChannel, what, i, got[k][i], want[k][i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// Non-scalar range values are refused (the graph-building panic comes back as an error).
func TestEQQuantizeRangeBadInput(t *testing.T) {
	e, err := NewExecAny(backend.Must(), func(x, qn *Node) *Node {
		one := ScalarOne(x.Graph(), x.DType())
		return QuantizeRange(x, one, nil, qn, one, one, false)
	})
	if err == nil {
		_, err = e.Exec(hbTensor([]float64{1, 2}, 2), hbTensor([]float64{-2, -2}, 2))
	}
	if err == nil || !strings.Contains(err.Error(), "must be scalars") {
		t.Errorf("a [2] Q_N: got error %v, want one saying the range must be scalars", err)
	}
}

// officialInit is a plain float64 port of the reference's first-batch search for one tensor (or one
// output channel): shrink factors f = 1 - 0.01·i, i < candidates, a symmetric candidate range
// [-f·max|x|, f·max|x|] (signed) or [0, f·max|x|] (unsigned), an asymmetric one [f·min x, f·max x], each
// quantised as scale = (hi - lo)/(Q_P - Q_N), β = lo - scale·Q_N (0 for symmetric), without the 1e-6 of
// the forward pass, and scored by mean |x - x̂|^2.4; the first strictly best candidate wins. For
// unsigned (non-negative) inputs the asymmetric offset returned is -1e-9.
func officialInit(x []float64, bits int, signed, symmetric bool, candidates int) (scale, offset float64) {
	qn, qp := -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)-1
	if !signed {
		qn, qp = 0, math.Ldexp(1, bits)-1
	}
	xmax, xmin, amax := math.Inf(-1), math.Inf(1), 0.0
	for _, v := range x {
		xmax, xmin, amax = math.Max(xmax, v), math.Min(xmin, v), math.Max(amax, math.Abs(v))
	}
	best := math.Inf(1)
	for i := range candidates {
		f := 1 - float64(i)*0.01
		var lo, hi float64
		switch {
		case symmetric && signed:
			lo, hi = -f*amax, f*amax
		case symmetric:
			lo, hi = 0, f*amax
		default:
			lo, hi = f*xmin, f*xmax
		}
		s := (hi - lo) / (qp - qn)
		b := 0.0
		if !symmetric {
			b = lo - s*qn
		}
		score := 0.0
		for _, v := range x {
			q := math.RoundToEven(math.Min(math.Max((v-b)/s, qn), qp))*s + b
			score += math.Pow(math.Abs(v-q), 2.4)
		}
		if score /= float64(len(x)); score < best {
			best, scale, offset = score, s, b
		}
	}
	if !symmetric && !signed {
		offset = -1e-9
	}
	return scale, offset
}

// InitScale matches the reference's initial step size and offset, per layer (80 candidates) and per
// output channel (each row on its own; 5 candidates for symmetric, 80 for asymmetric), for signed
// weights and non-negative activations at 2, 3, 4 and 8 bits.
func TestInitScaleMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 2308))
	const rows, cols = 4, 300
	w := make([][]float64, rows) // weights: signed, rows of different spread and skew
	var layer []float64
	for r := range w {
		w[r] = make([]float64, cols)
		for i := range w[r] {
			w[r][i] = 0.05*float64(r+1)*rng.NormFloat64() + 0.01*float64(r)
		}
		layer = append(layer, w[r]...)
	}
	act := make([]float64, 2000) // post-ReLU activations: non-negative, many exact zeros
	for i := range act {
		act[i] = math.Max(0, rng.NormFloat64())
	}
	pos := make([]float64, 500) // strictly positive inputs
	for i := range pos {
		pos[i] = 0.2 + rng.ExpFloat64()
	}
	check := func(what string, x []float64, bits int, signed, symmetric bool, candidates int) {
		t.Helper()
		s, b, err := InitScale(x, bits, signed, symmetric, candidates)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ws, wb := officialInit(x, bits, signed, symmetric, candidates)
		if math.Abs(s-ws) > 1e-12*ws || math.Abs(b-wb) > 1e-15+1e-12*math.Abs(wb) {
			t.Errorf("%s, %d bits: s = %.9g, β = %.3g; reference s = %.9g, β = %.3g", what, bits, s, b, ws, wb)
		}
	}
	for _, bits := range []int{2, 3, 4, 8} {
		check("weights, symmetric per layer", layer, bits, true, true, 80)
		check("weights, asymmetric per layer", layer, bits, true, false, 80)
		for r := range w {
			check(fmt.Sprintf("weights row %d, symmetric per channel", r), w[r], bits, true, true, 5)
			check(fmt.Sprintf("weights row %d, asymmetric per channel", r), w[r], bits, true, false, 80)
		}
		check("post-ReLU activations, symmetric", act, bits, false, true, 80)
		check("post-ReLU activations, asymmetric", act, bits, false, false, 80)
		check("positive activations, asymmetric", pos, bits, false, false, 80)
	}
	// The worked case: symmetric per channel at 2 bits on {-1, 1} has one candidate, the range itself:
	// s = 2·max|x|/(Q_P - Q_N) = 2/3, which puts ±1 on the grid {-2, -1, 0, 1}·s only after clipping.
	if s, _, _ := InitScale([]float64{-1, 1}, 2, true, true, 1); math.Abs(s-2.0/3) > 1e-15 {
		t.Errorf("2-bit symmetric step of {-1, 1}: %g, want 2/3", s)
	}
}
