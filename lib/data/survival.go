package data

import (
	"fmt"
	"math"
	"slices"
)

// SurvivalModel picks the law of the true durations in a synthetic survival set.
type SurvivalModel int

const (
	// LogNormal: log T = η(x) + σ·ε, ε ~ N(0, 1) (the accelerated-failure-time set of 20-kmrisk).
	LogNormal SurvivalModel = iota
	// Exponential: T ~ Exp(rate exp(η(x))), a proportional-hazards model with constant hazard
	// h(t|x) = exp(η(x)).
	Exponential
)

// SurvivalConfig describes a synthetic survival set with covariates X ~ U[0,1]^Dim and a linear
// predictor η(x) = Intercept + ⟨Beta, x⟩.
//
// With Beta nil the defaults of 20-kmrisk apply: Dim 5, Beta (1, −1, 0.5, 0, 0), Intercept 0.5,
// Sigma 0.3, i.e. T = exp(0.5 + x·β + 0.3·ε).
type SurvivalConfig struct {
	N         int
	Model     SurvivalModel
	Dim       int       // number of covariates; default len(Beta)
	Beta      []float64 // coefficients; shorter than Dim means zeros for the rest
	Intercept float64
	Sigma     float64 // LogNormal noise scale σ; 0 means 0.3
	Seed      uint64
}

func (c SurvivalConfig) withDefaults() SurvivalConfig {
	if c.Beta == nil {
		c.Beta = []float64{1, -1, 0.5, 0, 0}
		c.Intercept = 0.5
	}
	if c.Dim == 0 {
		c.Dim = len(c.Beta)
	}
	if c.Sigma == 0 {
		c.Sigma = 0.3
	}
	return c
}

// Eta returns the linear predictor η(x) = Intercept + ⟨Beta, x⟩.
func (c SurvivalConfig) Eta(x []float32) float64 {
	c = c.withDefaults()
	eta := c.Intercept
	for j, b := range c.Beta {
		if j < len(x) {
			eta += b * float64(x[j])
		}
	}
	return eta
}

// Hazard returns the true hazard h(t | x) of the model at t > 0.
func (c SurvivalConfig) Hazard(x []float32, t float64) float64 {
	c = c.withDefaults()
	eta := c.Eta(x)
	if c.Model == Exponential {
		return math.Exp(eta)
	}
	z := (math.Log(t) - eta) / c.Sigma
	pdf := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
	return pdf / (c.Sigma * t * 0.5 * math.Erfc(z/math.Sqrt2))
}

// SurvivalProb returns the true survival function S(t | x) = P(T > t | x).
func (c SurvivalConfig) SurvivalProb(x []float32, t float64) float64 {
	c = c.withDefaults()
	eta := c.Eta(x)
	if c.Model == Exponential {
		return math.Exp(-t * math.Exp(eta))
	}
	if t <= 0 {
		return 1
	}
	return 0.5 * math.Erfc((math.Log(t)-eta)/(c.Sigma*math.Sqrt2))
}

// MeanTime returns the true E[T | x]: exp(η + σ²/2) for LogNormal, exp(−η) for Exponential.
func (c SurvivalConfig) MeanTime(x []float32) float64 {
	c = c.withDefaults()
	if c.Model == Exponential {
		return math.Exp(-c.Eta(x))
	}
	return math.Exp(c.Eta(x) + c.Sigma*c.Sigma/2)
}

// Survival draws an uncensored survival set: X ~ U[0,1]^Dim, true durations in Times, Events all 1,
// no class labels (Classes 0). Apply Censor to censor a training copy.
func Survival(cfg SurvivalConfig) (*Set, error) {
	cfg = cfg.withDefaults()
	if cfg.N <= 0 || cfg.Dim < 1 || len(cfg.Beta) > cfg.Dim || !(cfg.Sigma > 0) ||
		(cfg.Model != LogNormal && cfg.Model != Exponential) {
		return nil, fmt.Errorf("data: bad survival config N=%d Dim=%d len(Beta)=%d Sigma=%g Model=%d", cfg.N, cfg.Dim, len(cfg.Beta), cfg.Sigma, cfg.Model)
	}
	r := newRand(cfg.Seed, streamSamples)
	d := cfg.Dim
	s := &Set{
		Name: "survival", Shape: []int{d}, X: make([]float32, cfg.N*d),
		Y: make([]int32, cfg.N), IDs: sequentialIDs(cfg.N),
		Times: make([]float32, cfg.N), Events: make([]int32, cfg.N),
	}
	for i := range cfg.N {
		x := s.X[i*d : (i+1)*d]
		for j := range x {
			x[j] = float32(r.Float64())
		}
		eta := cfg.Eta(x)
		var t float64
		if cfg.Model == Exponential {
			t = r.ExpFloat64() * math.Exp(-eta)
		} else {
			t = math.Exp(eta + cfg.Sigma*r.NormFloat64())
		}
		s.Times[i] = float32(max(t, math.SmallestNonzeroFloat32))
		s.Events[i] = 1
	}
	return s, nil
}

