// Package gpamexp runs the few-shot "none of the above" (NOTA) experiment of Guo, Zhang, Wang, Lei, Li,
// Wang & Liu, "Few-shot Open Relation Extraction with Gaussian Prototype and Adaptive Margin",
// arXiv:2410.20320, at notebook scale, in the form a verdict needs.
//
// Only the paper's abstract could be read, so the method is the project's reconstruction of it
// (losses.GaussianPrototypes, losses.GaussianDistances, losses.GPAMMargins, losses.GPAMLoss): diagonal
// Gaussian prototypes, a learned NOTA threshold ρ and an additive margin that adapts to each class's
// spread, trained with NOTA queries drawn from classes outside the episode (negative sampling).
//
// The task stands in for FewRel-NOTA: 3-way K-shot episodes on held-out Fashion-MNIST classes (14×14),
// whose NOTA queries come from a fourth held-out class at several rates. Three arms share one MLP
// encoder and one learning-rate grid:
//
//   - (a) ProtoNet (Snell et al.), whose NOTA rule is a threshold on the relative squared distance
//     (ProtoNetDistances) tuned on validation episodes;
//   - (b) the Gaussian metric with a learned ρ and no margins;
//   - (c) the full reconstruction, with the adaptive margins.
//
// Every arm is tuned over the same learning rates on validation episodes (held-out images of the
// training classes: Fashion-MNIST has no classes to spare for a class-disjoint validation split), and the
// chosen point is then trained Runs times; run r draws its initialisation, its training episodes and its
// test episodes from seeds derived from r, the same for every arm, so arms are paired by run.
package gpamexp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/fewshot"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
)

// Arm is one training objective and decision rule.
type Arm struct {
	Name string
	// Gauss selects the Gaussian metric with a learned NOTA threshold ρ; otherwise ProtoNet with a
	// threshold tuned on validation episodes.
	Gauss bool
	// Kappa scales the adaptive class margins m_c = κ·mean_j σ_cj; M0 is the NOTA margin.
	Kappa, M0 float64
}

// The three arms of the experiment.
var (
	ProtoNet = Arm{Name: "(a) ProtoNet + tuned threshold"}
	Gaussian = Arm{Name: "(b) Gaussian, learned ρ", Gauss: true}
	GPAM     = Arm{Name: "(c) GPAM: + adaptive margins", Gauss: true, Kappa: 1, M0: 0.2}
)

// Config is the whole experiment.
type Config struct {
	// PerClass is the number of Fashion-MNIST images per class taken from each split (at most 1,000).
	PerClass int
	// TrainPool holds the meta-training classes, TestPool the held-out ones (Way+1 of them at least).
	TrainPool, TestPool []int
	// Way and Query shape validation and test episodes (Query known queries per class).
	Way, Query int
	// Training episodes: TrainWay classes, TrainQuery queries each, plus TrainNOTA NOTA queries from
	// the other training classes (negative sampling).
	TrainWay, TrainQuery, TrainNOTA int
	Shots                           []int     // K of each setting
	Rates                           []float64 // NOTA rates of the test episodes (share of all queries)
	ValRate                         float64   // NOTA rate of the validation episodes
	ValEpisodes, TestEpisodes       int
	Steps                           int // training episodes per run
	// LRs is Adam's learning-rate grid, the same for every arm (the same tuning budget).
	LRs []float64
	// Runs is the number of independent final runs per arm and shot; TuneSeed seeds the tuning runs.
	Runs     int
	TuneSeed uint64
	// Sigma0Sq is the variance floor σ₀²; ρ = softplus(RhoScale·r) with r learned, starting at ρ = RhoInit.
	Sigma0Sq, RhoInit, RhoScale float64
	Hidden, Dim                 int // the encoder: an MLP 196 → Hidden → Dim
	DataSeed                    uint64
	Arms                        []Arm
}

