package blas

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// ReduceSum and ReduceMax over a block of consecutive axes — [K1, R, K2] → [K1, K2], which covers row sums
// (K2 = 1), column sums (K1 = 1) and the reductions between — split across cores by output elements. Each
// output element starts from the pure-Go kernel's initial value (0, or the dtype's lowest value) and takes
// the inputs in the same order, so the results are bit for bit the pure-Go backend's.

// reduceBlock fuses the axes of dims around the reduced ones: ok when the reduced axes (ignoring size-1
// axes) are consecutive.
func reduceBlock(dims, axes []int) (k1, r, k2 int, ok bool) {
	reduced := make([]bool, len(dims))
	for _, a := range axes {
		if a < 0 || a >= len(dims) {
			return 0, 0, 0, false
		}
		reduced[a] = true
	}
	k1, r, k2 = 1, 1, 1
	stage := 0 // 0: before the reduced block, 1: in it, 2: after it
	for a, d := range dims {
		if d == 1 {
			continue
		}
		switch {
		case reduced[a] && stage == 2:
			return 0, 0, 0, false
		case reduced[a]:
			stage = 1
			r *= d
		case stage == 0:
			k1 *= d
		default:
			stage = 2
			k2 *= d
		}
	}
	return k1, r, k2, true
}

func execReduce(op backends.OpType) executor {
	return func(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		orig := originalEW[op]
		if !isBLAS(be, partReduce) {
			return orig(be, node, inputs, owned)
		}
		axes, ok := nodeData(node).([]int)
		s, err := be.BufferShape(inputs[0])
		if !ok || len(axes) == 0 || err != nil || !isFloat(s.DType) || s.Size() < minParallel {
			return orig(be, node, inputs, owned)
		}
		k1, r, k2, ok := reduceBlock(s.Dimensions, axes)
		out := nodeShape(node)
		if !ok || out.Size() != k1*k2 {
			return orig(be, node, inputs, owned)
		}
		res := be.NewBuffer(out)
		x, _ := be.BufferData(inputs[0])
		y, _ := be.BufferData(res)
		switch y := y.(type) {
		case []float32:
			reduceInto(op, x.([]float32), y, k1, r, k2, s.DType.LowestValue().(float32))
		case []float64:
			reduceInto(op, x.([]float64), y, k1, r, k2, s.DType.LowestValue().(float64))
		}
		return res, nil
	}
}

// reduceInto computes y[i, j] = x[i, 0, j] ⊕ x[i, 1, j] ⊕ … for x [k1, r, k2], from the initial value, in
// order of the reduced index. Cores take ranges of i, or of j when k1 is small.
func reduceInto[T float32 | float64](op backends.OpType, x, y []T, k1, r, k2 int, lowest T) {
	init := T(0)
	if op == backends.OpTypeReduceMax {
		init = lowest
	}
	if k2 == 1 { // row reductions
		splitWork(k1, len(x), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				acc := init
				if op == backends.OpTypeReduceSum {
					for _, v := range x[i*r : (i+1)*r] {
						acc += v
					}
				} else {
					for _, v := range x[i*r : (i+1)*r] {
						acc = max(acc, v)
					}
				}
				y[i] = acc
			}
		})
		return
	}
	block := func(i, jlo, jhi int) {
		out := y[i*k2+jlo : i*k2+jhi]
		for j := range out {
			out[j] = init
		}
		for t := 0; t < r; t++ {
			in := x[(i*r+t)*k2+jlo : (i*r+t)*k2+jhi]
			if op == backends.OpTypeReduceSum {
				for j, v := range in {
					out[j] += v
				}
			} else {
				for j, v := range in {
					out[j] = max(out[j], v)
				}
			}
		}
	}
	if k1 >= 8 {
		splitWork(k1, len(x), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				block(i, 0, k2)
			}
		})
		return
	}
	splitWork(k2, len(x), func(lo, hi int) {
		for i := 0; i < k1; i++ {
			block(i, lo, hi)
		}
	})
}
