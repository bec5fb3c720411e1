package landscape

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

func TestSolveAssignment(t *testing.T) {
	perm, val, err := SolveAssignment([][]float64{{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}) // a worked example
	if err != nil {
		t.Fatal(err)
	}
	if val != 11 || perm[0] != 0 || perm[1] != 2 || perm[2] != 1 {
		t.Errorf("assignment %v value %g, want [0 2 1] and 11", perm, val)
	}
	// Brute force on random 6×6 matrices.
	r := randomData(36*5, 1, 2, 3).X
	for trial := range 5 {
		c := make([][]float64, 6)
		for i := range c {
			c[i] = make([]float64, 6)
			for j := range c[i] {
				c[i][j] = float64(r[trial*36+i*6+j])
			}
		}
		_, got, _ := SolveAssignment(c)
		best := math.Inf(-1)
		var rec func(i int, used []bool, s float64)
		rec = func(i int, used []bool, s float64) {
			if i == 6 {
				best = max(best, s)
				return
			}
			for j := range 6 {
				if !used[j] {
					used[j] = true
					rec(i+1, used, s+c[i][j])
					used[j] = false
				}
			}
		}
		rec(0, make([]bool, 6), 0)
		if math.Abs(got-best) > 1e-9 {
			t.Errorf("trial %d: Hungarian %g, brute force %g", trial, got, best)
		}
	}
}

func TestWeightMatchingPlanted(t *testing.T) {
	sizes := []int{4, 5, 6, 3}
	a := randomMLP(sizes, dtypes.Float64, 11)
	layers, err := InferMLP(a)
	if err != nil {
		t.Fatal(err)
	}
	perm := RandomPermutation(a, layers, 5)
	b, err := ApplyPermutation(a, layers, perm)
	if err != nil {
		t.Fatal(err)
	}
	// Function unchanged (float64 reference).
	x := []float64{0.3, -1.2, 0.7, 2.0}
	za, zb := refMLP(a, sizes, x), refMLP(b, sizes, x)
	for k := range za {
		if math.Abs(za[k]-zb[k]) > 1e-14 {
			t.Fatalf("permuted model differs: %v vs %v", za, zb)
		}
	}
	if d, _ := Sub(a, b); d.Norm() == 0 {
		t.Fatal("planted permutation is the identity; pick another seed")
	}
	al, err := WeightMatching(a, b, layers, MatchOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := Sub(al.Aligned, a); d.Norm() != 0 {
		t.Errorf("aligned model differs from A by %g", d.Norm())
	}
	if nn := a.Norm() * a.Norm(); math.Abs(al.Objective-nn) > 1e-9*nn {
		t.Errorf("objective %g, want ‖A‖² = %g", al.Objective, nn)
	}
	for i := 1; i < len(al.History); i++ {
		if al.History[i] < al.History[i-1]-1e-12 {
			t.Errorf("objective decreased: %v", al.History)
		}
	}
	// The recovered permutation undoes the planted one.
	back, _ := ApplyPermutation(b, layers, al.Perm)
	again, _ := ApplyPermutation(back, layers, perm)
	if d, _ := Sub(again, b); d.Norm() != 0 {
		t.Error("recovered permutation is not the inverse of the planted one")
	}
	inv := perm.Inverse()
	if d, _ := ApplyPermutation(b, layers, inv); d != nil {
		if diff, _ := Sub(d, a); diff.Norm() != 0 {
			t.Error("Inverse does not undo the permutation")
		}
	}

	// Independent nets: distance does not grow, function of aligned B equal to B's, and through the
	// engine (float32) the loss of π(B) equals the loss of B.
	b2 := randomMLP(sizes, dtypes.Float64, 12)
	al2, err := WeightMatching(a, b2, layers, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := Sub(a, b2)
	d1, _ := Sub(a, al2.Aligned)
	if d1.Norm() > d0.Norm()+1e-12 {
		t.Errorf("alignment increased the distance: %g → %g", d0.Norm(), d1.Norm())
	}
	data := randomData(12, 4, 3, 1)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float64), a, Config{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ev.Loss(b2, data)
	if err != nil {
		t.Fatal(err)
	}
	pab, err := ev.Loss(al2.Aligned, data)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pb.Loss-pab.Loss) > 1e-12 || pb.Error != pab.Error {
		t.Errorf("aligned model is not functionally equal: loss %g vs %g", pab.Loss, pb.Loss)
	}
}

func TestPermutationToyBarrier(t *testing.T) {
	// Singh et al. (arXiv:2406.16300): f(x) = a₁ relu(w₁x) + a₂ relu(w₂x) as a 1-2-1 MLP without biases, A = (w=(1,−1),
	// a=(1,2)), B = the same network with its units swapped; weight matching makes B equal A (so the
	// barrier after matching is exactly 0).
	mk := func(w1, w2, a1, a2 float64) *ParamSet {
		return &ParamSet{Params: []*Param{
			{Scope: "/dense_0", Var: "weights", Group: "/dense_0", Shape: []int{1, 2}, DType: dtypes.Float64, Data: []float64{w1, w2}},
			{Scope: "/dense_1", Var: "weights", Group: "/dense_1", Shape: []int{2, 1}, DType: dtypes.Float64, Data: []float64{a1, a2}},
		}}
	}
	a, b := mk(1, -1, 1, 2), mk(-1, 1, 2, 1)
	layers, err := InferMLP(a)
	if err != nil {
		t.Fatal(err)
	}
	al, err := WeightMatching(a, b, layers, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := Sub(al.Aligned, a); d.Norm() != 0 {
		t.Errorf("aligned toy differs from A: %v", al.Aligned.Flat())
	}
}
