package proxyexp

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/proxies"
)

// tiny is the experiment at test sizes: two candidate scales, two learning rates, two arms, three runs.
func tiny() Config {
	s := Scale{Name: "s", Dim: 8, Heads: 2, Layers: 1, FFN: 8, Seq: 4, Batch: 2, Steps: 3, Warmup: 1}
	big := s
	big.Name, big.Dim = "big", 16
	return Config{Markov: proxies.MarkovConfig{Vocab: 8, Support: 3, Length: 2000, Seed: 1},
		Scales: []Scale{s, big}, LRs: []float64{1e-2, 1}, Growth: 1e30, MaxFocusLR: 1,
		Arms: []Arm{{Name: "base"}, {Name: "z", ZLoss: 1e-4}}, Runs: 3, Clip: 1, PilotSeed: 50}
}

func TestCheck(t *testing.T) {
	if err := tiny().Check(); err != nil {
		t.Fatal(err)
	}
	c := tiny()
	c.Arms[0].QKNorm = true
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Fatalf("a first arm with qk-layernorm: got %v", err)
	}
	c = tiny()
	c.LRs = []float64{1, 1e-2}
	if err := c.Check(); err == nil {
		t.Fatal("decreasing learning rates passed Check")
	}
	c = tiny()
	c.Scales[1].Heads = 3
	if err := c.Check(); err == nil {
		t.Fatal("a scale whose heads do not divide the width passed Check")
	}
}

func TestExecutePairsRunsAndPicksTheScale(t *testing.T) {
	// No candidate can grow 1e30×: the pilot tries both and keeps the last, with no focus.
	c := tiny()
	res, err := Execute(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pilots) != 2 || res.Scale.Name != "big" || res.Focus != 0 {
		t.Fatalf("pilots %+v, scale %q, focus %g: want both candidates tried, the last kept, no focus", res.Pilots, res.Scale.Name, res.Focus)
	}
	if len(res.Runs) != len(c.Arms)*len(c.LRs)*c.Runs || res.NumRuns() != 3 || len(res.LRs()) != 2 {
		t.Fatalf("%d runs, %d independent, %d learning rates", len(res.Runs), res.NumRuns(), len(res.LRs()))
	}
	// Run r of both arms shares its initialisation (paired); the runs differ from each other.
	for r := range 3 {
		b, z := res.Find("base", 1e-2, r), res.Find("z", 1e-2, r)
		if b == nil || z == nil || b.Init != z.Init || len(b.MaxLogit) != 3 {
			t.Fatalf("run %d: %+v / %+v", r, b, z)
		}
	}
	if res.Find("base", 1e-2, 0).Init == res.Find("base", 1e-2, 1).Init {
		t.Fatal("runs 1 and 2 share their initialisation: they are not independent")
	}
	lrs, err := res.LRS("base")
	if err != nil || len(lrs) != 3 {
		t.Fatalf("LRS %v, %v", lrs, err)
	}
	for r, v := range lrs {
		ls, init := res.Finals("base", r)
		want, _, err := proxies.LRSensitivity(ls, init)
		if err != nil || math.Abs(v-want) > 1e-12 {
			t.Fatalf("run %d: LRS %g, want %g (%v)", r, v, want, err)
		}
	}
	if _, err := res.LRS("nobody"); err == nil {
		t.Fatal("the LRS of an unknown arm is not an error")
	}

	// With a reachable growth the first candidate is kept, and the focus is its smallest learning
	// rate whose growth reaches it.
	c.Growth, c.Runs = 1e-9, 1
	res, err = Execute(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pilots) != 1 || res.Scale.Name != "s" || res.Focus != 1e-2 {
		t.Fatalf("pilots %+v, scale %q, focus %g: want the first scale with focus 0.01", res.Pilots, res.Scale.Name, res.Focus)
	}
}

func TestRunMeasures(t *testing.T) {
	r := Run{MaxLogit: []float64{2, 5, math.NaN(), 3}, LogZ: []float64{4, -6, math.NaN()}}
	if r.PeakLogit() != 5 || r.Growth() != 2.5 || r.LastAbsLogZ() != 6 {
		t.Fatalf("peak %g growth %g |log Z| %g, want 5, 2.5, 6", r.PeakLogit(), r.Growth(), r.LastAbsLogZ())
	}
	res := &Result{Runs: []Run{
		{Arm: "a", LR: 0.1, Run: 0, Init: 4, Final: 2, LogZ: []float64{1}},
		{Arm: "a", LR: 1, Run: 0, Init: 4, Final: math.NaN(), LogZ: []float64{-3}},
	}}
	sp, err := res.Spread("a")
	if err != nil || len(sp) != 1 || sp[0] != 2 {
		t.Fatalf("spread %v, %v: want [2] (a diverged run counts as its initial loss)", sp, err)
	}
	lz, err := res.MeanAbsLogZ("a")
	if err != nil || lz[0] != 2 {
		t.Fatalf("mean |log Z| %v, %v: want [2]", lz, err)
	}
}
