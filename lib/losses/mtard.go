package losses

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Balanced multi-teacher adversarial distillation, B-MTARD: Zhao, Wang & Wei, "Mitigating
// the Accuracy-Robustness Trade-off via Multi-Teacher Adversarial Distillation" (arXiv 2306.16170; TPAMI
// 2024 as "Balanced Multi-Teacher Adversarial Distillation").
//
// A student S learns from a robust teacher on its own adversarial examples (L_adv) and from a clean
// teacher on clean inputs (L_nat):
//
//	L = w_adv · ℓ(S(x_adv), T_adv(x_adv)/τ_adv) + w_nat · ℓ(S(x), T_nat(x)/τ_nat)
//
// Two balances run once per iteration outside the gradient: the teacher temperatures τ move so that the
// two teachers' entropies meet (Entropy-Based Balance), and the weights w move towards the loss that has
// shrunk less relative to its first value (Normalization Loss Balance). MTARDLoss builds the loss and the
// quantities the balances need; MTARDState holds (τ_adv, τ_nat, w_adv, w_nat, L⁰) and updates them. The
// student's adversarial examples come from an attack (lib/attack: PGD on CE(S(x), y), ε = 8/255, 10
// steps of 2/255, start x + 0.001·N(0, I)). The registered "mtard-kl" is one teacher's term ℓ.

// MTARDSmoothing is the 1e-5 added inside the teacher's log in ℓ and H̃ (as in the official code).
const MTARDSmoothing = 1e-5

// The order of MTARDState.Vector, the state input of MTARDLoss.
const (
	MTARDTauAdv = iota // τ_adv, the robust teacher's temperature
	MTARDTauNat        // τ_nat, the clean teacher's temperature
	MTARDWAdv          // w_adv, the weight of L_adv
	MTARDWNat          // w_nat, the weight of L_nat
)

func init() {
	Register(Objective{
		Name: "mtard-kl", Paper: "12-mtard", Kind: Distillation, PerExample: true,
		Summary: "MTARD teacher term: (1/K)·Σ_k p_k (log(p_k + 1e-5) − log softmax(s)_k), p = softmax(t/τ)",
		Params: []Param{{Name: "tau", Default: 1, Min: 0, Max: math.Inf(1), MinOpen: true,
			Doc: "teacher temperature τ (the student is not temperature-scaled); MTARD keeps τ in [1,10]"}},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, _ := distillationLogits("mtard-kl", b)
			return MTARDKL(student, teacher, Scalar(student.Graph(), student.DType(), p["tau"]))
		},
	})
}

// MTARDKL returns MTARD's distillation term per example, [B], for student logits s and teacher logits t
// [B,K] and the scalar teacher temperature τ (a node, so that a changing τ does not recompile the graph):
//
//	p_bk   = softmax(t_b/τ)_k
//	loss_b = (1/K) Σ_k p_bk (log(p_bk + 1e-5) − log softmax(s_b)_k)
//
// Its batch mean is the code's ℓ: KL(p ‖ softmax(s)) averaged over all B·K entries (not a batchmean),
// with the 1e-5 smoothing inside the teacher log. Since log(p + 1e-5) > log p it is ≥ KL/K ≥ 0, and it
// is about 1e-5 (the smoothing residue Σ_k p_k log(1 + 1e-5/p_k) / K) when softmax(s) = p. The student is
// not temperature-scaled. The teacher and τ are constants: no gradient flows into them.
func MTARDKL(student, teacher, tau *Node) *Node {
	checkLogitPair("MTARDKL", student, teacher)
	p := mtardTeacherProbs(teacher, tau)
	logQ := LogSoftmax(student, -1)
	inner := Mul(p, Sub(Log(AddScalar(p, MTARDSmoothing)), logQ))
	return ReduceMean(inner, -1)
}

// MTARDNegEntropy returns H̃ = (1/(B·K)) Σ_{b,k} p_bk log(p_bk + 1e-5), p = softmax(t/τ): the teacher's
// negative entropy divided by K (with the smoothing), a scalar, the input of the Entropy-Based Balance.
// It is a constant (no gradient).
func MTARDNegEntropy(teacher, tau *Node) *Node {
	if teacher.Rank() != 2 || !teacher.DType().IsFloat() {
		panicf("MTARDNegEntropy: teacher logits must be float [B,K], got %s", teacher.Shape())
	}
	p := mtardTeacherProbs(teacher, tau)
	return StopGradient(ReduceAllMean(Mul(p, Log(AddScalar(p, MTARDSmoothing)))))
}

func mtardTeacherProbs(teacher, tau *Node) *Node {
	if tau.Rank() != 0 {
		panicf("MTARD: the temperature τ must be a scalar, got shape %s", tau.Shape())
	}
	tau = StopGradient(ConvertDType(tau, teacher.DType()))
	return StopGradient(Softmax(Div(teacher, tau), -1))
}

