package proxies

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/losslab/losslab/lib/train"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/models"
)

// LMConfig describes a tiny GPT-style decoder without biases: token embedding E [V,D] (untied from the
// output matrix) plus learned positions [Seq,D]; Layers pre-LayerNorm blocks
//
//	h ← h + Attention(LN(h)),   h ← h + W₂·gelu(W₁·LN(h))
//
// with causal multi-head attention (Heads heads of width d_h = D/Heads, logits z_ij = q_i·k_j/√d_h);
// then LN and the output matrix [D,V]. LayerNorms have a gain and no bias. With QKNorm, q and k are
// layer-normalised over the head dimension before the product (gains g_q, g_k [d_h] shared by the heads
// of a layer), which bounds |z_ij| by √d_h·max|g_q|·max|g_k|.
type LMConfig struct {
	Vocab, Seq int
	// Dim (default 64), Heads (default 4), Layers (default 2), FFN hidden width (default 4·Dim).
	Dim, Heads, Layers, FFN int
	QKNorm                  bool
}

func (c LMConfig) withDefaults() LMConfig {
	if c.Dim == 0 {
		c.Dim = 64
	}
	if c.Heads == 0 {
		c.Heads = 4
	}
	if c.Layers == 0 {
		c.Layers = 2
	}
	if c.FFN == 0 {
		c.FFN = 4 * c.Dim
	}
	return c
}

// Check validates the configuration.
func (c LMConfig) Check() error {
	c = c.withDefaults()
	switch {
	case c.Vocab < 2 || c.Seq < 1:
		return fmt.Errorf("proxies: Vocab (%d) must be ≥ 2 and Seq (%d) ≥ 1", c.Vocab, c.Seq)
	case c.Dim < 1 || c.Heads < 1 || c.Dim%c.Heads != 0:
		return fmt.Errorf("proxies: Heads (%d) must divide Dim (%d)", c.Heads, c.Dim)
	case c.Layers < 1 || c.FFN < 1:
		return fmt.Errorf("proxies: Layers (%d) and FFN (%d) must be positive", c.Layers, c.FFN)
	}
	return nil
}

// Name describes the model, e.g. "lm-d64-h4-l2" or "lm-d64-h4-l2-qkln".
func (c LMConfig) Name() string {
	c = c.withDefaults()
	s := fmt.Sprintf("lm-d%d-h%d-l%d", c.Dim, c.Heads, c.Layers)
	if c.QKNorm {
		s += "-qkln"
	}
	return s
}

// Param is one parameter tensor on the host (row-major): lib/train's.
type Param = train.Param

// Params is a full set of parameters in the model's order: a train.ParamList (Clone, and Lerp below).
type Params = train.ParamList

// Lerp returns (1 − t)·a + t·b, parameter by parameter (train.LerpParams).
func Lerp(a, b Params, t float64) (Params, error) { return train.LerpParams(a, b, t) }

// LM is a compiled language model of an LMConfig: one training-step graph and one evaluation graph,
// reused by every run (the learning rate, decay and z-loss weight are graph inputs).
type LM struct {
	cfg   LMConfig
	specs []Param
	step  *train.ParamStep
	eval  *Exec
}

