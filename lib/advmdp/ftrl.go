package advmdp

import (
	"fmt"
	"math"
)

// LogBarrierFTRL solves one FTRL step with the log-barrier regulariser over the simplex:
//
//	p = argmin_{p∈Δ_A} ⟨p, c⟩ + (1/η) Σ_a ln(1/p_a).
//
// The KKT conditions give p_a = 1/(η (c_a + λ)) with the unique λ > −min_a c_a for which Σ_a p_a = 1
// (Σ_a p_a is strictly decreasing in λ and the root lies in (−min c, −min c + A/η]). The root is found
// by Newton's method started left of it, which converges monotonically on this convex decreasing
// function; p is then renormalised so that Σ p = 1 to rounding. Every p_a > 0: a dominated action keeps
// mass ≈ 1/(η·gap), a polynomial rather than exponential tail. It returns p and λ.
func LogBarrierFTRL(c []float64, eta float64) (p []float64, lambda float64, err error) {
	if err := checkStep("LogBarrierFTRL", c, eta); err != nil {
		return nil, 0, err
	}
	p = make([]float64, len(c))
	return p, logBarrierInto(p, c, eta), nil
}

// logBarrierInto writes the log-barrier FTRL distribution for c into p and returns λ.
// It works with y_a = η(c_a − min c) ≥ 0 and u = η(λ + min c) ∈ [1, A], where Σ_a 1/(y_a + u) = 1.
func logBarrierInto(p, c []float64, eta float64) float64 {
	cmin := c[0]
	for _, v := range c {
		cmin = min(cmin, v)
	}
	for a, v := range c {
		p[a] = eta * (v - cmin) // y_a, stored in p for now
	}
	u := 1.0 // g(1) = Σ 1/(y_a+1) − 1 ≥ 0, so Newton from here increases monotonically to the root
	for range 200 {
		g, dg := -1.0, 0.0
		for _, y := range p {
			r := 1 / (y + u)
			g += r
			dg -= r * r
		}
		if g <= 0 {
			break
		}
		step := -g / dg
		u += step
		if step <= 1e-15*u {
			break
		}
	}
	sum := 0.0
	for a, y := range p {
		p[a] = 1 / (y + u)
		sum += p[a]
	}
	for a := range p {
		p[a] /= sum
	}
	return u/eta - cmin
}

// ExpWeights returns the exponential-weights (Hedge) distribution p_a ∝ exp(−η c_a), the FTRL step
// with the negative-entropy regulariser (computed with c shifted by its minimum, so it never
// overflows).
func ExpWeights(c []float64, eta float64) ([]float64, error) {
	if err := checkStep("ExpWeights", c, eta); err != nil {
		return nil, err
	}
	p := make([]float64, len(c))
	expWeightsInto(p, c, eta)
	return p, nil
}

func expWeightsInto(p, c []float64, eta float64) {
	cmin := c[0]
	for _, v := range c {
		cmin = min(cmin, v)
	}
	sum := 0.0
	for a, v := range c {
		p[a] = math.Exp(-eta * (v - cmin))
		sum += p[a]
	}
	for a := range p {
		p[a] /= sum
	}
}

func checkStep(name string, c []float64, eta float64) error {
	if len(c) == 0 {
		return fmt.Errorf("advmdp: %s: no actions", name)
	}
	if !(eta > 0) || math.IsInf(eta, 0) {
		return fmt.Errorf("advmdp: %s: eta must be positive and finite, got %v", name, eta)
	}
	for a, v := range c {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("advmdp: %s: cumulative loss of action %d is %v", name, a, v)
		}
	}
	return nil
}

// LogBarrierStability is the per-coordinate one-step stability term of the log-barrier regulariser
// ψ(p) = (1/η) ln(1/p):
//
//	max_q (p − q)ℓ − D_ψ(q, p) = (1/η)(x − ln(1 + x)),  x = η p ℓ,
//
// with D_ψ(q,p) = (1/η)(q/p − 1 − ln(q/p)) and maximiser q = p/(1 + x). It is finite only for x > −1,
// is ≤ x²/η for |x| ≤ ½, and blows up as x → −1: the standard analysis needs ηpℓ ≥ −½, which
// negative loss estimates can violate. It returns the value and the maximiser q.
func LogBarrierStability(eta, p, l float64) (value, argmax float64, err error) {
	if !(eta > 0) || math.IsInf(eta, 0) {
		return 0, 0, fmt.Errorf("advmdp: LogBarrierStability: eta must be positive and finite, got %v", eta)
	}
	if !(p > 0) || math.IsInf(p, 0) {
		return 0, 0, fmt.Errorf("advmdp: LogBarrierStability: p must be positive and finite, got %v", p)
	}
	x := eta * p * l
	if !(x > -1) || math.IsInf(x, 0) {
		return 0, 0, fmt.Errorf("advmdp: LogBarrierStability: x = ηpℓ = %v must be finite and > −1 (the term is unbounded)", x)
	}
	return (x - math.Log1p(x)) / eta, p / (1 + x), nil
}

// BregmanLogBarrier is D_ψ(q, p) = (1/η)(q/p − 1 − ln(q/p)) for ψ(p) = (1/η) ln(1/p) (one coordinate).
func BregmanLogBarrier(eta, q, p float64) float64 {
	r := q / p
	return (r - 1 - math.Log(r)) / eta
}
