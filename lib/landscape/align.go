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
	spec, err := mlpSpec(ps, layers)
	if err != nil {
		return nil, err
	}
	return spec.Apply(ps, perm)
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
	spec, err := mlpSpec(a, layers)
	if err != nil {
		return nil, err
	}
	// Stream 0x3b, not MatchPermutations' 0x3c: the sweep order, and so the results, WeightMatching has
	// always given.
	res, err := matchGroups(a, b, spec, opts, 0x3b)
	if err != nil {
		return nil, err
	}
	res.Provenance.Notes = fmt.Sprintf("weight matching of %d hidden layers, %d sweeps", len(layers)-1, res.Sweeps)
	return res, nil
}

// mlpSpec is the PermSpec of an MLP given by its layers: hidden layer ℓ's units form group ℓ (named by its
// weight), which permutes the columns of W_ℓ, the entries of b_ℓ and the rows of W_{ℓ+1}.
func mlpSpec(ps *ParamSet, layers []MLPLayer) (*PermSpec, error) {
	spec := &PermSpec{}
	for l, layer := range layers {
		w := ps.Lookup(layer.Weight)
		if w == nil || len(w.Shape) != 2 {
			return nil, fmt.Errorf("landscape: %s is not a 2-D weight of this parameter set", layer.Weight)
		}
		in, out := l-1, l // groups permuting the weight's rows and columns
		if l == len(layers)-1 {
			out = -1 // the output layer's units are never permuted
		} else {
			spec.Groups = append(spec.Groups, PermGroup{Name: layer.Weight, Size: w.Shape[1]})
		}
		spec.Params = append(spec.Params, PermAxes{Name: layer.Weight, Axes: []int{in, out}})
		if layer.Bias != "" && out >= 0 {
			spec.Params = append(spec.Params, PermAxes{Name: layer.Bias, Axes: []int{out}})
		}
	}
	return spec, spec.check(ps)
}
