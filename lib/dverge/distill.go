// Package dverge holds the feature distillation of DVERGE: Yang, Zhang, Dong, Inkawhich, Gardner, Touchet,
// Wilkes, Berry & Li, "DVERGE: Diversifying Vulnerabilities for Enhanced Robust Generation of Ensembles",
// NeurIPS 2020, arXiv:2009.14720. Distill finds, near a source image, the image whose features under one
// ensemble member match a target image's; the other members then train on those images with lib/losses'
// "dverge" objective (DVERGELoss).
package dverge

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

func panicf(format string, args ...any) { panic(fmt.Errorf(format, args...)) }

// FeatureMSE returns DVERGE's feature-matching loss, a scalar: the mean over all elements (batch
// included) of (features − target)², with target = f^l(x_t) a constant (no gradient).
func FeatureMSE(features, target *Node) *Node {
	if !features.Shape().Equal(target.Shape()) {
		panicf("dverge.FeatureMSE: features %s and target %s must have the same shape", features.Shape(), target.Shape())
	}
	return ReduceAllMean(Square(Sub(features, StopGradient(target))))
}

// DistillConfig holds the feature-distillation solver's settings.
type DistillConfig struct {
	// Epsilon is the L∞ radius ε around the source image (0.07).
	Epsilon float64
	// StepSize is the sign-step size α (0.007).
	StepSize float64
	// Steps is the number of steps (10).
	Steps int
	// Momentum is μ of the gradient accumulation m ← μ·m + ĝ (1).
	Momentum float64
}

// DefaultDistillConfig returns the official settings: ε = 0.07, α = 0.007, 10 steps, μ = 1.
func DefaultDistillConfig() DistillConfig {
	return DistillConfig{Epsilon: 0.07, StepSize: 0.007, Steps: 10, Momentum: 1}
}

// Distill returns the distilled images x'(x_t, x_s), [B, ...], a constant (no gradient flows back
// to the member or the images): an approximate solution of
//
//	x' = argmin_{z : ‖z − x_s‖∞ ≤ ε, z ∈ [0,1]}  MSE( f(z), f(x_t) )
//
// for the feature function f (member j at layer l), source images x_s and target images x_t [B, ...].
// Starting at z = x_s (no random start) with m = 0, each of cfg.Steps steps does
//
//	g  = ∇_z MSE(f(z), f(x_t))
//	ĝ  = g / max(‖g_b‖₁, 1e-12)          (per example b: unit L1 norm)
//	m ← μ·m + ĝ
//	z ← clip( clip(z − α·sign(m), x_s − ε, x_s + ε), 0, 1 )
//
// The gradient is taken inside the graph, so f must be differentiable w.r.t. its input. The loop is
// unrolled (cfg.Steps copies of f and its gradient in the graph).
func Distill(featureFn func(z *Node) *Node, source, target *Node, cfg DistillConfig) *Node {
	if source.Rank() < 2 || !source.DType().IsFloat() || !target.Shape().Equal(source.Shape()) {
		panicf("dverge.Distill: source and target must be float images [B, ...] of one shape, got %s and %s", source.Shape(), target.Shape())
	}
	if !(cfg.Epsilon >= 0) || !(cfg.StepSize >= 0) || cfg.Steps < 0 || math.IsNaN(cfg.Momentum) {
		panicf("dverge.Distill: bad config %+v: want ε ≥ 0, α ≥ 0, steps ≥ 0", cfg)
	}
	source = StopGradient(source)
	goal := StopGradient(featureFn(StopGradient(target)))
	lo, hi := AddScalar(source, -cfg.Epsilon), AddScalar(source, cfg.Epsilon)
	// Gradient cannot be taken w.r.t. a stop-gradient node (it would come back as zeros), so the iterate
	// starts as a fresh node equal to the source, and the loop keeps z differentiable until the end.
	z := Add(source, ZerosLike(source))
	var m *Node
	for range cfg.Steps {
		g := Gradient(FeatureMSE(featureFn(z), goal), z)[0]
		gHat := l1Normalize(g)
		if m == nil {
			m = gHat
		} else {
			m = Add(MulScalar(m, cfg.Momentum), gHat)
		}
		z = Sub(z, MulScalar(Sign(m), cfg.StepSize))
		z = ClipScalar(Min(Max(z, lo), hi), 0, 1)
	}
	return StopGradient(z)
}

// l1Normalize divides each example's gradient g [B, ...] by its L1 norm (at least 1e-12).
func l1Normalize(g *Node) *Node {
	axes := make([]int, 0, g.Rank()-1)
	for a := 1; a < g.Rank(); a++ {
		axes = append(axes, a)
	}
	return Div(g, MaxScalar(ReduceAndKeep(Abs(g), ReduceSum, axes...), 1e-12))
}
