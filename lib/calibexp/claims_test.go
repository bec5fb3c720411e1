package calibexp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/verdict"
)

func TestNarrowMiss(t *testing.T) {
	// The values the paper's example gives at T = 1 and 10 (the CE at 1.4427 as well).
	for _, c := range []struct{ t, ce, conf2 float64 }{{1, 0.990924, 0.306712}, {1.4427, 0.974327, 0.248046}, {10, 1.062278, 0.129438}} {
		ce, conf := NarrowMiss(c.t)
		if math.Abs(ce-c.ce) > 2e-6 || math.Abs(conf*conf-c.conf2) > 2e-6 {
			t.Errorf("T %g: CE %.6f, conf² %.6f; want %.6f, %.6f", c.t, ce, conf*conf, c.ce, c.conf2)
		}
	}
}

func TestMeanSEAndRunsText(t *testing.T) {
	v := []float64{1, 2, 3, 6}
	if m := Mean(v); m != 3 {
		t.Errorf("Mean %g, want 3", m)
	}
	// Sample SD sqrt(14/3), SE sqrt(14/3/4) = 1.0801.
	if s := MeanSE(v); s != "3.0000 ± 1.0801" {
		t.Errorf("MeanSE %q", s)
	}
	if s := RunsText([]float64{0.0144, 0.016}); s != "0.014 0.016" {
		t.Errorf("RunsText %q", s)
	}
	var names []string
	for _, c := range Columns {
		names = append(names, c.Name)
	}
	m := Metrics{Accuracy: 1, ECE: 2, AUROC: 3, Gap: 4, ConfRight: 5, ConfWrong: 6}
	for i, c := range Columns {
		if c.Of(m) != float64(i+1) {
			t.Errorf("column %q picks %g", c.Name, c.Of(m))
		}
	}
	if len(names) != 6 || names[0] != "accuracy" {
		t.Errorf("columns %v", names)
	}
}

// synthetic returns three runs of n examples (7 in 10 right in distribution, 1 in 2 under shift) in which
// every arm has one confidence per test set: the frozen model 0.95 (over-confident), (a) and (b) 0.7
// (calibrated in distribution, over-confident under shift), (c) 0.7 and caShift under shift. A small
// per-run offset keeps the paired differences from being all equal.
func synthetic(caShift float64) *Result {
	const n = 100
	res := &Result{Tuning: []Tuning{{Arm: PerSampleCE, Val: []float64{1, 0}, Best: 1}, {Arm: PerSampleCA, Val: []float64{0, 1}, Best: 0}}}
	for r := range 3 {
		var rightIn, rightSh []bool
		for i := range n {
			rightIn, rightSh = append(rightIn, i%10 < 7), append(rightSh, i%2 == 0)
		}
		d := 0.01 * float64(r)
		fill := func(arm string, in, sh float64) Scores {
			return Scores{Arm: arm, ConfTest: slices.Repeat([]float64{in}, n), ConfShift: slices.Repeat([]float64{sh}, n), RightTest: rightIn, RightShift: rightSh}
		}
		res.Runs = append(res.Runs, RunResult{Seed: uint64(r), Arms: []Scores{fill(Uncalibrated, 0.95, 0.95), fill(GlobalT, 0.7+d, 0.7+d),
			fill(PerSampleCE, 0.7-d, 0.75), fill(PerSampleCA, 0.7, caShift+d)}})
	}
	return res
}

func TestWorstPooledSamePredictions(t *testing.T) {
	res := synthetic(0.5)
	w, err := res.Worst(GlobalT, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Shifted ECE 0.2 + d beats in-distribution d.
	for r, x := range w {
		if want := 0.2 + 0.01*float64(r); math.Abs(x-want) > 1e-9 {
			t.Errorf("run %d: worst ECE %g, want %g", r, x, want)
		}
	}
	conf, right, err := res.Pooled(PerSampleCA, true)
	if err != nil || len(conf) != 300 || len(right) != 300 || conf[0] != 0.5 || conf[299] != 0.52 {
		t.Errorf("Pooled: %d, %d, %v", len(conf), len(right), err)
	}
	if _, _, err := res.Pooled("no arm", false); err == nil {
		t.Error("Pooled of an unknown arm: no error")
	}
	if _, err := res.Worst("no arm", 10); err == nil {
		t.Error("Worst of an unknown arm: no error")
	}
	if !res.SamePredictions() {
		t.Error("SamePredictions: false for equal correctness")
	}
	res.Runs[2].Arms[3].RightShift = slices.Clone(res.Runs[2].Arms[3].RightShift)
	res.Runs[2].Arms[3].RightShift[5] = !res.Runs[2].Arms[3].RightShift[5]
	if res.SamePredictions() {
		t.Error("SamePredictions: true although (c) changed a shifted prediction in run 3")
	}
}

func TestReport(t *testing.T) {
	c := tiny()
	r, err := Report(c, synthetic(0.5), 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Claims) != 8 {
		t.Fatalf("%d claims", len(r.Claims))
	}
	// (c) is calibrated under shift where (a) and (b) are over-confident; its AUROC is 0.5 like theirs.
	want := []verdict.Outcome{verdict.Reproduced, verdict.Reproduced, verdict.NotReproduced, verdict.NotReproduced, verdict.Reproduced,
		verdict.Reproduced, verdict.Reproduced, verdict.Reproduced}
	for i, cl := range r.Claims {
		if cl.Outcome != want[i] {
			t.Errorf("claim %d (%s): %s, want %s (%s)", i+1, cl.Claim, cl.Outcome, want[i], cl.Reason)
		}
	}
	// A (c) as over-confident under shift as (a) does not reproduce C1-C2; shifted-only agrees.
	r, err = Report(c, synthetic(0.9), 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if r.Claims[0].Outcome != verdict.NotReproduced || r.Claims[1].Outcome != verdict.NotReproduced {
		t.Errorf("over-confident (c): %s, %s", r.Claims[0].Outcome, r.Claims[1].Outcome)
	}
	s, err := ShiftOnly(c, synthetic(0.5))
	if err != nil || len(s.Claims) != 2 || s.Claims[0].Outcome != verdict.Reproduced || !strings.HasSuffix(s.Claims[1].Claim, "(a)") {
		t.Errorf("ShiftOnly: %v, %+v", err, s)
	}
	// A (b) no worse under shift than in distribution makes C1 untestable, naming the control.
	res := synthetic(0.5)
	for i := range res.Runs {
		res.Runs[i].Arms[2].RightShift = res.Runs[i].Arms[2].RightTest
		res.Runs[i].Arms[2].ConfShift = res.Runs[i].Arms[2].ConfTest
	}
	if r, err = Report(c, res, 0.01); err != nil {
		t.Fatal(err)
	}
	if r.Claims[0].Outcome != verdict.NotTestable || !strings.Contains(r.Claims[0].Reason, "(b) per-sample T, CE's ECE under shift") {
		t.Errorf("untestable C1: %s, %q", r.Claims[0].Outcome, r.Claims[0].Reason)
	}
	res.Runs[1].Arms = res.Runs[1].Arms[:3]
	if _, err := Report(c, res, 0.01); err == nil {
		t.Error("Report without (c) in run 2: no error")
	}
	if _, err := ShiftOnly(c, res); err == nil {
		t.Error("ShiftOnly without (c) in run 2: no error")
	}
}
