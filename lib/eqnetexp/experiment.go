package eqnetexp

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
)

// Setup is what the experiment trains on and how.
type Setup struct {
	Train, Val, Test *data.Set
	Training         Training
	// LRs is the learning-rate grid every arm is tuned over on Val (same budget for all).
	LRs []float64
	// TuneSeed seeds the tuning runs; run i of the paired runs uses seed i+1.
	TuneSeed uint64
}

// Result is the tuned learning rates and the paired runs.
type Result struct {
	// LR[name] is the learning rate chosen on validation for each trained model ("float", "static-2",
	// "static-4", "sandwich-ce", "gpg+wdr") and ValAcc its validation score (the accuracy the arm is
	// tuned for; the supernets: the mean over EvalBits).
	LR, ValAcc map[string]float64
	Runs       []Run
}

// model is one trained model of the experiment: an arm, and the static arm's bit-width.
type model struct {
	arm  Arm
	bits int
}

func (m model) name() string {
	if m.arm == Static {
		return fmt.Sprintf("static-%d", m.bits)
	}
	return string(m.arm)
}

// score returns the accuracies of the model in ctx that the claims use: per EvalBits (nil for float).
func (c Config) score(m model, ctx *context.Context, set *data.Set) (float64, map[int]float64, error) {
	if m.arm == Float {
		acc, err := c.Accuracy(ctx, nil, set)
		return acc, nil, err
	}
	bits := c.EvalBits
	if m.arm == Static {
		bits = []int{m.bits}
	}
	accs, mean := map[int]float64{}, 0.0
	for _, b := range bits {
		s, err := c.Uniform(b, 0)
		if err != nil {
			return 0, nil, err
		}
		if accs[b], err = c.Accuracy(ctx, s, set); err != nil {
			return 0, nil, err
		}
		mean += accs[b] / float64(len(bits))
	}
	return mean, accs, nil
}

// Run tunes every model's learning rate on the validation split (the same grid for all), then trains
// Config.Runs independent paired runs with the chosen rates and scores them on the test set. progress,
// if not nil, is called after each training.
func (c Config) Run(s Setup, progress func(string)) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if s.Train == nil || s.Val == nil || s.Test == nil || len(s.LRs) == 0 {
		return nil, errors.New("eqnetexp: Run: need train, validation and test sets and a learning-rate grid")
	}
	if progress == nil {
		progress = func(string) {}
	}
	models := []model{{arm: Float}}
	for _, b := range c.EvalBits {
		models = append(models, model{arm: Static, bits: b})
	}
	models = append(models, model{arm: SandwichCE}, model{arm: GPGWDR})
	res := &Result{LR: map[string]float64{}, ValAcc: map[string]float64{}}
	for _, m := range models {
		best := math.Inf(-1)
		for _, lr := range s.LRs {
			t := s.Training
			t.LR = lr
			ctx, err := c.TrainArm(m.arm, m.bits, s.Train, t, s.TuneSeed)
			if err != nil {
				return nil, err
			}
			v, _, err := c.score(m, ctx, s.Val)
			if err != nil {
				return nil, err
			}
			if v > best {
				best, res.LR[m.name()], res.ValAcc[m.name()] = v, lr, v
			}
			progress(fmt.Sprintf("tune %s lr=%g", m.name(), lr))
		}
	}
	for i := range c.Runs {
		r := Run{Static: map[int]float64{}}
		for _, m := range models {
			t := s.Training
			t.LR = res.LR[m.name()]
			ctx, err := c.TrainArm(m.arm, m.bits, s.Train, t, uint64(i+1))
			if err != nil {
				return nil, err
			}
			v, accs, err := c.score(m, ctx, s.Test)
			if err != nil {
				return nil, err
			}
			switch m.arm {
			case Float:
				r.Float = v
			case Static:
				r.Static[m.bits] = accs[m.bits]
			case SandwichCE:
				r.SandwichCE, r.KurtCE = accs, c.kurtGap(ctx)
			case GPGWDR:
				r.Supernet, r.Kurt = accs, c.kurtGap(ctx)
			}
			progress(fmt.Sprintf("run %d %s", i+1, m.name()))
		}
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

// kurtGap returns the mean |kurtosis − 1.8| of the latent weights of the layers WDR acts on (all but the
// first), with the unbiased σ the regulariser uses.
func (c Config) kurtGap(ctx *context.Context) float64 {
	gap, n := 0.0, 0
	for l := 1; l < len(c.Dims)-1; l++ {
		w, _, err := hostWeights(ctx, l)
		if err != nil || len(w) < 2 {
			continue
		}
		mu, ss, k := 0.0, 0.0, 0.0
		for _, v := range w {
			mu += float64(v) / float64(len(w))
		}
		for _, v := range w {
			ss += (float64(v) - mu) * (float64(v) - mu)
		}
		sd := math.Sqrt(ss / float64(len(w)-1))
		for _, v := range w {
			z := (float64(v) - mu) / sd
			k += z * z * z * z / float64(len(w))
		}
		gap += math.Abs(k - 1.8)
		n++
	}
	return gap / float64(max(n, 1))
}

// Sizes are the Fashion-MNIST splits of the experiment: training and validation come from the training
// set (a stratified split), test from the test set; images are average-pooled to 14×14.
type Sizes struct{ Train, Val, Test int }

// Fashion loads the splits of sz as a Setup with training settings t and learning-rate grid lrs.
func Fashion(sz Sizes, t Training, lrs []float64) (Setup, error) {
	if sz.Train < 1 || sz.Val < 1 || sz.Test < 1 {
		return Setup{}, fmt.Errorf("eqnetexp: Fashion: sizes %+v must be positive", sz)
	}
	all, err := data.FashionMNIST("train", data.WithSubset(sz.Train+sz.Val), data.WithSeed(1))
	if err != nil {
		return Setup{}, err
	}
	te, err := data.FashionMNIST("test", data.WithSubset(sz.Test), data.WithSeed(2))
	if err != nil {
		return Setup{}, err
	}
	if all, err = all.Downsample(2); err != nil {
		return Setup{}, err
	}
	if te, err = te.Downsample(2); err != nil {
		return Setup{}, err
	}
	tr, val, err := all.Split(float64(sz.Train)/float64(sz.Train+sz.Val), 3)
	if err != nil {
		return Setup{}, err
	}
	return Setup{Train: tr, Val: val, Test: te, Training: t, LRs: lrs, TuneSeed: 100}, nil
}
