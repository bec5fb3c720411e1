package dvergeexp

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/dverge"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// arch is the shape of every member: an MLP with ReLU hidden layers of the given widths and K outputs.
// It is shared by pointer, so the models below stay comparable (lib/attack caches compiled attacks by
// model value).
type arch struct {
	Hidden  []int
	Classes int
}

// net builds member i's MLP (variables under "member_i") on x. upTo > 0 stops at hidden layer upTo
// (1-based) and returns its pre-ReLU activations, the features DVERGE distills; 0 returns the logits.
func (a *arch) net(ctx *context.Context, i int, x *Node, upTo int) *Node {
	c := ctx.Inf("member_%d", i)
	h := Reshape(x, x.Shape().Dimensions[0], x.Shape().Size()/x.Shape().Dimensions[0])
	for l, w := range a.Hidden {
		pre := models.Dense(c.Inf("dense_%d", l), h, w, true)
		if l+1 == upTo {
			return pre
		}
		h = models.Activate("relu", pre)
	}
	return models.Dense(c.Inf("dense_%d", len(a.Hidden)), h, a.Classes, true)
}

// member is ensemble member I as a model of its own (attacked alone for the transferability matrix).
type member struct {
	a *arch
	I int
}

func (m member) Name() string { return fmt.Sprintf("member-%d", m.I) }
func (m member) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	l := m.a.net(ctx, m.I, x, 0)
	return l, l
}

// ensemble predicts with DVERGE's averaged probabilities; its "logits" are the log-probabilities.
type ensemble struct {
	a *arch
	M int
}

func (e ensemble) Name() string { return fmt.Sprintf("ensemble-%d", e.M) }
func (e ensemble) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	lp := losses.DVERGEEnsembleLogProbs(e.members(ctx, x))
	return lp, lp
}

func (e ensemble) members(ctx *context.Context, x *Node) []*Node {
	ls := make([]*Node, e.M)
	for i := range ls {
		ls[i] = e.a.net(ctx, i, x, 0)
	}
	return ls
}

// trainer is the ensemble as train.Run sees it: the logits are the ensemble's, the features carry the
// member logits the loss needs, [B, blocks·K]. Plain CE (Layer 0): block i is member i on x. DVERGE
// (Layer ≥ 1): block i·(M−1)+k is member i on the distilled images of its k-th sibling, distilled at
// hidden layer Layer's pre-ReLU features.
type trainer struct {
	ensemble
	Layer   int
	Distill dverge.DistillConfig
}

func (t trainer) Name() string { return fmt.Sprintf("ensemble-%d layer=%d", t.M, t.Layer) }
func (t trainer) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	ls := t.members(ctx, x)
	logits = losses.DVERGEEnsembleLogProbs(ls)
	if t.Layer == 0 {
		return logits, Concatenate(ls, 1)
	}
	// The target of each source is another image of the same shuffled batch, the batch rotated by half
	// its size: a stand-in for the official second, independently shuffled loader. (train.Run also
	// builds this graph for a one-example batch; there the target is the source.)
	target := x
	if half := x.Shape().Dimensions[0] / 2; half > 0 {
		target = Concatenate([]*Node{Slice(x, AxisRange(half)), Slice(x, AxisRange(0, half))}, 0)
	}
	distilled := make([]*Node, t.M)
	for j := range t.M {
		feat := func(z *Node) *Node { return t.a.net(ctx, j, z, t.Layer) }
		distilled[j] = dverge.Distill(feat, x, target, t.Distill)
	}
	var outs []*Node
	for i := range t.M {
		for j := range t.M {
			if j != i {
				outs = append(outs, t.a.net(ctx, i, distilled[j], 0))
			}
		}
	}
	return logits, Concatenate(outs, 1)
}

// block picks block k, [B,K], of features [B, blocks·K] by a one-hot contraction (the pure-Go backends
// have no Pad, so Slice has no gradient there).
func block(features *Node, k, classes int) *Node {
	b, n := features.Shape().Dimensions[0], features.Shape().Dimensions[1]/classes
	sel := make([]float32, n)
	sel[k] = 1
	return Einsum("bnk,n->bk", Reshape(features, b, n, classes), Const(features.Graph(), sel))
}

// loss is the training loss of t: Σ_i CE(f_i(x), y) for plain training (each member on its own CE),
// Σ_i L_i for DVERGE, with L_i = Σ_{j≠i} CE(f_i(x'_j), y) (losses.DVERGELoss). The distilled images are
// constants, so one step on the sum is each member stepping on its own loss.
func (t trainer) loss() (train.LossFn, error) {
	ce, err := losses.GraphLoss("ce", nil)
	if err != nil {
		return nil, err
	}
	k := t.a.Classes
	return func(labels, predictions []*Node) *Node {
		y := labels[0]
		if y.Rank() == 2 {
			y = Reshape(y, y.Shape().Dimensions[0])
		}
		var total *Node
		for i := range t.M {
			var li *Node
			if t.Layer > 0 {
				mine := make([]*Node, 0, t.M-1)
				for s := range t.M - 1 {
					mine = append(mine, block(predictions[1], i*(t.M-1)+s, k))
				}
				li = losses.DVERGELoss(mine, y, nil, 1)
			} else {
				li = ReduceAllMean(ce(losses.Batch{"logits": block(predictions[1], i, k), "labels": y}))
			}
			if total == nil {
				total = li
			} else {
				total = Add(total, li)
			}
		}
		return total
	}, nil
}
