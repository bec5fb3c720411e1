package eqnetexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/eqnet"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Training settings of an arm.
type Training struct {
	Epochs, Batch int
	LR            float64 // Adam's learning rate, with cosine decay to 0 (the paper's schedule)
	// Cands is the number of shrink factors of the per-layer first-batch scale search (the reference
	// uses 80), ChanCands that of the per-channel ones (the reference's 5).
	Cands, ChanCands int
}

// Check returns an error naming the first bad setting.
func (t Training) Check() error {
	if t.Epochs < 1 || t.Batch < 1 || !(t.LR > 0) || t.Cands < 1 || t.ChanCands < 1 {
		return fmt.Errorf("eqnetexp: training settings %+v: epochs, batch, lr and candidate counts must be positive", t)
	}
	return nil
}

// Arm names the trained models.
type Arm string

// The arms: the full-precision MLP; a static LSQ model trained at one b-bit subnet (sym/channel, CE);
// the supernet trained by the sandwich rule with CE for every subnet; with GPG; with GPG and WDR (EQ-Net).
const (
	Float      Arm = "float"
	Static     Arm = "static"
	SandwichCE Arm = "sandwich-ce"
	GPG        Arm = "gpg"
	GPGWDR     Arm = "gpg+wdr"
)

// InitDense creates the MLP's weights, He-normal from seed (each run its own), and zero biases.
func (c Config) InitDense(ctx *context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x27e9))
	for l := range len(c.Dims) - 1 {
		in, out := c.Dims[l], c.Dims[l+1]
		w := make([]float32, in*out)
		sd := math.Sqrt(2 / float64(in))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * sd)
		}
		d := ctx.In(fmt.Sprintf("dense_%d", l))
		d.VariableWithValue(models.WeightsVar, tensors.FromFlatDataAndDimensions(w, in, out))
		d.VariableWithValue(models.BiasesVar, tensors.FromFlatDataAndDimensions(make([]float32, out), out))
	}
}

// hostWeights returns layer l's weights [in·out] and biases from ctx.
func hostWeights(ctx *context.Context, l int) (w, b []float32, err error) {
	d := ctx.In(fmt.Sprintf("dense_%d", l))
	wv, bv := d.GetVariable(models.WeightsVar), d.GetVariable(models.BiasesVar)
	if wv == nil || bv == nil {
		return nil, nil, fmt.Errorf("eqnetexp: layer %d has no weights: call InitDense first", l)
	}
	return tensors.MustCopyFlatData[float32](wv.MustValue()), tensors.MustCopyFlatData[float32](bv.MustValue()), nil
}

// InitTables runs the first-batch step-size search (eqnet.InitScale) for every bit-width and form of
// every layer on the weights in ctx and the full-precision hidden inputs of x (rows examples), and
// stores the tables (SetTables).
func (c Config) InitTables(ctx *context.Context, x []float32, rows int, t Training) error {
	if rows < 1 || len(x) != rows*c.Dims[0] {
		return fmt.Errorf("eqnetexp: InitTables: %d values for %d rows of %d features", len(x), rows, c.Dims[0])
	}
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	nb := len(c.Bits)
	for l := range len(c.Dims) - 1 {
		in, out := c.Dims[l], c.Dims[l+1]
		w, bias, err := hostWeights(ctx, l)
		if err != nil {
			return err
		}
		wf := make([]float64, len(w))
		for i, v := range w {
			wf[i] = float64(v)
		}
		tab := map[string][]float32{}
		for _, n := range channelTables {
			tab[n] = make([]float32, nb*out)
		}
		for _, n := range append(append([]string{}, layerTables...), actTables...) {
			tab[n] = make([]float32, nb)
		}
		col := make([]float64, in)
		for bi, b := range c.Bits {
			for j := range out {
				for i := range in {
					col[i] = wf[i*out+j]
				}
				s, _, err := eqnet.InitScale(col, b, true, true, t.ChanCands)
				if err != nil {
					return err
				}
				sa, off, err := eqnet.InitScale(col, b, true, false, t.ChanCands)
				if err != nil {
					return err
				}
				tab["w_s_sym_ch"][bi*out+j], tab["w_s_asym_ch"][bi*out+j], tab["w_b_asym_ch"][bi*out+j] = float32(s), float32(sa), float32(off)
			}
			s, _, err := eqnet.InitScale(wf, b, true, true, t.Cands)
			if err != nil {
				return err
			}
			sa, off, err := eqnet.InitScale(wf, b, true, false, t.Cands)
			if err != nil {
				return err
			}
			tab["w_s_sym_l"][bi], tab["w_s_asym_l"][bi], tab["w_b_asym_l"][bi] = float32(s), float32(sa), float32(off)
			if l > 0 {
				s, _, err := eqnet.InitScale(h, b, false, true, t.Cands)
				if err != nil {
					return err
				}
				sa, off, err := eqnet.InitScale(h, b, false, false, t.Cands)
				if err != nil {
					return err
				}
				tab["a_s_sym"][bi], tab["a_s_asym"][bi], tab["a_b_asym"][bi] = float32(s), float32(sa), float32(off)
			}
		}
		if err := c.SetTables(ctx, l, tab); err != nil {
			return err
		}
		next := make([]float64, rows*out)
		for r := range rows {
			for j := range out {
				v := float64(bias[j])
				for i := range in {
					v += h[r*in+i] * wf[i*out+j]
				}
				next[r*out+j] = math.Max(v, 0)
			}
		}
		h = next
	}
	return nil
}

