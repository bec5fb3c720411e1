package viz

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/losslab/losslab/lib/landscape"
)

// LandscapePath plots a 1-D path of lib/landscape (an interpolation between two models): metric "loss"
// or "error" against α, one line per dataset, with each curve's linear-chord barrier in its legend.
// Points added by adaptive refinement are merged into the line in α order.
func LandscapePath(title string, p *landscape.Path, metric string) *Figure {
	if p == nil {
		return errFigure(title, fmt.Errorf("viz: LandscapePath %q: nil path", title))
	}
	var series []Series
	for _, c := range p.Curves {
		y, b := c.Loss, c.LossBarrier
		ylabel := "loss"
		switch metric {
		case "loss", "":
		case "error":
			y, b, ylabel = c.Error, c.ErrorBarrier, "error"
		default:
			return errFigure(title, fmt.Errorf("viz: LandscapePath %q: metric %q is not \"loss\" or \"error\"", title, metric))
		}
		x, ys := sortedXY(p.Alpha, y)
		series = append(series, XY(fmt.Sprintf("%s (%s barrier %.3g at α=%.2f)", c.Data, ylabel, b.Linear, b.LinearAlpha), x, ys))
	}
	return Lines(title, "α (0 = A, 1 = B)", pathYLabel(metric), series...)
}

// pathYLabel is the y label of a path's metric.
func pathYLabel(metric string) string {
	if metric == "error" {
		return "error rate (fraction)"
	}
	return "loss (nats)"
}

// LayerwiseLMC draws a layer-wise LMC result as a heatmap: one row per group (or set of groups), one
// column per α, coloured by the gap above the linear chord (the barrier's integrand).
func LayerwiseLMC(title string, l *landscape.Layerwise) *Figure {
	if l == nil {
		return errFigure(title, fmt.Errorf("viz: LayerwiseLMC %q: nil result", title))
	}
	cols := make([]string, len(l.Alpha))
	for i, a := range l.Alpha {
		cols[i] = fmt.Sprintf("%.2g", a)
	}
	return Heatmap(title, l.Rows, cols, l.Gap).ColorLabel("loss above the chord (nats)")
}

// LandscapeGrid draws a 2-D plane evaluation as a filled contour of metric "loss" or "error", with the
// plane's marks (the models it was built from, a projected trajectory) as points. Points not computed yet
// (an interrupted grid) show as gaps.
func LandscapeGrid(title string, g *landscape.Grid, metric string) *Figure {
	if g == nil {
		return errFigure(title, fmt.Errorf("viz: LandscapeGrid %q: nil grid", title))
	}
	z := g.Loss
	label := "loss (nats)"
	switch metric {
	case "loss", "":
	case "error":
		z, label = g.Error, "error rate"
	default:
		return errFigure(title, fmt.Errorf("viz: LandscapeGrid %q: metric %q is not \"loss\" or \"error\"", title, metric))
	}
	zz := make([][]float64, len(z))
	for i := range z {
		zz[i] = make([]float64, len(z[i]))
		for j := range z[i] {
			zz[i][j] = z[i][j]
			if i < len(g.Done) && j < len(g.Done[i]) && !g.Done[i][j] {
				zz[i][j] = math.NaN()
			}
		}
	}
	return Contour(title, "s (first direction)", "t (second direction)", Grid{X: g.S, Y: g.T, Z: zz}, markOverlays(g.Marks)...).ColorLabel(label)
}

// markOverlays turns a plane's marks into overlays that the legend names: one point per mark, named by
// the mark (the models the plane was built from), or, when the marks are a projected trajectory (PCA
// snapshots), one path.
func markOverlays(marks []landscape.Mark) []Overlay {
	if len(marks) == 0 {
		return nil
	}
	trajectory := len(marks) > 1
	for _, m := range marks {
		if !strings.HasPrefix(m.Name, "snapshot ") {
			trajectory = false
		}
	}
	if trajectory {
		var xs, ys []float64
		for _, m := range marks {
			xs, ys = append(xs, m.S), append(ys, m.T)
		}
		return []Overlay{Path(fmt.Sprintf("training trajectory (%d snapshots, projected)", len(marks)), xs, ys)}
	}
	out := make([]Overlay, len(marks))
	for i, m := range marks {
		name := m.Name
		if name == "" {
			name = fmt.Sprintf("point %d", i+1)
		}
		out[i] = Points(name, []float64{m.S}, []float64{m.T})
	}
	return out
}

func sortedXY(x, y []float64) ([]float64, []float64) {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	xs, ys := make([]float64, len(x)), make([]float64, len(x))
	for i, k := range idx {
		xs[i] = x[k]
		if k < len(y) {
			ys[i] = y[k]
		} else {
			ys[i] = math.NaN()
		}
	}
	return xs, ys
}
