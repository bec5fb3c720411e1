package blas

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestRowGatherAndScatterMatchPureGo: the patch gather of lib/models' Conv2D and its gradient (a
// ScatterSum with colliding rows), both float types, bit for bit against the pure-Go backend; an index out
// of range is left to the pure-Go kernel's clamping.
func TestRowGatherAndScatterMatchPureGo(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(17, 18))
	const rows, n, k, b, c = 50, 40, 9, 16, 12 // output 40·9·16·12 elements, above minParallel
	idx := make([]int32, n*k)
	for i := range idx {
		idx[i] = int32(r.IntN(rows)) // with repeats: rows collide in the scatter
	}
	indices := tensors.FromFlatDataAndDimensions(idx, n, k, 1)
	before := rowCalls.Load()
	for _, f64 := range []bool{false, true} {
		var x, w *tensors.Tensor
		if f64 {
			x, w = specialTensor[float64](r, rows, b, c), specialTensor[float64](r, n, k, b, c)
		} else {
			x, w = specialTensor[float32](r, rows, b, c), specialTensor[float32](r, n, k, b, c)
		}
		gather := func(x, i *Node) *Node { return Gather(x, i) }
		sameBits(t, "Gather", run(t, fast, gather, x, indices), run(t, ref, gather, x, indices))
		grad := func(x, i, w *Node) *Node {
			loss := ReduceAllSum(Mul(Gather(x, i), w))
			return Gradient(loss, x)[0]
		}
		sameBits(t, "ScatterSum", run(t, fast, grad, x, indices, w), run(t, ref, grad, x, indices, w))
	}
	if rowCalls.Load() < before+4 {
		t.Fatalf("row gather/scatter fast path taken %d times, want 4", rowCalls.Load()-before)
	}
	// Out of range: clamped by the pure-Go kernel, and the same here.
	bad := append([]int32(nil), idx...)
	bad[3], bad[7] = rows+5, -2
	badT := tensors.FromFlatDataAndDimensions(bad, n, k, 1)
	x := specialTensor[float32](r, rows, b, c)
	gather := func(x, i *Node) *Node { return Gather(x, i) }
	sameBits(t, "Gather out of range", run(t, fast, gather, x, badT), run(t, ref, gather, x, badT))
}
