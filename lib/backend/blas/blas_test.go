package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/backend/openblas"
)

// newPair returns a blas backend and GoMLX's own pure-Go backend to compare it against.
func newPair(t *testing.T) (fast, ref backends.Backend) {
	t.Helper()
	if err := Status(); err != nil {
		t.Fatalf("the blas backend is unavailable: %v (tests need OpenBLAS: %s)", err, openblas.InstallHint)
	}
	fast, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	ref, err = simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fast.Finalize(); ref.Finalize() })
	return fast, ref
}

// dotCase is one DotGeneral: operand dimensions and the axes of each kind.
type dotCase struct {
	lhsDims, rhsDims                             []int
	lhsContract, lhsBatch, rhsContract, rhsBatch []int
}

func (c dotCase) String() string {
	return fmt.Sprintf("lhs%v c%v b%v · rhs%v c%v b%v", c.lhsDims, c.lhsContract, c.lhsBatch, c.rhsDims, c.rhsContract, c.rhsBatch)
}

// randomCase draws a DotGeneral with up to 6 axes per operand, batch and contracting axes anywhere, and
// operands and output of at most 100,000 elements.
func randomCase(r *rand.Rand, big bool) dotCase {
	for {
		c := drawCase(r, big)
		if c.size(c.lhsDims) <= 100_000 && c.size(c.rhsDims) <= 100_000 && c.outSize() <= 100_000 {
			return c
		}
	}
}

