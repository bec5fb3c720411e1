package grokking

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/losslab/losslab/lib/train"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// Config describes a network for a ∘ b mod P on one-hot operand pairs (data.Modular with OneHot:
// inputs [2P]). Both operands share one embedding table E [P, EmbedDim]; the input is
// x₀ = concat(E[a], E[b]), of width D = 2·EmbedDim.
//
//   - Dense (Blocks = 0): x₀ → Dense D→Hidden, ReLU → Dense Hidden→P (biases on).
//   - Mixture of experts (Blocks > 0): Blocks residual MoE blocks x ← x + Σ_{j ∈ top-k} w̃_j·expert_j(x)
//     with expert_j = Dense D→ExpertHidden, ReLU → Dense ExpertHidden→D, a router Dense D→Experts (no
//     bias) with softmax weights w, the k largest kept and renormalised (w̃); then Dense D→P.
//     Training adds the Switch-style load-balancing loss Balance·E·Σ_j f_j P_j per block, with f_j the
//     fraction of the block's routing slots (N·k) that go to expert j and P_j the mean router weight.
//     With Stem, a dense layer x ← ReLU(x·W + b) of width D comes first (the dense model's hidden
//     layer), and the MoE blocks route its output.
type Config struct {
	P        int
	EmbedDim int // default 32
	Hidden   int // dense hidden width (default 128); unused with Blocks > 0
	Blocks   int // MoE blocks; 0 makes the dense model
	// Experts (default 8), TopK (default 2) and ExpertHidden (default 64) of each MoE block.
	Experts, TopK, ExpertHidden int
	// Balance is the load-balancing coefficient (0: none; the notebook uses 0.01).
	Balance float64
	// Stem puts a dense ReLU layer D→D before the MoE blocks (MoE models only).
	Stem bool
}

func (c Config) withDefaults() Config {
	if c.EmbedDim == 0 {
		c.EmbedDim = 32
	}
	if c.Hidden == 0 {
		c.Hidden = 128
	}
	if c.Blocks > 0 {
		if c.Experts == 0 {
			c.Experts = 8
		}
		if c.TopK == 0 {
			c.TopK = 2
		}
		if c.ExpertHidden == 0 {
			c.ExpertHidden = 64
		}
	}
	return c
}

// Check validates the configuration.
func (c Config) Check() error {
	c = c.withDefaults()
	switch {
	case c.P < 2:
		return fmt.Errorf("grokking: modulus P = %d, want ≥ 2", c.P)
	case c.EmbedDim < 1 || c.Hidden < 1 || c.Blocks < 0:
		return fmt.Errorf("grokking: EmbedDim (%d) and Hidden (%d) must be positive and Blocks (%d) ≥ 0", c.EmbedDim, c.Hidden, c.Blocks)
	case c.Blocks > 0 && (c.Experts < 1 || c.ExpertHidden < 1 || c.TopK < 1 || c.TopK > c.Experts):
		return fmt.Errorf("grokking: want Experts ≥ 1, ExpertHidden ≥ 1 and 1 ≤ TopK ≤ Experts; got %d, %d, %d", c.Experts, c.ExpertHidden, c.TopK)
	case c.Stem && c.Blocks == 0:
		return errors.New("grokking: Stem needs MoE blocks (Blocks > 0); the dense model has its hidden layer already")
	case c.Balance < 0 || math.IsNaN(c.Balance) || math.IsInf(c.Balance, 0):
		return fmt.Errorf("grokking: Balance = %g, want finite and ≥ 0", c.Balance)
	}
	return nil
}

// Name describes the model, e.g. "dense-p47-h128" or "moe-p31-b4-e8k2-h64".
func (c Config) Name() string {
	c = c.withDefaults()
	if c.Blocks == 0 {
		return fmt.Sprintf("dense-p%d-h%d", c.P, c.Hidden)
	}
	s := fmt.Sprintf("moe-p%d-b%d-e%dk%d-h%d", c.P, c.Blocks, c.Experts, c.TopK, c.ExpertHidden)
	if c.Stem {
		s += "-stem"
	}
	return s
}

// Param is one parameter tensor on the host (row-major): lib/train's.
type Param = train.Param

// Params is a full set of parameters in the model's order: a train.ParamList (Clone, and Lerp below).
type Params = train.ParamList

// Lerp returns (1 − t)·a + t·b, parameter by parameter (train.LerpParams).
func Lerp(a, b Params, t float64) (Params, error) { return train.LerpParams(a, b, t) }

// Model builds, trains and inspects the network of a Config. Its compiled graphs are reused across
// runs (learning rate and weight decay are graph inputs).
type Model struct {
	cfg   Config
	specs []Param // names and shapes (no data)
	step  *train.ParamStep
	eval  *Exec
}

