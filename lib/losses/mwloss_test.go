package losses

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refSoftplus is a stable float64 log(1+e^x).
func refSoftplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// refMW is the float64 reference of the MW loss (sum over positive–negative pairs of the whole batch).
func refMW(s, pos Arr, tau float64, mean bool) float64 {
	total, nPos, nNeg := 0.0, 0, 0
	for a, sa := range s.Data {
		if pos.Data[a] == 0 {
			nNeg++
			continue
		}
		nPos++
		for b, sb := range s.Data {
			if pos.Data[b] == 0 {
				total += refSoftplus((sb - sa) / tau)
			}
		}
	}
	if mean {
		return total / float64(nPos*nNeg)
	}
	return total / float64(nPos)
}

// refInfoNCE is the float64 reference of InfoNCE per row.
func refInfoNCE(s, pos Arr, tau float64) []float64 {
	per := make([]float64, s.Shape[0])
	for i := range per {
		var all, ps []float64
		for j, v := range s.Row(i) {
			all = append(all, v/tau)
			if pos.At2(i, j) != 0 {
				ps = append(ps, v/tau)
			}
		}
		if len(ps) > 0 {
			per[i] = RefLogSumExp(all) - RefLogSumExp(ps)
		}
	}
	return per
}

func refAoC(s, pos Arr) float64 {
	flags := make([]bool, len(pos.Data))
	for i, v := range pos.Data {
		flags[i] = v != 0
	}
	a, err := AreaOverCurve(s.Data, flags)
	if err != nil {
		panic(err)
	}
	return a
}

// specS is a B = 3 worked example (no hard negatives, positives on the diagonal).
func specS() map[string]Arr {
	return map[string]Arr{
		"scores":    Mat([]float64{0.9, 0.3, 0.5}, []float64{0.2, 0.4, 0.1}, []float64{0.6, 0.7, 0.95}),
		"positives": Mat([]float64{1, 0, 0}, []float64{0, 1, 0}, []float64{0, 0, 1}),
	}
}

// hardNegBatch has B = 2 queries with 1 hard negative each ([Q, B(1+H)] = [2,4]), plus a third row with
// two positives and one without, to exercise the general masks.
func hardNegBatch() map[string]Arr {
	return map[string]Arr{
		"scores": Mat(
			[]float64{0.83, -0.21, 0.47, 0.12},
			[]float64{0.05, 0.64, -0.33, 0.58},
			[]float64{0.31, 0.77, -0.52, 0.2},
			[]float64{-0.4, 0.15, 0.9, 0.66},
		),
		"positives": Mat([]float64{1, 0, 0, 0}, []float64{0, 1, 0, 0}, []float64{1, 1, 0, 0}, []float64{0, 0, 0, 0}),
	}
}

func TestMWReference(t *testing.T) {
	for _, in := range []map[string]Arr{specS(), hardNegBatch()} {
		for _, tau := range []float64{1, 0.3} {
			for _, mean := range []float64{0, 1} {
				CheckObjective(t, "mw-loss", in, Params{"tau": tau, "mean": mean}, func(in map[string]Arr, p Params) (float64, []float64) {
					return refMW(in["scores"], in["positives"], p["tau"], p["mean"] == 1), nil
				})
			}
			CheckObjective(t, "infonce", in, Params{"tau": tau}, func(in map[string]Arr, p Params) (float64, []float64) {
				per := refInfoNCE(in["scores"], in["positives"], p["tau"])
				return MeanOf(per), per
			})
		}
	}
	huge := map[string]Arr{
		"scores":    Mat([]float64{1e4, -1e4, 0}, []float64{-1e4, 1e4, 5e3}, []float64{1e4, 1e4, -1e4}),
		"positives": Mat([]float64{0, 1, 0}, []float64{1, 0, 0}, []float64{0, 0, 1}),
	}
	for _, name := range []string{"mw-loss", "infonce"} {
		CheckFinite(t, name, huge, nil)
		CheckFinite(t, name, huge, Params{"tau": 1})
	}
}

