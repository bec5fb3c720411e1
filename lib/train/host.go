package train

import (
	"fmt"
	"math"
)

// HostOptimizer is SGD or Adam on a flat float32 parameter vector held on the host, in float64
// arithmetic with float64 state. It is for methods that work on the gradient between
// FlatModel.Grad and the update (a proximal term, a mask, per-layer learning rates, a projection after
// the step).
//
//   - "sgd": w ← w − η·g.
//   - "adam": Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980) with
//     the paper's β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸ and bias correction; the moments start at zero.
type HostOptimizer struct {
	kind   string
	n      int
	m1, m2 []float64
	t      int
}

// NewHostOptimizer returns a fresh optimizer of kind "sgd" or "adam" for n parameters.
func NewHostOptimizer(kind string, n int) (*HostOptimizer, error) {
	o := &HostOptimizer{kind: kind, n: n}
	switch kind {
	case "sgd":
	case "adam":
		o.m1, o.m2 = make([]float64, n), make([]float64, n)
	default:
		return nil, fmt.Errorf("train.NewHostOptimizer: unknown optimizer %q (valid: sgd, adam)", kind)
	}
	if n < 0 {
		return nil, fmt.Errorf("train.NewHostOptimizer: %d parameters", n)
	}
	return o, nil
}

// Steps is the number of steps taken.
func (o *HostOptimizer) Steps() int { return o.t }

// Segment is a run of parameters ending (exclusive) at End that share the learning rate LR.
type Segment struct {
	End int
	LR  float64
}

// Step takes one step on w with gradient g and learning rate lr.
func (o *HostOptimizer) Step(w []float32, g []float64, lr float64) error {
	return o.StepSegments(w, g, []Segment{{End: o.n, LR: lr}})
}

// Step64 is Step on float64 parameters.
func (o *HostOptimizer) Step64(w []float64, g []float64, lr float64) error {
	return hostStep(o, w, g, []Segment{{End: o.n, LR: lr}})
}

// StepSegments takes one step on w with gradient g, each segment of w (in order, the last ending at
// len(w)) with its own learning rate.
func (o *HostOptimizer) StepSegments(w []float32, g []float64, segs []Segment) error {
	return hostStep(o, w, g, segs)
}

func hostStep[T float32 | float64](o *HostOptimizer, w []T, g []float64, segs []Segment) error {
	if len(w) != o.n || len(g) != o.n {
		return fmt.Errorf("train.HostOptimizer: %d parameters and %d gradients for an optimizer of %d", len(w), len(g), o.n)
	}
	lo := 0
	for _, s := range segs {
		if s.End < lo || s.End > o.n {
			return fmt.Errorf("train.HostOptimizer: segment ends %v do not cut [0, %d) in order", segs, o.n)
		}
		lo = s.End
	}
	if lo != o.n {
		return fmt.Errorf("train.HostOptimizer: segments end at %d, want %d", lo, o.n)
	}
	o.t++
	lo = 0
	switch o.kind {
	case "sgd":
		for _, s := range segs {
			for i := lo; i < s.End; i++ {
				w[i] = T(float64(w[i]) - s.LR*g[i])
			}
			lo = s.End
		}
	case "adam":
		c1, c2 := 1-math.Pow(0.9, float64(o.t)), 1-math.Pow(0.999, float64(o.t))
		for _, s := range segs {
			for i := lo; i < s.End; i++ {
				// 0.1 and 0.001 are 1 − β written out (1 − 0.9 is not 0.1 in float64).
				o.m1[i] = 0.9*o.m1[i] + 0.1*g[i]
				o.m2[i] = 0.999*o.m2[i] + 0.001*g[i]*g[i]
				w[i] = T(float64(w[i]) - s.LR*(o.m1[i]/c1)/(math.Sqrt(o.m2[i]/c2)+1e-8))
			}
			lo = s.End
		}
	}
	return nil
}
