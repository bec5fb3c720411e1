// Package train is LossLab's training engine: every method package trains through it.
//
// Classifiers of lib/models train with Run under a Config: a classification objective from lib/losses
// by name ("ce" by default, resolved by losses.ResolveClassifier) or a custom LossFn, an Optimizer (SGD
// with momentum, Adam, AdamW; warm-up and cosine schedules), a fixed data order from its seeds, periodic
// evaluation, in-memory snapshots of the parameters and checkpoints on disk; RunPair trains two runs that
// differ only in their data order. Stepper takes Run's steps one at a time, for benchmarks and callers
// that interleave their own work. Spawn trains Frankle et al.'s spawn experiment (a parent, and pairs of
// children from its checkpoints).
//
// Methods whose training is not a classifier's build on three steps:
//
//   - ContextStep: a compiled step over the variables of a GoMLX context with any loss graph and any
//     GoMLX optimizer (adversarial training in lib/attack, episodic training in lib/fewshot).
//   - ParamStep: a compiled step over explicit parameters (a ParamList on the host, tensors between
//     steps) with any loss graph and per-step inputs, AdamW or SGD with hyperparameters fed as inputs
//     so one program serves every schedule and run, and a run loop with a hook between steps
//     (lib/grokking, lib/proxies).
//   - HostOptimizer: SGD or Adam on a flat parameter vector on the host, for methods that work on the
//     gradient before the update (lib/fed, lib/nap, landscape.TrainCurve and STEMatcher).
//
// Around the loop: Evaluate and EvaluateLoss measure a trained model on a set; SaveCheckpoint,
// ListCheckpoints, FindCheckpoint and LoadCheckpoint* keep runs on disk (atomically written, locked, and
// checked against their metadata when read); IsModelVariable tells a model's variables from the training
// machinery's; Params, Flat, SetFlat and ParamLayout move a model's parameters between a GoMLX context
// and plain Go values; FlatModel evaluates a classifier at parameter vectors held on the host, for loops
// (federated averaging, projections) that keep their state there.
package train