// Default is the notebook's full size: 48 training runs of 1,500 episodes (3 arms × 2 shots × (3
// learning rates + 5 final runs)), about 10 minutes on two busy CPU cores.
func Default() Config {
	return Config{PerClass: 1000, TrainPool: []int{0, 1, 2, 3, 4, 5}, TestPool: []int{6, 7, 8, 9},
		Way: 3, Query: 15, TrainWay: 4, TrainQuery: 10, TrainNOTA: 17,
		Shots: []int{1, 5}, Rates: []float64{0, 0.15, 0.3, 0.5}, ValRate: 0.3, ValEpisodes: 200, TestEpisodes: 300,
		Steps: 1500, LRs: []float64{3e-4, 1e-3, 3e-3}, Runs: 5, TuneSeed: 100,
		Sigma0Sq: 0.1, RhoInit: 32, RhoScale: 10, Hidden: 256, Dim: 64, DataSeed: 19,
		Arms: []Arm{ProtoNet, Gaussian, GPAM}}
}

// Quick is Default at CI sizes: the same code path, a few seconds.
func Quick() Config {
	c := Default()
	c.PerClass, c.ValEpisodes, c.TestEpisodes, c.Steps, c.Runs = 150, 20, 30, 20, 3
	c.LRs = []float64{1e-3, 3e-3}
	return c
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.PerClass < c.Query+max(slices.Max(append([]int{1}, c.Shots...)), 1) || c.PerClass > 1000:
		return fmt.Errorf("gpamexp: %d images per class (need enough for one episode's shots and queries, at most 1000)", c.PerClass)
	case c.Way < 2 || len(c.TestPool) < c.Way+1:
		return fmt.Errorf("gpamexp: %d-way test episodes with NOTA need way ≥ 2 and way+1 test classes, have %d", c.Way, len(c.TestPool))
	case c.TrainWay < 2 || len(c.TrainPool) < c.TrainWay+1 || c.TrainQuery < 1 || c.TrainNOTA < 1:
		return fmt.Errorf("gpamexp: training episodes %d-way with %d queries and %d NOTA need %d training classes, have %d",
			c.TrainWay, c.TrainQuery, c.TrainNOTA, c.TrainWay+1, len(c.TrainPool))
	case c.Query < 1 || len(c.Shots) == 0 || len(c.Rates) == 0:
		return errors.New("gpamexp: need queries, shots and NOTA rates")
	case !(c.ValRate > 0 && c.ValRate < 1):
		return fmt.Errorf("gpamexp: validation NOTA rate %g must lie in (0, 1): the threshold is tuned against NOTA queries", c.ValRate)
	case c.ValEpisodes < 1 || c.TestEpisodes < 1 || c.Steps < 1 || c.Runs < 1:
		return fmt.Errorf("gpamexp: validation episodes %d, test episodes %d, steps %d, runs %d must be ≥ 1", c.ValEpisodes, c.TestEpisodes, c.Steps, c.Runs)
	case len(c.LRs) == 0:
		return errors.New("gpamexp: the learning-rate grid is empty")
	case !(c.Sigma0Sq > 0) || !(c.RhoInit > 0) || !(c.RhoScale > 0):
		return fmt.Errorf("gpamexp: σ₀² %g, initial ρ %g and ρ scale %g must be positive", c.Sigma0Sq, c.RhoInit, c.RhoScale)
	case c.Hidden < 1 || c.Dim < 1 || len(c.Arms) == 0:
		return errors.New("gpamexp: need an encoder (hidden and embedding width) and arms")
	}
	for _, r := range c.Rates {
		if !(r >= 0 && r < 1) {
			return fmt.Errorf("gpamexp: NOTA rate %g outside [0, 1)", r)
		}
	}
	for _, x := range c.TestPool {
		if slices.Contains(c.TrainPool, x) {
			return fmt.Errorf("gpamexp: class %d is both a training and a test class", x)
		}
	}
	return nil
}

