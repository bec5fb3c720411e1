package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// mlpForward is a ReLU MLP x_ℓ = relu(x_{ℓ-1} W_ℓ + b_ℓ) with variables "/dense_ℓ/weights" and
// "/dense_ℓ/biases"; the last layer has no ReLU.
func mlpForward(sizes []int, dtype dtypes.DType) ForwardFn {
	return func(ctx *context.Context, x *graph.Node) *graph.Node {
		g := x.Graph()
		x = graph.Reshape(x, x.Shape().Dimensions[0], -1)
		for l := 0; l+1 < len(sizes); l++ {
			c := ctx.In(fmt.Sprintf("dense_%d", l))
			w := c.VariableWithShape("weights", shapes.Make(dtype, sizes[l], sizes[l+1])).ValueGraph(g)
			b := c.VariableWithShape("biases", shapes.Make(dtype, sizes[l+1])).ValueGraph(g)
			x = graph.Add(graph.Dot(x, w), graph.InsertAxes(b, 0))
			if l+2 < len(sizes) {
				x = graph.Max(x, graph.ZerosLike(x))
			}
		}
		return x
	}
}

// randomMLP returns random MLP parameters (scaled normal weights, small biases).
func randomMLP(sizes []int, dtype dtypes.DType, seed uint64) *ParamSet {
	r := rand.New(rand.NewPCG(seed, 7))
	ps := &ParamSet{}
	for l := 0; l+1 < len(sizes); l++ {
		scope := fmt.Sprintf("/dense_%d", l)
		w := make([]float64, sizes[l]*sizes[l+1])
		for i := range w {
			w[i] = r.NormFloat64() / math.Sqrt(float64(sizes[l]))
		}
		b := make([]float64, sizes[l+1])
		for i := range b {
			b[i] = 0.1 * r.NormFloat64()
		}
		ps.Params = append(ps.Params,
			&Param{Scope: scope, Var: "biases", Group: scope, Shape: []int{sizes[l+1]}, DType: dtype, Data: b},
			&Param{Scope: scope, Var: "weights", Group: scope, Shape: []int{sizes[l], sizes[l+1]}, DType: dtype, Data: w})
	}
	ps.sort()
	return ps
}

// refMLP is the float64 reference: logits of the MLP on one example.
func refMLP(ps *ParamSet, sizes []int, x []float64) []float64 {
	for l := 0; l+1 < len(sizes); l++ {
		w := ps.Lookup(fmt.Sprintf("/dense_%d/weights", l)).Data
		b := ps.Lookup(fmt.Sprintf("/dense_%d/biases", l)).Data
		out := make([]float64, sizes[l+1])
		for j := range out {
			s := b[j]
			for i := 0; i < sizes[l]; i++ {
				s += x[i] * w[i*sizes[l+1]+j]
			}
			if l+2 < len(sizes) && s < 0 {
				s = 0
			}
			out[j] = s
		}
		x = out
	}
	return x
}

// refLossErr is the float64 reference mean cross-entropy and error rate.
func refLossErr(ps *ParamSet, sizes []int, d *Data) (float64, float64) {
	dim := prod(d.Shape)
	loss, wrong := 0.0, 0.0
	for n := range d.Len() {
		x := make([]float64, dim)
		for i := range x {
			x[i] = float64(d.X[n*dim+i])
		}
		z := refMLP(ps, sizes, x)
		mx, arg := math.Inf(-1), 0
		for k, v := range z {
			if v > mx {
				mx, arg = v, k
			}
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		loss += mx + math.Log(s) - z[d.Y[n]]
		if int32(arg) != d.Y[n] {
			wrong++
		}
	}
	return loss / float64(d.Len()), wrong / float64(d.Len())
}

// randomData returns n random examples of dimension dim with labels in [0, classes).
func randomData(n, dim, classes int, seed uint64) *Data {
	r := rand.New(rand.NewPCG(seed, 11))
	d := &Data{Name: fmt.Sprintf("random-%d", seed), Shape: []int{dim}, X: make([]float32, n*dim), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = float32(r.NormFloat64())
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(classes))
	}
	return d
}

// Analytic "models": the parameter vector θ (variable "/toy/theta", float64) is broadcast as the logits of
// every example, and a custom loss evaluates a closed-form function of θ.

func toyForward(n int) ForwardFn {
	return func(ctx *context.Context, x *graph.Node) *graph.Node {
		g := x.Graph()
		theta := ctx.In("toy").VariableWithShape("theta", shapes.Make(dtypes.Float64, n)).ValueGraph(g)
		b := x.Shape().Dimensions[0]
		return graph.BroadcastToDims(graph.InsertAxes(theta, 0), b, n)
	}
}

func toyPoint(v ...float64) *ParamSet {
	return &ParamSet{Params: []*Param{{Scope: "/toy", Var: "theta", Group: "/toy", Shape: []int{len(v)}, DType: dtypes.Float64, Data: append([]float64(nil), v...)}}}
}

// quadLoss is L(θ) = ½θᵀHθ + bᵀθ + c with H = diag(2,1), b = (1,−1), c = 0.5 (a worked example for Singh et al., arXiv:2406.16300).
func quadLoss(logits, _ *graph.Node) *graph.Node {
	x, y := column(logits, 0), column(logits, 1)
	// ½(2x² + y²) + x − y + 0.5
	return graph.AddScalar(graph.Add(graph.Add(graph.Mul(x, x), graph.MulScalar(graph.Mul(y, y), 0.5)), graph.Sub(x, y)), 0.5)
}

func quadRef(x, y float64) float64 { return x*x + 0.5*y*y + x - y + 0.5 }

// wellLoss is the double well L(x, y) = (x² − 1)² + y².
func wellLoss(logits, _ *graph.Node) *graph.Node {
	x, y := column(logits, 0), column(logits, 1)
	a := graph.AddScalar(graph.Mul(x, x), -1)
	return graph.Add(graph.Mul(a, a), graph.Mul(y, y))
}

// toyData is a one-example dataset (the toy losses ignore it).
func toyData() *Data { return &Data{Name: "toy", Shape: []int{1}, X: []float32{0}, Y: []int32{0}} }

func newToyEvaluator(loss LossFn, name string) (*Evaluator, error) {
	return NewEvaluator(toyForward(2), toyPoint(0, 0), Config{Loss: loss, LossName: name, PointsPerCall: 4})
}

type graphNode = graph.Node

// sqrtLoss is √θ₀, NaN for θ₀ < 0.
func sqrtLoss(logits *graph.Node) *graph.Node {
	return graph.Sqrt(graph.Reshape(graph.Slice(logits, graph.AxisRange(), graph.AxisElem(0)), -1))
}

// column returns logits[:, i] as [B]. Workaround: the gradient of Slice needs Pad, which the pure-Go
// backend lacks, so the column is taken as a product with a one-hot row instead.
func column(logits *graph.Node, i int) *graph.Node {
	k := logits.Shape().Dimensions[1]
	row := make([]float64, k)
	row[i] = 1
	oneHot := graph.ConvertDType(graph.Const(logits.Graph(), [][]float64{row}), logits.DType())
	return graph.ReduceSum(graph.Mul(logits, oneHot), -1)
}
