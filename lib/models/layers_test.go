package models

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
)

// checkModelGradients compares the gradient of L = Σ c ⊙ tanh(logits) with respect to every trainable
// variable against central finite differences, in float64.
func checkModelGradients(t *testing.T, m Model, xShape []int, tol float64) {
	t.Helper()
	checkModelGradientsOn(t, backend.Must(), m, xShape, tol)
}

// sequentialBackend runs graph nodes one at a time: GoMLX v0.26's pure-Go backend can deadlock its
// worker pool when several small DotGenerals are ready at once (as in the MoE gradient graphs), see
// the package doc.
var sequentialBackend = sync.OnceValue(func() backends.Backend {
	b, err := backends.NewWithConfig("go:ops_sequential")
	if err != nil {
		panic(err)
	}
	return b
})

func checkModelGradientsOn(t *testing.T, bk backends.Backend, m Model, xShape []int, tol float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	size := 1
	for _, d := range xShape {
		size *= d
	}
	x := tensors.FromFlatDataAndDimensions(randVec(r, size), xShape...)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(3); err != nil {
		t.Fatal(err)
	}
	ctx = ctx.Checked(false)
	var c *tensors.Tensor
	lossOf := func(ctx *context.Context, x *Node) *Node {
		logits, _ := m.Forward(ctx, x)
		if c == nil {
			c = tensors.FromFlatDataAndDimensions(randVec(r, logits.Shape().Size()), logits.Shape().Dimensions...)
		}
		return ReduceAllSum(Mul(Const(x.Graph(), c), Tanh(logits)))
	}
	gradExec := context.MustNewExec(bk, ctx, func(ctx *context.Context, x *Node) []*Node {
		loss := lossOf(ctx, x)
		return append([]*Node{loss}, ctx.BuildTrainableVariablesGradientsGraph(loss)...)
	})
	out := gradExec.MustExec(x)
	lossExec := context.MustNewExec(bk, ctx, func(ctx *context.Context, x *Node) *Node { return lossOf(ctx, x) })
	vi := 0
	for v := range ctx.IterVariables() {
		if !v.Trainable {
			continue
		}
		vi++
		grad := tensors.MustCopyFlatData[float64](out[vi])
		orig := tensors.MustCopyFlatData[float64](v.MustValue())
		const eps = 1e-6
		// Check up to 12 coordinates per variable, spread over it.
		for _, i := range spread(len(orig), 12) {
			set := func(val float64) float64 {
				w := append([]float64(nil), orig...)
				w[i] = val
				v.MustSetValue(tensors.FromFlatDataAndDimensions(w, v.Shape().Dimensions...))
				return tensors.ToScalar[float64](lossExec.MustExec(x)[0])
			}
			fd := (set(orig[i]+eps) - set(orig[i]-eps)) / (2 * eps)
			if math.Abs(fd-grad[i]) > tol*(1+math.Abs(fd)) {
				t.Errorf("%s: ∂L/∂[%d] = %.9g, finite differences %.9g", v.ScopeAndName(), i, grad[i], fd)
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(orig, v.Shape().Dimensions...))
	}
	if vi == 0 {
		t.Fatal("no trainable variables")
	}
}

func spread(n, k int) []int {
	if n <= k {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, k)
	for i := range out {
		out[i] = i * (n - 1) / (k - 1)
	}
	return out
}

func TestDenseMLPGradients(t *testing.T) {
	checkModelGradients(t, &MLP{Hidden: []int{6, 5}, Classes: 3, Activation: "tanh"}, []int{4, 7}, 1e-6)
}

func TestLayerNormMLPGradients(t *testing.T) {
	checkModelGradients(t, &MLP{Hidden: []int{6}, Classes: 3, Activation: "gelu", Norm: "layernorm"}, []int{4, 7}, 1e-6)
}

// TestLayerNormValues checks LayerNorm against a plain-Go reference (γ=1, β=0 at initialisation).
func TestLayerNormValues(t *testing.T) {
	xs := []float64{1, 2, 4, -1, 0, 3}
	ctx := context.New()
	exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, x *Node) *Node { return LayerNorm(ctx.In("ln"), x) })
	got := tensors.MustCopyFlatData[float64](exec.MustExec(tensors.FromFlatDataAndDimensions(xs, 2, 3))[0])
	for row := 0; row < 2; row++ {
		v := xs[row*3 : row*3+3]
		mean := (v[0] + v[1] + v[2]) / 3
		variance := 0.0
		for _, a := range v {
			variance += (a - mean) * (a - mean) / 3
		}
		for j, a := range v {
			want := (a - mean) / math.Sqrt(variance+1e-5)
			if math.Abs(got[row*3+j]-want) > 1e-12 {
				t.Fatalf("LayerNorm[%d,%d] = %v, want %v", row, j, got[row*3+j], want)
			}
		}
	}
}

