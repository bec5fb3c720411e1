package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// DVERGE: Yang, Zhang, Dong, Inkawhich, Gardner, Touchet, Wilkes, Berry & Li, "DVERGE:
// Diversifying Vulnerabilities for Enhanced Robust Generation of Ensembles", NeurIPS 2020,
// arXiv:2009.14720.
//
// Each ensemble member f_j "distils" a source image x_s towards an independently drawn target image x_t:
// DVERGEDistill finds, within ‖z − x_s‖∞ ≤ ε, the image whose layer-l features under f_j match x_t's
// (the non-robust features of f_j). Member i then trains on the other members' distilled images with the
// source's labels (DVERGELoss), so that it is not fooled by its siblings' non-robust features:
//
//	L_i = Σ_{j≠i} CE( f_i(x'_j(x_t, x_s)), y_s )
//
// Inputs, as the caller provides them: a feature function z ↦ f_j^l(z) (a closure over member j's
// parameters, e.g. a model's pre-activation at layer l) and the image batches x_s, x_t [B, ...] in [0,1]
// for the distillation; member i's logits on each x'_j [B,K] and the labels y_s [B] for the loss.
//
// The registered "dverge" is L_i through the classification kind: its logits are f_i on the M−1
// distilled batches stacked along the batch axis (rows j·B_s … (j+1)·B_s − 1 from member j's batch), its
// labels y_s repeated M−1 times, and "members" is M.

func init() {
	Register(Objective{
		Name: "dverge", Paper: "18-dverge", Kind: Classification, PerExample: true,
		Summary: "DVERGE diversity loss Σ_{j≠i} CE(f_i(x'_j), y_s): logits of member i on the M−1 distilled batches, stacked",
		Params: []Param{{Name: "members", Default: 3, Min: 1, Max: 1 << 20, Integer: true,
			Doc: "ensemble size M; the batch holds M−1 equal blocks, one per other member (M = 1: the loss is 0)"}},
		Fn: func(b Batch, p Params) *Node {
			logits, labels := b["logits"], b["labels"]
			others := int(p["members"]) - 1
			ce := CrossEntropy(logits, labels)
			if others == 0 {
				return ZerosLike(ce)
			}
			if n := logits.Shape().Dimensions[0]; n%others != 0 {
				panicf("dverge: the batch of %d rows cannot hold M−1 = %d equal blocks of distilled images", n, others)
			}
			// mean over the (M−1)·B_s rows of (M−1)·CE = Σ_j mean_b CE(f_i(x'_j)_b, y_b).
			return MulScalar(ce, float64(others))
		},
	})
}

// FeatureDistillMSE returns DVERGE's feature-matching loss, a scalar: the mean over all elements (batch
// included) of (features − target)², with target = f^l(x_t) a constant (no gradient).
func FeatureDistillMSE(features, target *Node) *Node {
	if !features.Shape().Equal(target.Shape()) {
		panicf("FeatureDistillMSE: features %s and target %s must have the same shape", features.Shape(), target.Shape())
	}
	return ReduceAllMean(Square(Sub(features, StopGradient(target))))
}

// DVERGEDistillConfig holds the feature-distillation solver's settings.
type DVERGEDistillConfig struct {
	// Epsilon is the L∞ radius ε around the source image (0.07).
	Epsilon float64
	// StepSize is the sign-step size α (0.007).
	StepSize float64
	// Steps is the number of steps (10).
	Steps int
	// Momentum is μ of the gradient accumulation m ← μ·m + ĝ (1).
	Momentum float64
}

// DefaultDVERGEDistillConfig returns the official settings: ε = 0.07, α = 0.007, 10 steps, μ = 1.
func DefaultDVERGEDistillConfig() DVERGEDistillConfig {
	return DVERGEDistillConfig{Epsilon: 0.07, StepSize: 0.007, Steps: 10, Momentum: 1}
}

