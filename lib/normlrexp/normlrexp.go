// Package normlrexp runs the experiments of Tyurin, "From Logistic Regression to the Perceptron
// Algorithm: Exploring Gradient Descent with Large Step Sizes", arXiv:2412.08424, at notebook scale and in
// the form a verdict needs.
//
// The paper's success metric is the number of full-batch iterations until the training data is separated
// (accuracy 1), starting from θ = 0. Three experiments:
//
//   - Worst: the worst-case family of its Theorem 5.1 (one point (0.5, −1) with y = +1, n − 1 points
//     (−0.5, −1) with y = −1) for growing n. Deterministic: the iteration counts and their slope in log n
//     are exact computations.
//   - Fashion: two Fashion-MNIST classes (T-shirt y = −1, Trouser y = +1, pixels in [0, 1], a linear model
//     without bias), balanced or imbalanced. The only randomness is which images are drawn, so
//     independent runs are independent random subsets of the training set. The step size γ of each method
//     is tuned on a validation subset drawn apart from the run subsets, over the same grid for both.
//
// The step rules are those of lib/normlr (LRGDStep, NormalizedLRGDStep, BatchPerceptronStep), in float64
// on the host.
package normlrexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/normlr"
)

// Method is one optimiser: a name and a step θ → θ'.
type Method struct {
	Name string
	Step func(theta []float64, a [][]float64, y []float64) ([]float64, error)
}

// LRGD is gradient descent on the logistic loss with step size gamma ("LR+GD γ=…").
func LRGD(gamma float64) Method {
	return Method{fmt.Sprintf("LR+GD γ=%g", gamma), func(th []float64, a [][]float64, y []float64) ([]float64, error) {
		return normlr.LRGDStep(th, a, y, gamma)
	}}
}

// NormalizedLRGD is the paper's Normalized LR+GD with step size gamma.
func NormalizedLRGD(gamma float64) Method {
	return Method{fmt.Sprintf("Normalized LR+GD γ=%g", gamma), func(th []float64, a [][]float64, y []float64) ([]float64, error) {
		next, _, err := normlr.NormalizedLRGDStep(th, a, y, gamma)
		return next, err
	}}
}

// BatchPerceptron is the batch perceptron (normalized: divide by |S_t| instead of n).
func BatchPerceptron(normalized bool) Method {
	name := "Batch Perceptron"
	if normalized {
		name = "Normalized Batch Perceptron"
	}
	return Method{name, func(th []float64, a [][]float64, y []float64) ([]float64, error) {
		return normlr.BatchPerceptronStep(th, a, y, normalized)
	}}
}

// WorstCase returns the worst-case family of Theorem 5.1 with n ≥ 2 points.
func WorstCase(n int) ([][]float64, []float64, error) {
	if n < 2 {
		return nil, nil, fmt.Errorf("normlrexp.WorstCase: n = %d, want at least 2 points", n)
	}
	a := [][]float64{{0.5, -1}}
	y := []float64{1}
	for range n - 1 {
		a = append(a, []float64{-0.5, -1})
		y = append(y, -1)
	}
	return a, y, nil
}

// Count is an iteration count to separation that may not have been reached within the budget.
type Count struct {
	Iters   int  `json:"iters"`   // steps taken until the data was separated (when Reached)
	Reached bool `json:"reached"` // false: not separated within Budget steps
	Budget  int  `json:"budget"`
}

// String is the count in words: "412" or "> 2500".
func (c Count) String() string {
	if !c.Reached {
		return fmt.Sprintf("> %d", c.Budget)
	}
	return fmt.Sprint(c.Iters)
}

// Value is the count as a number for statistics: Iters when reached, Budget + 1 otherwise (a lower bound
// of the true count, so a difference against it understates a method that did reach).
func (c Count) Value() float64 {
	if !c.Reached {
		return float64(c.Budget + 1)
	}
	return float64(c.Iters)
}

// Trace is one run: per iteration t = 0, 1, … (after t steps) the training accuracy, the loss and the
// norm of its gradient, and the count to separation.
type Trace struct {
	Method   string    `json:"method"`
	Acc      []float64 `json:"acc"`
	Loss     []float64 `json:"loss"`
	GradNorm []float64 `json:"grad_norm"`
	Count    Count     `json:"count"`
}

