package dverge

import (
	"math"
	"math/rand"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/internal/graphtest"
)

// dvergeLinear is the worked example's feature map f(z) = W z with W = [[1,0],[0,1],[1,1]], on rows: z·Wᵀ.
func dvergeLinear(w [][]float64) func(z *Node) *Node {
	return func(z *Node) *Node {
		wt := make([][]float64, len(w[0]))
		for i := range wt {
			wt[i] = make([]float64, len(w))
			for j := range w {
				wt[i][j] = w[j][i]
			}
		}
		return MatMul(z, ConvertDType(Const(z.Graph(), wt), z.DType()))
	}
}

// refDVERGEDistill is the solver in plain float64 for a linear feature map (analytic gradient).
func refDVERGEDistill(w, xs, xt [][]float64, cfg DistillConfig) [][]float64 {
	bsz, d, f := len(xs), len(xs[0]), len(w)
	z := make([][]float64, bsz)
	m := make([][]float64, bsz)
	for b := range z {
		z[b] = append([]float64(nil), xs[b]...)
		m[b] = make([]float64, d)
	}
	feat := func(x []float64) []float64 {
		out := make([]float64, f)
		for i := range w {
			for j := range x {
				out[i] += w[i][j] * x[j]
			}
		}
		return out
	}
	for range cfg.Steps {
		for b := range z {
			fz, ft := feat(z[b]), feat(xt[b])
			g := make([]float64, d)
			l1 := 0.0
			for j := range g {
				for i := range w {
					g[j] += 2 / float64(bsz*f) * (fz[i] - ft[i]) * w[i][j]
				}
				l1 += math.Abs(g[j])
			}
			for j := range g {
				m[b][j] = cfg.Momentum*m[b][j] + g[j]/math.Max(l1, 1e-12)
				step := 0.0
				if m[b][j] > 0 {
					step = cfg.StepSize
				} else if m[b][j] < 0 {
					step = -cfg.StepSize
				}
				v := math.Min(math.Max(z[b][j]-step, xs[b][j]-cfg.Epsilon), xs[b][j]+cfg.Epsilon)
				z[b][j] = math.Min(math.Max(v, 0), 1)
			}
		}
	}
	return z
}

func dvergeRun(t *testing.T, w, xs, xt [][]float64, cfg DistillConfig) (z []float64, mse float64) {
	t.Helper()
	out := graphtest.Run(t, func(s, tg *Node) []*Node {
		f := dvergeLinear(w)
		z := Distill(f, s, tg, cfg)
		return []*Node{z, FeatureMSE(f(z), f(tg))}
	}, tensors.FromValue(xs), tensors.FromValue(xt))
	return out[0], out[1][0]
}

