package napexp

import (
	"fmt"
	"math"
	"slices"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/nap"
	"github.com/losslab/losslab/lib/train"
)

// ScaleCurve is the loss on one batch as one parameter block is scaled by c, and c·‖∇ of the block‖
// (constant in c where ∇ℓ(cW) = ∇ℓ(W)/c, i.e. where the loss is scale invariant in the block).
type ScaleCurve struct {
	Label      string
	Loss, Grad []float64
}

// ScaleCurves scales, at initialisation (seed), every projected block of the normalised MLP (its hidden
// weight matrices, LayerNorm pairs and output matrix) and the plain MLP's first weight matrix, by each
// of cs, on the whole of set as one batch.
func ScaleCurves(set *data.Set, hidden []int, cs []float64, seed uint64) ([]ScaleCurve, error) {
	var out []ScaleCurve
	for _, norm := range []bool{true, false} {
		f, err := train.NewFlatModel(&nap.MLP{Hidden: hidden, Classes: set.Classes, Norm: norm}, set, seed)
		if err != nil {
			return nil, fmt.Errorf("napexp.ScaleCurves: %w", err)
		}
		names, shapes := f.Layout()
		p, err := nap.NewProjector(names, shapes, f.Init(), nap.Options{})
		if err != nil {
			return nil, fmt.Errorf("napexp.ScaleCurves: %w", err)
		}
		blocks, suffix := p.Blocks, ""
		if !norm {
			blocks, suffix = p.Weights[:1], " of the plain MLP"
		}
		for _, b := range blocks {
			sc := ScaleCurve{Label: b.Name + " (" + b.Kind + ")" + suffix}
			for _, c := range cs {
				theta := f.Init()
				for _, r := range b.Ranges {
					for j := r[0]; j < r[1]; j++ {
						theta[j] *= float32(c)
					}
				}
				l, g, err := f.Grad(theta, set.X, set.Y)
				if err != nil {
					return nil, fmt.Errorf("napexp.ScaleCurves: %w", err)
				}
				g2 := 0.0
				for _, r := range b.Ranges {
					for _, v := range g[r[0]:r[1]] {
						g2 += float64(v) * float64(v)
					}
				}
				sc.Loss, sc.Grad = append(sc.Loss, l), append(sc.Grad, c*math.Sqrt(g2))
			}
			out = append(out, sc)
		}
	}
	return slices.Clip(out), nil
}
