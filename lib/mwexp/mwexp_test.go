package mwexp

import (
	"math"
	"strings"
	"testing"
)

func tiny() Config {
	c := Default()
	c.Dim, c.Emb, c.Clusters, c.Passages = 8, 8, 4, 40
	c.Train, c.Val, c.Test, c.Batch, c.HardNeg = 32, 16, 16, 8, 2
	c.Epochs, c.Runs, c.TopNeg = 3, 2, 5
	c.LRs = []float64{1e-2}
	return c
}

func TestBest(t *testing.T) {
	lrs := []float64{1, 2, 3}
	if got := best(lrs, []float64{0.5, math.NaN(), 0.7}); got != 3 {
		t.Errorf("best = %v, want 3 (NaN skipped)", got)
	}
	if got := best(lrs, []float64{math.NaN(), math.NaN(), math.NaN()}); !math.IsNaN(got) {
		t.Errorf("best of all-NaN = %v, want NaN", got)
	}
}

func TestCheck(t *testing.T) {
	if err := Default().Check(); err != nil {
		t.Fatal(err)
	}
	if err := Quick().Check(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"TopNeg":   func(c *Config) { c.TopNeg = c.Passages },
		"tau":      func(c *Config) { c.Tau = 0 },
		"per":      func(c *Config) { c.Passages = c.Clusters },
		"batch":    func(c *Config) { c.Train = c.Batch - 1 },
		"learning": func(c *Config) { c.LRs = []float64{-1} },
	} {
		c := tiny()
		mod(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming it", name, err)
		}
	}
	if _, err := Train(tiny(), nil, "ce", 1e-3, 1); err == nil || !strings.Contains(err.Error(), `"ce"`) {
		t.Errorf("unknown arm: got %v", err)
	}
}

// identity is a model whose embeddings are the inputs themselves (Emb = Dim) with offset V·r.
func identity(c Config, v float64) Params {
	p := InitParams(c, 1)
	for i := range p.Wq {
		for j := range p.Wq[i] {
			p.Wq[i][j], p.Wp[i][j] = 0, 0
		}
		p.Wq[i][i], p.Wp[i][i] = 1, 1
	}
	p.V, p.C = v, 0
	for j := range p.U {
		p.U[j] = 0
	}
	return p
}

// The paper's phenomenon on a hand-built model: queries equal to their passages rank them first
// (MRR@10 = 1) whatever the per-query offset, but a large offset mixes rows and lowers the global AUC.
func TestEvaluateOffsetLowersGlobalAUCOnly(t *testing.T) {
	c := tiny()
	c.Noise = 0.5
	d, err := NewData(c)
	if err != nil {
		t.Fatal(err)
	}
	qs := Queries{R: d.Test.R, Pos: d.Test.Pos}
	for _, p := range d.Test.Pos {
		qs.Q = append(qs.Q, d.P[p])
	}
	clean, err := Evaluate(c, identity(c, 0), d, qs)
	if err != nil {
		t.Fatal(err)
	}
	shifted, err := Evaluate(c, identity(c, 5), d, qs)
	if err != nil {
		t.Fatal(err)
	}
	if clean.MRR != 1 || shifted.MRR != 1 || clean.AUC != 1 {
		t.Errorf("clean MRR %v AUC %v, shifted MRR %v: want 1", clean.MRR, clean.AUC, shifted.MRR)
	}
	if shifted.AUC > 0.9 {
		t.Errorf("offset 5·r left the global AUC at %v; want it well below 1", shifted.AUC)
	}
	if len(clean.NegScores) != c.TopNeg*len(qs.Q) {
		t.Errorf("%d pooled negatives, want %d", len(clean.NegScores), c.TopNeg*len(qs.Q))
	}
}

// Lemma 1: InfoNCE's gradient with respect to the per-query offset weight is zero, MW's is not.
func TestOffsetGrad(t *testing.T) {
	c := tiny()
	d, err := NewData(c)
	if err != nil {
		t.Fatal(err)
	}
	p := InitParams(c, 3)
	gc, err := OffsetGrad(c, d, InfoNCE, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := OffsetGrad(c, d, MW, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(gc) > 1e-9 || math.Abs(gm) < 1e-3 {
		t.Errorf("∂L/∂v: InfoNCE %g (want 0), MW %g (want clearly nonzero)", gc, gm)
	}
}

func TestRun(t *testing.T) {
	c := tiny()
	n := 0
	res, err := Run(c, func(string) { n++ })
	if err != nil {
		t.Fatal(err)
	}
	if n > c.RunsAtMost() || n < len(Arms)*(len(c.LRs)+c.Runs) {
		t.Errorf("%d progress calls, want between %d and %d", n, len(Arms)*(len(c.LRs)+c.Runs), c.RunsAtMost())
	}
	for _, arm := range Arms {
		if len(res.AUC(arm)) != c.Runs || len(res.MRR(arm)) != c.Runs || len(res.ValAUC[arm]) != len(c.LRs) || len(res.ValMRR[arm]) != len(c.LRs) {
			t.Fatalf("%s: %d test runs, %d val points", arm, len(res.AUC(arm)), len(res.ValAUC[arm]))
		}
		for _, curve := range res.ByAUC[arm].Curves {
			if len(curve) != c.Epochs || !(curve[len(curve)-1] < curve[0]) {
				t.Errorf("%s: training loss %v does not fall", arm, curve)
			}
		}
	}
	// Runs of the same arm with different seeds are independent: different results.
	if a := res.AUC(MW); a[0] == a[1] {
		t.Errorf("two MW runs gave the same AUC %v: seeds not independent", a[0])
	}
	// MW sees the style offset and shrinks v from 0.5; InfoNCE cannot see it.
	for r, v := range res.ByAUC[MW].V {
		if !(v < 0.5) {
			t.Errorf("MW run %d: v = %v, want it to shrink from 0.5", r, v)
		}
	}
}
