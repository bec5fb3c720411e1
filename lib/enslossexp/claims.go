package enslossexp

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/verdict"
)

// MemorisedThreshold is the overfitting the control must show for the comparisons to be testable: BCE
// fits at least this fraction of the flipped training labels at the last epoch (mean over runs). Below
// it there is no memorisation for EnsLoss to prevent.
const MemorisedThreshold = 0.5

// Claims returns the paper's claims measured on r, the method (EnsLoss) against each baseline on the
// same runs (paired): higher last-epoch test accuracy than BCE, hinge and EXP, and fewer flipped
// training labels fit than BCE. When BCE fits fewer than MemorisedThreshold of the flipped labels,
// every claim is "not testable", naming that measurement.
func (r Result) Claims() []verdict.Claim {
	ens, ensMem := r.Final(EnsLoss)
	_, bceMem := r.Final(BCE)
	untestable := ""
	if m := Mean(bceMem); !(m >= MemorisedThreshold) {
		untestable = fmt.Sprintf("BCE fits only %.2f of the flipped training labels (< %.2f): the control does not overfit",
			m, MemorisedThreshold)
	}
	lr := map[string]float64{}
	for _, t := range r.Tuning {
		lr[t.Arm] = t.Best
	}
	var cs []verdict.Claim
	for _, base := range []string{BCE, Hinge, EXP} {
		acc, _ := r.Final(base)
		cs = append(cs, verdict.Claim{
			Claim: fmt.Sprintf("EnsLoss has higher test accuracy than %s (last epoch)", base), Kind: verdict.Comparison,
			Method: ens, Baseline: acc, Paired: true, Untestable: untestable,
			Detail: fmt.Sprintf("lr: EnsLoss %g, %s %g; diverged runs: EnsLoss %d, %s %d", lr[EnsLoss], base, lr[base],
				r.DivergedRuns(EnsLoss), base, r.DivergedRuns(base))})
	}
	cs = append(cs, verdict.Claim{
		Claim: "EnsLoss fits fewer flipped training labels than BCE (fraction, last epoch)", Kind: verdict.Comparison,
		Method: ensMem, Baseline: bceMem, Paired: true, Lower: true, Untestable: untestable,
		Detail: fmt.Sprintf("lr: EnsLoss %g, BCE %g", lr[EnsLoss], lr[BCE])})
	return cs
}

// Draws returns B·∂J/∂f, the loss derivatives EnsLoss uses, for margins z (all labels positive, so the
// scores are the margins), one row per seed, with Box–Cox parameter lambda.
func Draws(z []float64, seeds []int, lambda float64) ([][]float64, error) {
	if len(z) == 0 {
		return nil, fmt.Errorf("enslossexp.Draws: no margins")
	}
	ones := make([]int32, len(z))
	for i := range ones {
		ones[i] = 1
	}
	in := map[string]*tensors.Tensor{"scores": tensors.FromValue(z), "labels": tensors.FromValue(ones)}
	var out [][]float64
	for _, s := range seeds {
		r, err := losses.Evaluate("ensloss", in, losses.Params{"seed": float64(s), "lambda": lambda})
		if err != nil {
			return nil, fmt.Errorf("enslossexp.Draws: seed %d: %w", s, err)
		}
		g := make([]float64, len(z))
		for i, v := range r.Grad["scores"] {
			g[i] = v * float64(len(z))
		}
		out = append(out, g)
	}
	return out, nil
}

// ValidDraw reports whether derivatives g at margins z are what EnsLoss promises: each in
// [-1 - 1e-6, -1e-6] (negative: calibrated) and non-decreasing in z (convex). It says which fails.
func ValidDraw(z, g []float64) error {
	if len(z) != len(g) {
		return fmt.Errorf("%d margins but %d derivatives", len(z), len(g))
	}
	const tol = 1e-9
	var bad []string
	for i := range g {
		if !(g[i] >= -1-losses.EnsLossShift-tol && g[i] <= -losses.EnsLossShift+tol) {
			bad = append(bad, fmt.Sprintf("g(%.3g) = %.6g outside [-1-1e-6, -1e-6]", z[i], g[i]))
		}
		for j := range g {
			if z[i] < z[j] && g[i] > g[j]+tol {
				bad = append(bad, fmt.Sprintf("g(%.3g) = %.6g > g(%.3g) = %.6g", z[i], g[i], z[j], g[j]))
			}
		}
		if len(bad) > 3 {
			break
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid EnsLoss derivatives: %s", strings.Join(bad, "; "))
	}
	return nil
}

// DrawsCheck is the sanity claim that every row of draws at margins z passes ValidDraw.
func DrawsCheck(z []float64, draws [][]float64) verdict.Claim {
	c := verdict.Claim{Claim: fmt.Sprintf("EnsLoss derivatives are negative, ≥ -1 and non-decreasing in z (%d draws)", len(draws)),
		Kind: verdict.Sanity, Holds: len(draws) > 0}
	for _, g := range draws {
		if err := ValidDraw(z, g); err != nil {
			c.Holds, c.Detail = false, err.Error()
			break
		}
	}
	return c
}

// LogHingeDerivative is the deterministic limit of the draws (every r = -1): -1 for z ≤ 1, -1/z beyond.
func LogHingeDerivative(z float64) float64 {
	if z > 1 {
		return -1 / z
	}
	return -1
}

// BCEDerivative is the logistic loss's derivative -σ(-z).
func BCEDerivative(z float64) float64 { return -1 / (1 + math.Exp(z)) }
