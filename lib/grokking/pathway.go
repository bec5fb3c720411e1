package grokking

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Hop is one element of a pathway: an expert chosen at a layer. Two hops are equal only when both the
// layer and the expert agree, so the same expert id at different layers never matches.
type Hop struct {
	Layer, Expert int
}

// Levenshtein returns the edit distance between a and b: the least number of single-element
// insertions, deletions and substitutions (each of cost 1) that turn a into b.
func Levenshtein[T comparable](a, b []T) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// TopK returns the indices of the k largest weights, largest first; equal weights are ordered by the
// lower index first, so the choice is reproducible. It panics if k is outside [1, len(w)] (callers
// check k).
func TopK(w []float64, k int) []int {
	idx := make([]int, len(w))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case w[a] > w[b]:
			return -1
		case w[a] < w[b]:
			return 1
		}
		return a - b
	})
	return idx[:k]
}

// checkGates validates router weights gates [layer][expert] for top-k routing.
func checkGates(gates [][]float64, k int) error {
	if len(gates) == 0 {
		return errors.New("grokking: no layers in the router weights")
	}
	for l, g := range gates {
		if k < 1 || k > len(g) {
			return fmt.Errorf("grokking: top-k %d is outside [1, %d experts] at layer %d", k, len(g), l)
		}
		for e, v := range g {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("grokking: router weight %v at layer %d, expert %d (want finite and ≥ 0)", v, l, e)
			}
		}
	}
	return nil
}

// Pathway returns the pathway of one sample from its router weights gates [layer][expert]: at each
// layer ℓ (counted from 0) the k experts of largest weight, in descending order of weight (ties: lower
// expert id first), tagged with ℓ, concatenated over layers (length layers·k).
//
// Within a layer the order matters (our reading, not verified against the paper): swapping
// the two experts of a layer costs 2 edits, where a per-layer set distance would count 0.
func Pathway(gates [][]float64, k int) ([]Hop, error) {
	if err := checkGates(gates, k); err != nil {
		return nil, err
	}
	var p []Hop
	for l, g := range gates {
		for _, e := range TopK(g, k) {
			p = append(p, Hop{Layer: l, Expert: e})
		}
	}
	return p, nil
}

// PairStats is the dataset-level pathway distance D̄: the mean edit distance over sample pairs, and
// that mean divided by the pathway length (layers·k), which lies in [0, 1].
type PairStats struct {
	Mean, Normalized float64
	Pairs            int
}

// MeanPathwayDistance returns D̄ over the pathways: the mean Levenshtein distance over all pairs
// i < j if there are at most maxPairs of them (maxPairs ≤ 0: always all pairs), otherwise over
// maxPairs pairs i ≠ j drawn uniformly (with replacement) with the given seed. All pathways must have
// the same length.
func MeanPathwayDistance(paths [][]Hop, maxPairs int, seed uint64) (PairStats, error) {
	n := len(paths)
	if n < 2 {
		return PairStats{}, fmt.Errorf("grokking: D̄ needs at least 2 pathways, got %d", n)
	}
	length := len(paths[0])
	for i, p := range paths {
		if len(p) != length || length == 0 {
			return PairStats{}, fmt.Errorf("grokking: pathway %d has length %d, pathway 0 has %d (want equal and > 0)", i, len(p), length)
		}
	}
	total, count := 0, 0
	if all := n * (n - 1) / 2; maxPairs <= 0 || all <= maxPairs {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				total += Levenshtein(paths[i], paths[j])
			}
		}
		count = all
	} else {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		for ; count < maxPairs; count++ {
			i := r.IntN(n)
			j := r.IntN(n - 1)
			if j >= i {
				j++
			}
			total += Levenshtein(paths[i], paths[j])
		}
	}
	mean := float64(total) / float64(count)
	return PairStats{Mean: mean, Normalized: mean / float64(length), Pairs: count}, nil
}

// Consistency returns the pathway consistency c of one sample (complexity is 1 − c):
//
//	v_ℓ = Σ_{j ∈ topk_ℓ} w̃_{ℓ,j} u_{ℓ,j},   w̃ = router weights renormalised over the top-k,
//	c   = (1/(H−1)) Σ_{ℓ=1}^{H−1} cos(v_ℓ, v_{ℓ+1}),
//
// for router weights gates [H][E] and expert embeddings emb [H][E][D] (our default embedding: the
// router's column for expert j, in the residual-stream space, so that layers are comparable). It needs
// H ≥ 2, and every v_ℓ must be non-zero.
func Consistency(gates [][]float64, emb [][][]float64, k int) (float64, error) {
	if err := checkGates(gates, k); err != nil {
		return 0, err
	}
	h := len(gates)
	if h < 2 {
		return 0, fmt.Errorf("grokking: consistency needs at least 2 layers, got %d", h)
	}
	if len(emb) != h {
		return 0, fmt.Errorf("grokking: %d layers of expert embeddings for %d layers of router weights", len(emb), h)
	}
	vs := make([][]float64, h)
	for l, g := range gates {
		if len(emb[l]) != len(g) {
			return 0, fmt.Errorf("grokking: layer %d has %d expert embeddings for %d experts", l, len(emb[l]), len(g))
		}
		top := TopK(g, k)
		sum := 0.0
		for _, e := range top {
			sum += g[e]
		}
		if !(sum > 0) {
			return 0, fmt.Errorf("grokking: the top-%d router weights of layer %d sum to 0", k, l)
		}
		d := len(emb[l][top[0]])
		v := make([]float64, d)
		for _, e := range top {
			if len(emb[l][e]) != d {
				return 0, fmt.Errorf("grokking: expert embedding (%d, %d) has %d dimensions, want %d", l, e, len(emb[l][e]), d)
			}
			for i, u := range emb[l][e] {
				v[i] += g[e] / sum * u
			}
		}
		vs[l] = v
	}
	c := 0.0
	for l := 0; l+1 < h; l++ {
		cos, err := cosine(vs[l], vs[l+1])
		if err != nil {
			return 0, fmt.Errorf("grokking: layers %d and %d: %w", l, l+1, err)
		}
		c += cos
	}
	return c / float64(h-1), nil
}

func cosine(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("vectors of %d and %d dimensions", len(a), len(b))
	}
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 0, errors.New("a weighted expert vector is zero")
	}
	return math.Max(-1, math.Min(1, ab/math.Sqrt(aa*bb))), nil
}

// UsageEntropy returns, for each layer, the entropy (in nats) of the distribution of expert choices
// over the pathways (every hop of a layer counts once); its maximum is log E for E experts used
// evenly. layers and experts give the table's size.
func UsageEntropy(paths [][]Hop, layers, experts int) ([]float64, error) {
	if layers < 1 || experts < 1 {
		return nil, fmt.Errorf("grokking: bad table size %d layers × %d experts", layers, experts)
	}
	counts := make([][]float64, layers)
	for l := range counts {
		counts[l] = make([]float64, experts)
	}
	for i, p := range paths {
		for _, hp := range p {
			if hp.Layer < 0 || hp.Layer >= layers || hp.Expert < 0 || hp.Expert >= experts {
				return nil, fmt.Errorf("grokking: pathway %d has hop %+v outside %d layers × %d experts", i, hp, layers, experts)
			}
			counts[hp.Layer][hp.Expert]++
		}
	}
	out := make([]float64, layers)
	for l, c := range counts {
		total := 0.0
		for _, v := range c {
			total += v
		}
		for _, v := range c {
			if v > 0 {
				out[l] -= v / total * math.Log(v/total)
			}
		}
	}
	return out, nil
}
