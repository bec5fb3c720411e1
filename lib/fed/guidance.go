package fed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/train"
)

// Guidance normalisations of the deviation D (per parameter tensor).
const (
	MinMax = "minmax" // G = (D − min D)/(max D − min D) ∈ [0, 1] (FedLEx's default)
	Robust = "robust" // G = (D − median D)/(Q₃(D) − Q₁(D))
)

// GuidanceMatrix returns FedLEx's guidance G for parameters laid out in tensors of the given sizes
// (consecutive blocks of the flat vectors): D = (1/S) Σ_c (θ_c − θ_base)² elementwise over the S
// scouts, then D normalised per tensor by norm (MinMax or Robust; "" means MinMax). A tensor whose D
// is constant (max = min, or Q₃ = Q₁ for Robust) gets G ≡ 1: the official code divides by zero there;
// we let such a tensor train unguided.
func GuidanceMatrix(base []float32, scouts [][]float32, sizes []int, norm string) ([]float32, error) {
	if norm == "" {
		norm = MinMax
	}
	if norm != MinMax && norm != Robust {
		return nil, fmt.Errorf("fed.GuidanceMatrix: normalisation %q is not %q or %q", norm, MinMax, Robust)
	}
	if len(scouts) == 0 {
		return nil, fmt.Errorf("fed.GuidanceMatrix: no scouts")
	}
	total := 0
	for _, s := range sizes {
		if s < 1 {
			return nil, fmt.Errorf("fed.GuidanceMatrix: tensor size %d must be ≥ 1", s)
		}
		total += s
	}
	if len(base) != total {
		return nil, fmt.Errorf("fed.GuidanceMatrix: base has %d values, the tensor sizes add up to %d", len(base), total)
	}
	for c, s := range scouts {
		if len(s) != total {
			return nil, fmt.Errorf("fed.GuidanceMatrix: scout %d has %d values, want %d", c, len(s), total)
		}
	}
	D := make([]float64, total)
	for _, s := range scouts {
		for i := range D {
			u := float64(s[i]) - float64(base[i])
			D[i] += u * u
		}
	}
	G := make([]float32, total)
	pos := 0
	for _, n := range sizes {
		d := D[pos : pos+n]
		for i := range d {
			d[i] /= float64(len(scouts))
			if math.IsNaN(d[i]) || math.IsInf(d[i], 0) {
				return nil, fmt.Errorf("fed.GuidanceMatrix: deviation %d is %v (NaN or infinite parameters)", pos+i, d[i])
			}
		}
		var center, scale float64
		if norm == MinMax {
			center, scale = slices.Min(d), slices.Max(d)-slices.Min(d)
		} else {
			q1, med, q3 := quantile(d, 0.25), quantile(d, 0.5), quantile(d, 0.75)
			center, scale = med, q3-q1
		}
		for i, v := range d {
			if scale > 0 {
				G[pos+i] = float32((v - center) / scale)
			} else {
				G[pos+i] = 1
			}
		}
		pos += n
	}
	return G, nil
}

// quantile is the q-quantile of v with linear interpolation between order statistics (NumPy's default).
func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// ExploreConfig configures FedLEx's exploration phase.
type ExploreConfig struct {
	// Local is the scouts' optimizer, learning rate and batch size (its Epochs and Mu are ignored).
	Local Local
	// Fraction p_exp of the clients that scout (default 1: all).
	Fraction float64
	// BaseEpochs trains the base model θ_base from the initial parameters on the first scout's data
	// (default 1).
	BaseEpochs int
	// Epochs E_exp is the most epochs a scout trains (default 5); Patience stops a scout once its mean
	// epoch training loss has not improved for that many epochs (0: no early stopping).
	Epochs, Patience int
	// Norm is MinMax (default) or Robust.
	Norm string
	// Sequential reproduces a quirk of the official code: each scout continues from the previous
	// scout's final parameters instead of starting from θ_base.
	Sequential bool
	// Seed picks the scouts and their data order (its own stream: runs with the same Config.Seed see
	// the same rounds whether or not they explored).
	Seed uint64
}

