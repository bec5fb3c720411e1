package viz

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// svgInfo parses an SVG with encoding/xml (failing the test if it is not well-formed) and returns
// its text contents and the stroke colours of its paths.
type svgInfo struct {
	texts   []string
	strokes map[string]int // stroke colour (upper-case hex) -> number of <path> elements
	images  int
}

func parseSVG(t *testing.T, svg []byte) svgInfo {
	t.Helper()
	info := svgInfo{strokes: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	inText := false
	strokeRE := regexp.MustCompile(`stroke:(#[0-9A-Fa-f]{6})`)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "text":
				inText = true
			case "image":
				info.images++
			case "path":
				for _, a := range el.Attr {
					if a.Name.Local == "style" {
						if m := strokeRE.FindStringSubmatch(a.Value); m != nil {
							info.strokes[strings.ToUpper(m[1])]++
						}
					}
				}
			}
		case xml.EndElement:
			if el.Name.Local == "text" {
				inText = false
			}
		case xml.CharData:
			if inText {
				info.texts = append(info.texts, string(el))
			}
		}
	}
	return info
}

func (s svgInfo) hasText(want string) bool {
	for _, t := range s.texts {
		if t == want {
			return true
		}
	}
	return false
}

func upperHex(i int) string { return strings.ToUpper(hex(seriesColor(i))) }

func mustSVG(t *testing.T, f *Figure) []byte {
	t.Helper()
	svg, err := f.SVG()
	if err != nil {
		t.Fatalf("SVG: %v", err)
	}
	return svg
}

func testCurve(n int, scale float64) []float64 {
	y := make([]float64, n)
	for i := range y {
		y[i] = scale * math.Exp(-float64(i)/7)
	}
	return y
}

func TestLinesSVG(t *testing.T) {
	x := Range(20)
	f := Lines("Training loss", "step", "loss (nats)",
		XY("sgd", x, testCurve(20, 2)),
		Band("adam", x, testCurve(20, 1), testCurve(20, 0.1)),
		XY("lion", x, testCurve(20, 3)))
	info := parseSVG(t, mustSVG(t, f))
	for _, want := range []string{"Training loss", "step", "loss (nats)", "sgd", "adam", "lion"} {
		if !info.hasText(want) {
			t.Errorf("SVG lacks text %q; texts: %q", want, info.texts)
		}
	}
	// Each series: one path for its line plus one for its legend thumbnail.
	for i := range 3 {
		if got := info.strokes[upperHex(i)]; got != 2 {
			t.Errorf("series %d (%s): %d stroked paths, want 2 (line + legend)", i, upperHex(i), got)
		}
	}
	// A single series gets no legend: only the line itself.
	info = parseSVG(t, mustSVG(t, Lines("One", "step", "loss", XY("only", x, testCurve(20, 1)))))
	if got := info.strokes[upperHex(0)]; got != 1 {
		t.Errorf("single series: %d stroked paths, want 1 (no legend)", got)
	}
	if info.hasText("only") {
		t.Errorf("single series should have no legend entry")
	}
}

func TestLinesNaNBreaksLine(t *testing.T) {
	x := Range(20)
	y := testCurve(20, 1)
	y[7] = math.NaN()
	y[12] = math.Inf(1)
	f := Lines("Gaps", "step", "loss", XY("a", x, y), XY("b", x, testCurve(20, 2)))
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	info := parseSVG(t, mustSVG(t, f))
	// Three pieces (0..6, 8..11, 13..19) plus the legend thumbnail.
	if got := info.strokes[upperHex(0)]; got != 4 {
		t.Errorf("series with 2 gaps: %d stroked paths, want 4", got)
	}
	if len(f.Notes()) != 1 || !strings.Contains(f.Notes()[0], `"a" (2)`) {
		t.Errorf("notes = %q, want one naming series \"a\" with 2 gaps", f.Notes())
	}
	found := false
	for _, s := range info.texts {
		if strings.Contains(s, "NaN/Inf") {
			found = true
		}
	}
	if !found {
		t.Errorf("the gap footnote is not drawn in the SVG")
	}
}

