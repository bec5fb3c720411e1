package losses

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// OfKind returns the registered objectives of one input kind, in All's order.
func OfKind(k Kind) []*Objective {
	var out []*Objective
	for _, o := range All() {
		if o.Kind == k {
			out = append(out, o)
		}
	}
	return out
}

// MarginProfile describes a classification objective's shape: for each margin m it evaluates the
// objective on K-class logits where the true class has logit m and every other class 0, so that m is the
// true-class margin. It returns the per-example loss ℓ(m) and its slope dℓ/dm (the gradient with respect
// to the true-class logit), computed in float64 in one batch.
//
// Objectives that are not a per-example mean (batch-level ones) have no such profile: an error says so.
func MarginProfile(name string, p Params, classes int, margins []float64) (loss, slope []float64, err error) {
	o, err := Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if o.Kind != Classification {
		return nil, nil, fmt.Errorf("MarginProfile: objective %q is of kind %q, not classification", name, o.Kind)
	}
	if !o.PerExample {
		return nil, nil, fmt.Errorf("MarginProfile: objective %q is batch-level, so a per-example margin profile is not defined", name)
	}
	if classes < 2 {
		return nil, nil, fmt.Errorf("MarginProfile: need at least 2 classes, got %d", classes)
	}
	b := len(margins)
	if b == 0 {
		return nil, nil, fmt.Errorf("MarginProfile: no margins given")
	}
	logits := make([][]float64, b)
	labels := make([]int32, b)
	for i, m := range margins {
		logits[i] = make([]float64, classes)
		logits[i][0] = m
	}
	res, err := Evaluate(name, map[string]*tensors.Tensor{
		"logits": tensors.FromValue(logits),
		"labels": tensors.FromValue(labels),
	}, p)
	if err != nil {
		return nil, nil, err
	}
	slope = make([]float64, b)
	for i := range slope {
		// Grad is of the batch mean: scale back to the example's own loss.
		slope[i] = res.Grad["logits"][i*classes] * float64(b)
	}
	return res.PerExample, slope, nil
}
