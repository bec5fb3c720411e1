package viz

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Heatmap draws a matrix as coloured cells, values[r][c] in row r (from the top) and column c, with
// a colour bar (viridis; set its label with ColorLabel, a log scale with LogColor). Rows and columns
// are labelled with rowLabels and colLabels (nil for 0, 1, 2, ...). Matrices up to 12×12 also print
// each value in its cell. Non-finite cells are drawn grey and a footnote says how many there are; a
// matrix with no finite value, or ragged rows, is an error.
func Heatmap(title string, rowLabels, colLabels []string, values [][]float64) *Figure {
	rows := len(values)
	if rows == 0 || len(values[0]) == 0 {
		return errFigure(title, fmt.Errorf("viz: Heatmap %q: empty matrix", title))
	}
	cols := len(values[0])
	for r, row := range values {
		if len(row) != cols {
			return errFigure(title, fmt.Errorf("viz: Heatmap %q: row %d has %d values, row 0 has %d", title, r, len(row), cols))
		}
	}
	if rowLabels == nil {
		rowLabels = indexLabels(rows)
	}
	if colLabels == nil {
		colLabels = indexLabels(cols)
	}
	if len(rowLabels) != rows || len(colLabels) != cols {
		return errFigure(title, fmt.Errorf("viz: Heatmap %q: %d×%d matrix but %d row labels and %d column labels", title, rows, cols, len(rowLabels), len(colLabels)))
	}
	bad := countNonFinite(values)
	if bad == rows*cols {
		return errFigure(title, fmt.Errorf("viz: Heatmap %q: all %d values are NaN or Inf", title, bad))
	}
	f := newFigure(title)
	if bad > 0 {
		f.notes = append(f.notes, fmt.Sprintf("grey cells: %d NaN/Inf values", bad))
	}
	f.check = func(f *Figure) error { return checkLogColor(f, "Heatmap", values) }
	f.draw = func(f *Figure, c draw.Canvas) error {
		sc := newColorScale(values, f.logColor)
		p := newStyledPlot(title, "", "")
		grid := matrixGrid{values: values, scale: sc}
		hm := plotter.NewHeatMap(grid, viridisPalette(256))
		hm.Min, hm.Max = 0, 1
		hm.NaN = nanColor
		p.Add(hm)
		xt := make([]plot.Tick, cols)
		for i, l := range colLabels {
			xt[i] = plot.Tick{Value: float64(i), Label: l}
		}
		yt := make([]plot.Tick, rows)
		for i, l := range rowLabels {
			yt[i] = plot.Tick{Value: float64(rows - 1 - i), Label: l}
		}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
		p.X.Tick.Length, p.Y.Tick.Length = 0, 0
		p.X.LineStyle.Width, p.Y.LineStyle.Width = 0, 0
		p.X.Padding, p.Y.Padding = 0, 0
		if rows <= 12 && cols <= 12 {
			p.Add(cellText{values: values, scale: sc})
		}
		main, bar := splitColorBar(c)
		// Label every k-th row and column when the labels would run into each other.
		da := p.DataCanvas(main)
		xt = thinTicks(xt, (da.Max.X-da.Min.X)/vg.Length(cols), func(l string) vg.Length { return textWidth(p.X.Tick.Label, l) + textWidth(p.X.Tick.Label, "0") })
		yt = thinTicks(yt, (da.Max.Y-da.Min.Y)/vg.Length(rows), func(l string) vg.Length { return p.Y.Tick.Label.Rectangle(l).Size().Y })
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
		drawPlot(main, p)
		drawColorBar(bar, sc, f.colorLabel, titleHeight(p), p, 0)
		return nil
	}
	f.plotly = func(f *Figure) (*plotlySpec, error) {
		spec := &plotlySpec{Layout: baseLayout(f, "", "", false)}
		spec.Layout["xaxis"] = map[string]any{"type": "category", "showgrid": false}
		spec.Layout["yaxis"] = map[string]any{"type": "category", "autorange": "reversed", "showgrid": false}
		z := make([]jsonFloats, rows)
		for r := range values {
			z[r] = values[r]
		}
		tr := map[string]any{"type": "heatmap", "x": colLabels, "y": rowLabels, "z": z, "colorscale": "Viridis",
			"colorbar": map[string]any{"title": map[string]any{"text": f.colorLabel}}, "hoverongaps": false}
		if rows <= 12 && cols <= 12 {
			tr["texttemplate"] = "%{z:.3g}"
		}
		if f.logColor {
			// Plotly has no log colour axis: colour by log10 and show the value on hover.
			lz := make([]jsonFloats, rows)
			for r := range values {
				lz[r] = make(jsonFloats, cols)
				for cc, v := range values[r] {
					lz[r][cc] = math.Log10(v)
				}
			}
			tr["z"], tr["text"] = lz, z
			tr["hovertemplate"] = "%{y}, %{x}: %{text:.4g}<extra></extra>"
			tr["texttemplate"] = "%{text:.3g}"
			tr["colorbar"] = map[string]any{"title": map[string]any{"text": "log10 " + f.colorLabel}}
		}
		spec.Data = []map[string]any{tr}
		return spec, nil
	}
	return f
}

