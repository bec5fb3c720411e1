package losses

import (
	"errors"
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Classifier is a classification objective with its hyperparameters resolved: what training
// (lib/train), the landscape engine (lib/landscape) and attacks (lib/attack) apply to a model's logits.
type Classifier struct {
	// Objective is the registry entry; its Kind is Classification.
	Objective *Objective
	// Params are its hyperparameters, defaults filled in and checked.
	Params Params
}

// ErrNotClassification is wrapped by ResolveClassifier's error for an objective of another kind.
var ErrNotClassification = errors.New("not a classification objective (logits, labels)")

// ResolveClassifier looks name up in the registry ("" means "ce"), checks that it is a classification
// objective (inputs logits [B,K] and labels [B]) and resolves its hyperparameters p. Its errors name the
// problem: an unknown objective (with the nearest registered name), an objective of another kind, or a
// hyperparameter that is unknown or out of range.
func ResolveClassifier(name string, p Params) (Classifier, error) {
	if name == "" {
		name = "ce"
	}
	o, err := Lookup(name)
	if err != nil {
		return Classifier{}, err
	}
	if o.Kind != Classification {
		return Classifier{}, fmt.Errorf("objective %q is of kind %s: %w", o.Name, o.Kind, ErrNotClassification)
	}
	params, err := o.Resolve(p)
	if err != nil {
		return Classifier{}, err
	}
	return Classifier{Objective: o, Params: params}, nil
}

// Name is the objective's registry name.
func (c Classifier) Name() string { return c.Objective.Name }

// PerExample reports whether Loss gives one loss per example [B]; otherwise it gives the batch's loss, a
// scalar that is not a mean of per-example terms.
func (c Classifier) PerExample() bool { return c.Objective.PerExample }

// Loss builds the objective on logits [B,K] and int32 labels [B]: per-example losses [B] when PerExample,
// else the batch's scalar loss.
func (c Classifier) Loss(logits, labels *Node) *Node {
	return c.Objective.Fn(Batch{"logits": logits, "labels": labels}, c.Params)
}
