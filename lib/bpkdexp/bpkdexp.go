// Package bpkdexp is the notebook-scale experiment of Liyang Liu, Zihan Wang, Minh Hieu Phan, Bowen
// Zhang, Jinchao Ge, Yifan Liu, "BPKD: Boundary Privileged Knowledge Distillation For Semantic
// Segmentation" (WACV 2024, arXiv:2306.08075): a coarse student (stride 4) learns to segment synthetic
// shape scenes (data.Shapes) with plain cross-entropy, with pixel-wise KD from a full-resolution
// teacher, or with BPKD (the edge and body losses of lib/losses), each arm tuned on a validation split
// over the same learning-rate grid and then trained on independent runs (run r: its own student
// initialisation and data order, shared by the three arms, so runs are paired). The teacher is shared
// by all runs and trained once.
package bpkdexp

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// Arms are the student objectives, in display order: cross-entropy alone, CE + pixel-wise KD over
// classes, CE + BPKD (edge and body losses).
var Arms = []string{"ce", "kd", "bpkd"}

// ArmNames are the display names of Arms.
var ArmNames = map[string]string{"ce": "student alone (CE)", "kd": "CE + pixel KD", "bpkd": "CE + BPKD"}

// Config sets the experiment's sizes. Zero fields are not filled in: start from Default or Quick.
type Config struct {
	Size, Stride, Classes int     // scene side (pixels), student output stride, pixel classes (data.Shapes: 4)
	NTrain, NVal, NTest   int     // scenes per split
	Batch                 int     // batch size (all sets are cut to whole batches)
	TeacherWidths         []int   // teacher conv channels before the class layer (3×3, full resolution)
	TeacherEpochs         int     // teacher epochs (Adam, TeacherLR)
	TeacherLR             float64 // teacher learning rate
	Epochs                int     // student epochs
	LRs                   []float64
	Tau                   float64 // distillation temperature τ
	Radius                int     // edge band radius r
	Runs                  int     // independent paired runs per arm
	// MinTeacherGap is the least margin (test mIoU) by which the teacher must beat the tuned CE student
	// for distillation to be testable, stated before the run.
	MinTeacherGap float64
}

// Default is the notebook's full size: 24×24 scenes, 640/192/384 scenes, a 16-32-32 teacher for 10
// epochs (a pilot gave it test mIoU 0.77 against 0.36–0.38 for the CE student), students for 8 epochs,
// learning rates {1e-3, 3e-3, 1e-2, 3e-2}, τ = 4, r = 1, 8 paired runs, teacher margin 0.05 mIoU.
func Default() Config {
	return Config{Size: 24, Stride: 4, Classes: 4, NTrain: 640, NVal: 192, NTest: 384, Batch: 32,
		TeacherWidths: []int{16, 32, 32}, TeacherEpochs: 10, TeacherLR: 3e-3, Epochs: 8,
		LRs: []float64{1e-3, 3e-3, 1e-2, 3e-2}, Tau: 4, Radius: 1, Runs: 8, MinTeacherGap: 0.05}
}

// Quick is the CI size: the same code path with tiny sets, one epoch, two learning rates.
func Quick() Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest = 64, 32, 32
	c.TeacherWidths, c.TeacherEpochs, c.Epochs = []int{4, 4, 4}, 1, 1
	c.LRs, c.Runs = []float64{1e-3, 3e-3}, 3
	return c
}

// Check reports the first impossible setting.
func (c Config) Check() error {
	switch {
	case c.Size < 8 || c.Stride < 1 || c.Size%c.Stride != 0:
		return fmt.Errorf("bpkdexp: size %d and stride %d: want size ≥ 8 divisible by the stride", c.Size, c.Stride)
	case c.Classes != len(data.ShapeKinds):
		return fmt.Errorf("bpkdexp: %d classes; data.Shapes has %d", c.Classes, len(data.ShapeKinds))
	case c.Batch < 1 || c.NTrain < c.Batch || c.NVal < c.Batch || c.NTest < c.Batch:
		return fmt.Errorf("bpkdexp: sets %d/%d/%d scenes need at least one batch of %d each", c.NTrain, c.NVal, c.NTest, c.Batch)
	case len(c.TeacherWidths) == 0 || c.TeacherEpochs < 1 || c.Epochs < 1 || c.TeacherLR <= 0:
		return errors.New("bpkdexp: need teacher widths, teacher and student epochs ≥ 1 and a teacher learning rate")
	case len(c.LRs) == 0:
		return errors.New("bpkdexp: empty learning-rate grid")
	case c.Tau <= 0 || c.Radius < 1 || c.Runs < 1 || c.MinTeacherGap < 0:
		return fmt.Errorf("bpkdexp: τ %g, radius %d, runs %d, teacher gap %g: want τ > 0, r ≥ 1, runs ≥ 1, gap ≥ 0", c.Tau, c.Radius, c.Runs, c.MinTeacherGap)
	}
	for _, lr := range c.LRs {
		if lr <= 0 {
			return fmt.Errorf("bpkdexp: learning rate %g in the grid", lr)
		}
	}
	return nil
}