// Properties 1–4 and 8: hand-worked numbers.
func TestMWWorkedNumbers(t *testing.T) {
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	for _, bits := range []int{32, 64} {
		tol := 1e-6
		if bits == 32 {
			tol = 5e-6
		}
		in := specS()
		cl := EvalArr(t, "infonce", in, Params{"tau": 1}, bits).Loss
		mw := EvalArr(t, "mw-loss", in, Params{"tau": 1}, bits).Loss
		mwMean := EvalArr(t, "mw-loss", in, Params{"tau": 1, "mean": 1}, bits).Loss
		near("L_CL", cl, 0.882204, tol)
		near("L_MW", mw, 3.278809, tol)
		near("L_MW_mean", mwMean, 0.546468, tol)
		near("L_MW/L_MW_mean (= |S⁻| = B(B-1))", mw/mwMean, 6, 1e-5)
		aoc := refAoC(in["scores"], in["positives"])
		near("AoC", aoc, 3.0/18, 1e-12)
		near("L_MW_mean/log 2", mwMean/math.Ln2, 0.788387, tol)
		if aoc > mwMean/math.Ln2 {
			t.Errorf("Lemma 2 fails: AoC %g > %g", aoc, mwMean/math.Ln2)
		}

		// Property 2: +0.6 on row 2 (the second query).
		shifted := specS()
		for j := range 3 {
			shifted["scores"].Data[3+j] += 0.6
		}
		near("shifted L_CL", EvalArr(t, "infonce", shifted, Params{"tau": 1}, bits).Loss, 0.882204, tol)
		near("shifted AoC", refAoC(shifted["scores"], shifted["positives"]), 0, 0)
		near("shifted L_MW_mean", EvalArr(t, "mw-loss", shifted, Params{"tau": 1, "mean": 1}, bits).Loss, 0.536788, tol)
		near("shifted L_MW", EvalArr(t, "mw-loss", shifted, Params{"tau": 1}, bits).Loss, 3.220728, tol)

		// Property 3: τ = 0.01.
		near("L_CL(τ=0.01)", EvalArr(t, "infonce", in, Params{"tau": 0.01}, bits).Loss, 6.9e-10, 0.05e-10)
		mwMean01 := EvalArr(t, "mw-loss", in, Params{"tau": 0.01, "mean": 1}, bits).Loss
		near("L_MW_mean(τ=0.01)", mwMean01, 3.333338, 1e-5)
		near("bound(τ=0.01)", mwMean01/math.Ln2, 4.808991, 2e-5)

		// Property 4: all scores equal.
		eq := specS()
		for i := range eq["scores"].Data {
			eq["scores"].Data[i] = 0.37
		}
		near("L_MW_mean(equal)", EvalArr(t, "mw-loss", eq, Params{"tau": 1, "mean": 1}, bits).Loss, math.Ln2, tol)
		near("L_CL(equal)", EvalArr(t, "infonce", eq, Params{"tau": 1}, bits).Loss, math.Log(3), tol)
	}
}

