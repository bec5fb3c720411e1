package losses

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refEnsG is the float64 reference of the official generation: sort r, clip, assign by argsort(z),
// tail, shift.
func refEnsG(z, eps []float64, lam float64) []float64 {
	n := len(z)
	r := make([]float64, n)
	for i, e := range eps {
		switch base := 1 + lam*e; {
		case lam == 0:
			r[i] = -math.Exp(e)
		case base > 0:
			r[i] = -math.Pow(base, 1/lam)
		case lam > 0:
			r[i] = 0
		default:
			r[i] = math.Inf(-1)
		}
	}
	sort.Float64s(r)
	for i := range r {
		r[i] = math.Max(r[i], -1)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return z[order[a]] < z[order[b]] })
	g := make([]float64, n)
	for k, i := range order {
		g[i] = r[k]
	}
	for i := range g {
		if z[i] > 1 {
			g[i] /= z[i]
		}
		g[i] -= 1e-6
	}
	return g
}

// ensNoise fetches the float64 draw the "ensloss" objective uses for a seed and batch size.
func ensNoise(t *testing.T, seed int64, n int) []float64 {
	return runGraph(t, func(g *Graph) *Node { return EnsLossNoise(g, seed, n, dtypes.Float64) })[0]
}

// ensDerivatives runs EnsLossDerivatives on given margins and noise (float64).
func ensDerivatives(t *testing.T, z, eps []float64, lam float64) []float64 {
	return runGraph(t, func(z, e *Node) *Node { return EnsLossDerivatives(z, e, lam) },
		tensors.FromFlatDataAndDimensions(z, len(z)), tensors.FromFlatDataAndDimensions(eps, len(eps)))[0]
}

func ensMargins(in map[string]Arr) []float64 {
	z := make([]float64, len(in["scores"].Data))
	for i, s := range in["scores"].Data {
		z[i] = (2*in["labels"].Data[i] - 1) * s
	}
	return z
}

func TestEnsLossReference(t *testing.T) {
	in := map[string]Arr{
		"scores": Vec(-1.5, 0.2, 0.3, 2.5, -1.2, 0.9, 4.0, 0.05, -0.7, 1.6),
		"labels": Vec(1, 1, 0, 1, 0, 1, 1, 0, 1, 1),
	}
	z0 := ensMargins(in)
	for _, p := range []Params{nil, {"seed": 7}, {"seed": 3, "lambda": 0.5}, {"seed": 5, "lambda": -0.5}} {
		rp := Params{"seed": 0, "lambda": 0}
		for k, v := range p {
			rp[k] = v
		}
		eps := ensNoise(t, int64(rp["seed"]), len(z0))
		// g is detached: the reference freezes it at the unperturbed margins z0, so finite differences see
		// exactly stopgrad(g)·z.
		g := refEnsG(z0, eps, rp["lambda"])
		CheckObjective(t, "ensloss", in, p, func(in map[string]Arr, _ Params) (float64, []float64) {
			z := ensMargins(in)
			per := make([]float64, len(z))
			for i := range z {
				per[i] = g[i] * z[i]
			}
			return MeanOf(per), per
		})
	}
	huge := map[string]Arr{"scores": Vec(1e4, -1e4, 1e4, -1e4, 0, 3), "labels": Vec(1, 1, 0, 0, 1, 0)}
	for _, lam := range []float64{0, 1, -1} {
		CheckFinite(t, "ensloss", huge, Params{"lambda": lam, "seed": 11})
	}
}

// Properties 1, 2, 3, 8 on random draws: range, monotonicity, about half clipped, λ ≠ 0 without NaN.
func TestEnsLossDerivativeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	const n = 1000
	z := make([]float64, n)
	for i := range z {
		z[i] = 3 * rng.NormFloat64()
	}
	for _, lam := range []float64{0, 0.5, 1, -0.5, -1} {
		eps := make([]float64, n)
		for i := range eps {
			eps[i] = rng.NormFloat64()
		}
		if lam != 0 {
			eps[0], eps[1] = -1/lam, -3/lam // zero and negative Box-Cox bases
		}
		g := ensDerivatives(t, z, eps, lam)
		want := refEnsG(z, eps, lam)
		clipped := 0
		for i := range g {
			if math.IsNaN(g[i]) || g[i] < -1-1e-6-1e-15 || g[i] > -1e-6+1e-15 {
				t.Fatalf("λ=%g: g[%d] = %g outside [-1-1e-6, -1e-6]", lam, i, g[i])
			}
			if math.Abs(g[i]-want[i]) > 1e-12 {
				t.Errorf("λ=%g: g[%d] = %g, reference %g", lam, i, g[i], want[i])
			}
			if g[i] == -1-1e-6 {
				clipped++
			}
		}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return z[idx[a]] < z[idx[b]] })
		for k := 1; k < n; k++ {
			if g[idx[k]] < g[idx[k-1]] {
				t.Fatalf("λ=%g: g not monotone in z at z=%g", lam, z[idx[k]])
			}
		}
		if lam == 0 {
			// P(exp(ε) ≥ 1) = 1/2; the clipped ones are the smallest margins (all with z ≤ 1 get exactly -1-1e-6).
			frac := float64(clipped) / n
			if math.Abs(frac-0.5) > 0.06 {
				t.Errorf("λ=0: clipped fraction %g, want ≈ 0.5", frac)
			}
		}
	}
}

