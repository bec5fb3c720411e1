package viz

import (
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Default figure size in CSS pixels (1 px = 0.75 pt).
const (
	DefaultWidth  = 720
	DefaultHeight = 450
	// PanelWidth and PanelHeight are the default size of one panel of Panels and SmallMultiples.
	PanelWidth  = 360
	PanelHeight = 270
)

// Font sizes of the house style, in points.
const (
	titleSize  = 14
	labelSize  = 12
	tickSize   = 10
	legendSize = 11
	noteSize   = 9
)

// px converts CSS pixels to vg lengths (points).
func px(n float64) vg.Length { return vg.Length(n * 0.75) }

// Palette is the Okabe–Ito colour-blind-safe palette, in the order series are coloured. Yellow is
// last and black is left out because black is the axis colour.
var Palette = []color.Color{
	rgb(0x00, 0x72, 0xB2), // blue
	rgb(0xD5, 0x5E, 0x00), // vermillion
	rgb(0x00, 0x9E, 0x73), // bluish green
	rgb(0xE6, 0x9F, 0x00), // orange
	rgb(0xCC, 0x79, 0xA7), // reddish purple
	rgb(0x56, 0xB4, 0xE9), // sky blue
	rgb(0x59, 0x59, 0x59), // dark grey
	rgb(0xF0, 0xE4, 0x42), // yellow
}

// dashes cycle after every len(Palette) series, so series 9.. stay distinguishable.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(6), vg.Points(2), vg.Points(2), vg.Points(2)},
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 255} }

// hex formats a colour as #rrggbb (for Plotly and HTML).
func hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	const digits = "0123456789abcdef"
	out := []byte{'#', 0, 0, 0, 0, 0, 0}
	for i, v := range []uint32{r >> 8, g >> 8, b >> 8} {
		out[1+2*i] = digits[v>>4]
		out[2+2*i] = digits[v&15]
	}
	return string(out)
}

// seriesColor returns the colour of series i.
func seriesColor(i int) color.Color { return Palette[i%len(Palette)] }

// seriesDashes returns the dash pattern of series i.
func seriesDashes(i int) []vg.Length { return dashes[(i/len(Palette))%len(dashes)] }

// withAlpha returns c with the given opacity (premultiplied, as image/color expects).
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(math.Round(a * 255))}
}

var (
	gridColor = rgb(0xE3, 0xE3, 0xE3)
	nanColor  = rgb(0xBD, 0xBD, 0xBD)
	noteColor = rgb(0x55, 0x55, 0x55)
)

// viridisStops are nine evenly spaced samples of the viridis colour map (0, 1/8, ..., 1).
var viridisStops = []color.RGBA{
	rgb(0x44, 0x01, 0x54), rgb(0x47, 0x2d, 0x7b), rgb(0x3b, 0x52, 0x8b),
	rgb(0x2c, 0x72, 0x8e), rgb(0x21, 0x91, 0x8c), rgb(0x28, 0xae, 0x80),
	rgb(0x5e, 0xc9, 0x62), rgb(0xad, 0xdc, 0x30), rgb(0xfd, 0xe7, 0x25),
}

// viridis returns the colour at t in [0, 1] (clamped), linearly interpolated between the stops.
func viridis(t float64) color.RGBA {
	if !(t > 0) {
		return viridisStops[0]
	}
	if t >= 1 {
		return viridisStops[len(viridisStops)-1]
	}
	f := t * float64(len(viridisStops)-1)
	i := int(f)
	w := f - float64(i)
	a, b := viridisStops[i], viridisStops[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-w) + float64(y)*w)) }
	return color.RGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 255}
}

// viridisPalette implements palette.Palette with n colours.
type viridisPalette int

func (n viridisPalette) Colors() []color.Color {
	cs := make([]color.Color, int(n))
	for i := range cs {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		cs[i] = viridis(t)
	}
	return cs
}

// textColorOn returns black or white, whichever reads better on background c.
func textColorOn(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	lum := 0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)
	if lum/65535 > 0.45 {
		return color.Black
	}
	return color.White
}

// houseFont is Liberation Sans (gonum/plot's default is the serif variant).
var houseFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

func fontOf(size float64) font.Font { return font.From(houseFont, vg.Points(size)) }

