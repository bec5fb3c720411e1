// Package advmdp simulates adversarial episodic MDPs with linear function approximation and runs the
// policy-optimisation learners of Dai, Luo, Wei and Zimmert, "Refined Regret for Adversarial MDPs
// with Linear Function Approximation" (ICML 2023, arXiv:2301.12942): FTRL with the log-barrier
// regulariser, and the exponential-weights (Hedge) baseline with the same loss estimator.
//
// # Setting
//
// A layered MDP has layers h = 0..H−1 with S states each, A actions and a start state s₀ = 0 in
// layer 0. Each state-action pair has a feature φ_h(s,a) ∈ R^d. In a linear MDP the transitions are
// P_h(s'|s,a) = Σ_i φ_{h,i}(s,a) μ_{h,i}(s') and the losses of episode k are
// ℓ_k(s,a) = φ_h(s,a)ᵀ w_{k,h}; then for every policy π
//
//	Q_k^π(s,a) = φ_h(s,a)ᵀ θ_{k,h}^π,   θ_{k,h}^π = w_{k,h} + Σ_{s'} μ_h(s') V_{k,h+1}^π(s')
//
// exactly (MDP.Theta), which MDP.QValues checks by backward dynamic programming. Generate draws such
// an MDP with φ on the probability simplex (so ‖φ‖₂ ≤ 1 and losses lie in [0,1]); NewAdversary draws
// an oblivious adversary w_{k,h} ∈ [0,1]^d in regimes.
//
// # Learners (Run)
//
// Per state the learner keeps the cumulative estimate Ĉ(s,·) = Σ_{τ<k} (Q̂_τ(s,·) − B_τ(s,·)) and
// plays
//
//	log-barrier FTRL:  π_k(·|s) = argmin_{p∈Δ_A} ⟨p, Ĉ(s,·)⟩ + (1/η) Σ_a ln(1/p_a)
//	                   ⇒ p_a = 1/(η (Ĉ_a + λ)), λ > −min_a Ĉ_a with Σ_a p_a = 1   (LogBarrierFTRL)
//	Hedge:             π_k(a|s) ∝ exp(−η Ĉ_a)                                      (ExpWeights)
//
// mixed with uniform exploration, π̃_k = (1−γ)π_k + γ/A. After the episode it forms the covariance
// Σ_{k,h} = Σ_{s,a} q_{k,h}(s,a) φφᵀ + εI from the exact occupancy q of π̃_k (the model is known
// here; the paper estimates it with a simulator and matrix geometric resampling) and the estimate
//
//	θ̂_{k,h} = Σ_{k,h}⁻¹ φ(s_h,a_h) (L_{k,h} − m_h) ,   Q̂_k(s,a) = φ(s,a)ᵀ θ̂_{k,h} + m_h,
//
// where L_{k,h} = Σ_{h'≥h} ℓ_k(s_{h'},a_{h'}) is the observed loss-to-go. With m_h = 0 ("plain") it is
// unbiased for Q_k^{π̃_k}; it can be large and negative for pairs far from the visited one. The
// "reduced" estimator (our reconstruction of the paper's magnitude-reduced idea, not its exact
// estimator) sets m_h to the running mean of past observed loss-to-go; it stays unbiased when the
// constant function lies in the span of the features (true for simplex features). An optional
// dilated bonus (β > 0, the form of Luo et al. 2021) is subtracted:
//
//	b(s,a) = β‖φ(s,a)‖²_{Σ⁻¹} + β E_{a'∼π_k}‖φ(s,a')‖²_{Σ⁻¹},
//	B_h(s,a) = b(s,a) + (1 + 1/H) E_{s'∼P, a'∼π_k}[B_{h+1}(s',a')].
//
// Regret is the pseudo-regret R_K = Σ_k V_k^{π̃_k}(s₀) − min_π Σ_k V_k^π(s₀); the comparator is found by
// dynamic programming on the summed loss (V^π is linear in the loss). Sweep runs learners over a grid
// of horizons K and seeds in parallel; FitSlope fits the log-log growth rate and BootstrapSlope adds a
// percentile interval by resampling seeds.
//
// Fidelity: the FTRL/log-barrier mathematics and the estimator are the standard ones; uniform mixing,
// the exact covariance and the bonus constants are a faithful-in-spirit simplification (the exact
// constants of the paper's algorithms were not available).
package advmdp
