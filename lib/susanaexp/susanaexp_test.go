package susanaexp

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/fewshot"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/train"
)

func TestCheck(t *testing.T) {
	for _, c := range []Config{Default(), Quick(), tiny()} {
		if err := c.Check(); err != nil {
			t.Fatalf("%d steps: %v", c.Steps, err)
		}
	}
	// Each change below breaks one rule of Check.
	for name, f := range map[string]func(*Config){
		"shared class":      func(c *Config) { c.TestPool = []int{5, 6, 7, 8} },
		"no learning rates": func(c *Config) { c.LRs = nil },
		"too few test":      func(c *Config) { c.TestPool = []int{6, 7, 8} },
		"train way":         func(c *Config) { c.TrainWay = 7 },
		"no runs":           func(c *Config) { c.Runs = 0 },
		"probe > S":         func(c *Config) { c.ProbeEpisodes = c.SEpisodes + 1 },
		"k 0":               func(c *Config) { c.K = 0 },
		"negative margin":   func(c *Config) { c.Margin = -1 },
		"too many images":   func(c *Config) { c.PerClass = 1001 },
	} {
		c := Default()
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// blobs is a synthetic 4-class set of 8-dimensional points, 30 per class.
func blobs() *data.Set {
	r := rand.New(rand.NewPCG(3, 4))
	s := &data.Set{Name: "blobs", Shape: []int{8}, Classes: 4}
	for c := range 4 {
		for range 30 {
			for j := range 8 {
				v := 0.3 * r.NormFloat64()
				if j == c {
					v += 2
				}
				s.X = append(s.X, float32(v))
			}
			s.Y = append(s.Y, int32(c))
			s.IDs = append(s.IDs, int32(len(s.IDs)))
		}
	}
	return s
}

// TestRunsAreIndependent is the defect of the notebook's first version, whose "seeds" shared one
// initialisation: final runs must start from different parameters and draw different training
// episodes, never the tuning runs' seeds, and the same seeds for every arm (paired by run).
func TestRunsAreIndependent(t *testing.T) {
	c := Default()
	c.Hidden, c.Dim = 8, 4
	set := blobs()
	var inits [][]float32
	for r := range 3 {
		s := c.RunSeeds(r)
		if s.Init == c.TuneSeed || s.Episodes == c.TuneSeed {
			t.Errorf("run %d reuses the tuning seed", r)
		}
		for q := range r {
			if o := c.RunSeeds(q); o.Init == s.Init || o.Episodes == s.Episodes {
				t.Errorf("runs %d and %d share seeds: %+v and %+v", q, r, o, s)
			}
		}
		ctx, err := fewshot.NewContext(c.Encoder(), set, s.Init)
		if err != nil {
			t.Fatal(err)
		}
		flat, err := train.Flat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for q, f := range inits {
			if slices.Equal(f, flat) {
				t.Errorf("run %d starts from run %d's parameters", r, q)
			}
		}
		inits = append(inits, flat)
	}
}

// TestLossAveragesTerms checks each arm's loss against its terms computed one by one: the paper
// averages the chosen terms with the cross-entropy (script tag "cross,prototriplet,fullicnn").
func TestLossAveragesTerms(t *testing.T) {
	c := Default()
	c.TrainWay, c.TrainShot, c.TrainQuery = 2, 2, 2
	// Supports 0,0,1,1 then queries 0,0,1,1, in 2 dimensions.
	x := [][]float32{{0, 0}, {0.4, 0.1}, {2, 1}, {2.2, 0.7}, {0.3, 0.5}, {1.5, 0.2}, {1.1, 1.3}, {2.5, 1}}
	sy, qy := []int32{0, 0, 1, 1}, []int32{0, 0, 1, 1}
	eval := func(f func(e *fewshot.EpisodeNodes) *Node) float64 {
		exec := MustNewExec(backend.Must(), func(x, sy, qy *Node) *Node {
			sup := Slice(x, AxisRange(0, 4))
			q := Slice(x, AxisRange(4, 8))
			e := &fewshot.EpisodeNodes{Way: 2, Support: sup, Query: q, SupportY: sy, QueryY: qy,
				SupportClasses: OneHot(sy, 2, x.DType()), QueryClasses: OneHot(qy, 2, x.DType()),
				All: x, Labels: Concatenate([]*Node{sy, qy}, 0)}
			return f(e)
		})
		return float64(tensors.ToScalar[float32](exec.MustExec(x, sy, qy)[0]))
	}
	ce := eval(func(e *fewshot.EpisodeNodes) *Node { return fewshot.ProtoNetLoss(nil, e) })
	pt := eval(func(e *fewshot.EpisodeNodes) *Node {
		return ReduceAllMean(losses.ProtoTripletLoss(e.Query, losses.ClassPrototypes(e.Support, e.SupportClasses), e.QueryClasses, nil, 0.5))
	})
	icnn := eval(func(e *fewshot.EpisodeNodes) *Node { return losses.ICNNLoss(e.All, e.Labels, 4, 4) })
	if !(pt > 0 && icnn > 0 && ce > 0) {
		t.Fatalf("terms CE %g, PT %g, ICNN %g: the example should make every term positive", ce, pt, icnn)
	}
	for _, tc := range []struct {
		arm  Arm
		want float64
	}{{ProtoNet, ce}, {PT, (ce + pt) / 2}, {ICNN, (ce + icnn) / 2}, {SuSana, (ce + pt + icnn) / 3}} {
		loss := c.Loss(tc.arm)
		got := eval(func(e *fewshot.EpisodeNodes) *Node { return loss((*context.Context)(nil), e) })
		if math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: loss %.6f, want %.6f", tc.arm.Name, got, tc.want)
		}
	}
}

func TestAccuracyAndSeparability(t *testing.T) {
	// Two ways, one support each at (0,0) and (4,0); queries (1,0)→0 (right), (3,0)→0 (wrong), (5,0)→1.
	emb := &fewshot.Embeddings{Dim: 2, X: []float32{0, 0, 4, 0, 1, 0, 3, 0, 5, 0}}
	ep := data.Episode{Support: []int{0, 1}, SupportY: []int32{0, 1}, Query: []int{2, 3, 4}, QueryY: []int32{0, 0, 1}}
	acc, err := Accuracy(emb, []data.Episode{ep, ep}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || math.Abs(acc[0]-2.0/3) > 1e-12 {
		t.Errorf("accuracy %v, want two episodes at 2/3", acc)
	}
	sep, err := NewSeparability(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sep.Mean(emb, []data.Episode{ep})
	if err != nil {
		t.Fatal(err)
	}
	if !(s > 0 && s < 1) {
		t.Errorf("S = %g, want it inside (0, 1)", s)
	}
	// Relabelled so that the classes are the two ends: S must rise.
	good := data.Episode{Support: []int{0, 1}, SupportY: []int32{0, 1}, Query: []int{2, 3, 4}, QueryY: []int32{0, 1, 1}}
	if s2, err := sep.Mean(emb, []data.Episode{good}); err != nil || !(s2 > s) {
		t.Errorf("S of the separated labelling %g (err %v), want above %g", s2, err, s)
	}
	if _, err := sep.Mean(emb, nil); err == nil {
		t.Error("S of no episodes: no error")
	}
	bad := data.Episode{Support: []int{0, 9}, SupportY: []int32{0, 1}, Query: []int{2, 3, 4}, QueryY: []int32{0, 0, 1}}
	if _, err := sep.Mean(emb, []data.Episode{bad}); err == nil {
		t.Error("S of an episode outside the embeddings: no error")
	}
}

// tiny is the experiment at test sizes.
func tiny() Config {
	c := Quick()
	c.PerClass, c.ValEpisodes, c.TestEpisodes, c.SEpisodes, c.ProbeEpisodes, c.ProbeEvery = 25, 3, 4, 3, 2, 2
	c.Steps, c.Runs, c.LRs = 3, 3, []float64{1e-3, 3e-3}
	c.TrainWay, c.TrainQuery = 4, 3
	c.Hidden, c.Dim = 16, 8
	c.Arms = []Arm{ProtoNet, SuSana}
	return c
}

func TestRun(t *testing.T) {
	c := tiny()
	if _, _, _, err := c.Sets(); err != nil {
		t.Skipf("no Fashion-MNIST here (Debian package dataset-fashion-mnist): %v", err)
	}
	var done []string
	res, err := Run(c, func(msg string) { done = append(done, msg) })
	switch {
	case err != nil:
		t.Fatal(err)
	case len(done) != c.TrainingRuns() || !strings.HasPrefix(done[0], ProtoNet.Name) || !strings.HasPrefix(done[len(done)-1], SuSana.Name):
		t.Errorf("progress %q, want one line per training run (%d), arm by arm", done, c.TrainingRuns())
	case len(res.Tuning) != len(c.Arms) || len(res.Runs) != len(c.Arms)*c.Runs:
		t.Fatalf("%d tunings and %d final runs for %d arms × %d runs", len(res.Tuning), len(res.Runs), len(c.Arms), c.Runs)
	}
	if want := []float64{0, 2, 3}; !slices.Equal(res.CurveSteps, want) {
		t.Errorf("S curve at steps %v, want %v", res.CurveSteps, want)
	}
	for _, a := range c.Arms {
		tu := res.Chosen(a.Name)
		if tu == nil || len(tu.ValAcc) != len(c.LRs) {
			t.Fatalf("%s: tuning %+v, want one validation accuracy per learning rate", a.Name, tu)
		}
		// One value per run, not per episode: the verdict's spread is across runs.
		for i := range c.Shots {
			acc := res.Accuracy(a.Name, i)
			if len(acc) != c.Runs {
				t.Fatalf("%s: %d accuracies at shot %d, want one per run (%d)", a.Name, len(acc), c.Shots[i], c.Runs)
			}
			for _, x := range acc {
				if !(x >= 0 && x <= 1) {
					t.Errorf("%s: accuracy %g", a.Name, x)
				}
			}
		}
		if s := res.S(a.Name); len(s) != c.Runs {
			t.Errorf("%s: %d S values, want %d", a.Name, len(s), c.Runs)
		}
		for _, r := range res.Runs {
			if r.Arm != a.Name {
				continue
			}
			if r.LR != c.LRs[tu.Best] {
				t.Errorf("%s run %d trained at lr %g, tuning chose %g", a.Name, r.Run, r.LR, c.LRs[tu.Best])
			}
			if !(r.S > 0 && r.S <= 1) || len(r.Curve) != len(res.CurveSteps) {
				t.Errorf("%s run %d: S %g, curve %v", a.Name, r.Run, r.S, r.Curve)
			}
		}
	}
	// Runs differ (independent seeds and test episodes).
	if a := res.Accuracy(ProtoNet.Name, 0); a[0] == a[1] && a[1] == a[2] {
		t.Errorf("three runs with identical accuracy %v", a)
	}
	bad := c
	bad.Runs = 0
	if _, err := Run(bad, nil); err == nil {
		t.Error("Run with no runs: no error")
	}
}