func (c dotCase) size(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// outSize is batch · lhs free · rhs free = lhs · rhs size / (batch · contracting²).
func (c dotCase) outSize() int {
	bk := 1
	for _, a := range c.lhsBatch {
		bk *= c.lhsDims[a]
	}
	k := 1
	for _, a := range c.lhsContract {
		k *= c.lhsDims[a]
	}
	return c.size(c.lhsDims) / k * (c.size(c.rhsDims) / (k * bk))
}

func drawCase(r *rand.Rand, big bool) dotCase {
	sizes := []int{1, 2, 3, 5, 7}
	if big {
		sizes = []int{1, 4, 9, 16, 31, 64}
	}
	dim := func() int { return sizes[r.IntN(len(sizes))] }
	nb, nc := r.IntN(3), r.IntN(3)
	nl, nr := r.IntN(3), r.IntN(3)
	for nb+nc+nl > 6 || nb+nc+nr > 6 {
		nl, nr = r.IntN(3), r.IntN(3)
	}
	batch := make([]int, nb)
	contract := make([]int, nc)
	for i := range batch {
		batch[i] = dim()
	}
	for i := range contract {
		contract[i] = dim()
	}
	// place puts the batch, contracting and free axes of one operand in a random order.
	place := func(nFree int) (dims, cAxes, bAxes []int) {
		rank := nb + nc + nFree
		pos := r.Perm(rank)
		dims = make([]int, rank)
		bAxes, cAxes = pos[:nb], pos[nb:nb+nc]
		for i, a := range bAxes {
			dims[a] = batch[i]
		}
		for i, a := range cAxes {
			dims[a] = contract[i]
		}
		for _, a := range pos[nb+nc:] {
			dims[a] = dim()
		}
		return dims, cAxes, bAxes
	}
	var c dotCase
	c.lhsDims, c.lhsContract, c.lhsBatch = place(nl)
	c.rhsDims, c.rhsContract, c.rhsBatch = place(nr)
	return c
}

func randomTensor[T float32 | float64](r *rand.Rand, dims []int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	flat := make([]T, size)
	for i := range flat {
		flat[i] = T(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(flat, dims...)
}

func runDot(t *testing.T, be backends.Backend, c dotCase, lhs, rhs *tensors.Tensor) *tensors.Tensor {
	t.Helper()
	exec, err := NewExec(be, func(l, r *Node) *Node {
		return DotGeneral(l, c.lhsContract, c.lhsBatch, r, c.rhsContract, c.rhsBatch)
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lhs.LocalClone()
	if err != nil {
		t.Fatal(err)
	}
	r, err := rhs.LocalClone()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec1(l, r)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return out
}

func flat64(t *tensors.Tensor) []float64 {
	if f, err := tensors.CopyFlatData[float32](t); err == nil {
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out
	}
	return tensors.MustCopyFlatData[float64](t)
}

// TestDotGeneralMatchesPureGo compares random DotGenerals of both float types against GoMLX's pure-Go backend.
func TestDotGeneralMatchesPureGo(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(1, 2))
	before := GemmCalls()
	for i := 0; i < 300; i++ {
		c := randomCase(r, i%3 != 0)
		for _, f64 := range []bool{false, true} {
			var lhs, rhs *tensors.Tensor
			tol := 1e-4
			if f64 {
				lhs, rhs = randomTensor[float64](r, c.lhsDims), randomTensor[float64](r, c.rhsDims)
				tol = 1e-10
			} else {
				lhs, rhs = randomTensor[float32](r, c.lhsDims), randomTensor[float32](r, c.rhsDims)
			}
			got, want := runDot(t, fast, c, lhs, rhs), runDot(t, ref, c, lhs, rhs)
			if !got.Shape().Equal(want.Shape()) {
				t.Fatalf("%s: shape %s, pure Go %s", c, got.Shape(), want.Shape())
			}
			k := 1
			for _, a := range c.lhsContract {
				k *= c.lhsDims[a]
			}
			g, w := flat64(got), flat64(want)
			for j := range w {
				if math.Abs(g[j]-w[j]) > tol*math.Sqrt(float64(k))*(1+math.Abs(w[j])) {
					t.Fatalf("%s (float64=%v): element %d = %g, pure Go %g", c, f64, j, g[j], w[j])
				}
			}
		}
	}
	if GemmCalls() == before {
		t.Fatal("no product ran on OpenBLAS: the fast path was never taken")
	}
}

// TestSizeOneAndZero: axes of size 1 anywhere, and a zero-sized operand is refused as by the pure-Go backend.
func TestSizeOneAndZero(t *testing.T) {
	fast, ref := newPair(t)
	r := rand.New(rand.NewPCG(3, 4))
	c := dotCase{lhsDims: []int{1, 40, 1, 30}, lhsContract: []int{3}, rhsDims: []int{30, 1, 50}, rhsContract: []int{0}}
	lhs, rhs := randomTensor[float32](r, c.lhsDims), randomTensor[float32](r, c.rhsDims)
	before := GemmCalls()
	g, w := flat64(runDot(t, fast, c, lhs, rhs)), flat64(runDot(t, ref, c, lhs, rhs))
	if GemmCalls() != before+1 {
		t.Errorf("size-1 axes should not stop a direct BLAS call: %d calls", GemmCalls()-before)
	}
	for j := range w {
		if math.Abs(g[j]-w[j]) > 1e-4*(1+math.Abs(w[j])) {
			t.Fatalf("element %d = %g, pure Go %g", j, g[j], w[j])
		}
	}
	z := dotCase{lhsDims: []int{0, 5}, lhsContract: []int{1}, rhsDims: []int{5, 3}, rhsContract: []int{0}}
	for _, be := range []backends.Backend{fast, ref} {
		_, err := NewExec(be, func(l, r *Node) *Node {
			return DotGeneral(l, z.lhsContract, nil, r, z.rhsContract, nil)
		})
		var runErr error
		if err == nil {
			exec, _ := NewExec(be, func(l, r *Node) *Node { return DotGeneral(l, z.lhsContract, nil, r, z.rhsContract, nil) })
			_, runErr = exec.Exec1(tensors.FromFlatDataAndDimensions([]float32{}, 0, 5), randomTensor[float32](r, []int{5, 3}))
		}
		if err == nil && runErr == nil {
			t.Logf("%s accepts a zero-sized operand", be.Name())
		}
	}
}

// TestNaNPropagates: a NaN in an input reaches the output as in the pure-Go backend.
func TestNaNPropagates(t *testing.T) {
	fast, _ := newPair(t)
	r := rand.New(rand.NewPCG(5, 6))
	c := dotCase{lhsDims: []int{20, 30}, lhsContract: []int{1}, rhsDims: []int{30, 40}, rhsContract: []int{0}}
	lhs := randomTensor[float32](r, c.lhsDims)
	tensors.MustMutableFlatData[float32](lhs, func(f []float32) { f[31] = float32(math.NaN()) }) // row 1
	out := flat64(runDot(t, fast, c, lhs, randomTensor[float32](r, c.rhsDims)))
	for j, v := range out {
		if row := j / 40; math.IsNaN(v) != (row == 1) {
			t.Fatalf("element %d (row %d) = %g", j, row, v)
		}
	}
}

func TestPermute(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 300; i++ {
		rank := 1 + r.IntN(5)
		dims := make([]int, rank)
		size := 1
		for a := range dims {
			dims[a] = 1 + r.IntN(4)
			if i%3 == 0 && a < 3 {
				dims[a] = 1 + r.IntN(40) // larger than a 16×16 tile, not a multiple of it
			}
			size *= dims[a]
		}
		perm := r.Perm(rank)
		src := make([]float64, size)
		for j := range src {
			src[j] = float64(j)
		}
		dst := make([]float64, size)
		permute(dst, src, dims, perm)
		// Reference: walk every source index and compute its place in dst.
		outDims := make([]int, rank)
		for j, a := range perm {
			outDims[j] = dims[a]
		}
		idx := make([]int, rank)
		for j := 0; j < size; j++ {
			rem := j
			for a := rank - 1; a >= 0; a-- {
				idx[a] = rem % dims[a]
				rem /= dims[a]
			}
			o := 0
			for k, a := range perm {
				o = o*outDims[k] + idx[a]
			}
			if dst[o] != src[j] {
				t.Fatalf("dims %v perm %v: dst[%d] = %g, want %g", dims, perm, o, dst[o], src[j])
			}
		}
	}
}

// TestGoBackendUntouched: GoMLX's own "go" backend never takes the BLAS path.
func TestGoBackendUntouched(t *testing.T) {
	_, ref := newPair(t)
	r := rand.New(rand.NewPCG(9, 10))
	c := dotCase{lhsDims: []int{64, 64}, lhsContract: []int{1}, rhsDims: []int{64, 64}, rhsContract: []int{0}}
	before := GemmCalls()
	runDot(t, ref, c, randomTensor[float32](r, c.lhsDims), randomTensor[float32](r, c.rhsDims))
	if GemmCalls() != before {
		t.Fatal("the pure-Go backend ran a product on OpenBLAS")
	}
}

// TestConfig: options of both layers are accepted, bad ones named.
func TestConfig(t *testing.T) {
	if err := Status(); err != nil {
		t.Skip(err)
	}
	b, err := New("threads=2,ops_parallel")
	if err != nil {
		t.Fatal(err)
	}
	b.Finalize()
	if openblas.Threads() != 2 {
		t.Errorf("threads=2: OpenBLAS reports %d", openblas.Threads())
	}
	for _, bad := range []string{"threads=0", "threads=x", "no_such_option"} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	// A part switched off is not taken.
	off, err := New("no_dot,no_elementwise")
	if err != nil {
		t.Fatal(err)
	}
	defer off.Finalize()
	r := rand.New(rand.NewPCG(21, 22))
	c := dotCase{lhsDims: []int{64, 64}, lhsContract: []int{1}, rhsDims: []int{64, 64}, rhsContract: []int{0}}
	before := GemmCalls()
	runDot(t, off, c, randomTensor[float32](r, c.lhsDims), randomTensor[float32](r, c.rhsDims))
	if GemmCalls() != before {
		t.Error("no_dot: a product still ran on OpenBLAS")
	}
	_ = openblas.SetThreads(0)
	if _, err := backends.NewWithConfig("blas:threads=2"); err != nil {
		t.Errorf("GOMLX_BACKEND-style config: %v", err)
	}
}
