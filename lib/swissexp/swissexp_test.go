package swissexp

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/swiss"
)

func TestExperimentSmall(t *testing.T) {
	c := Config{Seeds: []uint64{1, 2, 3}, N: 300, Policies: []swiss.OddPolicy{swiss.Bye0, swiss.FloatDown}}
	r, err := Experiment(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Runs) != 3 || len(r.Runs[0].Profiles) != 2 || len(r.Names) != 16 {
		t.Fatalf("result shape: %d runs, %d profiles, %d names", len(r.Runs), len(r.Runs[0].Profiles), len(r.Names))
	}
	for p := range r.Policies {
		d, err := r.Drops(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range d.LateMin {
			for _, v := range []float64{d.MedianGeneralist[i], d.LateMin[i], d.EarlyMax[i], d.StrongMax[i]} {
				if math.IsNaN(v) || v < -1 || v > 1.0000001 {
					t.Errorf("policy %d run %d: drop %g outside [-1, 1]", p, i, v)
				}
			}
		}
	}
	if _, err := r.Drops(2); err == nil {
		t.Errorf("policy index 2 accepted")
	}
	if _, err := Experiment(Config{Seeds: []uint64{1, 2}, N: 10, Policies: c.Policies}, nil); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Errorf("two seeds: %v", err)
	}
}

// TestDropsUndefined builds a profile by hand: a late specialist with Ŝ(0) = 0 counts as no drop, an
// early specialist with Ŝ(0) = 0 as a full drop, and the median and the two strongest generalists are
// read from the base scores.
func TestDropsUndefined(t *testing.T) {
	kinds := []string{swiss.Generalist, swiss.Generalist, swiss.Generalist, swiss.Generalist,
		swiss.EarlySpecialist, swiss.LateSpecialist, swiss.LateSpecialist}
	base := []float64{1, 2, 4, 3, 0, 0, 2}
	after := []float64{0.5, 1.5, 4, 2.7, 0, 0, 0.5} // drops 0.5, 0.25, 0, 0.1; late: undefined, 0.75
	prof := &swiss.Profile{Ts: []int{0, 1}, Est: []*swiss.Estimate{{Mean: base}, {Mean: after}}}
	r := Result{Kinds: kinds, Policies: []swiss.OddPolicy{swiss.Bye0}, Runs: []Run{{Profiles: []*swiss.Profile{prof}}}}
	d, err := r.Drops(0)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(d.MedianGeneralist[0], (0.25+0.1)/2) || d.LateMin[0] != 0 || d.EarlyMax[0] != 1 || !near(d.StrongMax[0], 0.1) {
		t.Errorf("drops %+v", d)
	}
}

func TestWorkedExample(t *testing.T) {
	rows, err := WorkedExample(4000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if g := MaxHandGap(rows); g > 1e-12 {
		t.Errorf("enumeration differs from the hand-derived values by %g", g)
	}
	for _, r := range rows {
		if r.MaxZ > 5 {
			t.Errorf("%s: Monte Carlo %v is %g SE from exact %v", r.Setting, r.MC, r.MaxZ, r.Exact)
		}
	}
}
