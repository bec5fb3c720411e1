package grokexp

import (
	"slices"
	"strings"
	"testing"
)

// curve builds a curve from train and test accuracies logged every 50 steps from step 0; the distance
// and consistency are given per point.
func curve(steps int, train, test, dist, cons []float64) Curve {
	c := Curve{Steps: steps}
	for i := range train {
		c.Points = append(c.Points, Point{Step: 50 * i, TrainAcc: train[i], TestAcc: test[i], Distance: dist[i], Consistency: cons[i]})
	}
	return c
}

func TestMilestoneNotReachedIsNotAStep(t *testing.T) {
	cfg := Default()
	c := curve(200, []float64{0, 0.5, 1, 1, 1}, []float64{0, 0, 0.1, 0.2, 0.3}, make([]float64, 5), make([]float64, 5))
	g := cfg.Grokking(c)
	if !g.Memorised.Reached || g.Memorised.Step != 100 {
		t.Errorf("memorised %+v, want step 100", g.Memorised)
	}
	if g.Generalised.Reached || g.Groks {
		t.Errorf("generalisation %+v reached (groks %v) without test accuracy 0.9", g.Generalised, g.Groks)
	}
	if s := g.Generalised.String(); s != "not reached in 200 steps" {
		t.Errorf("unreached milestone reads %q", s)
	}
	if s := g.String(); strings.Contains(s, "-1") || strings.Contains(s, "delay") {
		t.Errorf("grokking summary %q shows a sentinel or a delay for an unreached milestone", s)
	}
}

func TestGrokkingNeedsTheDelay(t *testing.T) {
	cfg := Default()
	cfg.MinDelay = 100
	acc := []float64{0, 1, 1, 1, 1}
	early := curve(200, acc, []float64{0, 0.2, 0.95, 1, 1}, make([]float64, 5), make([]float64, 5))
	late := curve(200, acc, []float64{0, 0.2, 0.5, 0.95, 1}, make([]float64, 5), make([]float64, 5))
	if g := cfg.Grokking(early); g.Groks || g.Delay != 50 {
		t.Errorf("delay 50 < 100: %+v", g)
	}
	if g := cfg.Grokking(late); !g.Groks || g.Delay != 100 {
		t.Errorf("delay 100 ≥ 100 should grok: %+v", g)
	}
}

func TestWindowChangeSkipsRunsThatDoNotGrok(t *testing.T) {
	cfg := Default()
	cfg.MinDelay = 100
	z := make([]float64, 5)
	groks := Run{Index: 0,
		Task:    curve(200, []float64{0, 1, 1, 1, 1}, []float64{0, 0, 0.5, 0.95, 1}, []float64{0.5, 0.5, 0.4, 0.3, 0.3}, []float64{0, 0.1, 0.2, 0.6, 0.7}),
		Control: curve(200, []float64{0, 0.3, 0.6, 1, 1}, z, []float64{0.5, 0.45, 0.44, 0.43, 0.4}, []float64{0, 0, 0.05, 0.1, 0.1})}
	never := Run{Index: 1, Task: curve(200, []float64{0, 1, 1, 1, 1}, z, z, z), Control: curve(200, z, z, z, z)}
	res := &Result{Runs: []Run{groks, never}}
	ch, err := res.WindowChange(cfg, func(p Point) float64 { return p.Distance })
	if err != nil {
		t.Fatal(err)
	}
	// Window: memorised at 50, generalised at 150; distance 0.5 → 0.3 on the task, 0.45 → 0.43 on the control.
	if !slices.Equal(ch.Runs, []int{0}) || len(ch.Task) != 1 || len(ch.Skipped) != 1 {
		t.Fatalf("change %+v, want run 0 used and run 1 skipped", ch)
	}
	if d := ch.Task[0] + 0.2; d > 1e-12 || d < -1e-12 {
		t.Errorf("task change %g, want −0.2", ch.Task[0])
	}
	if d := ch.Control[0] + 0.02; d > 1e-12 || d < -1e-12 {
		t.Errorf("control change %g, want −0.02", ch.Control[0])
	}
	if !strings.Contains(ch.Skipped[0], "run 2") || !strings.Contains(ch.Skipped[0], "not reached in 200 steps") {
		t.Errorf("skipped run reads %q", ch.Skipped[0])
	}
}

