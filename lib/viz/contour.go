package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Grid is a function sampled on a rectangular grid: Z[i][j] is the value at (X[j], Y[i]). X and Y
// must be strictly increasing (they need not be evenly spaced). A 2D loss landscape is a Grid.
type Grid struct {
	X, Y []float64
	Z    [][]float64
}

func (g Grid) validate(kind, title string) (nonFinite int, err error) {
	if len(g.X) < 2 || len(g.Y) < 2 {
		return 0, fmt.Errorf("viz: %s %q: grid needs at least 2×2 points, got %d x values and %d y values", kind, title, len(g.X), len(g.Y))
	}
	if len(g.Z) != len(g.Y) {
		return 0, fmt.Errorf("viz: %s %q: grid has %d y values but %d rows of Z (Z[i][j] is the value at X[j], Y[i])", kind, title, len(g.Y), len(g.Z))
	}
	for i, row := range g.Z {
		if len(row) != len(g.X) {
			return 0, fmt.Errorf("viz: %s %q: grid row Z[%d] has %d values for %d x values", kind, title, i, len(row), len(g.X))
		}
	}
	for name, axis := range map[string][]float64{"X": g.X, "Y": g.Y} {
		for i, v := range axis {
			if !isFinite(v) {
				return 0, fmt.Errorf("viz: %s %q: grid %s[%d] is %v", kind, title, name, i, v)
			}
			if i > 0 && !(v > axis[i-1]) {
				return 0, fmt.Errorf("viz: %s %q: grid %s must be strictly increasing, but %s[%d]=%g follows %g", kind, title, name, name, i, v, axis[i-1])
			}
		}
	}
	nonFinite = countNonFinite(g.Z)
	if nonFinite == len(g.X)*len(g.Y) {
		return 0, fmt.Errorf("viz: %s %q: all %d grid values are NaN or Inf", kind, title, nonFinite)
	}
	return nonFinite, nil
}

// Overlay is a set of points drawn on top of a Contour (and Surface's static form): a path such as
// an optimiser's trajectory (see Path), or marked points such as minima (see Points).
type Overlay struct {
	Name string
	X, Y []float64
	Line bool // join the points in order
}

// Path returns an overlay that joins the points in order (a trajectory); its start is marked with a
// circle and its end with a larger one.
func Path(name string, x, y []float64) Overlay { return Overlay{Name: name, X: x, Y: y, Line: true} }

// Points returns an overlay of separate marked points.
func Points(name string, x, y []float64) Overlay { return Overlay{Name: name, X: x, Y: y} }

func (o Overlay) validate(kind, title string, k int) error {
	name := fmt.Sprintf("overlay #%d", k)
	if o.Name != "" {
		name = fmt.Sprintf("overlay %q", o.Name)
	}
	if len(o.X) != len(o.Y) || len(o.X) == 0 {
		return fmt.Errorf("viz: %s %q: %s needs the same, non-zero number of x and y values, got %d and %d", kind, title, name, len(o.X), len(o.Y))
	}
	for i := range o.X {
		if !isFinite(o.X[i]) || !isFinite(o.Y[i]) {
			return fmt.Errorf("viz: %s %q: %s point %d is (%v, %v)", kind, title, name, i, o.X[i], o.Y[i])
		}
	}
	return nil
}

// contourLevels is the number of colour bands of a filled contour.
const contourLevels = 12

// Contour draws g as filled contours (viridis, contourLevels bands, non-finite cells grey) with
// thin contour lines at the band edges, a colour bar (ColorLabel sets its label, LogColor spaces the
// levels in log10), and the overlays on top. Named overlays get a legend. A grid with no finite
// value, bad shapes, and non-finite overlay points are errors; non-finite grid values are gaps named
// in a footnote.
func Contour(title, xlabel, ylabel string, g Grid, overlays ...Overlay) *Figure {
	bad, err := g.validate("Contour", title)
	if err != nil {
		return errFigure(title, err)
	}
	for k, o := range overlays {
		if err := o.validate("Contour", title, k); err != nil {
			return errFigure(title, err)
		}
	}
	f := newFigure(title)
	if bad > 0 {
		f.notes = append(f.notes, fmt.Sprintf("grey: %d NaN/Inf grid values left unfilled and without contour lines", bad))
	}
	f.check = func(f *Figure) error { return checkLogColor(f, "Contour", g.Z) }
	f.draw = func(f *Figure, c draw.Canvas) error { return drawContour(f, c, title, xlabel, ylabel, g, overlays) }
	f.plotly = func(f *Figure) (*plotlySpec, error) {
		spec := &plotlySpec{Layout: baseLayout(f, xlabel, ylabel, hasNamed(overlays))}
		z, zlabel, text := plotlyZ(f, g)
		tr := map[string]any{"type": "contour", "x": jsonFloats(g.X), "y": jsonFloats(g.Y), "z": z, "colorscale": "Viridis",
			"ncontours": contourLevels, "contours": map[string]any{"coloring": "fill", "showlines": true},
			"line":     map[string]any{"width": 0.5, "color": "rgba(0,0,0,0.45)"},
			"colorbar": map[string]any{"title": map[string]any{"text": zlabel}}}
		if text != nil {
			tr["text"] = text
			tr["hovertemplate"] = "(%{x:.3g}, %{y:.3g}): %{text:.4g}<extra></extra>"
		}
		spec.Data = append(spec.Data, tr)
		spec.Layout["legend"] = map[string]any{"x": 0, "y": 1, "bgcolor": "rgba(255,255,255,0.8)"}
		for k, o := range overlays {
			col := hex(overlayColor(k))
			mode := "markers"
			if o.Line {
				mode = "lines+markers"
			}
			spec.Data = append(spec.Data, map[string]any{"type": "scatter", "mode": mode, "name": o.Name, "x": jsonFloats(o.X), "y": jsonFloats(o.Y),
				"showlegend": o.Name != "",
				"line":       map[string]any{"color": col, "width": 2.5},
				"marker":     map[string]any{"color": col, "size": 6, "line": map[string]any{"color": "#ffffff", "width": 1}}})
		}
		return spec, nil
	}
	return f
}

