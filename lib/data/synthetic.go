package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// balancedLabels returns n labels, n/k of each class (the first n mod k classes get one more), in a
// random order.
func balancedLabels(r *rand.Rand, n, k int) []int32 {
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(i % k)
	}
	r.Shuffle(n, func(i, j int) { y[i], y[j] = y[j], y[i] })
	return y
}

func sequentialIDs(n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i)
	}
	return ids
}

// BlobsConfig describes a Gaussian-blob classification task.
type BlobsConfig struct {
	N       int     // number of examples (balanced across classes)
	Classes int     // K, default 2
	Dim     int     // D, default 2
	Radius  float64 // class centres are uniform on the sphere of this radius; default 3
	Spread  float64 // per-coordinate standard deviation around a centre; default 1
	Seed    uint64
}

func (c BlobsConfig) withDefaults() BlobsConfig {
	if c.Classes == 0 {
		c.Classes = 2
	}
	if c.Dim == 0 {
		c.Dim = 2
	}
	if c.Radius == 0 {
		c.Radius = 3
	}
	if c.Spread == 0 {
		c.Spread = 1
	}
	return c
}

// Centers returns the K class centres ([K][D]) of the task; they depend only on Seed, Classes, Dim and
// Radius, not on N.
func (c BlobsConfig) Centers() [][]float64 {
	c = c.withDefaults()
	if c.Classes < 1 || c.Dim < 1 {
		return nil
	}
	r := newRand(c.Seed, streamTask)
	centers := make([][]float64, c.Classes)
	for k := range centers {
		v := make([]float64, c.Dim)
		norm := 0.0
		for norm == 0 {
			norm = 0
			for j := range v {
				v[j] = r.NormFloat64()
				norm += v[j] * v[j]
			}
		}
		norm = math.Sqrt(norm)
		for j := range v {
			v[j] *= c.Radius / norm
		}
		centers[k] = v
	}
	return centers
}

// Blobs draws a Gaussian mixture: x = μ_y + Spread·ε, ε ~ N(0, I_D), with balanced labels y and
// centres μ_k from Centers. Generate train and test data in one call and use Split.
func Blobs(cfg BlobsConfig) (*Set, error) {
	cfg = cfg.withDefaults()
	if cfg.N <= 0 || cfg.Classes < 1 || cfg.Dim < 1 || !(cfg.Radius >= 0) || !(cfg.Spread >= 0) {
		return nil, fmt.Errorf("data: bad blobs config %+v (want N > 0, Classes ≥ 1, Dim ≥ 1, Radius ≥ 0, Spread ≥ 0)", cfg)
	}
	centers := cfg.Centers()
	r := newRand(cfg.Seed, streamSamples)
	s := &Set{
		Name:    fmt.Sprintf("blobs-k%d-d%d", cfg.Classes, cfg.Dim),
		Shape:   []int{cfg.Dim},
		X:       make([]float32, cfg.N*cfg.Dim),
		Y:       balancedLabels(r, cfg.N, cfg.Classes),
		IDs:     sequentialIDs(cfg.N),
		Classes: cfg.Classes,
	}
	for i, y := range s.Y {
		for j, m := range centers[y] {
			s.X[i*cfg.Dim+j] = float32(m + cfg.Spread*r.NormFloat64())
		}
	}
	return s, nil
}

// MoonsConfig describes the two-moons task.
type MoonsConfig struct {
	N     int     // number of examples (balanced)
	Noise float64 // standard deviation of Gaussian noise added to both coordinates (e.g. 0.1)
	Seed  uint64
}

