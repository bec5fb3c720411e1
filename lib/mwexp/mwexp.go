// Package mwexp is the notebook-scale experiment on the Mann–Whitney (MW) loss against InfoNCE for
// dual-encoder retrieval, from Nima Sheikholeslami, Erfan Hosseini, Patrice Bechard, Srivatsava Daruru
// and Sai Rajeswar, "Optimizing What Matters: AUC-Driven Learning for Robust Neural Retrieval",
// arXiv:2510.00137.
//
// The task is synthetic: passages in topic clusters, each query a noisy copy of its positive passage
// carrying a scalar "style" r. The score model s(q,p) = cos(Wq q, Wp p) + v·r + u·q + c adds a per-query
// offset to a query's whole row of scores; InfoNCE is blind to such offsets (the paper's Lemma 1) and
// the MW loss is not. Both arms get the same learning-rate grid, tuned on a validation split by global
// AUC; the chosen rates are then trained from independent initialisations and data orders (run r seeds
// both) and scored on held-out test queries: global AUC (every query's positive pooled with its TopNeg
// highest-scoring non-positive passages) and MRR@10.
//
// Training goes through lib/train's ContextStep with Adam; the objectives are lib/losses'
// MWLossOnePositive (mean reduction) and InfoNCE.
package mwexp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/train"
)

// The arms.
const (
	InfoNCE = "infonce"
	MW      = "mw"
)

// Arms lists the arms in the order results report them: the baseline first.
var Arms = []string{InfoNCE, MW}

// Config is the experiment's size and settings.
type Config struct {
	Dim, Emb, Clusters int // input dimension, embedding dimension, topic clusters
	Passages           int // corpus size
	Noise              float64
	Train, Val, Test   int // queries per split
	HardNeg, Batch     int
	Tau                float64
	Epochs             int
	TopNeg             int       // negatives per query pooled into the global AUC
	LRs                []float64 // Adam learning-rate grid, the same for both arms
	Runs               int       // independent final runs per arm
}

// Default is the notebook's full size (the spec's task: 40 clusters in R^32, linear encoders to R^16,
// B = 32, H = 3 same-cluster hard negatives, tau = 0.05, Adam).
func Default() Config {
	return Config{Dim: 32, Emb: 16, Clusters: 40, Passages: 2000, Noise: 0.5, Train: 2000, Val: 300, Test: 500,
		HardNeg: 3, Batch: 32, Tau: 0.05, Epochs: 20, TopNeg: 100, LRs: []float64{3e-4, 1e-3, 3e-3, 1e-2, 3e-2}, Runs: 5}
}

// Quick is Default at CI sizes (the same code path).
func Quick() Config {
	c := Default()
	c.Passages, c.Train, c.Val, c.Test, c.Epochs, c.Runs = 400, 320, 64, 64, 2, 3
	c.LRs = []float64{1e-3, 1e-2}
	c.TopNeg = 20
	return c
}

// Check returns an error naming the first bad setting.
func (c Config) Check() error {
	switch {
	case c.Dim < 1 || c.Emb < 1 || c.Clusters < 1:
		return fmt.Errorf("mwexp: dimensions and clusters must be positive, got dim %d emb %d clusters %d", c.Dim, c.Emb, c.Clusters)
	case c.Passages/c.Clusters < c.HardNeg+1:
		return fmt.Errorf("mwexp: %d passages in %d clusters leave fewer than %d per cluster (1 positive + %d hard negatives)", c.Passages, c.Clusters, c.HardNeg+1, c.HardNeg)
	case c.Batch < 2 || c.Train < c.Batch:
		return fmt.Errorf("mwexp: need batch ≥ 2 and at least one batch of training queries, got batch %d, %d queries", c.Batch, c.Train)
	case c.Val < 1 || c.Test < 1:
		return fmt.Errorf("mwexp: need validation and test queries, got %d and %d", c.Val, c.Test)
	case c.TopNeg < 1 || c.TopNeg > c.Passages-1:
		return fmt.Errorf("mwexp: TopNeg %d must be in [1, %d]", c.TopNeg, c.Passages-1)
	case !(c.Tau > 0) || c.Epochs < 1 || c.Runs < 1 || len(c.LRs) == 0 || !(c.Noise >= 0):
		return fmt.Errorf("mwexp: need tau > 0, epochs, runs and learning rates ≥ 1, noise ≥ 0 (got tau %g, %d epochs, %d runs, %d rates)", c.Tau, c.Epochs, c.Runs, len(c.LRs))
	}
	for _, lr := range c.LRs {
		if !(lr > 0) {
			return fmt.Errorf("mwexp: learning rate %g must be positive", lr)
		}
	}
	return nil
}

