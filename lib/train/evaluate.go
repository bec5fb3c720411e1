package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
)

// EvalBatch is the batch size used by Evaluate.
const EvalBatch = 1000

// Metrics is an evaluation of a model on a data set.
type Metrics struct {
	// Loss is the mean loss over the set: the mean over batches of EvalBatch examples of the batch
	// loss, weighted by batch size (exactly the per-example mean for per-example objectives).
	Loss float64
	// Accuracy is the fraction of examples whose arg-max logit is the label.
	Accuracy float64
	N        int
}

// Evaluate returns the mean cross-entropy and the accuracy of the model with ctx's parameters on set.
// The model runs in inference mode (BatchNorm uses its moving averages).
func Evaluate(m models.Model, ctx *context.Context, set *data.Set) (Metrics, error) {
	loss, err := losses.TrainLoss("ce", nil)
	if err != nil {
		return Metrics{}, err
	}
	return EvaluateLoss(m, ctx, set, loss)
}

// EvaluateLoss is Evaluate with another loss (e.g. the training objective, from losses.TrainLoss).
func EvaluateLoss(m models.Model, ctx *context.Context, set *data.Set, loss LossFn) (Metrics, error) {
	if m == nil || ctx == nil || loss == nil {
		return Metrics{}, errors.New("train.Evaluate: model, context and loss must not be nil")
	}
	if set == nil || set.Len() == 0 {
		return Metrics{}, errors.New("train.Evaluate: the data set is empty")
	}
	if err := set.Validate(); err != nil {
		return Metrics{}, fmt.Errorf("train.Evaluate: %w", err)
	}
	e, err := newEvaluator(m, ctx.Checked(false), loss, set.Classes)
	if err != nil {
		return Metrics{}, err
	}
	return e.run(set)
}

// evaluator holds a compiled evaluation graph (one per batch shape, cached by GoMLX).
type evaluator struct {
	exec *context.Exec
}

func newEvaluator(m models.Model, ctx *context.Context, loss LossFn, classes int) (*evaluator, error) {
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	mfn := modelFn(m, classes)
	exec, err := context.NewExec(bk, ctx, func(ctx *context.Context, x, y, ids *Node) []*Node {
		ctx.SetTraining(x.Graph(), false)
		preds := mfn(ctx, nil, []*Node{x})
		l := loss([]*Node{y, ids}, preds)
		if !l.Shape().IsScalar() {
			l = ReduceAllMean(l)
		}
		return []*Node{ConvertDType(l, dtypes.Float64), ConvertDType(accuracyGraph([]*Node{y}, preds), dtypes.Float64)}
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return &evaluator{exec: exec}, nil
}

func (e *evaluator) run(set *data.Set) (Metrics, error) {
	n, d := set.Len(), set.Dim()
	var lossSum, accSum float64
	for lo := 0; lo < n; lo += EvalBatch {
		hi := min(lo+EvalBatch, n)
		b := hi - lo
		x := tensors.FromFlatDataAndDimensions(set.X[lo*d:hi*d], append([]int{b}, set.Shape...)...)
		y := tensors.FromFlatDataAndDimensions(set.Y[lo:hi], b)
		ids := tensors.FromFlatDataAndDimensions(set.IDs[lo:hi], b)
		out, err := e.exec.Exec(x, y, ids)
		x.MustFinalizeAll()
		y.MustFinalizeAll()
		ids.MustFinalizeAll()
		if err != nil {
			return Metrics{}, fmt.Errorf("train: evaluating %q: %w", set.Name, err)
		}
		batchLoss := tensors.ToScalar[float64](out[0])
		lossSum += batchLoss * float64(b)
		accSum += tensors.ToScalar[float64](out[1]) * float64(b)
		for _, t := range out {
			t.MustFinalizeAll()
		}
		if math.IsNaN(batchLoss) || math.IsInf(batchLoss, 0) {
			return Metrics{}, fmt.Errorf("train: evaluating %q: the loss is %v on examples %d..%d (NaN or infinite inputs or parameters?)",
				set.Name, batchLoss, lo, hi-1)
		}
	}
	return Metrics{Loss: lossSum / float64(n), Accuracy: accSum / float64(n), N: n}, nil
}
