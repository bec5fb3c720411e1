// Package kmexp runs the synthetic experiment of Ausset, Clémençon & Portier, "Empirical Risk
// Minimization under Random Censorship", JMLR 23 (2022), arXiv:1906.01908, at notebook scale and in the
// form a verdict needs.
//
// Durations follow a log-normal model (lib/data.Survival: X ~ U[0,1]^5, Y = exp(0.5 + Xβ + 0.3ε)) and are
// censored at random (lib/data.Censor), independently of X or at a rate that grows with X₁. A linear model
// on [X, 1] is fitted by closed-form weighted least squares, so every arm is optimised exactly and arms
// differ only in their weights: naive (all observed times, weight 1), uncensored only, Kaplan–Meier
// (IPCW) weights, conditional Beran weights, and an oracle fit on the true durations. The two weighted arms
// are tuned with the same budget (three values of their one hyperparameter: the floor g_min on Ĝ for KM,
// the kernel bandwidth h for Beran) on a validation draw, never on the test set; the better of the two
// naive arms is picked on the same validation draw. Test metric: MSE against the true durations.
//
// The validation draw is uncensored, a luxury of synthetic data (with real data the validation risk would
// itself be an IPCW estimate); it is the same for every arm.
package kmexp

import (
	"fmt"
	"math"
	"slices"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
)

// Observed returns the observed times, event flags and covariate rows of a survival set.
func Observed(s *data.Set) (t []float64, e []bool, x [][]float64) {
	d := s.Dim()
	for i := range s.Len() {
		t = append(t, float64(s.Times[i]))
		e = append(e, s.Events[i] == 1)
		row := make([]float64, d)
		for j := range row {
			row[j] = float64(s.X[i*d+j])
		}
		x = append(x, row)
	}
	return t, e, x
}

// Design appends the intercept column: rows [x, 1].
func Design(x [][]float64) [][]float64 {
	a := make([][]float64, len(x))
	for i, r := range x {
		a[i] = append(append([]float64(nil), r...), 1)
	}
	return a
}

// WLS solves min_θ Σ wᵢ (yᵢ − aᵢθ)² by the normal equations (Gaussian elimination with partial
// pivoting and a 1e-10 ridge); an error when the weighted design is singular (a pivot below 1e-9 of the
// largest diagonal entry).
func WLS(a [][]float64, y, w []float64) ([]float64, error) {
	if len(a) == 0 || len(y) != len(a) || len(w) != len(a) {
		return nil, fmt.Errorf("kmexp.WLS: %d rows, %d targets, %d weights", len(a), len(y), len(w))
	}
	p := len(a[0])
	m := make([][]float64, p)
	for r := range m {
		m[r] = make([]float64, p+1)
		m[r][r] = 1e-10
	}
	for i, row := range a {
		if w[i] == 0 {
			continue
		}
		for r := range p {
			for c := range p {
				m[r][c] += w[i] * row[r] * row[c]
			}
			m[r][p] += w[i] * row[r] * y[i]
		}
	}
	scale := 0.0
	for r := range p {
		scale = math.Max(scale, math.Abs(m[r][r]))
	}
	for c := range p {
		piv := c
		for r := c + 1; r < p; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[piv][c]) {
				piv = r
			}
		}
		m[c], m[piv] = m[piv], m[c]
		if math.Abs(m[c][c]) < 1e-9*scale {
			return nil, fmt.Errorf("kmexp.WLS: the weighted design is singular (pivot %g in column %d)", m[c][c], c)
		}
		for r := range p {
			if r != c {
				f := m[r][c] / m[c][c]
				for k := c; k <= p; k++ {
					m[r][k] -= f * m[c][k]
				}
			}
		}
	}
	th := make([]float64, p)
	for r := range p {
		th[r] = m[r][p] / m[r][r]
	}
	return th, nil
}

// Predict returns aθ for every row.
func Predict(th []float64, a [][]float64) []float64 {
	out := make([]float64, len(a))
	for i, row := range a {
		for j, v := range row {
			out[i] += v * th[j]
		}
	}
	return out
}

// MSE is the mean squared error of p against y.
func MSE(p, y []float64) float64 {
	s := 0.0
	for i := range p {
		s += (p[i] - y[i]) * (p[i] - y[i])
	}
	return s / float64(len(p))
}

