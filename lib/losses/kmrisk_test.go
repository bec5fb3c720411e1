package losses

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// refCensoringKM is an independent float64 reference for Ĝ(t_i-): for each i, the product over distinct
// censoring times u < t_i of 1 - c_u/(n_u - d_u), n_u = #{t ≥ u}, d_u/c_u the events/censorings at u.
func refCensoringKM(times []float64, events []bool) []float64 {
	out := make([]float64, len(times))
	for i, ti := range times {
		g := 1.0
		seen := map[float64]bool{}
		for _, u := range times {
			if seen[u] || !(u < ti) {
				continue
			}
			seen[u] = true
			nu, du, cu := 0, 0, 0
			for k, tk := range times {
				if tk >= u {
					nu++
				}
				if tk == u && events[k] {
					du++
				}
				if tk == u && !events[k] {
					cu++
				}
			}
			if cu > 0 {
				g *= 1 - float64(cu)/float64(nu-du)
			}
		}
		out[i] = g
	}
	return out
}

func refKMWeights(times []float64, events []bool, gMin float64) []float64 {
	g := refCensoringKM(times, events)
	w := make([]float64, len(times))
	for i := range w {
		if events[i] {
			w[i] = 1 / (float64(len(times)) * math.Max(g[i], gMin))
		}
	}
	return w
}

func survivalIn(pred, times, events []float64) map[string]Arr {
	return map[string]Arr{"predictions": Vec(pred...), "times": Vec(times...), "events": Vec(events...)}
}

func boolsOf(a Arr) []bool {
	b := make([]bool, len(a.Data))
	for i, v := range a.Data {
		b[i] = v != 0
	}
	return b
}

func refKMRisk(in map[string]Arr, p Params) (float64, []float64) {
	t := in["times"].Data
	w := refKMWeights(t, boolsOf(in["events"]), p["g_min"])
	sumW := 0.0
	for _, v := range w {
		sumW += v
	}
	n := float64(len(t))
	per := make([]float64, len(t))
	for i := range per {
		d := t[i] - in["predictions"].Data[i]
		per[i] = n * w[i] * d * d
		if p["self_normalized"] == 1 {
			per[i] /= sumW
		}
	}
	return MeanOf(per), per
}

func TestKMRiskReference(t *testing.T) {
	// Distinct times (finite differences move times, which must not reorder them).
	in := survivalIn([]float64{1.3, 2.5, 2.0, 3.9, 4.4, 0.7, 6.1}, []float64{1.1, 2.2, 2.9, 3.5, 5.0, 0.6, 7.3}, []float64{1, 0, 1, 0, 1, 0, 1})
	for _, p := range []Params{nil, {"g_min": 0}, {"g_min": 0, "self_normalized": 1}, {"g_min": 0.5}} {
		CheckObjective(t, "km-risk", in, p, refKMRisk)
	}
	huge := survivalIn([]float64{1e4, -1e4, 0, 5e3}, []float64{1e4, 2e4, 3, 1e4}, []float64{1, 0, 1, 1})
	CheckFinite(t, "km-risk", huge, Params{"g_min": 0})
	CheckFinite(t, "km-risk", huge, Params{"self_normalized": 1})
	CheckFinite(t, "km-risk", survivalIn([]float64{1, 2}, []float64{1, 2}, []float64{0, 0}), Params{"self_normalized": 1})
}

