package ldrexp

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/verdict"
)

// reportConfig is the notebook's design at a glance: three settings, the three named arms.
func reportConfig() Config {
	return Config{Classes: 26, Epochs: 3, Runs: 3, NTrain: 10, NVal: 5, NTest: 5, Dim: 2,
		Noise: []data.NoiseConfig{{Kind: data.Uniform, Rate: 0}, {Kind: data.Uniform, Rate: 0.6}, {Kind: data.Pairwise, Rate: 0.3}},
		Arms: []Arm{
			{Name: "CE", Objective: "ce", Grid: Grid([]float64{0.01, 0.1}, "", nil)},
			{Name: "LDR-KL", Objective: "ldr-kl-code", Grid: Grid([]float64{0.01}, "lambda", []float64{1, 10})},
			{Name: "ALDR-KL", Objective: "aldr-kl-code", Grid: Grid([]float64{0.01}, "lambda0", []float64{1, 10})},
		}}
}

// fakeResults gives every arm in every setting the runs acc(setting, arm).
func fakeResults(c Config, acc func(setting int, arm string) []float64) []SettingResult {
	var res []SettingResult
	for i, n := range c.Noise {
		s := SettingResult{Setting: SettingName(n), Changed: n.Rate}
		for _, a := range c.Arms {
			s.Arms = append(s.Arms, ArmResult{Arm: a.Name, Chosen: a.Grid[1].String(), Test: acc(i, a.Name),
				Tuning: Tuning{ValAcc: []float64{0.4, 0.5}, Best: 1}, Curves: [][]float64{{0.1, 0.2, 0.3}}})
		}
		res = append(res, s)
	}
	return res
}

func TestReport(t *testing.T) {
	c := reportConfig()
	// CE loses 0.3 under noise, the LDR arms keep their clean accuracy: every noise claim reproduces.
	res := fakeResults(c, func(setting int, arm string) []float64 {
		if setting > 0 && arm == "CE" {
			return []float64{0.50, 0.51, 0.52}
		}
		return []float64{0.80, 0.81, 0.82}
	})
	r, err := Report("test", c, res, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Claims) != 10 {
		t.Fatalf("%d claims, want 10", len(r.Claims))
	}
	for _, i := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9} { // claim 7 (stability) is tied here, tested below
		if r.Claims[i].Outcome != verdict.Reproduced {
			t.Errorf("claim %d %q: %s (%s), want reproduced", i+1, r.Claims[i].Claim, r.Claims[i].Outcome, r.Claims[i].Reason)
		}
	}
	if !strings.Contains(r.Claims[2].Claim, "uniform 0.6") || !strings.Contains(r.Claims[4].Claim, "pairwise 0.3") {
		t.Errorf("noise claims name the wrong settings: %q, %q", r.Claims[2].Claim, r.Claims[4].Claim)
	}
	if d := (&claimData{res: res}).chosen("uniform 0.0"); d != "tuned: CE lr=0.1, LDR-KL lr=0.01 lambda=10, ALDR-KL lr=0.01 lambda0=10" {
		t.Errorf("detail %q", d)
	}

	// CE does not lose accuracy under noise: the noise claims cannot be tested.
	flat := fakeResults(c, func(int, string) []float64 { return []float64{0.80, 0.81, 0.82} })
	if r, err = Report("test", c, flat, 0.02); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 6; i++ {
		if r.Claims[i].Outcome != verdict.NotTestable {
			t.Errorf("claim %d with a flat control: %s, want %s", i+1, r.Claims[i].Outcome, verdict.NotTestable)
		}
	}

	// ALDR-KL's worst setting is better than LDR-KL's in every run: the stability claim reproduces.
	stable := fakeResults(c, func(setting int, arm string) []float64 {
		switch {
		case arm == "LDR-KL" && setting == 2:
			return []float64{0.60, 0.62, 0.61}
		case setting > 0 && arm == "CE":
			return []float64{0.50, 0.51, 0.52}
		}
		return []float64{0.80, 0.81, 0.82}
	})
	if r, err = Report("test", c, stable, 0.02); err != nil {
		t.Fatal(err)
	}
	if k := r.Claims[6]; k.Outcome != verdict.Reproduced || math.Abs(k.Effect-0.2) > 1e-9 {
		t.Errorf("stability claim: %s, effect %v, want reproduced with effect 0.2", k.Outcome, k.Effect)
	}

	if _, err := Report("test", c, res[:2], 0.02); err == nil || !strings.Contains(err.Error(), "pairwise 0.3") {
		t.Errorf("a missing setting: error %v, want one naming it", err)
	}
	c.Noise = c.Noise[:2]
	if _, err := Report("test", c, res, 0.02); err == nil {
		t.Error("two noise settings: no error")
	}
}