// Sets returns the training set (training classes, training split), the validation set (training
// classes, test split) and the test set (test classes, test split), at 14×14.
func (c Config) Sets() (tr, va, te *data.Set, err error) {
	small := func(s *data.Set) (*data.Set, error) {
		img, err := s.Reshape(28, 28, 1)
		if err != nil {
			return nil, err
		}
		d, err := img.Downsample(2)
		if err != nil {
			return nil, err
		}
		return d.Reshape(d.Dim())
	}
	split := func(name string, pool []int) (*data.Set, error) {
		s, err := data.FashionMNIST(name, data.WithSubset(10*c.PerClass), data.WithSeed(c.DataSeed))
		if err != nil {
			return nil, err
		}
		if s, err = s.FilterClasses(pool, false); err != nil {
			return nil, err
		}
		return small(s)
	}
	if tr, err = split("train", c.TrainPool); err != nil {
		return nil, nil, nil, err
	}
	if va, err = split("test", c.TrainPool); err != nil {
		return nil, nil, nil, err
	}
	if te, err = split("test", c.TestPool); err != nil {
		return nil, nil, nil, err
	}
	return tr, va, te, nil
}

// NOTACount is the number of NOTA queries that makes rate the share of NOTA among all queries of an
// episode with way·query known queries.
func NOTACount(way, query int, rate float64) int {
	return int(math.Round(float64(way*query) * rate / (1 - rate)))
}

