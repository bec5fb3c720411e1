package normlr

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/internal/graphtest"
	"github.com/losslab/losslab/lib/backend"
)

// twoPoint is the two-point example of the paper's Thm 4.1.
func twoPoint() ([][]float64, []float64) {
	return [][]float64{{1, -1}, {-1, -4}}, []float64{1, -1}
}

// Property 1: LR+GD on the two-point example.
func TestLRGDTwoPoint(t *testing.T) {
	a, y := twoPoint()
	rows := []struct {
		gamma      float64
		t1         [2]float64
		f1         float64
		t2         [2]float64
		f2, f2Rel  float64
		margins100 [2]float64
	}{
		{1, [2]float64{0.5, 0.75}, 0.427845, [2]float64{0.795744, 0.527536}, 0.310632, 2e-6, [2]float64{}},
		{10, [2]float64{0.5, 0.75}, 1.289445, [2]float64{0.962071, 0.287929}, 5.901e-4, 1e-3, [2]float64{}},
		{100, [2]float64{0.5, 0.75}, 12.5, [2]float64{1, 0.25}, 1.34e-33, 1e-2, [2]float64{75, 200}},
	}
	for _, r := range rows {
		th1, err := LRGDStep([]float64{0, 0}, a, y, r.gamma)
		if err != nil {
			t.Fatal(err)
		}
		th2, _ := LRGDStep(th1, a, y, r.gamma)
		f1, _, _ := LogisticRisk(th1, a, y)
		f2, _, _ := LogisticRisk(th2, a, y)
		for j := range 2 {
			if math.Abs(th1[j]/r.gamma-r.t1[j]) > 1e-6 || math.Abs(th2[j]/r.gamma-r.t2[j]) > 1e-6 {
				t.Errorf("γ=%g: θ1/γ = %v, θ2/γ = %v; want %v, %v", r.gamma, th1, th2, r.t1, r.t2)
			}
		}
		if math.Abs(f1-r.f1) > 1e-6 {
			t.Errorf("γ=%g: f(θ1) = %.6f, want %.6f", r.gamma, f1, r.f1)
		}
		// Closed form of f(θ1).
		if cf := 0.5 * (math.Log(1+math.Exp(r.gamma/4)) + math.Log(1+math.Exp(-7*r.gamma/2))); math.Abs(f1-cf) > 1e-9*cf {
			t.Errorf("γ=%g: f(θ1) = %g, closed form %g", r.gamma, f1, cf)
		}
		if math.Abs(f2-r.f2) > r.f2Rel*r.f2 {
			t.Errorf("γ=%g: f(θ2) = %.6g, want %.6g", r.gamma, f2, r.f2)
		}
		if !Separates(th2, a, y) {
			t.Errorf("γ=%g: θ2 does not separate the two points", r.gamma)
		}
		if r.gamma == 100 {
			m, _ := LinearMargins(th2, a, y)
			if math.Abs(m[0]-75) > 1e-6 || math.Abs(m[1]-200) > 1e-6 {
				t.Errorf("γ=100: margins at θ2 = %v, want [75 200]", m)
			}
		}
	}
}

// separableData draws n points in R^d separable by a random unit vector with margin ≥ 0.1.
func separableData(rng *rand.Rand, n, d int) ([][]float64, []float64) {
	w := make([]float64, d)
	for j := range w {
		w[j] = rng.NormFloat64()
	}
	var a [][]float64
	var y []float64
	for len(a) < n {
		x := make([]float64, d)
		dot := 0.0
		for j := range x {
			x[j] = rng.NormFloat64()
			dot += x[j] * w[j]
		}
		if math.Abs(dot) < 0.1 {
			continue
		}
		a = append(a, x)
		y = append(y, math.Copysign(1, dot))
	}
	return a, y
}

