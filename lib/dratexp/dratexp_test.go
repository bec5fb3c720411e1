package dratexp

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
)

// pool returns a synthetic set of k classes × n examples of dim features in [0, 1], with ids: class c
// brightens feature c mod dim.
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

// tiny is a configuration small enough for a unit test.
func tiny() Config {
	c := Quick()
	c.Head, c.Ratio, c.Downsample, c.NVal, c.Epochs, c.Batch, c.Runs = 64, 4, 1, 40, 2, 32, 3
	c.Hidden = []int{8}
	c.TailClasses = 2
	c.TrainAttack.Steps, c.EvalAttack.Steps = 2, 2
	return c
}

func TestDRO(t *testing.T) {
	l := []float64{0.5, 1, 2}
	for _, tc := range []struct {
		r, f float64
		w    []float64
	}{
		{1, 1.3658, []float64{0.1402, 0.2312, 0.6285}},
		{0.1, 1.8901, nil},
		{10, 1.1863, []float64{0.3112, 0.3272, 0.3616}},
		{1000, 1.1669, nil},
	} {
		w, f, err := DRO(l, tc.r)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(f-tc.f) > 1e-4 {
			t.Errorf("r=%g: F = %.5f, want %.4f", tc.r, f, tc.f)
		}
		for i := range tc.w {
			if math.Abs(w[i]-tc.w[i]) > 1e-4 {
				t.Errorf("r=%g: w = %.4f, want %.4f", tc.r, w, tc.w)
			}
		}
	}
	w, _, err := DRO([]float64{1000, 1001}, 1)
	if err != nil || math.Abs(w[0]-0.2689) > 1e-4 || math.Abs(w[1]-0.7311) > 1e-4 {
		t.Errorf("overflow case: w = %v, %v; want (0.2689, 0.7311)", w, err)
	}
	for _, bad := range []struct {
		l []float64
		r float64
	}{{nil, 1}, {l, 0}, {l, math.Inf(1)}, {[]float64{math.NaN()}, 1}} {
		if _, _, err := DRO(bad.l, bad.r); err == nil {
			t.Errorf("DRO(%v, %g): no error", bad.l, bad.r)
		}
	}
}