// Episodes draws n episodes from set's classes pool with NOTA queries at rate.
func (c Config) Episodes(s *data.Set, pool []int, shot int, rate float64, n int, seed uint64) ([]data.Episode, error) {
	smp, err := data.NewEpisodeSampler(s, data.EpisodeConfig{Way: c.Way, Shot: shot, Query: c.Query, Pool: pool,
		NOTA: NOTACount(c.Way, c.Query, rate), Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("gpamexp: %w", err)
	}
	eps := make([]data.Episode, n)
	for i := range eps {
		eps[i] = smp.Next()
	}
	return eps, nil
}

// Encoder is the embedding network: an MLP 196 → Hidden → Dim whose last layer is linear.
func (c Config) Encoder() fewshot.EmbedFn { return fewshot.Logits(models.NewMLP(c.Dim, c.Hidden)) }

// rhoVar is the name of ρ's raw variable in the loss scope.
const rhoVar = "rho_raw"

// Loss returns an arm's training loss: ProtoNet's cross-entropy over the known queries, or the GPAM
// loss (κ = M0 = 0 for arm (b)) with ρ = softplus(RhoScale·r), r learned.
func (c Config) Loss(a Arm) fewshot.LossFn {
	if !a.Gauss {
		return fewshot.ProtoNetLoss
	}
	r0 := math.Log(math.Expm1(c.RhoInit)) / c.RhoScale
	return func(ctx *context.Context, e *fewshot.EpisodeNodes) *Node {
		g := e.Query.Graph()
		mu, v := losses.GaussianPrototypes(e.Support, e.SupportClasses, Scalar(g, e.Query.DType(), c.Sigma0Sq))
		d := losses.GaussianDistances(e.Query, mu, v)
		rho := Softplus(MulScalar(ctx.VariableWithValue(rhoVar, float32(r0)).ValueGraph(g), c.RhoScale))
		return ReduceAllMean(losses.GPAMLoss(d, losses.GPAMMargins(v, a.Kappa), e.QueryClasses, nil, rho, a.M0, 1))
	}
}

// Rho reads the learned ρ of a Gaussian arm's trained context.
func (c Config) Rho(ctx *context.Context) (float64, error) {
	v := ctx.In(fewshot.LossScope).GetVariable(rhoVar)
	if v == nil {
		return 0, errors.New("gpamexp: the context has no learned ρ (not a Gaussian arm?)")
	}
	val, err := v.Value()
	if err != nil {
		return 0, err
	}
	r := float64(tensors.ToScalar[float32](val))
	return math.Log1p(math.Exp(c.RhoScale * r)), nil
}

// ProtoNetDistances returns ProtoNet's squared distances ‖q − p_c‖² from every query of the episode
// to every prototype, [Q][Way], in units of the episode's mean squared distance between prototypes:
// the scale on which arm (a) thresholds NOTA.
//
// The unit makes the threshold transfer from the validation classes to the test classes. On raw
// squared distances it did not: the threshold is tuned on validation images of the training classes,
// which the encoder packs tightly, while the held-out test classes sit at a distance scale about 2.5×
// larger, so a tuned raw threshold sent most known test queries to NOTA.
func ProtoNetDistances(emb *fewshot.Embeddings, ep data.Episode, way int) ([][]float64, error) {
	if way < 2 {
		return nil, fmt.Errorf("gpamexp.ProtoNetDistances: relative distances need two ways or more, got %d", way)
	}
	protos, err := fewshot.Prototypes(emb, ep, way)
	if err != nil {
		return nil, err
	}
	unit, pairs := 0.0, 0
	for a := range protos {
		for b := a + 1; b < way; b++ {
			for j := range protos[a] {
				t := protos[a][j] - protos[b][j]
				unit += t * t
			}
			pairs++
		}
	}
	unit /= float64(pairs)
	if !(unit > 0) || math.IsInf(unit, 0) {
		return nil, fmt.Errorf("gpamexp.ProtoNetDistances: the prototypes' mean squared distance is %g (coincident prototypes)", unit)
	}
	d, err := fewshot.SquaredDistances(emb, ep, way)
	if err != nil {
		return nil, err
	}
	for _, row := range d {
		for c := range row {
			row[c] /= unit
		}
	}
	return d, nil
}

// Distances returns an arm's distances for an episode: the Gaussian class NLL (Gaussian arms) or
// ProtoNetDistances.
func (c Config) Distances(a Arm, emb *fewshot.Embeddings, ep data.Episode) ([][]float64, error) {
	if a.Gauss {
		return fewshot.GaussianDistances(emb, ep, c.Way, c.Sigma0Sq)
	}
	return ProtoNetDistances(emb, ep, c.Way)
}

// Score holds an episode set's predictions over all queries and over the known queries only.
type Score struct {
	All, Known fewshot.Counts
}

// Evaluate scores episodes with distances dist and a NOTA threshold (label way = NOTA).
func Evaluate(dist func(data.Episode) ([][]float64, error), eps []data.Episode, way int, threshold float64) (Score, error) {
	var s Score
	for _, ep := range eps {
		d, err := dist(ep)
		if err != nil {
			return Score{}, err
		}
		for i, row := range d {
			pred, label := fewshot.Classify(row, threshold), int(ep.QueryY[i])
			s.All.Add(pred, label, way)
			if label < way {
				s.Known.Add(pred, label, way)
			}
		}
	}
	return s, nil
}

// TuneThreshold returns the NOTA threshold that maximises the (N+1)-way accuracy of the episodes
// under distances dist (ties to the smallest such threshold; the midpoint between neighbouring
// queries), and that accuracy.
func TuneThreshold(dist func(data.Episode) ([][]float64, error), eps []data.Episode, way int) (threshold, acc float64, err error) {
	type query struct {
		min           float64
		argmin, label int
	}
	var qs []query
	for _, ep := range eps {
		d, err := dist(ep)
		if err != nil {
			return 0, 0, err
		}
		for i, row := range d {
			c := fewshot.Classify(row, math.Inf(1))
			qs = append(qs, query{row[c], c, int(ep.QueryY[i])})
		}
	}
	if len(qs) == 0 {
		return 0, 0, errors.New("gpamexp.TuneThreshold: no queries")
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].min < qs[j].min })
	correct := 0 // below every query's distance: every query is NOTA
	for _, q := range qs {
		if q.label == way {
			correct++
		}
	}
	best, bestT := correct, qs[0].min-1
	for i, q := range qs { // raise the threshold past query i: it gets its nearest class
		if q.argmin == q.label {
			correct++
		}
		if q.label == way {
			correct--
		}
		if correct > best && (i+1 == len(qs) || qs[i+1].min > q.min) {
			best, bestT = correct, q.min
			if i+1 < len(qs) {
				bestT = (q.min + qs[i+1].min) / 2
			}
		}
	}
	return bestT, float64(best) / float64(len(qs)), nil
}

// Seeds are the seeds of one training run: its initialisation and its training episodes.
type Seeds struct{ Init, Episodes uint64 }

// RunSeeds returns the seeds of final run r (0-based) at shot K: independent of every other run's, and
// the same for every arm (arms are paired by run). Tuning runs use TuneSeed for both.
func (c Config) RunSeeds(r, shot int) Seeds {
	return Seeds{Init: uint64(1 + r), Episodes: uint64(1000*(r+1) + shot)}
}

