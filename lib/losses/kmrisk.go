package losses

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// The Kaplan–Meier-weighted (IPCW) empirical risk for right-censored regression:
// Ausset, Clémençon & Portier, "Empirical Risk Minimization under Random Censorship", JMLR 23 (2022),
// arXiv:1906.01908.
// The code follows the standard IPCW / Kaplan–Meier / Beran definitions; the paper's exact
// normalisation and bandwidth choice were not read (unverified), so it implements those standard
// formulas: weights δ_i / (n Ĝ(Yt_i-)), the squared error, and the tie rule below.

// KMDefaultMinSurvival is the default floor on Ĝ (a conventional choice), which bounds every
// weight by 1/(n·0.05).
const KMDefaultMinSurvival = 0.05

func init() {
	Register(Objective{
		Name: "km-risk", Paper: "20-kmrisk", Kind: Survival, PerExample: true,
		Summary: "Kaplan–Meier (IPCW) risk Σ_i w_i (t_i - f_i)², w_i = δ_i / (B·Ĝ(t_i-)), Ĝ the censoring KM of the batch",
		Params: []Param{
			{Name: "g_min", Default: KMDefaultMinSurvival, Min: 0, Max: 1, MaxOpen: true,
				Doc: "floor on the censoring survival Ĝ (0: the plain estimator)"},
			{Name: "self_normalized", Default: 0, Min: 0, Max: 1, Integer: true,
				Doc: "1: divide by Σ w_i (a variance-reducing variant, not from the paper)"},
		},
		Fn: func(b Batch, p Params) *Node {
			w := KMWeights(b["times"], b["events"], p["g_min"])
			bsz := w.Shape().Dimensions[0]
			nw := MulScalar(w, float64(bsz))
			if p["self_normalized"] == 1 {
				// Σ w ℓ / Σ w = mean(n w ℓ) / mean(n w); a batch without events has all weights 0.
				nw = Div(nw, MaxScalar(ReduceAllMean(nw), 1e-30))
			}
			return KMWeightedSquaredLoss(b["predictions"], b["times"], nw)
		},
	})
}

// KMWeightedSquaredLoss returns the per-example weighted squared errors [B]:
//
//	loss_i = nw_i · (t_i - f_i)²
//
// for predictions f [B], observed times t [B] and scaled weights nw [B] = n·w_i (n the size of the set
// the weights were computed on; see KaplanMeierWeights or KMWeights). Its mean over a minibatch is the
// minibatch form (n/B) Σ_{i∈batch} w_i ℓ_i, an unbiased estimate of the full KM risk
// R̂(f) = Σ_i w_i (t_i - f_i)². The weights are constants (no gradient): d loss_i/d f_i = -2 nw_i (t_i - f_i).
func KMWeightedSquaredLoss(predictions, times, nw *Node) *Node {
	for _, x := range []*Node{predictions, times, nw} {
		if x.Rank() != 1 || x.Shape().Dimensions[0] != predictions.Shape().Dimensions[0] {
			panicf("KMWeightedSquaredLoss: predictions, times and weights must all be [B], got %s, %s, %s",
				predictions.Shape(), times.Shape(), nw.Shape())
		}
	}
	nw = StopGradient(ConvertDType(nw, predictions.DType()))
	return Mul(nw, Square(Sub(ConvertDType(times, predictions.DType()), predictions)))
}

