package advmdpexp

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/losslab/losslab/lib/verdict"
)

func TestGroupSlopes(t *testing.T) {
	Ks := []int{100, 400, 1600}
	// Group 1: regret = √K exactly; group 2: regret = K^(2/3) (two seeds each, averaging to that).
	var runs [][]float64
	for _, e := range []float64{0.5, 2.0 / 3} {
		for _, off := range []float64{-1, 1} {
			run := make([]float64, len(Ks))
			for i, K := range Ks {
				run[i] = math.Pow(float64(K), e) + off
			}
			runs = append(runs, run)
		}
	}
	s, err := GroupSlopes(Ks, runs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s[0]-0.5) > 1e-9 || math.Abs(s[1]-2.0/3) > 1e-9 {
		t.Errorf("slopes %v, want [0.5 0.667]", s)
	}
	if _, err := GroupSlopes(Ks, runs, 3); err == nil {
		t.Error("4 seeds into 3 groups: want an error")
	}
	runs[0][1], runs[1][1] = -50, -50
	if _, err := GroupSlopes(Ks, runs, 2); err == nil || !strings.Contains(err.Error(), "group 1") {
		t.Errorf("non-positive mean regret in group 1: got %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	if err := Default().Check(); err != nil {
		t.Fatal(err)
	}
	bad := Quick()
	bad.Groups = 2
	if err := bad.Check(); err == nil {
		t.Error("2 groups: want an error (fewer than MinRuns)")
	}
	bad = Quick()
	bad.Ks = []int{200, 100}
	if err := bad.Check(); err == nil {
		t.Error("decreasing horizons: want an error")
	}
	if _, err := Tuning("nope", 1); err == nil {
		t.Error("unknown family: want an error")
	}
}

func TestPipelineTiny(t *testing.T) {
	c := Config{Ks: []int{40, 80}, CGrid: []float64{3, 30}, TuneSeeds: 1, Groups: 3, GroupSeeds: 2}
	start := time.Now()
	tu, err := Tune(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tu.Chosen) != len(Families) {
		t.Fatalf("chosen %v", tu.Chosen)
	}
	for f, sc := range tu.Score {
		for i, v := range sc {
			if v < sc[indexOf(c.CGrid, tu.Chosen[f])] {
				t.Errorf("family %d: constant %v scores %v, below the chosen one", f, c.CGrid[i], v)
			}
		}
	}
	ev, err := Evaluate(c, tu.Chosen, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Regret[0]) != c.Groups*c.GroupSeeds {
		t.Fatalf("%d evaluation seeds, want %d", len(ev.Regret[0]), c.Groups*c.GroupSeeds)
	}
	// Evaluation seeds must not be the tuning seeds: the tuning sweep's regrets differ.
	if ev.Regret[0][0][0] == tu.Sweep.Regret[0][0][0] && ev.Regret[0][0][1] == tu.Sweep.Regret[0][0][1] {
		t.Error("evaluation seed 0 gave the tuning seed's regrets")
	}
	if _, err := Evaluate(c, tu.Chosen[:2], nil); err == nil {
		t.Error("2 constants for 4 families: want an error")
	}
	sanity, err := Sanity()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sanity {
		if !s.Holds {
			t.Errorf("sanity %q fails (%g)", s.Claim, s.Value)
		}
	}
	// Claims with fabricated slopes: √K growth is below 2/3, K growth is not.
	slopes := [][]float64{{0.5, 0.52, 0.48}, {0.5, 0.5, 0.5}, {0.7, 0.7, 0.7}, {1, 1.01, 0.99}}
	claims, err := Claims(c, slopes)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verdict.Decide("05-advmdp", claims...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Claims[0].Outcome != verdict.Reproduced || r.Claims[1].Outcome != verdict.NotReproduced {
		t.Errorf("outcomes %v / %v, want reproduced / not reproduced", r.Claims[0].Outcome, r.Claims[1].Outcome)
	}
	if _, err := verdict.Decide("05-advmdp", HedgeComparisons(c, slopes)...); err != nil {
		t.Fatal(err)
	}
	if len(HedgeComparisons(c, [][]float64{slopes[0], nil, slopes[2], slopes[3]})) != 1 {
		t.Error("a Hedge family without slopes must be left out")
	}
	if _, err := Claims(c, [][]float64{nil, slopes[1], slopes[2], slopes[3]}); err == nil {
		t.Error("no log-barrier slopes: want an error")
	}
	sl, errs, err := Slopes(c, ev)
	if err != nil || len(sl) != len(Families) || len(errs) != len(Families) {
		t.Fatalf("Slopes: %v", err)
	}
	if _, res, err := OneRun(60, 10); err != nil || len(res) != 3 {
		t.Fatalf("OneRun: %v", err)
	}
	t.Logf("tiny pipeline took %v", time.Since(start))
}

func indexOf(xs []float64, v float64) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return -1
}
