// Package napexp runs the plasticity experiment of Lyle, Zheng, Khetarpal, Martens, van Hasselt,
// Pascanu & Dabney, "Normalization and effective learning rates in reinforcement learning", NeurIPS
// 2024, arXiv:2407.01800, at notebook scale, in the form a verdict needs.
//
// The benchmark is the paper's synthetic plasticity stress test: a long sequence of tasks on the same
// images, each with labels drawn afresh uniformly at random (pure memorisation), trained one after the
// other with nothing reset. Three arms of lib/nap's MLP are compared: "plain" (biases, no normalisation),
// "layernorm" (LayerNorm before each ReLU, no projection) and "NaP" (LayerNorm plus the projection of
// every weight matrix and LayerNorm pair to its initial norm after each step). Each arm's Adam learning
// rate is tuned over the same grid on a validation block of images (its own labels, initialisation and
// data order); the chosen rate is then run on Runs further blocks, disjoint from the validation block and
// from each other, each with its own initialisation, labels and data order (the seed is the run index).
// Within a run the arms share images, labels, order and initialisation seed, so the comparison is paired.
//
// The score of a run is its mean end-of-task training accuracy over the second half of the tasks; its
// plasticity loss is the first task's accuracy (a fresh network) minus that score. ScheduleCheck is the
// paper's exact equivalence between the implicit learning-rate decay of an unprojected normalised network
// and an explicit schedule under projection; ScaleCurves shows the scale invariance that both rest on.
package napexp

import (
	"fmt"
	"slices"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/nap"
	"github.com/losslab/losslab/lib/train"
)

// Arm is one variant of the network and its update.
type Arm struct {
	Name          string
	Norm, Project bool
}

// Arms are the three variants, in the order results list them.
var Arms = []Arm{{"plain", false, false}, {"layernorm", true, false}, {"NaP", true, true}}

// Config is the whole plasticity experiment.
type Config struct {
	// Images per block: the validation block and each run's block hold this many images each.
	Images int
	// Tasks label reshuffles of StepsPerTask Adam steps each, with minibatches of Batch.
	Tasks, StepsPerTask, Batch int
	Hidden                     []int
	// LRs is the Adam learning-rate grid every arm is tuned over.
	LRs []float64
	// Runs is the number of independent final runs (seed r+1 for run r; the validation run has seed 0).
	Runs int
	// LogEvery records the weight norms every so many steps.
	LogEvery int
}

// Default is the notebook's full size: blocks of 512 images, 30 tasks × 400 steps, batch 64, an MLP
// 196-64-64-10, the grid {3e-4, 1e-3, 3e-3}, 3 runs. A pilot at this size (Adam 1e-3 and 3e-3) showed
// the controls losing plasticity (the plain and layernorm arms fall far below their first-task
// accuracy), which 8 tasks × 250 steps on 2 000 images did not.
func Default() Config {
	return Config{Images: 512, Tasks: 30, StepsPerTask: 400, Batch: 64, Hidden: []int{64, 64},
		LRs: []float64{3e-4, 1e-3, 3e-3}, Runs: 3, LogEvery: 40}
}

// Quick is Default at CI size (the same code path): 128 images, 4 tasks × 60 steps, batch 32.
func Quick() Config {
	c := Default()
	c.Images, c.Tasks, c.StepsPerTask, c.Batch, c.LogEvery = 128, 4, 60, 32, 10
	return c
}

// PoolSize is the number of images Run needs: one block for validation and one per run.
func (c Config) PoolSize() int { return (c.Runs + 1) * c.Images }

func (c Config) check() error {
	if c.Images < 2 || c.Tasks < 2 || c.StepsPerTask < 1 || c.Batch < 1 || c.Batch > c.Images || c.Runs < 1 || c.LogEvery < 1 {
		return fmt.Errorf("napexp: need Images ≥ 2, Tasks ≥ 2, StepsPerTask, Runs, LogEvery ≥ 1 and 1 ≤ Batch ≤ Images; got %+v", c)
	}
	if len(c.LRs) == 0 {
		return fmt.Errorf("napexp: empty learning-rate grid")
	}
	for _, lr := range c.LRs {
		if !(lr > 0) {
			return fmt.Errorf("napexp: learning rate %v must be positive", lr)
		}
	}
	return nil
}

// ArmRun is one arm trained through the task sequence.
type ArmRun struct {
	Arm string
	LR  float64
	// Accuracy is the end-of-task training accuracy on each task's labels.
	Accuracy []float64
	// LoggedSteps and Norms: Norms[i][ℓ] = ‖W_ℓ‖_F at step LoggedSteps[i] (WeightNames order).
	LoggedSteps []int
	Norms       [][]float64
	WeightNames []string
}

// Score is the mean end-of-task accuracy over the second half of the tasks.
func (a ArmRun) Score() float64 { return Score(a.Accuracy) }

// Drop is the plasticity loss: the first task's accuracy (a fresh network) minus Score.
func (a ArmRun) Drop() float64 { return a.Accuracy[0] - a.Score() }

