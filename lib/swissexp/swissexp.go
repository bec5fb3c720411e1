// Package swissexp runs the failure-sensitivity experiment of Liu, Wu, Wu, Liu, Wang, Zhou, Huang &
// Namkoong, "LLM Swiss Round: Aggregating Multi-Benchmark Performance via Competitive Swiss-System
// Dynamics", arXiv:2512.21010, at notebook scale and in the form a verdict needs.
//
// The paper's qualitative claim: under elimination pressure, models that fail early ("late specialists",
// strong only on the last benchmarks) lose a larger share of their expected win score than generalists,
// while early specialists and the strongest generalists keep theirs. No real multi-benchmark score table
// is available offline, so the claim is measured on lib/swiss's synthetic stand-in (twelve generalists
// with noisy levels, two early and two late specialists). Independent runs are independent draws of
// that matrix's noise, each with its own tournament stream; per run and odd-group policy, the relative
// drop Δ_m/Ŝ_m(0) at the largest constant elimination T is compared against the median generalist's.
// A model whose Ŝ(0) is 0 has no relative drop; it counts against the claim (as no drop for a late
// specialist, as a full drop for an early specialist or a strong generalist).
package swissexp

import (
	"fmt"
	"math"
	"slices"

	"github.com/losslab/losslab/lib/swiss"
)

// Config sizes the experiment.
type Config struct {
	Seeds    []uint64          // one independent synthetic matrix (and tournament stream) per seed; ≥ 3
	N        int               // tournaments per setting (the paper uses 100 000)
	Policies []swiss.OddPolicy // odd-group rules to run: the paper's zero bye, and floating for comparison
}

// Default is the notebook's setting: 5 independent matrices, 100 000 tournaments per setting.
func Default() Config {
	return Config{Seeds: []uint64{1, 2, 3, 4, 5}, N: 100000, Policies: []swiss.OddPolicy{swiss.Bye0, swiss.FloatDown}}
}

// Quick is CI's size (the same code path).
func Quick() Config {
	return Config{Seeds: []uint64{1, 2, 3}, N: 3000, Policies: []swiss.OddPolicy{swiss.Bye0, swiss.FloatDown}}
}

// Run is one seed's profiles, one per policy (in Config.Policies order).
type Run struct {
	Seed     uint64           `json:"seed"`
	Profiles []*swiss.Profile `json:"profiles"`
}

// Result is the experiment: the synthetic matrix's names and kinds (the same for every seed) and one Run
// per seed.
type Result struct {
	Names    []string          `json:"names"`
	Kinds    []string          `json:"kinds"`
	Policies []swiss.OddPolicy `json:"policies"`
	Runs     []Run             `json:"runs"`
}

