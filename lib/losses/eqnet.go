package losses

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// EQ-Net: Xu et al., "EQ-Net: Elastic Quantization Neural Networks", ICCV 2023
// (arXiv 2308.07650). Implemented after the official code (xuke225/EQ-Net, module/base_lsq.py and
// runner/criterion.py as read in the spec): the elastic LSQ quantiser for any bit-width, granularity and
// symmetry with straight-through gradients, the weight-distribution regulariser (WDR-Loss) and the
// group-progressive-guidance (GPG) distillation chain. Subnet sampling and the search stage belong to the
// model/training code.

// EQ-Net's WDR defaults (config kurt_rate, skew_rate; K_T is the kurtosis of a uniform distribution).
const (
	WDRTargetKurtosis = 1.8
	WDRLambdaK        = 0.015
	WDRLambdaS        = 1.0
)

// eqEps is the 1e-6 the reference adds to every step size.
const eqEps = 1e-6

func init() {
	Register(Objective{
		Name: "gpg", Paper: "27-eqnet", Kind: Distillation, PerExample: true,
		Summary: "EQ-Net GPG step: ½·KL(softmax(sg(teacher)) ‖ softmax(student)) + ½·CE(student, y); teacher = the guiding (larger) subnet",
		Fn:      func(b Batch, _ Params) *Node { return GPGLoss(b["student"], b["teacher"], b["labels"]) },
	})
}

// EQRange returns the integer range [Q_N, Q_P] of a b-bit quantiser: signed -2^(b-1) .. 2^(b-1)-1
// (weights, activations that can be negative) or unsigned 0 .. 2^b-1 (e.g. post-ReLU activations).
func EQRange(bits int, signed bool) (qn, qp float64) {
	if signed {
		return -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1) - 1
	}
	return 0, math.Ldexp(1, bits) - 1
}

// EQGradScale returns LSQ's gradient scale g of the step size and offset: 1/sqrt(Q_P·numel) per layer
// (channels = 0), 2/sqrt(Q_P·numel/channels) per output channel (the reference's factor 2).
// 4-bit signed, per layer, numel 4608: g = 1/sqrt(7·4608) = 0.005568.
func EQGradScale(qp float64, numel, channels int) float64 {
	if channels <= 0 {
		return 1 / math.Sqrt(qp*float64(numel))
	}
	return 2 / math.Sqrt(qp*float64(numel)/float64(channels))
}

// eqScaleGrad returns x in the forward pass with its gradient multiplied by g:
// x·g + stopgrad(x - x·g) (LSQ's grad_scale).
func eqScaleGrad(x *Node, g float64) *Node {
	xg := MulScalar(x, g)
	return Add(xg, StopGradient(Sub(x, xg)))
}

// EQQuantize returns EQ-Net's fake-quantised x̂ (same shape as x) for step size s and offset β (nil for
// the symmetric forms, β = 0 without gradient):
//
//	s' = gradscale(s, g) + 1e-6,   β' = gradscale(β, g)
//	v  = clip((x - β')/s', Q_N, Q_P),   x̂ = round_STE(v)·s' + β'
//
// with [Q_N, Q_P] = EQRange(bits, signed). scale and offset must broadcast against x: a scalar per layer,
// or a shape like [C_out, 1, …] per output channel. round_STE(v) = v + stopgrad(round(v) - v), so
// ∂x̂/∂x = 1 inside the range and 0 where clipped, ∂x̂/∂s = (round(v) - v)·g inside and Q_N·g or Q_P·g when
// clipped (LSQ). The value is clipped before rounding, as in the reference. gradScale g: EQGradScale
// (1 leaves gradients unscaled). parityAbs reproduces the reference's quirk of using |s| and |β| in the
// forward pass (so an asymmetric offset is effectively non-negative); false keeps their signs.
func EQQuantize(x, scale, offset *Node, bits int, signed bool, gradScale float64, parityAbs bool) *Node {
	if bits < 1 || bits > 16 {
		panicf("EQQuantize: bit-width %d outside [1,16]", bits)
	}
	if !signed && bits < 1 || signed && bits < 2 {
		panicf("EQQuantize: a signed quantiser needs at least 2 bits, got %d", bits)
	}
	dtype := x.DType()
	qn, qp := EQRange(bits, signed)
	s := ConvertDType(scale, dtype)
	if parityAbs {
		s = Abs(s)
	}
	s = AddScalar(eqScaleGrad(s, gradScale), eqEps)
	var beta *Node
	if offset != nil {
		beta = ConvertDType(offset, dtype)
		if parityAbs {
			beta = Abs(beta)
		}
		beta = eqScaleGrad(beta, gradScale)
	} else {
		beta = ScalarZero(x.Graph(), dtype)
	}
	v := ClipScalar(Div(Sub(x, beta), s), qn, qp)
	q := Add(v, StopGradient(Sub(roundHalfEven(v), v)))
	return Add(Mul(q, s), beta)
}