func (c Config) low() int { return c.Size / c.Stride }

// Scores are a model's metrics on one split.
type Scores struct {
	MIoU     float64 // mean over classes present in truth or prediction of intersection / union
	Boundary float64 // pixel accuracy within 2 px (Chebyshev) of a ground-truth boundary
	Interior float64 // pixel accuracy elsewhere
	Pixel    float64 // pixel accuracy
}

// Run is one trained student.
type Run struct {
	Arm     string
	Run     int     // run index: sets the initialisation and the data order
	LR      float64 // learning rate
	Lambdas [2]float64
	Val     Scores
	Test    Scores
	Pred    []int32 // predicted label map of the first test scene
}

// Result is the whole experiment.
type Result struct {
	Config  Config
	Teacher Scores // test scores of the full-resolution teacher
	// Tuning holds the validation runs (run index −1: its own initialisation and order) of every arm
	// and learning rate; Chosen the learning rate picked for each arm (best validation mIoU).
	Tuning []Run
	Chosen map[string]float64
	Runs   []Run // Config.Runs runs per arm, ordered by run then arm
}

// Values returns f of the test scores of every run of arm, in run order.
func (r *Result) Values(arm string, f func(Scores) float64) []float64 {
	var out []float64
	for _, x := range r.Runs {
		if x.Arm == arm {
			out = append(out, f(x.Test))
		}
	}
	return out
}

// split is one set of scenes with the teacher's logits (at the student's resolution) once trained.
type split struct {
	n       int
	x       []float32
	y       []int32
	band    []bool
	teacher []float32
}

