package train

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// TestIsModelVariable: the training machinery's variables are told from the model's, a model's
// non-trainable statistics included.
func TestIsModelVariable(t *testing.T) {
	ctx := context.New().Checked(false)
	want := map[*context.Variable]bool{
		ctx.In("dense_0").VariableWithValue("weights", []float32{1}):                               true,
		ctx.In("bn_0").VariableWithValue("mean", []float32{0}).SetTrainable(false):                 true,
		ctx.InAbsPath("/"+optimizers.AdamDefaultScope).VariableWithValue("m", []float32{0}):        false,
		ctx.InAbsPath("/"+MomentumScope+"/dense_0").VariableWithValue("v", []float32{0}):           false,
		ctx.InAbsPath("/"+metrics.Scope).VariableWithValue("acc", []float32{0}):                    false,
		ctx.InAbsPath("/"+optimizers.Scope).VariableWithValue("learning_rate", []float32{1}):       false,
		ctx.VariableWithValue(optimizers.GlobalStepVariableName, int64(3)).SetTrainable(false):     false,
		ctx.InAbsPath("/trainer").VariableWithValue("loss", []float32{0}).SetTrainable(false):      false,
		ctx.VariableWithValue(context.RNGStateVariableName, []uint64{1, 2, 3}).SetTrainable(false): false,
	}
	for v, w := range want {
		if got := IsModelVariable(v); got != w {
			t.Errorf("IsModelVariable(%s) = %v, want %v", v.ScopeAndName(), got, w)
		}
	}
}