// testSeed seeds run r's test episodes at shot and NOTA rate index i (shared by the arms).
func (c Config) testSeed(r, shot, i int) uint64 { return uint64(500000 + 1000*r + 10*shot + i) }

// valSeed seeds the validation episodes at shot of run r (r = −1: the tuning runs).
func (c Config) valSeed(r, shot int) uint64 { return uint64(700000 + 1000*(r+1) + shot) }

// Tuning is one arm's validation accuracy at each learning rate of the grid for one shot, and the
// index of the chosen one (the highest accuracy; ties to the earlier point).
type Tuning struct {
	Arm    string
	Shot   int
	ValAcc []float64
	Best   int
}

// RunResult is one final run of an arm at one shot.
type RunResult struct {
	Arm       string
	Shot, Run int
	LR        float64
	// Threshold is the learned ρ (Gaussian arms) or the relative distance threshold tuned on the
	// validation episodes (ProtoNet).
	Threshold float64
	Scores    []Score // one per test NOTA rate (Config.Rates)
	Seconds   float64 // training time
}

// Result is the whole experiment.
type Result struct {
	Tuning []Tuning
	Runs   []RunResult
}

// TrainingRuns is the number of training runs Run makes (for a progress bar).
func (c Config) TrainingRuns() int { return len(c.Arms) * len(c.Shots) * (len(c.LRs) + c.Runs) }

// Accuracy returns the (N+1)-way test accuracy of each final run of arm at shot and NOTA rate index i,
// in run order.
func (r *Result) Accuracy(arm string, shot, i int) []float64 {
	return r.Values(arm, shot, func(x RunResult) float64 { return x.Scores[i].All.Accuracy() })
}

// Values returns f of each final run of arm at shot, in run order.
func (r *Result) Values(arm string, shot int, f func(RunResult) float64) []float64 {
	var out []float64
	for _, x := range r.Runs {
		if x.Arm == arm && x.Shot == shot {
			out = append(out, f(x))
		}
	}
	return out
}

// Chosen returns the tuning of arm at shot (nil if none).
func (r *Result) Chosen(arm string, shot int) *Tuning {
	for i := range r.Tuning {
		if r.Tuning[i].Arm == arm && r.Tuning[i].Shot == shot {
			return &r.Tuning[i]
		}
	}
	return nil
}

// trained is one training run's decision rule on embeddings: distances and a NOTA threshold.
type trained struct {
	dist      func(emb *fewshot.Embeddings) func(data.Episode) ([][]float64, error)
	threshold float64
	embed     func(*data.Set) (*fewshot.Embeddings, error)
	seconds   float64
}

// errDiverged marks a training run whose loss became NaN or infinite.
var errDiverged = errors.New("gpamexp: training diverged")

// train trains arm at shot with learning rate lr from seeds and fixes its decision rule: the learned ρ,
// or a threshold tuned on the validation episodes val (embedded from va).
func (c Config) train(a Arm, shot int, lr float64, s Seeds, tr, va *data.Set, val []data.Episode) (*trained, error) {
	res, err := fewshot.Train(fewshot.Config{Embed: c.Encoder(), Set: tr, Loss: c.Loss(a), Steps: c.Steps, LR: lr, Seed: s.Init, Silent: true,
		Episodes: data.EpisodeConfig{Way: c.TrainWay, Shot: shot, Query: c.TrainQuery, NOTA: c.TrainNOTA, Pool: c.TrainPool, Seed: s.Episodes}})
	if err != nil {
		if res != nil && len(res.Losses) > 0 {
			if l := res.Losses[len(res.Losses)-1]; math.IsNaN(l) || math.IsInf(l, 0) {
				return nil, fmt.Errorf("%w: %w", errDiverged, err)
			}
		}
		return nil, err
	}
	embedder, err := fewshot.NewEmbedder(c.Encoder(), res.Context)
	if err != nil {
		return nil, err
	}
	t := &trained{embed: embedder.Embed, seconds: res.Elapsed.Seconds()}
	t.dist = func(emb *fewshot.Embeddings) func(data.Episode) ([][]float64, error) {
		return func(ep data.Episode) ([][]float64, error) { return c.Distances(a, emb, ep) }
	}
	if a.Gauss {
		t.threshold, err = c.Rho(res.Context)
		return t, err
	}
	embVa, err := embedder.Embed(va)
	if err != nil {
		return nil, err
	}
	t.threshold, _, err = TuneThreshold(t.dist(embVa), val, c.Way)
	return t, err
}

