package viz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/losslab/losslab/lib/landscape"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/recorder"
)

// The visual test renders every kind of figure through two real SVG renderers, headless Chromium (what
// a notebook reader sees) and librsvg's rsvg-convert (what GitHub-like previews and many converters use),
// and checks facts about the pixels rather than about the SVG text:
//   - a filled contour's raster covers the plot rectangle and no more, and its colour bands agree with
//     the contour lines and with the values of a known surface;
//   - nothing is drawn on the outermost pixels of the canvas (a cut title, legend or label would be);
//   - in Chromium, no two text boxes overlap and every text box lies inside the canvas.
//
// It needs the Debian packages chromium, librsvg2-bin and fonts-liberation2 (the house font, so that
// Chromium measures text as the figures were laid out). Set LOSSLAB_VISUAL_OUT to a folder to keep the
// renders as PNG files for a look.

const (
	chromiumPath = "/usr/bin/chromium"
	rsvgPath     = "/usr/bin/rsvg-convert"
)

// visualCase is one figure of the visual test; truth, when set, is the known surface of a contour.
type visualCase struct {
	name  string
	fig   *Figure
	truth *contourTruth
}

// contourTruth is a synthetic surface drawn as a contour, with markers at two opposite grid corners so
// that the test can find the data rectangle from vector drawing alone.
type contourTruth struct {
	g      Grid
	z      func(x, y float64) float64
	y0     float64 // a row of the surface crossed by many levels
	lo, hi float64 // colour scale
}

func paraboloid(x, y float64) float64 { return (x+1.8)*(x+1.8) + 2*(y-1.3)*(y-1.3) }

func newContourCase(name string, width, height int, panel bool) visualCase {
	xs, ys := Linspace(-3, 1, 61), Linspace(0, 2, 41)
	g := Grid{X: xs, Y: ys, Z: make([][]float64, len(ys))}
	for i, y := range ys {
		g.Z[i] = make([]float64, len(xs))
		for j, x := range xs {
			g.Z[i][j] = paraboloid(x, y)
		}
	}
	sc := newColorScale(g.Z, false)
	f := Contour("Synthetic bowl, minimum at (−1.8, 1.3)", "x (first direction)", "y (second direction)", g,
		Points("grid corner (−3, 0)", []float64{-3}, []float64{0}),
		Points("grid corner (1, 2)", []float64{1}, []float64{2})).ColorLabel("loss (nats)").Size(width, height)
	if panel {
		f = Panels("Two contours side by side, as in a notebook's small multiples", 2, f, Contour("Second panel", "x", "y", g).ColorLabel("loss"))
	}
	return visualCase{name: name, fig: f, truth: &contourTruth{g: g, z: paraboloid, y0: 1.3, lo: sc.lo, hi: sc.hi}}
}

