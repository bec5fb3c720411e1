package swissexp

import (
	"fmt"

	"github.com/losslab/losslab/lib/swiss"
	"github.com/losslab/losslab/lib/viz"
)

// ProfileFigure draws Ŝ_m(T) with a ±2 SE band per model, one panel per kind of model.
func ProfileFigure(title string, prof *swiss.Profile, names, kinds []string) *viz.Figure {
	x := make([]float64, len(prof.Ts))
	for i, T := range prof.Ts {
		x[i] = float64(T)
	}
	sc := prof.Scores()
	var panels []*viz.Figure
	for _, kind := range []string{swiss.Generalist, swiss.EarlySpecialist, swiss.LateSpecialist} {
		var ss []viz.Series
		for m := range names {
			if kinds[m] != kind {
				continue
			}
			lo, hi := make([]float64, len(x)), make([]float64, len(x))
			for i, e := range prof.Est {
				lo[i], hi[i] = sc[m][i]-2*e.SE[m], sc[m][i]+2*e.SE[m]
			}
			ss = append(ss, viz.Series{Name: names[m], X: x, Y: sc[m], Lo: lo, Hi: hi})
		}
		panels = append(panels, viz.Lines(kind+"s", "elimination T per round", "expected win score", ss...).YRange(0, 6))
	}
	return viz.Panels(title, 3, panels...)
}

// DropsFigure draws, per policy, the compared relative drops at the largest T as mean ± 1 s.e. across the
// independent runs.
func DropsFigure(r Result) (*viz.Figure, error) {
	var panels []*viz.Figure
	for p, pol := range r.Policies {
		d, err := r.Drops(p)
		if err != nil {
			return nil, err
		}
		cats := []string{"median gen.", "late spec. (min)", "early spec. (max)", "top-2 gen. (max)"}
		s := viz.MeanSE("relative drop", [][]float64{d.MedianGeneralist, d.LateMin, d.EarlyMax, d.StrongMax})
		panels = append(panels, viz.Bar(pol.String(), "", "relative drop Δ/Ŝ(0)", cats, s))
	}
	return viz.Panels(fmt.Sprintf("Relative drops at the largest T over %d independent synthetic matrices (gen.: generalists, spec.: specialists)", len(r.Runs)), len(panels), panels...), nil
}
