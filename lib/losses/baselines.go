package losses

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Baselines: plain cross-entropy, the Crammer–Singer multiclass hinge and the squared error on one-hot
// targets. Their graph functions take logits [B,K] (float) and labels [B] (int) and return the
// per-example losses [B].

func init() {
	Register(Objective{
		Name: "ce", Paper: "baseline", Kind: Classification, PerExample: true,
		Summary: "cross-entropy: logsumexp(h) - h_y",
		Fn:      func(b Batch, _ Params) *Node { return CrossEntropy(b["logits"], b["labels"]) },
	})
	Register(Objective{
		Name: "hinge", Paper: "baseline", Kind: Classification, PerExample: true,
		Summary: "Crammer–Singer multiclass hinge: max(0, margin + max_{k≠y} h_k - h_y)",
		Params: []Param{{Name: "margin", Default: 1, Min: 0, Max: math.Inf(1),
			Doc: "required gap between the true-class score and the best other score"}},
		Fn: func(b Batch, p Params) *Node { return CrammerSingerHinge(b["logits"], b["labels"], p["margin"]) },
	})
	Register(Objective{
		Name: "mse", Paper: "baseline", Kind: Classification, PerExample: true,
		Summary: "squared error of the raw outputs against one-hot targets: Σ_k (h_k - 1[k=y])²",
		Fn:      func(b Batch, _ Params) *Node { return OneHotMSE(b["logits"], b["labels"]) },
	})
}

// oneHotFor returns the one-hot encoding [B,K] of labels [B] in the dtype of logits [B,K].
func oneHotFor(logits, labels *Node) *Node {
	if logits.Rank() != 2 {
		panicf("logits must be [B,K], got shape %s", logits.Shape())
	}
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != logits.Shape().Dimensions[0] {
		panicf("labels must be [B] with B=%d, got shape %s", logits.Shape().Dimensions[0], labels.Shape())
	}
	return OneHot(labels, logits.Shape().Dimensions[1], logits.DType())
}

// pick returns x[i, y_i] for every row, [B], as a one-hot product (differentiable on every backend;
// we avoid Gather/Slice whose gradients need ops the pure-Go backend lacks).
func pick(x, oneHot *Node) *Node { return ReduceSum(Mul(x, oneHot), -1) }

// logSumExpRows is a numerically stable log Σ_k exp(x_ik) over the last axis, [B].
// The row max is detached: it cancels exactly, so the gradient is unchanged (softmax).
func logSumExpRows(x *Node) *Node {
	m := StopGradient(ReduceAndKeep(x, ReduceMax, -1))
	return Add(Reshape(m, x.Shape().Dimensions[0]), Log(ReduceSum(Exp(Sub(x, m)), -1)))
}

// logPTrue returns log p_y = h_y - logsumexp(h), [B].
func logPTrue(logits, labels *Node) *Node {
	oh := oneHotFor(logits, labels)
	return Sub(pick(logits, oh), logSumExpRows(logits))
}

// CrossEntropy returns the per-example cross-entropy [B] of logits h [B,K] with integer labels y [B]:
//
//	loss_i = log Σ_k exp(h_ik) - h_iy
//
// computed with a detached row max, so it is finite for any finite logits.
func CrossEntropy(logits, labels *Node) *Node { return Neg(logPTrue(logits, labels)) }

// CrammerSingerHinge returns the Crammer–Singer multiclass hinge [B]:
//
//	loss_i = max(0, margin + max_{k≠y} h_ik - h_iy) = max_k (h_ik - h_iy + margin·1[k≠y])
//
// The max over the other classes is taken after replacing the true class's score by the lowest value of
// the dtype (a mask with Where, so no slicing enters the gradient).
func CrammerSingerHinge(logits, labels *Node, margin float64) *Node {
	oh := oneHotFor(logits, labels)
	lowest := Scalar(logits.Graph(), logits.DType(), math.Inf(-1))
	if logits.DType() == dtypes.Float32 {
		lowest = Scalar(logits.Graph(), logits.DType(), -math.MaxFloat32)
	} else {
		lowest = Scalar(logits.Graph(), logits.DType(), -math.MaxFloat64)
	}
	others := Where(ConvertDType(oh, dtypes.Bool), BroadcastToShape(lowest, logits.Shape()), logits)
	gap := Sub(AddScalar(ReduceMax(others, -1), margin), pick(logits, oh))
	return MaxScalar(gap, 0.0)
}

// OneHotMSE returns the squared error [B] of the raw outputs h against one-hot targets e_y:
//
//	loss_i = Σ_k (h_ik - 1[k=y_i])²
//
// It is a sum over classes (not a mean), on the outputs themselves (no softmax): the "spherical family"
// MSE that the Z-loss paper (11-zloss) compares against.
func OneHotMSE(logits, labels *Node) *Node {
	oh := oneHotFor(logits, labels)
	return ReduceSum(Square(Sub(logits, oh)), -1)
}
