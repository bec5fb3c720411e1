package landscape

import (
	"fmt"
	"os"
	"slices"

	"github.com/losslab/losslab/lib/train"
)

// SpawnConfig configures SpawnBarriers (Frankle et al.'s instability analysis).
type SpawnConfig struct {
	// Parent is the training run of the parent (Model, Train, Objective, Optimizer, BatchSize, Seed, …);
	// its Steps are set to the last spawn step. CheckpointDir, if set, keeps the spawn checkpoints;
	// otherwise they go to a temporary folder that is removed.
	Parent train.Config
	// SpawnSteps are the parent steps k at which two children are spawned (0 = the initialisation).
	SpawnSteps []int
	// ChildSteps is the number T of steps each child trains (required). The children start from the
	// parent's parameters at step k with a fresh optimizer (its state is not carried over) and learning-
	// rate schedule, and differ only in data order: DataSeeds (default 1 and 2).
	ChildSteps int
	DataSeeds  [2]uint64
	// Eval holds the evaluation sets (default: the training set); Evaluator its settings; Path the α grid.
	Eval      []*Data
	Evaluator Config
	Path      PathOptions
	// Predictors also computes the barrier predictors P1–P3 on Eval[0] (spec 02 §2.3).
	Predictors bool
}

// SpawnPoint is the outcome of one spawn step k.
type SpawnPoint struct {
	Step int
	// Path is the interpolation between the two children on the evaluation sets (its Curves hold the
	// barriers: LossBarrier.Linear, ErrorBarrier.Mean (Frankle's instability), …).
	Path *Path
	// SpawnLoss, LossA, LossB are the losses of θ_s, θ_A and θ_B on the first evaluation set.
	SpawnLoss, LossA, LossB float64
	// NormA = ‖δ_A‖, NormB = ‖δ_B‖ (δ = θ_child − θ_s), Distance = ‖θ_B − θ_A‖, Angle = ∠(δ_A, δ_B) in
	// degrees (0 when a child did not move).
	NormA, NormB, Distance, Angle float64
	// Predictors (when asked for) with P2 at the spawn point.
	Predictors *Predictors `json:",omitempty"`
}

// SpawnResult is barrier vs spawn step, with the parent's training curve (the "mountainside").
type SpawnResult struct {
	Points []SpawnPoint
	// ParentLoss[i] is the parent's training batch loss after step i+1.
	ParentLoss []float64
	ChildSteps int
	Provenance Provenance
}

// SpawnBarriers trains a parent to the last spawn step, saving checkpoints at the spawn steps; from each
// it trains two children for ChildSteps steps with different data orders and measures the barrier
// between them along the linear path (and optionally the barrier predictors). It returns barrier vs
// spawn step as data.
func SpawnBarriers(cfg SpawnConfig) (*SpawnResult, error) {
	if len(cfg.SpawnSteps) == 0 || cfg.ChildSteps < 1 {
		return nil, fmt.Errorf("landscape.SpawnBarriers: need spawn steps (got %v) and ChildSteps ≥ 1 (got %d)", cfg.SpawnSteps, cfg.ChildSteps)
	}
	if cfg.Parent.Model == nil || cfg.Parent.Train == nil {
		return nil, fmt.Errorf("landscape.SpawnBarriers: Parent needs a Model and a Train set")
	}
	steps := slices.Clone(cfg.SpawnSteps)
	slices.Sort(steps)
	steps = slices.Compact(steps)
	if steps[0] < 0 {
		return nil, fmt.Errorf("landscape.SpawnBarriers: negative spawn step %d", steps[0])
	}
	if cfg.DataSeeds == [2]uint64{} {
		cfg.DataSeeds = [2]uint64{1, 2}
	}
	if cfg.DataSeeds[0] == cfg.DataSeeds[1] {
		return nil, fmt.Errorf("landscape.SpawnBarriers: the children's data seeds are equal (%d); they would be identical", cfg.DataSeeds[0])
	}
	if len(cfg.Eval) == 0 {
		cfg.Eval = []*Data{FromSet(cfg.Parent.Train)}
	}
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
	pres, err := train.Run(parent)
	if err != nil {
		return nil, fmt.Errorf("landscape.SpawnBarriers: parent: %w", err)
	}
	out := &SpawnResult{ChildSteps: cfg.ChildSteps}
	for _, h := range pres.History {
		out.ParentLoss = append(out.ParentLoss, h.Loss)
	}
	var ev *Evaluator
	forward := FromModel(cfg.Parent.Model)
	for _, k := range steps {
		ck, err := train.FindCheckpoint(parent.CheckpointDir, k)
		if err != nil {
			return nil, err
		}
		sctx, err := train.LoadCheckpointFor(cfg.Parent.Model, ck.Path)
		if err != nil {
			return nil, err
		}
		spawn, err := FromContext(sctx, nil)
		if err != nil {
			return nil, err
		}
		child := cfg.Parent
		child.Init, child.Steps, child.Epochs = sctx, cfg.ChildSteps, 0
		child.CheckpointDir, child.CheckpointSteps, child.CheckpointEvery = "", nil, 0
		child.SnapshotEvery, child.EvalEvery, child.Test = 0, 0, nil
		child.Label = fmt.Sprintf("children of step %d", k)
		ra, rb, err := train.RunPair(child, cfg.DataSeeds[0], cfg.DataSeeds[1])
		if err != nil {
			return nil, fmt.Errorf("landscape.SpawnBarriers: children of step %d: %w", k, err)
		}
		a, err := FromContext(ra.Context, nil)
		if err != nil {
			return nil, err
		}
		b, err := FromContext(rb.Context, nil)
		if err != nil {
			return nil, err
		}
		if ev == nil {
			if ev, err = NewEvaluator(forward, spawn, cfg.Evaluator); err != nil {
				return nil, err
			}
		}
		pt := SpawnPoint{Step: k}
		if pt.Path, err = Interpolate(ev, a, b, cfg.Eval, cfg.Path); err != nil {
			return nil, fmt.Errorf("landscape.SpawnBarriers: step %d: %w", k, err)
		}
		c := pt.Path.Curves[0]
		pt.LossA, pt.LossB = c.Loss[0], c.Loss[len(c.Loss)-1]
		sp, err := ev.Loss(spawn, cfg.Eval[0])
		if err != nil {
			return nil, err
		}
		pt.SpawnLoss = sp.Loss
		da := combine([]float64{1, -1}, []*ParamSet{a, spawn})
		db := combine([]float64{1, -1}, []*ParamSet{b, spawn})
		pt.NormA, pt.NormB = da.Norm(), db.Norm()
		pt.Distance = combine([]float64{1, -1}, []*ParamSet{b, a}).Norm()
		if pt.NormA > 0 && pt.NormB > 0 {
			pt.Angle, _ = AngleDegrees(da, db)
		}
		if cfg.Predictors {
			if pt.Predictors, err = BarrierPredictors(ev, a, b, spawn, cfg.Eval[0], 0); err != nil {
				return nil, err
			}
		}
		out.Points = append(out.Points, pt)
	}
	out.Provenance = newProvenance(ev, cfg.Eval)
	out.Provenance.Seeds = []uint64{cfg.Parent.Seed, cfg.DataSeeds[0], cfg.DataSeeds[1]}
	out.Provenance.Notes = fmt.Sprintf("model %s, parent %d steps, spawn steps %v, children %d steps each",
		cfg.Parent.Model.Name(), parent.Steps, steps, cfg.ChildSteps)
	return out, nil
}
