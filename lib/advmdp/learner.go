package advmdp

import (
	"fmt"
	"math"
)

// Algorithm picks the FTRL regulariser of a learner.
type Algorithm int

const (
	// LogBarrier is FTRL with the log-barrier regulariser (the paper's Algorithm 1).
	LogBarrier Algorithm = iota
	// Hedge is exponential weights (FTRL with negative entropy), the prior-work baseline.
	Hedge
)

func (a Algorithm) String() string {
	switch a {
	case LogBarrier:
		return "log-barrier"
	case Hedge:
		return "hedge"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// Estimator picks the Q-function estimator.
type Estimator int

const (
	// Plain is θ̂ = Σ⁻¹ φ(s_h,a_h) L_h, unbiased for Q^{π̃}.
	Plain Estimator = iota
	// Reduced subtracts a baseline m_h (running mean of past observed loss-to-go) before regressing
	// and adds it back: Q̂ = φᵀΣ⁻¹φ_h (L_h − m_h) + m_h. Our reconstruction of the paper's
	// magnitude-reduced estimator (Algorithm 2), not its exact form.
	Reduced
)

func (e Estimator) String() string {
	switch e {
	case Plain:
		return "plain"
	case Reduced:
		return "reduced"
	}
	return fmt.Sprintf("Estimator(%d)", int(e))
}

// DefaultRidge is the ε added to each covariance, Σ + εI.
const DefaultRidge = 1e-9

// Config sets one learner's hyperparameters for one run.
type Config struct {
	Algorithm Algorithm
	Estimator Estimator
	Eta       float64 // learning rate η > 0
	Gamma     float64 // uniform exploration mixing γ ∈ [0, 1]
	Beta      float64 // bonus scale β ≥ 0 (0 disables the bonus)
	Ridge     float64 // ε in Σ + εI; 0 means DefaultRidge
	Seed      uint64  // seeds the trajectory sampling
}

func (c Config) check() error {
	if c.Algorithm != LogBarrier && c.Algorithm != Hedge {
		return fmt.Errorf("advmdp: unknown algorithm %d", int(c.Algorithm))
	}
	if c.Estimator != Plain && c.Estimator != Reduced {
		return fmt.Errorf("advmdp: unknown estimator %d", int(c.Estimator))
	}
	if !(c.Eta > 0) || math.IsInf(c.Eta, 0) {
		return fmt.Errorf("advmdp: Eta must be positive and finite, got %v", c.Eta)
	}
	if !(c.Gamma >= 0 && c.Gamma <= 1) {
		return fmt.Errorf("advmdp: Gamma must be in [0, 1], got %v", c.Gamma)
	}
	if !(c.Beta >= 0) || math.IsInf(c.Beta, 0) {
		return fmt.Errorf("advmdp: Beta must be finite and ≥ 0, got %v", c.Beta)
	}
	if !(c.Ridge >= 0) || math.IsInf(c.Ridge, 0) {
		return fmt.Errorf("advmdp: Ridge must be finite and ≥ 0, got %v", c.Ridge)
	}
	return nil
}

// Result is the record of one run of K episodes.
type Result struct {
	// Values[k] = V_k^{π̃_k}(s₀), the learner's exact expected loss in episode k.
	Values []float64
	// Observed[k] is the loss actually incurred along the sampled trajectory of episode k.
	Observed []float64
	// BestValues[k] = V_k^{π*}(s₀) for the best fixed policy π* in hindsight.
	BestValues []float64
	// LearnerLoss = Σ_k Values[k]; BestLoss = min_π Σ_k V_k^π(s₀) = Σ_k BestValues[k].
	LearnerLoss, BestLoss float64
	// Regret = LearnerLoss − BestLoss (pseudo-regret).
	Regret float64
	// Best is the best fixed (deterministic) policy in hindsight.
	Best Policy
	// MinQ[k] is the most negative estimate min_{h,s,a} Q̂_k(s,a) formed after episode k.
	MinQ []float64
	// Last is the last episode's policy π̃_K (with exploration).
	Last Policy
}

// CumulativeRegret returns Σ_{τ≤k} (Values[τ] − BestValues[τ]) for each k: the regret curve against
// the comparator of the whole run (its last entry is Regret).
func (r *Result) CumulativeRegret() []float64 {
	out := make([]float64, len(r.Values))
	c := 0.0
	for k := range r.Values {
		c += r.Values[k] - r.BestValues[k]
		out[k] = c
	}
	return out
}

// Learner is one running learner on one MDP. Use Run for a whole adversary; Learner exposes the
// per-episode steps for tests and inspection.
type Learner struct {
	m   *MDP
	cfg Config

	cum     Table  // Ĉ(s,a) = Σ_τ (Q̂_τ − B_τ)
	pi      Policy // π_k from FTRL
	mix     Policy // π̃_k
	occ     Table
	qhat    Table
	bonus   Table
	baseSum []float64 // Σ of observed L_h (for the reduced estimator)
	nEp     int
	cov     [][]float64 // work: d×d
	inv     [][]float64 // work: Σ⁻¹ per layer
	invs    [][][]float64
	ds, nx  []float64
}

// NewLearner returns a learner at episode 1 (all cumulative estimates zero).
func NewLearner(m *MDP, cfg Config) (*Learner, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Ridge == 0 {
		cfg.Ridge = DefaultRidge
	}
	l := &Learner{m: m, cfg: cfg, cum: m.NewTable(), pi: Policy(m.NewTable()), mix: Policy(m.NewTable()),
		occ: m.NewTable(), qhat: m.NewTable(), bonus: m.NewTable(), baseSum: make([]float64, m.H),
		ds: make([]float64, m.S), nx: make([]float64, m.S)}
	l.invs = make([][][]float64, m.H)
	for h := range l.invs {
		l.invs[h] = newMatrix(m.D)
	}
	l.cov = newMatrix(m.D)
	l.updatePolicy()
	return l, nil
}

// Policy returns the FTRL policy π_k (without exploration) for the current episode. The table is the
// learner's own and changes at the next Update; copy it to keep it.
func (l *Learner) Policy() Policy { return l.pi }

// Played returns the policy π̃_k = (1−γ)π_k + γ/A actually played in the current episode (the learner's
// own table, like Policy).
func (l *Learner) Played() Policy { return l.mix }

// Cumulative returns the cumulative estimates Ĉ(s,a) the current policy was computed from.
func (l *Learner) Cumulative() Table { return l.cum }

// Estimate returns the last estimate Q̂_k(s,a) formed by Update.
func (l *Learner) Estimate() Table { return l.qhat }

func (l *Learner) updatePolicy() {
	m, A := l.m, float64(l.m.A)
	for h := range m.H {
		for s := range m.S {
			if l.cfg.Algorithm == LogBarrier {
				logBarrierInto(l.pi[h][s], l.cum[h][s], l.cfg.Eta)
			} else {
				expWeightsInto(l.pi[h][s], l.cum[h][s], l.cfg.Eta)
			}
			for a, p := range l.pi[h][s] {
				l.mix[h][s][a] = (1-l.cfg.Gamma)*p + l.cfg.Gamma/A
			}
		}
	}
	m.occupancyInto(l.occ, l.mix, l.ds, l.nx)
	// Σ_h = Σ_{s,a} q_h(s,a) φφᵀ + εI, and its inverse.
	for h := range m.H {
		for i := range m.D {
			clear(l.cov[i])
			l.cov[i][i] = l.cfg.Ridge
		}
		for s := range m.S {
			for a := range m.A {
				q := l.occ[h][s][a]
				if q == 0 {
					continue
				}
				f := m.Phi[h][s][a]
				for i := range m.D {
					for j := range m.D {
						l.cov[i][j] += q * f[i] * f[j]
					}
				}
			}
		}
		invertSPD(l.invs[h], l.cov)
	}
}

// EstimateQ returns the estimate Q̂(s,a) = φ(s,a)ᵀ Σ_h⁻¹ φ(s_h,a_h)(L_h − m_h) + m_h that the current
// policy's covariances give for a trajectory and the losses observed along it (loss[h] =
// ℓ(s_h, a_h)), without changing the learner. m_h = 0 for the plain estimator.
func (l *Learner) EstimateQ(tr Trajectory, loss []float64) Table {
	q := l.m.NewTable()
	l.estimateInto(q, tr, loss)
	return q
}

func (l *Learner) estimateInto(q Table, tr Trajectory, loss []float64) {
	m := l.m
	theta := make([]float64, m.D)
	togo := 0.0
	for h := m.H - 1; h >= 0; h-- {
		togo += loss[h]
		base := l.baseline(h)
		f := m.Phi[h][tr.States[h]][tr.Actions[h]]
		for i := range m.D {
			theta[i] = dot(l.invs[h][i], f) * (togo - base)
		}
		for s := range m.S {
			for a := range m.A {
				q[h][s][a] = dot(m.Phi[h][s][a], theta) + base
			}
		}
	}
}

// baseline is m_h: 0 for the plain estimator, the mean observed loss-to-go of past episodes for the
// reduced one.
func (l *Learner) baseline(h int) float64 {
	if l.cfg.Estimator != Reduced || l.nEp == 0 {
		return 0
	}
	return l.baseSum[h] / float64(l.nEp)
}

// Update feeds the learner the trajectory played in the current episode and the losses observed
// along it (loss[h] = ℓ_k(s_h, a_h)), forms Q̂_k and the bonus, adds Q̂_k − B_k to the cumulative
// estimates, and computes the next episode's policy.
func (l *Learner) Update(tr Trajectory, loss []float64) {
	m := l.m
	l.estimateInto(l.qhat, tr, loss)
	togo := 0.0
	for h := m.H - 1; h >= 0; h-- {
		togo += loss[h]
		l.baseSum[h] += togo
	}
	l.nEp++
	if l.cfg.Beta > 0 {
		l.computeBonus()
	}
	for h := range m.H {
		for s := range m.S {
			for a := range m.A {
				l.cum[h][s][a] += l.qhat[h][s][a]
				if l.cfg.Beta > 0 {
					l.cum[h][s][a] -= l.bonus[h][s][a]
				}
			}
		}
	}
	l.updatePolicy()
}

// Bonus returns the dilated bonus B(s,a) of the current policy and covariances (zero when β = 0).
func (l *Learner) Bonus() Table {
	if l.cfg.Beta > 0 {
		l.computeBonus()
	}
	out := l.m.NewTable()
	for h := range out {
		for s := range out[h] {
			copy(out[h][s], l.bonus[h][s])
		}
	}
	return out
}

// InverseCovariance returns Σ_h⁻¹ of the current played policy for layer h (a copy).
func (l *Learner) InverseCovariance(h int) [][]float64 {
	out := newMatrix(l.m.D)
	for i := range out {
		copy(out[i], l.invs[h][i])
	}
	return out
}

// computeBonus fills l.bonus with the dilated bonus B of the current π_k and covariances.
func (l *Learner) computeBonus() {
	m, beta := l.m, l.cfg.Beta
	dil := 1 + 1/float64(m.H)
	next := make([]float64, m.S) // E_{a'∼π}[B_{h+1}(s',a')]
	for h := m.H - 1; h >= 0; h-- {
		cur := make([]float64, m.S)
		for s := range m.S {
			norms := make([]float64, m.A)
			mean := 0.0
			for a := range m.A {
				f := m.Phi[h][s][a]
				n := 0.0
				for i := range m.D {
					n += f[i] * dot(l.invs[h][i], f)
				}
				norms[a] = n
				mean += l.pi[h][s][a] * n
			}
			for a := range m.A {
				b := beta*norms[a] + beta*mean
				if h < m.H-1 {
					b += dil * dot(m.P[h][s][a], next)
				}
				l.bonus[h][s][a] = b
			}
			cur[s] = dot(l.pi[h][s], l.bonus[h][s])
		}
		next = cur
	}
}

// Run plays the learner against the adversary for adv.K() episodes and returns the record. The
// trajectory randomness comes from cfg.Seed alone, so a run is reproducible.
func Run(m *MDP, adv *Adversary, cfg Config) (*Result, error) {
	if err := adv.check(m); err != nil {
		return nil, err
	}
	l, err := NewLearner(m, cfg)
	if err != nil {
		return nil, err
	}
	K := adv.K()
	rng := newRand(cfg.Seed, 0x1ea7)
	res := &Result{Values: make([]float64, K), Observed: make([]float64, K), BestValues: make([]float64, K),
		MinQ: make([]float64, K)}
	loss := m.NewTable()
	tr := Trajectory{States: make([]int, m.H), Actions: make([]int, m.H)}
	obs := make([]float64, m.H)
	for k := range K {
		m.lossInto(loss, adv.W[k])
		res.Values[k] = tableDot(l.occ, loss)
		m.sampleInto(&tr, l.mix, rng)
		total := 0.0
		for h := range m.H {
			obs[h] = loss[h][tr.States[h]][tr.Actions[h]]
			total += obs[h]
		}
		res.Observed[k] = total
		l.Update(tr, obs)
		mq := math.Inf(1)
		for h := range l.qhat {
			for s := range l.qhat[h] {
				for _, v := range l.qhat[h][s] {
					mq = min(mq, v)
				}
			}
		}
		res.MinQ[k] = mq
		res.LearnerLoss += res.Values[k]
	}
	// The comparator: V^π is linear in the loss, so min_π Σ_k V_k^π = min_π V^π(Σ_k ℓ_k).
	res.Best, res.BestLoss = m.Optimal(m.Loss(adv.TotalW()))
	occ := m.Occupancy(res.Best)
	for k := range K {
		m.lossInto(loss, adv.W[k])
		res.BestValues[k] = tableDot(occ, loss)
	}
	res.Regret = res.LearnerLoss - res.BestLoss
	res.Last = clonePolicy(l.mix)
	if math.IsNaN(res.Regret) || math.IsInf(res.Regret, 0) {
		return res, fmt.Errorf("advmdp: Run: regret is %v (estimates overflowed; try a smaller Eta or larger Ridge)", res.Regret)
	}
	return res, nil
}

func clonePolicy(pi Policy) Policy {
	out := make(Policy, len(pi))
	for h := range pi {
		out[h] = make([][]float64, len(pi[h]))
		for s := range pi[h] {
			out[h][s] = append([]float64(nil), pi[h][s]...)
		}
	}
	return out
}

func newMatrix(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

// invertSPD writes the inverse of the symmetric positive-definite matrix a into dst by Gauss–Jordan
// elimination with partial pivoting (a is left unchanged).
func invertSPD(dst, a [][]float64) {
	n := len(a)
	w := make([][]float64, n)
	for i := range w {
		w[i] = make([]float64, 2*n)
		copy(w[i], a[i])
		w[i][n+i] = 1
	}
	for c := range n {
		piv := c
		for r := c + 1; r < n; r++ {
			if math.Abs(w[r][c]) > math.Abs(w[piv][c]) {
				piv = r
			}
		}
		w[c], w[piv] = w[piv], w[c]
		d := w[c][c]
		for j := range w[c] {
			w[c][j] /= d
		}
		for r := range n {
			if r == c || w[r][c] == 0 {
				continue
			}
			f := w[r][c]
			for j := range w[r] {
				w[r][j] -= f * w[c][j]
			}
		}
	}
	for i := range n {
		copy(dst[i], w[i][n:])
	}
}
