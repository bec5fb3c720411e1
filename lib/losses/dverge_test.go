package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/dverge"
)

func TestDVERGEReference(t *testing.T) {
	in := map[string]Arr{
		"logits": Mat([]float64{1.5, -0.3, 0.2}, []float64{-0.8, 0.4, 1.1}, []float64{0.1, 0.2, -1.3},
			[]float64{2.2, -1.0, 0.6}, []float64{0.3, 0.9, -0.2}, []float64{-1.1, 0.5, 0.7}),
		"labels": Vec(0, 2, 1, 0, 2, 1),
	}
	ref := func(in map[string]Arr, p Params) (float64, []float64) {
		others := int(p["members"]) - 1
		n := in["logits"].Shape[0]
		per := make([]float64, n)
		if others == 0 {
			return 0, per
		}
		// Σ over the M−1 blocks of the block's mean CE, written block by block.
		bs := n / others
		loss := 0.0
		for j := range others {
			block := 0.0
			for b := range bs {
				i := j*bs + b
				block += refCE(in["logits"].Row(i), in["labels"].Int(i))
				per[i] = float64(others) * refCE(in["logits"].Row(i), in["labels"].Int(i))
			}
			loss += block / float64(bs)
		}
		return loss, per
	}
	for _, m := range []float64{1, 2, 3, 4, 7} {
		CheckObjective(t, "dverge", in, Params{"members": m}, ref)
	}
	CheckFinite(t, "dverge", map[string]Arr{"logits": in["logits"].Scaled(1e4), "labels": in["labels"]}, nil)
	if _, err := Evaluate("dverge", ToTensors(t, "dverge", in, 32), Params{"members": 5}); err == nil {
		t.Error("6 rows accepted as 4 equal blocks")
	}
	// Property 3: M = 1 gives 0.
	if l := EvalArr(t, "dverge", in, Params{"members": 1}, 64).Loss; l != 0 {
		t.Errorf("M = 1: loss %g, want 0", l)
	}
}

// DVERGELoss, DVERGEDiversity and DVERGEEnsembleLogProbs against the reference; properties 6 and 7.
func TestDVERGELossAndEnsemble(t *testing.T) {
	z1 := [][]float64{{1.5, -0.3, 0.2}, {-0.8, 0.4, 1.1}}
	z2 := [][]float64{{0.1, 0.2, -1.3}, {2.2, -1.0, 0.6}}
	za := [][]float64{{0.3, 0.9, -0.2}, {-1.1, 0.5, 0.7}}
	y := []int32{0, 2}
	meanCE := func(z [][]float64) float64 { return (refCE(z[0], int(y[0])) + refCE(z[1], int(y[1]))) / 2 }
	out := runGraph(t, func(a, b, adv, y *Node) []*Node {
		return []*Node{
			DVERGELoss([]*Node{a, b}, y, nil, 1),
			DVERGELoss([]*Node{a, b}, y, adv, 0.4),
			DVERGELoss(nil, y, adv, 1),
			DVERGEDiversity(a, b, y),
			DVERGEEnsembleLogProbs([]*Node{a, b, adv}),
			DVERGEEnsembleLogProbs([]*Node{a, a}),
			LogSoftmax(a, -1),
		}
	}, tensors.FromValue(z1), tensors.FromValue(z2), tensors.FromValue(za), tensors.FromValue(y))
	for i, want := range []float64{meanCE(z1) + meanCE(z2), 0.4*(meanCE(z1)+meanCE(z2)) + meanCE(za), meanCE(za), (meanCE(z1) + meanCE(z2)) / 2} {
		if math.Abs(out[i][0]-want) > 1e-12 {
			t.Errorf("output %d = %g, reference %g", i, out[i][0], want)
		}
	}
	for b := range 2 {
		p1, p2, pa := RefSoftmax(z1[b]), RefSoftmax(z2[b]), RefSoftmax(za[b])
		for k := range 3 {
			want := math.Log((p1[k] + p2[k] + pa[k]) / 3)
			if got := out[4][b*3+k]; math.Abs(got-want) > 1e-12 {
				t.Errorf("ensemble log p[%d][%d] = %g, reference %g", b, k, got, want)
			}
			// 6: members that agree give their own log-softmax.
			if math.Abs(out[5][b*3+k]-out[6][b*3+k]) > 1e-12 {
				t.Errorf("agreeing members: %g vs log-softmax %g", out[5][b*3+k], out[6][b*3+k])
			}
		}
	}
	// 7: gradient routing. Two linear members; member i trains on member j's distilled images: L_i sends
	// no gradient to W_j, and some to W_i.
	xs := [][]float64{{0.2, 0.7, 0.4}, {0.9, 0.1, 0.5}}
	xt := [][]float64{{0.6, 0.3, 0.8}, {0.1, 0.4, 0.2}}
	wi := [][]float64{{0.5, -0.2, 1.0}, {0.3, 0.8, -0.6}, {-0.7, 0.1, 0.4}}
	wj := [][]float64{{-0.4, 0.9, 0.2}, {0.6, -0.5, 0.3}, {0.2, 0.7, -0.8}}
	grads := runGraph(t, func(s, tg, wi, wj, y *Node) []*Node {
		xj := dverge.Distill(func(z *Node) *Node { return MatMul(z, wj) }, s, tg, dverge.DefaultDistillConfig())
		li := DVERGELoss([]*Node{MatMul(xj, wi)}, y, nil, 1)
		return Gradient(li, wi, wj)
	}, tensors.FromValue(xs), tensors.FromValue(xt), tensors.FromValue(wi), tensors.FromValue(wj), tensors.FromValue(y))
	nonzero := false
	for _, g := range grads[0] {
		nonzero = nonzero || g != 0
	}
	if !nonzero {
		t.Error("L_i gives no gradient to its own member")
	}
	for k, g := range grads[1] {
		if g != 0 {
			t.Errorf("dL_i/dW_j[%d] = %g, want 0 (distilled images are constants)", k, g)
		}
	}
}
