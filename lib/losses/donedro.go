package losses

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Doubly robust instance-reweighted adversarial training, DONE: Sow, Lin, Wang & Liang,
// "Doubly Robust Instance-Reweighted Adversarial Training", ICLR 2024, arXiv:2308.00311. No official code was found; the
// spec rebuilds the objective from the abstract, the reviews and the closed form of a KL-regularised DRO.
//
// The adversarial examples come from an attack (lib/attack); the objectives here take the model's
// logits on them. With robust losses ℓ_i = CE(f(x_i + δ_i), y_i) the doubly robust outer problem is
//
//	min_θ max_{w ∈ Δ_n} Σ_i w_i ℓ_i − r Σ_i w_i log(n w_i)
//
// whose inner maximum is w*_i = softmax(ℓ/r)_i (DROWeights) and whose value is the compositional
// F = r·log((1/n) Σ_i exp(ℓ_i/r)) (DROValue). The stochastic solver keeps a running estimate u of
// (1/n) Σ exp(ℓ_i/r) (DONEState, in the log domain) and trains on the surrogate (1/|𝓑|) Σ sg[ω_i]·ℓ_i
// with ω_i = exp(ℓ_i/r)/u (DONEWeights, DONELoss). The implicit-differentiation term of the paper's CID
// solver (through the attack's argmin) is not included: gradients are Danskin-style, as in PGD-AT.

func init() {
	r := Param{Name: "r", Default: 1, Min: 0, Max: math.Inf(1), MinOpen: true,
		Doc: "KL-regularisation strength r (the DRO temperature): r → 0 is the worst case, r → ∞ plain AT"}
	Register(Objective{
		Name: "done-dro", Paper: "10-drat", Kind: Classification,
		Summary: "DONE batch DRO: r·log mean_i exp(CE_i/r) over logits on adversarial examples",
		Params:  []Param{r},
		Fn: func(b Batch, p Params) *Node {
			return DROValue(CrossEntropy(b["logits"], b["labels"]), p["r"])
		},
	})
	Register(Objective{
		Name: "done", Paper: "10-drat", Kind: Classification, PerExample: true,
		Summary: "DONE surrogate sg[ω_i]·CE_i, ω_i = exp(CE_i/r)/u, u = batch mean of exp(CE/r) (gradient of done-dro)",
		Params:  []Param{r},
		Fn: func(b Batch, p Params) *Node {
			ce := CrossEntropy(b["logits"], b["labels"])
			return DONELoss(ce, DROLogMeanExp(ce, p["r"]), p["r"])
		},
	})
}

// DROWeights returns the closed-form inner maximiser of the KL-regularised DRO for per-example losses ℓ
// [B]:
//
//	w*_i = exp(ℓ_i/r) / Σ_j exp(ℓ_j/r)
//
// a softmax at temperature r, computed after subtracting max ℓ (finite for any finite losses). The weights
// are non-negative, sum to 1, are unchanged by adding a constant to every ℓ, and KL(w* ‖ uniform) lies in
// [0, log B]. The result is differentiable; wrap it in StopGradient to use it as constant weights.
func DROWeights(losses *Node, r float64) *Node {
	checkDROInputs("DROWeights", losses, r)
	return Softmax(DivScalar(losses, r), -1)
}

// DROLogMeanExp returns log((1/B) Σ_i exp(ℓ_i/r)), a scalar, for per-example losses ℓ [B]: the log of the
// batch's estimate of the inner mean u, the input of DONEState.Update. It is computed as
// logsumexp(ℓ/r) − log B with the max subtracted, so it is finite for any finite losses.
func DROLogMeanExp(losses *Node, r float64) *Node {
	checkDROInputs("DROLogMeanExp", losses, r)
	z := DivScalar(losses, r)
	m := StopGradient(ReduceAllMax(z))
	lse := Add(m, Log(ReduceAllSum(Exp(Sub(z, m)))))
	return AddScalar(lse, -math.Log(float64(losses.Shape().Dimensions[0])))
}

// DROValue returns the doubly robust objective over a batch, a scalar (surrogate B, BatchDRO):
//
//	F = r · log( (1/B) Σ_i exp(ℓ_i/r) ) = max_{w ∈ Δ_B} Σ_i w_i ℓ_i − r Σ_i w_i log(B w_i)
//	∇F = Σ_i w*_i ∇ℓ_i
//
// mean ℓ ≤ F ≤ max ℓ; F decreases in r, tends to max ℓ as r → 0 (F = max ℓ − r·log B when one loss
// dominates) and to mean ℓ as r → ∞ (standard adversarial training). F(ℓ + c) = F(ℓ) + c. Using the batch
// as the population makes it a biased estimate of the full-data F, exact for full batches.
func DROValue(losses *Node, r float64) *Node {
	return MulScalar(DROLogMeanExp(losses, r), r)
}

