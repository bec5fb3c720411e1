package attack

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// advSet is a small 3-class set with D features in (0.05, 0.95).
func advSet(n, d int, seed uint64) *data.Set {
	r := rand.New(rand.NewPCG(seed, 7))
	s := &data.Set{Name: "adv-test", Shape: []int{d}, Classes: 3, X: make([]float32, n*d), Y: make([]int32, n), IDs: make([]int32, n)}
	for i := 0; i < n; i++ {
		s.Y[i] = int32(i % 3)
		s.IDs[i] = int32(i)
		for j := 0; j < d; j++ {
			s.X[i*d+j] = float32(0.05 + 0.9*r.Float64())
		}
	}
	return s
}

// linearGrad is the float64 gradient of Σ_i c_i·CE(W·x_i + b, y_i) for a one-layer reference model.
func linearGrad(ref refMLP, xs [][]float64, ys []int, coef []float64) (dW [][]float64, dB []float64) {
	l := ref[0]
	dW = make([][]float64, len(l.W))
	for i := range dW {
		dW[i] = make([]float64, len(l.B))
	}
	dB = make([]float64, len(l.B))
	for n, x := range xs {
		h := ref.logits(x)
		mx := math.Inf(-1)
		for _, v := range h {
			mx = math.Max(mx, v)
		}
		z := 0.0
		for _, v := range h {
			z += math.Exp(v - mx)
		}
		for k := range h {
			g := math.Exp(h[k]-mx) / z
			if k == ys[n] {
				g--
			}
			g *= coef[n]
			dB[k] += g
			for j := range x {
				dW[j][k] += g * x[j]
			}
		}
	}
	return dW, dB
}

// One SGD step of a custom loss with clean logits, extra inputs and auxiliary outputs, against a float64
// reference: the losses, the auxiliary outputs and the updated parameters.
func TestTrainStepMatchesReference(t *testing.T) {
	const d, b, lr = 6, 8, 0.3
	r := rand.New(rand.NewPCG(3, 4))
	ref := refMLP{randDense(r, d, 3, 1)}
	set := advSet(b, d, 1)
	weights := []float32{0.5, 1, 1.5, 2, 0.25, 1, 3, 0.75}
	cfg := TrainConfig{
		Model: &models.Linear{Classes: 3}, Train: set, Init: newCtx(ref),
		Attack:    Config{Epsilon: 0.2, Steps: 3, StepSize: 0.1, RandomStart: true, Seed: 5, Clip: &Range{0, 1}},
		Optimizer: train.SGD(lr, 0), Steps: 1, BatchSize: b, Clean: true, Silent: true,
		Extra: func(tb *TrainBatch) ([]any, error) {
			w := make([]float32, b)
			for i, k := range tb.Index {
				w[i] = weights[k]
			}
			return []any{w}, nil
		},
		Loss: func(in LossInputs) (*Node, []*Node) {
			adv := losses.CrossEntropy(in.Adv, in.Labels)
			clean := losses.CrossEntropy(in.Clean, in.Labels)
			loss := Add(ReduceAllMean(Mul(adv, in.Extra[0])), MulScalar(ReduceAllMean(clean), 0.5))
			return loss, []*Node{adv, clean}
		},
	}
	var got *TrainBatch
	var rec TrainRecord
	cfg.After = func(tb *TrainBatch, tr TrainRecord) error { got, rec = tb, tr; return nil }
	res, err := Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || res.Steps != 1 || len(res.History) != 1 {
		t.Fatalf("After saw %v, %d steps, %d records; want one step", got, res.Steps, len(res.History))
	}
	checkBall(t, "training attack", got.Attack, got.X, d, cfg.Attack)
	var xs, advs [][]float64
	var ys []int
	want := 0.0
	coef := make([]float64, 0, 2*b)
	for i, k := range got.Index {
		x, a := row(got.X, i, d), row(got.Adv, i, d)
		y := int(got.Labels[i])
		if y != int(set.Y[k]) || math.Abs(x[0]-float64(set.X[k*d])) > 0 {
			t.Fatalf("batch row %d is not example %d of the set", i, k)
		}
		ceAdv, ceClean := refCE(ref.logits(a), y), refCE(ref.logits(x), y)
		if math.Abs(rec.Aux[0][i]-ceAdv) > 1e-4*(1+ceAdv) || math.Abs(rec.Aux[1][i]-ceClean) > 1e-4*(1+ceClean) {
			t.Errorf("example %d: aux CE (adv %g, clean %g), reference (%g, %g)", i, rec.Aux[0][i], rec.Aux[1][i], ceAdv, ceClean)
		}
		if math.Abs(got.Attack.AdvLoss[i]-ceAdv) > 1e-4*(1+ceAdv) {
			t.Errorf("example %d: the attack's AdvLoss %g, reference CE at x_adv %g", i, got.Attack.AdvLoss[i], ceAdv)
		}
		want += float64(weights[k])*ceAdv/b + 0.5*ceClean/b
		xs, advs, ys = append(xs, x), append(advs, a), append(ys, y)
		coef = append(coef, float64(weights[k])/b)
	}
	if math.Abs(rec.Loss-want) > 1e-4*(1+want) {
		t.Errorf("step loss %g, reference %g", rec.Loss, want)
	}
	for range got.Index {
		coef = append(coef, 0.5/b)
	}
	dW, dB := linearGrad(ref, append(advs, xs...), append(ys, ys...), coef)
	params, err := train.Params(res.Context)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		for i, v := range p.Data {
			var w0, g float64
			switch {
			case strings.HasSuffix(p.Name, models.WeightsVar):
				w0, g = ref[0].W[i/3][i%3], dW[i/3][i%3]
			case strings.HasSuffix(p.Name, models.BiasesVar):
				w0, g = ref[0].B[i], dB[i]
			default:
				t.Fatalf("unexpected parameter %s", p.Name)
			}
			if wantV := w0 - lr*g; math.Abs(float64(v)-wantV) > 1e-5*(1+math.Abs(wantV)) {
				t.Errorf("%s[%d] = %g after the step, reference %g", p.Name, i, v, wantV)
			}
		}
	}
}

