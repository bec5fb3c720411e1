// Package dhkdexp runs the distillation experiment of Yang, Zong, Huang, Feng & An, "Dual-Head Knowledge
// Distillation: Enhancing Logits Utilization with an Auxiliary Head", arXiv:2411.08937 (KDD 2025), at
// notebook scale, in the form a verdict needs.
//
// A frozen teacher's logits are distilled into a small student by five arms: the student trained alone
// (cross-entropy), CE + softmax KD on its one head, CE + BinaryKL-Norm on the same head (the combination
// the paper argues against), DHKD (CE on the main head, BinaryKL-Norm on an auxiliary linear head, the
// backbone shared) and DHKD with the paper's PCGrad-style gradient alignment. Every arm is tuned on a
// validation split over a grid of the same size (the distillation arms over temperature × weight, the
// student alone over as many learning rates); the chosen point is then trained from independent
// initialisations and data orders (run r: seed r+1 for both) and scored on the test set. The teacher is
// trained once and shared by every run.
//
// Each step of an arm with a distillation term also measures the cosine between the CE gradient and the
// distillation gradient, separately over the main head's parameters (the classifier) and over the
// backbone's: the paper's explanation of why one head fails is a conflict of the two gradients on the
// classifier.
package dhkdexp

import (
	"errors"
	"fmt"
	"math"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Kind is what an arm trains.
type Kind string

// The arms' kinds.
const (
	CE      Kind = "ce"            // the student alone: CE on its one head
	KD      Kind = "kd"            // CE + α·KD(T) on one head (softmax KD, Hinton et al.)
	OneHead Kind = "bkln-one-head" // CE + α·BinaryKL-Norm(T) on the same head
	DHKD    Kind = "dhkd"          // CE on the main head, α·BinaryKL-Norm(T) on the auxiliary head
	DHKDGA  Kind = "dhkd-ga"       // DHKD with gradient alignment (losses.AlignGradients)
)

// distills reports whether k has a distillation term.
func (k Kind) distills() bool { return k != CE }

// dual reports whether k trains the auxiliary head.
func (k Kind) dual() bool { return k == DHKD || k == DHKDGA }

// Point is one configuration of a grid: Adam's learning rate, and the distillation temperature T and
// weight α (unused by CE).
type Point struct {
	LR          float64
	Temperature float64
	Alpha       float64
}

// String is the point in words, e.g. "lr=0.001 T=2 α=1".
func (p Point) String() string {
	if p.Temperature == 0 && p.Alpha == 0 {
		return fmt.Sprintf("lr=%g", p.LR)
	}
	return fmt.Sprintf("lr=%g T=%g α=%g", p.LR, p.Temperature, p.Alpha)
}

// Grid returns every point of learning rates lrs × temperatures × weights alphas (no temperatures or
// no alphas: the learning rates alone).
func Grid(lrs, temperatures, alphas []float64) []Point {
	var g []Point
	for _, lr := range lrs {
		if len(temperatures) == 0 || len(alphas) == 0 {
			g = append(g, Point{LR: lr})
			continue
		}
		for _, t := range temperatures {
			for _, a := range alphas {
				g = append(g, Point{LR: lr, Temperature: t, Alpha: a})
			}
		}
	}
	return g
}

// Arm is one method or baseline and the grid it is tuned over.
type Arm struct {
	Name string // shown in tables, e.g. "(d) DHKD"
	Kind Kind
	// AuxHidden is the width of the auxiliary head's hidden layer (two-head kinds): 0 makes it linear
	// (the official ImageNet head), 200 is the official CIFAR head without its dropout and BatchNorm.
	AuxHidden int
	Grid      []Point
}

// Config is the whole experiment.
type Config struct {
	// Fashion-MNIST sizes: NVal validation images and NTeacher teacher images are drawn, disjoint, from
	// the training split; the student trains on the first NTrain of the teacher's images (class-balanced);
	// NTest images of the test split score the final runs.
	NTrain, NTeacher, NVal, NTest int
	DataSeed                      uint64

	TeacherHidden []int // the teacher MLP's hidden widths
	TeacherEpochs int   // Adam 1e-3, batch Batch
	TeacherSeed   uint64

	Hidden []int // the student's backbone widths; its main head is linear
	Epochs int
	Batch  int
	// Runs is the number of final runs per arm (run r: initialisation and data-order seed r+1); tuning
	// trains each grid point once from TuneSeed.
	Runs     int
	TuneSeed uint64
	Arms     []Arm
}

// Check says what is wrong with c, if anything: every arm needs a known kind and a grid, all grids the
// same size (the same tuning budget for method and baseline), and points with a positive learning rate
// (and temperature, for the distillation arms).
func (c Config) Check() error {
	switch {
	case c.NTrain < c.Batch || c.NVal < 1 || c.NTest < 1 || c.NTeacher < c.NTrain:
		return fmt.Errorf("dhkdexp: sizes student train %d (≥ batch %d), teacher %d (≥ student), validation %d, test %d",
			c.NTrain, c.Batch, c.NTeacher, c.NVal, c.NTest)
	case c.Epochs < 1 || c.Batch < 1 || c.Runs < 1 || c.TeacherEpochs < 1:
		return fmt.Errorf("dhkdexp: epochs %d, teacher epochs %d, batch %d, runs %d must be ≥ 1", c.Epochs, c.TeacherEpochs, c.Batch, c.Runs)
	case len(c.Hidden) == 0 || len(c.TeacherHidden) == 0:
		return errors.New("dhkdexp: the student and the teacher need at least one hidden layer")
	case len(c.Arms) == 0:
		return errors.New("dhkdexp: no arms")
	}
	for _, a := range c.Arms {
		switch a.Kind {
		case CE, KD, OneHead, DHKD, DHKDGA:
		default:
			return fmt.Errorf("dhkdexp: arm %q has unknown kind %q", a.Name, a.Kind)
		}
		if a.AuxHidden < 0 {
			return fmt.Errorf("dhkdexp: arm %q: auxiliary head width %d must be ≥ 0", a.Name, a.AuxHidden)
		}
		if len(a.Grid) == 0 {
			return fmt.Errorf("dhkdexp: arm %q has an empty grid", a.Name)
		}
		if len(a.Grid) != len(c.Arms[0].Grid) {
			return fmt.Errorf("dhkdexp: arm %q has a grid of %d points, arm %q of %d: every arm gets the same tuning budget",
				a.Name, len(a.Grid), c.Arms[0].Name, len(c.Arms[0].Grid))
		}
		for _, p := range a.Grid {
			if !(p.LR > 0) || a.Kind.distills() && !(p.Temperature > 0 && p.Alpha >= 0) {
				return fmt.Errorf("dhkdexp: arm %q: bad point %v (want lr > 0, and T > 0, α ≥ 0 with a distillation term)", a.Name, p)
			}
		}
	}
	return nil
}

// Splits are the data of the experiment: the teacher's training images (the student's are a subset),
// the student's, the validation and the test images.
type Splits struct {
	Teacher, Train, Val, Test *data.Set
}

// Fashion returns c's splits of Fashion-MNIST (standardised pixels, flat 784-vectors).
func (c Config) Fashion() (*Splits, error) {
	all, err := data.FashionMNIST("train")
	if err != nil {
		return nil, err
	}
	if c.NVal+c.NTeacher > all.Len() {
		return nil, fmt.Errorf("dhkdexp: %d validation + %d teacher images exceed the %d training images", c.NVal, c.NTeacher, all.Len())
	}
	val, rest, err := all.Split(float64(c.NVal)/float64(all.Len()), c.DataSeed)
	if err != nil {
		return nil, err
	}
	teacher, _, err := rest.Split(float64(c.NTeacher)/float64(rest.Len()), c.DataSeed+1)
	if err != nil {
		return nil, err
	}
	student, _, err := teacher.Split(float64(c.NTrain)/float64(teacher.Len()), c.DataSeed+2)
	if err != nil {
		return nil, err
	}
	test, err := data.FashionMNIST("test", data.WithSubset(c.NTest), data.WithSeed(c.DataSeed))
	if err != nil {
		return nil, err
	}
	return &Splits{Teacher: teacher, Train: student, Val: val, Test: test}, nil
}

// Teacher is the trained teacher: its test accuracy and its logits on the student's training images.
type Teacher struct {
	TestAcc float64
	Logits  []float32 // [len(Train)·K], row-major
	Classes int
}

// TrainTeacher trains c's teacher MLP on s.Teacher and returns its logits on s.Train.
func (c Config) TrainTeacher(s *Splits) (*Teacher, error) {
	k := s.Teacher.Classes
	m := models.NewMLP(k, c.TeacherHidden...)
	res, err := train.Run(train.Config{Model: m, Train: s.Teacher, Optimizer: train.Adam(1e-3), BatchSize: c.Batch,
		Epochs: c.TeacherEpochs, Seed: c.TeacherSeed, Silent: true})
	if err != nil {
		return nil, fmt.Errorf("dhkdexp: teacher: %w", err)
	}
	met, err := train.Evaluate(m, res.Context, s.Test)
	if err != nil {
		return nil, fmt.Errorf("dhkdexp: teacher: %w", err)
	}
	logits, err := Logits(m, res.Context, s.Train)
	if err != nil {
		return nil, fmt.Errorf("dhkdexp: teacher: %w", err)
	}
	return &Teacher{TestAcc: met.Accuracy, Logits: logits, Classes: k}, nil
}

// Logits returns model m's logits (parameters in ctx) on every example of s, [N·K] row-major.
func Logits(m models.Model, ctx *context.Context, s *data.Set) ([]float32, error) {
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	exec, err := context.NewExec(bk, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		logits, _ := m.Forward(ctx, x)
		return logits
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	shape := append([]int{s.Len()}, s.Shape...)
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(s.X, shape...))
	if err != nil {
		return nil, errors.New(backend.FirstLine(err))
	}
	return tensors.CopyFlatData[float32](out[0])
}

// Run is one trained student: its accuracy on the scoring set and, per training step, the cosine
// between the CE gradient and the distillation gradient over the classifier (main head) and over the
// backbone (NaN without a distillation term; 0 on the classifier for the two-head arms, which the
// distillation term does not reach).
type Run struct {
	Accuracy                   float64
	CosClassifier, CosBackbone []float64
}

// MeanCos returns the mean over steps of the classifier and backbone cosines.
func (r *Run) MeanCos() (classifier, backbone float64) {
	return mean(r.CosClassifier), mean(r.CosBackbone)
}

// mean returns the mean of xs (NaN for none).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Student returns arm a's student model: a DualHead whose backbone has widths c.Hidden and whose
// auxiliary head (used by the two-head kinds only) has a.AuxHidden hidden units.
func (c Config) Student(a Arm, classes int) *models.DualHead {
	m := models.NewDualHead(classes, c.Hidden...)
	m.AuxHidden = a.AuxHidden
	return m
}

// TrainStudent trains one student of arm a at point p on s.Train (distilling t's logits), from
// initialisation and data-order seed, and scores its main head on eval.
func (c Config) TrainStudent(a Arm, p Point, s *Splits, t *Teacher, seed uint64, eval *data.Set) (*Run, error) {
	k := a.Kind
	m := c.Student(a, s.Train.Classes)
	n, d, nk := s.Train.Len(), s.Train.Dim(), t.Classes
	if len(t.Logits) != n*nk {
		return nil, fmt.Errorf("dhkdexp: %d teacher logits for %d training images of %d classes", len(t.Logits), n, nk)
	}
	perEpoch := n / c.Batch
	total := c.Epochs * perEpoch
	opt, err := train.Adam(p.LR).Build(total)
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, err
	}
	ctx = ctx.Checked(false)
	step, err := train.NewContextStep(ctx, opt, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		return studentLoss(ctx, m, k, p, in[0], in[1], in[2])
	})
	if err != nil {
		return nil, fmt.Errorf("dhkdexp: %s: %w", k, err)
	}
	defer step.Finalize()
	run := &Run{}
	xb, yb, tb := make([]float32, c.Batch*d), make([]int32, c.Batch), make([]float32, c.Batch*nk)
	for ep := range c.Epochs {
		order := data.EpochOrder(n, seed, ep)
		for b := range perEpoch {
			for j, i := range order[b*c.Batch : (b+1)*c.Batch] {
				copy(xb[j*d:(j+1)*d], s.Train.X[i*d:(i+1)*d])
				yb[j] = s.Train.Y[i]
				copy(tb[j*nk:(j+1)*nk], t.Logits[i*nk:(i+1)*nk])
			}
			loss, rep, err := step.Step(tensors.FromFlatDataAndDimensions(xb, c.Batch, d),
				tensors.FromFlatDataAndDimensions(yb, c.Batch), tensors.FromFlatDataAndDimensions(tb, c.Batch, nk))
			if err != nil {
				return nil, fmt.Errorf("dhkdexp: %s %v seed %d, step %d: %w", k, p, seed, ep*perEpoch+b+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("dhkdexp: %s %v seed %d: loss %v at step %d", k, p, seed, loss, ep*perEpoch+b+1)
			}
			if k.distills() {
				run.CosClassifier = append(run.CosClassifier, rep[0][0])
				run.CosBackbone = append(run.CosBackbone, rep[1][0])
			}
		}
	}
	met, err := train.Evaluate(m, ctx, eval)
	if err != nil {
		return nil, fmt.Errorf("dhkdexp: %s: %w", k, err)
	}
	run.Accuracy = met.Accuracy
	return run, nil
}