// FloatNet returns the full-precision MLP's logits on the dense variables of ctx.
func (c Config) FloatNet(ctx *context.Context, x *Node) *Node {
	g := x.Graph()
	h := x
	for l := range len(c.Dims) - 1 {
		d := ctx.In(fmt.Sprintf("dense_%d", l))
		h = Add(models.Project(h, d.GetVariable(models.WeightsVar).ValueGraph(g)), InsertAxes(d.GetVariable(models.BiasesVar).ValueGraph(g), 0))
		if l < len(c.Dims)-2 {
			h = Max(h, ScalarZero(g, h.DType()))
		}
	}
	return h
}

// TrainArm trains arm on tr from the initialisation of seed (InitDense, then InitTables on the first
// batch) with the data order and subnet draws of seed, and returns the trained context. bits is the
// static arm's bit-width (ignored otherwise).
func (c Config) TrainArm(arm Arm, bits int, tr *data.Set, t Training, seed uint64) (*context.Context, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	if tr.Dim() != c.Dims[0] {
		return nil, fmt.Errorf("eqnetexp: TrainArm: the set has %d features, the MLP takes %d", tr.Dim(), c.Dims[0])
	}
	batcher, err := data.NewBatcher(tr, data.BatchConfig{Size: t.Batch, Seed: seed})
	if err != nil {
		return nil, err
	}
	steps := t.Epochs * batcher.StepsPerEpoch()
	opt, err := train.Adam(t.LR).WithCosine(0).Build(steps)
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	c.InitDense(ctx, seed)
	var static Subnet
	switch arm {
	case Float:
	case Static:
		if static, err = c.Uniform(bits, 0); err != nil {
			return nil, err
		}
	case SandwichCE, GPG, GPGWDR:
	default:
		return nil, fmt.Errorf("eqnetexp: TrainArm: unknown arm %q", arm)
	}
	first := batcher.Next()
	if arm != Float {
		if err := c.InitTables(ctx, first.X, first.Len(), t); err != nil {
			return nil, err
		}
	}
	step, err := train.NewContextStep(ctx, opt, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		x, y := in[0], in[1]
		if arm == Float {
			return ReduceAllMean(losses.CrossEntropy(c.FloatNet(ctx, x), y)), nil
		}
		n := in[2].Shape().Dimensions[0]
		logits := make([]*Node, n)
		for k := range n {
			logits[k] = c.Supernet(ctx, x, in[2], k)
		}
		var loss *Node
		if arm == GPG || arm == GPGWDR {
			loss = losses.GPGChain(logits, y)
		} else {
			for _, z := range logits {
				ce := ReduceAllMean(losses.CrossEntropy(z, y))
				if loss == nil {
					loss = ce
				} else {
					loss = Add(loss, ce)
				}
			}
		}
		if arm == GPGWDR {
			var ws []*Node
			for l := 1; l < len(c.Dims)-1; l++ { // every layer but the first, as the paper's WDR-Loss
				ws = append(ws, ctx.In(fmt.Sprintf("dense_%d", l)).GetVariable(models.WeightsVar).ValueGraph(x.Graph()))
			}
			loss = Add(loss, losses.WDRLoss(ws, losses.WDRLambdaK, losses.WDRLambdaS, losses.WDRTargetKurtosis))
		}
		return loss, nil
	})
	if err != nil {
		return nil, err
	}
	defer step.Finalize()
	rng := rand.New(rand.NewPCG(seed, 0x5a4d))
	for s := range steps {
		b := first
		if s > 0 {
			b = batcher.Next()
		}
		in := []any{tensors.FromFlatDataAndDimensions(b.X, b.Len(), c.Dims[0]), tensors.FromValue(b.Y)}
		if arm != Float {
			subs := []Subnet{static}
			if arm != Static {
				subs = c.Sandwich(rng)
			}
			enc, err := c.Encode(subs, b.Len())
			if err != nil {
				return nil, err
			}
			in = append(in, tensors.FromFlatDataAndDimensions(enc, len(subs), len(c.Dims)-1, c.Fields()))
		}
		loss, _, err := step.Step(in...)
		if err != nil {
			return nil, fmt.Errorf("eqnetexp: %s, step %d: %w", arm, s, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("eqnetexp: %s diverged at step %d (loss %g)", arm, s, loss)
		}
	}
	return ctx, nil
}

// Accuracy returns the test accuracy on te of subnet s of the model in ctx (s nil: the full-precision
// MLP, for the Float arm).
func (c Config) Accuracy(ctx *context.Context, s Subnet, te *data.Set) (float64, error) {
	if te.Len() == 0 {
		return 0, errors.New("eqnetexp: Accuracy: empty set")
	}
	var out *tensors.Tensor
	var err error
	x := tensors.FromFlatDataAndDimensions(te.X, te.Len(), c.Dims[0])
	if s == nil {
		out, err = context.ExecOnce(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x *Node) *Node { return c.FloatNet(ctx, x) }, x)
	} else {
		enc, e := c.Encode([]Subnet{s}, te.Len())
		if e != nil {
			return 0, e
		}
		out, err = context.ExecOnce(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x, cfg *Node) *Node { return c.Supernet(ctx, x, cfg, 0) },
			x, tensors.FromFlatDataAndDimensions(enc, 1, len(c.Dims)-1, c.Fields()))
	}
	if err != nil {
		return 0, fmt.Errorf("eqnetexp: Accuracy: %w", err)
	}
	lg := tensors.MustCopyFlatData[float32](out)
	k := c.Dims[len(c.Dims)-1]
	right := 0
	for i := range te.Len() {
		best := 0
		for j := range k {
			if lg[i*k+j] > lg[i*k+best] {
				best = j
			}
		}
		if int32(best) == te.Y[i] {
			right++
		}
	}
	return float64(right) / float64(te.Len()), nil
}
