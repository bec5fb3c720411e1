package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Dual-Head Knowledge Distillation: Yang, Zong, Huang, Feng & An, "Dual-Head
// Knowledge Distillation: Enhancing Logits Utilization with an Auxiliary Head", arXiv 2411.08937 (KDD
// 2025). The student has a main linear head z¹ (trained by CE, the only head used at test time) and an
// auxiliary head z² trained by a logit-level loss against the teacher; both share the backbone.
//
// The registry's distillation kind carries one student head, so the registered objectives are the
// logit-level losses on that head ("bkl-norm", "binary-kl") and the single-head combination the paper
// argues against ("dhkd-one-head", CE and BinaryKL-Norm on the same head). The dual-head objective itself
// takes both heads' logits: DualHeadKD, with AlignGradients for the optional gradient alignment.

func init() {
	temperature := Param{Name: "temperature", Default: 2, Min: 0, Max: math.Inf(1), MinOpen: true,
		Doc: "temperature T (the official BinaryKL_T); the loss is scaled by T²"}
	Register(Objective{
		Name: "bkl-norm", Paper: "06-dualheadkd", Kind: Distillation, PerExample: true,
		Summary: "BinaryKL-Norm (DHKD auxiliary-head loss): T²·Σ_k log cosh((s_k − t_k)/(2T))",
		Params:  []Param{temperature},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, _ := distillationLogits("bkl-norm", b)
			return BinaryKLNorm(student, teacher, p["temperature"])
		},
	})
	Register(Objective{
		Name: "binary-kl", Paper: "06-dualheadkd", Kind: Distillation, PerExample: true,
		Summary: "BinaryKL: T²·Σ_k KL(Bern(σ(t_k/T)) ‖ Bern(σ(s_k/T)))",
		Params:  []Param{temperature},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, _ := distillationLogits("binary-kl", b)
			return BinaryKL(student, teacher, p["temperature"])
		},
	})
	Register(Objective{
		Name: "dhkd-one-head", Paper: "06-dualheadkd", Kind: Distillation, PerExample: true,
		Summary: "γ·CE(s, y) + α·BinaryKL-Norm(s, t) on one shared head (the conflict DHKD removes)",
		Params: []Param{
			{Name: "gamma", Default: 1, Min: 0, Max: math.Inf(1), Doc: "weight γ of the cross-entropy"},
			{Name: "alpha", Default: 1, Min: 0, Max: math.Inf(1),
				Doc: "weight α of BinaryKL-Norm (1 on CIFAR-100, 0.1 on ImageNet)"},
			temperature,
		},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, labels := distillationLogits("dhkd-one-head", b)
			return DualHeadKD(student, student, teacher, labels, p["gamma"], p["alpha"], p["temperature"])
		},
	})
}

// BinaryKLNorm returns DHKD's BinaryKL-Norm loss per example, [B], for student logits z and teacher
// logits t, both [B,K] (the loss the official code trains the auxiliary head with):
//
//	Δ_ik    = z_ik − t_ik
//	loss_i  = T² · Σ_k KL( Bern(½) ‖ Bern(σ(Δ_ik/T)) )
//	        = T² · Σ_k log cosh( Δ_ik / (2T) )                  (an exact identity)
//
// Each class is an independent Bernoulli variable; the loss is 0 exactly when z = t. Unlike softmax KD it
// is not shift-invariant, so it passes the teacher's logit magnitudes ("logit information") to the
// student. Its gradient is ∂loss_i/∂z_ik = (T/2)·tanh(Δ_ik/(2T)), bounded by T/2; for small Δ the loss is
// ‖Δ_i‖²/8 whatever T, for large |Δ| about T·|Δ|/2 − T²·log 2 per entry.
//
// log cosh(u) is computed as |u| + log1p(exp(−2|u|)) − log 2, which cannot overflow. The official code
// computes the Bernoulli KL with σ clamped to [1e-8, 1−1e-8]; the two agree except when some
// |Δ_ik|/T exceeds about 18, where the clamp caps the code's loss and zeroes its gradient while this
// form keeps growing linearly. The teacher is frozen: no gradient flows into t.
func BinaryKLNorm(student, teacher *Node, temperature float64) *Node {
	checkLogitPair("BinaryKLNorm", student, teacher)
	if !(temperature > 0) {
		panicf("BinaryKLNorm: temperature must be > 0, got %g", temperature)
	}
	u := DivScalar(Sub(student, StopGradient(teacher)), 2*temperature)
	a := Abs(u)
	logCosh := AddScalar(Add(a, Log1p(Exp(MulScalar(a, -2)))), -math.Ln2)
	return MulScalar(ReduceSum(logCosh, -1), temperature*temperature)
}

