package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
)

// PermSpec describes the permutation symmetries of a network in general form (Ainsworth et al.): a list
// of permutation groups (hidden units of a dense layer, channels of a convolution) and, for each
// parameter they act on, which group permutes which axis. A parameter may be viewed with another
// shape first (View): the first dense layer after a convolution stack has inputs (position, channel)
// flattened, so its weight [H·W·C, out] is viewed as [H·W, C, out] with axis 1 permuted by the last
// convolution's channels.
type PermSpec struct {
	Groups []PermGroup
	Params []PermAxes
}

// PermGroup is one permutation group: its name and the number of units it permutes.
type PermGroup struct {
	Name string
	Size int
}

// PermAxes says how the groups act on one parameter (or State variable) of the given full name:
// Axes[i] is the index in PermSpec.Groups of the group permuting axis i of the parameter viewed with
// shape View (its own shape when View is nil), or −1.
type PermAxes struct {
	Name string
	View []int `json:",omitempty"`
	Axes []int
}

var layerScope = regexp.MustCompile(`^/(conv|dense|layernorm|batchnorm)_(\d+)$`)

// InferPermSpec reads the permutation symmetries of lib/models' MLP and CNN from the parameter names:
// convolutions "/conv_i" (kernel [k,k,C,F], bias [F]), then dense layers "/dense_j" (weights [in,out],
// biases [out]) with optional "/layernorm_j" or "/batchnorm_j" (1-D gains, offsets and moving
// statistics) after hidden dense layer j. Each convolution's output channels and each hidden dense
// layer's units form a group; the output layer is never permuted.
func InferPermSpec(ps *ParamSet) (*PermSpec, error) {
	layers := map[string]map[int][]*Param{}
	for _, p := range append(append([]*Param{}, ps.Params...), ps.State...) {
		m := layerScope.FindStringSubmatch(p.Scope)
		if m == nil {
			return nil, fmt.Errorf("landscape.InferPermSpec: parameter %s is not in a conv_i, dense_i, layernorm_i or batchnorm_i scope", p.Name())
		}
		i, _ := strconv.Atoi(m[2])
		if layers[m[1]] == nil {
			layers[m[1]] = map[int][]*Param{}
		}
		layers[m[1]][i] = append(layers[m[1]][i], p)
	}
	nConv, nDense := len(layers["conv"]), len(layers["dense"])
	for kind, byIndex := range layers {
		for i := range byIndex {
			if (kind == "conv" && i >= nConv) || (kind != "conv" && i >= nDense) {
				return nil, fmt.Errorf("landscape.InferPermSpec: %s layers are not numbered 0…n−1 (found %s_%d)", kind, kind, i)
			}
		}
	}
	if nDense == 0 {
		return nil, fmt.Errorf("landscape.InferPermSpec: no dense layer (the output layer is /dense_L)")
	}
	if nConv+nDense < 2 {
		return nil, fmt.Errorf("landscape.InferPermSpec: need at least one hidden layer to permute")
	}
	spec := &PermSpec{}
	find := func(list []*Param, name string) *Param {
		for _, p := range list {
			if p.Var == name {
				return p
			}
		}
		return nil
	}
	prev := -1 // group permuting the current layer's input
	prevSize := 0
	for i := range nConv {
		list := layers["conv"][i]
		k, bias := find(list, "weights"), find(list, "biases")
		if k == nil || len(k.Shape) != 4 || len(list) > 2 {
			return nil, fmt.Errorf("landscape.InferPermSpec: /conv_%d is not a convolution with a [k,k,C,F] kernel", i)
		}
		g := len(spec.Groups)
		spec.Groups = append(spec.Groups, PermGroup{Name: fmt.Sprintf("/conv_%d", i), Size: k.Shape[3]})
		if prev >= 0 && k.Shape[2] != prevSize {
			return nil, fmt.Errorf("landscape.InferPermSpec: %s has %d input channels, /conv_%d gives %d", k.Name(), k.Shape[2], i-1, prevSize)
		}
		spec.Params = append(spec.Params, PermAxes{Name: k.Name(), Axes: []int{-1, -1, prev, g}})
		if bias != nil {
			spec.Params = append(spec.Params, PermAxes{Name: bias.Name(), Axes: []int{g}})
		}
		prev, prevSize = g, k.Shape[3]
	}
	for j := range nDense {
		list := layers["dense"][j]
		w, bias := find(list, "weights"), find(list, "biases")
		if w == nil || len(w.Shape) != 2 || len(list) > 2 {
			return nil, fmt.Errorf("landscape.InferPermSpec: /dense_%d is not a dense layer with a [in,out] weight", j)
		}
		pa := PermAxes{Name: w.Name(), Axes: []int{prev, -1}}
		if j == 0 && nConv > 0 {
			if w.Shape[0]%prevSize != 0 {
				return nil, fmt.Errorf("landscape.InferPermSpec: %s has %d inputs, not a multiple of the %d channels of the last convolution", w.Name(), w.Shape[0], prevSize)
			}
			pa = PermAxes{Name: w.Name(), View: []int{w.Shape[0] / prevSize, prevSize, w.Shape[1]}, Axes: []int{-1, prev, -1}}
		} else if prev >= 0 && w.Shape[0] != prevSize {
			return nil, fmt.Errorf("landscape.InferPermSpec: %s has %d inputs, the previous layer %d outputs", w.Name(), w.Shape[0], prevSize)
		}
		if j == nDense-1 { // the output layer: its units are not permuted
			spec.Params = append(spec.Params, pa)
			break
		}
		g := len(spec.Groups)
		spec.Groups = append(spec.Groups, PermGroup{Name: fmt.Sprintf("/dense_%d", j), Size: w.Shape[1]})
		pa.Axes[len(pa.Axes)-1] = g
		spec.Params = append(spec.Params, pa)
		if bias != nil {
			spec.Params = append(spec.Params, PermAxes{Name: bias.Name(), Axes: []int{g}})
		}
		for _, kind := range []string{"layernorm", "batchnorm"} {
			for _, p := range layers[kind][j] {
				if len(p.Shape) != 1 || p.Shape[0] != w.Shape[1] {
					return nil, fmt.Errorf("landscape.InferPermSpec: %s has shape %v, want [%d]", p.Name(), p.Shape, w.Shape[1])
				}
				spec.Params = append(spec.Params, PermAxes{Name: p.Name(), Axes: []int{g}})
			}
		}
		prev, prevSize = g, w.Shape[1]
	}
	return spec, spec.check(ps)
}

