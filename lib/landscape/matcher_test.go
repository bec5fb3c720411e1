package landscape

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// refHidden is the float64 host reference of a ReLU MLP's hidden layers on example x: the
// pre-activations and activations of every hidden layer.
func refHidden(ps *ParamSet, sizes []int, x []float64) (pre, post [][]float64) {
	for l := 0; l+2 < len(sizes); l++ {
		w := ps.Lookup(fmt.Sprintf("/dense_%d/weights", l)).Data
		b := ps.Lookup(fmt.Sprintf("/dense_%d/biases", l)).Data
		z := make([]float64, sizes[l+1])
		h := make([]float64, sizes[l+1])
		for j := range z {
			z[j] = b[j]
			for i := 0; i < sizes[l]; i++ {
				z[j] += x[i] * w[i*sizes[l+1]+j]
			}
			h[j] = math.Max(z[j], 0)
		}
		pre, post = append(pre, z), append(post, h)
		x = h
	}
	return pre, post
}

// refLayerColumns returns, for hidden layer l of the host reference, the columns (one per unit) of the
// pre-activations (pre) or activations over all examples of d.
func refLayerColumns(ps *ParamSet, sizes []int, d *Data, l int, pre bool) [][]float64 {
	dim := prod(d.Shape)
	cols := make([][]float64, sizes[l+1])
	for n := range d.Len() {
		x := make([]float64, dim)
		for i := range x {
			x[i] = float64(d.X[n*dim+i])
		}
		zs, hs := refHidden(ps, sizes, x)
		v := hs[l]
		if pre {
			v = zs[l]
		}
		for u := range cols {
			cols[u] = append(cols[u], v[u])
		}
	}
	return cols
}

