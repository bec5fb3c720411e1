package fed

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/train"
)

// Local configures a client's local training.
type Local struct {
	// Optimizer is "sgd" (plain, no momentum; the default) or "adam" (β = 0.9, 0.999, ε = 1e-8, bias
	// corrected; its moments start at zero on every call, as a client builds a fresh optimizer each
	// round).
	Optimizer string
	// LR is the client learning rate (before the per-round decay of Config.LRDecay).
	LR float64
	// Epochs is the number of local passes E (default 1).
	Epochs int
	// BatchSize B (default 32). Each epoch visits a fresh permutation in batches of exactly B; the last
	// partial batch is dropped (as lib/train does), so a client needs at least B examples.
	BatchSize int
	// Mu is FedProx's proximal weight μ ≥ 0 (0: FedAvg's local objective).
	Mu float64
}

func (l Local) withDefaults() Local {
	if l.Optimizer == "" {
		l.Optimizer = "sgd"
	}
	if l.Epochs == 0 {
		l.Epochs = 1
	}
	if l.BatchSize == 0 {
		l.BatchSize = 32
	}
	return l
}

func (l Local) check() error {
	if l.Optimizer != "sgd" && l.Optimizer != "adam" {
		return fmt.Errorf("fed: local optimizer %q is not \"sgd\" or \"adam\"", l.Optimizer)
	}
	if !(l.LR > 0) || math.IsInf(l.LR, 0) {
		return fmt.Errorf("fed: local learning rate %v must be a positive number", l.LR)
	}
	if l.Epochs < 1 || l.BatchSize < 1 {
		return fmt.Errorf("fed: local epochs %d and batch size %d must be ≥ 1", l.Epochs, l.BatchSize)
	}
	if !(l.Mu >= 0) || math.IsInf(l.Mu, 0) {
		return fmt.Errorf("fed: FedProx μ = %v must be a finite number ≥ 0", l.Mu)
	}
	return nil
}

// EpochOrder is the order in which a client visits its n examples in local epoch e, given the
// client's order seed (see OrderSeed): the permutation lib/train.Run uses for epoch e with
// DataSeed = seed, so a one-client federation can be checked against centralised training.
func EpochOrder(n int, seed uint64, e int) []int { return train.EpochOrder(n, seed, e) }

// OrderSeed is the data-order seed of client k in round r (1-based) of a run with seed s. It does not
// depend on the method.
func OrderSeed(s uint64, round, client int) uint64 {
	return splitmix(splitmix(s^0x6a09e667f3bcc909) + uint64(round)*0x9e3779b97f4a7c15 + uint64(client)*0xbf58476d1ce4e5b9)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// LocalResult is what one client's local training returns.
type LocalResult struct {
	Params []float32
	// Loss is the mean training loss over the local steps (of the data term, without the proximal term).
	Loss  float64
	Steps int
}

// LocalTrain trains a copy of start on set for l.Epochs epochs with learning rate lr, data order from
// orderSeed (see EpochOrder). Each step's gradient is g = ∇F(w) + μ(w − anchor) (anchor = start, FedProx)
// and, if mask is not nil, g ⊙ mask (FedLEx's guidance); then the SGD or Adam step. start is not
// modified. A NaN or infinite loss stops it with a *train.DivergedError (Step counts this call's steps).
func LocalTrain(f *train.FlatModel, start []float32, set *data.Set, l Local, lr float64, mask []float32, orderSeed uint64) (LocalResult, error) {
	l = l.withDefaults()
	if err := l.check(); err != nil {
		return LocalResult{}, err
	}
	if f == nil || set == nil {
		return LocalResult{}, fmt.Errorf("fed.LocalTrain: model and data set must not be nil")
	}
	P := f.Size()
	if len(start) != P || (mask != nil && len(mask) != P) {
		return LocalResult{}, fmt.Errorf("fed.LocalTrain: parameters (%d) and mask (%d) must have the model's %d values", len(start), len(mask), P)
	}
	n, d, B := set.Len(), set.Dim(), l.BatchSize
	if n < B {
		return LocalResult{}, fmt.Errorf("fed.LocalTrain: client set %q has %d examples, fewer than the batch size %d (give every client ≥ B examples, e.g. DirichletConfig.MinSize)", set.Name, n, B)
	}
	w := append([]float32{}, start...)
	opt, err := train.NewHostOptimizer(l.Optimizer, P)
	if err != nil {
		return LocalResult{}, fmt.Errorf("fed.LocalTrain: %w", err)
	}
	x := make([]float32, B*d)
	y := make([]int32, B)
	g := make([]float64, P)
	res := LocalResult{}
	for e := range l.Epochs {
		perm := EpochOrder(n, orderSeed, e)
		for lo := 0; lo+B <= n; lo += B {
			for j, i := range perm[lo : lo+B] {
				copy(x[j*d:(j+1)*d], set.X[i*d:(i+1)*d])
				y[j] = set.Y[i]
			}
			loss, grad, err := f.Grad(w, x, y)
			if err != nil && (math.IsNaN(loss) || math.IsInf(loss, 0)) {
				return res, fmt.Errorf("fed.LocalTrain: %w", &train.DivergedError{Step: res.Steps + 1, Loss: loss})
			}
			if err != nil {
				return res, fmt.Errorf("fed.LocalTrain: step %d: %w", res.Steps+1, err)
			}
			res.Loss += loss
			res.Steps++
			for i := range g {
				gi := float64(grad[i])
				if l.Mu != 0 {
					gi += l.Mu * (float64(w[i]) - float64(start[i]))
				}
				if mask != nil {
					gi *= float64(mask[i])
				}
				g[i] = gi
			}
			if err := opt.Step(w, g, lr); err != nil {
				return res, fmt.Errorf("fed.LocalTrain: step %d: %w", res.Steps, err)
			}
		}
	}
	res.Loss /= float64(res.Steps)
	res.Params = w
	return res, nil
}