// Experiment runs every seed and policy over constant eliminations T = 0 … MaxConstantT; progress, when
// not nil, is called after each profile.
func Experiment(c Config, progress func(string)) (Result, error) {
	if len(c.Seeds) < 3 {
		return Result{}, fmt.Errorf("swissexp: %d seeds, a claim is decided on at least 3 independent runs", len(c.Seeds))
	}
	if c.N < 2 || len(c.Policies) == 0 {
		return Result{}, fmt.Errorf("swissexp: N = %d tournaments and %d policies, want N ≥ 2 and a policy", c.N, len(c.Policies))
	}
	res := Result{Policies: c.Policies}
	for _, seed := range c.Seeds {
		R, names, kinds := swiss.Synthetic(seed)
		res.Names, res.Kinds = names, kinds
		o, err := swiss.NewOutcomes(R, swiss.OutcomeOptions{})
		if err != nil {
			return Result{}, err
		}
		Ts := make([]int, swiss.MaxConstantT(o.M, o.K)+1)
		for i := range Ts {
			Ts[i] = i
		}
		run := Run{Seed: seed}
		for _, pol := range c.Policies {
			p, err := swiss.FailureProfile(o, pol, Ts, c.N, seed)
			if err != nil {
				return Result{}, fmt.Errorf("swissexp: seed %d, %s: %w", seed, pol, err)
			}
			run.Profiles = append(run.Profiles, p)
			if progress != nil {
				progress(fmt.Sprintf("seed %d %s", seed, pol))
			}
		}
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

// Drops is, per run, the relative drops at the largest T that the claims compare.
type Drops struct {
	MedianGeneralist []float64 // the median generalist's relative drop
	LateMin          []float64 // the smaller of the late specialists' drops (undefined: 0)
	EarlyMax         []float64 // the larger of the early specialists' drops (undefined: 1)
	StrongMax        []float64 // the larger of the two strongest generalists' drops (undefined: 1)
}

// Drops returns the compared drops under the policy with index p of r.Policies.
func (r Result) Drops(p int) (Drops, error) {
	if p < 0 || p >= len(r.Policies) {
		return Drops{}, fmt.Errorf("swissexp: policy index %d of %d", p, len(r.Policies))
	}
	var d Drops
	for _, run := range r.Runs {
		prof := run.Profiles[p]
		last := len(prof.Ts) - 1
		rel := prof.RelDrop(last)
		base := prof.Est[0].Mean
		var gen []float64
		var strong []int // generalists by base score, strongest last
		late, early := math.Inf(1), math.Inf(-1)
		for m, k := range r.Kinds {
			switch k {
			case swiss.Generalist:
				gen = append(gen, rel[m])
				strong = append(strong, m)
			case swiss.LateSpecialist:
				late = math.Min(late, orElse(rel[m], 0))
			case swiss.EarlySpecialist:
				early = math.Max(early, orElse(rel[m], 1))
			}
		}
		if len(gen) < 3 || math.IsInf(late, 0) || math.IsInf(early, 0) {
			return Drops{}, fmt.Errorf("swissexp: the matrix lacks generalists or specialists")
		}
		slices.SortStableFunc(strong, func(i, j int) int { return cmpFloat(base[i], base[j]) })
		top := strong[len(strong)-2:]
		d.MedianGeneralist = append(d.MedianGeneralist, median(gen))
		d.LateMin = append(d.LateMin, late)
		d.EarlyMax = append(d.EarlyMax, early)
		d.StrongMax = append(d.StrongMax, math.Max(orElse(rel[top[0]], 1), orElse(rel[top[1]], 1)))
	}
	return d, nil
}

func orElse(x, def float64) float64 {
	if math.IsNaN(x) {
		return def
	}
	return x
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// median is the median of the non-NaN values of xs (NaN when there are none).
func median(xs []float64) float64 {
	var s []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ExampleRow is one setting of the paper's four-model worked example: A = (90, 50), B = (80, 70),
// C = (70, 80), D = (60, 60).
type ExampleRow struct {
	Setting string
	Hand    []float64 // expectations derived by hand
	Exact   []float64 // by enumeration (Tournament.Exact)
	MC      []float64 // Monte Carlo estimate
	MaxZ    float64   // largest |MC − exact| / SE over the models with SE > 0
}

// ExampleScores is the worked example's score matrix (models A–D, two benchmarks).
var ExampleScores = [][]float64{{90, 50}, {80, 70}, {70, 80}, {60, 60}}

// WorkedExample evaluates the worked example in its three settings (no elimination; T = (1, 0); the
// benchmark order reversed) exactly and with N Monte Carlo tournaments.
func WorkedExample(N int, seed uint64) ([]ExampleRow, error) {
	o, err := swiss.NewOutcomes(ExampleScores, swiss.OutcomeOptions{})
	if err != nil {
		return nil, err
	}
	cases := []struct {
		name string
		o    *swiss.Outcomes
		opts swiss.Options
		hand []float64
	}{
		{"T = (0,0)", o, swiss.Options{}, []float64{1, 5.0 / 3, 4.0 / 3, 0}},
		{"T = (1,0)", o, swiss.Options{Elimination: []int{1, 0}}, []float64{1, 4.0 / 3, 2.0 / 3, 0}},
		{"order reversed, T = 0", o.Reversed(), swiss.Options{}, []float64{1, 4.0 / 3, 4.0 / 3, 1.0 / 3}},
	}
	var rows []ExampleRow
	for _, c := range cases {
		t, err := swiss.NewTournament(c.o, c.opts)
		if err != nil {
			return nil, err
		}
		ex, err := t.Exact()
		if err != nil {
			return nil, err
		}
		mc, err := t.Expected(N, seed)
		if err != nil {
			return nil, err
		}
		row := ExampleRow{Setting: c.name, Hand: c.hand, Exact: ex, MC: mc.Mean}
		for m := range ex {
			if mc.SE[m] > 0 {
				row.MaxZ = math.Max(row.MaxZ, math.Abs(mc.Mean[m]-ex[m])/mc.SE[m])
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// MaxHandGap is the largest |exact − hand| over the rows and models.
func MaxHandGap(rows []ExampleRow) float64 {
	g := 0.0
	for _, r := range rows {
		for m := range r.Hand {
			g = math.Max(g, math.Abs(r.Exact[m]-r.Hand[m]))
		}
	}
	return g
}

// ZeroBase counts, over the runs, the models of the given kind whose expected score without elimination
// is 0 under the policy with index p (they have nothing to lose, so no relative drop).
func (r Result) ZeroBase(p int, kind string) int {
	n := 0
	for _, run := range r.Runs {
		base := run.Profiles[p].Est[0].Mean
		for m, k := range r.Kinds {
			if k == kind && base[m] == 0 {
				n++
			}
		}
	}
	return n
}
