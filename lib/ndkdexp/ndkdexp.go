// Package ndkdexp runs the distillation experiment of Wang, Cheng, Duan, Wang, Feng & Kong, "Improving
// Knowledge Distillation via Regularizing Feature Norm and Direction", arXiv:2305.17007 (ECCV 2024), at
// notebook scale, in the form a verdict needs.
//
// A frozen MLP teacher is distilled into a small MLP student by four arms: the student trained alone
// (cross-entropy), CE + KD, KD++ (CE + KD + the ND loss, losses.NDLoss, on the student's embedding
// projected to the teacher's width) and CE + ND. The ND loss pulls the projected embedding towards the
// direction of the teacher's class mean and, below the teacher's norm, lengthens it.
//
// Every arm builds the same projector (BatchNorm → Dropout(0.5) → Linear to the teacher's width, as in
// the official code), so every arm starts from the same initialisation. In the arms without the ND
// term the projector is still trained by the ND loss, but on the backbone's feature with its gradient
// stopped: a probe, fitted the same way, that leaves the backbone's training unchanged (Adam updates
// each parameter from its own gradient). Measurements of the projected embedding then compare what the
// ND loss did to the backbone's feature, not a trained projector against a random one.
//
// Every arm is tuned on a validation split over a grid of the same size; the chosen point is trained
// from independent initialisations and data orders (run r: seed r+1 for both) and scored on the test
// set. The teacher is trained once and shared by every run.
package ndkdexp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/dhkdexp"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Kind is what an arm trains.
type Kind string

// The arms' kinds.
const (
	CE   Kind = "ce"   // the student alone
	KD   Kind = "kd"   // CE + λ_kd·warm-up·KD(T)
	NDKD Kind = "ndkd" // KD++: CE + λ_kd·warm-up·KD(T) + λ_nd·ND
	ND   Kind = "nd"   // CE + λ_nd·ND
)

// kd and nd report whether k has the KD and the ND term.
func (k Kind) kd() bool { return k == KD || k == NDKD }
func (k Kind) nd() bool { return k == NDKD || k == ND }

// Point is one configuration of a grid: Adam's learning rate and the weights λ_kd and λ_nd (unused by
// the kinds without the term).
type Point struct {
	LR, LambdaKD, LambdaND float64
}

// String is the point in words, e.g. "lr=0.001 λkd=1 λnd=2".
func (p Point) String() string {
	s := fmt.Sprintf("lr=%g", p.LR)
	if p.LambdaKD != 0 {
		s += fmt.Sprintf(" λkd=%g", p.LambdaKD)
	}
	if p.LambdaND != 0 {
		s += fmt.Sprintf(" λnd=%g", p.LambdaND)
	}
	return s
}

// Grid returns every point of learning rates lrs × weights kd × weights nd; an empty list of weights
// leaves that weight 0.
func Grid(lrs, kd, nd []float64) []Point {
	if len(kd) == 0 {
		kd = []float64{0}
	}
	if len(nd) == 0 {
		nd = []float64{0}
	}
	var g []Point
	for _, lr := range lrs {
		for _, a := range kd {
			for _, b := range nd {
				g = append(g, Point{LR: lr, LambdaKD: a, LambdaND: b})
			}
		}
	}
	return g
}

// Arm is one method or baseline and the grid it is tuned over.
type Arm struct {
	Name string // shown in tables, e.g. "(c) KD++"
	Kind Kind
	Grid []Point
}

