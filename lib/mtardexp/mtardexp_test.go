package mtardexp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
)

// pool returns a synthetic set of k classes × n examples of dim features in [0, 1]: class c brightens
// feature c mod dim.
func pool(k, n, dim int, seed uint64) *data.Set {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &data.Set{Name: "pool", Shape: []int{dim}, Classes: k}
	for i := range k * n {
		c := i % k
		for j := range dim {
			v := 0.3 * r.Float64()
			if j == c%dim {
				v += 0.6
			}
			s.X = append(s.X, float32(v))
		}
		s.Y = append(s.Y, int32(c))
		s.IDs = append(s.IDs, int32(i))
	}
	return s
}

// tiny is a configuration and data small enough for a unit test.
func tiny() (Config, *Splits) {
	c := Quick()
	c.NTrain, c.NVal, c.NTest, c.Downsample, c.Batch, c.Epochs, c.Runs = 96, 40, 40, 1, 32, 2, 2
	c.TeacherHidden, c.StudentHidden = []int{8}, []int{8}
	c.TrainAttack.Steps, c.EvalAttack.Steps = 2, 2
	c.EtaTau, c.EtaW = 0.05, 0.1
	c.LRs = []float64{1e-3, 1e-2}
	return c, &Splits{Train: pool(4, 24, 6, 1), Val: pool(4, 10, 6, 2), Test: pool(4, 10, 6, 3)}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{Default(), Quick()} {
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"batch":      {func(c *Config) { c.NTrain = c.Batch - 1 }, "sizes"},
		"downsample": {func(c *Config) { c.Downsample = 0 }, "downsampling"},
		"student":    {func(c *Config) { c.StudentHidden = nil }, "hidden layer"},
		"runs":       {func(c *Config) { c.Runs = 0 }, "runs 0"},
		"grid":       {func(c *Config) { c.LRs = []float64{1e-3, math.NaN()} }, "grid must be positive"},
		"empty grid": {func(c *Config) { c.LRs = nil }, "non-empty grid"},
		"eta":        {func(c *Config) { c.EtaW = 2 }, "η_w"},
		"arm":        {func(c *Config) { c.Arms = []Arm{PGDAT, "TRADES"} }, `unknown arm "TRADES"`},
		"no arm":     {func(c *Config) { c.Arms = nil }, "no arm"},
		"attack":     {func(c *Config) { c.TrainAttack.Epsilon = -1 }, "training attack"},
	} {
		c := Default()
		tc.edit(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

// TestRunsIndependentAndPaired: run r seeds the student's initialisation, its data order and its attack
// starts (no initialisation shared across runs), and every arm of run r uses the same three seeds.
func TestRunsIndependentAndPaired(t *testing.T) {
	c, s := tiny()
	te, err := c.TrainTeachers(s)
	if err != nil {
		t.Fatal(err)
	}
	defer te.Adv.Finalize()
	type seeds struct {
		init, order uint64
		attack      int64
	}
	got := map[Arm][]seeds{}
	for _, arm := range []Arm{PGDAT, ARD, MTARD, BMTARD} {
		for run := uint64(1); run <= 3; run++ {
			cfg, _, err := c.TrainConfig(arm, 1e-3, s, te, run)
			if err != nil {
				t.Fatal(err)
			}
			got[arm] = append(got[arm], seeds{cfg.Seed, cfg.DataSeed, cfg.Attack.Seed})
		}
	}
	for arm, ss := range got {
		for i := range ss {
			for j := range i {
				if ss[i].init == ss[j].init || ss[i].order == ss[j].order || ss[i].attack == ss[j].attack {
					t.Errorf("%s: runs %d and %d share a seed: %+v, %+v", arm, j+1, i+1, ss[j], ss[i])
				}
			}
			if ss[i] != got[PGDAT][i] {
				t.Errorf("%s run %d: seeds %+v differ from PGD-AT's %+v; the runs would not pair", arm, i+1, ss[i], got[PGDAT][i])
			}
		}
	}
	a, _, err := c.Train(PGDAT, 1e-2, s, te, 1, s.Test)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := c.Train(PGDAT, 1e-2, s, te, 2, s.Test)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("runs 1 and 2 score the same (%+v): they are not independent", a)
	}
}

// TestArmsBalance: only B-MTARD moves its temperatures and weights; ARD keeps w = (1, 0), MTARD
// (½, ½) and τ = 1; PGD-AT has no trace.
func TestArmsBalance(t *testing.T) {
	c, s := tiny()
	te, err := c.TrainTeachers(s)
	if err != nil {
		t.Fatal(err)
	}
	defer te.Adv.Finalize()
	steps := c.Epochs * (s.Train.Len() / c.Batch)
	for _, tc := range []struct {
		arm   Arm
		wAdv  float64
		moves bool
		steps int
	}{{PGDAT, 0, false, 0}, {ARD, 1, false, steps}, {MTARD, 0.5, false, steps}, {BMTARD, 0.5, true, steps}} {
		_, tr, err := c.Train(tc.arm, 1e-3, s, te, 1, s.Test)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.HAdv) != tc.steps || len(tr.TauNat) != tc.steps || len(tr.WAdv) != tc.steps {
			t.Fatalf("%s: trace of %d steps, want %d", tc.arm, len(tr.HAdv), tc.steps)
		}
		if tc.steps == 0 {
			continue
		}
		last := tc.steps - 1
		moved := tr.TauAdv[last] != 1 || tr.TauNat[last] != 1 || tr.WAdv[last] != tc.wAdv
		if moved != tc.moves {
			t.Errorf("%s: last step τ = (%g, %g), w_adv = %g: moved %v, want %v", tc.arm, tr.TauAdv[last], tr.TauNat[last], tr.WAdv[last], moved, tc.moves)
		}
		if tr.WAdv[0] != tc.wAdv || math.Abs(tr.WAdv[last]+tr.WNat[last]-1) > 1e-12 {
			t.Errorf("%s: weights start at %g (want %g) and end summing to %g", tc.arm, tr.WAdv[0], tc.wAdv, tr.WAdv[last]+tr.WNat[last])
		}
	}
	if _, _, err := c.TrainConfig(BMTARD, 1e-3, s, nil, 1); err == nil || !strings.Contains(err.Error(), "needs both teachers") {
		t.Errorf("B-MTARD without teachers: error %v", err)
	}
}

func TestEntropyGap(t *testing.T) {
	tr := &Trace{HAdv: make([]float64, 20), HNat: make([]float64, 20)}
	for i := range 20 {
		tr.HAdv[i], tr.HNat[i] = 1, 1-float64(20-i)/20 // gap (20−i)/20: 1 at the start, 0.05 at the end
	}
	start, end, err := tr.EntropyGap(2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(start-0.975) > 1e-12 || math.Abs(end-0.075) > 1e-12 {
		t.Errorf("gap %g → %g, want 0.975 → 0.075", start, end)
	}
	if _, _, err := (&Trace{}).EntropyGap(10); err == nil {
		t.Error("an empty trace has no gap, want an error")
	}
}

func TestRun(t *testing.T) {
	c, s := tiny()
	c.Arms = []Arm{PGDAT, BMTARD}
	var lines int
	r, err := Run(c, s, func(string) { lines++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Arms) != 2 || len(r.Clean) != c.Runs || lines != 1+2*(len(c.LRs)+c.Runs)+c.Runs {
		t.Fatalf("%d arms, %d clean runs, %d progress lines", len(r.Arms), len(r.Clean), lines)
	}
	for _, a := range r.Arms {
		if len(a.Val) != len(c.LRs) || len(a.Test) != c.Runs || len(a.Traces) != c.Runs {
			t.Errorf("%s: %d validation scores, %d test scores, %d traces", a.Arm, len(a.Val), len(a.Test), len(a.Traces))
		}
		best := 0
		for i, v := range a.Val {
			if v.Criterion() > a.Val[best].Criterion() {
				best = i
			}
		}
		if a.Chosen != c.LRs[best] {
			t.Errorf("%s: chose lr %g, the best validation criterion is at %g", a.Arm, a.Chosen, c.LRs[best])
		}
		for _, sc := range a.Test {
			if !(sc.Clean >= sc.Robust && sc.Robust >= 0 && sc.Clean <= 1) {
				t.Errorf("%s: test score %+v out of order", a.Arm, sc)
			}
		}
	}
	if r.Arm(BMTARD) == nil || r.Arm(ARD) != nil {
		t.Error("Result.Arm finds arms that were not run, or misses one that was")
	}
	if _, err := Run(c, &Splits{Train: s.Train}, nil); err == nil {
		t.Error("missing splits: want an error")
	}
}

func TestTradeOffAndImbalance(t *testing.T) {
	clean := []float64{0.80, 0.81, 0.79}
	for _, tc := range []struct {
		control []float64
		ok      bool
	}{{[]float64{0.70, 0.70, 0.69}, true}, {[]float64{0.795, 0.80, 0.79}, false}, {[]float64{0.70, 0.81, 0.60}, false}} {
		why, err := TradeOff(clean, tc.control, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		if (why == "") != tc.ok {
			t.Errorf("control %v: measurable %v (%q), want %v", tc.control, why == "", why, tc.ok)
		}
	}
	if _, err := TradeOff(clean, clean[:2], 0.01); err == nil {
		t.Error("unpaired lists: want an error")
	}
	flat := Trace{HAdv: []float64{1, 1, 1}, HNat: []float64{0.5, 0.95, 0.98}}
	open := Trace{HAdv: []float64{1, 1, 1}, HNat: []float64{0.5, 0.6, 0.7}}
	for _, tc := range []struct {
		traces []Trace
		ok     bool
	}{{[]Trace{open, open}, true}, {[]Trace{flat, flat}, false}} {
		why, err := Imbalance(tc.traces, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		if (why == "") != tc.ok {
			t.Errorf("traces %v: measurable %v (%q), want %v", tc.traces, why == "", why, tc.ok)
		}
	}
	if _, err := Imbalance(nil, 0.1); err == nil {
		t.Error("no traces: want an error")
	}
}
