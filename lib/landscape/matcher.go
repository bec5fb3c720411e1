package landscape

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"gonum.org/v1/gonum/mat"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/models"
)

// Matcher aligns network b to network a over the permutation groups of spec: it returns the permutation
// π and π(θ_B), which computes the same function as θ_B. The three methods of Ainsworth, Hayase and
// Srinivasa, "Git Re-Basin: Merging Models modulo Permutation Symmetries" (ICLR 2023, arXiv:2209.04836)
// are WeightMatcher, ActivationMatcher and STEMatcher; all share PermSpec's groups and Apply.
type Matcher interface {
	Match(a, b *ParamSet, spec *PermSpec) (*Alignment, error)
}

// WeightMatcher is weight matching (MatchPermutations) as a Matcher.
type WeightMatcher struct {
	Options MatchOptions
}

// Match implements Matcher.
func (m WeightMatcher) Match(a, b *ParamSet, spec *PermSpec) (*Alignment, error) {
	return MatchPermutations(a, b, spec, m.Options)
}

// Hidden holds the activations of one permutation group's units on a set of examples, row-major
// [Rows, Units]: Pre is the output of the layer that produces the group (dense or convolution, before
// normalisation and the nonlinearity), Post what the next layer reads (after the nonlinearity, and after
// pooling for a convolution). A convolution's rows are examples × positions.
type Hidden struct {
	Group         string
	Units         int
	PreRows, Rows int
	Pre, Post     []float64
}

// ProbeFn computes the hidden activations of every permutation group of a network at ps on d.
type ProbeFn func(ps *ParamSet, d *Data) ([]Hidden, error)

// ModelProbe returns the ProbeFn of lib/models' MLP or CNN, built from the same layer functions as
// their Forward (so the activations are those of the model), with one group per hidden dense layer
// "/dense_i" and per convolution "/conv_i", the names InferPermSpec gives. The program is compiled once
// per input shape; every call runs all of d in one batch.
func ModelProbe(m models.Model) (ProbeFn, error) {
	var build func(ctx *context.Context, x *graph.Node, ps *ParamSet) ([]string, []*graph.Node)
	switch m := m.(type) {
	case *models.MLP:
		if err := m.Check(); err != nil {
			return nil, fmt.Errorf("landscape.ModelProbe: %w", err)
		}
		build = func(ctx *context.Context, x *graph.Node, _ *ParamSet) ([]string, []*graph.Node) {
			h := graph.Reshape(x, x.Shape().Dimensions[0], -1)
			var names []string
			var outs []*graph.Node
			for i, width := range m.Hidden {
				z := models.Dense(ctx.Inf("dense_%d", i), h, width, true)
				pre := z
				switch m.Norm {
				case "layernorm":
					z = models.LayerNorm(ctx.Inf("layernorm_%d", i), z)
				case "batchnorm":
					z = models.BatchNorm(ctx.Inf("batchnorm_%d", i), z)
				}
				h = models.Activate(m.Activation, z)
				names = append(names, fmt.Sprintf("/dense_%d", i))
				outs = append(outs, pre, h)
			}
			return names, outs
		}
	case *models.CNN:
		build = func(ctx *context.Context, x *graph.Node, ps *ParamSet) ([]string, []*graph.Node) {
			if x.Rank() != 4 {
				img := m.ImageShape
				if len(img) == 0 {
					img = []int{28, 28, 1}
				}
				x = graph.Reshape(x, x.Shape().Dimensions[0], img[0], img[1], img[2])
			}
			var names []string
			var outs []*graph.Node
			h := x
			for i := 0; ; i++ {
				k := ps.Lookup(fmt.Sprintf("/conv_%d/weights", i))
				if k == nil {
					break
				}
				c := k.Shape[3]
				z := models.Conv2D(ctx.Inf("conv_%d", i), h, c, 3)
				h = models.MaxPool2(models.Activate("relu", z))
				names = append(names, fmt.Sprintf("/conv_%d", i))
				outs = append(outs, graph.Reshape(z, -1, c), graph.Reshape(h, -1, c))
			}
			w := ps.Lookup("/dense_0/weights")
			if w == nil {
				panic(fmt.Errorf("landscape.ModelProbe: CNN parameters have no /dense_0/weights"))
			}
			z := models.Dense(ctx.In("dense_0"), graph.Reshape(h, h.Shape().Dimensions[0], -1), w.Shape[1], true)
			names = append(names, "/dense_0")
			outs = append(outs, z, models.Activate("relu", z))
			return names, outs
		}
	default:
		return nil, fmt.Errorf("landscape.ModelProbe: %T is not supported (lib/models' MLP and CNN are)", m)
	}
	var (
		ctx   *context.Context
		exec  *context.Exec
		names []string
	)
	return func(ps *ParamSet, d *Data) (hs []Hidden, err error) {
		if err := d.check(); err != nil {
			return nil, err
		}
		if ps == nil || len(ps.Params) == 0 {
			return nil, fmt.Errorf("landscape.ModelProbe: no parameters")
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("landscape.ModelProbe: %v", r)
			}
		}()
		if exec == nil {
			b, err := backend.Get()
			if err != nil {
				return nil, err
			}
			ctx = context.New()
			if err := ps.ToContext(ctx); err != nil {
				return nil, err
			}
			dtype := ps.Params[0].DType
			exec, err = context.NewExec(b, ctx, func(ctx *context.Context, x *graph.Node) []*graph.Node {
				var outs []*graph.Node
				names, outs = build(ctx.Reuse(), graph.ConvertDType(x, dtype), ps)
				return outs
			})
			if err != nil {
				return nil, err
			}
		} else if err := ps.ToContext(ctx); err != nil {
			return nil, err
		}
		x := tensors.FromFlatDataAndDimensions(append([]float32(nil), d.X...), append([]int{d.Len()}, d.Shape...)...)
		res, err := exec.Exec(x)
		if err != nil {
			return nil, fmt.Errorf("landscape.ModelProbe: %w", err)
		}
		for i, name := range names {
			pre, err := tensorToFloat64(res[2*i])
			if err != nil {
				return nil, err
			}
			post, err := tensorToFloat64(res[2*i+1])
			if err != nil {
				return nil, err
			}
			dims := res[2*i].Shape().Dimensions
			units := dims[len(dims)-1]
			hs = append(hs, Hidden{Group: name, Units: units, PreRows: len(pre) / units, Rows: len(post) / units, Pre: pre, Post: post})
		}
		return hs, nil
	}, nil
}