// Properties 2 (gradient form), 5, 6, 7 on random batches.
func TestMWInvariancesAndBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	for trial := range 20 {
		q, h := 2+rng.IntN(3), rng.IntN(3)
		n := q * (1 + h)
		s := make([][]float64, q)
		pos := make([][]float64, q)
		for i := range q {
			s[i] = make([]float64, n)
			pos[i] = make([]float64, n)
			for j := range n {
				s[i][j] = rng.NormFloat64()
			}
			pos[i][i] = 1
		}
		in := map[string]Arr{"scores": Mat(s...), "positives": Mat(pos...)}
		tau := []float64{0.01, 0.1, 1, 5}[trial%4]
		p := Params{"tau": tau, "mean": 1}
		mw := EvalArr(t, "mw-loss", in, p, 64)
		cl := EvalArr(t, "infonce", in, Params{"tau": tau}, 64)
		// Lemma 2.
		if aoc := refAoC(in["scores"], in["positives"]); aoc > mw.Loss/math.Ln2+1e-12 {
			t.Errorf("trial %d: AoC %g > L_MW_mean/log 2 = %g", trial, aoc, mw.Loss/math.Ln2)
		}
		// Lemma 1: the CL gradient w.r.t. a per-query offset (the row sum of dL/ds) is 0; MW's is not.
		gCL, gMW := cl.Grad["scores"], mw.Grad["scores"]
		mwRowSums := 0.0
		for i := range q {
			rc, rm := 0.0, 0.0
			for j := range n {
				rc += gCL[i*n+j]
				rm += gMW[i*n+j]
			}
			if math.Abs(rc) > 1e-12 {
				t.Errorf("trial %d: dL_CL/d(offset of row %d) = %g, want 0", trial, i, rc)
			}
			mwRowSums += math.Abs(rm)
		}
		// At τ = 0.01 the pair sigmoids saturate to exactly 0 or 1 and the row sums are integer counts
		// that can cancel, so the check needs a smooth τ.
		if tau >= 0.1 && mwRowSums < 1e-12 {
			t.Errorf("trial %d: MW gradient w.r.t. per-query offsets is 0; MW should see them", trial)
		}
		// Global shift invariance of MW (the gradient sums to 0 over all scores), and signs (property 7).
		total := 0.0
		for i := range q {
			for j := range n {
				g := gMW[i*n+j]
				total += g
				if pos[i][j] == 1 && !(g < 0) || pos[i][j] == 0 && !(g > 0) {
					if tau >= 0.1 { // at τ = 0.01 far pairs can underflow to an exact 0 in float64.
						t.Errorf("trial %d τ=%g: dL_MW/ds[%d,%d] = %g has the wrong sign (positive=%v)", trial, tau, i, j, g, pos[i][j] == 1)
					}
				}
			}
		}
		if math.Abs(total) > 1e-9*math.Max(1, mw.Loss/tau) {
			t.Errorf("trial %d: MW gradient sums to %g over all scores, want 0 (global shift invariance)", trial, total)
		}
		shifted := map[string]Arr{"scores": in["scores"].clone(), "positives": in["positives"]}
		for k := range shifted["scores"].Data {
			shifted["scores"].Data[k] += 0.8
		}
		if got := EvalArr(t, "mw-loss", shifted, p, 64).Loss; math.Abs(got-mw.Loss) > 1e-9*math.Max(1, mw.Loss) {
			t.Errorf("trial %d: global shift changes L_MW %g -> %g", trial, mw.Loss, got)
		}
		// Finite float32 gradients at τ = 0.01 (property 7).
		CheckFinite(t, "mw-loss", in, Params{"tau": 0.01})
		CheckFinite(t, "infonce", in, Params{"tau": 0.01})
	}
}

// MWLossOnePositive equals the general MWLoss (value and gradient) on the paper's layout.
func TestMWLossOnePositive(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	q, n := 4, 12
	s := make([]float64, q*n)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	posIdx := []int32{0, 5, 2, 11}
	pos := make([]int32, q*n)
	for i, j := range posIdx {
		pos[i*n+int(j)] = 1
	}
	for _, mean := range []bool{false, true} {
		out := runGraph(t, func(sc, p, idx *Node) []*Node {
			a, b := MWLoss(sc, p, 0.1, mean), MWLossOnePositive(sc, idx, 0.1, mean)
			return []*Node{a, b, Gradient(a, sc)[0], Gradient(b, sc)[0]}
		}, tensors.FromFlatDataAndDimensions(s, q, n), tensors.FromFlatDataAndDimensions(pos, q, n),
			tensors.FromFlatDataAndDimensions(posIdx, q))
		if math.Abs(out[0][0]-out[1][0]) > 1e-12*math.Abs(out[0][0]) {
			t.Errorf("mean=%v: MWLossOnePositive = %g, MWLoss = %g", mean, out[1][0], out[0][0])
		}
		for i := range out[2] {
			if math.Abs(out[2][i]-out[3][i]) > 1e-12 {
				t.Errorf("mean=%v: gradients differ at %d: %g vs %g", mean, i, out[3][i], out[2][i])
				break
			}
		}
	}
}
