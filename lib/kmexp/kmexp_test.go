package kmexp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/losses"
)

func TestWLS(t *testing.T) {
	// y = 2x₀ − x₁ + 3 exactly on the rows with weight > 0; the zero-weight row is an outlier.
	x := [][]float64{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 3}, {5, 5}}
	y := []float64{3, 5, 2, 4, 4, 1000}
	w := []float64{1, 2, 0.5, 1, 3, 0}
	th, err := WLS(Design(x), y, w)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{2, -1, 3} {
		if math.Abs(th[i]-want) > 1e-8 {
			t.Errorf("θ = %v, want (2, −1, 3)", th)
		}
	}
	if _, err := WLS(Design(x), y, []float64{1, 0, 0, 0, 0, 0}); err == nil || !strings.Contains(err.Error(), "singular") {
		t.Errorf("one weighted row: %v", err)
	}
	if _, err := WLS(Design(x), y[:2], w); err == nil {
		t.Errorf("mismatched lengths accepted")
	}
}

// TestRunSmall checks the records of a small run: every arm where it belongs, the naive choice and the
// tuned hyperparameters made on the validation MSE.
func TestRunSmall(t *testing.T) {
	c := Quick()
	c.NTrain, c.NVal, c.NTest = 120, 100, 100
	c.Settings = []Setting{{"indep. 40%", 0.4, 0}, {"X-dependent 40%", 0.4, 2}}
	recs, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range c.Settings {
		for _, arm := range Arms {
			n := len(Values(recs, st.Name, arm, TestMSE))
			want := c.Seeds
			if arm == Beran && st.Dep == 0 {
				want = 0
			}
			if n != want {
				t.Errorf("%s, %s: %d records, want %d", st.Name, arm, n, want)
			}
		}
		nv, uv, bv := Values(recs, st.Name, Naive, TestMSE), Values(recs, st.Name, Uncensored, TestMSE), Values(recs, st.Name, BetterNaive, TestMSE)
		nval, uval := Values(recs, st.Name, Naive, func(r Record) float64 { return r.ValMSE }), Values(recs, st.Name, Uncensored, func(r Record) float64 { return r.ValMSE })
		for i := range bv {
			want := nv[i]
			if uval[i] < nval[i] {
				want = uv[i]
			}
			if bv[i] != want {
				t.Errorf("%s seed %d: better naive %g, want %g", st.Name, i, bv[i], want)
			}
		}
	}
	// The KM arm of seed 1, X-dependent: its g_min has the smallest validation MSE of the grid.
	st := c.Settings[1]
	full, cens, val, _, err := c.Draws(1, st)
	if err != nil {
		t.Fatal(err)
	}
	_ = full
	tt, e, x := Observed(cens)
	va, vy := truth(val)
	best, bestG := math.Inf(1), 0.0
	for _, g := range c.GMins {
		w, err := losses.KaplanMeierWeights(tt, e, g)
		if err != nil {
			t.Fatal(err)
		}
		th, err := WLS(Design(x), tt, w)
		if err != nil {
			t.Fatal(err)
		}
		if m := MSE(Predict(th, va), vy); m < best {
			best, bestG = m, g
		}
	}
	if got := Values(recs, st.Name, KM, Param)[1]; got != bestG || !slices.Contains(c.GMins, got) {
		t.Errorf("KM's g_min for seed 1: %g, want %g", got, bestG)
	}
	bad := c
	bad.Seeds = 2
	if _, err := Run(bad, nil); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Errorf("2 seeds: %v", err)
	}
}

func TestAtEdge(t *testing.T) {
	recs := []Record{{Arm: KM, Param: 0.01}, {Arm: KM, Param: 0.05}, {Arm: KM, Param: 0.2}, {Arm: Beran, Param: 0.2}}
	if e, n := AtEdge(recs, KM, []float64{0.05, 0.01, 0.2}); e != 2 || n != 3 {
		t.Errorf("AtEdge: %d of %d, want 2 of 3", e, n)
	}
}