// Property 2: θ_t/γ at γ = 1e4 tracks the Batch Perceptron for t ≤ 5. (Only the plain pair: after
// separation the Batch Perceptron stops while Normalized LR+GD keeps moving, and its first step is twice
// the perceptron's.)
func TestBatchPerceptronLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2))
	for trial := range 5 {
		a, y := separableData(rng, 30, 4)
		const gamma = 1e4
		theta := make([]float64, 4)
		hat := make([]float64, 4)
		for step := 1; step <= 5; step++ {
			var err error
			if theta, err = LRGDStep(theta, a, y, gamma); err != nil {
				t.Fatal(err)
			}
			if hat, err = BatchPerceptronStep(hat, a, y, false); err != nil {
				t.Fatal(err)
			}
			for j := range hat {
				if math.Abs(theta[j]/gamma-hat[j]) > 1e-3 {
					t.Errorf("trial %d step %d: θ/γ = %v, perceptron %v", trial, step, theta, hat)
					break
				}
			}
		}
	}
}

// worstCase is the Thm 5.1 family: (0.5,-1) with y=+1 and n-1 copies of (-0.5,-1) with y=-1.
func worstCase(n int) ([][]float64, []float64) {
	a := [][]float64{{0.5, -1}}
	y := []float64{1}
	for range n - 1 {
		a = append(a, []float64{-0.5, -1})
		y = append(y, -1)
	}
	return a, y
}

func stepsToSeparate(t *testing.T, a [][]float64, y []float64, step func([]float64) ([]float64, error)) int {
	t.Helper()
	theta := make([]float64, len(a[0]))
	for k := 1; k <= 10000; k++ {
		var err error
		if theta, err = step(theta); err != nil {
			t.Fatal(err)
		}
		if Separates(theta, a, y) {
			return k
		}
	}
	return -1
}

// Property 3: iterations to separation on the worst-case family.
func TestWorstCaseIterations(t *testing.T) {
	want := map[int][5]int{10: {4, 3, 4, 2, 7}, 50: {16, 3, 16, 2, 10}, 200: {61, 3, 62, 2, 13}}
	for n, w := range want {
		a, y := worstCase(n)
		got := [5]int{
			stepsToSeparate(t, a, y, func(th []float64) ([]float64, error) { return BatchPerceptronStep(th, a, y, false) }),
			stepsToSeparate(t, a, y, func(th []float64) ([]float64, error) { return BatchPerceptronStep(th, a, y, true) }),
			stepsToSeparate(t, a, y, func(th []float64) ([]float64, error) { return LRGDStep(th, a, y, 100) }),
			stepsToSeparate(t, a, y, func(th []float64) ([]float64, error) {
				next, _, err := NormalizedLRGDStep(th, a, y, 100)
				return next, err
			}),
			stepsToSeparate(t, a, y, func(th []float64) ([]float64, error) {
				next, _, err := NormalizedLRGDStep(th, a, y, 1)
				return next, err
			}),
		}
		if got != w {
			t.Errorf("n=%d: steps [BP, NBP, LR+GD γ=100, NLR+GD γ=100, NLR+GD γ=1] = %v, want %v", n, got, w)
		}
	}
}

