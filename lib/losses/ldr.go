package losses

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Label-distributionally-robust losses: Zhu, Ying & Yang, "Label Distributionally Robust
// Losses for Multi-class Classification: Consistency, Robustness and Adaptivity", ICML 2023,
// arXiv:2112.14869.
//
// Four registry entries, the paper's math and the official code's normalised form named apart:
//
//   - "ldr-kl":       LDR-KL on the raw scores (the paper's closed form).
//   - "ldr-kl-code":  LDR-KL after the official LDRLoss_V1 normalisation f ← softplus(f)/mean_k softplus(f).
//   - "aldr-kl":      one ALDR-KL step on the raw scores with p = softmax(δ/λ_old), the exact maximiser over
//     the simplex for fixed λ (our reading of the paper's derivation; its
//     algorithm text was not read).
//   - "aldr-kl-code": one ALDR-KL step as in the official ALDRLoss_V1: f ← f/(||f||₁/K) (optionally softplus
//     first), p = softmax(f/λ_old) + 1e-5 renormalised (so the margin does not enter p).
//
// ALDR's per-example temperature is state: ALDRState holds it by example id, ALDRKLStep and ALDRKLCodeStep
// compute the loss and the new temperatures from the old ones. Evaluated alone (registry, Evaluate), the
// ALDR objectives use the documented initial state λ_old = λ0 for every example.

func init() {
	margin := Param{Name: "margin", Default: 0.1, Min: 0, Max: math.Inf(1),
		Doc: "margin c added to every non-target score difference (official script: 0.1)"}
	lambda := Param{Name: "lambda", Default: 10, Min: 0, Max: math.Inf(1), MinOpen: true,
		Doc: "KL regularisation strength (temperature); →0 Crammer–Singer, →∞ average margin"}
	lambda0 := Param{Name: "lambda0", Default: 10, Min: 0, Max: math.Inf(1), MinOpen: true,
		Doc: "initial and maximal per-example temperature λ0"}
	alpha := Param{Name: "alpha", Default: 2, Min: 1, Max: math.Inf(1), MinOpen: true,
		Doc: "adaptivity: λ stays in [λ0(1-1/α), λ0]"}
	Register(Objective{
		Name: "ldr-kl", Paper: "09-ldr", Kind: Classification, PerExample: true,
		Summary: "LDR-KL λ(logsumexp_k(δ_k/λ) - log K), δ_k = f_k - f_y + c·1[k≠y] (paper form, raw scores)",
		Params:  []Param{lambda, margin},
		Fn: func(b Batch, p Params) *Node {
			return LDRKL(b["logits"], b["labels"], p["lambda"], p["margin"])
		},
	})
	Register(Objective{
		Name: "ldr-kl-code", Paper: "09-ldr", Kind: Classification, PerExample: true,
		Summary: "LDR-KL on softplus(f)/mean softplus(f) (official LDRLoss_V1 normalisation)",
		Params:  []Param{lambda, margin},
		Fn: func(b Batch, p Params) *Node {
			return LDRKL(LDRCodeNormalize(b["logits"]), b["labels"], p["lambda"], p["margin"])
		},
	})
	Register(Objective{
		Name: "aldr-kl", Paper: "09-ldr", Kind: Classification, PerExample: true,
		Summary: "ALDR-KL, one adaptive-λ step from λ_old = λ0 on raw scores, p = softmax(δ/λ_old) (paper form)",
		Params:  []Param{lambda0, alpha, margin},
		Fn: func(b Batch, p Params) *Node {
			logits := b["logits"]
			lamOld := initialLambda(logits, p["lambda0"])
			loss, _ := ALDRKLStep(logits, b["labels"], lamOld, p["lambda0"], p["alpha"], p["margin"])
			return loss
		},
	})
	Register(Objective{
		Name: "aldr-kl-code", Paper: "09-ldr", Kind: Classification, PerExample: true,
		Summary: "ALDR-KL as in official ALDRLoss_V1: L1-normalised scores, p = softmax(f/λ_old)+1e-5, from λ_old = λ0",
		Params: []Param{lambda0, alpha, margin,
			{Name: "softplus", Default: 0, Min: 0, Max: 1, Integer: true,
				Doc: "1: apply softplus before the L1 normalisation (the code's CIFAR-100 setting)"}},
		Fn: func(b Batch, p Params) *Node {
			logits := b["logits"]
			lamOld := initialLambda(logits, p["lambda0"])
			loss, _ := ALDRKLCodeStep(logits, b["labels"], lamOld, p["lambda0"], p["alpha"], p["margin"], p["softplus"] == 1)
			return loss
		},
	})
}

