// Package grokking holds the pieces of Li, Fan and Zhou, "Where to find Grokking in LLM
// Pretraining? Monitor Memorization-to-Generalization without Test" (arXiv:2506.21551): small networks
// for modular arithmetic that grok (memorise the training pairs first, generalise much later), a tiny
// mixture-of-experts (MoE) variant, and the paper's two training-data-only metrics of an MoE's routing.
//
// # Pathways and the two metrics
//
// For a sample, the pathway is the sequence of experts its router picks, layer by layer: at each MoE
// layer ℓ the top-k experts by router weight, in descending order of weight (ties: lower expert id),
// each tagged with ℓ (Hop), concatenated (Pathway).
//
//   - Pathway distance: d(i, j) = Levenshtein distance between two pathways (unit costs; hops are equal
//     iff layer and expert agree). D̄ = mean over pairs of a monitoring set (MeanPathwayDistance), also
//     divided by the pathway length H·k. The paper's claim: D̄ falls as the model moves from memorisation
//     to generalisation.
//   - Pathway consistency: with expert embeddings u_{ℓ,j} (default: the router column of expert j),
//     v_ℓ = Σ_{j∈top-k} w̃_{ℓ,j} u_{ℓ,j} with w̃ the top-k weights renormalised, and
//     c = mean over ℓ of cos(v_ℓ, v_{ℓ+1}) (Consistency); complexity = 1 − c. The claim: consistency
//     rises during grokking.
//
// Our choices where the paper's text could not be verified: the order inside a layer counts (swapping
// a layer's two experts costs 2 edits), single-token samples need no token aggregation, the expert
// embedding is the router column, and D̄ is normalised by H·k.
//
// # Models and training
//
// Model builds a network for a ∘ b mod P on one-hot operand pairs (data.Modular with OneHot): a shared
// embedding of both operands, then either a dense hidden layer or residual MoE blocks (Config), and
// trains it full-batch with AdamW with decoupled weight decay (Optimizer, Model.Train), logging train
// and test accuracy and handing the parameters to an observer, which can compute the routing
// (Model.Route) and its metrics (Routing.Metrics) along the run. Parameters are plain host slices
// (Params), so paths between checkpoints are a Lerp away.
package grokking
