// Package calibexp runs the post-hoc calibration experiment of Liu, Wang, Zou, Zou & Zheng, "Optimizing
// Calibration by Gaining Aware of Prediction Correctness", arXiv:2404.13016 (2024), at notebook scale, in
// the form a verdict needs: a frozen, over-confident classifier is calibrated by three arms, (a) one
// global temperature fitted with cross-entropy, (b) a per-sample temperature network trained with
// cross-entropy and (c) the same network trained with the paper's correctness-aware (CA) loss
// (lib/losses "ca-calib"); the two trained arms get the same learning-rate grid, each tuned on a
// validation split by its own objective; every arm is then measured on an in-distribution and a shifted
// test set in several independent runs (the base model's and the calibrator's initialisation and data
// order change from run to run).
//
// The task stands in for the paper's ImageNet models and image transformations: Gaussian blobs, a small
// MLP trained on few examples for many epochs (so it is over-confident), and three tabular "views" of
// each input (additive noise, feature dropout, a rotation in one feature plane) whose probabilities at
// the original's top-4 classes are the calibrator's 12 side features, as in the official code.
package calibexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/atlas"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Side is the number of side features: 3 views × the original's top-4 classes.
const Side = 12

// The arms, by name.
const (
	Uncalibrated = "uncalibrated"
	GlobalT      = "(a) global T, CE"
	PerSampleCE  = "(b) per-sample T, CE"
	PerSampleCA  = "(c) per-sample T, CA"
)

// Config is the whole experiment.
type Config struct {
	// NBase examples train the base model; the calibrators are fitted on NCal and tuned on NVal (both
	// in-distribution); NTest examples make each test set (in-distribution and shifted).
	NBase, NCal, NVal, NTest int
	Classes, Dim             int
	DataSeed                 uint64
	// ShiftMove is the standard deviation of the random vector that moves each class mean of the
	// shifted test set, ShiftNoise that of the extra per-example noise.
	ShiftMove, ShiftNoise float64

	BaseEpochs int       // of the base MLP (Adam 1e-3, batch 128)
	Hidden     []int     // its hidden widths
	CalEpochs  int       // of each per-sample calibrator (Adam, batch CalBatch)
	CalBatch   int       //
	LRs        []float64 // the learning-rate grid of both per-sample arms
	// Bins of the ECE (equal width).
	Bins int
	// Runs is the number of independent final runs (seed r+1 for run r: the base model's and the
	// calibrators' initialisation and data order, and the views' noise); tuning uses one run with TuneSeed.
	Runs     int
	TuneSeed uint64
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.NBase < 1 || c.NCal < c.CalBatch || c.NVal < 1 || c.NTest < 1:
		return fmt.Errorf("calibexp: sizes base %d, calibration %d (≥ batch %d), validation %d, test %d", c.NBase, c.NCal, c.CalBatch, c.NVal, c.NTest)
	case c.Classes < 4 || c.Dim < 2:
		return fmt.Errorf("calibexp: %d classes in %d dimensions (need ≥ 4 classes for the top-4 features, ≥ 2 dimensions for the rotation)", c.Classes, c.Dim)
	case c.BaseEpochs < 1 || c.CalEpochs < 1 || c.CalBatch < 1 || c.Runs < 1 || c.Bins < 1:
		return fmt.Errorf("calibexp: epochs %d/%d, batch %d, runs %d, bins %d must be ≥ 1", c.BaseEpochs, c.CalEpochs, c.CalBatch, c.Runs, c.Bins)
	case len(c.LRs) == 0:
		return errors.New("calibexp: empty learning-rate grid")
	}
	return nil
}

// Splits are the data of the experiment (raw features: the views act on them).
type Splits struct {
	Base, Cal, Val, Test, Shifted *data.Set
}

