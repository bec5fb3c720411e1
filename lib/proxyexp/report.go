package proxyexp

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/proxies"
	"github.com/losslab/losslab/lib/verdict"
)

// Controls are the thresholds the baseline must pass for a claim to be testable, fixed before the runs.
type Controls struct {
	// SpreadMin is the least spread (nats) of the baseline's final loss across the grid, in every run.
	SpreadMin float64
	// LogZFar is the least mean |log Z| (nats) of the baseline's output logits at the last step, in every run.
	LogZFar float64
	// LearnMin is how far (nats) the baseline's best loss over the grid must lie below its initial loss.
	LearnMin float64
}

// FocusLR is the learning rate of the per-step measurements: the pilot's, or, when the pilot found
// none, the largest learning rate of the grid within MaxFocusLR (the grid's first when none is).
func (c Config) FocusLR(res *Result) float64 {
	if res.Focus > 0 {
		return res.Focus
	}
	f := c.LRs[0]
	for _, lr := range c.LRs {
		if lr <= c.MaxFocusLR {
			f = lr
		}
	}
	return f
}

// LRHeads names the learning rates of the grid, e.g. "η=0.1", for table headers.
func (c Config) LRHeads() []string {
	var h []string
	for _, lr := range c.LRs {
		h = append(h, fmt.Sprintf("η=%g", lr))
	}
	return h
}

// MeanSE returns the mean of v and its standard error (NaN for the error when v has one value).
func MeanSE(v []float64) (mean, se float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
}

// LossCell formats the final losses of the runs at one learning rate (NaN: diverged) as a table cell:
// "mean ± s.e.", with the number of diverged runs when there are any.
func LossCell(runs []float64) string {
	var v []float64
	div := 0
	for _, l := range runs {
		if math.IsNaN(l) {
			div++
		} else {
			v = append(v, l)
		}
	}
	switch {
	case len(v) == 0:
		return "diverged"
	case len(v) == 1:
		return fmt.Sprintf("%.3f (%d diverged)", v[0], div)
	case div > 0:
		m, se := MeanSE(v)
		return fmt.Sprintf("%.3f ± %.3f (%d diverged)", m, se, div)
	}
	m, se := MeanSE(v)
	return fmt.Sprintf("%.3f ± %.3f", m, se)
}

