package landscape

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"gonum.org/v1/gonum/mat"
)

// softmaxHessian is the closed-form Hessian of the mean cross-entropy of a linear softmax classifier
// z = xW + b (the 1-layer mlpForward) in ps's flat order: with x̃ = (x, 1) and p = softmax(z),
// ∂²L/∂θ_(i,k)∂θ_(j,l) = (1/N) Σ_n x̃_i x̃_j (p_k δ_kl − p_k p_l).
func softmaxHessian(ps *ParamSet, dim, classes int, d *Data) *mat.SymDense {
	offset := map[string]int{}
	off := 0
	for _, p := range ps.Params {
		offset[p.Name()] = off
		off += len(p.Data)
	}
	idx := func(i, k int) int { // i == dim is the bias
		if i == dim {
			return offset["/dense_0/biases"] + k
		}
		return offset["/dense_0/weights"] + i*classes + k
	}
	h := mat.NewSymDense(off, nil)
	for n := range d.Len() {
		x := make([]float64, dim+1)
		for i := range dim {
			x[i] = float64(d.X[n*dim+i])
		}
		x[dim] = 1
		z := refMLP(ps, []int{dim, classes}, x[:dim])
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		p := make([]float64, classes)
		s := 0.0
		for k, v := range z {
			p[k] = math.Exp(v - mx)
			s += p[k]
		}
		for k := range p {
			p[k] /= s
		}
		for i := range dim + 1 {
			for j := range dim + 1 {
				for k := range classes {
					for l := range classes {
						r, c := idx(i, k), idx(j, l)
						if r > c {
							continue
						}
						v := -p[k] * p[l]
						if k == l {
							v += p[k]
						}
						h.SetSym(r, c, h.At(r, c)+x[i]*x[j]*v/float64(d.Len()))
					}
				}
			}
		}
	}
	return h
}

func denseEigen(t *testing.T, h *mat.SymDense) []float64 {
	t.Helper()
	var es mat.EigenSym
	if !es.Factorize(h, false) {
		t.Fatal("eigendecomposition failed")
	}
	v := es.Values(nil)
	sort.Sort(sort.Reverse(sort.Float64Slice(v)))
	return v
}

