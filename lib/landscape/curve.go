package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/losslab/losslab/lib/nb"
	"github.com/losslab/losslab/lib/train"
)

// Curve kinds (Garipov et al., "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs").
const (
	// CurveBezier is the Bézier curve with control points θ_A, the bends and θ_B:
	// θ(t) = Σ_j C(n,j) t^j (1−t)^(n−j) P_j; with one bend the quadratic (1−t)²θ_A + 2t(1−t)θ_C + t²θ_B.
	CurveBezier = "bezier"
	// CurveChain is the polygonal chain θ_A → bend_1 → … → θ_B, the n+1 points at t = j/n; with one
	// bend θ(t) = θ_A + 2t(θ_C − θ_A) for t ≤ ½ and θ_C + (2t−1)(θ_B − θ_C) after.
	CurveChain = "chain"
)

// ModeCurve is a curve between two points of parameter space through trained bends.
type ModeCurve struct {
	Kind  string
	A, B  *ParamSet
	Bends []*ParamSet
	// History is the training objective (the loss averaged over the step's t samples) per step.
	History    []float64 `json:",omitempty"`
	Provenance Provenance
}

// NewCurve returns the curve of the given kind through a, the bends and b.
func NewCurve(kind string, a, b *ParamSet, bends ...*ParamSet) (*ModeCurve, error) {
	if kind != CurveBezier && kind != CurveChain {
		return nil, fmt.Errorf("landscape: unknown curve kind %q (want %q or %q)", kind, CurveBezier, CurveChain)
	}
	if len(bends) == 0 {
		return nil, fmt.Errorf("landscape.NewCurve: need at least one bend (a curve without one is the line: use Interpolate)")
	}
	if err := checkAll(append([]*ParamSet{a, b}, bends...)...); err != nil {
		return nil, err
	}
	return &ModeCurve{Kind: kind, A: a, B: b, Bends: bends}, nil
}

// Weights returns the weights of the control points (θ_A, bends…, θ_B) at t ∈ [0,1]; they sum to 1.
func (c *ModeCurve) Weights(t float64) []float64 { return curveWeights(c.Kind, len(c.Bends), t) }

func curveWeights(kind string, bends int, t float64) []float64 {
	n := bends + 1
	w := make([]float64, n+1)
	if kind == CurveChain {
		s := min(int(math.Floor(t*float64(n))), n-1)
		s = max(s, 0)
		u := t*float64(n) - float64(s)
		w[s], w[s+1] = 1-u, u
		return w
	}
	binom := 1.0
	for j := 0; j <= n; j++ {
		w[j] = binom * math.Pow(t, float64(j)) * math.Pow(1-t, float64(n-j))
		binom = binom * float64(n-j) / float64(j+1)
	}
	return w
}

func (c *ModeCurve) points() []*ParamSet {
	return append(append([]*ParamSet{c.A}, c.Bends...), c.B)
}

// At returns θ(t).
func (c *ModeCurve) At(t float64) *ParamSet { return combine(c.Weights(t), c.points()) }

// CurvePath evaluates the curve like a line (Interpolate): loss and error on each dataset on the α = t
// grid of opts, refinement included, and barriers relative to the chord between the ends.
func CurvePath(ev *Evaluator, c *ModeCurve, data []*Data, opts PathOptions) (*Path, error) {
	if _, err := NewCurve(c.Kind, c.A, c.B, c.Bends...); err != nil {
		return nil, err
	}
	// θ(t) = θ_A + Σ_{j≥1} w_j(t)(P_j − θ_A), since the weights sum to 1.
	pts := c.points()
	dirs := make([]*ParamSet, len(pts)-1)
	for j := range dirs {
		dirs[j] = combine([]float64{1, -1}, []*ParamSet{pts[j+1], c.A})
	}
	pd := pathDirs{dirs: dirs, coef: func(t float64) []float64 { return c.Weights(t)[1:] }}
	p, err := evalPath(ev, c.A, pd, data, opts)
	if err != nil {
		return nil, err
	}
	p.Provenance.Notes = fmt.Sprintf("%s curve with %d bend(s)", c.Kind, len(c.Bends))
	return p, nil
}

// CurveOptions configures TrainCurve.
type CurveOptions struct {
	// Kind is CurveBezier (default) or CurveChain; Bends the number of bends (default 1).
	Kind  string
	Bends int
	// Steps of Adam (default 200) with learning rate LR (default 1e-3) on Garipov et al.'s schedule:
	// LR for the first half, then linearly down to LR/100 at 90% of the steps, LR/100 after.
	Steps int
	LR    float64
	// SamplesPerStep is the number of t values per step, stratified: t_i ~ U((i−1)/S, i/S) (default 4).
	SamplesPerStep int
	// BatchSize splits the (shuffled) training data into batches, one per step in turn (0: all of it).
	BatchSize int
	// InitNoise perturbs each bend's start (the point of the line at its t) by InitNoise·‖θ_B−θ_A‖ in a
	// seeded random direction, to leave the line's saddle of symmetric problems (default 0.01; <0 for 0).
	InitNoise float64
	Seed      uint64
	Label     string
}

