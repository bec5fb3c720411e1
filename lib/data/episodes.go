package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// EpisodeConfig describes N-way K-shot episodes.
type EpisodeConfig struct {
	Way   int   // N: classes per episode
	Shot  int   // K: support examples per class
	Query int   // query examples per class
	Pool  []int // the classes episodes draw from (e.g. the training classes of a class split); nil means all
	// NOTA adds this many "none of the above" queries per episode, drawn from pool classes outside the
	// episode and labelled Way. Needs at least Way+1 pool classes.
	NOTA int
	Seed uint64
}

// Episode is one few-shot task. Indices point into the sampler's set; labels are way numbers
// 0..Way−1 (Way for NOTA queries). Support and queries are grouped by way: way j's support examples
// are Support[j·Shot:(j+1)·Shot], its queries Query[j·Query:(j+1)·Query]; NOTA queries come last.
type Episode struct {
	Classes  []int // original class of each way
	Support  []int
	SupportY []int32
	Query    []int
	QueryY   []int32
}

// EpisodeSampler draws episodes from a set, deterministically given the config's seed.
type EpisodeSampler struct {
	cfg     EpisodeConfig
	byClass [][]int
	rng     *rand.Rand
	scratch []int
}

// NewEpisodeSampler checks that every pool class has at least Shot+Query examples.
func NewEpisodeSampler(s *Set, cfg EpisodeConfig) (*EpisodeSampler, error) {
	if cfg.Way < 1 || cfg.Shot < 1 || cfg.Query < 0 || cfg.NOTA < 0 {
		return nil, fmt.Errorf("data: bad episode config way=%d shot=%d query=%d nota=%d", cfg.Way, cfg.Shot, cfg.Query, cfg.NOTA)
	}
	pool := slices.Clone(cfg.Pool)
	if pool == nil {
		for c := range s.Classes {
			pool = append(pool, c)
		}
	}
	need := cfg.Way
	if cfg.NOTA > 0 {
		need++
	}
	if len(pool) < need {
		return nil, fmt.Errorf("data: %d-way episodes (NOTA %d) need %d pool classes, have %d", cfg.Way, cfg.NOTA, need, len(pool))
	}
	all := s.ByClass()
	sampler := &EpisodeSampler{cfg: cfg, rng: newRand(cfg.Seed, streamEpisodes)}
	sampler.cfg.Pool = pool
	seen := map[int]bool{}
	for _, c := range pool {
		if c < 0 || c >= s.Classes || seen[c] {
			return nil, fmt.Errorf("data: bad or repeated pool class %d (set %q has %d classes)", c, s.Name, s.Classes)
		}
		seen[c] = true
		if len(all[c]) < cfg.Shot+cfg.Query {
			return nil, fmt.Errorf("data: class %d of %q has %d examples, episodes need %d+%d", c, s.Name, len(all[c]), cfg.Shot, cfg.Query)
		}
		sampler.byClass = append(sampler.byClass, all[c])
	}
	return sampler, nil
}

// pick returns m distinct random elements of g.
func (e *EpisodeSampler) pick(g []int, m int) []int {
	e.scratch = append(e.scratch[:0], g...)
	for i := range m {
		j := i + e.rng.IntN(len(e.scratch)-i)
		e.scratch[i], e.scratch[j] = e.scratch[j], e.scratch[i]
	}
	return slices.Clone(e.scratch[:m])
}

// DrawEpisodes returns the first n episodes of a sampler of s with cfg: a fixed set of episodes (for
// validation or test) that cfg.Seed determines.
func DrawEpisodes(s *Set, cfg EpisodeConfig, n int) ([]Episode, error) {
	if n < 0 {
		return nil, fmt.Errorf("data.DrawEpisodes: %d episodes requested", n)
	}
	smp, err := NewEpisodeSampler(s, cfg)
	if err != nil {
		return nil, err
	}
	eps := make([]Episode, n)
	for i := range eps {
		eps[i] = smp.Next()
	}
	return eps, nil
}

// Next draws the next episode: Way distinct pool classes in random order, then Shot+Query distinct
// examples of each, then NOTA queries from random pool classes outside the episode.
func (e *EpisodeSampler) Next() Episode {
	c := e.cfg
	ways := permutation(e.rng, len(c.Pool))
	ep := Episode{Classes: make([]int, c.Way)}
	for j := range c.Way {
		ep.Classes[j] = c.Pool[ways[j]]
		ex := e.pick(e.byClass[ways[j]], c.Shot+c.Query)
		ep.Support = append(ep.Support, ex[:c.Shot]...)
		ep.Query = append(ep.Query, ex[c.Shot:]...)
		for range c.Shot {
			ep.SupportY = append(ep.SupportY, int32(j))
		}
		for range c.Query {
			ep.QueryY = append(ep.QueryY, int32(j))
		}
	}
	outside := ways[c.Way:]
	for range c.NOTA {
		g := e.byClass[outside[e.rng.IntN(len(outside))]]
		ep.Query = append(ep.Query, g[e.rng.IntN(len(g))])
		ep.QueryY = append(ep.QueryY, int32(c.Way))
	}
	return ep
}