// lossFloor keeps log-scale plots drawable once the loss or the gradient underflows to 0.
const lossFloor = 1e-12

// Run applies m from θ = 0 for at most budget steps, recording the trace, and stops extra steps after the
// data is first separated (extra < 0: at separation, recording nothing but the count).
func Run(m Method, a [][]float64, y []float64, budget, extra int) (Trace, error) {
	if budget < 1 || len(a) == 0 {
		return Trace{}, fmt.Errorf("normlrexp.Run %s: budget %d and %d points, want ≥ 1 of each", m.Name, budget, len(a))
	}
	th := make([]float64, len(a[0]))
	tr := Trace{Method: m.Name, Count: Count{Budget: budget}}
	record := extra >= 0
	for t := 0; ; t++ {
		var sep bool
		if record {
			f, g, mg, err := normlr.LogisticRiskMargins(th, a, y)
			if err != nil {
				return Trace{}, fmt.Errorf("normlrexp.Run %s, step %d: %w", m.Name, t, err)
			}
			ok, gn := 0, 0.0
			for _, v := range mg {
				if v > 0 {
					ok++
				}
			}
			for _, v := range g {
				gn += v * v
			}
			if math.IsNaN(f) || math.IsNaN(gn) {
				return Trace{}, fmt.Errorf("normlrexp.Run %s: the loss is NaN at step %d", m.Name, t)
			}
			tr.Acc = append(tr.Acc, float64(ok)/float64(len(y)))
			tr.Loss = append(tr.Loss, math.Max(f, lossFloor))
			tr.GradNorm = append(tr.GradNorm, math.Max(math.Sqrt(gn), lossFloor))
			sep = ok == len(y)
		} else {
			sep = normlr.Separates(th, a, y)
		}
		if sep && !tr.Count.Reached {
			tr.Count.Iters, tr.Count.Reached = t, true
		}
		if tr.Count.Reached && t >= tr.Count.Iters+max(extra, 0) || t == budget {
			return tr, nil
		}
		next, err := m.Step(th, a, y)
		if err != nil {
			return Trace{}, fmt.Errorf("normlrexp.Run %s, step %d: %w", m.Name, t, err)
		}
		th = next
	}
}

// Slope is the least-squares slope of log y against log x (NaN with fewer than two points or non-positive
// values).
func Slope(x []int, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		if x[i] <= 0 || !(y[i] > 0) {
			return math.NaN()
		}
		mx += math.Log(float64(x[i])) / float64(len(x))
		my += math.Log(y[i]) / float64(len(x))
	}
	var num, den float64
	for i := range x {
		dx := math.Log(float64(x[i])) - mx
		num += dx * (math.Log(y[i]) - my)
		den += dx * dx
	}
	return num / den
}

// WorstConfig sizes the worst-case experiment.
type WorstConfig struct {
	Ns     []int     // the sizes n of the family, increasing
	Budget int       // iteration budget per run
	Gammas []float64 // step sizes of Normalized LR+GD; LR+GD runs at 1 and 100
}

// DefaultWorst is the paper's setting: n from 10 to 1000.
func DefaultWorst() WorstConfig {
	return WorstConfig{Ns: []int{10, 30, 100, 300, 1000}, Budget: 20000, Gammas: []float64{0.1, 1, 10, 100}}
}

// QuickWorst is CI's size.
func QuickWorst() WorstConfig {
	return WorstConfig{Ns: []int{10, 30, 100}, Budget: 3000, Gammas: []float64{0.1, 1, 10, 100}}
}

// WorstMethods returns the methods of the worst-case experiment, in the order of its table.
func (c WorstConfig) WorstMethods() []Method {
	ms := []Method{BatchPerceptron(false), LRGD(1), LRGD(100), BatchPerceptron(true)}
	for _, g := range c.Gammas {
		ms = append(ms, NormalizedLRGD(g))
	}
	return ms
}

// WorstResult holds the counts per method name, one per n.
type WorstResult struct {
	Ns     []int              `json:"ns"`
	Names  []string           `json:"names"`
	Counts map[string][]Count `json:"counts"`
}

