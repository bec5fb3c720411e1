// Package losses holds the objective of every paper LossLab covers, as GoMLX graph functions in one
// registry, findable by name and evaluable on any small batch.
//
// Each objective is described by an Objective: a lower-case name ("ldr-kl", "z-loss"), the id of its
// paper's spec ("09-ldr"), its input Kind, its hyperparameters with defaults and valid ranges, a one-line
// summary, and the graph function. The math of each objective is in the doc comment of its file's
// exported function.
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
package losses
