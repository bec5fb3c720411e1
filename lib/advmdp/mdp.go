package advmdp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Table holds one number per state-action pair: t[h][s][a] for state s of layer h and action a
// (losses, Q-values, occupancies).
type Table [][][]float64

// Policy gives action probabilities per state: pi[h][s][a] = π(a|s) for state s of layer h.
type Policy [][][]float64

// MDP is a finite layered linear MDP: layers 0..H−1 with S states each, A actions, d-dimensional
// features Phi[h][s][a] and transition mixtures Mu[h][i] (a distribution over the states of layer
// h+1, for h < H−1), so that P_h(s'|s,a) = Σ_i Phi[h][s][a][i]·Mu[h][i][s']. Episodes start in state 0
// of layer 0. Build one with New or Generate; the fields are read-only after that.
type MDP struct {
	H, S, A, D int
	Phi        [][][][]float64 // [h][s][a][i]
	Mu         [][][]float64   // [h][i][s'], h < H−1
	P          [][][][]float64 // [h][s][a][s'], h < H−1 (derived from Phi and Mu)
}

// New checks the features and mixtures and returns the MDP they define. phi[h][s][a] must all have
// the same length d with ‖φ‖₂ ≤ 1; mu must have H−1 layers of d distributions over S states; every
// induced P_h(·|s,a) must be a probability distribution (non-negative, summing to 1 within 1e-9).
func New(phi [][][][]float64, mu [][][]float64) (*MDP, error) {
	H := len(phi)
	if H == 0 || len(phi[0]) == 0 || len(phi[0][0]) == 0 || len(phi[0][0][0]) == 0 {
		return nil, errors.New("advmdp: New: phi needs at least one layer, state, action and feature")
	}
	S, A, D := len(phi[0]), len(phi[0][0]), len(phi[0][0][0])
	for h := range phi {
		if len(phi[h]) != S {
			return nil, fmt.Errorf("advmdp: New: layer %d has %d states, layer 0 has %d", h, len(phi[h]), S)
		}
		for s := range phi[h] {
			if len(phi[h][s]) != A {
				return nil, fmt.Errorf("advmdp: New: state (%d,%d) has %d actions, want %d", h, s, len(phi[h][s]), A)
			}
			for a, f := range phi[h][s] {
				if len(f) != D {
					return nil, fmt.Errorf("advmdp: New: phi[%d][%d][%d] has %d features, want %d", h, s, a, len(f), D)
				}
				n := 0.0
				for _, v := range f {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, fmt.Errorf("advmdp: New: phi[%d][%d][%d] is not finite", h, s, a)
					}
					n += v * v
				}
				if n > 1+1e-12 {
					return nil, fmt.Errorf("advmdp: New: ‖phi[%d][%d][%d]‖ = %.6g exceeds 1", h, s, a, math.Sqrt(n))
				}
			}
		}
	}
	if len(mu) != H-1 {
		return nil, fmt.Errorf("advmdp: New: mu has %d layers, want H−1 = %d", len(mu), H-1)
	}
	m := &MDP{H: H, S: S, A: A, D: D, Phi: phi, Mu: mu, P: make([][][][]float64, H-1)}
	for h := 0; h < H-1; h++ {
		if len(mu[h]) != D {
			return nil, fmt.Errorf("advmdp: New: mu[%d] has %d mixtures, want d = %d", h, len(mu[h]), D)
		}
		for i := range mu[h] {
			if len(mu[h][i]) != S {
				return nil, fmt.Errorf("advmdp: New: mu[%d][%d] has %d states, want %d", h, i, len(mu[h][i]), S)
			}
		}
		m.P[h] = make([][][]float64, S)
		for s := range S {
			m.P[h][s] = make([][]float64, A)
			for a := range A {
				p := make([]float64, S)
				sum := 0.0
				for s2 := range S {
					for i := range D {
						p[s2] += phi[h][s][a][i] * mu[h][i][s2]
					}
					if p[s2] < -1e-12 || math.IsNaN(p[s2]) {
						return nil, fmt.Errorf("advmdp: New: P_%d(%d|%d,%d) = %.6g is not a probability", h, s2, s, a, p[s2])
					}
					sum += p[s2]
				}
				if math.Abs(sum-1) > 1e-9 {
					return nil, fmt.Errorf("advmdp: New: P_%d(·|%d,%d) sums to %.12g, not 1", h, s, a, sum)
				}
				m.P[h][s][a] = p
			}
		}
	}
	return m, nil
}

