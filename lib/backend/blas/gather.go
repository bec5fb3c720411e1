package blas

import (
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Row gathers and row scatter-adds: the Gather that lib/models' Conv2D uses to extract patches
// (whole rows of a [rows, ...] operand picked by an index per output position) and ScatterSum, its
// gradient. The pure-Go backend walks both element by element through general index iterators; here each
// row is one block copy (Gather) or one block addition (ScatterSum), split across cores. Anything that is
// not a row gather/scatter, or has an index out of range, goes to the pure-Go kernel.

// rowOp describes a row gather or scatter: nIdx indices (int32 or int64), rows of rowSize elements.
type rowOp struct {
	nIdx, rows, rowSize int
}

// intField and intsField read an unexported field of a simplego node's parameters (reading is allowed by
// reflect; ok is false when the field is missing or of another type, and the caller falls back).
func intField(v reflect.Value, name string) (int, bool) {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Int {
		return 0, false
	}
	return int(f.Int()), true
}

func intsField(v reflect.Value, name string) ([]int, bool) {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
		return nil, false
	}
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out, true
}

// params returns the struct behind a node's data pointer, if its type has the expected name.
func params(node *simplego.Node, typeName string) (reflect.Value, bool) {
	d := nodeData(node)
	if d == nil {
		return reflect.Value{}, false
	}
	v := reflect.ValueOf(d)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || v.Elem().Type().Name() != typeName {
		return reflect.Value{}, false
	}
	return v.Elem(), true
}

// indexBatch returns the number of indices when the index vector has length 1: either it is the last
// axis of indices with dimension 1, or it is implicit (indexVectorAxis == rank).
func indexBatch(indices shapes.Shape, ivAxis int) (nIdx, batchRank int, ok bool) {
	switch {
	case ivAxis == indices.Rank():
		return indices.Size(), indices.Rank(), true
	case ivAxis == indices.Rank()-1 && indices.Dimensions[ivAxis] == 1:
		return indices.Size(), indices.Rank() - 1, true
	}
	return 0, 0, false
}

// consecutive reports whether axes == [from, from+1, ..., from+n-1].
func consecutive(axes []int, from, n int) bool {
	if len(axes) != n {
		return false
	}
	for i, a := range axes {
		if a != from+i {
			return false
		}
	}
	return true
}

// readIndices converts the indices to int and checks them against [0, rows).
func readIndices(flat any, rows int) ([]int, bool) {
	var out []int
	switch f := flat.(type) {
	case []int32:
		out = make([]int, len(f))
		for i, v := range f {
			out[i] = int(v)
		}
	case []int64:
		out = make([]int, len(f))
		for i, v := range f {
			out[i] = int(v)
		}
	default:
		return nil, false
	}
	for _, v := range out {
		if v < 0 || v >= rows {
			return nil, false
		}
	}
	return out, true
}

// prod multiplies dimensions.
func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

func isFloat(d dtypes.DType) bool { return d == dtypes.Float32 || d == dtypes.Float64 }

// rowGather recognises a row gather: operand [R, d1, ...], one index per output position, output
// [indices batch..., d1, ...].
func rowGather(node *simplego.Node, operand, indices shapes.Shape) (rowOp, bool) {
	v, ok := params(node, "gatherNode")
	if !ok {
		return rowOp{}, false
	}
	iv, ok1 := intField(v, "indexVectorAxis")
	offsets, ok2 := intsField(v, "offsetOutputAxes")
	collapsed, ok3 := intsField(v, "collapsedSlicesAxes")
	startMap, ok4 := intsField(v, "startIndexMap")
	sizes, ok5 := intsField(v, "sliceSizes")
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || operand.Rank() < 1 {
		return rowOp{}, false
	}
	nIdx, batchRank, ok := indexBatch(indices, iv)
	r := operand.Rank()
	if !ok || !slices.Equal(startMap, []int{0}) || !slices.Equal(collapsed, []int{0}) || len(sizes) != r ||
		sizes[0] != 1 || !slices.Equal(sizes[1:], operand.Dimensions[1:]) || !consecutive(offsets, batchRank, r-1) {
		return rowOp{}, false
	}
	return rowOp{nIdx: nIdx, rows: operand.Dimensions[0], rowSize: prod(operand.Dimensions[1:])}, true
}

func execGather(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	orig := originalEW[backends.OpTypeGather]
	if !isBLAS(be, partGather) {
		return orig(be, node, inputs, owned)
	}
	os, err1 := be.BufferShape(inputs[0])
	is, err2 := be.BufferShape(inputs[1])
	out := nodeShape(node)
	if err1 != nil || err2 != nil || !isFloat(os.DType) || out.Size() < minParallel {
		return orig(be, node, inputs, owned)
	}
	g, ok := rowGather(node, os, is)
	if !ok || g.nIdx*g.rowSize != out.Size() {
		return orig(be, node, inputs, owned)
	}
	idxFlat, _ := be.BufferData(inputs[1])
	idx, ok := readIndices(idxFlat, g.rows)
	if !ok {
		return orig(be, node, inputs, owned)
	}
	res := be.NewBuffer(out)
	src, _ := be.BufferData(inputs[0])
	dst, _ := be.BufferData(res)
	switch dst := dst.(type) {
	case []float32:
		gatherRows(dst, src.([]float32), idx, g.rowSize)
	case []float64:
		gatherRows(dst, src.([]float64), idx, g.rowSize)
	}
	return res, nil
}