func hasNamed(overlays []Overlay) bool {
	for _, o := range overlays {
		if o.Name != "" {
			return true
		}
	}
	return false
}

// overlayColor picks colours that stand out on viridis: white-haloed vermillion, orange, sky blue...
func overlayColor(k int) color.Color {
	order := []int{1, 3, 5, 4, 0, 2}
	return Palette[order[k%len(order)]]
}

// plotlyZ returns the z matrix for Plotly (log10 under LogColor, with the raw values as text).
func plotlyZ(f *Figure, g Grid) (z []jsonFloats, label string, text []jsonFloats) {
	z = make([]jsonFloats, len(g.Z))
	for i := range g.Z {
		z[i] = g.Z[i]
	}
	if !f.logColor {
		return z, f.colorLabel, nil
	}
	lz := make([]jsonFloats, len(g.Z))
	for i, row := range g.Z {
		lz[i] = make(jsonFloats, len(row))
		for j, v := range row {
			lz[i][j] = math.Log10(v)
		}
	}
	return lz, "log10 " + f.colorLabel, z
}

// gridXYZ is g (in colour-scale units) as a plotter.GridXYZ.
type gridXYZ struct {
	g  Grid
	sc colorScale
}

func (t gridXYZ) Dims() (c, r int) { return len(t.g.X), len(t.g.Y) }
func (t gridXYZ) X(c int) float64  { return t.g.X[c] }
func (t gridXYZ) Y(r int) float64  { return t.g.Y[r] }
func (t gridXYZ) Z(c, r int) float64 {
	v := t.g.Z[r][c]
	if !isFinite(v) || (t.sc.log && v <= 0) {
		return math.NaN()
	}
	return t.sc.transform(v)
}

