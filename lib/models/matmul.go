package models

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Product returns the matrix product a·b of a [M,K] and b [K,N], as a [M,N] node whose reverse-mode
// gradient is itself computed with two DotGeneral products:
//
//	∂L/∂a = (∂L/∂y)·bᵀ    ∂L/∂b = aᵀ·(∂L/∂y)
//
// Why: GoMLX v0.26's gradient rule for Dot/DotGeneral materialises a broadcast product of shape
// [M,K,N] and reduces it (for a 784→256 layer at batch 256 that is 51M floats per step), which makes
// training ~15× slower on the pure-Go backend. Product keeps the same value and the same gradients, but
// builds them as matrix products.
//
// How (GoMLX only offers single-input custom gradients, graph.IdentityWithCustomGradient):
//
//   - The forward product is taken of StopGradient copies of a and b, so GoMLX never builds its own
//     Dot gradient.
//   - The product passes through an identity with a custom gradient that records the incoming
//     adjoint dy = ∂L/∂y (it passes dy on unchanged; nothing is upstream of it but the stopped product).
//   - a and b each pass through an identity with a custom gradient that ignores its own incoming
//     adjoint and returns the matrix-product gradient above, computed from the recorded dy.
//   - Those two identities are tied to the output by a term that is exactly zero
//     (Where(false, Σa+Σb, 0)), so reverse-mode reaches them. GoMLX visits nodes in reverse creation
//     order, and the output identity is created after the a and b identities, so dy is always
//     recorded before they need it.
//
// The result is exact (same float32 values as GoMLX's rule up to summation order), differentiable by
// every objective downstream, and checked against central finite differences in the tests.
// Second-order gradients through Product are not supported (they would be zero).
func Product(a, b *Node) *Node {
	if a.Rank() != 2 || b.Rank() != 2 || a.Shape().Dimensions[1] != b.Shape().Dimensions[0] {
		panic(fmt.Errorf("models.Product: want a [M,K] and b [K,N], got a %s and b %s", a.Shape(), b.Shape()))
	}
	if a.DType() != b.DType() {
		panic(fmt.Errorf("models.Product: a is %s but b is %s", a.DType(), b.DType()))
	}
	var dy *Node // ∂L/∂y, recorded during the reverse pass.
	ag := IdentityWithCustomGradient(a, func(_, v *Node) *Node {
		if dy == nil {
			return ZerosLike(v)
		}
		return DotGeneral(dy, []int{1}, nil, b, []int{1}, nil) // [M,N]·[K,N]ᵀ → [M,K]
	})
	bg := IdentityWithCustomGradient(b, func(_, v *Node) *Node {
		if dy == nil {
			return ZerosLike(v)
		}
		return DotGeneral(a, []int{0}, nil, dy, []int{0}, nil) // [M,K]ᵀ·[M,N] → [K,N]
	})
	tie := zeroTie(ag, bg) // before the product: see zeroTie
	y := DotGeneral(StopGradient(ag), []int{1}, nil, StopGradient(bg), []int{0}, nil)
	y = IdentityWithCustomGradient(y, func(_, v *Node) *Node {
		dy = v
		return v
	})
	return Add(y, tie)
}

// BatchProduct returns the batched product a·b of a [N,M,K] and b [N,K,P] → [N,M,P], with gradients
// computed as batched matrix products (see Product for the construction and why it is needed).
func BatchProduct(a, b *Node) *Node {
	if a.Rank() != 3 || b.Rank() != 3 || a.Shape().Dimensions[0] != b.Shape().Dimensions[0] ||
		a.Shape().Dimensions[2] != b.Shape().Dimensions[1] {
		panic(fmt.Errorf("models.BatchProduct: want a [N,M,K] and b [N,K,P], got a %s and b %s", a.Shape(), b.Shape()))
	}
	if a.DType() != b.DType() {
		panic(fmt.Errorf("models.BatchProduct: a is %s but b is %s", a.DType(), b.DType()))
	}
	var dy *Node
	ag := IdentityWithCustomGradient(a, func(_, v *Node) *Node {
		if dy == nil {
			return ZerosLike(v)
		}
		return DotGeneral(dy, []int{2}, []int{0}, b, []int{2}, []int{0}) // [N,M,P]·[N,K,P]ᵀ → [N,M,K]
	})
	bg := IdentityWithCustomGradient(b, func(_, v *Node) *Node {
		if dy == nil {
			return ZerosLike(v)
		}
		return DotGeneral(a, []int{1}, []int{0}, dy, []int{1}, []int{0}) // [N,M,K]ᵀ·[N,M,P] → [N,K,P]
	})
	tie := zeroTie(ag, bg) // before the product: see zeroTie
	y := DotGeneral(StopGradient(ag), []int{2}, []int{0}, StopGradient(bg), []int{1}, []int{0})
	y = IdentityWithCustomGradient(y, func(_, v *Node) *Node {
		dy = v
		return v
	})
	return Add(y, tie)
}

// zeroTie returns a scalar that is exactly 0 (even if a or b hold NaN or ±Inf) but depends on a and b,
// so reverse-mode autodiff visits them. It reads one element of each (a Gather: no copy of its operand,
// and a gradient the pure-Go backend has), not their sums: in a forward pass that was a full reduction of
// the data per product. Built before the product, so that the product's StopGradient is the last use of
// a and b's identities and the backend passes their buffers through instead of copying them.
func zeroTie(a, b *Node) *Node {
	first := func(x *Node) *Node {
		return ReduceAllSum(Gather(x, Const(x.Graph(), [][]int32{make([]int32, x.Rank())})))
	}
	s := Add(first(a), first(b))
	return Where(Const(a.Graph(), false), s, ZerosLike(s))
}

// Project applies Product to the last axis of x: x [..., K] · w [K, N] → [..., N].
func Project(x, w *Node) *Node {
	if x.Rank() == 2 {
		return Product(x, w)
	}
	dims := x.Shape().Dimensions
	k := dims[len(dims)-1]
	rows := x.Shape().Size() / max(k, 1)
	y := Product(Reshape(x, rows, k), w)
	out := append(append([]int{}, dims[:len(dims)-1]...), w.Shape().Dimensions[1])
	return Reshape(y, out...)
}
