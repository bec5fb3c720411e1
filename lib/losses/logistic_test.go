package losses

import (
	"math"
	"testing"
)

func logisticBatch() map[string]Arr {
	return map[string]Arr{
		"scores": Vec(0.7, -1.3, 2.2, 0.05, -0.4, 3.1),
		"labels": Vec(1, 0, 0, 1, 1, 0),
	}
}

func logisticHuge() map[string]Arr {
	return map[string]Arr{"scores": Vec(1e4, -1e4, 1e4, -1e4, 0), "labels": Vec(1, 1, 0, 0, 1)}
}

func TestLogisticReference(t *testing.T) {
	CheckObjective(t, "logistic", logisticBatch(), nil, func(in map[string]Arr, _ Params) (float64, []float64) {
		s, l := in["scores"], in["labels"]
		per := make([]float64, len(s.Data))
		for i, v := range s.Data {
			per[i] = math.Log(1 + math.Exp(-(2*l.Data[i]-1)*v))
		}
		return MeanOf(per), per
	})
	CheckFinite(t, "logistic", logisticHuge(), nil)
	// Huge margins give exact values: softplus(1e4) = 1e4, softplus(-1e4) = 0.
	res := EvalArr(t, "logistic", logisticHuge(), nil, 32)
	for i, want := range []float64{0, 1e4, 1e4, 0, math.Ln2} {
		if math.Abs(res.PerExample[i]-want) > 1e-6*math.Max(1, want) {
			t.Errorf("logistic huge[%d] = %g, want %g", i, res.PerExample[i], want)
		}
	}
}
