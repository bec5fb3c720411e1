package promptmrgexp

import (
	"math"
	"testing"
)

func tiny() Config {
	c := Default()
	c.Prevalence = []float64{0.4, 0.05}
	c.Dim, c.NTrain, c.NVal, c.NTest, c.Hidden, c.Epochs, c.Batch, c.Runs = 8, 256, 200, 200, 8, 2, 64, 2
	c.LRs = []float64{1e-3, 3e-3}
	return c
}

func TestCheck(t *testing.T) {
	if err := Default().Check(); err != nil {
		t.Fatal(err)
	}
	if err := Quick().Check(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Dim = 4 },
		func(c *Config) { c.Prevalence = []float64{0.4, 1} },
		func(c *Config) { c.LRs = nil },
		func(c *Config) { c.LRs = []float64{-1} },
		func(c *Config) { c.NTrain = 10 },
		func(c *Config) { c.Runs = 0 },
	}
	for i, f := range bad {
		c := Default()
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("bad config %d passed Check", i)
		}
	}
}

func TestDrawPrevalence(t *testing.T) {
	c := Default()
	s := c.Draw(20000, 5)
	nd := len(c.Prevalence)
	for d, p := range c.Prevalence {
		pos, shift := 0, 0.0
		for b := range s.N {
			if s.Y[b*nd+d] == POS {
				pos++
				shift += float64(s.X[b*c.Dim+4*d])
			}
		}
		f := float64(pos) / float64(s.N)
		if math.Abs(f-p) > 4*math.Sqrt(p*(1-p)/float64(s.N)) {
			t.Errorf("disease %d: POS frequency %.4f, want %.2f", d, f, p)
		}
		if m := shift / float64(pos); math.Abs(m-c.Shift) > 0.3 {
			t.Errorf("disease %d: mean shift on positives %.3f, want %.1f", d, m, c.Shift)
		}
	}
}

func TestScore(t *testing.T) {
	// Two diseases, three examples; layout [N][States][C].
	logits := make([]float32, 3*States*2)
	set := func(b, st, d int, v float32) { logits[(b*States+st)*2+d] = v }
	set(0, POS, 0, 1) // predicted POS, true POS: tp
	set(1, POS, 0, 1) // predicted POS, true NEG: fp
	set(2, NEG, 0, 1) // predicted NEG, true POS: fn
	set(0, POS, 1, 1) // disease 1: one tp only
	y := []int32{POS, BLA, NEG, BLA, POS, NEG}
	s, err := Score(logits, y, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Precision[0] != 0.5 || s.Recall[0] != 0.5 || s.F1[0] != 0.5 {
		t.Errorf("disease 0: %v %v %v, want 0.5 each", s.Precision[0], s.Recall[0], s.F1[0])
	}
	// disease 1: labels BLA, BLA, NEG; predicted POS once → fp only: F1 0.
	if s.F1[1] != 0 || s.Precision[1] != 0 {
		t.Errorf("disease 1: F1 %v precision %v, want 0", s.F1[1], s.Precision[1])
	}
	if _, err := Score(logits[:5], y, 2); err == nil {
		t.Error("Score accepted logits of the wrong length")
	}
}

func TestPosProbs(t *testing.T) {
	// One example, one disease, logits [0.2, 1.0, 0.5, -0.3]: softmax at POS.
	p := PosProbs([]float32{0.2, 1.0, 0.5, -0.3}, 1)
	want := math.Exp(1) / (math.Exp(0.2) + math.Exp(1) + math.Exp(0.5) + math.Exp(-0.3))
	if math.Abs(p[0][0]-want) > 1e-6 {
		t.Errorf("PosProbs = %v, want %v", p[0][0], want)
	}
}

func TestTrainPriors(t *testing.T) {
	c := tiny()
	tr, va, te := c.Data()
	for _, arm := range []Prior{Plain, Static, Adaptive} {
		r, err := c.Train(arm, 3e-3, tr, va, te, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Priors) != c.Epochs+1 || len(r.Curve) != c.Epochs {
			t.Fatalf("%v: %d priors, %d losses", arm, len(r.Priors), len(r.Curve))
		}
		first, last := r.Priors[0], r.Priors[c.Epochs]
		switch arm {
		case Plain:
			if first[1] != 1 || last[1] != 1 {
				t.Errorf("plain CE prior %v → %v, want 1", first, last)
			}
		case Static:
			if math.Abs(first[1]-0.125) > 1e-12 || last[1] != first[1] {
				t.Errorf("static prior %v → %v, want [1 0.125] fixed", first, last)
			}
		case Adaptive:
			if math.Abs(first[1]-0.125) > 1e-12 || last[1] == first[1] {
				t.Errorf("adaptive prior %v → %v: want to start at 0.125 and move", first, last)
			}
		}
	}
}

func TestRunIndependentSeeds(t *testing.T) {
	c := tiny()
	c.Arms = []Prior{Plain, Adaptive}
	res, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || len(res[0].Runs) != c.Runs || len(res[0].Val) != len(c.LRs) {
		t.Fatalf("got %d arms, %d runs, %d tuning values", len(res), len(res[0].Runs), len(res[0].Val))
	}
	// Independent initialisations and data orders: the runs' training curves differ.
	if res[0].Runs[0].Curve[0] == res[0].Runs[1].Curve[0] {
		t.Error("runs 1 and 2 have the same first-epoch loss: not independent")
	}
	if g := c.Group(0.3, 1); len(g) != 1 || g[0] != 0 {
		t.Errorf("Group(0.3, 1) = %v, want [0]", g)
	}
	if v := res[0].GroupMean([]int{0, 1}, func(s Scores) []float64 { return s.F1 }); math.Abs(v[0]-res[0].Runs[0].Test.MacroF1()) > 1e-12 {
		t.Errorf("GroupMean over all diseases %v ≠ macro-F1 %v", v[0], res[0].Runs[0].Test.MacroF1())
	}
}
