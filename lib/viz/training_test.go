package viz

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/train"
)

func TestTrainingPlot(t *testing.T) {
	res := &train.Result{
		History: []train.StepRecord{{Step: 1, Loss: 2, Accuracy: 0.2}, {Step: 2, Loss: 1, Accuracy: 0.5}, {Step: 3, Loss: 0.5, Accuracy: 0.7}},
		Evals:   []train.EvalRecord{{Step: 0, Loss: 2.3, Accuracy: 0.1}, {Step: 3, Loss: 0.6, Accuracy: 0.65}},
	}
	svg, err := Training("run", res).SVG()
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(any)); err != nil {
		t.Fatalf("not well-formed: %v", err)
	}
	for _, want := range []string{"train (per batch)", "test", "accuracy (fraction)", "loss (nats)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	svg, err = TrainingRuns("two", map[string]*train.Result{"ce": res, "gce": res}).SVG()
	if err != nil || !strings.Contains(string(svg), "gce: test") {
		t.Fatalf("TrainingRuns: %v", err)
	}
	if Training("empty", &train.Result{}).Err() == nil || TrainingRuns("none", nil).Err() == nil {
		t.Error("empty runs must be an error")
	}
}

func TestMovingMean(t *testing.T) {
	got := movingMean([]float64{1, 2, 3, 4, 5}, 2)
	want := []float64{1, 1.5, 2.5, 3.5, 4.5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("movingMean = %v, want %v", got, want)
		}
	}
}

func TestSmallMultiplesFreeY(t *testing.T) {
	x := []float64{0, 1, 2}
	f := SmallMultiples("scales", "x", "y", 2, XY("small", x, []float64{0, 1, 2}), XY("large", x, []float64{0, 1000, 2000})).FreeY()
	svg, err := f.SVG()
	if err != nil {
		t.Fatal(err)
	}
	// With its own axis, the small panel gets ticks of its own scale (e.g. "1"), not only 0/1000/2000.
	if !strings.Contains(string(svg), ">1<") && !strings.Contains(string(svg), ">1.0<") && !strings.Contains(string(svg), ">0.5<") {
		t.Errorf("FreeY: the small panel does not show ticks of its own scale")
	}
	shared, _ := SmallMultiples("scales", "x", "y", 2, XY("small", x, []float64{0, 1, 2}), XY("large", x, []float64{0, 1000, 2000})).SVG()
	if string(shared) == string(svg) {
		t.Error("FreeY made no difference")
	}
}
