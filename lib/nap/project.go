package nap

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
)

// Block is a group of parameters projected together: a hidden weight matrix W_ℓ, a LayerNorm's
// (gain, offset) pair, or (optionally) the output matrix.
type Block struct {
	// Name is "dense_0", "layernorm_0", ... (the layer scope).
	Name string
	// Kind is "weights" (a matrix feeding a LayerNorm), "norm" (a LayerNorm's gain and offset) or
	// "output" (the output matrix, which feeds no normalisation).
	Kind string
	// Tensors are indices into the model's layout, Ranges the matching [start, end) of the flat vector.
	Tensors []int
	Ranges  [][2]int
	// Radius r is the block's norm at initialisation (the projection target).
	Radius float64
}

// Options chooses which blocks a Projector projects.
type Options struct {
	// FreeOutput leaves the output matrix unprojected (projectOutput = false); by default it
	// is projected to its initial norm, fixing the logit scale.
	FreeOutput bool
	// FreeNormParams leaves LayerNorm's (gain, offset) unprojected (projectNormParams = false).
	FreeNormParams bool
}

// Projector rescales blocks of a flat parameter vector back to their initial norms.
type Projector struct {
	// Blocks are the projected blocks; Weights lists every "weights"/"output" block, projected or not,
	// (for norm and effective-learning-rate logging) in layer order.
	Blocks  []Block
	Weights []Block
}

var layerRe = regexp.MustCompile(`^/(dense|layernorm)_(\d+)/(weights|biases|gain|offset)$`)

// NewProjector finds the blocks of an MLP's layout (names and shapes as train.FlatModel.Layout returns
// them) and records their norms in init. A dense layer's weights form a "weights" block, projected,
// when a layernorm of the same index follows it; the last dense layer's weights are the "output" block,
// projected unless FreeOutput. Other dense weights (a plain MLP's hidden layers) are not scale
// invariant: they are kept in Weights for logging and never projected. Biases are never projected.
func NewProjector(names []string, shapes [][]int, init []float32, opt Options) (*Projector, error) {
	if len(names) != len(shapes) || len(names) == 0 {
		return nil, fmt.Errorf("nap.NewProjector: %d names for %d shapes", len(names), len(shapes))
	}
	type tensor struct {
		kind, v string
		idx     int
		rng     [2]int
	}
	byLayer := map[string][]tensor{}
	lastDense := -1
	hasNorm := map[int]bool{}
	pos := 0
	for i, name := range names {
		n := 1
		for _, d := range shapes[i] {
			n *= d
		}
		m := layerRe.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("nap.NewProjector: parameter %q is not a dense or layernorm variable of an MLP", name)
		}
		li, _ := strconv.Atoi(m[2])
		key := m[1] + "_" + m[2]
		byLayer[key] = append(byLayer[key], tensor{kind: m[1], v: m[3], idx: i, rng: [2]int{pos, pos + n}})
		if m[1] == "dense" {
			lastDense = max(lastDense, li)
		} else {
			hasNorm[li] = true
		}
		pos += n
	}
	if len(init) != pos {
		return nil, fmt.Errorf("nap.NewProjector: init has %d values, the layout %d", len(init), pos)
	}
	p := &Projector{}
	for l := 0; l <= lastDense; l++ {
		for _, t := range byLayer[fmt.Sprintf("dense_%d", l)] {
			if t.v != "weights" {
				continue
			}
			b := Block{Name: fmt.Sprintf("dense_%d", l), Kind: "weights", Tensors: []int{t.idx}, Ranges: [][2]int{t.rng}}
			if l == lastDense {
				b.Kind = "output"
			}
			b.Radius = norm(init, b.Ranges)
			p.Weights = append(p.Weights, b)
			switch {
			case b.Kind == "output" && !opt.FreeOutput:
				p.Blocks = append(p.Blocks, b)
			case b.Kind == "weights" && hasNorm[l]:
				p.Blocks = append(p.Blocks, b)
			}
		}
		if ln := byLayer[fmt.Sprintf("layernorm_%d", l)]; len(ln) > 0 && !opt.FreeNormParams {
			b := Block{Name: fmt.Sprintf("layernorm_%d", l), Kind: "norm"}
			for _, t := range ln {
				b.Tensors = append(b.Tensors, t.idx)
				b.Ranges = append(b.Ranges, t.rng)
			}
			b.Radius = norm(init, b.Ranges)
			p.Blocks = append(p.Blocks, b)
		}
	}
	for _, b := range p.Blocks {
		if !(b.Radius > 0) || math.IsInf(b.Radius, 0) {
			return nil, fmt.Errorf("nap.NewProjector: block %s has initial norm %v; it must be positive and finite", b.Name, b.Radius)
		}
	}
	return p, nil
}

func norm(v []float32, ranges [][2]int) float64 {
	s := 0.0
	for _, r := range ranges {
		for _, x := range v[r[0]:r[1]] {
			s += float64(x) * float64(x)
		}
	}
	return math.Sqrt(s)
}

// Project rescales every block of params in place to its initial norm: W ← W·r/‖W‖.
func (p *Projector) Project(params []float32) error {
	for _, b := range p.Blocks {
		n := norm(params, b.Ranges)
		if !(n > 0) || math.IsInf(n, 0) {
			return fmt.Errorf("nap.Project: block %s has norm %v", b.Name, n)
		}
		c := b.Radius / n
		for _, r := range b.Ranges {
			for i := r[0]; i < r[1]; i++ {
				params[i] = float32(float64(params[i]) * c)
			}
		}
	}
	return nil
}

// WeightNorms returns ‖W_ℓ‖_F of every weight matrix (Weights order: hidden layers, then the output).
func (p *Projector) WeightNorms(params []float32) []float64 {
	out := make([]float64, len(p.Weights))
	for i, b := range p.Weights {
		out[i] = norm(params, b.Ranges)
	}
	return out
}

// WeightNames returns the scopes of Weights ("dense_0", ...).
func (p *Projector) WeightNames() []string {
	var out []string
	for _, b := range p.Weights {
		out = append(out, b.Name)
	}
	return slices.Clip(out)
}

// EffectiveLR is a scale-invariant block's effective learning rate: η/‖w‖² for "sgd", η/‖w‖ for
// "adam" (whose steps have a size of about η per coordinate whatever the gradient's scale).
func EffectiveLR(optimizer string, lr, norm float64) float64 {
	if optimizer == "adam" {
		return lr / norm
	}
	return lr / (norm * norm)
}

// EquivalentLR is the learning rate that makes projected SGD at radius r follow the directions of
// unprojected SGD with learning rate lr whose block has norm ‖w_t‖ = norm: lr·r²/‖w_t‖².
func EquivalentLR(lr, radius, norm float64) float64 {
	return lr * radius * radius / (norm * norm)
}
