package landscape

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/train"
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
	w := a.Clone()
	opt, err := train.NewHostOptimizer("adam", a.Size())
	if err != nil {
		return nil, err
	}
	g := make([]float64, a.Size())
	res := &Alignment{Objective: math.Inf(1)}
	for step := range m.Steps {
		proj, err := MatchPermutations(w, b, spec, MatchOptions{Seed: m.Seed})
		if err != nil {
			return nil, err
		}
		mid := combine([]float64{0.5, 0.5}, []*ParamSet{a, proj.Aligned})
		mid.State = a.State
		loss, grad, err := m.Evaluator.Grad(mid, m.Data[step%len(m.Data)])
		if err != nil {
			return nil, fmt.Errorf("landscape.STEMatcher: step %d: %w", step, err)
		}
		res.History = append(res.History, loss)
		if loss < res.Objective {
			res.Objective, res.Perm = loss, proj.Perm
		}
		// Adam on W̃ with the straight-through gradient ½∇L(mid).
		wf := w.Flat()
		for i, gi := range grad.Flat() {
			g[i] = 0.5 * gi
		}
		if err := opt.Step64(wf, g, m.LearningRate); err != nil {
			return nil, fmt.Errorf("landscape.STEMatcher: step %d: %w", step, err)
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