// DONEWeights returns the per-example weights of the stochastic DONE solver, [B], for per-example losses
// ℓ [B] and the scalar log u of the running inner-mean estimate (DONEState.LogU):
//
//	ω_i = exp(ℓ_i/r − log u)
//
// They are constants (StopGradient). With log u = DROLogMeanExp(ℓ, r) (the exact batch mean) ω_i =
// B·w*_i, of mean 1; with a stale u they are not mean-one. Computed in the log domain, ω stays finite as
// long as ℓ/r − log u does not exceed the dtype's exp range (about 88 for float32).
func DONEWeights(losses, logU *Node, r float64) *Node {
	checkDROInputs("DONEWeights", losses, r)
	if logU.Rank() != 0 {
		panicf("DONEWeights: log u must be a scalar, got shape %s", logU.Shape())
	}
	if logU.DType() != losses.DType() {
		logU = ConvertDType(logU, losses.DType())
	}
	return StopGradient(Exp(Sub(DivScalar(losses, r), logU)))
}

// DONELoss returns DONE's surrogate per example, [B] (surrogate A):
//
//	loss_i = sg[ω_i] · ℓ_i,   ω_i = exp(ℓ_i/r)/u   (DONEWeights)
//
// whose batch mean has gradient (1/B) Σ_i ω_i ∇ℓ_i, the CID step without its implicit term. When log u is
// the batch's own DROLogMeanExp this gradient equals ∇DROValue = Σ_i w*_i ∇ℓ_i, and the mean is Σ_i w*_i ℓ_i.
func DONELoss(losses, logU *Node, r float64) *Node {
	return Mul(DONEWeights(losses, logU, r), losses)
}

func checkDROInputs(name string, losses *Node, r float64) {
	if losses.Rank() != 1 || !losses.DType().IsFloat() {
		panicf("%s: losses must be float per-example losses [B], got %s", name, losses.Shape())
	}
	if !(r > 0) || math.IsInf(r, 1) {
		panicf("%s: r must be a finite value > 0, got %g", name, r)
	}
}

// DONEState is the running estimate u of the inner mean (1/n) Σ_i exp(ℓ_i/r) of DONE's stochastic solver,
// kept in the log domain. The zero value is unstarted: the first Update sets u to that batch's mean (our
// choice; starting from u = 1 instead gives weights far from mean one until u warms up).
type DONEState struct {
	// LogU is log u; meaningful once Started.
	LogU float64
	// Started is false until the first Update (or until LogU is set by hand, e.g. LogU = 0 for u₀ = 1).
	Started bool
}

// Update folds one batch's log mean, logMeanExp = log((1/|𝓑|) Σ_{i∈𝓑} exp(ℓ_i/r)) (DROLogMeanExp), into the
// estimate with rate β ∈ (0,1]:
//
//	u ← (1 − β)·u + β·(1/|𝓑|) Σ exp(ℓ_i/r)
//	log u ← logaddexp(log(1−β) + log u, log β + logMeanExp)
//
// An unstarted state takes u = the batch mean. It returns an error for β outside (0,1] or a non-finite
// logMeanExp, leaving the state unchanged.
func (s *DONEState) Update(logMeanExp, beta float64) error {
	if !(beta > 0 && beta <= 1) {
		return fmt.Errorf("DONEState.Update: rate β=%g must be in (0,1]", beta)
	}
	if math.IsNaN(logMeanExp) || math.IsInf(logMeanExp, 0) {
		return fmt.Errorf("DONEState.Update: log mean exp(ℓ/r) is %g; want a finite value", logMeanExp)
	}
	if !s.Started || beta == 1 {
		s.LogU, s.Started = logMeanExp, true
		return nil
	}
	a, b := math.Log1p(-beta)+s.LogU, math.Log(beta)+logMeanExp
	m := math.Max(a, b)
	s.LogU = m + math.Log(math.Exp(a-m)+math.Exp(b-m))
	return nil
}

// U returns u = exp(LogU) (it may overflow to +Inf where LogU does not: use LogU in graphs).
func (s *DONEState) U() float64 { return math.Exp(s.LogU) }