// Config is the whole experiment.
type Config struct {
	// Fashion-MNIST sizes: NVal validation images and NTeacher teacher images are drawn, disjoint, from
	// the training split; the student trains on NTrain of the teacher's images (class-balanced); NTest
	// images of the test split score the final runs.
	NTrain, NTeacher, NVal, NTest int
	DataSeed                      uint64

	// TeacherHidden are the teacher MLP's hidden widths; the last is its embedding (width D, the
	// target of the ND loss). Adam 1e-3, batch Batch.
	TeacherHidden []int
	TeacherEpochs int
	TeacherSeed   uint64

	Hidden int // the student MLP's one hidden width (its embedding); a linear classifier on top
	Epochs int
	Batch  int
	// Temperature is KD's T (the paper's 4). WarmupEpochs is the length of KD's linear warm-up
	// min(1, step/(WarmupEpochs·steps per epoch)) (the paper: 20 of 240 epochs).
	Temperature  float64
	WarmupEpochs float64
	// ProbeWeight is the weight of the probe's ND fit in the arms without the ND term (1 in the
	// experiment; 0 leaves their projector at its random initialisation).
	ProbeWeight float64

	noStop bool // tests only: lets the probe's fit reach the backbone (a broken probe)
	// Runs is the number of final runs per arm (run r: initialisation, dropout and data-order seed r+1);
	// tuning trains each grid point once from TuneSeed.
	Runs     int
	TuneSeed uint64
	Arms     []Arm
}

// Check says what is wrong with c, if anything: every arm needs a known kind and a grid, all grids the
// same size (the same tuning budget for method and baseline), and points with a positive learning rate
// and positive weights for the terms the arm has.
func (c Config) Check() error {
	switch {
	case c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1 || c.NTeacher < c.NTrain:
		return fmt.Errorf("ndkdexp: sizes student train %d (≥ batch %d), teacher %d (≥ student), validation %d, test %d",
			c.NTrain, c.Batch, c.NTeacher, c.NVal, c.NTest)
	case c.Epochs < 1 || c.Batch < 1 || c.Runs < 1 || c.TeacherEpochs < 1:
		return fmt.Errorf("ndkdexp: epochs %d, teacher epochs %d, batch %d, runs %d must be ≥ 1", c.Epochs, c.TeacherEpochs, c.Batch, c.Runs)
	case c.Hidden < 1 || len(c.TeacherHidden) == 0:
		return fmt.Errorf("ndkdexp: student width %d must be ≥ 1 and the teacher needs a hidden layer", c.Hidden)
	case !(c.Temperature > 0) || c.WarmupEpochs < 0 || c.ProbeWeight < 0:
		return fmt.Errorf("ndkdexp: temperature %g must be > 0, warm-up %g epochs and probe weight %g ≥ 0", c.Temperature, c.WarmupEpochs, c.ProbeWeight)
	case len(c.Arms) == 0:
		return errors.New("ndkdexp: no arms")
	}
	for _, a := range c.Arms {
		switch a.Kind {
		case CE, KD, NDKD, ND:
		default:
			return fmt.Errorf("ndkdexp: arm %q has unknown kind %q", a.Name, a.Kind)
		}
		if len(a.Grid) == 0 {
			return fmt.Errorf("ndkdexp: arm %q has an empty grid", a.Name)
		}
		if len(a.Grid) != len(c.Arms[0].Grid) {
			return fmt.Errorf("ndkdexp: arm %q has a grid of %d points, arm %q of %d: every arm gets the same tuning budget",
				a.Name, len(a.Grid), c.Arms[0].Name, len(c.Arms[0].Grid))
		}
		for _, p := range a.Grid {
			if !(p.LR > 0) || a.Kind.kd() && !(p.LambdaKD > 0) || a.Kind.nd() && !(p.LambdaND > 0) {
				return fmt.Errorf("ndkdexp: arm %q: bad point %v (want lr > 0 and a positive weight for each term of %s)", a.Name, p, a.Kind)
			}
		}
	}
	return nil
}

// Splits are the data of the experiment (the student's training images are a subset of the teacher's).
type Splits = dhkdexp.Splits

// Fashion returns c's splits of Fashion-MNIST, drawn as in lib/dhkdexp (standardised flat 784-vectors).
func (c Config) Fashion() (*Splits, error) {
	return dhkdexp.Config{NTrain: c.NTrain, NTeacher: c.NTeacher, NVal: c.NVal, NTest: c.NTest, DataSeed: c.DataSeed}.Fashion()
}