// Setting is one censoring scenario.
type Setting struct {
	Name string
	Rate float64 // target censored fraction
	Dep  float64 // dependence of the censoring rate on X₁ (0: independent)
}

// Config sizes the experiment.
type Config struct {
	Settings            []Setting
	NTrain, NVal, NTest int
	Seeds               int       // independent runs: training, validation and test draws and censoring
	GMins               []float64 // KM's tuning grid (the floor on Ĝ)
	Bandwidths          []float64 // Beran's tuning grid (h), with g_min = BeranGMin
	BeranGMin           float64
}

// Default is the notebook's setting: 20/40/60 % independent censoring and 40 % censoring that depends on
// X₁, 1000 training points, 5 runs, grids of three values for KM and Beran.
func Default() Config {
	return Config{
		Settings: []Setting{{"indep. 20%", 0.2, 0}, {"indep. 40%", 0.4, 0}, {"indep. 60%", 0.6, 0}, {"X-dependent 40%", 0.4, 2}},
		NTrain:   1000, NVal: 1000, NTest: 2000, Seeds: 5,
		GMins: []float64{0.01, 0.05, 0.2}, Bandwidths: []float64{0.1, 0.2, 0.5}, BeranGMin: 0.05,
	}
}

// Quick is CI's size (the same code path).
func Quick() Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest, c.Seeds = 250, 250, 400, 3
	return c
}

// Check reports a configuration that cannot run.
func (c Config) Check() error {
	switch {
	case len(c.Settings) == 0:
		return fmt.Errorf("kmexp: no censoring settings")
	case c.Seeds < 3:
		return fmt.Errorf("kmexp: %d seeds, a claim is decided on at least 3 independent runs", c.Seeds)
	case c.NTrain < 20 || c.NVal < 20 || c.NTest < 20:
		return fmt.Errorf("kmexp: sizes %d/%d/%d, want at least 20 points each", c.NTrain, c.NVal, c.NTest)
	case len(c.GMins) == 0 || len(c.Bandwidths) == 0:
		return fmt.Errorf("kmexp: empty tuning grid")
	}
	return nil
}

// The arms of the experiment.
const (
	Naive       = "naive"
	Uncensored  = "uncensored only"
	BetterNaive = "better naive (validation)"
	KM          = "KM"
	Beran       = "Beran"
	Oracle      = "oracle"
)

// Arms lists the arms in table order.
var Arms = []string{Naive, Uncensored, BetterNaive, KM, Beran, Oracle}

// Record is one arm's result in one setting and run.
type Record struct {
	Setting  string    `json:"setting"`
	Arm      string    `json:"arm"`
	Seed     int       `json:"seed"`
	Censored float64   `json:"censored"` // censored fraction of the training set
	Param    float64   `json:"param"`    // the chosen hyperparameter (g_min for KM, h for Beran), else 0
	ValMSE   float64   `json:"val_mse"`
	MSE      float64   `json:"mse"` // test MSE against the true durations
	Theta    []float64 `json:"theta"`
}

// Draws returns run seed's training set (true durations), its censored copy for setting st, and the
// validation and test sets (true durations).
func (c Config) Draws(seed int, st Setting) (full, cens, val, test *data.Set, err error) {
	if full, err = data.Survival(data.SurvivalConfig{N: c.NTrain, Seed: uint64(100 + seed)}); err != nil {
		return
	}
	if val, err = data.Survival(data.SurvivalConfig{N: c.NVal, Seed: uint64(500 + seed)}); err != nil {
		return
	}
	if test, err = data.Survival(data.SurvivalConfig{N: c.NTest, Seed: uint64(900 + seed)}); err != nil {
		return
	}
	cens, _, err = data.Censor(full, data.CensorConfig{Rate: st.Rate, Dependence: st.Dep, Feature: 0, Seed: uint64(200 + seed)})
	return
}

// truth returns the design matrix and true durations of an uncensored set.
func truth(s *data.Set) ([][]float64, []float64) {
	_, _, x := Observed(s)
	y := make([]float64, s.Len())
	for i := range y {
		y[i] = float64(s.Times[i])
	}
	return Design(x), y
}