// Property 5: the worked example, step by step, and the solver against the float64 reference.
func TestDVERGEDistillWorkedExample(t *testing.T) {
	w := [][]float64{{1, 0}, {0, 1}, {1, 1}}
	xs, xt := [][]float64{{0.5, 0.5}}, [][]float64{{1.0, 0.2}}
	cfg := DefaultDistillConfig()
	prev := math.Inf(1)
	for steps := 0; steps <= 10; steps++ {
		cfg.Steps = steps
		z, mse := dvergeRun(t, w, xs, xt, cfg)
		if mse >= prev {
			t.Errorf("step %d: feature loss %g did not decrease (previous %g)", steps, mse, prev)
		}
		prev = mse
		want := refDVERGEDistill(w, xs, xt, cfg)[0]
		if math.Abs(z[0]-want[0]) > 1e-12 || math.Abs(z[1]-want[1]) > 1e-12 {
			t.Errorf("step %d: z = %v, reference %v", steps, z, want)
		}
		switch steps {
		case 0:
			if math.Abs(mse-0.126667) > 1e-6 {
				t.Errorf("initial feature loss %.6f, want 0.126667", mse)
			}
		case 1:
			if math.Abs(z[0]-0.507) > 1e-12 || math.Abs(z[1]-0.493) > 1e-12 || math.Abs(mse-0.122966) > 1e-6 {
				t.Errorf("after 1 step: z = %v, loss %.6f; want (0.507, 0.493), 0.122966", z, mse)
			}
		case 10:
			if math.Abs(z[0]-0.57) > 1e-12 || math.Abs(z[1]-0.43) > 1e-12 || math.Abs(mse-0.0926) > 5e-5 {
				t.Errorf("after 10 steps: z = %v, loss %.6f; want (0.57, 0.43), 0.0926", z, mse)
			}
		}
	}
	// A random 4×3 map, batch of 3, momentum ½, a step size that reaches the [0,1] box: graph vs reference.
	rng := rand.New(rand.NewSource(5))
	w4 := make([][]float64, 4)
	for i := range w4 {
		w4[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	}
	xs3 := [][]float64{{0.05, 0.5, 0.97}, {0.3, 0.6, 0.1}, {0.9, 0.02, 0.4}}
	xt3 := [][]float64{{0.8, 0.1, 0.3}, {0.2, 0.9, 0.7}, {0.1, 0.5, 0.5}}
	cfg = DistillConfig{Epsilon: 0.2, StepSize: 0.03, Steps: 7, Momentum: 0.5}
	z, _ := dvergeRun(t, w4, xs3, xt3, cfg)
	want := refDVERGEDistill(w4, xs3, xt3, cfg)
	for b := range want {
		for j := range want[b] {
			if math.Abs(z[b*3+j]-want[b][j]) > 1e-12 {
				t.Errorf("z[%d][%d] = %g, reference %g", b, j, z[b*3+j], want[b][j])
			}
		}
	}
}

// Properties 1, 2 and 4: feasibility for a non-linear member, ε = 0 keeps the source, the normalised
// gradient has unit L1 norm and the first sign step moves every coordinate by exactly α.
func TestDVERGEDistillProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	const bsz, d, h = 4, 6, 5
	mk := func(rows, cols int, f func() float64) [][]float64 {
		out := make([][]float64, rows)
		for i := range out {
			out[i] = make([]float64, cols)
			for j := range out[i] {
				out[i][j] = f()
			}
		}
		return out
	}
	w := mk(d, h, rng.NormFloat64)
	xs := mk(bsz, d, rng.Float64)
	xs[0][0], xs[1][1], xs[2][2] = 0, 1, 0.01 // on and near the box edges
	xt := mk(bsz, d, rng.Float64)
	member := func(z *Node) *Node { return Tanh(MatMul(z, ConvertDType(Const(z.Graph(), w), z.DType()))) }
	run := func(cfg DistillConfig) []float64 {
		return graphtest.Run(t, func(s, tg *Node) *Node { return Distill(member, s, tg, cfg) },
			tensors.FromValue(xs), tensors.FromValue(xt))[0]
	}
	for _, cfg := range []DistillConfig{DefaultDistillConfig(), {Epsilon: 0.05, StepSize: 0.02, Steps: 12, Momentum: 1}} {
		z := run(cfg)
		for b := range bsz {
			for j := range d {
				v := z[b*d+j]
				if v < 0 || v > 1 || math.Abs(v-xs[b][j]) > cfg.Epsilon+1e-7 {
					t.Errorf("ε=%g: z[%d][%d] = %g is infeasible (source %g)", cfg.Epsilon, b, j, v, xs[b][j])
				}
			}
		}
	}
	cfg := DefaultDistillConfig()
	cfg.Epsilon = 0
	for i, v := range run(cfg) {
		if v != xs[i/d][i%d] {
			t.Errorf("ε = 0: z[%d] = %g, want the source %g", i, v, xs[i/d][i%d])
		}
	}
	// One step of α = 0.004 < ε from a source away from the box edges moves each coordinate by α.
	mid := mk(bsz, d, func() float64 { return 0.2 + 0.6*rng.Float64() })
	one := DistillConfig{Epsilon: 0.07, StepSize: 0.004, Steps: 1, Momentum: 1}
	z := graphtest.Run(t, func(s, tg *Node) *Node { return Distill(member, s, tg, one) },
		tensors.FromValue(mid), tensors.FromValue(xt))[0]
	for i, v := range z {
		if math.Abs(math.Abs(v-mid[i/d][i%d])-0.004) > 1e-12 {
			t.Errorf("one step: |z − x_s|[%d] = %g, want α = 0.004", i, math.Abs(v-mid[i/d][i%d]))
		}
	}
	g := [][]float64{{1, -2, 0.5}, {0, 0, 0}, {-3, 1e-3, 4}}
	norm := graphtest.Run(t, func(g *Node) *Node { return ReduceSum(Abs(l1Normalize(g)), -1) }, tensors.FromValue(g))[0]
	for b, want := range []float64{1, 0, 1} {
		if math.Abs(norm[b]-want) > 1e-12 {
			t.Errorf("‖ĝ_%d‖₁ = %g, want %g", b, norm[b], want)
		}
	}
}
