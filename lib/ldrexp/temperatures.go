package ldrexp

import (
	"fmt"
	"math"
	"sort"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/train"
)

// MedianRun returns the index of the median of the runs' accuracies (the upper median for an even count).
func MedianRun(test []float64) int {
	idx := make([]int, len(test))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return test[idx[i]] < test[idx[j]] })
	return idx[len(idx)/2]
}

// Temperatures returns λ_i of every example of s under a trained model: one ALDR-KL step (code form, no
// softplus) from λ_old = λ0 with the registry's α = 2 and c = 0.1, as in training.
func Temperatures(run *train.Result, s *data.Set, lambda0 float64) ([]float64, error) {
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	exec, err := context.NewExecAny(b, run.Context.Reuse(), func(ctx *context.Context, x, y *Node) *Node {
		logits, _ := run.Model.Forward(ctx, x)
		lamOld := AddScalar(ZerosLike(ReduceSum(logits, -1)), lambda0)
		_, lam := losses.ALDRKLCodeStep(logits, y, lamOld, lambda0, 2, 0.1, false)
		return lam
	})
	if err != nil {
		return nil, err
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(s.X, s.Len(), s.Dim()), tensors.FromValue(s.Y))
	if err != nil {
		return nil, err
	}
	var lam []float64
	for _, v := range out[0].Value().([]float32) {
		lam = append(lam, float64(v))
	}
	return lam, nil
}

// SplitByLabel splits the examples' values v into those whose label y kept its clean value and those
// whose label the noise changed.
func SplitByLabel(v []float64, y, clean []int32) (kept, corrupted []float64, err error) {
	if len(v) != len(y) || len(y) != len(clean) {
		return nil, nil, fmt.Errorf("ldrexp: %d values for %d labels and %d clean labels", len(v), len(y), len(clean))
	}
	for i, x := range v {
		if y[i] == clean[i] {
			kept = append(kept, x)
		} else {
			corrupted = append(corrupted, x)
		}
	}
	return kept, corrupted, nil
}

// TemperatureText says, relative to λ0, the mean λ of the kept and corrupted labels and which is higher
// (the same below 1e-4·λ0), and the range of all λ_i against the possible [0.5, 1] (α = 2).
func TemperatureText(kept, corrupted []float64, lambda0 float64) string {
	dir := "lower"
	switch d := Mean(corrupted) - Mean(kept); {
	case math.Abs(d) < 1e-4*lambda0:
		dir = "the same (to 1e-4 λ0)"
	case d > 0:
		dir = "higher"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range append(append([]float64(nil), kept...), corrupted...) {
		lo, hi = math.Min(lo, l), math.Max(hi, l)
	}
	return fmt.Sprintf("mean λ/λ0: kept labels %.4f (n=%d), corrupted labels %.4f (n=%d): corrupted examples have %s λ\n", Mean(kept)/lambda0, len(kept), Mean(corrupted)/lambda0, len(corrupted), dir) +
		fmt.Sprintf("λ_i/λ0 ranges over [%.4f, %.4f] of the possible [0.5, 1] (α = 2): how far λ adapts at this λ0\n", lo/lambda0, hi/lambda0)
}
