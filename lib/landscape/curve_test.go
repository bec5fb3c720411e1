package landscape

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// ringLoss is L(x, y) = (x² + y² − 1)²: zero on the unit circle, 1 at the origin.
func ringLoss(logits, _ *graph.Node) *graph.Node {
	x, y := column(logits, 0), column(logits, 1)
	r := graph.AddScalar(graph.Add(graph.Mul(x, x), graph.Mul(y, y)), -1)
	return graph.Mul(r, r)
}

func ringRef(x, y float64) float64 { r := x*x + y*y - 1; return r * r }

// refCurveObjective is ∫₀¹ L(θ(t)) dt (Simpson, 2000 intervals) for the curve from (−1,0) to (1,0)
// through the bend (0, c), and the maximum of L on it, in float64.
func refCurveObjective(kind string, c float64) (mean, maxLoss float64) {
	const n = 2000
	for i := 0; i <= n; i++ {
		t := float64(i) / n
		w := curveWeights(kind, 1, t)
		x := -w[0] + w[2]
		y := c * w[1]
		l := ringRef(x, y)
		wt := 2.0
		switch {
		case i == 0 || i == n:
			wt = 1
		case i%2 == 1:
			wt = 4
		}
		mean += wt * l / (3 * n)
		maxLoss = max(maxLoss, l)
	}
	return
}

// refBestBend minimises refCurveObjective over c ∈ [0.1, 4] by golden-section search.
func refBestBend(kind string) float64 {
	lo, hi := 0.1, 4.0
	g := (math.Sqrt(5) - 1) / 2
	for hi-lo > 1e-9 {
		a, b := hi-g*(hi-lo), lo+g*(hi-lo)
		fa, _ := refCurveObjective(kind, a)
		fb, _ := refCurveObjective(kind, b)
		if fa < fb {
			hi = b
		} else {
			lo = a
		}
	}
	return (lo + hi) / 2
}

func TestCurveWeights(t *testing.T) {
	for _, kind := range []string{CurveBezier, CurveChain} {
		for _, bends := range []int{1, 2, 3} {
			for _, tt := range []float64{0, 0.1, 0.25, 0.5, 0.77, 1} {
				w := curveWeights(kind, bends, tt)
				s := 0.0
				for _, v := range w {
					s += v
				}
				if math.Abs(s-1) > 1e-12 {
					t.Errorf("%s %d bends t=%g: weights %v sum to %g", kind, bends, tt, w, s)
				}
			}
			if w := curveWeights(kind, bends, 0); w[0] != 1 {
				t.Errorf("%s: θ(0) ≠ θ_A: %v", kind, w)
			}
			if w := curveWeights(kind, bends, 1); w[bends+1] != 1 {
				t.Errorf("%s: θ(1) ≠ θ_B: %v", kind, w)
			}
		}
	}
	// Quadratic Bézier at t = ¼: (9/16, 6/16, 1/16); chain at t = ¼: halfway to the bend.
	if w := curveWeights(CurveBezier, 1, 0.25); math.Abs(w[0]-9.0/16) > 1e-15 || math.Abs(w[1]-6.0/16) > 1e-15 {
		t.Errorf("Bézier weights at ¼: %v", w)
	}
	if w := curveWeights(CurveChain, 1, 0.25); w[0] != 0.5 || w[1] != 0.5 || w[2] != 0 {
		t.Errorf("chain weights at ¼: %v", w)
	}
}

func TestTrainCurveRing(t *testing.T) {
	ev, err := newToyEvaluator(ringLoss, "ring")
	if err != nil {
		t.Fatal(err)
	}
	a, b := toyPoint(-1, 0), toyPoint(1, 0)
	d := toyData()
	line, err := Interpolate(ev, a, b, []*Data{d}, PathOptions{NumAlpha: 21})
	if err != nil {
		t.Fatal(err)
	}
	if lb := line.Curves[0].LossBarrier; math.Abs(lb.Linear-1) > 1e-12 || lb.LinearAlpha != 0.5 {
		t.Fatalf("line barrier %g at %g, want 1 at ½", lb.Linear, lb.LinearAlpha)
	}
	for _, kind := range []string{CurveBezier, CurveChain} {
		c, err := TrainCurve(ev, a, b, d, CurveOptions{Kind: kind, Steps: 300, LR: 0.05, SamplesPerStep: 8, InitNoise: 0.05, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		best := refBestBend(kind)
		bend := c.Bends[0].Params[0].Data
		if math.Abs(bend[0]) > 0.03 || math.Abs(math.Abs(bend[1])-best) > 0.03 {
			t.Errorf("%s: trained bend %v, optimum (0, ±%.4f)", kind, bend, best)
		}
		_, refMax := refCurveObjective(kind, best)
		p, err := CurvePath(ev, c, []*Data{d}, PathOptions{NumAlpha: 41})
		if err != nil {
			t.Fatal(err)
		}
		cv := p.Curves[0]
		mx := 0.0
		for i, l := range cv.Loss {
			mx = max(mx, l)
			// Each point agrees with the float64 loss at θ(t).
			pt := c.At(p.Alpha[i]).Params[0].Data
			if want := ringRef(pt[0], pt[1]); math.Abs(l-want) > 1e-12 {
				t.Errorf("%s: loss at t=%g is %g, want %g", kind, p.Alpha[i], l, want)
			}
		}
		t.Logf("%s: bend %v (optimum ±%.4f), max loss %.4f (optimal curve %.4f)", kind, bend, best, mx, refMax)
		if mx > refMax+0.05 {
			t.Errorf("%s: max loss on the curve %g, optimal curve %g (line barrier 1)", kind, mx, refMax)
		}
		if cv.LossBarrier.Linear > 0.3 {
			t.Errorf("%s: curve barrier %g, want well below the line's 1", kind, cv.LossBarrier.Linear)
		}
		if h := c.History; h[len(h)-1] > h[0] {
			t.Errorf("%s: training objective rose %g → %g", kind, h[0], h[len(h)-1])
		}
		file := filepath.Join(t.TempDir(), "curve.json")
		if err := SaveJSON(file, c); err != nil {
			t.Fatal(err)
		}
		var back ModeCurve
		if err := LoadJSON(file, &back); err != nil {
			t.Fatal(err)
		}
		if back.Kind != kind || back.Bends[0].Params[0].Data[1] != bend[1] || back.Provenance.Objective != "ring" {
			t.Errorf("%s: curve did not round-trip", kind)
		}
	}
	if _, err := NewCurve("spline", a, b, a); err == nil {
		t.Error("unknown curve kind accepted")
	}
}