// Run runs the experiment: for every arm and shot, one tuning run per learning rate (scored on the
// validation episodes), then Runs final runs at the chosen rate, each scored on its own test episodes
// at every NOTA rate. progress, if not nil, is called after every training run with a description.
//
// ProtoNet's tuning accuracy is measured with the threshold tuned on the same validation episodes, so
// it is optimistic; it only ranks ProtoNet's own learning rates, and every final run tunes its
// threshold on validation episodes of its own and is scored on test episodes.
func Run(c Config, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	tr, va, te, err := c.Sets()
	if err != nil {
		return nil, err
	}
	out := &Result{}
	for _, shot := range c.Shots {
		tuneVal, err := c.Episodes(va, c.TrainPool, shot, c.ValRate, c.ValEpisodes, c.valSeed(-1, shot))
		if err != nil {
			return nil, err
		}
		for _, a := range c.Arms {
			tu := Tuning{Arm: a.Name, Shot: shot, Best: -1}
			best := math.Inf(-1)
			for i, lr := range c.LRs {
				acc := math.NaN() // a diverged tuning run is recorded as NaN and never chosen
				t, err := c.train(a, shot, lr, Seeds{Init: c.TuneSeed, Episodes: c.TuneSeed}, tr, va, tuneVal)
				switch {
				case errors.Is(err, errDiverged):
				case err != nil:
					return nil, fmt.Errorf("gpamexp: %s, %d-shot, tuning lr=%g: %w", a.Name, shot, lr, err)
				default:
					var embVa *fewshot.Embeddings
					if embVa, err = t.embed(va); err != nil {
						return nil, err
					}
					var s Score
					if s, err = Evaluate(t.dist(embVa), tuneVal, c.Way, t.threshold); err != nil {
						return nil, err
					}
					acc = s.All.Accuracy()
				}
				tu.ValAcc = append(tu.ValAcc, acc)
				if acc > best {
					best, tu.Best = acc, i
				}
				if progress != nil {
					progress(fmt.Sprintf("%s, %d-shot, tuning lr=%g: validation accuracy %.3f", a.Name, shot, lr, acc))
				}
			}
			if tu.Best < 0 {
				return nil, fmt.Errorf("gpamexp: %s, %d-shot: every tuning run diverged", a.Name, shot)
			}
			out.Tuning = append(out.Tuning, tu)
			lr := c.LRs[tu.Best]
			for r := range c.Runs {
				val, err := c.Episodes(va, c.TrainPool, shot, c.ValRate, c.ValEpisodes, c.valSeed(r, shot))
				if err != nil {
					return nil, err
				}
				t, err := c.train(a, shot, lr, c.RunSeeds(r, shot), tr, va, val)
				if err != nil {
					return nil, fmt.Errorf("gpamexp: %s, %d-shot, run %d: %w", a.Name, shot, r, err)
				}
				embTe, err := t.embed(te)
				if err != nil {
					return nil, err
				}
				rr := RunResult{Arm: a.Name, Shot: shot, Run: r, LR: lr, Threshold: t.threshold, Seconds: t.seconds}
				for i, rate := range c.Rates {
					eps, err := c.Episodes(te, c.TestPool, shot, rate, c.TestEpisodes, c.testSeed(r, shot, i))
					if err != nil {
						return nil, err
					}
					s, err := Evaluate(t.dist(embTe), eps, c.Way, t.threshold)
					if err != nil {
						return nil, err
					}
					rr.Scores = append(rr.Scores, s)
				}
				out.Runs = append(out.Runs, rr)
				if progress != nil {
					progress(fmt.Sprintf("%s, %d-shot, lr=%g, run %d: test accuracy %.3f at NOTA rate %g", a.Name, shot, lr, r, rr.Scores[0].All.Accuracy(), c.Rates[0]))
				}
			}
		}
	}
	return out, nil
}
