package landscape

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

func TestLayerwise(t *testing.T) {
	sizes := []int{4, 6, 5, 3}
	a := randomMLP(sizes, dtypes.Float32, 1)
	b := randomMLP(sizes, dtypes.Float32, 2)
	d := randomData(30, 4, 3, 5)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	lw, err := InterpolateLayers(ev, a, b, d, LayerwiseOptions{NumAlpha: 11})
	if err != nil {
		t.Fatal(err)
	}
	if len(lw.Rows) != 3 || len(lw.Gap) != 3 || len(lw.Gap[0]) != 11 || len(lw.Cumulative) != 3 {
		t.Fatalf("shape of result: rows %v, cumulative %d", lw.Rows, len(lw.Cumulative))
	}
	// The last cumulative row moves every group: it equals the full path.
	full, err := Interpolate(ev, a, b, []*Data{d}, PathOptions{NumAlpha: 11})
	if err != nil {
		t.Fatal(err)
	}
	for i := range full.Alpha {
		if got, want := lw.CumulativeLoss[2][i], full.Curves[0].Loss[i]; math.Abs(got-want) > 1e-12 {
			t.Errorf("cumulative all-groups row at α=%g: %g, full path %g", full.Alpha[i], got, want)
		}
	}
	// Row 0 at α=1 equals the model with group 0 from B, the rest from A (float64 reference).
	mixed := a.Clone()
	for i, p := range mixed.Params {
		if p.Group == "/dense_0" {
			copy(p.Data, b.Params[i].Data)
		}
	}
	for _, p := range mixed.Params {
		for j := range p.Data {
			p.Data[j] = float64(float32(p.Data[j]))
		}
	}
	if want, _ := refLossErr(mixed, sizes, d); math.Abs(lw.Loss[0][10]-want) > 1e-5 {
		t.Errorf("layer 0 at α=1: %g, reference %g", lw.Loss[0][10], want)
	}
	// With B = A every row is constant.
	same, err := InterpolateLayers(ev, a, a, d, LayerwiseOptions{NumAlpha: 5, BaseB: true})
	if err != nil {
		t.Fatal(err)
	}
	for r := range same.Loss {
		for _, v := range same.Loss[r] {
			if v != same.Loss[r][0] {
				t.Fatalf("row %d not constant for A = B: %v", r, same.Loss[r])
			}
		}
	}
	if _, err := InterpolateLayers(ev, a, b, d, LayerwiseOptions{Sets: [][]string{{"/nope"}}}); err == nil {
		t.Error("unknown group accepted")
	}
}