// lowest returns the smallest value of v.
func lowest(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// joined joins the non-empty reasons with "; ".
func joined(reasons ...string) string {
	var s []string
	for _, r := range reasons {
		if r != "" {
			s = append(s, r)
		}
	}
	return strings.Join(s, "; ")
}

// roles returns the names of the baseline (the first arm) and of the arms with qk-layernorm only,
// z-loss only and both.
func (c Config) roles() (base, qk, z, both string, err error) {
	base = c.Arms[0].Name
	for _, a := range c.Arms[1:] {
		switch {
		case a.QKNorm && a.ZLoss == 0:
			qk = a.Name
		case !a.QKNorm && a.ZLoss > 0:
			z = a.Name
		case a.QKNorm && a.ZLoss > 0:
			both = a.Name
		}
	}
	if qk == "" || z == "" || both == "" {
		return "", "", "", "", errors.New("proxyexp: the claims need an arm with qk-layernorm only, one with z-loss only and one with both")
	}
	return base, qk, z, both, nil
}

// controlReasons returns, for each control the baseline fails, why the claims resting on it are not
// testable (empty when it passes in every run).
func controlReasons(c Config, res *Result, ctl Controls, base string) (noGrowth, noDrift, noSpread string, err error) {
	focus := c.FocusLR(res)
	growth, err := res.Log10Growth(base, focus)
	if err != nil {
		return "", "", "", err
	}
	switch {
	case res.Focus == 0:
		noGrowth = fmt.Sprintf("the control does not show attention-logit growth: in the pilot the baseline's max attention logit grew less than %g× at every η ≤ %g at every candidate scale", c.Growth, c.MaxFocusLR)
	case lowest(growth) < math.Log10(c.Growth):
		noGrowth = fmt.Sprintf("the control does not show attention-logit growth: the baseline's max attention logit at η = %g grows only %.3g× in its weakest run (the rule asks %g×)", focus, math.Pow(10, lowest(growth)), c.Growth)
	}
	lz, err := res.MeanAbsLogZ(base)
	if err != nil {
		return "", "", "", err
	}
	if lowest(lz) < ctl.LogZFar {
		noDrift = fmt.Sprintf("the control does not show output-logit drift: the baseline's mean |log Z| at the last step is %.3g nats in its closest run (the rule asks ≥ %g)", lowest(lz), ctl.LogZFar)
	}
	sp, err := res.Spread(base)
	if err != nil {
		return "", "", "", err
	}
	if lowest(sp) < ctl.SpreadMin {
		noSpread = fmt.Sprintf("the control is not sensitive to the learning rate: the baseline's final loss varies by only %.3g nats across the grid in one run (the rule asks ≥ %g)", lowest(sp), ctl.SpreadMin)
	}
	return noGrowth, noDrift, noSpread, nil
}

// zLossExample is the z-loss part (α_z = 1e-4) of y = [2, 1, 0.1], label 0, from the objective's graph
// (ce-logit-z minus ce) and from proxies.ZLoss.
func zLossExample() (graph, host float64, err error) {
	host, _ = proxies.ZLoss([]float64{2, 1, 0.1}, 1e-4)
	in := map[string]*tensors.Tensor{"logits": tensors.FromValue([][]float32{{2, 1, 0.1}}), "labels": tensors.FromValue([]int32{0})}
	cz, err := losses.Evaluate("ce-logit-z", in, losses.Params{"alpha": 1e-4})
	if err != nil {
		return 0, 0, err
	}
	ce, err := losses.Evaluate("ce", in, nil)
	if err != nil {
		return 0, 0, err
	}
	return cz.Loss - ce.Loss, host, nil
}

// learns is the largest, over the runs, of the arm's best final loss over the grid minus its initial loss.
func (res *Result) learns(arm string) float64 {
	learns := math.Inf(-1)
	for r := range res.NumRuns() {
		ls, init := res.Finals(arm, r)
		best := math.Inf(1)
		for _, l := range ls {
			if !math.IsNaN(l) {
				best = math.Min(best, l)
			}
		}
		learns = math.Max(learns, best-init)
	}
	return learns
}

// Report decides the paper's claims from the sweep's results under the controls ctl: qk-layernorm
// lowers the peak attention logit and the LR sensitivity, z-loss keeps log Z near 0 and lowers the LR
// sensitivity, both together lower it; and three sanity checks (the z-loss of a worked example, the
// LRS of a worked grid, the baseline learns).
func Report(c Config, res *Result, ctl Controls) (*verdict.Report, error) {
	base, qk, z, both, err := c.roles()
	if err != nil {
		return nil, err
	}
	noGrowth, noDrift, noSpread, err := controlReasons(c, res, ctl, base)
	if err != nil {
		return nil, err
	}
	neither := ""
	if noGrowth != "" && noDrift != "" {
		neither = joined(noGrowth, noDrift)
	}
	var firstErr error
	must := func(v []float64, err error) []float64 {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	}
	focus := c.FocusLR(res)
	lrs := func(claim, arm, untestable string) verdict.Claim {
		return verdict.Claim{Claim: claim, Kind: verdict.Comparison, Method: must(res.LRS(arm)), Baseline: must(res.LRS(base)),
			Paired: true, Lower: true, Untestable: untestable}
	}
	graphZ, hostZ, err := zLossExample()
	if err != nil {
		return nil, err
	}
	specLRS, _, err := proxies.LRSensitivity([]float64{3.9, 3.5, 3.3, 3.25, 3.6, math.NaN(), math.NaN()}, 10.373491)
	if err != nil {
		return nil, err
	}
	learns := res.learns(base)
	claims := []verdict.Claim{
		{Claim: fmt.Sprintf("qk-layernorm lowers the peak max attention logit at η = %g (log10)", focus), Kind: verdict.Comparison,
			Method: must(res.Log10Peak(qk, focus)), Baseline: must(res.Log10Peak(base, focus)), Paired: true, Lower: true, Untestable: noGrowth},
		lrs("qk-layernorm lowers the LR sensitivity (LRS over the grid)", qk, joined(noGrowth, noSpread)),
		{Claim: "z-loss keeps log Z nearer 0 (mean over the grid of |log Z| at the last step)", Kind: verdict.Comparison,
			Method: must(res.MeanAbsLogZ(z)), Baseline: must(res.MeanAbsLogZ(base)), Paired: true, Lower: true, Untestable: noDrift},
		lrs("z-loss lowers the LR sensitivity (LRS over the grid)", z, joined(noDrift, noSpread)),
		lrs("qk-layernorm and z-loss together lower the LR sensitivity (LRS over the grid)", both, joined(neither, noSpread)),
		{Claim: "the z-loss of y = [2, 1, 0.1] is 5.842034e-4 (graph, to 1e-6)", Kind: verdict.Sanity,
			Holds: math.Abs(graphZ-5.842034e-4) < 1e-6 && math.Abs(hostZ-5.842034e-4) < 1e-9, Value: graphZ},
		{Claim: "the LRS of the spec's example grid is 2.220997 (to 1e-6)", Kind: verdict.Sanity,
			Holds: math.Abs(specLRS-2.220997) < 1e-6, Value: specLRS},
		{Claim: fmt.Sprintf("the baseline learns: its best loss over the grid is ≥ %g nat below its initial loss in every run", ctl.LearnMin), Kind: verdict.Sanity,
			Holds: learns <= -ctl.LearnMin, Value: learns},
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return verdict.Decide("28-smallproxies", claims...)
}
