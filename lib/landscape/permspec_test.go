package landscape

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/losslab/losslab/lib/models"
)

func TestPermSpecCNNChannels(t *testing.T) {
	img := images(12, 4)
	img.Shape = []int{8, 8, 1}
	img.X = randomData(12, 64, 3, 4).X
	cnn := &models.CNN{Classes: 3, Channels: []int{3, 4}, Hidden: 5, ImageShape: []int{8, 8, 1}}
	a, err := FromContext(initModel(t, cnn, img, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Groups) != 3 || spec.Groups[0].Size != 3 || spec.Groups[1].Size != 4 || spec.Groups[2].Size != 5 {
		t.Fatalf("groups %+v, want conv_0 (3), conv_1 (4), dense_0 (5)", spec.Groups)
	}
	d := FromSet(img)
	fwd := FromModel(cnn)
	perm := spec.Random(3)
	pa, err := spec.Apply(a, perm)
	if err != nil {
		t.Fatal(err)
	}
	if diff, _ := Sub(pa, a); diff.Norm() == 0 {
		t.Fatal("the random permutation is the identity")
	}
	// Functional equivalence: permuting channels (and the dense inputs they feed) keeps the logits.
	if m, err := MaxLogitDiff(fwd, a, pa, d); err != nil || m > 1e-5 {
		t.Fatalf("permuted CNN differs: max |Δlogit| = %g (%v)", m, err)
	}
	// A wrong view breaks it: permuting dense_0's rows as if they were channels-major must change logits.
	bad := *spec
	bad.Params = append([]PermAxes(nil), spec.Params...)
	for i, p := range bad.Params {
		if p.Name == "/dense_0/weights" {
			bad.Params[i] = PermAxes{Name: p.Name, View: []int{p.View[1], p.View[0], p.View[2]}, Axes: []int{1, -1, -1}}
		}
	}
	pb, err := bad.Apply(a, perm)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := MaxLogitDiff(fwd, a, pb, d); m < 1e-3 {
		t.Errorf("a wrongly laid out permutation kept the function (max |Δlogit| = %g): the check cannot fail", m)
	}
	// Planted permutation recovered exactly.
	al, err := MatchPermutations(a, pa, spec, MatchOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff, _ := Sub(al.Aligned, a); diff.Norm() != 0 {
		t.Errorf("aligned CNN differs from A by %g", diff.Norm())
	}
	if nn := a.Norm() * a.Norm(); math.Abs(al.Objective-nn) > 1e-9*nn {
		t.Errorf("objective %g, want ‖A‖² = %g", al.Objective, nn)
	}
	// Independent models: distance does not grow, the aligned model computes B's function.
	b, err := FromContext(initModel(t, cnn, img, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	al2, err := MatchPermutations(a, b, spec, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := Sub(a, b)
	d1, _ := Sub(a, al2.Aligned)
	if d1.Norm() > d0.Norm()+1e-12 {
		t.Errorf("alignment increased the distance %g → %g", d0.Norm(), d1.Norm())
	}
	for i := 1; i < len(al2.History); i++ {
		if al2.History[i] < al2.History[i-1]-1e-9 {
			t.Errorf("objective decreased: %v", al2.History)
		}
	}
	if m, err := MaxLogitDiff(fwd, b, al2.Aligned, d); err != nil || m > 1e-5 {
		t.Errorf("aligned B differs from B: %g (%v)", m, err)
	}
	// Barrier before and after, through the engine.
	ev, err := NewEvaluator(fwd, a, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []*ParamSet{b, al2.Aligned} {
		if _, err := Interpolate(ev, a, other, []*Data{d}, PathOptions{NumAlpha: 5}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPermSpecMatchesMLPWeightMatching(t *testing.T) {
	sizes := []int{4, 5, 6, 3}
	a := randomMLP(sizes, dtypes.Float64, 21)
	b := randomMLP(sizes, dtypes.Float64, 22)
	layers, err := InferMLP(a)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Groups) != 2 {
		t.Fatalf("MLP groups %+v", spec.Groups)
	}
	// The general cost equals the MLP cost C_ℓ for any state of the other permutations.
	perm := RandomPermutation(a, layers, 9)
	for l := range 2 {
		want := refMLPCost(a, b, layers, perm, l)
		got := spec.cost(a, b, perm, l)
		for i := range want {
			for k := range want[i] {
				if math.Abs(got[i][k]-want[i][k]) > 1e-12 {
					t.Fatalf("layer %d C[%d][%d] = %g, MLP form %g", l, i, k, got[i][k], want[i][k])
				}
			}
		}
	}
	// Apply agrees with ApplyPermutation.
	x, _ := spec.Apply(a, perm)
	y, _ := ApplyPermutation(a, layers, perm)
	if diff, _ := Sub(x, y); diff.Norm() != 0 {
		t.Error("PermSpec.Apply differs from ApplyPermutation")
	}
	if _, err := spec.Apply(a, Permutation{Perms: [][]int{{0, 1}}}); err == nil {
		t.Error("a permutation of the wrong size was accepted")
	}
}

func TestPermSpecBatchNormMLP(t *testing.T) {
	set := blobs(t, 30, 2)
	mlp := &models.MLP{Hidden: []int{6, 5}, Classes: 3, Norm: "batchnorm"}
	a, err := FromContext(initModel(t, mlp, set, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Give the statistics and the norm parameters distinct values, so that permuting them matters.
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range append(append([]*Param{}, a.Params...), a.State...) {
		if len(p.Shape) == 1 {
			for i := range p.Data {
				p.Data[i] = 0.5 + r.Float64()
			}
		}
	}
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := spec.Apply(a, spec.Random(4))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := MaxLogitDiff(FromModel(mlp), a, pa, FromSet(set)); err != nil || m > 1e-5 {
		t.Fatalf("permuted BatchNorm MLP differs: %g (%v)", m, err)
	}
	al, err := MatchPermutations(a, pa, spec, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff, _ := Sub(al.Aligned, a); diff.Norm() != 0 || al.Aligned.LookupState("/batchnorm_1/moving_mean").Data[0] != a.LookupState("/batchnorm_1/moving_mean").Data[0] {
		t.Error("planted permutation of a BatchNorm MLP not recovered (parameters or statistics)")
	}
}

// refMLPCost is the MLP form of weight matching's cost, written out for the test: C_ℓ[i][k]: the similarity of unit i of a and unit k of b, with the neighbouring layers'
// permutations already applied to b.
func refMLPCost(a, b *ParamSet, layers []MLPLayer, perm Permutation, l int) [][]float64 {
	wa, wb := a.Lookup(layers[l].Weight), b.Lookup(layers[l].Weight)
	in, n := wa.Shape[0], wa.Shape[1]
	rowOf := func(r int) int { // W̃_ℓ^B rows permuted by π_{ℓ−1}
		if l == 0 {
			return r
		}
		return perm.Perms[l-1][r]
	}
	c := make([][]float64, n)
	for i := range c {
		c[i] = make([]float64, n)
	}
	for r := range in {
		rb := rowOf(r)
		for i := range n {
			ai := wa.Data[r*n+i]
			if ai == 0 {
				continue
			}
			for k := range n {
				c[i][k] += ai * wb.Data[rb*n+k]
			}
		}
	}
	if layers[l].Bias != "" {
		ba, bb := a.Lookup(layers[l].Bias).Data, b.Lookup(layers[l].Bias).Data
		for i := range n {
			for k := range n {
				c[i][k] += ba[i] * bb[k]
			}
		}
	}
	na, nb := a.Lookup(layers[l+1].Weight), b.Lookup(layers[l+1].Weight)
	cols := na.Shape[1]
	colOf := func(j int) int { // W̃_{ℓ+1}^B columns permuted by π_{ℓ+1} (if ℓ+1 is hidden)
		if l+1 < len(perm.Perms) {
			return perm.Perms[l+1][j]
		}
		return j
	}
	for i := range n {
		for k := range n {
			s := 0.0
			for j := range cols {
				s += na.Data[i*cols+j] * nb.Data[k*cols+colOf(j)]
			}
			c[i][k] += s
		}
	}
	return c
}