func linearHessianSetup(t *testing.T) (*Evaluator, *ParamSet, *Data, *mat.SymDense, []float64) {
	t.Helper()
	const dim, classes = 4, 3
	theta := randomMLP([]int{dim, classes}, dtypes.Float64, 41)
	d := randomData(80, dim, classes, 42)
	ev, err := NewEvaluator(mlpForward([]int{dim, classes}, dtypes.Float64), theta, Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := softmaxHessian(theta, dim, classes, d)
	return ev, theta, d, h, denseEigen(t, h)
}

// Top-k eigenvalues from Lanczos on finite-difference HVPs against the eigendecomposition of the
// closed-form Hessian of a linear softmax classifier (15 parameters).
func TestTopEigenvaluesExactHessian(t *testing.T) {
	ev, theta, d, h, exact := linearHessianSetup(t)
	n := theta.Size()
	for _, steps := range []int{n, 10} {
		vals, vecs, err := TopEigenvalues(ev, theta, d, 3, SpectrumOptions{Steps: steps, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-5 * exact[0]
		if steps < n {
			vals, exact := vals[:1], exact[:1] // with fewer steps only the extreme one is sure to converge
			if math.Abs(vals[0]-exact[0]) > tol {
				t.Errorf("%d steps: top eigenvalue %g, exact %g", steps, vals[0], exact[0])
			}
			continue
		}
		for i := range 3 {
			if math.Abs(vals[i]-exact[i]) > tol {
				t.Errorf("%d steps: eigenvalue %d is %g, exact %g", steps, i, vals[i], exact[i])
			}
			// H v = λ v with the exact Hessian.
			v := mat.NewVecDense(n, vecs[i].Flat())
			var hv mat.VecDense
			hv.MulVec(h, v)
			hv.AddScaledVec(&hv, -exact[i], v)
			if r := mat.Norm(&hv, 2); r > 1e-4*exact[0] {
				t.Errorf("eigenvector %d: ‖Hv − λv‖ = %g", i, r)
			}
		}
	}
	if exact[0]-exact[1] < 1e-3*exact[0] {
		t.Error("top eigenvalues nearly equal: the test cannot tell them apart")
	}
	if _, _, err := TopEigenvalues(ev, theta, d, 0, SpectrumOptions{}); err == nil {
		t.Error("k=0: no error")
	}
	if _, _, err := TopEigenvalues(ev, theta, d, 3, SpectrumOptions{Steps: n + 1}); err == nil {
		t.Error("more steps than parameters: no error")
	}
}

// Gauss quadrature from Lanczos reproduces the moments vᵀHᵖv/‖v‖² exactly for p < 2m (here with the
// dense closed-form Hessian as the operator), and the SLQ density of the engine's Hessian integrates to
// 1 with nodes inside the exact spectrum and the mean eigenvalue tr(H)/n within a few standard errors.
func TestSpectralDensityExactHessian(t *testing.T) {
	ev, theta, d, h, exact := linearHessianSetup(t)
	n := theta.Size()
	op := func(v *ParamSet) (*ParamSet, error) {
		var hv mat.VecDense
		hv.MulVec(h, mat.NewVecDense(n, v.Flat()))
		return v.FromFlat(hv.RawVector().Data)
	}
	r := rand.New(rand.NewPCG(5, 6))
	v := randomNormal(theta, r)
	const m = 4
	nodes, weights, err := quadrature(op, v, m)
	if err != nil {
		t.Fatal(err)
	}
	vv := mat.NewVecDense(n, v.Flat())
	hp := mat.VecDenseCopyOf(vv)
	for p := range 2 * m {
		want := mat.Dot(vv, hp) / mat.Dot(vv, vv)
		got := 0.0
		for i, l := range nodes {
			got += weights[i] * math.Pow(l, float64(p))
		}
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("moment %d: quadrature %g, exact %g", p, got, want)
		}
		hp.MulVec(h, mat.VecDenseCopyOf(hp))
	}
	// Through the engine (finite-difference HVPs).
	s, err := SpectralDensity(ev, theta, d, SpectrumOptions{Steps: n, Vectors: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := s.Range()
	if lo < exact[n-1]-1e-4*exact[0] || hi > exact[0]+1e-4*exact[0] {
		t.Errorf("nodes in [%g, %g], exact spectrum [%g, %g]", lo, hi, exact[n-1], exact[0])
	}
	if m0 := s.Moment(0); math.Abs(m0-1) > 1e-9 {
		t.Errorf("weights sum to %g, want 1", m0)
	}
	trace := 0.0
	for _, l := range exact {
		trace += l
	}
	// Hutchinson's variance for Rademacher vectors: 2 Σ_{i≠j} H_ij², per vector, of vᵀHv.
	off := 0.0
	for i := range n {
		for j := range n {
			if i != j {
				off += h.At(i, j) * h.At(i, j)
			}
		}
	}
	se := math.Sqrt(2*off/float64(len(s.Nodes))) / float64(n)
	if got := s.Moment(1); math.Abs(got-trace/float64(n)) > 4*se+1e-6 {
		t.Errorf("mean eigenvalue %g, exact %g (standard error %g)", got, trace/float64(n), se)
	}
	grid := make([]float64, 2001)
	for i := range grid {
		grid[i] = lo - 1 + (hi-lo+2)*float64(i)/2000
	}
	dens, err := s.Density(grid, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	area := 0.0
	for i := 1; i < len(grid); i++ {
		area += 0.5 * (dens[i] + dens[i-1]) * (grid[i] - grid[i-1])
	}
	if math.Abs(area-1) > 1e-3 {
		t.Errorf("density integrates to %g", area)
	}
	if _, err := s.Density(grid, 0); err == nil {
		t.Error("sigma 0: no error")
	}
}