// Run runs every setting and seed; progress, when not nil, is called after each.
func Run(c Config, progress func(string)) ([]Record, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var recs []Record
	for seed := range c.Seeds {
		for _, st := range c.Settings {
			rs, err := c.runOne(seed, st)
			if err != nil {
				return nil, fmt.Errorf("kmexp: %s, seed %d: %w", st.Name, seed, err)
			}
			recs = append(recs, rs...)
			if progress != nil {
				progress(fmt.Sprintf("%s seed %d", st.Name, seed))
			}
		}
	}
	return recs, nil
}

func (c Config) runOne(seed int, st Setting) ([]Record, error) {
	full, cens, val, test, err := c.Draws(seed, st)
	if err != nil {
		return nil, err
	}
	t, e, x := Observed(cens)
	a := Design(x)
	va, vy := truth(val)
	ta, ty := truth(test)
	_, trueT := truth(full)
	var recs []Record
	add := func(arm string, param float64, w, y []float64) (Record, error) {
		th, err := WLS(a, y, w)
		if err != nil {
			return Record{}, fmt.Errorf("%s: %w", arm, err)
		}
		r := Record{Setting: st.Name, Arm: arm, Seed: seed, Censored: cens.CensoredFraction(), Param: param,
			ValMSE: MSE(Predict(th, va), vy), MSE: MSE(Predict(th, ta), ty), Theta: th}
		return r, nil
	}
	ones, unc := make([]float64, len(t)), make([]float64, len(t))
	for i := range t {
		ones[i] = 1
		if e[i] {
			unc[i] = 1
		}
	}
	naive, err := add(Naive, 0, ones, t)
	if err != nil {
		return nil, err
	}
	uncOnly, err := add(Uncensored, 0, unc, t)
	if err != nil {
		return nil, err
	}
	better := naive
	if uncOnly.ValMSE < naive.ValMSE {
		better = uncOnly
	}
	better.Arm = BetterNaive
	oracle, err := add(Oracle, 0, ones, trueT)
	if err != nil {
		return nil, err
	}
	recs = append(recs, naive, uncOnly, better)
	tuned := func(arm string, grid []float64, weights func(p float64) ([]float64, error)) (Record, error) {
		var best Record
		for i, p := range grid {
			w, err := weights(p)
			if err != nil {
				return Record{}, fmt.Errorf("%s %g: %w", arm, p, err)
			}
			r, err := add(arm, p, w, t)
			if err != nil {
				return Record{}, err
			}
			if i == 0 || r.ValMSE < best.ValMSE {
				best = r
			}
		}
		return best, nil
	}
	km, err := tuned(KM, c.GMins, func(g float64) ([]float64, error) { return losses.KaplanMeierWeights(t, e, g) })
	if err != nil {
		return nil, err
	}
	recs = append(recs, km)
	if st.Dep != 0 {
		br, err := tuned(Beran, c.Bandwidths, func(h float64) ([]float64, error) { return losses.BeranWeights(x, t, e, h, c.BeranGMin) })
		if err != nil {
			return nil, err
		}
		recs = append(recs, br)
	}
	return append(recs, oracle), nil
}

// Values returns the test MSEs of arm in setting, one per seed in seed order (nil when the arm did not
// run there).
func Values(recs []Record, setting, arm string, f func(Record) float64) []float64 {
	var v []float64
	for _, r := range recs {
		if r.Setting == setting && r.Arm == arm {
			v = append(v, f(r))
		}
	}
	return v
}

// TestMSE and Param read a record's test MSE and chosen hyperparameter.
func TestMSE(r Record) float64 { return r.MSE }

// Param reads a record's chosen hyperparameter.
func Param(r Record) float64 { return r.Param }

// AtEdge counts the records of arm (over every setting and run) whose chosen hyperparameter is the
// smallest or the largest value of grid: a choice there says the grid may be too narrow.
func AtEdge(recs []Record, arm string, grid []float64) (edge, total int) {
	if len(grid) == 0 {
		return 0, 0
	}
	lo, hi := slices.Min(grid), slices.Max(grid)
	for _, r := range recs {
		if r.Arm == arm {
			total++
			if r.Param == lo || r.Param == hi {
				edge++
			}
		}
	}
	return edge, total
}
