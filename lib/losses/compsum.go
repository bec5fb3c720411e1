package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Comp-sum losses: Mao, Mohri & Zhong, "Cross-Entropy Loss Functions: Theoretical
// Analysis and Applications", ICML 2023, arXiv:2304.07288.
//
// The smooth adversarial comp-sum loss (ADV-COMP-SUM) is deliberately left out:
// its definition could not be verified from the paper (the margin rho, the weight nu and the norm of the smoothness
// penalty could not be checked against the paper), so it cannot be implemented faithfully.

func init() {
	tauParam := Param{Name: "tau", Default: 1, Min: 0, Max: math.Inf(1),
		Doc: "comp-sum exponent: 0 sum-exponential, 1 cross-entropy, 1<tau<2 GCE (q=tau-1), 2 MAE"}
	Register(Objective{
		Name: "comp-sum", Paper: "04-compsum", Kind: Classification, PerExample: true,
		Summary: "comp-sum family Φ^τ(u), u = Σ_{k≠y} exp(h_k - h_y) = 1/p_y - 1",
		Params:  []Param{tauParam},
		Fn:      func(b Batch, p Params) *Node { return CompSum(b["logits"], b["labels"], p["tau"]) },
	})
	Register(Objective{
		Name: "gce", Paper: "04-compsum", Kind: Classification, PerExample: true,
		Summary: "generalized cross-entropy (1 - p_y^q)/q, the comp-sum loss with τ = 1+q",
		Params: []Param{{Name: "q", Default: 0.7, Min: 0, Max: 1, MinOpen: true,
			Doc: "GCE exponent (0.7 from Zhang & Sabuncu 2018); q→0 gives CE, q=1 gives MAE"}},
		Fn: func(b Batch, p Params) *Node { return GeneralizedCrossEntropy(b["logits"], b["labels"], p["q"]) },
	})
	Register(Objective{
		Name: "mae", Paper: "04-compsum", Kind: Classification, PerExample: true,
		Summary: "comp-sum MAE 1 - p_y (τ = 2; half of the L1 loss ||e_y - p||_1)",
		Fn:      func(b Batch, _ Params) *Node { return MAE(b["logits"], b["labels"]) },
	})
	Register(Objective{
		Name: "sum-exp", Paper: "04-compsum", Kind: Classification, PerExample: true,
		Summary: "sum-exponential Σ_{k≠y} exp(h_k - h_y) = 1/p_y - 1 (τ = 0)",
		Fn:      func(b Batch, _ Params) *Node { return SumExp(b["logits"], b["labels"]) },
	})
}

// compSumMinLogP is the floor on log p_y for τ < 1, where the loss grows like p_y^(τ-1) and would
// overflow float32 once p_y underflows (exp(80) ≈ 5.5e34 still fits). Below it the loss is constant
// and its gradient zero.
const compSumMinLogP = -80

// CompSum returns the comp-sum loss [B] of logits h [B,K] and labels y [B]:
//
//	u_i      = Σ_{k≠y} exp(h_ik - h_iy) = 1/p_iy - 1,   p = softmax(h)
//	Φ^τ(u)   = ((1+u)^(1-τ) - 1)/(1-τ)   (τ ≥ 0, τ ≠ 1),   log(1+u)   (τ = 1)
//	loss_i   = Φ^τ(u_i)
//
// It is computed from lp = log p_y = h_y - logsumexp(h) as -expm1((τ-1)·lp)/(τ-1) (and -lp at τ = 1),
// which is exact and smooth in τ. For τ < 1 lp is first floored at -80 (see compSumMinLogP).
// Its gradient is p_y^(τ-1)·(p - e_y): CE's, re-weighted toward confident examples as τ grows.
func CompSum(logits, labels *Node, tau float64) *Node {
	lp := logPTrue(logits, labels)
	s := tau - 1
	if s == 0 {
		return Neg(lp)
	}
	if s < 0 {
		lp = MaxScalar(lp, compSumMinLogP)
	}
	return DivScalar(Neg(expm1(MulScalar(lp, s))), s)
}

// GeneralizedCrossEntropy returns GCE [B] (Zhang & Sabuncu 2018): (1 - p_y^q)/q, q ∈ (0,1],
// the comp-sum loss with τ = 1+q.
func GeneralizedCrossEntropy(logits, labels *Node, q float64) *Node {
	return CompSum(logits, labels, 1+q)
}

// MAE returns the comp-sum MAE [B]: 1 - p_y (τ = 2). Note the scaling: this is half of the L1 distance
// ||e_y - p||_1 = 2(1 - p_y) used by Ghosh et al. (2017); the comp-sum scaling is kept.
func MAE(logits, labels *Node) *Node { return CompSum(logits, labels, 2) }

// SumExp returns the sum-exponential loss [B]: Σ_{k≠y} exp(h_k - h_y) = 1/p_y - 1 (τ = 0),
// with log p_y floored at -80 (see CompSum).
func SumExp(logits, labels *Node) *Node { return CompSum(logits, labels, 0) }

// expm1 is exp(x)-1 with a gradient: GoMLX v0.26 defines no gradient for Expm1, so the value comes from
// Expm1 on a detached copy and the gradient exp(x) is attached through x - StopGradient(x), which is
// exactly zero in value (workaround, exact in value and first derivative).
func expm1(x *Node) *Node {
	sx := StopGradient(x)
	return Add(Expm1(sx), Mul(Sub(x, sx), StopGradient(Exp(x))))
}
