package proxies

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// MarkovConfig describes a synthetic order-2 Markov chain over Vocab tokens. Each token b has a set
// of Support possible successors (drawn at random); after the context (x_{t−2}, x_{t−1}) = (a, b) the
// next token is one of b's successors, with Dirichlet(1) probabilities drawn for each (a, b). So the
// previous token alone narrows the next one to Support choices (a bigram model reaches about
// log Support), and the token before it sets their odds (only an order-2 model reaches the entropy
// rate). The stream has Length tokens.
type MarkovConfig struct {
	Vocab, Support, Length int
	Seed                   uint64
}

// Corpus is a token stream split into a training part and a held-out part (the last tenth).
type Corpus struct {
	Vocab       int
	Train, Eval []int32
	// EntropyRate is the chain's mean conditional entropy −log P(x_t | x_{t−2}, x_{t−1}) along the
	// held-out part (nats per token): the lowest loss a model can reach on it.
	EntropyRate float64
}

// Markov generates the chain's stream.
func Markov(cfg MarkovConfig) (*Corpus, error) {
	v, s := cfg.Vocab, cfg.Support
	if v < 2 || s < 1 || s > v || cfg.Length < 100 {
		return nil, fmt.Errorf("proxies: bad Markov config Vocab=%d Support=%d Length=%d (want Vocab ≥ 2, 1 ≤ Support ≤ Vocab, Length ≥ 100)", v, s, cfg.Length)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x3c6ef372fe94f82b))
	next := make([][]int32, v*v)
	cum := make([][]float64, v*v)
	succ := make([][]int, v)
	for b := range succ {
		succ[b] = r.Perm(v)[:s]
	}
	for c := range next {
		perm := succ[c%v]
		w := make([]float64, s)
		total := 0.0
		for i := range w {
			w[i] = r.ExpFloat64() // Dirichlet(1) = normalised exponentials
			total += w[i]
		}
		next[c] = make([]int32, s)
		cum[c] = make([]float64, s)
		acc := 0.0
		for i := range w {
			next[c][i] = int32(perm[i])
			acc += w[i] / total
			cum[c][i] = acc
		}
	}
	tokens := make([]int32, cfg.Length)
	tokens[0], tokens[1] = int32(r.IntN(v)), int32(r.IntN(v))
	logp := make([]float64, cfg.Length)
	for t := 2; t < cfg.Length; t++ {
		c := int(tokens[t-2])*v + int(tokens[t-1])
		u := r.Float64()
		i := 0
		for i < s-1 && u > cum[c][i] {
			i++
		}
		tokens[t] = next[c][i]
		p := cum[c][i]
		if i > 0 {
			p -= cum[c][i-1]
		}
		logp[t] = math.Log(p)
	}
	cut := cfg.Length * 9 / 10
	h := 0.0
	for t := max(cut, 2); t < cfg.Length; t++ {
		h -= logp[t]
	}
	return &Corpus{Vocab: v, Train: tokens[:cut], Eval: tokens[cut:], EntropyRate: h / float64(cfg.Length-max(cut, 2))}, nil
}

// windows draws n windows of seq+1 consecutive tokens from stream and returns inputs [n·seq] and
// next-token targets [n·seq].
func windows(r *rand.Rand, stream []int32, n, seq int) (x, y []int32) {
	x, y = make([]int32, n*seq), make([]int32, n*seq)
	for i := range n {
		s := r.IntN(len(stream) - seq)
		copy(x[i*seq:(i+1)*seq], stream[s:s+seq])
		copy(y[i*seq:(i+1)*seq], stream[s+1:s+seq+1])
	}
	return x, y
}