func visualCases() []visualCase {
	steps := Range(120)
	curve := func(a, b float64) []float64 {
		out := make([]float64, len(steps))
		for i, s := range steps {
			out[i] = a*math.Exp(-s/30) + b + 0.02*math.Sin(s)
		}
		return out
	}
	spread := make([]float64, len(steps))
	for i := range spread {
		spread[i] = 0.05 + 0.001*float64(i)
	}
	fed := func(title string) *Figure {
		return Lines(title, "round", "test accuracy",
			Band("FedAvg", steps, curve(-0.5, 0.8), spread).WithInterval("mean ± 1 s.d. over 3 seeds"), Band("FedProx", steps, curve(-0.4, 0.78), spread).WithInterval("mean ± 1 s.d. over 3 seeds"),
			Band("FedLEx", steps, curve(-0.45, 0.76), spread).WithInterval("mean ± 1 s.d. over 3 seeds"), Band("FedLEx+FedPro", steps, curve(-0.5, 0.75), spread).WithInterval("mean ± 1 s.d. over 3 seeds"))
	}
	pixels := make([][]float64, 28)
	for r := range pixels {
		pixels[r] = make([]float64, 28)
		for c := range pixels[r] {
			pixels[r][c] = math.Sin(float64(r*c) / 40)
		}
	}
	cells := make([][]float64, 7)
	for r := range cells {
		cells[r] = make([]float64, 7)
		for c := range cells[r] {
			cells[r][c] = 0.0559 + float64(r*7+c)*0.0271
		}
	}
	grid := &landscape.Grid{S: Linspace(-1, 2, 21), T: Linspace(-1, 1.5, 17), Marks: []landscape.Mark{{Name: "θ_A", S: 0, T: 0}, {Name: "θ_B", S: 1, T: 0}, {Name: "θ_C", S: 0.3, T: 1}}}
	grid.Loss = make([][]float64, len(grid.T))
	for i, t := range grid.T {
		grid.Loss[i] = make([]float64, len(grid.S))
		for j, s := range grid.S {
			grid.Loss[i][j] = paraboloid(s-1, t)
		}
	}
	lrs := []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1}
	logGrid := &landscape.Grid{S: Linspace(-1, 1, 21), T: Linspace(-1, 1, 21), Marks: []landscape.Mark{{Name: "trained", S: 0, T: 0}}}
	for _, t := range logGrid.T {
		row := make([]float64, len(logGrid.S))
		for j, s := range logGrid.S {
			row[j] = 1.2 + 2.8*(s*s+t*t+s*t)
		}
		logGrid.Loss = append(logGrid.Loss, row)
	}
	long := Lines("real labels: pathway metrics (training data only)", "step", "value",
		XY("D̄ / (H·k)", Linspace(0, 1200, 25), curve(0.3, 0.4)[:25]), XY("consistency", Linspace(0, 1200, 25), curve(-0.3, 0.3)[:25]),
		XY("train acc = 1.0 (step 500)", []float64{500, 500}, []float64{0, 1}))
	return []visualCase{
		newContourCase("contour", DefaultWidth, DefaultHeight, false),
		newContourCase("contour-wide", 900, 360, false),
		newContourCase("contour-panels", DefaultWidth, DefaultHeight, true),
		{name: "landscape-grid", fig: LandscapeGrid("Loss on the plane through θ_A, θ_B, θ_C", grid, "loss")},
		{name: "landscape-log-panels", fig: Panels("Random plane through each trained model (log colour, less than a decade)", 2,
			LandscapeGrid("infonce-trained model, its own loss", logGrid, "loss").LogColor(), LandscapeGrid("second panel", logGrid, "loss").LogColor()).Size(720, 240)},
		{name: "lines-bands", fig: fed("Global test accuracy per round")},
		{name: "panels-legends", fig: Panels("Global test accuracy per round (Fashion-MNIST 14×14, MLP 196-128-10)", 2, fed("Dirichlet α = 0.1"), fed("Dirichlet α = 100"))},
		{name: "panels-titles", fig: Panels("Grokking by MoE on (a + b) mod 31: accuracy and pathway metrics on a shared step axis", 2,
			long, long, Lines("shuffled labels (control): accuracy", "step", "accuracy", XY("train accuracy", Linspace(0, 1200, 25), curve(0.3, 0.4)[:25])), long)},
		{name: "heatmap-pixels", fig: Panels("What the teacher mines", 3, Heatmap("Pullover", nil, nil, pixels), Heatmap("teacher's predicted loss", nil, nil, cells), Heatmap("(a) Final loss against the learning rate", nil, nil, cells))},
		{name: "bars", fig: Bar("Linear-probe test accuracy of the frozen encoder", "arm", "accuracy", []string{"(a) MAE", "(b) MAE + HPM", "(c) MAE + HPM + EMA teacher"},
			MeanSE("probe", [][]float64{{0.6, 0.62, 0.61}, {0.64, 0.69, 0.66}, {0.7, 0.71, 0.68}}),
			MeanSE("fine-tuned", [][]float64{{0.7, 0.72, 0.71}, {0.73, 0.76, 0.74}, {0.8, 0.78, 0.79}})).YRange(0, 1)},
		{name: "lines-long-title", fig: Lines("(a) Final held-out loss against the learning rate (gaps: diverged)", "learning rate η (log scale)", "loss",
			XY("baseline", lrs, []float64{3.2, 2.3, 1.9, 1.85, 1.86, 2, 4}), XY("+qk-LN", lrs, []float64{3.1, 2.3, 1.9, 1.85, 1.85, 1.9, math.NaN()}),
			XY("entropy rate (best possible)", lrs, []float64{1.44, 1.44, 1.44, 1.44, 1.44, 1.44, 1.44})).LogX()},
		{name: "lines-log-under-a-decade", fig: Lines("Test MSE against the censored fraction (log y, under a decade)", "censored fraction", "test MSE",
			XY("naive", []float64{0.2, 0.4, 0.6}, []float64{0.8, 1.9, 3.9}), XY("KM", []float64{0.2, 0.4, 0.6}, []float64{0.6, 0.62, 0.66})).LogY()},
		{name: "bars-narrow", fig: Panels("Long category names in narrow panels", 2,
			Bar("Probe accuracy", "arm", "accuracy", []string{"(a) MAE", "(b) MAE + HPM", "(c) MAE + HPM + EMA teacher", "(d) supervised baseline"}, Values("probe", []float64{0.61, 0.66, 0.7, 0.8})),
			Bar("Shrunk, and split after hyphens", "arm", "accuracy", []string{"cross-entropy-with-smoothing", "focal-loss-gamma-two", "hinge"}, Values("probe", []float64{0.61, 0.66, 0.7})))},
		{name: "bar-interval", fig: Bar("Final loss per objective (one group: the meaning goes in a footnote)", "objective", "loss (nats)", []string{"CE", "focal", "MSE"},
			Spread("final loss", []float64{0.4, 0.5, 0.3}, []float64{0.35, 0.42, 0.28}, []float64{0.46, 0.55, 0.33}, "95% bootstrap interval over 5 seeds"))},
		{name: "scatter-histogram", fig: Panels("Scatter and histogram", 2,
			Scatter("Final loss against the learning rate", "learning rate", "final loss (nats)", XY("SGD", Linspace(0.001, 0.1, 30), curve(1, 0.2)[:30]), XY("Adam", Linspace(0.001, 0.1, 30), curve(0.5, 0.3)[:30])).LogX(),
			Histogram("Per-example losses", "loss (nats)", 30, Values("train", curve(1, 0.1)), Values("test", curve(1.2, 0.2))))},
		{name: "small-multiples", fig: SmallMultiples("One panel per objective (shared y range)", "step", "loss (nats)", 3,
			XY("cross-entropy with label smoothing 0.1", steps, curve(1, 0.2)), XY("focal γ = 2", steps, curve(1.2, 0.1)), XY("MSE on one-hot targets", steps, curve(0.4, 0.3)))},
	}
}