// New returns the model of cfg.
func New(cfg Config) (*Model, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &Model{cfg: cfg}
	add := func(name string, shape ...int) { m.specs = append(m.specs, Param{Name: name, Shape: shape}) }
	d := 2 * cfg.EmbedDim
	add("embed", cfg.P, cfg.EmbedDim)
	if cfg.Blocks == 0 {
		add("hidden/weights", d, cfg.Hidden)
		add("hidden/biases", cfg.Hidden)
		add("out/weights", cfg.Hidden, cfg.P)
	} else {
		if cfg.Stem {
			add("stem/weights", d, d)
			add("stem/biases", d)
		}
		eh := cfg.Experts * cfg.ExpertHidden
		for l := range cfg.Blocks {
			add(fmt.Sprintf("block_%d/router", l), d, cfg.Experts)
			add(fmt.Sprintf("block_%d/w_in", l), d, eh)
			add(fmt.Sprintf("block_%d/b_in", l), eh)
			add(fmt.Sprintf("block_%d/w_out", l), eh, d)
			add(fmt.Sprintf("block_%d/b_out", l), cfg.Experts, d)
		}
		add("out/weights", d, cfg.P)
	}
	add("out/biases", cfg.P)
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	if m.step, err = train.NewParamStep(m.specs, train.Rule{Kind: "adamw"}, m.lossGraph); err != nil {
		return nil, err
	}
	if m.eval, err = NewExec(bk, m.evalGraph); err != nil {
		return nil, err
	}
	return m, nil
}

// Config returns the model's configuration (defaults filled in).
func (m *Model) Config() Config { return m.cfg }

// Init draws parameters: the embedding from N(0, 1/EmbedDim), weight matrices (router included) from
// N(0, 1/fan_in) (an expert's fan-in for w_out: ExpertHidden), biases 0.
func (m *Model) Init(seed uint64) Params {
	r := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc908))
	out := Params(m.specs).Zeros()
	for _, p := range out {
		std := 0.0
		switch {
		case p.Name == "embed":
			std = 1 / math.Sqrt(float64(m.cfg.EmbedDim))
		case len(p.Shape) == 2 && !hasSuffix(p.Name, "b_out"):
			fanIn := p.Shape[0]
			if hasSuffix(p.Name, "w_out") {
				fanIn = m.cfg.ExpertHidden
			}
			std = 1 / math.Sqrt(float64(fanIn))
		}
		for j := range p.Data {
			p.Data[j] = float32(std * r.NormFloat64())
		}
	}
	return out
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// Check validates a parameter set against the model.
func (m *Model) Check(ps Params) error {
	if err := ps.CheckLayout(m.specs); err != nil {
		return fmt.Errorf("grokking: model %s: %w", m.cfg.Name(), err)
	}
	return nil
}

// forward builds logits [N,P], each MoE block's router weights [N,E] and the load-balancing loss.
func (m *Model) forward(params []*Node, x *Node) (logits *Node, gates []*Node, balance *Node) {
	c := m.cfg
	n := x.Shape().Dimensions[0]
	g := x.Graph()
	next := 0
	take := func() *Node { p := params[next]; next++; return p }
	// Both operands through the shared table: [N·2, P]·[P, e] → [N, 2e].
	h := Reshape(models.Product(Reshape(x, n*2, c.P), take()), n, 2*c.EmbedDim)
	balance = ScalarZero(g, x.DType())
	if c.Blocks == 0 {
		w, b := take(), take()
		h = relu(Add(models.Product(h, w), ExpandLeftToRank(b, 2)))
	} else {
		if c.Stem {
			w, b := take(), take()
			h = relu(Add(models.Product(h, w), ExpandLeftToRank(b, 2)))
		}
		for range c.Blocks {
			router, win, bin, wout, bout := take(), take(), take(), take(), take()
			probs := Softmax(models.Product(h, router), -1) // [N,E]
			mask := topKMask(probs, c.TopK)
			maskF := ConvertDType(mask, x.DType())
			kept := Mul(probs, maskF)
			gate := Div(kept, ReduceAndKeep(kept, ReduceSum, -1)) // renormalised over the top-k
			gates = append(gates, probs)
			if c.Balance > 0 {
				f := DivScalar(ReduceSum(maskF, 0), float64(n*c.TopK)) // [E], no gradient (a mask)
				pm := ReduceMean(probs, 0)
				balance = Add(balance, MulScalar(ReduceAllSum(Mul(f, pm)), c.Balance*float64(c.Experts)))
			}
			// Every expert runs on every sample and is then weighted (dense, fine at this size); the
			// second layer is linear, so gating its input is exact:
			//   Σ_j w̃_j (h_j·W2_j + b2_j) = (w̃ ⊙ h)[N, E·H]·W2[E·H, D] + w̃·b2.
			eh := Add(models.Product(h, win), ExpandLeftToRank(bin, 2))
			eh = Mul(Reshape(relu(eh), n, c.Experts, c.ExpertHidden), InsertAxes(gate, -1))
			y := Add(models.Product(Reshape(eh, n, c.Experts*c.ExpertHidden), wout), models.Product(gate, bout))
			h = Add(h, y)
		}
	}
	w, b := take(), take()
	logits = Add(models.Product(h, w), ExpandLeftToRank(b, 2))
	return logits, gates, balance
}

