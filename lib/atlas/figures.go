package atlas

import (
	"fmt"
	"math"
	"strings"

	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/viz"
)

// pm writes mean ± sd of s with 3 significant digits.
func pm(s landscape.Stats) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3g ± %.2g", s.Mean, s.Std)
}

// Table is one row per objective: each measurement's mean ± sample standard deviation over the runs
// (barriers: over the pairs).
func (a *Atlas) Table() *viz.Table {
	t := viz.NewTable(fmt.Sprintf("Objective atlas: %s on %s, mean ± sd over %d runs", a.Setup.Model, a.Setup.Train.Name, a.Setup.Runs),
		"objective", "paper", "test accuracy", "test CE", "ECE", "CE barrier", "after matching", "siblings", "λ_max", "tr H")
	for _, r := range a.Records {
		s := r.Summary
		t.Row(r.Label, r.Paper, pm(s.TestAccuracy), pm(s.TestLoss), pm(s.ECE), pm(s.Barrier), pm(s.MatchedBarrier),
			pm(s.SiblingBarrier), pm(s.TopEigenvalue), pm(s.Trace))
	}
	return t
}

// SkippedTable lists the objectives not trained and why.
func (a *Atlas) SkippedTable() *viz.Table {
	t := viz.NewTable("Objectives not in the atlas", "objective", "paper", "why")
	for _, s := range a.Skipped {
		t.Row(label(s.Entry), s.Paper, s.Reason)
	}
	return t
}

// Slices draws the 1-D slices as small multiples, one panel per objective on one y range: training
// cross-entropy along a filter-normalised random direction, mean ± sd over the runs.
func (a *Atlas) Slices() *viz.Figure {
	var series []viz.Series
	for _, r := range a.Records {
		runs := make([][]float64, len(r.Runs))
		for i, rr := range r.Runs {
			runs[i] = rr.Slice
		}
		series = append(series, viz.MeanBand(r.Label, r.SliceX, runs))
	}
	return viz.SmallMultiples("1-D slices: training cross-entropy around each solution", "distance (filter-normalised)", "CE", 0, series...)
}

// Paths draws the interpolation paths as small multiples, one panel per objective on one y range:
// test cross-entropy between independent runs, the same after weight matching, and between data-order
// siblings, each mean ± sd over the pairs.
func (a *Atlas) Paths() *viz.Figure {
	var panels []*viz.Figure
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range a.Records {
		var series []viz.Series
		for _, g := range []struct {
			name  string
			pairs []PairResult
		}{{"independent", r.Independent}, {"matched", r.Matched}, {"siblings", r.Siblings}} {
			if len(g.pairs) == 0 {
				continue
			}
			curves := make([][]float64, len(g.pairs))
			for i, p := range g.pairs {
				curves[i] = p.Loss
			}
			s := viz.MeanBand(g.name, r.Alpha, curves).WithInterval(fmt.Sprintf("mean ± 1 s.d. over %d pairs", len(curves)))
			for _, v := range append(append([]float64{}, s.Lo...), s.Hi...) {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
			series = append(series, s)
		}
		panels = append(panels, viz.Lines(r.Label, "α", "test CE", series...))
	}
	if len(panels) == 0 {
		return viz.Panels("Interpolation paths", 0)
	}
	if hi > lo {
		pad := 0.03 * (hi - lo)
		for _, p := range panels {
			p.YRange(lo-pad, hi+pad)
		}
	}
	return viz.Panels("Interpolation paths: test CE from run A (α=0) to run B (α=1), mean ± sd over pairs", 0, panels...)
}

// Planes draws each objective's 2-D slice around its first run's solution (training cross-entropy,
// log colour scale; each panel has its own colour scale, the axes are shared).
func (a *Atlas) Planes() *viz.Figure {
	var panels []*viz.Figure
	for _, r := range a.Records {
		g := viz.Grid{X: r.Plane.S, Y: r.Plane.T, Z: r.Plane.Loss}
		panels = append(panels, viz.Contour(r.Label, "s", "t", g, viz.Points("", []float64{0}, []float64{0})).LogColor().ColorLabel("CE"))
	}
	if len(panels) == 0 {
		return viz.Panels("2-D slices", 0)
	}
	return viz.Panels("2-D slices: training CE around run 0's solution (·) along two filter-normalised directions", 0, panels...)
}

// Metric names a per-objective measurement for Scatter.
type Metric string

const (
	TopEigenvalue    Metric = "λ_max (top Hessian eigenvalue)"
	HessianTrace     Metric = "tr H (Hessian trace)"
	Barrier          Metric = "CE barrier between independent runs"
	MatchedBarrier   Metric = "CE barrier after weight matching"
	SiblingBarrier   Metric = "CE barrier between data-order siblings"
	CalibrationError Metric = "ECE (expected calibration error)"
	TestAccuracy     Metric = "test accuracy"
)

// Stats returns the summary of the metric in a record.
func (r *Record) Stats(m Metric) (landscape.Stats, error) {
	s := r.Summary
	switch m {
	case TopEigenvalue:
		return s.TopEigenvalue, nil
	case HessianTrace:
		return s.Trace, nil
	case Barrier:
		return s.Barrier, nil
	case MatchedBarrier:
		return s.MatchedBarrier, nil
	case SiblingBarrier:
		return s.SiblingBarrier, nil
	case CalibrationError:
		return s.ECE, nil
	case TestAccuracy:
		return s.TestAccuracy, nil
	}
	return landscape.Stats{}, fmt.Errorf("atlas: unknown metric %q", m)
}

// Scatter plots test accuracy against the metric x, one point per objective with error bars of ±1
// standard error in both directions (viz.Scatter draws no error bars, so each objective is a cross
// drawn as a line: its arms are the error bars, its centre the means). A curvature axis (λ_max, tr H) is
// logarithmic when every bar is positive and the values span more than a factor of 20.
func (a *Atlas) Scatter(x Metric) *viz.Figure {
	title := "accuracy against " + strings.SplitN(string(x), " (", 2)[0]
	var series []viz.Series
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range a.Records {
		sx, err := r.Stats(x)
		if err != nil {
			return viz.Lines(title, "", "", viz.Series{Name: err.Error()})
		}
		sy := r.Summary.TestAccuracy
		if sx.N == 0 || sy.N == 0 {
			continue
		}
		ex, ey := se(sx), se(sy)
		series = append(series, viz.XY(r.Label,
			[]float64{sx.Mean - ex, sx.Mean + ex, sx.Mean, sx.Mean, sx.Mean},
			[]float64{sy.Mean, sy.Mean, sy.Mean, sy.Mean - ey, sy.Mean + ey}))
		lo, hi = min(lo, sx.Mean-ex), max(hi, sx.Mean+ex)
	}
	if len(series) == 0 {
		return viz.Lines(title, string(x), "test accuracy")
	}
	f := viz.Lines(title+" (±1 s.e.)", string(x), "test accuracy", series...)
	curvature := x == TopEigenvalue || x == HessianTrace
	switch {
	case curvature && lo > 0 && hi/lo > 20:
		f.LogX()
	case hi > lo:
		pad := 0.05 * (hi - lo)
		f.XRange(lo-pad, hi+pad)
	}
	return f
}

// se is the standard error of the mean.
func se(s landscape.Stats) float64 {
	if s.N < 2 {
		return 0
	}
	return s.Std / math.Sqrt(float64(s.N))
}
