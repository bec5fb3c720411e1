package blas

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Large element-wise operations on float32/float64 run on all cores: after the matrix products moved to
// OpenBLAS, the pure-Go backend's single-threaded Add, Mul, Sign, ... were the largest cost of a training
// step. Each kernel computes exactly what the pure-Go backend computes (the same float operations, in the
// same precision), so results are bit for bit the same; only the work is split.

// minParallel is the smallest element count split across cores.
const minParallel = 1 << 15

// parallelCalls counts the element-wise operations run split across cores; broadcastCalls those with one
// side broadcast.
var parallelCalls, broadcastCalls atomicCounter

// binaryOps and unaryOps are the operations handled here.
var binaryOps = []backends.OpType{
	backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax, backends.OpTypeMin,
}

var unaryOps = []backends.OpType{
	backends.OpTypeNeg, backends.OpTypeAbs, backends.OpTypeSign, backends.OpTypeSqrt, backends.OpTypeExp,
	backends.OpTypeLog, backends.OpTypeTanh,
}

// binaryChunk computes c[i] = a[i] op b[i] for i in [lo, hi); a side of length 1 is used for every i
// (its index is masked to 0). One loop per operation keeps the arithmetic inlined.
func binaryChunk[T float32 | float64](op backends.OpType, a, b, c []T, lo, hi int) {
	ma, mb := -1, -1
	if len(a) == 1 {
		ma = 0
	}
	if len(b) == 1 {
		mb = 0
	}
	switch op {
	case backends.OpTypeAdd:
		for i := lo; i < hi; i++ {
			c[i] = a[i&ma] + b[i&mb]
		}
	case backends.OpTypeSub:
		for i := lo; i < hi; i++ {
			c[i] = a[i&ma] - b[i&mb]
		}
	case backends.OpTypeMul:
		for i := lo; i < hi; i++ {
			c[i] = a[i&ma] * b[i&mb]
		}
	case backends.OpTypeDiv:
		for i := lo; i < hi; i++ {
			c[i] = a[i&ma] / b[i&mb]
		}
	case backends.OpTypeMax:
		for i := lo; i < hi; i++ {
			c[i] = max(a[i&ma], b[i&mb])
		}
	case backends.OpTypeMin:
		for i := lo; i < hi; i++ {
			c[i] = min(a[i&ma], b[i&mb])
		}
	}
}

// unaryChunk computes y[i] = op(x[i]) for i in [lo, hi), in the same precision as the pure-Go backend
// (transcendental functions through float64).
func unaryChunk[T float32 | float64](op backends.OpType, x, y []T, lo, hi int) {
	switch op {
	case backends.OpTypeNeg:
		for i := lo; i < hi; i++ {
			y[i] = -x[i]
		}
	case backends.OpTypeAbs:
		for i := lo; i < hi; i++ {
			if v := x[i]; v < 0 {
				y[i] = -v
			} else {
				y[i] = v
			}
		}
	case backends.OpTypeSign:
		for i := lo; i < hi; i++ {
			switch v := x[i]; {
			case v < 0:
				y[i] = -1
			case v > 0:
				y[i] = 1
			default: // zero and NaN, as the pure-Go backend does
				y[i] = 0
			}
		}
	case backends.OpTypeSqrt:
		for i := lo; i < hi; i++ {
			y[i] = T(math.Sqrt(float64(x[i])))
		}
	case backends.OpTypeExp:
		for i := lo; i < hi; i++ {
			y[i] = T(math.Exp(float64(x[i])))
		}
	case backends.OpTypeLog:
		for i := lo; i < hi; i++ {
			y[i] = T(math.Log(float64(x[i])))
		}
	case backends.OpTypeTanh:
		for i := lo; i < hi; i++ {
			y[i] = T(math.Tanh(float64(x[i])))
		}
	}
}

// originals of the element-wise executors replaced.
var originalEW [backends.OpTypeLast]executor

func installElementwise() {
	for _, op := range binaryOps {
		originalEW[op] = nodeExecutors[op]
		nodeExecutors[op] = binaryExecutor(op)
	}
	for _, op := range unaryOps {
		originalEW[op] = nodeExecutors[op]
		nodeExecutors[op] = unaryExecutor(op)
	}
	for op, ex := range map[backends.OpType]executor{
		backends.OpTypeTranspose: execTranspose, backends.OpTypeGather: execGather, backends.OpTypeScatterSum: execScatterSum,
		backends.OpTypeReduceSum: execReduce(backends.OpTypeReduceSum), backends.OpTypeReduceMax: execReduce(backends.OpTypeReduceMax),
	} {
		originalEW[op] = nodeExecutors[op]
		nodeExecutors[op] = ex
	}
}

// split runs fn on [0, n) cut into one contiguous block per core.
func split(n int, fn func(lo, hi int)) { splitWork(n, n, fn) }

// splitWork is split for n items that hold work elements in all: it splits only when work is large.
func splitWork(n, work int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p > 8 {
		p = 8
	}
	p = min(p, n)
	if p < 2 || work < minParallel {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + p - 1) / p
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
	parallelCalls.add(1)
}

// output reuses an input the executor owns (its last use) when it has the output's shape, as the pure-Go
// backend does, and tells the executor so by clearing its slot; otherwise it takes a buffer from the pool.
func output(be *simplego.Backend, inputs []*simplego.Buffer, owned []bool, node *simplego.Node) (*simplego.Buffer, error) {
	shape := nodeShape(node)
	for i := len(inputs) - 1; i >= 0; i-- {
		if !owned[i] || inputs[i] == nil {
			continue
		}
		if s, err := be.BufferShape(inputs[i]); err == nil && s.Equal(shape) {
			out := inputs[i]
			inputs[i] = nil
			return out, nil
		}
	}
	return be.NewBuffer(shape), nil
}

