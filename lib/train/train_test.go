package train

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// blobs is a test fixture: k Gaussian blobs in d dims, centres at distance ~3σ, n examples.
func blobs(n, k, d int, seed uint64) *data.Set {
	r := rand.New(rand.NewPCG(seed, 99))
	centres := make([]float64, k*d)
	for i := range centres {
		centres[i] = 2 * r.NormFloat64()
	}
	s := &data.Set{Name: "blobs", Shape: []int{d}, Classes: k,
		X: make([]float32, n*d), Y: make([]int32, n), IDs: make([]int32, n)}
	for i := 0; i < n; i++ {
		c := i % k
		s.Y[i], s.IDs[i] = int32(c), int32(i)
		for j := 0; j < d; j++ {
			s.X[i*d+j] = float32(centres[c*d+j] + 0.7*r.NormFloat64())
		}
	}
	return s
}

func smallConfig() Config {
	return Config{
		Model:     models.NewMLP(3, 16),
		Train:     blobs(240, 3, 8, 1),
		Test:      blobs(120, 3, 8, 1).Subset(seq(60, 120)),
		Optimizer: Adam(0.01),
		BatchSize: 32,
		Steps:     60,
		Seed:      7,
		Silent:    true,
	}
}

func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

func TestRunLearnsBlobs(t *testing.T) {
	cfg := smallConfig()
	cfg.EvalEvery = 20
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 60 || res.History[59].Step != 60 {
		t.Fatalf("history has %d records", len(res.History))
	}
	if len(res.Evals) != 3 || res.Evals[2].Step != 60 {
		t.Fatalf("evals = %+v, want steps 20, 40, 60", res.Evals)
	}
	final, _ := res.Final()
	if final.Accuracy < 0.9 {
		t.Fatalf("test accuracy %.3f after 60 steps on separable blobs (chance 0.33)", final.Accuracy)
	}
	first, last := res.History[0].Loss, res.History[59].Loss
	if !(last < first/2) {
		t.Fatalf("loss did not fall: %.4f → %.4f", first, last)
	}
	// Evaluate agrees with the run's last evaluation (same objective "ce").
	m, err := Evaluate(cfg.Model, res.Context, cfg.Test)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Accuracy-final.Accuracy) > 1e-9 || math.Abs(m.Loss-final.Loss) > 1e-6 {
		t.Fatalf("Evaluate = %+v, run's final eval = %+v", m, final)
	}
}

