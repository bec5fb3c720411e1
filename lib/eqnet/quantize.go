// Package eqnet holds the elastic quantiser of EQ-Net: Xu et al., "EQ-Net: Elastic Quantization Neural
// Networks", ICCV 2023, arXiv:2308.07650. It follows the official code (xuke225/EQ-Net,
// module/base_lsq.py): an LSQ fake-quantiser for any bit-width, granularity and symmetry with
// straight-through gradients (Quantize, and QuantizeRange whose range is a graph value, so one compiled
// graph serves every bit-width), its first-batch step-size search (InitScale) and its forward value on the
// host (QuantizeValue). EQ-Net's training objectives — the weight-distribution regulariser and group
// progressive guidance — are lib/losses' WDRLoss and "gpg".
package eqnet

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

func panicf(format string, args ...any) { panic(fmt.Errorf(format, args...)) }

// eps is the 1e-6 the reference adds to every step size.
const eps = 1e-6

// Range returns the integer range [Q_N, Q_P] of a b-bit quantiser: signed -2^(b-1) .. 2^(b-1)-1
// (weights, activations that can be negative) or unsigned 0 .. 2^b-1 (e.g. post-ReLU activations).
func Range(bits int, signed bool) (qn, qp float64) {
	if signed {
		return -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1) - 1
	}
	return 0, math.Ldexp(1, bits) - 1
}

// GradScale returns LSQ's gradient scale g of the step size and offset: 1/sqrt(Q_P·numel) per layer
// (channels = 0), 2/sqrt(Q_P·numel/channels) per output channel (the reference's factor 2).
// 4-bit signed, per layer, numel 4608: g = 1/sqrt(7·4608) = 0.005568.
func GradScale(qp float64, numel, channels int) float64 {
	if channels <= 0 {
		return 1 / math.Sqrt(qp*float64(numel))
	}
	return 2 / math.Sqrt(qp*float64(numel)/float64(channels))
}

// scaleGrad returns x in the forward pass with its gradient multiplied by g:
// x·g + stopgrad(x - x·g) (LSQ's grad_scale).
func scaleGrad(x *Node, g float64) *Node {
	xg := MulScalar(x, g)
	return Add(xg, StopGradient(Sub(x, xg)))
}

// Quantize returns EQ-Net's fake-quantised x̂ (same shape as x) for step size s and offset β (nil for
// the symmetric forms, β = 0 without gradient):
//
//	s' = gradscale(s, g) + 1e-6,   β' = gradscale(β, g)
//	v  = clip((x - β')/s', Q_N, Q_P),   x̂ = round_STE(v)·s' + β'
//
// with [Q_N, Q_P] = Range(bits, signed). scale and offset must broadcast against x: a scalar per layer,
// or a shape like [C_out, 1, …] per output channel. round_STE(v) = v + stopgrad(round(v) - v), so
// ∂x̂/∂x = 1 inside the range and 0 where clipped, ∂x̂/∂s = (round(v) - v)·g inside and Q_N·g or Q_P·g when
// clipped (LSQ). The value is clipped before rounding, as in the reference. gradScale g: GradScale
// (1 leaves gradients unscaled). parityAbs reproduces the reference's quirk of using |s| and |β| in the
// forward pass (so an asymmetric offset is effectively non-negative); false keeps their signs.
func Quantize(x, scale, offset *Node, bits int, signed bool, gradScale float64, parityAbs bool) *Node {
	if bits < 1 || bits > 16 {
		panicf("eqnet.Quantize: bit-width %d outside [1,16]", bits)
	}
	if !signed && bits < 1 || signed && bits < 2 {
		panicf("eqnet.Quantize: a signed quantiser needs at least 2 bits, got %d", bits)
	}
	dtype := x.DType()
	qn, qp := Range(bits, signed)
	s := ConvertDType(scale, dtype)
	if parityAbs {
		s = Abs(s)
	}
	s = AddScalar(scaleGrad(s, gradScale), eps)
	var beta *Node
	if offset != nil {
		beta = ConvertDType(offset, dtype)
		if parityAbs {
			beta = Abs(beta)
		}
		beta = scaleGrad(beta, gradScale)
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

// InitScale searches a b-bit quantiser's initial step size (and offset, for the asymmetric form) for
// values x, as the official code of Xu et al. (arXiv:2308.07650; module/base_lsq.py) does on the first
// batch. For candidates shrink factors f_i = 1 - 0.01·i (i < candidates; the reference uses 80, and 5 for
// symmetric per-channel) it takes the range [lo, hi] shrunk by f,
//
//	symmetric:  [lo, hi] = [-f·max|x|, f·max|x|] (signed) or [0, f·max|x|] (unsigned),  β = 0
//	asymmetric: [lo, hi] = [f·min x, f·max x],  β = lo - Q_N·s
//	            s = (hi - lo)/(Q_P - Q_N)
//
// so a signed symmetric step is 2·f·max|x|/(Q_P - Q_N), and returns the pair minimising the mean
// |x - x̂|^2.4 of the values quantised with that s and β (as the reference scores them: without the 1e-6
// of the forward pass; the first strictly best candidate wins). For unsigned (non-negative) inputs the
// reference then sets the asymmetric offset to -1e-9 whatever the candidate's β, and so does InitScale.
// For per-channel ranges call it on each output channel's values. Plain float64, no gradient.
func InitScale(x []float64, bits int, signed, symmetric bool, candidates int) (scale, offset float64, err error) {
	if len(x) == 0 || candidates < 1 || candidates > 100 {
		return 0, 0, fmt.Errorf("eqnet.InitScale: need values and 1..100 candidates, got %d values, %d candidates", len(x), candidates)
	}
	lo, hi, amax := math.Inf(1), math.Inf(-1), 0.0
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, fmt.Errorf("eqnet.InitScale: value %d is %g", i, v)
		}
		lo, hi, amax = math.Min(lo, v), math.Max(hi, v), math.Max(amax, math.Abs(v))
	}
	qn, qp := Range(bits, signed)
	best := math.Inf(1)
	for i := range candidates {
		f := 1 - 0.01*float64(i)
		rlo, rhi := f*lo, f*hi
		if symmetric {
			rlo, rhi = -f*amax, f*amax
			if !signed {
				rlo = 0
			}
		}
		s := (rhi - rlo) / (qp - qn)
		var b float64
		if !symmetric {
			b = rlo - qn*s
		}
		if s <= 0 {
			s = 1 // all-zero input: any step quantises it exactly
		}
		e := 0.0
		for _, v := range x {
			e += math.Pow(math.Abs(v-fakeQuant(v, s, b, qn, qp)), 2.4)
		}
		if e /= float64(len(x)); e < best {
			best, scale, offset = e, s, b
		}
	}
	if !symmetric && !signed {
		offset = -1e-9
	}
	return scale, offset, nil
}