// MTARDTerms are the graph outputs of MTARDLoss.
type MTARDTerms struct {
	// Loss = w_adv·Adv + w_nat·Nat, the scalar to minimise.
	Loss *Node
	// Adv and Nat are L_adv and L_nat (batch means of MTARDKL), the inputs of the weight balance.
	Adv, Nat *Node
	// NegEntropyAdv and NegEntropyNat are H̃_adv and H̃_nat, the inputs of the temperature balance.
	NegEntropyAdv, NegEntropyNat *Node
}

// MTARDLoss builds B-MTARD's loss from the student's logits on the adversarial and clean inputs
// (studentAdv = S(x_adv), studentNat = S(x)), the robust teacher's logits on the adversarial inputs
// (teacherAdv = T_adv(x_adv)), the clean teacher's on the clean inputs (teacherNat = T_nat(x)), all
// [B,K], and the state vector [4] = MTARDState.Vector() (τ_adv, τ_nat, w_adv, w_nat; a constant):
//
//	L_adv = mean_b MTARDKL(S(x_adv), T_adv(x_adv); τ_adv),  L_nat = mean_b MTARDKL(S(x), T_nat(x); τ_nat)
//	L     = w_adv · L_adv + w_nat · L_nat
//
// After each step, feed Adv, Nat, NegEntropyAdv and NegEntropyNat to MTARDState.Update.
func MTARDLoss(studentAdv, studentNat, teacherAdv, teacherNat, state *Node) MTARDTerms {
	checkLogitPair("MTARDLoss (adversarial)", studentAdv, teacherAdv)
	checkLogitPair("MTARDLoss (natural)", studentNat, teacherNat)
	if state.Rank() != 1 || state.Shape().Dimensions[0] != 4 {
		panicf("MTARDLoss: state must be [4] = (τ_adv, τ_nat, w_adv, w_nat), got shape %s", state.Shape())
	}
	dtype := studentAdv.DType()
	state = StopGradient(ConvertDType(state, dtype))
	// Pick the state entries with one-hot products (no Slice in a graph that may be differentiated).
	at := func(i int) *Node {
		oh := make([]float64, 4)
		oh[i] = 1
		return ReduceAllSum(Mul(state, ConvertDType(Const(state.Graph(), oh), dtype)))
	}
	tauAdv, tauNat, wAdv, wNat := at(MTARDTauAdv), at(MTARDTauNat), at(MTARDWAdv), at(MTARDWNat)
	adv := ReduceAllMean(MTARDKL(studentAdv, teacherAdv, tauAdv))
	nat := ReduceAllMean(MTARDKL(studentNat, teacherNat, tauNat))
	return MTARDTerms{
		Loss:          Add(Mul(wAdv, adv), Mul(wNat, nat)),
		Adv:           adv,
		Nat:           nat,
		NegEntropyAdv: MTARDNegEntropy(teacherAdv, tauAdv),
		NegEntropyNat: MTARDNegEntropy(teacherNat, tauNat),
	}
}

// MTARDConfig holds the rates of B-MTARD's two balances.
type MTARDConfig struct {
	// EtaTau is the temperature step η_τ (0.001 in the paper, ×0.1 at epochs 215, 260, 285).
	EtaTau float64
	// EtaW is the weight rate η_w ∈ [0,1] (0.025 in the paper, decayed like EtaTau).
	EtaW float64
	// TauMin and TauMax clip the temperatures (1 and 10).
	TauMin, TauMax float64
	// FixTemperatures and FixWeights switch a balance off (both true: plain two-teacher ARD, τ = 1, w = ½).
	FixTemperatures, FixWeights bool
}

// DefaultMTARDConfig returns the official code's settings: η_τ = 0.001, η_w = 0.025, τ ∈ [1,10].
func DefaultMTARDConfig() MTARDConfig {
	return MTARDConfig{EtaTau: 0.001, EtaW: 0.025, TauMin: 1, TauMax: 10}
}

// MTARDState is B-MTARD's balance state: the teacher temperatures, the loss weights and the losses of the
// first iteration.
type MTARDState struct {
	TauAdv, TauNat float64
	WAdv, WNat     float64
	// L0Adv and L0Nat are L_adv and L_nat at the first Update (0 before it).
	L0Adv, L0Nat float64
	// Steps counts the updates.
	Steps int
}

// NewMTARDState returns the initial state: τ_adv = τ_nat = 1, w_adv = w_nat = ½.
func NewMTARDState() MTARDState { return MTARDState{TauAdv: 1, TauNat: 1, WAdv: 0.5, WNat: 0.5} }

// Vector returns (τ_adv, τ_nat, w_adv, w_nat), the state input of MTARDLoss.
func (s MTARDState) Vector() []float64 { return []float64{s.TauAdv, s.TauNat, s.WAdv, s.WNat} }