// render turns SVG documents into images: the key names a figure, the value is its picture at 1 CSS
// px per pixel. text holds each figure's text boxes where the renderer can report them.
type renderer interface {
	name() string
	render(t *testing.T, dir string, figs []visualCase, svgs [][]byte) (imgs []image.Image, text [][]textBox)
}

type textBox struct {
	Text       string
	X, Y, W, H float64
}

type rsvgRenderer struct{}

func (rsvgRenderer) name() string { return "rsvg-convert" }

func (rsvgRenderer) render(t *testing.T, dir string, figs []visualCase, svgs [][]byte) ([]image.Image, [][]textBox) {
	imgs := make([]image.Image, len(svgs))
	for i, svg := range svgs {
		in := filepath.Join(dir, figs[i].name+".svg")
		out := filepath.Join(dir, figs[i].name+".rsvg.png")
		if err := os.WriteFile(in, svg, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(rsvgPath, "--format=png", "--background-color=white", "-o", out, in)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rsvg-convert %s: %v\n%s", figs[i].name, err, msg)
		}
		imgs[i] = readPNG(t, out)
	}
	return imgs, nil
}

type chromiumRenderer struct{}

func (chromiumRenderer) name() string { return "chromium" }

// render lays all figures out on one page, one below the other at known offsets, as inline SVG (the
// way Show puts them in a notebook), takes one screenshot and reads every <text>'s box from the DOM.
func (chromiumRenderer) render(t *testing.T, dir string, figs []visualCase, svgs [][]byte) ([]image.Image, [][]textBox) {
	const gap = 20
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#fff">`)
	tops := make([]int, len(figs))
	width, y := 0, 0
	for i, c := range figs {
		tops[i] = y
		fmt.Fprintf(&b, `<div class="fig" style="position:absolute;left:0;top:%dpx;width:%dpx;height:%dpx">%s</div>`,
			y, c.fig.width, c.fig.height, inlineSVG(svgs[i]))
		y += c.fig.height + gap
		width = max(width, c.fig.width)
	}
	b.WriteString(`<script>
const out = [];
for (const d of document.querySelectorAll("div.fig")) {
  const r0 = d.getBoundingClientRect(), boxes = [];
  for (const t of d.querySelectorAll("text")) {
    const r = t.getBoundingClientRect();
    boxes.push({Text: t.textContent, X: r.left - r0.left, Y: r.top - r0.top, W: r.width, H: r.height});
  }
  out.push(boxes);
}
const pre = document.createElement("pre");
pre.id = "boxes";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script></body></html>`)
	page := filepath.Join(dir, "page.html")
	if err := os.WriteFile(page, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "page.png")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--no-first-run", "--user-data-dir=" + filepath.Join(dir, "profile"), fmt.Sprintf("--window-size=%d,%d", width, y)}
	run := func(extra ...string) []byte {
		cmd := exec.Command(chromiumPath, append(append(args, extra...), "file://"+page)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting chromium: %v", err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
			}
		case <-time.After(90 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("chromium %v did not finish in 90 s\n%s", extra, stderr.String())
		}
		return stdout.Bytes()
	}
	run("--screenshot=" + shot)
	dom := run("--dump-dom")
	m := regexp.MustCompile(`(?s)<pre id="boxes">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("chromium: the page did not report its text boxes; DOM starts %.300q", dom)
	}
	var text [][]textBox
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &text); err != nil {
		t.Fatalf("chromium: text boxes: %v", err)
	}
	page2 := readPNG(t, shot)
	imgs := make([]image.Image, len(figs))
	for i, c := range figs {
		sub := image.NewRGBA(image.Rect(0, 0, c.fig.width, c.fig.height))
		draw.Draw(sub, sub.Bounds(), page2, image.Point{Y: tops[i]}, draw.Src)
		imgs[i] = sub
	}
	return imgs, text
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestVisual renders every figure kind through Chromium and librsvg and checks the pixels (see above).
func TestVisual(t *testing.T) {
	for _, p := range []struct{ path, pkg string }{{chromiumPath, "chromium"}, {rsvgPath, "librsvg2-bin"}} {
		if _, err := os.Stat(p.path); err != nil {
			t.Fatalf("the visual test needs %s: install the Debian package %s (apt-get install -y %s fonts-liberation2)", p.path, p.pkg, p.pkg)
		}
	}
	cases := visualCases()
	svgs := make([][]byte, len(cases))
	for i, c := range cases {
		svgs[i] = mustSVG(t, c.fig)
	}
	keep := os.Getenv("LOSSLAB_VISUAL_OUT")
	for _, r := range []renderer{chromiumRenderer{}, rsvgRenderer{}} {
		t.Run(r.name(), func(t *testing.T) {
			dir := t.TempDir()
			imgs, text := r.render(t, dir, cases, svgs)
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					img := imgs[i]
					if keep != "" {
						savePNG(t, filepath.Join(keep, c.name+"."+r.name()+".png"), img)
					}
					if b := img.Bounds(); b.Dx() != c.fig.width || b.Dy() != c.fig.height {
						t.Fatalf("rendered %d×%d px, want %d×%d", b.Dx(), b.Dy(), c.fig.width, c.fig.height)
					}
					for _, e := range edgeInk(img) {
						t.Errorf("drawn on the canvas edge (something is cut): %s", e)
					}
					if text != nil {
						for _, e := range textProblems(text[i], c.fig.width, c.fig.height) {
							t.Errorf("%s", e)
						}
					}
					if c.truth != nil {
						for _, e := range checkContour(t, c, img) {
							t.Errorf("%s", e)
						}
					}
				})
			}
		})
	}
}

func savePNG(t *testing.T, path string, img image.Image) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// edgeInk lists the places where the two outermost pixel rows or columns are not white.
func edgeInk(img image.Image) []string {
	b := img.Bounds()
	var out []string
	seen := map[string]bool{}
	note := func(side string, x, y int) {
		if !seen[side] {
			seen[side] = true
			out = append(out, fmt.Sprintf("%s edge at (%d, %d) is %v", side, x, y, img.At(x, y)))
		}
	}
	for d := range 2 {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !white(img.At(x, b.Min.Y+d)) {
				note("top", x, b.Min.Y+d)
			}
			if !white(img.At(x, b.Max.Y-1-d)) {
				note("bottom", x, b.Max.Y-1-d)
			}
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if !white(img.At(b.Min.X+d, y)) {
				note("left", b.Min.X+d, y)
			}
			if !white(img.At(b.Max.X-1-d, y)) {
				note("right", b.Max.X-1-d, y)
			}
		}
	}
	return out
}

func white(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 >= 235 && g>>8 >= 235 && b>>8 >= 235
}

// textProblems reports text boxes outside the canvas and pairs of text boxes that overlap by more than
// a pixel each way.
func textProblems(boxes []textBox, w, h int) []string {
	var out []string
	const tol = 1.0
	for i, a := range boxes {
		if strings.TrimSpace(a.Text) == "" {
			continue
		}
		if a.X < -tol || a.Y < -tol || a.X+a.W > float64(w)+tol || a.Y+a.H > float64(h)+tol {
			out = append(out, fmt.Sprintf("text %q [%.0f,%.0f %.0f×%.0f] is not inside the %d×%d canvas", a.Text, a.X, a.Y, a.W, a.H, w, h))
		}
		for _, b := range boxes[:i] {
			if strings.TrimSpace(b.Text) == "" {
				continue
			}
			ox := math.Min(a.X+a.W, b.X+b.W) - math.Max(a.X, b.X)
			oy := math.Min(a.Y+a.H, b.Y+b.H) - math.Max(a.Y, b.Y)
			if ox > tol && oy > tol+1 {
				out = append(out, fmt.Sprintf("text %q [%.0f,%.0f %.0f×%.0f] overlaps %q [%.0f,%.0f %.0f×%.0f]", a.Text, a.X, a.Y, a.W, a.H, b.Text, b.X, b.Y, b.W, b.H))
			}
		}
	}
	return out
}

// markerCentres finds, in the vector drawing of f, the centre of the first filled circle of each of
// the given colours (the overlay markers), in pixels from the top left.
func markerCentres(t *testing.T, f *Figure, cols ...color.Color) []image.Point {
	r := &sizedRecorder{w: px(float64(f.width)), h: px(float64(f.height))}
	if err := f.render(r); err != nil {
		t.Fatal(err)
	}
	out := make([]image.Point, len(cols))
	found := make([]bool, len(cols))
	var cur color.Color
	for _, a := range r.Actions {
		switch a := a.(type) {
		case *recorder.SetColor:
			cur = a.Color
		case *recorder.Fill:
			for _, comp := range a.Path {
				if comp.Type != vg.ArcComp || comp.Radius != vg.Points(4) {
					continue
				}
				for k, c := range cols {
					if !found[k] && sameColor(cur, c) {
						found[k] = true
						out[k] = image.Pt(int(math.Round(comp.Pos.X.Points()/0.75)), f.height-int(math.Round(comp.Pos.Y.Points()/0.75)))
					}
				}
			}
		}
	}
	for k := range cols {
		if !found[k] {
			t.Fatalf("marker %d (colour %s) not found in the drawing", k, hex(cols[k]))
		}
	}
	return out
}

func sameColor(a, b color.Color) bool {
	if a == nil || b == nil {
		return false
	}
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func colorDist(a, b color.Color) float64 {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	d := func(x, y uint32) float64 { return math.Abs(float64(x>>8) - float64(y>>8)) }
	return d(r1, r2) + d(g1, g2) + d(b1, b2)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func luma(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r>>8) + 0.7152*float64(g>>8) + 0.0722*float64(b>>8))
}

// bandColor is the fill of band k of a filled contour.
func bandColor(k int) color.Color { return viridis((float64(k) + 0.5) / contourLevels) }

// nearestBand returns the band whose colour is closest to c, and the distance.
func nearestBand(c color.Color) (int, float64) {
	best, bd := -1, math.Inf(1)
	for k := range contourLevels {
		if d := colorDist(c, bandColor(k)); d < bd {
			best, bd = k, d
		}
	}
	return best, bd
}

// checkContour checks the raster of a contour case against its known surface: the fill covers the
// data rectangle (found from the corner markers) and no more, the band at sample points is the band of
// the surface's value there, and the contour lines cross the row y0 where the surface crosses a level.
func checkContour(t *testing.T, c visualCase, img image.Image) []string {
	tr := c.truth
	f := c.fig
	// In Panels the first panel holds the markers, drawn before anything else of those colours.
	corners := markerCentres(t, f, overlayColor(0), overlayColor(1))
	x0, y1 := float64(corners[0].X), float64(corners[0].Y) // (xmin, ymin): left, bottom
	x1, y0 := float64(corners[1].X), float64(corners[1].Y) // (xmax, ymax): right, top
	xmin, xmax := tr.g.X[0], tr.g.X[len(tr.g.X)-1]
	ymin, ymax := tr.g.Y[0], tr.g.Y[len(tr.g.Y)-1]
	toPx := func(x, y float64) (int, int) {
		return int(math.Round(x0 + (x-xmin)/(xmax-xmin)*(x1-x0))), int(math.Round(y1 - (y-ymin)/(ymax-ymin)*(y1-y0)))
	}
	var bad []string
	const inFill = 45.0 // colour distance (sum over RGB) that still reads as a band's colour
	// The fill reaches each edge of the data rectangle and stops there.
	for _, fr := range []float64{0.3, 0.5, 0.7} {
		xm, ym := x0+fr*(x1-x0), y0+fr*(y1-y0)
		for _, e := range []struct {
			side             string
			inX, inY, oX, oY float64
		}{
			{"left", x0 + 3, ym, x0 - 4, ym}, {"right", x1 - 3, ym, x1 + 4, ym},
			{"top", xm, y0 + 3, xm, y0 - 4}, {"bottom", xm, y1 - 3, xm, y1 + 4},
		} {
			// A contour line may run along the edge: one fill pixel 2..5 px inside will do; 3..6 px
			// outside there must be none.
			dx, dy := math.Copysign(1, e.inX-e.oX)*float64(btoi(e.inX != e.oX)), math.Copysign(1, e.inY-e.oY)*float64(btoi(e.inY != e.oY))
			inside := false
			for k := 2.0; k <= 5; k++ {
				if _, d := nearestBand(img.At(int(e.inX+(k-3)*dx), int(e.inY+(k-3)*dy))); d <= inFill {
					inside = true
				}
			}
			if !inside {
				bad = append(bad, fmt.Sprintf("contour fill missing inside the %s edge of the plot area at (%.0f, %.0f): %v", e.side, e.inX, e.inY, img.At(int(e.inX), int(e.inY))))
			}
			for k := 0.0; k <= 3; k++ {
				x, y := int(e.oX-k*dx), int(e.oY-k*dy)
				if _, d := nearestBand(img.At(x, y)); d <= inFill {
					bad = append(bad, fmt.Sprintf("contour fill spills outside the %s edge of the plot area at (%d, %d): %v", e.side, x, y, img.At(x, y)))
					break
				}
			}
		}
	}
	// Bands at sample points agree with the surface.
	levelOf := func(z float64) float64 { return (z - tr.lo) / (tr.hi - tr.lo) * contourLevels }
	wrong := 0
	for i := 1; i < 12; i++ {
		for j := 1; j < 8; j++ {
			x, y := xmin+(xmax-xmin)*float64(i)/12, ymin+(ymax-ymin)*float64(j)/8
			u := levelOf(tr.z(x, y))
			if math.Abs(u-math.Round(u)) < 0.25 { // too close to a contour line to tell
				continue
			}
			px, py := toPx(x, y)
			want := min(contourLevels-1, int(math.Floor(u)))
			got, d := nearestBand(img.At(px, py))
			if got != want || d > inFill {
				wrong++
				if wrong <= 5 {
					bad = append(bad, fmt.Sprintf("fill at (%.2f, %.2f) → pixel (%d, %d) is %v (band %d), want band %d of the surface value %.3f", x, y, px, py, img.At(px, py), got, want, tr.z(x, y)))
				}
			}
		}
	}
	if wrong > 5 {
		bad = append(bad, fmt.Sprintf("... %d sample points in all have the wrong band", wrong))
	}
	// Contour lines lie where the fill changes band, on the row through y0.
	_, py := toPx(xmin, tr.y0)
	for k := 1; k < contourLevels; k++ {
		level := tr.lo + (tr.hi-tr.lo)*float64(k)/contourLevels
		r2 := level - tr.z(-1.8, tr.y0)
		if r2 <= 0 {
			continue
		}
		for _, x := range []float64{-1.8 - math.Sqrt(r2), -1.8 + math.Sqrt(r2)} {
			if x < xmin+0.1 || x > xmax-0.1 {
				continue
			}
			px, _ := toPx(x, tr.y0)
			darkest := math.Inf(1)
			for dx := -2; dx <= 2; dx++ {
				darkest = math.Min(darkest, luma(img.At(px+dx, py)))
			}
			// The lines (40% black, 0.5 pt) are too faint to find on the darkest bands.
			around := math.Min(luma(bandColor(k-1)), luma(bandColor(k)))
			if around >= 45 && darkest > 0.95*around {
				bad = append(bad, fmt.Sprintf("no contour line of level %d (%.3f) near pixel (%d, %d), where the surface crosses it: darkest luma %.0f, bands %.0f", k, level, px, py, darkest, around))
			}
			for _, side := range []struct {
				dx   int
				band int
			}{{-5, k}, {5, k - 1}} { // left of the minimum the surface falls to the right
				dx := side.dx
				if x > -1.8 {
					dx = -dx
				}
				got, d := nearestBand(img.At(px+dx, py))
				if got != side.band || d > inFill {
					bad = append(bad, fmt.Sprintf("fill beside the level-%d contour line at pixel (%d, %d) is band %d (distance %.0f), want band %d", k, px+dx, py, got, d, side.band))
				}
			}
		}
	}
	return bad
}