func relu(x *Node) *Node { return Max(x, ZerosLike(x)) }

// topKMask marks the k largest entries of each row of p [N,E] (k rounds of ArgMax with masking: the
// pure-Go backend has no TopK op). It carries no gradient.
func topKMask(p *Node, k int) *Node {
	n, e := p.Shape().Dimensions[0], p.Shape().Dimensions[1]
	g := p.Graph()
	remaining := StopGradient(p)
	chosen := Zeros(g, shapes.Make(dtypes.Bool, n, e))
	low := BroadcastToDims(Scalar(g, p.DType(), -1), n, e) // below any probability
	cols := Iota(g, shapes.Make(dtypes.Int32, n, e), 1)
	for range k {
		idx := ArgMax(remaining, -1, dtypes.Int32)
		hit := Equal(cols, BroadcastToDims(InsertAxes(idx, -1), n, e))
		chosen = LogicalOr(chosen, hit)
		remaining = Where(hit, low, remaining)
	}
	return chosen
}

// crossEntropy returns the mean CE and the accuracy of logits [N,P] against labels y [N] (int32).
func crossEntropy(logits, y *Node) (loss, acc *Node) {
	n, p := logits.Shape().Dimensions[0], logits.Shape().Dimensions[1]
	g := logits.Graph()
	onehot := ConvertDType(Equal(Iota(g, shapes.Make(dtypes.Int32, n, p), 1), BroadcastToDims(InsertAxes(y, -1), n, p)), logits.DType())
	loss = Neg(ReduceAllMean(ReduceSum(Mul(LogSoftmax(logits, -1), onehot), -1)))
	acc = ReduceAllMean(ConvertDType(Equal(ArgMax(logits, -1, dtypes.Int32), y), logits.DType()))
	return loss, acc
}

// lossGraph is the training objective of the step: CE plus the load-balancing loss, on inputs x
// [N,2P] and y [N] int32; it reports the CE and the accuracy before the step.
func (m *Model) lossGraph(params, inputs []*Node) (*Node, []*Node) {
	logits, _, balance := m.forward(params, inputs[0])
	ce, acc := crossEntropy(logits, inputs[1])
	return Add(ce, balance), []*Node{ce, acc}
}

// evalGraph: inputs params then x [N,2P] and y [N]; outputs CE, accuracy, then each block's router
// weights [N,E].
func (m *Model) evalGraph(in []*Node) []*Node {
	k := len(m.specs)
	logits, gates, _ := m.forward(in[:k], in[k])
	ce, acc := crossEntropy(logits, in[k+1])
	return append([]*Node{ce, acc}, gates...)
}

// Optimizer is full-batch AdamW with decoupled weight decay (θ ← θ − η·λ·θ − η·m̂/(√v̂ + ε), applied to
// every parameter, embedding and biases included). Zero Beta1/Beta2/Epsilon mean 0.9, 0.98,
// 1e-8.
type Optimizer struct {
	LR, WeightDecay       float64
	Beta1, Beta2, Epsilon float64
}

func (o Optimizer) withDefaults() Optimizer {
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.98
	}
	if o.Epsilon == 0 {
		o.Epsilon = 1e-8
	}
	return o
}

// Check validates the optimizer.
func (o Optimizer) Check() error {
	o = o.withDefaults()
	switch {
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("grokking: learning rate %g, want positive and finite", o.LR)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("grokking: weight decay %g, want finite and ≥ 0", o.WeightDecay)
	case o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || !(o.Epsilon > 0):
		return fmt.Errorf("grokking: betas (%g, %g) must be in [0, 1) and ε (%g) positive", o.Beta1, o.Beta2, o.Epsilon)
	}
	return nil
}

// Record is one logged point of a run: after Step steps (0 = initialisation).
type Record struct {
	Step                int
	TrainLoss, TrainAcc float64
	TestLoss, TestAcc   float64
}