// The default loss is PGD-AT: mean CE on the adversarial inputs; runs are fixed by their seeds; an epoch
// visits every example once; training lowers the robust loss.
func TestTrainDefaultLossAndOrder(t *testing.T) {
	set := advSet(48, 5, 2)
	cfg := TrainConfig{Model: models.NewMLP(3, 8), Train: set, Optimizer: train.Adam(0.05), BatchSize: 16, Epochs: 4, Seed: 3, Silent: true,
		Attack: Config{Epsilon: 0.05, Steps: 2, StepSize: 0.03, RandomStart: true, Clip: &Range{0, 1}}}
	var seen [4]map[int]int
	var first []float64
	cfg.After = func(tb *TrainBatch, r TrainRecord) error {
		e := (tb.Step - 1) / 3
		if seen[e] == nil {
			seen[e] = map[int]int{}
		}
		for _, i := range tb.Index {
			seen[e][i]++
		}
		if math.Abs(r.Loss-mean(tb.Attack.AdvLoss)) > 1e-5*(1+r.Loss) {
			t.Errorf("step %d: loss %g, want the mean robust CE %g", tb.Step, r.Loss, mean(tb.Attack.AdvLoss))
		}
		first = append(first, r.Loss)
		return nil
	}
	a, err := Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Steps != 12 || a.BatchSize != 16 {
		t.Fatalf("got %d steps of batch %d, want 12 of 16", a.Steps, a.BatchSize)
	}
	for e, m := range seen {
		if len(m) != 48 {
			t.Errorf("epoch %d visited %d distinct examples, want 48", e, len(m))
		}
	}
	if last, start := a.History[11].Loss, a.History[0].Loss; !(last < start) {
		t.Errorf("robust loss did not decrease: step 1 %g, step 12 %g", start, last)
	}
	cfg.After = nil
	b, err := Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.History {
		if a.History[i].Loss != b.History[i].Loss {
			t.Fatalf("same seeds, step %d: loss %g then %g", i+1, a.History[i].Loss, b.History[i].Loss)
		}
	}
	cfg.DataSeed = 99
	c, err := Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.History[0].Loss == a.History[0].Loss && c.History[5].Loss == a.History[5].Loss {
		t.Error("another data seed gave the same losses")
	}
}

