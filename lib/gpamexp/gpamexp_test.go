package gpamexp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/fewshot"
	"github.com/losslab/losslab/lib/train"
)

// clusters returns embeddings of 4 classes of 40 points in 6 dimensions around random centres
// (spread 0.3, centres at distance about 2), scaled by scale, with episodes of 3 ways and NOTA
// queries from the fourth class.
func clusters(t *testing.T, scale float64) (*fewshot.Embeddings, []data.Episode) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	const classes, per, dim = 4, 40, 6
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = r.NormFloat64()
		}
	}
	s := &data.Set{Name: "clusters", Shape: []int{dim}, Classes: classes}
	emb := &fewshot.Embeddings{Dim: dim}
	for c := range classes {
		for range per {
			for j := range dim {
				v := float32(scale * (centres[c][j] + 0.3*r.NormFloat64()))
				emb.X = append(emb.X, v)
				s.X = append(s.X, v)
			}
			s.Y = append(s.Y, int32(c))
			s.IDs = append(s.IDs, int32(len(s.IDs)))
		}
	}
	smp, err := data.NewEpisodeSampler(s, data.EpisodeConfig{Way: 3, Shot: 2, Query: 5, NOTA: 6, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	eps := make([]data.Episode, 40)
	for i := range eps {
		eps[i] = smp.Next()
	}
	return emb, eps
}

// TestProtoNetThresholdTransfersAcrossScales is the defect of the notebook's first version: arm (a)'s
// NOTA threshold was tuned on raw squared distances of the training classes' validation images, and
// the held-out test classes sit at a larger distance scale (about 2.5× on Fashion-MNIST), so the
// tuned threshold sent most known test queries to NOTA (accuracy 0.18 at NOTA rate 0 in one run). A
// threshold tuned on one set of embeddings must classify the same episodes identically when every
// embedding is scaled.
func TestProtoNetThresholdTransfersAcrossScales(t *testing.T) {
	val, eps := clusters(t, 1)
	test, _ := clusters(t, 2.5)
	dist := func(emb *fewshot.Embeddings) func(data.Episode) ([][]float64, error) {
		return func(ep data.Episode) ([][]float64, error) { return ProtoNetDistances(emb, ep, 3) }
	}
	th, acc, err := TuneThreshold(dist(val), eps, 3)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.8 {
		t.Fatalf("tuned validation accuracy %.3f: the clusters should be easy", acc)
	}
	sv, err := Evaluate(dist(val), eps, 3, th)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Evaluate(dist(test), eps, 3, th)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sv.All.Accuracy()-acc) > 1e-12 {
		t.Errorf("Evaluate at the tuned threshold gives %.4f, TuneThreshold reported %.4f", sv.All.Accuracy(), acc)
	}
	if sv.All != st.All {
		t.Errorf("scaling the embeddings by 2.5 changes the predictions: accuracy %.3f → %.3f, known-query accuracy %.3f → %.3f",
			sv.All.Accuracy(), st.All.Accuracy(), sv.Known.Accuracy(), st.Known.Accuracy())
	}
}

// TestTuneThresholdIsBest checks the sweep against a brute-force search over every candidate threshold.
func TestTuneThresholdIsBest(t *testing.T) {
	emb, eps := clusters(t, 1)
	// Noisier distances: add a per-query offset so that known and NOTA queries overlap.
	r := rand.New(rand.NewPCG(1, 2))
	noisy := map[int][][]float64{}
	dist := func(ep data.Episode) ([][]float64, error) {
		key := ep.Query[0]*1000 + ep.Support[0]
		if d, ok := noisy[key]; ok {
			return d, nil
		}
		d, err := ProtoNetDistances(emb, ep, 3)
		for _, row := range d {
			off := 2 * r.Float64()
			for c := range row {
				row[c] += off
			}
		}
		noisy[key] = d
		return d, err
	}
	th, acc, err := TuneThreshold(dist, eps, 3)
	if err != nil {
		t.Fatal(err)
	}
	var cands []float64
	for _, ep := range eps {
		d, _ := dist(ep)
		for _, row := range d {
			cands = append(cands, row[fewshot.Classify(row, math.Inf(1))])
		}
	}
	best := 0.0
	for _, x := range append(cands, -1) {
		s, err := Evaluate(dist, eps, 3, x)
		if err != nil {
			t.Fatal(err)
		}
		best = math.Max(best, s.All.Accuracy())
	}
	s, _ := Evaluate(dist, eps, 3, th)
	if math.Abs(acc-best) > 1e-12 || math.Abs(s.All.Accuracy()-best) > 1e-12 {
		t.Errorf("tuned threshold %.4f gives %.4f (reported %.4f), brute force finds %.4f", th, s.All.Accuracy(), acc, best)
	}
	if best > 0.99 || best < 0.5 {
		t.Errorf("brute-force best %.3f: the noisy case should be neither trivial nor hopeless", best)
	}
}

