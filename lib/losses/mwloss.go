package losses

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// The Mann–Whitney (MW) loss and its InfoNCE baseline: Sheikholeslami et al.,
// "Optimizing What Matters: AUC-Driven Learning for Robust Neural Retrieval", arXiv:2510.00137.

func init() {
	tau := Param{Name: "tau", Default: 0.01, Min: 0, Max: math.Inf(1), MinOpen: true,
		Doc: "temperature dividing the scores (paper default 0.01)"}
	Register(Objective{
		Name: "mw-loss", Paper: "15-mwloss", Kind: Retrieval,
		Summary: "Mann–Whitney loss: Σ_{pos p} Σ_{neg n, all queries} softplus((s_n - s_p)/τ) / #pos",
		Params: []Param{tau, {Name: "mean", Default: 0, Min: 0, Max: 1, Integer: true,
			Doc: "0: the paper's Eq. 3 (divided by the number of positives only); 1: also divided by the number of negatives |S⁻|"}},
		Fn: func(b Batch, p Params) *Node { return MWLoss(b["scores"], b["positives"], p["tau"], p["mean"] == 1) },
	})
	Register(Objective{
		Name: "infonce", Paper: "15-mwloss", Kind: Retrieval, PerExample: true,
		Summary: "InfoNCE per query: logsumexp_j(s_ij/τ) - log Σ_{j pos} exp(s_ij/τ)",
		Params:  []Param{tau},
		Fn:      func(b Batch, p Params) *Node { return InfoNCE(b["scores"], b["positives"], p["tau"]) },
	})
}

// retrievalMask checks scores [Q,N] and positives [Q,N] and returns the positives as a float 0/1 mask
// in the scores' dtype.
func retrievalMask(what string, scores, positives *Node) *Node {
	if scores.Rank() != 2 {
		panicf("%s: scores must be [Q,N], got shape %s", what, scores.Shape())
	}
	if positives.Rank() != 2 || positives.Shape().Dimensions[0] != scores.Shape().Dimensions[0] ||
		positives.Shape().Dimensions[1] != scores.Shape().Dimensions[1] {
		panicf("%s: positives must be [Q,N] = %v like the scores, got shape %s", what, scores.Shape().Dimensions, positives.Shape())
	}
	if positives.DType() == dtypes.Bool {
		return ConvertDType(positives, scores.DType())
	}
	// Any non-zero entry counts as a positive.
	return ConvertDType(NotEqual(positives, ZerosLike(positives)), scores.DType())
}

// MWLoss returns the Mann–Whitney loss of scores [Q,N] with 0/1 positives [Q,N] (paper Eq. 3): every
// positive score is compared with every negative score of the batch, including the negatives of other
// queries (the global pool S⁻ of all entries with positives = 0):
//
//	L_MW = (1/P) Σ_{(i,j): pos_ij=1} Σ_{(k,l): pos_kl=0} softplus(-(s_ij - s_kl)/τ)
//
// where P is the number of positives. In the paper's layout (one positive per query, P = Q = B) this is
// exactly Eq. 3; with mean = true it is further divided by |S⁻| (the number of negatives), giving the mean
// over all positive–negative pairs, L_MW_mean, the form used by the AoC bound (Lemma 2:
// AoC ≤ L_MW_mean / log 2) and whose scale does not grow with the batch. Eq. 3 is written for the
// one-positive-per-query case; dividing by the number of positives is our generalisation.
// The softplus is the stable log(1+e^x) = max(x,0) + log1p(e^-|x|), so τ = 0.01 is finite in float32.
//
// Cost: it builds all (QN)² pairwise differences (memory O((QN)²)); for B = 32 queries with 3 hard
// negatives that is 4096² ≈ 1.7e7 pairs (about 1.3 s per value+gradient on the pure-Go backend, 2 cores).
// For training in the paper's one-positive layout use MWLossOnePositive (Q·QN pairs).
func MWLoss(scores, positives *Node, tau float64, mean bool) *Node {
	if !(tau > 0) {
		panicf("MWLoss: tau=%g must be > 0", tau)
	}
	pos := retrievalMask("MWLoss", scores, positives)
	q, n := scores.Shape().Dimensions[0], scores.Shape().Dimensions[1]
	s := Reshape(scores, q*n)
	m := Reshape(pos, q*n)
	// diff[a,b] = (s_b - s_a)/τ for a positive a and a negative b.
	diff := DivScalar(Sub(InsertAxes(s, 0), InsertAxes(s, 1)), tau)
	pairMask := Mul(InsertAxes(m, 1), InsertAxes(OneMinus(m), 0))
	total := ReduceAllSum(Mul(Softplus(diff), pairMask))
	numPos := ReduceAllSum(m)
	denom := numPos
	if mean {
		denom = Mul(numPos, ReduceAllSum(OneMinus(m)))
	}
	return Div(total, MaxScalar(denom, 1))
}

