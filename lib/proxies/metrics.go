package proxies

import (
	"errors"
	"fmt"
	"math"
)

// LRSensitivity returns the paper's summary of a learning-rate sweep: with ℓ(η) the final eval loss at
// each learning rate of the grid, ℓ₀ the loss at initialisation and ℓ* = min_η ℓ(η),
//
//	LRS = mean over the grid of [ min(ℓ(η), ℓ₀) − ℓ* ].
//
// Divergent runs (NaN or ±Inf loss) count as ℓ₀. It also returns ℓ*. Lower LRS means a flatter loss
// across learning rates. It is an error if every run diverged or ℓ₀ is not finite.
func LRSensitivity(finalLoss []float64, initLoss float64) (lrs, best float64, err error) {
	if len(finalLoss) == 0 {
		return 0, 0, errors.New("proxies: LR sensitivity of an empty sweep")
	}
	if math.IsNaN(initLoss) || math.IsInf(initLoss, 0) {
		return 0, 0, fmt.Errorf("proxies: initial loss ℓ₀ = %v, want finite", initLoss)
	}
	capped := make([]float64, len(finalLoss))
	best = math.Inf(1)
	finite := 0
	for i, l := range finalLoss {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			capped[i] = initLoss
			continue
		}
		finite++
		capped[i] = math.Min(l, initLoss)
		best = math.Min(best, l)
	}
	if finite == 0 {
		return 0, 0, errors.New("proxies: every run of the sweep diverged; LR sensitivity is undefined")
	}
	for _, c := range capped {
		lrs += c - best
	}
	return lrs / float64(len(capped)), best, nil
}

// LogZ returns log Z = logsumexp(y) of one logit vector (computed stably).
func LogZ(y []float64) float64 {
	m := math.Inf(-1)
	for _, v := range y {
		m = math.Max(m, v)
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, v := range y {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// ZLoss returns the output-logit z-loss α·(log Z)² of one logit vector and its gradient
// 2α·log Z·softmax(y).
func ZLoss(y []float64, alpha float64) (loss float64, grad []float64) {
	lz := LogZ(y)
	grad = make([]float64, len(y))
	for i, v := range y {
		grad[i] = 2 * alpha * lz * math.Exp(v-lz)
	}
	return alpha * lz * lz, grad
}

// LayerNorm returns (v − mean)/√(var + eps) ⊙ gain (no bias), the float64 reference of qk-layernorm over
// one head vector; gain nil means ones.
func LayerNorm(v, gain []float64, eps float64) []float64 {
	n := float64(len(v))
	mean, varc := 0.0, 0.0
	for _, x := range v {
		mean += x
	}
	mean /= n
	for _, x := range v {
		varc += (x - mean) * (x - mean)
	}
	varc /= n
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = (x - mean) / math.Sqrt(varc+eps)
		if gain != nil {
			out[i] *= gain[i]
		}
	}
	return out
}

// QKLogitBound is the largest attention logit |z| = |q·k|/√d_h that qk-layernorm allows: each
// normalised vector has norm ≤ √d_h·max|g|, so |z| ≤ √d_h·max|g_q|·max|g_k|.
func QKLogitBound(dh int, gainQ, gainK []float64) float64 {
	mq, mk := 1.0, 1.0
	if gainQ != nil {
		mq = maxAbs(gainQ)
	}
	if gainK != nil {
		mk = maxAbs(gainK)
	}
	return math.Sqrt(float64(dh)) * mq * mk
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// DecayStep applies one AdamW parameter update to theta in place, given the Adam direction u
// (m̂/(√v̂ + ε), without the learning rate), the peak learning rate eta, the schedule multiplier s in
// [0, 1] and the decay coefficient lambda:
//
//	coupled (PyTorch/optax default):  θ ← θ − s·η·(u + λθ)
//	independent:                      θ ← θ − s·(η·u + λθ)
//
// With independent decay the decay strength does not change when η is swept; λ_independent = η·λ_coupled
// gives the same step.
func DecayStep(theta, u []float64, eta, s, lambda float64, independent bool) {
	lr, decay := DecayRates(eta, s, lambda, independent)
	for i := range theta {
		theta[i] -= lr*u[i] + decay*theta[i]
	}
}

// DecayRates returns the two multipliers of an AdamW step θ ← θ − lr·u − decay·θ: lr = s·η and
// decay = s·η·λ (coupled) or s·λ (independent).
func DecayRates(eta, s, lambda float64, independent bool) (lr, decay float64) {
	if independent {
		return s * eta, s * lambda
	}
	return s * eta, s * eta * lambda
}

// Schedule returns the multiplier s_t ∈ [0, 1] of a linear warm-up over warmup steps followed by a
// cosine decay to 0 at step total, for the 0-based step t: s = (t+1)/warmup during warm-up, then
// ½(1 + cos(π·(t − warmup)/(total − warmup))).
func Schedule(t, warmup, total int) float64 {
	if t < warmup {
		return float64(t+1) / float64(warmup)
	}
	p := float64(t-warmup) / math.Max(1, float64(total-warmup))
	return 0.5 * (1 + math.Cos(math.Pi*math.Min(1, p)))
}
