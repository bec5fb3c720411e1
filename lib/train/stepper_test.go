package train

import (
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// TestStepperMatchesRun checks that Stepper takes exactly Run's steps (same initialisation, data order
// and optimizer: the same per-step losses) and compiles its step once.
func TestStepperMatchesRun(t *testing.T) {
	set, err := data.Blobs(data.BlobsConfig{N: 96, Classes: 3, Dim: 4, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Model: models.NewMLP(3, 8), Train: set, Optimizer: Adam(1e-2), BatchSize: 16, Steps: 8, Seed: 3, DataSeed: 4, Silent: true}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStepper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range res.History {
		loss, acc, err := st.Step()
		if err != nil {
			t.Fatal(err)
		}
		if loss != rec.Loss || acc != rec.Accuracy {
			t.Fatalf("step %d: Stepper loss %v acc %v, Run loss %v acc %v", i+1, loss, acc, rec.Loss, rec.Accuracy)
		}
	}
	if got := st.Compilations(); got != 1 {
		t.Errorf("Stepper built the model %d times in %d steps, want 1", got, len(res.History))
	}
	if st.Context() == nil || NumParams(st.Context()) == 0 {
		t.Error("Stepper's context holds no parameters")
	}
	if _, err := NewStepper(Config{Train: set}); err == nil {
		t.Error("NewStepper accepted a config without a model")
	}
}
