// Package nap implements Normalize-and-Project (NaP; Lyle et al., "Normalization and effective
// learning rates in reinforcement learning", NeurIPS 2024) for MLP classifiers, and the tools to watch
// effective learning rates.
//
// Normalize: every hidden layer is z = x·W (no bias), LayerNorm, then the nonlinearity, so the network
// is invariant to W → cW (c > 0) for every hidden W. For such a block, SGD's effective learning rate
// is η/‖W‖² (Adam's ≈ η/‖W‖), and the norm only grows under SGD (‖w'‖² = ‖w‖² + η²‖g‖²): an implicit,
// uncontrolled learning-rate decay. Project: after each optimizer step every projected block is
// rescaled to its initial norm, W ← W·r/‖W‖ (and each LayerNorm's (gain, offset) pair jointly to its
// initial norm √n), which keeps the effective learning rate constant.
//
// MLP is the model (plain, LayerNorm-only or the NaP architecture), Projector the projection step on
// host parameter vectors of a lib/train FlatModel, Trainer a host-side SGD/Adam loop with optional
// projection and per-tensor learning rates, and RunTasks the plasticity benchmark of a sequence of
// label-reshuffled tasks.
package nap
