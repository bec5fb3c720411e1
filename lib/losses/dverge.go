package losses

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// DVERGE: Yang, Zhang, Dong, Inkawhich, Gardner, Touchet, Wilkes, Berry & Li, "DVERGE:
// Diversifying Vulnerabilities for Enhanced Robust Generation of Ensembles", NeurIPS 2020,
// arXiv:2009.14720.
//
// Each ensemble member f_j "distils" a source image x_s towards an independently drawn target image x_t:
// dverge.Distill (package lib/dverge) finds, within ‖z − x_s‖∞ ≤ ε, the image whose layer-l features under f_j match x_t's
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
