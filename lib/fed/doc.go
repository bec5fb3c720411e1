// Package fed simulates federated learning on one machine: FedAvg (McMahan et al. 2017), FedProx
// (Li et al. 2020) and FedLEx (Internò et al., IJCNN 2024), all on host-side parameter vectors of a
// lib/train FlatModel, so every client and the server share one compiled model.
//
// A round r samples m = max(⌊C·K⌋, 1) of the K clients without replacement; each sampled client k
// starts from the global θ^r and trains E local epochs (minibatches of B, SGD or Adam, learning rate
// lr·γ^(r−1)); the server forms the pseudo-gradient
//
//	Δ^r = Σ_k (n_k / Σ_j n_j)(θ^r − θ_k),   v ← β·v + (1 − β)·Δ^r,   θ^(r+1) = θ^r − v
//
// (β = 0: plain weighted averaging). FedProx adds μ(w − θ^r) to each local gradient. FedLEx first
// explores (Explore): a base model trained one epoch on the first scout's data, scouts trained from it,
// and the guidance matrix G = MinMax(mean_c (θ_c − θ_base)²) per parameter tensor; every local gradient
// is then multiplied elementwise by G (after the proximal term) before the optimizer step.
//
// Everything is deterministic given the seeds: client sampling and each client's data order depend
// only on Config.Seed, the round and the client, never on the method, so methods compared with the same
// seed see the same clients and batches (FedLEx with G ≡ 1 and FedProx with μ = 0 reproduce FedAvg bit
// for bit).
package fed
