package data

import (
	"fmt"
	"math"
	"slices"
)

// NoiseKind selects how LabelNoise corrupts a label.
type NoiseKind int

const (
	// Symmetric replaces a corrupted label by a uniformly random other class, so every corrupted
	// label changes: the expected fraction of changed labels is the rate.
	Symmetric NoiseKind = iota
	// Uniform replaces a corrupted label by a uniformly random class, possibly the same one (the
	// convention of some label-noise code): the expected fraction of changed labels is rate·(K−1)/K.
	Uniform
	// Pairwise (asymmetric, class-dependent) maps a corrupted label y to (y+1) mod K.
	Pairwise
)

func (k NoiseKind) String() string {
	switch k {
	case Symmetric:
		return "symmetric"
	case Uniform:
		return "uniform"
	case Pairwise:
		return "pairwise"
	}
	return fmt.Sprintf("NoiseKind(%d)", int(k))
}

// NoiseConfig describes label noise.
type NoiseConfig struct {
	Kind NoiseKind
	Rate float64 // probability that an example's label is corrupted, in [0, 1]
	// Exact corrupts exactly round(Rate·N) examples chosen at random, instead of each example
	// independently with probability Rate.
	Exact bool
	Seed  uint64
}

// LabelNoise returns a copy of s (sharing X) whose labels are corrupted as cfg says, and the realised
// fraction of labels that differ from the originals. Ids are unchanged, so clean labels can be looked
// up in s. Typically applied to training data only.
func LabelNoise(s *Set, cfg NoiseConfig) (noisy *Set, changed float64, err error) {
	if !(cfg.Rate >= 0 && cfg.Rate <= 1) {
		return nil, 0, fmt.Errorf("data: label-noise rate %g outside [0, 1]", cfg.Rate)
	}
	if s.Classes < 2 {
		return nil, 0, fmt.Errorf("data: label noise needs at least 2 classes, set %q has %d", s.Name, s.Classes)
	}
	if cfg.Kind < Symmetric || cfg.Kind > Pairwise {
		return nil, 0, fmt.Errorf("data: unknown label-noise kind %d", int(cfg.Kind))
	}
	r := newRand(cfg.Seed, streamNoise)
	n, k := s.Len(), int32(s.Classes)
	corrupt := make([]bool, n)
	if cfg.Exact {
		m := int(math.Round(cfg.Rate * float64(n)))
		for _, i := range permutation(r, n)[:m] {
			corrupt[i] = true
		}
	} else {
		for i := range corrupt {
			corrupt[i] = r.Float64() < cfg.Rate
		}
	}
	noisy = s.shallow()
	noisy.Name = fmt.Sprintf("%s+%s-noise-%g", s.Name, cfg.Kind, cfg.Rate)
	nChanged := 0
	for i, y := range s.Y {
		if !corrupt[i] {
			continue
		}
		switch cfg.Kind {
		case Symmetric:
			z := r.Int32N(k - 1)
			if z >= y {
				z++
			}
			noisy.Y[i] = z
		case Uniform:
			noisy.Y[i] = r.Int32N(k)
		case Pairwise:
			noisy.Y[i] = (y + 1) % k
		}
		if noisy.Y[i] != y {
			nChanged++
		}
	}
	if n > 0 {
		changed = float64(nChanged) / float64(n)
	}
	return noisy, changed, nil
}

// ImbalanceConfig describes a long-tailed subsample.
type ImbalanceConfig struct {
	// Ratio is n_0/n_{K−1} ≥ 1, the imbalance between the head class 0 and the tail class K−1.
	// Class c keeps n_c = floor(Max·Ratio^(−c/(K−1))) examples (an exponential profile).
	Ratio float64
	// Max is n_0; 0 means the size of the smallest class.
	Max int
	// Counts, when set, gives n_c for every class directly (Ratio and Max are then ignored).
	Counts []int
	Seed   uint64
}

// ImbalanceCounts returns the per-class counts n_c = floor(max·ratio^(−c/(k−1))) (c = 0..k−1) of an
// exponential long-tail profile, e.g. ImbalanceCounts(10, 3000, math.Pow(0.6, -9)) gives 3000·0.6^c.
func ImbalanceCounts(k, max int, ratio float64) []int {
	counts := make([]int, k)
	for c := range counts {
		e := 0.0
		if k > 1 {
			e = -float64(c) / float64(k-1)
		}
		// The small epsilon keeps exact products such as 3000·0.6² = 1080 from rounding down to 1079.
		counts[c] = int(math.Floor(float64(max)*math.Pow(ratio, e) + 1e-9))
	}
	return counts
}

// LongTail subsamples s so that class c keeps n_c examples (see ImbalanceConfig), chosen at random
// given Seed, in their original order with their ids.
func LongTail(s *Set, cfg ImbalanceConfig) (*Set, error) {
	have := s.ClassCounts()
	counts := cfg.Counts
	if counts == nil {
		if !(cfg.Ratio >= 1) || math.IsInf(cfg.Ratio, 0) {
			return nil, fmt.Errorf("data: imbalance ratio %g must be ≥ 1 (n_head/n_tail)", cfg.Ratio)
		}
		m := cfg.Max
		if m == 0 {
			m = slices.Min(have)
		}
		counts = ImbalanceCounts(s.Classes, m, cfg.Ratio)
	}
	if len(counts) != s.Classes {
		return nil, fmt.Errorf("data: %d imbalance counts for %d classes", len(counts), s.Classes)
	}
	for c, n := range counts {
		if n < 0 || n > have[c] {
			return nil, fmt.Errorf("data: class %d of %q has %d examples, cannot keep %d", c, s.Name, have[c], n)
		}
	}
	r := newRand(cfg.Seed, streamImbalance)
	var idx []int
	for c, g := range s.ByClass() {
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		idx = append(idx, g[:counts[c]]...)
	}
	slices.Sort(idx)
	out := s.Subset(idx)
	out.Name = fmt.Sprintf("%s+long-tail", s.Name)
	return out, nil
}
