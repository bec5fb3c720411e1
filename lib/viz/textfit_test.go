package viz

import (
	"fmt"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

// sizedRecorder is gonum's recording canvas with the size draw.New needs.
type sizedRecorder struct {
	recorder.Canvas
	w, h vg.Length
}

func (r *sizedRecorder) Size() (vg.Length, vg.Length) { return r.w, r.h }

// textOutside renders f and returns the horizontal text it drew (outside any Push, so not the rotated
// axis label) that does not lie within the figure's width, with its extent, and pairs of strings on one
// line (tick labels, legend entries) closer than 3 pt.
func textOutside(t *testing.T, f *Figure) []string {
	t.Helper()
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	r := &sizedRecorder{w: px(float64(f.width)), h: px(float64(f.height))}
	if err := f.render(r); err != nil {
		t.Fatal(err)
	}
	var bad []string
	type span struct {
		s      string
		x0, x1 vg.Length
	}
	rows := map[vg.Length][]span{} // horizontal strings by baseline
	depth := 0
	for _, a := range r.Actions {
		switch a := a.(type) {
		case *recorder.Push:
			depth++
		case *recorder.Pop:
			depth--
		case *recorder.FillString:
			if depth > 0 || strings.TrimSpace(a.String) == "" {
				continue
			}
			fnt := a.Font
			fnt.Size = a.Size
			sty := draw.TextStyle{Font: fnt, Handler: defaultHandler()}
			x0, x1 := a.Point.X, a.Point.X+textWidth(sty, a.String)
			if x0 < -0.5 || x1 > r.w+0.5 {
				bad = append(bad, fmt.Sprintf("%s [%.1f, %.1f] of width %.1f", a.String, x0.Points(), x1.Points(), r.w.Points()))
			}
			for _, o := range rows[a.Point.Y] {
				if gap := vg.Points(3); x0 < o.x1+gap && o.x0 < x1+gap { // closer than 3 pt reads as one word
					bad = append(bad, fmt.Sprintf("%q runs into %q on the line y = %.1f", a.String, o.s, a.Point.Y.Points()))
				}
			}
			rows[a.Point.Y] = append(rows[a.Point.Y], span{a.String, x0, x1})
		}
	}
	return bad
}

// TestLongTextFits checks that long titles and legend entries shrink or wrap to stay on the canvas
// (gonum/plot clips them otherwise): single plots, panels and a contour with a legend.
func TestLongTextFits(t *testing.T) {
	x := Range(10)
	long := "A deliberately long figure title that names the data set, the model, the attack and its budget, and the seed"
	entry := func(i int) string {
		return []string{"fashion-mnist/train (loss barrier 0.00627 at α=0.70)", "fashion-mnist/test (loss barrier 0.00451 at α=0.75)"}[i]
	}
	lines := func(title string) *Figure {
		return Lines(title, "α", "loss", XY(entry(0), x, testCurve(10, 1)), XY(entry(1), x, testCurve(10, 2)))
	}
	// α from 0 to 1 in a half-width panel with a legend: the labels 0.0, 0.2, … ran together.
	unit := func(title string) *Figure {
		u := Linspace(0, 1, 21)
		return Lines(title, "α", "loss", XY(entry(0), u, testCurve(21, 1)), XY(entry(1), u, testCurve(21, 2)))
	}
	g := Grid{X: Linspace(0, 1, 5), Y: Linspace(0, 1, 5), Z: make([][]float64, 5)}
	for i := range g.Z {
		g.Z[i] = []float64{1, 2, 3, 4, float64(i)}
	}
	cases := map[string]*Figure{
		"lines":   lines(long),
		"panels":  Panels(long+", and then some more words to overflow even the full width", 2, lines(long), lines("4 B-MTARD (balanced): clean CE"), lines("x"), lines("y")),
		"narrow":  unit("a").Size(240, 180),
		"contour": Contour(long, "θ₀", "θ₁", g, Path("a path whose legend name is far too long to fit in a third of the width", []float64{0, 1}, []float64{0, 1})),
	}
	for name, f := range cases {
		if bad := textOutside(t, f); len(bad) > 0 {
			t.Errorf("%s: text off the canvas or run together:\n  %s", name, strings.Join(bad, "\n  "))
		}
	}
	// The words all survive the wrapping.
	info := parseSVG(t, mustSVG(t, cases["lines"]))
	all := strings.Join(info.texts, " ")
	for _, w := range strings.Fields(long) {
		if !strings.Contains(all, w) {
			t.Errorf("title word %q lost; texts: %q", w, info.texts)
		}
	}
}

func TestWrapText(t *testing.T) {
	sty := draw.TextStyle{Font: fontOf(12), Handler: defaultHandler()}
	width := textWidth(sty, "0123456789")
	got := wrapText(sty, "one two three four five six seven", width)
	for _, l := range strings.Split(got, "\n") {
		if textWidth(sty, l) > width {
			t.Errorf("line %q is wider than the room", l)
		}
	}
	if strings.ReplaceAll(got, "\n", " ") != "one two three four five six seven" {
		t.Errorf("wrapping changed the words: %q", got)
	}
	// A long word breaks after '/', and the pieces rejoin without spaces.
	got = wrapText(sty, "fashion-mnist/train/subset", textWidth(sty, "fashion-mnist/"))
	if strings.ReplaceAll(got, "\n", "") != "fashion-mnist/train/subset" || !strings.Contains(got, "\n") {
		t.Errorf("long word: %q", got)
	}
	// A sum of method names breaks after '+', never inside a name (26-susana's "CE+P/T+IC/NN").
	got = wrapText(sty, "CE+PT+ICNN", textWidth(sty, "ICNN+"))
	if got != "CE+PT+\nICNN" && got != "CE+\nPT+\nICNN" {
		t.Errorf("CE+PT+ICNN wrapped as %q, want breaks after '+' only", got)
	}
	// Text that fits is left alone, style included.
	s2, txt := fitText(sty, "short", width)
	if txt != "short" || s2.Font.Size != sty.Font.Size {
		t.Errorf("fitting text changed it: %q at %v", txt, s2.Font.Size)
	}
}
