package browser

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// minInk is the share of a figure's box that must be drawn (differ from the box's background colour)
// for the figure to count as rendered. A plot with axes, ticks, labels and a line is well above it; an
// empty box, or one with only a faint border, is below.
const minInk = 0.005

// minHue is the share of an interactive figure's box that must be in colour: its traces (LossLab's
// palette and colour scales) rather than the grey and black of its frame.
const minHue = 0.001

// A full-length screenshot is captured in strips of shotStrip pixels (Chromium's largest single capture
// is a little above 16k) and put together; maxShotHeight bounds it.
const (
	shotStrip     = 8000
	maxShotHeight = 60000
)

// TestNotebooksInLab runs the notebooks in JupyterLab, as `go run ./kernel up` serves it, in headless
// Chromium: it opens each notebook, clears and runs all cells through the menus (Edit ▸ Clear All
// Outputs, Run ▸ Run All Cells, clicked with the mouse), waits for the kernel, and checks every code
// cell: no error output, compile error, LossLab error box, panic or non-zero exit in its outputs (read
// from the notebook's model), a figure wherever the cell shows one, and every figure (static SVG, image
// or interactive plotly.js) drawn: a full-length screenshot of the notebook is taken and each figure's
// box in it must hold non-background pixels. Every resource the page loaded must come from the server
// itself (no CDN). The screenshots are saved under $LOSSLAB_ARTIFACTS.
//
// The negative control (testdata/bad.ipynb) runs first, and testdata/interactive.ipynb adds interactive
// figures (a plotly line chart and a WebGL surface), which the notebooks run in CI do not show.
func TestNotebooksInLab(t *testing.T) {
	browserSuite(t, jupyterLab, labNotebooks, []string{"interactive.ipynb"}, runInLab, func(t *testing.T, cells []cellReport) {
		for _, c := range cells {
			if c.Plotly != 1 {
				t.Errorf("interactive.ipynb cell %d (%q): %d interactive figures, want 1", c.Index, c.Source, c.Plotly)
			}
		}
	})
}

// labReady is true once the notebook path is open, its model loaded and its kernel connected and idle.
const labReady = `(() => {
  const app = window.jupyterapp, w = app && app.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w && w.context && w.context.path === %q && w.context.isReady && w.content && k &&
    k.connectionStatus === "connected" && k.status === "idle");
})()`

// exposedJS is the page configuration's exposeAppInBrowser as "true" or "false", or null until the page
// holds its configuration.
const exposedJS = `(() => {
  const e = document.getElementById("jupyter-config-data");
  return e ? String(JSON.parse(e.textContent).exposeAppInBrowser).toLowerCase() : null;
})()`

// labCells defines code (the open notebook's code cells) and queued (whether a prompt shows [*]).
const labCells = `const w = jupyterapp.shell.currentWidget, k = w.sessionContext.session.kernel;
const code = w.content.widgets.filter(c => c.model.type === "code");
const queued = code.some(c => { const p = c.node.querySelector(".jp-InputPrompt"); return !!p && p.textContent.includes("*"); });
`

// labReportJS returns []cellReport for the open notebook. Errors come from the outputs in the model (as
// internal/nbcheck reads them) and from the rendered HTML (LossLab's error boxes, GoNB's compile errors);
// figures and their boxes from the rendered outputs.
const labReportJS = `(() => {` + showsPlotJS + labCells + `
const clip = s => s.trim().slice(0, 300);
const text = v => Array.isArray(v) ? v.join("") : (v || "");
return w.content.widgets.map((c, i) => ({c, i})).filter(x => x.c.model.type === "code").map(({c, i}) => {
  const errors = [];
  for (const o of c.model.outputs.toJSON()) {
    if (o.output_type === "error") errors.push("error output: " + clip(o.ename + ": " + o.evalue));
    if (o.output_type === "stream") {
      const s = text(o.text);
      if (/^panic: |^fatal error: |goroutine \d+ \[running\]/m.test(s)) errors.push("panic: " + clip(s));
      else if (/^exit status \d+\s*$|^signal: [a-z ]+$/m.test(s)) errors.push("exit: " + clip(s));
      else if (/failed to run "[^"]*go (build|get)|# gonb_/.test(s)) errors.push("compile error: " + clip(s));
    }
  }
  const outputs = [...c.node.querySelectorAll(".jp-OutputArea-output")];
  const figs = [];
  for (const o of outputs) {
    o.querySelectorAll(".losslab-error").forEach(e => errors.push("losslab-error: " + clip(e.innerText)));
    if (o.classList.contains("jp-RenderedHTMLCommon") || o.querySelector(".jp-RenderedHTMLCommon")) {
      if (/gonb_err/.test(o.innerHTML) || /failed to run "[^"]*go (build|get)|# gonb_/.test(o.innerText))
        errors.push("compile error: " + clip(o.innerText));
    }
    o.querySelectorAll(".js-plotly-plot").forEach(e => figs.push(["plotly", e]));
    o.querySelectorAll("svg").forEach(e => { if (!e.parentElement.closest("svg") && !e.closest(".js-plotly-plot")) figs.push(["svg", e]); });
    o.querySelectorAll("img").forEach(e => figs.push(["img", e]));
  }
  const figures = figs.map(([kind, e]) => {
    const r = e.getBoundingClientRect(), t = kind === "plotly" ? e.innerText : "";
    // Page coordinates, as the screenshot clips are.
    return {kind, x: r.x + window.scrollX, y: r.y + window.scrollY, w: r.width, h: r.height, note: /WebGL|error/i.test(t) ? clip(t) : ""};
  });
  const src = c.model.value.text;
  const p = c.node.querySelector(".jp-InputPrompt");
  return {
    index: i,
    source: src.split("\n").find(l => l.trim() !== "" && l.trim() !== "%%") || "",
    prompt: p && p.textContent.includes("*") ? "*" : c.model.executionCount,
    svgs: figures.filter(f => f.kind === "svg").length,
    images: figures.filter(f => f.kind === "img").length,
    plotly: figures.filter(f => f.kind === "plotly").length,
    errors,
    showsPlot: showsPlot(src),
    figures,
  };
});
})()`