// Data is the corpus and the three query splits.
type Data struct {
	P                [][]float64 // passages
	Cluster          []int
	Members          [][]int // passages of each cluster
	Train, Val, Test Queries
}

// Queries are noisy copies of their positive passages, with a style scalar each.
type Queries struct {
	Q   [][]float64
	R   []float64
	Pos []int
}

// NewData draws the corpus and the queries from a fixed seed (the same data for every run).
func NewData(c Config) (*Data, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	d := &Data{Members: make([][]int, c.Clusters)}
	centres := make([][]float64, c.Clusters)
	for k := range centres {
		centres[k] = normal(rng, c.Dim, 1)
	}
	for i := range c.Passages {
		k := i % c.Clusters
		p := normal(rng, c.Dim, c.Noise)
		for j := range p {
			p[j] += centres[k][j]
		}
		d.P, d.Cluster = append(d.P, p), append(d.Cluster, k)
		d.Members[k] = append(d.Members[k], i)
	}
	split := func(n int) Queries {
		var qs Queries
		for range n {
			p := rng.IntN(c.Passages)
			q := normal(rng, c.Dim, c.Noise)
			for j := range q {
				q[j] += d.P[p][j]
			}
			qs.Q, qs.R, qs.Pos = append(qs.Q, q), append(qs.R, rng.NormFloat64()), append(qs.Pos, p)
		}
		return qs
	}
	d.Train, d.Val, d.Test = split(c.Train), split(c.Val), split(c.Test)
	return d, nil
}

func normal(rng *rand.Rand, n int, sd float64) []float64 {
	v := make([]float64, n)
	for j := range v {
		v[j] = sd * rng.NormFloat64()
	}
	return v
}

// Params are the model's parameters: s(q,p) = cos(Wq q, Wp p) + V r + U·q + C.
type Params struct {
	Wq, Wp [][]float64 // [Dim][Emb]
	V, C   float64
	U      []float64
}

// InitParams draws the initial parameters of run seed: Gaussian encoders (scale 1/√Dim), the style
// weight V at 0.5 (so every query's row starts shifted by 0.5·r), U small and C at 0.1.
func InitParams(c Config, seed uint64) Params {
	rng := rand.New(rand.NewPCG(seed, 3))
	mat := func() [][]float64 {
		m := make([][]float64, c.Dim)
		for i := range m {
			m[i] = normal(rng, c.Emb, 1/math.Sqrt(float64(c.Dim)))
		}
		return m
	}
	return Params{Wq: mat(), Wp: mat(), V: 0.5, C: 0.1, U: normal(rng, c.Dim, 0.05)}
}

func embed(x []float64, w [][]float64) []float64 {
	e := make([]float64, len(w[0]))
	for i, v := range x {
		for j := range e {
			e[j] += v * w[i][j]
		}
	}
	n := 0.0
	for _, v := range e {
		n += v * v
	}
	n = math.Sqrt(n) + 1e-12
	for j := range e {
		e[j] /= n
	}
	return e
}

// Offset is the per-query shift V r + U·q + C that the model adds to the whole row of query q.
func (p Params) Offset(q []float64, r float64) float64 {
	off := p.V*r + p.C
	for j, v := range q {
		off += p.U[j] * v
	}
	return off
}

// scores returns query q's scores against passage embeddings pe.
func (p Params) scores(q []float64, r float64, pe [][]float64) []float64 {
	qe := embed(q, p.Wq)
	off := p.Offset(q, r)
	out := make([]float64, len(pe))
	for k, e := range pe {
		s := 0.0
		for j := range e {
			s += qe[j] * e[j]
		}
		out[k] = s + off
	}
	return out
}

// Metrics of a model on a query split.
type Metrics struct {
	AUC, MRR             float64
	PosScores, NegScores []float64 // positives, and each query's TopNeg highest non-positive scores
}

