package viz

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// TestErrorBars checks Bar's error bars: bad intervals are errors, and the legend or a footnote says
// what the bars are.
func TestErrorBars(t *testing.T) {
	cats := []string{"a", "b"}
	if err := Bar("t", "x", "y", cats, Spread("s", []float64{1, 2}, []float64{0.5, 2.5}, []float64{1.5, 3}, "range")).Err(); err == nil || !strings.Contains(err.Error(), "error bar 1") {
		t.Errorf("Lo above Y should be an error naming the bar, got %v", err)
	}
	se := MeanSE("m", [][]float64{{1, 2, 3}, {2, 2, math.NaN()}})
	if se.Y[0] != 2 || math.Abs(se.Hi[0]-2-1/math.Sqrt(3)) > 1e-12 || se.Lo[1] != 2 || se.Interval != "mean ± 1 s.e. over 2–3 values" {
		t.Errorf("MeanSE = %+v", se)
	}
	f := Bar("t", "x", "y", cats, se)
	if n := f.Notes(); len(n) != 1 || n[0] != "error bars: "+se.Interval {
		t.Errorf("one group: the meaning should be a footnote, got %q", n)
	}
	info := parseSVG(t, mustSVG(t, Bar("t", "x", "y", cats, se, MeanSE("n", [][]float64{{1, 2, 3}, {2, 2, 4}}))))
	if !info.hasText("error bars: mean ± 1 s.e. over 2–3 values (m), 3 values (n)") && !info.hasText("m (mean ± 1 s.e. over 2–3 values)") {
		t.Errorf("two groups with different intervals: each legend entry should say its own; texts %q", info.texts)
	}
}

// TestIntervalsInPlotly checks that the interactive forms say what bands and error bars are too.
func TestIntervalsInPlotly(t *testing.T) {
	x := Range(3)
	for name, f := range map[string]*Figure{
		"lines": Lines("t", "x", "y", MeanBand("a", x, [][]float64{{1, 2, 3}, {2, 3, 4}})),
		"bar":   Bar("t", "x", "y", []string{"p", "q"}, MeanSE("a", [][]float64{{1, 2}, {3, 4}})),
	} {
		spec, err := f.plotly(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(js), "mean ± 1 s.") || !strings.Contains(string(js), `"showlegend":true`) {
			t.Errorf("%s: the Plotly legend does not say what the interval is: %s", name, js)
		}
		if name == "bar" && !strings.Contains(string(js), `"error_y"`) {
			t.Errorf("bar: no error_y in %s", js)
		}
	}
}

// TestLogTicksUnderADecade checks that a log axis spanning less than a decade still labels several
// values (plot.LogTicks labels only powers of ten: one label, or none).
func TestLogTicksUnderADecade(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got := labels(0.6, 4); len(got) < 3 {
		t.Errorf("log axis 0.6..4 labels %q, want at least 3 values", got)
	}
	if got := labels(0.001, 10); strings.Join(got, " ") != "0.001 0.01 0.1 1 10" {
		t.Errorf("log axis 0.001..10 labels %q, want the powers of ten", got)
	}
	// Over a decade and a half with one power of ten inside, the lower part is labelled too.
	if got := labels(250, 8000); len(got) < 3 || got[0] != "500" {
		t.Errorf("log axis 250..8000 labels %q, want round values from 500 up", got)
	}
	if got := labels(0.6, 4); strings.Join(got, " ") != "1 2 3" {
		t.Errorf("log axis 0.6..4 labels %q, want 1 2 3", got)
	}
	// Powers of ten below 1e-3 are computed inexactly by repeated division: label the exact power.
	for _, l := range labels(3e-7, 2e-2) {
		if len(l) > 6 {
			t.Errorf("log axis 3e-7..2e-2: tick label %q is not a short power of ten", l)
		}
	}
}

// TestLineAxisHeadroom checks that a fitted y axis leaves room above and below the data (the first loss
// of a run used to lie on the frame), linearly and on a log axis, and that a fixed range stays as given.
func TestLineAxisHeadroom(t *testing.T) {
	ax := plot.Axis{Min: 0.2, Max: 3.8}
	padAxis(&ax, false)
	if !(ax.Max > 3.8 && ax.Max < 3.95 && ax.Min < 0.2 && ax.Min > 0.05) {
		t.Errorf("linear axis [0.2, 3.8] padded to [%g, %g], want about 3%% of the span at each end", ax.Min, ax.Max)
	}
	ax = plot.Axis{Min: 1e-3, Max: 10}
	padAxis(&ax, true)
	if !(ax.Max > 10 && ax.Max < 14 && ax.Min < 1e-3 && ax.Min > 7e-4) {
		t.Errorf("log axis [1e-3, 10] padded to [%g, %g]", ax.Min, ax.Max)
	}
	ax = plot.Axis{Min: 2, Max: 2}
	padAxis(&ax, false)
	if ax.Min != 2 || ax.Max != 2 {
		t.Errorf("a degenerate axis changed to [%g, %g]", ax.Min, ax.Max)
	}
}

// TestLogTicksManyDecades checks that an axis over fifteen decades labels at most maxLogLabels powers of
// ten, 10⁰ among them, and keeps an unlabelled mark at every other power (found on 17-normlr's loss
// panels, whose 1e-12…1e3 labels overlapped).
func TestLogTicksManyDecades(t *testing.T) {
	ticks := (logTicks{}).Ticks(1e-12, 1e3)
	labelled, one := 0, false
	marks := map[int]bool{}
	for _, tk := range ticks {
		e := math.Log10(tk.Value)
		if math.Abs(e-math.Round(e)) < 1e-9 {
			marks[int(math.Round(e))] = true
		}
		if tk.Label != "" {
			labelled++
			one = one || tk.Label == "1"
		}
	}
	if labelled > 7 || labelled < 3 || !one {
		t.Errorf("%d labels (want 3…7, with 1 among them): %v", labelled, ticks)
	}
	for e := -12; e <= 3; e++ {
		if !marks[e] {
			t.Errorf("no mark at 1e%d", e)
		}
	}
}