func TestTail(t *testing.T) {
	m, of, err := Tail([]float64{0.5, 0.1, 0.3, 0.1}, 2)
	if err != nil || math.Abs(m-0.1) > 1e-12 || !slices.Equal(of, []int{1, 3}) {
		t.Errorf("Tail = %g %v %v, want 0.1 [1 3]", m, of, err)
	}
	m, _, _ = Tail([]float64{0.5, 0.1, 0.3, 0.2}, 3)
	if math.Abs(m-0.2) > 1e-12 {
		t.Errorf("Tail of 3 = %g, want 0.2", m)
	}
	for _, k := range []int{0, 5} {
		if _, _, err := Tail([]float64{1, 2, 3, 4}, k); err == nil {
			t.Errorf("Tail with k=%d: no error", k)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []Config{Default(), Quick(), tiny()} {
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
	}
	bad := map[string]func(*Config){
		"same tuning budget": func(c *Config) { c.Method.Grid = c.Method.Grid[:1] },
		"empty grid":         func(c *Config) { c.Baseline.Grid, c.Method.Grid = nil, nil },
		"β":                  func(c *Config) { c.Beta = 0 },
		"ratio":              func(c *Config) { c.Ratio = 0.5 },
		"lr > 0":             func(c *Config) { c.Method.Grid[0].LR = 0 },
		"hidden":             func(c *Config) { c.Hidden = nil },
		"training attack":    func(c *Config) { c.TrainAttack.Epsilon = -1 },
	}
	for want, edit := range bad {
		c := Default()
		edit(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", want, err, want)
		}
	}
}

func TestSplitsFrom(t *testing.T) {
	c := tiny()
	p := pool(4, 100, 6, 1)
	s, err := c.SplitsFrom(p, pool(4, 10, 6, 2))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Train.ClassCounts(), data.ImbalanceCounts(4, 64, 4); !slices.Equal(got, want) {
		t.Errorf("training counts %v, want %v", got, want)
	}
	if got := s.Val.ClassCounts(); !slices.Equal(got, []int{10, 10, 10, 10}) {
		t.Errorf("validation counts %v, want 10 per class", got)
	}
	for _, id := range s.Val.IDs {
		if slices.Contains(s.Train.IDs, id) {
			t.Fatalf("validation image %d is also a training image", id)
		}
	}
	c.NVal = 4 * 60 // class 0 keeps 64 of its 100 for training: 36 left, fewer than 60
	if _, err := c.SplitsFrom(p, p); err == nil || !strings.Contains(err.Error(), "left after the long-tailed set") {
		t.Errorf("too few images for validation: error %v", err)
	}
}

func TestRunsAreIndependent(t *testing.T) {
	c := tiny()
	tr := pool(4, 20, 6, 1)
	a, b := c.TrainConfig(Point{LR: 1e-3}, tr, 1), c.TrainConfig(Point{LR: 1e-3}, tr, 2)
	if a.Seed == b.Seed || a.DataSeed == b.DataSeed || a.Attack.Seed == b.Attack.Seed {
		t.Errorf("runs 1 and 2 share a seed: init %d/%d, data %d/%d, attack %d/%d", a.Seed, b.Seed, a.DataSeed, b.DataSeed, a.Attack.Seed, b.Attack.Seed)
	}
}

func TestMeasurable(t *testing.T) {
	for _, tc := range []struct {
		tail, avg []float64
		want      string
	}{
		{[]float64{0, 0, 0.003}, []float64{0.3, 0.31, 0.29}, "not clearly above 0"},
		{[]float64{0.3, 0.2, 0.25}, []float64{0.3, 0.2, 0.26}, "not clearly below"},
		{[]float64{0.2, 0.22, 0.21}, []float64{0.6, 0.61, 0.6}, ""},
	} {
		got, err := Measurable(tc.tail, tc.avg)
		if err != nil || (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Measurable(%v, %v) = %q, %v; want %q", tc.tail, tc.avg, got, err, tc.want)
		}
	}
	if _, err := Measurable([]float64{0.1}, []float64{0.2}); err == nil {
		t.Error("one run: no error")
	}
}

func TestRun(t *testing.T) {
	c := tiny()
	s, err := c.SplitsFrom(pool(4, 100, 6, 1), pool(4, 25, 6, 2))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(c, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		got  ArmResult
		want Arm
	}{{res.Baseline, c.Baseline}, {res.Method, c.Method}} {
		if len(a.got.Tuning.Val) != len(a.want.Grid) || a.got.Chosen != a.want.Grid[a.got.Tuning.Best] {
			t.Errorf("%s: %d tuning scores for %d points, chosen %v", a.want.Name, len(a.got.Tuning.Val), len(a.want.Grid), a.got.Chosen)
		}
		if len(a.got.Test) != c.Runs {
			t.Fatalf("%s: %d final runs, want %d", a.want.Name, len(a.got.Test), c.Runs)
		}
		for _, sc := range a.got.Test {
			if !(sc.Robust >= 0 && sc.Robust <= sc.Clean && sc.Clean <= 1) || len(sc.TailOf) != c.TailClasses || sc.Tail > sc.Robust+1e-12 {
				t.Errorf("%s: implausible scores %+v", a.want.Name, sc)
			}
		}
	}
	if v := res.Method.Values(TailAccuracy); len(v) != c.Runs || v[1] != res.Method.Test[1].Tail {
		t.Errorf("Values(TailAccuracy) = %v", v)
	}
	pc := res.Baseline.PerClass(func(s Scores) []float64 { return s.ClassRobust })
	if len(pc) != 4 || len(pc[3]) != c.Runs || pc[3][2] != res.Baseline.Test[2].ClassRobust[3] {
		t.Errorf("PerClass: %v", pc)
	}
	for _, tr := range res.Baseline.Traces {
		if len(tr.Omega) != 0 {
			t.Error("PGD-AT recorded DONE weights")
		}
	}
	// DONE's weights: recorded, positive, about mean one once u has warmed up (the last recorded batch).
	for _, tr := range res.Method.Traces {
		if len(tr.Omega) == 0 || len(tr.Loss) == 0 {
			t.Fatal("DONE recorded no weights or losses")
		}
		w := tr.Omega[len(tr.Omega)-1]
		m := 0.0
		for _, v := range w {
			if !(v > 0) {
				t.Fatalf("weight %g ≤ 0", v)
			}
			m += v / float64(len(w))
		}
		if m < 0.5 || m > 2 {
			t.Errorf("mean ω of the last recorded batch %g, want about 1", m)
		}
	}
	// The same point and seed with r > 0 trains differently from PGD-AT: the weights reach the loss.
	_, at, _ := c.Train(Point{LR: 1e-3}, s.Train, 1)
	_, done, _ := c.Train(Point{LR: 1e-3, R: 0.3}, s.Train, 1)
	if at.Loss[0] == done.Loss[0] || slices.Equal(at.Loss, done.Loss) {
		t.Error("DONE's losses equal PGD-AT's")
	}
}

func TestControl(t *testing.T) {
	c := tiny().WithEpsilon(0.1)
	if c.TrainAttack.StepSize != 0.03 || c.EvalAttack.StepSize != 0.01 {
		t.Errorf("WithEpsilon(0.1): steps %g and %g, want 0.03 and 0.01", c.TrainAttack.StepSize, c.EvalAttack.StepSize)
	}
	s, err := c.SplitsFrom(pool(4, 100, 6, 1), pool(4, 25, 6, 2))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Control(c, s, 1e-3, 2)
	if err != nil || len(sc) != 2 || len(sc[1].ClassRobust) != 4 {
		t.Errorf("Control: %d runs, %v (want 2 runs scored on 4 classes)", len(sc), err)
	}
}
