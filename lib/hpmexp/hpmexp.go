// Package hpmexp runs the notebook-scale experiment of Wang, Song, Fan, Wang, Xie & Zhang, "Hard Patches
// Mining for Masked Image Modeling", CVPR 2023, arXiv:2304.05919 (extended as "Bootstrap Masked Visual
// Modeling via Hard Patches Mining", arXiv:2312.13714), in the form a verdict needs.
//
// A tiny masked autoencoder (MAE) is pre-trained on Fashion-MNIST (4×4 patches, L = 49, mask ratio
// 0.75) in three arms: (a) MAE with random masks, (b) MAE plus the loss predictor's pairwise ranking
// loss (lib/losses.HPMRankingLoss) with random masks, and (c) HPM: the ranking loss plus easy-to-hard
// masks chosen by an EMA teacher (lib/losses.HPMMask, HPMHardCount, HPMTeacherUpdate). The
// representation is scored by a linear probe on the frozen, mean-pooled encoder output.
//
// Every arm gets the same tuning budget: each Adam learning rate of Config.LRs is tried once (seed
// Config.TuneSeed) and scored by the probe on a validation split carved from the training images; the
// best is then pre-trained Config.Runs times, run r with initialisation, data order and mask stream
// seeded by r+1 (shared by the arms, so the runs are paired), and scored on the test split.
package hpmexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/atlas"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
	"github.com/losslab/losslab/lib/verdict"
)

// Mode is an arm of the experiment.
type Mode string

// The three arms.
const (
	MAE  Mode = "(a) MAE"          // reconstruction only, random masks
	Pred Mode = "(b) MAE + L_pred" // plus the loss predictor's ranking loss, random masks
	HPM  Mode = "(c) HPM"          // plus easy-to-hard masks from the EMA teacher
)

// Modes lists the arms in order.
var Modes = []Mode{MAE, Pred, HPM}

// Config is the whole experiment.
type Config struct {
	// NTrain images (from Fashion-MNIST's training split) are pre-trained on; the first NProbe of
	// them also train the linear probe. NVal further training images are the validation split that
	// picks the learning rate; NTest test images score the final runs, the first NHeld of them (with
	// fixed random masks) also measure the loss predictor. NProbe, NVal, NTest and NHeld are
	// multiples of Batch.
	NTrain, NProbe, NVal, NTest, NHeld int
	DataSeed                           uint64 // which images

	Dim       int     // token width (default 32)
	MaskRatio float64 // γ (default 0.75: 12 visible, 37 masked patches)
	Epochs    int
	Batch     int
	EMADecay  float64 // the teacher's decay per step (the spec's notebook-scale 0.99)

	ProbeEpochs int     // epochs of the linear probe (Adam, fixed learning rate ProbeLR, batch Batch)
	ProbeLR     float64 // the probe's learning rate, the same for every arm

	LRs      []float64 // the Adam learning rates every arm is tuned over
	TuneSeed uint64    // the seed of the tuning runs (the final runs use 1 … Runs)
	Runs     int
}

// Default is the full-size experiment: the spec's notebook scale (Fashion-MNIST, 4×4 patches, 8 epochs,
// EMA decay 0.99) with a token width of 32 instead of 64 and 6,000 pre-training images instead of 10,000
// for the CPU budget; a grid of two learning rates around the spec's Adam 10⁻³; five paired final runs.
func Default() Config {
	return Config{NTrain: 6000, NProbe: 2048, NVal: 1024, NTest: 4096, NHeld: 512, DataSeed: 1,
		Dim: 32, MaskRatio: 0.75, Epochs: 8, Batch: 128, EMADecay: 0.99,
		ProbeEpochs: 20, ProbeLR: 3e-3, LRs: []float64{1e-3, 3e-3}, TuneSeed: 100, Runs: 5}
}

