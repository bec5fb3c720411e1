package blas

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/losslab/losslab/lib/backend/openblas"
)

// minDotWork is the smallest product (M·N·K per batch item) sent to OpenBLAS; smaller ones stay with the
// pure-Go kernel, whose per-call cost is lower than a foreign call's.
const minDotWork = 512

// gemmCalls counts the products run on OpenBLAS (tests use it to prove the fast path is taken).
var gemmCalls atomic.Int64

// GemmCalls returns how many matrix products this process has run on OpenBLAS.
func GemmCalls() int64 { return gemmCalls.Load() }

// operand says how one side of a product is laid out in memory.
type operand struct {
	perm  []int // the axes in the order batch..., free..., contracting... (free: lhs rows or rhs columns)
	trans bool  // memory holds [batch, K, X] rather than [batch, X, K]
	copy  bool  // neither: transpose into [batch, X, K] first
}

// layout classifies an operand. Axes of size 1 do not affect the memory order, so they are ignored when
// deciding whether the data already is in one of the two layouts gemm reads directly.
func layout(dims []int, batch, contract []int) operand {
	rank := len(dims)
	role := make([]byte, rank)
	for _, a := range batch {
		role[a] = 'b'
	}
	for _, a := range contract {
		role[a] = 'c'
	}
	var free []int
	for a := 0; a < rank; a++ {
		if role[a] == 0 {
			free = append(free, a)
		}
	}
	bxk := slices.Concat(batch, free, contract)
	if inMemoryOrder(bxk, dims) {
		return operand{perm: bxk}
	}
	if inMemoryOrder(slices.Concat(batch, contract, free), dims) {
		return operand{perm: bxk, trans: true}
	}
	return operand{perm: bxk, copy: true}
}

// inMemoryOrder reports whether reading the axes in the order perm visits memory in order.
func inMemoryOrder(perm, dims []int) bool {
	last := -1
	for _, a := range perm {
		if dims[a] == 1 {
			continue
		}
		if a < last {
			return false
		}
		last = a
	}
	return true
}

// execDotGeneral runs a DotGeneral of a "blas" backend on OpenBLAS; anything else goes to GoMLX's own kernel.
func execDotGeneral(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	orig := original.dot
	if !isBLAS(be, partDot) {
		return orig(be, node, inputs, owned)
	}
	lhsShape, err := be.BufferShape(inputs[0])
	if err != nil {
		return nil, err
	}
	rhsShape, err := be.BufferShape(inputs[1])
	if err != nil {
		return nil, err
	}
	dtype := lhsShape.DType
	if !isFloat(dtype) || rhsShape.DType != dtype {
		return orig(be, node, inputs, owned)
	}
	p, ok := dotParamsOf(node)
	if !ok {
		return orig(be, node, inputs, owned)
	}
	out := nodeShape(node) // [batch, M, N]
	if out.Rank() != 3 {
		return nil, fmt.Errorf("blas: DotGeneral output shape %s is not [batch, M, N]", out)
	}
	nb, m, n := out.Dimensions[0], out.Dimensions[1], out.Dimensions[2]
	k := 1
	for _, a := range p.lhsContract {
		k *= lhsShape.Dimensions[a]
	}
	if m*n*k < minDotWork || nb*m*k != lhsShape.Size() || nb*n*k != rhsShape.Size() {
		return orig(be, node, inputs, owned)
	}
	lhsL := layout(lhsShape.Dimensions, p.lhsBatch, p.lhsContract)
	rhsL := layout(rhsShape.Dimensions, p.rhsBatch, p.rhsContract)

	lhsData, err := be.BufferData(inputs[0])
	if err != nil {
		return nil, err
	}
	rhsData, err := be.BufferData(inputs[1])
	if err != nil {
		return nil, err
	}
	var tmp []*simplego.Buffer
	defer func() {
		for _, t := range tmp {
			_ = be.BufferFinalize(t)
		}
	}()
	// transposed returns the operand's data as [batch, X, K], copying when needed.
	transposed := func(data any, dims []int, l operand) any {
		if !l.copy {
			return data
		}
		buf := be.NewBuffer(shapes.Make(dtype, prod(dims)))
		tmp = append(tmp, buf)
		dst, _ := be.BufferData(buf)
		switch src := data.(type) {
		case []float32:
			permute(dst.([]float32), src, dims, l.perm)
		case []float64:
			permute(dst.([]float64), src, dims, l.perm)
		}
		return dst
	}
	lhsData = transposed(lhsData, lhsShape.Dimensions, lhsL)
	rhsData = transposed(rhsData, rhsShape.Dimensions, rhsL)

	output := be.NewBuffer(out)
	outData, err := be.BufferData(output)
	if err != nil {
		return nil, err
	}
	// lhs: [M, K] (NoTrans, lda = K) or stored [K, M] (Trans, lda = M).
	transA, lda := int32(openblas.NoTrans), int32(k)
	if lhsL.trans {
		transA, lda = openblas.Trans, int32(m)
	}
	// rhs must act as [K, N]: stored [N, K] (Trans, ldb = K) or [K, N] (NoTrans, ldb = N).
	transB, ldb := int32(openblas.Trans), int32(k)
	if rhsL.trans {
		transB, ldb = openblas.NoTrans, int32(n)
	}
	switch c := outData.(type) {
	case []float32:
		a, b := lhsData.([]float32), rhsData.([]float32)
		for i := 0; i < nb; i++ {
			openblas.Sgemm(openblas.RowMajor, transA, transB, int32(m), int32(n), int32(k), 1,
				&a[i*m*k], lda, &b[i*n*k], ldb, 0, &c[i*m*n], int32(n))
		}
	case []float64:
		a, b := lhsData.([]float64), rhsData.([]float64)
		for i := 0; i < nb; i++ {
			openblas.Dgemm(openblas.RowMajor, transA, transB, int32(m), int32(n), int32(k), 1,
				&a[i*m*k], lda, &b[i*n*k], ldb, 0, &c[i*m*n], int32(n))
		}
	}
	gemmCalls.Add(int64(nb))
	return output, nil
}