// Evaluate scores every query of qs against the full corpus.
func Evaluate(c Config, p Params, d *Data, qs Queries) (Metrics, error) {
	pe := make([][]float64, len(d.P))
	for k, x := range d.P {
		pe[k] = embed(x, p.Wp)
	}
	var m Metrics
	for i := range qs.Q {
		s := p.scores(qs.Q[i], qs.R[i], pe)
		pos := qs.Pos[i]
		rank := 1
		negs := make([]float64, 0, len(s)-1)
		for k, v := range s {
			if k == pos {
				continue
			}
			if v >= s[pos] {
				rank++
			}
			negs = append(negs, v)
		}
		if rank <= 10 {
			m.MRR += 1 / float64(rank)
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(negs)))
		m.PosScores = append(m.PosScores, s[pos])
		m.NegScores = append(m.NegScores, negs[:c.TopNeg]...)
	}
	m.MRR /= float64(len(qs.Q))
	all := append(append([]float64{}, m.PosScores...), m.NegScores...)
	isPos := make([]bool, len(all))
	for i := range m.PosScores {
		isPos[i] = true
	}
	aoc, err := losses.AreaOverCurve(all, isPos)
	if err != nil {
		return m, fmt.Errorf("mwexp: global AUC: %w", err)
	}
	m.AUC = 1 - aoc
	return m, nil
}

