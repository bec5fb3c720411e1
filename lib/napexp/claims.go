package napexp

import (
	"fmt"

	"github.com/losslab/losslab/lib/verdict"
)

// MinDrop is the plasticity loss (first-task accuracy minus the mean over the second half of the tasks,
// averaged over the runs) a control arm must show for a claim that NaP fixes it to be testable.
const MinDrop = 0.10

// The schedule-equivalence check (ScheduleCheck with LayerNorm's ε = 0) is exact in real arithmetic; in
// float32, rounding differences between a projected and an unprojected run are amplified by training until
// the two trajectories part. The check therefore looks at the first EquivalenceSteps steps: the scheduled
// run stays within EquivalenceTol of the unprojected one, while the constant learning rate departs by more
// than ContrastMin.
const (
	EquivalenceSteps = 100
	EquivalenceTol   = 1e-4
	ContrastMin      = 1e-3
)

// values returns f of every final run of the named arm.
func (r *Result) values(arm string, f func(ArmRun) float64) []float64 {
	var out []float64
	for _, a := range r.Arm(arm) {
		out = append(out, f(a))
	}
	return out
}

// MeanDrop is the named arm's plasticity loss averaged over the final runs.
func (r *Result) MeanDrop(arm string) float64 {
	d := r.values(arm, ArmRun.Drop)
	s := 0.0
	for _, v := range d {
		s += v
	}
	return s / float64(len(d))
}

// Claims are the plasticity claims, decided on the final runs (paired within a run):
//  1. NaP's score beats layernorm's (testable only if layernorm's MeanDrop ≥ MinDrop);
//  2. NaP's score beats plain's (testable only if plain's MeanDrop ≥ MinDrop);
//  3. NaP keeps Adam's effective learning rate of the first hidden layer, end over start, higher than
//     layernorm does (the implicit decay the projection removes).
func (r *Result) Claims() []verdict.Claim {
	score := ArmRun.Score
	nap := r.values("NaP", score)
	var out []verdict.Claim
	for _, ctl := range []string{"layernorm", "plain"} {
		c := verdict.Claim{
			Claim: fmt.Sprintf("NaP keeps plasticity better than %s (mean end-of-task accuracy, second half of %d random-label tasks)",
				ctl, r.Config.Tasks),
			Kind: verdict.Comparison, Method: nap, Baseline: r.values(ctl, score), Paired: true,
			Detail: fmt.Sprintf("Adam lr: NaP %g, %s %g (validation block)", r.chosen("NaP"), ctl, r.chosen(ctl)),
		}
		if d := r.MeanDrop(ctl); d < MinDrop {
			c.Untestable = fmt.Sprintf("the %s control loses only %.3f accuracy from task 1 to the second half (< %.2f): no plasticity loss to fix",
				ctl, d, MinDrop)
		}
		out = append(out, c)
	}
	elr := func(a ArmRun) float64 { return a.ELRRatio(0) }
	out = append(out, verdict.Claim{
		Claim: "without projection the effective learning rate decays; NaP keeps it (Adam η/‖W₁‖, end over start)",
		Kind:  verdict.Comparison, Method: r.values("NaP", elr), Baseline: r.values("layernorm", elr), Paired: true,
	})
	return out
}

func (r *Result) chosen(arm string) float64 {
	for _, t := range r.Tuning {
		if t.Arm == arm {
			return t.Chosen
		}
	}
	return 0
}

// Claim is the construction check of the implicit-schedule equivalence on c (run with LayerNorm's ε = 0):
// a Sanity claim, shown and never counted, since the equivalence is an identity of the method.
func (c *Curves) Claim() verdict.Claim {
	sched, cons := c.Gaps(EquivalenceSteps)
	return verdict.Claim{
		Claim: fmt.Sprintf("unprojected SGD = projected SGD with the schedule η·r²/‖W_t‖² (LayerNorm ε = 0, loss over the first %d steps)",
			min(EquivalenceSteps, len(c.LN))),
		Kind: verdict.Sanity, Holds: sched <= EquivalenceTol && cons > ContrastMin, Value: sched,
		Detail: fmt.Sprintf("max |Δloss|: schedule %.2g (≤ %g), constant lr %.2g (> %g)", sched, EquivalenceTol, cons, ContrastMin),
	}
}
