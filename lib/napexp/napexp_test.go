package napexp

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/verdict"
)

func tiny() Config {
	return Config{Images: 40, Tasks: 4, StepsPerTask: 15, Batch: 10, Hidden: []int{8, 8}, LRs: []float64{1e-3, 1e-2},
		Runs: 3, LogEvery: 5}
}

func pool(t *testing.T, n int) *data.Set {
	t.Helper()
	s, err := data.Blobs(data.BlobsConfig{N: n, Classes: 3, Dim: 6, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRun(t *testing.T) {
	cfg := tiny()
	calls := 0
	res, err := Run(pool(t, cfg.PoolSize()), cfg, func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(Arms)*len(cfg.LRs) + len(Arms)*cfg.Runs) * cfg.Tasks; calls != want {
		t.Errorf("progress called %d times, want %d", calls, want)
	}
	for i, tu := range res.Tuning {
		best := tu.Scores[0]
		for _, s := range tu.Scores {
			best = math.Max(best, s)
		}
		k := -1
		for j, lr := range tu.LRs {
			if lr == tu.Chosen {
				k = j
			}
		}
		if tu.Arm != Arms[i].Name || k < 0 || tu.Scores[k] != best {
			t.Errorf("tuning %+v: chosen lr is not the best validation score", tu)
		}
	}
	if len(res.Runs) != cfg.Runs {
		t.Fatalf("%d runs, want %d", len(res.Runs), cfg.Runs)
	}
	for _, name := range []string{"plain", "layernorm", "NaP"} {
		runs := res.Arm(name)
		if len(runs) != cfg.Runs {
			t.Fatalf("%s: %d runs", name, len(runs))
		}
		// Independent runs: different initialisations (first logged norms) and labels.
		if runs[0].Norms[0][0] == runs[1].Norms[0][0] || runs[1].Norms[0][0] == runs[2].Norms[0][0] {
			t.Errorf("%s: runs share their initialisation: %v %v %v", name, runs[0].Norms[0], runs[1].Norms[0], runs[2].Norms[0])
		}
		for _, a := range runs {
			if len(a.Accuracy) != cfg.Tasks || a.LoggedSteps[len(a.LoggedSteps)-1] != cfg.Tasks*cfg.StepsPerTask {
				t.Errorf("%s: %d accuracies, last logged step %d", name, len(a.Accuracy), a.LoggedSteps[len(a.LoggedSteps)-1])
			}
		}
	}
	// NaP projects: its norms stay at their initial values; layernorm's only grow (Adam, no decay).
	for _, a := range res.Arm("NaP") {
		if r := a.ELRRatio(0); math.Abs(r-1) > 1e-5 {
			t.Errorf("NaP's ‖W₁‖ moved: ratio %v", r)
		}
	}
	for _, a := range res.Arm("layernorm") {
		if r := a.ELRRatio(0); !(r < 1) {
			t.Errorf("layernorm's ‖W₁‖ did not grow: ELR ratio %v", r)
		}
	}
	claims := res.Claims()
	if len(claims) != 3 {
		t.Fatalf("%d claims", len(claims))
	}
	if _, err := verdict.Decide("08-nap", claims...); err != nil {
		t.Error(err)
	}
}

func TestRunErrors(t *testing.T) {
	cfg := tiny()
	if _, err := Run(pool(t, cfg.PoolSize()-1), cfg, nil); err == nil || !strings.Contains(err.Error(), "pool") {
		t.Errorf("small pool: %v", err)
	}
	bad := cfg
	bad.LRs = nil
	if _, err := Run(pool(t, cfg.PoolSize()), bad, nil); err == nil {
		t.Error("empty grid accepted")
	}
	bad = cfg
	bad.Batch = cfg.Images + 1
	if _, err := Run(pool(t, cfg.PoolSize()), bad, nil); err == nil {
		t.Error("batch larger than a block accepted")
	}
}

// fake builds a result whose arms have the given accuracy sequences (same for every run, with a small
// run-dependent offset).
func fake(acc map[string][]float64) *Result {
	r := &Result{Config: Config{Tasks: 4}}
	for _, a := range Arms {
		r.Tuning = append(r.Tuning, Tuning{Arm: a.Name, Chosen: 1e-3})
	}
	for k := range 3 {
		var row []ArmRun
		for _, a := range Arms {
			v := make([]float64, len(acc[a.Name]))
			for i, x := range acc[a.Name] {
				v[i] = x + 0.001*float64(k*i)
			}
			n := 1.0
			if !a.Project {
				n = 1.5 + 0.1*float64(k)
			}
			row = append(row, ArmRun{Arm: a.Name, Accuracy: v, Norms: [][]float64{{1}, {n}}})
		}
		r.Runs = append(r.Runs, row)
	}
	return r
}

func TestClaims(t *testing.T) {
	if got := Score([]float64{1, 0.9, 0.4, 0.2}); math.Abs(got-0.3) > 1e-12 {
		t.Errorf("Score = %v, want 0.3", got)
	}
	// layernorm loses plasticity (drop 0.6), plain does not (drop 0.05 < MinDrop).
	r := fake(map[string][]float64{
		"plain":     {0.5, 0.5, 0.45, 0.45},
		"layernorm": {0.9, 0.7, 0.3, 0.3},
		"NaP":       {0.9, 0.9, 0.8, 0.8},
	})
	c := r.Claims()
	if c[0].Untestable != "" || c[1].Untestable == "" || !strings.Contains(c[1].Untestable, "plain") {
		t.Errorf("testability: layernorm %q, plain %q", c[0].Untestable, c[1].Untestable)
	}
	rep, err := verdict.Decide("08-nap", c...)
	if err != nil {
		t.Fatal(err)
	}
	want := []verdict.Outcome{verdict.Reproduced, verdict.NotTestable, verdict.Reproduced}
	for i, cl := range rep.Claims {
		if cl.Outcome != want[i] {
			t.Errorf("claim %d: %s, want %s", i+1, cl.Outcome, want[i])
		}
	}
	if math.Abs(c[0].Method[0]-0.8) > 1e-9 || math.Abs(c[0].Baseline[0]-0.3) > 1e-9 {
		t.Errorf("claim 1 compares %v with %v", c[0].Method, c[0].Baseline)
	}
}

func TestScheduleCheck(t *testing.T) {
	set := pool(t, 64)
	exact, err := ScheduleCheck(set, []int{8, 8}, 60, 16, 0.5, -1, 3)
	if err != nil {
		t.Fatal(err)
	}
	sched, cons := exact.Gaps(0)
	if sched > 1e-4 || !(cons > 10*sched) || exact.FirstApart(1e-4) != 0 {
		t.Errorf("ε = 0: schedule gap %v, constant gap %v", sched, cons)
	}
	if c := exact.Claim(); !c.Holds || c.Kind != verdict.Sanity {
		t.Errorf("check does not hold: %+v", c)
	}
	if s := exact.Schedule(0); s[0] != 0.5 || !(s[len(s)-1] < 0.5) {
		t.Errorf("schedule %v...%v: should start at lr and decay", s[0], s[len(s)-1])
	}
	// A broken equivalence (curves forced apart) must fail the claim.
	exact.NaPSchedule[3] += 0.1
	if exact.Claim().Holds || exact.FirstApart(1e-4) != 4 {
		t.Errorf("check holds with a 0.1 gap at step 4 (first apart: %d)", exact.FirstApart(1e-4))
	}
	if s, _ := exact.Gaps(3); s > 1e-4 {
		t.Errorf("Gaps(3) sees step 4's gap: %v", s)
	}
	if _, err := ScheduleCheck(set, []int{8}, 0, 16, 0.5, -1, 3); err == nil {
		t.Error("0 steps accepted")
	}
}

func TestScaleCurves(t *testing.T) {
	set := pool(t, 32)
	cs := []float64{0.5, 1, 3}
	curves, err := ScaleCurves(set, []int{8, 8}, cs, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Normalised MLP: dense_0, dense_1 (invariant), layernorm_0 (invariant), layernorm_1 and dense_2 (not),
	// then the plain MLP's dense_0 (not).
	if len(curves) != 6 {
		t.Fatalf("%d curves", len(curves))
	}
	for _, c := range curves {
		spread := math.Abs(c.Loss[2]-c.Loss[0]) / math.Abs(c.Loss[1])
		invariant := strings.HasPrefix(c.Label, "dense_0 (weights)") && !strings.Contains(c.Label, "plain") ||
			strings.HasPrefix(c.Label, "dense_1 (weights)") || strings.HasPrefix(c.Label, "layernorm_0")
		if invariant && spread > 1e-3 {
			t.Errorf("%s: loss moves by %v under scaling", c.Label, spread)
		}
		if !invariant && spread < 1e-3 {
			t.Errorf("%s: loss does not move under scaling", c.Label)
		}
	}
}
