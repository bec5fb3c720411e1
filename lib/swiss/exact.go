package swiss

import (
	"errors"
	"math"
)

// ExactLimit bounds the number of equally weighted tournament outcomes Exact enumerates.
const ExactLimit = 20_000_000

// ErrTooLarge is returned by Exact when the enumeration would exceed ExactLimit outcomes.
var ErrTooLarge = errors.New("swiss: tournament too large to enumerate exactly; use Expected")

// Exact computes E[S_m] exactly by enumerating every pairing (each score group's matchings and byes
// are equally likely, as with a uniform shuffle) and every elimination subset, weighting each branch
// by its probability. It is meant for small cases (a handful of models) and returns ErrTooLarge
// beyond ExactLimit outcomes.
func (t *Tournament) Exact() ([]float64, error) {
	o := t.o
	exp := make([]float64, o.M)
	leaves := 0
	var round func(k int, scores []float64, active []bool, p float64) error
	round = func(k int, scores []float64, active []bool, p float64) error {
		if k == o.K {
			leaves++
			if leaves > ExactLimit {
				return ErrTooLarge
			}
			for m, v := range scores {
				exp[m] += p * v
			}
			return nil
		}
		st := &state{scores: scores, active: active}
		order, bounds := st.groups(nil)
		var groups [][]int
		for g := 0; g+1 < len(bounds); g++ {
			groups = append(groups, append([]int(nil), order[bounds[g]:bounds[g+1]]...))
		}
		next := append([]float64(nil), scores...)
		pts := o.Points[k]
		play := func(i, j int, sign float64) {
			next[i] += sign * pts[i][j]
			next[j] += sign * pts[j][i]
		}
		var group func(g, floater int, p float64) error
		group = func(g, floater int, p float64) error {
			if g == len(groups) { // a remaining floater gets a zero bye
				return t.eliminateExact(k, next, active, p, round)
			}
			mem := groups[g]
			body := func(rest []int, p float64) error {
				return matchings(rest, func(pairs [][2]int, unpaired int, q float64) error {
					for _, pr := range pairs {
						play(pr[0], pr[1], 1)
					}
					nf := -1
					if t.odd == FloatDown {
						nf = unpaired
					}
					err := group(g+1, nf, p*q)
					for _, pr := range pairs {
						play(pr[0], pr[1], -1)
					}
					return err
				})
			}
			if floater < 0 {
				return body(mem, p)
			}
			for j, opp := range mem {
				rest := append(append([]int(nil), mem[:j]...), mem[j+1:]...)
				play(floater, opp, 1)
				err := body(rest, p/float64(len(mem)))
				play(floater, opp, -1)
				if err != nil {
					return err
				}
			}
			return nil
		}
		return group(0, -1, p)
	}
	active := make([]bool, o.M)
	for i := range active {
		active[i] = true
	}
	if err := round(0, make([]float64, o.M), active, 1); err != nil {
		return nil, err
	}
	return exp, nil
}

// eliminateExact enumerates the elimination after round k and continues with round k+1.
func (t *Tournament) eliminateExact(k int, scores []float64, active []bool, p float64,
	round func(int, []float64, []bool, float64) error) error {
	var step func(T int, active []bool, p float64) error
	step = func(T int, active []bool, p float64) error {
		if T == 0 {
			return round(k+1, scores, active, p)
		}
		low := math.Inf(1)
		for m, a := range active {
			if a {
				low = math.Min(low, scores[m])
			}
		}
		if math.IsInf(low, 1) {
			return round(k+1, scores, active, p)
		}
		var g []int
		for m, a := range active {
			if a && scores[m] == low {
				g = append(g, m)
			}
		}
		if len(g) <= T {
			na := append([]bool(nil), active...)
			for _, m := range g {
				na[m] = false
			}
			return step(T-len(g), na, p)
		}
		q := 1 / binomial(len(g), T)
		return combinations(g, T, func(sub []int) error {
			na := append([]bool(nil), active...)
			for _, m := range sub {
				na[m] = false
			}
			return round(k+1, scores, na, p*q)
		})
	}
	return step(t.elim[k], active, p)
}

// matchings calls fn for every equally likely outcome of shuffling mem and pairing consecutive
// entries: for even n every perfect matching (probability 1/(n−1)!!), for odd n every choice of the
// unpaired model times every perfect matching of the rest (probability 1/(n·(n−2)!!)). unpaired is −1
// for even n.
func matchings(mem []int, fn func(pairs [][2]int, unpaired int, q float64) error) error {
	n := len(mem)
	if n%2 == 0 {
		return perfect(mem, nil, 1, func(pairs [][2]int, q float64) error { return fn(pairs, -1, q) })
	}
	for u := range mem {
		rest := append(append([]int(nil), mem[:u]...), mem[u+1:]...)
		err := perfect(rest, nil, 1/float64(n), func(pairs [][2]int, q float64) error { return fn(pairs, mem[u], q) })
		if err != nil {
			return err
		}
	}
	return nil
}

// perfect enumerates the perfect matchings of an even-sized list, each with probability 1/(n−1)!!.
func perfect(mem []int, pairs [][2]int, q float64, fn func([][2]int, float64) error) error {
	if len(mem) == 0 {
		return fn(pairs, q)
	}
	first := mem[0]
	for j := 1; j < len(mem); j++ {
		rest := make([]int, 0, len(mem)-2)
		rest = append(rest, mem[1:j]...)
		rest = append(rest, mem[j+1:]...)
		if err := perfect(rest, append(pairs, [2]int{first, mem[j]}), q/float64(len(mem)-1), fn); err != nil {
			return err
		}
	}
	return nil
}

// combinations calls fn with every r-subset of g.
func combinations(g []int, r int, fn func([]int) error) error {
	sub := make([]int, 0, r)
	var rec func(start int) error
	rec = func(start int) error {
		if len(sub) == r {
			return fn(sub)
		}
		for i := start; i <= len(g)-(r-len(sub)); i++ {
			sub = append(sub, g[i])
			if err := rec(i + 1); err != nil {
				return err
			}
			sub = sub[:len(sub)-1]
		}
		return nil
	}
	return rec(0)
}

func binomial(n, r int) float64 {
	b := 1.0
	for i := range r {
		b = b * float64(n-i) / float64(i+1)
	}
	return b
}