// rowCalls counts the row gathers and scatters run here (tests check the fast path is taken).
var rowCalls atomic.Int64

func gatherRows[T float32 | float64](dst, src []T, idx []int, rowSize int) {
	rowCalls.Add(1)
	splitWork(len(idx), len(dst), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			d, s := dst[p*rowSize:(p+1)*rowSize], src[idx[p]*rowSize:(idx[p]+1)*rowSize]
			if rowSize >= 64 {
				copy(d, s)
				continue
			}
			for j := range d {
				d[j] = s[j]
			}
		}
	})
}

// rowScatter recognises the scatter that is a row gather's gradient: updates [indices batch..., d1, ...]
// added into rows of the operand [R, d1, ...].
func rowScatter(node *simplego.Node, operand, indices, updates shapes.Shape) (rowOp, bool) {
	v, ok := params(node, "scatterNode")
	if !ok {
		return rowOp{}, false
	}
	iv, ok1 := intField(v, "indexVectorAxis")
	window, ok2 := intsField(v, "updateWindowAxes")
	inserted, ok3 := intsField(v, "insertedWindowAxes")
	toOperand, ok4 := intsField(v, "scatterAxesToOperandAxes")
	if !(ok1 && ok2 && ok3 && ok4) || operand.Rank() < 1 {
		return rowOp{}, false
	}
	nIdx, batchRank, ok := indexBatch(indices, iv)
	r := operand.Rank()
	if !ok || !slices.Equal(toOperand, []int{0}) || !slices.Equal(inserted, []int{0}) ||
		!consecutive(window, batchRank, r-1) || updates.Rank() != batchRank+r-1 ||
		!slices.Equal(updates.Dimensions[batchRank:], operand.Dimensions[1:]) ||
		!slices.Equal(updates.Dimensions[:batchRank], indices.Dimensions[:batchRank]) {
		return rowOp{}, false
	}
	return rowOp{nIdx: nIdx, rows: operand.Dimensions[0], rowSize: prod(operand.Dimensions[1:])}, true
}

func execScatterSum(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	orig := originalEW[backends.OpTypeScatterSum]
	if !isBLAS(be, partGather) {
		return orig(be, node, inputs, owned)
	}
	os, err1 := be.BufferShape(inputs[0])
	is, err2 := be.BufferShape(inputs[1])
	us, err3 := be.BufferShape(inputs[2])
	if err1 != nil || err2 != nil || err3 != nil || !isFloat(os.DType) || us.DType != os.DType ||
		us.Size() < minParallel || !os.Equal(nodeShape(node)) {
		return orig(be, node, inputs, owned)
	}
	sc, ok := rowScatter(node, os, is, us)
	if !ok {
		return orig(be, node, inputs, owned)
	}
	idxFlat, _ := be.BufferData(inputs[1])
	idx, ok := readIndices(idxFlat, sc.rows)
	if !ok {
		return orig(be, node, inputs, owned)
	}
	// The output starts as the operand: reused when this is its last use, else copied.
	var res *simplego.Buffer
	if owned[0] {
		res = inputs[0]
		inputs[0] = nil
	} else {
		res = be.NewBuffer(os)
		src, _ := be.BufferData(inputs[0])
		dst, _ := be.BufferData(res)
		switch dst := dst.(type) {
		case []float32:
			copy(dst, src.([]float32))
		case []float64:
			copy(dst, src.([]float64))
		}
	}
	upd, _ := be.BufferData(inputs[2])
	dst, _ := be.BufferData(res)
	switch dst := dst.(type) {
	case []float32:
		scatterAddRows(dst, upd.([]float32), idx, sc.rowSize)
	case []float64:
		scatterAddRows(dst, upd.([]float64), idx, sc.rowSize)
	}
	return res, nil
}

// scatterAddRows adds row p of upd into row idx[p] of dst, in the order of p for every element (as the
// pure-Go kernel does, so sums round the same way); cores take disjoint column ranges, so rows that
// collide never race.
func scatterAddRows[T float32 | float64](dst, upd []T, idx []int, rowSize int) {
	rowCalls.Add(1)
	splitWork(rowSize, len(upd), func(lo, hi int) {
		for p, r := range idx {
			d := dst[r*rowSize+lo : r*rowSize+hi]
			u := upd[p*rowSize+lo : p*rowSize+hi]
			for j := range d {
				d[j] += u[j]
			}
		}
	})
}