// Data returns the splits: one draw of blobs cut into base, calibration, validation and test sets, and a
// second test draw whose class means are moved by a random vector (coordinates N(0, ShiftMove²)) with
// extra N(0, ShiftNoise²) noise.
func (c Config) Data() (*Splits, error) {
	sizes := []int{c.NBase, c.NCal, c.NVal, c.NTest, c.NTest}
	total := 0
	for _, n := range sizes {
		total += n
	}
	all, err := data.Blobs(data.BlobsConfig{N: total, Classes: c.Classes, Dim: c.Dim, Radius: 3, Spread: 1, Seed: c.DataSeed})
	if err != nil {
		return nil, err
	}
	var parts []*data.Set
	lo := 0
	for _, n := range sizes {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = lo + i
		}
		parts = append(parts, all.Subset(idx))
		lo += n
	}
	s := &Splits{Base: parts[0], Cal: parts[1], Val: parts[2], Test: parts[3], Shifted: parts[4]}
	r := rand.New(rand.NewPCG(c.DataSeed, 99))
	move := make([][]float64, c.Classes)
	for k := range move {
		move[k] = make([]float64, c.Dim)
		for j := range move[k] {
			move[k][j] = c.ShiftMove * r.NormFloat64()
		}
	}
	for i, y := range s.Shifted.Y {
		for j := range c.Dim {
			s.Shifted.X[i*c.Dim+j] += float32(move[y][j] + c.ShiftNoise*r.NormFloat64())
		}
	}
	s.Base.Name, s.Cal.Name, s.Val.Name, s.Test.Name, s.Shifted.Name = "base", "calibration", "validation", "test", "shifted test"
	return s, nil
}

// Views returns the three transformed copies of x [N, dim]: x + N(0, 0.3²), a random 30% feature
// dropout, and a 10° rotation in the plane of features 0 and 1.
func Views(x []float32, dim int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 16))
	noisy, drop, rot := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
	c, s := math.Cos(10*math.Pi/180), math.Sin(10*math.Pi/180)
	for i := 0; i < len(x); i += dim {
		for j := range dim {
			noisy[i+j] = x[i+j] + float32(0.3*r.NormFloat64())
			if r.Float64() >= 0.3 {
				drop[i+j] = x[i+j]
			}
			rot[i+j] = x[i+j]
		}
		rot[i] = float32(c*float64(x[i]) - s*float64(x[i+1]))
		rot[i+1] = float32(s*float64(x[i]) + c*float64(x[i+1]))
	}
	return [][]float32{noisy, drop, rot}
}

// Logits returns the logits [N*K] of model m with the parameters of ctx on inputs x [N, dim].
func Logits(m models.Model, ctx *context.Context, x []float32, n, dim int) ([]float32, error) {
	exec, err := context.NewExecAny(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		logits, _ := m.Forward(ctx, x)
		return logits
	})
	if err != nil {
		return nil, err
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, n, dim))
	if err != nil {
		return nil, err
	}
	return tensors.CopyFlatData[float32](out[0])
}

// softmax returns the softmax of one row of logits.
func softmax(z []float32) []float64 {
	p := make([]float64, len(z))
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for j, v := range z {
		p[j] = math.Exp(float64(v) - m)
		s += p[j]
	}
	for j := range p {
		p[j] /= s
	}
	return p
}

// Inputs returns the calibrator's inputs for every example of s under the frozen model (m, ctx): the
// logits z (K numbers) followed by the Side features t (each view's probabilities at the original's
// top-4 classes), with s's labels.
func Inputs(m models.Model, ctx *context.Context, s *data.Set, seed uint64) (*data.Set, error) {
	n, dim, k := s.Len(), s.Dim(), s.Classes
	z, err := Logits(m, ctx, s.X, n, dim)
	if err != nil {
		return nil, err
	}
	var vz [][]float32
	for _, v := range Views(s.X, dim, seed) {
		l, err := Logits(m, ctx, v, n, dim)
		if err != nil {
			return nil, err
		}
		vz = append(vz, l)
	}
	out := &data.Set{Name: s.Name + " (calibrator inputs)", Shape: []int{k + Side}, Y: s.Y, IDs: s.IDs, Classes: k}
	out.X = make([]float32, 0, n*(k+Side))
	for i := range n {
		row := z[i*k : (i+1)*k]
		p := softmax(row)
		top := make([]int, k)
		for j := range top {
			top[j] = j
		}
		sort.SliceStable(top, func(a, b int) bool { return p[top[a]] > p[top[b]] })
		out.X = append(out.X, row...)
		for _, l := range vz {
			q := softmax(l[i*k : (i+1)*k])
			for _, j := range top[:4] {
				out.X = append(out.X, float32(q[j]))
			}
		}
	}
	return out, nil
}