// GenConfig sizes a random linear MDP (Generate).
type GenConfig struct {
	H, S, A, D int
	// Alpha is the Dirichlet concentration of the features and of the transition mixtures
	// (default 0.5).
	Alpha float64
}

// DefaultGen is the notebook-scale MDP: H = 3 layers, S = 4 states per layer, A = 4, d = 3,
// Dirichlet(0.5) features and mixtures.
var DefaultGen = GenConfig{H: 3, S: 4, A: 4, D: 3, Alpha: 0.5}

// Generate draws a linear MDP: φ_h(s,a) ~ Dirichlet(α·1_d) (on the simplex, so ‖φ‖ ≤ 1) and
// μ_{h,i} ~ Dirichlet(α·1_S) over next-layer states; P_h(s'|s,a) = Σ_i φ_{h,i}(s,a) μ_{h,i}(s').
func Generate(cfg GenConfig, seed uint64) (*MDP, error) {
	if cfg.H < 1 || cfg.S < 1 || cfg.A < 1 || cfg.D < 1 {
		return nil, fmt.Errorf("advmdp: Generate: H, S, A, D must be ≥ 1, got %d, %d, %d, %d", cfg.H, cfg.S, cfg.A, cfg.D)
	}
	alpha := cfg.Alpha
	if alpha == 0 {
		alpha = 0.5
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("advmdp: Generate: Alpha must be positive and finite, got %v", cfg.Alpha)
	}
	rng := newRand(seed, 0x6d6470)
	phi := make([][][][]float64, cfg.H)
	for h := range phi {
		phi[h] = make([][][]float64, cfg.S)
		for s := range phi[h] {
			phi[h][s] = make([][]float64, cfg.A)
			for a := range phi[h][s] {
				phi[h][s][a] = dirichlet(rng, alpha, cfg.D)
			}
		}
	}
	mu := make([][][]float64, cfg.H-1)
	for h := range mu {
		mu[h] = make([][]float64, cfg.D)
		for i := range mu[h] {
			mu[h][i] = dirichlet(rng, alpha, cfg.S)
		}
	}
	return New(phi, mu)
}

// NewTable returns a zero table shaped like the MDP.
func (m *MDP) NewTable() Table {
	t := make(Table, m.H)
	for h := range t {
		t[h] = make([][]float64, m.S)
		for s := range t[h] {
			t[h][s] = make([]float64, m.A)
		}
	}
	return t
}

// Uniform returns the uniform policy.
func (m *MDP) Uniform() Policy {
	pi := Policy(m.NewTable())
	for h := range pi {
		for s := range pi[h] {
			for a := range pi[h][s] {
				pi[h][s][a] = 1 / float64(m.A)
			}
		}
	}
	return pi
}

// Loss returns the loss table ℓ(s,a) = φ_h(s,a)ᵀ w[h] of the loss vectors w[h] ∈ R^d.
func (m *MDP) Loss(w [][]float64) Table {
	t := m.NewTable()
	m.lossInto(t, w)
	return t
}

func (m *MDP) lossInto(t Table, w [][]float64) {
	for h := range m.H {
		for s := range m.S {
			for a := range m.A {
				t[h][s][a] = dot(m.Phi[h][s][a], w[h])
			}
		}
	}
}

// Occupancy returns q_h(s,a), the probability that an episode under pi visits (s,a) in layer h.
func (m *MDP) Occupancy(pi Policy) Table {
	q := m.NewTable()
	m.occupancyInto(q, pi, make([]float64, m.S), make([]float64, m.S))
	return q
}

func (m *MDP) occupancyInto(q Table, pi Policy, ds, next []float64) {
	clear(ds)
	ds[0] = 1
	for h := range m.H {
		clear(next)
		for s := range m.S {
			for a := range m.A {
				v := ds[s] * pi[h][s][a]
				q[h][s][a] = v
				if h < m.H-1 && v != 0 {
					for s2, p := range m.P[h][s][a] {
						next[s2] += v * p
					}
				}
			}
		}
		ds, next = next, ds
	}
}

// Value returns V^π(s₀) = Σ_{h,s,a} q_h(s,a) ℓ_h(s,a), the expected episode loss of pi.
func (m *MDP) Value(pi Policy, loss Table) float64 {
	return tableDot(m.Occupancy(pi), loss)
}

