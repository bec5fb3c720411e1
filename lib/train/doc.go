// Package train is LossLab's training engine: every method package trains through it.
//
// Classifiers of lib/models train with Run (and RunPair, two runs that differ only in data order):
// GoMLX's trainer with an Optimizer (SGD with momentum, Adam, AdamW; warm-up and cosine schedules),
// a lib/losses objective or a custom loss, evaluation, snapshots and checkpoints (SaveCheckpoint,
// LoadCheckpoint, …). Stepper takes Run's steps one at a time. Spawn trains Frankle et al.'s
// spawn experiment (a parent, and pairs of children from its checkpoints).
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
// IsModelVariable tells a model's variables from the training machinery's; Params, Flat and their
// setters move a model's parameters between a context and the host.
package train
