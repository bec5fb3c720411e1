package swiss

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// OddPolicy says what happens to the unpaired model of an odd score group.
type OddPolicy int

const (
	// Bye0 gives it a bye worth 0 points (the CSD rule; prevents score inflation).
	Bye0 OddPolicy = iota
	// FloatDown moves it into the next lower score group, where it plays a uniformly random member;
	// the odd model of the lowest group gets a zero bye.
	FloatDown
)

func (p OddPolicy) String() string {
	switch p {
	case Bye0:
		return "bye0"
	case FloatDown:
		return "floatDown"
	}
	return fmt.Sprintf("OddPolicy(%d)", int(p))
}

// Options configures a tournament.
type Options struct {
	// Elimination[k] = T_k, how many models of the lowest score group are eliminated after round k
	// (nil: none). Its length must be K, entries ≥ 0 and Σ_k T_k ≤ M − 2.
	Elimination []int
	Odd         OddPolicy
}

// Tournament plays CSD tournaments on fixed outcomes.
type Tournament struct {
	o    *Outcomes
	odd  OddPolicy
	elim []int
}

// NewTournament checks the options against the outcomes.
func NewTournament(o *Outcomes, opts Options) (*Tournament, error) {
	if o == nil || o.M < 2 || o.K < 1 {
		return nil, errors.New("swiss: NewTournament needs outcomes with ≥ 2 models and ≥ 1 benchmark")
	}
	if opts.Odd != Bye0 && opts.Odd != FloatDown {
		return nil, fmt.Errorf("swiss: unknown odd-group policy %d", int(opts.Odd))
	}
	elim := make([]int, o.K)
	if opts.Elimination != nil {
		if len(opts.Elimination) != o.K {
			return nil, fmt.Errorf("swiss: Elimination has %d entries, want one per benchmark (%d)", len(opts.Elimination), o.K)
		}
		sum := 0
		for k, T := range opts.Elimination {
			if T < 0 {
				return nil, fmt.Errorf("swiss: Elimination[%d] = %d is negative", k, T)
			}
			sum += T
		}
		if sum > o.M-2 {
			return nil, fmt.Errorf("swiss: Elimination removes %d models in total; at most M−2 = %d may go so that two reach the last round", sum, o.M-2)
		}
		copy(elim, opts.Elimination)
	}
	return &Tournament{o: o, odd: opts.Odd, elim: elim}, nil
}

// Round records one round of a tournament.
type Round struct {
	Pairs      [][2]int  // who played whom
	Byes       []int     // models that got a zero bye
	Eliminated []int     // models eliminated after the round
	Scores     []float64 // everyone's score after the round
}

// Trace is the full record of one tournament.
type Trace struct {
	Rounds []Round
	Final  []float64
}

// Play runs one tournament and returns the final scores.
func (t *Tournament) Play(rng *rand.Rand) []float64 {
	s := t.newState()
	t.play(rng, s, nil)
	return s.scores
}

// PlayTrace runs one tournament and records every round.
func (t *Tournament) PlayTrace(rng *rand.Rand) *Trace {
	s := t.newState()
	tr := &Trace{}
	t.play(rng, s, tr)
	tr.Final = s.scores
	return tr
}

type state struct {
	scores  []float64
	active  []bool
	order   []int // work buffer
	members []int // work buffer
}

func (t *Tournament) newState() *state {
	M := t.o.M
	s := &state{scores: make([]float64, M), active: make([]bool, M), order: make([]int, 0, M), members: make([]int, 0, M+1)}
	for i := range s.active {
		s.active[i] = true
	}
	return s
}

func (s *state) reset() {
	clear(s.scores)
	for i := range s.active {
		s.active[i] = true
	}
}

// groups returns the active models sorted by score, highest first (ties by index), and the start
// offsets of each score group in that order (with a final sentinel).
func (s *state) groups(bounds []int) ([]int, []int) {
	s.order = s.order[:0]
	for m, a := range s.active {
		if a {
			s.order = append(s.order, m)
		}
	}
	slices.SortStableFunc(s.order, func(a, b int) int {
		switch {
		case s.scores[a] > s.scores[b]:
			return -1
		case s.scores[a] < s.scores[b]:
			return 1
		}
		return 0
	})
	bounds = bounds[:0]
	for i, m := range s.order {
		if i == 0 || s.scores[m] != s.scores[s.order[i-1]] {
			bounds = append(bounds, i)
		}
	}
	return s.order, append(bounds, len(s.order))
}

