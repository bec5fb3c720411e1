package kmexp

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/viz"
)

// WeightFigures draws the KM weights n·wᵢ of the uncensored points against the observed time for several
// floors g_min, and the Beran weights for two bandwidths, on training draw 0 of setting st.
func (c Config) WeightFigures(st Setting) ([]*viz.Figure, error) {
	_, cens, _, _, err := c.Draws(0, st)
	if err != nil {
		return nil, err
	}
	t, e, x := Observed(cens)
	n := float64(len(t))
	order := make([]int, len(t))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return t[order[a]] < t[order[b]] })
	curve := func(name string, w []float64) viz.Series {
		var xs, ys []float64
		for _, i := range order {
			if e[i] {
				xs, ys = append(xs, t[i]), append(ys, w[i]*n)
			}
		}
		return viz.XY(name, xs, ys)
	}
	var fam, pts []viz.Series
	for _, g := range []float64{0, 0.05, 0.2, 0.5} {
		w, err := losses.KaplanMeierWeights(t, e, g)
		if err != nil {
			return nil, err
		}
		fam = append(fam, curve(fmt.Sprintf("g_min = %g", g), w))
	}
	for _, h := range []float64{0.2, 0.5} {
		w, err := losses.BeranWeights(x, t, e, h, 0.05)
		if err != nil {
			return nil, err
		}
		pts = append(pts, curve(fmt.Sprintf("Beran, h = %g", h), w))
	}
	return []*viz.Figure{
		viz.Lines(fmt.Sprintf("KM weight n·wᵢ of the uncensored points (%s, %.0f%% censored, n = %d)", st.Name, 100*cens.CensoredFraction(), len(t)),
			"observed time Ỹ", "n·w", fam...).LogY(),
		viz.Scatter("Beran weights (g_min = 0.05) against the observed time", "observed time Ỹ", "n·w", pts...).LogY(),
	}, nil
}

// PredictionsFigure draws, for run 0 of each named setting, the test predictions of the given arms
// against the true durations.
func (c Config) PredictionsFigure(recs []Record, settings []Setting, arms []string) (*viz.Figure, error) {
	var figs []*viz.Figure
	for _, st := range settings {
		_, _, _, test, err := c.Draws(0, st)
		if err != nil {
			return nil, err
		}
		ta, ty := truth(test)
		var ser []viz.Series
		for _, arm := range arms {
			for _, r := range recs {
				if r.Setting == st.Name && r.Arm == arm && r.Seed == 0 {
					ser = append(ser, viz.XY(arm, ty, Predict(r.Theta, ta)))
				}
			}
		}
		figs = append(figs, viz.Scatter(st.Name, "true Y", "prediction", ser...))
	}
	return viz.Panels("Test predictions against the true durations (run 0; a perfect fit lies on the diagonal)", len(figs), figs...), nil
}

// fits returns run 0's fits on setting st with the KM weights at gMin: oracle, naive and KM, with the
// training data.
func (c Config) fits(st Setting, gMin float64) (th map[string][]float64, a [][]float64, t, w []float64, e []bool, err error) {
	full, cens, _, _, err := c.Draws(0, st)
	if err != nil {
		return
	}
	var x [][]float64
	t, e, x = Observed(cens)
	a = Design(x)
	_, trueT := truth(full)
	if w, err = losses.KaplanMeierWeights(t, e, gMin); err != nil {
		return
	}
	ones := make([]float64, len(t))
	for i := range ones {
		ones[i] = 1
	}
	th = map[string][]float64{}
	for name, fit := range map[string][2][]float64{"oracle": {trueT, ones}, "naive": {t, ones}, "KM": {t, w}} {
		if th[name], err = WLS(a, fit[0], fit[1]); err != nil {
			return
		}
	}
	return
}

// Stationarity evaluates the registered objective km-risk (its in-graph weights, the whole training set as
// one batch) at the closed-form KM fit of run 0 and returns the loss and the largest |Aᵀ∇_f R̂| relative to
// the scale of its terms: 0 up to rounding when the fit minimises the library's objective.
func (c Config) Stationarity(st Setting, gMin float64) (loss, rel float64, err error) {
	th, a, t, w, e, err := c.fits(st, gMin)
	if err != nil {
		return 0, 0, err
	}
	f := Predict(th["KM"], a)
	ev := make([]int32, len(e))
	for i := range e {
		if e[i] {
			ev[i] = 1
		}
	}
	res, err := losses.Evaluate("km-risk", map[string]*tensors.Tensor{"predictions": tensors.FromValue(f),
		"times": tensors.FromValue(t), "events": tensors.FromValue(ev)}, losses.Params{"g_min": gMin})
	if err != nil {
		return 0, 0, err
	}
	proj, scale := 0.0, 0.0
	for j := range a[0] {
		s, sn := 0.0, 0.0
		for i := range a {
			s += a[i][j] * res.Grad["predictions"][i]
			sn += math.Abs(a[i][j] * 2 * w[i] * t[i])
		}
		proj, scale = math.Max(proj, math.Abs(s)), math.Max(scale, sn)
	}
	return res.Loss, proj / scale, nil
}

