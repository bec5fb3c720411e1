package models

import (
	"fmt"
	"math"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Variable names used by every layer in this package, inside the layer's scope: a dense layer in scope
// "dense_0" has "/dense_0/weights" and "/dense_0/biases".
const (
	WeightsVar = "weights"
	BiasesVar  = "biases"
	GainVar    = "gain"   // normalisation scale γ
	OffsetVar  = "offset" // normalisation shift β
	MeanVar    = "moving_mean"
	VarVar     = "moving_variance"
)

// Dense applies the affine map x·W + b to the last axis of x: x [..., in] → [..., out]. W [in,out] and
// b [out] are the variables "weights" and "biases" of ctx's scope (pass ctx.In("dense_0")); W starts from
// ctx's initializer (GoMLX's default: He normal), b from zero. The product is Product, whose gradient is
// a matrix product.
func Dense(ctx *context.Context, x *Node, out int, bias bool) *Node {
	in := x.Shape().Dimensions[x.Rank()-1]
	w := ctx.VariableWithShape(WeightsVar, shapes.Make(x.DType(), in, out)).ValueGraph(x.Graph())
	y := Project(x, w)
	if bias {
		b := ctx.WithInitializer(initializers.Zero).VariableWithShape(BiasesVar, shapes.Make(x.DType(), out)).ValueGraph(x.Graph())
		y = Add(y, ExpandLeftToRank(b, y.Rank()))
	}
	return y
}

// Activations lists the names Activate accepts.
var Activations = []string{"relu", "gelu", "tanh", "sigmoid", "silu", "leaky_relu", "identity"}

// CheckActivation returns an error naming the valid choices if name is not an activation.
func CheckActivation(name string) error {
	for _, a := range Activations {
		if a == name {
			return nil
		}
	}
	return fmt.Errorf("unknown activation %q (valid: %s)", name, strings.Join(Activations, ", "))
}

// Activate applies the named activation elementwise:
//
//	relu(x) = max(x, 0)          gelu(x) = x·Φ(x) = ½x(1 + erf(x/√2))     tanh, sigmoid σ(x) = 1/(1+e⁻ˣ)
//	silu(x) = x·σ(x)             leaky_relu(x) = max(x, 0.01x)            identity(x) = x
//
// "" means relu. An unknown name panics with the error of CheckActivation (graph-building convention).
func Activate(name string, x *Node) *Node {
	switch name {
	case "relu", "":
		return Max(x, ZerosLike(x))
	case "gelu":
		return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
	case "tanh":
		return Tanh(x)
	case "sigmoid":
		return Logistic(x)
	case "silu":
		return Mul(x, Logistic(x))
	case "leaky_relu":
		return Max(x, MulScalar(x, 0.01))
	case "identity", "linear":
		return x
	}
	panic(CheckActivation(name))
}

// LayerNorm normalises the last axis of x to zero mean and unit variance and applies a learned scale
// and shift: y = γ ⊙ (x − μ)/√(σ² + ε) + β with ε = 1e-5; γ ("gain", init 1) and β ("offset",
// init 0) live in ctx's scope. Written with elementwise ops and reductions (the pure-Go backend has no
// fused layer-norm op; none is needed).
func LayerNorm(ctx *context.Context, x *Node) *Node {
	d := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	gain := ctx.WithInitializer(initializers.One).VariableWithShape(GainVar, shapes.Make(x.DType(), d)).ValueGraph(g)
	offset := ctx.WithInitializer(initializers.Zero).VariableWithShape(OffsetVar, shapes.Make(x.DType(), d)).ValueGraph(g)
	y := normalize(x, x.Rank()-1)
	return Add(Mul(y, ExpandLeftToRank(gain, y.Rank())), ExpandLeftToRank(offset, y.Rank()))
}

// normalize returns (x − mean)/√(var + 1e-5) over the given axes (statistics kept with keepdims).
func normalize(x *Node, axes ...int) *Node {
	mean := ReduceAndKeep(x, ReduceMean, axes...)
	centered := Sub(x, mean)
	variance := ReduceAndKeep(Square(centered), ReduceMean, axes...)
	// 1/√· rather than Rsqrt: GoMLX v0.26 defines no gradient for Rsqrt.
	return Div(centered, Sqrt(AddScalar(variance, 1e-5)))
}

// BatchNormMomentum is the weight of the old value in BatchNorm's moving averages.
const BatchNormMomentum = 0.9

// BatchNorm normalises each feature (the last axis) over all other axes, with a learned scale γ ("gain")
// and shift β ("offset"). In a training graph (ctx.IsTraining) it uses the batch statistics and updates
// the moving averages "moving_mean" and "moving_variance" (not trainable; m ← 0.9·m + 0.1·batch value);
// otherwise it uses the moving averages. Written with plain ops: the pure-Go backend lacks GoMLX's
// BatchNormForTraining/BatchNormForInference ops.
func BatchNorm(ctx *context.Context, x *Node) *Node {
	d := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	dt := x.DType()
	gain := ctx.WithInitializer(initializers.One).VariableWithShape(GainVar, shapes.Make(dt, d)).ValueGraph(g)
	offset := ctx.WithInitializer(initializers.Zero).VariableWithShape(OffsetVar, shapes.Make(dt, d)).ValueGraph(g)
	meanVar := ctx.WithInitializer(initializers.Zero).VariableWithShape(MeanVar, shapes.Make(dt, d)).SetTrainable(false)
	varVar := ctx.WithInitializer(initializers.One).VariableWithShape(VarVar, shapes.Make(dt, d)).SetTrainable(false)
	axes := make([]int, x.Rank()-1)
	for i := range axes {
		axes[i] = i
	}
	var mean, variance *Node
	if ctx.IsTraining(g) {
		mean = ReduceMean(x, axes...)
		variance = ReduceMean(Square(Sub(x, ExpandLeftToRank(mean, x.Rank()))), axes...)
		m := BatchNormMomentum
		meanVar.SetValueGraph(Add(MulScalar(meanVar.ValueGraph(g), m), MulScalar(StopGradient(mean), 1-m)))
		varVar.SetValueGraph(Add(MulScalar(varVar.ValueGraph(g), m), MulScalar(StopGradient(variance), 1-m)))
	} else {
		mean, variance = meanVar.ValueGraph(g), varVar.ValueGraph(g)
	}
	y := Div(Sub(x, ExpandLeftToRank(mean, x.Rank())), ExpandLeftToRank(Sqrt(AddScalar(variance, 1e-5)), x.Rank()))
	return Add(Mul(y, ExpandLeftToRank(gain, x.Rank())), ExpandLeftToRank(offset, x.Rank()))
}

// flatten reshapes x [B, ...] to [B, prod(...)].
func flatten(x *Node) *Node {
	if x.Rank() == 2 {
		return x
	}
	b := x.Shape().Dimensions[0]
	return Reshape(x, b, x.Shape().Size()/max(b, 1))
}