func (t *Tournament) play(rng *rand.Rand, s *state, tr *Trace) {
	o := t.o
	gain := make([]float64, o.M)
	bounds := make([]int, 0, o.M+1)
	for k := range o.K {
		var rd *Round
		if tr != nil {
			tr.Rounds = append(tr.Rounds, Round{})
			rd = &tr.Rounds[k]
		}
		clear(gain)
		pts := o.Points[k]
		match := func(i, j int) {
			gain[i] += pts[i][j]
			gain[j] += pts[j][i]
			if rd != nil {
				rd.Pairs = append(rd.Pairs, [2]int{i, j})
			}
		}
		bye := func(i int) {
			if rd != nil {
				rd.Byes = append(rd.Byes, i)
			}
		}
		var order []int
		order, bounds = s.groups(bounds)
		floater := -1
		for g := 0; g+1 < len(bounds); g++ {
			mem := append(s.members[:0], order[bounds[g]:bounds[g+1]]...)
			if floater >= 0 {
				j := rng.IntN(len(mem))
				match(floater, mem[j])
				mem[j] = mem[len(mem)-1]
				mem = mem[:len(mem)-1]
				floater = -1
			}
			rng.Shuffle(len(mem), func(a, b int) { mem[a], mem[b] = mem[b], mem[a] })
			for i := 0; i+1 < len(mem); i += 2 {
				match(mem[i], mem[i+1])
			}
			if len(mem)%2 == 1 {
				if t.odd == FloatDown {
					floater = mem[len(mem)-1]
				} else {
					bye(mem[len(mem)-1])
				}
			}
		}
		if floater >= 0 {
			bye(floater)
		}
		for m := range s.scores {
			s.scores[m] += gain[m]
		}
		t.eliminate(rng, s, k, rd)
		if rd != nil {
			rd.Scores = append([]float64(nil), s.scores...)
		}
	}
}

// eliminate removes T_k models from the lowest score groups, uniformly at random within a group.
func (t *Tournament) eliminate(rng *rand.Rand, s *state, k int, rd *Round) {
	T := t.elim[k]
	for T > 0 {
		low := math.Inf(1)
		for m, a := range s.active {
			if a {
				low = math.Min(low, s.scores[m])
			}
		}
		if math.IsInf(low, 1) {
			return
		}
		g := s.members[:0]
		for m, a := range s.active {
			if a && s.scores[m] == low {
				g = append(g, m)
			}
		}
		n := min(T, len(g))
		for i := range n { // partial Fisher–Yates: the first n are a uniform n-subset
			j := i + rng.IntN(len(g)-i)
			g[i], g[j] = g[j], g[i]
			s.active[g[i]] = false
			if rd != nil {
				rd.Eliminated = append(rd.Eliminated, g[i])
			}
		}
		T -= n
	}
}

// Estimate is a Monte Carlo estimate of the expected win scores.
type Estimate struct {
	N    int
	Mean []float64 // Ŝ_m = (1/N) Σ_n S_m^(n)
	SD   []float64 // sample standard deviation of S_m over runs
	SE   []float64 // standard error SD/√N
}

// Expected estimates E[S_m] from N independent tournaments seeded by seed (the same seed gives the
// same estimate).
func (t *Tournament) Expected(N int, seed uint64) (*Estimate, error) {
	if N < 1 {
		return nil, fmt.Errorf("swiss: Expected needs N ≥ 1 runs, got %d", N)
	}
	M := t.o.M
	rng := rand.New(rand.NewPCG(seed, 0x5715))
	sum, sq := make([]float64, M), make([]float64, M)
	s := t.newState()
	for range N {
		s.reset()
		t.play(rng, s, nil)
		for m, v := range s.scores {
			sum[m] += v
			sq[m] += v * v
		}
	}
	e := &Estimate{N: N, Mean: make([]float64, M), SD: make([]float64, M), SE: make([]float64, M)}
	n := float64(N)
	for m := range M {
		e.Mean[m] = sum[m] / n
		if N > 1 {
			v := math.Max(0, (sq[m]-n*e.Mean[m]*e.Mean[m])/(n-1))
			e.SD[m] = math.Sqrt(v)
			e.SE[m] = e.SD[m] / math.Sqrt(n)
		}
	}
	return e, nil
}
