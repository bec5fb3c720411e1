package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Hessian spectra from Hessian-vector products (HVP, finite differences of the gradient): the top-k
// eigenvalues by the Lanczos iteration and the eigenvalue density by stochastic Lanczos quadrature, as
// in Yao, Gholami, Keutzer and Mahoney, "PyHessian: Neural Networks Through the Lens of the Hessian"
// (IEEE BigData 2020, arXiv:1912.07145), after Ghorbani, Krishnan and Xiao, "An Investigation into Neural
// Net Optimization via Hessian Eigenvalue Density" (ICML 2019, arXiv:1901.10159). Lanczos here keeps its
// basis and reorthogonalises every new vector against all of it, which costs Steps parameter vectors of
// memory and keeps the Ritz values free of spurious copies.
//
// The HVPs are finite differences of the gradient (see curvature.go), which assumes a smooth loss: across
// a ReLU kink the gradient jumps, and a difference quotient that straddles one adds a spike of size
// jump/step that is no eigenvalue of the Hessian. Spectra of networks with smooth activations (GELU,
// tanh) are the reliable ones.

// SpectrumOptions configures TopEigenvalues and SpectralDensity.
type SpectrumOptions struct {
	// Steps is the number of Lanczos steps (HVPs) per start vector: default 3k+10 for TopEigenvalues
	// (at most the number of parameters), 40 for SpectralDensity.
	Steps int
	// Vectors is the number of random start vectors SpectralDensity averages over (default 5).
	Vectors int
	// H is the finite-difference step of the HVPs (default 1e-3).
	H    float64
	Seed uint64
}

// lanczos runs m steps of the Lanczos iteration on the symmetric operator op from v0 (normalised
// inside), with full reorthogonalisation. It returns the tridiagonal matrix's diagonal α and
// off-diagonal β (len(α)−1) and the orthonormal basis. It stops early when the Krylov space is
// exhausted (β ≈ 0).
func lanczos(op func(*ParamSet) (*ParamSet, error), v0 *ParamSet, m int) (alpha, beta []float64, basis []*ParamSet, err error) {
	v := v0.Scale(1 / v0.Norm())
	basis = []*ParamSet{v}
	for j := range m {
		w, err := op(basis[j])
		if err != nil {
			return nil, nil, nil, err
		}
		a := dot(w, basis[j])
		alpha = append(alpha, a)
		// w ← w − Σ_i ⟨w, q_i⟩ q_i, twice (full reorthogonalisation; the second pass removes what
		// rounding left of the first).
		for range 2 {
			for _, q := range basis {
				c := dot(w, q)
				for pi, p := range w.Params {
					qd := q.Params[pi].Data
					for k := range p.Data {
						p.Data[k] -= c * qd[k]
					}
				}
			}
		}
		if j == m-1 {
			break
		}
		b := w.Norm()
		if b <= 1e-10*math.Max(1, math.Abs(a)) {
			break
		}
		beta = append(beta, b)
		basis = append(basis, w.Scale(1/b))
	}
	return alpha, beta, basis[:len(alpha)], nil
}

