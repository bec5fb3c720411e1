package nap

import (
	"fmt"
	"math"
	"slices"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/train"
)

// Config configures a Trainer.
type Config struct {
	// Optimizer is "adam" (β = 0.9, 0.999, ε = 1e-8, bias corrected) or "sgd" (plain).
	Optimizer string
	LR        float64
	// WeightDecay λ adds λw to every gradient (SGD) or to Adam's input gradient (L2, not decoupled).
	WeightDecay float64
	// Projector, if set, projects its blocks after every Every-th step (Every default 1): NaP.
	Projector *Projector
	Every     int
}

// Trainer trains a FlatModel's parameters on the host, one batch at a time.
type Trainer struct {
	f      *train.FlatModel
	cfg    Config
	params []float32
	opt    *train.HostOptimizer
	ends   []int     // end of each layout tensor in the flat vector
	g      []float64 // the step's gradient, weight decay included
	step   int
}

// NewTrainer starts training from a copy of init.
func NewTrainer(f *train.FlatModel, init []float32, cfg Config) (*Trainer, error) {
	if f == nil || len(init) != f.Size() {
		return nil, fmt.Errorf("nap.NewTrainer: need a model and init with its %d parameters", sizeOf(f))
	}
	if cfg.Optimizer != "adam" && cfg.Optimizer != "sgd" {
		return nil, fmt.Errorf("nap.NewTrainer: optimizer %q is not \"adam\" or \"sgd\"", cfg.Optimizer)
	}
	if !(cfg.LR > 0) || math.IsInf(cfg.LR, 0) || !(cfg.WeightDecay >= 0) || cfg.Every < 0 {
		return nil, fmt.Errorf("nap.NewTrainer: learning rate %v must be positive, weight decay %v ≥ 0, Every %d ≥ 0",
			cfg.LR, cfg.WeightDecay, cfg.Every)
	}
	if cfg.Every == 0 {
		cfg.Every = 1
	}
	opt, err := train.NewHostOptimizer(cfg.Optimizer, len(init))
	if err != nil {
		return nil, fmt.Errorf("nap.NewTrainer: %w", err)
	}
	t := &Trainer{f: f, cfg: cfg, params: slices.Clone(init), opt: opt, g: make([]float64, len(init))}
	_, shapes := f.Layout()
	pos := 0
	for _, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		pos += n
		t.ends = append(t.ends, pos)
	}
	return t, nil
}

func sizeOf(f *train.FlatModel) int {
	if f == nil {
		return 0
	}
	return f.Size()
}

// Params returns the current parameters (not a copy: do not modify).
func (t *Trainer) Params() []float32 { return t.params }

// Steps is the number of steps taken.
func (t *Trainer) Steps() int { return t.step }

// Step takes one optimizer step on the batch (x, y) with the configured learning rate and returns the
// batch loss before the step.
func (t *Trainer) Step(x []float32, y []int32) (float64, error) {
	return t.StepLR(x, y, nil)
}

// StepLR is Step with a learning rate per layout tensor (nil: Config.LR for all).
func (t *Trainer) StepLR(x []float32, y []int32, lrs []float64) (float64, error) {
	if lrs != nil && len(lrs) != len(t.ends) {
		return 0, fmt.Errorf("nap.Trainer.StepLR: %d learning rates for %d parameter tensors", len(lrs), len(t.ends))
	}
	loss, g, err := t.f.Grad(t.params, x, y)
	if err != nil {
		return loss, fmt.Errorf("nap.Trainer: step %d: %w", t.step+1, err)
	}
	t.step++
	for i, gi := range g {
		t.g[i] = float64(gi) + t.cfg.WeightDecay*float64(t.params[i])
	}
	segs := make([]train.Segment, len(t.ends))
	for k, end := range t.ends {
		segs[k] = train.Segment{End: end, LR: t.cfg.LR}
		if lrs != nil {
			segs[k].LR = lrs[k]
		}
	}
	if err := t.opt.StepSegments(t.params, t.g, segs); err != nil {
		return loss, fmt.Errorf("nap.Trainer: step %d: %w", t.step, err)
	}
	if t.cfg.Projector != nil && t.step%t.cfg.Every == 0 {
		if err := t.cfg.Projector.Project(t.params); err != nil {
			return loss, err
		}
	}
	return loss, nil
}

// Batches deals out minibatches of size b from a set: each epoch a fresh seeded permutation
// (train.EpochOrder, Run's order), the last partial batch dropped.
type Batches struct {
	set        *data.Set
	b          int
	seed       uint64
	perm       []int
	pos, epoch int
	x          []float32
	y          []int32
	labels     []int32
}

// NewBatches returns a batch source over set with batch size b (≤ set.Len()) and data-order seed.
func NewBatches(set *data.Set, b int, seed uint64) (*Batches, error) {
	if set == nil || b < 1 || b > set.Len() {
		return nil, fmt.Errorf("nap.NewBatches: batch size %d must be in [1, %d]", b, lenOf(set))
	}
	return &Batches{set: set, b: b, seed: seed, pos: set.Len(), labels: set.Y, x: make([]float32, b*set.Dim()), y: make([]int32, b)}, nil
}

func lenOf(s *data.Set) int {
	if s == nil {
		return 0
	}
	return s.Len()
}

// SetLabels replaces the labels the batches are drawn with (a task's relabelling); nil restores the
// set's own.
func (bs *Batches) SetLabels(y []int32) {
	if y == nil {
		y = bs.set.Y
	}
	bs.labels = y
}

// Next returns the next batch (its slices are reused by the following call).
func (bs *Batches) Next() ([]float32, []int32) {
	n, d := bs.set.Len(), bs.set.Dim()
	if bs.pos+bs.b > n {
		bs.perm = train.EpochOrder(n, bs.seed, bs.epoch)
		bs.epoch++
		bs.pos = 0
	}
	for j, i := range bs.perm[bs.pos : bs.pos+bs.b] {
		copy(bs.x[j*d:(j+1)*d], bs.set.X[i*d:(i+1)*d])
		bs.y[j] = bs.labels[i]
	}
	bs.pos += bs.b
	return bs.x, bs.y
}