// NewLM returns the model of cfg.
func NewLM(cfg LMConfig) (*LM, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &LM{cfg: cfg}
	add := func(name string, shape ...int) { m.specs = append(m.specs, Param{Name: name, Shape: shape}) }
	d, dh := cfg.Dim, cfg.Dim/cfg.Heads
	add("embed", cfg.Vocab, d)
	add("position", cfg.Seq, d)
	for l := range cfg.Layers {
		b := fmt.Sprintf("block_%d/", l)
		add(b+"ln_1/gain", d)
		add(b+"query", d, d)
		add(b+"key", d, d)
		add(b+"value", d, d)
		if cfg.QKNorm {
			add(b+"q_norm/gain", dh)
			add(b+"k_norm/gain", dh)
		}
		add(b+"output", d, d)
		add(b+"ln_2/gain", d)
		add(b+"ffn_in", d, cfg.FFN)
		add(b+"ffn_out", cfg.FFN, d)
	}
	add("final_ln/gain", d)
	add("unembed", d, cfg.Vocab)
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	// AdamW with global-norm clipping; weight decay on the matrices only (gains stay undecayed).
	rule := train.Rule{Kind: "adamw", Clip: true, Decay: func(p Param) bool { return len(p.Shape) == 2 }}
	if m.step, err = train.NewParamStep(m.specs, rule, m.lossGraph); err != nil {
		return nil, err
	}
	if m.eval, err = NewExec(bk, m.evalGraph); err != nil {
		return nil, err
	}
	return m, nil
}

// Config returns the configuration with defaults filled in.
func (m *LM) Config() LMConfig { return m.cfg }

// Init draws parameters: gains 1, token embedding N(0, 1), positions N(0, 0.1²), matrices from a normal
// truncated at 2σ with σ = 1/√fan_in.
func (m *LM) Init(seed uint64) Params {
	r := rand.New(rand.NewPCG(seed, 0xbb67ae8584caa73b))
	out := Params(m.specs).Zeros()
	for _, p := range out {
		for j := range p.Data {
			switch {
			case len(p.Shape) == 1:
				p.Data[j] = 1
			case p.Name == "embed":
				p.Data[j] = float32(r.NormFloat64())
			case p.Name == "position":
				p.Data[j] = float32(0.1 * r.NormFloat64())
			default:
				z := r.NormFloat64()
				for math.Abs(z) > 2 {
					z = r.NormFloat64()
				}
				p.Data[j] = float32(z / math.Sqrt(float64(p.Shape[0])))
			}
		}
	}
	return out
}

// lnGain normalises the last axis of x (mean 0, variance 1, ε = 1e-5) and multiplies by gain (no bias).
func lnGain(x, gain *Node) *Node {
	axis := x.Rank() - 1
	mean := ReduceAndKeep(x, ReduceMean, axis)
	c := Sub(x, mean)
	v := ReduceAndKeep(Square(c), ReduceMean, axis)
	// Divide by Sqrt: GoMLX v0.26 has no gradient for Rsqrt.
	return Mul(Div(c, Sqrt(AddScalar(v, 1e-5))), ExpandLeftToRank(gain, x.Rank()))
}

// lmOut is what the forward pass exposes.
type lmOut struct {
	logits   *Node   // [B·T, V]
	maxLogit []*Node // per layer: max over batch, heads and unmasked (i, j) of |z_ij|
	entropy  []*Node // per layer: mean attention entropy (nats) over batch, heads and queries
}