// ELRRatio is Adam's effective learning rate η/‖W_ℓ‖ of hidden layer ℓ at the end over its initial
// value, i.e. ‖W_ℓ‖ at the start over ‖W_ℓ‖ at the end.
func (a ArmRun) ELRRatio(l int) float64 { return a.Norms[0][l] / a.Norms[len(a.Norms)-1][l] }

// Score is the mean of the second half of acc (the later tasks).
func Score(acc []float64) float64 {
	tail := acc[len(acc)/2:]
	s := 0.0
	for _, a := range tail {
		s += a
	}
	return s / float64(len(tail))
}

// Tuning is one arm's validation run over the grid.
type Tuning struct {
	Arm    string
	LRs    []float64
	Scores []float64 // Score on the validation block, per learning rate
	Chosen float64
}

// Result is the experiment: Tuning per arm, and Runs[r][a] the final run r of arm a (Arms order).
type Result struct {
	Config Config
	Tuning []Tuning
	Runs   [][]ArmRun
}

// Arm returns every final run of the named arm.
func (r *Result) Arm(name string) []ArmRun {
	var out []ArmRun
	for _, run := range r.Runs {
		for _, a := range run {
			if a.Arm == name {
				out = append(out, a)
			}
		}
	}
	return out
}

// Run tunes each arm on the validation block of pool and runs the chosen learning rates on Runs disjoint
// blocks. pool must be a classification set of at least cfg.PoolSize() examples; its first Images
// examples are the validation block, the next ones the runs' blocks. progress, if set, is called after
// each task with a description.
func Run(pool *data.Set, cfg Config, progress func(string)) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if pool == nil || pool.Classes < 2 || pool.Len() < cfg.PoolSize() {
		return nil, fmt.Errorf("napexp.Run: need a classification pool of ≥ %d examples ((Runs+1)·Images), got %d",
			cfg.PoolSize(), lenOf(pool))
	}
	block := func(b int) *data.Set {
		idx := make([]int, cfg.Images)
		for i := range idx {
			idx[i] = b*cfg.Images + i
		}
		return pool.Subset(idx)
	}
	res := &Result{Config: cfg}
	val := block(0)
	for _, arm := range Arms {
		tu := Tuning{Arm: arm.Name, LRs: slices.Clone(cfg.LRs)}
		best := -1.0
		for _, lr := range cfg.LRs {
			ar, err := runArm(val, cfg, arm, lr, 0, progress)
			if err != nil {
				return nil, err
			}
			s := ar.Score()
			tu.Scores = append(tu.Scores, s)
			if s > best {
				best, tu.Chosen = s, lr
			}
		}
		res.Tuning = append(res.Tuning, tu)
	}
	for r := range cfg.Runs {
		set := block(r + 1)
		var row []ArmRun
		for i, arm := range Arms {
			ar, err := runArm(set, cfg, arm, res.Tuning[i].Chosen, uint64(r+1), progress)
			if err != nil {
				return nil, err
			}
			row = append(row, *ar)
		}
		res.Runs = append(res.Runs, row)
	}
	return res, nil
}

func lenOf(s *data.Set) int {
	if s == nil {
		return 0
	}
	return s.Len()
}

// runArm trains one arm from the initialisation of seed through the task sequence of seed.
func runArm(set *data.Set, cfg Config, arm Arm, lr float64, seed uint64, progress func(string)) (*ArmRun, error) {
	f, err := train.NewFlatModel(&nap.MLP{Hidden: cfg.Hidden, Classes: set.Classes, Norm: arm.Norm}, set, seed)
	if err != nil {
		return nil, fmt.Errorf("napexp: %s: %w", arm.Name, err)
	}
	init := f.Init()
	opt := nap.Config{Optimizer: "adam", LR: lr}
	if arm.Project {
		names, shapes := f.Layout()
		if opt.Projector, err = nap.NewProjector(names, shapes, init, nap.Options{}); err != nil {
			return nil, fmt.Errorf("napexp: %s: %w", arm.Name, err)
		}
	}
	tc := nap.TasksConfig{Tasks: cfg.Tasks, StepsPerTask: cfg.StepsPerTask, BatchSize: cfg.Batch, Seed: seed, LogEvery: cfg.LogEvery}
	if progress != nil {
		tc.OnTask = func(t int, acc float64) {
			progress(fmt.Sprintf("seed %d, %s, lr %g, task %d: %.3f", seed, arm.Name, lr, t+1, acc))
		}
	}
	tr, err := nap.RunTasks(f, init, set, opt, tc)
	if err != nil {
		return nil, fmt.Errorf("napexp: %s, lr %g, seed %d: %w", arm.Name, lr, seed, err)
	}
	return &ArmRun{Arm: arm.Name, LR: lr, Accuracy: tr.Accuracy, LoggedSteps: tr.LoggedSteps, Norms: tr.Norms,
		WeightNames: tr.WeightNames}, nil
}
