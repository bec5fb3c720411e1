// Package fedexp runs the non-IID experiment of Internò, Olhofer, Jin & Hammer, "Federated Loss
// Exploration for Improved Convergence on Non-IID Data", IJCNN 2024, arXiv:2506.18640, at notebook
// scale, in the form a verdict needs: FedLEx and its baseline FedAvg (McMahan et al., "Communication-
// Efficient Learning of Deep Networks from Decentralized Data", AISTATS 2017, arXiv:1602.05629) are
// tuned with the same budget on a validation split, and the chosen configurations are then run from
// several independent initialisations, client partitions and data orders and scored on a test set.
//
// Every setting is a Dirichlet(α) label split of the training set among Config.Clients clients
// (lib/data.DirichletSplit). Run r (0-based) of a setting uses seed r+1 for everything random: the
// model's initialisation, the partition, FedLEx's exploration, the clients sampled each round and
// their data order. The arms of run r share all of these, so run r of two arms is paired; no two runs
// share any of them. Tuning uses one more run with Config.TuneSeed, scored on the validation split.
//
// FedLEx's exploration (lib/fed.Explore) uses fixed settings (Config.ExploreLR, ExploreEpochs,
// Patience) and is computed once per setting and seed; every FedLEx grid point of that seed uses it.
// Its compute is reported (Exploration.Steps), not charged to the rounds.
package fedexp

import (
	"errors"
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/fed"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Point is one configuration of a grid: the clients' learning rate and FedProx's μ (0: none).
type Point struct {
	LR, Mu float64
}

// String is the point in words, e.g. "lr=0.05" or "lr=0.05 μ=0.01".
func (p Point) String() string {
	if p.Mu == 0 {
		return fmt.Sprintf("lr=%g", p.LR)
	}
	return fmt.Sprintf("lr=%g μ=%g", p.LR, p.Mu)
}

// Arm is one algorithm and its tuning grid. Explore makes it FedLEx (local gradients multiplied by the
// exploration's guidance); a point with Mu > 0 adds FedProx's proximal term.
type Arm struct {
	Name    string
	Explore bool
	Grid    []Point
}

// Config is the whole experiment.
type Config struct {
	// Hidden is the width of the MLP's hidden layer (one ReLU layer).
	Hidden int
	// Clients K, PerRound clients sampled each round, Rounds R, local epochs E and batch size B.
	Clients, PerRound, Rounds, LocalEpochs, Batch int
	// Alphas are the settings: Dirichlet concentrations of the label split.
	Alphas []float64
	// ExploreLR, ExploreEpochs (E_exp) and Patience configure FedLEx's exploration (every client scouts).
	ExploreLR               float64
	ExploreEpochs, Patience int
	// Arms[0] is the baseline; every arm's grid has the same size (the same tuning budget).
	Arms []Arm
	// Runs is the number of independent final runs per arm and setting; TuneSeed seeds the tuning run.
	Runs     int
	TuneSeed uint64
	// KeepLocal keeps the last round's client models of run 0 in the first setting (for a landscape
	// look at client drift).
	KeepLocal bool
}

// Check says what is wrong with c, if anything.
func (c Config) Check() error {
	switch {
	case c.Hidden < 1:
		return fmt.Errorf("fedexp: hidden width %d must be ≥ 1", c.Hidden)
	case c.Clients < 1 || c.PerRound < 1 || c.PerRound > c.Clients:
		return fmt.Errorf("fedexp: %d clients per round of %d: want 1 ≤ per round ≤ clients", c.PerRound, c.Clients)
	case c.Rounds < 2 || c.LocalEpochs < 1 || c.Batch < 1:
		return fmt.Errorf("fedexp: rounds %d (≥ 2), local epochs %d and batch %d (≥ 1)", c.Rounds, c.LocalEpochs, c.Batch)
	case len(c.Alphas) == 0:
		return errors.New("fedexp: no Dirichlet settings (Alphas)")
	case c.Runs < 1:
		return fmt.Errorf("fedexp: %d runs, want ≥ 1", c.Runs)
	case len(c.Arms) < 2:
		return fmt.Errorf("fedexp: %d arms, want a baseline and at least one method", len(c.Arms))
	}
	for _, a := range c.Alphas {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("fedexp: Dirichlet α = %v must be a positive number", a)
		}
	}
	explores := false
	for _, a := range c.Arms {
		if len(a.Grid) == 0 {
			return fmt.Errorf("fedexp: arm %q has an empty grid", a.Name)
		}
		if len(a.Grid) != len(c.Arms[0].Grid) {
			return fmt.Errorf("fedexp: arm %q has a grid of %d points, arm %q of %d: every arm gets the same tuning budget",
				a.Name, len(a.Grid), c.Arms[0].Name, len(c.Arms[0].Grid))
		}
		for _, p := range a.Grid {
			if !(p.LR > 0) || !(p.Mu >= 0) || math.IsInf(p.LR, 0) || math.IsInf(p.Mu, 0) {
				return fmt.Errorf("fedexp: arm %q: grid point %v needs lr > 0 and μ ≥ 0", a.Name, p)
			}
		}
		explores = explores || a.Explore
	}
	if explores && (!(c.ExploreLR > 0) || c.ExploreEpochs < 1 || c.Patience < 0) {
		return fmt.Errorf("fedexp: exploration lr %v (> 0), epochs %d (≥ 1), patience %d (≥ 0)", c.ExploreLR, c.ExploreEpochs, c.Patience)
	}
	return nil
}

