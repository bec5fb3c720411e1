package genmeasure

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// KendallTau is Kendall's τ_b between x and y (ties handled): (C − D)/sqrt((n₀ − t_x)(n₀ − t_y)), C and
// D the concordant and discordant pairs, n₀ = n(n−1)/2, t_x and t_y the pairs tied in x and in y. It
// is NaN when x or y is constant; it is an error for NaN inputs or lengths below 2.
func KendallTau(x, y []float64) (float64, error) {
	if len(x) != len(y) || len(x) < 2 {
		return 0, fmt.Errorf("genmeasure.KendallTau: needs two series of equal length ≥ 2, got %d and %d", len(x), len(y))
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return 0, fmt.Errorf("genmeasure.KendallTau: NaN at index %d", i)
		}
	}
	var c, d, tx, ty float64
	for i := 0; i < len(x); i++ {
		for j := i + 1; j < len(x); j++ {
			dx, dy := x[i]-x[j], y[i]-y[j]
			switch {
			case dx == 0 && dy == 0:
				tx++
				ty++
			case dx == 0:
				tx++
			case dy == 0:
				ty++
			case (dx > 0) == (dy > 0):
				c++
			default:
				d++
			}
		}
	}
	n0 := float64(len(x)*(len(x)-1)) / 2
	den := math.Sqrt((n0 - tx) * (n0 - ty))
	if den == 0 {
		return math.NaN(), nil
	}
	return (c - d) / den, nil
}

// GranulatedTau is Jiang et al.'s granulated Kendall coefficient. Model i was trained with
// hyperparameter setting hparams[i] (one index per axis, e.g. {noise level, width}). For each axis,
// models are grouped by their values on all the other axes, τ is taken within each group (where only
// that axis varies) and averaged over groups; Psi holds these per-axis averages, in axis order, and
// Mean their average. Groups whose τ is NaN (constant measure or gap) are skipped.
func GranulatedTau(measure, gap []float64, hparams [][]int) (psi []float64, mean float64, err error) {
	if len(measure) != len(gap) || len(measure) != len(hparams) || len(measure) < 2 {
		return nil, 0, fmt.Errorf("genmeasure.GranulatedTau: %d measures, %d gaps and %d settings", len(measure), len(gap), len(hparams))
	}
	axes := len(hparams[0])
	for i, h := range hparams {
		if len(h) != axes {
			return nil, 0, fmt.Errorf("genmeasure.GranulatedTau: model %d has %d hyperparameters, model 0 has %d", i, len(h), axes)
		}
	}
	for a := 0; a < axes; a++ {
		groups := map[string][]int{}
		var keys []string
		for i, h := range hparams {
			var b strings.Builder
			for o, v := range h {
				if o != a {
					fmt.Fprintf(&b, "%d,", v)
				}
			}
			k := b.String()
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], i)
		}
		slices.Sort(keys)
		sum, cnt := 0.0, 0
		for _, k := range keys {
			g := groups[k]
			if len(g) < 2 {
				continue
			}
			xs, ys := make([]float64, len(g)), make([]float64, len(g))
			for j, i := range g {
				xs[j], ys[j] = measure[i], gap[i]
			}
			t, err := KendallTau(xs, ys)
			if err != nil {
				return nil, 0, err
			}
			if !math.IsNaN(t) {
				sum += t
				cnt++
			}
		}
		if cnt == 0 {
			psi = append(psi, math.NaN())
		} else {
			psi = append(psi, sum/float64(cnt))
		}
	}
	s, c := 0.0, 0
	for _, p := range psi {
		if !math.IsNaN(p) {
			s += p
			c++
		}
	}
	if c == 0 {
		return psi, math.NaN(), nil
	}
	return psi, s / float64(c), nil
}