// studentLoss builds the training loss of kind k at point p for inputs x, labels y and teacher logits t,
// and reports the two gradient cosines (classifier, backbone) for the distillation kinds.
func studentLoss(ctx *context.Context, m *models.DualHead, k Kind, p Point, x, y, t *Node) (*Node, []*Node) {
	var z1, z2 *Node
	if k.dual() {
		z1, z2, _ = m.Heads(ctx, x)
	} else {
		z1, _ = m.Forward(ctx, x)
		z2 = z1
	}
	ce := ReduceAllMean(losses.CrossEntropy(z1, y))
	var kd *Node
	switch k {
	case CE:
		return ce, nil
	case KD:
		kd = MulScalar(ReduceAllMean(losses.KDLoss(z1, t, p.Temperature)), p.Alpha)
	default:
		kd = MulScalar(ReduceAllMean(losses.BinaryKLNorm(z2, t, p.Temperature)), p.Alpha)
	}
	gCE, gKD, scopes := trainableGradients(ctx, ce, kd)
	head := fmt.Sprintf("%sdense_%d", context.ScopeSeparator, len(m.Hidden))
	classifier := func(s string) bool { return s == head }
	backbone := func(s string) bool { return s != head && !models.IsAuxVariable(s) }
	report := []*Node{groupCosine(gCE, gKD, scopes, classifier), groupCosine(gCE, gKD, scopes, backbone)}
	if k == DHKDGA {
		return AlignedLoss(ce, kd, gCE, gKD), report
	}
	return Add(ce, kd), report
}

