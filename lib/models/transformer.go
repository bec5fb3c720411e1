package models

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Transformer is a tiny pre-LayerNorm Transformer classifier over a sequence of Tokens tokens of
// TokenDim features each (inputs [B,T,F], or flat [B,T·F]):
//
//	h₀ = x·E + P                              ("embed": weights E, "position" P [T,D])
//	hᵢ' = hᵢ + Attention(LN(hᵢ))              ("block_i/attention", "block_i/ln_1")
//	hᵢ₊₁ = hᵢ' + FFN(LN(hᵢ'))                 ("block_i/ffn" or "block_i/moe", "block_i/ln_2")
//	features = mean over tokens of LN(h_L)   ("final_ln"); logits = features·W + b ("head")
//
// Attention has Heads heads of width D/Heads: softmax(q·kᵀ/√d_h [+ causal mask])·v, with optional
// LayerNorm of q and k per head (QKNorm: "q_norm", "k_norm"). Causal turns the block into a decoder
// block (token t attends to tokens ≤ t). With Experts > 0 the FFN is a mixture of experts (MoE).
// Inspect returns the attention logits and the experts' choices.
type Transformer struct {
	Classes, Tokens, TokenDim int
	// Dim D (default 32), Heads (default 2, must divide D), Blocks (default 1), FFNHidden (default 4·D).
	Dim, Heads, Blocks, FFNHidden int
	QKNorm, Causal                bool
	// Experts and TopK (default 1) make each block's FFN a mixture of experts.
	Experts, TopK int
}

// TransformerOutput is everything Inspect exposes.
type TransformerOutput struct {
	Logits, Features *Node
	// Attention holds each block's attention logits q·kᵀ/√d_h [B,H,T,T], before masking and softmax.
	Attention []*Node
	// ExpertChoices holds each MoE block's chosen experts [B,T,TopK] (int32, best first);
	// RouterGates the gate weights [B,T,Experts] (zero for experts not chosen). Empty without MoE.
	ExpertChoices, RouterGates []*Node
}

func (m *Transformer) config() Transformer {
	c := *m
	if c.Dim == 0 {
		c.Dim = 32
	}
	if c.Heads == 0 {
		c.Heads = 2
	}
	if c.Blocks == 0 {
		c.Blocks = 1
	}
	if c.FFNHidden == 0 {
		c.FFNHidden = 4 * c.Dim
	}
	if c.Experts > 0 && c.TopK == 0 {
		c.TopK = 1
	}
	return c
}

// Name implements Model: e.g. "transformer-d32-h2-b1" (+ "-qkln", "-causal", "-moe4k1").
func (m *Transformer) Name() string {
	c := m.config()
	s := fmt.Sprintf("transformer-d%d-h%d-b%d", c.Dim, c.Heads, c.Blocks)
	if c.QKNorm {
		s += "-qkln"
	}
	if c.Causal {
		s += "-causal"
	}
	if c.Experts > 0 {
		s += fmt.Sprintf("-moe%dk%d", c.Experts, c.TopK)
	}
	return s
}

// Check validates the configuration.
func (m *Transformer) Check() error {
	c := m.config()
	switch {
	case c.Classes <= 0 || c.Tokens <= 0 || c.TokenDim <= 0:
		return fmt.Errorf("models.Transformer: Classes (%d), Tokens (%d) and TokenDim (%d) must be positive", c.Classes, c.Tokens, c.TokenDim)
	case c.Dim <= 0 || c.Heads <= 0 || c.Dim%c.Heads != 0:
		return fmt.Errorf("models.Transformer: Heads (%d) must divide Dim (%d)", c.Heads, c.Dim)
	case c.Blocks < 0 || c.FFNHidden <= 0:
		return fmt.Errorf("models.Transformer: bad Blocks (%d) or FFNHidden (%d)", c.Blocks, c.FFNHidden)
	case c.Experts < 0 || (c.Experts > 0 && (c.TopK < 1 || c.TopK > c.Experts)):
		return fmt.Errorf("models.Transformer: TopK (%d) must be in [1, Experts=%d]", c.TopK, c.Experts)
	}
	return nil
}

// Forward implements Model.
func (m *Transformer) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	out := m.Inspect(ctx, x)
	return out.Logits, out.Features
}

