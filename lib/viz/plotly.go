package viz

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/losslab/losslab/lib/plotlyjs"
)

// PlotlyVersion is the version of the npm package plotly.js-dist-min that InstallPlotly installs.
const PlotlyVersion = plotlyjs.Version

// PlotlyEnv names an environment variable that, when set, points at a plotly.min.js file to use
// instead of the installed copy.
const PlotlyEnv = "LOSSLAB_PLOTLY"

// PlotlyDir is the folder, under nb.Home(), where the kernel installer puts plotly.js.
func PlotlyDir() string { return plotlyjs.Dir() }

// InstallPlotly installs plotly.js into dir (package lib/plotlyjs, which the kernel installer uses).
func InstallPlotly(dir string) error { return plotlyjs.Install(dir) }

// PlotlyPath returns the plotly.min.js that interactive figures embed: $LOSSLAB_PLOTLY if set,
// else the copy installed under PlotlyDir(). It returns an error saying how to get one if neither
// exists.
func PlotlyPath() (string, error) {
	if p := os.Getenv(PlotlyEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("plotly.js not found: $%s=%q: %v", PlotlyEnv, p, err)
		}
		return p, nil
	}
	p := plotlyjs.FileIn(PlotlyDir())
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("plotly.js is not installed (looked for %s; run the LossLab kernel installer, or set $%s to a plotly.min.js)", p, PlotlyEnv)
	}
	return p, nil
}

var plotlyCache struct {
	sync.Mutex
	path, js string
}

// loadPlotly returns the plotly.js source.
func loadPlotly() (string, error) {
	p, err := PlotlyPath()
	if err != nil {
		return "", err
	}
	plotlyCache.Lock()
	defer plotlyCache.Unlock()
	if plotlyCache.path == p {
		return plotlyCache.js, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("plotly.js could not be read: %v", err)
	}
	plotlyCache.path, plotlyCache.js = p, string(b)
	return plotlyCache.js, nil
}

// sessionMarker is a file whose existence means this notebook kernel session already embedded
// plotly.js in an output. GoNB runs every cell as a new process, so the memory has to live on
// disk: GONB_TMP_DIR is created by the GoNB kernel at start and removed at exit, so a kernel restart
// embeds plotly.js again.
func sessionMarker() string {
	if d := os.Getenv("GONB_TMP_DIR"); d != "" {
		return filepath.Join(d, ".losslab-viz-plotly-loaded")
	}
	if id := os.Getenv("GONB_JUPYTER_KERNEL_ID"); id != "" {
		clean := strings.Map(func(r rune) rune {
			if r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
				return r
			}
			return '_'
		}, id)
		return filepath.Join(os.TempDir(), "losslab-viz-plotly-"+clean)
	}
	return ""
}

// ReloadPlotly makes the next interactive figure shown in this notebook session embed plotly.js
// again. Use it after reloading the browser page, or after re-running (and so replacing) the cell
// that first embedded it.
func ReloadPlotly() {
	if m := sessionMarker(); m != "" {
		_ = os.Remove(m)
	}
}

// plotlySpec is the data and layout passed to Plotly.newPlot.
type plotlySpec struct {
	Data   []map[string]any `json:"data"`
	Layout map[string]any   `json:"layout"`
}

func appendFloat(b []byte, x float64) []byte { return strconv.AppendFloat(b, x, 'g', -1, 64) }

const plotlyFont = "Liberation Sans, Arial, Helvetica, sans-serif"

func plotlyAxis(title string, log bool) map[string]any {
	a := map[string]any{
		"title":     map[string]any{"text": title},
		"gridcolor": "#e3e3e3",
		"zeroline":  false,
		"showline":  true,
		"linecolor": "#333333",
		"ticks":     "outside",
	}
	if log {
		a["type"] = "log"
	}
	return a
}

// baseLayout is the house style as a Plotly layout.
func baseLayout(f *Figure, xlabel, ylabel string, legend bool) map[string]any {
	colorway := make([]string, len(Palette))
	for i, c := range Palette {
		colorway[i] = hex(c)
	}
	l := map[string]any{
		"title":         map[string]any{"text": f.title, "font": map[string]any{"size": 18}},
		"font":          map[string]any{"family": plotlyFont, "size": 13, "color": "#222222"},
		"paper_bgcolor": "#ffffff",
		"plot_bgcolor":  "#ffffff",
		"colorway":      colorway,
		"showlegend":    legend,
		"width":         f.width,
		"height":        f.height,
		"margin":        map[string]any{"l": 70, "r": 30, "t": 60, "b": 60},
		"hovermode":     "closest",
	}
	if xlabel != "" || ylabel != "" {
		xa := plotlyAxis(xlabel, f.logX)
		ya := plotlyAxis(ylabel, f.logY)
		if f.xRange != nil {
			lo, hi := f.xRange[0], f.xRange[1]
			if f.logX {
				lo, hi = log10(lo), log10(hi)
			}
			xa["range"] = []float64{lo, hi}
		}
		if f.yRange != nil {
			lo, hi := f.yRange[0], f.yRange[1]
			if f.logY {
				lo, hi = log10(lo), log10(hi)
			}
			ya["range"] = []float64{lo, hi}
		}
		l["xaxis"], l["yaxis"] = xa, ya
	}
	return l
}