// DVERGEDistill returns the distilled images x'(x_t, x_s), [B, ...], a constant (no gradient flows back
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
func DVERGEDistill(featureFn func(z *Node) *Node, source, target *Node, cfg DVERGEDistillConfig) *Node {
	if source.Rank() < 2 || !source.DType().IsFloat() || !target.Shape().Equal(source.Shape()) {
		panicf("DVERGEDistill: source and target must be float images [B, ...] of one shape, got %s and %s", source.Shape(), target.Shape())
	}
	if !(cfg.Epsilon >= 0) || !(cfg.StepSize >= 0) || cfg.Steps < 0 || math.IsNaN(cfg.Momentum) {
		panicf("DVERGEDistill: bad config %+v: want ε ≥ 0, α ≥ 0, steps ≥ 0", cfg)
	}
	source = StopGradient(source)
	goal := StopGradient(featureFn(StopGradient(target)))
	lo, hi := AddScalar(source, -cfg.Epsilon), AddScalar(source, cfg.Epsilon)
	// Gradient cannot be taken w.r.t. a stop-gradient node (it would come back as zeros), so the iterate
	// starts as a fresh node equal to the source, and the loop keeps z differentiable until the end.
	z := Add(source, ZerosLike(source))
	var m *Node
	for range cfg.Steps {
		g := Gradient(FeatureDistillMSE(featureFn(z), goal), z)[0]
		gHat := dvergeL1Normalize(g)
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

// dvergeL1Normalize divides each example's gradient g [B, ...] by its L1 norm (at least 1e-12).
func dvergeL1Normalize(g *Node) *Node {
	axes := make([]int, 0, g.Rank()-1)
	for a := 1; a < g.Rank(); a++ {
		axes = append(axes, a)
	}
	return Div(g, MaxScalar(ReduceAndKeep(Abs(g), ReduceSum, axes...), 1e-12))
}

// DVERGELoss returns member i's DVERGE objective, a scalar:
//
//	L_i = β · Σ_j mean_b CE(z_j, y_s) + mean_b CE(z_adv, y_s)
//
// where distilled holds member i's logits z_j = f_i(x'_j) [B,K] on each other member's distilled batch
// (j ≠ i; M−1 entries, all detached images), labels the source labels y_s [B], and adversarial, optional
// (nil: no AT term), member i's logits on its own PGD examples (the DVERGE+AT variant, β = 1 there).
// Plain DVERGE is β = 1 without the adversarial term. The distilled images are constants, so L_i sends no
// gradient to the other members. With M = 1 the sum is empty: pass no distilled logits and an
// adversarial batch, or use 0.
func DVERGELoss(distilled []*Node, labels, adversarial *Node, beta float64) *Node {
	var loss *Node
	for j, z := range distilled {
		if z == nil || z.Rank() != 2 {
			panicf("DVERGELoss: distilled logits %d must be [B,K]", j)
		}
		ce := ReduceAllMean(CrossEntropy(z, labels))
		if loss == nil {
			loss = ce
		} else {
			loss = Add(loss, ce)
		}
	}
	if loss != nil {
		loss = MulScalar(loss, beta)
	}
	if adversarial != nil {
		adv := ReduceAllMean(CrossEntropy(adversarial, labels))
		if loss == nil {
			return adv
		}
		loss = Add(loss, adv)
	}
	if loss == nil {
		panicf("DVERGELoss: no distilled logits and no adversarial logits (with M = 1 the DVERGE loss is 0)")
	}
	return loss
}

// DVERGEEnsembleLogProbs returns the ensemble's log-probabilities [B,K] from its members' logits [B,K]:
//
//	log( max( (1/M) Σ_i softmax(z_i), 1e-40 ) )
//
// (the official ensemble output; the floor keeps the log finite; in float32 1e-40 is subnormal, and
// log-probabilities below about −87 are not resolved). If all members agree it equals their log-softmax.
func DVERGEEnsembleLogProbs(logits []*Node) *Node {
	if len(logits) == 0 {
		panicf("DVERGEEnsembleLogProbs: no members")
	}
	var sum *Node
	for i, z := range logits {
		if z.Rank() != 2 || !z.Shape().Equal(logits[0].Shape()) {
			panicf("DVERGEEnsembleLogProbs: member %d logits %s, want [B,K] like member 0 (%s)", i, z.Shape(), logits[0].Shape())
		}
		p := Softmax(z, -1)
		if sum == nil {
			sum = p
		} else {
			sum = Add(sum, p)
		}
	}
	return Log(MaxScalar(DivScalar(sum, float64(len(logits))), 1e-40))
}

// DVERGEDiversity returns the paper's pairwise diversity of members i and j, a scalar:
//
//	d(f_i, f_j) = ½ [ mean_b CE(f_i(x'_j), y_s) + mean_b CE(f_j(x'_i), y_s) ]
//
// for f_i's logits on f_j's distilled images, f_j's logits on f_i's, and the source labels. (The
// official code reports transfer accuracies of distilled images instead.)
func DVERGEDiversity(iOnJ, jOnI, labels *Node) *Node {
	return MulScalar(Add(ReduceAllMean(CrossEntropy(iOnJ, labels)), ReduceAllMean(CrossEntropy(jOnI, labels))), 0.5)
}