// Inspect runs the model and returns its logits, features, attention logits and expert choices.
func (m *Transformer) Inspect(ctx *context.Context, x *Node) *TransformerOutput {
	if err := m.Check(); err != nil {
		panic(err)
	}
	c := m.config()
	b := x.Shape().Dimensions[0]
	if x.Shape().Size() != b*c.Tokens*c.TokenDim {
		panic(fmt.Errorf("models.Transformer: input %s does not hold [B, %d tokens, %d features]", x.Shape(), c.Tokens, c.TokenDim))
	}
	x = Reshape(x, b, c.Tokens, c.TokenDim)
	g := x.Graph()
	out := &TransformerOutput{}

	ectx := ctx.In("embed")
	pos := ectx.WithInitializer(initializers.RandomNormalFn(ectx, 0.02)).
		VariableWithShape("position", shapes.Make(x.DType(), c.Tokens, c.Dim)).ValueGraph(g)
	h := Add(Dense(ectx, x, c.Dim, true), ExpandLeftToRank(pos, 3))
	for i := 0; i < c.Blocks; i++ {
		bctx := ctx.Inf("block_%d", i)
		a, logits := c.attention(bctx.In("attention"), LayerNorm(bctx.In("ln_1"), h))
		out.Attention = append(out.Attention, logits)
		h = Add(h, a)
		z := LayerNorm(bctx.In("ln_2"), h)
		if c.Experts > 0 {
			y, choices, gates := MoE(bctx.In("moe"), Reshape(z, b*c.Tokens, c.Dim), c.Experts, c.TopK, c.FFNHidden)
			out.ExpertChoices = append(out.ExpertChoices, Reshape(choices, b, c.Tokens, c.TopK))
			out.RouterGates = append(out.RouterGates, Reshape(gates, b, c.Tokens, c.Experts))
			h = Add(h, Reshape(y, b, c.Tokens, c.Dim))
		} else {
			f := Activate("gelu", Dense(bctx.In("ffn").In("dense_0"), z, c.FFNHidden, true))
			h = Add(h, Dense(bctx.In("ffn").In("dense_1"), f, c.Dim, true))
		}
	}
	out.Features = ReduceMean(LayerNorm(ctx.In("final_ln"), h), 1)
	out.Logits = Dense(ctx.In("head"), out.Features, c.Classes, true)
	return out
}

// attention is multi-head self-attention on x [B,T,D]; it returns the output [B,T,D] and the
// attention logits [B,H,T,T]. Heads are split with Reshape/Transpose (no slicing, whose gradient
// needs Pad).
func (c Transformer) attention(ctx *context.Context, x *Node) (out, logits *Node) {
	dims := x.Shape().Dimensions
	b, t, d := dims[0], dims[1], dims[2]
	hn, dh := c.Heads, d/c.Heads
	split := func(name string) *Node { // → [B·H, T, dh]
		p := Reshape(Dense(ctx.In(name), x, d, true), b, t, hn, dh)
		if c.QKNorm && (name == "query" || name == "key") {
			p = LayerNorm(ctx.In(name[:1]+"_norm"), p)
		}
		return Reshape(TransposeAllAxes(p, 0, 2, 1, 3), b*hn, t, dh)
	}
	q, k, v := split("query"), split("key"), split("value")
	scores := MulScalar(BatchProduct(q, TransposeAllAxes(k, 0, 2, 1)), 1/math.Sqrt(float64(dh))) // [B·H, T, T]
	logits = Reshape(scores, b, hn, t, t)
	if c.Causal {
		mask := make([]bool, t*t)
		for i := 0; i < t; i++ {
			for j := 0; j <= i; j++ {
				mask[i*t+j] = true
			}
		}
		m := BroadcastToDims(Reshape(Const(x.Graph(), mask), 1, t, t), b*hn, t, t)
		scores = Where(m, scores, BroadcastToDims(Scalar(x.Graph(), x.DType(), -1e9), b*hn, t, t))
	}
	att := BatchProduct(Softmax(scores, -1), v) // [B·H, T, dh]
	att = Reshape(TransposeAllAxes(Reshape(att, b, hn, t, dh), 0, 2, 1, 3), b, t, d)
	return Dense(ctx.In("output"), att, d, true), logits
}

