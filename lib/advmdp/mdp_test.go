package advmdp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomPolicy(m *MDP, rng *rand.Rand) Policy {
	pi := Policy(m.NewTable())
	for h := range pi {
		for s := range pi[h] {
			copy(pi[h][s], dirichlet(rng, 1, m.A))
		}
	}
	return pi
}

func randomW(m *MDP, rng *rand.Rand) [][]float64 {
	w := make([][]float64, m.H)
	for h := range w {
		w[h] = make([]float64, m.D)
		for i := range w[h] {
			w[h][i] = rng.Float64()
		}
	}
	return w
}

// bruteQ is Q^π(h,s,a) by explicit recursion over every continuation (no tables, no reuse).
func bruteQ(m *MDP, pi Policy, loss Table, h, s, a int) float64 {
	q := loss[h][s][a]
	if h == m.H-1 {
		return q
	}
	for s2 := range m.S {
		// P computed directly from φ and μ, not from m.P.
		p := 0.0
		for i := range m.D {
			p += m.Phi[h][s][a][i] * m.Mu[h][i][s2]
		}
		for a2 := range m.A {
			q += p * pi[h+1][s2][a2] * bruteQ(m, pi, loss, h+1, s2, a2)
		}
	}
	return q
}

func TestGeneratedMDPIsValid(t *testing.T) {
	m, err := Generate(DefaultGen, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m.H != 3 || m.S != 4 || m.A != 4 || m.D != 3 {
		t.Fatalf("sizes %d %d %d %d", m.H, m.S, m.A, m.D)
	}
	for h := range m.H {
		for s := range m.S {
			for a := range m.A {
				sum := 0.0
				for _, v := range m.Phi[h][s][a] {
					if v < 0 {
						t.Fatal("negative feature")
					}
					sum += v
				}
				if !near(sum, 1, 1e-12) {
					t.Fatalf("feature not on the simplex: sum %v", sum)
				}
			}
		}
	}
	m2, _ := Generate(DefaultGen, 3)
	if m2.Phi[1][2][3][0] != m.Phi[1][2][3][0] || m2.Mu[0][1][2] != m.Mu[0][1][2] {
		t.Error("Generate is not deterministic by seed")
	}
	m3, _ := Generate(DefaultGen, 4)
	if m3.Phi[1][2][3][0] == m.Phi[1][2][3][0] {
		t.Error("different seeds gave the same MDP")
	}
}

func TestQIsExactlyLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for seed := range uint64(5) {
		m, err := Generate(GenConfig{H: 3, S: 4, A: 4, D: 3}, seed)
		if err != nil {
			t.Fatal(err)
		}
		pi := randomPolicy(m, rng)
		w := randomW(m, rng)
		loss := m.Loss(w)
		q := m.QValues(pi, loss)
		theta := m.Theta(pi, w)
		for h := range m.H {
			for s := range m.S {
				for a := range m.A {
					bq := bruteQ(m, pi, loss, h, s, a)
					if !near(q[h][s][a], bq, 1e-12) {
						t.Fatalf("DP Q %v, brute force %v", q[h][s][a], bq)
					}
					if lin := dot(m.Phi[h][s][a], theta[h]); !near(lin, bq, 1e-12) {
						t.Fatalf("φᵀθ = %v, Q = %v", lin, bq)
					}
				}
			}
			// Property 8: least-squares fit of Q on φ has residual < 1e-10.
			if r := lsResidual(m, q, h); r > 1e-10 {
				t.Errorf("layer %d: least-squares residual %g", h, r)
			}
		}
	}
}

// lsResidual fits Q_h(s,a) ≈ φ_h(s,a)ᵀθ by least squares (normal equations) and returns the max
// absolute residual.
func lsResidual(m *MDP, q Table, h int) float64 {
	g := newMatrix(m.D)
	b := make([]float64, m.D)
	for s := range m.S {
		for a := range m.A {
			f := m.Phi[h][s][a]
			for i := range m.D {
				b[i] += f[i] * q[h][s][a]
				for j := range m.D {
					g[i][j] += f[i] * f[j]
				}
			}
		}
	}
	inv := newMatrix(m.D)
	invertSPD(inv, g)
	theta := make([]float64, m.D)
	for i := range m.D {
		theta[i] = dot(inv[i], b)
	}
	worst := 0.0
	for s := range m.S {
		for a := range m.A {
			worst = math.Max(worst, math.Abs(dot(m.Phi[h][s][a], theta)-q[h][s][a]))
		}
	}
	return worst
}