// batch is one training batch: queries [B,Dim], styles [B], passages [B(1+H),Dim] (the B positives,
// then H same-cluster hard negatives per query); query b's positive is column b.
func batch(c Config, d *Data, idx []int, rng *rand.Rand) (q [][]float32, r []float32, ps [][]float32) {
	for _, i := range idx {
		q = append(q, f32(d.Train.Q[i]))
		r = append(r, float32(d.Train.R[i]))
		ps = append(ps, f32(d.P[d.Train.Pos[i]]))
	}
	for _, i := range idx {
		mem := d.Members[d.Cluster[d.Train.Pos[i]]]
		for range c.HardNeg {
			k := mem[rng.IntN(len(mem))]
			for k == d.Train.Pos[i] {
				k = mem[rng.IntN(len(mem))]
			}
			ps = append(ps, f32(d.P[k]))
		}
	}
	return q, r, ps
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Trained is one training run's outcome.
type Trained struct {
	Init, Final Params
	Curve       []float64 // mean batch loss per epoch
}

// Train trains the model with arm's loss at learning rate lr from InitParams(c, seed), the data order
// and hard negatives also drawn from seed.
func Train(c Config, d *Data, arm string, lr float64, seed uint64) (Trained, error) {
	if arm != InfoNCE && arm != MW {
		return Trained{}, fmt.Errorf("mwexp: unknown arm %q (want %q or %q)", arm, InfoNCE, MW)
	}
	p0 := InitParams(c, seed)
	ctx := context.New()
	mat := func(m [][]float64) [][]float32 {
		out := make([][]float32, len(m))
		for i := range m {
			out[i] = f32(m[i])
		}
		return out
	}
	ctx.VariableWithValue("wq", mat(p0.Wq))
	ctx.VariableWithValue("wp", mat(p0.Wp))
	ctx.VariableWithValue("u", f32(p0.U))
	ctx.VariableWithValue("v", float32(p0.V))
	ctx.VariableWithValue("c", float32(p0.C))
	step, err := train.NewContextStep(ctx, optimizers.Adam().LearningRate(lr).Done(), func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		q, r, ps := in[0], in[1], in[2]
		g := q.Graph()
		val := func(name string) *Node { return ctx.GetVariableByScopeAndName("/", name).ValueGraph(g) }
		qe := L2NormalizeWithEpsilon(MatMul(q, val("wq")), 1e-12, -1)
		pe := L2NormalizeWithEpsilon(MatMul(ps, val("wp")), 1e-12, -1)
		off := Add(Add(Mul(val("v"), r), ReduceSum(Mul(q, InsertAxes(val("u"), 0)), -1)), val("c"))
		s := Add(MatMul(qe, Transpose(pe, 0, 1)), InsertAxes(off, -1))
		if arm == MW {
			return losses.MWLossOnePositive(s, in[3], c.Tau, true), nil
		}
		return ReduceAllMean(losses.InfoNCE(s, OneHot(in[3], s.Shape().Dimensions[1], s.DType()), c.Tau)), nil
	})
	if err != nil {
		return Trained{}, fmt.Errorf("mwexp: %s: %w", arm, err)
	}
	defer step.Finalize()
	rng := rand.New(rand.NewPCG(seed, 4))
	posCol := make([]int32, c.Batch) // query b's positive is column b
	for b := range posCol {
		posCol[b] = int32(b)
	}
	out := Trained{Init: p0}
	for range c.Epochs {
		perm := rng.Perm(c.Train)
		sum, k := 0.0, 0
		for s := 0; s+c.Batch <= c.Train; s += c.Batch {
			q, r, ps := batch(c, d, perm[s:s+c.Batch], rng)
			l, _, err := step.Step(q, r, ps, posCol)
			if err != nil {
				return out, fmt.Errorf("mwexp: %s training step: %w", arm, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return out, fmt.Errorf("mwexp: %s at lr %g: training loss became %v", arm, lr, l)
			}
			sum, k = sum+l, k+1
		}
		out.Curve = append(out.Curve, sum/float64(k))
	}
	get := func(name string) any { return ctx.GetVariableByScopeAndName("/", name).MustValue().Value() }
	toMat := func(v any) [][]float64 {
		m := v.([][]float32)
		out := make([][]float64, len(m))
		for i := range m {
			out[i] = f64(m[i])
		}
		return out
	}
	out.Final = Params{Wq: toMat(get("wq")), Wp: toMat(get("wp")), U: f64(get("u").([]float32)),
		V: float64(get("v").(float32)), C: float64(get("c").(float32))}
	return out, nil
}

// OffsetGrad returns ∂L/∂v of arm's loss (float64, through losses.Evaluate) at p on the first training
// batch of seed: v shifts query i's whole row by v·r_i, so ∂L/∂v = Σ_i r_i Σ_j ∂L/∂s_ij. Lemma 1 of the
// paper says it is 0 for InfoNCE.
func OffsetGrad(c Config, d *Data, arm string, p Params, seed uint64) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, 5))
	q, r, ps := batch(c, d, rng.Perm(c.Train)[:c.Batch], rng)
	pe := make([][]float64, len(ps))
	for k, x := range ps {
		pe[k] = embed(f64(x), p.Wp)
	}
	s := make([][]float64, len(q))
	pos := make([][]int32, len(q))
	for i := range q {
		s[i] = p.scores(f64(q[i]), float64(r[i]), pe)
		pos[i] = make([]int32, len(ps))
		pos[i][i] = 1
	}
	in := map[string]*tensors.Tensor{"scores": tensors.FromValue(s), "positives": tensors.FromValue(pos)}
	var res *losses.Result
	var err error
	if arm == MW {
		res, err = losses.Evaluate("mw-loss", in, losses.Params{"tau": c.Tau, "mean": 1})
	} else {
		res, err = losses.Evaluate("infonce", in, losses.Params{"tau": c.Tau})
	}
	if err != nil {
		return 0, fmt.Errorf("mwexp: offset gradient: %w", err)
	}
	g, n := 0.0, len(ps)
	for i := range q {
		row := 0.0
		for j := range n {
			row += res.Grad["scores"][i*n+j]
		}
		g += float64(r[i]) * row
	}
	return g, nil
}

// Result is the whole experiment's outcome.
type Result struct {
	// ValAUC[arm][i] and ValMRR[arm][i] are the validation global AUC and MRR@10 of LRs[i] (one tuning
	// run, seed TuneSeed).
	ValAUC, ValMRR map[string][]float64
	// ByAUC[arm] are the final runs of the learning rate with the best validation AUC, ByMRR[arm] those
	// of the best validation MRR@10 (the same runs when the two choices agree).
	ByAUC, ByMRR map[string]*Final
}

// Final are the independent runs of one arm at one learning rate: run r uses seed r+1 for the
// initialisation, data order and hard negatives, so runs of both arms with the same r are paired.
type Final struct {
	LR     float64
	Test   []Metrics   // test metrics of each run
	Curves [][]float64 // training loss per epoch of each run
	GradV  []float64   // |∂L/∂v| of the arm's own loss at the trained parameters (Lemma 1)
	V      []float64   // the trained style weight (it starts at 0.5)
}

