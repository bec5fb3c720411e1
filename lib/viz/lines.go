package viz

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Lines plots each series as a line of y against x, with its band (Lo..Hi) shaded under it when the
// series has one (see Band and MeanBand). Several series get a legend; one series gets none.
//
// A NaN or ±Inf y value breaks the line (and the band) at that point instead of joining across it;
// the figure then carries a footnote naming the series and how many points were left out. A series
// whose y values are all non-finite, a non-finite x value, and mismatched lengths are errors. On a
// log axis (LogX, LogY) every finite value must be positive.
func Lines(title, xlabel, ylabel string, series ...Series) *Figure {
	return xyFigure("Lines", title, xlabel, ylabel, series, false)
}

// Scatter plots each series as points (x[i], y[i]); several series get distinct colours and marker
// shapes and a legend. Points with a non-finite y are left out, with a footnote; non-finite x values
// and mismatched lengths are errors. Bands are ignored.
func Scatter(title, xlabel, ylabel string, series ...Series) *Figure {
	return xyFigure("Scatter", title, xlabel, ylabel, series, true)
}

func xyFigure(kind, title, xlabel, ylabel string, series []Series, points bool) *Figure {
	if len(series) == 0 {
		return errFigure(title, fmt.Errorf("viz: %s %q: no series given", kind, title))
	}
	var gapNames []string
	var gapCounts []int
	for i, s := range series {
		gaps, err := checkXY(kind, s, i, true)
		if err != nil {
			return errFigure(title, err)
		}
		if gaps > 0 {
			gapNames = append(gapNames, seriesName(s, i))
			gapCounts = append(gapCounts, gaps)
		}
	}
	f := newFigure(title)
	names, shared := intervalNames(series)
	if points {
		shared = "" // Scatter draws no bands
	}
	if shared != "" && len(series) < 2 {
		f.notes = append(f.notes, "shaded: "+shared)
	}
	if len(gapNames) > 0 {
		verb := "break the lines (gaps)"
		if points {
			verb = "left out"
		}
		f.notes = append(f.notes, gapNote(verb, gapNames, gapCounts))
	}
	f.check = func(f *Figure) error {
		for i, s := range series {
			if f.logX && !allPositive(s.X) {
				return fmt.Errorf("viz: %s %q: LogX needs positive x values; series %s has one <= 0", kind, title, seriesName(s, i))
			}
			if f.logY && (!allPositive(s.Y) || (!points && (!allPositive(s.Lo) || !allPositive(s.Hi)))) {
				return fmt.Errorf("viz: %s %q: LogY needs positive y values (bands included); series %s has one <= 0", kind, title, seriesName(s, i))
			}
		}
		return nil
	}
	f.draw = func(f *Figure, c draw.Canvas) error {
		p := newStyledPlot(title, xlabel, ylabel)
		setScales(f, p)
		p.Add(gridLines{vertical: true, horizontal: true})
		var legend []legendItem
		if points {
			for i, s := range series {
				sc := scatterOf(s, i, f.colorOffset)
				if sc == nil {
					continue
				}
				p.Add(sc)
				legend = append(legend, legendItem{names[i], []plot.Thumbnailer{sc}})
			}
		} else {
			for i, s := range series {
				for _, poly := range bandPolygons(s, i, f.colorOffset) {
					p.Add(poly)
				}
			}
			for i, s := range series {
				thumbs := lineParts(p, s, i, f.colorOffset)
				legend = append(legend, legendItem{names[i], thumbs})
			}
			if shared != "" && len(series) > 1 {
				legend = append(legend, legendItem{"shaded: " + shared, []plot.Thumbnailer{bandThumb{rgb(0x59, 0x59, 0x59)}}})
			}
		}
		if f.xRange != nil {
			p.X.Min, p.X.Max = f.xRange[0], f.xRange[1]
		}
		if f.yRange != nil {
			p.Y.Min, p.Y.Max = f.yRange[0], f.yRange[1]
		} else {
			padAxis(&p.Y, f.logY)
		}
		if len(series) < 2 {
			legend = nil
		}
		drawWithLegend(c, p, legend)
		return nil
	}
	f.plotly = func(f *Figure) (*plotlySpec, error) {
		return xyPlotly(f, xlabel, ylabel, series, points), nil
	}
	return f
}

func allPositive(v []float64) bool {
	for _, x := range v {
		if isFinite(x) && x <= 0 {
			return false
		}
	}
	return true
}