// trainableGradients returns the gradients of a and b over the trainable variables of ctx that the
// graph uses (in the order GoMLX's optimizers use), and those variables' scopes.
func trainableGradients(ctx *context.Context, a, b *Node) (ga, gb []*Node, scopes []string) {
	g := a.Graph()
	ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Trainable && v.InUseByGraph(g) {
			scopes = append(scopes, v.Scope())
		}
	})
	return ctx.BuildTrainableVariablesGradientsGraph(a), ctx.BuildTrainableVariablesGradientsGraph(b), scopes
}

// groupCosine returns cos(a, b) over the gradients whose variable scope is selected by in; 0 when
// either side is all zeros there.
func groupCosine(a, b []*Node, scopes []string, in func(scope string) bool) *Node {
	var dot, na, nb *Node
	for i := range a {
		if !in(scopes[i]) {
			continue
		}
		d, x, y := ReduceAllSum(Mul(a[i], b[i])), ReduceAllSum(Square(a[i])), ReduceAllSum(Square(b[i]))
		if dot == nil {
			dot, na, nb = d, x, y
		} else {
			dot, na, nb = Add(dot, d), Add(na, x), Add(nb, y)
		}
	}
	if dot == nil {
		panic(errors.New("dhkdexp: no variable in the group"))
	}
	den := Sqrt(Mul(na, nb))
	some := GreaterThan(den, ZerosLike(den))
	return Where(some, Div(dot, Where(some, den, OnesLike(den))), ZerosLike(den))
}