// TrainCurve trains the bends of a curve from a to b to low loss on trainData with the evaluator's
// objective (Garipov et al.): it minimises E_{t~U(0,1)} L(θ(t)) over the bends, whose gradient is
// E_t[w_j(t)·∇L(θ(t))] for bend j (w_j its weight at t), using the evaluator's Grad at each sampled
// θ(t). The bends start on the segment (bend j at t_j = j/(n)), slightly perturbed (InitNoise).
// The statistics of BatchNorm layers are held at a's State during training (see BNConfig).
func TrainCurve(ev *Evaluator, a, b *ParamSet, trainData *Data, opts CurveOptions) (*ModeCurve, error) {
	if opts.Kind == "" {
		opts.Kind = CurveBezier
	}
	if opts.Bends == 0 {
		opts.Bends = 1
	}
	if opts.Steps == 0 {
		opts.Steps = 200
	}
	if opts.LR == 0 {
		opts.LR = 1e-3
	}
	if opts.SamplesPerStep == 0 {
		opts.SamplesPerStep = 4
	}
	if opts.InitNoise == 0 {
		opts.InitNoise = 0.01
	}
	if opts.Bends < 1 || opts.Steps < 1 || opts.SamplesPerStep < 1 || !(opts.LR > 0) || opts.BatchSize < 0 {
		return nil, fmt.Errorf("landscape.TrainCurve: bad options %+v (want Bends, Steps, SamplesPerStep ≥ 1, LR > 0, BatchSize ≥ 0)", opts)
	}
	if err := trainData.check(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0xc0e))
	n := opts.Bends + 1
	dist := combine([]float64{1, -1}, []*ParamSet{b, a}).Norm()
	bends := make([]*ParamSet, opts.Bends)
	for j := range bends {
		tj := float64(j+1) / float64(n)
		bends[j] = combine([]float64{1 - tj, tj}, []*ParamSet{a, b})
		if opts.InitNoise > 0 {
			u := a.Zeros()
			for _, p := range u.Params {
				for k := range p.Data {
					p.Data[k] = r.NormFloat64()
				}
			}
			if nu := u.Norm(); nu > 0 {
				bends[j] = combine([]float64{1, opts.InitNoise * dist / nu}, []*ParamSet{bends[j], u})
			}
		}
	}
	c, err := NewCurve(opts.Kind, a, b, bends...)
	if err != nil {
		return nil, err
	}
	batches := splitBatches(trainData, opts.BatchSize, opts.Seed)
	// One Adam per bend, on its flat parameters.
	P := a.Size()
	opt := make([]*train.HostOptimizer, opts.Bends)
	for j := range opt {
		if opt[j], err = train.NewHostOptimizer("adam", P); err != nil {
			return nil, err
		}
	}
	label := opts.Label
	if label == "" {
		label = fmt.Sprintf("landscape: training a %s curve", opts.Kind)
	}
	prog := nb.NewProgress(opts.Steps, label)
	defer prog.Done()
	for step := range opts.Steps {
		d := batches[step%len(batches)]
		grads := make([][]float64, opts.Bends)
		for j := range grads {
			grads[j] = make([]float64, P)
		}
		mean := 0.0
		S := opts.SamplesPerStep
		for i := range S {
			t := (float64(i) + r.Float64()) / float64(S)
			w := c.Weights(t)
			loss, g, err := ev.Grad(combine(w, c.points()), d)
			if err != nil {
				return nil, fmt.Errorf("landscape.TrainCurve: step %d, t=%.4f: %w", step, t, err)
			}
			mean += loss / float64(S)
			gf := g.Flat()
			for j := range grads {
				if wj := w[j+1]; wj != 0 {
					for k, v := range gf {
						grads[j][k] += wj * v / float64(S)
					}
				}
			}
		}
		c.History = append(c.History, mean)
		lr := garipovLR(opts.LR, step, opts.Steps)
		for j, bend := range c.Bends {
			flat := bend.Flat()
			if err := opt[j].Step64(flat, grads[j], lr); err != nil {
				return nil, fmt.Errorf("landscape.TrainCurve: step %d: %w", step, err)
			}
			moved, _ := bend.FromFlat(flat)
			c.Bends[j] = moved
		}
		prog.Add(1, fmt.Sprintf("loss %.4g", mean))
	}
	c.Provenance = newProvenance(ev, []*Data{trainData})
	c.Provenance.Seeds = []uint64{opts.Seed}
	c.Provenance.Notes = fmt.Sprintf("%s curve, %d bend(s), %d Adam steps, LR %g, %d t samples per step, batch %d",
		opts.Kind, opts.Bends, opts.Steps, opts.LR, opts.SamplesPerStep, opts.BatchSize)
	return c, nil
}

// garipovLR is the learning-rate schedule of Garipov et al.: lr for the first 50% of the steps, then a
// linear decrease to lr/100 at 90%, and lr/100 for the rest.
func garipovLR(lr float64, step, steps int) float64 {
	f := float64(step) / float64(steps)
	switch {
	case f <= 0.5:
		return lr
	case f <= 0.9:
		return lr * (1 - 0.99*(f-0.5)/0.4)
	default:
		return lr * 0.01
	}
}

// splitBatches shuffles d (seeded) and splits it into batches of size bs (all of d when bs is 0 or not
// smaller than d; a last partial batch is dropped so every batch has one shape).
func splitBatches(d *Data, bs int, seed uint64) []*Data {
	if bs == 0 || bs >= d.Len() {
		return []*Data{d}
	}
	dim := prod(d.Shape)
	perm := rand.New(rand.NewPCG(seed, 0xba7)).Perm(d.Len())
	var out []*Data
	for start := 0; start+bs <= d.Len(); start += bs {
		b := &Data{Name: fmt.Sprintf("%s[batch %d]", d.Name, len(out)), Shape: d.Shape,
			X: make([]float32, bs*dim), Y: make([]int32, bs)}
		for i, src := range perm[start : start+bs] {
			copy(b.X[i*dim:(i+1)*dim], d.X[src*dim:(src+1)*dim])
			b.Y[i] = d.Y[src]
		}
		out = append(out, b)
	}
	return out
}
