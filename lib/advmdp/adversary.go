package advmdp

import (
	"fmt"
	"math"
)

// Adversary is an oblivious adversary: the loss of episode k is ℓ_k(s,a) = φ_h(s,a)ᵀ W[k][h]
// (fixed before the learner plays). With simplex features and W in [0,1]^d, losses lie in [0,1].
type Adversary struct {
	W [][][]float64 // [k][h][i]
}

// K returns the number of episodes.
func (adv *Adversary) K() int { return len(adv.W) }

// AdversaryConfig describes NewAdversary's regime-switching adversary.
type AdversaryConfig struct {
	Regimes int     // number of regimes of (about) equal length K/Regimes
	Noise   float64 // standard deviation of the per-episode Gaussian noise on each coordinate
}

// DefaultAdversary is the notebook's adversary: 4 regimes, noise N(0, 0.1²).
var DefaultAdversary = AdversaryConfig{Regimes: 4, Noise: 0.1}

// NewAdversary draws a regime-switching adversary for K episodes of an MDP with H layers and d
// features: episode k belongs to regime r = ⌊k·Regimes/K⌋, each regime has a base vector per layer
// drawn uniformly from [0,1]^d, and W[k][h] = clip(base[r][h] + N(0, Noise²), 0, 1). The base vectors
// depend only on the seed (not on K), so one seed gives the same regimes at every horizon.
func NewAdversary(m *MDP, K int, cfg AdversaryConfig, seed uint64) (*Adversary, error) {
	if K < 1 {
		return nil, fmt.Errorf("advmdp: NewAdversary: K must be ≥ 1, got %d", K)
	}
	if cfg.Regimes < 1 {
		return nil, fmt.Errorf("advmdp: NewAdversary: Regimes must be ≥ 1, got %d (use DefaultAdversary)", cfg.Regimes)
	}
	if !(cfg.Noise >= 0) || math.IsInf(cfg.Noise, 0) {
		return nil, fmt.Errorf("advmdp: NewAdversary: Noise must be finite and ≥ 0, got %v", cfg.Noise)
	}
	base := newRand(seed, 0xad7)
	bases := make([][][]float64, cfg.Regimes)
	for r := range bases {
		bases[r] = make([][]float64, m.H)
		for h := range bases[r] {
			bases[r][h] = make([]float64, m.D)
			for i := range bases[r][h] {
				bases[r][h][i] = base.Float64()
			}
		}
	}
	noise := newRand(seed, 0xad8+uint64(K))
	adv := &Adversary{W: make([][][]float64, K)}
	for k := range K {
		r := k * cfg.Regimes / K
		adv.W[k] = make([][]float64, m.H)
		for h := range m.H {
			w := make([]float64, m.D)
			for i := range w {
				w[i] = min(1, max(0, bases[r][h][i]+cfg.Noise*noise.NormFloat64()))
			}
			adv.W[k][h] = w
		}
	}
	return adv, nil
}

func (adv *Adversary) check(m *MDP) error {
	if len(adv.W) == 0 {
		return fmt.Errorf("advmdp: adversary has no episodes")
	}
	for k, wk := range adv.W {
		if len(wk) != m.H {
			return fmt.Errorf("advmdp: adversary episode %d has %d layers, want %d", k, len(wk), m.H)
		}
		for h, w := range wk {
			if len(w) != m.D {
				return fmt.Errorf("advmdp: adversary W[%d][%d] has %d entries, want d = %d", k, h, len(w), m.D)
			}
			for _, v := range w {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("advmdp: adversary W[%d][%d] is not finite", k, h)
				}
			}
		}
	}
	return nil
}

// TotalW returns Σ_k W[k], the loss vectors of the summed loss Σ_k ℓ_k (losses are linear in w).
func (adv *Adversary) TotalW() [][]float64 {
	tot := make([][]float64, len(adv.W[0]))
	for h := range tot {
		tot[h] = make([]float64, len(adv.W[0][h]))
	}
	for _, wk := range adv.W {
		for h, w := range wk {
			for i, v := range w {
				tot[h][i] += v
			}
		}
	}
	return tot
}
