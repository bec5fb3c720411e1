package attack_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/attack"
	"github.com/losslab/losslab/lib/models"
)

// A linear 2-class model on 3 features: FGSM moves each feature by ε against the sign of
// w_y − w_other, the worst case in closed form.
func Example() {
	ctx := context.New()
	ctx.In("dense_0").VariableWithValue(models.WeightsVar, [][]float32{{1, -1}, {-2, 2}, {0.5, 0}})
	ctx.In("dense_0").VariableWithValue(models.BiasesVar, []float32{0, 0})
	a, err := attack.New(&models.Linear{Classes: 2}, ctx, attack.FGSM(attack.LInf, 0.1))
	if err != nil {
		panic(err)
	}
	res, err := a.Run([]float32{0.5, 0.5, 0.5}, []int{3}, []int32{0})
	if err != nil {
		panic(err)
	}
	fmt.Printf("adversarial input %.1f, loss %.3f → %.3f\n", res.Adv, res.MeanCleanLoss, res.MeanAdvLoss)
	// Output: adversarial input [0.4 0.6 0.4], loss 1.137 → 1.620
}