// Jobs is the number of progress steps Run reports: one per exploration and one per federated run.
func (c Config) Jobs() int {
	per := len(c.Arms)*len(c.Arms[0].Grid) + c.Runs*len(c.Arms)
	for _, a := range c.Arms {
		if a.Explore {
			per += 1 + c.Runs
			break
		}
	}
	return len(c.Alphas) * per
}

// Splits are the data: clients' training examples (partitioned per run), the validation split the
// tuner scores on and the test split the final runs are scored on.
type Splits struct {
	Train, Val, Test *data.Set
}

// FashionMNIST returns Fashion-MNIST splits averaged down by factor 2 (14×14 = 196 inputs):
// class-balanced subsets of nTrain + nVal training images (divided, stratified, into training and
// validation) and nTest test images.
func FashionMNIST(nTrain, nVal, nTest int) (*Splits, error) {
	if nTrain < 1 || nVal < 1 || nTest < 1 {
		return nil, fmt.Errorf("fedexp.FashionMNIST: sizes train %d, validation %d, test %d must be ≥ 1", nTrain, nVal, nTest)
	}
	all, err := data.FashionMNIST("train", data.WithSubset(nTrain+nVal), data.WithSeed(1))
	if err != nil {
		return nil, err
	}
	if all, err = all.Downsample(2); err != nil {
		return nil, err
	}
	te, err := data.FashionMNIST("test", data.WithSubset(nTest), data.WithSeed(2))
	if err != nil {
		return nil, err
	}
	if te, err = te.Downsample(2); err != nil {
		return nil, err
	}
	tr, va, err := all.Split(float64(nTrain)/float64(nTrain+nVal), 3)
	if err != nil {
		return nil, err
	}
	return &Splits{Train: tr, Val: va, Test: te}, nil
}

// Tuning is one arm's tuning in one setting: the validation score of every grid point (NaN: the run
// failed to produce a finite score) and the index of the chosen point.
type Tuning struct {
	Score []float64
	Best  int
}

// ArmResult is one arm in one setting.
type ArmResult struct {
	Arm    string
	Tuning Tuning
	Chosen Point
	// Curves holds the test-accuracy curve of each final run (run r: seed r+1), the accuracy after every
	// round.
	Curves [][]float64
	// Diverged counts the final runs that diverged; their curves continue at chance accuracy (1/classes)
	// from the round where they stopped.
	Diverged int
	// Local holds the last round's client models of run 0 (Config.KeepLocal, first setting only).
	Local [][]float32 `json:",omitempty"`
}

// Exploration summarises FedLEx's exploration of one run.
type Exploration struct {
	Seed uint64
	// Epochs each scout trained (early stopping), Steps the local steps of the whole exploration, and
	// MeanG the mean of the guidance from all scouts.
	Epochs []int
	Steps  int
	MeanG  float64
}