// refCorr is the plain Pearson correlation (0 for a constant column).
func refCorr(x, y []float64) float64 {
	mx, my := 0.0, 0.0
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	sxy, sxx, syy := 0.0, 0.0, 0.0
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// allPerms lists every permutation of n elements.
func allPerms(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range allPerms(n - 1) {
		for pos := 0; pos <= len(p); pos++ {
			q := append(append(append([]int{}, p[:pos]...), n-1), p[pos:]...)
			out = append(out, q)
		}
	}
	return out
}

// allJoint lists every joint permutation of spec's groups.
func allJoint(spec *PermSpec) []Permutation {
	out := []Permutation{{}}
	for _, g := range spec.Groups {
		var next []Permutation
		for _, p := range out {
			for _, q := range allPerms(g.Size) {
				next = append(next, Permutation{Perms: append(append([][]int{}, p.Perms...), q)})
			}
		}
		out = next
	}
	return out
}

func samePerm(a, b Permutation) bool {
	for g := range a.Perms {
		if !equalInts(a.Perms[g], b.Perms[g]) {
			return false
		}
	}
	return len(a.Perms) == len(b.Perms)
}

// tinyModelPair returns two independently initialised lib/models MLPs 4-4-4-3 on blobs, their spec and
// the data as evaluation Data.
func tinyModelPair(t *testing.T) (*models.MLP, *ParamSet, *ParamSet, *PermSpec, *Data) {
	t.Helper()
	set := blobs(t, 300, 5)
	m := models.NewMLP(3, 4, 4)
	a, b, spec := initPair(t, m, set)
	return m, a, b, spec, FromSet(set)
}

// initPair initialises m twice on set (seeds 1 and 2) and infers the permutation spec of the pair.
func initPair(t *testing.T, m models.Model, set *data.Set) (a, b *ParamSet, spec *PermSpec) {
	t.Helper()
	var err error
	if a, err = FromContext(initModel(t, m, set, 1), nil); err != nil {
		t.Fatal(err)
	}
	if b, err = FromContext(initModel(t, m, set, 2), nil); err != nil {
		t.Fatal(err)
	}
	if spec, err = InferPermSpec(a); err != nil {
		t.Fatal(err)
	}
	return a, b, spec
}

// Activation matching against a brute-force search over all 24² joint permutations of a tiny MLP, with
// correlations of activations computed on the host in float64.
func TestActivationMatchingBruteForce(t *testing.T) {
	m, a, b, spec, d := tinyModelPair(t)
	probe, err := ModelProbe(m)
	if err != nil {
		t.Fatal(err)
	}
	al, err := ActivationMatcher{Probe: probe, Data: d}.Match(a, b, spec)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{4, 4, 4, 3}
	corr := make([][][]float64, 2)
	for l := range 2 {
		ca, cb := refLayerColumns(a, sizes, d, l, false), refLayerColumns(b, sizes, d, l, false)
		corr[l] = make([][]float64, 4)
		for i := range 4 {
			for k := range 4 {
				corr[l][i] = append(corr[l][i], refCorr(ca[i], cb[k]))
			}
		}
	}
	best, second, arg := math.Inf(-1), math.Inf(-1), Permutation{}
	for _, p := range allJoint(spec) {
		v := 0.0
		for l, pi := range p.Perms {
			for i, k := range pi {
				v += corr[l][i][k]
			}
		}
		if v > best {
			best, second, arg = v, best, p
		} else if v > second {
			second = v
		}
	}
	if math.Abs(al.Objective-best) > 1e-5 {
		t.Errorf("objective %.8f, brute force %.8f", al.Objective, best)
	}
	if best-second > 1e-4 && !samePerm(al.Perm, arg) {
		t.Errorf("permutation %v, brute force %v", al.Perm.Perms, arg.Perms)
	}
	if samePerm(arg, spec.Identity()) {
		t.Error("the best permutation is the identity: the test cannot tell matching from doing nothing")
	}
	// Functional equivalence: π(θ_B) computes θ_B's function.
	if diff, err := MaxLogitDiff(FromModel(m), b, al.Aligned, d); err != nil || diff > 1e-5 {
		t.Errorf("aligned B differs from B: max |Δlogit| = %g (%v)", diff, err)
	}
}

// Weight matching (coordinate ascent) against brute force on a tiny planted pair: B is a permutation of
// A plus noise, and the global maximum of ⟨θ_A, π(θ_B)⟩ must be found.
func TestWeightMatchingBruteForce(t *testing.T) {
	sizes := []int{4, 4, 4, 3}
	a := randomMLP(sizes, dtypes.Float64, 21)
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	noise := randomMLP(sizes, dtypes.Float64, 22)
	b, _ := spec.Apply(combine([]float64{1, 0.5}, []*ParamSet{a, noise}), spec.Random(3))
	al, err := WeightMatcher{}.Match(a, b, spec)
	if err != nil {
		t.Fatal(err)
	}
	best := math.Inf(-1)
	for _, p := range allJoint(spec) {
		pb, _ := spec.Apply(b, p)
		best = math.Max(best, dot(a, pb))
	}
	if math.Abs(al.Objective-best) > 1e-9 {
		t.Errorf("objective %g, brute force %g", al.Objective, best)
	}
	d := randomData(20, 4, 3, 2)
	if diff, err := MaxLogitDiff(mlpForward(sizes, dtypes.Float64), b, al.Aligned, d); err != nil || diff > 1e-12 {
		t.Errorf("aligned B differs from B: %g (%v)", diff, err)
	}
}

// STE matching against brute force: the midpoint loss of every joint permutation of a tiny MLP pair.
// STE is a heuristic with no guarantee of the global optimum, so the test asks for (1) the reported
// objective to be the true midpoint loss of the returned permutation, (2) no worse than that of weight
// matching (STE's first projection), and (3), for a pair that is a permutation of each other up to small
// noise, the global optimum.
func TestSTEMatchingBruteForce(t *testing.T) {
	sizes := []int{4, 3, 3, 3}
	a := randomMLP(sizes, dtypes.Float64, 31)
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	// A's own predictions as labels, with A's weights scaled up so that its loss is low and the midpoint
	// loss tells permutations apart.
	a = a.Scale(2)
	d := randomData(64, 4, 3, 3)
	for n := range d.Len() {
		x := make([]float64, 4)
		for i := range x {
			x[i] = float64(d.X[n*4+i])
		}
		z := refMLP(a, sizes, x)
		for k := range z {
			if z[k] > z[d.Y[n]] {
				d.Y[n] = int32(k)
			}
		}
	}
	fwd := mlpForward(sizes, dtypes.Float64)
	ev, err := NewEvaluator(fwd, a, Config{})
	if err != nil {
		t.Fatal(err)
	}
	noise := randomMLP(sizes, dtypes.Float64, 32)
	for _, scale := range []float64{0.3, 0.8} {
		b, _ := spec.Apply(combine([]float64{1, scale}, []*ParamSet{a, noise}), spec.Random(4))
		al, err := STEMatcher{Evaluator: ev, Data: []*Data{d}, Steps: 30, LearningRate: 0.05}.Match(a, b, spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(al.History) != 30 {
			t.Errorf("history has %d steps, want 30", len(al.History))
		}
		wm, err := WeightMatcher{}.Match(a, b, spec)
		if err != nil {
			t.Fatal(err)
		}
		mid := func(p Permutation) float64 {
			pb, _ := spec.Apply(b, p)
			pt, err := ev.Loss(combine([]float64{0.5, 0.5}, []*ParamSet{a, pb}), d)
			if err != nil {
				t.Fatal(err)
			}
			return pt.Loss
		}
		best, worst, arg := math.Inf(1), math.Inf(-1), Permutation{}
		for _, p := range allJoint(spec) {
			l := mid(p)
			if l < best {
				best, arg = l, p
			}
			worst = math.Max(worst, l)
		}
		if worst-best < 1e-3 {
			t.Fatalf("noise %g: midpoint losses span only %g: the test cannot fail", scale, worst-best)
		}
		if got := mid(al.Perm); math.Abs(got-al.Objective) > 1e-12 {
			t.Errorf("noise %g: reported midpoint loss %g, true %g", scale, al.Objective, got)
		}
		if wml := mid(wm.Perm); al.Objective > wml+1e-12 {
			t.Errorf("noise %g: STE midpoint loss %g is worse than weight matching's %g", scale, al.Objective, wml)
		}
		if scale < 0.5 && (math.Abs(al.Objective-best) > 1e-12 || !samePerm(al.Perm, arg)) {
			t.Errorf("noise %g: STE midpoint loss %g with %v; brute force %g with %v", scale, al.Objective, al.Perm.Perms, best, arg.Perms)
		}
		if diff, err := MaxLogitDiff(fwd, b, al.Aligned, d); err != nil || diff > 1e-12 {
			t.Errorf("noise %g: aligned B differs from B: %g (%v)", scale, diff, err)
		}
	}
}

// Every matcher on lib/models' MLP and CNN: a planted permutation is undone, and on independent
// networks the aligned network computes B's function.
func TestMatchersFunctionalEquivalence(t *testing.T) {
	img := images(40, 4)
	img.Shape = []int{8, 8, 1}
	img.X = randomData(40, 64, 3, 4).X
	set := blobs(t, 200, 6)
	cases := []struct {
		name  string
		model models.Model
		set   any
	}{
		{"mlp", models.NewMLP(3, 6, 5), set},
		{"cnn", &models.CNN{Classes: 3, Channels: []int{3, 4}, Hidden: 5, ImageShape: []int{8, 8, 1}}, img},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := set
			if c.name == "cnn" {
				s = img
			}
			a, err := FromContext(initModel(t, c.model, s, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := FromContext(initModel(t, c.model, s, 2), nil)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := InferPermSpec(a)
			if err != nil {
				t.Fatal(err)
			}
			d := FromSet(s)
			fwd := FromModel(c.model)
			probe, err := ModelProbe(c.model)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := NewEvaluator(fwd, a, Config{})
			if err != nil {
				t.Fatal(err)
			}
			matchers := map[string]Matcher{
				"weight":     WeightMatcher{},
				"activation": ActivationMatcher{Probe: probe, Data: d},
				"ste":        STEMatcher{Evaluator: ev, Data: []*Data{d}, Steps: 3},
			}
			planted, _ := spec.Apply(a, spec.Random(9))
			for name, m := range matchers {
				al, err := m.Match(a, b, spec)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff, err := MaxLogitDiff(fwd, b, al.Aligned, d); err != nil || diff > 1e-5 {
					t.Errorf("%s: aligned B differs from B: max |Δlogit| = %g (%v)", name, diff, err)
				}
				if name == "ste" {
					continue // STE optimises the midpoint loss, not closeness to A.
				}
				al, err = m.Match(a, planted, spec)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff, _ := Sub(al.Aligned, a); diff.Norm() > 1e-12 {
					t.Errorf("%s: planted permutation not undone (‖π(B) − A‖ = %g)", name, diff.Norm())
				}
			}
		})
	}
}

func TestMatcherErrors(t *testing.T) {
	_, a, b, spec, d := tinyModelPair(t)
	if _, err := (ActivationMatcher{Data: d}).Match(a, b, spec); err == nil {
		t.Error("activation matcher without a probe: no error")
	}
	if _, err := (STEMatcher{}).Match(a, b, spec); err == nil {
		t.Error("STE matcher without an evaluator: no error")
	}
	if _, err := ModelProbe(&models.Linear{Classes: 3}); err == nil {
		t.Error("probe of a linear model: no error")
	}
	bad := func(ps *ParamSet, d *Data) ([]Hidden, error) { return nil, nil }
	if _, err := (ActivationMatcher{Probe: bad, Data: d}).Match(a, b, spec); err == nil {
		t.Error("probe without activations: no error")
	}
}
