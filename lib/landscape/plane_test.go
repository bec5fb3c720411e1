package landscape

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

func TestPlaneThrough(t *testing.T) {
	sizes := []int{3, 4, 2}
	a, b, c := randomMLP(sizes, dtypes.Float64, 1), randomMLP(sizes, dtypes.Float64, 2), randomMLP(sizes, dtypes.Float64, 3)
	pl, err := PlaneThrough(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pl.Marks {
		want := map[string]*ParamSet{"A": a, "B": b, "C": c}[m.Name]
		got := combine([]float64{1, m.S, m.T}, []*ParamSet{pl.Origin, pl.U, pl.V})
		diff := combine([]float64{1, -1}, []*ParamSet{got, want})
		if diff.Norm() > 1e-12*want.Norm() {
			t.Errorf("mark %s (%g, %g) maps %g away from the model", m.Name, m.S, m.T, diff.Norm())
		}
	}
	if d, _ := Dot(pl.U, pl.V); math.Abs(d) > 1e-12 || math.Abs(pl.U.Norm()-1) > 1e-12 || math.Abs(pl.V.Norm()-1) > 1e-12 {
		t.Errorf("U, V not orthonormal: ⟨U,V⟩=%g ‖U‖=%g ‖V‖=%g", d, pl.U.Norm(), pl.V.Norm())
	}
	ab, _ := Sub(b, a)
	if math.Abs(pl.Marks[1].S-ab.Norm()) > 1e-12 || pl.Marks[1].T != 0 {
		t.Errorf("B should map to (‖B−A‖, 0): %+v", pl.Marks[1])
	}
	mid, _ := Lerp(a, b, 0.5)
	if _, err := PlaneThrough(a, b, mid); err == nil {
		t.Error("collinear points accepted")
	}
}

func TestFilterNormalization(t *testing.T) {
	// Spec example: θ_j = (3,4), d_j = (1,0) → (5,0). W is [in=2, out=1], so filter 0 is the column.
	theta := &ParamSet{Params: []*Param{{Scope: "/l", Var: "w", Shape: []int{2, 1}, DType: dtypes.Float64, Data: []float64{3, 4}}}}
	d := &ParamSet{Params: []*Param{{Scope: "/l", Var: "w", Shape: []int{2, 1}, DType: dtypes.Float64, Data: []float64{1, 0}}}}
	if _, err := NormalizeDirection(d, theta, DirectionOptions{}); err != nil {
		t.Fatal(err)
	}
	if math.Abs(d.Params[0].Data[0]-5) > 1e-9 || d.Params[0].Data[1] != 0 {
		t.Errorf("normalised direction %v, want (5, 0)", d.Params[0].Data)
	}
	th := randomMLP([]int{5, 7, 3}, dtypes.Float32, 4)
	dir, err := RandomDirection(th, 9, DirectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range dir.Params {
		if len(p.Shape) == 1 {
			for _, v := range p.Data {
				if v != 0 {
					t.Fatalf("%s: bias direction not zero", p.Name())
				}
			}
			continue
		}
		out := p.Shape[1]
		for j := range out {
			dn, tn := 0.0, 0.0
			for r := 0; r < p.Shape[0]; r++ {
				dn += p.Data[r*out+j] * p.Data[r*out+j]
				v := th.Params[i].Data[r*out+j]
				tn += v * v
			}
			if math.Abs(math.Sqrt(dn)-math.Sqrt(tn)) > 1e-6*math.Sqrt(tn) {
				t.Errorf("%s filter %d: ‖d_j‖=%g, ‖θ_j‖=%g", p.Name(), j, math.Sqrt(dn), math.Sqrt(tn))
			}
		}
	}
	keep, _ := RandomDirection(th, 9, DirectionOptions{KeepBiases: true})
	if keep.Lookup("/dense_0/biases").Data[0] != th.Lookup("/dense_0/biases").Data[0] {
		t.Error("KeepBiases did not copy θ")
	}
}

func TestPCAStraightLine(t *testing.T) {
	th0 := randomMLP([]int{3, 4, 2}, dtypes.Float64, 1)
	v := randomMLP([]int{3, 4, 2}, dtypes.Float64, 2)
	var snaps []*ParamSet
	for i := range 6 {
		snaps = append(snaps, combine([]float64{1, float64(i) * 0.3}, []*ParamSet{th0, v}))
	}
	pl, err := PCAPlane(snaps, snaps[5])
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pl.ExplainedVariance[0]-1) > 1e-12 || pl.ExplainedVariance[1] > 1e-12 {
		t.Errorf("explained variance %v, want [1, 0]", pl.ExplainedVariance)
	}
	if c, _ := Cosine(pl.U, v); math.Abs(math.Abs(c)-1) > 1e-12 {
		t.Errorf("first component not along the line: cos %g", c)
	}
	for i, m := range pl.Marks {
		want := (float64(i) - 5) * 0.3 * v.Norm()
		if math.Abs(math.Abs(m.S)-math.Abs(want)) > 1e-9 || math.Abs(m.T) > 1e-9 {
			t.Errorf("snapshot %d projects to (%g, %g), want (±%g, 0)", i, m.S, m.T, want)
		}
	}
	// A genuinely 2-D trajectory: the second component carries variance and the marks are exact.
	w := randomMLP([]int{3, 4, 2}, dtypes.Float64, 3)
	var snaps2 []*ParamSet
	for i := range 5 {
		snaps2 = append(snaps2, combine([]float64{1, float64(i), float64(i * i)}, []*ParamSet{th0, v, w}))
	}
	pl2, err := PCAPlane(snaps2, snaps2[4])
	if err != nil {
		t.Fatal(err)
	}
	if pl2.ExplainedVariance[1] < 1e-3 || math.Abs(pl2.ExplainedVariance[0]+pl2.ExplainedVariance[1]-1) > 1e-9 {
		t.Errorf("2-D trajectory variance %v", pl2.ExplainedVariance)
	}
	for i, m := range pl2.Marks {
		rec := combine([]float64{1, m.S, m.T}, []*ParamSet{pl2.Origin, pl2.U, pl2.V})
		diff, _ := Sub(rec, snaps2[i])
		if diff.Norm() > 1e-9*snaps2[i].Norm() {
			t.Errorf("snapshot %d not in its PCA plane (off by %g)", i, diff.Norm())
		}
	}
}

func TestGridResumeIdentical(t *testing.T) {
	sizes := []int{4, 6, 3}
	a, b, c := randomMLP(sizes, dtypes.Float32, 1), randomMLP(sizes, dtypes.Float32, 2), randomMLP(sizes, dtypes.Float32, 3)
	d := randomData(20, 4, 3, 8)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{BatchSize: 8, PointsPerCall: 3})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := PlaneThrough(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	spec := GridSpec{SMin: -0.5, SMax: 1.5, NS: 5, TMin: -0.5, TMax: 1.5, NT: 5}
	full, err := EvaluateGrid(ev, pl, d, spec, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !full.Complete {
		t.Fatal("full grid not complete")
	}
	// Point (s=0,t=0) is A: check against the float64 reference.
	a32 := a.Clone()
	for _, p := range a32.Params {
		for j := range p.Data {
			p.Data[j] = float64(float32(p.Data[j]))
		}
	}
	if want, _ := refLossErr(a32, sizes, d); math.Abs(full.Loss[1][1]-want) > 1e-5 {
		t.Errorf("grid at A: %g, reference %g", full.Loss[1][1], want)
	}
	cache := filepath.Join(t.TempDir(), "grid.json")
	// Watch sees the grid fill in chunk by chunk (4 × PointsPerCall points), then done.
	var counts []int
	watch := func(g *Grid, done bool) {
		n := 0
		for _, row := range g.Done {
			for _, ok := range row {
				if ok {
					n++
				}
			}
		}
		if done {
			n = -n
		}
		counts = append(counts, n)
	}
	part, err := EvaluateGrid(ev, pl, d, spec, GridOptions{CacheFile: cache, MaxNewPoints: 7, Watch: watch})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(counts, []int{7, -7}) {
		t.Errorf("watch saw %v computed points (negative: done), want [7 -7]", counts)
	}
	part, err = EvaluateGrid(ev, pl, d, spec, GridOptions{CacheFile: cache, MaxNewPoints: 7})
	if err != nil {
		t.Fatal(err)
	}
	if part.Complete {
		t.Fatal("interrupted grid reports complete")
	}
	resumed, err := EvaluateGrid(ev, pl, d, spec, GridOptions{CacheFile: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !resumed.Complete {
		t.Fatal("resumed grid incomplete")
	}
	for i := range full.Loss {
		for j := range full.Loss[i] {
			if resumed.Loss[i][j] != full.Loss[i][j] || resumed.Error[i][j] != full.Error[i][j] {
				t.Errorf("(%d,%d): resumed %v/%v vs uninterrupted %v/%v", i, j, resumed.Loss[i][j], resumed.Error[i][j], full.Loss[i][j], full.Error[i][j])
			}
		}
	}
	// A cache for another grid is not reused.
	other := spec
	other.NS = 3
	g3, err := EvaluateGrid(ev, pl, d, other, GridOptions{CacheFile: cache, MaxNewPoints: 2})
	if err != nil {
		t.Fatal(err)
	}
	if g3.Complete || len(g3.S) != 3 {
		t.Error("cache of a different grid was reused")
	}
}
