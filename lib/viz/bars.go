package viz

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bar draws one bar per category for each group: groups[g].Y[i] is the height of group g's bar in
// categories[i]. Several groups are drawn side by side within each category and get a legend.
// Non-finite values are an error (a missing bar would read as zero). LogY is not supported.
//
// A group with Lo and Hi gets error bars from Lo[i] to Hi[i] (see MeanSE for mean ± standard error over
// seeds, Spread for an interval of the caller's); the legend, or a footnote when there is no legend,
// says what they are (the series' Interval).
func Bar(title, xlabel, ylabel string, categories []string, groups ...Series) *Figure {
	if len(categories) == 0 || len(groups) == 0 {
		return errFigure(title, fmt.Errorf("viz: Bar %q: needs at least one category and one group, got %d and %d", title, len(categories), len(groups)))
	}
	for g, s := range groups {
		if len(s.Y) != len(categories) {
			return errFigure(title, fmt.Errorf("viz: Bar %q: group %s has %d values for %d categories", title, seriesName(s, g), len(s.Y), len(categories)))
		}
		for i, v := range s.Y {
			if !isFinite(v) {
				return errFigure(title, fmt.Errorf("viz: Bar %q: group %s, category %q: value is %v", title, seriesName(s, g), categories[i], v))
			}
		}
		if err := checkErrorBars(s); err != nil {
			return errFigure(title, fmt.Errorf("viz: Bar %q: group %s: %w", title, seriesName(s, g), err))
		}
	}
	f := newFigure(title)
	names, shared := intervalNames(groups)
	if shared != "" && len(groups) < 2 {
		f.notes = append(f.notes, "error bars: "+shared)
	}
	f.check = func(f *Figure) error {
		if f.logY || f.logX {
			return fmt.Errorf("viz: Bar %q: log axes are not supported for bar charts", title)
		}
		return nil
	}
	f.draw = func(f *Figure, c draw.Canvas) error {
		p := newStyledPlot(title, xlabel, ylabel)
		p.Add(gridLines{horizontal: true})
		width := 0.8 / float64(len(groups))
		var legend []legendItem
		for g, s := range groups {
			var poly *plotter.Polygon
			for i, v := range s.Y {
				x0 := float64(i) - 0.4 + float64(g)*width
				rect := plotter.XYs{{X: x0, Y: 0}, {X: x0 + width, Y: 0}, {X: x0 + width, Y: v}, {X: x0, Y: v}}
				pp, err := plotter.NewPolygon(rect)
				if err != nil {
					return err
				}
				pp.Color = seriesColor(g)
				pp.LineStyle = draw.LineStyle{Color: seriesColor(g), Width: vg.Points(0.5)}
				p.Add(pp)
				poly = pp
				if s.Lo != nil {
					p.Add(errorBar(x0+width/2, s.Lo[i], s.Hi[i], width*0.3)...)
				}
			}
			legend = append(legend, legendItem{names[g], []plot.Thumbnailer{poly}})
		}
		if shared != "" {
			legend = append(legend, legendItem{"error bars: " + shared, []plot.Thumbnailer{errorBarThumb{}}})
		}
		ticks := make([]plot.Tick, len(categories))
		for i, name := range categories {
			ticks[i] = plot.Tick{Value: float64(i), Label: name}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Tick.Length = 0
		p.X.Min, p.X.Max = -0.55, float64(len(categories))-0.45
		includeZero(p)
		if f.yRange != nil {
			p.Y.Min, p.Y.Max = f.yRange[0], f.yRange[1]
		}
		if len(groups) < 2 {
			legend = nil
		}
		drawWithLegend(c, p, legend)
		return nil
	}
	f.plotly = func(f *Figure) (*plotlySpec, error) {
		spec := &plotlySpec{Layout: baseLayout(f, xlabel, ylabel, len(groups) > 1)}
		spec.Layout["barmode"] = "group"
		legendTitle(spec, "error bars: "+shared, shared != "")
		for g, s := range groups {
			tr := map[string]any{"type": "bar", "name": names[g], "x": categories, "y": jsonFloats(s.Y),
				"marker": map[string]any{"color": hex(seriesColor(g))}}
			if s.Lo != nil {
				up, down := make(jsonFloats, len(s.Y)), make(jsonFloats, len(s.Y))
				for i, v := range s.Y {
					up[i], down[i] = s.Hi[i]-v, v-s.Lo[i]
				}
				tr["error_y"] = map[string]any{"type": "data", "symmetric": false, "array": up, "arrayminus": down, "color": "#333333"}
			}
			spec.Data = append(spec.Data, tr)
		}
		return spec, nil
	}
	return f
}

// errorBarStyle is the look of error bars: dark grey, over any series colour.
var errorBarStyle = draw.LineStyle{Color: rgb(0x33, 0x33, 0x33), Width: vg.Points(1.2)}

// checkErrorBars checks a bar series' Lo and Hi: both or neither, one per bar, finite, Lo <= Y <= Hi.
func checkErrorBars(s Series) error {
	if s.Lo == nil && s.Hi == nil {
		return nil
	}
	if len(s.Lo) != len(s.Y) || len(s.Hi) != len(s.Y) {
		return fmt.Errorf("error bars need Lo and Hi both of length %d, got %d and %d", len(s.Y), len(s.Lo), len(s.Hi))
	}
	for i, v := range s.Y {
		lo, hi := s.Lo[i], s.Hi[i]
		if !isFinite(lo) || !isFinite(hi) || !(lo <= v && v <= hi) {
			return fmt.Errorf("error bar %d is [%v, %v] around %v (want finite Lo <= Y <= Hi)", i, lo, hi, v)
		}
	}
	return nil
}

// errorBar returns a vertical error bar at x from lo to hi with caps capW wide (in data units).
func errorBar(x, lo, hi, capW float64) []plot.Plotter {
	seg := func(x0, y0, x1, y1 float64) plot.Plotter {
		return &plotter.Line{XYs: plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y1}}, LineStyle: errorBarStyle}
	}
	return []plot.Plotter{seg(x, lo, x, hi), seg(x-capW/2, lo, x+capW/2, lo), seg(x-capW/2, hi, x+capW/2, hi)}
}

