// Package eqnetexp holds the notebook-scale experiment of Xu, Han, Tian, Yang & Zhang, "EQ-Net: Elastic
// Quantization Neural Networks", ICCV 2023, arXiv:2308.07650, in the form a verdict needs: the subnet
// configurations of the elastic supernet (which layers take which bit-width and form), their encoding as
// the config tensor one compiled supernet graph reads, and the claims, written before any run, that the
// per-run accuracies are decided on.
//
// The paper quantises every Conv/Linear layer; in its random and minimum subnets the first and the last
// quantised layers stay at 8/8 bits. A "b-bit subnet" here therefore quantises every hidden layer's
// weights and input at b bits (EdgeBits = 8 keeps the first and last layer at 8 bits, as the paper does;
// EdgeBits = 0 quantises them at b too), on an MLP deep enough that the b-bit layers are most of the
// network rather than the single middle layer of a three-layer MLP.
package eqnetexp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/losslab/losslab/lib/eqnet"
)

// Forms are the four weight forms of the elastic quantiser, in the order LayerCfg.WForm indexes them:
// symmetric per output channel, symmetric per layer, asymmetric per channel, asymmetric per layer.
var Forms = []string{"sym/channel", "sym/layer", "asym/channel", "asym/layer"}

// Config is the experiment's scale and decision rule.
type Config struct {
	// Dims are the MLP's layer widths, input first (default 196-64-64-64-10: Fashion-MNIST
	// average-pooled to 14×14, three hidden layers, so two of the four weight layers take the low
	// bit-width when EdgeBits = 8).
	Dims []int
	// Bits is the elastic bit list (default {2, 3, 4, 8}); EvalBits the bit-widths the claims compare
	// at (default {2, 4}); both must lie in Bits.
	Bits, EvalBits []int
	// EdgeBits is the bit-width of the first and last layer in random, minimum and evaluated subnets
	// (default 8, the paper's rule; 0 quantises them at the subnet's bit-width).
	EdgeBits int
	// Runs is the number of independent paired runs (default 3; at least verdict.MinRuns).
	Runs int
	// StaticMargin and FloatMargin are the non-inferiority margins (test accuracy) of the supernet's
	// subnet against a static LSQ model of the same bit-width (default 0.01) and, at 4 bits, against the
	// full-precision model (default 0.02), stated before the run.
	StaticMargin, FloatMargin float64
}

// Default returns the full-size configuration.
func Default() Config {
	return Config{Dims: []int{196, 64, 64, 64, 10}, Bits: []int{2, 3, 4, 8}, EvalBits: []int{2, 4},
		EdgeBits: 8, Runs: 3, StaticMargin: 0.01, FloatMargin: 0.02}
}

// Quick returns the CI configuration: the same rule on a narrower MLP.
func Quick() Config {
	c := Default()
	c.Dims = []int{196, 16, 16, 16, 10}
	return c
}

// Validate returns an error naming the first bad setting.
func (c Config) Validate() error {
	if len(c.Dims) < 3 {
		return fmt.Errorf("eqnetexp: Dims %v: need an input, at least one hidden layer and an output", c.Dims)
	}
	for _, d := range c.Dims {
		if d < 1 {
			return fmt.Errorf("eqnetexp: Dims %v: every width must be positive", c.Dims)
		}
	}
	if len(c.Bits) == 0 {
		return errors.New("eqnetexp: Bits is empty")
	}
	for _, b := range c.Bits {
		if b < 2 || b > 8 {
			return fmt.Errorf("eqnetexp: Bits %v: bit-widths must lie in 2..8", c.Bits)
		}
	}
	if !slices.Contains(c.Bits, 8) || !slices.Contains(c.Bits, 2) {
		return fmt.Errorf("eqnetexp: Bits %v must hold 8 (the max subnet) and 2 (the min subnet)", c.Bits)
	}
	for _, b := range c.EvalBits {
		if !slices.Contains(c.Bits, b) {
			return fmt.Errorf("eqnetexp: EvalBits %v: %d is not in Bits %v", c.EvalBits, b, c.Bits)
		}
	}
	if c.EdgeBits != 0 && !slices.Contains(c.Bits, c.EdgeBits) {
		return fmt.Errorf("eqnetexp: EdgeBits %d is neither 0 nor in Bits %v", c.EdgeBits, c.Bits)
	}
	if c.Runs < 3 {
		return fmt.Errorf("eqnetexp: Runs %d: a verdict needs at least 3 independent runs", c.Runs)
	}
	if c.StaticMargin < 0 || c.FloatMargin < 0 {
		return fmt.Errorf("eqnetexp: margins %g, %g must be ≥ 0", c.StaticMargin, c.FloatMargin)
	}
	return nil
}

// LayerCfg is one layer's quantisation in a subnet: weight bits and form (index into Forms), input
// activation bits (0: the layer's input is not quantised, as for the network's input) and whether the
// activation quantiser is asymmetric.
type LayerCfg struct {
	WBits, WForm, ABits int
	AAsym               bool
}

// Subnet is one configuration of the supernet, a LayerCfg per weight layer.
type Subnet []LayerCfg

// LowLayers returns the indices of the layers whose weights are quantised below 8 bits.
func (s Subnet) LowLayers() []int {
	var out []int
	for l, c := range s {
		if c.WBits < 8 {
			out = append(out, l)
		}
	}
	return out
}