// PlaneFigure draws, on the plane θ(α, β) = θ_oracle + α(θ_naive − θ_oracle) + β(θ_KM − θ_oracle) of run
// 0 of setting st (k×k points), the training KM risk, the naive training MSE on the observed times and the
// test MSE against the true durations.
func (c Config) PlaneFigure(st Setting, gMin float64, k int) (*viz.Figure, error) {
	th, a, t, w, _, err := c.fits(st, gMin)
	if err != nil {
		return nil, err
	}
	_, _, _, test, err := c.Draws(0, st)
	if err != nil {
		return nil, err
	}
	ta, ty := truth(test)
	al := viz.Linspace(-0.5, 1.5, k)
	grid := func(risk func(p []float64) float64) viz.Grid {
		z := make([][]float64, k)
		for i, b := range al {
			z[i] = make([]float64, k)
			for j, aa := range al {
				p := make([]float64, len(th["oracle"]))
				for q := range p {
					p[q] = th["oracle"][q] + aa*(th["naive"][q]-th["oracle"][q]) + b*(th["KM"][q]-th["oracle"][q])
				}
				z[i][j] = risk(p)
			}
		}
		return viz.Grid{X: al, Y: al, Z: z}
	}
	wsum := func(p, wt []float64) float64 {
		pr := Predict(p, a)
		s := 0.0
		for i := range pr {
			s += wt[i] * (t[i] - pr[i]) * (t[i] - pr[i])
		}
		return s
	}
	nw := make([]float64, len(t))
	for i := range nw {
		nw[i] = 1 / float64(len(t))
	}
	marks := []viz.Overlay{viz.Points("oracle (0,0)", []float64{0}, []float64{0}), viz.Points("naive (1,0)", []float64{1}, []float64{0}), viz.Points("KM (0,1)", []float64{0}, []float64{1})}
	return viz.Panels(fmt.Sprintf("Risk on the plane through the oracle, naive and KM fits (%s; α: toward naive, β: toward KM)", st.Name), 3,
		viz.Contour("KM risk R̂ (training, censored)", "α", "β", grid(func(p []float64) float64 { return wsum(p, w) }), marks...).LogColor(),
		viz.Contour("naive MSE on Ỹ (training)", "α", "β", grid(func(p []float64) float64 { return wsum(p, nw) }), marks...).LogColor(),
		viz.Contour("test MSE against true Y", "α", "β", grid(func(p []float64) float64 { return MSE(Predict(p, ta), ty) }), marks...).LogColor()), nil
}

// Excess returns, per run, the test MSE of arm minus the oracle's in setting (paired by run).
func Excess(recs []Record, setting, arm string) []float64 {
	a, o := Values(recs, setting, arm, TestMSE), Values(recs, setting, Oracle, TestMSE)
	if len(a) != len(o) {
		return nil
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - o[i]
	}
	return out
}

// ExcessFigure draws the excess test MSE over the oracle (mean ± 1 s.e. over runs) of every arm that ran,
// one panel per kind of censoring: independent (one group per arm, one category per setting) and
// X-dependent.
func (c Config) ExcessFigure(recs []Record) *viz.Figure {
	var indep, dep []Setting
	for _, st := range c.Settings {
		if st.Dep == 0 {
			indep = append(indep, st)
		} else {
			dep = append(dep, st)
		}
	}
	var panels []*viz.Figure
	for _, group := range [][]Setting{indep, dep} {
		if len(group) == 0 {
			continue
		}
		var cats []string
		for _, st := range group {
			cats = append(cats, st.Name)
		}
		var series []viz.Series
		for _, arm := range Arms {
			if arm == Oracle {
				continue
			}
			samples := make([][]float64, len(group))
			ok := true
			for i, st := range group {
				if samples[i] = Excess(recs, st.Name, arm); len(samples[i]) == 0 {
					ok = false
				}
			}
			if ok {
				series = append(series, viz.MeanSE(arm, samples))
			}
		}
		panels = append(panels, viz.Bar("", "censoring", "test MSE − oracle's", cats, series...))
	}
	return viz.Panels(fmt.Sprintf("Excess test MSE over the oracle fit (mean ± 1 s.e. over %d runs)", c.Seeds), len(panels), panels...)
}