// KMWeights computes the Kaplan–Meier IPCW weights of a batch inside the graph, detached, [B]:
//
//	w_i = δ_i / ( B · max(Ĝ(t_i-), gMin) )
//
// where Ĝ is the Kaplan–Meier estimate of the censoring survival P(C > t) on the batch (censoring,
// δ = 0, treated as the event) and Ĝ(t-) its left limit (the product over censoring times strictly
// before t). Tie rule: at a time with both events and censorings, the events come first, so they leave
// the risk set before the censorings: the factor at a censoring time u is 1 - c_u/(#{t_k > u} + c_u).
// This is what makes the Stute identity hold with ties (w_i = the jump of Y's KM estimator at t_i).
//
// It is computed with pairwise comparisons (O(B²), no sorting): each censored j contributes
// log(1 - 1/R_j), R_j = #{k: t_k > t_j} + #{censored k: t_k = t_j, k ≥ j}, whose product over tied
// censorings telescopes to the grouped factor above. events may be int or float 0/1.
func KMWeights(times, events *Node, gMin float64) *Node {
	if times.Rank() != 1 {
		panicf("KMWeights: times must be [B], got shape %s", times.Shape())
	}
	if events.Rank() != 1 || events.Shape().Dimensions[0] != times.Shape().Dimensions[0] {
		panicf("KMWeights: events must be [B] with B=%d, got shape %s", times.Shape().Dimensions[0], events.Shape())
	}
	if !(gMin >= 0 && gMin < 1) {
		panicf("KMWeights: gMin=%g must be in [0,1)", gMin)
	}
	g := times.Graph()
	dtype := times.DType()
	if !dtype.IsFloat() {
		dtype = dtypes.Float32
	}
	bsz := times.Shape().Dimensions[0]
	t := StopGradient(ConvertDType(times, dtype))
	d := ConvertDType(NotEqual(events, ZerosLike(events)), dtype)
	c := OneMinus(d)
	tj := InsertAxes(t, 1) // [B,1]: row j
	tk := InsertAxes(t, 0) // [1,B]: column k
	later := ConvertDType(GreaterThan(tk, tj), dtype)
	idx := Iota(g, shapes.Make(dtypes.Int32, bsz), 0)
	kAfter := ConvertDType(GreaterOrEqual(InsertAxes(idx, 0), InsertAxes(idx, 1)), dtype) // [j,k]: k ≥ j
	tied := ConvertDType(Equal(tk, tj), dtype)
	risk := Add(ReduceSum(later, 1), ReduceSum(Mul(Mul(tied, kAfter), InsertAxes(c, 0)), 1)) // [B]
	// log(1 - 1/R_j) for censored j; R_j ≥ 1 always, and R_j = 1 (the last censoring) is never before
	// any t_i, so it is replaced by 0 instead of log 0.
	safe := GreaterThan(risk, OnesLike(risk))
	riskSafe := Where(safe, risk, Add(OnesLike(risk), OnesLike(risk)))
	logF := Mul(Where(safe, Log(Sub(OnesLike(riskSafe), Inverse(riskSafe))), ZerosLike(risk)), c) // [B]
	before := ConvertDType(LessThan(tj, tk), dtype)                                               // [j,i]: t_j < t_i
	logG := ReduceSum(Mul(before, InsertAxes(logF, 1)), 0)                                        // [B] over i
	gLeft := MaxScalar(Exp(logG), gMin)
	if gMin == 0 {
		// Ĝ(t_i-) > 0 for every event i, but a censored i may have Ĝ = 0 (its weight is 0 anyway).
		gLeft = Where(GreaterThan(gLeft, ZerosLike(gLeft)), gLeft, OnesLike(gLeft))
	}
	return StopGradient(DivScalar(Div(d, gLeft), float64(bsz)))
}

// KMCensoringSurvival returns Ĝ(t_i-) for every point: the left limit at t_i of the Kaplan–Meier
// estimate of the censoring survival, with the tie rule of KMWeights (events before censorings).
func KMCensoringSurvival(times []float64, events []bool) ([]float64, error) {
	if err := checkSurvival("KMCensoringSurvival", times, events); err != nil {
		return nil, err
	}
	n := len(times)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]] < times[order[b]] })
	out := make([]float64, n)
	g := 1.0
	for start := 0; start < n; {
		end := start
		cens := 0
		for end < n && times[order[end]] == times[order[start]] {
			if !events[order[end]] {
				cens++
			}
			end++
		}
		for k := start; k < end; k++ {
			out[order[k]] = g // left limit: factors of strictly earlier times only
		}
		// At risk for the censoring "event" at this time: later points plus the censored ones here
		// (this time's events have already left).
		if atRisk := (n - end) + cens; cens > 0 {
			g *= 1 - float64(cens)/float64(atRisk)
		}
		start = end
	}
	return out, nil
}

func checkSurvival(what string, times []float64, events []bool) error {
	if len(times) == 0 {
		return fmt.Errorf("%s: no observations", what)
	}
	if len(events) != len(times) {
		return fmt.Errorf("%s: %d times but %d event flags", what, len(times), len(events))
	}
	for i, t := range times {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return fmt.Errorf("%s: time %d is %g", what, i, t)
		}
	}
	return nil
}

