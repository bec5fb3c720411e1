// Package fewshot trains embedding networks on N-way K-shot episodes (metric-based few-shot
// learning: prototypical networks and the objectives built on them) and scores episodes on the host.
//
// Training: Train draws episodes from a lib/data EpisodeSampler, embeds the support and query
// examples with one forward pass, and minimises an episode loss (LossFn) with Adam. The loss sees
// the embeddings and the episode's labels as graph nodes (EpisodeNodes), and the training context,
// so it can own learned scalars such as a NOTA threshold.
//
// Evaluation: Embed computes the embeddings of a whole set once; episodes are then scored in
// float64 on the host (Prototypes, SquaredDistances, GaussianDistances, Classify, Score), which is
// both fast and an independent check of the graph losses.
package fewshot

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/nb"
	"github.com/losslab/losslab/lib/train"
)

// EmbedFn maps a batch of inputs [B, ...] to embeddings [B, D], reading its parameters from ctx.
type EmbedFn func(ctx *context.Context, x *Node) *Node

// Features embeds with a model's penultimate features (lib/models' second output).
func Features(m models.Model) EmbedFn {
	return func(ctx *context.Context, x *Node) *Node {
		_, f := m.Forward(ctx, x)
		return f
	}
}

// Logits embeds with a model's output layer: e.g. models.NewMLP(64, 256) is a 784→256→64 embedding
// network whose last layer is linear.
func Logits(m models.Model) EmbedFn {
	return func(ctx *context.Context, x *Node) *Node {
		l, _ := m.Forward(ctx, x)
		return l
	}
}

// EpisodeNodes is one episode inside the training graph.
type EpisodeNodes struct {
	Way int
	// Support [S,D] and Query [Q,D] embeddings, in the episode's order (see data.Episode).
	Support, Query *Node
	// SupportY [S] and QueryY [Q] (int32) are way numbers; QueryY == Way marks a NOTA query.
	SupportY, QueryY *Node
	// SupportClasses [S,Way] and QueryClasses [Q,Way] are the 0/1 one-hot labels in the embeddings'
	// dtype; a NOTA query's row is all zero.
	SupportClasses, QueryClasses *Node
	// All [S+Q,D] is every embedding of the episode (supports first, then queries) and Labels [S+Q]
	// their way numbers (NOTA queries carry Way): the point set of losses that look at support ∪ query.
	All, Labels *Node
}

// LossFn returns the scalar training loss of an episode. ctx is the training context (scope
// "episode_loss"), where the loss may create learned variables.
type LossFn func(ctx *context.Context, e *EpisodeNodes) *Node

// Config describes an episodic training run.
type Config struct {
	Embed EmbedFn
	// Set holds the training examples; Episodes draws from its classes (Episodes.Pool) with
	// Episodes.Seed, so two runs with the same Seed and different Episodes.Seed start from the same
	// parameters and see different episodes.
	Set      *data.Set
	Episodes data.EpisodeConfig
	Loss     LossFn
	// Steps is the number of training episodes.
	Steps int
	// LR is Adam's learning rate (default 1e-3).
	LR float64
	// Seed fixes the parameter initialisation.
	Seed uint64
	// EvalEvery calls OnEval every so many steps, and at steps 0 and Steps (0: never).
	EvalEvery int
	OnEval    func(step int, ctx *context.Context) error
	// Label names the progress bar; Silent turns it off.
	Label  string
	Silent bool
}

// Result is a trained embedding network and its per-episode training loss.
type Result struct {
	Context *context.Context
	Embed   EmbedFn
	Losses  []float64
	Elapsed time.Duration
}

// LossScope is the context scope in which a LossFn's variables live.
const LossScope = "episode_loss"