// edge is the bit-width of layer l of n in a subnet at b bits.
func (c Config) edge(l, n, b int) int {
	if c.EdgeBits != 0 && (l == 0 || l == n-1) {
		return c.EdgeBits
	}
	return b
}

// Uniform returns the b-bit subnet in weight form f: every layer's weights and (after the first) input
// at b bits, the first and last at EdgeBits when it is set; activations asymmetric with the asymmetric
// weight forms.
func (c Config) Uniform(b, f int) (Subnet, error) {
	if !slices.Contains(c.Bits, b) {
		return nil, fmt.Errorf("eqnetexp: Uniform: %d bits is not in Bits %v", b, c.Bits)
	}
	if f < 0 || f >= len(Forms) {
		return nil, fmt.Errorf("eqnetexp: Uniform: form %d is not one of the %d forms", f, len(Forms))
	}
	n := len(c.Dims) - 1
	s := make(Subnet, n)
	for l := range s {
		bits := c.edge(l, n, b)
		s[l] = LayerCfg{WBits: bits, WForm: f}
		if l > 0 {
			s[l].ABits, s[l].AAsym = bits, f >= 2
		}
	}
	return s, nil
}

// Sandwich draws one training step's subnets, as the official code's sandwich rule does: the max subnet
// (every layer at 8 bits), one random subnet (each layer's weight and activation bits drawn from Bits)
// and the min subnet (2 bits), with random forms per layer; the first and last layers of the random and
// min subnets stay at EdgeBits when it is set.
func (c Config) Sandwich(rng *rand.Rand) []Subnet {
	n := len(c.Dims) - 1
	out := make([]Subnet, 3)
	for k := range out {
		out[k] = make(Subnet, n)
		for l := range n {
			wb, ab := 8, 8
			switch k {
			case 1:
				wb, ab = c.Bits[rng.IntN(len(c.Bits))], c.Bits[rng.IntN(len(c.Bits))]
			case 2:
				wb, ab = 2, 2
			}
			if k > 0 && c.EdgeBits != 0 && (l == 0 || l == n-1) {
				wb, ab = c.EdgeBits, c.EdgeBits
			}
			out[k][l] = LayerCfg{WBits: wb, WForm: rng.IntN(len(Forms)), AAsym: rng.IntN(2) == 1}
			if l > 0 {
				out[k][l].ABits = ab
			}
		}
	}
	return out
}

// Fields is the width of one layer's row in Encode's output: one-hot weight bits (len(Bits)), one-hot
// weight form (4), weight Q_N, Q_P and gradient scale, one-hot activation bits (len(Bits)), activation
// Q_N, Q_P and gradient scale, activation asymmetry, and whether the input is quantised.
func (c Config) Fields() int { return 2*len(c.Bits) + len(Forms) + 8 }

// Encode writes the subnets as the [len(subs), layers, Fields()] config a supernet graph reads, so one
// compiled graph serves every subnet: the bit-widths become one-hot rows and integer ranges (eqnet.Range;
// weights signed, post-ReLU inputs unsigned) and LSQ's gradient scales (eqnet.GradScale; per output
// channel for the channel forms) for a batch of rows examples.
func (c Config) Encode(subs []Subnet, rows int) ([]float32, error) {
	n, nb, nf := len(c.Dims)-1, len(c.Bits), c.Fields()
	if rows < 1 {
		return nil, fmt.Errorf("eqnetexp: Encode: %d rows", rows)
	}
	out := make([]float32, len(subs)*n*nf)
	for k, s := range subs {
		if len(s) != n {
			return nil, fmt.Errorf("eqnetexp: Encode: subnet %d has %d layers, the supernet %d", k, len(s), n)
		}
		for l, lc := range s {
			f := out[(k*n+l)*nf : (k*n+l+1)*nf]
			wi := slices.Index(c.Bits, lc.WBits)
			if wi < 0 {
				return nil, fmt.Errorf("eqnetexp: Encode: subnet %d layer %d: weight bits %d not in %v", k, l, lc.WBits, c.Bits)
			}
			if lc.WForm < 0 || lc.WForm >= len(Forms) {
				return nil, fmt.Errorf("eqnetexp: Encode: subnet %d layer %d: form %d", k, l, lc.WForm)
			}
			f[wi], f[nb+lc.WForm] = 1, 1
			o := nb + len(Forms)
			qn, qp := eqnet.Range(lc.WBits, true)
			numel, ch := c.Dims[l]*c.Dims[l+1], 0
			if lc.WForm%2 == 0 {
				ch = c.Dims[l+1]
			}
			f[o], f[o+1], f[o+2] = float32(qn), float32(qp), float32(eqnet.GradScale(qp, numel, ch))
			if lc.ABits == 0 {
				continue
			}
			ai := slices.Index(c.Bits, lc.ABits)
			if ai < 0 {
				return nil, fmt.Errorf("eqnetexp: Encode: subnet %d layer %d: activation bits %d not in %v", k, l, lc.ABits, c.Bits)
			}
			o += 3
			f[o+ai] = 1
			o += nb
			aqn, aqp := eqnet.Range(lc.ABits, false)
			f[o], f[o+1], f[o+2] = float32(aqn), float32(aqp), float32(eqnet.GradScale(aqp, rows*c.Dims[l], 0))
			if lc.AAsym {
				f[o+3] = 1
			}
			f[o+4] = 1
		}
	}
	return out, nil
}
