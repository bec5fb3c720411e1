package genexp

import (
	"math"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/genmeasure"
	"github.com/losslab/losslab/lib/verdict"
)

// tiny returns small pools of easy Gaussian blobs and a configuration sized for a unit test.
func tiny(t *testing.T) (Data, Config) {
	t.Helper()
	all, err := data.Blobs(data.BlobsConfig{N: 300, Classes: 3, Dim: 4, Radius: 4, Spread: 0.7, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := all.Split(0.6, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := Quick()
	c.Runs, c.TwinTrain, c.Train, c.Test, c.Steps, c.LR = 2, 40, 40, 100, 200, 2e-2
	c.Noises, c.Widths, c.TwinWidth = []float64{0, 0.5, 1}, []int{32}, 8
	c.Search.Flatness.Depth, c.Search.Flatness.Samples = 3, 1
	c.Search.Sharpness.Depth, c.Search.Sharpness.Steps = 3, 2
	return Data{Train: tr, Test: te}, c
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{Default(), Quick()} {
		if err := c.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := []func(*Config){
		func(c *Config) { c.Runs = 0 },
		func(c *Config) { c.Train = 3 },
		func(c *Config) { c.Steps = 0 },
		func(c *Config) { c.LR = math.NaN() },
		func(c *Config) { c.Noises = []float64{0.5} },
		func(c *Config) { c.Noises = []float64{0, 1.5} },
		func(c *Config) { c.Widths = []int{0} },
	}
	for i, f := range bad {
		c := Default()
		f(&c)
		if c.Check() == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

func TestRunTwinSameNetworkDifferentError(t *testing.T) {
	d, c := tiny(t)
	tw, err := RunTwin(d, c)
	if err != nil {
		t.Fatal(err)
	}
	if !tw.Identical || !tw.SameMeasures {
		t.Errorf("identical %v, same measures %v: want both", tw.Identical, tw.SameMeasures)
	}
	if len(tw.Measures) < 10 {
		t.Errorf("%d measures", len(tw.Measures))
	}
	// Easy blobs: h is good under D1 and near chance (2/3 wrong) under D2.
	if tw.ErrD1 > 0.2 || tw.ErrD2 < 0.45 {
		t.Errorf("test error D1 %.3f, D2 %.3f: want ≤ 0.2 and ≥ 0.45", tw.ErrD1, tw.ErrD2)
	}
	if _, err := RunTwin(Data{Train: d.Train}, c); err == nil {
		t.Error("missing test pool accepted")
	}
}

func TestRunFamilyIndependentRuns(t *testing.T) {
	d, c := tiny(t)
	var fs []*Family
	for r := range c.Runs {
		n := 0
		f, err := RunFamily(d, c, r, func(Model) { n++ })
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Models) != len(c.Noises)*len(c.Widths) || n != len(f.Models) {
			t.Fatalf("run %d: %d models, %d callbacks", r, len(f.Models), n)
		}
		fs = append(fs, f)
	}
	// Independent runs: no two runs share an initialisation, so their clean models differ.
	a, _ := genmeasure.Lookup(fs[0].Models[0].Measures, "fro.dist")
	b, _ := genmeasure.Lookup(fs[1].Models[0].Measures, "fro.dist")
	if a == b {
		t.Errorf("runs 0 and 1 give the same fro.dist %g: shared initialisation or sample", a)
	}
	// Random labels open a gap that clean labels do not.
	for _, f := range fs {
		clean, random := f.Models[0], f.Models[len(f.Models)-1]
		if random.Gap() < clean.Gap()+0.2 {
			t.Errorf("run %d: gap %.3f at noise 1, %.3f at noise 0", f.Run, random.Gap(), clean.Gap())
		}
		if tn, err := f.NoiseTau(); err != nil || tn <= 0 {
			t.Errorf("run %d: τ(noise, gap) = %v, %v", f.Run, tn, err)
		}
	}
	if _, err := TausAcross(fs, "path.norm"); err != nil {
		t.Error(err)
	}
	if _, err := TausAcross(fs, "no.such.measure"); err == nil {
		t.Error("unknown measure accepted")
	}
}

// family builds a family of four models (2 noises × 2 widths) whose measures are given per model.
func family(gaps []float64, vals map[string][]float64) *Family {
	f := &Family{}
	names := []string{"params", "a", "b"}
	for i, g := range gaps {
		m := Model{NoiseIdx: i / 2, WidthIdx: i % 2, TestErr: g, Noise: float64(i / 2)}
		for _, n := range names {
			v := 1.0
			if n != "params" {
				v = vals[n][i]
			}
			m.Measures = append(m.Measures, genmeasure.Measure{Name: n, Value: v})
		}
		f.Models = append(f.Models, m)
	}
	return f
}

func TestTaus(t *testing.T) {
	f := family([]float64{0.1, 0.2, 0.3, 0.4}, map[string][]float64{
		"a": {1, 2, 3, 4},          // orders the models exactly like the gap
		"b": {4, math.NaN(), 2, 1}, // reversed, one undefined
	})
	rows, err := f.Taus()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != "a" || rows[1].Name != "b" {
		t.Fatalf("rows %+v: want a and b, params left out", rows)
	}
	if rows[0].Tau != 1 || rows[0].Models != 4 || rows[0].Granulated != 1 {
		t.Errorf("a: %+v, want τ = granulated τ = 1 on 4 models", rows[0])
	}
	if rows[1].Tau != -1 || rows[1].Models != 3 {
		t.Errorf("b: %+v, want τ = −1 on 3 models", rows[1])
	}
	if tau, err := f.TauOf("a"); err != nil || tau != 1 {
		t.Errorf("TauOf(a) = %v, %v", tau, err)
	}
	g := family([]float64{0.1, 0.2, 0.3, 0.4}, map[string][]float64{"a": {1, math.NaN(), math.NaN(), 2}, "b": {1, 2, 3, 4}})
	if _, err := g.TauOf("a"); err == nil {
		t.Error("τ on 2 finite values accepted")
	}
	if _, err := (&Family{}).Taus(); err == nil {
		t.Error("empty family accepted")
	}
}

func TestParityPeakAndSimulation(t *testing.T) {
	c, err := Parity(10, 5, 16, 400, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The closed form's best achievable estimation error peaks at m = 9 for n = 10 (0.1949).
	if c.PeakM != 9 {
		t.Errorf("peak at m = %d, want 9", c.PeakM)
	}
	if c.WorstZ > 4.5 || c.WorstZ == 0 {
		t.Errorf("simulation off the exact values by %.2f SE", c.WorstZ)
	}
	if len(c.M) != 12 || c.M[0] != 5 {
		t.Errorf("m = %v", c.M)
	}
	if _, err := Parity(10, 5, 4, 10, 1); err == nil {
		t.Error("empty range accepted")
	}
}

func TestSummarize(t *testing.T) {
	f1 := family([]float64{0.1, 0.2, 0.3, 0.4}, map[string][]float64{"a": {1, 2, 3, 4}, "b": {1, 1, 1, 1}})
	f2 := family([]float64{0.1, 0.2, 0.3, 0.4}, map[string][]float64{"a": {4, 3, 2, 1}, "b": {1, 1, 1, 1}})
	st, err := Summarize([]*Family{f1, f2})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Name != "a" || st[0].Mean != 0 || math.Abs(st[0].SD-math.Sqrt2) > 1e-12 || len(st[0].Taus) != 2 {
		t.Errorf("a: %+v, want τ = ±1, mean 0, sd √2", st[0])
	}
	if len(st[1].Taus) != 0 || !math.IsNaN(st[1].Mean) {
		t.Errorf("b (constant): %+v, want no τ", st[1])
	}
	if _, err := Summarize(nil); err == nil {
		t.Error("no families accepted")
	}
}

func TestClaims(t *testing.T) {
	vals := func(flat, spec []float64) map[string][]float64 { return map[string][]float64{"a": flat, "b": spec} }
	gaps := []float64{0.1, 0.2, 0.3, 0.4}
	var fs []*Family
	for range 3 {
		f := family(gaps, vals([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}))
		for i := range f.Models {
			f.Models[i].Measures[1].Name, f.Models[i].Measures[2].Name = FlatPACBayes, SpecProduct
			m := f.Models[i].Measures[1]
			m.Name = FlatSharpness
			f.Models[i].Measures = append(f.Models[i].Measures, m)
		}
		fs = append(fs, f)
	}
	par, err := Parity(ParityN, 10, 30, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := &Result{Twin: &Twin{Identical: true, SameMeasures: true, ErrD1: 0.2, ErrD2: 0.9}, Families: fs, Parity: par}
	cs, err := r.Claims()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verdict.Decide("07-genmeasures", cs...)
	if err != nil {
		t.Fatal(err)
	}
	// Flatness orders the gap exactly, the spectral product in reverse: both comparisons hold (effect 2),
	// the parity peak holds, and every sanity check holds.
	if rep.Verdict != verdict.VerdictReproduced {
		t.Errorf("verdict %s (%s)", rep.Verdict, rep.Reason)
	}
	if len(rep.Claims) != 7 || rep.Claims[0].Effect != 2 || rep.Claims[0].Seeds != 3 {
		t.Errorf("claims %+v", rep.Claims)
	}
	r.Twin.Identical = false
	cs, _ = r.Claims()
	if cs[3].Holds {
		t.Error("twin sanity holds although the networks differ")
	}
	if _, err := (&Result{}).Claims(); err == nil {
		t.Error("empty result accepted")
	}
}

func TestRunEndToEnd(t *testing.T) {
	d, c := tiny(t)
	c.Runs = 3
	n := 0
	r, err := Run(d, c, 50, func(string) { n++ })
	if err != nil {
		t.Fatal(err)
	}
	if n != c.Models() || len(r.Families) != 3 || r.Parity == nil {
		t.Fatalf("%d progress calls (want %d), %d families", n, c.Models(), len(r.Families))
	}
	cs, err := r.Claims()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verdict.Decide("07-genmeasures", cs...); err != nil {
		t.Error(err)
	}
}
