// Package swiss ranks models across an ordered list of benchmarks with Competitive Swiss-System
// Dynamics (CSD), after Liu et al., "LLM Swiss Round: Aggregating Multi-Benchmark Performance via
// Competitive Swiss-System Dynamics" (arXiv:2512.21010).
//
// # Inputs
//
// M models are scored on K benchmarks D_1, …, D_K taken in a fixed order (foundational → advanced;
// the order is part of the method). From the score matrix R ∈ R^{M×K} NewOutcomes computes once the
// pairwise outcomes W(i,j,k) = 1[R_ik > R_jk]; by default a tie gives no point to either model (our
// choice; TieHalf gives ½ each, and Tolerance τ counts |R_ik − R_jk| ≤ τ as a tie).
//
// # One tournament (Tournament.Play)
//
// Scores start at 0 and every model is active. In round k (benchmark D_k):
//
//  1. the active models are split into score groups G_s = {m active : S_m = s};
//  2. each group is shuffled uniformly and consecutive entries are paired; the unpaired model of an
//     odd group gets a bye worth 0 points (Bye0, the CSD rule), or, with FloatDown, joins the next
//     lower group and plays a uniformly random member of it (classic Swiss floating; the lowest
//     group's odd model still gets a zero bye);
//     rematches are allowed: the simplified CSD tournament does not forbid them (classic Swiss does);
//  3. in each pair the model that wins on D_k gets 1 point (a tie gives 0, or ½ each with TieHalf);
//  4. elimination: T_k models of the lowest-score group are removed uniformly at random; if T_k
//     exceeds that group's size the whole group goes and the rest are taken from the next-lowest
//     group (our rule). Eliminated models keep their score.
//
// # Expected win score, failure sensitivity
//
// The ranking statistic is the expected final score E[S_m], estimated by Monte Carlo over N
// independent tournaments (Tournament.Expected; the paper uses N = 100 000) with standard error
// sd/√N, or computed exactly by enumerating every pairing and elimination for small M
// (Tournament.Exact). Failure sensitivity (FailureProfile) sweeps a constant elimination T_k = T for
// T = 0 … ⌊(M−2)/K⌋ (so at least two models reach the last round) and reports each model's
// Ŝ_m(T), its drop Δ_m(T) = Ŝ_m(0) − Ŝ_m(T), relative drop and rank change: robust generalists keep
// their score under elimination pressure, specialists weak on early benchmarks lose it.
//
// Static baselines for comparison: MeanScore, Copeland (round-robin wins) and RankAverage; Ranks
// turns any score vector into ranks.
package swiss