// Train runs episodic training. On a NaN or infinite loss it stops with an error and the partial result.
func Train(cfg Config) (*Result, error) {
	switch {
	case cfg.Embed == nil || cfg.Loss == nil:
		return nil, errors.New("fewshot.Train: Embed and Loss must be set")
	case cfg.Set == nil || cfg.Set.Len() == 0:
		return nil, errors.New("fewshot.Train: the training set is empty")
	case cfg.Steps < 1:
		return nil, fmt.Errorf("fewshot.Train: Steps = %d, need at least 1", cfg.Steps)
	case cfg.EvalEvery < 0 || (cfg.EvalEvery > 0 && cfg.OnEval == nil):
		return nil, fmt.Errorf("fewshot.Train: EvalEvery = %d needs EvalEvery ≥ 0 and OnEval set", cfg.EvalEvery)
	case cfg.LR < 0 || math.IsNaN(cfg.LR):
		return nil, fmt.Errorf("fewshot.Train: bad learning rate %g", cfg.LR)
	}
	if cfg.Episodes.Query < 1 {
		return nil, fmt.Errorf("fewshot.Train: episodes need at least one query per class, got %d", cfg.Episodes.Query)
	}
	sampler, err := data.NewEpisodeSampler(cfg.Set, cfg.Episodes)
	if err != nil {
		return nil, fmt.Errorf("fewshot.Train: %w", err)
	}
	lr := cfg.LR
	if lr == 0 {
		lr = 1e-3
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, fmt.Errorf("fewshot.Train: %w", err)
	}
	ctx = ctx.Checked(false)
	way := cfg.Episodes.Way
	nS := way * cfg.Episodes.Shot
	trainStep, err := train.NewContextStep(ctx, optimizers.Adam().LearningRate(lr).Done(), func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		emb := cfg.Embed(ctx, in[0])
		if emb.Rank() != 2 {
			panic(fmt.Errorf("fewshot: the embedding must be [B,D], got %s", emb.Shape()))
		}
		e := episodeNodes(emb, in[1], in[2], way, nS)
		return ReduceAllMean(cfg.Loss(ctx.In(LossScope), e)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("fewshot.Train: %w", err)
	}
	defer trainStep.Finalize()

	res := &Result{Context: ctx, Embed: cfg.Embed}
	eval := func(step int) error {
		if cfg.EvalEvery > 0 && (step%cfg.EvalEvery == 0 || step == cfg.Steps) {
			return cfg.OnEval(step, ctx)
		}
		return nil
	}
	var bar *nb.Progress
	if !cfg.Silent {
		label := cfg.Label
		if label == "" {
			label = "episodic training"
		}
		bar = nb.NewProgress(cfg.Steps, label)
		defer bar.Done()
	}
	// Create the embedding's variables before the first step, so OnEval(0) sees the initialisation.
	if err := initVariables(bk, cfg.Embed, ctx, cfg.Set); err != nil {
		return nil, err
	}
	if err := eval(0); err != nil {
		return res, err
	}
	start := time.Now()
	for step := 1; step <= cfg.Steps; step++ {
		ep := sampler.Next()
		rows := append(append([]int(nil), ep.Support...), ep.Query...)
		x, _ := cfg.Set.Gather(rows)
		xT := tensors.FromFlatDataAndDimensions(x, append([]int{len(rows)}, cfg.Set.Shape...)...)
		sT := tensors.FromFlatDataAndDimensions(ep.SupportY, len(ep.SupportY))
		qT := tensors.FromFlatDataAndDimensions(ep.QueryY, len(ep.QueryY))
		loss, _, err := trainStep.Step(xT, sT, qT)
		xT.MustFinalizeAll()
		sT.MustFinalizeAll()
		qT.MustFinalizeAll()
		if err != nil {
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("fewshot.Train: step %d: %w", step, err)
		}
		res.Losses = append(res.Losses, loss)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("fewshot.Train: loss is %v at step %d; training stopped", loss, step)
		}
		if err := eval(step); err != nil {
			res.Elapsed = time.Since(start)
			return res, err
		}
		if bar != nil {
			bar.Add(1, fmt.Sprintf("loss %.4f", loss))
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// NewContext returns a context holding the embedding's variables, initialised from seed as Train
// initialises them (e.g. to receive parameters with train.SetFlat). set supplies the input shape.
func NewContext(embed EmbedFn, set *data.Set, seed uint64) (*context.Context, error) {
	if embed == nil || set == nil || set.Len() == 0 {
		return nil, errors.New("fewshot.NewContext: need an embedding and a non-empty set")
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, fmt.Errorf("fewshot.NewContext: %w", err)
	}
	ctx = ctx.Checked(false)
	if err := initVariables(bk, embed, ctx, set); err != nil {
		return nil, err
	}
	return ctx, nil
}

// initVariables creates and initialises the embedding's variables by running it once on one example.
func initVariables(bk backends.Backend, embed EmbedFn, ctx *context.Context, set *data.Set) error {
	exec, err := context.NewExecAny(bk, ctx, func(ctx *context.Context, x *Node) *Node { return embed(ctx, x) })
	if err != nil {
		return err
	}
	xT := tensors.FromFlatDataAndDimensions(set.Example(0), append([]int{1}, set.Shape...)...)
	defer xT.MustFinalizeAll()
	out, err := exec.Exec(xT)
	if err != nil {
		return err
	}
	for _, t := range out {
		t.MustFinalizeAll()
	}
	return nil
}

// episodeNodes splits the embeddings of support ∪ query rows and builds the one-hot labels.
func episodeNodes(emb, supportY, queryY *Node, way, nS int) *EpisodeNodes {
	b := emb.Shape().Dimensions[0]
	g, dtype := emb.Graph(), emb.DType()
	// Rows are selected with a constant 0/1 matrix product rather than Slice: the pure-Go backend
	// lacks Pad, which Slice's gradient needs.
	sel := func(from, n int) *Node {
		m := make([]float32, n*b)
		for i := range n {
			m[i*b+from+i] = 1
		}
		return models.Product(ConvertDType(Const(g, tensors.FromFlatDataAndDimensions(m, n, b)), dtype), emb)
	}
	oneHot := func(y *Node) *Node { return OneHot(y, way, dtype) } // y == way (NOTA) gives an all-zero row
	return &EpisodeNodes{Way: way, Support: sel(0, nS), Query: sel(nS, b-nS), SupportY: supportY, QueryY: queryY,
		SupportClasses: oneHot(supportY), QueryClasses: oneHot(queryY),
		All: emb, Labels: Concatenate([]*Node{supportY, queryY}, 0)}
}

// ProtoNetLoss is the prototypical-network loss (Snell et al.): the mean over known queries of the
// cross-entropy of the logits -‖q − p_c‖² (prototypes = support means); NOTA queries are ignored.
func ProtoNetLoss(_ *context.Context, e *EpisodeNodes) *Node {
	return KnownMean(e, ProtoNetCE(e))
}

// ProtoNetCE returns each query's ProtoNet cross-entropy [Q] (0 for NOTA queries, so a mean over all
// queries would dilute the known ones when the episode has NOTA queries; ProtoNetLoss averages over
// known queries only). Prototypes are the support means.
func ProtoNetCE(e *EpisodeNodes) *Node {
	protos := prototypeNodes(e.Support, e.SupportClasses)
	diff := Sub(InsertAxes(e.Query, 1), InsertAxes(protos, 0))
	logits := Neg(ReduceSum(Square(diff), -1))
	return Neg(ReduceSum(Mul(LogSoftmax(logits, -1), e.QueryClasses), -1))
}

func prototypeNodes(support, classes *Node) *Node {
	sum := Einsum("sn,sd->nd", classes, support)
	return Div(sum, MaxScalar(InsertAxes(ReduceSum(classes, 0), -1), 1))
}

// KnownMean averages per-query values [Q] over the known (non-NOTA) queries only.
func KnownMean(e *EpisodeNodes, perQuery *Node) *Node {
	known := ReduceSum(e.QueryClasses, -1)
	return Div(ReduceSum(Mul(perQuery, known)), MaxScalar(ReduceSum(known), 1))
}
