// Package normlr holds the step rules of Tyurin, "From Logistic Regression to the Perceptron Algorithm:
// Exploring Gradient Descent with Large Step Sizes", arXiv:2412.08424: gradient descent on the logistic
// loss with large steps (LR+GD), Normalized LR+GD, and the (Normalized) Batch Perceptron they tend to as
// the step grows. The loss itself is lib/losses' "logistic" objective (losses.LogisticLoss).
//
// The steps come twice: as plain Go functions on a linear problem held on the host (LRGDStep,
// NormalizedLRGDStep, BatchPerceptronStep, with LogisticRisk, LinearMargins and Separates), and as a GoMLX
// optimizer for any model (NormalizedGD, with the loss built by NormalizedLogisticLoss).
package normlr

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/losses"
)

func panicf(format string, args ...any) { panic(fmt.Errorf(format, args...)) }

// NormalizedLRScale returns the Normalized LR+GD factor, a detached scalar:
//
//	β = 1 / ( (1/B) Σ_i sigmoid(-m_i) )
//
// β ≥ 1, β = 2 at θ = 0, and β → B/|S| (S the misclassified points) as the step size grows.
// Minimising stopgrad(β)·mean(LogisticLoss) with plain gradient descent at step γ is Normalized LR+GD.
func NormalizedLRScale(scores, labels *Node) *Node {
	m := losses.BinaryMargins("NormalizedLRScale", scores, labels)
	return StopGradient(Inverse(ReduceAllMean(Sigmoid(Neg(m)))))
}

// normLRScaleKey is the graph parameter (root scope) holding β for NormalizedGD.
const normLRScaleKey = "normlr.beta"

// SetNormalizedLRScale records β (a scalar node of graph g, see NormalizedLRScale) for the
// NormalizedGD optimizer of the same graph and context.
func SetNormalizedLRScale(ctx *context.Context, g *Graph, beta *Node) {
	if !beta.Shape().IsScalar() {
		panicf("SetNormalizedLRScale: beta must be a scalar, got shape %s", beta.Shape())
	}
	ctx.InAbsPath(context.RootScope).SetGraphParam(g, normLRScaleKey, StopGradient(beta))
}

// NormalizedLogisticLoss returns the mean logistic loss of scores [B] and 0/1 labels [B], and records
// β = NormalizedLRScale(scores, labels) for the NormalizedGD optimizer (see SetNormalizedLRScale).
// Use it as the training loss with NormalizedGD; its value is the plain logistic loss f(θ).
func NormalizedLogisticLoss(ctx *context.Context, scores, labels *Node) *Node {
	SetNormalizedLRScale(ctx, scores.Graph(), NormalizedLRScale(scores, labels))
	return ReduceAllMean(losses.LogisticLoss(scores, labels))
}

// NormalizedGD is Normalized LR+GD as a GoMLX optimizer (it implements optimizers.Interface):
//
//	θ ← θ - γ·β·∇loss,   β = 1 / mean_i sigmoid(-m_i)
//
// for every trainable variable, with no decay, momentum or state. β must be recorded in the graph
// first, by building the loss with NormalizedLogisticLoss (or calling SetNormalizedLRScale); otherwise
// UpdateGraph panics with an error saying so. With the loss being the mean logistic loss, the step is γ
// times the weighted average Σ w_i y_i a_i / Σ w_i, w_i = sigmoid(-m_i), for a linear model s = Aθ.
type NormalizedGD struct {
	// Gamma is the step size γ (the method's only hyperparameter; the paper recommends it large).
	Gamma float64
}

var _ optimizers.Interface = (*NormalizedGD)(nil)

// UpdateGraph builds the update of the trainable variables for one step. It implements
// optimizers.Interface.
func (o *NormalizedGD) UpdateGraph(ctx *context.Context, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		panicf("NormalizedGD: the loss must be a scalar, got shape %s", loss.Shape())
	}
	if !(o.Gamma > 0) || math.IsInf(o.Gamma, 0) {
		panicf("NormalizedGD: Gamma=%g must be finite and > 0", o.Gamma)
	}
	betaAny, found := ctx.InAbsPath(context.RootScope).GetGraphParam(g, normLRScaleKey)
	beta, ok := betaAny.(*Node)
	if !found || !ok || beta == nil {
		panicf("NormalizedGD: no β recorded for this graph: build the loss with normlr.NormalizedLogisticLoss(ctx, scores, labels) or call normlr.SetNormalizedLRScale")
	}
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	step := MulScalar(beta, o.Gamma)
	i := 0
	for v := range ctx.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) {
			continue
		}
		if i >= len(grads) {
			panicf("NormalizedGD: more trainable variables than gradients (%d)", len(grads))
		}
		value := v.ValueGraph(g)
		s := step
		if s.DType() != value.DType() {
			s = ConvertDType(s, value.DType())
		}
		v.SetValueGraph(Sub(value, Mul(s, grads[i])))
		i++
	}
	optimizers.IncrementGlobalStepGraph(ctx, g, dtypes.Int64)
}

// Clear implements optimizers.Interface: NormalizedGD keeps no variables, so there is nothing to clear.
func (o *NormalizedGD) Clear(*context.Context) error { return nil }
