package fed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/train"
)

// Guidance modes of a FedLEx run.
const (
	// PerRound recomputes G each round from the scouts among that round's sampled clients (the
	// official code's behaviour when every client scouts).
	PerRound = "per-round"
	// Fixed uses G from all scouts in every round.
	Fixed = "fixed"
)

// Config describes one federated run.
type Config struct {
	Model   *train.FlatModel
	Clients []*data.Set
	// Test, if set, is evaluated after every round.
	Test *data.Set
	// Init is θ⁰ (default: the model's initialisation). To reproduce the official FedLEx code, whose
	// rounds start from the explored weights, pass the exploration's final parameters here.
	Init []float32
	// Rounds R ≥ 1; Fraction C of the clients sampled per round (default 1).
	Rounds   int
	Fraction float64
	// Local configures the clients' training (Local.Mu > 0 is FedProx).
	Local Local
	// LRDecay γ: round r uses Local.LR·γ^(r−1) (default 1: constant; FedLEx's code uses 0.99).
	LRDecay float64
	// ServerMomentum β ∈ [0, 1) of the pseudo-gradient average (0: plain FedAvg).
	ServerMomentum float64
	// Exploration, if set, makes the run FedLEx: local gradients are multiplied by its guidance.
	// GuidanceMode is PerRound (default) or Fixed.
	Exploration  *Exploration
	GuidanceMode string
	// Seed fixes client sampling and the clients' data order.
	Seed uint64
	// KeepLocal keeps the last round's client models in Result.Local.
	KeepLocal bool
	// OnRound, if set, is called after each round (e.g. to move a progress bar).
	OnRound func(Round)
}

// Round is the record of one round.
type Round struct {
	Round   int
	Clients []int
	// TrainLoss is the sampled clients' mean local training loss (weighted by n_k).
	TrainLoss float64
	// TestLoss and TestAccuracy are the new global model's (NaN without a test set).
	TestLoss, TestAccuracy float64
	// GuidanceMean is the mean of the guidance used this round (1 without guidance).
	GuidanceMean float64
}

// Result is what Run returns.
type Result struct {
	Params []float32
	Rounds []Round
	// Local holds the last round's client models (Config.KeepLocal), in Rounds[last].Clients order.
	Local [][]float32
	// Steps counts all local gradient steps of the rounds (exploration not included).
	Steps int
}

// Method names the algorithm a configuration runs: "FedAvg", "FedProx", "FedLEx" or "FedLEx+FedProx".
func (c Config) Method() string {
	switch {
	case c.Exploration != nil && c.Local.Mu > 0:
		return "FedLEx+FedProx"
	case c.Exploration != nil:
		return "FedLEx"
	case c.Local.Mu > 0:
		return "FedProx"
	}
	return "FedAvg"
}

// SampleClients returns the m = max(⌊C·K⌋, 1) clients of round r (1-based), sorted: uniform without
// replacement from a stream that depends only on (seed, r).
func SampleClients(seed uint64, r, k int, fraction float64) []int {
	m := max(int(math.Floor(fraction*float64(k)+1e-9)), 1)
	rng := rand.New(rand.NewPCG(seed, 0x5a3b1e00+uint64(r)))
	s := rng.Perm(k)[:m]
	slices.Sort(s)
	return s
}

// Aggregate applies the server update: with weights w_k = n_k/Σ n_j, Δ = Σ_k w_k (θ − θ_k),
// v ← β·v + (1 − β)·Δ and θ ← θ − v, in place on theta and v (float64 server state).
func Aggregate(theta []float64, v []float64, locals [][]float32, sizes []int, beta float64) error {
	if len(locals) == 0 || len(locals) != len(sizes) {
		return fmt.Errorf("fed.Aggregate: %d client models for %d sizes", len(locals), len(sizes))
	}
	if !(beta >= 0 && beta < 1) {
		return fmt.Errorf("fed.Aggregate: server momentum β = %v must be in [0, 1)", beta)
	}
	total := 0
	for _, n := range sizes {
		if n < 1 {
			return fmt.Errorf("fed.Aggregate: client size %d must be ≥ 1", n)
		}
		total += n
	}
	if len(v) != len(theta) {
		return fmt.Errorf("fed.Aggregate: momentum has %d values, θ %d", len(v), len(theta))
	}
	for k, l := range locals {
		if len(l) != len(theta) {
			return fmt.Errorf("fed.Aggregate: client model %d has %d values, θ %d", k, len(l), len(theta))
		}
	}
	for i := range theta {
		delta := 0.0
		for k, l := range locals {
			delta += float64(sizes[k]) / float64(total) * (theta[i] - float64(l[i]))
		}
		v[i] = beta*v[i] + (1-beta)*delta
		theta[i] -= v[i]
	}
	return nil
}