func (m *LM) forward(params []*Node, tokens *Node) lmOut {
	c := m.cfg
	b, t := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	d, hn := c.Dim, c.Heads
	dh := d / hn
	g := tokens.Graph()
	next := 0
	take := func() *Node { p := params[next]; next++; return p }
	dt := dtypes.Float32
	onehot := ConvertDType(Equal(Iota(g, shapes.Make(dtypes.Int32, b*t, c.Vocab), 1),
		BroadcastToDims(Reshape(tokens, b*t, 1), b*t, c.Vocab)), dt)
	h := Reshape(models.Product(onehot, take()), b, t, d)
	h = Add(h, ExpandLeftToRank(take(), 3))
	var out lmOut
	causal := make([]bool, t*t)
	for i := range t {
		for j := 0; j <= i; j++ {
			causal[i*t+j] = true
		}
	}
	mask := BroadcastToDims(Reshape(Const(g, causal), 1, t, t), b*hn, t, t)
	for range c.Layers {
		ln1 := take()
		wq, wk, wv := take(), take(), take()
		var gq, gk *Node
		if c.QKNorm {
			gq, gk = take(), take()
		}
		wo, ln2, w1, w2 := take(), take(), take(), take()
		x := lnGain(h, ln1)
		split := func(w, gain *Node) *Node { // → [B·H, T, dh]
			p := Reshape(models.Project(x, w), b, t, hn, dh)
			if gain != nil {
				p = lnGain(p, gain)
			}
			return Reshape(TransposeAllAxes(p, 0, 2, 1, 3), b*hn, t, dh)
		}
		q, k, v := split(wq, gq), split(wk, gk), split(wv, nil)
		z := MulScalar(models.BatchProduct(q, TransposeAllAxes(k, 0, 2, 1)), 1/math.Sqrt(float64(dh)))
		zs := StopGradient(z)
		out.maxLogit = append(out.maxLogit, ReduceAllMax(Where(mask, Abs(zs), ZerosLike(zs))))
		a := Softmax(Where(mask, z, BroadcastToDims(Scalar(g, dt, -1e9), b*hn, t, t)), -1)
		as := StopGradient(a)
		plogp := Where(mask, Mul(as, Log(Max(as, BroadcastToDims(Scalar(g, dt, 1e-30), b*hn, t, t)))), ZerosLike(as))
		out.entropy = append(out.entropy, Neg(DivScalar(ReduceAllSum(plogp), float64(b*hn*t))))
		att := models.BatchProduct(a, v)
		att = Reshape(TransposeAllAxes(Reshape(att, b, hn, t, dh), 0, 2, 1, 3), b, t, d)
		h = Add(h, models.Project(att, wo))
		f := models.Activate("gelu", models.Project(lnGain(h, ln2), w1))
		h = Add(h, models.Project(f, w2))
	}
	h = lnGain(h, take())
	out.logits = models.Product(Reshape(h, b*t, d), take())
	return out
}

// tokenLosses returns the mean CE, the mean z-loss (log Z)² and the mean log Z of logits [N,V] against
// targets [N] int32.
func tokenLosses(logits, targets *Node) (ce, z2, logZ *Node) {
	n, v := logits.Shape().Dimensions[0], logits.Shape().Dimensions[1]
	g := logits.Graph()
	mx := StopGradient(ReduceAndKeep(logits, ReduceMax, -1))
	lz := Add(Log(ReduceAndKeep(Exp(Sub(logits, mx)), ReduceSum, -1)), mx) // [N,1]
	onehot := ConvertDType(Equal(Iota(g, shapes.Make(dtypes.Int32, n, v), 1), BroadcastToDims(Reshape(targets, n, 1), n, v)), logits.DType())
	picked := ReduceAndKeep(Mul(logits, onehot), ReduceSum, -1)
	ce = ReduceAllMean(Sub(lz, picked))
	z2 = ReduceAllMean(Square(lz))
	return ce, z2, ReduceAllMean(lz)
}

// lossGraph is the training objective of the step: the token-mean CE plus α_z·(log Z)², on inputs α_z
// (a scalar), tokens [B,T] and targets [B,T] (int32). It reports the CE, the mean (log Z)², the mean
// log Z, then per layer the max |attention logit| and the attention entropy.
func (m *LM) lossGraph(params, inputs []*Node) (*Node, []*Node) {
	alphaZ, tokens, targets := inputs[0], inputs[1], inputs[2]
	o := m.forward(params, tokens)
	ce, z2, logZ := tokenLosses(o.logits, Reshape(targets, targets.Shape().Size()))
	report := append([]*Node{ce, z2, logZ}, o.maxLogit...)
	return Add(ce, Mul(alphaZ, z2)), append(report, o.entropy...)
}

// evalGraph: inputs params, tokens, targets; outputs CE and mean log Z.
func (m *LM) evalGraph(in []*Node) []*Node {
	k := len(m.specs)
	o := m.forward(in[:k], in[k])
	ce, _, logZ := tokenLosses(o.logits, Reshape(in[k+1], in[k+1].Shape().Size()))
	return []*Node{ce, logZ}
}

