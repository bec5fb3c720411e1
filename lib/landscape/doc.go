// Package landscape explores loss landscapes and linear mode connectivity (LMC) of GoMLX models.
//
// A model's parameters are a ParamSet: named tensors grouped by layer (or any grouping), read from a live
// context or a checkpoint, with float64 arithmetic on the host. An Evaluator computes loss and error at
// many parameter points θ = θ₀ + Σ_m c_m·d_m with one compiled program, the data resident on the device.
// On top of it: 1-D interpolation paths with barriers (linear-chord, mean/instability, midpoint gap) and
// adaptive refinement, layer-wise LMC, 2-D planes (three points, filter-normalised random directions,
// PCA of a trajectory) with resumable grids, alignment of two networks modulo permutations of hidden
// units and CNN channels (a general PermSpec; one Matcher interface for the three methods of Ainsworth
// et al., "Git Re-Basin", ICLR 2023: WeightMatcher, ActivationMatcher on activations from a ProbeFn such
// as ModelProbe, and STEMatcher, straight-through learning of the midpoint loss), REPAIR and RESET of
// interpolated networks' statistics (Jordan et al., ICLR 2023: Repair, RepairPath), curvature
// (Hessian-vector products, top eigenvalue, trace, the top-k eigenvalues by Lanczos and the eigenvalue
// density by stochastic Lanczos quadrature as in Yao et al.'s PyHessian: TopEigenvalues,
// SpectralDensity; and the barrier predictors of Singh et al., "Landscaping Linear Mode
// Connectivity", arXiv:2406.16300), trained Bézier and polygonal-chain
// curves between two points (Garipov et al.), BatchNorm statistics re-estimated at each point, and
// barriers between runs spawned from one parent at chosen steps (Frankle et al.'s instability analysis:
// train.Spawn trains the runs, SpawnBarriers measures them).
//
// It works on lib/models' models directly: FromModel(m) is the forward function, FromContext(res.Context,
// nil) reads a lib/train run's parameters (one group per layer scope, BatchNorm statistics as State),
// FromCheckpoint reads lib/train's checkpoint folders and FromSet converts a lib/data Set.
//
// Barriers along φ(α) = L((1−α)θ_A + αθ_B):
//
//	B_lin  = max_α [φ(α) − ((1−α)φ(0) + αφ(1))]      (Entezari et al.; the default)
//	B_mean = max_α φ(α) − ½(φ(0) + φ(1))               (Frankle et al.'s instability)
//	G_mid  = φ(½) − ½(φ(0) + φ(1))                     (midpoint gap)
//
// each also relative to ½(φ(0)+φ(1)).
//
// Every result is plain data with its Provenance and can be saved and loaded as JSON (SaveJSON, LoadJSON).
package landscape