func TestRunObjectivesAndOptimizers(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
	}{
		{"sgd-momentum", func(c *Config) { c.Optimizer = SGD(0.1, 0.9) }},
		{"adamw-warmup-cosine", func(c *Config) { c.Optimizer = AdamW(0.01, 0.01).WithWarmup(10).WithCosine(0) }},
		{"objective-hinge", func(c *Config) { c.Objective = "hinge" }},
		{"plain-loss", func(c *Config) {
			c.Loss = func(labels, predictions []*Node) *Node {
				logits := predictions[0]
				oneHot := OneHot(labels[0], logits.Shape().Dimensions[1], logits.DType())
				return ReduceAllMean(Neg(ReduceSum(Mul(oneHot, LogSoftmax(logits)), -1)))
			}
		}},
		{"layernorm", func(c *Config) {
			c.Model = &models.MLP{Hidden: []int{16}, Classes: 3, Norm: "layernorm", Activation: "gelu"}
		}},
		{"batchnorm", func(c *Config) { c.Model = &models.MLP{Hidden: []int{16}, Classes: 3, Norm: "batchnorm"} }},
		{"linear", func(c *Config) { c.Model = &models.Linear{Classes: 3} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			tc.mut(&cfg)
			res, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if final, _ := res.Final(); final.Accuracy < 0.85 {
				t.Fatalf("test accuracy %.3f", final.Accuracy)
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	cfg := smallConfig()
	cfg.Steps = 20
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := Flat(a.Context)
	fb, _ := Flat(b.Context)
	if !slices.Equal(fa, fb) {
		t.Fatal("two runs with the same seed and data order ended with different parameters")
	}
	cfg.DataSeed = 12345
	c, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc, _ := Flat(c.Context)
	if slices.Equal(fa, fc) {
		t.Fatal("a different data order gave the same parameters")
	}
}

func TestRunPairSharesInit(t *testing.T) {
	cfg := smallConfig()
	cfg.Steps = 10
	cfg.SnapshotEvery = 5
	a, b, err := RunPair(cfg, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Snapshots) != 3 || a.Snapshots[0].Step != 0 || a.Snapshots[2].Step != 10 {
		t.Fatalf("snapshots at steps %v", []int{a.Snapshots[0].Step})
	}
	if !slices.Equal(a.Snapshots[0].Params, b.Snapshots[0].Params) {
		t.Fatal("the pair does not share its initialisation")
	}
	if slices.Equal(a.Snapshots[2].Params, b.Snapshots[2].Params) {
		t.Fatal("the pair ended identical despite different data orders")
	}
	// The last snapshot is the final parameters.
	fa, _ := Flat(a.Context)
	if !slices.Equal(fa, a.Snapshots[2].Params) {
		t.Fatal("last snapshot differs from the final parameters")
	}
	// Init: a run started from a's final parameters starts exactly there.
	cfg.Init = a.Context
	cfg.Seed = 999
	c, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Snapshots[0].Params, fa) {
		t.Fatal("Config.Init was not used as the starting point")
	}
	if _, _, err := RunPair(cfg, 3, 3); err == nil {
		t.Fatal("RunPair with equal seeds: want an error")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.Steps = 12
	cfg.CheckpointDir = dir
	cfg.CheckpointSteps = []int{0, 5}
	cfg.CheckpointEvery = 12
	cfg.SnapshotEvery = 1
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ListCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, c := range list {
		steps = append(steps, c.Step)
	}
	if !slices.Equal(steps, []int{0, 5, 12}) {
		t.Fatalf("checkpoints at steps %v, want [0 5 12]", steps)
	}
	// Load an older checkpoint (not the latest): its parameters are the step-5 snapshot.
	c5, err := FindCheckpoint(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	ctx5, err := LoadCheckpoint(c5.Path)
	if err != nil {
		t.Fatal(err)
	}
	f5, err := Flat(ctx5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f5, res.Snapshots[5].Params) {
		t.Fatal("checkpoint of step 5 does not hold the step-5 parameters")
	}
	// The latest checkpoint holds every variable of the final context, bit for bit, optimizer state included.
	ctx12, err := LoadCheckpoint(list[2].Path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for v := range res.Context.IterVariables() {
		w := ctx12.GetVariableByScopeAndName(v.Scope(), v.Name())
		if w == nil {
			t.Fatalf("variable %s missing from the loaded checkpoint", v.ScopeAndName())
		}
		if w.Trainable != v.Trainable {
			t.Fatalf("%s: trainable %v after loading, %v before", v.ScopeAndName(), w.Trainable, v.Trainable)
		}
		a, b := v.MustValue(), w.MustValue()
		if !a.Shape().Equal(b.Shape()) || !slices.Equal(bytesOf(a), bytesOf(b)) {
			t.Fatalf("variable %s differs after the round trip", v.ScopeAndName())
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d variables compared", n)
	}
	// The loaded model evaluates like the trained one.
	m1, _ := Evaluate(cfg.Model, res.Context, cfg.Test)
	m2, err := Evaluate(cfg.Model, ctx12, cfg.Test)
	if err != nil || m1 != m2 {
		t.Fatalf("evaluation after loading %+v (err %v), before %+v", m2, err, m1)
	}
	// Saving the same step again replaces it atomically and leaves no temporary folder.
	if _, err := SaveCheckpoint(dir, ctx5, 12, "again"); err != nil {
		t.Fatal(err)
	}
	again, _ := LoadCheckpoint(list[2].Path)
	fa, _ := Flat(again)
	if !slices.Equal(fa, f5) {
		t.Fatal("re-saved checkpoint does not hold the new values")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatalf("temporary folder %s left behind", e.Name())
		}
	}
	// A half-written save (a temporary folder) is not listed.
	_ = os.Mkdir(filepath.Join(dir, ".tmp-step-00000099-x"), 0o755)
	_ = os.Mkdir(filepath.Join(dir, StepDir(98)), 0o755) // No meta file: incomplete.
	list2, _ := ListCheckpoints(dir)
	if len(list2) != 3 {
		t.Fatalf("incomplete checkpoints listed: %+v", list2)
	}
	if _, err := FindCheckpoint(dir, 7); err == nil || !strings.Contains(err.Error(), "[0 5 12]") {
		t.Fatalf("FindCheckpoint(7) error = %v, want one listing the steps", err)
	}
}

func bytesOf(t *tensors.Tensor) []byte {
	var out []byte
	_ = t.ConstBytes(func(b []byte) { out = slices.Clone(b) })
	return out
}

func TestFlatAndParamsRoundTrip(t *testing.T) {
	cfg := smallConfig()
	cfg.Steps = 2
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := res.Context
	names, sizes := ParamLayout(ctx)
	wantNames := []string{"/dense_0/weights", "/dense_0/biases", "/dense_1/weights", "/dense_1/biases"}
	if !slices.Equal(names, wantNames) || !slices.Equal(sizes, []int{8 * 16, 16, 16 * 3, 3}) {
		t.Fatalf("layout %v %v", names, sizes)
	}
	flat, _ := Flat(ctx)
	if len(flat) != NumParams(ctx) || len(flat) != 8*16+16+16*3+3 {
		t.Fatalf("flat has %d values", len(flat))
	}
	params, _ := Params(ctx)
	// The flat vector is the concatenation of Params.
	var cat []float32
	for _, p := range params {
		cat = append(cat, p.Data...)
	}
	if !slices.Equal(cat, flat) {
		t.Fatal("Flat is not the concatenation of Params")
	}
	moved := slices.Clone(flat)
	for i := range moved {
		moved[i] = float32(i)*0.001 - 1
	}
	if err := SetFlat(ctx, moved); err != nil {
		t.Fatal(err)
	}
	got, _ := Flat(ctx)
	if !slices.Equal(got, moved) {
		t.Fatal("SetFlat then Flat changed the values")
	}
	if err := SetParams(ctx, params); err != nil {
		t.Fatal(err)
	}
	got, _ = Flat(ctx)
	if !slices.Equal(got, flat) {
		t.Fatal("SetParams did not restore the parameters")
	}
	if err := SetFlat(ctx, flat[:10]); err == nil {
		t.Fatal("SetFlat with a short vector: want an error")
	}
	bad := []Param{{Name: "/dense_0/weights", Shape: []int{2, 2}, Data: make([]float32, 4)}}
	if err := SetParams(ctx, bad); err == nil || !strings.Contains(err.Error(), "/dense_0/weights") {
		t.Fatalf("SetParams with a wrong shape: err = %v", err)
	}
	// The model reads the values set: evaluation changes with SetFlat and comes back.
	m1, _ := Evaluate(cfg.Model, ctx, cfg.Test)
	_ = SetFlat(ctx, moved)
	m2, _ := Evaluate(cfg.Model, ctx, cfg.Test)
	_ = SetFlat(ctx, flat)
	m3, _ := Evaluate(cfg.Model, ctx, cfg.Test)
	if m1 != m3 || m1 == m2 {
		t.Fatalf("evaluations %+v, %+v, %+v: SetFlat is not read by the model", m1, m2, m3)
	}
}

func TestNaNStopsTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.Steps = 30
	cfg.CheckpointDir = dir
	cfg.CheckpointEvery = 1
	// Poison example 100: the first batch holding it has a NaN loss.
	cfg.Train = cfg.Train.Clone()
	cfg.Train.X[100*8] = float32(math.NaN())
	o := newOrder(cfg.Train.Len(), cfg.BatchSize, cfg.Seed^0x9e3779b97f4a7c15)
	want := 0
	for s := 1; want == 0; s++ {
		if slices.Contains(o.next(), 100) {
			want = s
		}
	}
	res, err := Run(cfg)
	var div *DivergedError
	if !errors.As(err, &div) {
		t.Fatalf("err = %v, want a *DivergedError", err)
	}
	if div.Step != want || !math.IsNaN(div.Loss) {
		t.Fatalf("diverged at step %d with loss %v, want step %d with NaN", div.Step, div.Loss, want)
	}
	wantCk := filepath.Join(dir, StepDir(want-1))
	if div.LastCheckpoint != wantCk || !strings.Contains(err.Error(), wantCk) || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("error %q, want it to name step %d, NaN and %s", err, want, wantCk)
	}
	if res == nil || len(res.History) != want {
		t.Fatalf("partial result missing or wrong length")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		mut        func(*Config)
	}{
		{"empty", "empty", func(c *Config) { c.Train = &data.Set{Name: "none", Shape: []int{8}, Classes: 3} }},
		{"unknown objective", "did you mean \"ce\"", func(c *Config) { c.Objective = "cee" }},
		{"bad hyperparameter", "margin", func(c *Config) { c.Objective = "hinge"; c.ObjectiveParams = map[string]float64{"margin": -1} }},
		{"test shape", "shape", func(c *Config) { c.Test = blobs(30, 3, 5, 1) }},
		{"model classes", "logits of shape", func(c *Config) { c.Model = models.NewMLP(4, 8) }},
		{"optimizer", "unknown optimizer", func(c *Config) { c.Optimizer = Optimizer{Kind: "lion", LR: 1} }},
		{"lr", "learning rate", func(c *Config) { c.Optimizer = Adam(0) }},
		{"inf margin", "finite", func(c *Config) { c.Objective = "hinge"; c.ObjectiveParams = map[string]float64{"margin": math.Inf(1)} }},
		{"NaN momentum", "momentum", func(c *Config) { c.Optimizer = SGD(0.1, math.NaN()) }},
		{"inf weight decay", "weight decay", func(c *Config) { c.Optimizer = Adam(0.1); c.Optimizer.WeightDecay = math.Inf(1) }},
		{"inf epsilon", "epsilon", func(c *Config) { c.Optimizer = Adam(0.1); c.Optimizer.Epsilon = math.Inf(1) }},
		{"NaN beta", "betas", func(c *Config) { c.Optimizer = Adam(0.1); c.Optimizer.Beta1 = math.NaN() }},
		{"checkpoint dir", "CheckpointDir", func(c *Config) { c.CheckpointSteps = []int{1} }},
		{"activation", "unknown activation", func(c *Config) { c.Model = &models.MLP{Hidden: []int{4}, Classes: 3, Activation: "relu6"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.Steps = 2
			tc.mut(&cfg)
			_, err := Run(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLearningRateSchedule(t *testing.T) {
	o := Adam(0.1).WithWarmup(4).WithCosine(0.01)
	const total = 20
	// Plain-Go formula, independently: warm-up (t+1)/W, then half-cosine from 0.1 to 0.01.
	for step := 0; step < total; step++ {
		var want float64
		if step < 4 {
			want = 0.1 * float64(step+1) / 4
		} else {
			want = 0.01 + 0.09*(1+math.Cos(math.Pi*float64(step-4)/16))/2
		}
		if got := o.LearningRate(step, total); math.Abs(got-want) > 1e-12 {
			t.Fatalf("LearningRate(%d) = %v, want %v", step, got, want)
		}
	}
	// The graph computes the same schedule.
	exec := MustNewExec(backendMust(), func(step *Node) *Node { return o.learningRateGraph(step, total, step.DType()) })
	for step := 0; step < total; step++ {
		got := tensors.ToScalar[float64](exec.MustExec(float64(step))[0])
		if math.Abs(got-o.LearningRate(step, total)) > 1e-12 {
			t.Fatalf("graph lr(%d) = %v, want %v", step, got, o.LearningRate(step, total))
		}
	}
	// A run records the schedule in its history.
	cfg := smallConfig()
	cfg.Steps = total
	cfg.Optimizer = o
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.History[0].LR != 0.025 || math.Abs(res.History[19].LR-o.LearningRate(19, total)) > 0 {
		t.Fatalf("history LR %v … %v", res.History[0].LR, res.History[19].LR)
	}
}

// TestOptimizerSteps checks the update rules on a loss with a constant gradient: with x = 0 the linear
// model's logits are its biases b, and L = Σ_k c_k·b_k has ∂L/∂b = c.
func TestOptimizerSteps(t *testing.T) {
	c := []float32{1, -2, 0.5}
	loss := func(_, predictions []*Node) *Node {
		logits := predictions[0]
		cc := Const(logits.Graph(), c)
		return ReduceAllMean(ReduceSum(Mul(logits, ExpandLeftToRank(cc, 2)), -1))
	}
	zeros := &data.Set{Name: "zeros", Shape: []int{2}, Classes: 3, X: make([]float32, 8), Y: []int32{0, 1, 2, 0}, IDs: []int32{0, 1, 2, 3}}
	run := func(o Optimizer, steps int) []float32 {
		res, err := Run(Config{Model: &models.Linear{Classes: 3}, Train: zeros, Loss: loss, Optimizer: o, BatchSize: 4, Steps: steps, Silent: true})
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := Params(res.Context)
		return ps[1].Data // "/dense_0/biases", initialised at 0.
	}
	const lr, mu = 0.1, 0.9
	b := run(SGD(lr, mu), 3) // b₃ = −η·c·(1 + (1+μ) + (1+μ+μ²))
	for k := range c {
		want := -lr * float64(c[k]) * (1 + (1 + mu) + (1 + mu + mu*mu))
		if math.Abs(float64(b[k])-want) > 1e-5 {
			t.Fatalf("SGD momentum: b[%d] = %v, want %v", k, b[k], want)
		}
	}
	b = run(Adam(lr), 2) // With a constant gradient, each Adam step is η·sign(c) (up to ε).
	for k := range c {
		want := -2 * lr * math.Copysign(1, float64(c[k]))
		if math.Abs(float64(b[k])-want) > 1e-5 {
			t.Fatalf("Adam: b[%d] = %v, want %v", k, b[k], want)
		}
	}
}

func backendMust() backendT { return mustBackend() }

var _ = context.New

func TestLerpParams(t *testing.T) {
	a := ParamList{{Name: "w", Shape: []int{2}, Data: []float32{0, 2}}}
	b := ParamList{{Name: "w", Shape: []int{2}, Data: []float32{4, -2}}}
	m, err := LerpParams(a, b, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	if m[0].Data[0] != 1 || m[0].Data[1] != 1 || a[0].Data[0] != 0 {
		t.Errorf("LerpParams = %v (a = %v)", m[0].Data, a[0].Data)
	}
	if _, err := LerpParams(a, ParamList{{Name: "v", Shape: []int{2}, Data: []float32{1, 1}}}, 0.5); err == nil {
		t.Error("lists with different names were accepted")
	}
	c := a.Clone()
	c[0].Data[0] = 9
	if a[0].Data[0] != 0 {
		t.Error("Clone shares data")
	}
}

// TestWatch checks Config.Watch: called after every step with the history so far, then once with done.
func TestWatch(t *testing.T) {
	cfg := smallConfig()
	cfg.Steps = 5
	var seen []int
	doneAt := -1
	cfg.Watch = func(res *Result, done bool) {
		if done {
			doneAt = len(res.History)
			return
		}
		seen = append(seen, len(res.History))
	}
	if _, err := Run(cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int{1, 2, 3, 4, 5}) || doneAt != 5 {
		t.Errorf("watch saw histories of %v steps and done at %d, want [1 2 3 4 5] and 5", seen, doneAt)
	}
}
