package viz

import (
	"github.com/losslab/losslab/internal/atomicfile"

	"bytes"
	"fmt"
	"html"
	"image/color"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/losslab/losslab/lib/nb"

	"github.com/janpfeifer/gonb/gonbui"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is a plot ready to be shown or saved. Build one with a constructor (Lines, Scatter, Bar,
// Histogram, Heatmap, Contour, Surface, Panels, SmallMultiples), adjust it with the option methods
// (Size, LogX, LogY, YRange, Interactive, ...), which return the figure so calls chain, and render it
// with Show, Save, SVG, PNG or HTML.
//
// A constructor that is given bad data records the error instead of panicking: Err reports it, and
// every output method returns it.
type Figure struct {
	title         string
	width, height int // CSS pixels
	logX, logY    bool
	xRange        *[2]float64
	yRange        *[2]float64
	interactive   bool
	colorLabel    string
	logColor      bool
	colorOffset   int  // index of the first series colour (panels of SmallMultiples)
	freeY         bool // SmallMultiples: each panel scales its own y axis
	err           error
	notes         []string

	// check validates the figure's options against its data (e.g. log axes need positive values).
	check func(f *Figure) error
	// draw draws the figure (without background and footnotes) into c.
	draw func(f *Figure, c draw.Canvas) error
	// plotly returns the figure's Plotly spec; nil when the kind has no interactive form.
	plotly func(f *Figure) (*plotlySpec, error)
}

func newFigure(title string) *Figure {
	return &Figure{title: title, width: DefaultWidth, height: DefaultHeight}
}

// errFigure returns a figure that carries err.
func errFigure(title string, err error) *Figure {
	f := newFigure(title)
	f.err = err
	return f
}

// Title returns the figure's title.
func (f *Figure) Title() string { return f.title }

// Notes returns the figure's footnotes, e.g. which values were left out as gaps.
func (f *Figure) Notes() []string { return append([]string(nil), f.notes...) }

// Err returns the error that prevents the figure from being drawn (bad data, or an option that
// does not fit the data), or nil.
func (f *Figure) Err() error {
	if f.err != nil {
		return f.err
	}
	if f.width <= 0 || f.height <= 0 {
		return fmt.Errorf("viz: figure %q: size must be positive, got %d×%d px", f.title, f.width, f.height)
	}
	if f.xRange != nil && !(f.xRange[0] < f.xRange[1]) {
		return fmt.Errorf("viz: figure %q: XRange(%g, %g) needs lo < hi", f.title, f.xRange[0], f.xRange[1])
	}
	if f.logX && f.xRange != nil && f.xRange[0] <= 0 {
		return fmt.Errorf("viz: figure %q: XRange(%g, %g) on a log axis needs lo > 0", f.title, f.xRange[0], f.xRange[1])
	}
	if f.yRange != nil && !(f.yRange[0] < f.yRange[1]) {
		return fmt.Errorf("viz: figure %q: YRange(%g, %g) needs lo < hi", f.title, f.yRange[0], f.yRange[1])
	}
	if f.logY && f.yRange != nil && f.yRange[0] <= 0 {
		return fmt.Errorf("viz: figure %q: YRange(%g, %g) on a log axis needs lo > 0", f.title, f.yRange[0], f.yRange[1])
	}
	if f.check != nil {
		return f.check(f)
	}
	return nil
}

// Size sets the figure's size in CSS pixels (PNG output has exactly this many pixels).
func (f *Figure) Size(width, height int) *Figure {
	f.width, f.height = width, height
	return f
}

// LogX puts the x axis on a log scale (all x values must be positive). Ignored by kinds without a
// numeric x axis.
func (f *Figure) LogX() *Figure {
	f.logX = true
	return f
}

// LogY puts the y axis on a log scale (all y values, bands included, must be positive). For
// Histogram it is the count axis; ignored by kinds without a numeric y axis.
func (f *Figure) LogY() *Figure {
	f.logY = true
	return f
}

// FreeY gives each panel of SmallMultiples its own y range, for series of very different scales; by
// default the panels share one y range so that they compare at a glance.
func (f *Figure) FreeY() *Figure {
	f.freeY = true
	return f
}

// XRange fixes the x axis of Lines and Scatter to [lo, hi] instead of fitting the data (a live path keeps
// its α axis at [0, 1] while the points come in). Ignored by kinds without a numeric x axis.
func (f *Figure) XRange(lo, hi float64) *Figure {
	f.xRange = &[2]float64{lo, hi}
	return f
}

// YRange fixes the y axis to [lo, hi] instead of fitting the data.
func (f *Figure) YRange(lo, hi float64) *Figure {
	f.yRange = &[2]float64{lo, hi}
	return f
}

// ColorLabel sets the label of the colour bar (Heatmap, Contour) or of the z axis (Surface); give
// units, e.g. "loss (nats)".
func (f *Figure) ColorLabel(label string) *Figure {
	f.colorLabel = label
	return f
}

// LogColor maps values to colours (and contour levels) on a log scale; all finite values must be
// positive. For Heatmap, Contour and Surface.
func (f *Figure) LogColor() *Figure {
	f.logColor = true
	return f
}

// Interactive asks for the Plotly form of the figure in Show and in Save to .html (zoom, hover,
// rotation). Kinds without an interactive form, and machines without plotly.js, fall back to the
// static figure with a one-line note.
func (f *Figure) Interactive() *Figure {
	f.interactive = true
	return f
}

// Static asks for the static form of the figure in Show and in Save to .html (the default for every
// kind but Surface).
func (f *Figure) Static() *Figure {
	f.interactive = false
	return f
}

// IsInteractive reports whether Show and Save(".html") try the Plotly form.
func (f *Figure) IsInteractive() bool { return f.interactive }

// HasInteractive reports whether the figure's kind has a Plotly form.
func (f *Figure) HasInteractive() bool { return f.plotly != nil }

// drawWithNotes draws the figure into c, footnotes at the bottom.
func (f *Figure) drawWithNotes(c draw.Canvas) error {
	if len(f.notes) > 0 {
		sty := noteStyle()
		lineH := sty.Rectangle("Ag").Size().Y * 1.3
		h := lineH*vg.Length(len(f.notes)) + vg.Points(4)
		for i, n := range f.notes {
			y := c.Min.Y + vg.Points(3) + lineH*vg.Length(len(f.notes)-1-i)
			c.FillText(sty, vg.Point{X: c.Min.X + vg.Points(6), Y: y}, n)
		}
		c = draw.Crop(c, 0, 0, h, 0)
	}
	return f.draw(f, c)
}

func noteStyle() draw.TextStyle {
	return draw.TextStyle{Color: noteColor, Font: fontOf(noteSize), Handler: defaultHandler()}
}

// render draws the figure onto a fresh canvas of the figure's size with a white background.
func (f *Figure) render(cv vg.CanvasSizer) (err error) {
	defer func() {
		// gonum/plot panics on some degenerate inputs; report them as errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("viz: figure %q: drawing failed: %v", f.title, r)
		}
	}()
	c := draw.New(cv)
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	c = draw.Crop(c, vg.Points(4), -vg.Points(8), vg.Points(2), -vg.Points(2))
	return f.drawWithNotes(c)
}

// SVG renders the figure as a standalone SVG document.
func (f *Figure) SVG() ([]byte, error) {
	if err := f.Err(); err != nil {
		return nil, err
	}
	cv := vgsvg.New(px(float64(f.width)), px(float64(f.height)))
	if err := f.render(cv); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("viz: figure %q: writing SVG: %w", f.title, err)
	}
	return fixSVGImages(fixSVGFonts(buf.Bytes())), nil
}

