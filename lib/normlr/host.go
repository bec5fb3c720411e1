package normlr

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// checkLinearData validates a plain-Go linear binary problem: θ [d], A [n][d], y [n] in {-1,+1}.
func checkLinearData(what string, theta []float64, a [][]float64, y []float64) error {
	if len(a) == 0 {
		return fmt.Errorf("%s: no data points", what)
	}
	if len(y) != len(a) {
		return fmt.Errorf("%s: %d points but %d labels", what, len(a), len(y))
	}
	for i, row := range a {
		if len(row) != len(theta) {
			return fmt.Errorf("%s: point %d has %d features, θ has %d", what, i, len(row), len(theta))
		}
		if y[i] != 1 && y[i] != -1 {
			return fmt.Errorf("%s: label %d is %g, want -1 or +1", what, i, y[i])
		}
	}
	return nil
}

// LinearMargins returns m_i = y_i a_iᵀθ for a plain-Go linear problem (A [n][d], y in {-1,+1}).
func LinearMargins(theta []float64, a [][]float64, y []float64) ([]float64, error) {
	if err := checkLinearData("LinearMargins", theta, a, y); err != nil {
		return nil, err
	}
	m := make([]float64, len(a))
	linearBlocks(len(a), len(theta), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			s := 0.0
			for j, v := range a[i] {
				s += v * theta[j]
			}
			m[i] = s * y[i]
		}
	})
	return m, nil
}

// linearBlockCount is the number of row blocks of the plain-Go linear problems' passes over A. It is
// fixed (not the core count), so that block-wise sums add in the same order, and give the same bits, on
// every machine.
const linearBlockCount = 8

// linearBlocks calls f(b, lo, hi) for the blocks b = 0… of at most linearBlockCount row blocks
// [lo, hi) covering [0, n), on up to GOMAXPROCS goroutines when the pass is large enough (n·d ≥ 2¹⁶)
// for that to pay; otherwise sequentially.
func linearBlocks(n, d int, f func(b, lo, hi int)) {
	blocks := min(linearBlockCount, n)
	run := func(b int) { f(b, b*n/blocks, (b+1)*n/blocks) }
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 || n*d < 1<<16 {
		for b := range blocks {
			run(b)
		}
		return
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := int(next.Add(1)) - 1; b < blocks; b = int(next.Add(1)) - 1 {
				run(b)
			}
		}()
	}
	wg.Wait()
}

// weightedRowSum returns Σ_i c_i a_i (rows with c_i = 0 skipped), summed per row block and the block
// sums added in block order.
func weightedRowSum(a [][]float64, c []float64, d int) []float64 {
	blocks := min(linearBlockCount, len(a))
	partial := make([][]float64, blocks)
	linearBlocks(len(a), d, func(b, lo, hi int) {
		sum := make([]float64, d)
		for i := lo; i < hi; i++ {
			if ci := c[i]; ci != 0 {
				for j, v := range a[i] {
					sum[j] += ci * v
				}
			}
		}
		partial[b] = sum
	})
	out := make([]float64, d)
	for _, p := range partial {
		for j, v := range p {
			out[j] += v
		}
	}
	return out
}

// Separates reports whether θ classifies every point correctly: every margin y_i a_iᵀθ > 0.
func Separates(theta []float64, a [][]float64, y []float64) bool {
	m, err := LinearMargins(theta, a, y)
	if err != nil {
		return false
	}
	for _, v := range m {
		if !(v > 0) {
			return false
		}
	}
	return true
}

// normLRSigmoid is 1/(1+e^-x) without overflow.
func normLRSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// LogisticRisk returns the paper's f(θ) = (1/n) Σ_i log(1 + exp(-m_i)) and its gradient
// ∇f(θ) = -(1/n) Σ_i sigmoid(-m_i) y_i a_i, for a linear model (A [n][d], y in {-1,+1}), in float64.
func LogisticRisk(theta []float64, a [][]float64, y []float64) (f float64, grad []float64, err error) {
	f, grad, _, err = LogisticRiskMargins(theta, a, y)
	return f, grad, err
}

// LogisticRiskMargins is LogisticRisk that also returns the margins m_i = y_i a_iᵀθ it computed (for
// the accuracy, without another pass over A).
func LogisticRiskMargins(theta []float64, a [][]float64, y []float64) (f float64, grad, margins []float64, err error) {
	m, err := LinearMargins(theta, a, y)
	if err != nil {
		return 0, nil, nil, err
	}
	n := float64(len(a))
	c := make([]float64, len(m))
	for i, mi := range m {
		f += math.Max(-mi, 0) + math.Log1p(math.Exp(-math.Abs(mi)))
		c[i] = -normLRSigmoid(-mi) * y[i] / n
	}
	return f / n, weightedRowSum(a, c, len(theta)), m, nil
}

