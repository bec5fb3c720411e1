// Package data holds LossLab's datasets: Fashion-MNIST read from the Debian package
// dataset-fashion-mnist, small synthetic sets made in Go, the transforms that papers apply to them
// (label noise, class imbalance, non-IID client splits, censoring, few-shot episodes, augmented
// views, patch masks), and deterministic batching.
//
// Everything is plain Go on float32/int32 slices; lib/train turns batches into tensors.
//
// # Sets
//
// A Set is an in-memory dataset: N examples, each with a feature block of shape Shape stored
// row-major in X, a class label in Y and a stable integer id in IDs. Ids survive every transform
// (Subset, LabelNoise, LongTail, Split, ...), so objectives with per-example state (temperatures,
// running scores) can key it on them.
//
// Transforms never modify their input. A transform that changes only labels or order may share the
// X backing array with its input: treat X as read-only, or Clone the set before writing to it.
//
// # Contents
//
//   - Real data: FashionMNIST.
//   - Synthetic sets: Blobs, Moons, Spirals, Separable (margin), SparseParity, Modular (a∘b mod p),
//     Survival (known hazards), Shapes and TileSegmentation (SegSet: pixel masks and boundaries).
//   - Transforms: LabelNoise, LongTail, DirichletSplit / IIDSplit / PathologicalSplit, Censor,
//     EpisodeSampler (N-way K-shot), Augmenter (two augmented views), PatchMasker and Patchify,
//     Set.Split, Set.FilterClasses, Set.Downsample, Set.Normalize.
//   - Batching: Batcher (shuffled, epoch after epoch) and Set.Batches (in order, for evaluation).
//
// # Determinism
//
// Every random choice comes from math/rand/v2's PCG generator with an explicit seed taken from the
// caller, so the same call with the same seed returns the same set on every run and machine.
// Different parts of one generator use different PCG streams, so, e.g., a blob task's class centres
// do not depend on how many examples are drawn.
//
// # Fashion-MNIST
//
// FashionMNIST reads the four idx .gz files from /usr/share/datasets/fashion-mnist, or from the
// folder named by $LOSSLAB_FASHION_MNIST when set. See FashionMNIST for the scaling and options.
package data
