package blas

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// Large element-wise operations on float32/float64 run on all cores: after the matrix products moved to
// OpenBLAS, the pure-Go backend's single-threaded Add, Mul, Sign, ... were the largest cost of a training
// step. Each kernel computes exactly what the pure-Go backend computes (the same float operations, in the
// same precision), so results are bit for bit the same; only the work is split.

// minParallel is the smallest element count split across cores.
const minParallel = 1 << 15

// parallelCalls counts the element-wise operations run split across cores; broadcastCalls those with one
// side broadcast.
var parallelCalls, broadcastCalls atomic.Int64

// binaryOps and unaryOps are the operations handled here.
var binaryOps = []backends.OpType{
	backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax, backends.OpTypeMin,
}

var unaryOps = []backends.OpType{
	backends.OpTypeNeg, backends.OpTypeAbs, backends.OpTypeSign, backends.OpTypeSqrt, backends.OpTypeExp,
	backends.OpTypeLog, backends.OpTypeTanh,
}

// binaryChunk computes c[i] = a[i] op b[i] for i in [lo, hi); a side of length 1 is used for every i.
// One plain loop per operation and case keeps the arithmetic inlined and the bounds checks out of the loop.
func binaryChunk[T float32 | float64](op backends.OpType, a, b, c []T, lo, hi int) {
	c = c[lo:hi]
	switch {
	case len(a) == 1:
		binaryScalarLeft(op, a[0], b[lo:hi], c)
	case len(b) == 1:
		binaryScalarRight(op, a[lo:hi], b[0], c)
	default:
		binarySame(op, a[lo:hi], b[lo:hi], c)
	}
}

// binarySame: both operands full.
func binarySame[T float32 | float64](op backends.OpType, a, b, c []T) {
	a, b = a[:len(c)], b[:len(c)]
	switch op {
	case backends.OpTypeAdd:
		for i := range c {
			x, y := a[i], b[i]
			c[i] = x + y
		}
	case backends.OpTypeSub:
		for i := range c {
			x, y := a[i], b[i]
			c[i] = x - y
		}
	case backends.OpTypeMul:
		for i := range c {
			x, y := a[i], b[i]
			c[i] = x * y
		}
	case backends.OpTypeDiv:
		for i := range c {
			x, y := a[i], b[i]
			c[i] = x / y
		}
	case backends.OpTypeMax:
		for i := range c {
			x, y := a[i], b[i]
			c[i] = max(x, y)
		}
	case backends.OpTypeMin:
		for i := range c {
			x, y := a[i], b[i]
			c[i] = min(x, y)
		}
	}
}

// binaryScalarRight: b is one value.
func binaryScalarRight[T float32 | float64](op backends.OpType, a []T, y0 T, c []T) {
	a = a[:len(c)]
	switch op {
	case backends.OpTypeAdd:
		for i := range c {
			x, y := a[i], y0
			c[i] = x + y
		}
	case backends.OpTypeSub:
		for i := range c {
			x, y := a[i], y0
			c[i] = x - y
		}
	case backends.OpTypeMul:
		for i := range c {
			x, y := a[i], y0
			c[i] = x * y
		}
	case backends.OpTypeDiv:
		for i := range c {
			x, y := a[i], y0
			c[i] = x / y
		}
	case backends.OpTypeMax:
		for i := range c {
			x, y := a[i], y0
			c[i] = max(x, y)
		}
	case backends.OpTypeMin:
		for i := range c {
			x, y := a[i], y0
			c[i] = min(x, y)
		}
	}
}

// binaryScalarLeft: a is one value.
func binaryScalarLeft[T float32 | float64](op backends.OpType, x0 T, b, c []T) {
	b = b[:len(c)]
	switch op {
	case backends.OpTypeAdd:
		for i := range c {
			x, y := x0, b[i]
			c[i] = x + y
		}
	case backends.OpTypeSub:
		for i := range c {
			x, y := x0, b[i]
			c[i] = x - y
		}
	case backends.OpTypeMul:
		for i := range c {
			x, y := x0, b[i]
			c[i] = x * y
		}
	case backends.OpTypeDiv:
		for i := range c {
			x, y := x0, b[i]
			c[i] = x / y
		}
	case backends.OpTypeMax:
		for i := range c {
			x, y := x0, b[i]
			c[i] = max(x, y)
		}
	case backends.OpTypeMin:
		for i := range c {
			x, y := x0, b[i]
			c[i] = min(x, y)
		}
	}
}

// b2i is 1 for true and 0 for false, without a branch (a Go bool is one byte holding 0 or 1).
func b2i(b bool) int8 { return *(*int8)(unsafe.Pointer(&b)) }