// Teacher is the trained teacher: its test accuracy, its logits and embeddings on the student's
// training images, its class means over its own training images and its mean embedding norm on the
// test images.
type Teacher struct {
	TestAcc  float64
	Logits   []float32 // [len(Train)·K]
	Features []float32 // [len(Train)·D]
	Means    []float32 // [K·D], losses.NDClassMeans over the teacher's training images
	TestNorm float64   // mean ‖t‖ on the test images
	Classes  int
	Dim      int
}

// TrainTeacher trains c's teacher MLP on s.Teacher.
func (c Config) TrainTeacher(s *Splits) (*Teacher, error) {
	k := s.Teacher.Classes
	m := models.NewMLP(k, c.TeacherHidden...)
	res, err := train.Run(train.Config{Model: m, Train: s.Teacher, Optimizer: train.Adam(1e-3), BatchSize: c.Batch,
		Epochs: c.TeacherEpochs, Seed: c.TeacherSeed, Silent: true})
	if err != nil {
		return nil, fmt.Errorf("ndkdexp: teacher: %w", err)
	}
	met, err := train.Evaluate(m, res.Context, s.Test)
	if err != nil {
		return nil, fmt.Errorf("ndkdexp: teacher: %w", err)
	}
	d := c.TeacherHidden[len(c.TeacherHidden)-1]
	t := &Teacher{TestAcc: met.Accuracy, Classes: k, Dim: d}
	_, all, err := forward(m, res.Context, s.Teacher)
	if err != nil {
		return nil, err
	}
	if t.Means, err = losses.NDClassMeans(all, d, s.Teacher.Y, k); err != nil {
		return nil, fmt.Errorf("ndkdexp: teacher: %w", err)
	}
	if t.Logits, t.Features, err = forward(m, res.Context, s.Train); err != nil {
		return nil, err
	}
	_, test, err := forward(m, res.Context, s.Test)
	if err != nil {
		return nil, err
	}
	for i := range s.Test.Len() {
		t.TestNorm += norm(test[i*d:(i+1)*d]) / float64(s.Test.Len())
	}
	return t, nil
}

// forward returns model m's logits [N·K] and features [N·D] (parameters in ctx) on every example of s.
func forward(m models.Model, ctx *context.Context, s *data.Set) (logits, feats []float32, err error) {
	bk, err := backend.Get()
	if err != nil {
		return nil, nil, err
	}
	exec, err := context.NewExec(bk, ctx.Reuse(), func(ctx *context.Context, x *Node) []*Node {
		l, f := m.Forward(ctx, x)
		return []*Node{l, f}
	})
	if err != nil {
		return nil, nil, err
	}
	defer exec.Finalize()
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(s.X, s.Len(), s.Dim()))
	if err != nil {
		return nil, nil, fmt.Errorf("ndkdexp: forward: %s", backend.FirstLine(err))
	}
	if logits, err = tensors.CopyFlatData[float32](out[0]); err != nil {
		return nil, nil, err
	}
	feats, err = tensors.CopyFlatData[float32](out[1])
	return logits, feats, err
}

// norm is the Euclidean norm of v.
func norm(v []float32) float64 {
	q := 0.0
	for _, x := range v {
		q += float64(x) * float64(x)
	}
	return math.Sqrt(q)
}

// Run is one trained student scored on a set: the softmax accuracy and, for the projected embedding s
// (evaluation mode), the mean ‖s‖, the mean cos(s, e_y) with e_y the unit teacher class mean of the
// label, and the nearest-class-mean accuracy argmax_k ⟨s, e_k⟩.
type Run struct {
	Accuracy, Norm, Cos, NCM float64
}

// project is the student's projector, BatchNorm → Dropout(0.5) → Linear(h's width, d) (scopes
// "proj_bn", "proj"); mask is the dropout mask (entries 0 or 2), nil in evaluation.
func project(ctx *context.Context, h, mask *Node, d int) *Node {
	z := models.BatchNorm(ctx.In("proj_bn"), h)
	if mask != nil {
		z = Mul(z, mask)
	}
	return models.Dense(ctx.In("proj"), z, d, true)
}