// Property 4 (β ≥ 1, β_0 = 2, ||β∇f|| ≤ R) and property 5 (duplication invariance), plus the graph β.
func TestNormalizedLRScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 4))
	a, y := separableData(rng, 25, 3)
	r := 0.0
	for _, row := range a {
		r = math.Max(r, math.Hypot(math.Hypot(row[0], row[1]), row[2]))
	}
	theta := []float64{0, 0, 0}
	for k := range 8 {
		next, beta, err := NormalizedLRGDStep(theta, a, y, 3)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 && math.Abs(beta-2) > 1e-12 {
			t.Errorf("β_0 = %g, want 2", beta)
		}
		if beta < 1 {
			t.Errorf("step %d: β = %g < 1", k, beta)
		}
		_, g, _ := LogisticRisk(theta, a, y)
		norm := 0.0
		for j := range g {
			norm += beta * beta * g[j] * g[j]
			// The step equals γ·β·∇f (definition) — the weighted-average form must agree.
			if d := next[j] - (theta[j] - 3*beta*g[j]); math.Abs(d) > 1e-9 {
				t.Errorf("step %d: weighted form differs from θ - γβ∇f by %g", k, d)
			}
		}
		if math.Sqrt(norm) > r+1e-12 {
			t.Errorf("step %d: ||β∇f|| = %g > R = %g", k, math.Sqrt(norm), r)
		}
		theta = next
	}
	// Duplication: the whole dataset (invariant) vs one class only (not invariant).
	th := []float64{0.3, -0.2, 0.5}
	dupAll := append(append([][]float64{}, a...), a...)
	yAll := append(append([]float64{}, y...), y...)
	dupPos, yPos := append([][]float64{}, a...), append([]float64{}, y...)
	for i := range a {
		if y[i] > 0 {
			dupPos, yPos = append(dupPos, a[i]), append(yPos, 1)
		}
	}
	base, _, _ := NormalizedLRGDStep(th, a, y, 2)
	all, _, _ := NormalizedLRGDStep(th, dupAll, yAll, 2)
	pos, _, _ := NormalizedLRGDStep(th, dupPos, yPos, 2)
	baseGD, _ := LRGDStep(th, a, y, 2)
	allGD, _ := LRGDStep(th, dupAll, yAll, 2)
	posGD, _ := LRGDStep(th, dupPos, yPos, 2)
	dist := func(u, v []float64) float64 {
		s := 0.0
		for j := range u {
			s += (u[j] - v[j]) * (u[j] - v[j])
		}
		return math.Sqrt(s)
	}
	if dist(base, all) > 1e-12 || dist(baseGD, allGD) > 1e-12 {
		t.Errorf("duplicating the whole dataset changes the step: %v vs %v (LR+GD %v vs %v)", base, all, baseGD, allGD)
	}
	if dist(base, pos) < 1e-6 || dist(baseGD, posGD) < 1e-6 {
		t.Errorf("duplicating one class should change the step")
	}

	// The graph β equals the plain-Go one, and is 2 at zero scores.
	scores := make([]float32, len(a))
	labels := make([]int32, len(a))
	for i := range a {
		m := 0.0
		for j := range th {
			m += a[i][j] * th[j]
		}
		scores[i] = float32(m)
		labels[i] = int32((y[i] + 1) / 2)
	}
	_, wantBeta, _ := NormalizedLRGDStep(th, a, y, 1)
	out := graphtest.Run(t, func(s, l *Node) (*Node, *Node) {
		return NormalizedLRScale(s, l), NormalizedLRScale(ZerosLike(s), l)
	}, tensors.FromFlatDataAndDimensions(scores, len(a)), tensors.FromFlatDataAndDimensions(labels, len(a)))
	if math.Abs(out[0][0]-wantBeta) > 1e-5*wantBeta || out[1][0] != 2 {
		t.Errorf("graph β = %g (want %g), at zero scores %g (want 2)", out[0][0], wantBeta, out[1][0])
	}
}