func drawContour(f *Figure, c draw.Canvas, title, xlabel, ylabel string, g Grid, overlays []Overlay) error {
	sc := newColorScale(g.Z, f.logColor)
	p := newStyledPlot(title, xlabel, ylabel)
	nx, ny := len(g.X), len(g.Y)
	xmin, xmax, ymin, ymax := g.X[0], g.X[nx-1], g.Y[0], g.Y[ny-1]
	p.Add(contourFill{g: g, sc: sc})

	levels := make([]float64, contourLevels-1)
	for k := range levels {
		levels[k] = sc.lo + (sc.hi-sc.lo)*float64(k+1)/contourLevels
	}
	ct := plotter.NewContour(nanFreeGrid{gridXYZ{g, sc}}, levels, onePalette{withAlpha(rgb(0, 0, 0), 0.4)})
	ct.LineStyles = []draw.LineStyle{{Width: vg.Points(0.5)}}
	ct.Min, ct.Max = sc.lo, sc.hi
	p.Add(ct)
	if countNonFinite(g.Z) > 0 || sc.log {
		p.Add(contourFill{g: g, sc: sc, mask: true})
	}

	var legend []legendItem
	for k, o := range overlays {
		thumbs := addOverlay(p, o, overlayColor(k))
		if o.Name != "" {
			legend = append(legend, legendItem{o.Name, thumbs})
		}
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	for _, o := range overlays { // keep overlays that leave the grid visible
		for i := range o.X {
			p.X.Min, p.X.Max = math.Min(p.X.Min, o.X[i]), math.Max(p.X.Max, o.X[i])
			p.Y.Min, p.Y.Max = math.Min(p.Y.Min, o.Y[i]), math.Max(p.Y.Max, o.Y[i])
		}
	}
	p.X.Padding, p.Y.Padding = 0, 0
	if f.logX || f.logY {
		return fmt.Errorf("viz: Contour %q: LogX/LogY are not supported; use LogColor for the values", title)
	}
	// The legend goes right of the colour bar when it is narrow, else in rows under the plot.
	area, legendSide := placeLegend(c, legend, contourLegendShare)
	main, rest := splitColorBar(area)
	drawPlot(main, p) // first: the title's fitted height places a legend on the side
	drawLegend(c, area, legendSide, titleHeight(p))
	drawColorBar(rest, sc, f.colorLabel, titleHeight(p), p, contourLevels)
	return nil
}

// addOverlay draws o on p with a white halo, and returns its legend thumbnails.
func addOverlay(p *plot.Plot, o Overlay, col color.Color) []plot.Thumbnailer {
	xys := make(plotter.XYs, len(o.X))
	for i := range o.X {
		xys[i] = plotter.XY{X: o.X[i], Y: o.Y[i]}
	}
	halo := draw.LineStyle{Color: color.White, Width: vg.Points(4)}
	line := draw.LineStyle{Color: col, Width: vg.Points(2)}
	var thumbs []plot.Thumbnailer
	if o.Line && len(xys) > 1 {
		p.Add(&plotter.Line{XYs: xys, LineStyle: halo}, &plotter.Line{XYs: xys, LineStyle: line})
		thumbs = append(thumbs, &plotter.Line{LineStyle: line})
		sc, _ := plotter.NewScatter(xys)
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.6), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		ends, _ := plotter.NewScatter(plotter.XYs{xys[0]})
		ends.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: draw.RingGlyph{}}
		end, _ := plotter.NewScatter(plotter.XYs{xys[len(xys)-1]})
		end.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: haloGlyph{draw.CircleGlyph{}}}
		p.Add(ends, end)
		return thumbs
	}
	sc, _ := plotter.NewScatter(xys)
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: haloGlyph{draw.CircleGlyph{}}}
	p.Add(sc)
	return append(thumbs, sc)
}

// haloGlyph draws a glyph with a white outline.
type haloGlyph struct{ inner draw.GlyphDrawer }

func (h haloGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	white := sty
	white.Color = color.White
	white.Radius = sty.Radius + vg.Points(1.2)
	h.inner.DrawGlyph(c, white, pt)
	h.inner.DrawGlyph(c, sty, pt)
}

// onePalette is a palette of a single colour (for contour lines).
type onePalette struct{ c color.Color }

func (p onePalette) Colors() []color.Color { return []color.Color{p.c} }

// nanFreeGrid hides non-finite values from gonum's contour tracer (which has no notion of them) by
// replacing them with a value far above every level; the segments this creates lie in non-finite
// cells, which nanMask then covers in grey.
type nanFreeGrid struct{ gridXYZ }

func (g nanFreeGrid) Z(c, r int) float64 {
	v := g.gridXYZ.Z(c, r)
	if math.IsNaN(v) {
		return g.sc.hi + 10*(g.sc.hi-g.sc.lo)
	}
	return v
}

// contourFill draws the filled contour of a grid (or, with mask, only its grey non-finite cells) as a
// raster that covers exactly the grid's rectangle on the plot's axes. The raster has twice as many
// pixels as the rectangle has CSS pixels each way, so that its band edges stay sharp on high-density
// screens and its aspect ratio is the rectangle's; SVG output also says preserveAspectRatio="none" (see
// fixSVGImages), so no renderer letterboxes it.
type contourFill struct {
	g    Grid
	sc   colorScale
	mask bool
}

// maxRasterSide bounds the raster's side in pixels (a figure several thousand pixels wide).
const maxRasterSide = 4096

func (f contourFill) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	nx, ny := len(f.g.X), len(f.g.Y)
	rect := vg.Rectangle{
		Min: vg.Point{X: trX(f.g.X[0]), Y: trY(f.g.Y[0])},
		Max: vg.Point{X: trX(f.g.X[nx-1]), Y: trY(f.g.Y[ny-1])},
	}
	side := func(l vg.Length) int { return max(2, min(maxRasterSide, int(math.Ceil(2*l.Points()/0.75)))) }
	w, h := side(rect.Max.X-rect.Min.X), side(rect.Max.Y-rect.Min.Y)
	if f.mask {
		if m := nanMask(f.g, f.sc, w, h); m != nil {
			c.DrawImage(rect, m)
		}
		return
	}
	c.DrawImage(rect, contourRaster(f.g, f.sc, w, h))
}