// MWLossOnePositive is MWLoss for the paper's layout, where query i has exactly one positive, in
// column posIndex[i] (int [Q]) of scores [Q,N]; every other entry of the batch is a negative. It equals
// MWLoss(scores, OneHot(posIndex)) but builds only Q × QN pairs instead of (QN)², so it is the one to
// train with: for B = 32 queries with 3 hard negatives it compares 32 × 4096 pairs instead of 4096².
func MWLossOnePositive(scores, posIndex *Node, tau float64, mean bool) *Node {
	if !(tau > 0) {
		panicf("MWLossOnePositive: tau=%g must be > 0", tau)
	}
	if scores.Rank() != 2 {
		panicf("MWLossOnePositive: scores must be [Q,N], got shape %s", scores.Shape())
	}
	q, n := scores.Shape().Dimensions[0], scores.Shape().Dimensions[1]
	if posIndex.Rank() != 1 || posIndex.Shape().Dimensions[0] != q || !posIndex.DType().IsInt() {
		panicf("MWLossOnePositive: posIndex must be int [Q] = [%d], got %s", q, posIndex.Shape())
	}
	oh := OneHot(posIndex, n, scores.DType())                          // [Q,N]
	sPos := ReduceSum(Mul(scores, oh), -1)                             // [Q], a one-hot product (no Gather/Slice gradient)
	s := Reshape(scores, q*n)                                          // [QN]
	neg := Reshape(OneMinus(oh), q*n)                                  // [QN]
	diff := DivScalar(Sub(InsertAxes(s, 0), InsertAxes(sPos, 1)), tau) // [Q, QN]: (s_b - s_i⁺)/τ
	total := ReduceAllSum(Mul(Softplus(diff), InsertAxes(neg, 0)))
	denom := float64(q)
	if mean {
		denom *= float64(q*n - q)
	}
	return DivScalar(total, max(denom, 1))
}

// InfoNCE returns the contrastive (InfoNCE) loss of each query, [Q], for scores [Q,N] and 0/1 positives
// [Q,N] (paper Eq. 4, the MW loss's baseline); the loss is the mean over queries:
//
//	L_i = log Σ_j exp(s_ij/τ) - log Σ_{j: pos_ij=1} exp(s_ij/τ) = softplus(A_i - P_i),
//	A_i = log Σ_{j: pos_ij=0} exp(s_ij/τ),   P_i = log Σ_{j: pos_ij=1} exp(s_ij/τ)
//
// With one positive per row (the paper's layout) this is -log(exp(s_i⁺/τ) / Σ_j exp(s_ij/τ)), a row-wise
// softmax cross-entropy with the positive column as target. Several positives in a row share the
// numerator (the "log total positive probability" generalisation, our choice); a row without positives,
// or without negatives, has loss 0. The softplus form keeps tiny losses (e.g. 6.9e-10 at τ = 0.01 in the
// tests' worked example) instead of rounding log(1+ε) to 0, and both masked log-sum-exps subtract their own
// (detached) max, so any finite scores and τ = 0.01 give finite values in float32.
// The loss is invariant to adding a constant to a row (Lemma 1): its gradient w.r.t. a per-query
// offset is exactly 0.
func InfoNCE(scores, positives *Node, tau float64) *Node {
	if !(tau > 0) {
		panicf("InfoNCE: tau=%g must be > 0", tau)
	}
	pos := ConvertDType(retrievalMask("InfoNCE", scores, positives), dtypes.Bool)
	q := scores.Shape().Dimensions[0]
	x := DivScalar(scores, tau)
	lsePos, hasPos := maskedRowLogSumExp(x, pos)
	lseNeg, hasNeg := maskedRowLogSumExp(x, LogicalNot(pos))
	ok := LogicalAnd(hasPos, hasNeg)
	// Rows without positives or negatives: the difference is replaced by 0 before the softplus (so no
	// ±inf enters the graph) and the row's loss is set to 0.
	diff := Where(ok, Sub(lseNeg, lsePos), ZerosLike(lsePos))
	return Reshape(Where(ok, Softplus(diff), ZerosLike(diff)), q)
}

// maskedRowLogSumExp returns log Σ_{j: mask_ij} exp(x_ij) per row, [Q], and whether the row has any
// selected entry, [Q] bool. Unselected entries are replaced by -inf before the exp (Where, so their
// gradient is exactly 0 and never 0·inf); rows without selected entries return 0.
func maskedRowLogSumExp(x, mask *Node) (lse, has *Node) {
	g, dtype := x.Graph(), x.DType()
	q := x.Shape().Dimensions[0]
	has = Reshape(ReduceLogicalOr(mask, -1), q)
	m := StopGradient(ReduceAndKeep(x, func(v *Node, axes ...int) *Node { return MaskedReduceMax(v, mask, axes...) }, -1))
	anyK := InsertAxes(has, -1)
	m = Where(anyK, m, ZerosLike(m))
	negInf := BroadcastToDims(Infinity(g, dtype, -1), x.Shape().Dimensions...)
	e := Exp(Where(mask, Sub(x, m), negInf))
	sum := ReduceSum(e, -1)
	lse = Add(Reshape(m, q), Log(Where(has, sum, OnesLike(sum))))
	return Where(has, lse, ZerosLike(lse)), has
}

// AreaOverCurve returns the global AoC = P(s⁺ ≤ s⁻) of a batch of retrieval scores: the fraction of
// (positive, negative) pairs, over all queries pooled together, where the positive does not score above
// the negative (ties count as inversions, as in the paper's Lemma 2, so AoC ≤ L_MW_mean / log 2 holds
// for every τ). scores and positives are row-major [Q,N] flattened (any layout works: only the pooled
// sets matter). 1 - AreaOverCurve is the global AUC with ties counted as failures.
func AreaOverCurve(scores []float64, positives []bool) (float64, error) {
	if len(scores) != len(positives) {
		return 0, fmt.Errorf("AreaOverCurve: %d scores but %d positive flags", len(scores), len(positives))
	}
	var pos, neg []float64
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, fmt.Errorf("AreaOverCurve: score %d is NaN", i)
		}
		if positives[i] {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	if len(pos) == 0 || len(neg) == 0 {
		return 0, fmt.Errorf("AreaOverCurve: need at least one positive and one negative, got %d and %d", len(pos), len(neg))
	}
	bad := 0
	for _, p := range pos {
		for _, n := range neg {
			if p <= n {
				bad++
			}
		}
	}
	return float64(bad) / float64(len(pos)*len(neg)), nil
}
