package swiss

import (
	"fmt"
	"math"
	"slices"
)

// MaxConstantT is the largest constant elimination T with K·T ≤ M − 2: ⌊(M−2)/K⌋.
func MaxConstantT(M, K int) int {
	if M < 2 || K < 1 {
		return 0
	}
	return (M - 2) / K
}

// ConstantSchedule returns T_k = T for every one of K rounds.
func ConstantSchedule(K, T int) []int {
	s := make([]int, K)
	for k := range s {
		s[k] = T
	}
	return s
}

// EarlySchedule returns T_k = T for the first `rounds` rounds and 0 afterwards (elimination only in
// the early rounds).
func EarlySchedule(K, T, rounds int) []int {
	s := make([]int, K)
	for k := range min(rounds, K) {
		s[k] = T
	}
	return s
}

// Profile is a failure-sensitivity profile: Est[i] estimates E[S_m] under the elimination
// schedule Schedules[i] (for a constant sweep, Schedules[i] = ConstantSchedule(K, Ts[i])).
type Profile struct {
	Ts        []int
	Schedules [][]int
	Est       []*Estimate
}

// FailureProfile estimates the expected win scores for each constant elimination T in Ts (T_k = T in
// every round), with N runs each, the odd-group policy odd and the same seed for every T (common
// random numbers make the differences between settings less noisy). Every T must satisfy
// K·T ≤ M − 2.
func FailureProfile(o *Outcomes, odd OddPolicy, Ts []int, N int, seed uint64) (*Profile, error) {
	if len(Ts) == 0 {
		return nil, fmt.Errorf("swiss: FailureProfile needs at least one T")
	}
	p := &Profile{Ts: append([]int(nil), Ts...)}
	for _, T := range Ts {
		sched := ConstantSchedule(o.K, T)
		t, err := NewTournament(o, Options{Elimination: sched, Odd: odd})
		if err != nil {
			return nil, fmt.Errorf("swiss: FailureProfile T=%d: %w", T, err)
		}
		e, err := t.Expected(N, seed)
		if err != nil {
			return nil, err
		}
		p.Schedules = append(p.Schedules, sched)
		p.Est = append(p.Est, e)
	}
	return p, nil
}

// Scores returns Ŝ_m across the profile: out[m][i] is model m's expected score under setting i.
func (p *Profile) Scores() [][]float64 {
	M := len(p.Est[0].Mean)
	out := make([][]float64, M)
	for m := range M {
		out[m] = make([]float64, len(p.Est))
		for i, e := range p.Est {
			out[m][i] = e.Mean[m]
		}
	}
	return out
}

// Drop returns Δ_m = Ŝ_m(first setting) − Ŝ_m(setting i) for every model.
func (p *Profile) Drop(i int) []float64 {
	d := make([]float64, len(p.Est[0].Mean))
	for m := range d {
		d[m] = p.Est[0].Mean[m] - p.Est[i].Mean[m]
	}
	return d
}

// RelDrop returns Δ_m / Ŝ_m(first setting) (NaN where Ŝ_m(first) = 0).
func (p *Profile) RelDrop(i int) []float64 {
	d := p.Drop(i)
	for m := range d {
		if base := p.Est[0].Mean[m]; base != 0 {
			d[m] /= base
		} else {
			d[m] = math.NaN()
		}
	}
	return d
}

// RankChange returns rank(setting i) − rank(first setting) per model (positive: the model fell).
func (p *Profile) RankChange(i int) []float64 {
	r0, ri := Ranks(p.Est[0].Mean), Ranks(p.Est[i].Mean)
	out := make([]float64, len(r0))
	for m := range out {
		out[m] = ri[m] - r0[m]
	}
	return out
}

// Ranks returns the rank of each value, 1 for the highest; tied values share the mean of their
// ranks (e.g. two models tied for first both get 1.5).
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] > v[b]:
			return -1
		case v[a] < v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// MeanScore returns the static mean r̄_m = (1/K) Σ_k R_mk of each model.
func MeanScore(R [][]float64) []float64 {
	out := make([]float64, len(R))
	for m, row := range R {
		for _, v := range row {
			out[m] += v
		}
		out[m] /= float64(len(row))
	}
	return out
}

// RankAverage returns each model's mean rank across benchmarks (1 = best; lower is better).
func RankAverage(R [][]float64) []float64 {
	M := len(R)
	out := make([]float64, M)
	if M == 0 {
		return out
	}
	K := len(R[0])
	col := make([]float64, M)
	for k := range K {
		for m := range M {
			col[m] = R[m][k]
		}
		for m, r := range Ranks(col) {
			out[m] += r / float64(K)
		}
	}
	return out
}

// Copeland returns the round-robin score C_m = Σ_k Σ_j Points[k][m][j]: every model plays every
// other on every benchmark.
func Copeland(o *Outcomes) []float64 {
	out := make([]float64, o.M)
	for k := range o.K {
		for m := range o.M {
			for _, v := range o.Points[k][m] {
				out[m] += v
			}
		}
	}
	return out
}
