package genmeasure

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/losslab/losslab/lib/train"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Spec property 1.
func TestSpectralAndFrobenius(t *testing.T) {
	w := []float64{3, 0, 4, 5}
	s, err := SingularValues(w, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !near(s[0], math.Sqrt(45), 1e-9) || !near(s[1], math.Sqrt(5), 1e-9) {
		t.Errorf("singular values %v, want (√45, √5)", s)
	}
	if !near(Frobenius(w), math.Sqrt(50), 1e-12) {
		t.Errorf("Frobenius %v, want √50", Frobenius(w))
	}
	// Independent check of the largest singular value: power iteration on WᵀW of a random 7×4 matrix.
	rng := rand.New(rand.NewPCG(1, 2))
	r := make([]float64, 28)
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	v := []float64{1, 1, 1, 1}
	var lam float64
	for it := 0; it < 500; it++ {
		wv := make([]float64, 7)
		for i := 0; i < 7; i++ {
			for j := 0; j < 4; j++ {
				wv[i] += r[i*4+j] * v[j]
			}
		}
		nv := make([]float64, 4)
		for j := 0; j < 4; j++ {
			for i := 0; i < 7; i++ {
				nv[j] += r[i*4+j] * wv[i]
			}
		}
		lam = Frobenius(nv)
		for j := range nv {
			v[j] = nv[j] / lam
		}
	}
	sp, _ := Spectral(r, 7, 4)
	if !near(sp, math.Sqrt(lam), 1e-8) {
		t.Errorf("Spectral %v, power iteration %v", sp, math.Sqrt(lam))
	}
	if _, err := Spectral(w, 3, 2); err == nil {
		t.Error("a 3×2 matrix of 4 values was accepted")
	}
}

// Spec property 2, checked against an explicit enumeration of the four paths.
func TestPathNorm(t *testing.T) {
	// W1 out-by-in [[1,−2],[0.5,1]] is stored in-by-out: W[i][j] = W1[j][i].
	w1 := [][]float64{{1, -2}, {0.5, 1}}
	w2 := []float64{2, -1}
	n := &Net{Layers: []Layer{
		{In: 2, Out: 2, W: []float64{w1[0][0], w1[1][0], w1[0][1], w1[1][1]}},
		{In: 2, Out: 1, W: w2},
	}}
	enum := 0.0
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			enum += w1[j][i] * w1[j][i] * w2[j] * w2[j]
		}
	}
	p, err := PathNorm(n)
	if err != nil {
		t.Fatal(err)
	}
	if !near(enum, 21.25, 1e-12) || !near(p*p, enum, 1e-12) || !near(p, 4.609772, 1e-6) {
		t.Errorf("path norm² %v (enumeration %v), want 21.25", p*p, enum)
	}
}

