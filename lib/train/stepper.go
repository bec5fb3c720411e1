package train

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/models"
)

// Stepper runs the training steps of a Config one at a time, through the same trainer, data order and
// batches as Run, without Run's evaluation, snapshots, checkpoints or progress bar. It is for timing a
// training step (bench/) and for callers that interleave training with their own work. Its graph is
// compiled on the first Step and reused by every later one; Compilations counts the programs built.
type Stepper struct {
	r      *runner
	st     *stepper
	builds int
}

// NewStepper checks cfg as Run does and prepares the trainer; Steps/Epochs only set the length of the
// learning-rate schedule (Step may be called any number of times).
func NewStepper(cfg Config) (*Stepper, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	s := &Stepper{r: r}
	r.cfg.Model = countingModel{Model: r.cfg.Model, n: &s.builds}
	s.st = newStepper(r.newTrainer(bk), cfg.Train, r.batch, cfg.DataSeed, cfg.Seed)
	return s, nil
}

// Step runs one training step on the next batch and returns that batch's loss and accuracy.
func (s *Stepper) Step() (loss, acc float64, err error) { return s.st.step() }

// Context holds the variables being trained (parameters and optimizer state).
func (s *Stepper) Context() *context.Context { return s.r.ctx }

// Compilations is the number of graphs that built the model so far: 1 after any number of steps of one
// batch shape (GoMLX's trainer compiles its step once per input shape).
func (s *Stepper) Compilations() int { return s.builds }

// countingModel counts the graphs that build the model (each GoMLX compilation calls Forward once).
type countingModel struct {
	models.Model
	n *int
}

func (m countingModel) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	*m.n++
	return m.Model.Forward(ctx, x)
}
