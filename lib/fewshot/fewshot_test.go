package fewshot

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// blobs returns 8 classes whose centres lie in the first 4 of 20 dimensions (spread 0.4); the other 16
// dimensions are shared noise of standard deviation 2, so a random embedding mixes the classes and a
// trained one learns to ignore the noise, which transfers to classes it never saw.
func blobs(t *testing.T) *data.Set {
	t.Helper()
	c, err := data.Blobs(data.BlobsConfig{N: 800, Classes: 8, Dim: 4, Radius: 3, Spread: 0.4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	const dim = 20
	r := rand.New(rand.NewPCG(5, 6))
	s := &data.Set{Name: "blobs+noise", Shape: []int{dim}, Classes: c.Classes, Y: c.Y, IDs: c.IDs}
	for i := range c.Len() {
		s.X = append(s.X, c.Example(i)...)
		for range dim - 4 {
			s.X = append(s.X, float32(2*r.NormFloat64()))
		}
	}
	return s
}

func testEpisodes(t *testing.T, s *data.Set, shot int, seed uint64, n int) []data.Episode {
	t.Helper()
	smp, err := data.NewEpisodeSampler(s, data.EpisodeConfig{Way: 3, Shot: shot, Query: 5, Pool: []int{5, 6, 7}, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	eps := make([]data.Episode, n)
	for i := range eps {
		eps[i] = smp.Next()
	}
	return eps
}

// accuracy is the mean 3-way ProtoNet accuracy over episodes (host scoring, no NOTA).
func accuracy(t *testing.T, emb *Embeddings, eps []data.Episode) float64 {
	t.Helper()
	var c Counts
	for _, ep := range eps {
		d, err := SquaredDistances(emb, ep, 3)
		if err != nil {
			t.Fatal(err)
		}
		Score(&c, d, ep, 3, math.Inf(1))
	}
	return c.Accuracy()
}

// TestTrainProtoNet trains a small embedding on classes 0..4 and checks that the loss falls and that
// held-out classes 5..7 are classified far above chance, and better than by the initial embedding.
func TestTrainProtoNet(t *testing.T) {
	s := blobs(t)
	embed := Logits(models.NewMLP(8, 32))
	eps := testEpisodes(t, s, 1, 9, 60)
	var before float64
	cfg := Config{Embed: embed, Set: s, Loss: ProtoNetLoss, Steps: 300, LR: 5e-3, Seed: 1, Silent: true,
		Episodes:  data.EpisodeConfig{Way: 3, Shot: 2, Query: 4, Pool: []int{0, 1, 2, 3, 4}, Seed: 2},
		EvalEvery: 1000, OnEval: func(step int, ctx *context.Context) error {
			if step == 0 {
				emb, err := Embed(embed, ctx, s)
				if err != nil {
					return err
				}
				before = accuracy(t, emb, eps)
			}
			return nil
		}}
	res, err := Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Losses) != 300 {
		t.Fatalf("%d losses, want 300", len(res.Losses))
	}
	first, last := mean(res.Losses[:20]), mean(res.Losses[280:])
	if !(last < 0.7*first) {
		t.Errorf("training loss did not fall: first 20 steps %.4f, last 20 %.4f", first, last)
	}
	emb, err := Embed(embed, res.Context, s)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Len() != s.Len() || emb.Dim != 8 {
		t.Fatalf("embeddings %d×%d, want %d×8", emb.Len(), emb.Dim, s.Len())
	}
	after := accuracy(t, emb, eps)
	t.Logf("held-out 3-way 1-shot accuracy: %.3f before, %.3f after training (loss %.3f → %.3f)", before, after, first, last)
	if !(after > 0.6 && after > before+0.15) {
		t.Errorf("held-out accuracy %.3f after training (%.3f before): want > 0.6 and 0.15 above", after, before)
	}

	// Same seeds: the same run. Another episode seed: same initialisation (step-0 embedding), other losses.
	again, err := Train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Losses[299] != res.Losses[299] {
		t.Errorf("same seeds gave final losses %g and %g", res.Losses[299], again.Losses[299])
	}
	var init0, init1 []float32
	keep := func(dst *[]float32) func(int, *context.Context) error {
		return func(step int, ctx *context.Context) error {
			if step == 0 {
				e, err := Embed(embed, ctx, s)
				if err != nil {
					return err
				}
				*dst = e.X
			}
			return nil
		}
	}
	c0, c1 := cfg, cfg
	c0.Steps, c1.Steps = 5, 5
	c0.OnEval, c1.OnEval = keep(&init0), keep(&init1)
	c1.Episodes.Seed = 77
	r0, err := Train(c0)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := Train(c1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range init0 {
		if init0[i] != init1[i] {
			t.Fatalf("episode seed changed the initialisation (embedding %d: %g vs %g)", i, init0[i], init1[i])
		}
	}
	if r0.Losses[4] == r1.Losses[4] {
		t.Errorf("different episode seeds gave the same loss %g", r0.Losses[4])
	}
	// NewContext initialises as Train does; SetFlat then carries a trained run's parameters over.
	fresh, err := NewContext(embed, s, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	e0, err := Embed(embed, fresh, s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range init0 {
		if e0.X[i] != init0[i] {
			t.Fatalf("NewContext's initialisation differs from Train's (embedding %d: %g vs %g)", i, e0.X[i], init0[i])
		}
	}
	flat, err := train.Flat(res.Context)
	if err != nil {
		t.Fatal(err)
	}
	// An Embedder compiled before SetFlat sees the new values.
	embedder, err := NewEmbedder(embed, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := train.SetFlat(fresh, flat); err != nil {
		t.Fatal(err)
	}
	e1, err := embedder.Embed(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e1.X {
		if e1.X[i] != emb.X[i] {
			t.Fatalf("parameters copied with SetFlat embed differently (%d: %g vs %g)", i, e1.X[i], emb.X[i])
		}
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestEpisodeNodesAndLearnedVariable checks the support/query split and one-hot labels seen by a loss,
// a NOTA query's all-zero row, and that a loss-owned variable is trained.
func TestEpisodeNodesAndLearnedVariable(t *testing.T) {
	s := blobs(t)
	var checked bool
	loss := func(ctx *context.Context, e *EpisodeNodes) *Node {
		if e.Way != 2 || e.Support.Shape().Dimensions[0] != 6 || e.Query.Shape().Dimensions[0] != 2*4+3 ||
			!e.QueryClasses.Shape().Equal(shapeOf(e.Query.DType(), 11, 2)) || !e.SupportClasses.Shape().Equal(shapeOf(e.Query.DType(), 6, 2)) {
			t.Errorf("episode nodes: support %s, query %s, classes %s and %s", e.Support.Shape(), e.Query.Shape(),
				e.SupportClasses.Shape(), e.QueryClasses.Shape())
		}
		if !e.All.Shape().Equal(shapeOf(e.Query.DType(), 6+11, 4)) || e.Labels.Shape().Dimensions[0] != 17 {
			t.Errorf("episode nodes: all %s, labels %s", e.All.Shape(), e.Labels.Shape())
		}
		checked = true
		g := e.Query.Graph()
		v := ctx.VariableWithValue("target", float32(0)).ValueGraph(g)
		// Pull the variable toward the number of NOTA queries (3: rows of QueryClasses that sum to 0).
		nota := ReduceAllSum(OneMinus(ReduceSum(e.QueryClasses, -1)))
		return Add(Square(Sub(v, nota)), MulScalar(ProtoNetLoss(ctx, e), 1e-3))
	}
	res, err := Train(Config{Embed: Logits(models.NewMLP(4, 8)), Set: s, Loss: loss, Steps: 300, LR: 0.05, Seed: 1, Silent: true,
		Episodes: data.EpisodeConfig{Way: 2, Shot: 3, Query: 4, NOTA: 3, Pool: []int{0, 1, 2}, Seed: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the loss was never built")
	}
	v := res.Context.In(LossScope).GetVariable("target")
	if v == nil {
		t.Fatal("no variable episode_loss/target")
	}
	got := tensors.ToScalar[float32](v.MustValue())
	if math.Abs(float64(got)-3) > 0.1 {
		t.Errorf("learned variable %.4f, want ≈ 3 (the number of NOTA queries)", got)
	}
}

func shapeOf(dt dtypes.DType, dims ...int) shapes.Shape { return shapes.Make(dt, dims...) }

// TestProtoNetCEMatchesHost compares the graph's ProtoNet cross-entropy with a float64 host computation
// from SquaredDistances.
func TestProtoNetCEMatchesHost(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, dim, way = 12, 5, 3
	emb := &Embeddings{Dim: dim, X: make([]float32, n*dim)}
	for i := range emb.X {
		emb.X[i] = float32(r.NormFloat64())
	}
	ep := data.Episode{Support: []int{0, 1, 2, 3, 4, 5}, SupportY: []int32{0, 0, 1, 1, 2, 2},
		Query: []int{6, 7, 8, 9, 10, 11}, QueryY: []int32{0, 1, 2, 0, 3, 1}} // query 10 is NOTA
	d, err := SquaredDistances(emb, ep, way)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(ep.Query))
	for i, row := range d {
		if int(ep.QueryY[i]) == way {
			continue
		}
		m := math.Inf(1)
		for _, v := range row {
			m = math.Min(m, v)
		}
		lse := 0.0
		for _, v := range row {
			lse += math.Exp(-(v - m))
		}
		want[i] = math.Log(lse) - m + row[ep.QueryY[i]]
	}
	exec := MustNewExec(backend.Must(), func(x, sy, qy *Node) *Node {
		e := episodeNodes(x, sy, qy, way, 6)
		return ProtoNetCE(e)
	})
	rows := append(append([]int(nil), ep.Support...), ep.Query...)
	x := make([]float32, 0, len(rows)*dim)
	for _, i := range rows {
		x = append(x, emb.Row(i)...)
	}
	out := exec.MustExec(tensors.FromFlatDataAndDimensions(x, len(rows), dim), ep.SupportY, ep.QueryY)
	got := tensors.MustCopyFlatData[float32](out[0])
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4*(1+want[i]) {
			t.Errorf("query %d: graph CE %.6f, host %.6f", i, got[i], want[i])
		}
	}
	if got[4] != 0 {
		t.Errorf("NOTA query has CE %g, want 0", got[4])
	}
}

// TestGaussianDistances checks the host Gaussian metric against a worked example (for GPAM, Guo et al., arXiv:2410.20320) and
// against lib/losses' graph version on random data.
func TestGaussianDistances(t *testing.T) {
	emb := &Embeddings{Dim: 2, X: []float32{0, 0, 0.2, 0, 0, 0.2, 2, 2, 2.4, 2, 2, 2.4, 0.1, 0.1, 1, 1}}
	ep := data.Episode{Support: []int{0, 1, 2, 3, 4, 5}, SupportY: []int32{0, 0, 0, 1, 1, 1}, Query: []int{6, 7}, QueryY: []int32{0, 2}}
	d, err := GaussianDistances(emb, ep, 2, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	// Worked example: q = (0.1, 0.1) → d = (−2.2072, 28.5016); q = (1, 1) → d = (5.7826, 7.4770).
	for i, want := range [][]float64{{-2.2072, 28.5016}, {5.7826, 7.4770}} {
		for c := range want {
			if math.Abs(d[i][c]-want[c]) > 2e-4 {
				t.Errorf("query %d class %d: d = %.5f, spec %.4f", i, c, d[i][c], want[c])
			}
		}
	}
	if got := Classify(d[1], 3); got != 2 {
		t.Errorf("query (1,1) with ρ = 3: class %d, want NOTA (2)", got)
	}
	if got := Classify(d[0], 3); got != 0 {
		t.Errorf("query (0.1,0.1) with ρ = 3: class %d, want 0", got)
	}

	// Random data against losses.GaussianPrototypes + losses.GaussianDistances.
	r := rand.New(rand.NewPCG(3, 4))
	const way, shot, dim, nq = 3, 4, 6, 5
	emb = &Embeddings{Dim: dim, X: make([]float32, (way*shot+nq)*dim)}
	for i := range emb.X {
		emb.X[i] = float32(r.NormFloat64() * 2)
	}
	ep = data.Episode{}
	member := make([]float32, way*shot*way)
	for c := range way {
		for k := range shot {
			ep.Support = append(ep.Support, c*shot+k)
			ep.SupportY = append(ep.SupportY, int32(c))
			member[(c*shot+k)*way+c] = 1
		}
	}
	for i := range nq {
		ep.Query = append(ep.Query, way*shot+i)
		ep.QueryY = append(ep.QueryY, int32(i%way))
	}
	d, err = GaussianDistances(emb, ep, way, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	exec := MustNewExec(backend.Must(), func(sup, mem, q *Node) *Node {
		mu, v := losses.GaussianPrototypes(sup, mem, Scalar(sup.Graph(), sup.DType(), 0.3))
		return losses.GaussianDistances(q, mu, v)
	})
	out := exec.MustExec(tensors.FromFlatDataAndDimensions(emb.X[:way*shot*dim], way*shot, dim),
		tensors.FromFlatDataAndDimensions(member, way*shot, way), tensors.FromFlatDataAndDimensions(emb.X[way*shot*dim:], nq, dim))
	got := tensors.MustCopyFlatData[float32](out[0])
	for i := range nq {
		for c := range way {
			if math.Abs(float64(got[i*way+c])-d[i][c]) > 1e-4*(1+math.Abs(d[i][c])) {
				t.Errorf("query %d class %d: host %.6f, graph %.6f", i, c, d[i][c], got[i*way+c])
			}
		}
	}
}

func TestCountsAndCI(t *testing.T) {
	var c Counts
	// way 2: labels 0, 1 known, 2 NOTA.
	for _, pl := range [][2]int{{0, 0}, {1, 0}, {2, 2}, {2, 1}, {1, 2}, {2, 2}} {
		c.Add(pl[0], pl[1], 2)
	}
	if c.Accuracy() != 3.0/6 || c.NOTAPrecision() != 2.0/3 || c.NOTARecall() != 2.0/3 {
		t.Errorf("accuracy %g, NOTA precision %g, recall %g; want 1/2, 2/3, 2/3", c.Accuracy(), c.NOTAPrecision(), c.NOTARecall())
	}
	if !math.IsNaN((Counts{}).Accuracy()) {
		t.Error("accuracy of no predictions should be NaN")
	}
	m, h := MeanCI95([]float64{1, 2, 3, 4})
	// s = sqrt(5/3), 1.96·s/2.
	if m != 2.5 || math.Abs(h-1.96*math.Sqrt(5.0/3)/2) > 1e-12 {
		t.Errorf("MeanCI95 = %g ± %g", m, h)
	}
	if Classify([]float64{3, 1, 2}, math.Inf(1)) != 1 || Classify([]float64{3, 1, 2}, 0.5) != 3 {
		t.Error("Classify: wrong argmin or NOTA decision")
	}
}

func TestBadInput(t *testing.T) {
	s := blobs(t)
	ok := Config{Embed: Logits(models.NewMLP(4, 8)), Set: s, Loss: ProtoNetLoss, Steps: 2, Silent: true,
		Episodes: data.EpisodeConfig{Way: 2, Shot: 1, Query: 2, Seed: 1}}
	for name, mod := range map[string]func(*Config){
		"no embed":      func(c *Config) { c.Embed = nil },
		"no loss":       func(c *Config) { c.Loss = nil },
		"no set":        func(c *Config) { c.Set = nil },
		"zero steps":    func(c *Config) { c.Steps = 0 },
		"no queries":    func(c *Config) { c.Episodes.Query = 0 },
		"eval no hook":  func(c *Config) { c.EvalEvery = 5 },
		"negative lr":   func(c *Config) { c.LR = -1 },
		"too many ways": func(c *Config) { c.Episodes.Way = 9 },
	} {
		c := ok
		mod(&c)
		if _, err := Train(c); err == nil {
			t.Errorf("%s: Train returned no error", name)
		}
	}
	nan := ok
	nan.Loss = func(_ *context.Context, e *EpisodeNodes) *Node { return Log(MulScalar(ProtoNetLoss(nil, e), -1)) }
	if _, err := Train(nan); err == nil {
		t.Error("a NaN loss: no error")
	}
	if _, err := Embed(ok.Embed, context.New(), s); err == nil {
		t.Error("Embed with a context that lacks the variables: no error")
	}
	if _, err := Embed(ok.Embed, context.New(), &data.Set{Shape: []int{16}}); err == nil {
		t.Error("Embed of an empty set: no error")
	}
	emb := &Embeddings{Dim: 1, X: []float32{0, 1, 2}}
	if _, err := GaussianDistances(emb, data.Episode{Support: []int{0}, SupportY: []int32{0}, Query: []int{1}, QueryY: []int32{0}}, 1, 0); err == nil {
		t.Error("σ₀² = 0: no error")
	}
	if _, err := SquaredDistances(emb, data.Episode{Support: []int{5}, SupportY: []int32{0}, Query: []int{1}, QueryY: []int32{0}}, 1); err == nil {
		t.Error("support row out of range: no error")
	}
	if _, err := SquaredDistances(emb, data.Episode{Support: []int{0}, SupportY: []int32{0}, Query: []int{1}, QueryY: []int32{0}}, 2); err == nil {
		t.Error("a way without supports: no error")
	}
}
