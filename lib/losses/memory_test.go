package losses

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// An objective with B×B intermediates (pairwise similarities, risk sets) on a batch too large for
// memory (40,000 rows of 2 features: supcon asked for 12.8 GB, icnn for 25.6 GB) is an error naming
// the size and the limit, estimated before anything is run, not Go's fatal "out of memory".
func TestEvaluateTooLarge(t *testing.T) {
	const b = 40000
	features := make([]float32, 2*b)
	labels := make([]int32, b)
	times := make([]float32, b)
	for i := range b {
		features[2*i], features[2*i+1] = float32(i%7), float32(i%5)
		labels[i] = int32(i % 10)
		times[i] = float32(i)
	}
	embedding := func() map[string]*tensors.Tensor {
		return map[string]*tensors.Tensor{
			"features": tensors.FromFlatDataAndDimensions(features, b, 2),
			"labels":   tensors.FromFlatDataAndDimensions(labels, b),
		}
	}
	events := make([]int32, b)
	for i := range events {
		events[i] = int32(i % 2)
	}
	survival := map[string]*tensors.Tensor{
		"predictions": tensors.FromFlatDataAndDimensions(features[:b], b),
		"times":       tensors.FromFlatDataAndDimensions(times, b),
		"events":      tensors.FromFlatDataAndDimensions(events, b),
	}
	for _, name := range []string{"supcon", "amcl", "gpam", "proto-triplet", "icnn", "km-risk"} {
		in := embedding()
		if name == "km-risk" {
			in = survival
		}
		_, err := Evaluate(name, in, nil)
		if err == nil || !strings.Contains(err.Error(), "GB") || !strings.Contains(err.Error(), "MaxGraphBytes") {
			t.Errorf("%s on B=%d: error %v, want one naming the memory needed and the limit", name, b, err)
		} else {
			t.Log(err)
		}
	}
	// The refusal leaves the objective usable on a batch of a sensible size.
	small := map[string]*tensors.Tensor{
		"features": tensors.FromFlatDataAndDimensions(features[:16], 8, 2),
		"labels":   tensors.FromFlatDataAndDimensions(labels[:8], 8),
	}
	if _, err := Evaluate("supcon", small, nil); err != nil {
		t.Errorf("supcon on 8 rows after a refusal: %v", err)
	}
}