// BinaryKL returns the BinaryKL loss per example, [B], the variant DHKD introduces first (BinaryKL in the
// official code), for student logits z and teacher logits t, both [B,K]:
//
//	p_ik = σ(t_ik/T),  q_ik = σ(z_ik/T)
//	loss_i = T² · Σ_k [ p_ik log(p_ik/q_ik) + (1−p_ik) log((1−p_ik)/(1−q_ik)) ]
//
// with log σ(x) = −softplus(−x) and log(1−σ(x)) = −softplus(x) (no clamping needed). It is 0 when z = t
// and ≥ 0 otherwise. The teacher is frozen: no gradient flows into t.
func BinaryKL(student, teacher *Node, temperature float64) *Node {
	checkLogitPair("BinaryKL", student, teacher)
	if !(temperature > 0) {
		panicf("BinaryKL: temperature must be > 0, got %g", temperature)
	}
	a := DivScalar(StopGradient(teacher), temperature)
	b := DivScalar(student, temperature)
	p := Sigmoid(a)
	// log p − log q = softplus(−b) − softplus(−a);  log(1−p) − log(1−q) = softplus(b) − softplus(a).
	pos := Mul(p, Sub(Softplus(Neg(b)), Softplus(Neg(a))))
	neg := Mul(OneMinus(p), Sub(Softplus(b), Softplus(a)))
	return MulScalar(ReduceSum(Add(pos, neg), -1), temperature*temperature)
}

// DualHeadKD returns DHKD's training loss per example, [B]:
//
//	loss_i = γ · CE(z¹_i, y_i) + α · BinaryKLNorm(z²_i, t_i; T)
//
// for the main-head logits z¹ [B,K] (the only head used at test time), the auxiliary-head logits z²
// [B,K], the teacher logits t [B,K] and labels y [B]. The main head gets gradient only from CE and the
// auxiliary head only from BinaryKL-Norm; the backbone under both heads gets both. Passing the same
// node as both heads gives the single-head combination (arm (c) of the notebook's experiment). Official
// defaults: γ = 1, α = 1 (CIFAR-100) or 0.1 (ImageNet), T = 2.
func DualHeadKD(main, aux, teacher, labels *Node, gamma, alpha, temperature float64) *Node {
	checkLogitPair("DualHeadKD (main vs aux head)", main, aux)
	ce := MulScalar(CrossEntropy(main, labels), gamma)
	return Add(ce, MulScalar(BinaryKLNorm(aux, teacher, temperature), alpha))
}

// AlignGradients is DHKD's optional gradient alignment (--ga, PCGrad-style). gKD and gCE hold, parameter
// by parameter in the same order, the gradients of α·L_BKLN and of γ·CE over all student parameters;
// together they are the flattened vectors g_KD and g_CE. It returns the aligned g_KD:
//
//	g_KD' = g_KD − (⟨g_KD, g_CE⟩ / ‖g_CE‖²) · g_CE    if ⟨g_KD, g_CE⟩ < 0
//	g_KD' = g_KD                                       otherwise
//
// so that ⟨g_KD', g_CE⟩ = 0 after a projection; g_CE is never modified, and the update uses
// g_CE + g_KD'. A nil entry (a parameter that loss does not reach) counts as zeros of the other's shape.
func AlignGradients(gKD, gCE []*Node) []*Node {
	if len(gKD) != len(gCE) || len(gKD) == 0 {
		panicf("AlignGradients: want the same number (> 0) of KD and CE gradients, got %d and %d", len(gKD), len(gCE))
	}
	kd := make([]*Node, len(gKD))
	ce := make([]*Node, len(gCE))
	var dot, norm2 *Node
	for i := range gKD {
		kd[i], ce[i] = gKD[i], gCE[i]
		switch {
		case kd[i] == nil && ce[i] == nil:
			panicf("AlignGradients: both gradients of parameter %d are nil", i)
		case kd[i] == nil:
			kd[i] = ZerosLike(ce[i])
		case ce[i] == nil:
			ce[i] = ZerosLike(kd[i])
		}
		if !kd[i].Shape().Equal(ce[i].Shape()) {
			panicf("AlignGradients: parameter %d has KD gradient %s but CE gradient %s", i, kd[i].Shape(), ce[i].Shape())
		}
		d := ReduceAllSum(Mul(kd[i], ce[i]))
		n := ReduceAllSum(Square(ce[i]))
		if dot == nil {
			dot, norm2 = d, n
		} else {
			if d.DType() != dot.DType() {
				panicf("AlignGradients: parameter %d has dtype %s, others %s", i, d.DType(), dot.DType())
			}
			dot, norm2 = Add(dot, d), Add(norm2, n)
		}
	}
	g := dot.Graph()
	zero := ScalarZero(g, dot.DType())
	conflict := LessThan(dot, zero)
	// A conflict implies ‖g_CE‖² > 0; the Where keeps the unused branch finite as well.
	safeNorm := Where(GreaterThan(norm2, zero), norm2, ScalarOne(g, dot.DType()))
	coef := Where(conflict, Div(dot, safeNorm), zero)
	out := make([]*Node, len(kd))
	for i := range kd {
		out[i] = Sub(kd[i], Mul(coef, ce[i]))
	}
	return out
}