func TestAccuracies(t *testing.T) {
	c := reportConfig()
	res := fakeResults(c, func(s int, arm string) []float64 { return []float64{float64(s), float64(len(arm))} })
	if a, err := Accuracies(res, "pairwise 0.3", "CE"); err != nil || a[0] != 2 || a[1] != 2 {
		t.Errorf("Accuracies: %v, %v", a, err)
	}
	if _, err := Accuracies(res, "uniform 0.6", "none"); err == nil {
		t.Error("unknown arm: no error")
	}
	if _, err := AccuracyBars(c, res[:1]); err != nil {
		t.Error(err)
	}
	c.Arms = append(c.Arms, Arm{Name: "extra"})
	if _, err := AccuracyBars(c, res); err == nil {
		t.Error("AccuracyBars with an arm that has no results: no error")
	}
}

func TestSummary(t *testing.T) {
	c := reportConfig()
	res := fakeResults(c, func(setting int, arm string) []float64 {
		if setting == 1 && arm == "LDR-KL" {
			return []float64{0.20, 0.80, 0.81} // a stalled run
		}
		return []float64{0.80, 0.81, 0.82}
	})
	r := &verdict.Report{Verdict: "mixed", Reason: "why", Quick: true,
		Claims: []verdict.Result{{Claim: "counted", Counted: true, Outcome: verdict.Reproduced, Effect: 0.1, SE: 0.01, Seeds: 3},
			{Claim: "sanity"}}}
	s := Summary(c, res, r)
	for _, want := range []string{
		"**Verdict: mixed** (why).",
		"- C1 counted: **reproduced** (effect +0.100 ± 0.010 over 3 runs).",
		"- uniform 0.6 (60% of training labels changed), tuned points and the clean-test accuracy of each run: CE lr=0.1 (0.800 0.810 0.820); LDR-KL lr=0.01 lambda=10 (0.200 0.800 0.810);",
		"- Under uniform 0.6, one run of LDR-KL (lr=0.01 lambda=10) reached only 0.200 while its best reached 0.810",
		"- LDR-KL at the official default lr=0.01 lambda=10, validation accuracy: uniform 0.0 0.500 (tuned 0.500)",
		"- ALDR-KL at the official default lr=0.01 lambda0=10",
		"Quick mode (LOSSLAB_QUICK)", "grids of 2 points per arm",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "C2") || strings.Count(s, "reached only") != 1 {
		t.Errorf("summary lists an uncounted claim or a run that did not stall:\n%s", s)
	}
}

func TestTables(t *testing.T) {
	c := reportConfig()
	res := fakeResults(c, func(int, string) []float64 { return []float64{0.5, 0.6} })
	if got := RunsText([]float64{0.5, 0.6123, math.NaN()}); got != "0.500 0.612 NaN" {
		t.Errorf("RunsText: %q", got)
	}
	if m := Mean([]float64{1, 2, 6}); m != 3 {
		t.Errorf("Mean: %v", m)
	}
	// The tables and figures are built from plain data; they must not panic on a full result set.
	GridTable(c)
	TuningTable(res)
	CurvePanels(c, res)
}
