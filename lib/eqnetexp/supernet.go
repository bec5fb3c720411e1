package eqnetexp

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/losslab/losslab/lib/eqnet"
	"github.com/losslab/losslab/lib/models"
)

// The quantiser tables of one layer (scope "quant_<l>"), one row per bit-width of Config.Bits: weight
// step sizes and offsets per output channel ([len(Bits), out]) and per layer ([len(Bits)]), and the
// step sizes and offsets of the layer's input (layers after the first).
var (
	channelTables = []string{"w_s_sym_ch", "w_s_asym_ch", "w_b_asym_ch"}
	layerTables   = []string{"w_s_sym_l", "w_s_asym_l", "w_b_asym_l"}
	actTables     = []string{"a_s_sym", "a_s_asym", "a_b_asym"}
)

// SetTables stores layer l's quantiser tables in ctx: tab holds every name of the tables above (the
// activation ones only for l > 0), each row-major with len(Bits) rows.
func (c Config) SetTables(ctx *context.Context, l int, tab map[string][]float32) error {
	if l < 0 || l >= len(c.Dims)-1 {
		return fmt.Errorf("eqnetexp: SetTables: layer %d of a %d-layer supernet", l, len(c.Dims)-1)
	}
	nb, out := len(c.Bits), c.Dims[l+1]
	names := append(append([]string{}, channelTables...), layerTables...)
	if l > 0 {
		names = append(names, actTables...)
	}
	q := ctx.In(fmt.Sprintf("quant_%d", l))
	for _, name := range names {
		v, ok := tab[name]
		dims, want := []int{nb}, nb
		if strings.HasSuffix(name, "_ch") {
			dims, want = []int{nb, out}, nb*out
		}
		if !ok || len(v) != want {
			return fmt.Errorf("eqnetexp: SetTables layer %d: table %s has %d values, want shape %v", l, name, len(v), dims)
		}
		q.VariableWithValue(name, tensors.FromFlatDataAndDimensions(append([]float32(nil), v...), dims...))
	}
	return nil
}

// field returns the scalar config field i of layer l of subnet k, as a masked sum (the pure-Go backend
// cannot build the gradient of Slice).
func field(cfg *Node, k, l, i int) *Node {
	d := cfg.Shape().Dimensions
	m := make([]float32, d[0]*d[1]*d[2])
	m[(k*d[1]+l)*d[2]+i] = 1
	return ReduceAllSum(Mul(cfg, Const(cfg.Graph(), tensors.FromFlatDataAndDimensions(m, d...))))
}

// pick returns Σ_b onehot_b·table[b]: the row of table ([len(Bits), …]) of the subnet's bit-width, whose
// one-hot starts at field first.
func pick(table, cfg *Node, k, l, first int) *Node {
	d := table.Shape().Dimensions
	n := 1
	for _, v := range d[1:] {
		n *= v
	}
	var out *Node
	for b := range d[0] {
		m := make([]float32, d[0]*n)
		for i := b * n; i < (b+1)*n; i++ {
			m[i] = 1
		}
		row := ReduceSum(Mul(table, Const(table.Graph(), tensors.FromFlatDataAndDimensions(m, d...))), 0)
		term := Mul(row, field(cfg, k, l, first+b))
		if out == nil {
			out = term
		} else {
			out = Add(out, term)
		}
	}
	return out
}

// table returns layer l's quantiser table name (set by SetTables).
func table(ctx *context.Context, g *Graph, l int, name string) *Node {
	v := ctx.In(fmt.Sprintf("quant_%d", l)).GetVariable(name)
	if v == nil {
		panic(fmt.Errorf("eqnetexp: quantiser table quant_%d/%s missing: call SetTables first", l, name))
	}
	return v.ValueGraph(g)
}

// Supernet returns the logits [B, classes] of subnet k of the config cfg ([nSub, layers, Fields()], as
// Encode writes it) for inputs x [B, Dims[0]]: an MLP with ReLU whose weights and hidden inputs are
// fake-quantised by eqnet.QuantizeRange with the step sizes and offsets of the subnet's bit-widths and
// forms. The dense variables are created (He-normal from ctx's seed) on first use.
func (c Config) Supernet(ctx *context.Context, x, cfg *Node, k int) *Node {
	ctx = ctx.Checked(false)
	g := x.Graph()
	nb := len(c.Bits)
	fForm, fW, fA := nb, nb+len(Forms), nb+len(Forms)+3
	fAR := fA + nb
	h := x
	for l := range len(c.Dims) - 1 {
		in, out := c.Dims[l], c.Dims[l+1]
		if l > 0 {
			asym := field(cfg, k, l, fAR+3)
			s := Add(Mul(pick(table(ctx, g, l, "a_s_sym"), cfg, k, l, fA), OneMinus(asym)),
				Mul(pick(table(ctx, g, l, "a_s_asym"), cfg, k, l, fA), asym))
			beta := Mul(pick(table(ctx, g, l, "a_b_asym"), cfg, k, l, fA), asym)
			hq := eqnet.QuantizeRange(h, s, beta, field(cfg, k, l, fAR), field(cfg, k, l, fAR+1), field(cfg, k, l, fAR+2), false)
			on := field(cfg, k, l, fAR+4)
			h = Add(Mul(hq, on), Mul(h, OneMinus(on)))
		}
		dense := ctx.In(fmt.Sprintf("dense_%d", l))
		w := dense.VariableWithShape(models.WeightsVar, shapes.Make(dtypes.Float32, in, out)).ValueGraph(g)
		bias := dense.WithInitializer(initializers.Zero).VariableWithShape(models.BiasesVar, shapes.Make(dtypes.Float32, out)).ValueGraph(g)
		f := make([]*Node, len(Forms))
		for i := range f {
			f[i] = field(cfg, k, l, fForm+i)
		}
		sC := Add(Mul(pick(table(ctx, g, l, "w_s_sym_ch"), cfg, k, l, 0), f[0]), Mul(pick(table(ctx, g, l, "w_s_asym_ch"), cfg, k, l, 0), f[2]))
		sL := Add(Mul(pick(table(ctx, g, l, "w_s_sym_l"), cfg, k, l, 0), f[1]), Mul(pick(table(ctx, g, l, "w_s_asym_l"), cfg, k, l, 0), f[3]))
		s := Add(Reshape(sC, 1, out), sL)
		beta := Add(Mul(Reshape(pick(table(ctx, g, l, "w_b_asym_ch"), cfg, k, l, 0), 1, out), f[2]),
			Mul(pick(table(ctx, g, l, "w_b_asym_l"), cfg, k, l, 0), f[3]))
		wq := eqnet.QuantizeRange(w, s, beta, field(cfg, k, l, fW), field(cfg, k, l, fW+1), field(cfg, k, l, fW+2), false)
		h = Add(models.Project(h, wq), InsertAxes(bias, 0))
		if l < len(c.Dims)-2 {
			h = Max(h, ScalarZero(g, h.DType()))
		}
	}
	return h
}
