package losses

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// EQ-Net's objectives: Xu et al., "EQ-Net: Elastic Quantization Neural Networks", ICCV 2023
// (arXiv 2308.07650), after the official code (xuke225/EQ-Net, runner/criterion.py): the
// weight-distribution regulariser (WDR-Loss) and the group-progressive-guidance (GPG) distillation chain.
// The elastic quantiser is package lib/eqnet; subnet sampling and the search stage belong to the
// model/training code.

// EQ-Net's WDR defaults (config kurt_rate, skew_rate; K_T is the kurtosis of a uniform distribution).
const (
	WDRTargetKurtosis = 1.8
	WDRLambdaK        = 0.015
	WDRLambdaS        = 1.0
)

func init() {
	Register(Objective{
		Name: "gpg", Paper: "27-eqnet", Kind: Distillation, PerExample: true,
		Summary: "EQ-Net GPG step: ½·KL(softmax(sg(teacher)) ‖ softmax(student)) + ½·CE(student, y); teacher = the guiding (larger) subnet",
		Fn:      func(b Batch, _ Params) *Node { return GPGLoss(b["student"], b["teacher"], b["labels"]) },
	})
}

// EQMoments returns the skewness and kurtosis of all entries of w (any shape), with the unbiased
// standard deviation σ as in the reference's criterion:
//
//	skew = mean(((w - μ)/σ)³),   kurt = mean(((w - μ)/σ)⁴)
//
// Both are invariant to positive affine maps w → a·w + b. w needs at least 2 entries that differ.
func EQMoments(w *Node) (skew, kurt *Node) {
	n := w.Shape().Size()
	if n < 2 {
		panicf("EQMoments: need at least 2 weights, got shape %s", w.Shape())
	}
	flat := Reshape(w, n)
	c := Sub(flat, ReduceAllMean(flat))
	sigma := Sqrt(DivScalar(ReduceAllSum(Square(c)), float64(n-1)))
	z := Div(c, sigma)
	z2 := Square(z)
	return ReduceAllMean(Mul(z2, z)), ReduceAllMean(Square(z2))
}

// WDRLoss returns EQ-Net's weight-distribution regulariser over a set of weight tensors (the reference
// takes every Conv/Linear weight except the first in module order; the caller chooses the list):
//
//	L_WDR = λ_K·(1/|𝓛|) Σ_l (kurt(W_l) - K_T)²  +  λ_S·(1/|𝓛|) Σ_l skew(W_l)²
//
// with K_T = 1.8 (WDRTargetKurtosis), λ_K = 0.015 and λ_S = 1 by default (WDRLambdaK, WDRLambdaS). It acts
// on the latent full-precision weights and pushes them towards a flat, symmetric distribution.
func WDRLoss(weights []*Node, lambdaK, lambdaS, targetK float64) *Node {
	if len(weights) == 0 {
		panicf("WDRLoss: no weights given")
	}
	var kTerm, sTerm *Node
	for _, w := range weights {
		skew, kurt := EQMoments(w)
		dk := Square(AddScalar(kurt, -targetK))
		ds := Square(skew)
		if kTerm == nil {
			kTerm, sTerm = dk, ds
		} else {
			kTerm, sTerm = Add(kTerm, ConvertDType(dk, kTerm.DType())), Add(sTerm, ConvertDType(ds, sTerm.DType()))
		}
	}
	l := float64(len(weights))
	return Add(MulScalar(kTerm, lambdaK/l), MulScalar(sTerm, lambdaS/l))
}

// GPGLoss returns one step of EQ-Net's group progressive guidance per example, [B]: the subnet's logits
// z_k [B,K] are guided by the previous (larger) subnet's logits ẑ [B,K] (detached) at temperature 1:
//
//	L_k,i = ½·KL(softmax(ẑ_i) ‖ softmax(z_k,i)) + ½·CE(z_k,i, y_i)
//
// Its mean over the batch is the reference's L_k (KL averaged per batch). If z_k = ẑ the KL part is 0.
func GPGLoss(student, guide, labels *Node) *Node {
	if student.Rank() != 2 || !guide.Shape().Equal(student.Shape()) {
		panicf("GPGLoss: subnet and guiding logits must both be [B,K], got %s and %s", student.Shape(), guide.Shape())
	}
	logQ := LogSoftmax(StopGradient(guide), -1)
	logP := LogSoftmax(student, -1)
	kl := ReduceSum(Mul(Exp(logQ), Sub(logQ, logP)), -1)
	return MulScalar(Add(kl, CrossEntropy(student, labels)), 0.5)
}

// GPGChain returns the whole GPG objective of one sandwich step over n subnets' logits (largest first:
// z_0 the max subnet, …, z_{n-1} the min subnet), the loss whose gradients are accumulated before the one
// optimiser step:
//
//	L = mean CE(z_0, y) + Σ_{k=1}^{n-1} mean_i L_k,i(z_k, ẑ_k),   ẑ_k = stopgrad(z_{k-1})
//
// so each subnet is guided by the previous, larger one (the "progressive" chain). With n = 1 it is plain
// CE on the max subnet. Add the WDR terms (WDRLoss) for the full step.
func GPGChain(logits []*Node, labels *Node) *Node {
	if len(logits) == 0 {
		panicf("GPGChain: no subnet logits given")
	}
	total := ReduceAllMean(CrossEntropy(logits[0], labels))
	for k := 1; k < len(logits); k++ {
		total = Add(total, ReduceAllMean(GPGLoss(logits[k], logits[k-1], labels)))
	}
	return total
}
