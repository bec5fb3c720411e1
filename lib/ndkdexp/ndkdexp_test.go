package ndkdexp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
)

// tiny is the experiment at test sizes: every kind, grids of two points, three runs.
func tiny() Config {
	return Config{NTrain: 96, NTeacher: 96, NVal: 64, NTest: 64, DataSeed: 5,
		TeacherHidden: []int{16, 8}, TeacherEpochs: 40, TeacherSeed: 7,
		Hidden: 6, Epochs: 3, Batch: 32, Temperature: 4, WarmupEpochs: 1, ProbeWeight: 1, Runs: 3, TuneSeed: 100,
		Arms: []Arm{
			{Name: "CE", Kind: CE, Grid: Grid([]float64{1e-3, 1e-2}, nil, nil)},
			{Name: "KD", Kind: KD, Grid: Grid([]float64{1e-2}, []float64{1, 3}, nil)},
			{Name: "KD++", Kind: NDKD, Grid: Grid([]float64{1e-2}, []float64{1}, []float64{0.5, 2})},
			{Name: "ND", Kind: ND, Grid: Grid([]float64{1e-2}, nil, []float64{1, 2})},
		}}
}

// blobs returns splits of Gaussian blobs for c (the student's images are the teacher's).
func blobs(t *testing.T, c Config) *Splits {
	t.Helper()
	all, err := data.Blobs(data.BlobsConfig{N: c.NTeacher + c.NVal + c.NTest, Classes: 4, Dim: 5, Radius: 3, Spread: 1, Seed: c.DataSeed})
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
	g := Grid([]float64{1e-3, 2e-3}, []float64{1, 3}, []float64{0.5, 2})
	if len(g) != 8 || g[6] != (Point{LR: 2e-3, LambdaKD: 3, LambdaND: 0.5}) {
		t.Fatalf("grid %v: want 8 points, the 7th lr=0.002 λkd=3 λnd=0.5", g)
	}
	if s := g[6].String(); s != "lr=0.002 λkd=3 λnd=0.5" {
		t.Errorf("Point.String: %q", s)
	}
	if g := Grid([]float64{1e-3, 2e-3}, nil, nil); len(g) != 2 || g[1].String() != "lr=0.002" {
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
		{"unknown kind", "unknown kind", func(c *Config) { c.Arms[2].Kind = "kd3" }},
		{"KD++ without λnd", "bad point", func(c *Config) { c.Arms[2].Grid[0].LambdaND = 0 }},
		{"KD without λkd", "bad point", func(c *Config) { c.Arms[1].Grid[1].LambdaKD = 0 }},
		{"no learning rate", "bad point", func(c *Config) { c.Arms[0].Grid[1].LR = 0 }},
		{"no temperature", "temperature", func(c *Config) { c.Temperature = 0 }},
		{"negative probe weight", "probe weight", func(c *Config) { c.ProbeWeight = -1 }},
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

// TestMeasure scores two examples in 2-D by hand: class means (2, 0) and (0, 5), so e_0 = (1, 0) and
// e_1 = (0, 1).
func TestMeasure(t *testing.T) {
	means := []float32{2, 0, 0, 5}
	// Example 0, label 0: s = (3, 4), ‖s‖ 5, cos 0.6, nearest mean 1 (⟨s, e_1⟩ = 4 > 3); logits right.
	// Example 1, label 1: s = (0, −2), ‖s‖ 2, cos −1, nearest mean 0 (0 > −2): wrong; logits wrong.
	r := Measure([]float32{1, 0, 2, 1}, []float32{3, 4, 0, -2}, []int32{0, 1}, means, 2, 2)
	want := Run{Accuracy: 0.5, Norm: 3.5, Cos: (0.6 - 1) / 2, NCM: 0}
	if math.Abs(r.Accuracy-want.Accuracy)+math.Abs(r.Norm-want.Norm)+math.Abs(r.Cos-want.Cos)+math.Abs(r.NCM-want.NCM) > 1e-12 {
		t.Errorf("Measure: got %+v, want %+v", *r, want)
	}
	r = Measure([]float32{0, 1}, []float32{0, 0}, []int32{1}, means, 2, 2)
	if r.Cos != 0 || r.Norm != 0 || r.Accuracy != 1 {
		t.Errorf("zero embedding: got %+v, want cos 0, norm 0, accuracy 1", *r)
	}
}

// TestNDTerms checks the ND terms of worked examples (class means (1, 0) and (0, 2), values from numpy) and the
// gradient −e_y/‖t‖ below the teacher's norm.
func TestNDTerms(t *testing.T) {
	per, grad, err := NDTerms([][]float64{{3, 4}, {6, 8}, {-3, 0}, {0, 1}}, [][]float64{{0, 10}, {0, 5}, {1, 1}, {0, 4}},
		[]int32{0, 0, 0, 1}, [][]float64{{1, 0}, {0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.7, 0.4, 2, 0.75}
	for i := range want {
		if math.Abs(per[i]-want[i]) > 1e-12 {
			t.Errorf("term %d: %v, want %v", i, per[i], want[i])
		}
	}
	if math.Abs(grad[6]-0)+math.Abs(grad[7]+0.25) > 1e-12 {
		t.Errorf("gradient of the last term %v, want (0, −1/4)", grad[6:])
	}
	if _, _, err := NDTerms(nil, nil, nil, nil); err == nil {
		t.Error("NDTerms accepted an empty batch")
	}
}

// TestProbeLeavesBackbone: the probe's fit in the arms without the ND term reaches the projector only,
// so the softmax classifier is the same with and without it, while the projected embedding changes;
// in the ND arm the term does reach the classifier.
func TestProbeLeavesBackbone(t *testing.T) {
	c := tiny()
	s := blobs(t, c)
	teacher, err := c.TrainTeacher(s)
	if err != nil {
		t.Fatal(err)
	}
	p := Point{LR: 1e-2, LambdaKD: 1, LambdaND: 1}
	run := func(k Kind, probe float64) *Run {
		cc := c
		cc.ProbeWeight = probe
		r, err := cc.TrainStudent(k, p, s, teacher, 4, s.Test)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, k := range []Kind{CE, KD} {
		with, without := run(k, 1), run(k, 0)
		if with.Accuracy != without.Accuracy || with.Cos == without.Cos {
			t.Errorf("%s: probe on %+v, off %+v: want the same accuracy and a different cosine", k, *with, *without)
		}
	}
	c.noStop = true // the test must fail on a probe whose fit reaches the backbone
	if leaky, clean := run(CE, 1), run(CE, 0); leaky.Accuracy == clean.Accuracy {
		t.Error("without the stopped gradient the CE arm's accuracy is unchanged: the check above cannot fail")
	}
	c.noStop = false
	nd, ce := run(ND, 1), run(CE, 1)
	if !(nd.Cos > ce.Cos) {
		t.Errorf("ND arm cos(s, e_y) %v, want above the CE arm's probe %v (ND trains the backbone too)", nd.Cos, ce.Cos)
	}
}

// TestRunAll runs the tiny experiment: tuning picks the best validation point, the final runs are
// independent (different seeds give different students) and a seed gives the same student twice.
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
	if !(res.TeacherTestAcc > 0.5) || !(res.TeacherTestNorm > 0) {
		t.Errorf("teacher test accuracy %v, mean norm %v on easy blobs", res.TeacherTestAcc, res.TeacherTestNorm)
	}
	for i, a := range res.Arms {
		best := slices.Index(a.Tuning.ValAcc, slices.Max(a.Tuning.ValAcc))
		if a.Tuning.Best != best || a.Chosen != c.Arms[i].Grid[best] {
			t.Errorf("%s: chose %d (%v) of validation accuracies %v", a.Arm, a.Tuning.Best, a.Chosen, a.Tuning.ValAcc)
		}
		if len(a.Runs) != c.Runs {
			t.Fatalf("%s: %d runs, want %d", a.Arm, len(a.Runs), c.Runs)
		}
		if cos := a.Values(CosOf); cos[0] == cos[1] && cos[1] == cos[2] {
			t.Errorf("%s: runs look identical (cosines %v): not independent", a.Arm, cos)
		}
	}
	teacher, err := c.TrainTeacher(s)
	if err != nil {
		t.Fatal(err)
	}
	kd := res.Arm("KD++")
	again, err := c.TrainStudent(NDKD, kd.Chosen, s, teacher, 2, s.Test)
	if err != nil {
		t.Fatal(err)
	}
	if *again != kd.Runs[1] {
		t.Errorf("KD++ run 2 retrained: %+v vs %+v", *again, kd.Runs[1])
	}
	if res.Arm("nope") != nil {
		t.Error("Arm found an arm that does not exist")
	}
}

func TestTrainStudentErrors(t *testing.T) {
	c := tiny()
	s := blobs(t, c)
	_, err := c.TrainStudent(KD, c.Arms[1].Grid[0], s, &Teacher{Logits: make([]float32, 10), Classes: 4, Dim: 8}, 1, s.Test)
	if err == nil || !strings.Contains(err.Error(), "teacher has") {
		t.Fatalf("wrong number of teacher logits: got %v", err)
	}
	if _, err := RunAll(c, &Splits{Train: s.Train}, nil); err == nil || !strings.Contains(err.Error(), "missing splits") {
		t.Fatalf("missing splits: got %v", err)
	}
}
