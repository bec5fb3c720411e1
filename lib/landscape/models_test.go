package landscape

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// initModel initialises m's variables in a fresh context (through lib/train's evaluation) and returns
// the context.
func initModel(t *testing.T, m models.Model, set *data.Set, seed int64) *context.Context {
	t.Helper()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	if _, err := train.Evaluate(m, ctx, set); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func blobs(t *testing.T, n int, seed uint64) *data.Set {
	t.Helper()
	s, err := data.Blobs(data.BlobsConfig{N: n, Classes: 3, Dim: 4, Spread: 1.5, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// images returns n random 4×4×1 "images" with 3 classes.
func images(n int, seed uint64) *data.Set {
	d := randomData(n, 16, 3, seed)
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i)
	}
	return &data.Set{Name: "images", Shape: []int{4, 4, 1}, X: d.X, Y: d.Y, IDs: ids, Classes: 3}
}

func TestFromModelMLPAndCNN(t *testing.T) {
	set := blobs(t, 60, 1)
	mlp := models.NewMLP(3, 6, 5)
	ctx := initModel(t, mlp, set, 1)
	ps, err := FromContext(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ps.Groups(), []string{"/dense_0", "/dense_1", "/dense_2"}; !slices.Equal(got, want) {
		t.Fatalf("MLP groups %v, want %v (one per layer scope)", got, want)
	}
	if len(ps.State) != 0 {
		t.Errorf("MLP without BatchNorm has state %v", ps.State)
	}
	d := FromSet(set)
	ev, err := NewEvaluator(FromModel(mlp), ps, Config{BatchSize: 25})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ev.Loss(ps, d)
	if err != nil {
		t.Fatal(err)
	}
	// Independent checks: the float64 reference MLP of the helpers (same variable names) and lib/train.
	wantL, wantE := refLossErr(ps, []int{4, 6, 5, 3}, d)
	if math.Abs(got.Loss-wantL) > 1e-5*(1+wantL) || math.Abs(got.Error-wantE) > 1e-12 {
		t.Errorf("MLP loss %g error %g, float64 reference %g %g", got.Loss, got.Error, wantL, wantE)
	}
	m, err := train.Evaluate(mlp, ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Loss-m.Loss) > 1e-5*(1+m.Loss) || math.Abs(got.Error-(1-m.Accuracy)) > 1e-6 {
		t.Errorf("MLP loss %g error %g, lib/train %g %g", got.Loss, got.Error, m.Loss, 1-m.Accuracy)
	}

	img := images(20, 3)
	cnn := &models.CNN{Classes: 3, Channels: []int{2, 3}, Hidden: 5, ImageShape: []int{4, 4, 1}}
	cctx := initModel(t, cnn, img, 2)
	cps, err := FromContext(cctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cps.Groups(), []string{"/conv_0", "/conv_1", "/dense_0", "/dense_1"}; !slices.Equal(got, want) {
		t.Fatalf("CNN groups %v, want %v", got, want)
	}
	cev, err := NewEvaluator(FromModel(cnn), cps, Config{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	cgot, err := cev.Loss(cps, FromSet(img))
	if err != nil {
		t.Fatal(err)
	}
	cm, err := train.Evaluate(cnn, cctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(cgot.Loss-cm.Loss) > 1e-5*(1+cm.Loss) || math.Abs(cgot.Error-(1-cm.Accuracy)) > 1e-6 {
		t.Errorf("CNN loss %g error %g, lib/train %g %g", cgot.Loss, cgot.Error, cm.Loss, 1-cm.Accuracy)
	}
}

func TestTrainedPairEndToEnd(t *testing.T) {
	all := blobs(t, 240, 5)
	idx := make([]int, 200)
	for i := range idx {
		idx[i] = i
	}
	trainSet := all.Subset(idx)
	testSet := all.Subset([]int{200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219})
	mlp := models.NewMLP(3, 16, 8)
	ckDir := t.TempDir()
	cfg := train.Config{Model: mlp, Train: trainSet, Steps: 30, BatchSize: 32, Seed: 7, Silent: true,
		Optimizer: train.SGD(0.2, 0), CheckpointDir: ckDir, CheckpointSteps: []int{30}}
	ra, rb, err := train.RunPair(cfg, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	a, err := FromContext(ra.Context, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromContext(rb.Context, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range a.Names() {
		if strings.Contains(n, "optimizer") || strings.Contains(n, "global_step") || strings.Contains(n, "metrics") {
			t.Errorf("training state %s counted as a parameter", n)
		}
	}
	// The checkpoint of run a reads back to the same point (lib/train's folder layout).
	ck, err := FromCheckpoint(filepath.Join(ckDir, "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff, err := Sub(ck, a); err != nil || diff.Norm() != 0 {
		t.Fatalf("checkpoint differs from the trained context: %v", err)
	}
	ev, err := NewEvaluator(FromModel(mlp), a, Config{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	dTrain, dTest := FromSet(trainSet), FromSet(testSet)
	path, err := Interpolate(ev, a, b, []*Data{dTrain, dTest}, PathOptions{NumAlpha: 11, Refine: true})
	if err != nil {
		t.Fatal(err)
	}
	for ci, set := range []*data.Set{trainSet, testSet} {
		c := path.Curves[ci]
		ma, _ := train.Evaluate(mlp, ra.Context, set)
		mb, _ := train.Evaluate(mlp, rb.Context, set)
		if math.Abs(c.Loss[0]-ma.Loss) > 1e-5 || math.Abs(c.Loss[len(c.Loss)-1]-mb.Loss) > 1e-5 {
			t.Errorf("%s: path ends %g, %g; trained models %g, %g", c.Data, c.Loss[0], c.Loss[len(c.Loss)-1], ma.Loss, mb.Loss)
		}
		if c.LossBarrier.Linear < 0 {
			t.Errorf("%s: negative linear barrier %g", c.Data, c.LossBarrier.Linear)
		}
	}
	lw, err := InterpolateLayers(ev, a, b, dTrain, LayerwiseOptions{NumAlpha: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lw.Rows, []string{"/dense_0", "/dense_1", "/dense_2"}) {
		t.Errorf("layer-wise rows %v", lw.Rows)
	}
	layers, err := InferMLP(a)
	if err != nil {
		t.Fatal(err)
	}
	al, err := WeightMatching(a, b, layers, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := ev.Loss(b, dTrain)
	pal, _ := ev.Loss(al.Aligned, dTrain)
	if math.Abs(pb.Loss-pal.Loss) > 1e-5 {
		t.Errorf("aligned B has loss %g, B %g", pal.Loss, pb.Loss)
	}
	after, err := Interpolate(ev, a, al.Aligned, []*Data{dTrain}, PathOptions{NumAlpha: 11})
	if err != nil {
		t.Fatal(err)
	}
	// Results save and load as data.
	file := filepath.Join(t.TempDir(), "path.json")
	if err := SaveJSON(file, after); err != nil {
		t.Fatal(err)
	}
	var back Path
	if err := LoadJSON(file, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Curves[0].Loss, after.Curves[0].Loss) || back.Provenance.Objective != "cross-entropy" {
		t.Errorf("path did not round-trip: %+v", back.Provenance)
	}
}
