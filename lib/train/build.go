package train

import "github.com/gomlx/gomlx/pkg/ml/train/optimizers"

// Build returns the GoMLX optimizer that runs o, with its learning-rate schedule, over a run of
// totalSteps steps: what Run uses, for training loops written outside this package (such as
// lib/attack's adversarial training). Call its UpdateGraph(ctx, g, loss) inside the step's graph; it
// keeps its state (and the global step that drives the schedule) in ctx.
func (o Optimizer) Build(totalSteps int) (optimizers.Interface, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	return o.build(totalSteps), nil
}
