package zlossexp

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// tiny is the experiment at test sizes: three arms with grids of two points, three runs.
func tiny() Config {
	return Config{NTrain: 256, NVal: 128, NTest: 128, Classes: 6, Dim: 4, Radius: 3, Spread: 1, DataSeed: 5, Hidden: 8,
		Epochs: 2, Batch: 32, Runs: 3, TuneSeed: 100, MaxK: 3, SelectK: []int{1, 2},
		Arms: []Arm{
			{Name: "CE", Objective: "ce", Grid: LRGrid(1e-3, 1e-2)},
			{Name: "MSE", Objective: "mse", Grid: LRGrid(1e-3, 1e-2)},
			{Name: "Z", Objective: "z-loss", Grid: ABGrid(1e-2, []float64{1}, []float64{0, 1})},
		}}
}

func TestTopKErrorsByHand(t *testing.T) {
	logits := []float32{
		3, 2, 1, // label 0: rank 0
		3, 2, 1, // label 2: two classes above
		1, 1, 0, // label 1: tie with class 0, nothing strictly above
		0, 5, 4, // label 2: one above
	}
	got, err := TopKErrors(logits, []int32{0, 2, 1, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.5, 0.25, 0}; !slices.Equal(got, want) {
		t.Fatalf("top-k errors %v, want %v", got, want)
	}
	for _, bad := range []struct {
		logits []float32
		y      []int32
		k      int
	}{{logits[:5], []int32{0, 1}, 1}, {logits[:6], []int32{0, 1}, 4}, {logits[:6], []int32{0, 3}, 1}, {nil, nil, 1}} {
		if _, err := TopKErrors(bad.logits, bad.y, bad.k); err == nil {
			t.Errorf("TopKErrors(%v, %v, %d): no error", bad.logits, bad.y, bad.k)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := tiny().Check(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []Config{Default(), Quick()} {
		if err := q.Check(); err != nil {
			t.Fatal(err)
		}
	}
	c := tiny()
	c.Arms[2].Grid = c.Arms[2].Grid[:1]
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "same tuning budget") {
		t.Fatalf("unequal grids: got %v", err)
	}
	c = tiny()
	c.SelectK = []int{4}
	if err := c.Check(); err == nil {
		t.Fatal("selection on top-4 with MaxK 3 passed Check")
	}
	c = tiny()
	c.Arms[0].Objective = "no-such-loss"
	if err := c.Check(); err == nil {
		t.Fatal("an unknown objective passed Check")
	}
}

func TestGrids(t *testing.T) {
	g := LogLRs(1e-4, 1e-1, 4)
	if len(g) != 4 || math.Abs(g[1].LR-1e-3) > 1e-12 || math.Abs(g[3].LR-0.1) > 1e-12 {
		t.Fatalf("LogLRs %v", g)
	}
	if g := LogLRs(1e-4, 1e-1, 8); g[4].String() != "lr=0.0052" {
		t.Fatalf("LogLRs(1e-4, 1e-1, 8)[4] = %v, want lr=0.0052 (two significant digits)", g[4])
	}
	ab := ABGrid(1e-3, []float64{1, 5}, []float64{0, 3.5})
	if len(ab) != 4 || ab[3].String() != "lr=0.001 a=5 b=3.5" {
		t.Fatalf("ABGrid %v", ab)
	}
	d, q := Default(), Quick()
	if q.Classes != d.Classes || q.Dim != d.Dim || len(q.Arms[0].Grid) != 2 || q.Arms[2].Grid[1].String() != d.Arms[2].Grid[4].String() {
		t.Fatalf("Quick is not Default's task with every fourth grid point: %+v", q)
	}
}

func TestInvariance(t *testing.T) {
	z, err := Invariance("z-loss", nil, 10, 8, 5, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ce, err := Invariance("ce", nil, 10, 8, 5, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	shift, err := Invariance("ce", nil, 10, 8, 1, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if z > 1e-5 || ce < 0.1 || shift > 1e-5 {
		t.Fatalf("max change under 5o+10: z-loss %g (want ≈0), ce %g (want > 0.1); ce under o+10: %g (want ≈0)", z, ce, shift)
	}
	if _, err := Invariance("z-loss", nil, 1, 8, 5, 10, 1); err == nil {
		t.Fatal("one class: no error")
	}
}

func TestRun(t *testing.T) {
	c := tiny()
	var calls int
	res, err := Run(c, func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, a := range res {
		want += len(a.Val)
		var points []int
		for _, s := range a.Selections {
			if !slices.Contains(points, s.Best) {
				points = append(points, s.Best)
				want += c.Runs
			}
		}
	}
	if calls != want || want > c.RunsAtMost() {
		t.Errorf("%d progress calls, want %d (one per training run; at most %d)", calls, want, c.RunsAtMost())
	}
	if len(res) != 3 || res[2].Arm != "Z" {
		t.Fatalf("arms %v", res)
	}
	for _, a := range res {
		if len(a.Val) != 2 || len(a.Selections) != 2 {
			t.Fatalf("%s: %d tuning points, %d selections", a.Arm, len(a.Val), len(a.Selections))
		}
		for si, s := range a.Selections {
			if s.K != c.SelectK[si] || len(s.Test) != c.Runs {
				t.Fatalf("%s selection %d: k %d, %d runs", a.Arm, si, s.K, len(s.Test))
			}
			for i, v := range a.Val {
				if v[s.K-1] < a.Val[s.Best][s.K-1] || (i < s.Best && v[s.K-1] == a.Val[s.Best][s.K-1]) {
					t.Errorf("%s: chose point %d on top-%d of %v", a.Arm, s.Best, s.K, a.Val)
				}
			}
			for _, run := range s.Test {
				if len(run) != c.MaxK || run[0] > 1 || run[c.MaxK-1] < 0 {
					t.Errorf("%s: top-k errors %v not in [0, 1] and non-increasing", a.Arm, run)
				}
				if !sortedDown(run) {
					t.Errorf("%s: top-k errors %v increase with k", a.Arm, run)
				}
			}
			e := a.TestErr(s.K, 1)
			if len(e) != c.Runs || (e[0] == e[1] && e[1] == e[2] && slices.Equal(s.Test[0], s.Test[1])) {
				t.Errorf("%s: test errors %v: the runs are identical, not independent", a.Arm, s.Test)
			}
		}
		if a.TestErr(3, 1) != nil || a.TestErr(1, 4) != nil || a.Selected(2) == nil || a.Selected(3) != nil {
			t.Errorf("%s: TestErr or Selected accept an unknown selection or k", a.Arm)
		}
	}
}

// sortedDown reports whether v is non-increasing.
func sortedDown(v []float64) bool {
	for i := 1; i < len(v); i++ {
		if v[i] > v[i-1] {
			return false
		}
	}
	return true
}