func TestNonLinearLossBreaksLinearity(t *testing.T) {
	// The least-squares check can fail: a loss table that is not φᵀw is not fit exactly.
	m, _ := Generate(DefaultGen, 1)
	loss := m.NewTable()
	loss[2][1][2] = 1
	q := m.QValues(m.Uniform(), loss)
	if r := lsResidual(m, q, 2); r < 1e-3 {
		t.Errorf("residual %g for a non-linear loss", r)
	}
}

func TestOccupancyAndValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, _ := Generate(DefaultGen, 2)
	pi := randomPolicy(m, rng)
	occ := m.Occupancy(pi)
	for h := range m.H {
		sum := 0.0
		for s := range m.S {
			for a := range m.A {
				sum += occ[h][s][a]
			}
		}
		if !near(sum, 1, 1e-12) {
			t.Errorf("layer %d occupancy sums to %v", h, sum)
		}
	}
	loss := m.Loss(randomW(m, rng))
	v0 := 0.0
	for a := range m.A {
		v0 += pi[0][0][a] * bruteQ(m, pi, loss, 0, 0, a)
	}
	if v := m.Value(pi, loss); !near(v, v0, 1e-12) {
		t.Errorf("Value %v, brute force %v", v, v0)
	}
}

func TestOptimalIsBestDeterministicPolicy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	m, _ := Generate(GenConfig{H: 3, S: 2, A: 3, D: 2}, 9)
	loss := m.Loss(randomW(m, rng))
	_, best := m.Optimal(loss)
	// Enumerate all A^(H·S) = 729 deterministic policies.
	n := m.H * m.S
	total := 1
	for range n {
		total *= m.A
	}
	bf := math.Inf(1)
	for code := range total {
		pi := Policy(m.NewTable())
		c := code
		for h := range m.H {
			for s := range m.S {
				pi[h][s][c%m.A] = 1
				c /= m.A
			}
		}
		bf = math.Min(bf, m.Value(pi, loss))
	}
	if !near(best, bf, 1e-12) {
		t.Errorf("Optimal %v, brute force %v", best, bf)
	}
	// And no stochastic policy does better.
	for range 100 {
		if v := m.Value(randomPolicy(m, rng), loss); v < best-1e-12 {
			t.Errorf("random policy %v beats optimum %v", v, best)
		}
	}
}

func TestNewValidates(t *testing.T) {
	m, _ := Generate(DefaultGen, 1)
	if _, err := New(m.Phi, m.Mu[:1]); err == nil {
		t.Error("wrong number of μ layers accepted")
	}
	bad := [][][][]float64{{{{2, 0}}}}
	if _, err := New(bad, nil); err == nil {
		t.Error("‖φ‖ > 1 accepted")
	}
	// μ that is not a distribution makes P invalid.
	mu := [][][]float64{{{0.5, 0.6}, {0.5, 0.5}}}
	phi := [][][][]float64{{{{1, 0}}, {{0, 1}}}, {{{1, 0}}, {{0, 1}}}}
	if _, err := New(phi, mu); err == nil {
		t.Error("invalid transition accepted")
	}
	if _, err := Generate(GenConfig{H: 0, S: 1, A: 1, D: 1}, 1); err == nil {
		t.Error("H = 0 accepted")
	}
}

func TestDirichletMoments(t *testing.T) {
	rng := newRand(5, 5)
	const n = 40000
	var mean, sq float64
	for range n {
		x := dirichlet(rng, 0.5, 3)
		mean += x[0]
		sq += x[0] * x[0]
	}
	mean /= n
	v := sq/n - mean*mean
	// Dirichlet(0.5·1_3): E x₀ = 1/3, Var x₀ = (1/3)(2/3)/(1.5+1) = 0.08889.
	if !near(mean, 1.0/3, 0.006) || !near(v, 2.0/9/2.5, 0.004) {
		t.Errorf("mean %v var %v", mean, v)
	}
}
