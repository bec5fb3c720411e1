package zlossexp

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/losses"
)

// Invariance returns the largest change |ℓ(s·o + c, y) − ℓ(o, y)| of objective name (hyperparameters p)
// over n random output rows o of the given number of classes (standard normal entries, random labels,
// drawn from seed). A loss invariant to positive scaling and shifting of its outputs gives 0 up to
// float32 rounding; cross-entropy is shift- but not scale-invariant.
func Invariance(name string, p losses.Params, classes, n int, s, c float64, seed uint64) (float64, error) {
	if classes < 2 || n < 1 {
		return 0, fmt.Errorf("zlossexp: invariance over %d rows of %d classes", n, classes)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x5a5a))
	worst := 0.0
	for range n {
		o, moved := make([]float32, classes), make([]float32, classes)
		for k := range o {
			o[k] = float32(r.NormFloat64())
			moved[k] = float32(s*float64(o[k]) + c)
		}
		y := []int32{int32(r.IntN(classes))}
		var l [2]float64
		for i, row := range [][]float32{o, moved} {
			res, err := losses.Evaluate(name, map[string]*tensors.Tensor{
				"logits": tensors.FromValue([][]float32{row}), "labels": tensors.FromValue(y)}, p)
			if err != nil {
				return 0, fmt.Errorf("zlossexp: invariance of %q: %w", name, err)
			}
			l[i] = res.Loss
		}
		worst = math.Max(worst, math.Abs(l[1]-l[0]))
	}
	return worst, nil
}
