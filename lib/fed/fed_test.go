package fed

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// fixture is a small federated problem: 3-class blobs in 6 dimensions, an MLP 6-8-3, four Dirichlet
// clients with at least 16 examples each.
type fixture struct {
	f       *train.FlatModel
	all     *data.Set
	test    *data.Set
	clients []*data.Set
}

func newFixture(t *testing.T, alpha float64) *fixture {
	t.Helper()
	set, err := data.Blobs(data.BlobsConfig{N: 300, Classes: 3, Dim: 6, Spread: 1.5, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	all := set.Subset(seq(0, 240))
	test := set.Subset(seq(240, 300))
	f, err := train.NewFlatModel(models.NewMLP(3, 8), all, 5)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := data.DirichletSplit(all, data.DirichletConfig{Clients: 4, Alpha: alpha, MinSize: 16, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{f: f, all: all, test: test}
	for _, p := range parts {
		fx.clients = append(fx.clients, all.Subset(p))
	}
	return fx
}

func seq(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

func TestGuidanceSpecExample(t *testing.T) {
	base := []float32{0, 1, 2, 3}
	scouts := [][]float32{{1, 1, 2, 3}, {-1, 1, 4, 3}}
	G, err := GuidanceMatrix(base, scouts, []int{4}, MinMax)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(G, []float32{0.5, 0, 1, 0}) {
		t.Errorf("G = %v, want [0.5 0 1 0]", G)
	}
	// Per tensor: [1 0 | 2 0] normalises to [1 0 | 1 0].
	G, _ = GuidanceMatrix(base, scouts, []int{2, 2}, "")
	if !slices.Equal(G, []float32{1, 0, 1, 0}) {
		t.Errorf("per-tensor G = %v, want [1 0 1 0]", G)
	}
	// Robust: D = [1 0 2 0]; sorted [0 0 1 2]: Q₁ = 0, median 0.5, Q₃ = 1.25 ⇒ G = (D − 0.5)/1.25.
	G, _ = GuidanceMatrix(base, scouts, []int{4}, Robust)
	want := []float64{0.4, -0.4, 1.2, -0.4}
	for i := range want {
		if math.Abs(float64(G[i])-want[i]) > 1e-7 {
			t.Errorf("robust G = %v, want %v", G, want)
			break
		}
	}
	// A constant tensor trains unguided.
	G, _ = GuidanceMatrix(base, [][]float32{{1, 2, 3, 4}}, []int{4}, MinMax)
	if !slices.Equal(G, []float32{1, 1, 1, 1}) {
		t.Errorf("constant D gave G = %v, want all 1", G)
	}
	for _, bad := range []func() error{
		func() error { _, err := GuidanceMatrix(base, nil, []int{4}, MinMax); return err },
		func() error { _, err := GuidanceMatrix(base, scouts, []int{3}, MinMax); return err },
		func() error { _, err := GuidanceMatrix(base, [][]float32{{1}}, []int{4}, MinMax); return err },
		func() error { _, err := GuidanceMatrix(base, scouts, []int{4}, "zscore"); return err },
		func() error {
			_, err := GuidanceMatrix(base, [][]float32{{float32(math.NaN()), 0, 0, 0}}, []int{4}, MinMax)
			return err
		},
	} {
		if bad() == nil {
			t.Error("bad input accepted")
		}
	}
}

// TestGuidanceAgainstReference compares random guidance matrices with a float64 reference, and checks
// min G = 0, max G = 1 in every tensor (Property 2).
func TestGuidanceAgainstReference(t *testing.T) {
	sizes := []int{7, 1, 12}
	r := newTestRand(3)
	base := r.vec(20)
	scouts := [][]float32{r.vec(20), r.vec(20), r.vec(20)}
	G, err := GuidanceMatrix(base, scouts, sizes, MinMax)
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for _, n := range sizes {
		d := make([]float64, n)
		for i := range d {
			for _, s := range scouts {
				u := float64(s[pos+i]) - float64(base[pos+i])
				d[i] += u * u / 3
			}
		}
		lo, hi := d[0], d[0]
		for _, x := range d {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		gmin, gmax := float32(2), float32(-1)
		for i := range d {
			ref := 1.0
			if hi > lo {
				ref = (d[i] - lo) / (hi - lo)
			}
			if math.Abs(float64(G[pos+i])-ref) > 1e-6 {
				t.Errorf("G[%d] = %v, reference %v", pos+i, G[pos+i], ref)
			}
			gmin, gmax = min(gmin, G[pos+i]), max(gmax, G[pos+i])
		}
		if n > 1 && (gmin != 0 || gmax != 1) {
			t.Errorf("tensor at %d: G in [%v, %v], want min 0 and max 1", pos, gmin, gmax)
		}
		pos += n
	}
}

type testRand struct{ s uint64 }

func newTestRand(seed uint64) *testRand { return &testRand{seed} }

func (r *testRand) vec(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		r.s = splitmix(r.s)
		v[i] = float32(r.s>>40)/float32(1<<24)*2 - 1
	}
	return v
}

// referenceLocal is an independent float64 host loop of local training built directly on the
// model's gradient: SGD or Adam, FedProx term μ(w − start) and mask.
func referenceLocal(t *testing.T, f *train.FlatModel, start []float32, set *data.Set, l Local, lr float64, mask []float32, seed uint64) []float64 {
	t.Helper()
	w := make([]float64, len(start))
	for i, x := range start {
		w[i] = float64(x)
	}
	m, v := make([]float64, len(w)), make([]float64, len(w))
	step := 0
	d := set.Dim()
	for e := 0; e < l.Epochs; e++ {
		perm := EpochOrder(set.Len(), seed, e)
		for b := 0; b+l.BatchSize <= set.Len(); b += l.BatchSize {
			var x []float32
			var y []int32
			for _, i := range perm[b : b+l.BatchSize] {
				x = append(x, set.X[i*d:(i+1)*d]...)
				y = append(y, set.Y[i])
			}
			w32 := make([]float32, len(w))
			for i := range w {
				w32[i] = float32(w[i])
			}
			_, g, err := f.Grad(w32, x, y)
			if err != nil {
				t.Fatal(err)
			}
			step++
			for i := range w {
				gi := float64(g[i]) + l.Mu*(w[i]-float64(start[i]))
				if mask != nil {
					gi *= float64(mask[i])
				}
				if l.Optimizer == "adam" {
					m[i] = 0.9*m[i] + 0.1*gi
					v[i] = 0.999*v[i] + 0.001*gi*gi
					mh := m[i] / (1 - math.Pow(0.9, float64(step)))
					vh := v[i] / (1 - math.Pow(0.999, float64(step)))
					w[i] -= lr * mh / (math.Sqrt(vh) + 1e-8)
				} else {
					w[i] -= lr * gi
				}
			}
		}
	}
	return w
}

// TestLocalTrainAgainstReference checks local SGD and Adam with the FedProx term and a mask against the
// float64 reference loop (Property 6: the proximal contribution is μ(w − θ^r)).
func TestLocalTrainAgainstReference(t *testing.T) {
	fx := newFixture(t, 0.5)
	start := fx.f.Init()
	mask := newTestRand(9).vec(fx.f.Size())
	for i := range mask {
		mask[i] = float32(math.Abs(float64(mask[i])))
	}
	for _, l := range []Local{
		{Optimizer: "sgd", LR: 0.1, Epochs: 2, BatchSize: 8, Mu: 0.5},
		{Optimizer: "adam", LR: 0.01, Epochs: 2, BatchSize: 8, Mu: 0.1},
	} {
		for _, m := range [][]float32{nil, mask} {
			got, err := LocalTrain(fx.f, start, fx.clients[1], l, l.LR, m, 77)
			if err != nil {
				t.Fatal(err)
			}
			ref := referenceLocal(t, fx.f, start, fx.clients[1], l, l.LR, m, 77)
			worst := 0.0
			for i := range ref {
				worst = math.Max(worst, math.Abs(float64(got.Params[i])-ref[i]))
			}
			if worst > 1e-5 {
				t.Errorf("%s μ=%v mask=%v: max |Δ| = %g from the reference", l.Optimizer, l.Mu, m != nil, worst)
			}
			if got.Steps != 2*(fx.clients[1].Len()/8) {
				t.Errorf("%d steps, want %d", got.Steps, 2*(fx.clients[1].Len()/8))
			}
		}
	}
}

// TestZeroGuidanceFreezes: coordinates with G = 0 never move under SGD or Adam (Property 1).
func TestZeroGuidanceFreezes(t *testing.T) {
	fx := newFixture(t, 0.5)
	start := fx.f.Init()
	mask := make([]float32, len(start))
	for i := range mask {
		if i%3 != 0 {
			mask[i] = 0.7
		}
	}
	for _, opt := range []string{"sgd", "adam"} {
		res, err := LocalTrain(fx.f, start, fx.clients[0], Local{Optimizer: opt, LR: 0.05, Epochs: 3, BatchSize: 8}, 0.05, mask, 1)
		if err != nil {
			t.Fatal(err)
		}
		moved := 0
		for i := range start {
			if mask[i] == 0 && res.Params[i] != start[i] {
				t.Fatalf("%s: frozen coordinate %d moved from %v to %v", opt, i, start[i], res.Params[i])
			}
			if mask[i] != 0 && res.Params[i] != start[i] {
				moved++
			}
		}
		if moved == 0 {
			t.Errorf("%s: no guided coordinate moved", opt)
		}
	}
}

// TestOneClientIsCentralised: FedAvg with K = 1, C = 1, β = 0 and E epochs is lib/train's SGD for E
// epochs on the same batches (Property 4), an independent implementation (GoMLX's optimizer).
func TestOneClientIsCentralised(t *testing.T) {
	fx := newFixture(t, 0.5)
	init := fx.f.Init()
	cfg := Config{Model: fx.f, Clients: []*data.Set{fx.all}, Rounds: 1, Local: Local{LR: 0.1, Epochs: 3, BatchSize: 16}, Seed: 4}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := fx.f.Context(init)
	if err != nil {
		t.Fatal(err)
	}
	cen, err := train.Run(train.Config{Model: fx.f.Model(), Train: fx.all, Optimizer: train.SGD(0.1, 0), BatchSize: 16, Epochs: 3,
		Init: ctx, DataSeed: OrderSeed(4, 1, 0), Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	flat, err := train.Flat(cen.Context)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range flat {
		worst = math.Max(worst, math.Abs(float64(flat[i]-res.Params[i])))
	}
	if worst > 1e-5 || res.Steps != cen.Steps {
		t.Errorf("one-client FedAvg vs centralised SGD: max |Δθ| = %g, steps %d vs %d", worst, res.Steps, cen.Steps)
	}
}

// TestEquivalences: FedLEx with G ≡ 1 and FedProx with μ = 0 are FedAvg bit for bit (Property 3);
// runs are deterministic; FedLEx with a real guidance and FedProx with μ > 0 differ.
func TestEquivalences(t *testing.T) {
	fx := newFixture(t, 0.3)
	base := Config{Model: fx.f, Clients: fx.clients, Test: fx.test, Rounds: 3, Fraction: 0.5, Local: Local{LR: 0.1, BatchSize: 8}, Seed: 8}
	avg, err := Run(base)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Run(base)
	if !slices.Equal(avg.Params, again.Params) {
		t.Error("two runs with the same seed differ")
	}
	ones := make([]float32, fx.f.Size())
	for i := range ones {
		ones[i] = 1
	}
	lex := base
	lex.Exploration = &Exploration{Guidance: ones}
	lex.GuidanceMode = Fixed
	lexRes, err := Run(lex)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(avg.Params, lexRes.Params) {
		t.Error("FedLEx with G ≡ 1 differs from FedAvg")
	}
	prox := base
	prox.Local.Mu = 0
	proxRes, _ := Run(prox)
	if !slices.Equal(avg.Params, proxRes.Params) || prox.Method() != "FedAvg" {
		t.Error("FedProx with μ = 0 differs from FedAvg")
	}
	prox.Local.Mu = 1
	proxRes, _ = Run(prox)
	if slices.Equal(avg.Params, proxRes.Params) || prox.Method() != "FedProx" {
		t.Error("FedProx with μ = 1 equals FedAvg")
	}
	for r := range avg.Rounds {
		if !slices.Equal(avg.Rounds[r].Clients, proxRes.Rounds[r].Clients) {
			t.Errorf("round %d sampled different clients for different methods", r+1)
		}
		if len(avg.Rounds[r].Clients) != 2 {
			t.Errorf("round %d sampled %d clients, want ⌊0.5·4⌋ = 2", r+1, len(avg.Rounds[r].Clients))
		}
	}
}

func TestAggregate(t *testing.T) {
	theta := []float64{1, 2, 3}
	v := make([]float64, 3)
	locals := [][]float32{{0, 0, 0}, {4, 4, 4}}
	if err := Aggregate(theta, v, locals, []int{3, 1}, 0); err != nil {
		t.Fatal(err)
	}
	for i, x := range theta {
		if math.Abs(x-1) > 1e-15 { // ¾·0 + ¼·4
			t.Errorf("θ[%d] = %v, want 1", i, x)
		}
	}
	theta = []float64{1, 2, 3}
	v = make([]float64, 3)
	same := []float32{0.5, -1, 7}
	Aggregate(theta, v, [][]float32{same, same, same}, []int{5, 2, 9}, 0)
	for i := range theta {
		if math.Abs(theta[i]-float64(same[i])) > 1e-14 {
			t.Errorf("identical clients: θ = %v, want %v", theta, same)
		}
	}
	// Constant pseudo-gradient Δ = 1 with β = 0.9: after t rounds the applied step is (1 − 0.9^t)Δ.
	theta = []float64{10}
	v = []float64{0}
	for step := 1; step <= 5; step++ {
		before := theta[0]
		Aggregate(theta, v, [][]float32{{float32(before - 1)}}, []int{1}, 0.9)
		if got, want := before-theta[0], 1-math.Pow(0.9, float64(step)); math.Abs(got-want) > 1e-6 {
			t.Errorf("round %d: step %v, want %v", step, got, want)
		}
	}
	if Aggregate(theta, v, nil, nil, 0) == nil || Aggregate(theta, v, [][]float32{{1}}, []int{1}, 1) == nil ||
		Aggregate(theta, v, [][]float32{{1, 2}}, []int{1}, 0) == nil || Aggregate(theta, v, [][]float32{{1}}, []int{0}, 0) == nil {
		t.Error("bad aggregation input accepted")
	}
}

func TestExplore(t *testing.T) {
	fx := newFixture(t, 0.3)
	init := fx.f.Init()
	ex, err := Explore(fx.f, init, fx.clients, ExploreConfig{Local: Local{LR: 0.1, BatchSize: 8}, Fraction: 0.5, Epochs: 4, Patience: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Scouts) != 2 || len(ex.Params) != 2 || !slices.IsSorted(ex.Scouts) {
		t.Fatalf("scouts %v, want 2 sorted", ex.Scouts)
	}
	for _, e := range ex.Epochs {
		if e < 1 || e > 4 {
			t.Errorf("scout trained %d epochs, want 1..4", e)
		}
	}
	// Base = one epoch on the first scout's data from init: same as LocalTrain there.
	want, _ := LocalTrain(fx.f, init, fx.clients[ex.Scouts[0]], Local{LR: 0.1, BatchSize: 8}, 0.1, nil, OrderSeed(3, -1, ex.Scouts[0]))
	if !slices.Equal(want.Params, ex.Base) {
		t.Error("base model is not one local epoch from init on the first scout")
	}
	ref, _ := GuidanceMatrix(ex.Base, ex.Params, ex.Sizes, MinMax)
	if !slices.Equal(ref, ex.Guidance) {
		t.Error("exploration guidance differs from GuidanceMatrix of its scouts")
	}
	for _, g := range ex.Guidance {
		if g < 0 || g > 1 {
			t.Fatalf("G = %v outside [0, 1]", g)
		}
	}
	one, _ := ex.GuidanceFor([]int{ex.Scouts[1]})
	ref, _ = GuidanceMatrix(ex.Base, ex.Params[1:], ex.Sizes, MinMax)
	if !slices.Equal(one, ref) {
		t.Error("per-round guidance of one scout differs from its own G")
	}
	// FedLEx runs and differs from FedAvg.
	cfg := Config{Model: fx.f, Clients: fx.clients, Rounds: 2, Local: Local{LR: 0.1, BatchSize: 8}, Seed: 1, Init: init}
	avg, _ := Run(cfg)
	cfg.Exploration = ex
	lex, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(avg.Params, lex.Params) || cfg.Method() != "FedLEx" {
		t.Error("FedLEx with a real guidance equals FedAvg")
	}
	if _, err := Explore(fx.f, init, fx.clients, ExploreConfig{Local: Local{LR: 0.1}, Fraction: 2}); err == nil {
		t.Error("Fraction 2 accepted")
	}
}

func TestRunBadInput(t *testing.T) {
	fx := newFixture(t, 0.5)
	ok := Config{Model: fx.f, Clients: fx.clients, Rounds: 1, Local: Local{LR: 0.1, BatchSize: 8}}
	for name, mod := range map[string]func(c *Config){
		"no rounds":      func(c *Config) { c.Rounds = 0 },
		"fraction > 1":   func(c *Config) { c.Fraction = 1.5 },
		"negative lr":    func(c *Config) { c.Local.LR = -1 },
		"NaN mu":         func(c *Config) { c.Local.Mu = math.NaN() },
		"optimizer":      func(c *Config) { c.Local.Optimizer = "rmsprop" },
		"beta 1":         func(c *Config) { c.ServerMomentum = 1 },
		"short init":     func(c *Config) { c.Init = []float32{1} },
		"guidance mode":  func(c *Config) { c.GuidanceMode = "sometimes" },
		"no clients":     func(c *Config) { c.Clients = nil },
		"batch too big":  func(c *Config) { c.Local.BatchSize = 10000 },
		"short guidance": func(c *Config) { c.Exploration = &Exploration{Guidance: []float32{1}} },
	} {
		c := ok
		mod(&c)
		if _, err := Run(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDivergenceIsTyped: a run whose parameters blow up stops with a *train.DivergedError (through
// LocalTrain and Run), so callers can tell a diverged configuration from a broken one.
func TestDivergenceIsTyped(t *testing.T) {
	fx := newFixture(t, 0.5)
	_, err := LocalTrain(fx.f, fx.f.Init(), fx.clients[0], Local{LR: 1e30, Epochs: 3, BatchSize: 8}, 1e30, nil, 1)
	var div *train.DivergedError
	if !errors.As(err, &div) {
		t.Fatalf("LocalTrain at lr 1e30: got %v, want a *train.DivergedError", err)
	}
	_, err = Run(Config{Model: fx.f, Clients: fx.clients, Test: fx.test, Rounds: 3, Local: Local{LR: 1e30, BatchSize: 8}, Seed: 1})
	if !errors.As(err, &div) {
		t.Fatalf("Run at lr 1e30: got %v, want a *train.DivergedError", err)
	}
	if _, err = Run(Config{Model: fx.f, Clients: fx.clients, Rounds: 1, Local: Local{LR: 0.1, BatchSize: 8}, Seed: 1}); err != nil {
		t.Fatalf("a sane run failed: %v", err)
	}
}
