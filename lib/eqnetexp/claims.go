package eqnetexp

import (
	"fmt"

	"github.com/losslab/losslab/lib/verdict"
)

// Run is one independent run's test accuracies: every arm of run i shares its initialisation seed and
// data order (paired), and differs from run j's in both.
type Run struct {
	// Float is the full-precision model's accuracy.
	Float float64
	// Static[b] is a static LSQ model trained at b bits (uniform subnet, sym/channel), the paper's
	// per-bit-width baseline; Supernet[b] is the EQ-Net supernet (GPG + WDR) evaluated at the same
	// b-bit subnet; SandwichCE[b] the supernet trained with CE for every subnet (no GPG, no WDR).
	Static, Supernet, SandwichCE map[int]float64
	// Kurt and KurtCE are the mean |kurtosis − 1.8| of the supernet's latent weights (the layers WDR acts
	// on) after training with and without WDR.
	Kurt, KurtCE float64
}

// Claims returns the paper's claims on runs, in the order the notebook states them before the run:
// for each bit-width of EvalBits, the supernet's subnet is not worse than the static LSQ model by more
// than StaticMargin (non-inferiority, paired); at the highest EvalBits, it is within FloatMargin of the
// full-precision model; at the lowest, GPG + WDR beats the sandwich trained with plain CE (comparison,
// paired). That WDR brings the kurtosis towards 1.8 is a Sanity check: it is what the regulariser
// optimises, so it is shown, never counted.
func (c Config) Claims(runs []Run) ([]verdict.Claim, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.EvalBits) == 0 {
		return nil, fmt.Errorf("eqnetexp: Claims: EvalBits is empty")
	}
	col := func(name string, b int, pick func(Run) map[int]float64) ([]float64, error) {
		out := make([]float64, len(runs))
		for i, r := range runs {
			v, ok := pick(r)[b]
			if !ok {
				return nil, fmt.Errorf("eqnetexp: Claims: run %d has no %s accuracy at %d bits", i, name, b)
			}
			out[i] = v
		}
		return out, nil
	}
	sup := func(r Run) map[int]float64 { return r.Supernet }
	var claims []verdict.Claim
	for _, b := range c.EvalBits {
		m, err := col("supernet", b, sup)
		if err != nil {
			return nil, err
		}
		s, err := col("static", b, func(r Run) map[int]float64 { return r.Static })
		if err != nil {
			return nil, err
		}
		claims = append(claims, verdict.Claim{Kind: verdict.NonInferiority, Paired: true, Margin: c.StaticMargin,
			Claim:  fmt.Sprintf("the supernet's %d-bit subnet matches a static %d-bit LSQ model (test accuracy)", b, b),
			Method: m, Baseline: s})
	}
	hi, lo := c.EvalBits[0], c.EvalBits[0]
	for _, b := range c.EvalBits {
		hi, lo = max(hi, b), min(lo, b)
	}
	m, err := col("supernet", hi, sup)
	if err != nil {
		return nil, err
	}
	fl := make([]float64, len(runs))
	kurt, kurtCE := make([]float64, len(runs)), make([]float64, len(runs))
	for i, r := range runs {
		fl[i], kurt[i], kurtCE[i] = r.Float, r.Kurt, r.KurtCE
	}
	claims = append(claims, verdict.Claim{Kind: verdict.NonInferiority, Paired: true, Margin: c.FloatMargin,
		Claim:  fmt.Sprintf("the supernet's %d-bit subnet is close to the full-precision model (test accuracy)", hi),
		Method: m, Baseline: fl})
	m, err = col("supernet", lo, sup)
	if err != nil {
		return nil, err
	}
	ce, err := col("sandwich-CE", lo, func(r Run) map[int]float64 { return r.SandwichCE })
	if err != nil {
		return nil, err
	}
	claims = append(claims, verdict.Claim{Kind: verdict.Comparison, Paired: true,
		Claim:  fmt.Sprintf("GPG + WDR beats the CE sandwich at %d bits (test accuracy)", lo),
		Method: m, Baseline: ce})
	meanK, meanCE := 0.0, 0.0
	for i := range runs {
		meanK, meanCE = meanK+kurt[i]/float64(len(runs)), meanCE+kurtCE[i]/float64(len(runs))
	}
	claims = append(claims, verdict.Claim{Kind: verdict.Sanity, Holds: len(runs) > 0 && meanK < meanCE, Value: meanCE - meanK,
		Claim: "WDR brings the latent weights' kurtosis towards 1.8 (mean |kurt − 1.8|, without − with)"})
	return claims, nil
}
