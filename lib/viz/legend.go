package viz

import (
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A legend sits outside the data area: in a column on the right when its entries are short enough to
// leave the plot most of the width, and otherwise in rows under the plot, where long entries have the
// whole width (a column squeezed the plot of a narrow panel into a sliver, or shrank its entries until
// they were cut).

// Shares of the figure width that a legend column on the right may take; a wider legend goes under
// the plot.
const (
	rightLegendShare   = 0.3
	contourLegendShare = 0.22 // a contour also has its colour bar on the right
)

const (
	legendGap    = 14 // points between the plot and a legend column
	legendRowGap = 4  // points between rows of a legend under the plot
	legendColGap = 14 // points between entries on one row
)

type legendItem struct {
	name   string
	thumbs []plot.Thumbnailer
}

func newLegend(items []legendItem) plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = fontOf(legendSize)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(2)
	for _, it := range items {
		l.Add(it.name, it.thumbs...)
	}
	return l
}

// legendPlace says where a legend goes and holds what is needed to draw it there.
type legendPlace struct {
	items  []legendItem
	column *plot.Legend // a column on the right, this wide
	width  vg.Length
	rows   *legendRows // rows under the plot
}

// placeLegend decides where the legend of items goes in c (see above) and returns the part of c left
// for the plot. share is the largest share of the width a column on the right may take.
func placeLegend(c draw.Canvas, items []legendItem, share float64) (draw.Canvas, legendPlace) {
	if len(items) == 0 {
		return c, legendPlace{}
	}
	width := c.Max.X - c.Min.X
	l := newLegend(items)
	if w := l.Rectangle(c).Size().X + vg.Points(legendGap); w <= width*vg.Length(share) {
		return draw.Crop(c, 0, -w, 0, 0), legendPlace{items: items, column: &l, width: w}
	}
	rows := newLegendRows(items, width-vg.Points(8))
	return draw.Crop(c, 0, 0, rows.height+vg.Points(legendRowGap+2), 0), legendPlace{items: items, rows: &rows}
}

// drawLegend draws the legend placed by placeLegend(c, ...), which left area for the plot; top is the
// height of the plot's title, which a column starts below.
func drawLegend(c, area draw.Canvas, lp legendPlace, top vg.Length) {
	switch {
	case lp.column != nil:
		lp.column.Draw(draw.Crop(c, c.Max.X-c.Min.X-lp.width+vg.Points(8), 0, 0, -top))
	case lp.rows != nil:
		strip := c
		strip.Max.Y = area.Min.Y - vg.Points(legendRowGap)
		lp.rows.draw(strip)
	}
}

// drawWithLegend draws p into c with its legend (if any) outside the data area.
func drawWithLegend(c draw.Canvas, p *plot.Plot, items []legendItem) {
	area, lp := placeLegend(c, items, rightLegendShare)
	drawPlot(area, p)
	drawLegend(c, area, lp, titleHeight(p))
}

// legendRows lays legend entries out left to right in rows no wider than a given width, wrapping an
// entry's text when it is too long for a row of its own.
type legendRows struct {
	items  []legendItem
	names  []string // the entries' text, wrapped where needed
	rows   [][]int  // indices of the entries on each row
	widths []vg.Length
	sty    draw.TextStyle
	thumbW vg.Length
	height vg.Length
}

func newLegendRows(items []legendItem, width vg.Length) legendRows {
	l := legendRows{items: items, thumbW: vg.Points(22)}
	l.sty = draw.TextStyle{Color: rgb(0, 0, 0), Font: fontOf(legendSize), XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: defaultHandler()}
	room := width - l.thumbW - vg.Points(4)
	var rowW vg.Length
	for i, it := range items {
		name := it.name
		if textWidth(l.sty, name) > room {
			name = wrapText(l.sty, name, room)
		}
		l.names = append(l.names, name)
		w := l.thumbW + vg.Points(4) + textWidth(l.sty, name)
		if len(l.rows) == 0 || rowW+vg.Points(legendColGap)+w > width {
			l.rows = append(l.rows, nil)
			l.widths = append(l.widths, 0)
			rowW = -vg.Points(legendColGap)
		}
		r := len(l.rows) - 1
		l.rows[r] = append(l.rows[r], i)
		rowW += vg.Points(legendColGap) + w
		l.widths[r] = rowW
	}
	for r := range l.rows {
		l.height += l.rowHeight(r)
	}
	l.height += vg.Points(legendRowGap) * vg.Length(max(0, len(l.rows)-1))
	return l
}

func (l legendRows) rowHeight(r int) vg.Length {
	var h vg.Length
	for _, i := range l.rows[r] {
		h = max(h, l.sty.Rectangle(l.names[i]).Size().Y)
	}
	return h
}

// draw draws the rows, centred, from the top of c down.
func (l legendRows) draw(c draw.Canvas) {
	y := c.Max.Y
	lineH := l.sty.Rectangle("Ag").Size().Y
	for r, row := range l.rows {
		h := l.rowHeight(r)
		mid := y - h/2
		x := (c.Min.X+c.Max.X)/2 - l.widths[r]/2
		for _, i := range row {
			tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: mid - lineH/2}, Max: vg.Point{X: x + l.thumbW, Y: mid + lineH/2}}}
			for _, th := range l.items[i].thumbs {
				th.Thumbnail(&tc)
			}
			x += l.thumbW + vg.Points(4)
			c.FillText(l.sty, vg.Point{X: x, Y: mid}, l.names[i])
			x += textWidth(l.sty, l.names[i]) + vg.Points(legendColGap)
		}
		y -= h + vg.Points(legendRowGap)
	}
}

// intervalNames returns the legend names of series, each followed by its interval's meaning in
// brackets when the series' meanings differ; when all series that have an interval share one meaning,
// the names stay as they are and shared is that meaning (for one legend entry, or a footnote).
func intervalNames(series []Series) (names []string, shared string) {
	meanings := map[string]bool{}
	for _, s := range series {
		if s.Lo != nil && s.Interval != "" {
			meanings[s.Interval] = true
		}
	}
	for _, s := range series {
		name := s.Name
		if len(meanings) > 1 && s.Lo != nil && s.Interval != "" {
			name += " (" + s.Interval + ")"
		}
		names = append(names, name)
	}
	if len(meanings) == 1 {
		for m := range meanings {
			shared = m
		}
	}
	return names, shared
}