// Spec property 3.
func TestMargins(t *testing.T) {
	m, err := Margins([][]float64{{2, 1, 0}, {0.5, 0.7, 0.1}, {3, -1, 2.5}}, []int32{0, 0, 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, -0.2, -0.5} {
		if !near(m[i], want, 1e-12) {
			t.Errorf("margin %d = %v, want %v", i, m[i], want)
		}
	}
	ms := make([]float64, 100)
	for i := range ms {
		ms[i] = float64(100 - i)
	}
	if g := RobustMargin(ms); g != 10 {
		t.Errorf("RobustMargin of 1..100 = %v, want the 10th smallest, 10", g)
	}
}

func randomNet(seed uint64, sizes []int, bias bool) *Net {
	rng := rand.New(rand.NewPCG(seed, 7))
	n := &Net{}
	for i := 0; i+1 < len(sizes); i++ {
		l := Layer{In: sizes[i], Out: sizes[i+1], W: make([]float64, sizes[i]*sizes[i+1])}
		for k := range l.W {
			l.W[k] = rng.NormFloat64() / math.Sqrt(float64(sizes[i]))
		}
		if bias {
			l.B = make([]float64, l.Out)
			for k := range l.B {
				l.B[k] = 0.1 * rng.NormFloat64()
			}
		}
		n.Layers = append(n.Layers, l)
	}
	return n
}

// randomInputs labels random inputs with the teacher network's argmax, flipping a fraction.
func randomInputs(seed uint64, teacher *Net, n int, flip float64) Inputs {
	rng := rand.New(rand.NewPCG(seed, 11))
	d := teacher.Layers[0].In
	k := teacher.Layers[len(teacher.Layers)-1].Out
	in := Inputs{X: make([]float32, n*d), Dim: d, Y: make([]int32, n)}
	for i := range in.X {
		in.X[i] = float32(rng.NormFloat64())
	}
	for i := 0; i < n; i++ {
		in.Y[i] = int32(argmax(teacher.forward(in.X[i*d:(i+1)*d], nil)))
		if rng.Float64() < flip {
			in.Y[i] = int32(rng.IntN(k))
		}
	}
	return in
}

// The cross-entropy gradient used by the sharpness search, against central finite differences.
func TestLossGradFiniteDifferences(t *testing.T) {
	n := randomNet(3, []int{5, 7, 4}, true)
	in := randomInputs(4, randomNet(5, []int{5, 6, 4}, true), 9, 0.3)
	_, g, _ := n.lossGrad(in)
	w := n.Flat()
	h := 1e-6
	for i := range w {
		c := n.Clone()
		wp := append([]float64(nil), w...)
		wp[i] += h
		_ = c.SetFlat(wp)
		lp, _, _ := c.lossGrad(in)
		wp[i] -= 2 * h
		_ = c.SetFlat(wp)
		lm, _, _ := c.lossGrad(in)
		fd := (lp - lm) / (2 * h)
		if !near(fd, g[i], 1e-6+1e-4*math.Abs(fd)) {
			t.Fatalf("parameter %d: gradient %v, finite difference %v", i, g[i], fd)
		}
	}
}

func lookup(t *testing.T, ms []Measure, name string) float64 {
	t.Helper()
	v, ok := Lookup(ms, name)
	if !ok {
		t.Fatalf("no measure %q", name)
	}
	return v
}

var smallSearch = Config{
	Flatness:  FlatnessConfig{Depth: 8, Samples: 4, Seed: 1},
	Sharpness: SharpnessConfig{Depth: 8, Steps: 6},
}

// Spec property 4: rescaling invariances of a bias-free ReLU network tell which measure is which.
func TestRescalingInvariance(t *testing.T) {
	n := randomNet(8, []int{6, 10, 8, 3}, false)
	init := randomNet(9, []int{6, 10, 8, 3}, false)
	in := randomInputs(10, n, 120, 0.1)
	r := n.Clone()
	const c = 3.0
	for k := range r.Layers[0].W {
		r.Layers[0].W[k] *= c
	}
	for k := range r.Layers[1].W {
		r.Layers[1].W[k] /= c
	}
	cfg := smallSearch
	cfg.Flatness.Eps, cfg.Sharpness.Eps = 1e-12, 1e-12
	a, err := Measures(n, init, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Measures(r, init, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"path.norm", "log.prod.of.spec", "log.prod.of.fro", "inverse.margin", "pacbayes.mag.flatness", "sharpness.mag.flatness"} {
		va, vb := lookup(t, a, name), lookup(t, b, name)
		if !near(va, vb, 1e-6*math.Max(1, math.Abs(va))) {
			t.Errorf("%s changed under rescaling: %v → %v", name, va, vb)
		}
	}
	for _, name := range []string{"param.norm", "pacbayes.flatness", "sharpness.flatness"} {
		va, vb := lookup(t, a, name), lookup(t, b, name)
		if near(va, vb, 1e-6*math.Max(1, math.Abs(va))) {
			t.Errorf("%s did not change under rescaling (%v): it should", name, va)
		}
	}
}

// Spec property 5: permuting hidden units changes only the distances to the (unpermuted) init.
func TestHiddenPermutation(t *testing.T) {
	n := randomNet(12, []int{5, 9, 4}, true)
	init := randomNet(13, []int{5, 9, 4}, true)
	in := randomInputs(14, n, 80, 0) // labels from n itself: γ > 0
	perm := rand.New(rand.NewPCG(15, 1)).Perm(9)
	p := n.Clone()
	l0, l1 := n.Layers[0], n.Layers[1]
	for j, pj := range perm {
		for i := 0; i < l0.In; i++ {
			p.Layers[0].W[i*9+j] = l0.W[i*9+pj]
		}
		p.Layers[0].B[j] = l0.B[pj]
		copy(p.Layers[1].W[j*4:(j+1)*4], l1.W[pj*4:(pj+1)*4])
	}
	cfg := Config{SkipFlatness: true}
	a, err := Measures(n, init, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Measures(p, init, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		same := near(a[i].Value, b[i].Value, 1e-9*math.Max(1, math.Abs(a[i].Value)))
		moves := a[i].Name == "fro.dist" || a[i].Name == "dist.spec.init" || a[i].Name == "spec.init"
		if !moves && !same {
			t.Errorf("%s changed under a hidden permutation: %v → %v", a[i].Name, a[i].Value, b[i].Value)
		}
		if moves && same {
			t.Errorf("%s did not change under a hidden permutation", a[i].Name)
		}
	}
	s1, err := Sharpness(n, in, SharpnessConfig{Depth: 6, Steps: 5})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Sharpness(p, in, SharpnessConfig{Depth: 6, Steps: 5})
	if !near(s1, s2, 1e-9) {
		t.Errorf("sharpness α' changed under a hidden permutation: %v → %v", s1, s2)
	}
}

// Spec property 6: the σ' search.
func TestFlatnessSearch(t *testing.T) {
	n := randomNet(20, []int{6, 16, 4}, true)
	in := randomInputs(21, n, 200, 0)
	var prev float64
	for _, target := range []float64{0.05, 0.1, 0.2, 0.3} {
		s, err := Flatness(n, in, FlatnessConfig{Target: target, Tol: target / 10, Depth: 12, Samples: 6, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if s < prev-1e-12 {
			t.Errorf("σ' decreased from %v to %v as the target rose to %v", prev, s, target)
		}
		prev = s
	}
	tiny, _ := Flatness(n, in, FlatnessConfig{Target: 1e-3, Tol: 1e-4, Depth: 20, Samples: 6, Seed: 3})
	if tiny > 0.05 {
		t.Errorf("σ' for a 0.001 accuracy drop is %v, want near 0", tiny)
	}
	// A network whose decision cannot be moved by noise of σ ≤ 2: a huge bias on class 0.
	flat := &Net{Layers: []Layer{{In: 6, Out: 4, W: make([]float64, 24), B: []float64{1e6, 0, 0, 0}}}}
	in0 := in
	in0.Y = make([]int32, in.N())
	s, err := Flatness(flat, in0, FlatnessConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s < 1.99 {
		t.Errorf("σ' of a noise-proof network = %v, want the cap 2", s)
	}
	if _, err := Flatness(n, in, FlatnessConfig{Target: 1.5}); err == nil {
		t.Error("a target of 1.5 was accepted")
	}
}

// Spec property 7: the exact table, and the simulation agrees with it.
func TestParityTable(t *testing.T) {
	table := []struct {
		m                int
		exact, err, best float64
	}{{5, 0.0308, 0.4846, 0.0154}, {8, 0.2207, 0.3896, 0.1104}, {9, 0.3898, 0.3051, 0.1949},
		{10, 0.6105, 0.1947, 0.1607}, {11, 0.7795, 0.1102, 0.1008}, {12, 0.8827, 0.0587, 0.0562}, {16, 0.9922, 0.0039, 0.0039}}
	for _, r := range table {
		st, err := ParityExact(10, r.m)
		if err != nil {
			t.Fatal(err)
		}
		if !near(st.PExact, r.exact, 6e-5) || !near(st.MeanError, r.err, 6e-5) || !near(st.BestEstimation, r.best, 6e-5) {
			t.Errorf("m=%d: got %.4f %.4f %.4f, want %.4f %.4f %.4f", r.m, st.PExact, st.MeanError, st.BestEstimation, r.exact, r.err, r.best)
		}
		sim, err := ParitySimulate(10, r.m, 20000, uint64(r.m))
		if err != nil {
			t.Fatal(err)
		}
		se := math.Sqrt(r.exact*(1-r.exact)/20000) + 1e-3
		if !near(sim.PExact, r.exact, 5*se) || !near(sim.BestEstimation, r.best, 5*se) {
			t.Errorf("m=%d: simulated %.4f / %.4f, exact %.4f / %.4f", r.m, sim.PExact, sim.BestEstimation, r.exact, r.best)
		}
	}
	one, _ := ParityExact(3, 2) // never full rank: k ≥ 1
	if one.BestEstimation < 0.25*(1-0.75)-1e-12 {
		t.Errorf("best estimation error %v", one.BestEstimation)
	}
}

// Spec property 8 (the part that does not need training): identical (S, h) give identical measures.
func TestMeasuresDependOnlyOnSampleAndWeights(t *testing.T) {
	n := randomNet(30, []int{4, 8, 3}, true)
	init := randomNet(31, []int{4, 8, 3}, true)
	in := randomInputs(32, n, 60, 0.2)
	a, _ := Measures(n, init, in, smallSearch)
	b, _ := Measures(n.Clone(), init.Clone(), in, smallSearch)
	for i := range a {
		if a[i].Value != b[i].Value && !(math.IsNaN(a[i].Value) && math.IsNaN(b[i].Value)) {
			t.Errorf("%s: %v vs %v", a[i].Name, a[i].Value, b[i].Value)
		}
	}
}

func TestKendall(t *testing.T) {
	tau, _ := KendallTau([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40})
	if tau != 1 {
		t.Errorf("τ of a monotone pair = %v", tau)
	}
	tau, _ = KendallTau([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1})
	if tau != -1 {
		t.Errorf("τ of a reversed pair = %v", tau)
	}
	// x = 1,2,2,3 and y = 1,3,2,2: C=3, D=1, one x tie, one y tie: τ_b = 2/sqrt(5·5) = 0.4.
	tau, _ = KendallTau([]float64{1, 2, 2, 3}, []float64{1, 3, 2, 2})
	if !near(tau, 0.4, 1e-12) {
		t.Errorf("τ_b with ties = %v, want 0.4", tau)
	}
	if _, err := KendallTau([]float64{1, math.NaN()}, []float64{1, 2}); err == nil {
		t.Error("NaN accepted")
	}
	// Granulated: axis 0 always agrees, axis 1 always disagrees.
	hp := [][]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}}
	measure := []float64{1, 2, 0.5, 1.5}
	gap := []float64{1, 2, 3, 4}
	psi, mean, err := GranulatedTau(measure, gap, hp)
	if err != nil {
		t.Fatal(err)
	}
	if psi[0] != 1 || psi[1] != -1 || mean != 0 {
		t.Errorf("granulated τ = %v (mean %v), want [1 -1] and 0", psi, mean)
	}
}

func TestFromParams(t *testing.T) {
	ps := []train.Param{
		{Name: "/model/dense_0/weights", Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "/model/dense_0/biases", Shape: []int{2}, Data: []float32{0.5, -0.5}},
		{Name: "/model/dense_1/weights", Shape: []int{2, 1}, Data: []float32{1, -1}},
	}
	n, err := FromParams(ps)
	if err != nil {
		t.Fatal(err)
	}
	z, err := n.Logits(Inputs{X: []float32{1, 0, 0}, Dim: 3, Y: []int32{0}})
	if err != nil {
		t.Fatal(err)
	}
	// h = relu([1.5, 1.5]) → out = 1.5 − 1.5 = 0.
	if z[0][0] != 0 {
		t.Errorf("logit %v, want 0", z[0][0])
	}
	if _, err := FromParams(append(ps, train.Param{Name: "/model/layernorm_0/gain", Shape: []int{2}})); err == nil {
		t.Error("a layer-norm parameter was accepted")
	}
	if _, err := n.Logits(Inputs{X: []float32{1, 0}, Dim: 2, Y: []int32{0}}); err == nil {
		t.Error("inputs of the wrong dimension were accepted")
	}
}

func TestMeasureJSON(t *testing.T) {
	in := []Measure{{Name: "a", Value: 1.5, Kind: "norm"}, {Name: "b", Value: math.NaN(), Kind: "margin"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []Measure
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out[0] != in[0] || out[1].Name != "b" || !math.IsNaN(out[1].Value) {
		t.Errorf("round trip %s → %+v", b, out)
	}
}