// Update applies one iteration's balances, given that iteration's H̃_adv, H̃_nat (computed with the
// current temperatures) and L_adv, L_nat (MTARDTerms): MTARDTemperatureStep and MTARDWeightStep with
// r_k = L_k/L⁰_k. The first Update records L⁰ = (L_adv, L_nat) (so its r = (1, 1) leaves w at ½). It returns
// an error, leaving the state unchanged, for a bad config, a non-finite input or a first loss ≤ 0 (with
// the weight balance on).
func (s *MTARDState) Update(cfg MTARDConfig, negEntAdv, negEntNat, lossAdv, lossNat float64) error {
	if !(cfg.EtaTau >= 0) || !(cfg.EtaW >= 0 && cfg.EtaW <= 1) || !(cfg.TauMin > 0 && cfg.TauMin <= cfg.TauMax) {
		return fmt.Errorf("MTARDState.Update: bad config %+v: want η_τ ≥ 0, η_w ∈ [0,1], 0 < τ_min ≤ τ_max", cfg)
	}
	for _, v := range []float64{negEntAdv, negEntNat, lossAdv, lossNat} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("MTARDState.Update: non-finite input (H̃_adv=%g, H̃_nat=%g, L_adv=%g, L_nat=%g)",
				negEntAdv, negEntNat, lossAdv, lossNat)
		}
	}
	next := *s
	if s.Steps == 0 {
		if !cfg.FixWeights && !(lossAdv > 0 && lossNat > 0) {
			return fmt.Errorf("MTARDState.Update: first losses L_adv=%g, L_nat=%g must be > 0 to normalise the weights", lossAdv, lossNat)
		}
		next.L0Adv, next.L0Nat = lossAdv, lossNat
	}
	if !cfg.FixTemperatures {
		next.TauAdv, next.TauNat = MTARDTemperatureStep(s.TauAdv, s.TauNat, negEntAdv, negEntNat, cfg.EtaTau, cfg.TauMin, cfg.TauMax)
	}
	if !cfg.FixWeights {
		next.WAdv, next.WNat = MTARDWeightStep(s.WAdv, s.WNat, lossAdv/next.L0Adv, lossNat/next.L0Nat, cfg.EtaW)
	}
	next.Steps++
	*s = next
	return nil
}

// MTARDTemperatureStep is the Entropy-Based Balance, for the current temperatures and the teachers'
// H̃ (MTARDNegEntropy, both ≤ 0 except for near one-hot teachers):
//
//	τ_adv ← clip(τ_adv − η·sign(H̃_adv/H̃_nat − 1), lo, hi)
//	τ_nat ← clip(τ_nat − η·sign(H̃_nat/H̃_adv − 1), lo, hi)
//
// H̃_adv/H̃_nat = H_adv/H_nat, so the teacher with the larger entropy is cooled and the other heated, and
// the entropies move towards each other; equal H̃ leave both unchanged. A denominator with |H̃| < 1e-12 is
// replaced by −1e-12.
func MTARDTemperatureStep(tauAdv, tauNat, negEntAdv, negEntNat, eta, lo, hi float64) (float64, float64) {
	guard := func(h float64) float64 {
		if math.Abs(h) < 1e-12 {
			return -1e-12
		}
		return h
	}
	sign := func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}
	clip := func(x float64) float64 { return math.Min(math.Max(x, lo), hi) }
	return clip(tauAdv - eta*sign(negEntAdv/guard(negEntNat)-1)), clip(tauNat - eta*sign(negEntNat/guard(negEntAdv)-1))
}

// MTARDWeightStep is the Normalization Loss Balance, for the current weights and the relative losses
// r_k = L_k/L⁰_k:
//
//	ρ_k = r_k / ((r_adv + r_nat)/2),  target_k = ρ_k/(ρ_adv + ρ_nat) = r_k/(r_adv + r_nat)
//	w_k ← max(w_k − η·(w_k − target_k), 0),  then w ← w/(w_adv + w_nat)
//
// The loss that has shrunk less relative to its start gets more weight. Guards: a negative r counts as
// 0, and r_adv + r_nat = 0 gives targets (½, ½); weights that sum to 0 restart at (½, ½).
func MTARDWeightStep(wAdv, wNat, rAdv, rNat, eta float64) (float64, float64) {
	rAdv, rNat = math.Max(rAdv, 0), math.Max(rNat, 0)
	tAdv, tNat := 0.5, 0.5
	if sum := rAdv + rNat; sum > 0 {
		tAdv, tNat = rAdv/sum, rNat/sum
	}
	wAdv = math.Max(wAdv-eta*(wAdv-tAdv), 0)
	wNat = math.Max(wNat-eta*(wNat-tNat), 0)
	sum := wAdv + wNat
	if sum <= 0 {
		return 0.5, 0.5
	}
	return wAdv / sum, wNat / sum
}
