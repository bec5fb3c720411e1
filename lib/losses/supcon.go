package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Supervised contrastive loss (SupCon), the baseline the metric-learning and contrastive papers compare
// against: Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (the L_out form, their Eq. 2).
// The self-supervised InfoNCE baseline on a score matrix is "infonce" (mwloss.go).

func init() {
	Register(Objective{
		Name: "supcon", Paper: "baseline", Kind: Embedding, PerExample: true,
		Summary: "supervised contrastive loss: -mean_{p: y_p=y_i, p≠i} log softmax_{a≠i}(z_i·z_a/τ)_p",
		Params: []Param{
			{Name: "tau", Default: 0.1, Min: 0, Max: math.Inf(1), MinOpen: true,
				Doc: "temperature dividing the similarities (Khosla et al. report 0.1 as best)"},
			{Name: "normalize", Default: 1, Min: 0, Max: 1, Integer: true,
				Doc: "1: L2-normalise the features first (the paper's setting); 0: use raw dot products"},
		},
		Fn: func(b Batch, p Params) *Node {
			return SupCon(b["features"], b["labels"], p["tau"], p["normalize"] == 1)
		},
	})
}

// SupCon returns the supervised contrastive loss of each anchor, [B], for features z [B,D] and integer
// class labels y [B] (any ids); the loss is the mean over anchors. Several views of one image are simply
// several rows with the same label. With A(i) = {a ≠ i} and P(i) = {p ≠ i : y_p = y_i}:
//
//	L_i = -(1/|P(i)|) Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a∈A(i)} exp(z_i·z_a/τ) )
//	    = logsumexp_{a∈A(i)}(z_i·z_a/τ) - (1/|P(i)|) Σ_{p∈P(i)} z_i·z_p/τ
//
// where z is L2-normalised first when normalize is true (zero rows stay zero). An anchor without
// positives has L_i = 0 and still counts in the mean (as in the reference code's later guard against
// division by zero). The log-sum-exp excludes the anchor with a mask and subtracts a detached max, so
// any finite features give finite values.
func SupCon(features, labels *Node, tau float64, normalize bool) *Node {
	if !(tau > 0) {
		panicf("SupCon: tau=%g must be > 0", tau)
	}
	if features.Rank() != 2 {
		panicf("SupCon: features must be [B,D], got shape %s", features.Shape())
	}
	bsz := features.Shape().Dimensions[0]
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != bsz {
		panicf("SupCon: labels must be [B] with B=%d, got shape %s", bsz, labels.Shape())
	}
	z := features
	if normalize {
		z = L2Normalize(z, -1)
	}
	sim := DivScalar(Einsum("id,jd->ij", z, z), tau) // [B,B]
	others := LogicalNot(Diagonal(features.Graph(), bsz))
	same := Equal(InsertAxes(labels, 1), InsertAxes(labels, 0))
	pos := LogicalAnd(same, others)
	lse, hasOthers := maskedRowLogSumExp(sim, others)
	posF := ConvertDType(pos, sim.DType())
	nPos := ReduceSum(posF, -1)
	meanPos := Div(ReduceSum(Mul(sim, posF), -1), MaxScalar(nPos, 1))
	ok := LogicalAnd(hasOthers, GreaterThan(nPos, ZerosLike(nPos)))
	return Where(ok, Sub(lse, meanPos), ZerosLike(lse))
}
