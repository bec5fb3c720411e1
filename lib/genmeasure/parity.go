package genmeasure

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// ParityStats describes learning a uniformly random parity on F₂ⁿ from m uniform examples with the
// learner that returns a uniformly random parity consistent with the sample (Gaussian elimination).
// With k = n − rank(X_S), the learner is exact with probability 2^{-k} and otherwise has test error
// exactly ½; an estimator that knows S and the algorithm can do no better, in mean absolute error,
// than ½·min(2^{-k}, 1 − 2^{-k}).
type ParityStats struct {
	N, M int
	// PExact is P(learned parity = target); MeanError the mean test error.
	PExact, MeanError float64
	// BestEstimation is the smallest achievable E|test error − estimate| for any estimator of S and the algorithm.
	BestEstimation float64
}

// ParityExact returns the exact ParityStats from the rank law: from rank r, a new uniform vector keeps
// the rank with probability 2^{r−n}.
func ParityExact(n, m int) (ParityStats, error) {
	if n < 1 || n > 62 || m < 0 {
		return ParityStats{}, fmt.Errorf("genmeasure.ParityExact: need 1 ≤ n ≤ 62 and m ≥ 0, got n=%d m=%d", n, m)
	}
	p := make([]float64, n+1) // p[r] = P(rank = r)
	p[0] = 1
	for s := 0; s < m; s++ {
		q := make([]float64, n+1)
		for r, pr := range p {
			if pr == 0 {
				continue
			}
			stay := math.Ldexp(1, r-n)
			q[r] += pr * stay
			if r < n {
				q[r+1] += pr * (1 - stay)
			}
		}
		p = q
	}
	st := ParityStats{N: n, M: m}
	for r, pr := range p {
		e := math.Ldexp(1, r-n) // 2^{-k}
		st.PExact += pr * e
		st.MeanError += pr * 0.5 * (1 - e)
		st.BestEstimation += pr * 0.5 * math.Min(e, 1-e)
	}
	return st, nil
}

// ParitySimulate runs trials of the experiment: a random target parity, m uniform examples, the
// random consistent parity found by Gaussian elimination over F₂, its exact test error (0 or ½), and
// the realised |error − estimate| of the best estimator (estimate 0 when the sample has full rank,
// ½ otherwise). It returns the empirical ParityStats.
func ParitySimulate(n, m, trials int, seed uint64) (ParityStats, error) {
	if n < 1 || n > 62 || m < 0 || trials < 1 {
		return ParityStats{}, fmt.Errorf("genmeasure.ParitySimulate: need 1 ≤ n ≤ 62, m ≥ 0 and trials ≥ 1, got n=%d m=%d trials=%d", n, m, trials)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	mask := uint64(1)<<n - 1
	st := ParityStats{N: n, M: m}
	for t := 0; t < trials; t++ {
		target := rng.Uint64() & mask
		rows := make([]uint64, m)
		ys := make([]uint64, m)
		for i := range rows {
			rows[i] = rng.Uint64() & mask
			ys[i] = uint64(bits.OnesCount64(rows[i]&target) & 1)
		}
		learned, k := randomConsistent(rows, ys, n, rng)
		errRate, est := 0.5, 0.5
		if learned == target {
			errRate = 0
		}
		if k == 0 {
			est = 0
		}
		if errRate == 0 {
			st.PExact++
		}
		st.MeanError += errRate
		st.BestEstimation += math.Abs(errRate - est)
	}
	f := float64(trials)
	st.PExact /= f
	st.MeanError /= f
	st.BestEstimation /= f
	return st, nil
}

// randomConsistent solves rows·s = ys over F₂ and returns a uniformly random solution and the
// dimension k of the solution space. The system is consistent because the labels come from a parity.
func randomConsistent(rows, ys []uint64, n int, rng *rand.Rand) (uint64, int) {
	r := append([]uint64(nil), rows...)
	y := append([]uint64(nil), ys...)
	var pivots []int
	row := 0
	for col := 0; col < n && row < len(r); col++ {
		bit := uint64(1) << col
		sel := -1
		for i := row; i < len(r); i++ {
			if r[i]&bit != 0 {
				sel = i
				break
			}
		}
		if sel < 0 {
			continue
		}
		r[row], r[sel] = r[sel], r[row]
		y[row], y[sel] = y[sel], y[row]
		for i := range r {
			if i != row && r[i]&bit != 0 {
				r[i] ^= r[row]
				y[i] ^= y[row]
			}
		}
		pivots = append(pivots, col)
		row++
	}
	isPivot := make([]bool, n)
	for _, c := range pivots {
		isPivot[c] = true
	}
	// Free variables get random bits; each pivot variable is then fixed by its row.
	var s uint64
	k := 0
	for c := 0; c < n; c++ {
		if !isPivot[c] {
			k++
			if rng.IntN(2) == 1 {
				s |= 1 << c
			}
		}
	}
	for i, c := range pivots {
		others := r[i] &^ (1 << c)
		v := y[i] ^ uint64(bits.OnesCount64(others&s)&1)
		s |= v << c
	}
	return s, k
}