// tridiagEigen returns the eigenvalues (ascending) and eigenvectors (columns) of the symmetric
// tridiagonal matrix with diagonal α and off-diagonal β.
func tridiagEigen(alpha, beta []float64) ([]float64, *mat.Dense, error) {
	n := len(alpha)
	t := mat.NewSymDense(n, nil)
	for i := range n {
		t.SetSym(i, i, alpha[i])
		if i+1 < n {
			t.SetSym(i, i+1, beta[i])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(t, true) {
		return nil, nil, fmt.Errorf("landscape: eigendecomposition of the %d×%d Lanczos matrix failed", n, n)
	}
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	return es.Values(nil), &vecs, nil
}

func randomNormal(like *ParamSet, r *rand.Rand) *ParamSet {
	v := like.Zeros()
	for _, p := range v.Params {
		for j := range p.Data {
			p.Data[j] = r.NormFloat64()
		}
	}
	return v
}

// TopEigenvalues returns the k largest (algebraic) eigenvalues of the Hessian H(θ) of the loss on d,
// in descending order, and their eigenvectors (unit norm), as the Ritz pairs of opts.Steps Lanczos steps
// from a seeded random start. The extreme eigenvalues converge first; compare two values of Steps to see
// whether the k-th has converged.
func TopEigenvalues(ev *Evaluator, theta *ParamSet, d *Data, k int, opts SpectrumOptions) ([]float64, []*ParamSet, error) {
	n := theta.Size()
	if k < 1 || k > n {
		return nil, nil, fmt.Errorf("landscape.TopEigenvalues: k=%d, need 1 ≤ k ≤ %d (the number of parameters)", k, n)
	}
	if opts.Steps == 0 {
		opts.Steps = min(3*k+10, n)
	}
	if opts.Steps < k || opts.Steps > n {
		return nil, nil, fmt.Errorf("landscape.TopEigenvalues: Steps=%d, need k=%d ≤ Steps ≤ %d (the number of parameters)", opts.Steps, k, n)
	}
	op := func(v *ParamSet) (*ParamSet, error) { return HVP(ev, theta, v, d, opts.H) }
	r := rand.New(rand.NewPCG(opts.Seed, 0x1a))
	alpha, beta, basis, err := lanczos(op, randomNormal(theta, r), opts.Steps)
	if err != nil {
		return nil, nil, err
	}
	if len(alpha) < k {
		return nil, nil, fmt.Errorf("landscape.TopEigenvalues: the Krylov space has dimension %d < k=%d (start vector in a small invariant subspace); try another Seed", len(alpha), k)
	}
	vals, vecs, err := tridiagEigen(alpha, beta)
	if err != nil {
		return nil, nil, err
	}
	m := len(vals)
	outV := make([]float64, k)
	outE := make([]*ParamSet, k)
	for i := range k {
		col := m - 1 - i
		outV[i] = vals[col]
		e := theta.Zeros()
		for j, q := range basis {
			c := vecs.At(j, col)
			for pi, p := range e.Params {
				qd := q.Params[pi].Data
				for t := range p.Data {
					p.Data[t] += c * qd[t]
				}
			}
		}
		outE[i] = e.Scale(1 / e.Norm())
	}
	return outV, outE, nil
}

// Spectrum is the result of stochastic Lanczos quadrature: for each random start vector v_j, the
// Gauss quadrature nodes (Ritz values) and weights (squared first components of the Ritz vectors, summing
// to 1) with Σ_i Weights[j][i]·f(Nodes[j][i]) ≈ v_jᵀf(H)v_j/‖v_j‖², exact for polynomials f of degree
// < 2·Steps. Averaged over j this estimates (1/n)·tr f(H), the integral of f against the eigenvalue
// density.
type Spectrum struct {
	Nodes, Weights [][]float64
	Params         int
	Provenance     Provenance
}

// SpectralDensity estimates the Hessian's eigenvalue density at θ on d by stochastic Lanczos quadrature
// (Yao et al., PyHessian; Ghorbani et al.): opts.Vectors Lanczos runs of opts.Steps steps from seeded
// Rademacher start vectors.
func SpectralDensity(ev *Evaluator, theta *ParamSet, d *Data, opts SpectrumOptions) (*Spectrum, error) {
	n := theta.Size()
	if opts.Steps == 0 {
		opts.Steps = min(40, n)
	}
	if opts.Vectors == 0 {
		opts.Vectors = 5
	}
	if opts.Steps < 1 || opts.Steps > n || opts.Vectors < 1 {
		return nil, fmt.Errorf("landscape.SpectralDensity: Steps=%d (need 1…%d, the number of parameters) and Vectors=%d (need ≥ 1)", opts.Steps, n, opts.Vectors)
	}
	op := func(v *ParamSet) (*ParamSet, error) { return HVP(ev, theta, v, d, opts.H) }
	r := rand.New(rand.NewPCG(opts.Seed, 0x1b))
	s := &Spectrum{Params: n}
	for range opts.Vectors {
		v := theta.Zeros()
		for _, p := range v.Params {
			for j := range p.Data {
				p.Data[j] = float64(2*r.IntN(2) - 1)
			}
		}
		nodes, weights, err := quadrature(op, v, opts.Steps)
		if err != nil {
			return nil, err
		}
		s.Nodes, s.Weights = append(s.Nodes, nodes), append(s.Weights, weights)
	}
	s.Provenance = newProvenance(ev, []*Data{d})
	s.Provenance.Seeds = []uint64{opts.Seed}
	s.Provenance.Notes = fmt.Sprintf("stochastic Lanczos quadrature: %d Rademacher vectors, %d Lanczos steps each", opts.Vectors, opts.Steps)
	return s, nil
}

// quadrature returns the Gauss quadrature of the operator's spectral measure for start vector v.
func quadrature(op func(*ParamSet) (*ParamSet, error), v *ParamSet, m int) ([]float64, []float64, error) {
	alpha, beta, _, err := lanczos(op, v, m)
	if err != nil {
		return nil, nil, err
	}
	vals, vecs, err := tridiagEigen(alpha, beta)
	if err != nil {
		return nil, nil, err
	}
	w := make([]float64, len(vals))
	for i := range w {
		w[i] = vecs.At(0, i) * vecs.At(0, i)
	}
	return vals, w, nil
}

// Moment returns the SLQ estimate of (1/n)·tr Hᵖ, the mean over start vectors of Σ_i w_i·λ_iᵖ.
func (s *Spectrum) Moment(p int) float64 {
	total := 0.0
	for j := range s.Nodes {
		for i, l := range s.Nodes[j] {
			total += s.Weights[j][i] * math.Pow(l, float64(p))
		}
	}
	return total / float64(len(s.Nodes))
}

// Range returns the smallest and largest node.
func (s *Spectrum) Range() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, nodes := range s.Nodes {
		for _, l := range nodes {
			lo, hi = math.Min(lo, l), math.Max(hi, l)
		}
	}
	return lo, hi
}

// Density returns the smoothed eigenvalue density at each grid point: the quadrature averaged over the
// start vectors, each node spread as a Gaussian of standard deviation sigma (> 0). It integrates to 1.
func (s *Spectrum) Density(grid []float64, sigma float64) ([]float64, error) {
	if sigma <= 0 || math.IsNaN(sigma) {
		return nil, fmt.Errorf("landscape.Spectrum.Density: sigma=%g, need > 0", sigma)
	}
	if len(s.Nodes) == 0 {
		return nil, fmt.Errorf("landscape.Spectrum.Density: empty spectrum")
	}
	out := make([]float64, len(grid))
	norm := 1 / (sigma * math.Sqrt(2*math.Pi) * float64(len(s.Nodes)))
	for gi, x := range grid {
		for j := range s.Nodes {
			for i, l := range s.Nodes[j] {
				z := (x - l) / sigma
				out[gi] += s.Weights[j][i] * math.Exp(-0.5*z*z) * norm
			}
		}
	}
	return out, nil
}
