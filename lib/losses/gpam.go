package losses

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// GPAM: Guo et al., "Few-shot Open Relation Extraction with Gaussian Prototype and
// Adaptive Margin", arXiv 2410.20320.
//
// RECONSTRUCTION: only the paper's abstract could be read. The Gaussian-prototype metric, the adaptive
// margin and the NOTA-aware contrastive loss below are the project's concrete reading of that abstract,
// NOT the paper's equations; names, defaults and details are our choices.

func init() {
	Register(Objective{
		Name: "gpam", Paper: "19-gpam", Kind: Embedding, PerExample: true,
		Summary: "RECONSTRUCTION of GPAM: additive-margin softmax over Gaussian-prototype NLLs and a NOTA threshold ρ (labels < 0 = NOTA)",
		Params: []Param{
			{Name: "rho", Default: 3, Min: 0, Max: math.Inf(1), MinOpen: true,
				Doc: "NOTA distance threshold ρ (learned via softplus in training; a constant here)"},
			{Name: "sigma0sq", Default: 0.1, Min: 0, Max: math.Inf(1), MinOpen: true,
				Doc: "variance floor σ₀² added to every class variance"},
			{Name: "kappa", Default: 1, Min: 0, Max: math.Inf(1),
				Doc: "adaptive margin factor: m_c = κ·mean_j σ_cj"},
			{Name: "m0", Default: 0.2, Min: 0, Max: math.Inf(1), Doc: "margin of NOTA queries beyond ρ"},
			{Name: "tau", Default: 1, Min: 0, Max: math.Inf(1), MinOpen: true, Doc: "temperature of the logits"},
		},
		Fn: func(b Batch, p Params) *Node {
			return GPAMBatch(b["features"], b["labels"], p["rho"], p["sigma0sq"], p["kappa"], p["m0"], p["tau"])
		},
	})
}

// GaussianPrototypes returns the diagonal Gaussian of each class from support embeddings [S,D], a
// float 0/1 membership matrix [S,N] (membership[s,c] = 1 when support s belongs to class c) and the
// variance floor σ₀² (a scalar or [D] node: a constant, or softplus of a learned vector):
//
//	μ_c  = (1/K_c) Σ_{s∈c} x_s,    σ²_c = (1/K_c) Σ_{s∈c} (x_s - μ_c)² + σ₀²
//
// (K_c the number of supports of class c; a class without supports gets μ = 0, σ² = σ₀²). Returns μ [N,D]
// and σ² [N,D]; both are differentiable in the supports.
func GaussianPrototypes(support, membership, sigma0Sq *Node) (mu, variance *Node) {
	d := support.Shape().Dimensions[support.Rank()-1]
	if sigma0Sq.Rank() > 1 || (sigma0Sq.Rank() == 1 && sigma0Sq.Shape().Dimensions[0] != d) {
		panicf("GaussianPrototypes: the variance floor σ₀² must be a scalar or [D] = [%d], got %s", d, sigma0Sq.Shape())
	}
	membership = ConvertDType(membership, support.DType())
	floor := ConvertDType(sigma0Sq, support.DType())
	if floor.Rank() == 1 {
		floor = InsertAxes(floor, 0) // [1,D] against [N,D]
	}
	mu = ClassPrototypes(support, membership)                       // [N,D]
	diff := Sub(InsertAxes(support, 1), InsertAxes(mu, 0))          // [S,N,D]
	sq := Mul(Square(diff), InsertAxes(membership, -1))             // only members count
	count := MaxScalar(InsertAxes(ReduceSum(membership, 0), -1), 1) // [N,1]
	variance = Add(Div(ReduceSum(sq, 0), count), floor)             // [N,D]
	return mu, variance
}

// GaussianDistances returns the class negative log-likelihood (up to a constant) of each query under each
// class's diagonal Gaussian, d [Q,N]:
//
//	d_c(q) = ½ Σ_j (q_j - μ_cj)² / σ²_cj + ½ Σ_j log σ²_cj
//
// With equal priors p(c | q, known) = softmax_c(-d_c(q)); d can be negative (log σ² < 0). σ² must already
// include the floor (GaussianPrototypes adds it). With σ² ≡ 1 it is ½‖q - μ_c‖².
func GaussianDistances(queries, mu, variance *Node) *Node {
	if queries.Rank() != 2 || mu.Rank() != 2 || !variance.Shape().Equal(mu.Shape()) ||
		queries.Shape().Dimensions[1] != mu.Shape().Dimensions[1] {
		panicf("GaussianDistances: want queries [Q,D], μ [N,D] and σ² [N,D], got %s, %s and %s", queries.Shape(), mu.Shape(), variance.Shape())
	}
	diff := Sub(InsertAxes(queries, 1), InsertAxes(mu, 0)) // [Q,N,D]
	maha := ReduceSum(Div(Square(diff), InsertAxes(variance, 0)), -1)
	logDet := ReduceSum(Log(variance), -1) // [N]
	return MulScalar(Add(maha, InsertAxes(logDet, 0)), 0.5)
}

// GPAMMargins returns the adaptive margin of each class, m_c = κ · mean_j σ_cj, [N], from σ² [N,D].
func GPAMMargins(variance *Node, kappa float64) *Node {
	return MulScalar(ReduceMean(Sqrt(variance), -1), kappa)
}