func TestNaNErrors(t *testing.T) {
	nan := math.NaN()
	x := Range(3)
	cases := map[string]*Figure{
		"all-NaN line":    Lines("t", "x", "y", XY("a", x, []float64{nan, nan, nan})),
		"NaN x":           Lines("t", "x", "y", XY("a", []float64{0, nan, 2}, []float64{1, 2, 3})),
		"length mismatch": Lines("t", "x", "y", XY("a", x, []float64{1, 2})),
		"bad band":        Lines("t", "x", "y", Band("a", x, []float64{1, 2, 3}, []float64{1})),
		"NaN bar":         Bar("t", "x", "y", []string{"a", "b"}, Values("g", []float64{1, nan})),
		"NaN histogram":   Histogram("t", "x", 10, Values("g", []float64{1, nan, 3})),
		"all-NaN heatmap": Heatmap("t", nil, nil, [][]float64{{nan, nan}}),
		"all-NaN contour": Contour("t", "x", "y", Grid{X: x[:2], Y: x[:2], Z: [][]float64{{nan, nan}, {nan, nan}}}),
		"NaN overlay":     Contour("t", "x", "y", Grid{X: x[:2], Y: x[:2], Z: [][]float64{{1, 2}, {3, 4}}}, Path("p", []float64{0, nan}, []float64{0, 1})),
		"log of negative": Lines("t", "x", "y", XY("a", x, []float64{1, -1, 2})).LogY(),
		"ragged heatmap":  Heatmap("t", nil, nil, [][]float64{{1, 2}, {3}}),
		"unsorted grid":   Contour("t", "x", "y", Grid{X: []float64{1, 0}, Y: x[:2], Z: [][]float64{{1, 2}, {3, 4}}}),
	}
	for name, f := range cases {
		if f.Err() == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if _, err := f.SVG(); err == nil {
			t.Errorf("%s: SVG rendered despite the error", name)
		}
		if err := f.Show(); err == nil {
			t.Errorf("%s: Show returned no error", name)
		}
	}
}

func TestNaNGapsInGrids(t *testing.T) {
	nan := math.NaN()
	h := Heatmap("LMC", []string{"a", "b"}, []string{"c", "d"}, [][]float64{{1, nan}, {3, 4}})
	info := parseSVG(t, mustSVG(t, h))
	if !info.hasText("NaN") || len(h.Notes()) != 1 {
		t.Errorf("heatmap NaN cell: want a \"NaN\" cell label and a footnote, got notes %q", h.Notes())
	}
	for _, want := range []string{"a", "b", "c", "d", "LMC"} {
		if !info.hasText(want) {
			t.Errorf("heatmap lacks label %q", want)
		}
	}
	xs, ys := Linspace(0, 1, 5), Linspace(0, 1, 4)
	z := make([][]float64, len(ys))
	for i := range z {
		z[i] = make([]float64, len(xs))
		for j := range z[i] {
			z[i][j] = xs[j]*xs[j] + ys[i]
		}
	}
	z[1][2] = nan
	c := Contour("Landscape", "α", "β", Grid{X: xs, Y: ys, Z: z}, Path("sgd", []float64{0, 0.5}, []float64{0, 0.5}))
	info = parseSVG(t, mustSVG(t, c))
	if len(c.Notes()) != 1 || info.images != 2 { // the fill and the grey mask over the gap
		t.Errorf("contour with a NaN: notes %q, %d images; want 1 note and 2 images", c.Notes(), info.images)
	}
	for _, want := range []string{"Landscape", "α", "β", "sgd"} {
		if !info.hasText(want) {
			t.Errorf("contour lacks text %q", want)
		}
	}
}

