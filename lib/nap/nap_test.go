package nap

import (
	"math"
	"slices"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/train"
)

// refNet is an independent float64 forward pass of MLP on a flat parameter vector in the model's layout.
type refNet struct {
	m      *MLP
	names  []string
	shapes [][]int
}

func (r refNet) tensors(params []float32) map[string][]float64 {
	out := map[string][]float64{}
	pos := 0
	for i, n := range r.names {
		size := 1
		for _, d := range r.shapes[i] {
			size *= d
		}
		v := make([]float64, size)
		for j := range v {
			v[j] = float64(params[pos+j])
		}
		out[n] = v
		pos += size
	}
	return out
}

// logits returns the [B][K] logits of x (B examples of dimension d).
func (r refNet) logits(params []float32, x []float32, d int) [][]float64 {
	return r.logitsOf(r.tensors(params), x, d)
}

func (r refNet) logitsOf(p map[string][]float64, x []float32, d int) [][]float64 {
	eps := r.m.eps()
	var out [][]float64
	for b := 0; b < len(x)/d; b++ {
		h := make([]float64, d)
		for j := range h {
			h[j] = float64(x[b*d+j])
		}
		widths := append(slices.Clone(r.m.Hidden), r.m.Classes)
		for l, w := range widths {
			W := p[denseName(l, "weights")]
			z := make([]float64, w)
			for o := range z {
				for i, hi := range h {
					z[o] += hi * W[i*w+o]
				}
			}
			if bias, ok := p[denseName(l, "biases")]; ok {
				for o := range z {
					z[o] += bias[o]
				}
			}
			if l == len(r.m.Hidden) {
				h = z
				break
			}
			if r.m.Norm {
				g, beta := p[normName(l, "gain")], p[normName(l, "offset")]
				mean, vr := 0.0, 0.0
				for _, v := range z {
					mean += v / float64(w)
				}
				for _, v := range z {
					vr += (v - mean) * (v - mean) / float64(w)
				}
				for o := range z {
					z[o] = g[o]*(z[o]-mean)/math.Sqrt(vr+eps) + beta[o]
				}
			}
			for o := range z {
				z[o] = math.Max(z[o], 0)
			}
			h = z
		}
		out = append(out, h)
	}
	return out
}

func denseName(l int, v string) string { return "/dense_" + itoa(l) + "/" + v }
func normName(l int, v string) string  { return "/layernorm_" + itoa(l) + "/" + v }
func itoa(i int) string                { return string(rune('0' + i)) }

func meanCE(logits [][]float64, y []int32) float64 {
	s := 0.0
	for b, z := range logits {
		m := slices.Max(z)
		lse := 0.0
		for _, v := range z {
			lse += math.Exp(v - m)
		}
		s += m + math.Log(lse) - z[y[b]]
	}
	return s / float64(len(logits))
}