// Slope is the slope in log n of a method's counts (Count.Value for counts not reached).
func (r WorstResult) Slope(name string) float64 {
	var v []float64
	for _, c := range r.Counts[name] {
		v = append(v, c.Value())
	}
	return Slope(r.Ns, v)
}

// Worst counts the iterations to separation of every method on the worst-case family; progress, when not
// nil, is called after each run.
func Worst(c WorstConfig, progress func(string)) (WorstResult, error) {
	if len(c.Ns) < 2 || c.Budget < 1 {
		return WorstResult{}, fmt.Errorf("normlrexp.Worst: %d sizes and budget %d, want at least 2 sizes and a positive budget", len(c.Ns), c.Budget)
	}
	r := WorstResult{Ns: c.Ns, Counts: map[string][]Count{}}
	ms := c.WorstMethods()
	for _, m := range ms {
		r.Names = append(r.Names, m.Name)
	}
	for _, n := range c.Ns {
		a, y, err := WorstCase(n)
		if err != nil {
			return WorstResult{}, err
		}
		for _, m := range ms {
			tr, err := Run(m, a, y, c.Budget, -1)
			if err != nil {
				return WorstResult{}, err
			}
			r.Counts[m.Name] = append(r.Counts[m.Name], tr.Count)
			if progress != nil {
				progress(fmt.Sprintf("n=%d %s", n, m.Name))
			}
		}
	}
	return r, nil
}

// TwoClass draws a random subset of nNeg examples of class 0 (y = −1) and nPos of class 1 (y = +1) from
// s, without replacement, features as float64; the subset depends only on seed.
func TwoClass(s *data.Set, nNeg, nPos int, seed uint64) ([][]float64, []float64, error) {
	if s == nil || s.Len() == 0 {
		return nil, nil, errors.New("normlrexp.TwoClass: empty set")
	}
	if nNeg < 1 || nPos < 1 {
		return nil, nil, fmt.Errorf("normlrexp.TwoClass: %d negatives and %d positives, want at least one of each", nNeg, nPos)
	}
	var neg, pos []int
	for i, l := range s.Y {
		switch l {
		case 0:
			neg = append(neg, i)
		case 1:
			pos = append(pos, i)
		}
	}
	if len(neg) < nNeg || len(pos) < nPos {
		return nil, nil, fmt.Errorf("normlrexp.TwoClass: %s has %d examples of class 0 and %d of class 1; asked for %d and %d", s.Name, len(neg), len(pos), nNeg, nPos)
	}
	r := rand.New(rand.NewPCG(seed, 0x17a017))
	r.Shuffle(len(neg), func(i, j int) { neg[i], neg[j] = neg[j], neg[i] })
	r.Shuffle(len(pos), func(i, j int) { pos[i], pos[j] = pos[j], pos[i] })
	idx := append(append([]int{}, neg[:nNeg]...), pos[:nPos]...)
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	d := s.Dim()
	a, y := make([][]float64, len(idx)), make([]float64, len(idx))
	for k, i := range idx {
		row := make([]float64, d)
		for j := range row {
			row[j] = float64(s.X[i*d+j])
		}
		a[k], y[k] = row, -1
		if s.Y[i] == 1 {
			y[k] = 1
		}
	}
	return a, y, nil
}

// LimitGap returns max over t ≤ steps and coordinates of |θ_t/γ − θ̂_t|, where θ_t are LR+GD's iterates
// at step size gamma and θ̂_t the Batch Perceptron's (Theorem 3.2: the gap vanishes as γ → ∞).
func LimitGap(a [][]float64, y []float64, gamma float64, steps int) (float64, error) {
	if len(a) == 0 {
		return 0, errors.New("normlrexp.LimitGap: no points")
	}
	th, hat := make([]float64, len(a[0])), make([]float64, len(a[0]))
	gap := 0.0
	var err error
	for t := 1; t <= steps; t++ {
		if th, err = normlr.LRGDStep(th, a, y, gamma); err != nil {
			return 0, err
		}
		if hat, err = normlr.BatchPerceptronStep(hat, a, y, false); err != nil {
			return 0, err
		}
		for j := range th {
			gap = math.Max(gap, math.Abs(th[j]/gamma-hat[j]))
		}
	}
	return gap, nil
}
