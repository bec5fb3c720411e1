// Package genmeasure computes generalization measures of a trained dense ReLU network — norms,
// margins, path norm, PAC-Bayes and worst-case sharpness flatness — as functions of the training
// sample S and the trained weights h alone, ranks them against the generalization gap with
// Kendall's τ (plain and granulated), and gives the exact parity example of Gastpar, Nachum, Shafer
// and Weinberger (ICLR 2024) showing why no such function E(S, h) can be uniformly tight.
//
// Everything here is plain float64 Go: a network is a list of dense layers copied out of a GoMLX
// context (FromParams), so the measures do not depend on how the network was trained. The measure
// names follow Jiang et al., "Fantastic Generalization Measures and Where to Find Them" (ICLR 2020);
// see Measures for the list and the conventions (squared norms in products, the 10th-percentile
// margin γ).
package genmeasure

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"

	"github.com/losslab/losslab/lib/train"
)

// Layer is one dense layer: out = in·W + B, W stored row-major with In rows and Out columns.
type Layer struct {
	In, Out int
	W       []float64 // len In·Out, W[i*Out+j] connects input i to output j
	B       []float64 // len Out, or nil for a bias-free layer
}

// Net is a dense ReLU network: ReLU after every layer but the last, whose outputs are the logits.
type Net struct {
	Layers []Layer
}

var denseName = regexp.MustCompile(`dense_(\d+)/(weights|biases)$`)

