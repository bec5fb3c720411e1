package attack

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
)

// ---- Plain-Go float64 references (no GoMLX). ----

// dense is one float64 dense layer: y = x·W + b, W [in][out].
type dense struct {
	W [][]float64
	B []float64
}

func (d dense) apply(x []float64) []float64 {
	out := append([]float64(nil), d.B...)
	for i, xi := range x {
		for j := range out {
			out[j] += xi * d.W[i][j]
		}
	}
	return out
}

// refMLP is a relu MLP in float64: layers[0..L-1], relu between them.
type refMLP []dense

func (m refMLP) logits(x []float64) []float64 {
	h := x
	for i, l := range m {
		h = l.apply(h)
		if i < len(m)-1 {
			for j := range h {
				h[j] = math.Max(h[j], 0)
			}
		}
	}
	return h
}

// refCE is cross-entropy logsumexp(h) − h_y in float64.
func refCE(h []float64, y int) float64 {
	mx := math.Inf(-1)
	for _, v := range h {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for _, v := range h {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s) - h[y]
}

func randDense(r *rand.Rand, in, out int, scale float64) dense {
	d := dense{W: make([][]float64, in), B: make([]float64, out)}
	for i := range d.W {
		d.W[i] = make([]float64, out)
		for j := range d.W[i] {
			d.W[i][j] = scale * r.NormFloat64()
		}
	}
	for j := range d.B {
		d.B[j] = 0.1 * r.NormFloat64()
	}
	return d
}

// newCtx returns a context holding the layers of m as "dense_i/weights" and "dense_i/biases" (float32),
// the variables models.Linear and models.MLP read.
func newCtx(m refMLP) *context.Context {
	ctx := context.New()
	for i, l := range m {
		w := make([][]float32, len(l.W))
		for r := range l.W {
			w[r] = make([]float32, len(l.W[r]))
			for c, v := range l.W[r] {
				w[r][c] = float32(v)
			}
		}
		b := make([]float32, len(l.B))
		for c, v := range l.B {
			b[c] = float32(v)
		}
		sc := ctx.Inf("dense_%d", i)
		sc.VariableWithValue(models.WeightsVar, w)
		sc.VariableWithValue(models.BiasesVar, b)
	}
	return ctx
}

// f32 rounds float64 values through float32, as the graph sees them.
func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func row(x []float32, i, d int) []float64 {
	out := make([]float64, d)
	for j := range out {
		out[j] = float64(x[i*d+j])
	}
	return out
}

// ---- Linear model: closed-form worst case. ----

// linearSetup is a 2-class linear model on D features with B examples in [0.02, 0.98] (some near the
// edges, so clipping to [0,1] binds) and mixed labels.
func linearSetup(t *testing.T) (model *models.Linear, ctx *context.Context, ref refMLP, x []float32, y []int32, d int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	d, b := 7, 6
	ref = refMLP{randDense(r, d, 2, 1)}
	xs := make([]float64, b*d)
	for i := range xs {
		xs[i] = 0.02 + 0.96*r.Float64()
	}
	xs[0], xs[d+1], xs[2*d+2] = 0.03, 0.97, 0.01
	y = []int32{0, 1, 1, 0, 1, 0}
	return &models.Linear{Classes: 2}, newCtx(ref), ref, f32(xs), y, d
}

// worstLInf is the exact maximiser of CE over the L∞ ball (and the box [lo,hi] when clip):
// δ_j = −ε·sign(w_{j,y} − w_{j,other}), clipped so x+δ stays in the box. The binary CE is increasing in the
// margin (h_other − h_y), which is linear and separable in x, so the box ∩ ball maximiser is coordinate-wise.
func worstLInf(ref refMLP, x []float64, y int, eps float64, clip *Range) []float64 {
	out := make([]float64, len(x))
	for j := range x {
		diff := ref[0].W[j][y] - ref[0].W[j][1-y]
		v := x[j] - eps*sign(diff)
		if clip != nil {
			v = math.Min(math.Max(v, clip.Min), clip.Max)
		}
		out[j] = v
	}
	return out
}

// worstL2 is the exact maximiser over the L2 ball: δ = −ε·(w_y − w_other)/‖w_y − w_other‖₂.
func worstL2(ref refMLP, x []float64, y int, eps float64) []float64 {
	diff := make([]float64, len(x))
	n := 0.0
	for j := range x {
		diff[j] = ref[0].W[j][y] - ref[0].W[j][1-y]
		n += diff[j] * diff[j]
	}
	n = math.Sqrt(n)
	out := make([]float64, len(x))
	for j := range x {
		out[j] = x[j] - eps*diff[j]/n
	}
	return out
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// checkBall fails if any adversarial example leaves the ball around x or the clip range.
func checkBall(t *testing.T, name string, res *Result, x []float32, d int, cfg Config) {
	t.Helper()
	for i := 0; i < len(x)/d; i++ {
		l2, linf := 0.0, 0.0
		for j := 0; j < d; j++ {
			a := float64(res.Adv[i*d+j])
			diff := a - float64(x[i*d+j])
			l2 += diff * diff
			linf = math.Max(linf, math.Abs(diff))
			if cfg.Clip != nil && (a < cfg.Clip.Min || a > cfg.Clip.Max) {
				t.Errorf("%s: example %d feature %d = %g is outside the clip range [%g, %g]", name, i, j, a, cfg.Clip.Min, cfg.Clip.Max)
			}
		}
		norm := linf
		if cfg.Norm == L2 {
			norm = math.Sqrt(l2)
		}
		if norm > cfg.Epsilon*(1+1e-5)+1e-6 {
			t.Errorf("%s: example %d has ‖δ‖_%s = %g > ε = %g", name, i, cfg.Norm, norm, cfg.Epsilon)
		}
	}
}

// checkAdvAgainst compares the adversarial inputs with the expected ones and the reported losses with
// the float64 reference CE at the returned inputs.
func checkAdvAgainst(t *testing.T, name string, res *Result, want [][]float64, ref refMLP, x []float32, y []int32, d int, tol float64) {
	t.Helper()
	for i := range y {
		got := row(res.Adv, i, d)
		for j := range got {
			if math.Abs(got[j]-want[i][j]) > tol {
				t.Errorf("%s: example %d feature %d: adversarial input %.7f, want %.7f (x = %.7f)", name, i, j, got[j], want[i][j], x[i*d+j])
			}
		}
		wantLoss := refCE(ref.logits(got), int(y[i]))
		if math.Abs(res.AdvLoss[i]-wantLoss) > 1e-4*(1+wantLoss) {
			t.Errorf("%s: example %d adversarial loss %g, float64 reference %g", name, i, res.AdvLoss[i], wantLoss)
		}
		cleanLoss := refCE(ref.logits(row(x, i, d)), int(y[i]))
		if math.Abs(res.CleanLoss[i]-cleanLoss) > 1e-4*(1+cleanLoss) {
			t.Errorf("%s: example %d clean loss %g, float64 reference %g", name, i, res.CleanLoss[i], cleanLoss)
		}
		if res.AdvLoss[i] < res.CleanLoss[i]-1e-5 {
			t.Errorf("%s: example %d: adversarial loss %g < clean loss %g", name, i, res.AdvLoss[i], res.CleanLoss[i])
		}
	}
}

func runAttack(t *testing.T, model models.Model, ctx *context.Context, cfg Config, x []float32, shape []int, y []int32) *Result {
	t.Helper()
	a, err := New(model, ctx, cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	res, err := a.Run(x, shape, y)
	if err != nil {
		t.Fatalf("Run(%+v): %v", cfg, err)
	}
	return res
}

func TestLinearLInfClosedForm(t *testing.T) {
	model, ctx, ref, x, y, d := linearSetup(t)
	const eps = 0.1
	for _, clip := range []*Range{nil, {0, 1}} {
		want := make([][]float64, len(y))
		for i := range y {
			want[i] = worstLInf(ref, row(x, i, d), int(y[i]), eps, clip)
		}
		cfgs := map[string]Config{"FGSM": FGSM(LInf, eps), "PGD-10": PGD(LInf, eps, 10), "PGD-3-best": PGD(LInf, eps, 3)}
		for name, cfg := range cfgs {
			cfg.Clip, cfg.Seed = clip, 5
			if name == "PGD-3-best" {
				cfg.KeepBest = true
				cfg.StepSize = eps
			}
			if clip != nil {
				name += "-clip"
			}
			res := runAttack(t, model, ctx, cfg, x, []int{d}, y)
			checkBall(t, name, res, x, d, cfg)
			checkAdvAgainst(t, name, res, want, ref, x, y, d, 2e-6)
		}
	}
}

func TestLinearL2ClosedForm(t *testing.T) {
	model, ctx, ref, x, y, d := linearSetup(t)
	const eps = 0.3
	want := make([][]float64, len(y))
	for i := range y {
		want[i] = worstL2(ref, row(x, i, d), int(y[i]), eps)
	}
	// FGSM (fast gradient method) and PGD from x step along the constant gradient direction: exact.
	fgm := FGSM(L2, eps)
	res := runAttack(t, model, ctx, fgm, x, []int{d}, y)
	checkBall(t, "FGM-l2", res, x, d, fgm)
	checkAdvAgainst(t, "FGM-l2", res, want, ref, x, y, d, 2e-6)

	pgd := PGD(L2, eps, 10)
	pgd.RandomStart = false
	res = runAttack(t, model, ctx, pgd, x, []int{d}, y)
	checkBall(t, "PGD-l2", res, x, d, pgd)
	checkAdvAgainst(t, "PGD-l2", res, want, ref, x, y, d, 2e-6)

	// From a random start the projection converges to the optimum geometrically.
	pgd = PGD(L2, eps, 40)
	pgd.StepSize, pgd.Seed = eps, 11
	res = runAttack(t, model, ctx, pgd, x, []int{d}, y)
	checkBall(t, "PGD-l2-random", res, x, d, pgd)
	checkAdvAgainst(t, "PGD-l2-random", res, want, ref, x, y, d, 1e-4)

	// With the box [0,1] the optimum is not closed-form; the result must stay in the box and the ball.
	pgd.Clip = &Range{0, 1}
	res = runAttack(t, model, ctx, pgd, x, []int{d}, y)
	checkBall(t, "PGD-l2-clip", res, x, d, pgd)
}

// ---- A small random MLP. ----

func mlpSetup() (model *models.MLP, ctx *context.Context, ref refMLP, x []float32, y []int32, d int) {
	r := rand.New(rand.NewPCG(3, 4))
	d, b, k := 8, 16, 3
	ref = refMLP{randDense(r, d, 12, 0.8), randDense(r, 12, k, 0.8)}
	xs := make([]float64, b*d)
	for i := range xs {
		xs[i] = r.Float64()
	}
	y = make([]int32, b)
	for i := range y {
		y[i] = int32(r.IntN(k))
	}
	return models.NewMLP(k, 12), newCtx(ref), ref, f32(xs), y, d
}

func TestMLPLossOrder(t *testing.T) {
	model, ctx, ref, x, y, d := mlpSetup()
	const eps = 0.1
	fgsm := FGSM(LInf, eps)
	fr := runAttack(t, model, ctx, fgsm, x, []int{d}, y)
	checkBall(t, "FGSM", fr, x, d, fgsm)

	// FGSM against a float64 reference: x + ε·sign(∇ₓℓ), the gradient by central finite differences.
	const h = 1e-6
	for i := range y {
		xi := row(x, i, d)
		for j := 0; j < d; j++ {
			xp := append([]float64(nil), xi...)
			xm := append([]float64(nil), xi...)
			xp[j] += h
			xm[j] -= h
			g := (refCE(ref.logits(xp), int(y[i])) - refCE(ref.logits(xm), int(y[i]))) / (2 * h)
			if math.Abs(g) < 1e-4 {
				continue // sign not reliable in float32
			}
			want := xi[j] + eps*sign(g)
			if got := float64(fr.Adv[i*d+j]); math.Abs(got-want) > 2e-6 {
				t.Errorf("FGSM example %d feature %d: got %.7f, want x + ε·sign(∂ℓ/∂x) = %.7f (∂ℓ/∂x ≈ %g)", i, j, got, want, g)
			}
		}
	}

	pgd := PGD(LInf, eps, 20)
	pgd.Seed = 1
	pr := runAttack(t, model, ctx, pgd, x, []int{d}, y)
	checkBall(t, "PGD", pr, x, d, pgd)

	best := pgd
	best.KeepBest, best.RandomStart = true, false
	br := runAttack(t, model, ctx, best, x, []int{d}, y)
	checkBall(t, "PGD-best", br, x, d, best)

	// Reported losses match the float64 reference at the returned inputs.
	for name, res := range map[string]*Result{"FGSM": fr, "PGD": pr, "PGD-best": br} {
		for i := range y {
			want := refCE(ref.logits(row(res.Adv, i, d)), int(y[i]))
			if math.Abs(res.AdvLoss[i]-want) > 1e-4*(1+want) {
				t.Errorf("%s example %d: adversarial loss %g, float64 reference %g", name, i, res.AdvLoss[i], want)
			}
			// KeepBest from x never ends below the clean loss.
			if name == "PGD-best" && res.AdvLoss[i] < res.CleanLoss[i] {
				t.Errorf("PGD-best example %d: loss %g below clean %g", i, res.AdvLoss[i], res.CleanLoss[i])
			}
		}
	}
	if !(pr.MeanAdvLoss >= fr.MeanAdvLoss && fr.MeanAdvLoss > fr.MeanCleanLoss) {
		t.Errorf("want PGD loss ≥ FGSM loss > clean loss, got PGD %g, FGSM %g, clean %g", pr.MeanAdvLoss, fr.MeanAdvLoss, fr.MeanCleanLoss)
	}
	if br.MeanAdvLoss < fr.MeanAdvLoss {
		t.Errorf("PGD with KeepBest loss %g < FGSM loss %g", br.MeanAdvLoss, fr.MeanAdvLoss)
	}
	if pr.MeanCleanLoss != fr.MeanCleanLoss {
		t.Errorf("clean loss differs between attacks: %g vs %g", pr.MeanCleanLoss, fr.MeanCleanLoss)
	}
}

func TestOtherObjective(t *testing.T) {
	model, ctx, _, x, y, d := mlpSetup()
	cfg := PGD(L2, 0.5, 5)
	cfg.Objective, cfg.Params, cfg.RandomStart, cfg.KeepBest = "hinge", losses.Params{"margin": 2}, false, true
	res := runAttack(t, model, ctx, cfg, x, []int{d}, y)
	checkBall(t, "hinge", res, x, d, cfg)
	for i := range y {
		if res.AdvLoss[i] < res.CleanLoss[i] {
			t.Errorf("hinge example %d: adversarial loss %g < clean %g", i, res.AdvLoss[i], res.CleanLoss[i])
		}
	}
	if res.MeanAdvLoss <= res.MeanCleanLoss {
		t.Errorf("hinge: attack did not raise the loss: %g → %g", res.MeanCleanLoss, res.MeanAdvLoss)
	}
}

func TestDeterminism(t *testing.T) {
	model, ctx, _, x, y, d := mlpSetup()
	for _, norm := range []Norm{LInf, L2} {
		cfg := PGD(norm, 0.2, 3)
		cfg.Seed = 7
		a := runAttack(t, model, ctx, cfg, x, []int{d}, y)
		b := runAttack(t, model, ctx, cfg, x, []int{d}, y)
		for i := range a.Adv {
			if a.Adv[i] != b.Adv[i] {
				t.Fatalf("%s: same seed, different results at %d: %g vs %g", norm, i, a.Adv[i], b.Adv[i])
			}
		}
		cfg.Seed = 8
		c := runAttack(t, model, ctx, cfg, x, []int{d}, y)
		same := true
		for i := range a.Adv {
			same = same && a.Adv[i] == c.Adv[i]
		}
		if same {
			t.Errorf("%s: seeds 7 and 8 gave identical random starts", norm)
		}
	}
}

func TestCompileCache(t *testing.T) {
	model, ctx, _, x, y, d := mlpSetup()
	cfg := PGD(LInf, 0.1, 4)
	a, err := Cached(model, ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := a.Run(x, []int{d}, y); err != nil {
			t.Fatal(err)
		}
	}
	if a.Compiles() != 1 {
		t.Errorf("3 runs of one shape compiled %d graphs, want 1", a.Compiles())
	}
	// Another ε and seed share the graph.
	cfg2 := cfg
	cfg2.Epsilon, cfg2.Seed = 0.3, 9
	b, err := Cached(model, ctx, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Run(x, []int{d}, y)
	if err != nil {
		t.Fatal(err)
	}
	if b.Compiles() != 1 {
		t.Errorf("a new ε recompiled: %d compiles", b.Compiles())
	}
	checkBall(t, "cached ε=0.3", rb, x, d, cfg2)
	// A new batch size is a new shape.
	if _, err := b.Run(x[:4*d], []int{d}, y[:4]); err != nil {
		t.Fatal(err)
	}
	if b.Compiles() != 2 {
		t.Errorf("a new batch size: %d compiles, want 2", b.Compiles())
	}
}

func TestRobustAccuracy(t *testing.T) {
	model, ctx, ref, _, _, d := mlpSetup()
	r := rand.New(rand.NewPCG(9, 9))
	n := 37
	set := &data.Set{Name: "toy", Shape: []int{d}, Classes: 3, X: make([]float32, n*d), Y: make([]int32, n), IDs: make([]int32, n)}
	for i := range set.X {
		set.X[i] = r.Float32()
	}
	wantClean := 0
	for i := range set.Y {
		set.IDs[i] = int32(i)
		h := ref.logits(row(set.X, i, d))
		best := 0
		for k := range h {
			if h[k] > h[best] {
				best = k
			}
		}
		// Labels: the predicted class for 2/3 of the examples, another one for the rest.
		set.Y[i] = int32(best)
		if i%3 == 0 {
			set.Y[i] = int32((best + 1) % 3)
		} else {
			wantClean++
		}
	}
	cfg := PGD(LInf, 0.15, 5)
	cfg.BatchSize, cfg.Clip = 10, &Range{0, 1}
	before := TotalCompiles()
	clean, robust, err := RobustAccuracy(model, ctx, set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(wantClean) / float64(n); math.Abs(clean-want) > 1e-12 {
		t.Errorf("clean accuracy %g, want %g", clean, want)
	}
	if robust >= clean { // An ε of 0.15 flips some of this random MLP's predictions.
		t.Errorf("robust accuracy %g, want < clean %g", robust, clean)
	}
	if c := TotalCompiles() - before; c != 1 {
		t.Errorf("4 batches (one partial, padded) compiled %d graphs, want 1", c)
	}
	// Same result per batch by hand, with the per-batch seeds.
	a, _ := Cached(model, ctx, cfg)
	nRobust := 0
	for i := 0; i*10 < n; i++ {
		lo, hi := i*10, min(i*10+10, n)
		res, err := a.run(set.X[lo*d:hi*d], set.Shape, set.Y[lo:hi], cfg.Seed+int64(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, ok := range res.RobustCorrect {
			if ok {
				nRobust++
			}
		}
	}
	if got := float64(nRobust) / float64(n); got != robust {
		t.Errorf("RobustAccuracy %g, batch by batch %g", robust, got)
	}
	// ε = 0 changes nothing.
	cfg.Epsilon = 0
	clean0, robust0, err := RobustAccuracy(model, ctx, set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if clean0 != clean || robust0 != clean {
		t.Errorf("ε=0: clean %g robust %g, want both %g", clean0, robust0, clean)
	}
}

func TestBadConfigs(t *testing.T) {
	model, ctx, _, x, y, d := mlpSetup()
	var otherKind string
	for _, o := range losses.All() {
		if o.Kind != losses.Classification {
			otherKind = o.Name
			break
		}
	}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative epsilon", Config{Epsilon: -0.1, Steps: 1}, "epsilon"},
		{"NaN epsilon", Config{Epsilon: math.NaN(), Steps: 1}, "epsilon"},
		{"zero steps", Config{Epsilon: 0.1}, "steps"},
		{"unknown norm", Config{Norm: "l1", Epsilon: 0.1, Steps: 1}, "unknown norm"},
		{"negative step size", Config{Epsilon: 0.1, Steps: 1, StepSize: -1}, "step size"},
		{"empty clip", Config{Epsilon: 0.1, Steps: 1, Clip: &Range{1, 0}}, "clip range"},
		{"unknown objective", Config{Epsilon: 0.1, Steps: 1, Objective: "cee"}, "unknown objective"},
		{"bad hyperparameter", Config{Epsilon: 0.1, Steps: 1, Objective: "hinge", Params: losses.Params{"margin": -1}}, "margin"},
		{"unknown hyperparameter", Config{Epsilon: 0.1, Steps: 1, Params: losses.Params{"tau": 1}}, "tau"},
	}
	if otherKind != "" {
		cases = append(cases, struct {
			name string
			cfg  Config
			want string
		}{"non-classification objective", Config{Epsilon: 0.1, Steps: 1, Objective: otherKind}, "classification"})
	}
	if o, err := losses.Lookup("ca-calib"); err == nil && !o.PerExample {
		cases = append(cases, struct {
			name string
			cfg  Config
			want string
		}{"KeepBest with a batch loss", Config{Epsilon: 0.1, Steps: 1, Objective: "ca-calib", KeepBest: true}, "KeepBest"})
	}
	for _, c := range cases {
		_, err := New(model, ctx, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
		set := &data.Set{Name: "s", Shape: []int{d}, Classes: 3, X: x, Y: y, IDs: make([]int32, len(y))}
		if _, _, err := RobustAccuracy(model, ctx, set, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RobustAccuracy %s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
	}

	a, err := New(model, ctx, FGSM(LInf, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(x[:len(x)-1], []int{d}, y); err == nil || !strings.Contains(err.Error(), "input values") {
		t.Errorf("wrong input length: got %v", err)
	}
	bad := append([]int32(nil), y...)
	bad[3] = 3
	if _, err := a.Run(x, []int{d}, bad); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("label ≥ K: got %v", err)
	}
	if _, err := a.Run(x, []int{d / 2}, make([]int32, 2*len(y))); err == nil {
		t.Errorf("input that does not fit the model: want an error")
	} else if strings.Contains(err.Error(), "goroutine") {
		t.Errorf("error carries a stack trace: %v", err)
	}
}
