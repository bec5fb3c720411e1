package losses

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// The logistic loss, the objective of Tyurin, "From Logistic Regression to the Perceptron Algorithm:
// Exploring Gradient Descent with Large Step Sizes", arXiv:2412.08424. The paper's contribution, a step
// rule (LR+GD with large steps, Normalized LR+GD), is in package lib/normlr.

func init() {
	Register(Objective{
		Name: "logistic", Paper: "17-normlr", Kind: Binary, PerExample: true,
		Summary: "logistic loss softplus(-y·s), y = 2t-1 (the loss of LR+GD and Normalized LR+GD)",
		Fn:      func(b Batch, _ Params) *Node { return LogisticLoss(b["scores"], b["labels"]) },
	})
}

// BinaryMargins returns the margins m_i = y_i·s_i [B], y = 2t-1, of scores s [B] and 0/1 labels t [B];
// what names the caller in the panic for a wrong shape.
func BinaryMargins(what string, scores, labels *Node) *Node {
	if scores.Rank() != 1 {
		panicf("%s: scores must be [B], got shape %s", what, scores.Shape())
	}
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != scores.Shape().Dimensions[0] {
		panicf("%s: labels must be [B] with B=%d, got shape %s", what, scores.Shape().Dimensions[0], labels.Shape())
	}
	y := AddScalar(MulScalar(ConvertDType(labels, scores.DType()), 2), -1)
	return Mul(y, scores)
}

// LogisticLoss returns the per-example logistic loss [B] of scores s [B] and 0/1 labels t [B]:
//
//	m_i    = y_i·s_i,  y_i = 2t_i - 1 ∈ {-1,+1}
//	loss_i = log(1 + exp(-m_i)) = softplus(-m_i)
//
// The mean over the batch is the paper's f(θ) when s_i = a_iᵀθ. The softplus is the stable
// max(x,0) + log1p(e^-|x|), so the huge margins of large steps do not overflow in float32.
func LogisticLoss(scores, labels *Node) *Node {
	return Softplus(Neg(BinaryMargins("LogisticLoss", scores, labels)))
}