// The GoMLX optimizer takes the same steps as NormalizedLRGDStep, and refuses to run without β.
func TestNormalizedGDOptimizer(t *testing.T) {
	a, y := twoPoint()
	flatA := []float64{a[0][0], a[0][1], a[1][0], a[1][1]}
	labels := []int32{1, 0}
	for _, gamma := range []float64{1, 10} {
		ctx := context.New()
		ctx.VariableWithValue("theta", []float64{0, 0})
		opt := &NormalizedGD{Gamma: gamma}
		exec, err := context.NewExec(backend.Must(), ctx, func(ctx *context.Context, x, l *Node) *Node {
			th := ctx.GetVariable("theta").ValueGraph(x.Graph())
			scores := ReduceSum(Mul(x, InsertAxes(th, 0)), -1)
			loss := NormalizedLogisticLoss(ctx, scores, l)
			opt.UpdateGraph(ctx, x.Graph(), loss)
			return loss
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []float64{0, 0}
		for step := range 3 {
			if _, err := exec.Exec(tensors.FromFlatDataAndDimensions(flatA, 2, 2), tensors.FromFlatDataAndDimensions(labels, 2)); err != nil {
				t.Fatal(err)
			}
			want, _, _ = NormalizedLRGDStep(want, a, y, gamma)
			got := ctx.GetVariable("theta").MustValue().Value().([]float64)
			for j := range got {
				if math.Abs(got[j]-want[j]) > 1e-9*math.Max(1, math.Abs(want[j])) {
					t.Errorf("γ=%g step %d: θ = %v, want %v", gamma, step+1, got, want)
					break
				}
			}
		}
	}
	// Without β recorded, UpdateGraph must fail with an explanation.
	ctx := context.New()
	ctx.VariableWithValue("theta", []float32{0, 0})
	exec, err := context.NewExec(backend.Must(), ctx, func(ctx *context.Context, x *Node) *Node {
		th := ctx.GetVariable("theta").ValueGraph(x.Graph())
		loss := ReduceAllSum(Mul(x, th))
		(&NormalizedGD{Gamma: 1}).UpdateGraph(ctx, x.Graph(), loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = exec.Exec(tensors.FromFlatDataAndDimensions([]float32{1, 2}, 2))
	if err == nil || !strings.Contains(err.Error(), "NormalizedLogisticLoss") {
		t.Errorf("UpdateGraph without β: err = %v, want one naming NormalizedLogisticLoss", err)
	}
}

// TestLinearPassesLarge checks the block-parallel passes over A (used when n·d ≥ 2¹⁶) against a
// row-by-row float64 reference written here, and that they give the same bits on 1 and on several
// goroutines.
func TestLinearPassesLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	a, y := separableData(rng, 1001, 97) // 97,097 entries: the parallel path; 1001 rows: uneven blocks
	theta := make([]float64, 97)
	for j := range theta {
		theta[j] = 0.3 * rng.NormFloat64()
	}
	// Reference: f, ∇f, margins and the three steps' directions, one row at a time.
	n := float64(len(a))
	wantF, wantG := 0.0, make([]float64, len(theta))
	wantM := make([]float64, len(a))
	perc := make([]float64, len(theta))
	for i, row := range a {
		for j, v := range row {
			wantM[i] += v * theta[j]
		}
		wantM[i] *= y[i]
		wantF += math.Log1p(math.Exp(-wantM[i])) / n
		s := 1 / (1 + math.Exp(wantM[i]))
		for j, v := range row {
			wantG[j] -= s * y[i] * v / n
			if wantM[i] <= 0 {
				perc[j] += y[i] * v / n
			}
		}
	}
	f, g, m, err := LogisticRiskMargins(theta, a, y)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f-wantF) > 1e-12 {
		t.Errorf("f = %.15g, reference %.15g", f, wantF)
	}
	checkNear(t, "margins", m, wantM, 1e-12)
	checkNear(t, "∇f", g, wantG, 1e-12)
	bp, err := BatchPerceptronStep(theta, a, y, false)
	if err != nil {
		t.Fatal(err)
	}
	step := make([]float64, len(bp))
	for j := range bp {
		step[j] = bp[j] - theta[j]
	}
	checkNear(t, "Batch Perceptron step", step, perc, 1e-12)
	// Same bits on one goroutine.
	prev := runtime.GOMAXPROCS(1)
	f1, g1, _, _ := LogisticRiskMargins(theta, a, y)
	n1, _, _ := NormalizedLRGDStep(theta, a, y, 3)
	runtime.GOMAXPROCS(max(prev, 4))
	f4, g4, _, _ := LogisticRiskMargins(theta, a, y)
	n4, _, _ := NormalizedLRGDStep(theta, a, y, 3)
	runtime.GOMAXPROCS(prev)
	if f1 != f4 {
		t.Errorf("f differs between 1 and %d goroutines: %v vs %v", max(prev, 4), f1, f4)
	}
	for j := range g1 {
		if g1[j] != g4[j] || n1[j] != n4[j] {
			t.Fatalf("results differ between 1 and several goroutines at %d", j)
		}
	}
}

// checkNear fails the test if some got[i] is farther than tol from want[i].
func checkNear(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= tol) {
			t.Errorf("%s[%d] = %.15g, want %.15g (tolerance %g)", what, i, got[i], want[i], tol)
			return
		}
	}
}
