package losses

import (
	"math"
	"testing"
)

// smallBatch is a fixed classification batch away from kinks and ties, used by several tests.
func smallBatch() map[string]Arr {
	return map[string]Arr{
		"logits": Mat(
			[]float64{2, 0.7, 0.1},
			[]float64{-0.3, 0.8, 0.25},
			[]float64{0.5, -1.2, 1.9},
			[]float64{1.1, 1.6, -0.4},
		),
		"labels": Vec(0, 2, 1, 1),
	}
}

// hugeBatch has logits of magnitude 1e4, for stability checks.
func hugeBatch() map[string]Arr {
	return map[string]Arr{
		"logits": Mat(
			[]float64{1e4, -1e4, 0},
			[]float64{-1e4, 1e4, 5e3},
			[]float64{1e4, 1e4, -1e4},
		),
		"labels": Vec(1, 0, 2),
	}
}

func refPerRow(in map[string]Arr, f func(h []float64, y int) float64) (float64, []float64) {
	h, y := in["logits"], in["labels"]
	per := make([]float64, h.Shape[0])
	for i := range per {
		per[i] = f(h.Row(i), y.Int(i))
	}
	return MeanOf(per), per
}

func refCE(h []float64, y int) float64 { return RefLogSumExp(h) - h[y] }

func TestCE(t *testing.T) {
	CheckObjective(t, "ce", smallBatch(), nil, func(in map[string]Arr, _ Params) (float64, []float64) {
		return refPerRow(in, refCE)
	})
	CheckFinite(t, "ce", hugeBatch(), nil)
	// Worked number shared by several specs: h = [2,1,0.1], y = 0 → 0.417030.
	res := EvalArr(t, "ce", map[string]Arr{"logits": Mat([]float64{2, 1, 0.1}), "labels": Vec(0)}, nil, 64)
	if math.Abs(res.Loss-0.417030) > 1e-6 {
		t.Errorf("ce([2,1,0.1], 0) = %.6f, want 0.417030", res.Loss)
	}
}

func TestHinge(t *testing.T) {
	ref := func(in map[string]Arr, p Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, y int) float64 {
			best := math.Inf(-1)
			for k, v := range h {
				if k != y {
					best = math.Max(best, v)
				}
			}
			return math.Max(0, p["margin"]+best-h[y])
		})
	}
	CheckObjective(t, "hinge", smallBatch(), nil, ref)
	CheckObjective(t, "hinge", smallBatch(), Params{"margin": 0.3}, ref)
	CheckFinite(t, "hinge", hugeBatch(), nil)
}

func TestMSE(t *testing.T) {
	CheckObjective(t, "mse", smallBatch(), nil, func(in map[string]Arr, _ Params) (float64, []float64) {
		return refPerRow(in, func(h []float64, y int) float64 {
			s := 0.0
			for k, v := range h {
				d := v
				if k == y {
					d = v - 1
				}
				s += d * d
			}
			return s
		})
	})
	CheckFinite(t, "mse", hugeBatch(), nil)
}
