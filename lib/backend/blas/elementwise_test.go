package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// specialValues are mixed into the random inputs: the cases where a kernel could differ from the pure-Go
// backend's (NaN ordering in Max/Min, the sign of zero, infinities).
var specialValues = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1e-30, -2.5}

func specialTensor[T float32 | float64](r *rand.Rand, dims ...int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	flat := make([]T, size)
	for i := range flat {
		if r.IntN(10) == 0 {
			flat[i] = T(specialValues[r.IntN(len(specialValues))])
		} else {
			flat[i] = T(r.NormFloat64() * 3)
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, dims...)
}

func run(t *testing.T, be backends.Backend, fn any, args ...*tensors.Tensor) []float64 {
	t.Helper()
	exec := MustNewExecAny(be, fn)
	var err error
	if err != nil {
		t.Fatal(err)
	}
	in := make([]any, len(args))
	for i, a := range args {
		c, err := a.LocalClone()
		if err != nil {
			t.Fatal(err)
		}
		in[i] = c
	}
	out, err := exec.Exec1(in...)
	if err != nil {
		t.Fatal(err)
	}
	return flat64(out)
}

// sameBits compares two results bit for bit (every NaN is the same NaN here).
func sameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, pure Go %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if math.IsNaN(g) && math.IsNaN(w) {
			continue
		}
		if math.Float64bits(g) != math.Float64bits(w) {
			t.Fatalf("%s: element %d = %v, pure Go %v", what, i, g, w)
		}
	}
}

// TestElementwiseMatchesPureGo: every replaced operation, both float types, same shapes and a scalar on
// either side, on inputs with NaN, ±Inf and ±0, gives the pure-Go backend's bits.
func TestElementwiseMatchesPureGo(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(11, 12))
	binary := map[string]func(a, b *Node) *Node{"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Max": Max, "Min": Min}
	unary := map[string]func(x *Node) *Node{"Neg": Neg, "Abs": Abs, "Sign": Sign, "Sqrt": Sqrt, "Exp": Exp, "Log": Log, "Tanh": Tanh}
	before := parallelCalls.Load()
	for _, f64 := range []bool{false, true} {
		mk := func(dims ...int) *tensors.Tensor {
			if f64 {
				return specialTensor[float64](r, dims...)
			}
			return specialTensor[float32](r, dims...)
		}
		big := []int{300, 257} // above minParallel, not a multiple of the block count
		for name, f := range binary {
			a, b, s := mk(big...), mk(big...), mk()
			for _, c := range []struct {
				what string
				x, y *tensors.Tensor
			}{{"same shapes", a, b}, {"scalar right", a, s}, {"scalar left", s, b}} {
				got := run(t, fast, func(x, y *Node) *Node { return f(x, y) }, c.x, c.y)
				want := run(t, ref, func(x, y *Node) *Node { return f(x, y) }, c.x, c.y)
				sameBits(t, name+" "+c.what, got, want)
			}
		}
		for name, f := range unary {
			x := mk(big...)
			// Chained, so that the second op receives a buffer it owns and may write into.
			g := func(x *Node) *Node { return f(Mul(f(x), x)) }
			sameBits(t, name, run(t, fast, g, x), run(t, ref, g, x))
		}
	}
	if parallelCalls.Load() == before {
		t.Fatal("no element-wise operation was split across cores")
	}
}

// TestBroadcastMatchesPureGo: one side broadcast along leading axes (a bias row), trailing axes (a
// per-example value) or axes in between (a pooling window), on either side of the non-commutative ops, bit
// for bit against the pure-Go backend.
func TestBroadcastMatchesPureGo(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(13, 14))
	cases := []struct{ big, small []int }{
		{[]int{400, 300}, []int{1, 300}},
		{[]int{400, 300}, []int{400, 1}},
		{[]int{8, 50, 90}, []int{1, 1, 90}},
		{[]int{8, 50, 90}, []int{1, 50, 90}},
		{[]int{8, 50, 90}, []int{8, 1, 1}},
		{[]int{8, 50, 90}, []int{8, 50, 1}},
		{[]int{8, 50, 90}, []int{1, 50, 1}},
		{[]int{16, 8, 2, 7, 2, 16}, []int{16, 8, 1, 7, 1, 16}}, // a 2×2 max-pool's gradient
		{[]int{30, 40, 50}, []int{30, 1, 50}},
	}
	before := broadcastCalls.Load()
	for _, c := range cases {
		x, y := specialTensor[float32](r, c.big...), specialTensor[float32](r, c.small...)
		for name, f := range map[string]func(a, b *Node) *Node{"Sub": Sub, "Div": Div, "Max": Max} {
			g := func(a, b *Node) *Node { return f(a, b) }
			sameBits(t, fmt.Sprintf("%s %v·%v", name, c.big, c.small), run(t, fast, g, x, y), run(t, ref, g, x, y))
			sameBits(t, fmt.Sprintf("%s %v·%v", name, c.small, c.big), run(t, fast, g, y, x), run(t, ref, g, y, x))
		}
	}
	if n := broadcastCalls.Load() - before; n != int64(len(cases))*3*2 {
		t.Fatalf("%d broadcast operations took the row path, want %d", n, len(cases)*3*2)
	}
}

// TestTransposeMatchesPureGo: large Transposes of every axis order of a rank-4 tensor, both float types.
func TestTransposeMatchesPureGo(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(15, 16))
	before := parallelCalls.Load()
	perms := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 2, 0, 3}, {2, 0, 3, 1}, {0, 3, 1, 2}}
	for _, f64 := range []bool{false, true} {
		var x *tensors.Tensor
		if f64 {
			x = specialTensor[float64](r, 7, 33, 29, 9)
		} else {
			x = specialTensor[float32](r, 7, 33, 29, 9)
		}
		for _, p := range perms {
			g := func(x *Node) *Node { return TransposeAllAxes(x, p...) }
			sameBits(t, "Transpose", run(t, fast, g, x), run(t, ref, g, x))
		}
	}
	if parallelCalls.Load() == before {
		t.Fatal("no Transpose was split across cores")
	}
}

// TestReduceMatchesPureGo: ReduceSum and ReduceMax over every block of consecutive axes of a rank-4
// tensor (and a non-consecutive pair, left to the pure-Go kernel), both float types, bit for bit.
func TestReduceMatchesPureGo(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(19, 20))
	axesSets := [][]int{{3}, {2, 3}, {0}, {0, 1}, {1}, {1, 2}, {0, 1, 2, 3}, {0, 2}}
	before := parallelCalls.Load()
	dims := []int{6, 40, 17, 23}
	// Plain values show a change of summation order; special ones NaN and infinity handling.
	for _, x := range []*tensors.Tensor{
		randomTensor[float32](r, dims), randomTensor[float64](r, dims),
		specialTensor[float32](r, dims...), specialTensor[float64](r, dims...),
	} {
		for _, axes := range axesSets {
			for name, f := range map[string]func(*Node, ...int) *Node{"ReduceSum": ReduceSum, "ReduceMax": ReduceMax} {
				g := func(x *Node) *Node { return f(x, axes...) }
				sameBits(t, fmt.Sprintf("%s%v", name, axes), run(t, fast, g, x), run(t, ref, g, x))
			}
		}
	}
	if parallelCalls.Load() == before {
		t.Fatal("no reduction was split across cores")
	}
}