// GPAMLoss returns the NOTA-aware additive-margin loss of each query, [Q] (RECONSTRUCTION, see the file
// comment). Inputs: distances d [Q,N] (GaussianDistances), margins m [N] (GPAMMargins, or fixed values),
// the queries' 0/1 class indicators y [Q,N] in d's dtype (one 1 per known query; an all-zero row is a
// NOTA query), classMask bool [N] marking which columns are real classes (nil: all), the threshold ρ
// (a scalar node, e.g. softplus of a learned variable), the NOTA margin m₀ and the temperature τ:
//
//	known query (class y):  ℓ_y = -(d_y + m_y)/τ,  ℓ_c = -d_c/τ (c ≠ y),  ℓ_NOTA = -ρ/τ
//	NOTA query:             ℓ_c = -d_c/τ,                               ℓ_NOTA = -(ρ + m₀)/τ
//	L_q = logsumexp(ℓ) - ℓ_target
//
// A known query must lie inside its class's range with room m_y; a NOTA query must be farther than
// ρ + m₀ from every class. Prediction is argmax over {-d_1, …, -d_N, -ρ}. The log-sum-exp over the
// classes and the NOTA logit subtracts a detached max; masked-out classes enter through Where only.
func GPAMLoss(dist, margins, queryClasses, classMask, rho *Node, m0, tau float64) *Node {
	if !(tau > 0) {
		panicf("GPAMLoss: tau=%g must be > 0", tau)
	}
	if dist.Rank() != 2 || !queryClasses.Shape().Equal(dist.Shape()) {
		panicf("GPAMLoss: distances and query classes must both be [Q,N], got %s and %s", dist.Shape(), queryClasses.Shape())
	}
	q, n := dist.Shape().Dimensions[0], dist.Shape().Dimensions[1]
	if margins.Rank() != 1 || margins.Shape().Dimensions[0] != n {
		panicf("GPAMLoss: margins must be [N] = [%d], got %s", n, margins.Shape())
	}
	g, dtype := dist.Graph(), dist.DType()
	if classMask == nil {
		classMask = BroadcastToDims(Const(g, true), n)
	}
	rho = ConvertDType(Reshape(rho), dtype)
	y := ConvertDType(queryClasses, dtype)
	isNota := OneMinus(ReduceSum(y, -1))                                     // [Q]
	logits := DivScalar(Neg(Add(dist, Mul(y, InsertAxes(margins, 0)))), tau) // [Q,N]
	notaLogit := DivScalar(Neg(Add(rho, MulScalar(isNota, m0))), tau)        // [Q]
	valid := BroadcastToDims(InsertAxes(classMask, 0), q, n)
	lowest := BroadcastToDims(Infinity(g, dtype, -1), q, n)
	m := StopGradient(Max(ReduceMax(Where(valid, logits, lowest), -1), notaLogit)) // [Q]
	e := Exp(Where(valid, Sub(logits, InsertAxes(m, -1)), lowest))
	lse := Add(m, Log(Add(ReduceSum(e, -1), Exp(Sub(notaLogit, m)))))
	target := Add(ReduceSum(Mul(Where(valid, logits, ZerosLike(logits)), y), -1), Mul(isNota, notaLogit))
	return Sub(lse, target)
}

// GPAMBatch is the registry's form of GPAM on an embedding batch (features [B,D], labels [B]): the batch
// is one episode whose known classes are the distinct labels >= 0 and whose supports are all rows of
// those classes; every row is also a query, and rows with a negative label are NOTA queries (supports of
// no class). So the prototypes include the query itself (a transductive stand-in for a support/query
// split, which GaussianPrototypes + GaussianDistances + GPAMLoss take directly). Margins are adaptive
// (κ), ρ is a constant.
func GPAMBatch(features, labels *Node, rho, sigma0Sq, kappa, m0, tau float64) *Node {
	if features.Rank() != 2 {
		panicf("gpam: features must be [B,D], got shape %s", features.Shape())
	}
	bsz := features.Shape().Dimensions[0]
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != bsz {
		panicf("gpam: labels must be [B] with B=%d, got shape %s", bsz, labels.Shape())
	}
	membership, classMask := batchClassColumns(labels, features.DType())
	g, dtype := features.Graph(), features.DType()
	mu, variance := GaussianPrototypes(features, membership, Scalar(g, dtype, sigma0Sq))
	d := GaussianDistances(features, mu, variance)
	margins := GPAMMargins(variance, kappa)
	return GPAMLoss(d, margins, membership, classMask, Scalar(g, dtype, rho), m0, tau)
}

// batchClassColumns turns integer labels [B] (any ids; negative = no class) into class columns without
// knowing the number of classes: column j stands for the class of row j when row j is the first row with
// that label and the label is >= 0 (classMask [B] bool). membership [B,B] (float) has a 1 where row i
// belongs to the class of column j. Built from comparisons only (no gradient is involved).
func batchClassColumns(labels *Node, dtype dtypes.DType) (membership, classMask *Node) {
	bsz := labels.Shape().Dimensions[0]
	g := labels.Graph()
	same := Equal(InsertAxes(labels, 1), InsertAxes(labels, 0)) // [i,j]
	// earlier[i,j]: j < i (strictly lower triangle).
	earlier := LogicalAnd(LowerTriangular(g, bsz), LogicalNot(Diagonal(g, bsz)))
	dupOfEarlier := ReduceLogicalOr(LogicalAnd(same, earlier), 1) // row j has an earlier row with its label
	known := GreaterOrEqual(labels, ZerosLike(labels))
	classMask = LogicalAnd(known, LogicalNot(dupOfEarlier))
	membership = ConvertDType(LogicalAnd(same, InsertAxes(classMask, 0)), dtype)
	return membership, classMask
}
