package normlrexp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
)

// TestWorstCounts checks the iteration counts on the worst-case family against numbers worked out
// independently (in numpy) for Theorem 5.1's family: the perceptron's first step counts as 1.
func TestWorstCounts(t *testing.T) {
	want := map[string][]int{
		"Batch Perceptron":            {4, 16, 61},
		"Normalized Batch Perceptron": {3, 3, 3},
		"LR+GD γ=100":                 {4, 16, 62},
		"Normalized LR+GD γ=100":      {2, 2, 2},
		"Normalized LR+GD γ=1":        {7, 10, 13},
	}
	r, err := Worst(WorstConfig{Ns: []int{10, 50, 200}, Budget: 1000, Gammas: []float64{1, 100}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		for i, c := range r.Counts[name] {
			if !c.Reached || c.Iters != w[i] {
				t.Errorf("%s, n = %d: %v, want %d", name, r.Ns[i], c, w[i])
			}
		}
	}
	if s := r.Slope("Normalized LR+GD γ=100"); s != 0 {
		t.Errorf("flat counts: slope %g", s)
	}
	if s := r.Slope("Batch Perceptron"); s < 0.8 {
		t.Errorf("Batch Perceptron slope %g, want ≈ 1", s)
	}
}

func TestSlopeAndCount(t *testing.T) {
	x := []int{1, 4, 16, 64}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = 3 * math.Sqrt(float64(v))
	}
	if s := Slope(x, y); math.Abs(s-0.5) > 1e-12 {
		t.Errorf("slope of 3√x: %g", s)
	}
	if !math.IsNaN(Slope(x[:1], y[:1])) || !math.IsNaN(Slope(x, []float64{1, 0, 2, 3})) {
		t.Errorf("slope of one point or a zero value is not NaN")
	}
	c := Count{Iters: 0, Reached: false, Budget: 50}
	if c.Value() != 51 || c.String() != "> 50" {
		t.Errorf("unreached count: %v %q", c.Value(), c.String())
	}
	if c := (Count{Iters: 7, Reached: true, Budget: 50}); c.Value() != 7 || c.String() != "7" {
		t.Errorf("reached count: %v %q", c.Value(), c.String())
	}
}

// TestRunTrace checks a recorded run: it stops extra steps after separation, ends at accuracy 1, and gives
// the same count as an unrecorded run; a budget too small leaves the count unreached.
func TestRunTrace(t *testing.T) {
	a, y, err := WorstCase(10)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Run(LRGD(100), a, y, 100, 5)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Count.Iters != 4 || len(tr.Acc) != 4+5+1 || tr.Acc[len(tr.Acc)-1] != 1 || tr.Acc[0] == 1 {
		t.Errorf("trace: count %v, %d points, accuracy %v", tr.Count, len(tr.Acc), tr.Acc)
	}
	short, err := Run(LRGD(100), a, y, 3, -1)
	if err != nil {
		t.Fatal(err)
	}
	if short.Count.Reached || short.Count.Value() != 4 {
		t.Errorf("budget 3: %+v", short.Count)
	}
	if _, _, err := WorstCase(1); err == nil {
		t.Errorf("WorstCase(1) accepted")
	}
}

// synthetic returns a linearly separable two-class set (plus a third class TwoClass must skip).
func synthetic(n, d int) *data.Set {
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float64, d)
	for j := range w {
		w[j] = r.NormFloat64()
	}
	s := &data.Set{Name: "synthetic", Shape: []int{d}, Classes: 3}
	for len(s.Y) < n {
		x := make([]float32, d)
		dot := 0.0
		for j := range x {
			x[j] = float32(r.NormFloat64())
			dot += w[j] * float64(x[j])
		}
		if math.Abs(dot) < 0.3 {
			continue
		}
		lab := int32(0)
		if dot > 0 {
			lab = 1
		}
		if len(s.Y)%7 == 0 {
			lab = 2
		}
		s.X = append(s.X, x...)
		s.Y = append(s.Y, lab)
	}
	return s
}

func TestTwoClass(t *testing.T) {
	s := synthetic(300, 5)
	a, y, err := TwoClass(s, 40, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for _, v := range y {
		if v == 1 {
			pos++
		} else if v != -1 {
			t.Fatalf("label %g", v)
		}
	}
	if len(a) != 50 || pos != 10 || len(a[0]) != 5 {
		t.Errorf("%d rows, %d positives, %d features", len(a), pos, len(a[0]))
	}
	a2, _, _ := TwoClass(s, 40, 10, 3)
	a3, _, _ := TwoClass(s, 40, 10, 4)
	if a2[0][0] != a[0][0] || a3[0][0] == a[0][0] && a3[1][0] == a[1][0] {
		t.Errorf("the subset is not a function of the seed alone")
	}
	if _, _, err := TwoClass(s, 1000, 10, 3); err == nil || !strings.Contains(err.Error(), "asked for") {
		t.Errorf("too many examples: %v", err)
	}
}

// TestImbalanced runs the imbalanced experiment on a small separable set: the tuned γ has the fewest
// validation iterations, every run subset has counts, and the counts agree with fresh runs.
func TestImbalanced(t *testing.T) {
	s := synthetic(900, 8)
	c := FashionConfig{N: 110, Ratio: 10, Budget: 400, Runs: 3, Gammas: []float64{0.1, 1, 100}, Seed: 5}
	res, err := Imbalanced(c, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tu := range []Tuning{res.TuneLR, res.TuneNorm} {
		for i, cnt := range tu.Counts {
			if cnt.Value() < tu.Counts[indexOf(tu.Gammas, tu.Chosen)].Value() {
				t.Errorf("γ=%g has fewer validation iterations than the chosen %g", tu.Gammas[i], tu.Chosen)
			}
		}
	}
	if len(res.TunedLR) != 3 || len(res.Paper100NR) != 3 || len(res.Traces) != len(c.Gammas)+2 {
		t.Fatalf("result sizes: %+v", res)
	}
	a, y, err := c.subset(s, 2)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Run(NormalizedLRGD(100), a, y, c.Budget, -1)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Count != res.Paper100NR[1] {
		t.Errorf("run 2, Normalized LR+GD γ=100: %v in the result, %v afresh", res.Paper100NR[1], fresh.Count)
	}
	bad := c
	bad.Runs = 2
	if _, err := Imbalanced(bad, s, nil); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Errorf("2 runs: %v", err)
	}
	if _, err := Balanced(c, s, 1, 10, nil); err == nil {
		t.Errorf("Balanced accepted a step size outside the grid")
	}
}

func indexOf(v []float64, x float64) int {
	for i, y := range v {
		if y == x {
			return i
		}
	}
	return -1
}

// TestLimitGap checks Theorem 3.2 on the worst-case family: θ_t/γ approaches the perceptron's iterates as
// γ grows, and not at γ = 1.
func TestLimitGap(t *testing.T) {
	a, y, _ := WorstCase(30)
	big, err := LimitGap(a, y, 1e4, 5)
	if err != nil {
		t.Fatal(err)
	}
	small, _ := LimitGap(a, y, 1, 5)
	if !(big < 1e-3) || !(small > 1e-2) {
		t.Errorf("gap at γ = 1e4: %g (want < 1e-3); at γ = 1: %g (want > 1e-2)", big, small)
	}
}
