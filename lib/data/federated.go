package data

import (
	"fmt"
	"slices"
	"sort"
)

// DirichletConfig describes a Dirichlet label-skew split across clients.
type DirichletConfig struct {
	Clients int     // number of clients K ≥ 1
	Alpha   float64 // concentration α > 0: small α (0.1) is very skewed, large α (100) is nearly IID
	// MinSize, when > 0, redraws the whole split until every client has at least MinSize examples
	// (up to 1000 draws, then an error).
	MinSize int
	Seed    uint64
}

// DirichletSplit partitions the examples of s among clients with per-class Dirichlet proportions:
// for each class c, q_c ~ Dir(α·1_K); the (shuffled) examples of class c are dealt out in
// proportions q_c, client k getting floor(q_ck·n_c) of them and the n_c − Σ_k floor(q_ck·n_c) left
// over going one each to the clients with the largest q_ck. Every index appears in exactly one
// client's list; each list is in increasing order. Use s.Subset(parts[k]) for client k's set.
func DirichletSplit(s *Set, cfg DirichletConfig) ([][]int, error) {
	if cfg.Clients < 1 || !(cfg.Alpha > 0) || cfg.MinSize < 0 {
		return nil, fmt.Errorf("data: bad Dirichlet split config %+v (want Clients ≥ 1, Alpha > 0, MinSize ≥ 0)", cfg)
	}
	if cfg.MinSize*cfg.Clients > s.Len() {
		return nil, fmt.Errorf("data: cannot give %d clients %d examples each from %d", cfg.Clients, cfg.MinSize, s.Len())
	}
	if s.Classes < 1 {
		return nil, fmt.Errorf("data: Dirichlet label-skew split needs class labels, set %q has none", s.Name)
	}
	r := newRand(cfg.Seed, streamSplit)
	byClass := s.ByClass()
	k := cfg.Clients
	for try := 0; try < 1000; try++ {
		parts := make([][]int, k)
		for _, g := range byClass {
			g = slices.Clone(g)
			r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
			q := dirichlet(r, k, cfg.Alpha)
			counts := make([]int, k)
			left := len(g)
			for j, p := range q {
				counts[j] = int(p * float64(len(g)))
				left -= counts[j]
			}
			order := make([]int, k)
			for j := range order {
				order[j] = j
			}
			sort.SliceStable(order, func(a, b int) bool { return q[order[a]] > q[order[b]] })
			for j := 0; left > 0; j = (j + 1) % k {
				counts[order[j]]++
				left--
			}
			start := 0
			for j, c := range counts {
				parts[j] = append(parts[j], g[start:start+c]...)
				start += c
			}
		}
		ok := true
		for _, p := range parts {
			slices.Sort(p)
			ok = ok && len(p) >= cfg.MinSize
		}
		if ok {
			return parts, nil
		}
	}
	return nil, fmt.Errorf("data: no Dirichlet(α=%g) split of %d examples gave all %d clients ≥ %d examples in 1000 draws",
		cfg.Alpha, s.Len(), k, cfg.MinSize)
}

// IIDSplit deals a random permutation of 0..n−1 out to clients in near-equal contiguous parts (sizes
// differ by at most one); each part is in increasing order.
func IIDSplit(n, clients int, seed uint64) ([][]int, error) {
	if clients < 1 || n < 0 {
		return nil, fmt.Errorf("data: bad IID split of %d examples among %d clients", n, clients)
	}
	perm := permutation(newRand(seed, streamSplit), n)
	parts := make([][]int, clients)
	start := 0
	for k := range parts {
		size := n / clients
		if k < n%clients {
			size++
		}
		parts[k] = slices.Clone(perm[start : start+size])
		slices.Sort(parts[k])
		start += size
	}
	return parts, nil
}

// PathologicalSplit sorts the examples by label (ties in a random order given seed), cuts them into
// clients·shards contiguous shards of near-equal size and gives each client shards of them at
// random, so each client sees about `shards` classes (the "patho" split of FedAvg papers).
func PathologicalSplit(s *Set, clients, shards int, seed uint64) ([][]int, error) {
	total := clients * shards
	if clients < 1 || shards < 1 || total > s.Len() {
		return nil, fmt.Errorf("data: bad pathological split: %d clients × %d shards of %d examples", clients, shards, s.Len())
	}
	r := newRand(seed, streamSplit)
	order := permutation(r, s.Len())
	sort.SliceStable(order, func(a, b int) bool { return s.Y[order[a]] < s.Y[order[b]] })
	shardOf := permutation(r, total)
	parts := make([][]int, clients)
	for j, sh := range shardOf {
		lo, hi := sh*s.Len()/total, (sh+1)*s.Len()/total
		parts[j/shards] = append(parts[j/shards], order[lo:hi]...)
	}
	for _, p := range parts {
		slices.Sort(p)
	}
	return parts, nil
}

// ClientClassCounts returns, for each part, the number of its examples in each class of s.
func ClientClassCounts(s *Set, parts [][]int) [][]int {
	out := make([][]int, len(parts))
	for k, p := range parts {
		out[k] = make([]int, s.Classes)
		for _, i := range p {
			out[k][s.Y[i]]++
		}
	}
	return out
}
