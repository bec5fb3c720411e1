package data

import (
	"math"
	"math/rand/v2"
)

// PCG stream ids, one per kind of random choice, so that independent parts of a generator draw from
// independent sequences for the same seed.
const (
	streamSamples uint64 = 0x5eed0001 + iota
	streamTask
	streamShuffle
	streamNoise
	streamImbalance
	streamSplit
	streamCensor
	streamEpisodes
	streamAugment
	streamMask
	streamSubset
	streamShapes
)

// newRand returns a PCG generator for the given seed and stream.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// logGamma draws log(G) for G ~ Gamma(shape, 1), by Marsaglia and Tsang's method. Working in
// log space keeps tiny shapes (Dirichlet α = 0.01) from underflowing to zero: for shape < 1 it uses
// G(shape) = G(shape+1) · U^(1/shape).
func logGamma(r *rand.Rand, shape float64) float64 {
	boost := 0.0
	if shape < 1 {
		u := 1 - r.Float64() // (0, 1]
		boost = math.Log(u) / shape
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return math.Log(d*v) + boost
		}
	}
}

// dirichlet draws p ~ Dir(alpha·1_k).
func dirichlet(r *rand.Rand, k int, alpha float64) []float64 {
	logs := make([]float64, k)
	maxLog := math.Inf(-1)
	for i := range logs {
		logs[i] = logGamma(r, alpha)
		maxLog = max(maxLog, logs[i])
	}
	p := make([]float64, k)
	sum := 0.0
	for i, l := range logs {
		p[i] = math.Exp(l - maxLog)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// permutation returns a random permutation of 0..n-1.
func permutation(r *rand.Rand, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}