func TestConv2DValues(t *testing.T) {
	const b, h, w, c, f, k = 2, 4, 6, 2, 3, 3
	r := rand.New(rand.NewPCG(8, 9))
	xs := randVec(r, b*h*w*c)
	ctx := context.New()
	exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, x *Node) *Node { return Conv2D(ctx.In("conv"), x, f, k) })
	got := tensors.MustCopyFlatData[float64](exec.MustExec(tensors.FromFlatDataAndDimensions(xs, b, h, w, c))[0])
	kern := tensors.MustCopyFlatData[float64](ctx.GetVariableByScopeAndName("/conv", WeightsVar).MustValue())
	for bi := 0; bi < b; bi++ {
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				for fi := 0; fi < f; fi++ {
					want := 0.0
					for di := 0; di < k; di++ {
						for dj := 0; dj < k; dj++ {
							si, sj := i+di-1, j+dj-1
							if si < 0 || si >= h || sj < 0 || sj >= w {
								continue
							}
							for ci := 0; ci < c; ci++ {
								want += xs[((bi*h+si)*w+sj)*c+ci] * kern[((di*k+dj)*c+ci)*f+fi]
							}
						}
					}
					if g := got[((bi*h+i)*w+j)*f+fi]; math.Abs(g-want) > 1e-12 {
						t.Fatalf("conv[%d,%d,%d,%d] = %v, want %v", bi, i, j, fi, g, want)
					}
				}
			}
		}
	}
}

func TestCNNGradients(t *testing.T) {
	checkModelGradients(t, &CNN{Classes: 3, Channels: []int{2, 3}, Hidden: 4, ImageShape: []int{4, 4, 1}}, []int{2, 16}, 1e-5)
}

func TestTransformerGradients(t *testing.T) {
	m := &Transformer{Classes: 3, Tokens: 4, TokenDim: 3, Dim: 8, Heads: 2, FFNHidden: 8, QKNorm: true, Causal: true}
	checkModelGradients(t, m, []int{2, 4, 3}, 1e-5)
}

func TestMoETransformerGradients(t *testing.T) {
	m := &Transformer{Classes: 3, Tokens: 3, TokenDim: 2, Dim: 4, Heads: 1, FFNHidden: 4, Experts: 3, TopK: 2}
	checkModelGradientsOn(t, sequentialBackend(), m, []int{2, 3, 2}, 1e-5)
}

func TestInspect(t *testing.T) {
	m := &Transformer{Classes: 3, Tokens: 5, TokenDim: 2, Dim: 8, Heads: 2, Blocks: 2, Experts: 4, TopK: 2, Causal: true}
	ctx := context.New()
	const b = 3
	exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, x *Node) []*Node {
		o := m.Inspect(ctx, x)
		return []*Node{o.Logits, o.Features, o.Attention[1], o.ExpertChoices[1], o.RouterGates[1]}
	})
	r := rand.New(rand.NewPCG(10, 11))
	out := exec.MustExec(tensors.FromFlatDataAndDimensions(randVec(r, b*5*2), b, 5, 2))
	wantShapes := [][]int{{b, 3}, {b, 8}, {b, 2, 5, 5}, {b, 5, 2}, {b, 5, 4}}
	for i, w := range wantShapes {
		got := out[i].Shape().Dimensions
		if len(got) != len(w) {
			t.Fatalf("output %d has shape %v, want %v", i, got, w)
		}
		for j := range w {
			if got[j] != w[j] {
				t.Fatalf("output %d has shape %v, want %v", i, got, w)
			}
		}
	}
	choices := tensors.MustCopyFlatData[int32](out[3])
	gates := tensors.MustCopyFlatData[float64](out[4])
	for tok := 0; tok < b*5; tok++ {
		g := gates[tok*4 : tok*4+4]
		c0, c1 := choices[tok*2], choices[tok*2+1]
		sum := 0.0
		for e, v := range g {
			sum += v
			if (v > 0) != (int32(e) == c0 || int32(e) == c1) {
				t.Fatalf("token %d: gates %v but choices %d, %d", tok, g, c0, c1)
			}
		}
		if c0 == c1 || g[c0] < g[c1] || math.Abs(sum-1) > 1e-12 {
			t.Fatalf("token %d: choices %d, %d with gates %v", tok, c0, c1, g)
		}
	}
}

func TestMoEMLPGradients(t *testing.T) {
	checkModelGradientsOn(t, sequentialBackend(), &MoEMLP{Classes: 3, Hidden: 4, Experts: 3, TopK: 1}, []int{5, 6}, 1e-5)
}