func blobs(t *testing.T, n, dim, k int) *data.Set {
	t.Helper()
	s, err := data.Blobs(data.BlobsConfig{N: n, Classes: k, Dim: dim, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newNet(t *testing.T, m *MLP, set *data.Set) (*train.FlatModel, refNet) {
	t.Helper()
	f, err := train.NewFlatModel(m, set, 3)
	if err != nil {
		t.Fatal(err)
	}
	names, shapes := f.Layout()
	return f, refNet{m: m, names: names, shapes: shapes}
}

// perturbed returns init with every value moved a little (so LayerNorm's gain and offset are not the
// trivial 1 and 0).
func perturbed(v []float32) []float32 {
	out := slices.Clone(v)
	s := uint64(1)
	for i := range out {
		s = s*6364136223846793005 + 1442695040888963407
		out[i] += float32(int64(s>>41)%1000) / 5000
	}
	return out
}

func scaleRange(v []float32, r [2]int, c float32) []float32 {
	out := slices.Clone(v)
	for i := r[0]; i < r[1]; i++ {
		out[i] *= c
	}
	return out
}

func rangeOf(t *testing.T, f *train.FlatModel, name string) [2]int {
	names, shapes := f.Layout()
	pos := 0
	for i, n := range names {
		size := 1
		for _, d := range shapes[i] {
			size *= d
		}
		if n == name {
			return [2]int{pos, pos + size}
		}
		pos += size
	}
	t.Fatalf("no parameter %s in %v", name, names)
	return [2]int{}
}

// TestModelMatchesReference: the GoMLX model's loss equals the float64 reference (plain and normalised
// variants), and the normalised variant has no hidden biases.
func TestModelMatchesReference(t *testing.T) {
	set := blobs(t, 40, 5, 3)
	for _, m := range []*MLP{{Hidden: []int{8, 8}, Classes: 3}, {Hidden: []int{8, 8}, Classes: 3, Norm: true}, {Hidden: []int{8, 8}, Classes: 3, Norm: true, Eps: -1}} {
		f, ref := newNet(t, m, set)
		theta := perturbed(f.Init())
		met, err := f.Evaluate(theta, set)
		if err != nil {
			t.Fatal(err)
		}
		want := meanCE(ref.logits(theta, set.X, 5), set.Y)
		if math.Abs(met.Loss-want) > 1e-5*math.Max(1, want) {
			t.Errorf("%s: loss %v, reference %v", m.Name(), met.Loss, want)
		}
		names, _ := f.Layout()
		if m.Norm && (slices.Contains(names, "/dense_0/biases") || !slices.Contains(names, "/layernorm_1/gain")) {
			t.Errorf("%s: layout %v", m.Name(), names)
		}
	}
}

// TestScaleInvariance is Property 1 on the 5-8-8-3 MLP with ε = 0: hidden W and (gain, offset) pairs
// can be rescaled without changing the outputs; the output matrix cannot.
func TestScaleInvariance(t *testing.T) {
	set := blobs(t, 30, 5, 3)
	m := &MLP{Hidden: []int{8, 8}, Classes: 3, Norm: true, Eps: -1}
	f, ref := newNet(t, m, set)
	theta := perturbed(f.Init())
	base := ref.logits(theta, set.X, 5)
	baseLoss, _ := f.Evaluate(theta, set)
	ln := rangeOf(t, f, "/layernorm_0/gain")
	ln[1] = rangeOf(t, f, "/layernorm_0/offset")[1]
	for _, c := range []struct {
		name      string
		tensors   []string
		r         [2]int
		scale     float32
		invariant bool
	}{
		{"W1×3", []string{"/dense_0/weights"}, rangeOf(t, f, "/dense_0/weights"), 3, true},
		{"W2×0.2", []string{"/dense_1/weights"}, rangeOf(t, f, "/dense_1/weights"), 0.2, true},
		{"(g1,β1)×2", []string{"/layernorm_0/gain", "/layernorm_0/offset"}, ln, 2, true},
		{"W3×2", []string{"/dense_2/weights"}, rangeOf(t, f, "/dense_2/weights"), 2, false},
	} {
		// The reference scales in float64 (exact invariance up to rounding); the model gets the
		// float32-rounded scaled parameters.
		p := ref.tensors(theta)
		for _, name := range c.tensors {
			for i := range p[name] {
				p[name][i] *= float64(c.scale)
			}
		}
		out := ref.logitsOf(p, set.X, 5)
		scaled := scaleRange(theta, c.r, c.scale)
		diff := 0.0
		for b := range out {
			for k := range out[b] {
				diff = math.Max(diff, math.Abs(out[b][k]-base[b][k]))
			}
		}
		loss, err := f.Evaluate(scaled, set)
		if err != nil {
			t.Fatal(err)
		}
		if c.invariant && (diff > 1e-13 || math.Abs(loss.Loss-baseLoss.Loss) > 1e-5) {
			t.Errorf("%s: outputs moved by %g (reference), loss %v → %v", c.name, diff, baseLoss.Loss, loss.Loss)
		}
		if !c.invariant && (diff < 1e-3 || math.Abs(loss.Loss-baseLoss.Loss) < 1e-4) {
			t.Errorf("%s: outputs moved only by %g; the output layer is not scale invariant", c.name, diff)
		}
	}
}

// TestProjector: blocks found, norms restored exactly (Property 4), hidden projection leaves the
// function unchanged with ε = 0 (Property 5), the output projection changes it.
func TestProjector(t *testing.T) {
	set := blobs(t, 30, 5, 3)
	f, _ := newNet(t, &MLP{Hidden: []int{8, 6}, Classes: 3, Norm: true, Eps: -1}, set)
	init := f.Init()
	names, shapes := f.Layout()
	p, err := NewProjector(names, shapes, init, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, b := range p.Blocks {
		kinds = append(kinds, b.Name+":"+b.Kind)
	}
	want := []string{"dense_0:weights", "layernorm_0:norm", "dense_1:weights", "layernorm_1:norm", "dense_2:output"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("blocks %v, want %v", kinds, want)
	}
	if math.Abs(p.Blocks[1].Radius-math.Sqrt(8)) > 1e-12 || math.Abs(p.Blocks[3].Radius-math.Sqrt(6)) > 1e-12 {
		t.Errorf("LayerNorm radii %v, %v; want √8, √6", p.Blocks[1].Radius, p.Blocks[3].Radius)
	}
	theta := perturbed(init)
	for i := range theta {
		theta[i] *= 1.7
	}
	// The hidden W and the first LayerNorm's pair are scale invariant; the last LayerNorm's pair feeds
	// the unnormalised output layer, so projecting it does change the function.
	hidden, _ := NewProjector(names, shapes, init, Options{FreeOutput: true})
	last := hidden.Blocks[len(hidden.Blocks)-1]
	if last.Name != "layernorm_1" {
		t.Fatalf("last hidden block %s", last.Name)
	}
	hidden.Blocks = hidden.Blocks[:len(hidden.Blocks)-1]
	before, _ := f.Evaluate(theta, set)
	proj := slices.Clone(theta)
	if err := hidden.Project(proj); err != nil {
		t.Fatal(err)
	}
	after, _ := f.Evaluate(proj, set)
	if math.Abs(before.Loss-after.Loss) > 1e-5 {
		t.Errorf("hidden projection changed the loss %v → %v", before.Loss, after.Loss)
	}
	hidden.Blocks = append(hidden.Blocks, last)
	lastProj := slices.Clone(proj)
	hidden.Project(lastProj)
	if l, _ := f.Evaluate(lastProj, set); math.Abs(l.Loss-after.Loss) < 1e-4 {
		t.Error("projecting the last LayerNorm pair (which feeds the output layer) did not change the loss")
	}
	p.Project(proj)
	for _, b := range p.Blocks {
		if n := norm(proj, b.Ranges); math.Abs(n-b.Radius) > 1e-6*b.Radius {
			t.Errorf("%s: norm %v after projection, want %v", b.Name, n, b.Radius)
		}
	}
	out, _ := f.Evaluate(proj, set)
	if math.Abs(out.Loss-after.Loss) < 1e-4 {
		t.Error("projecting the output matrix did not change the loss")
	}
	plain, _ := newNet(t, &MLP{Hidden: []int{8}, Classes: 3}, set)
	pn, ps := plain.Layout()
	pp, err := NewProjector(pn, ps, plain.Init(), Options{FreeOutput: true})
	if err != nil || len(pp.Blocks) != 0 || len(pp.Weights) != 2 {
		t.Errorf("plain MLP: %d projected blocks, %d weight blocks (want 0, 2), err %v", len(pp.Blocks), len(pp.Weights), err)
	}
	if _, err := NewProjector([]string{"/conv_0/weights"}, [][]int{{2}}, []float32{1, 1}, Options{}); err == nil {
		t.Error("a non-MLP layout was accepted")
	}
	if _, err := NewProjector(names, shapes, init[:3], Options{}); err == nil {
		t.Error("a short init was accepted")
	}
	zero := slices.Clone(proj)
	for i := p.Blocks[0].Ranges[0][0]; i < p.Blocks[0].Ranges[0][1]; i++ {
		zero[i] = 0
	}
	if p.Project(zero) == nil {
		t.Error("projecting a zero block did not fail")
	}
}

// toy is the scale-invariant ℓ(w) = ½‖w/‖w‖ − t‖² with its analytic gradient
// ∇ℓ = (I − ŵŵᵀ)(ŵ − t)/‖w‖.
func toy(w, target []float64) (float64, []float64) {
	n := 0.0
	for _, x := range w {
		n += x * x
	}
	n = math.Sqrt(n)
	u := make([]float64, len(w))
	l, dot := 0.0, 0.0
	for i := range w {
		u[i] = w[i]/n - target[i]
		l += u[i] * u[i] / 2
		dot += w[i] / n * u[i]
	}
	g := make([]float64, len(w))
	for i := range w {
		g[i] = (u[i] - dot*w[i]/n) / n
	}
	return l, g
}

func vnorm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// TestToyScaleInvariantAlgebra: Properties 2, 3 and 6 on the toy loss.
func TestToyScaleInvariantAlgebra(t *testing.T) {
	w0 := []float64{0.3, -1.2, 2.0, 0.7}
	target := []float64{0.5, 0.5, -0.5, 0.5}
	_, g := toy(w0, target)
	dot := 0.0
	for i := range w0 {
		dot += w0[i] * g[i]
	}
	// Finite-difference check of the analytic gradient.
	for i := range w0 {
		wp, wm := slices.Clone(w0), slices.Clone(w0)
		wp[i] += 1e-6
		wm[i] -= 1e-6
		lp, _ := toy(wp, target)
		lm, _ := toy(wm, target)
		if math.Abs((lp-lm)/2e-6-g[i]) > 1e-7 {
			t.Errorf("gradient %d: analytic %v, finite difference %v", i, g[i], (lp-lm)/2e-6)
		}
	}
	if math.Abs(dot) > 1e-14 {
		t.Errorf("⟨w, ∇ℓ⟩ = %g", dot)
	}
	w3 := []float64{0.9, -3.6, 6.0, 2.1}
	_, g3 := toy(w3, target)
	for i := range g {
		if math.Abs(3*g3[i]-g[i]) > 1e-15 {
			t.Errorf("3∇ℓ(3w) ≠ ∇ℓ(w) at %d: %v vs %v", i, 3*g3[i], g[i])
		}
	}
	eta := 0.1
	w1 := make([]float64, 4)
	for i := range w1 {
		w1[i] = w0[i] - eta*g[i]
	}
	if d := vnorm(w1)*vnorm(w1) - vnorm(w0)*vnorm(w0) - eta*eta*vnorm(g)*vnorm(g); math.Abs(d) > 1e-14 {
		t.Errorf("‖w'‖² − ‖w‖² − η²‖g‖² = %g", d)
	}
	// Property 3: unprojected SGD vs projected SGD with lr·r₀²/‖w_t‖².
	r0 := vnorm(w0)
	u, p := slices.Clone(w0), slices.Clone(w0)
	worst := 0.0
	for step := 0; step < 200; step++ {
		lrp := EquivalentLR(eta, r0, vnorm(u))
		_, gu := toy(u, target)
		_, gp := toy(p, target)
		for i := range u {
			u[i] -= eta * gu[i]
			p[i] -= lrp * gp[i]
		}
		np := vnorm(p)
		for i := range p {
			p[i] *= r0 / np
		}
		nu := vnorm(u)
		for i := range u {
			worst = math.Max(worst, math.Abs(u[i]/nu-p[i]/r0))
		}
	}
	if worst > 1e-13 {
		t.Errorf("directions of unprojected SGD and projected SGD with the equivalent schedule differ by %g", worst)
	}
	if vnorm(u) <= r0 {
		t.Errorf("unprojected norm did not grow: %v ≤ %v", vnorm(u), r0)
	}
	// Property 6: projected SGD with decay λ = projected SGD without decay and lr η/(1 − ηλ).
	eta, lambda := 0.3, 0.5
	a, b := slices.Clone(w0), slices.Clone(w0)
	worst = 0
	for step := 0; step < 100; step++ {
		_, ga := toy(a, target)
		_, gb := toy(b, target)
		for i := range a {
			a[i] -= eta * (ga[i] + lambda*a[i])
			b[i] -= eta / (1 - eta*lambda) * gb[i]
		}
		na, nb := vnorm(a), vnorm(b)
		for i := range a {
			a[i] *= r0 / na
			b[i] *= r0 / nb
			worst = math.Max(worst, math.Abs(a[i]-b[i]))
		}
	}
	if worst > 1e-13 {
		t.Errorf("weight decay under projection is not an LR rescale: max |Δ| = %g", worst)
	}
	if EffectiveLR("sgd", 0.1, 2) != 0.025 || EffectiveLR("adam", 0.1, 2) != 0.05 {
		t.Error("EffectiveLR")
	}
}

// TestImplicitScheduleOnNetwork is Property 3 layer-wise on a network (spec Cell B): unprojected SGD on
// the LayerNorm MLP (ε = 0) and NaP (hidden W projected only) with per-layer lr·r²/‖W_t‖² from the
// unprojected run have the same losses at every step; NaP with a constant lr does not.
func TestImplicitScheduleOnNetwork(t *testing.T) {
	set := blobs(t, 64, 5, 3)
	f, _ := newNet(t, &MLP{Hidden: []int{8, 8}, Classes: 3, Norm: true, Eps: -1}, set)
	init := f.Init()
	names, shapes := f.Layout()
	logger, _ := NewProjector(names, shapes, init, Options{FreeOutput: true, FreeNormParams: true})
	proj, _ := NewProjector(names, shapes, init, Options{FreeOutput: true, FreeNormParams: true})
	ln, _ := NewTrainer(f, init, Config{Optimizer: "sgd", LR: 0.5})
	nap, _ := NewTrainer(f, init, Config{Optimizer: "sgd", LR: 0.5, Projector: proj})
	napConst, _ := NewTrainer(f, init, Config{Optimizer: "sgd", LR: 0.5, Projector: proj})
	bs, _ := NewBatches(set, 16, 1)
	hiddenTensor := map[int]int{} // layout tensor index → Weights index of the hidden blocks
	for wi, b := range logger.Weights {
		if b.Kind == "weights" {
			hiddenTensor[b.Tensors[0]] = wi
		}
	}
	worst, gap := 0.0, 0.0
	var prevNorms []float64
	for step := 0; step < 40; step++ {
		x, y := bs.Next()
		norms := logger.WeightNorms(ln.Params())
		if prevNorms != nil {
			for l := range norms[:2] {
				if norms[l] < prevNorms[l]*(1-1e-6) {
					t.Errorf("step %d: hidden norm %d shrank %v → %v under SGD without decay", step, l, prevNorms[l], norms[l])
				}
			}
		}
		prevNorms = norms
		lrs := make([]float64, len(names))
		for k := range lrs {
			lrs[k] = 0.5
			if wi, ok := hiddenTensor[k]; ok {
				lrs[k] = EquivalentLR(0.5, logger.Weights[wi].Radius, norms[wi])
			}
		}
		l1, err := ln.Step(x, y)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := nap.StepLR(x, y, lrs)
		if err != nil {
			t.Fatal(err)
		}
		l3, _ := napConst.Step(x, y)
		worst = math.Max(worst, math.Abs(l1-l2))
		gap = math.Max(gap, math.Abs(l1-l3))
	}
	if worst > 1e-4 {
		t.Errorf("LN-only SGD and NaP with the equivalent schedule: losses differ by up to %g", worst)
	}
	if gap < 10*worst || gap < 1e-3 {
		t.Errorf("NaP with a constant lr is as close (%g) as with the equivalent schedule (%g): the check is not discriminating", gap, worst)
	}
	for _, b := range proj.Blocks {
		if n := norm(nap.Params(), b.Ranges); math.Abs(n-b.Radius) > 1e-5*b.Radius {
			t.Errorf("NaP block %s norm %v, want %v", b.Name, n, b.Radius)
		}
	}
	grown := logger.WeightNorms(ln.Params())
	if grown[0] <= logger.Weights[0].Radius {
		t.Error("the LN-only run's first-layer norm did not grow")
	}
}

// TestTrainerAgainstReference checks the Trainer's SGD (with weight decay) and Adam steps against a
// float64 host loop on the model's gradients.
func TestTrainerAgainstReference(t *testing.T) {
	set := blobs(t, 48, 5, 3)
	f, _ := newNet(t, &MLP{Hidden: []int{6}, Classes: 3, Norm: true}, set)
	init := f.Init()
	for _, cfg := range []Config{{Optimizer: "sgd", LR: 0.2, WeightDecay: 0.1}, {Optimizer: "adam", LR: 0.01}} {
		tr, err := NewTrainer(f, init, cfg)
		if err != nil {
			t.Fatal(err)
		}
		bs, _ := NewBatches(set, 16, 9)
		w := make([]float64, len(init))
		for i, x := range init {
			w[i] = float64(x)
		}
		m, v := make([]float64, len(w)), make([]float64, len(w))
		for step := 1; step <= 5; step++ {
			x, y := bs.Next()
			w32 := make([]float32, len(w))
			for i := range w {
				w32[i] = float32(w[i])
			}
			_, g, _ := f.Grad(w32, x, y)
			for i := range w {
				gi := float64(g[i]) + cfg.WeightDecay*w[i]
				if cfg.Optimizer == "adam" {
					m[i] = 0.9*m[i] + 0.1*gi
					v[i] = 0.999*v[i] + 0.001*gi*gi
					w[i] -= cfg.LR * (m[i] / (1 - math.Pow(0.9, float64(step)))) / (math.Sqrt(v[i]/(1-math.Pow(0.999, float64(step)))) + 1e-8)
				} else {
					w[i] -= cfg.LR * gi
				}
			}
			if _, err := tr.Step(x, y); err != nil {
				t.Fatal(err)
			}
		}
		for i := range w {
			if math.Abs(w[i]-float64(tr.Params()[i])) > 1e-5 {
				t.Fatalf("%s: parameter %d is %v, reference %v", cfg.Optimizer, i, tr.Params()[i], w[i])
			}
		}
	}
	for _, bad := range []Config{{Optimizer: "rmsprop", LR: 0.1}, {Optimizer: "sgd", LR: 0}, {Optimizer: "sgd", LR: 0.1, WeightDecay: -1}, {Optimizer: "sgd", LR: math.NaN()}} {
		if _, err := NewTrainer(f, init, bad); err == nil {
			t.Errorf("bad config %+v accepted", bad)
		}
	}
	if _, err := NewTrainer(f, init[:2], Config{Optimizer: "sgd", LR: 0.1}); err == nil {
		t.Error("short init accepted")
	}
}

// TestRunTasks: the benchmark's shape, determinism, shared tasks across variants, NaP's constant norms.
func TestRunTasks(t *testing.T) {
	set := blobs(t, 64, 5, 3)
	tc := TasksConfig{Tasks: 3, StepsPerTask: 12, BatchSize: 16, Seed: 5, LogEvery: 4}
	fLN, _ := newNet(t, &MLP{Hidden: []int{8, 8}, Classes: 3, Norm: true}, set)
	init := fLN.Init()
	names, shapes := fLN.Layout()
	proj, _ := NewProjector(names, shapes, init, Options{})
	a, err := RunTasks(fLN, init, set, Config{Optimizer: "adam", LR: 0.01, Projector: proj}, tc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RunTasks(fLN, init, set, Config{Optimizer: "adam", LR: 0.01, Projector: proj}, tc)
	if !slices.Equal(a.Accuracy, b.Accuracy) || !slices.Equal(a.Loss, b.Loss) {
		t.Error("two runs with the same seed differ")
	}
	if len(a.Accuracy) != 3 || len(a.LoggedSteps) != 1+36/4 || len(a.Norms[0]) != 3 {
		t.Errorf("accuracies %d, logged %d, norms per log %d", len(a.Accuracy), len(a.LoggedSteps), len(a.Norms[0]))
	}
	for _, ns := range a.Norms {
		for l, n := range ns {
			if math.Abs(n-a.Norms[0][l]) > 1e-5*a.Norms[0][l] {
				t.Fatalf("NaP norm of %s moved: %v → %v", a.WeightNames[l], a.Norms[0][l], n)
			}
		}
	}
	ln, _ := RunTasks(fLN, init, set, Config{Optimizer: "adam", LR: 0.01}, tc)
	if last := ln.Norms[len(ln.Norms)-1][0]; last <= ln.Norms[0][0] {
		t.Errorf("LN-only first-layer norm did not grow under Adam: %v → %v", ln.Norms[0][0], last)
	}
	if !slices.Equal(TaskLabels(64, 3, 5, 1), TaskLabels(64, 3, 5, 1)) || slices.Equal(TaskLabels(64, 3, 5, 1), TaskLabels(64, 3, 5, 2)) {
		t.Error("task labels are not a function of (seed, task)")
	}
	if _, err := RunTasks(fLN, init, set, Config{Optimizer: "adam", LR: 0.01}, TasksConfig{Tasks: 0, StepsPerTask: 1, BatchSize: 1}); err == nil {
		t.Error("zero tasks accepted")
	}
	if _, err := RunTasks(fLN, init, set, Config{Optimizer: "adam", LR: 0.01}, TasksConfig{Tasks: 1, StepsPerTask: 1, BatchSize: 1000}); err == nil {
		t.Error("a batch larger than the set was accepted")
	}
}