// SettingResult is every arm in one setting.
type SettingResult struct {
	Alpha float64
	// DominantShare is, per final run, the mean over clients of the share of a client's examples in
	// its most frequent class (1/classes for a perfectly mixed split, 1 for one class per client).
	DominantShare []float64
	Arms          []ArmResult
	// Explorations of the final runs, in run order (empty when no arm explores).
	Explorations []Exploration
	// Guidance is the guidance from all scouts of run 0 (for a histogram), RoundSteps the local steps
	// of one round of run 0's baseline (for comparing the exploration's cost).
	Guidance   []float32 `json:",omitempty"`
	RoundSteps float64
}

// Arm returns the result of the arm named name (nil if none).
func (s *SettingResult) Arm(name string) *ArmResult {
	for i := range s.Arms {
		if s.Arms[i].Arm == name {
			return &s.Arms[i]
		}
	}
	return nil
}

// Model is the experiment's classifier for the given number of classes: an MLP with one ReLU hidden
// layer of Config.Hidden units.
func (c Config) Model(classes int) models.Model { return models.NewMLP(classes, c.Hidden) }

// runData is what one seed fixes in one setting: the initial model, the clients and (for FedLEx) the
// exploration.
type runData struct {
	f       *train.FlatModel
	clients []*data.Set
	parts   [][]int
	ex      *fed.Exploration
}

// prepare draws the data of one seed in setting ai.
func (c Config) prepare(s *Splits, ai int, seed uint64, explore bool) (*runData, error) {
	f, err := train.NewFlatModel(c.Model(s.Train.Classes), s.Train, seed)
	if err != nil {
		return nil, err
	}
	parts, err := data.DirichletSplit(s.Train, data.DirichletConfig{Clients: c.Clients, Alpha: c.Alphas[ai], MinSize: c.Batch,
		Seed: seed*1000 + uint64(ai)})
	if err != nil {
		return nil, fmt.Errorf("fedexp: α = %g, seed %d: %w", c.Alphas[ai], seed, err)
	}
	rd := &runData{f: f, parts: parts}
	for _, p := range parts {
		rd.clients = append(rd.clients, s.Train.Subset(p))
	}
	if explore {
		rd.ex, err = fed.Explore(f, f.Init(), rd.clients, fed.ExploreConfig{Local: fed.Local{LR: c.ExploreLR, BatchSize: c.Batch},
			Epochs: c.ExploreEpochs, Patience: c.Patience, Seed: seed})
		if err != nil {
			return nil, fmt.Errorf("fedexp: α = %g, seed %d: %w", c.Alphas[ai], seed, err)
		}
	}
	return rd, nil
}

// run is one federated run of arm a at point p on rd, scored on eval after every round.
func (c Config) run(rd *runData, a Arm, p Point, eval *data.Set, seed uint64, keepLocal bool) (*fed.Result, []float64, error) {
	cfg := fed.Config{Model: rd.f, Clients: rd.clients, Test: eval, Init: rd.f.Init(), Rounds: c.Rounds,
		Fraction: float64(c.PerRound) / float64(c.Clients), Local: fed.Local{LR: p.LR, Mu: p.Mu, Epochs: c.LocalEpochs, BatchSize: c.Batch},
		Seed: seed, KeepLocal: keepLocal}
	if a.Explore {
		cfg.Exploration = rd.ex
	}
	res, err := fed.Run(cfg)
	var div *train.DivergedError
	if err != nil && !errors.As(err, &div) {
		return nil, nil, err
	}
	curve := make([]float64, len(res.Rounds))
	for i, r := range res.Rounds {
		curve[i] = r.TestAccuracy
	}
	return res, curve, err
}

// padDiverged extends the curve of a run that diverged after len(curve) rounds to all rounds at chance
// accuracy: a model with non-finite parameters predicts nothing.
func padDiverged(curve []float64, rounds int, chance float64) []float64 {
	out := append([]float64(nil), curve...)
	for len(out) < rounds {
		out = append(out, chance)
	}
	return out
}

