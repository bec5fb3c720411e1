package nap

import (
	"fmt"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/losslab/losslab/lib/models"
)

// DefaultEps is LayerNorm's ε.
const DefaultEps = 1e-5

// MLP is a ReLU multilayer perceptron in one of NaP's variants. With Norm, hidden layer i is
// z = x·W_i (scope "dense_i", no bias), LN(z) = g ⊙ (z − mean z)/√(var z + ε) + β (scope "layernorm_i",
// variables "gain" and "offset"), then ReLU; without Norm it is the plain relu(x·W_i + b_i). The output
// layer "dense_L" is x·W_L + b_L in both. Projection is not part of the model: see Projector.
type MLP struct {
	Hidden  []int
	Classes int
	Norm    bool
	// Eps is LayerNorm's ε: 0 means DefaultEps, a negative value means exactly 0 (exact scale
	// invariance; the variance of a layer must then not vanish).
	Eps float64
}

// Check validates the configuration.
func (m *MLP) Check() error {
	if m.Classes < 2 {
		return fmt.Errorf("nap.MLP: Classes = %d must be ≥ 2", m.Classes)
	}
	for _, h := range m.Hidden {
		if h < 2 {
			return fmt.Errorf("nap.MLP: hidden width %d must be ≥ 2 (LayerNorm over one unit is constant)", h)
		}
	}
	return nil
}

// Name implements models.Model: "nap-mlp-64-64-10-ln" or "nap-mlp-64-64-10".
func (m *MLP) Name() string {
	parts := []string{"nap-mlp"}
	for _, h := range m.Hidden {
		parts = append(parts, strconv.Itoa(h))
	}
	parts = append(parts, strconv.Itoa(m.Classes))
	if m.Norm {
		parts = append(parts, "ln")
	}
	return strings.Join(parts, "-")
}

func (m *MLP) eps() float64 {
	switch {
	case m.Eps == 0:
		return DefaultEps
	case m.Eps < 0:
		return 0
	}
	return m.Eps
}

// Forward implements models.Model.
func (m *MLP) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	if err := m.Check(); err != nil {
		panic(err)
	}
	h := x
	if h.Rank() != 2 {
		h = Reshape(h, h.Shape().Dimensions[0], -1)
	}
	for i, width := range m.Hidden {
		h = models.Dense(ctx.Inf("dense_%d", i), h, width, !m.Norm)
		if m.Norm {
			h = layerNorm(ctx.Inf("layernorm_%d", i), h, m.eps())
		}
		h = Max(h, ZerosLike(h))
	}
	logits = models.Dense(ctx.Inf("dense_%d", len(m.Hidden)), h, m.Classes, true)
	return logits, h
}

// layerNorm is lib/models' LayerNorm with a chosen ε (divided by Sqrt: Rsqrt has no gradient in GoMLX
// v0.26).
func layerNorm(ctx *context.Context, x *Node, eps float64) *Node {
	d := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	gain := ctx.WithInitializer(initializers.One).VariableWithShape(models.GainVar, shapes.Make(x.DType(), d)).ValueGraph(g)
	offset := ctx.WithInitializer(initializers.Zero).VariableWithShape(models.OffsetVar, shapes.Make(x.DType(), d)).ValueGraph(g)
	mean := ReduceAndKeep(x, ReduceMean, -1)
	c := Sub(x, mean)
	v := ReduceAndKeep(Square(c), ReduceMean, -1)
	if eps > 0 {
		v = AddScalar(v, eps)
	}
	y := Div(c, Sqrt(v))
	return Add(Mul(y, ExpandLeftToRank(gain, 2)), ExpandLeftToRank(offset, 2))
}