func TestPNGSize(t *testing.T) {
	x := Range(10)
	figs := map[string]*Figure{
		"lines":     Lines("t", "x", "y", XY("a", x, testCurve(10, 1))),
		"scatter":   Scatter("t", "x", "y", XY("a", x, testCurve(10, 1)), XY("b", x, testCurve(10, 2))),
		"bar":       Bar("t", "x", "y", []string{"p", "q"}, Values("g", []float64{1, 2})),
		"histogram": Histogram("t", "x", 5, Values("g", testCurve(10, 1))),
		"heatmap":   Heatmap("t", nil, nil, [][]float64{{1, 2}, {3, 4}}),
		"contour":   Contour("t", "x", "y", Grid{X: x[:3], Y: x[:2], Z: [][]float64{{1, 2, 3}, {3, 4, 5}}}),
		"surface":   Surface("t", "x", "y", "z", Grid{X: x[:3], Y: x[:2], Z: [][]float64{{1, 2, 3}, {3, 4, 5}}}),
		"panels":    SmallMultiples("t", "x", "y", 2, XY("a", x, testCurve(10, 1)), XY("b", x, testCurve(10, 2))),
	}
	for name, f := range figs {
		for _, size := range [][2]int{{640, 400}, {333, 251}} {
			b, err := f.Size(size[0], size[1]).PNG()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: PNG does not decode: %v", name, err)
			}
			if got := img.Bounds().Size(); got.X != size[0] || got.Y != size[1] {
				t.Errorf("%s: PNG is %v, want %v", name, got, size)
			}
		}
	}
}

var scriptSrcRE = regexp.MustCompile(`(?i)<script[^>]*\bsrc\s*=`)
var networkSrcRE = regexp.MustCompile(`(?i)src\s*=\s*["']?https?://`)

func checkOffline(t *testing.T, name string, h []byte) {
	t.Helper()
	if scriptSrcRE.Match(h) {
		t.Errorf("%s: HTML loads a script from a src", name)
	}
	if networkSrcRE.Match(h) {
		t.Errorf("%s: HTML references a network URL", name)
	}
}

// fakePlotly installs a stand-in plotly.min.js via $LOSSLAB_PLOTLY.
func fakePlotly(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plotly.min.js")
	js := "/* fake plotly for tests */ window.Plotly = {newPlot: function(){}};"
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(PlotlyEnv, p)
	return js
}

func TestHTMLStaticAndInteractive(t *testing.T) {
	x := []float64{0, 1, 2}
	y := []float64{0.123456789, 0.5, math.NaN()}
	lines := func() *Figure { return Lines("Data", "step", "loss", XY("run A", x, y), XY("run B", x, x)) }

	h, err := lines().HTML()
	if err != nil {
		t.Fatal(err)
	}
	checkOffline(t, "static", h)
	if !bytes.Contains(h, []byte("<svg")) || !bytes.Contains(h, []byte("run A")) {
		t.Errorf("static HTML lacks its SVG")
	}

	js := fakePlotly(t)
	for name, f := range map[string]*Figure{
		"lines":   lines().Interactive(),
		"surface": Surface("S", "x", "y", "z", Grid{X: x, Y: x[:2], Z: [][]float64{{1, 2, 3}, {4, 5, 0.123456789}}}),
		"heatmap": Heatmap("H", nil, nil, [][]float64{{0.123456789, 2}}).Interactive(),
		"bar":     Bar("B", "", "v", []string{"p"}, Values("g", []float64{0.123456789})).Interactive(),
	} {
		h, err := f.HTML()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkOffline(t, name, h)
		if !bytes.Contains(h, []byte(js)) {
			t.Errorf("%s: interactive HTML does not embed plotly.js", name)
		}
		if !bytes.Contains(h, []byte("0.123456789")) {
			t.Errorf("%s: interactive HTML does not embed the data", name)
		}
		if !bytes.Contains(h, []byte("<svg")) {
			t.Errorf("%s: interactive HTML lacks the static fallback", name)
		}
	}
	h, _ = lines().Interactive().HTML()
	if !bytes.Contains(h, []byte(`"y":[0.123456789,0.5,null]`)) {
		t.Errorf("NaN should be encoded as null (a gap) in the Plotly data")
	}

	// No plotly.js: the static figure and one line saying so.
	t.Setenv(PlotlyEnv, "")
	t.Setenv("LOSSLAB_HOME", t.TempDir())
	h, err = lines().Interactive().HTML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(h, []byte("plotly.js is not installed")) || !bytes.Contains(h, []byte("<svg")) || bytes.Contains(h, []byte("newPlot")) {
		t.Errorf("without plotly.js: want the static SVG and a note, got %d bytes", len(h))
	}
}

