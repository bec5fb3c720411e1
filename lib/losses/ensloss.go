package losses

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// EnsLoss, stochastic calibrated loss-derivative ensembles: Ben Dai, "EnsLoss:
// Stochastic Calibrated Loss Ensembles for Preventing Overfitting in Classification" (ICML 2025 per
// the official repository; the arXiv id was not verified). The generation of the derivatives follows the
// official code's ensLoss.forward (read at commit fd37682), made device-agnostic.

// EnsLossShift is subtracted from every derivative so that g < 0 strictly (calibration).
const EnsLossShift = 1e-6

func init() {
	Register(Objective{
		Name: "ensloss", Paper: "22-ensloss", Kind: Binary, PerExample: true,
		Summary: "EnsLoss surrogate stopgrad(g_i)·z_i, z = y·s, with random calibrated derivatives g (seeded); not a loss value",
		Params: []Param{
			{Name: "seed", Default: 0, Min: 0, Max: math.MaxInt32, Integer: true,
				Doc: "seed of the N(0,1) draw behind g (the same seed gives the same g for the same batch size)"},
			{Name: "lambda", Default: 0, Min: -1, Max: 1,
				Doc: "Box-Cox parameter λ of the inverse transform (0: r = -LogNormal(0,1), the official default)"},
		},
		Fn: func(b Batch, p Params) *Node {
			scores := b["scores"]
			if scores.Rank() != 1 {
				panicf("ensloss: scores must be [B], got shape %s", scores.Shape())
			}
			noise := EnsLossNoise(scores.Graph(), int64(p["seed"]), scores.Shape().Dimensions[0], scores.DType())
			return EnsLoss(scores, b["labels"], noise, p["lambda"])
		},
	})
}

// EnsLossNoise returns the standard normal draw ε [n] that the registry's "ensloss" objective uses for a
// given seed, in the given float dtype. It is always drawn in float64 and then converted, so float32 and
// float64 evaluations of the same seed see the same draw.
func EnsLossNoise(g *Graph, seed int64, n int, dtype dtypes.DType) *Node {
	_, eps := RandomNormal(RNGStateFromSeedForGraph(g, seed), shapes.Make(dtypes.Float64, n))
	return ConvertDType(eps, dtype)
}