// RunConfig describes a full-batch training run.
type RunConfig struct {
	Opt   Optimizer
	Steps int
	// Every logs a Record (and calls Observe) every so many steps and at step 0 and the last step.
	Every int
	// Observe, if set, is called with each Record and the parameters at that step (do not keep the
	// Params past the call without cloning them). An error stops the run.
	Observe func(r Record, ps Params) error
	// Progress, if set, is called after each step with the step and the batch loss.
	Progress func(step int, loss float64)
}

// Train runs AdamW from params on the whole training set (one batch) and returns the final
// parameters and the records. test may be nil (its fields are then 0). A NaN loss stops the run with
// an error.
func (m *Model) Train(params Params, trainSet, testSet *data.Set, rc RunConfig) (final Params, recs []Record, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("grokking: %s", backend.FirstLine(backend.Recovered(r)))
		}
	}()
	if err := m.Check(params); err != nil {
		return nil, nil, err
	}
	if err := rc.Opt.Check(); err != nil {
		return nil, nil, err
	}
	if rc.Steps < 0 || rc.Every < 0 {
		return nil, nil, fmt.Errorf("grokking: Steps (%d) and Every (%d) must be ≥ 0", rc.Steps, rc.Every)
	}
	xT, yT, err := m.inputs(trainSet, "training")
	if err != nil {
		return nil, nil, err
	}
	if testSet != nil {
		if _, _, err := m.inputs(testSet, "test"); err != nil {
			return nil, nil, err
		}
	}
	o := rc.Opt.withDefaults()
	// The decay multiplier η·λ is the float32 product, as the step graph formed it before it moved
	// to train.ParamStep (keeps runs bit for bit).
	hyper := train.Hyper{LR: o.LR, Decay: float64(float32(o.LR) * float32(o.WeightDecay)), Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon}
	record := func(step int, ps Params) error {
		r := Record{Step: step}
		var err error
		if r.TrainLoss, r.TrainAcc, _, err = m.evaluate(ps, trainSet); err != nil {
			return err
		}
		if testSet != nil {
			if r.TestLoss, r.TestAcc, _, err = m.evaluate(ps, testSet); err != nil {
				return err
			}
		}
		recs = append(recs, r)
		if rc.Observe != nil {
			return rc.Observe(r, ps)
		}
		return nil
	}
	if err := record(0, params.Clone()); err != nil {
		return nil, recs, err
	}
	inputs := []*tensors.Tensor{xT, yT}
	var hookErr error // the hook's errors are returned as they are
	st, err := m.step.Run(params, train.ParamRun{
		Steps:  rc.Steps,
		Hyper:  func(int) train.Hyper { return hyper },
		Inputs: func(int) ([]*tensors.Tensor, error) { return inputs, nil },
		After: func(step int, out train.StepOut, st *train.ParamState) error {
			loss := out.Report[0] // the CE, without the balance term
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				hookErr = fmt.Errorf("grokking: training loss is %v at step %d", loss, step)
				return hookErr
			}
			if rc.Progress != nil {
				rc.Progress(step, loss)
			}
			if (rc.Every > 0 && step%rc.Every == 0) || step == rc.Steps {
				hookErr = record(step, st.Params())
			}
			return hookErr
		},
	})
	switch {
	case hookErr != nil:
		return nil, recs, hookErr
	case err != nil:
		return nil, recs, fmt.Errorf("grokking: %w", err)
	}
	return st.Params(), recs, nil
}

// inputs checks a data set against the model and returns its x and y tensors.
func (m *Model) inputs(s *data.Set, what string) (x, y *tensors.Tensor, err error) {
	if s == nil || s.Len() == 0 {
		return nil, nil, fmt.Errorf("grokking: the %s set is empty", what)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("grokking: %s set: %w", what, err)
	}
	if s.Dim() != 2*m.cfg.P || s.Classes != m.cfg.P {
		return nil, nil, fmt.Errorf("grokking: %s set %q has %d features and %d classes; model %s wants one-hot pairs (%d features, data.ModularConfig.OneHot) and %d classes",
			what, s.Name, s.Dim(), s.Classes, m.cfg.Name(), 2*m.cfg.P, m.cfg.P)
	}
	return tensors.FromFlatDataAndDimensions(s.X, s.Len(), s.Dim()), tensors.FromFlatDataAndDimensions(s.Y, s.Len()), nil
}