// Calibrator is the official CA calibrator as a models.Model on inputs [z | t] (K + Side features):
// logits z/T with T = clamp(w2·ReLU(W1ᵀt + b1) + b2, 0.1, 10), hidden width 5, b2 starting at 1 (T = 1).
// The inputs are split with constant selection matrices (products, not slices: the pure-Go backend cannot
// differentiate through Slice). Its features output is T [B, 1].
type Calibrator struct{ Classes int }

// Name implements models.Model.
func (c Calibrator) Name() string { return fmt.Sprintf("ca-calibrator-%d-5-%d", Side, c.Classes) }

// Forward implements models.Model.
func (c Calibrator) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	g := x.Graph()
	k := c.Classes
	selZ, selT := make([][]float32, k+Side), make([][]float32, k+Side)
	for i := range selZ {
		selZ[i], selT[i] = make([]float32, k), make([]float32, Side)
		if i < k {
			selZ[i][i] = 1
		} else {
			selT[i][i-k] = 1
		}
	}
	z, t := Dot(x, Const(g, selZ)), Dot(x, Const(g, selT))
	cc := ctx.In("calibrator")
	w1 := cc.VariableWithShape("w1", shapes.Make(dtypes.Float32, Side, 5)).ValueGraph(g)
	b1 := cc.VariableWithValue("b1", make([]float32, 5)).ValueGraph(g)
	w2 := cc.VariableWithShape("w2", shapes.Make(dtypes.Float32, 5)).ValueGraph(g)
	b2 := cc.VariableWithValue("b2", float32(1)).ValueGraph(g)
	temp := losses.CalibratorTemperature(t, w1, b1, w2, b2)
	return losses.CalibratedLogits(z, temp), InsertAxes(temp, -1)
}

// Scaled returns the logits part of calibrator inputs s divided by t, [N*K].
func Scaled(s *data.Set, t float64) []float32 {
	k := s.Classes
	out := make([]float32, 0, s.Len()*k)
	for i := range s.Len() {
		for _, v := range s.X[i*(k+Side) : i*(k+Side)+k] {
			out = append(out, float32(float64(v)/t))
		}
	}
	return out
}

// NLL is the mean cross-entropy of logits [N*K] against labels.
func NLL(logits []float32, y []int32) float64 {
	k := len(logits) / len(y)
	s := 0.0
	for i, yi := range y {
		s -= math.Log(math.Max(softmax(logits[i*k : (i+1)*k])[yi], 1e-300))
	}
	return s / float64(len(y))
}

// CABrier is the CA loss of the whole set, ½[mean over correct (1 − conf)² + mean over wrong conf²]
// (the class-balanced Brier score of lib/losses' CABrier, in float64); with only one group, the plain
// mean of (conf − c)², as lib/losses falls back.
func CABrier(conf []float64, right []bool) float64 {
	var sr, sw, all float64
	var nr, nw int
	for i, c := range conf {
		if right[i] {
			sr += (1 - c) * (1 - c)
			nr++
			all += (1 - c) * (1 - c)
		} else {
			sw += c * c
			nw++
			all += c * c
		}
	}
	if nr == 0 || nw == 0 {
		return all / float64(len(conf))
	}
	return (sr/float64(nr) + sw/float64(nw)) / 2
}

// Confidences returns the top-1 confidence and the correctness of logits [N*K].
func Confidences(logits []float32, y []int32) (conf []float64, right []bool, err error) {
	z := make([]float64, len(logits))
	for i, v := range logits {
		z[i] = float64(v)
	}
	return atlas.Confidences(z, len(logits)/max(len(y), 1), y)
}

