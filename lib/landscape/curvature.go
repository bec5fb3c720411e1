package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Second derivatives: the pure-Go backend cannot differentiate a gradient (no forward-over-reverse), so
// every Hessian quantity here uses finite differences in float64 on the host, of the loss (directional
// curvature) or of the gradient (Hessian-vector products). Their accuracy is limited by the model's dtype:
// with float32 models expect a few significant digits.

// DirectionalCurvature returns vᵀH(θ)v ≈ [L(θ+hv) − 2L(θ) + L(θ−hv)]/h² (h in units of v; default 1e-3
// when h ≤ 0), from one call of the batched engine.
func DirectionalCurvature(ev *Evaluator, theta, v *ParamSet, d *Data, h float64) (float64, error) {
	if h <= 0 {
		h = 1e-3
	}
	pts, err := ev.Eval(theta, []*ParamSet{v}, [][]float64{{h}, {0}, {-h}}, d)
	if err != nil {
		return 0, err
	}
	return (pts[0].Loss - 2*pts[1].Loss + pts[2].Loss) / (h * h), nil
}

// HVP returns H(θ)v ≈ [∇L(θ+hv) − ∇L(θ−hv)]/(2h) (h in units of v; default 1e-3 when h ≤ 0).
func HVP(ev *Evaluator, theta, v *ParamSet, d *Data, h float64) (*ParamSet, error) {
	if h <= 0 {
		h = 1e-3
	}
	if err := theta.Compatible(v); err != nil {
		return nil, err
	}
	_, gp, err := ev.Grad(combine([]float64{1, h}, []*ParamSet{theta, v}), d)
	if err != nil {
		return nil, err
	}
	_, gm, err := ev.Grad(combine([]float64{1, -h}, []*ParamSet{theta, v}), d)
	if err != nil {
		return nil, err
	}
	return combine([]float64{1 / (2 * h), -1 / (2 * h)}, []*ParamSet{gp, gm}), nil
}

// TopEigenvalue estimates the eigenvalue of H(θ) largest in magnitude by power iteration on HVPs (seeded
// start), stopping when it changes by less than tol (relative) or after iters steps (defaults 1e-4, 50).
func TopEigenvalue(ev *Evaluator, theta *ParamSet, d *Data, seed uint64, iters int, tol float64) (float64, *ParamSet, error) {
	if iters <= 0 {
		iters = 50
	}
	if tol <= 0 {
		tol = 1e-4
	}
	r := rand.New(rand.NewPCG(seed, 0x7e))
	v := theta.Zeros()
	for _, p := range v.Params {
		for j := range p.Data {
			p.Data[j] = r.NormFloat64()
		}
	}
	v = v.Scale(1 / v.Norm())
	lambda := 0.0
	for it := range iters {
		hv, err := HVP(ev, theta, v, d, 0)
		if err != nil {
			return 0, nil, err
		}
		next := dot(v, hv)
		n := hv.Norm()
		if n == 0 {
			return 0, v, nil
		}
		v = hv.Scale(1 / n)
		if it > 0 && math.Abs(next-lambda) <= tol*math.Abs(next) {
			return next, v, nil
		}
		lambda = next
	}
	return lambda, v, nil
}

// HessianTrace estimates tr H(θ) by Hutchinson's estimator, the mean of vᵀHv over samples Rademacher
// vectors v (seeded); it also returns the standard error of the mean.
func HessianTrace(ev *Evaluator, theta *ParamSet, d *Data, samples int, seed uint64) (float64, float64, error) {
	if samples < 1 {
		return 0, 0, fmt.Errorf("landscape.HessianTrace: samples=%d, need ≥ 1", samples)
	}
	r := rand.New(rand.NewPCG(seed, 0x7f))
	var vals []float64
	for range samples {
		v := theta.Zeros()
		for _, p := range v.Params {
			for j := range p.Data {
				p.Data[j] = float64(2*r.IntN(2) - 1)
			}
		}
		hv, err := HVP(ev, theta, v, d, 0)
		if err != nil {
			return 0, 0, err
		}
		vals = append(vals, dot(v, hv))
	}
	s := Summarize(vals)
	return s.Mean, s.Std / math.Sqrt(float64(s.N)), nil
}

// Predictors holds the measured midpoint gap of the path θ_A → θ_B and the three second-order predictors
// of Singh et al. ("Landscaping Linear Mode Connectivity", arXiv:2406.16300), all exact for a quadratic
// loss.
type Predictors struct {
	// Gmid = φ(½) − ½(φ(0)+φ(1)), measured.
	Gmid float64
	// CurvatureMid = ΔᵀH(θ_mid)Δ = φ''(½) (finite differences, step H in α units).
	CurvatureMid float64
	// P1 = −⅛ΔᵀH(θ_mid)Δ (midpoint curvature).
	P1 float64
	// P2 = −⅛(δ_A−δ_B)ᵀH(θ_s)(δ_A−δ_B) with δ = θ − θ_s (spawn point); HasP2 is false without a spawn point.
	P2    float64
	HasP2 bool
	// P3 = ⅛⟨∇L(θ_A) − ∇L(θ_B), θ_B − θ_A⟩ (endpoint gradients).
	P3         float64
	H          float64
	Provenance Provenance
}

// BarrierPredictors measures G_mid on d and computes P1, P3 and (when spawn is not nil) P2. h is the
// finite-difference step in α units (default 1e-3).
func BarrierPredictors(ev *Evaluator, a, b, spawn *ParamSet, d *Data, h float64) (*Predictors, error) {
	if h <= 0 {
		h = 1e-3
	}
	delta, err := Sub(b, a)
	if err != nil {
		return nil, err
	}
	pts, err := ev.Eval(a, []*ParamSet{delta}, [][]float64{{0}, {0.5}, {1}, {0.5 + h}, {0.5 - h}}, d)
	if err != nil {
		return nil, err
	}
	p := &Predictors{H: h}
	p.Gmid = pts[1].Loss - (pts[0].Loss+pts[2].Loss)/2
	p.CurvatureMid = (pts[3].Loss - 2*pts[1].Loss + pts[4].Loss) / (h * h)
	p.P1 = -p.CurvatureMid / 8
	if spawn != nil {
		// δ_A − δ_B = θ_A − θ_B = −Δ; the quadratic form is the same for ±Δ.
		c, err := DirectionalCurvature(ev, spawn, delta, d, h)
		if err != nil {
			return nil, err
		}
		p.P2, p.HasP2 = -c/8, true
	}
	_, ga, err := ev.Grad(a, d)
	if err != nil {
		return nil, err
	}
	_, gb, err := ev.Grad(b, d)
	if err != nil {
		return nil, err
	}
	p.P3 = dot(combine([]float64{1, -1}, []*ParamSet{ga, gb}), delta) / 8
	p.Provenance = newProvenance(ev, []*Data{d})
	p.Provenance.Notes = fmt.Sprintf("second derivatives by central finite differences, step %g", h)
	return p, nil
}