// MoE is a mixture-of-experts feed-forward layer on tokens x [N,D]: a linear router ("router", no
// bias) scores the E experts, each token keeps its top-k experts with gates
// g = softmax of their router logits (the others get 0), and
//
//	y[n] = Σ_e g[n,e]·(gelu(x[n]·W1[e] + b1[e])·W2[e] + b2[e])
//
// with experts' weights "w_in" [E,D,H], "b_in" [E,H], "w_out" [E,H,D], "b_out" [E,D]. It returns y
// [N,D], the choices [N,k] (int32, best first) and the gates [N,E]. The experts run densely (every
// expert on every token, then weighted): fine at this size, and it needs no dynamic shapes. Top-k is k
// rounds of ArgMax with masking (the pure-Go backend has no sort/TopK op).
func MoE(ctx *context.Context, x *Node, experts, topK, hidden int) (y, choices, gates *Node) {
	if x.Rank() != 2 || experts < 1 || topK < 1 || topK > experts || hidden < 1 {
		panic(fmt.Errorf("models.MoE: want x [N,D], 1 ≤ topK (%d) ≤ experts (%d), hidden (%d) ≥ 1; got x %s", topK, experts, hidden, x.Shape()))
	}
	n, d := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	g := x.Graph()
	router := Dense(ctx.In("router"), x, experts, false) // [N,E]
	remaining := router
	chosen := Zeros(g, shapes.Make(dtypes.Bool, n, experts))
	var picks []*Node
	negInf := BroadcastToDims(Scalar(g, x.DType(), math.Inf(-1)), n, experts)
	for i := 0; i < topK; i++ {
		idx := ArgMax(StopGradient(remaining), -1, dtypes.Int32) // [N]
		picks = append(picks, InsertAxes(idx, -1))
		hit := Equal(Iota(g, shapes.Make(dtypes.Int32, n, experts), 1), BroadcastToDims(InsertAxes(idx, -1), n, experts))
		chosen = LogicalOr(chosen, hit)
		remaining = Where(hit, negInf, remaining)
	}
	choices = Concatenate(picks, -1)
	gates = MaskedSoftmax(router, chosen, -1)

	// The experts are evaluated as two plain matrix products (no batched DotGeneral: batched products
	// of many small matrices running concurrently can deadlock the pure-Go backend's worker pool in
	// GoMLX v0.26). Since the second layer is linear, gating before it is exact:
	//   y[n] = Σ_e g[n,e]·(h[n,e]·W2[e] + b2[e]) = (g ⊙ h)[n, E·H]·W2[E·H, D] + g·b2.
	dt := x.DType()
	win := ctx.VariableWithShape("w_in", shapes.Make(dt, experts, d, hidden)).ValueGraph(g)
	bin := ctx.WithInitializer(initializers.Zero).VariableWithShape("b_in", shapes.Make(dt, experts, hidden)).ValueGraph(g)
	wout := ctx.VariableWithShape("w_out", shapes.Make(dt, experts, hidden, d)).ValueGraph(g)
	bout := ctx.WithInitializer(initializers.Zero).VariableWithShape("b_out", shapes.Make(dt, experts, d)).ValueGraph(g)
	w1 := Reshape(TransposeAllAxes(win, 1, 0, 2), d, experts*hidden)                 // [D, E·H]
	h := Add(Product(x, w1), Reshape(bin, 1, experts*hidden))                        // [N, E·H]
	h = Mul(Reshape(Activate("gelu", h), n, experts, hidden), InsertAxes(gates, -1)) // gated [N,E,H]
	y = Add(Product(Reshape(h, n, experts*hidden), Reshape(wout, experts*hidden, d)), Product(gates, bout))
	return y, choices, gates
}

// MoEMLP is a vector classifier with one mixture-of-experts layer: "dense_0" (Hidden, relu), a
// residual MoE layer ("moe", each example is a token), then the output layer "dense_1". Features are
// the MoE block's output. Inspect exposes each example's expert choices.
type MoEMLP struct {
	Classes, Hidden, Experts, TopK int
}

// Name implements Model.
func (m *MoEMLP) Name() string {
	return fmt.Sprintf("moe-mlp-%d-e%dk%d-%d", m.Hidden, m.Experts, max(m.TopK, 1), m.Classes)
}

// Forward implements Model.
func (m *MoEMLP) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	logits, features, _, _ = m.Inspect(ctx, x)
	return
}

// Inspect returns logits, features, the experts chosen for each example [B,TopK] and the gates [B,E].
func (m *MoEMLP) Inspect(ctx *context.Context, x *Node) (logits, features, choices, gates *Node) {
	if m.Classes <= 0 || m.Hidden <= 0 {
		panic(fmt.Errorf("models.MoEMLP: Classes (%d) and Hidden (%d) must be positive", m.Classes, m.Hidden))
	}
	h := Activate("relu", Dense(ctx.In("dense_0"), flatten(x), m.Hidden, true))
	y, choices, gates := MoE(ctx.In("moe"), h, m.Experts, max(m.TopK, 1), 2*m.Hidden)
	features = Add(h, y)
	return Dense(ctx.In("dense_1"), features, m.Classes, true), features, choices, gates
}
