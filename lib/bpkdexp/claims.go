package bpkdexp

import (
	"fmt"

	"github.com/losslab/losslab/lib/verdict"
)

func miou(s Scores) float64     { return s.MIoU }
func boundary(s Scores) float64 { return s.Boundary }

// Claims are the notebook's claims, decided by verdict.Decide, all on paired test scores of the runs,
// in order C1–C3 then the sanity check:
//   - C1: BPKD beats the student alone (test mIoU);
//   - C2: BPKD beats pixel-wise KD (test mIoU);
//   - C3: BPKD beats the student alone on boundary accuracy (pixels within 2 px of an edge);
//   - sanity: the shared teacher beats the mean tuned CE student by at least Config.MinTeacherGap in
//     test mIoU (else there is little to distil, and C1–C3 are not testable).
func (r *Result) Claims() []verdict.Claim {
	ce := r.Values("ce", miou)
	gap := r.Teacher.MIoU - mean(ce)
	strong := gap >= r.Config.MinTeacherGap
	lr := fmt.Sprintf("lr: CE %g, KD %g, BPKD %g (validation mIoU)", r.Chosen["ce"], r.Chosen["kd"], r.Chosen["bpkd"])
	claims := []verdict.Claim{
		{Claim: "BPKD beats the student alone (test mIoU)", Kind: verdict.Comparison,
			Method: r.Values("bpkd", miou), Baseline: ce, Paired: true, Detail: lr},
		{Claim: "BPKD beats pixel-wise KD (test mIoU)", Kind: verdict.Comparison,
			Method: r.Values("bpkd", miou), Baseline: r.Values("kd", miou), Paired: true, Detail: lr},
		{Claim: "BPKD beats the student alone on boundary accuracy (≤ 2 px from an edge)", Kind: verdict.Comparison,
			Method: r.Values("bpkd", boundary), Baseline: r.Values("ce", boundary), Paired: true, Detail: lr},
		{Claim: fmt.Sprintf("the teacher beats the student alone by ≥ %g test mIoU", r.Config.MinTeacherGap),
			Kind: verdict.Sanity, Holds: strong, Value: gap,
			Detail: fmt.Sprintf("teacher %.3f, CE student %.3f", r.Teacher.MIoU, mean(ce))},
	}
	if !strong {
		why := fmt.Sprintf("the teacher's test mIoU %.3f exceeds the CE student's %.3f by less than %g: nothing clear to distil",
			r.Teacher.MIoU, mean(ce), r.Config.MinTeacherGap)
		for i := range 3 {
			claims[i].Untestable = why
		}
	}
	return claims
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}
