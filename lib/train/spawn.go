package train

import (
	"fmt"
	"os"
	"slices"

	"github.com/gomlx/gomlx/pkg/ml/context"
)

// SpawnConfig configures Spawn, the training half of Frankle et al.'s instability analysis (Frankle,
// Dziugaite, Roy & Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis",
// arXiv:1912.05671): a parent run, and from its parameters at chosen steps pairs of children that
// differ only in data order.
type SpawnConfig struct {
	// Parent is the training run of the parent (Model, Train, Objective, Optimizer, BatchSize, Seed, …);
	// its Steps are set to the last spawn step. CheckpointDir, if set, keeps the spawn checkpoints;
	// otherwise they go to a temporary folder that is removed.
	Parent Config
	// SpawnSteps are the parent steps k at which two children are spawned (0 = the initialisation).
	SpawnSteps []int
	// ChildSteps is the number T of steps each child trains (required). The children start from the
	// parent's parameters at step k with a fresh optimizer (its state is not carried over) and learning-
	// rate schedule, and differ only in data order: DataSeeds (default 1 and 2).
	ChildSteps int
	DataSeeds  [2]uint64
}

// SpawnPair is the two children of one spawn step.
type SpawnPair struct {
	// Step is the parent step k; Spawn holds θ_s, the parent's parameters at k (read back from its
	// checkpoint).
	Step  int
	Spawn *context.Context
	// A and B are the children's runs (A with DataSeeds[0], B with DataSeeds[1]).
	A, B *Result
}

// SpawnRuns is what Spawn returns: the parent's run and the children of each spawn step, in
// increasing step order.
type SpawnRuns struct {
	Parent *Result
	Pairs  []SpawnPair
	// Config is the SpawnConfig with its defaults filled in, the spawn steps sorted and deduplicated,
	// and Parent.Steps the parent's length.
	Config SpawnConfig
}

// Spawn trains a parent to the last spawn step, saving checkpoints at the spawn steps, and from each
// trains two children for ChildSteps steps with different data orders (RunPair).
func Spawn(cfg SpawnConfig) (*SpawnRuns, error) {
	if len(cfg.SpawnSteps) == 0 || cfg.ChildSteps < 1 {
		return nil, fmt.Errorf("train.Spawn: need spawn steps (got %v) and ChildSteps ≥ 1 (got %d)", cfg.SpawnSteps, cfg.ChildSteps)
	}
	if cfg.Parent.Model == nil || cfg.Parent.Train == nil {
		return nil, fmt.Errorf("train.Spawn: Parent needs a Model and a Train set")
	}
	steps := slices.Clone(cfg.SpawnSteps)
	slices.Sort(steps)
	steps = slices.Compact(steps)
	if steps[0] < 0 {
		return nil, fmt.Errorf("train.Spawn: negative spawn step %d", steps[0])
	}
	if cfg.DataSeeds == [2]uint64{} {
		cfg.DataSeeds = [2]uint64{1, 2}
	}
	if cfg.DataSeeds[0] == cfg.DataSeeds[1] {
		return nil, fmt.Errorf("train.Spawn: the children's data seeds are equal (%d); they would be identical", cfg.DataSeeds[0])
	}
	cfg.SpawnSteps = steps
	parent := cfg.Parent
	parent.Steps = max(steps[len(steps)-1], 1)
	parent.Epochs = 0
	parent.CheckpointSteps = steps
	parent.CheckpointEvery = 0
	if parent.CheckpointDir == "" {
		dir, err := os.MkdirTemp("", "losslab-spawn-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		parent.CheckpointDir = dir
	}
	if parent.Label == "" {
		parent.Label = "parent"
	}
	pres, err := Run(parent)
	if err != nil {
		return nil, fmt.Errorf("train.Spawn: parent: %w", err)
	}
	cfg.Parent.Steps, cfg.Parent.Epochs = parent.Steps, 0
	out := &SpawnRuns{Parent: pres, Config: cfg}
	for _, k := range steps {
		ck, err := FindCheckpoint(parent.CheckpointDir, k)
		if err != nil {
			return nil, err
		}
		sctx, err := LoadCheckpointFor(cfg.Parent.Model, ck.Path)
		if err != nil {
			return nil, err
		}
		child := cfg.Parent
		child.Init, child.Steps, child.Epochs = sctx, cfg.ChildSteps, 0
		child.CheckpointDir, child.CheckpointSteps, child.CheckpointEvery = "", nil, 0
		child.SnapshotEvery, child.EvalEvery, child.Test = 0, 0, nil
		child.Label = fmt.Sprintf("children of step %d", k)
		ra, rb, err := RunPair(child, cfg.DataSeeds[0], cfg.DataSeeds[1])
		if err != nil {
			return nil, fmt.Errorf("train.Spawn: children of step %d: %w", k, err)
		}
		out.Pairs = append(out.Pairs, SpawnPair{Step: k, Spawn: sctx, A: ra, B: rb})
	}
	return out, nil
}