// thinTicks keeps every k-th of ticks (one per cell, cell apart), the smallest k of 1, 2, 5, 10, 20, ...
// for which the widest label, as measured by size, fits in k cells.
func thinTicks(ticks []plot.Tick, cell vg.Length, size func(string) vg.Length) []plot.Tick {
	var need vg.Length
	for _, t := range ticks {
		need = max(need, size(t.Label))
	}
	if cell <= 0 || need <= cell {
		return ticks
	}
	k := 1
	for _, m := range []int{2, 5, 10, 20, 50, 100, 200, 500, 1000} {
		k = m
		if vg.Length(m)*cell >= need {
			break
		}
	}
	var out []plot.Tick
	for i, t := range ticks {
		if i%k == 0 {
			out = append(out, t)
		}
	}
	return out
}

func indexLabels(n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}

func countNonFinite(values [][]float64) int {
	n := 0
	for _, row := range values {
		for _, v := range row {
			if !isFinite(v) {
				n++
			}
		}
	}
	return n
}

func checkLogColor(f *Figure, kind string, values [][]float64) error {
	if !f.logColor {
		return nil
	}
	for _, row := range values {
		for _, v := range row {
			if isFinite(v) && v <= 0 {
				return fmt.Errorf("viz: %s %q: LogColor needs positive values, found %g", kind, f.title, v)
			}
		}
	}
	return nil
}

// colorScale maps data values to [0, 1] (linearly, or linearly in log10).
type colorScale struct {
	lo, hi float64 // in transformed units
	log    bool
}

func newColorScale(values [][]float64, log bool) colorScale {
	sc := colorScale{lo: math.Inf(1), hi: math.Inf(-1), log: log}
	for _, row := range values {
		for _, v := range row {
			if !isFinite(v) || (log && v <= 0) {
				continue
			}
			t := sc.transform(v)
			sc.lo, sc.hi = math.Min(sc.lo, t), math.Max(sc.hi, t)
		}
	}
	if sc.hi == sc.lo {
		sc.lo, sc.hi = sc.lo-0.5, sc.hi+0.5
	}
	return sc
}

func (s colorScale) transform(v float64) float64 {
	if s.log {
		return math.Log10(v)
	}
	return v
}

// unit maps v to [0, 1]; NaN stays NaN.
func (s colorScale) unit(v float64) float64 {
	if !isFinite(v) || (s.log && v <= 0) {
		return math.NaN()
	}
	return (s.transform(v) - s.lo) / (s.hi - s.lo)
}

// matrixGrid shows a matrix (row 0 on top) as a plotter.GridXYZ of values already mapped to [0, 1].
type matrixGrid struct {
	values [][]float64
	scale  colorScale
}

func (g matrixGrid) Dims() (c, r int)   { return len(g.values[0]), len(g.values) }
func (g matrixGrid) X(c int) float64    { return float64(c) }
func (g matrixGrid) Y(r int) float64    { return float64(r) }
func (g matrixGrid) Z(c, r int) float64 { return g.scale.unit(g.values[len(g.values)-1-r][c]) }

// cellText prints each cell's value in its cell, in black or white to contrast with the fill.
type cellText struct {
	values [][]float64
	scale  colorScale
}

func (t cellText) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	rows := len(t.values)
	cellW, cellH := trX(1)-trX(0), trY(0)-trY(1)
	if cellH < 0 {
		cellH = -cellH
	}
	// The first size and number of significant digits at which every value fits its cell; if none, no text.
	size, digits := 0.0, 0
	for _, try := range []struct {
		size   float64
		digits int
	}{{10, 3}, {9, 3}, {8, 3}, {10, 2}, {9, 2}, {8, 2}, {7, 3}, {7, 2}} {
		if t.fits(fontOf(try.size), try.digits, cellW-vg.Points(3), cellH) {
			size, digits = try.size, try.digits
			break
		}
	}
	if size == 0 {
		return
	}
	for r, row := range t.values {
		for cc, v := range row {
			col := nanColor
			if u := t.scale.unit(v); !math.IsNaN(u) {
				col = viridis(u)
			}
			sty := draw.TextStyle{Color: textColorOn(col), Font: fontOf(size), XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: defaultHandler()}
			c.FillText(sty, vg.Point{X: trX(float64(cc)), Y: trY(float64(rows - 1 - r))}, strconv.FormatFloat(v, 'g', digits, 64))
		}
	}
}

