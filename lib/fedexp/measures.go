package fedexp

import "math"

// Mean is the mean of xs (NaN for none).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Mean32 is the mean of xs (NaN for none).
func Mean32(xs []float32) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(len(xs))
}

// Final is the curve's accuracy at the end of training, averaged over its last k rounds (all of them
// when it has fewer) to smooth the round-to-round jumps of non-IID training.
func Final(c []float64, k int) float64 {
	k = max(min(k, len(c)), 1)
	return Mean(c[len(c)-k:])
}

// Jitter is the round-to-round variation of a curve: the mean |a(r) − a(r−1)| over the rounds r of the
// second half, r ≥ ⌊R/2⌋ + 1 (1-based) and r ≥ 2.
func Jitter(c []float64) float64 {
	lo := max(len(c)/2, 1)
	if lo >= len(c) {
		return math.NaN()
	}
	s := 0.0
	for r := lo; r < len(c); r++ {
		s += math.Abs(c[r] - c[r-1])
	}
	return s / float64(len(c)-lo)
}

// RoundsTo is the first round (1-based) after which the curve reaches target, or len(c)+1 when it
// never does (a censored count: "not within the run").
func RoundsTo(c []float64, target float64) int {
	for i, v := range c {
		if v >= target {
			return i + 1
		}
	}
	return len(c) + 1
}

// PerRun applies m to each of the arm's final runs.
func (a *ArmResult) PerRun(m func([]float64) float64) []float64 {
	out := make([]float64, len(a.Curves))
	for i, c := range a.Curves {
		out[i] = m(c)
	}
	return out
}

// Speed returns, per run, the rounds the method and the baseline take to reach frac × the baseline's
// final accuracy (Final over the last k rounds) of that run: the target is set by the baseline, and
// both arms of run r share its seed, so the counts are paired.
func Speed(method, baseline *ArmResult, frac float64, k int) (m, b []float64) {
	for r := range min(len(method.Curves), len(baseline.Curves)) {
		target := frac * Final(baseline.Curves[r], k)
		m = append(m, float64(RoundsTo(method.Curves[r], target)))
		b = append(b, float64(RoundsTo(baseline.Curves[r], target)))
	}
	return m, b
}