// TuneSeed seeds the tuning runs; the final runs use seeds 1..Runs.
const TuneSeed = 1000

// RunsAtMost is the most training runs Run does (fewer when an arm's two choices agree).
func (c Config) RunsAtMost() int { return len(Arms) * (len(c.LRs) + 2*c.Runs) }

// Run tunes each arm's learning rate on the validation split (once for global AUC, once for MRR@10),
// then trains each chosen rate Runs times and scores it on the test split. done, if not nil, is called
// after each training run.
func Run(c Config, done func(string)) (*Result, error) {
	d, err := NewData(c)
	if err != nil {
		return nil, err
	}
	res := &Result{ValAUC: map[string][]float64{}, ValMRR: map[string][]float64{},
		ByAUC: map[string]*Final{}, ByMRR: map[string]*Final{}}
	report := func(s string) {
		if done != nil {
			done(s)
		}
	}
	for _, arm := range Arms {
		for _, lr := range c.LRs {
			tr, err := Train(c, d, arm, lr, TuneSeed)
			// A diverged rate is recorded as NaN and never chosen.
			auc, mrr := math.NaN(), math.NaN()
			if err == nil {
				m, err := Evaluate(c, tr.Final, d, d.Val)
				if err != nil {
					return nil, err
				}
				auc, mrr = m.AUC, m.MRR
			}
			res.ValAUC[arm], res.ValMRR[arm] = append(res.ValAUC[arm], auc), append(res.ValMRR[arm], mrr)
			report(fmt.Sprintf("tune %s lr %g: val AUC %.4f, MRR@10 %.4f", arm, lr, auc, mrr))
		}
		lrAUC, lrMRR := best(c.LRs, res.ValAUC[arm]), best(c.LRs, res.ValMRR[arm])
		if math.IsNaN(lrAUC) || math.IsNaN(lrMRR) {
			return nil, fmt.Errorf("mwexp: every learning rate of %s diverged", arm)
		}
		if res.ByAUC[arm], err = finalRuns(c, d, arm, lrAUC, report); err != nil {
			return nil, err
		}
		res.ByMRR[arm] = res.ByAUC[arm]
		if lrMRR != lrAUC {
			if res.ByMRR[arm], err = finalRuns(c, d, arm, lrMRR, report); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// best returns the learning rate of the largest finite score, NaN when none is finite.
func best(lrs, score []float64) float64 {
	lr, top := math.NaN(), math.Inf(-1)
	for i, v := range score {
		if v > top {
			lr, top = lrs[i], v
		}
	}
	return lr
}

func finalRuns(c Config, d *Data, arm string, lr float64, report func(string)) (*Final, error) {
	f := &Final{LR: lr}
	for r := range c.Runs {
		seed := uint64(r + 1)
		tr, err := Train(c, d, arm, lr, seed)
		if err != nil {
			return nil, err
		}
		m, err := Evaluate(c, tr.Final, d, d.Test)
		if err != nil {
			return nil, err
		}
		g, err := OffsetGrad(c, d, arm, tr.Final, seed)
		if err != nil {
			return nil, err
		}
		f.Test, f.Curves = append(f.Test, m), append(f.Curves, tr.Curve)
		f.GradV, f.V = append(f.GradV, math.Abs(g)), append(f.V, tr.Final.V)
		report(fmt.Sprintf("%s lr %g run %d: test AUC %.4f, MRR@10 %.4f", arm, lr, r+1, m.AUC, m.MRR))
	}
	return f, nil
}

// AUC returns the test global AUC of each final run of arm at its rate chosen on validation AUC.
func (r *Result) AUC(arm string) []float64 {
	return metric(r.ByAUC[arm], func(m Metrics) float64 { return m.AUC })
}

// MRR returns the test MRR@10 of each final run of arm at its rate chosen on validation MRR@10.
func (r *Result) MRR(arm string) []float64 {
	return metric(r.ByMRR[arm], func(m Metrics) float64 { return m.MRR })
}

func metric(f *Final, get func(Metrics) float64) []float64 {
	if f == nil {
		return nil
	}
	var out []float64
	for _, m := range f.Test {
		out = append(out, get(m))
	}
	return out
}