// QValues returns Q^π by backward dynamic programming:
// Q_h(s,a) = ℓ_h(s,a) + Σ_{s'} P_h(s'|s,a) V_{h+1}(s'), V_h(s) = Σ_a π(a|s) Q_h(s,a), V_H = 0.
func (m *MDP) QValues(pi Policy, loss Table) Table {
	q := m.NewTable()
	v := make([]float64, m.S)
	for h := m.H - 1; h >= 0; h-- {
		for s := range m.S {
			for a := range m.A {
				q[h][s][a] = loss[h][s][a]
				if h < m.H-1 {
					q[h][s][a] += dot(m.P[h][s][a], v)
				}
			}
		}
		nv := make([]float64, m.S)
		for s := range m.S {
			nv[s] = dot(pi[h][s], q[h][s])
		}
		v = nv
	}
	return q
}

// Theta returns the coefficients θ_h with Q^π_h(s,a) = φ_h(s,a)ᵀ θ_h for losses ℓ = φᵀw:
// θ_h = w_h + Σ_{s'} μ_h(s') V^π_{h+1}(s') (the linear-MDP identity; exact, no fitting).
func (m *MDP) Theta(pi Policy, w [][]float64) [][]float64 {
	q := m.QValues(pi, m.Loss(w))
	theta := make([][]float64, m.H)
	for h := range m.H {
		theta[h] = append([]float64(nil), w[h]...)
		if h == m.H-1 {
			continue
		}
		v := make([]float64, m.S)
		for s := range m.S {
			v[s] = dot(pi[h+1][s], q[h+1][s])
		}
		for i := range m.D {
			theta[h][i] += dot(m.Mu[h][i], v)
		}
	}
	return theta
}

// Optimal returns a deterministic policy minimising V^π(s₀) for the loss table, and that minimum
// value, by backward dynamic programming (ties go to the lowest action index).
func (m *MDP) Optimal(loss Table) (Policy, float64) {
	pi := Policy(m.NewTable())
	v := make([]float64, m.S)
	for h := m.H - 1; h >= 0; h-- {
		nv := make([]float64, m.S)
		for s := range m.S {
			best, arg := math.Inf(1), 0
			for a := range m.A {
				q := loss[h][s][a]
				if h < m.H-1 {
					q += dot(m.P[h][s][a], v)
				}
				if q < best {
					best, arg = q, a
				}
			}
			nv[s] = best
			pi[h][s][arg] = 1
		}
		v = nv
	}
	return pi, v[0]
}

// Trajectory is one sampled episode: States[h] and Actions[h] for each layer.
type Trajectory struct {
	States, Actions []int
}

// Sample rolls out pi from s₀ with rng.
func (m *MDP) Sample(pi Policy, rng *rand.Rand) Trajectory {
	tr := Trajectory{States: make([]int, m.H), Actions: make([]int, m.H)}
	m.sampleInto(&tr, pi, rng)
	return tr
}

func (m *MDP) sampleInto(tr *Trajectory, pi Policy, rng *rand.Rand) {
	s := 0
	for h := range m.H {
		a := categorical(rng, pi[h][s])
		tr.States[h], tr.Actions[h] = s, a
		if h < m.H-1 {
			s = categorical(rng, m.P[h][s][a])
		}
	}
}

// checkPolicy reports an error if pi is not shaped like the MDP or is not a distribution per state.
func (m *MDP) checkPolicy(pi Policy) error {
	if len(pi) != m.H {
		return fmt.Errorf("advmdp: policy has %d layers, want %d", len(pi), m.H)
	}
	for h := range pi {
		if len(pi[h]) != m.S {
			return fmt.Errorf("advmdp: policy layer %d has %d states, want %d", h, len(pi[h]), m.S)
		}
		for s := range pi[h] {
			if len(pi[h][s]) != m.A {
				return fmt.Errorf("advmdp: policy (%d,%d) has %d actions, want %d", h, s, len(pi[h][s]), m.A)
			}
			sum := 0.0
			for _, p := range pi[h][s] {
				if !(p >= 0) {
					return fmt.Errorf("advmdp: policy (%d,%d) has a negative or NaN probability %v", h, s, p)
				}
				sum += p
			}
			if math.Abs(sum-1) > 1e-9 {
				return fmt.Errorf("advmdp: policy (%d,%d) sums to %.12g, not 1", h, s, sum)
			}
		}
	}
	return nil
}

func dot(x, y []float64) float64 {
	s := 0.0
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

func tableDot(x, y Table) float64 {
	s := 0.0
	for h := range x {
		for st := range x[h] {
			s += dot(x[h][st], y[h][st])
		}
	}
	return s
}
