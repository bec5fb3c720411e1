package dhkdexp

import (
	"math"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
)

// tiny is the experiment at test sizes: every kind, grids of two points, three runs.
func tiny() Config {
	d := Grid([]float64{3e-3}, []float64{2}, []float64{0.5, 1})
	return Config{NTrain: 96, NTeacher: 96, NVal: 64, NTest: 64, DataSeed: 5,
		TeacherHidden: []int{16}, TeacherEpochs: 40, TeacherSeed: 7,
		Hidden: []int{8, 6}, Epochs: 2, Batch: 32, Runs: 3, TuneSeed: 100,
		Arms: []Arm{
			{Name: "CE", Kind: CE, Grid: Grid([]float64{1e-3, 3e-3}, nil, nil)},
			{Name: "KD", Kind: KD, Grid: d},
			{Name: "one head", Kind: OneHead, Grid: d},
			{Name: "DHKD", Kind: DHKD, AuxHidden: 5, Grid: d},
			{Name: "DHKD+GA", Kind: DHKDGA, AuxHidden: 5, Grid: d},
			{Name: "DHKD linear", Kind: DHKD, Grid: d},
		}}
}

// blobs returns splits of Gaussian blobs for c (the student's images are the teacher's).
func blobs(t *testing.T, c Config) *Splits {
	t.Helper()
	all, err := data.Blobs(data.BlobsConfig{N: c.NTeacher + c.NVal + c.NTest, Classes: 4, Dim: 5, Radius: 2, Spread: 1, Seed: c.DataSeed})
	if err != nil {
		t.Fatal(err)
	}
	tr, rest, err := all.Split(float64(c.NTeacher)/float64(all.Len()), 1)
	if err != nil {
		t.Fatal(err)
	}
	va, te, err := rest.Split(float64(c.NVal)/float64(rest.Len()), 2)
	if err != nil {
		t.Fatal(err)
	}
	return &Splits{Teacher: tr, Train: tr, Val: va, Test: te}
}

func TestGridAndPoint(t *testing.T) {
	g := Grid([]float64{1e-3, 2e-3}, []float64{2, 4}, []float64{0.1, 1, 3})
	if len(g) != 12 || g[7] != (Point{LR: 2e-3, Temperature: 2, Alpha: 1}) {
		t.Fatalf("grid %v: want 12 points, the 8th lr=0.002 T=2 α=1", g)
	}
	if s := g[7].String(); s != "lr=0.002 T=2 α=1" {
		t.Errorf("Point.String: %q", s)
	}
	if g := Grid([]float64{1e-3, 2e-3}, nil, []float64{1}); len(g) != 2 || g[1].String() != "lr=0.002" {
		t.Fatalf("learning-rate grid %v", g)
	}
}