// CensorConfig describes random right-censoring: censoring times C_i ~ Exp(rate λ_i) with
// λ_i = r·exp(Dependence·x_{i,Feature}) (independent of X when Dependence is 0).
type CensorConfig struct {
	// Rate is the wanted fraction of censored examples, in [0, 1]. The scale r is chosen on this
	// sample so that exactly round(Rate·N) examples are censored.
	Rate float64
	// Hazard, when > 0, fixes r instead of tuning it to Rate (e.g. to reuse a training set's r).
	Hazard     float64
	Dependence float64 // γ in λ_i = r·exp(γ·x_{i,Feature}); e.g. 2 for the X-dependent arm of 20-kmrisk
	Feature    int     // which feature drives the dependence
	Seed       uint64
}

// Censor returns a copy of s with observed times min(T_i, C_i) and events 1[T_i ≤ C_i], where T_i
// are s.Times (which must be uncensored) and C_i are drawn as cfg says; it also returns the scale r.
// The realised censored fraction is s.CensoredFraction() of the result.
func Censor(s *Set, cfg CensorConfig) (censored *Set, hazard float64, err error) {
	n := s.Len()
	if s.Times == nil || len(s.Times) != n {
		return nil, 0, fmt.Errorf("data: set %q has no survival times to censor", s.Name)
	}
	for i, e := range s.Events {
		if e != 1 {
			return nil, 0, fmt.Errorf("data: set %q example %d is already censored; censor the uncensored set", s.Name, i)
		}
	}
	if !(cfg.Rate >= 0 && cfg.Rate <= 1) || cfg.Hazard < 0 || (cfg.Dependence != 0 && (cfg.Feature < 0 || cfg.Feature >= s.Dim())) {
		return nil, 0, fmt.Errorf("data: bad censoring config %+v for set %q of dim %d", cfg, s.Name, s.Dim())
	}
	r := newRand(cfg.Seed, streamCensor)
	d := s.Dim()
	// C_i = E_i / (r·w_i) with E_i ~ Exp(1) and w_i = exp(γ x_i); example i is censored iff
	// C_i < T_i, i.e. iff v_i = E_i/(w_i·T_i) < r: the censored count is monotone in r.
	e := make([]float64, n)
	v := make([]float64, n)
	w := make([]float64, n)
	for i := range n {
		e[i] = r.ExpFloat64()
		w[i] = 1
		if cfg.Dependence != 0 {
			w[i] = math.Exp(cfg.Dependence * float64(s.X[i*d+cfg.Feature]))
		}
		v[i] = e[i] / (w[i] * float64(s.Times[i]))
	}
	hazard = cfg.Hazard
	if hazard == 0 && n > 0 {
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		m := int(math.Round(cfg.Rate * float64(n)))
		switch {
		case m == 0:
			hazard = 0
		case m == n:
			hazard = 2 * sorted[n-1]
		default:
			hazard = (sorted[m-1] + sorted[m]) / 2
		}
	}
	out := s.shallow()
	out.Name = s.Name + "+censored"
	if out.Events == nil {
		out.Events = make([]int32, n)
		for i := range out.Events {
			out.Events[i] = 1
		}
	}
	for i := range n {
		if v[i] < hazard {
			out.Times[i] = float32(e[i] / (hazard * w[i]))
			out.Events[i] = 0
		}
	}
	return out, hazard, nil
}

// CensoredFraction returns the fraction of examples with Events 0 (0 when there are no events).
func (s *Set) CensoredFraction() float64 {
	if len(s.Events) == 0 {
		return 0
	}
	c := 0
	for _, e := range s.Events {
		if e == 0 {
			c++
		}
	}
	return float64(c) / float64(len(s.Events))
}