// Quick is Default at CI sizes: the same code path on a few batches.
func Quick() Config {
	c := Default()
	c.NTrain, c.NProbe, c.NVal, c.NTest, c.NHeld = 256, 128, 128, 128, 128
	c.Epochs, c.ProbeEpochs, c.Runs = 2, 3, 3
	return c
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.Batch < 1 || c.Epochs < 1 || c.Runs < 1 || c.Dim < 1 || c.ProbeEpochs < 1:
		return fmt.Errorf("hpmexp: batch %d, epochs %d, runs %d, dim %d, probe epochs %d must be ≥ 1", c.Batch, c.Epochs, c.Runs, c.Dim, c.ProbeEpochs)
	case c.NTrain < c.Batch || c.NProbe > c.NTrain:
		return fmt.Errorf("hpmexp: %d pre-training images (need ≥ batch %d and ≥ the %d probe images)", c.NTrain, c.Batch, c.NProbe)
	case c.NProbe%c.Batch != 0 || c.NVal%c.Batch != 0 || c.NTest%c.Batch != 0 || c.NHeld%c.Batch != 0 || c.NProbe == 0 || c.NVal == 0 || c.NTest == 0 || c.NHeld == 0:
		return fmt.Errorf("hpmexp: probe %d, validation %d, test %d and held-out %d images must be positive multiples of the batch %d", c.NProbe, c.NVal, c.NTest, c.NHeld, c.Batch)
	case c.NHeld > c.NTest:
		return fmt.Errorf("hpmexp: %d held-out images but only %d test images", c.NHeld, c.NTest)
	case !(c.EMADecay >= 0 && c.EMADecay < 1):
		return fmt.Errorf("hpmexp: EMA decay %g outside [0, 1)", c.EMADecay)
	case len(c.LRs) == 0:
		return errors.New("hpmexp: no learning rates to tune over")
	}
	for _, lr := range c.LRs {
		if !(lr > 0) {
			return fmt.Errorf("hpmexp: learning rate %g must be > 0", lr)
		}
	}
	if _, _, err := losses.HPMMaskCounts(NumTokens, c.MaskRatio); err != nil {
		return err
	}
	return nil
}

// Data is the experiment's images, in [0, 1].
type Data struct {
	Train, Probe, Val, Test *data.Set
	// HeldMasks are the fixed random masks of the first NHeld test images.
	HeldMasks [][]bool
}

// Data loads the splits.
func (c Config) Data() (*Data, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	all, err := data.FashionMNIST("train", data.WithSubset(c.NTrain+c.NVal), data.WithSeed(c.DataSeed), data.WithScaling(data.Unit))
	if err != nil {
		return nil, err
	}
	val, tr, err := all.Split(float64(c.NVal)/float64(all.Len()), c.DataSeed)
	if err != nil {
		return nil, err
	}
	if val.Len() < c.NVal || tr.Len() < c.NTrain {
		return nil, fmt.Errorf("hpmexp: split gave %d validation and %d training images, want %d and %d", val.Len(), tr.Len(), c.NVal, c.NTrain)
	}
	te, err := data.FashionMNIST("test", data.WithSubset(c.NTest), data.WithSeed(c.DataSeed+1), data.WithScaling(data.Unit))
	if err != nil {
		return nil, err
	}
	d := &Data{Train: tr, Probe: first(tr, c.NProbe), Val: first(val, c.NVal), Test: first(te, c.NTest)}
	m, err := data.NewPatchMasker(imageShape, data.PatchMaskConfig{Patch: Patch, Ratio: c.MaskRatio, Seed: 99})
	if err != nil {
		return nil, err
	}
	flat := m.Next(c.NHeld)
	for i := range c.NHeld {
		d.HeldMasks = append(d.HeldMasks, flat[i*NumTokens:(i+1)*NumTokens])
	}
	return d, nil
}

