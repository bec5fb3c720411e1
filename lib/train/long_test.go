package train

import (
	"os"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// TestFashionMNISTMLP trains a 2-layer MLP (784-256-10) on Fashion-MNIST for 3 epochs with Adam and
// requires ≥ 85% test accuracy. Long (about a minute on 2 cores): it runs only with LOSSLAB_LONG=1.
//
//	LOSSLAB_LONG=1 go test -tags=noxla -run FashionMNIST -timeout 20m ./lib/train
func TestFashionMNISTMLP(t *testing.T) {
	if os.Getenv("LOSSLAB_LONG") != "1" {
		t.Skip("long test: set LOSSLAB_LONG=1")
	}
	trainSet, err := data.FashionMNIST("train")
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := data.FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Config{
		Model: models.NewMLP(10, 256), Train: trainSet, Test: testSet,
		Optimizer: Adam(1e-3).WithCosine(1e-5), BatchSize: 128, Epochs: 3, Seed: 1, Silent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	final, _ := res.Final()
	t.Logf("%s after %d steps (%v): test loss %.4f, test accuracy %.4f", res.Model.Name(), res.Steps, res.Elapsed, final.Loss, final.Accuracy)
	if final.Accuracy < 0.85 {
		t.Fatalf("test accuracy %.4f < 0.85", final.Accuracy)
	}
}