// lookupAny finds a parameter or State variable by full name.
func (ps *ParamSet) lookupAny(name string) *Param {
	if p := ps.Lookup(name); p != nil {
		return p
	}
	return ps.LookupState(name)
}

// check verifies the spec against ps: every named parameter exists, views have its size, and every
// permuted axis has its group's size.
func (s *PermSpec) check(ps *ParamSet) error {
	var problems []string
	for _, pa := range s.Params {
		p := ps.lookupAny(pa.Name)
		if p == nil {
			problems = append(problems, fmt.Sprintf("no parameter %s", pa.Name))
			continue
		}
		dims := p.Shape
		if pa.View != nil {
			if prod(pa.View) != len(p.Data) {
				problems = append(problems, fmt.Sprintf("%s %v cannot be viewed as %v", pa.Name, p.Shape, pa.View))
				continue
			}
			dims = pa.View
		}
		if len(pa.Axes) != len(dims) {
			problems = append(problems, fmt.Sprintf("%s has %d axes, the spec gives %d", pa.Name, len(dims), len(pa.Axes)))
			continue
		}
		seen := map[int]bool{}
		for ax, g := range pa.Axes {
			if g < 0 {
				continue
			}
			if g >= len(s.Groups) {
				problems = append(problems, fmt.Sprintf("%s axis %d: no group %d", pa.Name, ax, g))
			} else if dims[ax] != s.Groups[g].Size {
				problems = append(problems, fmt.Sprintf("%s axis %d has %d entries, group %s permutes %d", pa.Name, ax, dims[ax], s.Groups[g].Name, s.Groups[g].Size))
			}
			if seen[g] {
				problems = append(problems, fmt.Sprintf("%s: group %d permutes two axes (not supported)", pa.Name, g))
			}
			seen[g] = true
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("landscape: permutation spec does not fit the parameters: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Random returns a seeded random permutation of every group.
func (s *PermSpec) Random(seed uint64) Permutation {
	r := rand.New(rand.NewPCG(seed, 0x9f))
	p := Permutation{Perms: make([][]int, len(s.Groups))}
	for g, gr := range s.Groups {
		p.Perms[g] = r.Perm(gr.Size)
	}
	return p
}

// Identity returns the identity permutation of every group.
func (s *PermSpec) Identity() Permutation {
	p := Permutation{Perms: make([][]int, len(s.Groups))}
	for g, gr := range s.Groups {
		p.Perms[g] = make([]int, gr.Size)
		for i := range p.Perms[g] {
			p.Perms[g][i] = i
		}
	}
	return p
}

// Apply returns ps with every group's permutation applied to the axes it acts on (State included):
// along such an axis, new[…, i, …] = old[…, π(i), …]. For lib/models' networks the function is unchanged.
func (s *PermSpec) Apply(ps *ParamSet, perm Permutation) (*ParamSet, error) {
	if err := s.checkPerm(perm); err != nil {
		return nil, err
	}
	if err := s.check(ps); err != nil {
		return nil, err
	}
	out := ps.Clone()
	for _, pa := range s.Params {
		p := out.lookupAny(pa.Name)
		dims := p.Shape
		if pa.View != nil {
			dims = pa.View
		}
		for ax, g := range pa.Axes {
			if g >= 0 {
				p.Data = permuteAxis(p.Data, dims, ax, perm.Perms[g])
			}
		}
	}
	return out, nil
}

func (s *PermSpec) checkPerm(perm Permutation) error {
	if len(perm.Perms) != len(s.Groups) {
		return fmt.Errorf("landscape: %d permutations for %d groups", len(perm.Perms), len(s.Groups))
	}
	for g, pi := range perm.Perms {
		if len(pi) != s.Groups[g].Size || !isPermutation(pi) {
			return fmt.Errorf("landscape: group %s needs a permutation of %d units", s.Groups[g].Name, s.Groups[g].Size)
		}
	}
	return nil
}

// permuteAxis returns data (row-major, shape dims) with axis ax permuted: out[…i…] = data[…π(i)…].
func permuteAxis(data []float64, dims []int, ax int, pi []int) []float64 {
	inner := prod(dims[ax+1:])
	n := dims[ax]
	outer := len(data) / (n * inner)
	out := make([]float64, len(data))
	for o := range outer {
		for i, k := range pi {
			copy(out[(o*n+i)*inner:(o*n+i+1)*inner], data[(o*n+k)*inner:(o*n+k+1)*inner])
		}
	}
	return out
}

// MatchPermutations aligns b to a by weight matching over the groups of spec (Ainsworth et al.'s
// general form): coordinate ascent in which the permutation of group g maximises Σ_i C_g[i][π(i)] with
//
//	C_g[i][k] = Σ_{parameters w moved by g, along axis a} Σ_{other indices r} w^A[r, i] · w̃^B[r, k],
//
// w̃^B being w^B with the other groups' current permutations applied to its other axes (for an MLP this
// is WeightMatching's C_ℓ). Only trainable parameters enter the objective; State variables (BatchNorm
// statistics) are permuted along. Groups are visited in a seeded random order each sweep, until no
// group improves by more than 1e-12 or MaxIter sweeps.
func MatchPermutations(a, b *ParamSet, spec *PermSpec, opts MatchOptions) (*Alignment, error) {
	res, err := matchGroups(a, b, spec, opts, 0x3c)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(spec.Groups))
	for i, g := range spec.Groups {
		names[i] = g.Name
	}
	res.Provenance.Notes = fmt.Sprintf("weight matching of groups %s, %d sweeps", strings.Join(names, ", "), res.Sweeps)
	return res, nil
}

// matchGroups is the coordinate ascent of MatchPermutations, its sweep order drawn from the PCG stream
// given (WeightMatching keeps its own, so its results stay those it always gave).
func matchGroups(a, b *ParamSet, spec *PermSpec, opts MatchOptions, stream uint64) (*Alignment, error) {
	if err := a.Compatible(b); err != nil {
		return nil, err
	}
	if err := spec.check(a); err != nil {
		return nil, err
	}
	if opts.MaxIter == 0 {
		opts.MaxIter = 100
	}
	perm := spec.Identity()
	r := rand.New(rand.NewPCG(opts.Seed, stream))
	res := &Alignment{}
	G := len(spec.Groups)
	for sweep := 0; sweep < opts.MaxIter; sweep++ {
		res.Sweeps = sweep + 1
		improved := false
		for _, g := range r.Perm(G) {
			c := spec.cost(a, b, perm, g)
			pi, val, err := SolveAssignment(c)
			if err != nil {
				return nil, err
			}
			old := 0.0
			for i, k := range perm.Perms[g] {
				old += c[i][k]
			}
			if val > old+1e-12 {
				improved = true
				perm.Perms[g] = pi
			}
		}
		aligned, err := spec.Apply(b, perm)
		if err != nil {
			return nil, err
		}
		res.History = append(res.History, dot(a, aligned))
		if !improved {
			break
		}
	}
	aligned, err := spec.Apply(b, perm)
	if err != nil {
		return nil, err
	}
	res.Perm, res.Aligned, res.Objective = perm, aligned, dot(a, aligned)
	res.Provenance = newProvenance(nil, nil)
	res.Provenance.Seeds = []uint64{opts.Seed}
	return res, nil
}

// cost builds C_g for MatchPermutations.
func (s *PermSpec) cost(a, b *ParamSet, perm Permutation, g int) [][]float64 {
	n := s.Groups[g].Size
	c := make([][]float64, n)
	for i := range c {
		c[i] = make([]float64, n)
	}
	for _, pa := range s.Params {
		pA := a.Lookup(pa.Name)
		if pA == nil { // a State variable: not part of the objective
			continue
		}
		ax := -1
		for i, gg := range pa.Axes {
			if gg == g {
				ax = i
			}
		}
		if ax < 0 {
			continue
		}
		dims := pA.Shape
		if pa.View != nil {
			dims = pa.View
		}
		wb := b.Lookup(pa.Name).Data
		for i, gg := range pa.Axes {
			if gg >= 0 && i != ax {
				wb = permuteAxis(wb, dims, i, perm.Perms[gg])
			}
		}
		inner := prod(dims[ax+1:])
		outer := len(wb) / (n * inner)
		wa := pA.Data
		for o := range outer {
			for in := range inner {
				for i := range n {
					va := wa[(o*n+i)*inner+in]
					if va == 0 {
						continue
					}
					row := c[i]
					for k := range n {
						row[k] += va * wb[(o*n+k)*inner+in]
					}
				}
			}
		}
	}
	return c
}

// Logits returns the model's logits [N, K] (row-major, and K) at ps on the examples of d, computed in
// one batch in inference mode (BatchNorm uses ps's State).
func Logits(forward ForwardFn, ps *ParamSet, d *Data) (logits []float64, k int, err error) {
	if err := d.check(); err != nil {
		return nil, 0, err
	}
	if forward == nil || ps == nil || len(ps.Params) == 0 {
		return nil, 0, fmt.Errorf("landscape.Logits: need a forward function and parameters")
	}
	b, err := backend.Get()
	if err != nil {
		return nil, 0, err
	}
	ctx := context.New()
	if err := ps.ToContext(ctx); err != nil {
		return nil, 0, err
	}
	dtype := ps.Params[0].DType
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("landscape.Logits: %v", r)
		}
	}()
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		return forward(ctx.Reuse(), graph.ConvertDType(x, dtype))
	})
	if err != nil {
		return nil, 0, err
	}
	x := tensors.FromFlatDataAndDimensions(append([]float32(nil), d.X...), append([]int{d.Len()}, d.Shape...)...)
	res, err := exec.Exec(x)
	if err != nil {
		return nil, 0, fmt.Errorf("landscape.Logits: %w", err)
	}
	if res[0].Rank() != 2 {
		return nil, 0, fmt.Errorf("landscape.Logits: forward returned shape %s, want [N, K]", res[0].Shape())
	}
	out, err := tensorToFloat64(res[0])
	return out, res[0].Shape().Dimensions[1], err
}

// MaxLogitDiff returns max |z_a − z_b| over the logits of the models at a and b on d: the functional-
// equivalence check of a permutation (≈1e-6 in float32, ≈1e-15 in float64 for an exact symmetry).
func MaxLogitDiff(forward ForwardFn, a, b *ParamSet, d *Data) (float64, error) {
	za, _, err := Logits(forward, a, d)
	if err != nil {
		return 0, err
	}
	zb, _, err := Logits(forward, b, d)
	if err != nil {
		return 0, err
	}
	m := 0.0
	for i := range za {
		m = max(m, math.Abs(za[i]-zb[i]))
	}
	return m, nil
}
