// Package losses holds the objective of every paper LossLab covers, as GoMLX graph functions in one
// registry, findable by name and evaluable on any small batch.
//
// Each objective is described by an Objective: a lower-case name ("ldr-kl", "z-loss"), the short id of
// its paper (that of the paper's notebook, "09-ldr"), its input Kind, its hyperparameters with defaults and valid ranges, a one-line
// summary, and the graph function. The math of each objective is in the doc comment of its file's
// exported function.
//
// A paper's machinery that is not an objective lives with its method: Normalized LR+GD's steps and
// optimizer in lib/normlr, EQ-Net's elastic quantiser in lib/eqnet, AMCL's temperature network in
// lib/amcl, DVERGE's feature distillation in lib/dverge. ResolveClassifier is the one place that turns a
// classification objective's name into a loss for training (lib/train), the landscape engine and attacks.
//
// # Input kinds
//
//   - classification: "logits" float [B,K], "labels" int [B].
//   - binary: "scores" float [B], "labels" int [B] in {0,1}.
//   - distillation: "student" float [B,K], "teacher" float [B,K], "labels" int [B]; optional
//     "student_features" and "teacher_features" float [B,D].
//   - embedding: "features" float [B,D], "labels" int [B].
//   - retrieval: "scores" float [Q,N], "positives" 0/1 [Q,N].
//   - survival: "predictions" float [B], "times" float [B], "events" 0/1 [B].
//
// Integer inputs are int32 in graphs. Objectives with state (per-example temperatures, per-class status,
// balance weights) expose the state and its update as explicit functions; evaluating the objective alone
// uses the documented initial state.
//
// # Using an objective
//
// From any Go program, Evaluate checks a batch of tensors against the objective's kind, runs the graph on
// the backend chosen by lib/backend and returns the loss, the per-example losses and the gradient of the
// loss with respect to every float input:
//
//	res, err := losses.Evaluate("ldr-kl", map[string]*tensors.Tensor{
//		"logits": tensors.FromValue([][]float32{{2, 1, 0.1}}),
//		"labels": tensors.FromValue([]int32{0}),
//	}, losses.Params{"lambda": 1})
//
// Inside a graph, the exported functions (CrossEntropy, CompSum, LDRKL, ZLoss, ...) take nodes directly.
// TrainLoss adapts a classification objective to GoMLX's train.LossFn signature (labels [B] or [B,1],
// logits [B,K]), and GraphLoss gives any objective's mean loss from a Batch of nodes.
//
// The command `losslab objective list [--json]` lists the registry, and
// `losslab objective eval NAME [--set k=v,...] [--seed N]` evaluates an objective on a JSON batch read
// from stdin (DecodeInputs, Result.MarshalJSON), for cross-checks against other implementations.
//
// # Workarounds
//
// The pure-Go backend cannot differentiate Slice (it lacks Pad), so objectives pick the true-class entry
// with one-hot products and mask with Where. GoMLX v0.26 defines no gradient for Expm1; compsum.go uses
// an exact detached-value construction instead (see expm1).
package losses