// fits reports whether every value, with the given significant digits, fits a w×h cell in font fnt.
func (t cellText) fits(fnt font.Font, digits int, w, h vg.Length) bool {
	sty := draw.TextStyle{Font: fnt, Handler: defaultHandler()}
	for _, row := range t.values {
		for _, v := range row {
			sz := sty.Rectangle(strconv.FormatFloat(v, 'g', digits, 64)).Size()
			if sz.X > w || sz.Y > h {
				return false
			}
		}
	}
	return true
}

// splitColorBar splits c into the plot area and a strip on the right for the colour bar.
func splitColorBar(c draw.Canvas) (main, bar draw.Canvas) {
	w := vg.Points(78)
	return draw.Crop(c, 0, -w, 0, 0), draw.Crop(c, c.Max.X-c.Min.X-w, 0, 0, 0)
}

// drawColorBar draws a vertical colour bar for sc into c, aligned with the data area of p (drawn
// in the canvas to the left), with its ticks and label.
//
// bands > 0 draws that many flat colour bands (matching a filled contour); 0 draws a smooth ramp.
func drawColorBar(c draw.Canvas, sc colorScale, label string, top vg.Length, p *plot.Plot, bands int) {
	// Align the bar's ends with the data area: below the title, above the x axis.
	bottom := vg.Points(0)
	if p != nil {
		bottom = p.X.Label.TextStyle.Rectangle("Ag").Size().Y + p.X.Tick.Label.Rectangle("0").Size().Y + vg.Points(14)
		if p.X.Label.Text == "" {
			bottom -= p.X.Label.TextStyle.Rectangle("Ag").Size().Y
		}
	}
	x0 := c.Min.X + vg.Points(8)
	bw := vg.Points(12)
	y0, y1 := c.Min.Y+bottom, c.Max.Y-top
	if y1 <= y0 {
		return
	}
	n := bands
	if n <= 0 {
		n = 96
	}
	h := (y1 - y0) / vg.Length(n)
	for i := range n {
		ya := y0 + h*vg.Length(i)
		yb := ya + h
		if i < n-1 {
			yb += vg.Points(0.5) // overlap neighbours so no hairline gaps show
		}
		c.FillPolygon(viridis((float64(i)+0.5)/float64(n)), []vg.Point{{X: x0, Y: ya}, {X: x0 + bw, Y: ya}, {X: x0 + bw, Y: yb}, {X: x0, Y: yb}})
	}
	edge := draw.LineStyle{Color: rgb(0x33, 0x33, 0x33), Width: vg.Points(0.5)}
	c.StrokeLines(edge, []vg.Point{{X: x0, Y: y0}, {X: x0 + bw, Y: y0}, {X: x0 + bw, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
	tickSty := draw.TextStyle{Color: rgb(0, 0, 0), Font: fontOf(tickSize), XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: defaultHandler()}
	var tickW vg.Length
	lineH := tickSty.Rectangle("0").Size().Y
	lastY := vg.Length(math.Inf(-1))
	for _, t := range colorTicks(sc) {
		y := y0 + (y1-y0)*vg.Length((t.Value-sc.lo)/(sc.hi-sc.lo))
		c.StrokeLine2(edge, x0+bw, y, x0+bw+vg.Points(3), y)
		if y-lastY < lineH+vg.Points(1) {
			continue // too close to the label below (log scales crowd at the top): tick mark only
		}
		lastY = y
		c.FillText(tickSty, vg.Point{X: x0 + bw + vg.Points(5), Y: y}, t.Label)
		tickW = max(tickW, tickSty.Rectangle(t.Label).Size().X)
	}
	if label != "" {
		sty := draw.TextStyle{Color: rgb(0, 0, 0), Font: fontOf(labelSize - 1), Rotation: -math.Pi / 2, XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: defaultHandler()}
		th := sty.Rectangle("Ag").Size().Y
		x := min(x0+bw+vg.Points(10)+tickW+th/2, c.Max.X-th/2)
		c.FillText(sty, vg.Point{X: x, Y: (y0 + y1) / 2}, label)
	}
}

// colorTicks returns ticks (in transformed units) for the colour bar.
func colorTicks(sc colorScale) []plot.Tick {
	var ticks []plot.Tick
	if sc.log {
		for k := math.Ceil(sc.lo); k <= sc.hi+1e-9; k++ {
			ticks = append(ticks, plot.Tick{Value: k, Label: formatTick(math.Pow(10, k))})
		}
		if len(ticks) >= 2 {
			return ticks
		}
		// Less than a decade: label plain values.
		ticks = ticks[:0]
		for _, t := range (niceTicks{}).Ticks(math.Pow(10, sc.lo), math.Pow(10, sc.hi)) {
			if t.Value > 0 {
				ticks = append(ticks, plot.Tick{Value: math.Log10(t.Value), Label: t.Label})
			}
		}
		return ticks
	}
	for _, t := range (niceTicks{}).Ticks(sc.lo, sc.hi) {
		if t.Value >= sc.lo-1e-12 && t.Value <= sc.hi+1e-12 {
			ticks = append(ticks, t)
		}
	}
	return ticks
}