// unaryChunk computes y[i] = op(x[i]) for i in [lo, hi), in the same precision as the pure-Go backend
// (transcendental functions through float64).
func unaryChunk[T float32 | float64](op backends.OpType, x, y []T, lo, hi int) {
	x, y = x[lo:hi], y[lo:hi]
	x = x[:len(y)]
	switch op {
	case backends.OpTypeNeg:
		for i := range y {
			y[i] = -x[i]
		}
	case backends.OpTypeAbs:
		for i := range y {
			if v := x[i]; v < 0 {
				y[i] = -v
			} else {
				y[i] = v
			}
		}
	case backends.OpTypeSign:
		// Branch-free: the signs of gradients are unpredictable, and a branch per element ran 3.5x slower.
		// Zero and NaN give 0, as in the pure-Go backend.
		for i := range y {
			v := x[i]
			y[i] = T(b2i(v > 0) - b2i(v < 0))
		}
	case backends.OpTypeSqrt:
		for i := range y {
			y[i] = T(math.Sqrt(float64(x[i])))
		}
	case backends.OpTypeExp:
		for i := range y {
			y[i] = T(math.Exp(float64(x[i])))
		}
	case backends.OpTypeLog:
		for i := range y {
			y[i] = T(math.Log(float64(x[i])))
		}
	case backends.OpTypeTanh:
		for i := range y {
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
	parallelCalls.Add(1)
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
			!isFloat(ls.DType) {
			return orig(be, node, inputs, owned)
		}
		// Same shapes or a scalar side: one flat loop. Other broadcasts (ranks equal, each dimension equal or
		// 1, as the pure-Go backend requires): row by row, see broadcastPlan.
		var plan *rowPlan
		if !(ls.Size() == out.Size() || ls.Size() == 1) || !(rs.Size() == out.Size() || rs.Size() == 1) {
			if plan = broadcastPlan(ls.Dimensions, rs.Dimensions, out.Dimensions); plan == nil {
				return orig(be, node, inputs, owned)
			}
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
			binaryApply(op, a.([]float32), b.([]float32), c, plan)
		case []float64:
			binaryApply(op, a.([]float64), b.([]float64), c, plan)
		}
		return res, nil
	}
}

// rowPlan walks a broadcasting binary operation row by row: the output's axes, fused where both operands
// broadcast alike, end in a row of inner elements; each operand contributes, per row, either a row of its
// own (aRow) or one value, found with strides that are 0 along its broadcast axes.
type rowPlan struct {
	outer            []int // fused outer dimensions of the output
	aStride, bStride []int // operand offsets per step of each outer axis (0: broadcast)
	inner            int
	aRow, bRow       bool // the operand has the inner axis (else one value per row)
}

// broadcastPlan builds the plan for operands of dimensions ad and bd into out, or nil when their ranks differ
// or a dimension is neither equal nor 1.
func broadcastPlan(ad, bd, out []int) *rowPlan {
	if len(ad) != len(out) || len(bd) != len(out) {
		return nil
	}
	// Fuse consecutive axes (dropping size-1 output axes) where each operand is either full along both or
	// broadcast along both.
	type axis struct {
		n    int
		a, b bool // the operand is full (not broadcast) along it
	}
	var axes []axis
	for i, n := range out {
		if (ad[i] != n && ad[i] != 1) || (bd[i] != n && bd[i] != 1) {
			return nil
		}
		if n == 1 {
			continue
		}
		x := axis{n: n, a: ad[i] == n, b: bd[i] == n}
		if k := len(axes) - 1; k >= 0 && axes[k].a == x.a && axes[k].b == x.b {
			axes[k].n *= n
			continue
		}
		axes = append(axes, x)
	}
	if len(axes) == 0 {
		return nil
	}
	last := axes[len(axes)-1]
	p := &rowPlan{inner: last.n, aRow: last.a, bRow: last.b}
	// Strides of each operand along the fused outer axes, innermost first.
	sa, sb := 1, 1
	if last.a {
		sa = last.n
	}
	if last.b {
		sb = last.n
	}
	outer := axes[:len(axes)-1]
	p.outer = make([]int, len(outer))
	p.aStride, p.bStride = make([]int, len(outer)), make([]int, len(outer))
	for k := len(outer) - 1; k >= 0; k-- {
		p.outer[k] = outer[k].n
		if outer[k].a {
			p.aStride[k] = sa
			sa *= outer[k].n
		}
		if outer[k].b {
			p.bStride[k] = sb
			sb *= outer[k].n
		}
	}
	return p
}

// binaryApply runs binaryChunk over the whole output: one flat loop without a plan, else row by row.
func binaryApply[T float32 | float64](op backends.OpType, a, b, c []T, p *rowPlan) {
	if p == nil {
		split(len(c), func(lo, hi int) { binaryChunk(op, a, b, c, lo, hi) })
		return
	}
	broadcastCalls.Add(1)
	rows := len(c) / p.inner
	splitWork(rows, len(c), func(lo, hi int) {
		// Offsets of row lo, then an odometer over the outer axes.
		idx := make([]int, len(p.outer))
		offA, offB := 0, 0
		for k, r := len(p.outer)-1, lo; k >= 0; k-- {
			idx[k] = r % p.outer[k]
			r /= p.outer[k]
			offA += idx[k] * p.aStride[k]
			offB += idx[k] * p.bStride[k]
		}
		for r := lo; r < hi; r++ {
			ar, br := a[offA:offA+1], b[offB:offB+1]
			if p.aRow {
				ar = a[offA : offA+p.inner]
			}
			if p.bRow {
				br = b[offB : offB+p.inner]
			}
			binaryChunk(op, ar, br, c[r*p.inner:(r+1)*p.inner], 0, p.inner)
			for k := len(p.outer) - 1; k >= 0; k-- {
				idx[k]++
				offA += p.aStride[k]
				offB += p.bStride[k]
				if idx[k] < p.outer[k] {
					break
				}
				offA -= p.aStride[k] * p.outer[k]
				offB -= p.bStride[k] * p.outer[k]
				idx[k] = 0
			}
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
		if err != nil || s.Size() < minParallel || !isFloat(s.DType) ||
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