// Moons draws two interleaved half circles: class 0 at (cos t, sin t), class 1 at
// (1 − cos t, 0.5 − sin t), t ~ U[0, π], plus N(0, Noise²) noise per coordinate.
func Moons(cfg MoonsConfig) (*Set, error) {
	if cfg.N <= 0 || cfg.Noise < 0 {
		return nil, fmt.Errorf("data: bad moons config %+v (want N > 0, Noise ≥ 0)", cfg)
	}
	r := newRand(cfg.Seed, streamSamples)
	s := &Set{
		Name: "moons", Shape: []int{2}, X: make([]float32, 2*cfg.N),
		Y: balancedLabels(r, cfg.N, 2), IDs: sequentialIDs(cfg.N), Classes: 2,
	}
	for i, y := range s.Y {
		t := math.Pi * r.Float64()
		x0, x1 := math.Cos(t), math.Sin(t)
		if y == 1 {
			x0, x1 = 1-x0, 0.5-x1
		}
		s.X[2*i] = float32(x0 + cfg.Noise*r.NormFloat64())
		s.X[2*i+1] = float32(x1 + cfg.Noise*r.NormFloat64())
	}
	return s, nil
}

// SpiralsConfig describes interleaved spirals, one arm per class.
type SpiralsConfig struct {
	N       int     // number of examples (balanced)
	Classes int     // number of arms, default 2
	Turns   float64 // revolutions of each arm, default 1
	Noise   float64 // standard deviation of Gaussian noise per coordinate (e.g. 0.05)
	Seed    uint64
}

// Spirals draws K interleaved spiral arms: for class k, t ~ U[0, 1], radius t and angle
// 2π(Turns·t + k/K), plus N(0, Noise²) per coordinate. Points lie in the unit disc (before noise).
func Spirals(cfg SpiralsConfig) (*Set, error) {
	if cfg.Classes == 0 {
		cfg.Classes = 2
	}
	if cfg.Turns == 0 {
		cfg.Turns = 1
	}
	if cfg.N <= 0 || cfg.Classes < 1 || cfg.Noise < 0 || cfg.Turns < 0 {
		return nil, fmt.Errorf("data: bad spirals config %+v (want N > 0, Classes ≥ 1, Turns ≥ 0, Noise ≥ 0)", cfg)
	}
	r := newRand(cfg.Seed, streamSamples)
	s := &Set{
		Name: fmt.Sprintf("spirals-k%d", cfg.Classes), Shape: []int{2}, X: make([]float32, 2*cfg.N),
		Y: balancedLabels(r, cfg.N, cfg.Classes), IDs: sequentialIDs(cfg.N), Classes: cfg.Classes,
	}
	for i, y := range s.Y {
		t := r.Float64()
		a := 2 * math.Pi * (cfg.Turns*t + float64(y)/float64(cfg.Classes))
		s.X[2*i] = float32(t*math.Cos(a) + cfg.Noise*r.NormFloat64())
		s.X[2*i+1] = float32(t*math.Sin(a) + cfg.Noise*r.NormFloat64())
	}
	return s, nil
}

// SeparableConfig describes linearly separable binary data with a margin.
type SeparableConfig struct {
	N      int     // number of examples
	Dim    int     // D, default 2
	Margin float64 // every example has |⟨w, x⟩| ≥ Margin; must be ≥ 0
	Seed   uint64
}

// Direction returns the unit normal w of the separating hyperplane (through the origin); it depends
// only on Seed and Dim.
func (c SeparableConfig) Direction() []float64 {
	if c.Dim == 0 {
		c.Dim = 2
	}
	r := newRand(c.Seed, streamTask)
	w := make([]float64, c.Dim)
	norm := 0.0
	for norm == 0 {
		norm = 0
		for j := range w {
			w[j] = r.NormFloat64()
			norm += w[j] * w[j]
		}
	}
	norm = math.Sqrt(norm)
	for j := range w {
		w[j] /= norm
	}
	return w
}