func binaryExecutor(op backends.OpType) executor {
	return func(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		orig := originalEW[op]
		if !isBLAS(be, partElementwise) {
			return orig(be, node, inputs, owned)
		}
		ls, err1 := be.BufferShape(inputs[0])
		rs, err2 := be.BufferShape(inputs[1])
		out := nodeShape(node)
		if err1 != nil || err2 != nil || out.Size() < minParallel || ls.DType != rs.DType ||
			(ls.DType != dtypes.Float32 && ls.DType != dtypes.Float64) {
			return orig(be, node, inputs, owned)
		}
		// Same shapes, or one side a single value, or one side broadcast along leading or trailing axes
		// (a bias row, a per-example value); other broadcasts stay with the pure-Go kernel.
		lk, rk := classify(ls, out), classify(rs, out)
		rowLen := 0
		switch {
		case lk.kind == bFull && rk.kind == bFull, lk.kind == bScalar && rk.kind == bFull, lk.kind == bFull && rk.kind == bScalar:
		case lk.kind == bFull && rk.kind >= bMod:
			rowLen = rk.rowLen
		case rk.kind == bFull && lk.kind >= bMod:
			rowLen = lk.rowLen
		default:
			return orig(be, node, inputs, owned)
		}
		a, _ := be.BufferData(inputs[0])
		b, _ := be.BufferData(inputs[1])
		res, err := output(be, inputs, owned, node)
		if err != nil {
			return nil, err
		}
		c, _ := be.BufferData(res)
		switch c := c.(type) {
		case []float32:
			binaryApply(op, a.([]float32), b.([]float32), c, lk, rk, rowLen)
		case []float64:
			binaryApply(op, a.([]float64), b.([]float64), c, lk, rk, rowLen)
		}
		return res, nil
	}
}

// How an operand of a binary operation covers the output.
const (
	bFull   = iota // the output's shape
	bScalar        // a single value
	bMod           // repeats along the leading axes: element i of the output reads element i mod rowLen
	bDiv           // constant along the trailing axes: element i reads element i / rowLen
)

type bcast struct{ kind, rowLen int }

// classify says how an operand of shape s (same rank as out, each dimension equal or 1) covers out.
func classify(s, out shapes.Shape) bcast {
	switch {
	case s.Size() == out.Size():
		return bcast{kind: bFull}
	case s.Size() == 1:
		return bcast{kind: bScalar}
	case s.Rank() != out.Rank():
		return bcast{kind: -1}
	}
	d := s.Dimensions
	// Leading ones, then equal to out: repeats every prod(out[k:]) elements.
	k := 0
	for k < len(d) && d[k] == 1 && out.Dimensions[k] != 1 {
		k++
	}
	if k > 0 && slices.Equal(d[k:], out.Dimensions[k:]) {
		return bcast{kind: bMod, rowLen: s.Size()}
	}
	// Equal to out, then trailing ones: constant over prod(out[k:]) elements.
	k = len(d)
	for k > 0 && d[k-1] == 1 && out.Dimensions[k-1] != 1 {
		k--
	}
	if k < len(d) && slices.Equal(d[:k], out.Dimensions[:k]) {
		return bcast{kind: bDiv, rowLen: out.Size() / s.Size()}
	}
	return bcast{kind: -1}
}

// binaryApply runs binaryChunk over the whole output, row by row when one side is broadcast (each row then
// pairs a full row with the repeated row, or with the row's single value).
func binaryApply[T float32 | float64](op backends.OpType, a, b, c []T, lk, rk bcast, rowLen int) {
	if rowLen == 0 {
		split(len(c), func(lo, hi int) { binaryChunk(op, a, b, c, lo, hi) })
		return
	}
	broadcastCalls.add(1)
	part := func(x []T, k bcast, r int) []T {
		switch k.kind {
		case bFull:
			return x[r*rowLen : (r+1)*rowLen]
		case bDiv:
			return x[r : r+1]
		}
		return x // bMod: the whole operand is one row
	}
	splitWork(len(c)/rowLen, len(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			binaryChunk(op, part(a, lk, r), part(b, rk, r), c[r*rowLen:(r+1)*rowLen], 0, rowLen)
		}
	})
}

func unaryExecutor(op backends.OpType) executor {
	return func(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		orig := originalEW[op]
		if !isBLAS(be, partElementwise) {
			return orig(be, node, inputs, owned)
		}
		s, err := be.BufferShape(inputs[0])
		if err != nil || s.Size() < minParallel || (s.DType != dtypes.Float32 && s.DType != dtypes.Float64) ||
			!s.Equal(nodeShape(node)) {
			return orig(be, node, inputs, owned)
		}
		x, _ := be.BufferData(inputs[0])
		res, err := output(be, inputs, owned, node)
		if err != nil {
			return nil, err
		}
		y, _ := be.BufferData(res)
		switch y := y.(type) {
		case []float32:
			x := x.([]float32)
			split(len(y), func(lo, hi int) { unaryChunk(op, x, y, lo, hi) })
		case []float64:
			x := x.([]float64)
			split(len(y), func(lo, hi int) { unaryChunk(op, x, y, lo, hi) })
		}
		return res, nil
	}
}
