package landscape

import (
	"fmt"
	"math"
)

// STEMatcher is straight-through-estimator matching (Ainsworth, Hayase and Srinivasa, "Git Re-Basin",
// ICLR 2023, arXiv:2209.04836, §3.3 and Algorithm 2): it learns free weights W̃ (starting at θ_A) whose
// nearest permutation of θ_B, found by weight matching (proj(W̃) = π(θ_B) with π = MatchPermutations(W̃,
// θ_B)), gives a low loss at the midpoint ½(θ_A + proj(W̃)). The forward pass uses the projection; the
// backward pass treats the projection as the identity (the straight-through estimator), so
// ∂L/∂W̃ = ½·∇L(midpoint). W̃ takes Adam steps; each step's loss is measured on the next batch of Data
// (cycled). The result is the permutation with the lowest midpoint loss seen (on a single batch the
// losses are comparable; with several batches they are noisy), Objective that loss, History the loss of
// every step.
type STEMatcher struct {
	// Evaluator computes the loss and its gradient at the midpoint (lib/train is not involved).
	Evaluator *Evaluator
	// Data are the batches the midpoint loss is computed on, used in turn.
	Data []*Data
	// Steps is the number of Adam steps (default 100); LearningRate Adam's step size (default 1e-3).
	Steps        int
	LearningRate float64
	// Seed seeds the weight-matching projections.
	Seed uint64
}

// Match implements Matcher.
func (m STEMatcher) Match(a, b *ParamSet, spec *PermSpec) (*Alignment, error) {
	if m.Evaluator == nil || len(m.Data) == 0 {
		return nil, fmt.Errorf("landscape.STEMatcher: needs an Evaluator and at least one batch of Data")
	}
	if m.Steps < 0 || m.LearningRate < 0 {
		return nil, fmt.Errorf("landscape.STEMatcher: Steps (%d) and LearningRate (%g) must not be negative", m.Steps, m.LearningRate)
	}
	if m.Steps == 0 {
		m.Steps = 100
	}
	if m.LearningRate == 0 {
		m.LearningRate = 1e-3
	}
	if err := a.Compatible(b); err != nil {
		return nil, err
	}
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	w := a.Clone()
	n := a.Size()
	mom, vel := make([]float64, n), make([]float64, n)
	res := &Alignment{Objective: math.Inf(1)}
	for step := range m.Steps {
		proj, err := MatchPermutations(w, b, spec, MatchOptions{Seed: m.Seed})
		if err != nil {
			return nil, err
		}
		mid := combine([]float64{0.5, 0.5}, []*ParamSet{a, proj.Aligned})
		mid.State = a.State
		loss, g, err := m.Evaluator.Grad(mid, m.Data[step%len(m.Data)])
		if err != nil {
			return nil, fmt.Errorf("landscape.STEMatcher: step %d: %w", step, err)
		}
		res.History = append(res.History, loss)
		if loss < res.Objective {
			res.Objective, res.Perm = loss, proj.Perm
		}
		// Adam on W̃ with the straight-through gradient ½∇L(mid).
		wf, gf := w.Flat(), g.Flat()
		c1 := 1 - math.Pow(beta1, float64(step+1))
		c2 := 1 - math.Pow(beta2, float64(step+1))
		for i := range wf {
			gi := 0.5 * gf[i]
			mom[i] = beta1*mom[i] + (1-beta1)*gi
			vel[i] = beta2*vel[i] + (1-beta2)*gi*gi
			wf[i] -= m.LearningRate * (mom[i] / c1) / (math.Sqrt(vel[i]/c2) + eps)
		}
		if w, err = w.FromFlat(wf); err != nil {
			return nil, err
		}
	}
	aligned, err := spec.Apply(b, res.Perm)
	if err != nil {
		return nil, err
	}
	res.Aligned, res.Sweeps = aligned, m.Steps
	res.Provenance = newProvenance(m.Evaluator, m.Data)
	res.Provenance.Seeds = []uint64{m.Seed}
	res.Provenance.Notes = fmt.Sprintf("straight-through-estimator matching, %d Adam steps of size %g on the midpoint loss", m.Steps, m.LearningRate)
	return res, nil
}