// Ties: the graph's pairwise KM equals the references with tied events and censorings (value check only;
// finite differences would break the ties).
func TestKMWeightsTies(t *testing.T) {
	times := []float64{2, 1, 2, 3, 2, 3, 1, 4, 3, 2}
	ev := []float64{1, 0, 0, 1, 0, 0, 1, 0, 1, 1}
	events := boolsOf(Vec(ev...))
	pred := make([]float64, len(times))
	in := survivalIn(pred, times, ev)
	got := EvalArr(t, "km-risk", in, Params{"g_min": 0}, 64)
	want := refKMWeights(times, events, 0)
	lib, err := KaplanMeierWeights(times, events, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range times {
		gw := got.PerExample[i] / (float64(len(times)) * times[i] * times[i])
		if math.Abs(gw-want[i]) > 1e-12 || math.Abs(lib[i]-want[i]) > 1e-12 {
			t.Errorf("w[%d]: graph %g, KaplanMeierWeights %g, reference %g", i, gw, lib[i], want[i])
		}
	}
}

// Properties 1–3: no censoring gives the MSE; the worked example; the Stute identity (also with ties).
func TestKMWorkedExample(t *testing.T) {
	w, err := KaplanMeierWeights([]float64{3, 1, 2}, []bool{true, true, true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range w {
		if math.Abs(v-1.0/3) > 1e-15 {
			t.Errorf("no censoring: w[%d] = %g, want 1/3", i, v)
		}
	}
	mse := survivalIn([]float64{0.5, 2.5, 2}, []float64{1, 2, 3}, []float64{1, 1, 1})
	if got := EvalArr(t, "km-risk", mse, nil, 64).Loss; math.Abs(got-(0.25+0.25+1)/3) > 1e-12 {
		t.Errorf("no censoring: KM risk %g, want the MSE %g", got, (0.25+0.25+1)/3)
	}

	times := []float64{1, 2, 3, 4, 5}
	events := []bool{true, false, true, true, false}
	g, _ := KMCensoringSurvival(times, events)
	w, _ = KaplanMeierWeights(times, events, 0)
	wantG := []float64{1, 1, 0.75, 0.75, 0.75}
	wantW := []float64{0.2, 0, 0.266667, 0.266667, 0}
	sum := 0.0
	for i := range times {
		if math.Abs(g[i]-wantG[i]) > 1e-12 || math.Abs(w[i]-wantW[i]) > 1e-6 {
			t.Errorf("worked example [%d]: Ĝ = %g (want %g), w = %g (want %g)", i, g[i], wantG[i], w[i], wantW[i])
		}
		sum += w[i]
	}
	if math.Abs(sum-0.733333) > 1e-6 {
		t.Errorf("Σw = %g, want 0.733333", sum)
	}
	// Graph weights on the same example, via the per-example losses with predictions 0: n·w_i·t_i².
	res := EvalArr(t, "km-risk", survivalIn(make([]float64, 5), times, []float64{1, 0, 1, 1, 0}), Params{"g_min": 0}, 32)
	for i := range times {
		if gw := res.PerExample[i] / (5 * times[i] * times[i]); math.Abs(gw-wantW[i]) > 1e-6 {
			t.Errorf("graph w[%d] = %g, want %g", i, gw, wantW[i])
		}
	}

	// Stute: w_i is the jump of Y's own KM at t_i (independent KM of Y, censored points at risk at ties).
	rng := rand.New(rand.NewPCG(20, 3))
	for trial := range 6 {
		n := 12 + rng.IntN(20)
		tt := make([]float64, n)
		ee := make([]bool, n)
		for i := range tt {
			tt[i] = float64(1 + rng.IntN(8)) // many ties
			ee[i] = rng.Float64() < 0.6
		}
		if trial == 0 {
			ee[0], tt[0] = true, 100 // largest uncensored: Σw = 1
		}
		w, _ := KaplanMeierWeights(tt, ee, 0)
		jump, sEnd := refKMJumps(tt, ee)
		sumW := 0.0
		for i := range tt {
			sumW += w[i]
			if math.Abs(w[i]-jump[i]) > 1e-12 {
				t.Errorf("trial %d: w[%d] = %g, KM jump per event %g", trial, i, w[i], jump[i])
			}
			if w[i] < 0 || (w[i] == 0) != !ee[i] {
				t.Errorf("trial %d: w[%d] = %g with δ=%v (property 5)", trial, i, w[i], ee[i])
			}
		}
		if math.Abs(sumW-(1-sEnd)) > 1e-12 || (trial == 0 && math.Abs(sumW-1) > 1e-12) {
			t.Errorf("trial %d: Σw = %g, 1 - Ŝ_Y(max) = %g", trial, sumW, 1-sEnd)
		}
		// Property 5: uncensored weights are non-decreasing in t.
		idx := make([]int, 0, n)
		for i := range tt {
			if ee[i] {
				idx = append(idx, i)
			}
		}
		sort.Slice(idx, func(a, b int) bool { return tt[idx[a]] < tt[idx[b]] })
		for k := 1; k < len(idx); k++ {
			if w[idx[k]] < w[idx[k-1]]-1e-15 {
				t.Errorf("trial %d: uncensored weights decrease in t", trial)
			}
		}
	}
}

// refKMJumps returns, per point, Y's Kaplan–Meier jump at its time divided by the number of events there
// (0 for censored points), and Ŝ_Y at the largest time.
func refKMJumps(times []float64, events []bool) ([]float64, float64) {
	uniq := append([]float64(nil), times...)
	sort.Float64s(uniq)
	s := 1.0
	jumpAt := map[float64]float64{}
	for k, u := range uniq {
		if k > 0 && u == uniq[k-1] {
			continue
		}
		nu, du := 0, 0
		for i, t := range times {
			if t >= u {
				nu++
			}
			if t == u && events[i] {
				du++
			}
		}
		if du > 0 {
			jumpAt[u] = s / float64(nu) // s·(du/nu) shared by du events
			s *= 1 - float64(du)/float64(nu)
		}
	}
	out := make([]float64, len(times))
	for i, t := range times {
		if events[i] {
			out[i] = jumpAt[t]
		}
	}
	return out, s
}

// Property 4: Monte Carlo unbiasedness. Y ~ Exp(1), C ~ Exp(mean 2), f = 0.7: the true risk is 1.09,
// IPCW with the true G and with KM weights recovers it, the naive estimates are far off (≈ 0.444).
func TestKMMonteCarlo(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 50000
	}
	rng := rand.New(rand.NewPCG(20, 4))
	times := make([]float64, n)
	events := make([]bool, n)
	trueIPCW, naive := 0.0, 0.0
	for i := range n {
		y, c := rng.ExpFloat64(), 2*rng.ExpFloat64()
		times[i], events[i] = math.Min(y, c), y <= c
		l := (times[i] - 0.7) * (times[i] - 0.7)
		naive += l / float64(n)
		if events[i] {
			trueIPCW += l / (float64(n) * math.Exp(-times[i]/2)) // G(t-) = P(C ≥ t) = exp(-t/2)
		}
	}
	w, err := KaplanMeierWeights(times, events, 0)
	if err != nil {
		t.Fatal(err)
	}
	km := 0.0
	for i := range n {
		km += w[i] * (times[i] - 0.7) * (times[i] - 0.7)
	}
	if math.Abs(trueIPCW-1.09) > 0.04 || math.Abs(km-1.09) > 0.04 {
		t.Errorf("IPCW estimates: true G %g, KM %g; want ≈ 1.09", trueIPCW, km)
	}
	if math.Abs(naive-0.444) > 0.02 {
		t.Errorf("naive MSE on observed times %g, want ≈ 0.444", naive)
	}
}

// Property 6: Beran with identical covariates or h → ∞ is the unconditional KM; a small h differs.
func TestBeranLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 5))
	n := 25
	x := make([][]float64, n)
	same := make([][]float64, n)
	times := make([]float64, n)
	events := make([]bool, n)
	for i := range n {
		x[i] = []float64{rng.Float64(), rng.Float64()}
		same[i] = []float64{0.3, 0.3}
		times[i] = float64(1 + rng.IntN(10))
		events[i] = rng.Float64() < 0.6
	}
	km, _ := KaplanMeierWeights(times, events, 0)
	for _, c := range []struct {
		x [][]float64
		h float64
	}{{same, 0.1}, {x, 1e6}} {
		b, err := BeranWeights(c.x, times, events, c.h, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range km {
			if math.Abs(b[i]-km[i]) > 1e-9 {
				t.Errorf("h=%g: Beran w[%d] = %g, KM %g", c.h, i, b[i], km[i])
			}
		}
	}
	b, _ := BeranWeights(x, times, events, 0.05, 0)
	diff := 0.0
	for i := range km {
		diff += math.Abs(b[i] - km[i])
	}
	if diff < 1e-6 {
		t.Error("Beran with a small bandwidth should differ from KM on random covariates")
	}
	if _, err := BeranWeights(x, times, events, 0, 0); err == nil {
		t.Error("expected an error for h = 0")
	}
}

// Property 7: d loss/d f_i = -2 w_i (t_i - f_i) for the mean loss, and no gradient through the weights
// (d loss/d t_i is only the square's +2 w_i (t_i - f_i)).
func TestKMGradient(t *testing.T) {
	pred := []float64{1.3, 2.5, 2.0, 3.9, 4.4}
	times := []float64{1, 2, 3, 4, 5}
	ev := []float64{1, 0, 1, 1, 0}
	res := EvalArr(t, "km-risk", survivalIn(pred, times, ev), Params{"g_min": 0}, 64)
	w := []float64{0.2, 0, 0.8 / 3, 0.8 / 3, 0}
	for i := range pred {
		want := -2 * w[i] * (times[i] - pred[i])
		if math.Abs(res.Grad["predictions"][i]-want) > 1e-12 || math.Abs(res.Grad["times"][i]+want) > 1e-12 {
			t.Errorf("[%d]: d/df = %g, d/dt = %g; want %g and %g", i, res.Grad["predictions"][i], res.Grad["times"][i], want, -want)
		}
	}
}
