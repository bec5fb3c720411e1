package genexp

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/genmeasure"
)

// ParityCurves are the exact and simulated statistics of the parity learner over F₂ⁿ for sample sizes
// M (genmeasure.ParityExact and ParitySimulate).
type ParityCurves struct {
	N, Trials  int
	M          []int
	Exact, Sim []genmeasure.ParityStats
	// WorstZ is the largest deviation of the simulation from the exact values of P(exact) and of the
	// best achievable estimation error, in standard errors of the simulation.
	WorstZ float64
	// PeakM is the sample size where the exact best achievable estimation error is largest.
	PeakM int
}

// Parity computes the curves for m = from … to, trials simulated samples per m (seed m + seed).
func Parity(n, from, to, trials int, seed uint64) (*ParityCurves, error) {
	if from < 1 || to < from || trials < 1 {
		return nil, fmt.Errorf("genexp.Parity: m from %d to %d, %d trials", from, to, trials)
	}
	c := &ParityCurves{N: n, Trials: trials}
	for m := from; m <= to; m++ {
		ex, err := genmeasure.ParityExact(n, m)
		if err != nil {
			return nil, fmt.Errorf("genexp.Parity: %w", err)
		}
		sim, err := genmeasure.ParitySimulate(n, m, trials, seed+uint64(m))
		if err != nil {
			return nil, fmt.Errorf("genexp.Parity: %w", err)
		}
		// Success is Bernoulli(P(exact)); the realised |err − est| of the best estimator is ½·Bernoulli(2·best).
		se := math.Sqrt(math.Max(ex.PExact*(1-ex.PExact), 1e-4) / float64(trials))
		c.WorstZ = math.Max(c.WorstZ, math.Abs(ex.PExact-sim.PExact)/se)
		q := 2 * ex.BestEstimation
		se = 0.5 * math.Sqrt(math.Max(q*(1-q), 1e-4)/float64(trials))
		c.WorstZ = math.Max(c.WorstZ, math.Abs(ex.BestEstimation-sim.BestEstimation)/se)
		if len(c.Exact) == 0 || ex.BestEstimation > c.Exact[c.peakIdx()].BestEstimation {
			c.PeakM = m
		}
		c.M, c.Exact, c.Sim = append(c.M, m), append(c.Exact, ex), append(c.Sim, sim)
	}
	return c, nil
}

func (c *ParityCurves) peakIdx() int { return c.PeakM - c.M[0] }
