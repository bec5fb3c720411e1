package nap

import (
	"fmt"
	"math/rand/v2"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/train"
)

// TasksConfig describes a plasticity benchmark: a sequence of tasks on the same inputs, each with
// labels drawn afresh uniformly at random (pure memorisation), trained one after another without
// resetting anything.
type TasksConfig struct {
	Tasks, StepsPerTask, BatchSize int
	// Seed fixes the label draws (task t's labels depend only on Seed and t, so every variant sees the
	// same tasks) and the data order.
	Seed uint64
	// LogEvery records the weight norms every so many steps (default 10) and at step 0.
	LogEvery int
	// OnTask, if set, is called after each task with its index and end-of-task accuracy.
	OnTask func(task int, accuracy float64)
}

// TasksResult holds a benchmark run.
type TasksResult struct {
	// Accuracy and Loss on each task's training set (its random labels) at the end of the task.
	Accuracy, Loss []float64
	// FinalBatchLoss is the mean batch loss over the last tenth of each task's steps.
	FinalBatchLoss []float64
	// LoggedSteps are the steps at which Norms were recorded; Norms[i][ℓ] is ‖W_ℓ‖_F (WeightNames order).
	LoggedSteps []int
	Norms       [][]float64
	WeightNames []string
}

// TaskLabels returns task t's labels for n examples of k classes.
func TaskLabels(n, k int, seed uint64, t int) []int32 {
	r := rand.New(rand.NewPCG(seed, 0x7a5c+uint64(t)))
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(r.IntN(k))
	}
	return y
}

// RunTasks trains from init through the tasks of tc on set's inputs with the optimizer (and projection)
// of cfg.
func RunTasks(f *train.FlatModel, init []float32, set *data.Set, cfg Config, tc TasksConfig) (*TasksResult, error) {
	if tc.Tasks < 1 || tc.StepsPerTask < 1 || tc.BatchSize < 1 || tc.LogEvery < 0 {
		return nil, fmt.Errorf("nap.RunTasks: Tasks %d, StepsPerTask %d and BatchSize %d must be ≥ 1, LogEvery %d ≥ 0",
			tc.Tasks, tc.StepsPerTask, tc.BatchSize, tc.LogEvery)
	}
	if set == nil || set.Classes < 2 {
		return nil, fmt.Errorf("nap.RunTasks: need a classification set")
	}
	if tc.LogEvery == 0 {
		tc.LogEvery = 10
	}
	tr, err := NewTrainer(f, init, cfg)
	if err != nil {
		return nil, err
	}
	names, shapes := f.Layout()
	logger, err := NewProjector(names, shapes, init, Options{FreeOutput: true, FreeNormParams: true})
	if err != nil {
		return nil, err
	}
	bs, err := NewBatches(set, tc.BatchSize, tc.Seed)
	if err != nil {
		return nil, err
	}
	res := &TasksResult{WeightNames: logger.WeightNames()}
	record := func() {
		res.LoggedSteps = append(res.LoggedSteps, tr.Steps())
		res.Norms = append(res.Norms, logger.WeightNorms(tr.Params()))
	}
	record()
	tail := max(tc.StepsPerTask/10, 1)
	for t := range tc.Tasks {
		y := TaskLabels(set.Len(), set.Classes, tc.Seed, t)
		bs.SetLabels(y)
		sum := 0.0
		for s := range tc.StepsPerTask {
			x, yb := bs.Next()
			l, err := tr.Step(x, yb)
			if err != nil {
				return res, fmt.Errorf("nap.RunTasks: task %d: %w", t, err)
			}
			if s >= tc.StepsPerTask-tail {
				sum += l
			}
			if tr.Steps()%tc.LogEvery == 0 {
				record()
			}
		}
		relabelled := *set
		relabelled.Y = y
		m, err := f.Evaluate(tr.Params(), &relabelled)
		if err != nil {
			return res, err
		}
		res.Accuracy = append(res.Accuracy, m.Accuracy)
		res.Loss = append(res.Loss, m.Loss)
		res.FinalBatchLoss = append(res.FinalBatchLoss, sum/float64(tail))
		if tc.OnTask != nil {
			tc.OnTask(t, m.Accuracy)
		}
	}
	return res, nil
}