// evaluate returns CE, accuracy and the router weights [block][N·E] of params on s.
func (m *Model) evaluate(ps Params, s *data.Set) (loss, acc float64, gates [][]float32, err error) {
	xT, yT, err := m.inputs(s, "evaluation")
	if err != nil {
		return 0, 0, nil, err
	}
	args := make([]any, 0, len(ps)+2)
	for _, t := range ps.Tensors() {
		args = append(args, t)
	}
	args = append(args, xT, yT)
	out, err := m.eval.Exec(args...)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("grokking: %s", backend.FirstLine(err))
	}
	loss = float64(tensors.ToScalar[float32](out[0]))
	acc = float64(tensors.ToScalar[float32](out[1]))
	for _, t := range out[2:] {
		gates = append(gates, tensors.MustCopyFlatData[float32](t))
	}
	return loss, acc, gates, nil
}

// Evaluate returns the mean cross-entropy and the accuracy of params on s.
func (m *Model) Evaluate(ps Params, s *data.Set) (loss, acc float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("grokking: %s", backend.FirstLine(backend.Recovered(r)))
		}
	}()
	if err := m.Check(ps); err != nil {
		return 0, 0, err
	}
	loss, acc, _, err = m.evaluate(ps, s)
	return loss, acc, err
}

// Routing is what the pathway metrics need from a trained MoE on a set of samples.
type Routing struct {
	// Gates[i][ℓ] is sample i's router weights (softmax) at block ℓ, over the experts.
	Gates [][][]float64
	// Embeddings[ℓ][j] is expert j's router vector at block ℓ (the column of the router matrix that
	// produces its logit), in the residual-stream space.
	Embeddings [][][]float64
	TopK       int
}

// Route returns the routing of params on s (MoE models only).
func (m *Model) Route(ps Params, s *data.Set) (rt *Routing, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("grokking: %s", backend.FirstLine(backend.Recovered(r)))
		}
	}()
	if m.cfg.Blocks == 0 {
		return nil, errors.New("grokking: Route needs a mixture-of-experts model (Blocks > 0)")
	}
	if err := m.Check(ps); err != nil {
		return nil, err
	}
	_, _, gates, err := m.evaluate(ps, s)
	if err != nil {
		return nil, err
	}
	e, n, d := m.cfg.Experts, s.Len(), 2*m.cfg.EmbedDim
	rt = &Routing{TopK: m.cfg.TopK, Gates: make([][][]float64, n)}
	for i := range n {
		rt.Gates[i] = make([][]float64, m.cfg.Blocks)
		for l, g := range gates {
			row := make([]float64, e)
			for j := range row {
				row[j] = float64(g[i*e+j])
			}
			rt.Gates[i][l] = row
		}
	}
	for l := range m.cfg.Blocks {
		router := ps[m.firstBlock()+5*l] // [D, E]
		emb := make([][]float64, e)
		for j := range emb {
			emb[j] = make([]float64, d)
			for r := range d {
				emb[j][r] = float64(router.Data[r*e+j])
			}
		}
		rt.Embeddings = append(rt.Embeddings, emb)
	}
	return rt, nil
}

// firstBlock is the index of block 0's router in a parameter set.
func (m *Model) firstBlock() int {
	if m.cfg.Stem {
		return 3
	}
	return 1
}

// PathwayMetrics are the dataset-level metrics of a Routing.
type PathwayMetrics struct {
	Distance PairStats
	// Consistency is the mean over samples of Consistency; Complexity = 1 − Consistency.
	Consistency, Complexity float64
	// Entropy is the expert-usage entropy per block (nats).
	Entropy []float64
}

// Metrics computes D̄ (over all pairs, or maxPairs random pairs), mean consistency and usage entropy.
func (rt *Routing) Metrics(maxPairs int, seed uint64) (PathwayMetrics, error) {
	var pm PathwayMetrics
	if len(rt.Gates) == 0 {
		return pm, errors.New("grokking: no samples in the routing")
	}
	paths := make([][]Hop, len(rt.Gates))
	sum := 0.0
	for i, g := range rt.Gates {
		p, err := Pathway(g, rt.TopK)
		if err != nil {
			return pm, fmt.Errorf("sample %d: %w", i, err)
		}
		paths[i] = p
		c, err := Consistency(g, rt.Embeddings, rt.TopK)
		if err != nil {
			return pm, fmt.Errorf("sample %d: %w", i, err)
		}
		sum += c
	}
	var err error
	if pm.Distance, err = MeanPathwayDistance(paths, maxPairs, seed); err != nil {
		return pm, err
	}
	pm.Consistency = sum / float64(len(rt.Gates))
	pm.Complexity = 1 - pm.Consistency
	pm.Entropy, err = UsageEntropy(paths, len(rt.Embeddings), len(rt.Embeddings[0]))
	return pm, err
}