// hiddenOf finds the activations of group g (checking their size) among hs.
func hiddenOf(hs []Hidden, g PermGroup) (*Hidden, error) {
	for i := range hs {
		if hs[i].Group == g.Name {
			if hs[i].Units != g.Size {
				return nil, fmt.Errorf("landscape: the probe gives %d units for group %s, the spec %d", hs[i].Units, g.Name, g.Size)
			}
			return &hs[i], nil
		}
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.Group)
	}
	return nil, fmt.Errorf("landscape: the probe gives no activations for group %s (it gives %s)", g.Name, strings.Join(got, ", "))
}

// columnStats returns the mean and (biased) standard deviation of each column of x [rows, units].
func columnStats(x []float64, rows, units int) (mean, std []float64) {
	mean, std = make([]float64, units), make([]float64, units)
	for r := range rows {
		for u, v := range x[r*units : (r+1)*units] {
			mean[u] += v
		}
	}
	for u := range mean {
		mean[u] /= float64(rows)
	}
	for r := range rows {
		for u, v := range x[r*units : (r+1)*units] {
			d := v - mean[u]
			std[u] += d * d
		}
	}
	for u := range std {
		std[u] = math.Sqrt(std[u] / float64(rows))
	}
	return mean, std
}

// Correlations returns the matrix of Pearson correlations C[i][k] = corr(x_i, y_k) between the columns
// of x and y (both [rows, units], row-major). A constant column (a dead ReLU unit) correlates 0 with
// everything.
func Correlations(x, y []float64, rows, units int) ([][]float64, error) {
	if rows < 2 || len(x) != rows*units || len(y) != rows*units {
		return nil, fmt.Errorf("landscape.Correlations: want two [%d, %d] matrices (≥ 2 rows), got %d and %d values", rows, units, len(x), len(y))
	}
	mx, sx := columnStats(x, rows, units)
	my, sy := columnStats(y, rows, units)
	cx := make([]float64, len(x))
	cy := make([]float64, len(y))
	for r := range rows {
		for u := range units {
			if sx[u] > 0 {
				cx[r*units+u] = (x[r*units+u] - mx[u]) / sx[u]
			}
			if sy[u] > 0 {
				cy[r*units+u] = (y[r*units+u] - my[u]) / sy[u]
			}
		}
	}
	var c mat.Dense
	c.Mul(mat.NewDense(rows, units, cx).T(), mat.NewDense(rows, units, cy))
	out := make([][]float64, units)
	for i := range out {
		out[i] = make([]float64, units)
		for k := range out[i] {
			out[i][k] = c.At(i, k) / float64(rows)
		}
	}
	return out, nil
}

// ActivationMatcher is activation matching (Ainsworth et al., §3.1): each group's permutation
// independently maximises Σ_i corr(a_i, b_π(i)), the correlations of the hidden activations (Post) of A
// and B on Data, by one linear assignment per group. Objective is the sum over groups of the matched
// correlations.
type ActivationMatcher struct {
	Probe ProbeFn
	Data  *Data
}

// Match implements Matcher.
func (m ActivationMatcher) Match(a, b *ParamSet, spec *PermSpec) (*Alignment, error) {
	if m.Probe == nil || m.Data == nil {
		return nil, fmt.Errorf("landscape.ActivationMatcher: needs a Probe and Data")
	}
	if err := a.Compatible(b); err != nil {
		return nil, err
	}
	if err := spec.check(a); err != nil {
		return nil, err
	}
	ha, err := m.Probe(a, m.Data)
	if err != nil {
		return nil, err
	}
	hb, err := m.Probe(b, m.Data)
	if err != nil {
		return nil, err
	}
	perm := spec.Identity()
	total := 0.0
	for g, gr := range spec.Groups {
		xa, err := hiddenOf(ha, gr)
		if err != nil {
			return nil, err
		}
		xb, err := hiddenOf(hb, gr)
		if err != nil {
			return nil, err
		}
		c, err := Correlations(xa.Post, xb.Post, xa.Rows, xa.Units)
		if err != nil {
			return nil, fmt.Errorf("landscape.ActivationMatcher: group %s: %w", gr.Name, err)
		}
		pi, val, err := SolveAssignment(c)
		if err != nil {
			return nil, err
		}
		perm.Perms[g], total = pi, total+val
	}
	aligned, err := spec.Apply(b, perm)
	if err != nil {
		return nil, err
	}
	res := &Alignment{Perm: perm, Aligned: aligned, Objective: total, History: []float64{total}, Sweeps: 1}
	res.Provenance = newProvenance(nil, []*Data{m.Data})
	res.Provenance.Notes = fmt.Sprintf("activation matching of %d groups on %d examples", len(spec.Groups), m.Data.Len())
	return res, nil
}