func TestProtoNetDistancesUnit(t *testing.T) {
	emb := &fewshot.Embeddings{Dim: 2, X: []float32{0, 0, 2, 0, 0, 2, 1, 1}}
	ep := data.Episode{Support: []int{0, 1, 2}, SupportY: []int32{0, 1, 2}, Query: []int{3}, QueryY: []int32{0}}
	d, err := ProtoNetDistances(emb, ep, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Prototype distances² 4, 4, 8 (mean 16/3); query distances² 2, 2, 2.
	for c, v := range d[0] {
		if math.Abs(v-2/(16.0/3)) > 1e-12 {
			t.Errorf("d[0][%d] = %g, want %g", c, v, 2/(16.0/3))
		}
	}
	same := &fewshot.Embeddings{Dim: 2, X: []float32{1, 1, 1, 1, 1, 1, 1, 1}}
	if _, err := ProtoNetDistances(same, ep, 3); err == nil {
		t.Error("coincident prototypes: no error")
	}
	if _, err := ProtoNetDistances(emb, data.Episode{Support: []int{0}, SupportY: []int32{0}}, 1); err == nil {
		t.Error("one way: no error")
	}
}

func TestCheck(t *testing.T) {
	if err := Default().Check(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	if err := Quick().Check(); err != nil {
		t.Fatalf("Quick: %v", err)
	}
	for name, f := range map[string]func(*Config){
		"shared class":      func(c *Config) { c.TestPool = []int{5, 6, 7, 8} },
		"no learning rates": func(c *Config) { c.LRs = nil },
		"too few test":      func(c *Config) { c.TestPool = []int{6, 7, 8} },
		"rate 1":            func(c *Config) { c.Rates = []float64{0, 1} },
		"validation rate 0": func(c *Config) { c.ValRate = 0 },
		"no runs":           func(c *Config) { c.Runs = 0 },
	} {
		c := Default()
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := NOTACount(3, 15, 0.5); n != 45 {
		t.Errorf("NOTACount(3, 15, 0.5) = %d, want 45", n)
	}
	if n := NOTACount(3, 15, 0.3); n != 19 {
		t.Errorf("NOTACount(3, 15, 0.3) = %d, want 19", n)
	}
}

// tiny is the experiment at test sizes.
func tiny() Config {
	c := Quick()
	c.PerClass, c.ValEpisodes, c.TestEpisodes, c.Steps, c.Runs = 40, 4, 4, 3, 3
	c.Shots, c.Rates, c.LRs = []int{2}, []float64{0, 0.5}, []float64{1e-3, 3e-3}
	c.Hidden, c.Dim = 16, 8
	return c
}

// TestRunsAreIndependent checks that the final runs start from different parameters and see different
// training episodes, and that one arm's runs share their seeds with the other arms' (paired by run).
func TestRunsAreIndependent(t *testing.T) {
	c := tiny()
	tr, _, _, err := c.Sets()
	if err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	seen := map[Seeds]int{}
	var first []float32
	for r := range 3 {
		s := c.RunSeeds(r, 2)
		if s.Init == c.TuneSeed || s.Episodes == c.TuneSeed {
			t.Errorf("run %d reuses the tuning seed", r)
		}
		if q, dup := seen[s]; dup {
			t.Errorf("runs %d and %d share seeds %+v", q, r, s)
		}
		seen[s] = r
		ctx, err := fewshot.NewContext(c.Encoder(), tr, s.Init)
		if err != nil {
			t.Fatal(err)
		}
		flat, err := train.Flat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = flat
		} else if slices.Equal(first, flat) {
			t.Errorf("run %d starts from run 0's parameters", r)
		}
		for q := range r {
			if c.RunSeeds(q, 2).Episodes == s.Episodes {
				t.Errorf("runs %d and %d draw the same training episodes", q, r)
			}
		}
	}
}

func TestRun(t *testing.T) {
	c := tiny()
	if _, _, _, err := c.Sets(); err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	calls := 0
	res, err := Run(c, func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != c.TrainingRuns() {
		t.Errorf("%d progress calls, want %d training runs", calls, c.TrainingRuns())
	}
	if len(res.Tuning) != len(c.Arms) || len(res.Runs) != len(c.Arms)*c.Runs {
		t.Fatalf("%d tunings and %d runs, want %d and %d", len(res.Tuning), len(res.Runs), len(c.Arms), len(c.Arms)*c.Runs)
	}
	for _, a := range c.Arms {
		tu := res.Chosen(a.Name, 2)
		if tu == nil || len(tu.ValAcc) != len(c.LRs) {
			t.Fatalf("%s: tuning %+v, want one validation accuracy per learning rate", a.Name, tu)
		}
		for i := range c.Rates {
			acc := res.Accuracy(a.Name, 2, i)
			if len(acc) != c.Runs {
				t.Fatalf("%s: %d runs at rate %d", a.Name, len(acc), i)
			}
			for _, x := range acc {
				if !(x >= 0 && x <= 1) {
					t.Errorf("%s: accuracy %g", a.Name, x)
				}
			}
		}
		for _, r := range res.Runs {
			if r.Arm == a.Name && r.LR != c.LRs[tu.Best] {
				t.Errorf("%s run %d trained at lr %g, tuning chose %g", a.Name, r.Run, r.LR, c.LRs[tu.Best])
			}
			if r.Arm == a.Name && a.Gauss && !(r.Threshold > 0) {
				t.Errorf("%s run %d: learned ρ %g", a.Name, r.Run, r.Threshold)
			}
			// At NOTA rate 0 there is no NOTA query; at 0.5 half the queries are NOTA.
			if s := r.Scores[0].All; s.NOTA != 0 || s.Total != c.TestEpisodes*c.Way*c.Query {
				t.Errorf("%s run %d, rate 0: %d NOTA of %d queries", r.Arm, r.Run, s.NOTA, s.Total)
			}
			if s := r.Scores[1].All; 2*s.NOTA != s.Total {
				t.Errorf("%s run %d, rate 0.5: %d NOTA of %d queries", r.Arm, r.Run, s.NOTA, s.Total)
			}
		}
	}
	bad := c
	bad.Runs = 0
	if _, err := Run(bad, nil); err == nil {
		t.Error("Run with no runs: no error")
	}
}