// TrainStudent trains one student of kind k at point p on s.Train (distilling t), from initialisation,
// dropout and data-order seed, and scores it on eval.
func (c Config) TrainStudent(k Kind, p Point, s *Splits, t *Teacher, seed uint64, eval *data.Set) (*Run, error) {
	n, dx, nk, d := s.Train.Len(), s.Train.Dim(), t.Classes, t.Dim
	if len(t.Logits) != n*nk || len(t.Features) != n*d || len(t.Means) != nk*d {
		return nil, fmt.Errorf("ndkdexp: teacher has %d logits, %d feature values and %d class-mean values for %d images, %d classes, width %d",
			len(t.Logits), len(t.Features), len(t.Means), n, nk, d)
	}
	m := models.NewMLP(s.Train.Classes, c.Hidden)
	perEpoch := n / c.Batch
	opt, err := train.Adam(p.LR).Build(c.Epochs * perEpoch)
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, err
	}
	ctx = ctx.Checked(false)
	means := tensors.FromFlatDataAndDimensions(t.Means, nk, d)
	step, err := train.NewContextStep(ctx, opt, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		x, y, tl, tf, mask, warm := in[0], in[1], in[2], in[3], in[4], in[5]
		logits, h := m.Forward(ctx, x)
		loss := ReduceAllMean(losses.CrossEntropy(logits, y))
		if k.kd() {
			loss = Add(loss, Mul(warm, MulScalar(ReduceAllMean(losses.KDLoss(logits, tl, c.Temperature)), p.LambdaKD)))
		}
		weight := c.ProbeWeight // the probe's fit: it reaches the projector only
		if k.nd() {
			weight = p.LambdaND
		} else if !c.noStop {
			h = StopGradient(h)
		}
		nd := ReduceAllMean(losses.NDLoss(project(ctx, h, mask, d), tf, y, Const(x.Graph(), means)))
		return Add(loss, MulScalar(nd, weight)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("ndkdexp: %s: %w", k, err)
	}
	defer step.Finalize()
	xb, yb, tb := make([]float32, c.Batch*dx), make([]int32, c.Batch), make([]float32, c.Batch*nk)
	fb, mb := make([]float32, c.Batch*d), make([]float32, c.Batch*c.Hidden)
	drop := rand.New(rand.NewPCG(seed, 13))
	warmSteps := c.WarmupEpochs * float64(perEpoch)
	for ep := range c.Epochs {
		order := data.EpochOrder(n, seed, ep)
		for b := range perEpoch {
			for j, i := range order[b*c.Batch : (b+1)*c.Batch] {
				copy(xb[j*dx:(j+1)*dx], s.Train.X[i*dx:(i+1)*dx])
				yb[j] = s.Train.Y[i]
				copy(tb[j*nk:(j+1)*nk], t.Logits[i*nk:(i+1)*nk])
				copy(fb[j*d:(j+1)*d], t.Features[i*d:(i+1)*d])
			}
			for j := range mb {
				mb[j] = float32(2 * drop.IntN(2)) // keep with probability ½, scaled by 2
			}
			done := ep*perEpoch + b
			warm := 1.0
			if warmSteps > 0 {
				warm = math.Min(1, float64(done)/warmSteps)
			}
			loss, _, err := step.Step(tensors.FromFlatDataAndDimensions(xb, c.Batch, dx), tensors.FromFlatDataAndDimensions(yb, c.Batch),
				tensors.FromFlatDataAndDimensions(tb, c.Batch, nk), tensors.FromFlatDataAndDimensions(fb, c.Batch, d),
				tensors.FromFlatDataAndDimensions(mb, c.Batch, c.Hidden), float32(warm))
			if err != nil {
				return nil, fmt.Errorf("ndkdexp: %s %v seed %d, step %d: %w", k, p, seed, done+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("ndkdexp: %s %v seed %d: loss %v at step %d", k, p, seed, loss, done+1)
			}
		}
	}
	return score(m, ctx, eval, t)
}

// score measures a student (parameters in ctx) on eval.
func score(m *models.MLP, ctx *context.Context, eval *data.Set, t *Teacher) (*Run, error) {
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	exec, err := context.NewExec(bk, ctx.Reuse(), func(ctx *context.Context, x *Node) []*Node {
		ctx.SetTraining(x.Graph(), false)
		logits, h := m.Forward(ctx, x)
		return []*Node{logits, project(ctx, h, nil, t.Dim)}
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(eval.X, eval.Len(), eval.Dim()))
	if err != nil {
		return nil, fmt.Errorf("ndkdexp: scoring: %s", backend.FirstLine(err))
	}
	logits, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return nil, err
	}
	emb, err := tensors.CopyFlatData[float32](out[1])
	if err != nil {
		return nil, err
	}
	return Measure(logits, emb, eval.Y, t.Means, t.Classes, t.Dim), nil
}

// Measure scores logits [N·K] and projected embeddings [N·D] against labels y and class means [K·D]:
// softmax accuracy, mean ‖s‖, mean cos(s, e_y) and the nearest-class-mean accuracy argmax_k ⟨s, e_k⟩
// (e_k = c_k/‖c_k‖; a zero embedding has cosine 0).
func Measure(logits, emb []float32, y []int32, means []float32, classes, dim int) *Run {
	dirs := make([][]float64, classes)
	for k := range dirs {
		c := means[k*dim : (k+1)*dim]
		cn := math.Max(norm(c), 1e-12)
		for _, x := range c {
			dirs[k] = append(dirs[k], float64(x)/cn)
		}
	}
	var hits, ncm int
	r := &Run{}
	n := float64(len(y))
	for i, label := range y {
		row := emb[i*dim : (i+1)*dim]
		sn := norm(row)
		best, bestDot, arg := 0, math.Inf(-1), 0
		for k := range classes {
			if logits[i*classes+k] > logits[i*classes+arg] {
				arg = k
			}
			dot := 0.0
			for j, x := range row {
				dot += float64(x) * dirs[k][j]
			}
			if dot > bestDot {
				best, bestDot = k, dot
			}
			if k == int(label) && sn > 0 {
				r.Cos += dot / sn / n
			}
		}
		r.Norm += sn / n
		if arg == int(label) {
			hits++
		}
		if best == int(label) {
			ncm++
		}
	}
	r.Accuracy, r.NCM = float64(hits)/n, float64(ncm)/n
	return r
}

// NDTerms evaluates losses.NDLoss and its gradient with respect to the student embeddings on explicit
// class means (the registry's objective estimates them from the batch): s and t are the student and
// teacher embeddings [B][D], y the labels, means the class means [K][D]. It returns the per-example
// terms [B] and the gradient of their sum [B·D].
func NDTerms(s, t [][]float64, y []int32, means [][]float64) (per, grad []float64, err error) {
	if len(s) == 0 || len(s) != len(t) || len(s) != len(y) || len(means) == 0 {
		return nil, nil, fmt.Errorf("ndkdexp.NDTerms: %d student, %d teacher embeddings, %d labels, %d class means", len(s), len(t), len(y), len(means))
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, nil, err
	}
	exec, err := NewExec(bk, func(s, t, y, c *Node) []*Node {
		l := losses.NDLoss(s, t, y, c)
		return []*Node{l, Gradient(ReduceAllSum(l), s)[0]}
	})
	if err != nil {
		return nil, nil, err
	}
	defer exec.Finalize()
	out, err := exec.Exec(tensors.FromValue(s), tensors.FromValue(t), tensors.FromValue(y), tensors.FromValue(means))
	if err != nil {
		return nil, nil, fmt.Errorf("ndkdexp.NDTerms: %s", backend.FirstLine(err))
	}
	if per, err = tensors.CopyFlatData[float64](out[0]); err != nil {
		return nil, nil, err
	}
	grad, err = tensors.CopyFlatData[float64](out[1])
	return per, grad, err
}

// Tuning is the validation accuracy of every grid point of one arm and the index of the chosen point
// (the best; ties to the earlier point).
type Tuning struct {
	ValAcc []float64
	Best   int
}

// ArmResult is one arm: its tuning and the final runs of the chosen point.
type ArmResult struct {
	Arm    string
	Kind   Kind
	Tuning Tuning
	Chosen Point
	Runs   []Run // run r: seed r+1, scored on the test set
}

// Values returns one measurement of each final run, picked by f.
func (a *ArmResult) Values(f func(Run) float64) []float64 {
	var out []float64
	for _, r := range a.Runs {
		out = append(out, f(r))
	}
	return out
}

// Pickers of Values.
var (
	AccuracyOf = func(r Run) float64 { return r.Accuracy }
	NormOf     = func(r Run) float64 { return r.Norm }
	CosOf      = func(r Run) float64 { return r.Cos }
	NCMOf      = func(r Run) float64 { return r.NCM }
)

// Result is the whole experiment.
type Result struct {
	TeacherTestAcc, TeacherTestNorm float64
	Arms                            []ArmResult
}

// Arm returns the result of the arm named name (nil if none).
func (r *Result) Arm(name string) *ArmResult {
	for i := range r.Arms {
		if r.Arms[i].Arm == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// RunAll runs the experiment on s: the teacher, then for every arm one tuning run per grid point
// (validation accuracy), then Runs final runs of the chosen point on the test set. progress, if not
// nil, is called after every training run with a description of it.
func RunAll(c Config, s *Splits, progress func(done string)) (*Result, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if s == nil || s.Train == nil || s.Teacher == nil || s.Val == nil || s.Test == nil {
		return nil, errors.New("ndkdexp: missing splits")
	}
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	t, err := c.TrainTeacher(s)
	if err != nil {
		return nil, err
	}
	say("teacher: test accuracy %.4f", t.TestAcc)
	res := &Result{TeacherTestAcc: t.TestAcc, TeacherTestNorm: t.TestNorm}
	for _, a := range c.Arms {
		ar := ArmResult{Arm: a.Name, Kind: a.Kind, Tuning: Tuning{Best: -1}}
		best := math.Inf(-1)
		for i, p := range a.Grid {
			r, err := c.TrainStudent(a.Kind, p, s, t, c.TuneSeed, s.Val)
			if err != nil {
				return nil, fmt.Errorf("ndkdexp: %s, tuning %v: %w", a.Name, p, err)
			}
			ar.Tuning.ValAcc = append(ar.Tuning.ValAcc, r.Accuracy)
			if r.Accuracy > best {
				best, ar.Tuning.Best = r.Accuracy, i
			}
			say("%s, tuning %v: validation accuracy %.4f", a.Name, p, r.Accuracy)
		}
		ar.Chosen = a.Grid[ar.Tuning.Best]
		for r := range c.Runs {
			run, err := c.TrainStudent(a.Kind, ar.Chosen, s, t, uint64(r+1), s.Test)
			if err != nil {
				return nil, fmt.Errorf("ndkdexp: %s, run %d: %w", a.Name, r+1, err)
			}
			ar.Runs = append(ar.Runs, *run)
			say("%s (%v), run %d: test accuracy %.4f", a.Name, ar.Chosen, r+1, run.Accuracy)
		}
		res.Arms = append(res.Arms, ar)
	}
	return res, nil
}

// Describe lists the arms' grids in words, one line per arm.
func (c Config) Describe() []string {
	var out []string
	for _, a := range c.Arms {
		var pts []string
		for _, p := range a.Grid {
			pts = append(pts, p.String())
		}
		out = append(out, fmt.Sprintf("%s (%s): %s", a.Name, a.Kind, strings.Join(pts, "; ")))
	}
	return out
}
