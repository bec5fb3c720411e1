package losses

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refSupCon is the float64 reference of SupCon per anchor.
func refSupCon(in map[string]Arr, p Params) (float64, []float64) {
	z, y := in["features"], in["labels"]
	b, d := z.Shape[0], z.Shape[1]
	rows := make([][]float64, b)
	for i := range b {
		rows[i] = append([]float64(nil), z.Row(i)...)
		if p["normalize"] == 1 {
			n := 0.0
			for _, v := range rows[i] {
				n += v * v
			}
			if n > 0 {
				for k := range rows[i] {
					rows[i][k] /= math.Sqrt(n)
				}
			}
		}
	}
	per := make([]float64, b)
	for i := range b {
		var all []float64
		sumPos, nPos := 0.0, 0
		for j := range b {
			if j == i {
				continue
			}
			s := 0.0
			for k := range d {
				s += rows[i][k] * rows[j][k]
			}
			s /= p["tau"]
			all = append(all, s)
			if y.Int(j) == y.Int(i) {
				sumPos += s
				nPos++
			}
		}
		if nPos > 0 {
			per[i] = RefLogSumExp(all) - sumPos/float64(nPos)
		}
	}
	return MeanOf(per), per
}

func supConBatch() map[string]Arr {
	return map[string]Arr{
		"features": Mat([]float64{0.3, -1.2, 2.0}, []float64{0.7, 1.1, -0.4}, []float64{-0.9, 0.5, 1.6},
			[]float64{0.2, -0.3, 0.8}, []float64{1.5, 0.1, -0.6}),
		"labels": Vec(3, 7, 3, 3, 9), // label 9 has no positive: loss 0
	}
}

func TestSupConReference(t *testing.T) {
	for _, p := range []Params{nil, {"tau": 0.5}, {"tau": 1, "normalize": 0}} {
		CheckObjective(t, "supcon", supConBatch(), p, refSupCon)
	}
	CheckFinite(t, "supcon", map[string]Arr{"features": supConBatch()["features"].Scaled(1e4), "labels": supConBatch()["labels"]}, nil)
	CheckFinite(t, "supcon", map[string]Arr{"features": supConBatch()["features"].Scaled(1e4), "labels": supConBatch()["labels"]}, Params{"normalize": 0, "tau": 1})
}

// Worked numbers (our own, float64 by hand): two orthogonal unit vectors of one class and a third
// class: with τ = 1, anchor 0 sees sims {0 (pos), s02}; these are checked against closed forms.
func TestSupConProperties(t *testing.T) {
	in := map[string]Arr{
		"features": Mat([]float64{1, 0}, []float64{0, 1}, []float64{-1, 0}),
		"labels":   Vec(0, 0, 1),
	}
	res := EvalArr(t, "supcon", in, Params{"tau": 1}, 64)
	// Anchor 0: positives {1}: sim 0; others {1: 0, 2: -1}: L = log(1 + e^-1) - 0.
	// Anchor 1: others {0: 0, 2: 0}: L = log 2. Anchor 2: no positive: 0.
	want := []float64{math.Log(1 + math.Exp(-1)), math.Log(2), 0}
	for i, w := range want {
		if math.Abs(res.PerExample[i]-w) > 1e-12 {
			t.Errorf("per-anchor[%d] = %.12g, want %.12g", i, res.PerExample[i], w)
		}
	}
	// Scale invariance with normalisation; all labels distinct gives 0.
	a := EvalArr(t, "supcon", supConBatch(), nil, 64).Loss
	bb := EvalArr(t, "supcon", map[string]Arr{"features": supConBatch()["features"].Scaled(7), "labels": supConBatch()["labels"]}, nil, 64).Loss
	if math.Abs(a-bb) > 1e-10 {
		t.Errorf("normalised SupCon not scale invariant: %g vs %g", a, bb)
	}
	if l := EvalArr(t, "supcon", map[string]Arr{"features": supConBatch()["features"], "labels": Vec(0, 1, 2, 3, 4)}, nil, 64).Loss; l != 0 {
		t.Errorf("all-distinct labels: loss %g, want 0", l)
	}
}

// hbTensor makes a float64 tensor of the given dimensions (helper of the part-2 tests).
func hbTensor(data []float64, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), data...), dims...)
}