func (c *Config) check() error {
	if c.Model == nil || len(c.Clients) == 0 {
		return fmt.Errorf("fed.Run: need a model and at least one client")
	}
	for k, s := range c.Clients {
		if s == nil || s.Len() == 0 {
			return fmt.Errorf("fed.Run: client %d has no data", k)
		}
	}
	if c.Fraction == 0 {
		c.Fraction = 1
	}
	if c.LRDecay == 0 {
		c.LRDecay = 1
	}
	if c.GuidanceMode == "" {
		c.GuidanceMode = PerRound
	}
	c.Local = c.Local.withDefaults()
	switch {
	case c.Rounds < 1:
		return fmt.Errorf("fed.Run: Rounds = %d must be ≥ 1", c.Rounds)
	case !(c.Fraction > 0 && c.Fraction <= 1):
		return fmt.Errorf("fed.Run: client fraction C = %v must be in (0, 1]", c.Fraction)
	case !(c.LRDecay > 0 && c.LRDecay <= 1):
		return fmt.Errorf("fed.Run: LRDecay γ = %v must be in (0, 1]", c.LRDecay)
	case !(c.ServerMomentum >= 0 && c.ServerMomentum < 1):
		return fmt.Errorf("fed.Run: server momentum β = %v must be in [0, 1)", c.ServerMomentum)
	case c.GuidanceMode != PerRound && c.GuidanceMode != Fixed:
		return fmt.Errorf("fed.Run: guidance mode %q is not %q or %q", c.GuidanceMode, PerRound, Fixed)
	case c.Init != nil && len(c.Init) != c.Model.Size():
		return fmt.Errorf("fed.Run: Init has %d values, the model %d", len(c.Init), c.Model.Size())
	case c.Exploration != nil && len(c.Exploration.Guidance) != c.Model.Size():
		return fmt.Errorf("fed.Run: the exploration's guidance has %d values, the model %d", len(c.Exploration.Guidance), c.Model.Size())
	}
	return c.Local.check()
}

// Run trains a global model for cfg.Rounds rounds. A run that diverges (a NaN or infinite local loss,
// or non-finite global parameters) stops with an error wrapping a *train.DivergedError, returned with
// the rounds so far.
func Run(cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	init := cfg.Init
	if init == nil {
		init = cfg.Model.Init()
	}
	theta := make([]float64, len(init))
	for i, x := range init {
		theta[i] = float64(x)
	}
	v := make([]float64, len(theta))
	cur := slices.Clone(init)
	res := &Result{}
	K := len(cfg.Clients)
	for r := 1; r <= cfg.Rounds; r++ {
		clients := SampleClients(cfg.Seed, r, K, cfg.Fraction)
		lr := cfg.Local.LR * math.Pow(cfg.LRDecay, float64(r-1))
		var mask []float32
		rec := Round{Round: r, Clients: clients, GuidanceMean: 1, TestLoss: math.NaN(), TestAccuracy: math.NaN()}
		if ex := cfg.Exploration; ex != nil {
			mask = ex.Guidance
			if cfg.GuidanceMode == PerRound {
				var err error
				if mask, err = ex.GuidanceFor(clients); err != nil {
					return res, err
				}
			}
			s := 0.0
			for _, g := range mask {
				s += float64(g)
			}
			rec.GuidanceMean = s / float64(len(mask))
		}
		locals := make([][]float32, len(clients))
		sizes := make([]int, len(clients))
		total := 0
		for j, k := range clients {
			lres, err := LocalTrain(cfg.Model, cur, cfg.Clients[k], cfg.Local, lr, mask, OrderSeed(cfg.Seed, r, k))
			if err != nil {
				return res, fmt.Errorf("fed.Run: round %d, client %d: %w", r, k, err)
			}
			locals[j], sizes[j] = lres.Params, cfg.Clients[k].Len()
			total += sizes[j]
			rec.TrainLoss += lres.Loss * float64(sizes[j])
			res.Steps += lres.Steps
		}
		rec.TrainLoss /= float64(total)
		if err := Aggregate(theta, v, locals, sizes, cfg.ServerMomentum); err != nil {
			return res, err
		}
		// The broadcast model is float32: keep the server's θ equal to it (the momentum stays float64).
		for i, x := range theta {
			cur[i] = float32(x)
			theta[i] = float64(cur[i])
		}
		for _, x := range cur {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return res, fmt.Errorf("fed.Run: round %d: the global model has non-finite parameters: %w", r,
					&train.DivergedError{Step: res.Steps, Loss: math.NaN()})
			}
		}
		if cfg.Test != nil {
			m, err := cfg.Model.Evaluate(cur, cfg.Test)
			if err != nil {
				return res, fmt.Errorf("fed.Run: round %d: %w", r, err)
			}
			rec.TestLoss, rec.TestAccuracy = m.Loss, m.Accuracy
		}
		res.Rounds = append(res.Rounds, rec)
		if cfg.KeepLocal && r == cfg.Rounds {
			res.Local = locals
		}
		if cfg.OnRound != nil {
			cfg.OnRound(rec)
		}
	}
	res.Params = cur
	return res, nil
}