// Run runs the experiment: in every setting, each arm's grid points are scored on the validation split
// by the mean validation accuracy over the rounds (one tuning run with TuneSeed; ties go to the
// earlier point, a non-finite score is never chosen), then the chosen point runs Runs times on the test
// split. A diverged tuning run scores NaN; a diverged final run counts as chance accuracy from then on
// (ArmResult.Diverged). progress, if not nil, is called after every exploration and federated run.
func Run(c Config, s *Splits, progress func(done string)) ([]SettingResult, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if s == nil || s.Train == nil || s.Val == nil || s.Test == nil {
		return nil, errors.New("fedexp.Run: need training, validation and test splits")
	}
	explore := false
	for _, a := range c.Arms {
		explore = explore || a.Explore
	}
	note := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	var out []SettingResult
	for ai, alpha := range c.Alphas {
		sr := SettingResult{Alpha: alpha}
		tune, err := c.prepare(s, ai, c.TuneSeed, explore)
		if err != nil {
			return nil, err
		}
		if explore {
			note("α = %g, tuning seed: explored", alpha)
		}
		for _, a := range c.Arms {
			ar := ArmResult{Arm: a.Name, Tuning: Tuning{Best: -1}}
			best := math.Inf(-1)
			for i, p := range a.Grid {
				_, curve, err := c.run(tune, a, p, s.Val, c.TuneSeed, false)
				var div *train.DivergedError
				if err != nil && !errors.As(err, &div) {
					return nil, fmt.Errorf("fedexp: α = %g, %s, tuning %v: %w", alpha, a.Name, p, err)
				}
				score := Mean(curve)
				if err != nil {
					score = math.NaN() // a diverged tuning run is never chosen
				}
				ar.Tuning.Score = append(ar.Tuning.Score, score)
				if score > best {
					best, ar.Tuning.Best = score, i
				}
				note("α = %g, %s, tuning %v: mean validation accuracy %.3f", alpha, a.Name, p, score)
			}
			if ar.Tuning.Best < 0 {
				return nil, fmt.Errorf("fedexp: α = %g, %s: no grid point gave a finite validation score", alpha, a.Name)
			}
			ar.Chosen = a.Grid[ar.Tuning.Best]
			sr.Arms = append(sr.Arms, ar)
		}
		for r := range c.Runs {
			seed := uint64(r + 1)
			rd, err := c.prepare(s, ai, seed, explore)
			if err != nil {
				return nil, err
			}
			sr.DominantShare = append(sr.DominantShare, dominantShare(data.ClientClassCounts(s.Train, rd.parts)))
			if explore {
				sr.Explorations = append(sr.Explorations, Exploration{Seed: seed, Epochs: rd.ex.Epochs, Steps: rd.ex.Steps, MeanG: Mean32(rd.ex.Guidance)})
				if r == 0 {
					sr.Guidance = rd.ex.Guidance
				}
				note("α = %g, run %d: explored (%d local steps)", alpha, r+1, rd.ex.Steps)
			}
			for i, a := range c.Arms {
				ar := &sr.Arms[i]
				keep := c.KeepLocal && r == 0 && ai == 0
				res, curve, err := c.run(rd, a, ar.Chosen, s.Test, seed, keep)
				var div *train.DivergedError
				switch {
				case errors.As(err, &div):
					curve = padDiverged(curve, c.Rounds, 1/float64(s.Train.Classes))
					ar.Diverged++
					keep = false
				case err != nil:
					return nil, fmt.Errorf("fedexp: α = %g, %s, run %d: %w", alpha, a.Name, r+1, err)
				}
				ar.Curves = append(ar.Curves, curve)
				if keep {
					ar.Local = res.Local
				}
				if r == 0 && i == 0 && div == nil {
					sr.RoundSteps = float64(res.Steps) / float64(c.Rounds)
				}
				note("α = %g, %s (%v), run %d: final test accuracy %.3f", alpha, a.Name, ar.Chosen, r+1, curve[len(curve)-1])
			}
		}
		out = append(out, sr)
	}
	return out, nil
}

// dominantShare is the mean over clients of the share of each client's examples in its largest class.
func dominantShare(counts [][]int) float64 {
	s := 0.0
	for _, c := range counts {
		n, top := 0, 0
		for _, v := range c {
			n, top = n+v, max(top, v)
		}
		if n > 0 {
			s += float64(top) / float64(n)
		}
	}
	return s / float64(len(counts))
}