func TestCheck(t *testing.T) {
	if err := tiny().Check(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(c *Config)
	}{
		{"unequal grids", "same tuning budget", func(c *Config) { c.Arms[1].Grid = c.Arms[1].Grid[:1] }},
		{"unknown kind", "unknown kind", func(c *Config) { c.Arms[2].Kind = "kd2" }},
		{"no temperature", "bad point", func(c *Config) { c.Arms[1].Grid[0].Temperature = 0 }},
		{"no learning rate", "bad point", func(c *Config) { c.Arms[0].Grid[1].LR = 0 }},
		{"negative aux width", "auxiliary head width", func(c *Config) { c.Arms[3].AuxHidden = -1 }},
		{"teacher smaller than student", "teacher", func(c *Config) { c.NTeacher = c.NTrain - 1 }},
		{"no runs", "runs", func(c *Config) { c.Runs = 0 }},
		{"no arms", "no arms", func(c *Config) { c.Arms = nil }},
	} {
		c := tiny()
		tc.edit(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// evalGrads returns the value of each gradient node built by f from one parameter vector w.
func evalGrads(t *testing.T, w []float64, f func(w *Node) []*Node) [][]float64 {
	t.Helper()
	exec, err := NewExec(backend.Must(), func(w *Node) []*Node { return f(w) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(w)
	if err != nil {
		t.Fatal(err)
	}
	var vals [][]float64
	for _, o := range out {
		vals = append(vals, o.Value().([]float64))
	}
	return vals
}

// TestAlignedLoss checks that AlignedLoss's gradient is g_CE + AlignGradients(g_KD, g_CE), with two
// conflicting quadratic losses (a projection) and two agreeing ones (none).
func TestAlignedLoss(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a, b, w []float64
	}{
		{"conflict", []float64{1, 0, 0}, []float64{-1, 2, 0}, []float64{0, 0, 0}},
		{"agree", []float64{1, 1, 0}, []float64{2, 1, 1}, []float64{0, 0, 0}},
	} {
		got := evalGrads(t, tc.w, func(w *Node) []*Node {
			g := w.Graph()
			ce := ReduceAllSum(Square(Sub(w, Const(g, tc.a))))
			kd := MulScalar(ReduceAllSum(Square(Sub(w, Const(g, tc.b)))), 0.5)
			gCE, gKD := Gradient(ce, w), Gradient(kd, w)
			want := Add(gCE[0], losses.AlignGradients(gKD, gCE)[0])
			return []*Node{Gradient(AlignedLoss(ce, kd, gCE, gKD), w)[0], want, Add(gCE[0], gKD[0])}
		})
		aligned, want, plain := got[0], got[1], got[2]
		for i := range want {
			if math.Abs(aligned[i]-want[i]) > 1e-12 {
				t.Fatalf("%s: gradient of AlignedLoss %v, want g_CE + aligned g_KD %v", tc.name, aligned, want)
			}
		}
		if projected := !slices.Equal(want, plain); projected != (tc.name == "conflict") {
			t.Errorf("%s: the test case does not exercise what it says (aligned %v, plain %v)", tc.name, want, plain)
		}
	}
}

func TestGroupCosine(t *testing.T) {
	got := evalGrads(t, []float64{0}, func(w *Node) []*Node {
		g := w.Graph()
		a := []*Node{Const(g, []float64{1, 0}), Const(g, []float64{3}), Const(g, []float64{0, 0})}
		b := []*Node{Const(g, []float64{1, 1}), Const(g, []float64{-3}), Const(g, []float64{0, 0})}
		scopes := []string{"/x", "/y", "/z"}
		return []*Node{
			Reshape(groupCosine(a, b, scopes, func(s string) bool { return s == "/x" }), 1),
			Reshape(groupCosine(a, b, scopes, func(s string) bool { return s != "/z" }), 1),
			Reshape(groupCosine(a, b, scopes, func(s string) bool { return s == "/z" }), 1),
		}
	})
	// /x: 1/√2; /x and /y together: (1 − 9)/(√10·√11); /z: both zero, so 0.
	want := []float64{1 / math.Sqrt2, -8 / math.Sqrt(110), 0}
	for i := range want {
		if math.Abs(got[i][0]-want[i]) > 1e-12 {
			t.Errorf("cosine %d: got %v, want %v", i, got[i][0], want[i])
		}
	}
}

// TestRunAll runs the tiny experiment: tuning picks the best validation point, the final runs are
// independent (different seeds give different students), a seed gives the same student twice, the
// two-head kinds' distillation term never reaches the main head, and CE records no cosines.
func TestRunAll(t *testing.T) {
	c := tiny()
	s := blobs(t, c)
	var said []string
	res, err := RunAll(c, s, func(done string) { said = append(said, done) })
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(c.Arms)*(2+c.Runs); len(said) != want {
		t.Errorf("progress called %d times, want %d", len(said), want)
	}
	if !(res.TeacherTestAcc > 0.5) {
		t.Errorf("teacher test accuracy %v on easy blobs", res.TeacherTestAcc)
	}
	for i, a := range res.Arms {
		best := slices.Index(a.Tuning.ValAcc, slices.Max(a.Tuning.ValAcc))
		if a.Tuning.Best != best || a.Chosen != c.Arms[i].Grid[best] {
			t.Errorf("%s: chose %d (%v) of validation accuracies %v", a.Arm, a.Tuning.Best, a.Chosen, a.Tuning.ValAcc)
		}
		if len(a.Runs) != c.Runs {
			t.Fatalf("%s: %d runs, want %d", a.Arm, len(a.Runs), c.Runs)
		}
		steps := c.Epochs * (c.NTrain / c.Batch)
		cls, bb := a.Cos()
		switch {
		case a.Kind == CE:
			if len(a.Runs[0].CosBackbone) != 0 || !math.IsNaN(cls[0]) {
				t.Errorf("CE recorded cosines %v", a.Runs[0].CosBackbone)
			}
		case a.Kind.dual():
			if slices.Max(cls) != 0 || slices.Min(cls) != 0 || len(a.Runs[0].CosClassifier) != steps {
				t.Errorf("%s: classifier cosines %v, want exactly 0 at each of %d steps", a.Arm, cls, steps)
			}
		default:
			if len(a.Runs[0].CosClassifier) != steps || cls[0] == 0 || math.IsNaN(bb[0]) {
				t.Errorf("%s: cosines classifier %v backbone %v over %d steps", a.Arm, cls, bb, len(a.Runs[0].CosClassifier))
			}
		}
		if slices.Equal(a.Runs[0].CosBackbone, a.Runs[1].CosBackbone) && a.Kind != CE ||
			a.Runs[0].Accuracy == a.Runs[1].Accuracy && a.Runs[1].Accuracy == a.Runs[2].Accuracy {
			t.Errorf("%s: runs 1 and 2 look identical (accuracies %v): not independent", a.Arm, a.Test())
		}
	}
	// The same seed gives the same student.
	teacher, err := c.TrainTeacher(s)
	if err != nil {
		t.Fatal(err)
	}
	kd := res.Arm("KD")
	again, err := c.TrainStudent(c.Arms[1], kd.Chosen, s, teacher, 2, s.Test)
	if err != nil {
		t.Fatal(err)
	}
	if again.Accuracy != kd.Runs[1].Accuracy || !slices.Equal(again.CosClassifier, kd.Runs[1].CosClassifier) {
		t.Errorf("KD run 2 retrained: accuracy %v vs %v", again.Accuracy, kd.Runs[1].Accuracy)
	}
	if res.Arm("nope") != nil {
		t.Error("Arm found an arm that does not exist")
	}
}

func TestTrainStudentErrors(t *testing.T) {
	c := tiny()
	s := blobs(t, c)
	_, err := c.TrainStudent(c.Arms[1], c.Arms[1].Grid[0], s, &Teacher{Logits: make([]float32, 10), Classes: 4}, 1, s.Test)
	if err == nil || !strings.Contains(err.Error(), "teacher logits") {
		t.Fatalf("wrong number of teacher logits: got %v", err)
	}
	if _, err := RunAll(c, &Splits{Train: s.Train}, nil); err == nil || !strings.Contains(err.Error(), "missing splits") {
		t.Fatalf("missing splits: got %v", err)
	}
}

// TestCosineGroups checks which variables each cosine covers, on a two-head student with a hidden
// auxiliary layer: the classifier is the main head alone and the backbone excludes the auxiliary head.
func TestCosineGroups(t *testing.T) {
	c := tiny()
	m := c.Student(c.Arms[3], 4)
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(3); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 6*5)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	teacher := make([]float32, 6*4)
	for i := range teacher {
		teacher[i] = float32(i%5) - 2
	}
	exec, err := context.NewExec(backend.Must(), ctx, func(ctx *context.Context, x, y, tl *Node) []*Node {
		_, report := studentLoss(ctx, m, DHKD, Point{LR: 1e-3, Temperature: 2, Alpha: 1}, x, y, tl)
		// The same two cosines with the groups spelled out: the main head "/dense_2"; the backbone
		// "/dense_0" and "/dense_1", not the auxiliary head's "/aux_0" and "/aux_1".
		z1, z2, _ := m.Heads(ctx, x)
		ce := ReduceAllMean(losses.CrossEntropy(z1, y))
		kd := ReduceAllMean(losses.BinaryKLNorm(z2, tl, 2))
		gCE, gKD, scopes := trainableGradients(ctx, ce, kd)
		want := []*Node{
			groupCosine(gCE, gKD, scopes, func(s string) bool { return s == "/dense_2" }),
			groupCosine(gCE, gKD, scopes, func(s string) bool { return s == "/dense_0" || s == "/dense_1" }),
		}
		return append(report, want...)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, 6, 5), []int32{0, 1, 2, 3, 0, 1}, tensors.FromFlatDataAndDimensions(teacher, 6, 4))
	if err != nil {
		t.Fatal(err)
	}
	var v []float64
	for _, o := range out {
		v = append(v, float64(tensors.ToScalar[float32](o)))
	}
	if v[0] != v[2] || v[1] != v[3] || v[1] == 0 {
		t.Errorf("cosines (classifier, backbone) %v, want %v (a backbone cosine ≠ 0)", v[:2], v[2:])
	}
}