func first(s *data.Set, n int) *data.Set {
	idx := make([]int, min(n, s.Len()))
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// Run is one pre-training run's outcome.
type Run struct {
	Mode Mode
	LR   float64
	Seed uint64
	// Spearman is the held-out mean per-image Spearman correlation of ŝ with ℓ, and Rec the held-out
	// reconstruction loss, at initialisation (index 0) and after each epoch.
	Spearman, Rec []float64
	Curve         []float64 // mean training loss per epoch
	Probe         float64   // linear-probe accuracy on the evaluation split
	// TeacherMaps (arm (c) only) is the final EMA teacher's predicted loss of the 49 patches of the
	// first few evaluation images.
	TeacherMaps [][]float64
}

// Final returns the last entry of x (NaN when empty).
func Final(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	return x[len(x)-1]
}

// numMaps is how many teacher maps a Run of arm (c) keeps.
const numMaps = 3

// Train pre-trains one run of mode with Adam at learning rate lr, initialisation, data order and masks
// seeded by seed, and scores its encoder by a linear probe trained on d.Probe and evaluated on eval.
// progress, if not nil, is called after each epoch.
func (c Config) Train(d *Data, mode Mode, lr float64, seed uint64, eval *data.Set, progress func(string)) (*Run, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if mode != MAE && mode != Pred && mode != HPM {
		return nil, fmt.Errorf("hpmexp: unknown arm %q", mode)
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	_, maskN, err := losses.HPMMaskCounts(NumTokens, c.MaskRatio)
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(seed))
	held, err := context.NewExec(bk, ctx.Reuse(), func(ctx *context.Context, p, s, m, v *Node) []*Node {
		ell, sc := mae(ctx, []*Node{p, s, m, v}, c.Dim)
		return []*Node{ell, sc}
	})
	if err != nil {
		return nil, fmt.Errorf("hpmexp: %w", err)
	}
	defer held.Finalize()
	run := &Run{Mode: mode, LR: lr, Seed: seed}
	measure := func() error { // also creates the variables before the first step
		rec, rho, err := c.evalHeld(held, d)
		run.Rec, run.Spearman = append(run.Rec, rec), append(run.Spearman, rho)
		return err
	}
	if err := measure(); err != nil {
		return nil, err
	}
	step, err := train.NewContextStep(ctx, optimizers.Adam().LearningRate(lr).Done(), func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		ell, sc := mae(ctx, in, c.Dim)
		l := ReduceAllMean(ell)
		if mode != MAE {
			l = Add(l, losses.HPMRankingLoss(sc, ell, false))
		}
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	defer step.Finalize()
	var teacher *teacherModel
	if mode == HPM {
		if teacher, err = newTeacher(ctx, c.Dim); err != nil {
			return nil, err
		}
		defer teacher.exec.Finalize()
	}
	batcher, err := data.NewBatcher(d.Train, data.BatchConfig{Size: c.Batch, Seed: seed})
	if err != nil {
		return nil, err
	}
	masker, err := data.NewPatchMasker(imageShape, data.PatchMaskConfig{Patch: Patch, Ratio: c.MaskRatio, Seed: seed})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 14))
	steps := batcher.StepsPerEpoch()
	for ep := range c.Epochs {
		_, numHard, err := losses.HPMHardCount(ep, c.Epochs, maskN)
		if err != nil {
			return nil, err
		}
		sum := 0.0
		for range steps {
			bt := batcher.Next()
			masks := make([][]bool, c.Batch)
			if mode == HPM && numHard > 0 {
				pred, err := teacher.predict(bt.X, c.Batch)
				if err != nil {
					return nil, err
				}
				for i := range masks {
					if masks[i], err = losses.HPMMask(pred[i], maskN, numHard, rng); err != nil {
						return nil, err
					}
				}
			} else {
				flat := masker.Next(c.Batch)
				for i := range masks {
					masks[i] = flat[i*NumTokens : (i+1)*NumTokens]
				}
			}
			in, err := inputs(bt.X, masks)
			if err != nil {
				return nil, err
			}
			loss, _, err := step.Step(in[0], in[1], in[2], in[3])
			if err != nil {
				return nil, fmt.Errorf("hpmexp: %s, epoch %d: %w", mode, ep+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("hpmexp: %s at lr %g diverged in epoch %d (loss %g)", mode, lr, ep+1, loss)
			}
			sum += loss
			if teacher != nil {
				if err := teacher.follow(ctx, c.EMADecay); err != nil {
					return nil, err
				}
			}
		}
		run.Curve = append(run.Curve, sum/float64(steps))
		if err := measure(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(fmt.Sprintf("%s lr %g seed %d epoch %d", mode, lr, seed, ep+1))
		}
	}
	if run.Probe, err = c.probe(ctx, d.Probe, eval, seed); err != nil {
		return nil, err
	}
	if teacher != nil {
		pred, err := teacher.predict(eval.X[:c.Batch*side*side], c.Batch)
		if err != nil {
			return nil, err
		}
		run.TeacherMaps = pred[:numMaps]
	}
	return run, nil
}

// teacherModel is HPM's EMA teacher: a copy of the student's parameters, moved towards the student
// after every step, that scores all 49 patches of unmasked images.
type teacherModel struct {
	ctx  *context.Context
	exec *context.Exec
	flat []float64
}

func newTeacher(student *context.Context, dim int) (*teacherModel, error) {
	params, err := train.Params(student)
	if err != nil {
		return nil, err
	}
	t := &teacherModel{ctx: context.New()}
	for _, p := range params {
		scope, name := context.SplitScope(p.Name)
		t.ctx.InAbsPath(scope).VariableWithValue(name, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	if t.exec, err = context.NewExec(b, t.ctx.Reuse(), func(ctx *context.Context, p *Node) *Node { return predictAll(ctx, p, dim) }); err != nil {
		return nil, fmt.Errorf("hpmexp: teacher: %w", err)
	}
	flat, err := train.Flat(t.ctx)
	if err != nil {
		return nil, err
	}
	t.flat = f64(flat)
	return t, nil
}

// predict returns the teacher's predicted loss of every patch of the first b images of x.
func (t *teacherModel) predict(x []float32, b int) ([][]float64, error) {
	p, err := data.Patchify(x[:b*side*side], imageShape, Patch)
	if err != nil {
		return nil, err
	}
	out, err := t.exec.Exec(tensors.FromFlatDataAndDimensions(p, b, NumTokens, pix))
	if err != nil {
		return nil, fmt.Errorf("hpmexp: teacher: %w", err)
	}
	flat := tensors.MustCopyFlatData[float32](out[0])
	res := make([][]float64, b)
	for i := range res {
		res[i] = f64(flat[i*NumTokens : (i+1)*NumTokens])
	}
	return res, nil
}

// follow moves the teacher towards the student's parameters: θ_t ← decay·θ_t + (1−decay)·θ_s.
func (t *teacherModel) follow(student *context.Context, decay float64) error {
	s, err := train.Flat(student)
	if err != nil {
		return err
	}
	if err := losses.HPMTeacherUpdate(t.flat, f64(s), decay); err != nil {
		return err
	}
	t32 := make([]float32, len(t.flat))
	for i, v := range t.flat {
		t32[i] = float32(v)
	}
	return train.SetFlat(t.ctx, t32)
}

// evalHeld returns the held-out mean L_rec and mean per-image Spearman correlation of ŝ with ℓ
// (images whose correlation is undefined, a constant ŝ, count as 0).
func (c Config) evalHeld(exec *context.Exec, d *Data) (rec, rho float64, err error) {
	_, maskN, err := losses.HPMMaskCounts(NumTokens, c.MaskRatio)
	if err != nil {
		return 0, 0, err
	}
	n := len(d.HeldMasks)
	for st := 0; st < n; st += c.Batch {
		in, err := inputs(d.Test.X[st*side*side:(st+c.Batch)*side*side], d.HeldMasks[st:st+c.Batch])
		if err != nil {
			return 0, 0, err
		}
		out, err := exec.Exec(in[0], in[1], in[2], in[3])
		if err != nil {
			return 0, 0, fmt.Errorf("hpmexp: held-out evaluation: %w", err)
		}
		ell, sc := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
		for i := range c.Batch {
			if r := atlas.Spearman(f64(sc[i*maskN:(i+1)*maskN]), f64(ell[i*maskN:(i+1)*maskN])); !math.IsNaN(r) {
				rho += r
			}
			for _, v := range ell[i*maskN : (i+1)*maskN] {
				rec += float64(v) / float64(maskN)
			}
		}
	}
	return rec / float64(n), rho / float64(n), nil
}

// probe trains a linear classifier on the frozen, mean-pooled encoder features of tr (standardised
// with tr's statistics) and returns its accuracy on eval.
func (c Config) probe(ctx *context.Context, tr, eval *data.Set, seed uint64) (float64, error) {
	b, err := backend.Get()
	if err != nil {
		return 0, err
	}
	exec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, p *Node) *Node { return features(ctx, p, c.Dim) })
	if err != nil {
		return 0, fmt.Errorf("hpmexp: probe: %w", err)
	}
	defer exec.Finalize()
	feat := func(s *data.Set) (*data.Set, error) {
		n := s.Len() / c.Batch * c.Batch
		out := &data.Set{Name: s.Name + " features", Shape: []int{c.Dim}, Classes: s.Classes, Y: s.Y[:n], IDs: s.IDs[:n]}
		for st := 0; st < n; st += c.Batch {
			p, err := data.Patchify(s.X[st*side*side:(st+c.Batch)*side*side], imageShape, Patch)
			if err != nil {
				return nil, err
			}
			o, err := exec.Exec(tensors.FromFlatDataAndDimensions(p, c.Batch, NumTokens, pix))
			if err != nil {
				return nil, fmt.Errorf("hpmexp: probe features: %w", err)
			}
			out.X = append(out.X, tensors.MustCopyFlatData[float32](o[0])...)
		}
		return out, nil
	}
	ftr, err := feat(tr)
	if err != nil {
		return 0, err
	}
	fev, err := feat(eval)
	if err != nil {
		return 0, err
	}
	mean, std := ftr.FeatureStats()
	if ftr, err = ftr.Normalize(mean, std); err != nil {
		return 0, err
	}
	if fev, err = fev.Normalize(mean, std); err != nil {
		return 0, err
	}
	res, err := train.Run(train.Config{Model: &models.Linear{Classes: tr.Classes}, Train: ftr, Test: fev, Optimizer: train.Adam(c.ProbeLR),
		Epochs: c.ProbeEpochs, BatchSize: c.Batch, Seed: seed, Silent: true})
	if err != nil {
		return 0, fmt.Errorf("hpmexp: probe: %w", err)
	}
	f, ok := res.Final()
	if !ok {
		return 0, errors.New("hpmexp: probe: no evaluation recorded")
	}
	return f.Accuracy, nil
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Result is the whole experiment: the tuning grid's validation accuracies, the chosen learning rates
// and the final runs, per arm.
type Result struct {
	// Val[m][i] is arm m's validation probe accuracy at learning rate LRs[i] (seed TuneSeed).
	Val    map[Mode][]float64
	LRs    []float64
	Chosen map[Mode]float64
	// Runs[m][r] is arm m's final run r (seed r+1), scored on the test split.
	Runs map[Mode][]*Run
}

// Tasks is the number of pre-training epochs Experiment runs (for a progress bar).
func (c Config) Tasks() int { return len(Modes) * (len(c.LRs) + c.Runs) * c.Epochs }

// Experiment tunes every arm's learning rate on the validation split, then runs the chosen ones
// Config.Runs times and scores them on the test split.
func (c Config) Experiment(progress func(string)) (*Result, error) {
	d, err := c.Data()
	if err != nil {
		return nil, err
	}
	res := &Result{Val: map[Mode][]float64{}, LRs: c.LRs, Chosen: map[Mode]float64{}, Runs: map[Mode][]*Run{}}
	for _, m := range Modes {
		best := math.Inf(-1)
		for _, lr := range c.LRs {
			r, err := c.Train(d, m, lr, c.TuneSeed, d.Val, progress)
			if err != nil {
				return nil, err
			}
			res.Val[m] = append(res.Val[m], r.Probe)
			if r.Probe > best {
				best, res.Chosen[m] = r.Probe, lr
			}
		}
		for i := range c.Runs {
			r, err := c.Train(d, m, res.Chosen[m], uint64(i+1), d.Test, progress)
			if err != nil {
				return nil, err
			}
			res.Runs[m] = append(res.Runs[m], r)
		}
	}
	return res, nil
}

// Probes returns arm m's test probe accuracies, one per final run.
func (r *Result) Probes(m Mode) []float64 {
	var out []float64
	for _, run := range r.Runs[m] {
		out = append(out, run.Probe)
	}
	return out
}

// Spearmans returns arm m's final held-out Spearman correlations, one per final run.
func (r *Result) Spearmans(m Mode) []float64 {
	var out []float64
	for _, run := range r.Runs[m] {
		out = append(out, Final(run.Spearman))
	}
	return out
}

// MinSpearman is the held-out rank correlation every run of arms (b) and (c) must reach for the loss
// predictor to count as trained (a sanity check of the set-up, not a claim).
const MinSpearman = 0.3

// Claims returns the paper's claims on r, in the order the notebook states them: HPM beats MAE; loss
// prediction alone beats MAE; hard-patch mining beats loss prediction alone (each on the paired
// test probe accuracies); and the sanity check that the loss predictor learnt the order of the losses.
func (r *Result) Claims() []verdict.Claim {
	a, b, c := r.Probes(MAE), r.Probes(Pred), r.Probes(HPM)
	lowest := math.Inf(1)
	for _, m := range []Mode{Pred, HPM} {
		for _, v := range r.Spearmans(m) {
			lowest = math.Min(lowest, v)
		}
	}
	if math.IsInf(lowest, 0) {
		lowest = 0
	}
	lr := func(m Mode) string { return fmt.Sprintf("lr %g", r.Chosen[m]) }
	return []verdict.Claim{
		{Claim: "HPM (c) beats MAE (a) (linear-probe test accuracy)", Kind: verdict.Comparison, Method: c, Baseline: a, Paired: true,
			Detail: lr(HPM) + " vs " + lr(MAE)},
		{Claim: "loss prediction alone (b) beats MAE (a) (linear-probe test accuracy)", Kind: verdict.Comparison, Method: b, Baseline: a, Paired: true,
			Detail: lr(Pred) + " vs " + lr(MAE)},
		{Claim: "hard-patch mining (c) beats loss prediction alone (b) (linear-probe test accuracy)", Kind: verdict.Comparison, Method: c, Baseline: b, Paired: true,
			Detail: lr(HPM) + " vs " + lr(Pred)},
		{Claim: fmt.Sprintf("the loss predictor ranks the patch losses: held-out Spearman > %g in every run of (b) and (c) (lowest shown)", MinSpearman),
			Kind: verdict.Sanity, Holds: lowest > MinSpearman, Value: lowest},
	}
}