func TestTrainBadInput(t *testing.T) {
	set := advSet(12, 4, 3)
	good := func() TrainConfig {
		return TrainConfig{Model: &models.Linear{Classes: 3}, Train: set, Steps: 1, BatchSize: 4, Silent: true,
			Attack: Config{Epsilon: 0.1, Steps: 1}}
	}
	boom := errors.New("boom")
	cases := []struct {
		name, want string
		edit       func(*TrainConfig)
	}{
		{"nil model", "Model is nil", func(c *TrainConfig) { c.Model = nil }},
		{"empty set", "empty", func(c *TrainConfig) { c.Train = &data.Set{} }},
		{"bad attack", "epsilon", func(c *TrainConfig) { c.Attack.Epsilon = -1 }},
		{"batch-level attack objective", "not per-example", func(c *TrainConfig) { c.Attack.Objective = "done-dro" }},
		{"bad optimizer", "learning rate", func(c *TrainConfig) { c.Optimizer = train.SGD(0, 0) }},
		{"negative steps", "negative", func(c *TrainConfig) { c.Steps = -2 }},
		{"class mismatch", "outputs", func(c *TrainConfig) { c.Model = &models.Linear{Classes: 5} }},
		{"init mismatch", "Init", func(c *TrainConfig) {
			ctx := context.New()
			ctx.In("dense_0").VariableWithValue(models.WeightsVar, [][]float32{{1, 2}})
			c.Init = ctx
		}},
		{"extra error", "boom", func(c *TrainConfig) { c.Extra = func(*TrainBatch) ([]any, error) { return nil, boom } }},
		{"after error", "boom", func(c *TrainConfig) { c.After = func(*TrainBatch, TrainRecord) error { return boom } }},
		{"NaN loss", "NaN", func(c *TrainConfig) {
			c.Loss = func(in LossInputs) (*Node, []*Node) { return Sqrt(AddScalar(ReduceAllSum(in.Adv), -1e9)), nil }
		}},
		{"integer loss", "dtype", func(c *TrainConfig) {
			c.Loss = func(in LossInputs) (*Node, []*Node) { return ReduceAllSum(in.Labels), nil }
		}},
	}
	for _, tc := range cases {
		cfg := good()
		tc.edit(&cfg)
		_, err := Train(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

// Predictor's logits against the float64 reference, across a batch boundary; Correctness against
// RobustAccuracy.
func TestPredictorAndCorrectness(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ref := refMLP{randDense(r, 4, 6, 1), randDense(r, 6, 3, 1)}
	set := advSet(PredictBatch+7, 4, 4)
	ctx := newCtx(ref)
	model := models.NewMLP(3, 6)
	p, err := NewPredictor(model, ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	logits, k, err := p.Logits(set.X, set.Shape)
	if err != nil || k != 3 || len(logits) != 3*set.Len() {
		t.Fatalf("Logits: %d values, K=%d, err %v", len(logits), k, err)
	}
	for i := 0; i < set.Len(); i += 97 {
		h := ref.logits(row(set.X, i, 4))
		for c := range h {
			if math.Abs(float64(logits[i*3+c])-h[c]) > 1e-5*(1+math.Abs(h[c])) {
				t.Errorf("example %d class %d: logit %g, reference %g", i, c, logits[i*3+c], h[c])
			}
		}
	}
	if _, _, err := p.Logits(set.X[:5], set.Shape); err == nil {
		t.Error("Logits accepted 5 values for examples of 4 features")
	}
	small := set.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	cfg := Config{Epsilon: 0.5, Steps: 5, StepSize: 0.2, RandomStart: true, Seed: 2, BatchSize: 4, Clip: &Range{0, 1}}
	clean, robust, err := Correctness(model, ctx, small, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ca, ra, err := RobustAccuracy(model, ctx, small, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var nc, nr int
	for i := range clean {
		if clean[i] {
			nc++
		}
		if robust[i] {
			nr++
			if !clean[i] {
				t.Errorf("example %d is robust but not clean-correct", i)
			}
		}
		h := ref.logits(row(small.X, i, 4))
		best := 0
		for c := range h {
			if h[c] > h[best] {
				best = c
			}
		}
		if clean[i] != (best == int(small.Y[i])) {
			t.Errorf("example %d: clean correct %v, reference arg-max %d, label %d", i, clean[i], best, small.Y[i])
		}
	}
	if float64(nc)/11 != ca || float64(nr)/11 != ra {
		t.Errorf("Correctness counts clean %d robust %d of 11; RobustAccuracy %g, %g", nc, nr, ca, ra)
	}
	if nr == nc {
		t.Errorf("the attack flipped no prediction (clean %d, robust %d): the comparison is vacuous", nc, nr)
	}
}