// Exploration is the result of Explore.
type Exploration struct {
	Base []float32
	// Scouts lists the scouting clients (sorted) and Params their final parameters, in the same order.
	Scouts []int
	Params [][]float32
	// Epochs each scout trained (early stopping may end it before ExploreConfig.Epochs).
	Epochs []int
	// Sizes are the parameter tensors' sizes (the model's layout), Norm the normalisation.
	Sizes []int
	Norm  string
	// Guidance is G from all scouts.
	Guidance []float32
	// Steps counts all local gradient steps of the exploration (base model included): its compute cost.
	Steps int
}

// Explore runs FedLEx's exploration phase from the initial parameters init over the clients' sets.
func Explore(f *train.FlatModel, init []float32, clients []*data.Set, cfg ExploreConfig) (*Exploration, error) {
	if f == nil || len(clients) == 0 {
		return nil, fmt.Errorf("fed.Explore: need a model and at least one client")
	}
	if cfg.Fraction == 0 {
		cfg.Fraction = 1
	}
	if cfg.BaseEpochs == 0 {
		cfg.BaseEpochs = 1
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = 5
	}
	if !(cfg.Fraction > 0 && cfg.Fraction <= 1) || cfg.BaseEpochs < 1 || cfg.Epochs < 1 || cfg.Patience < 0 {
		return nil, fmt.Errorf("fed.Explore: bad config (Fraction %v must be in (0, 1], BaseEpochs %d and Epochs %d ≥ 1, Patience %d ≥ 0)",
			cfg.Fraction, cfg.BaseEpochs, cfg.Epochs, cfg.Patience)
	}
	loc := cfg.Local.withDefaults()
	loc.Mu = 0
	loc.Epochs = 1
	if err := loc.check(); err != nil {
		return nil, err
	}
	if len(init) != f.Size() {
		return nil, fmt.Errorf("fed.Explore: init has %d values, the model %d", len(init), f.Size())
	}
	_, shapes := f.Layout()
	ex := &Exploration{Norm: cfg.Norm}
	for _, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		ex.Sizes = append(ex.Sizes, n)
	}
	K := len(clients)
	m := max(int(math.Floor(cfg.Fraction*float64(K)+1e-9)), 1)
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5c0075))
	ex.Scouts = r.Perm(K)[:m]
	slices.Sort(ex.Scouts)
	// Base model: BaseEpochs on the first scout's data.
	w := slices.Clone(init)
	for e := range cfg.BaseEpochs {
		res, err := LocalTrain(f, w, clients[ex.Scouts[0]], loc, loc.LR, nil, OrderSeed(cfg.Seed, -1-e, ex.Scouts[0]))
		if err != nil {
			return nil, fmt.Errorf("fed.Explore: base model: %w", err)
		}
		w, ex.Steps = res.Params, ex.Steps+res.Steps
	}
	ex.Base = w
	prev := ex.Base
	for _, c := range ex.Scouts {
		w := slices.Clone(ex.Base)
		if cfg.Sequential {
			w = slices.Clone(prev)
		}
		best, since, epochs := math.Inf(1), 0, 0
		for e := range cfg.Epochs {
			res, err := LocalTrain(f, w, clients[c], loc, loc.LR, nil, OrderSeed(cfg.Seed^0x5c0075, e, c))
			if err != nil {
				return nil, fmt.Errorf("fed.Explore: scout %d: %w", c, err)
			}
			w, ex.Steps, epochs = res.Params, ex.Steps+res.Steps, epochs+1
			if res.Loss < best {
				best, since = res.Loss, 0
			} else if since++; cfg.Patience > 0 && since >= cfg.Patience {
				break
			}
		}
		ex.Params = append(ex.Params, w)
		ex.Epochs = append(ex.Epochs, epochs)
		prev = w
	}
	var err error
	if ex.Guidance, err = GuidanceMatrix(ex.Base, ex.Params, ex.Sizes, cfg.Norm); err != nil {
		return nil, err
	}
	return ex, nil
}

// GuidanceFor returns G computed from the scouts among clients (FedLEx's per-round guidance when every
// client scouted), or the guidance of all scouts when none of them is among clients.
func (ex *Exploration) GuidanceFor(clients []int) ([]float32, error) {
	var ps [][]float32
	for i, c := range ex.Scouts {
		if slices.Contains(clients, c) {
			ps = append(ps, ex.Params[i])
		}
	}
	if len(ps) == 0 {
		return ex.Guidance, nil
	}
	return GuidanceMatrix(ex.Base, ps, ex.Sizes, ex.Norm)
}