// EnsLossDerivatives returns EnsLoss's random calibrated loss derivatives g [B] (detached) for margins
// z [B], given a standard normal draw ε [B]. Following the official ensLoss.forward:
//
//	r_i = -BC⁻¹(ε_i),  BC⁻¹(e) = exp(e) (λ = 0), max(1 + λe, 0)^(1/λ) (λ ≠ 0)
//	r  ← max(r, -1)                                   (so r ∈ [-1, 0]; about half the batch is clipped)
//	g[argsort(z)] = sort(r)                           (smallest margin ↔ most negative derivative)
//	g_i ← g_i / z_i  where z_i > 1                    (tail decay)
//	g_i ← g_i - 1e-6                                  (strictly negative)
//
// So g is non-decreasing in z within the batch (convexity), negative (calibration) and decays for large
// z. For λ < 0 a zero base gives r = -∞, clipped to -1 (no NaN); for λ > 0 it gives r = 0.
// The rank matching is done with pairwise comparisons (O(B²), no sort op): rank(z_i) = #{j: z_j < z_i}
// + #{j < i: z_j = z_i}, likewise for r, and g_i is the r of equal rank (a one-hot [B,B] product).
// Permuting the batch with the same draw permutes g the same way (the draw enters only through its
// sorted values).
func EnsLossDerivatives(margins, noise *Node, lambda float64) *Node {
	if margins.Rank() != 1 {
		panicf("EnsLossDerivatives: margins must be [B], got shape %s", margins.Shape())
	}
	if noise.Rank() != 1 || noise.Shape().Dimensions[0] != margins.Shape().Dimensions[0] {
		panicf("EnsLossDerivatives: noise must be [B] with B=%d, got shape %s", margins.Shape().Dimensions[0], noise.Shape())
	}
	if math.IsNaN(lambda) || math.IsInf(lambda, 0) {
		panicf("EnsLossDerivatives: lambda=%g must be finite", lambda)
	}
	dtype := margins.DType()
	z := StopGradient(margins)
	eps := StopGradient(ConvertDType(noise, dtype))
	var r *Node
	if lambda == 0 {
		r = Neg(Exp(eps))
	} else {
		base := AddScalar(MulScalar(eps, lambda), 1)
		pos := GreaterThan(base, ZerosLike(base))
		val := Pow(Where(pos, base, OnesLike(base)), Scalar(z.Graph(), dtype, 1/lambda))
		zeroBase := ZerosLike(base) // λ > 0: 0^(1/λ) = 0, so r = 0.
		if lambda < 0 {
			zeroBase = AddScalar(ZerosLike(base), -1) // λ < 0: 0^(1/λ) = ∞, r = -∞, clipped to -1.
		}
		r = Where(pos, Neg(val), zeroBase)
	}
	r = MaxScalar(r, -1) // also maps an overflowed -∞ to -1.
	rank := func(x *Node) *Node {
		n := x.Shape().Dimensions[0]
		xi, xj := InsertAxes(x, 1), InsertAxes(x, 0) // [i,1], [1,j]
		idx := Iota(x.Graph(), shapes.Make(dtypes.Int32, n), 0)
		before := LogicalOr(LessThan(xj, xi),
			LogicalAnd(Equal(xj, xi), LessThan(InsertAxes(idx, 0), InsertAxes(idx, 1))))
		return ReduceSum(ConvertDType(before, dtypes.Int32), 1) // [B]
	}
	same := ConvertDType(Equal(InsertAxes(rank(z), 1), InsertAxes(rank(r), 0)), dtype) // [i (z), j (r)]
	g := ReduceSum(Mul(same, InsertAxes(r, 0)), 1)
	tail := GreaterThan(z, OnesLike(z))
	g = Where(tail, Div(g, Where(tail, z, OnesLike(z))), g)
	return StopGradient(AddScalar(g, -EnsLossShift))
}

// EnsLoss returns the per-example EnsLoss surrogate [B] for scores s [B], 0/1 labels t [B] and a
// standard normal draw ε [B] (see EnsLossDerivatives):
//
//	z_i = y_i s_i,  y_i = 2t_i - 1
//	J_i = stopgrad(g_i)·z_i,   so  d mean(J)/d s_i = y_i g_i / B
//
// as if the loss derivative at z_i were g_i. J is not a loss value (monitor BCE or accuracy instead);
// a fresh ε per batch gives the paper's doubly stochastic SGD (see EnsLossWithState, EnsLossContext).
func EnsLoss(scores, labels, noise *Node, lambda float64) *Node {
	z := BinaryMargins("EnsLoss", scores, labels)
	return Mul(EnsLossDerivatives(z, noise, lambda), z)
}

// EnsLossWithState is EnsLoss drawing ε from an explicit GoMLX RNG state (see graph.RNGStateFromSeed);
// it returns the per-example surrogate [B] and the advanced state to use for the next batch.
func EnsLossWithState(scores, labels, rngState *Node, lambda float64) (perExample, newState *Node) {
	if scores.Rank() != 1 {
		panicf("EnsLossWithState: scores must be [B], got shape %s", scores.Shape())
	}
	newState, eps := RandomNormal(rngState, shapes.Make(dtypes.Float64, scores.Shape().Dimensions[0]))
	return EnsLoss(scores, labels, eps, lambda), newState
}

// EnsLossContext is EnsLoss drawing ε from the context's RNG (its state is the context variable
// "#rngState", advanced on every execution), for training loops: each step sees a new g.
func EnsLossContext(ctx *context.Context, scores, labels *Node, lambda float64) *Node {
	if scores.Rank() != 1 {
		panicf("EnsLossContext: scores must be [B], got shape %s", scores.Shape())
	}
	eps := ctx.RandomNormal(scores.Graph(), shapes.Make(dtypes.Float64, scores.Shape().Dimensions[0]))
	return EnsLoss(scores, labels, eps, lambda)
}
