package swiss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// example is a small worked example: A:(90,50), B:(80,70), C:(70,80), D:(60,60).
var example = [][]float64{{90, 50}, {80, 70}, {70, 80}, {60, 60}}

func mustOutcomes(t *testing.T, R [][]float64) *Outcomes {
	t.Helper()
	o, err := NewOutcomes(R, OutcomeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mustTournament(t *testing.T, o *Outcomes, opts Options) *Tournament {
	t.Helper()
	tt, err := NewTournament(o, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func checkVec(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s: got %v, want %v", what, got, want)
			return
		}
	}
}

// handExpected enumerates the example by hand-written logic, independent of Exact: round 1 has three
// equally likely pairings; round 2 pairs within the score groups that result (two groups of two,
// so the pairing is forced).
func TestWorkedExampleExact(t *testing.T) {
	o := mustOutcomes(t, example)
	e, err := mustTournament(t, o, Options{}).Exact()
	if err != nil {
		t.Fatal(err)
	}
	checkVec(t, "T=(0,0)", e, []float64{1, 5.0 / 3, 4.0 / 3, 0}, 1e-12)
	e, _ = mustTournament(t, o, Options{Elimination: []int{1, 0}}).Exact()
	checkVec(t, "T=(1,0)", e, []float64{1, 4.0 / 3, 2.0 / 3, 0}, 1e-12)
	// Property 7: the reversed benchmark order gives (1, 4/3, 4/3, 1/3).
	e, _ = mustTournament(t, o.Reversed(), Options{}).Exact()
	checkVec(t, "reversed", e, []float64{1, 4.0 / 3, 4.0 / 3, 1.0 / 3}, 1e-12)
	// Baselines: B and C tie under Copeland (3, 4, 4, 1) and mean score (75 each).
	checkVec(t, "Copeland", Copeland(o), []float64{3, 4, 4, 1}, 0)
	checkVec(t, "mean", MeanScore(example), []float64{70, 75, 75, 60}, 1e-12)
}

func TestWorkedExampleMonteCarlo(t *testing.T) {
	o := mustOutcomes(t, example)
	N := 200000
	if testing.Short() {
		N = 40000
	}
	for _, c := range []struct {
		opts Options
		o    *Outcomes
		want []float64
	}{
		{Options{}, o, []float64{1, 5.0 / 3, 4.0 / 3, 0}},
		{Options{Elimination: []int{1, 0}}, o, []float64{1, 4.0 / 3, 2.0 / 3, 0}},
		{Options{}, o.Reversed(), []float64{1, 4.0 / 3, 4.0 / 3, 1.0 / 3}},
	} {
		e, err := mustTournament(t, c.o, c.opts).Expected(N, 1)
		if err != nil {
			t.Fatal(err)
		}
		for m := range c.want {
			if d := math.Abs(e.Mean[m] - c.want[m]); d > 4*e.SE[m]+1e-12 {
				t.Errorf("%+v model %d: MC %v ± %v, exact %v", c.opts, m, e.Mean[m], e.SE[m], c.want[m])
			}
		}
	}
}

func TestSingleRoundUniformOpponent(t *testing.T) {
	// Property 2: K = 1, even M, T = 0 ⇒ E[S_m] = (#models m beats)/(M − 1).
	o := mustOutcomes(t, [][]float64{{90}, {80}, {70}, {60}})
	e, _ := mustTournament(t, o, Options{}).Exact()
	checkVec(t, "exact", e, []float64{1, 2.0 / 3, 1.0 / 3, 0}, 1e-12)
	rng := rand.New(rand.NewPCG(1, 1))
	R := make([][]float64, 6)
	for m := range R {
		R[m] = []float64{rng.Float64()}
	}
	o = mustOutcomes(t, R)
	e, _ = mustTournament(t, o, Options{}).Exact()
	for m := range R {
		beats := 0.0
		for j := range R {
			if R[m][0] > R[j][0] {
				beats++
			}
		}
		if !near(e[m], beats/5, 1e-12) {
			t.Errorf("model %d: %v, want %v", m, e[m], beats/5)
		}
	}
}

func TestPointConservation(t *testing.T) {
	// Property 3: T = 0, no ties, even M, no byes ⇒ Σ S = K·M/2 in every run.
	tt := mustTournament(t, mustOutcomes(t, example), Options{})
	rng := rand.New(rand.NewPCG(2, 2))
	for range 1000 {
		tr := tt.PlayTrace(rng)
		sum := 0.0
		for _, v := range tr.Final {
			sum += v
		}
		if sum != 4 {
			t.Fatalf("Σ S = %v, want 4", sum)
		}
	}
	// In general every non-bye pairing without a tie hands out exactly one point.
	R, _, _ := Synthetic(1)
	tt = mustTournament(t, mustOutcomes(t, R), Options{})
	for range 200 {
		tr := tt.PlayTrace(rng)
		prev := make([]float64, len(R))
		for _, rd := range tr.Rounds {
			got := 0.0
			for m := range prev {
				got += rd.Scores[m] - prev[m]
			}
			if got != float64(len(rd.Pairs)) {
				t.Fatalf("round hands out %v points for %d pairs", got, len(rd.Pairs))
			}
			prev = rd.Scores
		}
	}
}

func TestDominantModels(t *testing.T) {
	// Property 4. A model that loses to all always scores 0 (byes are worth 0, too). A model that
	// beats all scores K in every run only when it never gets a bye: with Bye0 that holds when 2^K
	// divides M (here M = 8, K = 3); with FloatDown and even M a lone leader floats down and plays
	// (and beats) someone instead.
	R := [][]float64{{1, 1, 1}, {0.5, 0.2, 0.9}, {0.3, 0.6, 0.4}, {0, 0, 0}, {0.4, 0.5, 0.1}}
	rng := rand.New(rand.NewPCG(3, 3))
	o := mustOutcomes(t, R)
	for _, odd := range []OddPolicy{Bye0, FloatDown} {
		tt := mustTournament(t, o, Options{Odd: odd, Elimination: []int{1, 1, 0}})
		for range 2000 {
			s := tt.Play(rng)
			if s[3] != 0 {
				t.Fatalf("%v: loser scored %v", odd, s[3])
			}
		}
	}
	R8 := [][]float64{{1, 1, 1}, {0.5, 0.2, 0.9}, {0.3, 0.6, 0.4}, {0, 0, 0}, {0.4, 0.5, 0.1},
		{0.45, 0.1, 0.2}, {0.2, 0.3, 0.3}, {0.1, 0.4, 0.6}}
	tt := mustTournament(t, mustOutcomes(t, R8), Options{})
	for range 2000 {
		if s := tt.Play(rng); s[0] != 3 || s[3] != 0 {
			t.Fatalf("M = 8: scores %v", s)
		}
	}
	// Counter-example to the unconditional claim: M = 4, K = 3 with Bye0. After two rounds the leader
	// is alone with 2 points and gets a zero bye in round 3, in every run. With FloatDown it floats
	// down, plays and scores 3.
	o4 := mustOutcomes(t, [][]float64{{1, 1, 1}, {0.5, 0.2, 0.9}, {0.3, 0.6, 0.4}, {0, 0, 0}})
	ex, _ := mustTournament(t, o4, Options{}).Exact()
	if ex[0] != 2 || ex[3] != 0 {
		t.Errorf("M = 4, K = 3, Bye0: exact %v, want leader 2", ex)
	}
	ex, _ = mustTournament(t, o4, Options{Odd: FloatDown}).Exact()
	if ex[0] != 3 || ex[3] != 0 {
		t.Errorf("M = 4, K = 3, FloatDown: exact %v, want leader 3", ex)
	}
}

func TestOrderOnlyDependence(t *testing.T) {
	// Property 5: strictly increasing transforms of a column leave W and all results unchanged.
	R, _, _ := Synthetic(2)
	T := make([][]float64, len(R))
	for m := range R {
		T[m] = append([]float64(nil), R[m]...)
		T[m][0] = math.Log(T[m][0])
		T[m][1] = 3*T[m][1] + 7
		T[m][5] = T[m][5] * T[m][5] * T[m][5]
	}
	a, _ := mustTournament(t, mustOutcomes(t, R), Options{Elimination: ConstantSchedule(6, 1)}).Expected(3000, 9)
	b, _ := mustTournament(t, mustOutcomes(t, T), Options{Elimination: ConstantSchedule(6, 1)}).Expected(3000, 9)
	checkVec(t, "transformed", b.Mean, a.Mean, 0)
}

func TestEquivariance(t *testing.T) {
	// Property 6: relabelling the models permutes the expected scores (exact, by enumeration), and
	// Monte Carlo agrees within its standard errors.
	R := [][]float64{{5, 1, 3}, {4, 6, 2}, {3, 2, 6}, {1, 5, 4}, {2, 3, 5}, {6, 4, 1}}
	o := mustOutcomes(t, R)
	perm := []int{3, 0, 5, 1, 4, 2}
	po, err := o.Permuted(perm)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {Elimination: []int{1, 1, 0}}, {Odd: FloatDown, Elimination: []int{1, 0, 1}}} {
		a, err := mustTournament(t, o, opts).Exact()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := mustTournament(t, po, opts).Exact()
		for m := range a {
			if !near(b[perm[m]], a[m], 1e-12) {
				t.Fatalf("%+v: model %d exact %v, permuted %v", opts, m, a[m], b[perm[m]])
			}
		}
		mc, _ := mustTournament(t, po, opts).Expected(40000, 5)
		for m := range a {
			if d := math.Abs(mc.Mean[perm[m]] - a[m]); d > 4.5*mc.SE[perm[m]]+1e-12 {
				t.Errorf("%+v: model %d MC %v ± %v, exact %v", opts, m, mc.Mean[perm[m]], mc.SE[perm[m]], a[m])
			}
		}
	}
	if _, err := o.Permuted([]int{0, 0, 1, 2, 3, 4}); err == nil {
		t.Error("non-permutation accepted")
	}
}

func TestReproducibleAndSEShrinks(t *testing.T) {
	// Property 8.
	R, _, _ := Synthetic(3)
	tt := mustTournament(t, mustOutcomes(t, R), Options{Elimination: ConstantSchedule(6, 2)})
	a, _ := tt.Expected(1000, 4)
	b, _ := tt.Expected(1000, 4)
	checkVec(t, "same seed", b.Mean, a.Mean, 0)
	c, _ := tt.Expected(1000, 5)
	same := true
	for m := range c.Mean {
		same = same && c.Mean[m] == a.Mean[m]
	}
	if same {
		t.Error("different seeds gave identical estimates")
	}
	big, _ := tt.Expected(100000, 4)
	for m := range a.SE {
		if a.SE[m] == 0 {
			continue
		}
		if r := a.SE[m] / big.SE[m]; r < 8 || r > 12.5 {
			t.Errorf("model %d: SE(10³)/SE(10⁵) = %v, want ≈ 10", m, r)
		}
	}
}

func TestByes(t *testing.T) {
	// Property 9: M odd, T = 0: exactly one model per odd score group gets a zero bye and Σ S falls
	// by one point per bye.
	R := [][]float64{{5, 1, 3}, {4, 6, 2}, {3, 2, 6}, {1, 5, 4}, {2, 3, 5}}
	o := mustOutcomes(t, R)
	tt := mustTournament(t, o, Options{})
	rng := rand.New(rand.NewPCG(6, 6))
	for range 2000 {
		tr := tt.PlayTrace(rng)
		prev := make([]float64, len(R))
		for k, rd := range tr.Rounds {
			odd := 0
			counts := map[float64]int{}
			for _, v := range prev {
				counts[v]++
			}
			for _, c := range counts {
				odd += c % 2
			}
			if len(rd.Byes) != odd {
				t.Fatalf("round %d: %d byes for %d odd groups", k, len(rd.Byes), odd)
			}
			got := 0.0
			for m := range prev {
				got += rd.Scores[m] - prev[m]
			}
			if got != float64(len(R)-len(rd.Byes))/2 {
				t.Fatalf("round %d: %v points with %d byes", k, got, len(rd.Byes))
			}
			for _, m := range rd.Byes {
				if rd.Scores[m] != prev[m] {
					t.Fatalf("bye model %d gained %v", m, rd.Scores[m]-prev[m])
				}
			}
			prev = rd.Scores
		}
	}
}

func TestPairingRules(t *testing.T) {
	R, _, _ := Synthetic(4)
	o := mustOutcomes(t, R)
	rng := rand.New(rand.NewPCG(7, 7))
	for _, odd := range []OddPolicy{Bye0, FloatDown} {
		tt := mustTournament(t, o, Options{Odd: odd, Elimination: ConstantSchedule(6, 2)})
		floats := 0
		for range 500 {
			tr := tt.PlayTrace(rng)
			prev := make([]float64, o.M)
			active := make([]bool, o.M)
			for i := range active {
				active[i] = true
			}
			for k, rd := range tr.Rounds {
				seen := make([]int, o.M)
				for _, p := range rd.Pairs {
					seen[p[0]]++
					seen[p[1]]++
					if p[0] == p[1] {
						t.Fatal("a model paired with itself")
					}
					if prev[p[0]] != prev[p[1]] {
						if odd == Bye0 {
							t.Fatalf("round %d: pair %v across score groups (%v vs %v)", k, p, prev[p[0]], prev[p[1]])
						}
						floats++
					}
				}
				for _, m := range rd.Byes {
					seen[m]++
				}
				for m := range seen {
					want := 0
					if active[m] {
						want = 1
					}
					if seen[m] != want {
						t.Fatalf("round %d: model %d (active %v) appears %d times", k, m, active[m], seen[m])
					}
				}
				// Elimination takes T_k = 2 from the lowest group(s) of the active models.
				if len(rd.Eliminated) != 2 {
					t.Fatalf("round %d: eliminated %v", k, rd.Eliminated)
				}
				// Lowest first: no eliminated model scores more than any surviving active model.
				maxOut, minIn := math.Inf(-1), math.Inf(1)
				for m := range active {
					switch {
					case contains(rd.Eliminated, m):
						maxOut = math.Max(maxOut, rd.Scores[m])
					case active[m]:
						minIn = math.Min(minIn, rd.Scores[m])
					}
				}
				if maxOut > minIn {
					t.Fatalf("round %d: eliminated a model with %v while one with %v survives", k, maxOut, minIn)
				}
				for _, m := range rd.Eliminated {
					if !active[m] {
						t.Fatalf("round %d: model %d eliminated twice", k, m)
					}
					active[m] = false
				}
				for m := range active { // inactive models keep their score
					if !active[m] && rd.Scores[m] != prev[m] && !contains(rd.Eliminated, m) {
						t.Fatalf("eliminated model %d changed score", m)
					}
				}
				prev = rd.Scores
			}
		}
		if odd == FloatDown && floats == 0 {
			t.Error("FloatDown never paired across groups")
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestEliminationOverflowsLowestGroup(t *testing.T) {
	// Example, T_1 = 2: after round 1 exactly two models have 0 points; both go, never a winner.
	tt := mustTournament(t, mustOutcomes(t, example), Options{Elimination: []int{2, 0}})
	rng := rand.New(rand.NewPCG(8, 8))
	for range 200 {
		tr := tt.PlayTrace(rng)
		for _, m := range tr.Rounds[0].Eliminated {
			if tr.Rounds[0].Scores[m] != 0 {
				t.Fatalf("eliminated a winner: %+v", tr.Rounds[0])
			}
		}
	}
	// Six models, two rounds: after round 1 three have 0 points; T_1 = 4 removes them and one
	// 1-point model.
	R := [][]float64{{6, 6}, {5, 5}, {4, 4}, {3, 3}, {2, 2}, {1, 1}}
	tt = mustTournament(t, mustOutcomes(t, R), Options{Elimination: []int{4, 0}})
	for range 200 {
		tr := tt.PlayTrace(rng)
		zeros, ones := 0, 0
		for _, m := range tr.Rounds[0].Eliminated {
			switch tr.Rounds[0].Scores[m] {
			case 0:
				zeros++
			case 1:
				ones++
			}
		}
		if zeros != 3 || ones != 1 {
			t.Fatalf("eliminated %d zero- and %d one-point models", zeros, ones)
		}
	}
}

func TestExactMatchesMonteCarloWithFloatDownAndTies(t *testing.T) {
	R := [][]float64{{5, 1, 3}, {4, 6, 3}, {3, 2, 6}, {1, 5, 4}, {2, 2, 5}}
	for _, oo := range []OutcomeOptions{{}, {Ties: TieHalf}, {Ties: TieHalf, Tolerance: 1}} {
		o, err := NewOutcomes(R, oo)
		if err != nil {
			t.Fatal(err)
		}
		for _, opts := range []Options{{Odd: FloatDown}, {Odd: FloatDown, Elimination: []int{1, 1, 0}}, {Elimination: []int{2, 0, 1}}} {
			tt := mustTournament(t, o, opts)
			ex, err := tt.Exact()
			if err != nil {
				t.Fatal(err)
			}
			mc, _ := tt.Expected(40000, 10)
			for m := range ex {
				if d := math.Abs(mc.Mean[m] - ex[m]); d > 4.5*mc.SE[m]+1e-12 {
					t.Errorf("%+v %+v model %d: MC %v ± %v, exact %v", oo, opts, m, mc.Mean[m], mc.SE[m], ex[m])
				}
			}
		}
	}
}

func TestOutcomes(t *testing.T) {
	R := [][]float64{{1, 0.5}, {1, 0.7}, {0.2, 0.69}}
	o := mustOutcomes(t, R)
	if o.Points[0][0][1] != 0 || o.Points[0][1][0] != 0 || !o.Beats(0, 2, 0) || o.Beats(2, 0, 0) {
		t.Errorf("strict ties: %v", o.Points[0])
	}
	h, _ := NewOutcomes(R, OutcomeOptions{Ties: TieHalf, Tolerance: 0.05})
	if h.Points[0][0][1] != 0.5 || h.Points[1][1][2] != 0.5 || h.Points[1][0][1] != 0 || h.Points[1][1][0] != 1 {
		t.Errorf("half ties with tolerance: %v", h.Points)
	}
	if _, err := NewOutcomes([][]float64{{1}}, OutcomeOptions{}); err == nil {
		t.Error("one model accepted")
	}
	if _, err := NewOutcomes([][]float64{{1, 2}, {1}}, OutcomeOptions{}); err == nil {
		t.Error("ragged matrix accepted")
	}
	if _, err := NewOutcomes([][]float64{{1}, {math.NaN()}}, OutcomeOptions{}); err == nil {
		t.Error("NaN accepted")
	}
}

func TestOptionsValidation(t *testing.T) {
	o := mustOutcomes(t, example)
	for _, opts := range []Options{{Elimination: []int{1}}, {Elimination: []int{-1, 0}}, {Elimination: []int{2, 1}}, {Odd: 9}} {
		if _, err := NewTournament(o, opts); err == nil {
			t.Errorf("%+v accepted", opts)
		}
	}
	if _, err := mustTournament(t, o, Options{}).Expected(0, 1); err == nil {
		t.Error("N = 0 accepted")
	}
	if MaxConstantT(16, 6) != 2 || MaxConstantT(4, 2) != 1 {
		t.Error("MaxConstantT")
	}
}

func TestRanksAndBaselines(t *testing.T) {
	checkVec(t, "ranks", Ranks([]float64{3, 1, 3, 2}), []float64{1.5, 4, 1.5, 3}, 0)
	// Rank average: model 0 ranks (1, 3), model 1 (2, 1), model 2 (3, 2).
	checkVec(t, "rank average", RankAverage([][]float64{{9, 1}, {5, 8}, {2, 4}}), []float64{2, 1.5, 2.5}, 1e-15)
	if s := EarlySchedule(5, 2, 2); s[0] != 2 || s[1] != 2 || s[2] != 0 || len(s) != 5 {
		t.Errorf("EarlySchedule %v", s)
	}
}

func TestFailureProfile(t *testing.T) {
	o := mustOutcomes(t, example)
	p, err := FailureProfile(o, Bye0, []int{0, 1}, 50000, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Constant T = 1 on K = 2 (Σ T = 2 = M − 2). Exact values from enumeration.
	ex1, _ := mustTournament(t, o, Options{Elimination: []int{1, 1}}).Exact()
	for m := range ex1 {
		if d := math.Abs(p.Est[1].Mean[m] - ex1[m]); d > 4.5*p.Est[1].SE[m]+1e-12 {
			t.Errorf("model %d: %v vs exact %v", m, p.Est[1].Mean[m], ex1[m])
		}
	}
	d, rd := p.Drop(1), p.RelDrop(1)
	for m := range d {
		if !near(d[m], p.Est[0].Mean[m]-p.Est[1].Mean[m], 1e-15) {
			t.Error("Drop")
		}
		if p.Est[0].Mean[m] == 0 && !math.IsNaN(rd[m]) {
			t.Error("RelDrop of a zero base should be NaN")
		}
	}
	sc := p.Scores()
	if len(sc) != 4 || len(sc[0]) != 2 || sc[2][1] != p.Est[1].Mean[2] {
		t.Error("Scores layout")
	}
	if _, err := FailureProfile(o, Bye0, []int{2}, 10, 1); err == nil {
		t.Error("T beyond (M−2)/K accepted")
	}
}

func TestSyntheticSpecialistsHurtMost(t *testing.T) {
	// The qualitative claim on the synthetic matrix: the late specialist L15 loses most of its
	// expected score under elimination, the early specialists keep theirs.
	R, names, kinds := Synthetic(1)
	if len(R) != 16 || len(R[0]) != 6 || names[15] != "L15" || kinds[12] != EarlySpecialist {
		t.Fatalf("synthetic layout: %v %v", names, kinds)
	}
	p, err := FailureProfile(mustOutcomes(t, R), Bye0, []int{0, 2}, 4000, 1)
	if err != nil {
		t.Fatal(err)
	}
	rd := p.RelDrop(1)
	if !(rd[15] > 0.8) {
		t.Errorf("late specialist relative drop %v", rd[15])
	}
	if !(math.Abs(rd[12]) < 0.1 && math.Abs(rd[13]) < 0.1) {
		t.Errorf("early specialists' relative drops %v, %v", rd[12], rd[13])
	}
}