// roundHalfEven rounds to the nearest integer, ties to even (as PyTorch and XLA do). Workaround: GoMLX
// documents Round as ties-to-even, but the pure-Go backend uses math.Round (ties away from zero), so ties
// are resolved explicitly: for v = n + ½, round(v/2)·2 is the even neighbour (v/2 is never a tie).
func roundHalfEven(v *Node) *Node {
	tie := Equal(Sub(v, Floor(v)), Scalar(v.Graph(), v.DType(), 0.5))
	return Where(tie, MulScalar(Round(DivScalar(v, 2)), 2), Round(v))
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

// EQInitScale searches a b-bit quantiser's initial step size (and offset, for the asymmetric form) for
// values x, as in the reference's first-batch initialisation: for candidates shrink factors
// f_i = 1 - 0.01·i (i < candidates; the reference uses 80, and 5 for symmetric per-channel), it takes
//
//	symmetric:  s = f·max|x| / Q_P,  β = 0
//	asymmetric: s = f·(max x - min x)/(Q_P - Q_N),  β = f·min x - Q_N·s
//
// (our reading of "shrink factors of the max/min range") and returns the pair minimising
// mean |x - x̂|^2.4 of the quantised values (plain float64, no gradient).
func EQInitScale(x []float64, bits int, signed, symmetric bool, candidates int) (scale, offset float64, err error) {
	if len(x) == 0 || candidates < 1 || candidates > 100 {
		return 0, 0, fmt.Errorf("EQInitScale: need values and 1..100 candidates, got %d values, %d candidates", len(x), candidates)
	}
	lo, hi, amax := math.Inf(1), math.Inf(-1), 0.0
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, fmt.Errorf("EQInitScale: value %d is %g", i, v)
		}
		lo, hi, amax = math.Min(lo, v), math.Max(hi, v), math.Max(amax, math.Abs(v))
	}
	qn, qp := EQRange(bits, signed)
	best := math.Inf(1)
	for i := range candidates {
		f := 1 - 0.01*float64(i)
		var s, b float64
		if symmetric {
			s = f * amax / qp
		} else {
			s = f * (hi - lo) / (qp - qn)
			b = f*lo - qn*s
		}
		if s <= 0 {
			s = 1 // all-zero input: any step quantises it exactly
		}
		e := 0.0
		for _, v := range x {
			e += math.Pow(math.Abs(v-EQQuantizeValue(v, s, b, bits, signed)), 2.4)
		}
		if e /= float64(len(x)); e < best {
			best, scale, offset = e, s, b
		}
	}
	return scale, offset, nil
}

// EQQuantizeValue is EQQuantize's forward value for one float64 (sign-preserving form), for use
// outside graphs: clip((x - β)/(s + 1e-6), Q_N, Q_P) rounded half to even, times (s + 1e-6), plus β.
func EQQuantizeValue(x, scale, offset float64, bits int, signed bool) float64 {
	qn, qp := EQRange(bits, signed)
	s := scale + eqEps
	v := math.Min(math.Max((x-offset)/s, qn), qp)
	return math.RoundToEven(v)*s + offset
}
