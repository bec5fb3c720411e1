package landscape

import (
	"fmt"

	"github.com/losslab/losslab/lib/train"
)

// SpawnOptions configures SpawnBarriers.
type SpawnOptions struct {
	// Eval holds the evaluation sets (default: the parent's training set); Evaluator its settings; Path
	// the α grid.
	Eval      []*Data
	Evaluator Config
	Path      PathOptions
	// Predictors also computes the barrier predictors P1–P3 on Eval[0].
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

// SpawnBarriers measures the runs of train.Spawn (Frankle et al.'s instability analysis): for each
// spawn step, the barrier between its two children along the linear path (and optionally the barrier
// predictors), with the spawn point θ_s and the children's displacements from it. It returns barrier
// vs spawn step as data.
func SpawnBarriers(runs *train.SpawnRuns, opts SpawnOptions) (*SpawnResult, error) {
	if runs == nil || runs.Parent == nil || len(runs.Pairs) == 0 {
		return nil, fmt.Errorf("landscape.SpawnBarriers: no spawn runs (train.Spawn makes them)")
	}
	cfg := runs.Config
	if len(opts.Eval) == 0 {
		opts.Eval = []*Data{FromSet(cfg.Parent.Train)}
	}
	out := &SpawnResult{ChildSteps: cfg.ChildSteps}
	for _, h := range runs.Parent.History {
		out.ParentLoss = append(out.ParentLoss, h.Loss)
	}
	var ev *Evaluator
	forward := FromModel(cfg.Parent.Model)
	for _, pair := range runs.Pairs {
		k := pair.Step
		spawn, err := FromContext(pair.Spawn, nil)
		if err != nil {
			return nil, err
		}
		a, err := FromContext(pair.A.Context, nil)
		if err != nil {
			return nil, err
		}
		b, err := FromContext(pair.B.Context, nil)
		if err != nil {
			return nil, err
		}
		if ev == nil {
			if ev, err = NewEvaluator(forward, spawn, opts.Evaluator); err != nil {
				return nil, err
			}
		}
		pt := SpawnPoint{Step: k}
		if pt.Path, err = Interpolate(ev, a, b, opts.Eval, opts.Path); err != nil {
			return nil, fmt.Errorf("landscape.SpawnBarriers: step %d: %w", k, err)
		}
		c := pt.Path.Curves[0]
		pt.LossA, pt.LossB = c.Loss[0], c.Loss[len(c.Loss)-1]
		sp, err := ev.Loss(spawn, opts.Eval[0])
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
		if opts.Predictors {
			if pt.Predictors, err = BarrierPredictors(ev, a, b, spawn, opts.Eval[0], 0); err != nil {
				return nil, err
			}
		}
		out.Points = append(out.Points, pt)
	}
	out.Provenance = newProvenance(ev, opts.Eval)
	out.Provenance.Seeds = []uint64{cfg.Parent.Seed, cfg.DataSeeds[0], cfg.DataSeeds[1]}
	out.Provenance.Notes = fmt.Sprintf("model %s, parent %d steps, spawn steps %v, children %d steps each",
		cfg.Parent.Model.Name(), cfg.Parent.Steps, cfg.SpawnSteps, cfg.ChildSteps)
	return out, nil
}
