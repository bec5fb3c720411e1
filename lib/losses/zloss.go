package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// The Z-loss: de Brébisson & Vincent, "The Z-loss: a shift and scale invariant
// classification loss belonging to the Spherical Family", arXiv:1604.08859 (2016).
// Not to be confused with the output-logit z-loss regulariser of PaLM / Wortsman et al. ("logit-z-reg",
// logitzreg.go).

func init() {
	Register(Objective{
		Name: "z-loss", Paper: "11-zloss", Kind: Classification, PerExample: true,
		Summary: "de Brébisson's Z-loss (1/a)·softplus(a(b - z_y)), z = per-row z-score of the outputs",
		Params: []Param{
			{Name: "a", Default: 1, Min: 0, Max: math.Inf(1), MinOpen: true,
				Doc: "sharpness; a→∞ gives the hinge max(0, b - z_y) (the authors' code demo uses 1)"},
			{Name: "b", Default: 0, Min: math.Inf(-1), Max: math.Inf(1),
				Doc: "location, in standard deviations; saturation needs b < sqrt(K-1) (code demo: 0)"},
		},
		Fn: func(bt Batch, p Params) *Node { return ZLoss(bt["logits"], bt["labels"], p["a"], p["b"]) },
	})
}

// zLossEps is added to the variance before the square root, so all-equal outputs give z = 0.
const zLossEps = 1e-12

// ZScores returns the per-row z-scores of outputs o [B,K]: z_k = (o_k - μ)/σ with μ = mean_k o_k and the
// population standard deviation σ = sqrt(mean_k (o_k - μ)² + 1e-12) (two-pass variance, never negative).
// Σ_k z_k = 0 and Σ_k z_k² = K (up to the epsilon).
func ZScores(outputs *Node) *Node {
	centred := Sub(outputs, ReduceAndKeep(outputs, ReduceMean, -1))
	sigma := Sqrt(AddScalar(ReduceAndKeep(Square(centred), ReduceMean, -1), zLossEps))
	return Div(centred, sigma)
}

// ZLoss returns the Z-loss [B] of outputs o [B,K] and labels y [B]:
//
//	μ = (1/K) Σ_k o_k,   σ = sqrt((1/K) Σ_k (o_k - μ)² + ε),   z_y = (o_y - μ)/σ
//	L = (1/a) softplus(a (b - z_y)) = (1/a) log(1 + exp(a (b - z_y)))
//
// It depends on o only through o_y, Σ o and Σ o², is invariant to o → s·o + c (s > 0), and its gradient is
// orthogonal to both 1 and o. z_y ∈ [-sqrt(K-1), sqrt(K-1)]. The batch loss is the mean (the authors'
// timing demo sums). ε = 1e-12 (the demo adds 1e-12 to σ instead).
func ZLoss(outputs, labels *Node, a, b float64) *Node {
	zy := pick(ZScores(outputs), oneHotFor(outputs, labels))
	return DivScalar(Softplus(MulScalar(Sub(Scalar(zy.Graph(), zy.DType(), b), zy), a)), a)
}