// fixSVGImages corrects the raster images (filled contours) that gonum's SVG canvas writes: it labels
// their PNG data as image/png (gonum says image/jpg, which librsvg rejects, leaving an empty plot), and
// adds preserveAspectRatio="none" so that the image fills its rectangle exactly (the SVG default letterboxes
// it, which moved the fill away from the axes and contour lines).
func fixSVGImages(svg []byte) []byte {
	if !bytes.Contains(svg, []byte("<image ")) {
		return svg
	}
	svg = bytes.ReplaceAll(svg, []byte(`xlink:href="data:image/jpg;base64,`), []byte(`xlink:href="data:image/png;base64,`))
	return bytes.ReplaceAll(svg, []byte("<image "), []byte(`<image preserveAspectRatio="none" `))
}

var fontFamilyRE = regexp.MustCompile(`font-family:([^;"']+);`)

// fixSVGFonts gives every SVG font a fallback list, so browsers without Liberation Sans use the
// metric-compatible Arial instead of a serif default.
func fixSVGFonts(svg []byte) []byte {
	return fontFamilyRE.ReplaceAllFunc(svg, func(m []byte) []byte {
		name := string(m[len("font-family:") : len(m)-1])
		fallback := "Arial,Helvetica,sans-serif"
		if strings.Contains(strings.ToLower(name), "mono") {
			fallback = "'Courier New',monospace"
		}
		return []byte("font-family:'" + name + "'," + fallback + ";")
	})
}

