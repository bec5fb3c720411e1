package lmcexp

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/verdict"
)

// Rules stated before the run (the notebook prints them with the claims).
const (
	// MinBarrier is the mean test-loss barrier (nats) of the unmatched pairs below which the control
	// shows no barrier to remove, and the claims are "not testable".
	MinBarrier = 0.05
	// SameFunctionTol bounds max |logits(B) − logits(π(B))| for the matched network to count as the same
	// function (float32 evaluation).
	SameFunctionTol = 1e-3
)

// Claims returns the claims decided by verdict.Decide, in the order the notebook states them:
//
//  1. Comparison, paired over pairs, lower is the claim: the test-loss barrier B_lin of A → π(B)
//     (weight matching) against that of A → B (Entezari et al.; Ainsworth et al.);
//  2. Comparison, paired, lower: the largest single-layer barrier of A → B against the full-path
//     barrier of A → B (layer-wise LMC: Adilova et al.; predicted by Singh et al.'s barrier analysis);
//
// both "not testable" when the mean unmatched barrier is below MinBarrier; and the sanity checks
// (never counted): π(B) computes B's function, matching brings B closer to A on every pair, and every
// endpoint beats chance by a factor 2.
func (r *Result) Claims() ([]verdict.Claim, error) {
	if len(r.Pairs) == 0 || r.Classes < 2 {
		return nil, fmt.Errorf("lmcexp: incomplete result (%d pairs, %d classes)", len(r.Pairs), r.Classes)
	}
	n := len(r.Pairs)
	naive, matched, layerMax := make([]float64, n), make([]float64, n), make([]float64, n)
	worstSame, closer, minAcc := 0.0, true, math.Inf(1)
	for i, p := range r.Pairs {
		if len(p.LayerNaive) == 0 {
			return nil, fmt.Errorf("lmcexp: pair %d has no layer-wise barriers", i)
		}
		naive[i], matched[i], layerMax[i] = p.Naive, p.Matched, MaxLayer(p.LayerNaive)
		worstSame = math.Max(worstSame, p.SameFunction)
		closer = closer && p.DistMatched < p.DistNaive
		minAcc = math.Min(minAcc, math.Min(p.AccA, p.AccB))
	}
	var untestable string
	if m := mean(naive); m < MinBarrier {
		untestable = fmt.Sprintf("the unmatched pairs have no barrier to remove: mean test-loss B_lin %.4f < %.2f nats", m, MinBarrier)
	}
	cfg := r.Config
	setting := fmt.Sprintf("MLP %v, %d epochs SGD, %s", cfg.Hidden, cfg.Epochs, cfg.Data)
	chance := 1 / float64(r.Classes)
	return []verdict.Claim{
		{Claim: "weight matching lowers the linear-path barrier of independently initialised pairs (test-loss B_lin of A → π(B) vs A → B)",
			Kind: verdict.Comparison, Method: matched, Baseline: naive, Paired: true, Lower: true, Untestable: untestable, Detail: setting},
		{Claim: "layer-wise LMC: the largest single-layer barrier is below the full-path barrier (test-loss B_lin, unmatched pairs)",
			Kind: verdict.Comparison, Method: layerMax, Baseline: naive, Paired: true, Lower: true, Untestable: untestable, Detail: setting},
		{Claim: fmt.Sprintf("π(B) computes B's function: max |logits(B) − logits(π(B))| ≤ %g (largest shown)", SameFunctionTol),
			Kind: verdict.Sanity, Holds: worstSame <= SameFunctionTol, Value: worstSame},
		{Claim: "weight matching brings B closer to A on every pair: ‖A − π(B)‖ < ‖A − B‖", Kind: verdict.Sanity, Holds: closer},
		{Claim: "every endpoint learned: test accuracy ≥ 2 × chance (lowest shown)", Kind: verdict.Sanity,
			Holds: minAcc >= 2*chance, Value: minAcc},
	}, nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// WidthClaim is the claim of Ainsworth et al. that the barrier left after weight matching shrinks as
// the networks get wider: a paired comparison, lower is the claim, of the matched test-loss barrier of
// wide's pairs against narrow's (run i of both uses the same seeds and data). Not testable when the
// narrow pairs keep no barrier after matching (mean below MinBarrier): there is nothing left to shrink.
func WidthClaim(narrow, wide *Result) (verdict.Claim, error) {
	if narrow == nil || wide == nil || len(narrow.Pairs) != len(wide.Pairs) || len(narrow.Pairs) == 0 {
		return verdict.Claim{}, fmt.Errorf("lmcexp: WidthClaim needs two results with the same number of pairs (at least one)")
	}
	var n, w []float64
	for i := range narrow.Pairs {
		if narrow.Pairs[i].SeedA != wide.Pairs[i].SeedA || narrow.Pairs[i].SeedB != wide.Pairs[i].SeedB {
			return verdict.Claim{}, fmt.Errorf("lmcexp: WidthClaim: pair %d has seeds %d, %d in one result and %d, %d in the other",
				i, narrow.Pairs[i].SeedA, narrow.Pairs[i].SeedB, wide.Pairs[i].SeedA, wide.Pairs[i].SeedB)
		}
		n, w = append(n, narrow.Pairs[i].Matched), append(w, wide.Pairs[i].Matched)
	}
	c := verdict.Claim{
		Claim: fmt.Sprintf("the barrier left after weight matching shrinks with width (test-loss B_lin of A → π(B), MLP %v vs %v)",
			wide.Config.Hidden, narrow.Config.Hidden),
		Kind: verdict.Comparison, Method: w, Baseline: n, Paired: true, Lower: true, Detail: wide.Config.Data,
	}
	if m := mean(n); m < MinBarrier {
		c.Untestable = fmt.Sprintf("the narrow pairs keep no barrier after matching: mean test-loss B_lin %.4f < %.2f nats", m, MinBarrier)
	}
	return c, nil
}