// Separable draws z ~ N(0, I_D) and sets x = z + sign(⟨w, z⟩)·Margin·w, y = 1[⟨w, x⟩ > 0], so the
// classes are separated by the hyperplane ⟨w, x⟩ = 0 (w from Direction) with geometric margin at least
// Margin on each side. Labels are {0, 1}; classes are balanced in expectation.
func Separable(cfg SeparableConfig) (*Set, error) {
	if cfg.Dim == 0 {
		cfg.Dim = 2
	}
	if cfg.N <= 0 || cfg.Dim < 1 || !(cfg.Margin >= 0) {
		return nil, fmt.Errorf("data: bad separable config %+v (want N > 0, Dim ≥ 1, Margin ≥ 0)", cfg)
	}
	w := cfg.Direction()
	r := newRand(cfg.Seed, streamSamples)
	d := cfg.Dim
	s := &Set{
		Name: fmt.Sprintf("separable-d%d", d), Shape: []int{d}, X: make([]float32, cfg.N*d),
		Y: make([]int32, cfg.N), IDs: sequentialIDs(cfg.N), Classes: 2,
	}
	z := make([]float64, d)
	for i := range cfg.N {
		dot := 0.0
		for dot == 0 {
			dot = 0
			for j := range z {
				z[j] = r.NormFloat64()
				dot += z[j] * w[j]
			}
		}
		sign := 1.0
		if dot < 0 {
			sign = -1
		} else {
			s.Y[i] = 1
		}
		for j := range z {
			s.X[i*d+j] = float32(z[j] + sign*cfg.Margin*w[j])
		}
	}
	return s, nil
}

// ParityConfig describes the sparse parity task: n random bits, the label is the XOR of k of them.
type ParityConfig struct {
	N        int    // number of examples
	Bits     int    // n
	K        int    // number of relevant bits, 1 ≤ K ≤ Bits
	Relevant []int  // the relevant bit positions; nil picks K of them at random from Seed
	ZeroOne  bool   // features in {0, 1}; default {−1, +1} (bit b is feature 1 − 2b)
	Seed     uint64 //
}

// RelevantBits returns the positions of the relevant bits, sorted: cfg.Relevant if given, else K
// positions drawn from Seed.
func (c ParityConfig) RelevantBits() []int {
	if c.Relevant != nil {
		return slices.Sorted(slices.Values(c.Relevant))
	}
	if c.K < 0 || c.K > c.Bits {
		return nil
	}
	p := permutation(newRand(c.Seed, streamTask), c.Bits)[:c.K]
	slices.Sort(p)
	return p
}

// SparseParity draws uniform bits b ∈ {0,1}^n and labels y = ⊕_{j ∈ S} b_j over the relevant set S
// (RelevantBits). Features are 1 − 2b ∈ {−1, +1} (so y = 1 iff ∏_{j∈S} x_j = −1) or b with ZeroOne.
func SparseParity(cfg ParityConfig) (*Set, error) {
	if cfg.Relevant != nil {
		cfg.K = len(cfg.Relevant)
		for _, j := range cfg.Relevant {
			if j < 0 || j >= cfg.Bits {
				return nil, fmt.Errorf("data: relevant bit %d outside [0, %d)", j, cfg.Bits)
			}
		}
	}
	if cfg.N <= 0 || cfg.Bits < 1 || cfg.K < 1 || cfg.K > cfg.Bits {
		return nil, fmt.Errorf("data: bad parity config N=%d Bits=%d K=%d (want N > 0, 1 ≤ K ≤ Bits)", cfg.N, cfg.Bits, cfg.K)
	}
	rel := cfg.RelevantBits()
	r := newRand(cfg.Seed, streamSamples)
	n := cfg.Bits
	s := &Set{
		Name: fmt.Sprintf("parity-n%d-k%d", n, cfg.K), Shape: []int{n}, X: make([]float32, cfg.N*n),
		Y: make([]int32, cfg.N), IDs: sequentialIDs(cfg.N), Classes: 2,
	}
	bits := make([]uint8, n)
	for i := range cfg.N {
		for j := range bits {
			bits[j] = uint8(r.Uint32() & 1)
			if cfg.ZeroOne {
				s.X[i*n+j] = float32(bits[j])
			} else {
				s.X[i*n+j] = 1 - 2*float32(bits[j])
			}
		}
		var y uint8
		for _, j := range rel {
			y ^= bits[j]
		}
		s.Y[i] = int32(y)
	}
	return s, nil
}