// inlineSVG returns the SVG without the XML prolog, scaled down to the width of narrow outputs.
func inlineSVG(svg []byte) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return strings.Replace(s, "<svg ", `<svg style="max-width:100%;height:auto" `, 1)
}

// PNG renders the figure as a PNG image of exactly Size() pixels.
func (f *Figure) PNG() ([]byte, error) {
	if err := f.Err(); err != nil {
		return nil, err
	}
	cv := vgimg.NewWith(vgimg.UseWH(px(float64(f.width)), px(float64(f.height))), vgimg.UseDPI(96))
	if err := f.render(cv); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: cv}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("viz: figure %q: writing PNG: %w", f.title, err)
	}
	return buf.Bytes(), nil
}

// HTML renders the figure as a self-contained HTML page (no network access needed to view it).
// An interactive figure embeds plotly.js and its data; a static one (or an interactive one without
// plotly.js, which says so in a line) embeds its SVG.
func (f *Figure) HTML() ([]byte, error) {
	body, err := f.htmlBody(true)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>")
	b.WriteString(html.EscapeString(f.title))
	b.WriteString("</title>\n</head>\n<body style=\"margin:16px;background:#fff\">\n")
	b.WriteString(body)
	b.WriteString("\n</body>\n</html>\n")
	return []byte(b.String()), nil
}

// htmlBody returns the figure as an HTML fragment. page is true for a standalone page (plotly.js is
// always embedded) and false for notebook output (plotly.js is embedded once per kernel session).
func (f *Figure) htmlBody(page bool) (string, error) {
	if err := f.Err(); err != nil {
		return "", err
	}
	svg, err := f.SVG()
	if err != nil {
		return "", err
	}
	if !f.interactive {
		return "<div>" + inlineSVG(svg) + "</div>", nil
	}
	if f.plotly == nil {
		return fallbackNote("this kind of figure has no interactive form; showing the static figure") +
			"<div>" + inlineSVG(svg) + "</div>", nil
	}
	js, err := loadPlotly()
	if err != nil {
		return fallbackNote(err.Error()+"; showing the static figure") + "<div>" + inlineSVG(svg) + "</div>", nil
	}
	spec, err := f.plotly(f)
	if err != nil {
		return "", err
	}
	return plotlyFragment(f, spec, svg, js, page)
}

func fallbackNote(msg string) string {
	return `<div style="font:12px Arial,sans-serif;color:#555">viz: ` + html.EscapeString(msg) + `</div>`
}

// Show displays the figure inline in a GoNB notebook cell. Outside a notebook it does nothing but
// return the figure's error, if any. In a notebook an error is also printed in the cell.
func (f *Figure) Show() error {
	if !gonbui.IsNotebook {
		return f.Err()
	}
	body, err := f.htmlBody(false)
	if err != nil {
		nb.HTML(`<pre class="losslab-error" style="color:#b00020;white-space:pre-wrap">` + html.EscapeString(err.Error()) + `</pre>`)
		return err
	}
	nb.HTML(body)
	return nil
}

// Save writes the figure to path in the format its extension names: .svg, .png or .html (see HTML).
// The file is written to a temporary file in the same folder and renamed into place, so a reader
// never sees a half-written figure.
func (f *Figure) Save(path string) error {
	var data []byte
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg":
		data, err = f.SVG()
	case ".png":
		data, err = f.PNG()
	case ".html", ".htm":
		data, err = f.HTML()
	default:
		return fmt.Errorf("viz: cannot save figure %q to %q: unknown extension %q (want .svg, .png or .html)", f.title, path, ext)
	}
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to path atomically (see atomicfile.Write).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("viz: saving: %w", err)
	}
	return nil
}
