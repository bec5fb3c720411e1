package losses

import (
	"math"
	"math/rand"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestDVERGEReference(t *testing.T) {
	in := map[string]Arr{
		"logits": Mat([]float64{1.5, -0.3, 0.2}, []float64{-0.8, 0.4, 1.1}, []float64{0.1, 0.2, -1.3},
			[]float64{2.2, -1.0, 0.6}, []float64{0.3, 0.9, -0.2}, []float64{-1.1, 0.5, 0.7}),
		"labels": Vec(0, 2, 1, 0, 2, 1),
	}
	ref := func(in map[string]Arr, p Params) (float64, []float64) {
		others := int(p["members"]) - 1
		n := in["logits"].Shape[0]
		per := make([]float64, n)
		if others == 0 {
			return 0, per
		}
		// Σ over the M−1 blocks of the block's mean CE, written block by block.
		bs := n / others
		loss := 0.0
		for j := range others {
			block := 0.0
			for b := range bs {
				i := j*bs + b
				block += refCE(in["logits"].Row(i), in["labels"].Int(i))
				per[i] = float64(others) * refCE(in["logits"].Row(i), in["labels"].Int(i))
			}
			loss += block / float64(bs)
		}
		return loss, per
	}
	for _, m := range []float64{1, 2, 3, 4, 7} {
		CheckObjective(t, "dverge", in, Params{"members": m}, ref)
	}
	CheckFinite(t, "dverge", map[string]Arr{"logits": in["logits"].Scaled(1e4), "labels": in["labels"]}, nil)
	if _, err := Evaluate("dverge", ToTensors(t, "dverge", in, 32), Params{"members": 5}); err == nil {
		t.Error("6 rows accepted as 4 equal blocks")
	}
	// Property 3: M = 1 gives 0.
	if l := EvalArr(t, "dverge", in, Params{"members": 1}, 64).Loss; l != 0 {
		t.Errorf("M = 1: loss %g, want 0", l)
	}
}

// dvergeLinear is the spec's feature map f(z) = W z with W = [[1,0],[0,1],[1,1]], on rows: z·Wᵀ.
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
func refDVERGEDistill(w, xs, xt [][]float64, cfg DVERGEDistillConfig) [][]float64 {
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

func dvergeRun(t *testing.T, w, xs, xt [][]float64, cfg DVERGEDistillConfig) (z []float64, mse float64) {
	t.Helper()
	out := runGraph(t, func(s, tg *Node) []*Node {
		f := dvergeLinear(w)
		z := DVERGEDistill(f, s, tg, cfg)
		return []*Node{z, FeatureDistillMSE(f(z), f(tg))}
	}, tensors.FromValue(xs), tensors.FromValue(xt))
	return out[0], out[1][0]
}

// Property 5: the spec's worked example, step by step, and the solver against the float64 reference.
func TestDVERGEDistillWorkedExample(t *testing.T) {
	w := [][]float64{{1, 0}, {0, 1}, {1, 1}}
	xs, xt := [][]float64{{0.5, 0.5}}, [][]float64{{1.0, 0.2}}
	cfg := DefaultDVERGEDistillConfig()
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
	cfg = DVERGEDistillConfig{Epsilon: 0.2, StepSize: 0.03, Steps: 7, Momentum: 0.5}
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
	run := func(cfg DVERGEDistillConfig) []float64 {
		return runGraph(t, func(s, tg *Node) *Node { return DVERGEDistill(member, s, tg, cfg) },
			tensors.FromValue(xs), tensors.FromValue(xt))[0]
	}
	for _, cfg := range []DVERGEDistillConfig{DefaultDVERGEDistillConfig(), {Epsilon: 0.05, StepSize: 0.02, Steps: 12, Momentum: 1}} {
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
	cfg := DefaultDVERGEDistillConfig()
	cfg.Epsilon = 0
	for i, v := range run(cfg) {
		if v != xs[i/d][i%d] {
			t.Errorf("ε = 0: z[%d] = %g, want the source %g", i, v, xs[i/d][i%d])
		}
	}
	// One step of α = 0.004 < ε from a source away from the box edges moves each coordinate by α.
	mid := mk(bsz, d, func() float64 { return 0.2 + 0.6*rng.Float64() })
	one := DVERGEDistillConfig{Epsilon: 0.07, StepSize: 0.004, Steps: 1, Momentum: 1}
	z := runGraph(t, func(s, tg *Node) *Node { return DVERGEDistill(member, s, tg, one) },
		tensors.FromValue(mid), tensors.FromValue(xt))[0]
	for i, v := range z {
		if math.Abs(math.Abs(v-mid[i/d][i%d])-0.004) > 1e-12 {
			t.Errorf("one step: |z − x_s|[%d] = %g, want α = 0.004", i, math.Abs(v-mid[i/d][i%d]))
		}
	}
	g := [][]float64{{1, -2, 0.5}, {0, 0, 0}, {-3, 1e-3, 4}}
	norm := runGraph(t, func(g *Node) *Node { return ReduceSum(Abs(dvergeL1Normalize(g)), -1) }, tensors.FromValue(g))[0]
	for b, want := range []float64{1, 0, 1} {
		if math.Abs(norm[b]-want) > 1e-12 {
			t.Errorf("‖ĝ_%d‖₁ = %g, want %g", b, norm[b], want)
		}
	}
}

// DVERGELoss, DVERGEDiversity and DVERGEEnsembleLogProbs against the reference; properties 6 and 7.
func TestDVERGELossAndEnsemble(t *testing.T) {
	z1 := [][]float64{{1.5, -0.3, 0.2}, {-0.8, 0.4, 1.1}}
	z2 := [][]float64{{0.1, 0.2, -1.3}, {2.2, -1.0, 0.6}}
	za := [][]float64{{0.3, 0.9, -0.2}, {-1.1, 0.5, 0.7}}
	y := []int32{0, 2}
	meanCE := func(z [][]float64) float64 { return (refCE(z[0], int(y[0])) + refCE(z[1], int(y[1]))) / 2 }
	out := runGraph(t, func(a, b, adv, y *Node) []*Node {
		return []*Node{
			DVERGELoss([]*Node{a, b}, y, nil, 1),
			DVERGELoss([]*Node{a, b}, y, adv, 0.4),
			DVERGELoss(nil, y, adv, 1),
			DVERGEDiversity(a, b, y),
			DVERGEEnsembleLogProbs([]*Node{a, b, adv}),
			DVERGEEnsembleLogProbs([]*Node{a, a}),
			LogSoftmax(a, -1),
		}
	}, tensors.FromValue(z1), tensors.FromValue(z2), tensors.FromValue(za), tensors.FromValue(y))
	for i, want := range []float64{meanCE(z1) + meanCE(z2), 0.4*(meanCE(z1)+meanCE(z2)) + meanCE(za), meanCE(za), (meanCE(z1) + meanCE(z2)) / 2} {
		if math.Abs(out[i][0]-want) > 1e-12 {
			t.Errorf("output %d = %g, reference %g", i, out[i][0], want)
		}
	}
	for b := range 2 {
		p1, p2, pa := RefSoftmax(z1[b]), RefSoftmax(z2[b]), RefSoftmax(za[b])
		for k := range 3 {
			want := math.Log((p1[k] + p2[k] + pa[k]) / 3)
			if got := out[4][b*3+k]; math.Abs(got-want) > 1e-12 {
				t.Errorf("ensemble log p[%d][%d] = %g, reference %g", b, k, got, want)
			}
			// 6: members that agree give their own log-softmax.
			if math.Abs(out[5][b*3+k]-out[6][b*3+k]) > 1e-12 {
				t.Errorf("agreeing members: %g vs log-softmax %g", out[5][b*3+k], out[6][b*3+k])
			}
		}
	}
	// 7: gradient routing. Two linear members; member i trains on member j's distilled images: L_i sends
	// no gradient to W_j, and some to W_i.
	xs := [][]float64{{0.2, 0.7, 0.4}, {0.9, 0.1, 0.5}}
	xt := [][]float64{{0.6, 0.3, 0.8}, {0.1, 0.4, 0.2}}
	wi := [][]float64{{0.5, -0.2, 1.0}, {0.3, 0.8, -0.6}, {-0.7, 0.1, 0.4}}
	wj := [][]float64{{-0.4, 0.9, 0.2}, {0.6, -0.5, 0.3}, {0.2, 0.7, -0.8}}
	grads := runGraph(t, func(s, tg, wi, wj, y *Node) []*Node {
		xj := DVERGEDistill(func(z *Node) *Node { return MatMul(z, wj) }, s, tg, DefaultDVERGEDistillConfig())
		li := DVERGELoss([]*Node{MatMul(xj, wi)}, y, nil, 1)
		return Gradient(li, wi, wj)
	}, tensors.FromValue(xs), tensors.FromValue(xt), tensors.FromValue(wi), tensors.FromValue(wj), tensors.FromValue(y))
	nonzero := false
	for _, g := range grads[0] {
		nonzero = nonzero || g != 0
	}
	if !nonzero {
		t.Error("L_i gives no gradient to its own member")
	}
	for k, g := range grads[1] {
		if g != 0 {
			t.Errorf("dL_i/dW_j[%d] = %g, want 0 (distilled images are constants)", k, g)
		}
	}
}