// ModularConfig describes the modular-arithmetic task a ∘ b mod P.
type ModularConfig struct {
	P         int     // modulus, ≥ 2; must be prime for "/"
	Op        string  // "+" (default), "-", "*" or "/" (a·b⁻¹, with b ≠ 0)
	TrainFrac float64 // fraction of all pairs in the training set, in (0, 1]
	OneHot    bool    // features are concat(onehot(a), onehot(b)) [2P]; default the operand ids (a, b) [2]
	Seed      uint64  // picks the train/test split
}

// Modular enumerates every pair (a, b), a, b ∈ [0, P) (b ≠ 0 for "/"), labels each with
// c = a ∘ b mod P (P classes), and splits the pairs at random into train (round(TrainFrac·#pairs)) and
// test. Features are the operand ids as float32 (a, b), for an embedding lookup, or one-hot with
// OneHot. The id of pair (a, b) is a·P + b in both sets.
func Modular(cfg ModularConfig) (train, test *Set, err error) {
	if cfg.Op == "" {
		cfg.Op = "+"
	}
	if cfg.P < 2 || cfg.P > 46340 || !(cfg.TrainFrac > 0 && cfg.TrainFrac <= 1) {
		return nil, nil, fmt.Errorf("data: bad modular config P=%d TrainFrac=%g (want 2 ≤ P ≤ 46340, 0 < TrainFrac ≤ 1)", cfg.P, cfg.TrainFrac)
	}
	p := cfg.P
	var op func(a, b int) int
	bStart := 0
	switch cfg.Op {
	case "+":
		op = func(a, b int) int { return (a + b) % p }
	case "-":
		op = func(a, b int) int { return ((a-b)%p + p) % p }
	case "*":
		op = func(a, b int) int { return a * b % p }
	case "/":
		for q := 2; q*q <= p; q++ {
			if p%q == 0 {
				return nil, nil, fmt.Errorf("data: modular division needs a prime modulus, %d = %d·%d", p, q, p/q)
			}
		}
		inv := make([]int, p)
		for b := 1; b < p; b++ {
			inv[b] = powMod(b, p-2, p)
		}
		op = func(a, b int) int { return a * inv[b] % p }
		bStart = 1
	default:
		return nil, nil, fmt.Errorf("data: unknown modular op %q (want +, -, * or /)", cfg.Op)
	}
	var pairs [][2]int
	for a := range p {
		for b := bStart; b < p; b++ {
			pairs = append(pairs, [2]int{a, b})
		}
	}
	dim := 2
	if cfg.OneHot {
		dim = 2 * p
	}
	all := &Set{
		Name:  fmt.Sprintf("modular-%s-p%d", map[string]string{"+": "add", "-": "sub", "*": "mul", "/": "div"}[cfg.Op], p),
		Shape: []int{dim}, X: make([]float32, len(pairs)*dim),
		Y: make([]int32, len(pairs)), IDs: make([]int32, len(pairs)), Classes: p,
	}
	for i, ab := range pairs {
		a, b := ab[0], ab[1]
		if cfg.OneHot {
			all.X[i*dim+a] = 1
			all.X[i*dim+p+b] = 1
		} else {
			all.X[i*dim], all.X[i*dim+1] = float32(a), float32(b)
		}
		all.Y[i] = int32(op(a, b))
		all.IDs[i] = int32(a*p + b)
	}
	perm := permutation(newRand(cfg.Seed, streamSplit), len(pairs))
	k := int(cfg.TrainFrac*float64(len(pairs)) + 0.5)
	tr, te := slices.Clone(perm[:k]), slices.Clone(perm[k:])
	slices.Sort(tr)
	slices.Sort(te)
	train, test = all.Subset(tr), all.Subset(te)
	train.Name += "/train"
	test.Name += "/test"
	return train, test, nil
}

func powMod(b, e, m int) int {
	r := 1
	b %= m
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = r * b % m
		}
		b = b * b % m
	}
	return r
}