// FitTemperature returns the global temperature on a log grid of n points over [0.1, 10] with the
// smallest cross-entropy on calibrator inputs s (arm (a)).
func FitTemperature(s *data.Set, n int) float64 {
	best, bestT := math.Inf(1), 1.0
	for i := range n {
		t := math.Min(10, 0.1*math.Pow(100, float64(i)/float64(n-1)))
		if l := NLL(Scaled(s, t), s.Y); l < best {
			best, bestT = l, t
		}
	}
	return bestT
}

// Scores is one arm's confidences and correctness on the two test sets.
type Scores struct {
	Arm                   string
	ConfTest, ConfShift   []float64
	RightTest, RightShift []bool
}

// Metrics are the measurements of one arm on one test set.
type Metrics struct {
	ECE   float64 // equal-width bins
	AUROC float64 // of the confidence, for telling correct from wrong predictions
	// Gap is mean confidence − accuracy: > 0 over-confident, < 0 under-confident.
	Gap                  float64
	ConfRight, ConfWrong float64 // mean confidence of correct and of wrong predictions
	Accuracy             float64
}

// Measure returns the metrics of confidences conf with correctness right.
func Measure(conf []float64, right []bool, bins int) (Metrics, error) {
	e, err := atlas.ECE(conf, right, bins)
	if err != nil {
		return Metrics{}, err
	}
	m := Metrics{ECE: e, AUROC: AUROC(conf, right)}
	var nr, nw int
	for i, c := range conf {
		m.Gap += c
		if right[i] {
			m.ConfRight += c
			nr++
		} else {
			m.ConfWrong += c
			nw++
		}
	}
	m.Gap /= float64(len(conf))
	m.Accuracy = float64(nr) / float64(len(conf))
	m.Gap -= m.Accuracy
	m.ConfRight /= float64(max(nr, 1))
	m.ConfWrong /= float64(max(nw, 1))
	return m, nil
}

// Test and Shifted return the metrics of s on the in-distribution and the shifted test set.
func (s Scores) Test(bins int) (Metrics, error)    { return Measure(s.ConfTest, s.RightTest, bins) }
func (s Scores) Shifted(bins int) (Metrics, error) { return Measure(s.ConfShift, s.RightShift, bins) }

// AUROC returns the probability that a correct prediction has a higher confidence than a wrong one (ties
// count one half; Mann–Whitney rank sum), NaN when either group is empty.
func AUROC(conf []float64, right []bool) float64 {
	idx := make([]int, len(conf))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return conf[idx[a]] < conf[idx[b]] })
	ranks := make([]float64, len(conf))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && conf[idx[j]] == conf[idx[i]] {
			j++
		}
		for t := i; t < j; t++ {
			ranks[idx[t]] = float64(i+j+1) / 2 // average rank, 1-based
		}
		i = j
	}
	var nPos, nNeg, sum float64
	for i, r := range right {
		if r {
			nPos++
			sum += ranks[i]
		} else {
			nNeg++
		}
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	return (sum - nPos*(nPos+1)/2) / (nPos * nNeg)
}

// Reliability returns, for each non-empty one of bins equal-width confidence bins, its mean confidence
// and its accuracy (the points of a reliability diagram). atlas.ECE returns only the sum, so the bins
// are recomputed here with its binning rule.
func Reliability(conf []float64, right []bool, bins int) (meanConf, acc []float64) {
	sc, sr, n := make([]float64, bins), make([]float64, bins), make([]int, bins)
	for i, c := range conf {
		b := min(int(c*float64(bins)), bins-1)
		sc[b] += c
		n[b]++
		if right[i] {
			sr[b]++
		}
	}
	for b := range bins {
		if n[b] > 0 {
			meanConf, acc = append(meanConf, sc[b]/float64(n[b])), append(acc, sr[b]/float64(n[b]))
		}
	}
	return meanConf, acc
}

