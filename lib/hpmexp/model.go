package hpmexp

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// The image geometry: 28×28 grey images cut into 4×4 patches, so L = 49 tokens of 16 pixels.
const (
	Patch     = 4
	NumTokens = 49
	pix       = Patch * Patch
	side      = 28
)

var imageShape = []int{side, side, 1}

// inputs turns images and per-image masks (true = masked, all with the same number masked) into the
// graph inputs: patches [B,49,16], the visible-selection S [B,V,49], the masked-selection M [B,N_m,49]
// and the visible indicator [B,49]. Token selections are products with 0/1 matrices built here.
func inputs(x []float32, masks [][]bool) ([]*tensors.Tensor, error) {
	b := len(masks)
	if b == 0 {
		return nil, fmt.Errorf("hpmexp: no masks")
	}
	p, err := data.Patchify(x, imageShape, Patch)
	if err != nil {
		return nil, err
	}
	nm := count(masks[0])
	nv := NumTokens - nm
	s := make([]float32, b*nv*NumTokens)
	m := make([]float32, b*nm*NumTokens)
	vis := make([]float32, b*NumTokens)
	for i, mk := range masks {
		if len(mk) != NumTokens || count(mk) != nm {
			return nil, fmt.Errorf("hpmexp: mask %d has %d of %d entries masked, want %d of %d", i, count(mk), len(mk), nm, NumTokens)
		}
		iv, im := 0, 0
		for t, masked := range mk {
			if masked {
				m[(i*nm+im)*NumTokens+t] = 1
				im++
			} else {
				s[(i*nv+iv)*NumTokens+t] = 1
				vis[i*NumTokens+t] = 1
				iv++
			}
		}
	}
	return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(p, b, NumTokens, pix), tensors.FromFlatDataAndDimensions(s, b, nv, NumTokens),
		tensors.FromFlatDataAndDimensions(m, b, nm, NumTokens), tensors.FromFlatDataAndDimensions(vis, b, NumTokens)}, nil
}

func count(m []bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

func relu(x *Node) *Node { return models.Activate("relu", x) }

// encode embeds the visible patches [B,V,16] at their positions (sel [B,V,49] one-hot) and mixes them
// with two set-mixer layers: a per-token MLP plus a projection of the mean over the visible tokens.
func encode(ctx *context.Context, patches, sel *Node, dim int) *Node {
	g := patches.Graph()
	pos := ctx.In("pos").VariableWithShape("table", shapes.Make(dtypes.Float32, NumTokens, dim)).ValueGraph(g)
	h := Add(models.Dense(ctx.In("embed"), patches, dim, true), models.Project(sel, pos))
	for i := range 2 {
		c := ctx.In(fmt.Sprintf("enc_%d", i))
		u := relu(models.Dense(c.In("token"), models.LayerNorm(c.In("ln"), h), dim, true))
		mean := ReduceAndKeep(u, ReduceMean, 1)
		h = Add(h, models.Dense(c.In("out"), relu(Add(u, models.Dense(c.In("mix"), mean, dim, false))), dim, true))
	}
	return models.LayerNorm(ctx.In("enc_ln"), h)
}

// decode places the encoded visible tokens back at their positions, fills the others with a learned
// mask token, adds positions and applies one token-mixing block over the 49 positions and one channel
// MLP, then a linear head to out values per token: [B,49,out].
func decode(ctx *context.Context, enc, sel, vis *Node, dim, out int) *Node {
	g := enc.Graph()
	pos := ctx.In("pos").VariableWithShape("table", shapes.Make(dtypes.Float32, NumTokens, dim)).ValueGraph(g)
	mtok := ctx.In("mask_token").VariableWithShape("value", shapes.Make(dtypes.Float32, dim)).ValueGraph(g)
	h := models.BatchProduct(Transpose(sel, 1, 2), models.Dense(ctx.In("in"), enc, dim, true))
	h = Add(h, Mul(InsertAxes(OneMinus(vis), -1), Reshape(mtok, 1, 1, dim)))
	h = Add(h, InsertAxes(pos, 0))
	t := Transpose(models.LayerNorm(ctx.In("ln_tok"), h), 1, 2) // [B,dim,49]
	t = models.Dense(ctx.In("tok_2"), relu(models.Dense(ctx.In("tok_1"), t, NumTokens, true)), NumTokens, true)
	h = Add(h, Transpose(t, 1, 2))
	h = Add(h, models.Dense(ctx.In("ch_2"), relu(models.Dense(ctx.In("ch_1"), models.LayerNorm(ctx.In("ln_ch"), h), dim, true)), dim, true))
	return models.Dense(ctx.In("head"), h, out, true)
}

// mae returns the per-masked-patch reconstruction losses ℓ [B,N_m] (MAE's norm_pix_loss targets:
// standardised per patch with the unbiased variance + 1e-6) and the loss predictor's scores ŝ [B,N_m].
func mae(ctx *context.Context, in []*Node, dim int) (ell, score *Node) {
	patches, sel, msel, vis := in[0], in[1], in[2], in[3]
	ctx = ctx.Checked(false)
	enc := encode(ctx.In("encoder"), models.BatchProduct(sel, patches), sel, dim)
	rec := models.BatchProduct(msel, decode(ctx.In("dec_pixels"), enc, sel, vis, dim, pix))
	s := models.BatchProduct(msel, ReduceAndKeep(decode(ctx.In("dec_loss"), enc, sel, vis, dim, pix), ReduceMean, -1))
	t := StopGradient(models.BatchProduct(msel, patches))
	mu := ReduceAndKeep(t, ReduceMean, -1)
	v := DivScalar(ReduceAndKeep(Square(Sub(t, mu)), ReduceSum, -1), pix-1)
	t = Div(Sub(t, mu), Sqrt(AddScalar(v, 1e-6)))
	ell = ReduceMean(Square(Sub(rec, t)), -1)
	return ell, Reshape(s, s.Shape().Dimensions[0], s.Shape().Dimensions[1])
}

// allVisible returns the one-hot selection of all 49 tokens and the all-ones visible indicator for
// patches [B,49,16].
func allVisible(patches *Node) (sel, vis *Node) {
	b := patches.Shape().Dimensions[0]
	eye := make([]float32, b*NumTokens*NumTokens)
	for i := range b {
		for t := range NumTokens {
			eye[(i*NumTokens+t)*NumTokens+t] = 1
		}
	}
	return Const(patches.Graph(), tensors.FromFlatDataAndDimensions(eye, b, NumTokens, NumTokens)), OnesLike(ReduceSum(patches, -1))
}

// predictAll returns the loss predictor's scores for all 49 patches of unmasked images (the teacher's
// view when it picks the hard patches): [B,49].
func predictAll(ctx *context.Context, patches *Node, dim int) *Node {
	ctx = ctx.Checked(false)
	sel, vis := allVisible(patches)
	enc := encode(ctx.In("encoder"), patches, sel, dim)
	return ReduceMean(decode(ctx.In("dec_loss"), enc, sel, vis, dim, pix), -1)
}

// features returns the mean-pooled encoder output with every patch visible: [B,dim].
func features(ctx *context.Context, patches *Node, dim int) *Node {
	ctx = ctx.Checked(false)
	sel, _ := allVisible(patches)
	return ReduceMean(encode(ctx.In("encoder"), patches, sel, dim), 1)
}
