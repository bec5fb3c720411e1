// Package train trains LossLab's classifiers (lib/models) on its data sets (lib/data) with GoMLX.
//
// Run trains one model under a Config: a classification objective from lib/losses by name ("ce" by
// default, resolved by losses.ResolveClassifier) or a custom LossFn, an Optimizer (SGD, Adam, AdamW, with
// a learning-rate schedule), a fixed data order from its seeds, periodic evaluation, in-memory snapshots
// of the parameters and checkpoints on disk; RunPair trains two runs that differ only in their data order.
// Stepper runs the same steps one at a time, for benchmarks and callers that interleave their own work.
//
// Around the loop: Evaluate and EvaluateLoss measure a trained model on a set; SaveCheckpoint,
// ListCheckpoints, FindCheckpoint and LoadCheckpoint* keep runs on disk (atomically written, locked, and
// checked against their metadata when read); Params, Flat, SetFlat and ParamLayout move a model's
// parameters between a GoMLX context and plain Go values; FlatModel evaluates a classifier at parameter
// vectors held on the host, for loops (federated averaging, projections) that keep their state there.
package train