// poll evaluates expr (a JavaScript expression) every interval until it is not null, then decodes it
// into out.
func poll(ctx context.Context, p *Page, expr string, out any) error {
	for {
		var raw any
		if err := p.Eval(ctx, expr, &raw); err != nil {
			return err
		}
		if raw != nil {
			return p.Eval(ctx, expr, out)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %.80s…: %w", expr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// clickMenu opens the main menu top (e.g. "Run") and clicks its item (e.g. "Run All Cells") with the
// mouse, as a user would.
func clickMenu(ctx context.Context, p *Page, top, item string) error {
	var at struct{ X, Y float64 }
	find := `(() => { const e = [...document.querySelectorAll(%s)].find(%s); if (!e) return null;
		const r = e.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := poll(tctx, p, fmt.Sprintf(find, `".lm-MenuBar-item"`, fmt.Sprintf(`e => e.textContent.trim() === %q`, top)), &at); err != nil {
		return fmt.Errorf("menu %q: %w", top, err)
	}
	if err := p.Click(ctx, at.X, at.Y); err != nil {
		return err
	}
	itemMatch := fmt.Sprintf(`e => { const l = e.querySelector(".lm-Menu-itemLabel"); return !!l && l.textContent.trim() === %q && !e.classList.contains("lm-mod-disabled"); }`, item)
	if err := poll(tctx, p, fmt.Sprintf(find, `".lm-Menu .lm-Menu-item"`, itemMatch), &at); err != nil {
		return fmt.Errorf("menu %q ▸ %q: %w", top, item, err)
	}
	if err := p.Click(ctx, at.X, at.Y); err != nil {
		return err
	}
	_, err := p.WaitFor(tctx, `!document.querySelector(".lm-Menu")`, 100*time.Millisecond)
	return err
}

// runInLab is TestNotebooksInLab's runner (see runner).
func runInLab(t *testing.T, b *Browser, srv *server, name, arts string, width int, limit time.Duration) []cellReport {
	ctx, p := newTab(t, b, limit)
	start := time.Now()
	slug := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(name, uploadDir+"/"), ".ipynb"), "/", "-")
	shot := filepath.Join(arts, "lab-"+slug+".png")
	saved := false
	// Whatever fails, a screenshot of the page as it is: the first thing to look at.
	defer func() {
		if saved {
			return
		}
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		if png, err := p.Screenshot(sctx, width, 900); err == nil && os.WriteFile(shot, png, 0o644) == nil {
			t.Logf("screenshot of %s as it was when the test stopped: %s", name, shot)
		}
	}()

	// A workspace of its own per notebook (?reset: nothing restored), so each tab shows one notebook.
	workspace := regexp.MustCompile(`[^a-zA-Z0-9_-]`).ReplaceAllString(slug, "-")
	url := fmt.Sprintf("%s/lab/workspaces/%s/tree/%s?reset&token=%s", srv.url, workspace, name, srv.token)
	if err := p.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	// The checks read the notebook through window.jupyterapp, which the page defines only when its server
	// runs with --LossLabApp.expose_app_in_browser=True (startServer passes it; a server given by
	// LOSSLAB_LAB_URL must have been started with it): without it the wait below could only time out.
	var exposed string
	if err := poll(ctx, p, exposedJS, &exposed); err != nil {
		t.Fatalf("JupyterLab's page for %s has no configuration: %v", name, err)
	}
	if exposed != "true" {
		t.Fatalf("JupyterLab at %s does not expose window.jupyterapp (exposeAppInBrowser=%s): start it with --LossLabApp.expose_app_in_browser=True", srv.url, exposed)
	}
	waited, err := p.WaitFor(ctx, fmt.Sprintf(labReady, name), 200*time.Millisecond)
	if err != nil {
		t.Fatalf("JupyterLab did not open %s with a connected, idle kernel: %v", name, err)
	}
	t.Logf("%s: JupyterLab loaded and kernel connected in %.1fs", name, waited.Seconds())

	// Only outputs of this run are checked: clear the ones saved in the file first.
	if err := clickMenu(ctx, p, "Edit", "Clear All Outputs"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitFor(ctx, `(() => {`+labCells+`return code.every(c => c.model.outputs.length === 0); })()`, 100*time.Millisecond); err != nil {
		t.Fatalf("outputs not cleared: %v", err)
	}
	if err := clickMenu(ctx, p, "Run", "Run All Cells"); err != nil {
		t.Fatal(err)
	}
	// The run has started when a prompt shows [*] or the kernel is busy (or, for a very quick
	// notebook, when every cell already has its execution count).
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = p.WaitFor(sctx, `(() => {`+labCells+`return queued || k.status === "busy" || code.every(c => c.model.executionCount !== null); })()`, 100*time.Millisecond)
	scancel()
	if err != nil {
		t.Fatalf("Run ▸ Run All Cells started nothing: %v", err)
	}
	// Done when no cell is queued or running and the kernel is idle, twice in a row.
	for settled := 0; settled < 2; settled++ {
		if _, err := p.WaitFor(ctx, `(() => {`+labCells+`return !queued && k.status === "idle"; })()`, 500*time.Millisecond); err != nil {
			t.Fatalf("cells still running after %v: %v", time.Since(start).Round(time.Second), err)
		}
		time.Sleep(time.Second)
	}
	t.Logf("%s: all cells ran in %.1fs", name, time.Since(start).Seconds())

	// Lay the page out tall enough for the whole notebook, then read the cells and take the picture at
	// that same layout, so the figure boxes are where the screenshot shows them.
	var height int
	if err := p.Eval(ctx, `(() => { const n = jupyterapp.shell.currentWidget.content;
		const last = n.widgets[n.widgets.length - 1].node.getBoundingClientRect();
		return Math.ceil(last.bottom + n.node.scrollTop + 80); })()`, &height); err != nil {
		t.Fatal(err)
	}
	height = min(max(height, 900), maxShotHeight)
	if err := p.SetViewport(ctx, width, height); err != nil {
		t.Fatal(err)
	}
	defer p.ClearViewport(context.Background())
	// The menus may have scrolled the document itself: back to the top, then wait for the relayout
	// (plotly resizes its plots to the new size).
	if err := p.Eval(ctx, `window.scrollTo(0, 0)`, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	var cells []cellReport
	if err := p.Eval(ctx, labReportJS, &cells); err != nil {
		t.Fatal(err)
	}
	img, err := fullShot(ctx, p, width, height)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	saved = true
	t.Logf("screenshot of %s (%dx%d): %s", name, width, height, shot)
	for i := range cells {
		for j := range cells[i].Figures {
			f := &cells[i].Figures[j]
			f.Ink, f.Hue = ink(img, f.X, f.Y, f.W, f.H)
		}
	}
	// Nothing came from anywhere but this server (no CDN): every resource the page loaded, MathJax's
	// and plotly's included, is a same-origin, data: or blob: URL.
	var offsite []string
	if err := p.Eval(ctx, `performance.getEntriesByType("resource").map(e => e.name)
		.filter(u => !u.startsWith(location.origin + "/") && !/^(data|blob):/.test(u))`, &offsite); err != nil {
		t.Fatal(err)
	}
	if len(offsite) > 0 {
		t.Errorf("%s: the page loaded resources from outside this server: %q", name, offsite)
	}
	for _, c := range cells {
		var inks []string
		for _, f := range c.Figures {
			inks = append(inks, fmt.Sprintf("%s %.0f×%.0f at %.0f,%.0f: %.1f%% drawn, %.1f%% colour", f.Kind, f.W, f.H, f.X, f.Y, 100*f.Ink, 100*f.Hue))
		}
		t.Logf("cell %d [%v] %q: %d svg, %d img, %d plotly [%s], %d problem(s)", c.Index, c.Prompt, c.Source, c.SVGs, c.Images, c.Plotly, strings.Join(inks, ", "), len(c.Errors))
	}
	return cells
}

// fullShot captures the page, laid out at width×height, in strips and returns them as one picture.
func fullShot(ctx context.Context, p *Page, width, height int) (*image.RGBA, error) {
	all := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := 0; y < height; y += shotStrip {
		h := min(shotStrip, height-y)
		data, err := p.CaptureClip(ctx, 0, y, width, h)
		if err != nil {
			return nil, err
		}
		strip, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decoding the screenshot strip at y=%d: %w", y, err)
		}
		draw.Draw(all, image.Rect(0, y, width, y+h), strip, strip.Bounds().Min, draw.Src)
	}
	return all, nil
}

// ink returns the share of the pixels in the box (CSS pixels = image pixels at device scale 1) that
// differ from the box's background, taken as its most common colour, and the share that are in colour
// (far from grey) and not the background. A box that is empty or lies outside the image has neither.
func ink(img image.Image, x, y, w, h float64) (drawn, coloured float64) {
	r := image.Rect(int(x+0.5), int(y+0.5), int(x+w+0.5), int(y+h+0.5)).Intersect(img.Bounds())
	if r.Empty() || r.Dx() < 4 || r.Dy() < 4 {
		return 0, 0
	}
	at := func(px, py int) color.RGBA { return color.RGBAModel.Convert(img.At(px, py)).(color.RGBA) }
	counts := map[color.RGBA]int{}
	var bg color.RGBA
	for py := r.Min.Y; py < r.Max.Y; py++ {
		for px := r.Min.X; px < r.Max.X; px++ {
			c := at(px, py)
			counts[c]++
			if counts[c] > counts[bg] {
				bg = c
			}
		}
	}
	diff := func(a, b uint8) int {
		if a > b {
			return int(a - b)
		}
		return int(b - a)
	}
	var nDrawn, nColoured int
	for py := r.Min.Y; py < r.Max.Y; py++ {
		for px := r.Min.X; px < r.Max.X; px++ {
			c := at(px, py)
			if max(diff(c.R, bg.R), diff(c.G, bg.G), diff(c.B, bg.B)) <= 32 {
				continue
			}
			nDrawn++
			if max(diff(c.R, c.G), diff(c.G, c.B), diff(c.R, c.B)) > 48 {
				nColoured++
			}
		}
	}
	area := float64(r.Dx() * r.Dy())
	return float64(nDrawn) / area, float64(nColoured) / area
}

// The ink measure tells a drawn figure from a blank or missing one, and a plot's coloured data from its
// grey frame.
func TestInk(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 300, 100))
	for i := range img.Pix {
		img.Pix[i] = 255 // white page
	}
	for i := 0; i < 90; i++ {
		img.Set(5+i, 95, color.Black)                          // an axis, in all three "plots"
		img.Set(105+i, 95, color.Black)                        //
		img.Set(5+i, 95-i, color.RGBA{31, 119, 180, 255})      // a blue line in the first
		img.Set(105+i, 95-i, color.RGBA{90, 90, 90, 255})      // a grey one in the second
		img.Set(200+i, 0, color.RGBA{250, 250, 250, 255})      // a faint border only in the third
		img.Set(205+i, 50+i/3, color.RGBA{235, 235, 235, 255}) // and a light grid line
	}
	for _, tc := range []struct {
		name            string
		x, y, w, h      float64
		drawn, coloured bool
	}{
		{"plot", 0, 0, 100, 100, true, true},
		{"grey plot", 100, 0, 100, 100, true, false},
		{"blank", 200, 0, 100, 100, false, false},
		{"outside the picture", 400, 0, 50, 50, false, false},
		{"zero size", 10, 10, 0, 0, false, false},
	} {
		drawn, coloured := ink(img, tc.x, tc.y, tc.w, tc.h)
		if (drawn >= minInk) != tc.drawn || (coloured >= minHue) != tc.coloured {
			t.Errorf("%s: drawn %.4f, coloured %.4f; want drawn=%v, coloured=%v (thresholds %.3f, %.3f)",
				tc.name, drawn, coloured, tc.drawn, tc.coloured, minInk, minHue)
		}
	}
	// And problems() turns a blank figure, or a plotly figure without data, into a failure.
	for _, f := range []figure{{Kind: "svg", W: 100, H: 100}, {Kind: "plotly", W: 100, H: 100, Ink: 0.02}} {
		cells := []cellReport{{Index: 1, Prompt: 1.0, SVGs: 1, ShowsPlot: true, Figures: []figure{f}}}
		if p := problems(cells); len(p) != 1 {
			t.Errorf("problems of a cell with %+v: %q, want one", f, p)
		}
	}
}
