package swiss

import (
	"errors"
	"fmt"
	"math"
)

// TiePolicy says what a tie on a benchmark is worth.
type TiePolicy int

const (
	// TieNone gives no point to either model (the default).
	TieNone TiePolicy = iota
	// TieHalf gives ½ point to each model.
	TieHalf
)

// OutcomeOptions sets how scores become pairwise outcomes.
type OutcomeOptions struct {
	Ties TiePolicy
	// Tolerance τ ≥ 0: scores with |R_ik − R_jk| ≤ τ are a tie (default 0: only equal scores tie).
	Tolerance float64
}

// Outcomes is the pairwise outcome tensor of M models on K ordered benchmarks:
// Points[k][i][j] is what model i scores against model j on benchmark k (1 win, 0 loss, 0 or ½ tie).
type Outcomes struct {
	M, K   int
	Points [][][]float64 // [k][i][j]
}

// NewOutcomes computes the outcome tensor from the score matrix R[m][k] (model m, benchmark k, higher
// is better; benchmarks in tournament order).
func NewOutcomes(R [][]float64, opts OutcomeOptions) (*Outcomes, error) {
	M := len(R)
	if M < 2 {
		return nil, fmt.Errorf("swiss: need at least 2 models, got %d", M)
	}
	K := len(R[0])
	if K < 1 {
		return nil, errors.New("swiss: need at least 1 benchmark")
	}
	for m, row := range R {
		if len(row) != K {
			return nil, fmt.Errorf("swiss: model %d has %d benchmark scores, model 0 has %d", m, len(row), K)
		}
		for k, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("swiss: score of model %d on benchmark %d is %v", m, k, v)
			}
		}
	}
	if opts.Ties != TieNone && opts.Ties != TieHalf {
		return nil, fmt.Errorf("swiss: unknown tie policy %d", int(opts.Ties))
	}
	if !(opts.Tolerance >= 0) || math.IsInf(opts.Tolerance, 0) {
		return nil, fmt.Errorf("swiss: Tolerance must be finite and ≥ 0, got %v", opts.Tolerance)
	}
	tie := 0.0
	if opts.Ties == TieHalf {
		tie = 0.5
	}
	o := &Outcomes{M: M, K: K, Points: make([][][]float64, K)}
	for k := range K {
		o.Points[k] = make([][]float64, M)
		for i := range M {
			o.Points[k][i] = make([]float64, M)
			for j := range M {
				if i == j {
					continue
				}
				d := R[i][k] - R[j][k]
				switch {
				case math.Abs(d) <= opts.Tolerance:
					o.Points[k][i][j] = tie
				case d > 0:
					o.Points[k][i][j] = 1
				}
			}
		}
	}
	return o, nil
}

// Beats reports whether model i beats model j on benchmark k (a strict win, not a tie).
func (o *Outcomes) Beats(i, j, k int) bool { return o.Points[k][i][j] == 1 }

// Reversed returns the outcomes with the benchmark order reversed (D_K first).
func (o *Outcomes) Reversed() *Outcomes {
	r := &Outcomes{M: o.M, K: o.K, Points: make([][][]float64, o.K)}
	for k := range o.K {
		r.Points[k] = o.Points[o.K-1-k]
	}
	return r
}

// Permuted returns the outcomes of the same models relabelled: new model perm[i] is old model i.
func (o *Outcomes) Permuted(perm []int) (*Outcomes, error) {
	if err := checkPerm(perm, o.M); err != nil {
		return nil, err
	}
	r := &Outcomes{M: o.M, K: o.K, Points: make([][][]float64, o.K)}
	for k := range o.K {
		r.Points[k] = make([][]float64, o.M)
		for i := range o.M {
			r.Points[k][i] = make([]float64, o.M)
		}
		for i := range o.M {
			for j := range o.M {
				r.Points[k][perm[i]][perm[j]] = o.Points[k][i][j]
			}
		}
	}
	return r, nil
}

func checkPerm(perm []int, n int) error {
	if len(perm) != n {
		return fmt.Errorf("swiss: permutation has %d entries, want %d", len(perm), n)
	}
	seen := make([]bool, n)
	for _, p := range perm {
		if p < 0 || p >= n || seen[p] {
			return fmt.Errorf("swiss: %v is not a permutation of 0..%d", perm, n-1)
		}
		seen[p] = true
	}
	return nil
}
