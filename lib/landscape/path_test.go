package landscape

import (
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

func TestQuadraticPath(t *testing.T) {
	ev, err := newToyEvaluator(quadLoss, "quadratic")
	if err != nil {
		t.Fatal(err)
	}
	a, b := toyPoint(1, 0), toyPoint(-1, 2)
	p, err := Interpolate(ev, a, b, []*Data{toyData()}, PathOptions{NumAlpha: 11})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2.5, 1.76, 1.14, 0.64, 0.26, 0, -0.14, -0.16, -0.06, 0.16, 0.5} // worked example (quadLoss)
	for i, w := range want {
		x, y := 1-2*p.Alpha[i], 2*p.Alpha[i]
		if got := p.Curves[0].Loss[i]; math.Abs(got-w) > 1e-12 || math.Abs(got-quadRef(x, y)) > 1e-12 {
			t.Errorf("φ(%g) = %.15g, want %g", p.Alpha[i], got, w)
		}
	}
	br := p.Curves[0].LossBarrier
	if math.Abs(br.Linear) > 1e-12 || (br.LinearAlpha != 0 && br.LinearAlpha != 1) {
		t.Errorf("B_lin = %g at α=%g, want 0 at an end", br.Linear, br.LinearAlpha)
	}
	if math.Abs(br.Mean-1.0) > 1e-12 || math.Abs(br.Midpoint+1.5) > 1e-12 || br.MidpointInterpolated {
		t.Errorf("B_mean = %g (want 1), G_mid = %g (want −1.5)", br.Mean, br.Midpoint)
	}
	if !br.RelativeValid || math.Abs(br.RelMean-1.0/1.5) > 1e-12 {
		t.Errorf("relative mean barrier %g, want %g", br.RelMean, 1.0/1.5)
	}
	// Symmetry and B_lin(θ,θ) = 0.
	q, err := Interpolate(ev, b, a, []*Data{toyData()}, PathOptions{NumAlpha: 11})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(q.Curves[0].LossBarrier.Linear-br.Linear) > 1e-12 {
		t.Errorf("B_lin not symmetric: %g vs %g", q.Curves[0].LossBarrier.Linear, br.Linear)
	}
	s, err := Interpolate(ev, a, a, []*Data{toyData()}, PathOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Curves[0].LossBarrier.Linear != 0 || len(s.Alpha) != 21 {
		t.Errorf("B_lin(θ,θ) = %g on %d points", s.Curves[0].LossBarrier.Linear, len(s.Alpha))
	}
	// Results round trip through JSON.
	file := filepath.Join(t.TempDir(), "path.json")
	if err := SaveJSON(file, p); err != nil {
		t.Fatal(err)
	}
	var back Path
	if err := LoadJSON(file, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Curves, p.Curves) || !reflect.DeepEqual(back.Alpha, p.Alpha) || back.Provenance.Objective != "quadratic" {
		t.Errorf("JSON round trip changed the path")
	}
}

func TestDoubleWellBarrierAndRefinement(t *testing.T) {
	ev, err := newToyEvaluator(wellLoss, "double-well")
	if err != nil {
		t.Fatal(err)
	}
	a, b := toyPoint(-1, 0), toyPoint(1, 0)
	p, err := Interpolate(ev, a, b, []*Data{toyData()}, PathOptions{NumAlpha: 101})
	if err != nil {
		t.Fatal(err)
	}
	br := p.Curves[0].LossBarrier
	if math.Abs(br.Linear-1) > 1e-12 || math.Abs(br.LinearAlpha-0.5) > 1e-12 {
		t.Errorf("double well: B_lin = %g at α=%g, want 1 at ½", br.Linear, br.LinearAlpha)
	}
	// On a coarse grid (0, ⅓, ⅔, 1) the maximum is missed (16α²(1−α)² = 0.790 at ⅓); refinement finds it.
	coarse, err := Interpolate(ev, a, b, []*Data{toyData()}, PathOptions{NumAlpha: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := coarse.Curves[0].LossBarrier.Linear; math.Abs(got-16.0/81*4) > 1e-12 {
		t.Fatalf("coarse barrier %g, want %g", got, 16.0/81*4)
	}
	ref, err := Interpolate(ev, a, b, []*Data{toyData()}, PathOptions{NumAlpha: 4, Refine: true, Tolerance: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	rb := ref.Curves[0].LossBarrier
	if !ref.Refinement.Converged || math.Abs(rb.Linear-1) > 1e-6 || ref.Refinement.Uncertainty > 1e-6 {
		t.Errorf("refined barrier %g at α=%g (rounds %d, uncertainty %g, converged %v), want 1 within 1e-6",
			rb.Linear, rb.LinearAlpha, ref.Refinement.Rounds, ref.Refinement.Uncertainty, ref.Refinement.Converged)
	}
	if len(ref.Alpha) <= 4 || ref.GridSize != 4 {
		t.Errorf("refinement added no points: %v", ref.Alpha)
	}
	for i := 1; i < len(ref.Alpha); i++ {
		if ref.Alpha[i] <= ref.Alpha[i-1] {
			t.Fatalf("α not strictly increasing: %v", ref.Alpha)
		}
	}
}

func TestBarriersDirect(t *testing.T) {
	alpha := []float64{0, 0.25, 0.5, 0.75, 1}
	phi := []float64{1, 3, 2.5, 2.2, 2}
	b, err := Barriers(alpha, phi)
	if err != nil {
		t.Fatal(err)
	}
	// chord: 1, 1.25, 1.5, 1.75, 2 → gaps 0, 1.75, 1, 0.45, 0.
	if b.Linear != 1.75 || b.LinearAlpha != 0.25 || b.Mean != 1.5 || b.MeanAlpha != 0.25 || b.Midpoint != 1 {
		t.Errorf("got %+v", b)
	}
	if _, err := Barriers([]float64{0, 0.5}, []float64{1, 2}); err == nil {
		t.Error("grid not ending at 1 accepted")
	}
	if _, err := Barriers(alpha, []float64{1, math.NaN(), 1, 1, 1}); err == nil {
		t.Error("NaN loss accepted")
	}
	// α = ½ missing: midpoint interpolated.
	b2, _ := Barriers([]float64{0, 0.4, 0.6, 1}, []float64{0, 1, 3, 0})
	if !b2.MidpointInterpolated || math.Abs(b2.Midpoint-2) > 1e-12 {
		t.Errorf("interpolated midpoint %g", b2.Midpoint)
	}
}

func TestInterpolatePairsSpread(t *testing.T) {
	ev, err := newToyEvaluator(wellLoss, "double-well")
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]*ParamSet{
		{toyPoint(-1, 0), toyPoint(1, 0)},  // barrier 1
		{toyPoint(-1, 0), toyPoint(-1, 0)}, // barrier 0
		{toyPoint(1, 0), toyPoint(-1, 0)},  // barrier 1
	}
	s, err := InterpolatePairs(ev, pairs, []*Data{toyData()}, PathOptions{NumAlpha: 21})
	if err != nil {
		t.Fatal(err)
	}
	st := s.LossLinear["toy"]
	if st.N != 3 || math.Abs(st.Mean-2.0/3) > 1e-12 || math.Abs(st.Std-math.Sqrt(1.0/3)) > 1e-12 || st.Min != 0 || math.Abs(st.Max-1) > 1e-12 {
		t.Errorf("stats %+v", st)
	}
}

// A watched path reports itself as it grows, one compiled call's points at a time, ends with the
// complete path, and has the same numbers as an unwatched one.
func TestPathWatch(t *testing.T) {
	sizes := []int{5, 7, 3}
	a, b := randomMLP(sizes, dtypes.Float32, 1), randomMLP(sizes, dtypes.Float32, 2)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{BatchSize: 10, PointsPerCall: 4})
	if err != nil {
		t.Fatal(err)
	}
	data := []*Data{randomData(25, 5, 3, 3), randomData(12, 5, 3, 4)}
	opts := PathOptions{NumAlpha: 11, Refine: true, Tolerance: 1e-6, MaxRounds: 3}
	plain, err := Interpolate(ev, a, b, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	var sizesSeen []int
	var final *Path
	opts.Watch = func(p *Path, done bool) {
		if final != nil {
			t.Errorf("watch called after done")
		}
		if done {
			final = p
			return
		}
		if p.Curves[0].LossBarrier != (Barrier{}) {
			t.Errorf("barriers set before the path is complete")
		}
		if len(p.Curves[1].Loss) != len(p.Alpha) {
			t.Errorf("curve has %d values for %d α", len(p.Curves[1].Loss), len(p.Alpha))
		}
		sizesSeen = append(sizesSeen, len(p.Alpha))
	}
	watched, err := Interpolate(ev, a, b, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if final != watched {
		t.Fatalf("the done call did not get the returned path")
	}
	// 11 grid points in calls of 4: 4, 8, 11; then each refinement round adds up to two points.
	if len(sizesSeen) < 3 || sizesSeen[0] != 4 || sizesSeen[1] != 8 || sizesSeen[2] != 11 {
		t.Errorf("path sizes seen by the watcher: %v, want 4, 8, 11, then refinement", sizesSeen)
	}
	if got, want := sizesSeen[len(sizesSeen)-1], len(watched.Alpha); got != want {
		t.Errorf("last partial path had %d points, the result %d", got, want)
	}
	watched.Provenance, plain.Provenance = Provenance{}, Provenance{}
	if !reflect.DeepEqual(watched, plain) {
		t.Errorf("a watched path differs from an unwatched one:\nwatched %+v\nplain   %+v", watched, plain)
	}
}
