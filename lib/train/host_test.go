package train

import (
	"math"
	"testing"
)

// TestHostOptimizer checks the two rules against closed forms: SGD on L = ½‖w‖² (g = w) shrinks w by
// (1 − η) per step; Adam under a constant gradient has m̂ = g and v̂ = g² at every step, so each step
// moves a coordinate by η·g/(|g| + ε). Segments carry their own learning rates.
func TestHostOptimizer(t *testing.T) {
	w := []float32{1, -2, 0.5, 4}
	sgd, err := NewHostOptimizer("sgd", len(w))
	if err != nil {
		t.Fatal(err)
	}
	g := make([]float64, len(w))
	for range 5 {
		for i := range w {
			g[i] = float64(w[i])
		}
		if err := sgd.StepSegments(w, g, []Segment{{End: 2, LR: 0.1}, {End: 4, LR: 0.2}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, w0 := range []float64{1, -2, 0.5, 4} {
		lr := 0.1
		if i >= 2 {
			lr = 0.2
		}
		if want := w0 * math.Pow(1-lr, 5); math.Abs(float64(w[i])-want) > 1e-6 {
			t.Errorf("SGD w[%d] = %v, want %v", i, w[i], want)
		}
	}
	if sgd.Steps() != 5 {
		t.Errorf("SGD took %d steps, want 5", sgd.Steps())
	}

	adam, _ := NewHostOptimizer("adam", 3)
	w = []float32{0, 0, 0}
	g = []float64{3, -1e-3, 0.5}
	for range 10 {
		if err := adam.Step(w, g, 0.01); err != nil {
			t.Fatal(err)
		}
	}
	for i, gi := range g {
		if want := -10 * 0.01 * gi / (math.Abs(gi) + 1e-8); math.Abs(float64(w[i])-want) > 1e-6 {
			t.Errorf("Adam w[%d] = %v, want %v", i, w[i], want)
		}
	}

	// The same on float64 parameters, to float64 precision.
	adam64, _ := NewHostOptimizer("adam", 3)
	w64 := []float64{0, 0, 0}
	for range 10 {
		if err := adam64.Step64(w64, g, 0.01); err != nil {
			t.Fatal(err)
		}
	}
	for i, gi := range g {
		if want := -10 * 0.01 * gi / (math.Abs(gi) + 1e-8); math.Abs(w64[i]-want) > 1e-14 {
			t.Errorf("Adam on float64 w[%d] = %v, want %v", i, w64[i], want)
		}
	}

	if _, err := NewHostOptimizer("lion", 3); err == nil {
		t.Error("unknown optimizer accepted")
	}
	for _, segs := range [][]Segment{{{End: 2, LR: 1}}, {{End: 2, LR: 1}, {End: 1, LR: 1}, {End: 3, LR: 1}}, {{End: 4, LR: 1}}} {
		if err := adam.StepSegments(w, g, segs); err == nil {
			t.Errorf("segments %v of 3 parameters accepted", segs)
		}
	}
	if err := adam.Step(w[:2], g[:2], 0.1); err == nil {
		t.Error("a step on 2 of 3 parameters accepted")
	}
	if adam.Steps() != 10 {
		t.Errorf("refused steps counted: %d steps, want 10", adam.Steps())
	}
}