// initialLambda returns λ0 for every row of logits, [B]: ALDR's documented initial state.
func initialLambda(logits *Node, lambda0 float64) *Node {
	return AddScalar(ZerosLike(ReduceSum(logits, -1)), lambda0)
}

// normFloor keeps the normalisations below from dividing by zero (all-zero scores, or softplus
// underflowing for scores around -1e4); it never binds for ordinary scores. (1e-30 would be too small:
// the gradient of a/b involves b², which underflows to 0 in float32 and gives 0/0 = NaN.)
const normFloor = 1e-12

// marginDeltas returns δ_ik = f_ik - f_iy + c·1[k≠y], [B,K].
func marginDeltas(scores, labels *Node, margin float64) *Node {
	oh := oneHotFor(scores, labels)
	fy := InsertAxes(pick(scores, oh), -1)
	return Add(Sub(scores, fy), MulScalar(OneMinus(oh), margin))
}

// ldrKLOfDeltas returns λ_i(logsumexp_k(δ_ik/λ_i) - log K) for δ [B,K] and λ [B].
func ldrKLOfDeltas(delta, lam *Node) *Node {
	k := delta.Shape().Dimensions[1]
	lse := logSumExpRows(Div(delta, InsertAxes(lam, -1)))
	return Mul(lam, SubScalar(lse, math.Log(float64(k))))
}

// LDRKL returns the LDR-KL loss [B] of scores f [B,K] and labels y [B]:
//
//	δ_k = f_k - f_y + c·1[k≠y]
//	ψ   = max_{p∈Δ_K} Σ_k p_k δ_k - λ KL(p||u) = λ (logsumexp_k(δ_k/λ) - log K)
//
// λ→0 gives the Crammer–Singer hinge max_k δ_k, λ→∞ the average mean_k δ_k; with c = 0 and λ = 1 it is
// CE - log K. Its gradient is softmax(δ/λ) - e_y, so it is shift-invariant in f.
func LDRKL(scores, labels *Node, lambda, margin float64) *Node {
	delta := marginDeltas(scores, labels, margin)
	lam := initialLambda(scores, lambda)
	return ldrKLOfDeltas(delta, lam)
}

// LDRCodeNormalize is the official LDRLoss_V1 normalisation of scores [B,K]:
//
//	f ← softplus(f) / mean_k softplus(f)
//
// so that f > 0 and Σ_k f_k = K (the mean is floored at 1e-12 against underflow).
func LDRCodeNormalize(scores *Node) *Node {
	sp := Softplus(scores)
	return Div(sp, MaxScalar(ReduceAndKeep(sp, ReduceMean, -1), normFloor))
}

// ALDRCodeNormalize is the official ALDRLoss_V1 normalisation of scores [B,K]: f ← f / (||f||₁/K)
// (softplus first when withSoftplus). It is invariant to f → a·f for a > 0. The norm is floored at 1e-12.
func ALDRCodeNormalize(scores *Node, withSoftplus bool) *Node {
	if withSoftplus {
		scores = Softplus(scores)
	}
	l1 := ReduceAndKeep(Abs(scores), ReduceMean, -1)
	return Div(scores, MaxScalar(l1, normFloor))
}

// ALDRLambda returns the new per-example temperatures [B] from label weights p [B,K] (rows on the simplex):
//
//	kl_i    = Σ_k p_ik log(K p_ik)               ∈ [0, log K]
//	λ_new_i = λ0 (1 - kl_i / (α log K))          ∈ [λ0(1-1/α), λ0]
//
// the closed-form maximiser over λ of Σ_k p_k δ_k - λ KL(p,u) - (α log K/(2λ0))(λ - λ0)². The result is
// detached (ALDR treats λ as a constant in backprop). Entries with p_k = 0 contribute 0.
func ALDRLambda(p *Node, lambda0, alpha float64) *Node {
	k := p.Shape().Dimensions[1]
	logK := math.Log(float64(k))
	p = StopGradient(p)
	safe := Where(GreaterThan(p, ZerosLike(p)), p, OnesLike(p))
	kl := ReduceSum(Mul(p, AddScalar(Log(safe), logK)), -1)
	return StopGradient(MulScalar(OneMinus(DivScalar(kl, alpha*logK)), lambda0))
}