func TestConfigCheck(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no decays":       func(c *Config) { c.Decays = nil },
		"dense with MoE":  func(c *Config) { c.Dense.Blocks = 2 },
		"one MoE block":   func(c *Config) { c.MoE.Blocks = 1 },
		"no test pairs":   func(c *Config) { c.TrainFrac = 1 },
		"P mismatch":      func(c *Config) { c.P = 29 },
		"zero runs":       func(c *Config) { c.Runs = 0 },
		"negative decay":  func(c *Config) { c.Decays = []float64{-1} },
		"gen accuracy >1": func(c *Config) { c.GenAcc = 1.5 },
		"pilot delay":     func(c *Config) { c.PilotDelay = c.MinDelay - 1 },
	} {
		c := Default()
		mod(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: Check accepted %+v", name, c)
		}
	}
	if err := Default().Check(); err != nil {
		t.Errorf("Default: %v", err)
	}
	if err := Quick().Check(); err != nil {
		t.Errorf("Quick: %v", err)
	}
}

func TestShuffledPermutesLabels(t *testing.T) {
	cfg := Default()
	tr, _, err := cfg.split(1)
	if err != nil {
		t.Fatal(err)
	}
	s := Shuffled(tr, 7)
	a, b := slices.Clone(tr.Y), slices.Clone(s.Y)
	if slices.Equal(a, b) {
		t.Fatal("labels not shuffled")
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) || !slices.Equal(tr.X, s.X) {
		t.Error("shuffling changed the inputs or the label counts")
	}
}

// TestExecuteTiny runs the whole experiment at a tiny size: the pilot stops at the first candidate
// that groks or keeps the last, every run has its three curves at every logged step, the MoE curves
// carry the metrics, and runs differ (independent splits and initialisations).
func TestExecuteTiny(t *testing.T) {
	c := Default()
	c.P, c.Dense.P, c.MoE.P = 7, 7, 7
	c.Dense.Hidden, c.MoE.ExpertHidden = 8, 4
	c.Decays = []float64{3, 1}
	c.Steps, c.Every, c.Pairs, c.Runs = 20, 10, 50, 2
	var said []string
	res, err := Execute(c, func(s string) { said = append(said, s) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Found || len(res.Pilots) != 2 || res.Decay != 1 {
		t.Errorf("20 steps cannot grok: pilot %+v, kept %g (found %v), want both candidates tried and the last kept", res.Pilots, res.Decay, res.Found)
	}
	if len(res.Runs) != 2 || len(said) != 2+3*2 {
		t.Fatalf("%d runs, %d progress lines", len(res.Runs), len(said))
	}
	for _, run := range res.Runs {
		for _, cv := range []Curve{run.Dense, run.Task, run.Control} {
			if len(cv.Points) != 3 || cv.Points[2].Step != 20 {
				t.Fatalf("run %d: points %+v, want steps 0, 10, 20", run.Index, cv.Points)
			}
		}
		if p := run.Task.Points[1]; !(p.Distance > 0 && p.Distance <= 1) || len(p.Entropy) != 2 {
			t.Errorf("run %d: MoE point without metrics: %+v", run.Index, p)
		}
	}
	if res.Runs[0].Task.Points[0].TrainLoss == res.Runs[1].Task.Points[0].TrainLoss {
		t.Error("runs 1 and 2 start from the same loss: not independent")
	}
}

func TestColumns(t *testing.T) {
	z := make([]float64, 3)
	a := Run{Task: curve(100, z, []float64{0.1, 0.2, 0.3}, z, z)}
	b := Run{Task: curve(100, z, []float64{0.4, 0.5, 0.6}, z, z)}
	res := &Result{Runs: []Run{a, b}}
	x, runs := res.Columns(func(r Run) Curve { return r.Task }, func(p Point) float64 { return p.TestAcc })
	if !slices.Equal(x, []float64{0, 50, 100}) || len(runs) != 2 || !slices.Equal(runs[1], []float64{0.4, 0.5, 0.6}) {
		t.Errorf("columns %v %v", x, runs)
	}
}

func TestPilotKeepsOnlyALongDelay(t *testing.T) {
	cfg := Default()
	for _, tc := range []struct {
		g    Grokking
		keep bool
	}{
		{Grokking{Groks: true, Delay: cfg.PilotDelay}, true},
		{Grokking{Groks: true, Delay: cfg.PilotDelay - 50}, false}, // groks, but too close to the threshold
		{Grokking{Groks: false, Delay: 2 * cfg.PilotDelay}, false},
	} {
		if got := cfg.PilotKeeps(tc.g); got != tc.keep {
			t.Errorf("%+v: kept %v, want %v", tc.g, got, tc.keep)
		}
	}
}
