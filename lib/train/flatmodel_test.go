package train

import (
	"math"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// TestFlatModelGradMatchesFiniteDifferences checks FlatModel.Grad against central differences of
// FlatModel.Evaluate's loss (float32 model, so a loose tolerance on a few coordinates), and that the
// loss agrees with Evaluate on a context holding the same parameters.
func TestFlatModelGradMatchesFiniteDifferences(t *testing.T) {
	set, err := data.Blobs(data.BlobsConfig{N: 24, Classes: 3, Dim: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := models.NewMLP(3, 5)
	f, err := NewFlatModel(m, set, 7)
	if err != nil {
		t.Fatal(err)
	}
	theta := f.Init()
	if len(theta) != 4*5+5+5*3+3 || f.Size() != len(theta) {
		t.Fatalf("size %d, want %d", len(theta), 4*5+5+5*3+3)
	}
	loss, grad, err := f.Grad(theta, set.X, set.Y)
	if err != nil {
		t.Fatal(err)
	}
	met, err := f.Evaluate(theta, set)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(met.Loss-loss) > 1e-6 {
		t.Fatalf("Grad's loss %v, Evaluate's %v", loss, met.Loss)
	}
	ctx, err := f.Context(theta)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Evaluate(m, ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ref.Loss-loss) > 1e-6 || ref.Accuracy != met.Accuracy {
		t.Fatalf("train.Evaluate on the same parameters: %+v, FlatModel: %+v", ref, met)
	}
	h := float32(1e-2)
	for _, i := range []int{0, 7, 19, 22, 30, len(theta) - 1} {
		p := append([]float32{}, theta...)
		p[i] += h
		up, _ := f.Evaluate(p, set)
		p[i] -= 2 * h
		down, _ := f.Evaluate(p, set)
		fd := (up.Loss - down.Loss) / (2 * float64(h))
		if math.Abs(fd-float64(grad[i])) > 2e-3+2e-2*math.Abs(fd) {
			t.Errorf("coordinate %d: gradient %v, finite difference %v", i, grad[i], fd)
		}
	}
	if _, _, err := f.Grad(theta[:3], set.X, set.Y); err == nil {
		t.Error("a short parameter vector was accepted")
	}
	if _, _, err := f.Grad(theta, set.X[:5], set.Y); err == nil {
		t.Error("a batch with too few inputs was accepted")
	}
	bad := append([]int32{}, set.Y...)
	bad[0] = 3
	if _, _, err := f.Grad(theta, set.X, bad); err == nil {
		t.Error("a label outside [0, classes) was accepted")
	}
}

// BenchmarkFlatModelGrad measures one batch-32 gradient of an MLP 196-128-10.
func BenchmarkFlatModelGrad(b *testing.B) {
	set, err := data.Blobs(data.BlobsConfig{N: 32, Classes: 10, Dim: 196, Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	f, err := NewFlatModel(models.NewMLP(10, 128), set, 1)
	if err != nil {
		b.Fatal(err)
	}
	theta := f.Init()
	for b.Loop() {
		if _, _, err := f.Grad(theta, set.X, set.Y); err != nil {
			b.Fatal(err)
		}
	}
}
