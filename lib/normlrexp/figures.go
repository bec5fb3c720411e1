package normlrexp

import (
	"fmt"
	"math"
	"strings"

	"github.com/losslab/losslab/lib/normlr"
	"github.com/losslab/losslab/lib/viz"
)

// TracePanels draws training accuracy, loss and gradient norm against the iteration for several traces
// (a perceptron's loss and gradient are those of its direction, so only its accuracy is drawn).
func TracePanels(title string, trs []Trace) *viz.Figure {
	var acc, loss, gn []viz.Series
	for _, tr := range trs {
		name := fmt.Sprintf("%s (%s)", tr.Method, tr.Count)
		acc = append(acc, viz.Y(name, tr.Acc))
		if !strings.Contains(tr.Method, "Perceptron") {
			loss = append(loss, viz.Y(name, tr.Loss))
			gn = append(gn, viz.Y(name, tr.GradNorm))
		}
	}
	// The legends are tall (one entry per run): give the row more height than a default panel.
	return viz.Panels(title, 3,
		viz.Lines("training accuracy", "iteration", "accuracy", acc...),
		viz.Lines("loss f(θ_t)", "iteration", "loss", loss...).LogY(),
		viz.Lines("gradient norm", "iteration", "‖grad f(θ_t)‖", gn...).LogY()).Size(3*viz.PanelWidth, viz.PanelHeight*8/5)
}

// WorstFigure draws the iterations to separation against n on log-log axes, one line per method.
func WorstFigure(r WorstResult) *viz.Figure {
	x := make([]float64, len(r.Ns))
	for i, n := range r.Ns {
		x[i] = float64(n)
	}
	var ser []viz.Series
	for _, name := range r.Names {
		ser = append(ser, viz.XY(fmt.Sprintf("%s (slope %.2f)", name, r.Slope(name)), x, Values(r.Counts[name])))
	}
	return viz.Lines("Worst-case family: iterations to separation against n", "n", "iterations", ser...).LogX().LogY()
}

// PlaneFigure draws the logistic loss and the training accuracy over the (θ₀, θ₁) plane of the worst-case
// problem with n points, on a k×k grid, with the paths of LR+GD and Normalized LR+GD at step size gamma
// until separation (at most steps steps).
func PlaneFigure(n int, gamma float64, steps, k int) (*viz.Figure, error) {
	a, y, err := WorstCase(n)
	if err != nil {
		return nil, err
	}
	path := func(m Method) ([]float64, []float64, error) {
		th := []float64{0, 0}
		xs, ys := []float64{0}, []float64{0}
		for range steps {
			if th, err = m.Step(th, a, y); err != nil {
				return nil, nil, err
			}
			xs, ys = append(xs, th[0]), append(ys, th[1])
			if normlr.Separates(th, a, y) {
				break
			}
		}
		return xs, ys, nil
	}
	lx, ly, err := path(LRGD(gamma))
	if err != nil {
		return nil, err
	}
	nx, ny, err := path(NormalizedLRGD(gamma))
	if err != nil {
		return nil, err
	}
	lo, hi := -1.0, 1.0
	for _, s := range [][]float64{lx, ly, nx, ny} {
		for _, v := range s {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	pad := 0.15 * (hi - lo)
	g := viz.Linspace(lo-pad, hi+pad, k)
	loss, acc := make([][]float64, k), make([][]float64, k)
	for i, t1 := range g {
		loss[i], acc[i] = make([]float64, k), make([]float64, k)
		for j, t0 := range g {
			f, _, mg, err := normlr.LogisticRiskMargins([]float64{t0, t1}, a, y)
			if err != nil {
				return nil, err
			}
			loss[i][j] = f
			for _, v := range mg {
				if v > 0 {
					acc[i][j] += 1 / float64(len(mg))
				}
			}
		}
	}
	ov := []viz.Overlay{
		viz.Path(fmt.Sprintf("LR+GD γ=%g (%d steps)", gamma, len(lx)-1), lx, ly),
		viz.Path(fmt.Sprintf("Normalized LR+GD γ=%g (%d steps)", gamma, len(nx)-1), nx, ny),
	}
	return viz.Panels(fmt.Sprintf("Worst-case problem (n = %d): the paths until separation", n), 2,
		viz.Contour("logistic loss f(θ)", "θ₀", "θ₁", viz.Grid{X: g, Y: g, Z: loss}, ov...).LogColor(),
		viz.Contour("training accuracy", "θ₀", "θ₁", viz.Grid{X: g, Y: g, Z: acc}, ov...)), nil
}