// fakeQuant is clip((x - β)/s, Q_N, Q_P) rounded half to even, times s, plus β.
func fakeQuant(x, s, b, qn, qp float64) float64 {
	return math.RoundToEven(math.Min(math.Max((x-b)/s, qn), qp))*s + b
}

// QuantizeValue is Quantize's forward value for one float64 (sign-preserving form), for use
// outside graphs: clip((x - β)/(s + 1e-6), Q_N, Q_P) rounded half to even, times (s + 1e-6), plus β.
func QuantizeValue(x, scale, offset float64, bits int, signed bool) float64 {
	qn, qp := Range(bits, signed)
	return fakeQuant(x, scale+eps, offset, qn, qp)
}

// QuantizeRange is Quantize with the integer range [Q_N, Q_P] and the LSQ gradient scale g given as
// graph values (scalar nodes) instead of Go constants, so that one compiled graph serves every
// bit-width and granularity: an elastic supernet then picks each subnet's bit-widths at every step by
// feeding other values, without building a new graph per configuration. For a b-bit quantiser feed
// qn, qp = Range(b, signed) and g = GradScale(qp, …); the value and all gradients are then those of
// Quantize(x, scale, offset, b, signed, g, parityAbs):
//
//	s' = gradscale(s, g) + 1e-6,   β' = gradscale(β, g)   (β = 0 without gradient when offset is nil)
//	v  = clip((x - β')/s', Q_N, Q_P),   x̂ = round_STE(v)·s' + β'
//
// scale and offset must broadcast against x (a scalar, or [C_out, 1, …] per output channel).
func QuantizeRange(x, scale, offset, qn, qp, gradScale *Node, parityAbs bool) *Node {
	for _, n := range []*Node{qn, qp, gradScale} {
		if n.Rank() != 0 {
			panicf("eqnet.QuantizeRange: Q_N, Q_P and the gradient scale must be scalars, got shape %s", n.Shape())
		}
	}
	dtype := x.DType()
	qn, qp, gradScale = StopGradient(ConvertDType(qn, dtype)), StopGradient(ConvertDType(qp, dtype)), StopGradient(ConvertDType(gradScale, dtype))
	scaleGrad := func(v *Node) *Node { // LSQ's grad_scale: the value of v, its gradient times g
		vg := Mul(v, gradScale)
		return Add(vg, StopGradient(Sub(v, vg)))
	}
	s := ConvertDType(scale, dtype)
	if parityAbs {
		s = Abs(s)
	}
	s = AddScalar(scaleGrad(s), eps)
	beta := ScalarZero(x.Graph(), dtype)
	if offset != nil {
		beta = ConvertDType(offset, dtype)
		if parityAbs {
			beta = Abs(beta)
		}
		beta = scaleGrad(beta)
	}
	v := Min(Max(Div(Sub(x, beta), s), qn), qp)
	q := Add(v, StopGradient(Sub(roundHalfEven(v), v)))
	return Add(Mul(q, s), beta)
}