// RunConfig describes one training run of an LM.
type RunConfig struct {
	// LR is the peak learning rate η; the schedule is a linear warm-up over Warmup steps then a cosine
	// decay to 0 at Steps (Schedule).
	LR            float64
	Steps, Warmup int
	Batch         int
	// ZLoss is α_z of the output-logit z-loss α_z·(log Z)² added to the token-mean CE (0: off).
	ZLoss float64
	// WeightDecay λ on the matrices, coupled (θ ← θ − s·η·λθ) or Independent (θ ← θ − s·λθ).
	WeightDecay float64
	Independent bool
	// Clip is the global gradient-norm clip (0: none). Beta1, Beta2, Epsilon: AdamW's (defaults 0.9,
	// 0.95, 1e-8).
	Clip                  float64
	Beta1, Beta2, Epsilon float64
	// Seed draws the initialisation, DataSeed the batches.
	Seed, DataSeed uint64
	// EvalWindows held-out windows of Seq tokens give the final eval loss (default 64).
	EvalWindows int
	// Progress, if set, is called after each step.
	Progress func(step int, s StepStats)
}

// StepStats are the training metrics of one step (before its update).
type StepStats struct {
	Step     int
	Loss     float64 // token-mean CE of the batch
	LogZ     float64 // mean log Z of the output logits
	GradNorm float64
	// MaxLogit[ℓ] is max |z_ij| of layer ℓ's attention; Entropy[ℓ] its mean attention entropy (nats).
	MaxLogit, Entropy []float64
}

// RunResult is a run's history and final held-out loss.
type RunResult struct {
	History []StepStats
	// InitEval and FinalEval are the held-out CE at initialisation and after training; FinalEval is
	// NaN when the run diverged.
	InitEval, FinalEval float64
	Diverged            bool
	// DivergedAt is the step whose loss was NaN/Inf (0 if none).
	DivergedAt int
	Final      Params
}

