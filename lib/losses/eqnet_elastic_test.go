package losses

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/backend"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// EQQuantizeRange with the range fed as values must match EQQuantize (itself checked against the spec's
// numbers) in value and in every gradient, for each bit-width, signedness, symmetry and parity mode, and
// with per-channel scales.
func TestEQQuantizeRangeMatchesEQQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	xs := make([]float64, 2*40)
	for i := range xs {
		xs[i] = 1.5 * rng.NormFloat64()
	}
	xs[3] = 1.5 * (0.2 + 1e-6) // a rounding tie for s = 0.2 at some bit-widths
	for _, bits := range []int{2, 3, 4, 8} {
		for _, signed := range []bool{true, false} {
			for _, asym := range []bool{false, true} {
				for _, parity := range []bool{false, true} {
					for _, perChannel := range []bool{false, true} {
						qn, qp := EQRange(bits, signed)
						g := EQGradScale(qp, len(xs), 0)
						scale, sDims := []float64{0.2}, []int{}
						offset := []float64{-0.3}
						if perChannel {
							scale, sDims = []float64{0.2, 0.07}, []int{2, 1}
							offset = []float64{-0.3, 0.1}
							g = EQGradScale(qp, len(xs), 2)
						}
						run := func(elastic bool) [][]float64 {
							return runGraph(t, func(x, s, b, qnN, qpN, gN *Node) []*Node {
								var off *Node
								if asym {
									off = b
								}
								var q *Node
								if elastic {
									q = EQQuantizeRange(x, s, off, qnN, qpN, gN, parity)
								} else {
									q = EQQuantize(x, s, off, bits, signed, g, parity)
								}
								// A non-uniform weighting so the gradients are not plain sums.
								w := Iota(x.Graph(), x.Shape(), 1)
								loss := ReduceAllSum(Mul(Square(q), AddScalar(w, 1)))
								grads := Gradient(loss, x, s, b)
								return []*Node{q, grads[0], grads[1], grads[2]}
							}, hbTensor(xs, 2, 40), hbTensor(scale, sDims...), hbTensor(offset, sDims...),
								hbTensor([]float64{qn}), hbTensor([]float64{qp}), hbTensor([]float64{g}))
						}
						want, got := run(false), run(true)
						for k, what := range []string{"x̂", "∂/∂x", "∂/∂s", "∂/∂β"} {
							for i := range want[k] {
								if math.Abs(got[k][i]-want[k][i]) > 1e-12*(1+math.Abs(want[k][i])) {
									t.Fatalf("bits=%d signed=%v asym=%v parity=%v perChannel=%v: %s[%d] = %g, EQQuantize gives %g",
										bits, signed, asym, parity, perChannel, what, i, got[k][i], want[k][i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// Non-scalar range values are refused (the graph-building panic comes back as an error).
func TestEQQuantizeRangeBadInput(t *testing.T) {
	e, err := NewExecAny(backend.Must(), func(x, qn *Node) *Node {
		one := ScalarOne(x.Graph(), x.DType())
		return EQQuantizeRange(x, one, nil, qn, one, one, false)
	})
	if err == nil {
		_, err = e.Exec(hbTensor([]float64{1, 2}, 2), hbTensor([]float64{-2, -2}, 2))
	}
	if err == nil || !strings.Contains(err.Error(), "must be scalars") {
		t.Errorf("a [2] Q_N: got error %v, want one saying the range must be scalars", err)
	}
}