func TestPlotlyOncePerSession(t *testing.T) {
	js := fakePlotly(t)
	t.Setenv("GONB_TMP_DIR", t.TempDir())
	f := Lines("t", "x", "y", XY("a", Range(3), []float64{1, 2, 3})).Interactive()
	first, err := f.htmlBody(false)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := f.htmlBody(false)
	if !strings.Contains(first, js) || strings.Contains(second, js) {
		t.Errorf("plotly.js should be embedded in the first notebook output only (first: %v, second: %v)",
			strings.Contains(first, js), strings.Contains(second, js))
	}
	if !strings.Contains(second, "window.Plotly") {
		t.Errorf("later outputs should use window.Plotly")
	}
	ReloadPlotly()
	third, _ := f.htmlBody(false)
	if !strings.Contains(third, js) {
		t.Errorf("after ReloadPlotly plotly.js should be embedded again")
	}
	// A saved page always embeds it.
	page, _ := f.HTML()
	if !bytes.Contains(page, []byte(js)) {
		t.Errorf("a saved HTML page must be self-contained")
	}
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	f := Lines("t", "x", "y", XY("a", Range(3), []float64{1, 2, 3}))
	for _, name := range []string{"a.svg", "a.png", "a.html"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := f.Save(p); err != nil {
			t.Fatalf("Save(%s): %v", name, err)
		}
		b, _ := os.ReadFile(p)
		if len(b) < 100 {
			t.Errorf("%s was not replaced", name)
		}
	}
	if err := f.Save(filepath.Join(dir, "a.jpg")); err == nil {
		t.Errorf("Save with an unknown extension should fail")
	}
	bad := Lines("t", "x", "y", XY("a", Range(2), []float64{1}))
	if err := bad.Save(filepath.Join(dir, "bad.svg")); err == nil {
		t.Errorf("Save of a broken figure should fail")
	}
	if err := f.Save(filepath.Join(dir, "missing", "a.svg")); err == nil {
		t.Errorf("Save into a missing folder should fail")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("folder holds %q; want only the three figures (no temp files, no broken figure)", names)
	}
}

func TestMeanBand(t *testing.T) {
	nan := math.NaN()
	s := MeanBand("m", []float64{0, 1, 2}, [][]float64{{1, 2, nan}, {3, 2, nan}, {5, 2, nan}})
	// x=0: values 1,3,5: mean 3, sample sd 2. x=1: all 2: sd 0. x=2: no finite value: gap.
	want := [][3]float64{{3, 1, 5}, {2, 2, 2}}
	for i, w := range want {
		if math.Abs(s.Y[i]-w[0]) > 1e-12 || math.Abs(s.Lo[i]-w[1]) > 1e-12 || math.Abs(s.Hi[i]-w[2]) > 1e-12 {
			t.Errorf("point %d: got (%g, %g, %g), want %v", i, s.Y[i], s.Lo[i], s.Hi[i], w)
		}
	}
	if !math.IsNaN(s.Y[2]) {
		t.Errorf("point with no finite run should be NaN, got %g", s.Y[2])
	}
}

func TestTicks(t *testing.T) {
	ticks := niceTicks{}.Ticks(0, 1)
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0.0 0.2 0.4 0.6 0.8 1.0" {
		t.Errorf("ticks on [0,1]: %q", got)
	}
}

func TestTable(t *testing.T) {
	tb := NewTable("Results", "objective", "accuracy").Row("CE", 0.91234567).Row("focal|γ", math.NaN())
	md, err := tb.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	want := "**Results**\n\n| objective | accuracy |\n| --- | ---: |\n| CE | 0.9123 |\n| focal\\|γ | NaN |\n"
	if md != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", md, want)
	}
	h, err := tb.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<table", "<th", "0.9123", "NaN", "focal|γ"} {
		if !strings.Contains(h, s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
	dir := t.TempDir()
	if err := tb.Save(filepath.Join(dir, "t.md")); err != nil {
		t.Fatal(err)
	}
	if err := NewTable("bad", "a", "b").Row(1).Err(); err == nil {
		t.Errorf("row with the wrong number of cells should be an error")
	}
}