// nanMask is an image, grey over the grid cells that have a non-finite corner, transparent elsewhere.
// It returns nil when there are no such cells.
func nanMask(g Grid, sc colorScale, w, h int) image.Image {
	if countNonFinite(g.Z) == 0 && !sc.log {
		return nil
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	found := false
	nx, ny := len(g.X), len(g.Y)
	xmin, xmax, ymin, ymax := g.X[0], g.X[nx-1], g.Y[0], g.Y[ny-1]
	tz := func(i, j int) float64 { return gridXYZ{g, sc}.Z(j, i) }
	for py := range h {
		y := ymax - (float64(py)+0.5)/float64(h)*(ymax-ymin)
		i := cell(g.Y, y)
		for px := range w {
			x := xmin + (float64(px)+0.5)/float64(w)*(xmax-xmin)
			j := cell(g.X, x)
			if math.IsNaN(tz(i, j) + tz(i, j+1) + tz(i+1, j) + tz(i+1, j+1)) {
				img.Set(px, py, nanColor)
				found = true
			}
		}
	}
	if !found {
		return nil
	}
	return img
}

// contourRaster renders the filled contour of g as a w×h image: bilinear interpolation between grid
// points, quantised to contourLevels bands, grey where a cell has a non-finite corner.
func contourRaster(g Grid, sc colorScale, w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	nx, ny := len(g.X), len(g.Y)
	xmin, xmax, ymin, ymax := g.X[0], g.X[nx-1], g.Y[0], g.Y[ny-1]
	tz := func(i, j int) float64 { return gridXYZ{g, sc}.Z(j, i) }
	for py := range h {
		y := ymax - (float64(py)+0.5)/float64(h)*(ymax-ymin) // image row 0 is the top
		i := cell(g.Y, y)
		ty := (y - g.Y[i]) / (g.Y[i+1] - g.Y[i])
		for px := range w {
			x := xmin + (float64(px)+0.5)/float64(w)*(xmax-xmin)
			j := cell(g.X, x)
			tx := (x - g.X[j]) / (g.X[j+1] - g.X[j])
			v := (1-tx)*(1-ty)*tz(i, j) + tx*(1-ty)*tz(i, j+1) + (1-tx)*ty*tz(i+1, j) + tx*ty*tz(i+1, j+1)
			if math.IsNaN(v) {
				img.Set(px, py, nanColor)
				continue
			}
			u := (v - sc.lo) / (sc.hi - sc.lo)
			band := math.Floor(u * contourLevels)
			band = math.Max(0, math.Min(contourLevels-1, band))
			img.Set(px, py, viridis((band+0.5)/contourLevels))
		}
	}
	return img
}

// cell returns i such that axis[i] <= v <= axis[i+1] (clamped to the grid).
func cell(axis []float64, v float64) int {
	i := sort.SearchFloat64s(axis, v) - 1
	return max(0, min(len(axis)-2, i))
}

// Surface draws g as a 3D surface (viridis, hover shows the values, drag to rotate). It is
// interactive by default; its static form (SVG/PNG, and the fallback without plotly.js) is the
// filled contour of g. zlabel names the z axis (with units).
func Surface(title, xlabel, ylabel, zlabel string, g Grid) *Figure {
	bad, err := g.validate("Surface", title)
	if err != nil {
		return errFigure(title, err)
	}
	f := newFigure(title)
	f.interactive = true
	f.colorLabel = zlabel
	if bad > 0 {
		f.notes = append(f.notes, fmt.Sprintf("grey: %d NaN/Inf grid values left out", bad))
	}
	f.check = func(f *Figure) error { return checkLogColor(f, "Surface", g.Z) }
	f.draw = func(f *Figure, c draw.Canvas) error { return drawContour(f, c, title, xlabel, ylabel, g, nil) }
	f.plotly = func(f *Figure) (*plotlySpec, error) {
		spec := &plotlySpec{Layout: baseLayout(f, "", "", false)}
		z, label, text := plotlyZ(f, g)
		tr := map[string]any{"type": "surface", "x": jsonFloats(g.X), "y": jsonFloats(g.Y), "z": z, "colorscale": "Viridis",
			"colorbar": map[string]any{"title": map[string]any{"text": label}},
			"contours": map[string]any{"z": map[string]any{"show": true, "usecolormap": true, "project": map[string]any{"z": true}}}}
		if text != nil {
			tr["text"] = text
			tr["hovertemplate"] = "(%{x:.3g}, %{y:.3g}): %{text:.4g}<extra></extra>"
		}
		spec.Data = []map[string]any{tr}
		spec.Layout["scene"] = map[string]any{
			"xaxis": map[string]any{"title": map[string]any{"text": xlabel}},
			"yaxis": map[string]any{"title": map[string]any{"text": ylabel}},
			"zaxis": map[string]any{"title": map[string]any{"text": label}},
		}
		spec.Layout["margin"] = map[string]any{"l": 10, "r": 10, "t": 60, "b": 10}
		return spec, nil
	}
	return f
}