// errorBarThumb is the legend swatch of error bars: a capped vertical bar.
type errorBarThumb struct{}

func (errorBarThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	x := (r.Min.X + r.Max.X) / 2
	lo, hi := r.Min.Y+(r.Max.Y-r.Min.Y)*0.1, r.Max.Y-(r.Max.Y-r.Min.Y)*0.1
	w := vg.Points(3)
	c.StrokeLine2(errorBarStyle, x, lo, x, hi)
	c.StrokeLine2(errorBarStyle, x-w, lo, x+w, lo)
	c.StrokeLine2(errorBarStyle, x-w, hi, x+w, hi)
}

// includeZero makes the y axis include 0 and leaves 5% headroom above the tallest bar.
func includeZero(p *plot.Plot) {
	if p.Y.Min > 0 {
		p.Y.Min = 0
	}
	if p.Y.Max < 0 {
		p.Y.Max = 0
	}
	if p.Y.Max > 0 {
		p.Y.Max += 0.05 * (p.Y.Max - p.Y.Min)
	}
}

// Histogram bins each group's samples (Series.Y, see Values) into bins equal-width bins shared by all
// groups, and draws the counts as translucent step outlines (several groups get a legend). The y
// axis is "count". Non-finite samples are an error; bins must be positive.
func Histogram(title, xlabel string, bins int, groups ...Series) *Figure {
	if bins <= 0 {
		return errFigure(title, fmt.Errorf("viz: Histogram %q: bins must be positive, got %d", title, bins))
	}
	if len(groups) == 0 {
		return errFigure(title, fmt.Errorf("viz: Histogram %q: no samples given", title))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for g, s := range groups {
		if len(s.Y) == 0 {
			return errFigure(title, fmt.Errorf("viz: Histogram %q: group %s has no samples", title, seriesName(s, g)))
		}
		bad := 0
		for _, v := range s.Y {
			if !isFinite(v) {
				bad++
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if bad > 0 {
			return errFigure(title, fmt.Errorf("viz: Histogram %q: group %s has %d NaN/Inf samples of %d", title, seriesName(s, g), bad, len(s.Y)))
		}
	}
	if hi == lo {
		lo, hi = lo-0.5, hi+0.5
	}
	width := (hi - lo) / float64(bins)
	counts := make([][]float64, len(groups))
	for g, s := range groups {
		counts[g] = make([]float64, bins)
		for _, v := range s.Y {
			k := int((v - lo) / width)
			if k >= bins {
				k = bins - 1
			}
			counts[g][k]++
		}
	}
	f := newFigure(title)
	f.check = func(f *Figure) error {
		if f.logY || f.logX {
			return fmt.Errorf("viz: Histogram %q: log axes are not supported for histograms", title)
		}
		return nil
	}
	f.draw = func(f *Figure, c draw.Canvas) error {
		p := newStyledPlot(title, xlabel, "count")
		p.Add(gridLines{horizontal: true})
		var legend []legendItem
		for g := range groups {
			outline := plotter.XYs{{X: lo, Y: 0}}
			for k, n := range counts[g] {
				x0 := lo + float64(k)*width
				outline = append(outline, plotter.XY{X: x0, Y: n}, plotter.XY{X: x0 + width, Y: n})
			}
			outline = append(outline, plotter.XY{X: hi, Y: 0})
			poly, err := plotter.NewPolygon(outline)
			if err != nil {
				return err
			}
			alpha := 0.75
			if len(groups) > 1 {
				alpha = 0.3
			}
			poly.Color = withAlpha(seriesColor(g), alpha)
			poly.LineStyle.Width = 0
			line := &plotter.Line{XYs: outline, LineStyle: draw.LineStyle{Color: seriesColor(g), Width: vg.Points(1.4)}}
			p.Add(poly, line)
			legend = append(legend, legendItem{groups[g].Name, []plot.Thumbnailer{poly, line}})
		}
		includeZero(p)
		if f.yRange != nil {
			p.Y.Min, p.Y.Max = f.yRange[0], f.yRange[1]
		}
		if len(groups) < 2 {
			legend = nil
		}
		drawWithLegend(c, p, legend)
		return nil
	}
	f.plotly = func(f *Figure) (*plotlySpec, error) {
		spec := &plotlySpec{Layout: baseLayout(f, xlabel, "count", len(groups) > 1)}
		spec.Layout["barmode"] = "overlay"
		for g, s := range groups {
			spec.Data = append(spec.Data, map[string]any{"type": "histogram", "name": s.Name, "x": jsonFloats(s.Y),
				"xbins":   map[string]any{"start": lo, "end": hi + width*1e-9, "size": width},
				"opacity": map[bool]float64{true: 0.5, false: 0.8}[len(groups) > 1],
				"marker":  map[string]any{"color": hex(seriesColor(g)), "line": map[string]any{"color": hex(seriesColor(g)), "width": 1}}})
		}
		return spec, nil
	}
	return f
}