// padAxis widens a fitted axis by 3% of its span at each end (multiplicatively on a log axis), so that a
// line at the data's extreme (the first loss of a run) is not drawn on the frame, half cut.
func padAxis(ax *plot.Axis, log bool) {
	lo, hi := ax.Min, ax.Max
	switch {
	case !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0):
	case log && lo > 0:
		r := math.Pow(hi/lo, 0.03)
		ax.Min, ax.Max = lo/r, hi*r
	case !log:
		pad := 0.03 * (hi - lo)
		ax.Min, ax.Max = lo-pad, hi+pad
	}
}

func setScales(f *Figure, p *plot.Plot) {
	if f.logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	if f.logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
}

func lineStyle(i int) draw.LineStyle {
	return draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1.8), Dashes: seriesDashes(i)}
}

// lineParts adds series i's line, broken at non-finite y values, to p, and returns the legend
// thumbnails.
func lineParts(p *plot.Plot, s Series, i, off int) []plot.Thumbnailer {
	sty := lineStyle(i + off)
	var thumbs []plot.Thumbnailer
	if s.Lo != nil {
		thumbs = append(thumbs, bandThumb{seriesColor(i + off)})
	}
	line := &plotter.Line{LineStyle: sty}
	thumbs = append(thumbs, line)
	for _, r := range runs(len(s.Y), func(j int) bool { return isFinite(s.Y[j]) }) {
		xys := make(plotter.XYs, 0, r[1]-r[0])
		for j := r[0]; j < r[1]; j++ {
			xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
		}
		if len(xys) == 1 {
			// A lone point between gaps would be invisible as a line: mark it.
			sc, _ := plotter.NewScatter(xys)
			sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(i + off), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			continue
		}
		p.Add(&plotter.Line{XYs: xys, LineStyle: sty})
	}
	return thumbs
}

// bandPolygons returns series i's band, broken at non-finite values, as translucent polygons.
func bandPolygons(s Series, i, off int) []*plotter.Polygon {
	if s.Lo == nil {
		return nil
	}
	var out []*plotter.Polygon
	ok := func(j int) bool { return isFinite(s.Lo[j]) && isFinite(s.Hi[j]) }
	for _, r := range runs(len(s.Y), ok) {
		if r[1]-r[0] < 2 {
			continue
		}
		ring := make(plotter.XYs, 0, 2*(r[1]-r[0]))
		for j := r[0]; j < r[1]; j++ {
			ring = append(ring, plotter.XY{X: s.X[j], Y: s.Hi[j]})
		}
		for j := r[1] - 1; j >= r[0]; j-- {
			ring = append(ring, plotter.XY{X: s.X[j], Y: s.Lo[j]})
		}
		poly, err := plotter.NewPolygon(ring)
		if err != nil {
			continue
		}
		poly.Color = withAlpha(seriesColor(i+off), 0.22)
		poly.LineStyle.Width = 0
		out = append(out, poly)
	}
	return out
}

// bandThumb is the legend swatch of a band.
type bandThumb struct{ c color.Color }

func (b bandThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	mid := (r.Min.Y + r.Max.Y) / 2
	h := (r.Max.Y - r.Min.Y) * 0.35
	pts := []vg.Point{{X: r.Min.X, Y: mid - h}, {X: r.Max.X, Y: mid - h}, {X: r.Max.X, Y: mid + h}, {X: r.Min.X, Y: mid + h}}
	c.FillPolygon(withAlpha(b.c, 0.22), pts)
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

func scatterOf(s Series, i, off int) *plotter.Scatter {
	xys := make(plotter.XYs, 0, len(s.Y))
	for j := range s.Y {
		if isFinite(s.Y[j]) {
			xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
		}
	}
	if len(xys) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: withAlpha(seriesColor(i+off), 0.85), Radius: vg.Points(2.6), Shape: glyphs[(i+off)%len(glyphs)]}
	return sc
}

// titleHeight is the vertical space the plot title takes.
func titleHeight(p *plot.Plot) vg.Length {
	if p.Title.Text == "" {
		return 0
	}
	return p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding + vg.Points(6)
}

// jsonFloats marshals non-finite values as null (Plotly leaves a gap there).
type jsonFloats []float64

func (v jsonFloats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 12*len(v)+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b = append(b, "null"...)
			continue
		}
		b = appendFloat(b, x)
	}
	return append(b, ']'), nil
}