// newStyledPlot returns a gonum plot in the house style.
func newStyledPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = fontOf(titleSize)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = fontOf(labelSize)
		ax.Tick.Label.Font = fontOf(tickSize)
		ax.Padding = vg.Points(4)
		ax.LineStyle.Color = rgb(0x33, 0x33, 0x33)
		ax.Tick.Marker = niceTicks{}
		ax.Tick.LineStyle.Color = rgb(0x33, 0x33, 0x33)
	}
	p.X.Label.Padding = vg.Points(4)
	p.Y.Label.Padding = vg.Points(4)
	p.Legend.TextStyle.Font = fontOf(legendSize)
	return p
}

// gridLines is a light background grid in the house style.
type gridLines struct{ vertical, horizontal bool }

func (g gridLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: gridColor, Width: vg.Points(0.6)}
	if g.vertical {
		for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
			if t.IsMinor() || t.Value < p.X.Min || t.Value > p.X.Max {
				continue
			}
			x := trX(t.Value)
			c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		}
	}
	if g.horizontal {
		for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
			if t.IsMinor() || t.Value < p.Y.Min || t.Value > p.Y.Max {
				continue
			}
			y := trY(t.Value)
			c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
		}
	}
}

func defaultHandler() text.Handler { return plot.DefaultTextHandler }

// niceTicks places about n (default 6) major ticks at multiples of 1, 2 or 5 × 10^k, labelled compactly.
type niceTicks struct{ n int }

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []plot.Tick{{Value: lo, Label: formatTick(lo)}}
	}
	n := t.n
	if n <= 0 {
		n = 6
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: formatStep(v, step)})
	}
	return ticks
}

func formatTick(v float64) string {
	a := math.Abs(v)
	if a != 0 && (a < 1e-3 || a >= 1e5) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatStep formats a tick value with as many decimals as the tick step needs.
func formatStep(v, step float64) string {
	a := math.Abs(v)
	if a != 0 && (a < 1e-3 || a >= 1e5) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	dec := 0
	for s := step; dec < 10 && math.Abs(s-math.Round(s)) > 1e-9*step; s *= 10 {
		dec++
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// maxLogLabels is the most powers of ten a log axis labels; beyond it, every k-th one is labelled.
const maxLogLabels = 7

// logTicks labels a log axis at the powers of ten, with unlabelled marks between; when the range holds
// fewer than two powers of ten (a span under a decade would show one number, or none) it labels evenly
// spaced round values instead, as niceTicks does.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" && t.Value >= lo*(1-1e-9) && t.Value <= hi*(1+1e-9) {
			labelled++
		}
	}
	if labelled >= 2 {
		// Over many decades a label per power of ten overlaps on a short axis: label every k-th one
		// (exponents divisible by k, so 10⁰ stays labelled), at most maxLogLabels, and keep the marks.
		k := (labelled + maxLogLabels - 1) / maxLogLabels
		for i, t := range ticks {
			if t.Label != "" && t.Value > 0 {
				e := int(math.Round(math.Log10(t.Value)))
				// gonum labels the powers of ten it computed, e.g. 9.999999999999999e-05 for 1e-4.
				ticks[i].Label = formatTick(math.Pow10(e))
				if e%k != 0 {
					ticks[i].Label = ""
				}
			}
		}
		return ticks
	}
	// Round values spread over the log scale: 1-2-5 steps, or finer ones on a short axis.
	for _, ms := range [][]float64{{1, 2, 5}, {1, 2, 3, 5}, {1, 1.5, 2, 3, 4, 5, 6, 8}} {
		if out := roundLogTicks(lo, hi, ms); len(out) >= 3 {
			return out
		}
	}
	var out []plot.Tick
	for _, t := range (niceTicks{n: 4}).Ticks(lo, hi) {
		if t.Value > 0 {
			out = append(out, t)
		}
	}
	return out
}

// roundLogTicks labels the values m·10^k in [lo, hi] for each mantissa m of ms.
func roundLogTicks(lo, hi float64, ms []float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return nil
	}
	var out []plot.Tick
	for k := int(math.Floor(math.Log10(lo))); k <= int(math.Ceil(math.Log10(hi))); k++ {
		for _, m := range ms {
			// Parsed from its decimal form so that 3·10⁻¹ is 0.3, not 0.30000000000000004.
			v, err := strconv.ParseFloat(strconv.FormatFloat(m, 'g', -1, 64)+"e"+strconv.Itoa(k), 64)
			if err == nil && v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				out = append(out, plot.Tick{Value: v, Label: formatTick(v)})
			}
		}
	}
	return out
}
