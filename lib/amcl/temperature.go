// Package amcl holds the temperature network of Adaptive Multi-head Contrastive Learning: Wang, Koniusz,
// Gedeon & Zheng, "Adaptive Multi-head Contrastive Learning", arXiv:2310.05615 (ECCV 2024), after the
// official code (LeiWangR/cl, src/amcl_components). PairTemperatures builds the per-head network φ_c that
// gives every pair of embeddings its own temperature, bounded by Temperature; the loss that uses them is
// lib/losses' AMCLLoss (and the "amcl" objective, with one constant temperature), whose bounds
// losses.AMCLTauMin and losses.AMCLTauMax are the official ones.
package amcl

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

func panicf(format string, args ...any) { panic(fmt.Errorf(format, args...)) }

// Temperature maps pre-activations a (any shape, e.g. φ_c([z_a; z_b])) to bounded temperatures
// τ = τ_min + (τ_max - τ_min)·σ(a): always inside [τ_min, τ_max]; a = 0 gives (τ_min + τ_max)/2.
func Temperature(preact *Node, tauMin, tauMax float64) *Node {
	if !(tauMin > 0 && tauMax > tauMin) {
		panicf("amcl.Temperature: need 0 < τ_min < τ_max, got %g, %g", tauMin, tauMax)
	}
	return AddScalar(MulScalar(Sigmoid(preact), tauMax-tauMin), tauMin)
}

// PairTemperatures builds AMCL's temperature network and returns the bounded temperature of every
// pair of every head, τ^c(a, b) [C,A,A], for head embeddings z [C,A,d']:
//
//	τ^c(a, b) = τ_min + (τ_max - τ_min)·σ(φ_c([z^c_a ; z^c_b])),   φ_c = Linear(2d', H) - ReLU - Linear(H, 1)
//
// The first layer is applied as z_a·W_a + z_b·W_b + b₁ (W = [W_a; W_b]), so the [A,A,2d'] pair
// concatenation is never built; memory is O(C·A²·H). The official code keeps one φ per head (shared =
// false); the paper's figure draws one shared MLP (shared = true), which couples the heads through φ's
// parameters only (head c's temperatures always depend on head c's embeddings alone).
// Variables live in ctx.In("amcl_temperature") (w1a, w1b [C',d',H], b1 [C',H], w2 [C',H], b2 [C'],
// C' = 1 when shared), initialised by the context's initializer.
func PairTemperatures(ctx *context.Context, z *Node, hidden int, shared bool, tauMin, tauMax float64) *Node {
	if z.Rank() != 3 {
		panicf("amcl.PairTemperatures: embeddings must be [C,A,d'], got shape %s", z.Shape())
	}
	if hidden < 1 {
		panicf("amcl.PairTemperatures: hidden size %d must be >= 1", hidden)
	}
	g, dtype := z.Graph(), z.DType()
	c, d := z.Shape().Dimensions[0], z.Shape().Dimensions[2]
	cw := c
	if shared {
		cw = 1
	}
	ctx = ctx.In("amcl_temperature")
	w1a := ctx.VariableWithShape("w1a", shapes.Make(dtype, cw, d, hidden)).ValueGraph(g)
	w1b := ctx.VariableWithShape("w1b", shapes.Make(dtype, cw, d, hidden)).ValueGraph(g)
	b1 := ctx.VariableWithShape("b1", shapes.Make(dtype, cw, hidden)).ValueGraph(g)
	w2 := ctx.VariableWithShape("w2", shapes.Make(dtype, cw, hidden)).ValueGraph(g)
	b2 := ctx.VariableWithShape("b2", shapes.Make(dtype, cw)).ValueGraph(g)
	if shared {
		w1a = BroadcastToDims(w1a, c, d, hidden)
		w1b = BroadcastToDims(w1b, c, d, hidden)
		b1, w2, b2 = BroadcastToDims(b1, c, hidden), BroadcastToDims(w2, c, hidden), BroadcastToDims(b2, c)
	}
	ua := Einsum("cad,cdh->cah", z, w1a)                                              // [C,A,H]
	ub := Einsum("cbd,cdh->cbh", z, w1b)                                              // [C,A,H]
	h := Add(Add(InsertAxes(ua, 2), InsertAxes(ub, 1)), Reshape(b1, c, 1, 1, hidden)) // [C,A,A,H]
	h = MaxScalar(h, 0)
	pre := Add(Einsum("cabh,ch->cab", h, w2), Reshape(b2, c, 1, 1))
	return Temperature(pre, tauMin, tauMax)
}