// TrainConfig is the training run of a per-sample calibrator with objective obj ("ce" or "ca-calib") and
// learning rate lr on calibrator inputs tr, from initialisation and data-order seed.
func (c Config) TrainConfig(obj string, lr float64, tr *data.Set, seed uint64) train.Config {
	return train.Config{Model: Calibrator{Classes: c.Classes}, Train: tr, Objective: obj, Optimizer: train.Adam(lr),
		BatchSize: c.CalBatch, Epochs: c.CalEpochs, Seed: seed, Silent: true}
}

// Frozen is one base model with the calibrator inputs of every split.
type Frozen struct {
	Model                   *models.MLP
	Context                 *context.Context
	Cal, Val, Test, Shifted *data.Set // calibrator inputs
}

// Base trains the base model from seed and computes the calibrator inputs of every split (views drawn
// from seed too).
func (c Config) Base(s *Splits, seed uint64) (*Frozen, error) {
	m := models.NewMLP(c.Classes, c.Hidden...)
	res, err := train.Run(train.Config{Model: m, Train: s.Base, Objective: "ce", Optimizer: train.Adam(1e-3),
		BatchSize: 128, Epochs: c.BaseEpochs, Seed: seed, Silent: true})
	if err != nil {
		return nil, fmt.Errorf("calibexp: base model, seed %d: %w", seed, err)
	}
	f := &Frozen{Model: m, Context: res.Context}
	for i, p := range []struct {
		in  *data.Set
		out **data.Set
	}{{s.Cal, &f.Cal}, {s.Val, &f.Val}, {s.Test, &f.Test}, {s.Shifted, &f.Shifted}} {
		if *p.out, err = Inputs(m, res.Context, p.in, 1000*seed+uint64(i)); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// calibrate trains a per-sample calibrator and returns its calibrated logits on each of sets.
func (c Config) calibrate(obj string, lr float64, tr *data.Set, seed uint64, sets ...*data.Set) ([][]float32, error) {
	res, err := train.Run(c.TrainConfig(obj, lr, tr, seed))
	if err != nil {
		return nil, err
	}
	var out [][]float32
	for _, s := range sets {
		l, err := Logits(Calibrator{Classes: c.Classes}, res.Context, s.X, s.Len(), c.Classes+Side)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Tuning is the validation value of an arm's own objective (cross-entropy for (b), the CA loss for (c))
// at every learning rate of the grid (NaN: the run diverged), and the index of the chosen one.
type Tuning struct {
	Arm       string
	Objective string
	Val       []float64
	Best      int
}

// RunResult is one independent run: its seed, the fitted global temperature, the frozen model's
// accuracy and every arm's scores.
type RunResult struct {
	Seed    uint64
	GlobalT float64
	Arms    []Scores
}

// Arm returns the scores of the arm named name (nil if none).
func (r *RunResult) Arm(name string) *Scores {
	for i := range r.Arms {
		if r.Arms[i].Arm == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// Result is the whole experiment.
type Result struct {
	Tuning []Tuning // (b), then (c)
	Runs   []RunResult
}

// Chosen returns the tuned learning rate of arm name (0 if none).
func (r *Result) Chosen(c Config, name string) float64 {
	for _, t := range r.Tuning {
		if t.Arm == name {
			return c.LRs[t.Best]
		}
	}
	return 0
}

// trained are the two per-sample arms: name and objective.
var trained = []struct{ name, obj string }{{PerSampleCE, "ce"}, {PerSampleCA, "ca-calib"}}

// Run runs the experiment: the tuning (one base model from TuneSeed; each per-sample arm trained at every
// learning rate on the calibration set and scored by its own objective on the validation set; ties to
// the earlier rate), then Runs independent runs of every arm at the chosen rates. progress, if not nil, is
// called after every training run with a description of it.
func Run(c Config, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	s, err := c.Data()
	if err != nil {
		return nil, err
	}
	say := func(format string, a ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, a...))
		}
	}
	out := &Result{}
	f, err := c.Base(s, c.TuneSeed)
	if err != nil {
		return nil, err
	}
	say("tuning base model (seed %d)", c.TuneSeed)
	for _, a := range trained {
		tu := Tuning{Arm: a.name, Objective: a.obj, Best: -1}
		best := math.Inf(1)
		for _, lr := range c.LRs {
			v := math.NaN() // a diverged run is recorded as NaN and never chosen
			logits, err := c.calibrate(a.obj, lr, f.Cal, c.TuneSeed, f.Val)
			var div *train.DivergedError
			switch {
			case errors.As(err, &div):
			case err != nil:
				return nil, fmt.Errorf("calibexp: tuning %s at lr %g: %w", a.name, lr, err)
			case a.obj == "ce":
				v = NLL(logits[0], f.Val.Y)
			default:
				conf, right, err := Confidences(logits[0], f.Val.Y)
				if err != nil {
					return nil, err
				}
				v = CABrier(conf, right)
			}
			tu.Val = append(tu.Val, v)
			if v < best {
				best, tu.Best = v, len(tu.Val)-1
			}
			say("tuning %s, lr %g: validation %s %.4f", a.name, lr, a.obj, v)
		}
		if tu.Best < 0 {
			return nil, fmt.Errorf("calibexp: %s: every tuning run diverged", a.name)
		}
		out.Tuning = append(out.Tuning, tu)
	}
	for r := range c.Runs {
		seed := uint64(r + 1)
		f, err := c.Base(s, seed)
		if err != nil {
			return nil, err
		}
		say("run %d: base model", r+1)
		rr := RunResult{Seed: seed, GlobalT: FitTemperature(f.Cal, 400)}
		for _, a := range []struct {
			name string
			t    float64
		}{{Uncalibrated, 1}, {GlobalT, rr.GlobalT}} {
			sc, err := scores(a.name, Scaled(f.Test, a.t), Scaled(f.Shifted, a.t), f)
			if err != nil {
				return nil, err
			}
			rr.Arms = append(rr.Arms, sc)
		}
		for i, a := range trained {
			logits, err := c.calibrate(a.obj, c.LRs[out.Tuning[i].Best], f.Cal, seed, f.Test, f.Shifted)
			if err != nil {
				return nil, fmt.Errorf("calibexp: run %d, %s: %w", r+1, a.name, err)
			}
			sc, err := scores(a.name, logits[0], logits[1], f)
			if err != nil {
				return nil, err
			}
			rr.Arms = append(rr.Arms, sc)
			say("run %d: %s", r+1, a.name)
		}
		out.Runs = append(out.Runs, rr)
	}
	return out, nil
}

// scores returns an arm's scores from its logits on the test and the shifted test set.
func scores(name string, test, shifted []float32, f *Frozen) (Scores, error) {
	sc := Scores{Arm: name}
	var err error
	if sc.ConfTest, sc.RightTest, err = Confidences(test, f.Test.Y); err != nil {
		return Scores{}, err
	}
	if sc.ConfShift, sc.RightShift, err = Confidences(shifted, f.Shifted.Y); err != nil {
		return Scores{}, err
	}
	return sc, nil
}

// PerRun returns one metric of arm name in every run, on the shifted test set if shifted, else on the
// in-distribution one, e.g. r.PerRun("(c) per-sample T, CA", true, 15, func(m Metrics) float64 { return m.ECE }).
func (r *Result) PerRun(name string, shifted bool, bins int, metric func(Metrics) float64) ([]float64, error) {
	var v []float64
	for i := range r.Runs {
		s := r.Runs[i].Arm(name)
		if s == nil {
			return nil, fmt.Errorf("calibexp: run %d has no arm %q", i+1, name)
		}
		measure := s.Test
		if shifted {
			measure = s.Shifted
		}
		m, err := measure(bins)
		if err != nil {
			return nil, fmt.Errorf("calibexp: run %d, %s: %w", i+1, name, err)
		}
		v = append(v, metric(m))
	}
	return v, nil
}