// AlignedLoss returns a loss whose gradient over the trainable variables is DHKD's aligned update
// g_CE + g_KD', with g_KD' = losses.AlignGradients(g_KD, g_CE): since the projection only subtracts a
// multiple c·g_CE (c = ⟨g_KD, g_CE⟩/‖g_CE‖² when negative, else 0), the update is the gradient of
// (1 − c)·CE + KD with c held constant. ce and kd are the two loss terms, gCE and gKD their gradients.
func AlignedLoss(ce, kd *Node, gCE, gKD []*Node) *Node {
	var dot, norm *Node
	for i := range gCE {
		d, n := ReduceAllSum(Mul(gKD[i], gCE[i])), ReduceAllSum(Square(gCE[i]))
		if dot == nil {
			dot, norm = d, n
		} else {
			dot, norm = Add(dot, d), Add(norm, n)
		}
	}
	zero := ZerosLike(dot)
	some := GreaterThan(norm, zero)
	coef := Where(And(LessThan(dot, zero), some), Div(dot, Where(some, norm, OnesLike(norm))), zero)
	return Add(Mul(OneMinus(StopGradient(coef)), ce), kd)
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

// Test returns the test accuracy of each final run.
func (a *ArmResult) Test() []float64 {
	var out []float64
	for _, r := range a.Runs {
		out = append(out, r.Accuracy)
	}
	return out
}

// Cos returns each final run's mean cosine over the classifier and over the backbone.
func (a *ArmResult) Cos() (classifier, backbone []float64) {
	for _, r := range a.Runs {
		c, b := r.MeanCos()
		classifier, backbone = append(classifier, c), append(backbone, b)
	}
	return classifier, backbone
}

// Result is the whole experiment.
type Result struct {
	TeacherTestAcc float64
	Arms           []ArmResult
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
		return nil, errors.New("dhkdexp: missing splits")
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
	res := &Result{TeacherTestAcc: t.TestAcc}
	for _, a := range c.Arms {
		ar := ArmResult{Arm: a.Name, Kind: a.Kind, Tuning: Tuning{Best: -1}}
		best := math.Inf(-1)
		for i, p := range a.Grid {
			r, err := c.TrainStudent(a, p, s, t, c.TuneSeed, s.Val)
			if err != nil {
				return nil, fmt.Errorf("dhkdexp: %s, tuning %v: %w", a.Name, p, err)
			}
			ar.Tuning.ValAcc = append(ar.Tuning.ValAcc, r.Accuracy)
			if r.Accuracy > best {
				best, ar.Tuning.Best = r.Accuracy, i
			}
			say("%s, tuning %v: validation accuracy %.4f", a.Name, p, r.Accuracy)
		}
		ar.Chosen = a.Grid[ar.Tuning.Best]
		for r := range c.Runs {
			run, err := c.TrainStudent(a, ar.Chosen, s, t, uint64(r+1), s.Test)
			if err != nil {
				return nil, fmt.Errorf("dhkdexp: %s, run %d: %w", a.Name, r+1, err)
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
