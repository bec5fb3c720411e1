package napexp

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/nap"
	"github.com/losslab/losslab/lib/train"
)

// Curves are three SGD runs of the normalised MLP in lockstep on the same batches from the same
// initialisation: unprojected ("LN"), projected with the equivalent per-layer schedule η·r_ℓ²/‖W_ℓ,t‖²
// read from the unprojected run, and projected at constant η. Only the hidden weight matrices are
// projected. Norms[t][ℓ] is the unprojected run's ‖W_ℓ‖ before step t+1; Radius[ℓ] its initial value.
type Curves struct {
	Eps                       float64
	LR                        float64
	LN, NaPSchedule, NaPConst []float64
	Norms                     [][]float64
	Radius                    []float64
}

// ScheduleCheck runs Curves on set for steps SGD steps (batch, lr, data-order and init seed) with
// LayerNorm's ε (negative: exactly 0, where the equivalence is exact).
func ScheduleCheck(set *data.Set, hidden []int, steps, batch int, lr, eps float64, seed uint64) (*Curves, error) {
	if steps < 1 || !(lr > 0) {
		return nil, fmt.Errorf("napexp.ScheduleCheck: need steps ≥ 1 and lr > 0, got %d and %v", steps, lr)
	}
	if set == nil {
		return nil, fmt.Errorf("napexp.ScheduleCheck: no data")
	}
	f, err := train.NewFlatModel(&nap.MLP{Hidden: hidden, Classes: set.Classes, Norm: true, Eps: eps}, set, seed)
	if err != nil {
		return nil, fmt.Errorf("napexp.ScheduleCheck: %w", err)
	}
	init := f.Init()
	names, shapes := f.Layout()
	hiddenOnly, err := nap.NewProjector(names, shapes, init, nap.Options{FreeOutput: true, FreeNormParams: true})
	if err != nil {
		return nil, fmt.Errorf("napexp.ScheduleCheck: %w", err)
	}
	ln, err1 := nap.NewTrainer(f, init, nap.Config{Optimizer: "sgd", LR: lr})
	sched, err2 := nap.NewTrainer(f, init, nap.Config{Optimizer: "sgd", LR: lr, Projector: hiddenOnly})
	cons, err3 := nap.NewTrainer(f, init, nap.Config{Optimizer: "sgd", LR: lr, Projector: hiddenOnly})
	bs, err4 := nap.NewBatches(set, batch, seed)
	for _, e := range []error{err1, err2, err3, err4} {
		if e != nil {
			return nil, fmt.Errorf("napexp.ScheduleCheck: %w", e)
		}
	}
	c := &Curves{Eps: math.Max(eps, 0), LR: lr}
	for _, b := range hiddenOnly.Weights {
		c.Radius = append(c.Radius, b.Radius)
	}
	lrs := make([]float64, len(names))
	for range steps {
		x, y := bs.Next()
		norms := hiddenOnly.WeightNorms(ln.Params())
		c.Norms = append(c.Norms, norms)
		for k := range lrs {
			lrs[k] = lr
		}
		for i, b := range hiddenOnly.Weights {
			if b.Kind == "weights" {
				lrs[b.Tensors[0]] = nap.EquivalentLR(lr, b.Radius, norms[i])
			}
		}
		var l [3]float64
		for i, step := range []func() (float64, error){
			func() (float64, error) { return ln.Step(x, y) },
			func() (float64, error) { return sched.StepLR(x, y, lrs) },
			func() (float64, error) { return cons.Step(x, y) },
		} {
			if l[i], err = step(); err != nil {
				return nil, fmt.Errorf("napexp.ScheduleCheck: %w", err)
			}
		}
		c.LN, c.NaPSchedule, c.NaPConst = append(c.LN, l[0]), append(c.NaPSchedule, l[1]), append(c.NaPConst, l[2])
	}
	return c, nil
}

// Gaps returns the largest |loss difference| to the unprojected run of the scheduled and of the
// constant-rate projected run over the first steps steps (all if steps ≤ 0 or beyond the run).
func (c *Curves) Gaps(steps int) (sched, cons float64) {
	n := len(c.LN)
	if steps > 0 {
		n = min(n, steps)
	}
	for i := range n {
		sched = math.Max(sched, math.Abs(c.LN[i]-c.NaPSchedule[i]))
		cons = math.Max(cons, math.Abs(c.LN[i]-c.NaPConst[i]))
	}
	return sched, cons
}

// FirstApart is the first step (1-based) at which the scheduled run's loss differs from the unprojected
// run's by more than tol, 0 if never.
func (c *Curves) FirstApart(tol float64) int {
	for i := range c.LN {
		if math.Abs(c.LN[i]-c.NaPSchedule[i]) > tol {
			return i + 1
		}
	}
	return 0
}

// Schedule is the equivalent learning rate of hidden layer l at every step.
func (c *Curves) Schedule(l int) []float64 {
	out := make([]float64, len(c.Norms))
	for i, n := range c.Norms {
		out[i] = nap.EquivalentLR(c.LR, c.Radius[l], n[l])
	}
	return out
}
