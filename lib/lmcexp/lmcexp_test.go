package lmcexp

import (
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/verdict"
)

// tiny is the experiment at test sizes: 4-class blobs, MLP 6-6, three pairs, a 5-point grid.
func tiny(t *testing.T) Config {
	t.Helper()
	s, err := data.Blobs(data.BlobsConfig{N: 240, Classes: 4, Dim: 5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := s.Split(0.5, 1)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Train: tr, Test: te, Data: "blobs", Hidden: []int{6, 6}, Runs: 3, Epochs: 2, Batch: 16, NumAlpha: 5}
}

func TestCheck(t *testing.T) {
	good := tiny(t).WithDefaults()
	for name, mod := range map[string]func(*Config){
		"no data":    func(c *Config) { c.Train = nil },
		"even grid":  func(c *Config) { c.NumAlpha = 4 },
		"zero width": func(c *Config) { c.Hidden = []int{6, 0} },
		"no runs":    func(c *Config) { c.Runs = -1 },
	} {
		c := good
		mod(&c)
		if _, err := Run(c, nil); err == nil || !strings.Contains(err.Error(), "lmcexp") {
			t.Errorf("%s: got error %v, want an lmcexp error", name, err)
		}
	}
}

func TestRunMeasuresIndependentPairs(t *testing.T) {
	r, err := Run(tiny(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Pairs) != 3 {
		t.Fatalf("%d pairs, want 3", len(r.Pairs))
	}
	seeds := map[uint64]bool{}
	for i, p := range r.Pairs {
		seeds[p.SeedA], seeds[p.SeedB] = true, true
		if p.SameFunction > SameFunctionTol {
			t.Errorf("pair %d: matched B differs from B by %g in the logits", i, p.SameFunction)
		}
		if p.DistMatched > p.DistNaive+1e-9 {
			t.Errorf("pair %d: ‖A − π(B)‖ = %g > ‖A − B‖ = %g", i, p.DistMatched, p.DistNaive)
		}
		if p.Naive < 0 || p.Matched < 0 || len(p.Alpha) != 5 || len(p.LossNaive) != 5 {
			t.Errorf("pair %d: barriers %g, %g (want ≥ 0), %d α", i, p.Naive, p.Matched, len(p.Alpha))
		}
		if len(p.Layers) != 3 || len(p.LayerNaive) != 3 || len(p.LayerMatched) != 3 || len(p.RiseNaive) != 3 || len(p.HybridMatched) != 3 {
			t.Errorf("pair %d: layers %v, want the three dense layers", i, p.Layers)
		}
		if p.LossNaive[0] != p.LossMatched[0] {
			t.Errorf("pair %d: both paths must start at A (%g vs %g)", i, p.LossNaive[0], p.LossMatched[0])
		}
	}
	if len(seeds) != 6 {
		t.Errorf("seeds %v: want six distinct initialisations", seeds)
	}
	cs, err := r.Claims()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verdict.Decide("02-lmc", cs...); err != nil {
		t.Fatal(err)
	}
}

// synthetic returns a result whose pairs have the given unmatched, matched and largest-layer barriers.
func synthetic(t *testing.T, naive, matched, layer []float64) *Result {
	r := &Result{Config: Config{Hidden: []int{6, 6}, Data: "synthetic"}, Classes: 4}
	for i := range naive {
		r.Pairs = append(r.Pairs, Pair{Naive: naive[i], Matched: matched[i], LayerNaive: []float64{layer[i] / 2, layer[i]},
			AccA: 0.9, AccB: 0.9, DistNaive: 2, DistMatched: 1})
	}
	return r
}

func TestClaims(t *testing.T) {
	decide := func(r *Result) *verdict.Report {
		cs, err := r.Claims()
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verdict.Decide("02-lmc", cs...)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := decide(synthetic(t, []float64{1, 1.2, 0.9}, []float64{0.1, 0.2, 0.15}, []float64{0.3, 0.2, 0.25}))
	for i := 0; i < 2; i++ {
		if rep.Claims[i].Outcome != verdict.Reproduced {
			t.Errorf("claim %d: %s, want reproduced (matched and layer barriers far below the full barrier)", i, rep.Claims[i].Outcome)
		}
	}
	rep = decide(synthetic(t, []float64{1, 1.2, 0.9}, []float64{1.5, 1.6, 1.4}, []float64{2, 2.2, 2.1}))
	for i := 0; i < 2; i++ {
		if rep.Claims[i].Outcome != verdict.NotReproduced {
			t.Errorf("claim %d: %s, want not reproduced (barriers grow)", i, rep.Claims[i].Outcome)
		}
	}
	rep = decide(synthetic(t, []float64{0.01, 0.02, 0.01}, []float64{0, 0, 0}, []float64{0, 0, 0}))
	if rep.Claims[0].Outcome != verdict.NotTestable || rep.Claims[1].Outcome != verdict.NotTestable {
		t.Errorf("outcomes %s, %s: want not testable without an unmatched barrier", rep.Claims[0].Outcome, rep.Claims[1].Outcome)
	}
	far := synthetic(t, []float64{1, 1, 1}, []float64{0, 0, 0}, []float64{0, 0, 0})
	far.Pairs[1].DistMatched = 3
	far.Pairs[2].AccB = 0.3
	far.Pairs[0].SameFunction = 0.1
	cs, err := far.Claims()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs[2:] {
		if c.Kind != verdict.Sanity || c.Holds {
			t.Errorf("sanity %q holds (%s); want it to fail: one pair breaks it", c.Claim, c.Kind)
		}
	}
	if _, err := (&Result{}).Claims(); err == nil {
		t.Error("an empty result must be an error")
	}
}

func TestWidthClaim(t *testing.T) {
	narrow := synthetic(t, []float64{1, 1, 1}, []float64{0.4, 0.5, 0.45}, []float64{0, 0, 0})
	wide := synthetic(t, []float64{1, 1, 1}, []float64{0.1, 0.15, 0.1}, []float64{0, 0, 0})
	decideOne := func(n, w *Result) verdict.Outcome {
		c, err := WidthClaim(n, w)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verdict.Decide("02-lmc", c)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Claims[0].Outcome
	}
	if o := decideOne(narrow, wide); o != verdict.Reproduced {
		t.Errorf("wide pairs keep less barrier: %s, want reproduced", o)
	}
	if o := decideOne(wide, narrow); o != verdict.NotReproduced {
		t.Errorf("wide pairs keep more barrier: %s, want not reproduced", o)
	}
	flat := synthetic(t, []float64{1, 1, 1}, []float64{0.01, 0, 0.02}, []float64{0, 0, 0})
	if o := decideOne(flat, wide); o != verdict.NotTestable {
		t.Errorf("no barrier left at the narrow width: %s, want not testable", o)
	}
	wide.Pairs[2].SeedB = 99
	if _, err := WidthClaim(narrow, wide); err == nil || !strings.Contains(err.Error(), "pair 2") {
		t.Errorf("mismatched seeds: error %v, want one naming pair 2", err)
	}
	if _, err := WidthClaim(narrow, &Result{}); err == nil {
		t.Error("results of different sizes must be an error")
	}
}