// LRGDStep returns θ - γ∇f(θ): one step of gradient descent on the logistic loss (LR+GD).
func LRGDStep(theta []float64, a [][]float64, y []float64, gamma float64) ([]float64, error) {
	if !(gamma > 0) {
		return nil, fmt.Errorf("LRGDStep: gamma=%g must be > 0", gamma)
	}
	_, g, err := LogisticRisk(theta, a, y)
	if err != nil {
		return nil, err
	}
	next := make([]float64, len(theta))
	for j := range next {
		next[j] = theta[j] - gamma*g[j]
	}
	return next, nil
}

// NormalizedLRGDStep returns one step of Normalized LR+GD and the factor β it used:
//
//	θ' = θ - γ·β·∇f(θ),   β = 1 / ( (1/n) Σ_i sigmoid(-m_i(θ)) )
//
// equivalently θ' = θ + γ Σ_i w_i y_i a_i / Σ_i w_i with w_i = sigmoid(-m_i). The weighted form is what
// is computed, so the step stays finite even when every w_i underflows (then the weights are taken
// relative to the largest, i.e. the direction is the average over the least-separated points).
func NormalizedLRGDStep(theta []float64, a [][]float64, y []float64, gamma float64) (next []float64, beta float64, err error) {
	if !(gamma > 0) {
		return nil, 0, fmt.Errorf("NormalizedLRGDStep: gamma=%g must be > 0", gamma)
	}
	m, err := LinearMargins(theta, a, y)
	if err != nil {
		return nil, 0, err
	}
	// log w_i = -softplus(m_i); weights relative to the largest avoid 0/0.
	logW := make([]float64, len(m))
	maxLogW := math.Inf(-1)
	for i, mi := range m {
		logW[i] = -(math.Max(mi, 0) + math.Log1p(math.Exp(-math.Abs(mi))))
		maxLogW = math.Max(maxLogW, logW[i])
	}
	sumW := 0.0
	c := make([]float64, len(m))
	for i := range m {
		w := math.Exp(logW[i] - maxLogW)
		sumW += w
		c[i] = w * y[i]
	}
	dir := weightedRowSum(a, c, len(theta))
	next = make([]float64, len(theta))
	for j := range next {
		next[j] = theta[j] + gamma*dir[j]/sumW
	}
	// β = n / Σ w_i (in absolute terms).
	beta = float64(len(m)) / (sumW * math.Exp(maxLogW))
	return next, beta, nil
}

// BatchPerceptronStep returns one step of the (Normalized) Batch Perceptron; the plain one is the
// γ → ∞ limit of θ_t/γ under LR+GD (Thm 3.2):
//
//	S = {i : y_i a_iᵀθ̂ ≤ 0}
//	θ̂' = θ̂ + (1/n)   Σ_{i∈S} y_i a_i      (Batch Perceptron)
//	θ̂' = θ̂ + (1/|S|) Σ_{i∈S} y_i a_i      (Normalized Batch Perceptron)
//
// except that the first step, from θ̂ = 0, is θ̂_1 = (1/(2n)) Σ_i y_i a_i for both variants: the limit of
// LR+GD's first step (sigmoid(0) = 1/2), which the worst-case iteration counts we check use for
// the normalized variant too. (Normalized LR+GD's own first step is twice that, since β_0 = 2.)
// When S is empty (θ̂ separates the data) θ̂ is returned unchanged.
func BatchPerceptronStep(hat []float64, a [][]float64, y []float64, normalized bool) ([]float64, error) {
	m, err := LinearMargins(hat, a, y)
	if err != nil {
		return nil, err
	}
	zero := true
	for _, v := range hat {
		if v != 0 {
			zero = false
		}
	}
	next := append([]float64(nil), hat...)
	count := 0
	c := make([]float64, len(m))
	for i, mi := range m {
		if mi <= 0 {
			count++
			c[i] = y[i]
		}
	}
	if count == 0 {
		return next, nil
	}
	sum := weightedRowSum(a, c, len(hat))
	scale := 1 / float64(len(a))
	switch {
	case zero:
		scale = 1 / (2 * float64(len(a)))
	case normalized:
		scale = 1 / float64(count)
	}
	for j := range next {
		next[j] += scale * sum[j]
	}
	return next, nil
}
