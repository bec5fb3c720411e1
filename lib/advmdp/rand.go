package advmdp

import (
	"math"
	"math/rand/v2"
)

// newRand returns a PCG generator for (seed, stream): different streams give independent sequences
// from one user seed.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream^0x9e3779b97f4a7c15))
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method (boosted by U^{1/shape} for
// shape < 1).
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		return gamma(rng, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// dirichlet draws a point of the n-simplex from Dirichlet(alpha·1_n).
func dirichlet(rng *rand.Rand, alpha float64, n int) []float64 {
	x := make([]float64, n)
	for {
		sum := 0.0
		for i := range x {
			x[i] = gamma(rng, alpha)
			sum += x[i]
		}
		if sum > 0 {
			for i := range x {
				x[i] /= sum
			}
			return x
		}
	}
}

// categorical draws an index with probabilities p (which sum to 1 up to rounding).
func categorical(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	c := 0.0
	last := 0
	for i, v := range p {
		if v <= 0 {
			continue
		}
		c += v
		last = i
		if u < c {
			return i
		}
	}
	return last
}
