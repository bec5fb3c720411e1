package losses

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// EQQuantizeRange is EQQuantize with the integer range [Q_N, Q_P] and the LSQ gradient scale g given as
// graph values (scalar nodes) instead of Go constants, so that one compiled graph serves every
// bit-width and granularity: an elastic supernet then picks each subnet's bit-widths at every step by
// feeding other values, without building a new graph per configuration. For a b-bit quantiser feed
// qn, qp = EQRange(b, signed) and g = EQGradScale(qp, …); the value and all gradients are then those of
// EQQuantize(x, scale, offset, b, signed, g, parityAbs):
//
//	s' = gradscale(s, g) + 1e-6,   β' = gradscale(β, g)   (β = 0 without gradient when offset is nil)
//	v  = clip((x - β')/s', Q_N, Q_P),   x̂ = round_STE(v)·s' + β'
//
// scale and offset must broadcast against x (a scalar, or [C_out, 1, …] per output channel).
func EQQuantizeRange(x, scale, offset, qn, qp, gradScale *Node, parityAbs bool) *Node {
	for _, n := range []*Node{qn, qp, gradScale} {
		if n.Rank() != 0 {
			panicf("EQQuantizeRange: Q_N, Q_P and the gradient scale must be scalars, got shape %s", n.Shape())
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
	s = AddScalar(scaleGrad(s), eqEps)
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