// ALDRLossAt returns the ALDR-KL loss [B] at given temperatures λ [B] (treated as constants):
//
//	loss_i = λ_i (logsumexp_k(δ_ik/λ_i) - log K) - (α log K/(2λ0)) (λ_i - λ0)²
//
// The quadratic coefficient follows the official code (the paper may write it differently).
func ALDRLossAt(delta, lam *Node, lambda0, alpha float64) *Node {
	lam = StopGradient(lam)
	logK := math.Log(float64(delta.Shape().Dimensions[1]))
	quad := MulScalar(Square(SubScalar(lam, lambda0)), alpha*logK/(2*lambda0))
	return Sub(ldrKLOfDeltas(delta, lam), quad)
}

// ALDRKLStep is one ALDR-KL step in the paper's form on raw scores f [B,K], labels y [B] and the examples'
// previous temperatures λ_old [B]:
//
//	δ = f - f_y + c·1[k≠y];  p = softmax(δ/λ_old);  λ_new = ALDRLambda(p);  loss = ALDRLossAt(δ, λ_new)
//
// It returns the per-example losses [B] and λ_new [B] (detached), to be stored with ALDRState.Update.
func ALDRKLStep(scores, labels, lamOld *Node, lambda0, alpha, margin float64) (loss, lamNew *Node) {
	delta := marginDeltas(scores, labels, margin)
	p := Softmax(Div(delta, InsertAxes(StopGradient(lamOld), -1)), -1)
	lamNew = ALDRLambda(p, lambda0, alpha)
	return ALDRLossAt(delta, lamNew, lambda0, alpha), lamNew
}

// ALDRKLCodeStep is one ALDR-KL step as in the official ALDRLoss_V1:
//
//	f ← ALDRCodeNormalize(f);  p = softmax(f/λ_old) + 1e-5, renormalised;  λ_new = ALDRLambda(p)
//	δ = f - f_y + c·1[k≠y];  loss = ALDRLossAt(δ, λ_new)
//
// Note p uses the normalised scores, not δ, so the margin does not enter p.
func ALDRKLCodeStep(scores, labels, lamOld *Node, lambda0, alpha, margin float64, withSoftplus bool) (loss, lamNew *Node) {
	f := ALDRCodeNormalize(scores, withSoftplus)
	p := AddScalar(Softmax(Div(f, InsertAxes(StopGradient(lamOld), -1)), -1), 1e-5)
	p = Div(p, ReduceAndKeep(p, ReduceSum, -1))
	lamNew = ALDRLambda(p, lambda0, alpha)
	return ALDRLossAt(marginDeltas(f, labels, margin), lamNew, lambda0, alpha), lamNew
}

// ALDRState holds ALDR-KL's per-training-example temperatures, indexed by example id (0..n-1).
type ALDRState struct {
	Lambda0 float64
	Lam     []float64
}

// NewALDRState returns the initial state: λ = λ0 for each of n examples.
func NewALDRState(n int, lambda0 float64) *ALDRState {
	s := &ALDRState{Lambda0: lambda0, Lam: make([]float64, n)}
	for i := range s.Lam {
		s.Lam[i] = lambda0
	}
	return s
}

// Gather returns the stored temperatures of the given example ids, as float32 (to feed a graph as λ_old).
func (s *ALDRState) Gather(ids []int32) ([]float32, error) {
	out := make([]float32, len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= len(s.Lam) {
			return nil, fmt.Errorf("ALDRState: example id %d out of range [0,%d)", id, len(s.Lam))
		}
		out[i] = float32(s.Lam[id])
	}
	return out, nil
}

// Update stores the new temperatures (λ_new from ALDRKLStep or ALDRKLCodeStep) of the given example ids.
func (s *ALDRState) Update(ids []int32, lamNew []float64) error {
	if len(ids) != len(lamNew) {
		return fmt.Errorf("ALDRState.Update: %d ids but %d temperatures", len(ids), len(lamNew))
	}
	for i, id := range ids {
		if id < 0 || int(id) >= len(s.Lam) {
			return fmt.Errorf("ALDRState: example id %d out of range [0,%d)", id, len(s.Lam))
		}
		if math.IsNaN(lamNew[i]) || lamNew[i] <= 0 {
			return fmt.Errorf("ALDRState.Update: temperature %g for example %d is not positive", lamNew[i], id)
		}
		s.Lam[id] = lamNew[i]
	}
	return nil
}
