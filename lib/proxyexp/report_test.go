package proxyexp

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/verdict"
)

func TestMeanSE(t *testing.T) {
	m, se := MeanSE([]float64{1, 2, 3, 6})
	// mean 3, sample variance (4+1+0+9)/3 = 14/3, s.e. √(14/3)/2.
	if m != 3 || math.Abs(se-math.Sqrt(14.0/3)/2) > 1e-12 {
		t.Fatalf("MeanSE = %g ± %g, want 3 ± %g", m, se, math.Sqrt(14.0/3)/2)
	}
}

func TestLossCell(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		runs []float64
		want string
	}{
		{[]float64{1, 2, 3}, "2.000 ± 0.577"},
		{[]float64{1, nan, 3}, "2.000 ± 1.000 (1 diverged)"},
		{[]float64{nan, 2.5, nan}, "2.500 (2 diverged)"},
		{[]float64{nan, nan}, "diverged"},
	} {
		if got := LossCell(c.runs); got != c.want {
			t.Errorf("LossCell(%v) = %q, want %q", c.runs, got, c.want)
		}
	}
}

func TestFocusLRAndHeads(t *testing.T) {
	c := Config{LRs: []float64{1e-3, 3e-2, 0.3, 1}, MaxFocusLR: 0.1}
	if f := c.FocusLR(&Result{Focus: 1}); f != 1 {
		t.Fatalf("with the pilot's focus 1: got %g", f)
	}
	if f := c.FocusLR(&Result{}); f != 3e-2 {
		t.Fatalf("no pilot focus: got %g, want the largest η ≤ 0.1, 0.03", f)
	}
	c.MaxFocusLR = 1e-4
	if f := c.FocusLR(&Result{}); f != 1e-3 {
		t.Fatalf("no η within the focus range: got %g, want the grid's first, 0.001", f)
	}
	if h := strings.Join(c.LRHeads(), " "); h != "η=0.001 η=0.03 η=0.3 η=1" {
		t.Fatalf("LRHeads: %q", h)
	}
}

// fourArms is tiny() with the paper's four arms.
func fourArms() Config {
	c := tiny()
	c.Arms = []Arm{{Name: "base"}, {Name: "qk", QKNorm: true}, {Name: "z", ZLoss: 1e-4}, {Name: "both", QKNorm: true, ZLoss: 1e-4}}
	c.Scales = c.Scales[:1]
	return c
}

func TestReportAndSummary(t *testing.T) {
	if _, err := Report(tiny(), &Result{}, Controls{}); err == nil || !strings.Contains(err.Error(), "qk-layernorm only") {
		t.Fatalf("a sweep without a qk-layernorm arm: got %v", err)
	}
	c := fourArms()
	res, err := Execute(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	// No scale can grow 1e30×, and no loss spreads by 1e9 nats: the claims resting on them are not testable.
	r, err := Report(c, res, Controls{SpreadMin: 1e9, LogZFar: 0, LearnMin: -1e9})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Claims) != 8 {
		t.Fatalf("%d claims, want 8", len(r.Claims))
	}
	for i, want := range []bool{true, true, false, true, true} {
		if got := r.Claims[i].Outcome == verdict.NotTestable; got != want {
			t.Errorf("claim %d (%s): not testable %v, want %v (%s)", i+1, r.Claims[i].Claim, got, want, r.Claims[i].Reason)
		}
	}
	if !strings.Contains(r.Claims[0].Reason, "grew less than 1e+30×") || !strings.Contains(r.Claims[1].Reason, "varies by only") {
		t.Errorf("reasons: %q / %q", r.Claims[0].Reason, r.Claims[1].Reason)
	}
	for i := 5; i < 8; i++ {
		if r.Claims[i].Outcome != verdict.Reproduced {
			t.Errorf("sanity claim %d (%s): %s, effect %g", i+1, r.Claims[i].Claim, r.Claims[i].Outcome, r.Claims[i].Effect)
		}
	}
	// A baseline that must learn 1e9 nats fails its sanity claim.
	r2, err := Report(c, res, Controls{LearnMin: 1e9})
	if err != nil || r2.Claims[7].Outcome == verdict.Reproduced {
		t.Fatalf("learn-by-1e9 sanity claim: %v, %+v", err, r2.Claims[7])
	}

	md, err := Summary(c, res, r, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Verdict: ", "- C1 ", "- Pilot (", "s: no learning rate ≤ 1 reached the growth factor",
		"- LR sensitivity, mean ± s.e. over the runs: base ", "- Diverged runs (NaN loss) of 6 per arm: base ",
		"Scale: Quick mode (LOSSLAB_QUICK)", "3 independent runs per arm"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if md2, _ := Summary(c, res, r, false); strings.Contains(md2, "Quick mode") {
		t.Error("a full-size summary says quick mode")
	}
}