func newSplit(c Config, n int, seed uint64) (*split, error) {
	n -= n % c.Batch
	s, err := data.Shapes(data.ShapesConfig{N: n, Size: c.Size, MaxShapes: 3, Noise: 0.1, Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("bpkdexp: %w", err)
	}
	return &split{n: n, x: s.X, y: s.Masks, band: nearBoundary(s.Boundaries, n, c.Size, 2)}, nil
}

// nearBoundary marks the pixels within d (Chebyshev distance) of a boundary pixel of each size×size map.
func nearBoundary(b []uint8, n, size, d int) []bool {
	out := make([]bool, len(b))
	for i := range n {
		off := i * size * size
		for y := range size {
			for x := range size {
				if b[off+y*size+x] != 1 {
					continue
				}
				for yy := max(0, y-d); yy <= min(size-1, y+d); yy++ {
					for xx := max(0, x-d); xx <= min(size-1, x+d); xx++ {
						out[off+yy*size+xx] = true
					}
				}
			}
		}
	}
	return out
}

// batch gathers scenes idx: images [b,S,S,1], labels [b,S,S] and teacher logits [b,s,s,C] (nil before
// the teacher is trained).
func (s *split) batch(c Config, idx []int) (x, y, zt *tensors.Tensor) {
	hw, lw := c.Size*c.Size, c.low()*c.low()*c.Classes
	var xs []float32
	var ys []int32
	var zs []float32
	for _, i := range idx {
		xs = append(xs, s.x[i*hw:(i+1)*hw]...)
		ys = append(ys, s.y[i*hw:(i+1)*hw]...)
		if s.teacher != nil {
			zs = append(zs, s.teacher[i*lw:(i+1)*lw]...)
		}
	}
	b := len(idx)
	x = tensors.FromFlatDataAndDimensions(xs, b, c.Size, c.Size, 1)
	y = tensors.FromFlatDataAndDimensions(ys, b, c.Size, c.Size)
	if zs != nil {
		zt = tensors.FromFlatDataAndDimensions(zs, b, c.low(), c.low(), c.Classes)
	}
	return x, y, zt
}

func relu(x *Node) *Node { return models.Activate("relu", x) }

// teacherNet is the full-resolution conv net (3×3 kernels, widths then the class layer): [B,S,S,1] →
// [B,S,S,C].
func teacherNet(c Config, ctx *context.Context, x *Node) *Node {
	ctx = ctx.Checked(false)
	h := x
	for i, f := range c.TeacherWidths {
		h = relu(models.Conv2D(ctx.In(fmt.Sprintf("conv_%d", i)), h, f, 3))
	}
	return models.Conv2D(ctx.In(fmt.Sprintf("conv_%d", len(c.TeacherWidths))), h, c.Classes, 3)
}

// studentNet is the coarse student: a 3×3 conv (16) at full resolution, max-pools down to the stride,
// and a 3×3 conv to the classes: [B,S,S,1] → [B,S/stride,S/stride,C].
func studentNet(c Config, ctx *context.Context, x *Node) *Node {
	ctx = ctx.Checked(false)
	h := relu(models.Conv2D(ctx.In("conv_0"), x, 16, 3))
	for s := c.Stride; s > 1; s /= 2 {
		h = models.MaxPool2(h)
	}
	return models.Conv2D(ctx.In("conv_1"), h, c.Classes, 3)
}

// bilinear is the [out, in] matrix of bilinear resizing (half-pixel centres, edges clamped).
func bilinear(out, in int) [][]float32 {
	m := make([][]float32, out)
	f := float64(in) / float64(out)
	for i := range m {
		m[i] = make([]float32, in)
		src := math.Max((float64(i)+0.5)*f-0.5, 0)
		j := int(math.Floor(src))
		w := src - float64(j)
		if j >= in-1 {
			j, w = in-1, 0
		}
		m[i][j] += float32(1 - w)
		if w > 0 {
			m[i][j+1] += float32(w)
		}
	}
	return m
}

// upsample resizes student logits [B,s,s,C] to [B,S,S,C] bilinearly, as two constant matrix products.
func upsample(c Config, z *Node) *Node {
	u := Const(z.Graph(), bilinear(c.Size, c.low()))
	return Einsum("jw,biwc->bijc", u, Einsum("ih,bhwc->biwc", u, z))
}

// poolLogits averages [n,S,S,C] logits over stride×stride blocks: [n,s,s,C] (area resizing of the
// teacher's logits to the student's resolution).
func poolLogits(c Config, z []float32, n int) []float32 {
	S, s, k := c.Size, c.low(), c.Stride
	out := make([]float32, n*s*s*c.Classes)
	w := float32(1) / float32(k*k)
	for b := range n {
		for y := range S {
			for x := range S {
				for cl := range c.Classes {
					out[((b*s+y/k)*s+x/k)*c.Classes+cl] += z[((b*S+y)*S+x)*c.Classes+cl] * w
				}
			}
		}
	}
	return out
}

// score compares predicted label maps with the truth of the first len(pred) pixels of s.
func score(c Config, s *split, pred []int32) Scores {
	inter, union := make([]float64, c.Classes), make([]float64, c.Classes)
	var bOK, bN, iOK, iN float64
	for p, v := range pred {
		t := s.y[p]
		if v == t {
			inter[t]++
		} else {
			union[v]++
		}
		union[t]++
		ok := 0.0
		if v == t {
			ok = 1
		}
		if s.band[p] {
			bOK, bN = bOK+ok, bN+1
		} else {
			iOK, iN = iOK+ok, iN+1
		}
	}
	var sc Scores
	k := 0.0
	for cl := range c.Classes {
		if union[cl] > 0 {
			sc.MIoU += inter[cl] / union[cl]
			k++
		}
	}
	sc.MIoU /= k
	sc.Boundary, sc.Interior, sc.Pixel = bOK/math.Max(bN, 1), iOK/math.Max(iN, 1), (bOK+iOK)/(bN+iN)
	return sc
}

// terms are the distillation terms of student logits zs against teacher logits zt with labels y:
// pixel KD, the BPKD edge loss L_E (α = 2, total normalisation) and body loss L_B.
func terms(c Config, zs, zt, y *Node) (kd, le, lb *Node) {
	d := zs.Shape().Dimensions
	n := d[0] * d[1] * d[2]
	kdLoss, err := losses.GraphLoss("kd", losses.Params{"temperature": c.Tau})
	if err != nil {
		panic(err)
	}
	kd = kdLoss(losses.Batch{"student": Reshape(zs, n, c.Classes), "teacher": Reshape(zt, n, c.Classes),
		"labels": Zeros(zs.Graph(), shapes.Make(dtypes.Int32, n))})
	edge := losses.BPKDEdgeMask(y, c.Classes, c.Radius, c.Stride, dtypes.Float32)
	le = losses.BPKDEdgeLoss(zs, zt, edge, c.Tau, Scalar(zs.Graph(), zs.DType(), 2.0), false)
	return kd, le, losses.BPKDBodyLoss(zs, zt, edge, c.Tau)
}

// studentLoss is CE on the upsampled logits plus the arm's distillation term, weighted by lam (KD:
// lam[0]; BPKD: λ_E = lam[0], λ_B = lam[1]).
func studentLoss(c Config, arm string, lam [2]float64, zs, zt, y *Node) *Node {
	loss := losses.SegmentationCE(upsample(c, zs), y)
	if arm == "ce" {
		return loss
	}
	kd, le, lb := terms(c, zs, zt, y)
	if arm == "kd" {
		return Add(loss, MulScalar(kd, lam[0]))
	}
	return Add(loss, Add(MulScalar(le, lam[0]), MulScalar(lb, lam[1])))
}

// predict returns the arg-max label maps of ctx's teacher (full) or upsampled student on s and, for
// the teacher, its logits pooled to the student's resolution.
func predict(c Config, ctx *context.Context, s *split, full bool) ([]int32, []float32, error) {
	bk, err := backend.Get()
	if err != nil {
		return nil, nil, err
	}
	exec, err := context.NewExec(bk, ctx.Reuse(), func(ctx *context.Context, x *Node) []*Node {
		var z *Node
		if full {
			z = teacherNet(c, ctx, x)
		} else {
			z = upsample(c, studentNet(c, ctx, x))
		}
		return []*Node{z, ArgMax(z, -1, dtypes.Int32)}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bpkdexp: %w", err)
	}
	defer exec.Finalize()
	var pred []int32
	var logits []float32
	for st := 0; st < s.n; st += c.Batch {
		x, _, _ := s.batch(c, seq(st, c.Batch))
		out, err := exec.Exec(x)
		if err != nil {
			return nil, nil, fmt.Errorf("bpkdexp: predicting: %w", err)
		}
		if full {
			logits = append(logits, poolLogits(c, tensors.MustCopyFlatData[float32](out[0]), c.Batch)...)
		}
		pred = append(pred, tensors.MustCopyFlatData[int32](out[1])...)
	}
	return pred, logits, nil
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// fit trains ctx's model for epochs over tr with loss, visiting the data in train.EpochOrder(seed).
func fit(c Config, ctx *context.Context, tr *split, epochs int, lr float64, seed uint64, loss train.ContextLossGraph) error {
	steps := tr.n / c.Batch
	opt, err := train.Adam(lr).Build(epochs * steps)
	if err != nil {
		return err
	}
	step, err := train.NewContextStep(ctx, opt, loss)
	if err != nil {
		return err
	}
	defer step.Finalize()
	for e := range epochs {
		order := train.EpochOrder(tr.n, seed, e)
		for b := range steps {
			x, y, zt := tr.batch(c, order[b*c.Batch:(b+1)*c.Batch])
			in := []any{x, y}
			if zt != nil {
				in = append(in, zt)
			}
			l, _, err := step.Step(in...)
			if err != nil {
				return fmt.Errorf("bpkdexp: step %d of epoch %d: %w", b, e, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("bpkdexp: loss %g at step %d of epoch %d (lr %g)", l, b, e, lr)
			}
		}
	}
	return nil
}

// Data holds the three splits with the shared teacher's logits.
type Data struct {
	c                Config
	train, val, test *split
	Teacher          Scores
}

// Prepare draws the splits (seeds 1, 3, 2) and trains the shared teacher (initialisation seed 250,
// data seed 7), caching its logits pooled to the student's resolution on every split.
func Prepare(c Config) (*Data, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	d := &Data{c: c}
	var err error
	if d.train, err = newSplit(c, c.NTrain, 1); err != nil {
		return nil, err
	}
	if d.val, err = newSplit(c, c.NVal, 3); err != nil {
		return nil, err
	}
	if d.test, err = newSplit(c, c.NTest, 2); err != nil {
		return nil, err
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(250))
	err = fit(c, ctx, d.train, c.TeacherEpochs, c.TeacherLR, 7, func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		return losses.SegmentationCE(teacherNet(c, ctx, in[0]), in[1]), nil
	})
	if err != nil {
		return nil, fmt.Errorf("bpkdexp: teacher: %w", err)
	}
	for _, s := range []*split{d.train, d.val, d.test} {
		pred, z, err := predict(c, ctx, s, true)
		if err != nil {
			return nil, err
		}
		s.teacher = z
		if s == d.test {
			d.Teacher = score(c, s, pred)
		}
	}
	return d, nil
}

// Student trains one student of arm with learning rate lr; run sets its initialisation (seed 1000 +
// run) and data order (seed 100 + run). The distillation weights are set, as the spec asks, so that
// the arm's distillation term starts equal to pixel KD's (weight 1) on the first batch of this run's
// initial student, BPKD's L_E and L_B getting half each.
func (d *Data) Student(arm string, run int, lr float64) (Run, error) {
	c := d.c
	if _, ok := ArmNames[arm]; !ok {
		return Run{}, fmt.Errorf("bpkdexp: unknown arm %q (want one of %v)", arm, Arms)
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(1000+run))
	lam, err := d.lambdas(ctx)
	if err != nil {
		return Run{}, err
	}
	if arm == "kd" {
		lam = [2]float64{1, 0}
	}
	err = fit(c, ctx, d.train, c.Epochs, lr, uint64(100+run), func(ctx *context.Context, in []*Node) (*Node, []*Node) {
		return studentLoss(c, arm, lam, studentNet(c, ctx, in[0]), in[2], in[1]), nil
	})
	if err != nil {
		return Run{}, fmt.Errorf("bpkdexp: %s run %d lr %g: %w", arm, run, lr, err)
	}
	r := Run{Arm: arm, Run: run, LR: lr, Lambdas: lam}
	for _, s := range []*split{d.val, d.test} {
		pred, _, err := predict(c, ctx, s, false)
		if err != nil {
			return Run{}, err
		}
		if s == d.val {
			r.Val = score(c, s, pred)
		} else {
			r.Test, r.Pred = score(c, s, pred), pred[:c.Size*c.Size]
		}
	}
	return r, nil
}

// lambdas evaluates the initial student's distillation terms on the first training batch: λ_E =
// KD/(2 L_E), λ_B = KD/(2 L_B).
func (d *Data) lambdas(ctx *context.Context) ([2]float64, error) {
	c := d.c
	bk, err := backend.Get()
	if err != nil {
		return [2]float64{}, err
	}
	x, y, zt := d.train.batch(c, seq(0, c.Batch))
	out, err := context.ExecOnceN(bk, ctx, func(ctx *context.Context, x, zt, y *Node) []*Node {
		kd, le, lb := terms(c, studentNet(c, ctx, x), zt, y)
		return []*Node{kd, le, lb}
	}, x, zt, y)
	if err != nil {
		return [2]float64{}, fmt.Errorf("bpkdexp: initial distillation terms: %w", err)
	}
	var v [3]float64
	for i := range v {
		v[i] = float64(tensors.ToScalar[float32](out[i]))
	}
	if v[1] <= 0 || v[2] <= 0 {
		return [2]float64{}, fmt.Errorf("bpkdexp: initial L_E %g, L_B %g: cannot balance against KD %g", v[1], v[2], v[0])
	}
	return [2]float64{v[0] / (2 * v[1]), v[0] / (2 * v[2])}, nil
}

// Experiment prepares the data and teacher, tunes every arm's learning rate on the validation split
// (one run each, run index −1, best validation mIoU), and trains Config.Runs paired runs per arm with
// the chosen rates. progress, when not nil, is called after each student.
func Experiment(c Config, progress func(done, total int)) (*Result, error) {
	d, err := Prepare(c)
	if err != nil {
		return nil, err
	}
	res := &Result{Config: c, Teacher: d.Teacher, Chosen: map[string]float64{}}
	total, done := len(Arms)*(len(c.LRs)+c.Runs), 0
	tick := func() {
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	for _, arm := range Arms {
		best := math.Inf(-1)
		for _, lr := range c.LRs {
			r, err := d.Student(arm, -1, lr)
			if err != nil {
				return nil, err
			}
			res.Tuning = append(res.Tuning, r)
			if r.Val.MIoU > best {
				best, res.Chosen[arm] = r.Val.MIoU, lr
			}
			tick()
		}
	}
	for run := range c.Runs {
		for _, arm := range Arms {
			r, err := d.Student(arm, run, res.Chosen[arm])
			if err != nil {
				return nil, err
			}
			res.Runs = append(res.Runs, r)
			tick()
		}
	}
	return res, nil
}

// Scene returns the image and label map of the first test scene (the one Run.Pred predicts).
func Scene(c Config) (image []float32, labels []int32, err error) {
	if err := c.Check(); err != nil {
		return nil, nil, err
	}
	s, err := newSplit(c, c.NTest, 2)
	if err != nil {
		return nil, nil, err
	}
	hw := c.Size * c.Size
	return s.x[:hw], s.y[:hw], nil
}
