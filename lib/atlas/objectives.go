package atlas

import (
	"fmt"

	"github.com/losslab/losslab/lib/losses"
)

// Entry names one objective of the atlas: a lib/losses registry name and hyperparameters (defaults for
// those not given).
type Entry struct {
	Name   string
	Params losses.Params `json:",omitempty"`
}

// Skip is an objective the atlas did not train, and why.
type Skip struct {
	Entry  Entry
	Paper  string
	Reason string
}

// notTrainable lists the registered classification objectives that lib/train cannot train on their own
// as a classifier's loss, with the reason. Their graphs take "logits" and "labels", but the logits mean
// something else, or the labels are ignored.
var notTrainable = map[string]string{
	"dverge": "needs the logits of one ensemble member on the other members' distilled (feature-matched " +
		"adversarial) batches, stacked: an ensemble and a distillation step that train.Run does not make",
	"ca-calib": "a post-hoc calibration loss: it trains a temperature calibrator on a frozen classifier's " +
		"logits (its gradient does not move the arg-max towards the label), not a classifier from scratch",
	"logit-z-reg": "a regulariser that ignores the labels: trained alone it learns no classes " +
		"(ce-logit-z is cross-entropy plus it, and is in the atlas)",
}

// notes records caveats of objectives that are trained, but not in their paper's full setting.
var notes = map[string]string{
	"done":     "trained on clean inputs: the paper's adversarial examples (lib/attack) are not part of train.Run",
	"done-dro": "trained on clean inputs: the paper's adversarial examples (lib/attack) are not part of train.Run",
}

// SkipReason returns why the atlas does not train the named objective ("" when it does).
func SkipReason(name string) string { return notTrainable[name] }

// DefaultObjectives returns "ce" and then every other registered classification objective with its
// default hyperparameters, by paper and name: every paper with a classification objective is there.
// Those the atlas cannot train are included too, so that the atlas lists them with the reason (Skipped).
func DefaultObjectives() []Entry {
	out := []Entry{{Name: "ce"}}
	for _, o := range losses.All() {
		if o.Kind == losses.Classification && o.Name != "ce" {
			out = append(out, Entry{Name: o.Name})
		}
	}
	return out
}

// resolve looks the entry up and fills in its hyperparameters' defaults. Unknown names, other kinds and
// bad hyperparameters are errors.
func resolve(e Entry) (*losses.Objective, losses.Params, error) {
	o, err := losses.Lookup(e.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("atlas: %w", err)
	}
	if o.Kind != losses.Classification {
		return nil, nil, fmt.Errorf("atlas: objective %q is of kind %s; the atlas trains classifiers (kind classification)", o.Name, o.Kind)
	}
	p, err := o.Resolve(e.Params)
	if err != nil {
		return nil, nil, fmt.Errorf("atlas: %w", err)
	}
	return o, p, nil
}