// Property 4: with r = -1 for all (a large ε), g is the derivative of Log_Hinge minus the shift, and its
// spec example z = [-1.5, 0.2, 1.2, 4.0] → g = [-1, -1, -0.833333, -0.25].
func TestEnsLossDeterministicLimit(t *testing.T) {
	logHinge := func(z float64) float64 {
		if z <= 1 {
			return 1 - z
		}
		return -math.Log(z)
	}
	z := []float64{-1.5, 0.2, 1.2, 4.0, 0.7, 2.2}
	g := ensDerivatives(t, z, []float64{3, 3, 3, 3, 3, 3}, 0)
	for i := range z {
		h := 1e-6
		d := (logHinge(z[i]+h) - logHinge(z[i]-h)) / (2 * h)
		if math.Abs(g[i]+1e-6-d) > 1e-8 {
			t.Errorf("z=%g: g = %g, Log_Hinge' = %g", z[i], g[i], d)
		}
	}
	for i, want := range []float64{-1, -1, -0.833333, -0.25} {
		if math.Abs(g[i]+1e-6-want) > 1e-6 {
			t.Errorf("spec example: g[%d] = %g, want %g", i, g[i]+1e-6, want)
		}
	}
}

// Properties 6 and 7: dJ/ds_i = y_i g_i / B through Evaluate, and permutation equivariance.
func TestEnsLossGradientAndPermutation(t *testing.T) {
	in := map[string]Arr{"scores": Vec(-1.5, 0.2, -0.3, 2.5, 1.2, 0.9, 4.0, 0.01), "labels": Vec(1, 1, 1, 1, 1, 1, 1, 1)}
	res := EvalArr(t, "ensloss", in, Params{"seed": 42}, 64)
	z := ensMargins(in)
	g := refEnsG(z, ensNoise(t, 42, len(z)), 0)
	for i := range g {
		if want := g[i] / float64(len(g)); math.Abs(res.Grad["scores"][i]-want) > 1e-15 {
			t.Errorf("dJ/ds[%d] = %g, want y·g/B = %g", i, res.Grad["scores"][i], want)
		}
	}
	// Flip a label: the gradient's sign follows y.
	in["labels"].Data[3] = 0
	res = EvalArr(t, "ensloss", in, Params{"seed": 42}, 64)
	z = ensMargins(in)
	g = refEnsG(z, ensNoise(t, 42, len(z)), 0)
	if want := -g[3] / 8; math.Abs(res.Grad["scores"][3]-want) > 1e-15 {
		t.Errorf("y=-1: dJ/ds = %g, want %g", res.Grad["scores"][3], want)
	}
	// Permutation: same draw, permuted margins → permuted g.
	zz := []float64{-1.5, 0.2, -0.3, 2.5, 1.2, 0.9, 4.0, 0.0}
	eps := ensNoise(t, 1, len(zz))
	perm := []int{3, 7, 0, 5, 1, 6, 2, 4}
	pz := make([]float64, len(zz))
	for i, p := range perm {
		pz[i] = zz[p]
	}
	g1 := ensDerivatives(t, zz, eps, 0)
	g2 := ensDerivatives(t, pz, eps, 0)
	for i, p := range perm {
		if g2[i] != g1[p] {
			t.Errorf("permutation: g'[%d] = %g, want g[%d] = %g", i, g2[i], p, g1[p])
		}
	}
	// The same seed gives the same surrogate; another seed a different one.
	a := EvalArr(t, "ensloss", in, Params{"seed": 9}, 64).Loss
	b := EvalArr(t, "ensloss", in, Params{"seed": 9}, 64).Loss
	c := EvalArr(t, "ensloss", in, Params{"seed": 10}, 64).Loss
	if a != b || a == c {
		t.Errorf("seeding: seed 9 gives %g and %g, seed 10 gives %g", a, b, c)
	}
}