// Train runs one training run on the corpus from the initialisation of rc.Seed. A NaN or infinite
// loss ends the run early with Diverged set (not an error: divergence is a result of a sweep).
func (m *LM) Train(corpus *Corpus, rc RunConfig) (res *RunResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("proxies: %s", backend.FirstLine(backend.Recovered(r)))
		}
	}()
	c := m.cfg
	switch {
	case corpus == nil || corpus.Vocab != c.Vocab:
		return nil, errors.New("proxies: the corpus is missing or its vocabulary differs from the model's")
	case len(corpus.Train) <= c.Seq+1 || len(corpus.Eval) <= c.Seq+1:
		return nil, fmt.Errorf("proxies: corpus parts of %d and %d tokens are too short for windows of %d", len(corpus.Train), len(corpus.Eval), c.Seq+1)
	case !(rc.LR > 0) || math.IsInf(rc.LR, 0):
		return nil, fmt.Errorf("proxies: learning rate %g, want positive and finite", rc.LR)
	case rc.Steps < 1 || rc.Warmup < 0 || rc.Batch < 1:
		return nil, fmt.Errorf("proxies: Steps (%d) and Batch (%d) must be positive and Warmup (%d) ≥ 0", rc.Steps, rc.Batch, rc.Warmup)
	case rc.ZLoss < 0 || rc.WeightDecay < 0 || rc.Clip < 0:
		return nil, fmt.Errorf("proxies: ZLoss (%g), WeightDecay (%g) and Clip (%g) must be ≥ 0", rc.ZLoss, rc.WeightDecay, rc.Clip)
	}
	if rc.Beta1 == 0 {
		rc.Beta1 = 0.9
	}
	if rc.Beta2 == 0 {
		rc.Beta2 = 0.95
	}
	if rc.Epsilon == 0 {
		rc.Epsilon = 1e-8
	}
	if rc.EvalWindows == 0 {
		rc.EvalWindows = 64
	}
	params := m.Init(rc.Seed)
	res = &RunResult{}
	if res.InitEval, _, err = m.Evaluate(params, corpus, rc.EvalWindows); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(rc.DataSeed, 0xa54ff53a5f1d36f1))
	alphaZ := tensors.FromScalar(float32(rc.ZLoss))
	st, err := m.step.Run(params, train.ParamRun{
		Steps: rc.Steps,
		Hyper: func(step int) train.Hyper {
			lr, decay := DecayRates(rc.LR, Schedule(step-1, rc.Warmup, rc.Steps), rc.WeightDecay, rc.Independent)
			return train.Hyper{LR: lr, Decay: decay, Clip: rc.Clip, Beta1: rc.Beta1, Beta2: rc.Beta2, Epsilon: rc.Epsilon}
		},
		Inputs: func(int) ([]*tensors.Tensor, error) {
			x, y := windows(r, corpus.Train, rc.Batch, c.Seq)
			return []*tensors.Tensor{alphaZ, tensors.FromFlatDataAndDimensions(x, rc.Batch, c.Seq), tensors.FromFlatDataAndDimensions(y, rc.Batch, c.Seq)}, nil
		},
		After: func(step int, out train.StepOut, _ *train.ParamState) error {
			rep := out.Report
			s := StepStats{Step: step, Loss: rep[0], LogZ: rep[2], GradNorm: out.GradNorm}
			s.MaxLogit = slices.Clone(rep[3 : 3+c.Layers])
			s.Entropy = slices.Clone(rep[3+c.Layers : 3+2*c.Layers])
			res.History = append(res.History, s)
			if rc.Progress != nil {
				rc.Progress(step, s)
			}
			return nil
		},
		// Divergence is a NaN or infinite CE (the z-loss term alone does not end a run).
		Diverged: func(out train.StepOut) bool { return math.IsNaN(out.Report[0]) || math.IsInf(out.Report[0], 0) },
	})
	var div *train.DivergedError
	switch {
	case errors.As(err, &div):
		res.Diverged, res.DivergedAt, res.FinalEval = true, div.Step, math.NaN()
		return res, nil
	case err != nil:
		return nil, fmt.Errorf("proxies: %w", err)
	}
	res.Final = st.Params()
	if res.FinalEval, _, err = m.Evaluate(res.Final, corpus, rc.EvalWindows); err != nil {
		return nil, err
	}
	if math.IsNaN(res.FinalEval) || math.IsInf(res.FinalEval, 0) {
		res.Diverged, res.FinalEval = true, math.NaN()
	}
	return res, nil
}

// Evaluate returns the token-mean CE and mean log Z of params on a fixed set of held-out windows (the
// same windows for every call with the same n).
func (m *LM) Evaluate(ps Params, corpus *Corpus, n int) (ce, logZ float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("proxies: %s", backend.FirstLine(backend.Recovered(r)))
		}
	}()
	if err := ps.CheckLayout(m.specs); err != nil {
		return 0, 0, fmt.Errorf("proxies: model %s: %w", m.cfg.Name(), err)
	}
	if n < 1 || corpus == nil || len(corpus.Eval) <= m.cfg.Seq+1 {
		return 0, 0, errors.New("proxies: no held-out windows to evaluate on")
	}
	x, y := windows(rand.New(rand.NewPCG(7, 7)), corpus.Eval, n, m.cfg.Seq)
	args := make([]any, 0, len(ps)+2)
	for _, t := range ps.Tensors() {
		args = append(args, t)
	}
	args = append(args, tensors.FromFlatDataAndDimensions(x, n, m.cfg.Seq), tensors.FromFlatDataAndDimensions(y, n, m.cfg.Seq))
	out, err := m.eval.Exec(args...)
	if err != nil {
		return 0, 0, fmt.Errorf("proxies: %s", backend.FirstLine(err))
	}
	return float64(tensors.ToScalar[float32](out[0])), float64(tensors.ToScalar[float32](out[1])), nil
}
