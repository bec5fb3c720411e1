package genmeasure

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// FlatnessConfig sets the PAC-Bayes σ' search. Zero fields take the defaults of Dziugaite et al.'s
// re-implementation of Jiang et al.'s code (in brackets).
type FlatnessConfig struct {
	// Magnitude selects magnitude-aware noise u_i ~ N(0, σ²w_i² + ε²) instead of N(0, σ²).
	Magnitude bool
	// Target is the training-accuracy drop sought [0.1], within Tol [0.01].
	Target, Tol float64
	// Depth is the number of bisection steps [15]; Samples the Monte Carlo draws per σ [10].
	Depth, Samples int
	// Upper is the search cap: σ ∈ [0, Upper], starting at Upper/2 [2].
	Upper float64
	// Eps is ε of the magnitude-aware noise [1e-3].
	Eps float64
	// Seed fixes the noise draws.
	Seed uint64
}

func (c FlatnessConfig) withDefaults() FlatnessConfig {
	if c.Target == 0 {
		c.Target = 0.1
	}
	if c.Tol == 0 {
		c.Tol = 0.01
	}
	if c.Depth == 0 {
		c.Depth = 15
	}
	if c.Samples == 0 {
		c.Samples = 10
	}
	if c.Upper == 0 {
		c.Upper = 2
	}
	if c.Eps == 0 {
		c.Eps = 1e-3
	}
	return c
}

func (c FlatnessConfig) check() error {
	switch {
	case c.Target <= 0 || c.Target >= 1:
		return fmt.Errorf("genmeasure: flatness Target %g must be in (0, 1)", c.Target)
	case c.Tol <= 0 || c.Tol >= c.Target:
		return fmt.Errorf("genmeasure: flatness Tol %g must be in (0, Target=%g)", c.Tol, c.Target)
	case c.Depth < 1 || c.Samples < 1:
		return fmt.Errorf("genmeasure: flatness Depth %d and Samples %d must be ≥ 1", c.Depth, c.Samples)
	case c.Upper <= 0 || math.IsNaN(c.Upper) || math.IsInf(c.Upper, 0):
		return fmt.Errorf("genmeasure: flatness Upper %g must be positive and finite", c.Upper)
	case c.Eps < 0:
		return fmt.Errorf("genmeasure: flatness Eps %g must be ≥ 0", c.Eps)
	}
	return nil
}

// Flatness returns σ', the noise level at which random Gaussian perturbations of every parameter
// lower the training accuracy by Target (± Tol), found by bisection on [0, Upper] from Upper/2: at
// each σ the accuracy drop is averaged over Samples draws; a drop above Target moves the upper bound
// down, one below moves the lower bound up. The draws are common random numbers: the same standard
// normal vectors z_s at every σ (u = σ·z_s, or u_i = sqrt(σ²w_i² + ε²)·z_si when Magnitude), so the
// search is deterministic given Seed. If no σ meets the tolerance within Depth steps, the last σ
// tried is returned (a network insensitive to noise ends near Upper).
func Flatness(n *Net, s Inputs, cfg FlatnessConfig) (float64, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return 0, err
	}
	if err := n.checkInputs(s); err != nil {
		return 0, err
	}
	w := n.Flat()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	z := make([][]float64, cfg.Samples)
	for k := range z {
		z[k] = make([]float64, len(w))
		for i := range z[k] {
			z[k][i] = rng.NormFloat64()
		}
	}
	base := 1 - n.errorRate(s)
	work := n.Clone()
	u := make([]float64, len(w))
	drop := func(sigma float64) float64 {
		acc := 0.0
		for k := range z {
			for i := range w {
				std := sigma
				if cfg.Magnitude {
					std = math.Sqrt(sigma*sigma*w[i]*w[i] + cfg.Eps*cfg.Eps)
				}
				u[i] = w[i] + std*z[k][i]
			}
			_ = work.SetFlat(u)
			acc += 1 - work.errorRate(s)
		}
		return base - acc/float64(len(z))
	}
	return bisect(cfg.Upper, cfg.Depth, cfg.Target, cfg.Tol, drop), nil
}

// bisect searches [0, upper] from upper/2 for the point where f ≈ target.
func bisect(upper float64, depth int, target, tol float64, f func(float64) float64) float64 {
	lo, hi := 0.0, upper
	x := upper / 2
	for d := 0; d < depth; d++ {
		v := f(x)
		if math.Abs(v-target) < tol {
			return x
		}
		if v > target {
			hi = x
		} else {
			lo = x
		}
		x = (lo + hi) / 2
	}
	return x
}

// SharpnessConfig sets the worst-case sharpness α' search.
type SharpnessConfig struct {
	// Magnitude selects the box |u_i| ≤ α|w_i| + ε instead of ‖u‖_∞ ≤ α.
	Magnitude bool
	// Target is the training-error increase sought [0.1], within Tol [0.01].
	Target, Tol float64
	// Depth is the number of bisection steps on α [15]; Steps the sign-gradient ascent steps per α [20].
	Depth, Steps int
	// Upper caps α [2]; Eps is ε of the magnitude-aware box [1e-3].
	Upper, Eps float64
}

// Sharpness returns α', the largest box radius at which the worst perturbation found raises the
// training error by Target (± Tol). The worst case inside the box is approximated by Steps steps of
// projected sign-gradient ascent on the training cross-entropy from u = 0, each step a quarter of
// the box's half-width per coordinate; the error counted is the largest seen along the ascent. α is
// found by bisection on [0, Upper] as in Flatness. Deterministic.
func Sharpness(n *Net, s Inputs, cfg SharpnessConfig) (float64, error) {
	if cfg.Target == 0 {
		cfg.Target = 0.1
	}
	if cfg.Tol == 0 {
		cfg.Tol = 0.01
	}
	if cfg.Depth == 0 {
		cfg.Depth = 15
	}
	if cfg.Steps == 0 {
		cfg.Steps = 20
	}
	if cfg.Upper == 0 {
		cfg.Upper = 2
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-3
	}
	if err := (FlatnessConfig{Target: cfg.Target, Tol: cfg.Tol, Depth: cfg.Depth, Samples: cfg.Steps, Upper: cfg.Upper, Eps: cfg.Eps}).check(); err != nil {
		return 0, fmt.Errorf("sharpness: %w", err)
	}
	if err := n.checkInputs(s); err != nil {
		return 0, err
	}
	w := n.Flat()
	base := n.errorRate(s)
	work := n.Clone()
	u := make([]float64, len(w))
	box := make([]float64, len(w))
	rise := func(alpha float64) float64 {
		for i := range w {
			box[i] = alpha
			if cfg.Magnitude {
				box[i] = alpha*math.Abs(w[i]) + cfg.Eps
			}
			u[i] = 0
		}
		worst := base
		p := make([]float64, len(w))
		for step := 0; step < cfg.Steps; step++ {
			for i := range w {
				p[i] = w[i] + u[i]
			}
			_ = work.SetFlat(p)
			_, g, e := work.lossGrad(s)
			worst = math.Max(worst, e)
			for i, gi := range g {
				switch {
				case gi > 0:
					u[i] = math.Min(u[i]+box[i]/4, box[i])
				case gi < 0:
					u[i] = math.Max(u[i]-box[i]/4, -box[i])
				}
			}
		}
		for i := range w {
			p[i] = w[i] + u[i]
		}
		_ = work.SetFlat(p)
		worst = math.Max(worst, work.errorRate(s))
		return worst - base
	}
	return bisect(cfg.Upper, cfg.Depth, cfg.Target, cfg.Tol, rise), nil
}