// KaplanMeierWeights returns the IPCW weights of a whole data set, computed once before training:
//
//	w_i = δ_i / ( n · max(Ĝ(Yt_i-), gMin) )
//
// with Ĝ the unconditional Kaplan–Meier estimate of the censoring survival (KMCensoringSurvival).
// Censored points get weight 0. Without censoring every w_i = 1/n (the KM risk is the MSE); with gMin = 0
// the weights are the jumps of Y's own Kaplan–Meier estimator (Stute), summing to 1 - Ŝ_Y(max Yt).
// Multiply by n for the per-example weights of KMWeightedSquaredLoss.
func KaplanMeierWeights(times []float64, events []bool, gMin float64) ([]float64, error) {
	if !(gMin >= 0 && gMin < 1) {
		return nil, fmt.Errorf("KaplanMeierWeights: gMin=%g must be in [0,1)", gMin)
	}
	g, err := KMCensoringSurvival(times, events)
	if err != nil {
		return nil, err
	}
	return ipcw(g, events, gMin), nil
}

func ipcw(g []float64, events []bool, gMin float64) []float64 {
	w := make([]float64, len(g))
	for i := range w {
		if events[i] {
			w[i] = 1 / (float64(len(g)) * math.Max(g[i], gMin))
		}
	}
	return w
}

// BeranWeights returns IPCW weights with the conditional (Beran) estimate of the censoring survival:
//
//	Ĝ(t | x) = Π_{censoring times u < t} ( 1 - Σ_{j censored at u} W_j(x) / Σ_{k ∈ R(u)} W_k(x) )
//	W_j(x)   ∝ exp(-||x - X_j||² / (2h²))          (Gaussian Nadaraya–Watson weights, bandwidth h)
//	w_i      = δ_i / ( n · max(Ĝ(Yt_i- | X_i), gMin) )
//
// with the risk set R(u) = {k : Yt_k > u} ∪ {k censored at u} (events before censorings, as in
// KMWeights). With h → ∞ or identical covariates it is the unconditional Kaplan–Meier weighting.
// h is left to the user (a median-distance heuristic plus validation); it is O(n²·d).
func BeranWeights(x [][]float64, times []float64, events []bool, h, gMin float64) ([]float64, error) {
	if err := checkSurvival("BeranWeights", times, events); err != nil {
		return nil, err
	}
	if len(x) != len(times) {
		return nil, fmt.Errorf("BeranWeights: %d covariate rows but %d times", len(x), len(times))
	}
	if !(h > 0) {
		return nil, fmt.Errorf("BeranWeights: bandwidth h=%g must be > 0", h)
	}
	if !(gMin >= 0 && gMin < 1) {
		return nil, fmt.Errorf("BeranWeights: gMin=%g must be in [0,1)", gMin)
	}
	n := len(times)
	for i := range x {
		if len(x[i]) != len(x[0]) {
			return nil, fmt.Errorf("BeranWeights: covariate row %d has %d entries, row 0 has %d", i, len(x[i]), len(x[0]))
		}
	}
	// Distinct censoring times, ascending, with their censored points and risk sets.
	type group struct {
		u          float64
		cens, risk []int
	}
	var groups []group
	byTime := map[float64]int{}
	for j, t := range times {
		if events[j] {
			continue
		}
		if _, ok := byTime[t]; !ok {
			byTime[t] = len(groups)
			groups = append(groups, group{u: t})
		}
		k := byTime[t]
		groups[k].cens = append(groups[k].cens, j)
	}
	for gi := range groups {
		u := groups[gi].u
		for k, t := range times {
			if t > u || (t == u && !events[k]) {
				groups[gi].risk = append(groups[gi].risk, k)
			}
		}
	}
	g := make([]float64, n)
	logK := make([]float64, n)
	for i := range n {
		// Kernel weights relative to the largest (log-space), so a tiny h cannot give 0/0.
		maxL := math.Inf(-1)
		for j := range n {
			d2 := 0.0
			for a := range x[i] {
				diff := x[i][a] - x[j][a]
				d2 += diff * diff
			}
			logK[j] = -d2 / (2 * h * h)
			maxL = math.Max(maxL, logK[j])
		}
		gi := 1.0
		for _, grp := range groups {
			if !(grp.u < times[i]) {
				continue
			}
			num, den := 0.0, 0.0
			for _, j := range grp.cens {
				num += math.Exp(logK[j] - maxL)
			}
			for _, k := range grp.risk {
				den += math.Exp(logK[k] - maxL)
			}
			if den > 0 {
				gi *= 1 - num/den
			}
		}
		g[i] = gi
	}
	return ipcw(g, events, gMin), nil
}
