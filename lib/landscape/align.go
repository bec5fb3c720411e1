package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SolveAssignment solves the linear assignment problem max_π Σ_i C[i][π(i)] for a square matrix C with
// the Hungarian algorithm (shortest augmenting paths with potentials, O(n³)). It returns π and the value.
func SolveAssignment(c [][]float64) ([]int, float64, error) {
	n := len(c)
	for i, row := range c {
		if len(row) != n {
			return nil, 0, fmt.Errorf("landscape.SolveAssignment: row %d has %d entries, want %d (square matrix)", i, len(row), n)
		}
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, fmt.Errorf("landscape.SolveAssignment: matrix holds %g", v)
			}
		}
	}
	// Minimise the cost −C. Rows and columns are 1-based inside; index 0 is the virtual start.
	u := make([]float64, n+1)
	v := make([]float64, n+1)
	match := make([]int, n+1) // match[col] = row
	way := make([]int, n+1)
	for i := 1; i <= n; i++ {
		match[0] = i
		j0 := 0
		minv := make([]float64, n+1)
		used := make([]bool, n+1)
		for j := range minv {
			minv[j] = math.Inf(1)
		}
		for {
			used[j0] = true
			i0, delta, j1 := match[j0], math.Inf(1), 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				cur := -c[i0-1][j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[match[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if match[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			match[j0] = match[j1]
			j0 = j1
		}
	}
	perm := make([]int, n)
	total := 0.0
	for j := 1; j <= n; j++ {
		perm[match[j]-1] = j - 1
	}
	for i, j := range perm {
		total += c[i][j]
	}
	return perm, total, nil
}

// MLPLayer names the weight [in, out] and bias [out] (may be "") of one dense layer.
type MLPLayer struct {
	Weight, Bias string
}

// InferMLP reads the layers of an MLP from its groups in order: each group must hold one 2-D weight and
// at most one 1-D bias, and consecutive weights must chain (out of layer ℓ = in of layer ℓ+1).
func InferMLP(ps *ParamSet) ([]MLPLayer, error) {
	var layers []MLPLayer
	prevOut := -1
	for _, g := range ps.Groups() {
		var l MLPLayer
		for _, p := range ps.Params {
			if p.Group != g {
				continue
			}
			switch {
			case len(p.Shape) == 2 && l.Weight == "":
				l.Weight = p.Name()
			case len(p.Shape) == 1 && l.Bias == "":
				l.Bias = p.Name()
			default:
				return nil, fmt.Errorf("landscape.InferMLP: group %s is not a dense layer (parameter %s of shape %v)", g, p.Name(), p.Shape)
			}
		}
		if l.Weight == "" {
			return nil, fmt.Errorf("landscape.InferMLP: group %s has no 2-D weight", g)
		}
		w := ps.Lookup(l.Weight)
		if prevOut >= 0 && w.Shape[0] != prevOut {
			return nil, fmt.Errorf("landscape.InferMLP: %s has %d inputs but the previous layer has %d outputs", l.Weight, w.Shape[0], prevOut)
		}
		if l.Bias != "" && ps.Lookup(l.Bias).Shape[0] != w.Shape[1] {
			return nil, fmt.Errorf("landscape.InferMLP: bias %s does not match weight %s", l.Bias, l.Weight)
		}
		prevOut = w.Shape[1]
		layers = append(layers, l)
	}
	if len(layers) < 2 {
		return nil, fmt.Errorf("landscape.InferMLP: need at least two layers (one hidden layer) to permute, found %d", len(layers))
	}
	return layers, nil
}

// Permutation holds one permutation per hidden layer: Perms[ℓ][i] = k means unit i of the permuted
// model is unit k of the original (the output of layer ℓ; the output layer is never permuted).
type Permutation struct {
	Perms [][]int
}

// Inverse returns the inverse permutation.
func (p Permutation) Inverse() Permutation {
	out := Permutation{Perms: make([][]int, len(p.Perms))}
	for l, pi := range p.Perms {
		inv := make([]int, len(pi))
		for i, k := range pi {
			inv[k] = i
		}
		out.Perms[l] = inv
	}
	return out
}

// ApplyPermutation returns θ with hidden units permuted: W_ℓ ← W_ℓ[:, π_ℓ], b_ℓ ← b_ℓ[π_ℓ],
// W_{ℓ+1} ← W_{ℓ+1}[π_ℓ, :]. The network function is unchanged.
func ApplyPermutation(ps *ParamSet, layers []MLPLayer, perm Permutation) (*ParamSet, error) {
	if len(perm.Perms) != len(layers)-1 {
		return nil, fmt.Errorf("landscape.ApplyPermutation: %d permutations for %d hidden layers", len(perm.Perms), len(layers)-1)
	}
	out := ps.Clone()
	for l, pi := range perm.Perms {
		w := out.Lookup(layers[l].Weight)
		next := out.Lookup(layers[l+1].Weight)
		if w == nil || next == nil {
			return nil, fmt.Errorf("landscape.ApplyPermutation: missing weight %s or %s", layers[l].Weight, layers[l+1].Weight)
		}
		n := w.Shape[1]
		if len(pi) != n || !isPermutation(pi) {
			return nil, fmt.Errorf("landscape.ApplyPermutation: layer %d needs a permutation of %d units", l, n)
		}
		in := w.Shape[0]
		src := append([]float64(nil), w.Data...)
		for r := range in {
			for i, k := range pi {
				w.Data[r*n+i] = src[r*n+k]
			}
		}
		if layers[l].Bias != "" {
			b := out.Lookup(layers[l].Bias)
			src := append([]float64(nil), b.Data...)
			for i, k := range pi {
				b.Data[i] = src[k]
			}
		}
		cols := next.Shape[1]
		src = append([]float64(nil), next.Data...)
		for i, k := range pi {
			copy(next.Data[i*cols:(i+1)*cols], src[k*cols:(k+1)*cols])
		}
	}
	return out, nil
}

func isPermutation(p []int) bool {
	seen := make([]bool, len(p))
	for _, k := range p {
		if k < 0 || k >= len(p) || seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// RandomPermutation returns a seeded random permutation of every hidden layer.
func RandomPermutation(ps *ParamSet, layers []MLPLayer, seed uint64) Permutation {
	r := rand.New(rand.NewPCG(seed, 0x9e))
	var p Permutation
	for l := 0; l+1 < len(layers); l++ {
		p.Perms = append(p.Perms, r.Perm(ps.Lookup(layers[l].Weight).Shape[1]))
	}
	return p
}

// Alignment is the result of weight matching.
type Alignment struct {
	Perm Permutation
	// Aligned is π(θ_B).
	Aligned *ParamSet
	// Objective is Σ_ℓ ⟨W_ℓ^A, π(W_ℓ^B)⟩ + ⟨b_ℓ^A, π(b_ℓ^B)⟩ at the end; History its value after each sweep.
	Objective  float64
	History    []float64
	Sweeps     int
	Provenance Provenance
}

// MatchOptions configures WeightMatching.
type MatchOptions struct {
	// MaxIter bounds the sweeps (default 100); each sweep visits the hidden layers in a seeded random order.
	MaxIter int
	Seed    uint64
}

// WeightMatching aligns b to a (Ainsworth et al.): coordinate ascent over the hidden layers' permutations,
// each step a linear assignment on C_ℓ = (W_ℓ^A)ᵀW̃_ℓ^B + b_ℓ^A(b_ℓ^B)ᵀ + W_{ℓ+1}^A(W̃_{ℓ+1}^B)ᵀ, until no
// layer improves by more than 1e-12.
func WeightMatching(a, b *ParamSet, layers []MLPLayer, opts MatchOptions) (*Alignment, error) {
	if err := a.Compatible(b); err != nil {
		return nil, err
	}
	if opts.MaxIter == 0 {
		opts.MaxIter = 100
	}
	L := len(layers)
	perm := Permutation{Perms: make([][]int, L-1)}
	for l := range perm.Perms {
		n := a.Lookup(layers[l].Weight).Shape[1]
		perm.Perms[l] = make([]int, n)
		for i := range n {
			perm.Perms[l][i] = i
		}
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x3b))
	res := &Alignment{}
	for sweep := 0; sweep < opts.MaxIter; sweep++ {
		res.Sweeps = sweep + 1
		improved := false
		for _, l := range r.Perm(L - 1) {
			c := matchCost(a, b, layers, perm, l)
			pi, val, err := SolveAssignment(c)
			if err != nil {
				return nil, err
			}
			old := 0.0
			for i, k := range perm.Perms[l] {
				old += c[i][k]
			}
			if val > old+1e-12 {
				improved = true
				perm.Perms[l] = pi
			}
		}
		aligned, err := ApplyPermutation(b, layers, perm)
		if err != nil {
			return nil, err
		}
		res.History = append(res.History, dot(a, aligned))
		if !improved {
			break
		}
	}
	aligned, err := ApplyPermutation(b, layers, perm)
	if err != nil {
		return nil, err
	}
	res.Perm, res.Aligned, res.Objective = perm, aligned, dot(a, aligned)
	res.Provenance = newProvenance(nil, nil)
	res.Provenance.Seeds = []uint64{opts.Seed}
	res.Provenance.Notes = fmt.Sprintf("weight matching of %d hidden layers, %d sweeps", L-1, res.Sweeps)
	return res, nil
}

// matchCost builds C_ℓ[i][k]: the similarity of unit i of a and unit k of b, with the neighbouring layers'
// permutations already applied to b.
func matchCost(a, b *ParamSet, layers []MLPLayer, perm Permutation, l int) [][]float64 {
	wa, wb := a.Lookup(layers[l].Weight), b.Lookup(layers[l].Weight)
	in, n := wa.Shape[0], wa.Shape[1]
	rowOf := func(r int) int { // W̃_ℓ^B rows permuted by π_{ℓ−1}
		if l == 0 {
			return r
		}
		return perm.Perms[l-1][r]
	}
	c := make([][]float64, n)
	for i := range c {
		c[i] = make([]float64, n)
	}
	for r := range in {
		rb := rowOf(r)
		for i := range n {
			ai := wa.Data[r*n+i]
			if ai == 0 {
				continue
			}
			for k := range n {
				c[i][k] += ai * wb.Data[rb*n+k]
			}
		}
	}
	if layers[l].Bias != "" {
		ba, bb := a.Lookup(layers[l].Bias).Data, b.Lookup(layers[l].Bias).Data
		for i := range n {
			for k := range n {
				c[i][k] += ba[i] * bb[k]
			}
		}
	}
	na, nb := a.Lookup(layers[l+1].Weight), b.Lookup(layers[l+1].Weight)
	cols := na.Shape[1]
	colOf := func(j int) int { // W̃_{ℓ+1}^B columns permuted by π_{ℓ+1} (if ℓ+1 is hidden)
		if l+1 < len(perm.Perms) {
			return perm.Perms[l+1][j]
		}
		return j
	}
	for i := range n {
		for k := range n {
			s := 0.0
			for j := range cols {
				s += na.Data[i*cols+j] * nb.Data[k*cols+colOf(j)]
			}
			c[i][k] += s
		}
	}
	return c
}