// FromParams builds a Net from the parameters of a lib/models MLP ("…/dense_i/weights" [in, out] and
// "…/dense_i/biases" [out]). It refuses parameters of any other kind (normalisation layers, CNNs),
// because the measures here assume a plain dense ReLU chain.
func FromParams(ps []train.Param) (*Net, error) {
	type pair struct{ w, b *train.Param }
	layers := map[int]*pair{}
	for i := range ps {
		p := &ps[i]
		m := denseName.FindStringSubmatch(p.Name)
		if m == nil {
			return nil, fmt.Errorf("genmeasure.FromParams: parameter %q is not a dense layer's weights or biases (only plain dense ReLU MLPs are supported)", p.Name)
		}
		idx, _ := strconv.Atoi(m[1])
		if layers[idx] == nil {
			layers[idx] = &pair{}
		}
		if m[2] == "weights" {
			if len(p.Shape) != 2 {
				return nil, fmt.Errorf("genmeasure.FromParams: %q has shape %v, want [in, out]", p.Name, p.Shape)
			}
			layers[idx].w = p
		} else {
			if len(p.Shape) != 1 {
				return nil, fmt.Errorf("genmeasure.FromParams: %q has shape %v, want [out]", p.Name, p.Shape)
			}
			layers[idx].b = p
		}
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("genmeasure.FromParams: no parameters")
	}
	net := &Net{}
	for i := 0; i < len(layers); i++ {
		pr := layers[i]
		if pr == nil || pr.w == nil {
			return nil, fmt.Errorf("genmeasure.FromParams: dense_%d has no weights (layers must be numbered 0..%d)", i, len(layers)-1)
		}
		l := Layer{In: pr.w.Shape[0], Out: pr.w.Shape[1], W: toF64(pr.w.Data)}
		if pr.b != nil {
			if pr.b.Shape[0] != l.Out {
				return nil, fmt.Errorf("genmeasure.FromParams: dense_%d biases have %d entries for %d outputs", i, pr.b.Shape[0], l.Out)
			}
			l.B = toF64(pr.b.Data)
		}
		if i > 0 && l.In != net.Layers[i-1].Out {
			return nil, fmt.Errorf("genmeasure.FromParams: dense_%d takes %d inputs but dense_%d gives %d", i, l.In, i-1, net.Layers[i-1].Out)
		}
		net.Layers = append(net.Layers, l)
	}
	return net, nil
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Check reports the first structural problem of the network, or nil.
func (n *Net) Check() error {
	if n == nil || len(n.Layers) == 0 {
		return fmt.Errorf("genmeasure: empty network")
	}
	for i, l := range n.Layers {
		if l.In <= 0 || l.Out <= 0 || len(l.W) != l.In*l.Out {
			return fmt.Errorf("genmeasure: layer %d has In=%d Out=%d and %d weights", i, l.In, l.Out, len(l.W))
		}
		if l.B != nil && len(l.B) != l.Out {
			return fmt.Errorf("genmeasure: layer %d has %d biases for %d outputs", i, len(l.B), l.Out)
		}
		if i > 0 && l.In != n.Layers[i-1].Out {
			return fmt.Errorf("genmeasure: layer %d takes %d inputs but layer %d gives %d", i, l.In, i-1, n.Layers[i-1].Out)
		}
	}
	return nil
}

// Clone returns a deep copy.
func (n *Net) Clone() *Net {
	c := &Net{Layers: make([]Layer, len(n.Layers))}
	for i, l := range n.Layers {
		c.Layers[i] = Layer{In: l.In, Out: l.Out, W: slices.Clone(l.W), B: slices.Clone(l.B)}
	}
	return c
}

// NumParams counts weights and biases.
func (n *Net) NumParams() int {
	s := 0
	for _, l := range n.Layers {
		s += len(l.W) + len(l.B)
	}
	return s
}

// Flat returns every parameter in one vector (per layer: W row-major, then B).
func (n *Net) Flat() []float64 {
	out := make([]float64, 0, n.NumParams())
	for _, l := range n.Layers {
		out = append(out, l.W...)
		out = append(out, l.B...)
	}
	return out
}

// SetFlat writes a vector laid out as Flat back into the network.
func (n *Net) SetFlat(v []float64) error {
	if len(v) != n.NumParams() {
		return fmt.Errorf("genmeasure: SetFlat got %d values for %d parameters", len(v), n.NumParams())
	}
	o := 0
	for i := range n.Layers {
		l := &n.Layers[i]
		o += copy(l.W, v[o:o+len(l.W)])
		o += copy(l.B, v[o:o+len(l.B)])
	}
	return nil
}

// Inputs is a batch of examples: N rows of Dim features, row-major, with class labels.
type Inputs struct {
	X   []float32
	Dim int
	Y   []int32
}

// N is the number of examples.
func (in Inputs) N() int { return len(in.Y) }

func (n *Net) checkInputs(in Inputs) error {
	if err := n.Check(); err != nil {
		return err
	}
	if in.Dim != n.Layers[0].In {
		return fmt.Errorf("genmeasure: inputs have %d features but the network takes %d", in.Dim, n.Layers[0].In)
	}
	if len(in.Y) == 0 || len(in.X) != len(in.Y)*in.Dim {
		return fmt.Errorf("genmeasure: %d feature values for %d examples of dimension %d", len(in.X), len(in.Y), in.Dim)
	}
	k := n.Layers[len(n.Layers)-1].Out
	for i, y := range in.Y {
		if y < 0 || int(y) >= k {
			return fmt.Errorf("genmeasure: label %d of example %d is outside [0, %d)", y, i, k)
		}
	}
	return nil
}

// Logits returns the network's outputs, one row per example.
func (n *Net) Logits(in Inputs) ([][]float64, error) {
	if err := n.checkInputs(in); err != nil {
		return nil, err
	}
	out := make([][]float64, in.N())
	for i := range out {
		out[i] = n.forward(in.X[i*in.Dim:(i+1)*in.Dim], nil)
	}
	return out, nil
}

// forward computes one example's logits; if acts is non-nil it receives each layer's input
// (post-ReLU activations), for backprop.
func (n *Net) forward(x []float32, acts [][]float64) []float64 {
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	for li, l := range n.Layers {
		if acts != nil {
			acts[li] = h
		}
		z := make([]float64, l.Out)
		if l.B != nil {
			copy(z, l.B)
		}
		for i, hv := range h {
			if hv == 0 {
				continue
			}
			row := l.W[i*l.Out : (i+1)*l.Out]
			for j, w := range row {
				z[j] += hv * w
			}
		}
		if li < len(n.Layers)-1 {
			for j := range z {
				if z[j] < 0 {
					z[j] = 0
				}
			}
		}
		h = z
	}
	return h
}

// Error is the 0-1 error of the network on in.
func (n *Net) Error(in Inputs) (float64, error) {
	if err := n.checkInputs(in); err != nil {
		return 0, err
	}
	return n.errorRate(in), nil
}

func (n *Net) errorRate(in Inputs) float64 {
	wrong := 0
	for i := 0; i < in.N(); i++ {
		z := n.forward(in.X[i*in.Dim:(i+1)*in.Dim], nil)
		if argmax(z) != int(in.Y[i]) {
			wrong++
		}
	}
	return float64(wrong) / float64(in.N())
}

// lossGrad returns the mean cross-entropy on in, its gradient in Flat layout, and the 0-1 error.
func (n *Net) lossGrad(in Inputs) (float64, []float64, float64) {
	grad := make([]float64, n.NumParams())
	offs := make([]int, len(n.Layers))
	o := 0
	for i, l := range n.Layers {
		offs[i] = o
		o += len(l.W) + len(l.B)
	}
	acts := make([][]float64, len(n.Layers))
	total := 0.0
	wrong := 0
	inv := 1 / float64(in.N())
	for e := 0; e < in.N(); e++ {
		z := n.forward(in.X[e*in.Dim:(e+1)*in.Dim], acts)
		top := argmax(z)
		if top != int(in.Y[e]) {
			wrong++
		}
		m := z[top]
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - m)
		}
		lse := m + math.Log(s)
		total += lse - z[in.Y[e]]
		delta := make([]float64, len(z))
		for j, v := range z {
			delta[j] = math.Exp(v-lse) * inv
		}
		delta[in.Y[e]] -= inv
		for li := len(n.Layers) - 1; li >= 0; li-- {
			l := n.Layers[li]
			a := acts[li]
			g := grad[offs[li]:]
			for i, av := range a {
				if av == 0 {
					continue
				}
				row := g[i*l.Out : (i+1)*l.Out]
				for j, d := range delta {
					row[j] += av * d
				}
			}
			if l.B != nil {
				gb := g[len(l.W) : len(l.W)+l.Out]
				for j, d := range delta {
					gb[j] += d
				}
			}
			if li == 0 {
				break
			}
			prev := make([]float64, l.In)
			for i := range prev {
				if a[i] <= 0 { // ReLU: the layer's input was clipped (or exactly 0)
					continue
				}
				row := l.W[i*l.Out : (i+1)*l.Out]
				s := 0.0
				for j, d := range delta {
					s += row[j] * d
				}
				prev[i] = s
			}
			delta = prev
		}
	}
	return total * inv, grad, float64(wrong) * inv
}

func argmax(z []float64) int {
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}