func xyPlotly(f *Figure, xlabel, ylabel string, series []Series, points bool) *plotlySpec {
	spec := &plotlySpec{Layout: baseLayout(f, xlabel, ylabel, len(series) > 1)}
	names, shared := intervalNames(series)
	if !points {
		legendTitle(spec, "shaded: "+shared, shared != "")
	}
	for i, s := range series {
		name := names[i]
		i := i + f.colorOffset
		col := hex(seriesColor(i))
		if !points && s.Lo != nil {
			group := fmt.Sprintf("band%d", i)
			spec.Data = append(spec.Data,
				map[string]any{"type": "scatter", "mode": "lines", "x": jsonFloats(s.X), "y": jsonFloats(s.Lo),
					"line": map[string]any{"width": 0, "color": col}, "showlegend": false, "hoverinfo": "skip", "legendgroup": group},
				map[string]any{"type": "scatter", "mode": "lines", "x": jsonFloats(s.X), "y": jsonFloats(s.Hi),
					"line": map[string]any{"width": 0, "color": col}, "fill": "tonexty", "fillcolor": rgbaString(seriesColor(i), 0.22),
					"showlegend": false, "hoverinfo": "skip", "legendgroup": group})
		}
		tr := map[string]any{"type": "scatter", "name": name, "x": jsonFloats(s.X), "y": jsonFloats(s.Y)}
		if points {
			tr["mode"] = "markers"
			tr["marker"] = map[string]any{"color": col, "size": 7, "opacity": 0.85, "symbol": plotlySymbols[i%len(plotlySymbols)]}
		} else {
			tr["mode"] = "lines"
			tr["line"] = map[string]any{"color": col, "width": 2.4, "dash": plotlyDashes[(i/len(Palette))%len(plotlyDashes)]}
			if s.Lo != nil {
				tr["legendgroup"] = fmt.Sprintf("band%d", i)
			}
		}
		spec.Data = append(spec.Data, tr)
	}
	return spec
}

// legendTitle puts text (what the bands or error bars are) above the legend when on is true; with a
// single series, which has no legend, the legend is shown for it.
func legendTitle(spec *plotlySpec, text string, on bool) {
	if !on {
		return
	}
	spec.Layout["showlegend"] = true
	spec.Layout["legend"] = map[string]any{"title": map[string]any{"text": text}}
}

var plotlySymbols = []string{"circle", "square", "triangle-up", "triangle-down", "circle-open", "square-open", "x", "cross"}
var plotlyDashes = []string{"solid", "dash", "dot", "dashdot"}

func rgbaString(c interface{ RGBA() (r, g, b, a uint32) }, alpha float64) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("rgba(%d,%d,%d,%.2f)", r>>8, g>>8, b>>8, alpha)
}

// plotlyFragment returns the HTML of an interactive figure: a div holding the static SVG (shown
// wherever scripts do not run), plotly.js when it must be embedded, and a script that replaces the
// SVG with the Plotly figure once window.Plotly exists.
func plotlyFragment(f *Figure, spec *plotlySpec, svg []byte, js string, page bool) (string, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("viz: figure %q: encoding Plotly data: %w", f.title, err)
	}
	id := "losslab-viz-" + gonbui.UniqueId()
	var b strings.Builder
	embed := page
	if !page {
		marker := sessionMarker()
		if marker == "" {
			embed = true
		} else if _, err := os.Stat(marker); err != nil {
			embed = true
			_ = os.WriteFile(marker, []byte(PlotlyVersion+"\n"), 0o644)
		}
	}
	if embed {
		// Hide CommonJS/AMD loaders (e.g. require.js in classic notebooks) so the bundle sets
		// window.Plotly; "</script" cannot appear inside an inline script.
		b.WriteString("<script type=\"text/javascript\">(function(module, exports, define){\n")
		b.WriteString(strings.ReplaceAll(js, "</script", "<\\/script"))
		b.WriteString("\n}).call(window);</script>\n")
	}
	fmt.Fprintf(&b, "<div id=%q style=\"width:%dpx;max-width:100%%\"><div>%s</div></div>\n", id, f.width, inlineSVG(svg))
	fmt.Fprintf(&b, `<script type="text/javascript">(function(){
var id = %q, spec = %s;
function draw(){
  var el = document.getElementById(id);
  if (!el) { return; }
  el.innerHTML = "";
  el.style.height = "%dpx";
  window.Plotly.newPlot(el, spec.data, spec.layout, {responsive: true, displaylogo: false});
}
if (window.Plotly) { draw(); return; }
var tries = 0, timer = setInterval(function(){
  if (window.Plotly) { clearInterval(timer); draw(); return; }
  if (++tries > 100) {
    clearInterval(timer);
    var el = document.getElementById(id);
    if (el) {
      var n = document.createElement("div");
      n.style.cssText = "font:12px Arial,sans-serif;color:#555";
      n.textContent = "viz: plotly.js is not loaded in this page (call viz.ReloadPlotly() and re-run the cell); showing the static figure";
      el.insertBefore(n, el.firstChild);
    }
  }
}, 100);
})();</script>`, id, specJSON, f.height)
	return b.String(), nil
}
