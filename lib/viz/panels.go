package viz

import (
	"fmt"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Panels lays out figures as small multiples: a grid with cols columns (0 picks a square-ish
// layout), row by row, under one title. Each panel keeps its own kind, labels and options; the
// panels' sizes are ignored and the whole figure is cols×PanelWidth by rows×PanelHeight pixels
// unless Size says otherwise. An error in any panel is the figure's error. Panels has only a static
// form.
func Panels(title string, cols int, panels ...*Figure) *Figure {
	if len(panels) == 0 {
		return errFigure(title, fmt.Errorf("viz: Panels %q: no panels given", title))
	}
	for i, p := range panels {
		if p == nil {
			return errFigure(title, fmt.Errorf("viz: Panels %q: panel %d is nil", title, i))
		}
	}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(len(panels)))))
	}
	cols = min(cols, len(panels))
	rows := (len(panels) + cols - 1) / cols
	f := newFigure(title)
	f.width, f.height = cols*PanelWidth, rows*PanelHeight+40
	f.check = func(f *Figure) error {
		for i, p := range panels {
			if err := p.Err(); err != nil {
				return fmt.Errorf("viz: Panels %q: panel %d: %w", title, i, err)
			}
		}
		return nil
	}
	f.draw = func(f *Figure, c draw.Canvas) error {
		top := vg.Length(0)
		if title != "" {
			sty := draw.TextStyle{Color: rgb(0, 0, 0), Font: fontOf(titleSize + 2), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: defaultHandler()}
			sty, text := fitText(sty, title, c.Max.X-c.Min.X-vg.Points(8))
			c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y}, text)
			top = sty.Rectangle(text).Size().Y + vg.Points(8)
		}
		area := draw.Crop(c, 0, 0, 0, -top)
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(10), PadY: vg.Points(10)}
		for i, p := range panels {
			tile := tiles.At(area, i%cols, i/cols)
			if err := p.drawWithNotes(tile); err != nil {
				return fmt.Errorf("viz: Panels %q: panel %d: %w", title, i, err)
			}
		}
		return nil
	}
	return f
}

// SmallMultiples draws one Lines panel per series (titled with the series' name, coloured as it
// would be in a shared Lines plot), all on the same y range so panels compare at a glance. cols = 0
// picks a square-ish layout. LogX and LogY on the returned figure apply to every panel.
func SmallMultiples(title, xlabel, ylabel string, cols int, series ...Series) *Figure {
	if len(series) == 0 {
		return errFigure(title, fmt.Errorf("viz: SmallMultiples %q: no series given", title))
	}
	panels := make([]*Figure, len(series))
	for i, s := range series {
		p := Lines(s.Name, xlabel, ylabel, s)
		if p.err != nil {
			return errFigure(title, fmt.Errorf("viz: SmallMultiples %q: %w", title, p.err))
		}
		p.colorOffset = i
		panels[i] = p
	}
	f := Panels(title, cols, panels...)
	inner := f.draw
	f.draw = func(f *Figure, c draw.Canvas) error {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range series {
			for _, vs := range [][]float64{s.Y, s.Lo, s.Hi} {
				for _, v := range vs {
					if isFinite(v) && (!f.logY || v > 0) {
						lo, hi = math.Min(lo, v), math.Max(hi, v)
					}
				}
			}
		}
		for _, p := range panels {
			p.logX, p.logY = f.logX, f.logY
			switch {
			case f.yRange != nil:
				p.yRange = f.yRange
			case f.freeY:
				p.yRange = nil
			case hi > lo && f.logY:
				p.yRange = &[2]float64{lo / math.Pow(hi/lo, 0.03), hi * math.Pow(hi/lo, 0.03)}
			case hi > lo:
				pad := 0.03 * (hi - lo)
				p.yRange = &[2]float64{lo - pad, hi + pad}
			}
		}
		return inner(f, c)
	}
	check := f.check
	f.check = func(f *Figure) error {
		for _, p := range panels {
			p.logX, p.logY = f.logX, f.logY
		}
		return check(f)
	}
	return f
}
