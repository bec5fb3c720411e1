package viz

import (
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Text that is wider than the room it is given (a long title over a narrow panel, a long legend entry)
// would be clipped by the canvas. fitText makes it fit: it first shrinks the font, by at most
// shrinkSteps points, and if that is not enough it wraps the text at spaces (or after a '/' or ',' in a
// long word, and as a last resort between characters) into lines no wider than the room.

// shrinkSteps is how many points a title or legend may lose before its text is wrapped instead.
const shrinkSteps = 3

// textWidth is the width of s (its widest line) in style sty.
func textWidth(sty draw.TextStyle, s string) vg.Length {
	return sty.Rectangle(s).Size().X
}

// fitText returns sty and s adjusted so that s is at most width wide (see above).
func fitText(sty draw.TextStyle, s string, width vg.Length) (draw.TextStyle, string) {
	if s == "" || width <= 0 || textWidth(sty, s) <= width {
		return sty, s
	}
	size := sty.Font.Size
	for step := 1; step <= shrinkSteps; step++ {
		sty.Font.Size = size - vg.Points(float64(step))
		if textWidth(sty, s) <= width {
			return sty, s
		}
	}
	return sty, wrapText(sty, s, width)
}

// wrapText breaks s greedily into lines no wider than width, at spaces, or after '/', ',', '-' or '+' inside
// a word that is too wide on its own.
func wrapText(sty draw.TextStyle, s string, width vg.Length) string {
	var words []string
	for _, w := range strings.Fields(strings.ReplaceAll(s, "\n", " ")) {
		words = append(words, splitLongWord(sty, w, width)...)
	}
	var lines []string
	line := ""
	for _, w := range words {
		piece := isPiece(w)
		w = strings.TrimPrefix(w, "\x00")
		sep := " "
		if line == "" || piece {
			sep = ""
		}
		cand := line + sep + w
		if line != "" && textWidth(sty, cand) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		line = cand
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// isPiece reports whether w is the continuation of a word that splitLongWord broke (marked by a
// leading NUL, which wrapText removes).
func isPiece(w string) bool { return strings.HasPrefix(w, "\x00") }

// splitLongWord splits a word wider than width after each '/', ',', '-' or '+' ("CE+PT+ICNN" as CE+ / PT+ / ICNN), and pieces still wider than
// width between characters; the pieces after the first carry a leading NUL so that wrapText joins them
// back without a space when they share a line.
func splitLongWord(sty draw.TextStyle, w string, width vg.Length) []string {
	if textWidth(sty, w) <= width {
		return []string{w}
	}
	var out []string
	start := 0
	for i, r := range w {
		if (r == '/' || r == ',' || r == '-' || r == '+') && i+1 < len(w) {
			out = append(out, w[start:i+1])
			start = i + 1
		}
	}
	out = append(out, w[start:])
	// A piece still too wide is cut between characters, as many as fit per line.
	var cut []string
	for _, piece := range out {
		for textWidth(sty, piece) > width {
			n := 0
			for i := range piece {
				if i > 0 && textWidth(sty, piece[:i]) > width {
					break
				}
				n = i
			}
			if n == 0 { // not even one character fits: give up on this piece
				break
			}
			cut = append(cut, piece[:n])
			piece = piece[n:]
		}
		cut = append(cut, piece)
	}
	for i := 1; i < len(cut); i++ {
		cut[i] = "\x00" + cut[i]
	}
	return cut
}

// drawPlot draws p into c after fitting its title to c's width and its x tick labels to the width of
// the data area: fewer ticks on a numeric axis, wrapped (or, when a single word is too wide, tilted)
// labels on a category axis.
func drawPlot(c draw.Canvas, p *plot.Plot) {
	p.Title.TextStyle, p.Title.Text = fitText(p.Title.TextStyle, p.Title.Text, c.Max.X-c.Min.X-vg.Points(4))
	da := p.DataCanvas(c)
	width := da.Max.X - da.Min.X
	fitTicks(&p.X, width)
	fitCategories(&p.X, width)
	fitTicksY(&p.Y, da.Max.Y-da.Min.Y)
	p.Draw(c)
}

// fitTicksY lowers the number of ticks of a niceTicks y axis until their labels, a line apart, fit in
// height (a short panel).
func fitTicksY(ax *plot.Axis, height vg.Length) {
	if _, ok := ax.Tick.Marker.(niceTicks); !ok || !(ax.Max > ax.Min) {
		return
	}
	lineH := ax.Tick.Label.Rectangle("0").Size().Y + vg.Points(2)
	for n := 6; n >= 2; n-- {
		if vg.Length(len((niceTicks{n}).Ticks(ax.Min, ax.Max)))*lineH <= height || n == 2 {
			ax.Tick.Marker = niceTicks{n}
			return
		}
	}
}

// fitTicks lowers the number of ticks of a niceTicks axis until their labels, each with a gap of
// about two characters, fit in width (the data area's).
func fitTicks(ax *plot.Axis, width vg.Length) {
	if _, ok := ax.Tick.Marker.(niceTicks); !ok || !(ax.Max > ax.Min) {
		return
	}
	sty := ax.Tick.Label
	gap := textWidth(sty, "00")
	for n := 6; n >= 2; n-- {
		var need vg.Length
		for _, t := range (niceTicks{n}).Ticks(ax.Min, ax.Max) {
			if t.Label != "" {
				need += textWidth(sty, t.Label) + gap
			}
		}
		if need <= width || n == 2 {
			ax.Tick.Marker = niceTicks{n}
			return
		}
	}
}

// fitCategories makes the labels of a category axis (constant ticks) fit the room between their
// neighbours: it shrinks their font by up to two points while a single word is too wide, then wraps
// each label that is still too wide (at spaces, else after '/', ',', '-' or '+', else between characters).
func fitCategories(ax *plot.Axis, width vg.Length) {
	ct, ok := ax.Tick.Marker.(plot.ConstantTicks)
	if !ok || len(ct) < 2 || !(ax.Max > ax.Min) {
		return
	}
	room := width*vg.Length(math.Abs(ct[1].Value-ct[0].Value)/(ax.Max-ax.Min)) - textWidth(ax.Tick.Label, "0")
	if room <= 0 {
		return
	}
	widest := func(sty draw.TextStyle) vg.Length {
		var w vg.Length
		for _, t := range ct {
			for _, word := range strings.Fields(t.Label) {
				w = max(w, textWidth(sty, word))
			}
		}
		return w
	}
	sty := ax.Tick.Label
	for step := 1; step <= 2 && widest(sty) > room; step++ {
		sty.Font.Size = ax.Tick.Label.Font.Size - vg.Points(float64(step))
	}
	ax.Tick.Label = sty
	out := make(plot.ConstantTicks, len(ct))
	copy(out, ct)
	for i, t := range out {
		if textWidth(sty, t.Label) > room {
			out[i].Label = wrapText(sty, t.Label, room)
		}
	}
	ax.Tick.Marker = out
}
