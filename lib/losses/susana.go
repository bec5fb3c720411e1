package losses

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// SuSana Distancia: Mendez-Ruiz et al., "SuSana Distancia is all you need: Enforcing
// class separability in metric learning via two novel distance-based loss functions for few-shot image
// classification", arXiv 2305.09062. Implemented: the Proto-Triplet loss, the ICNN score and loss (the
// "full" variant over support ∪ query), ProtoNet logits and class prototypes. The ICNN steps follow the
// authors' published code (maumruiz/FSL-Loss, algorithms/icnn_loss.py).

// susanaEps is the ε of the distance d(a,b) = sqrt(Σ(a-b)² + ε) used by both losses.
const susanaEps = 1e-6

func init() {
	Register(Objective{
		Name: "proto-triplet", Paper: "26-susana", Kind: Embedding, PerExample: true,
		Summary: "Proto-Triplet: max(0, d(q, p_y) - min_{c≠y} d(q, p_c) + m), prototypes = the batch's class means",
		Params:  []Param{{Name: "margin", Default: 0.5, Min: 0, Max: math.Inf(1), Doc: "triplet margin m"}},
		Fn: func(b Batch, p Params) *Node {
			x, labels := b["features"], b["labels"]
			checkEmbeddingBatch("proto-triplet", x, labels)
			membership, classMask := batchClassColumns(labels, x.DType())
			protos := ClassPrototypes(x, membership)
			return ProtoTripletLoss(x, protos, membership, classMask, p["margin"])
		},
	})
	Register(Objective{
		Name: "icnn", Paper: "26-susana", Kind: Embedding,
		Summary: "ICNN loss -log S, S the inter/intra-class nearest-neighbour score of the whole batch (the \"full\" variant)",
		Params: []Param{
			{Name: "k", Default: 4, Min: 1, Max: math.Inf(1), Integer: true, Doc: "neighbours k (clipped to n-2)"},
			{Name: "ipc", Default: 0, Min: 0, Max: math.Inf(1), Integer: true,
				Doc: "neighbours looked at per point (the code's instances per class; 0: k+1). The full variant uses K+Q"},
		},
		Fn: func(b Batch, p Params) *Node {
			checkEmbeddingBatch("icnn", b["features"], b["labels"])
			return ICNNLoss(b["features"], b["labels"], int(p["k"]), int(p["ipc"]))
		},
	})
}

func checkEmbeddingBatch(what string, x, labels *Node) {
	if x.Rank() != 2 {
		panicf("%s: features must be [B,D], got shape %s", what, x.Shape())
	}
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != x.Shape().Dimensions[0] {
		panicf("%s: labels must be [B] with B=%d, got shape %s", what, x.Shape().Dimensions[0], labels.Shape())
	}
}

// ClassPrototypes returns the prototype of each class, p_c = mean of its supports, [N,D], from supports
// [S,D] and a float 0/1 membership matrix [S,N]; a class without supports gets the zero vector.
func ClassPrototypes(support, membership *Node) *Node {
	if support.Rank() != 2 || membership.Rank() != 2 || membership.Shape().Dimensions[0] != support.Shape().Dimensions[0] {
		panicf("ClassPrototypes: want supports [S,D] and membership [S,N], got %s and %s", support.Shape(), membership.Shape())
	}
	membership = ConvertDType(membership, support.DType())
	sum := Einsum("sn,sd->nd", membership, support)
	count := MaxScalar(InsertAxes(ReduceSum(membership, 0), -1), 1)
	return Div(sum, count)
}

// ProtoNetLogits returns ProtoNet's logits -‖q - p_c‖² / T, [Q,N], for queries [Q,D] and prototypes
// [N,D] (T = 1 in the paper).
func ProtoNetLogits(queries, prototypes *Node, temperature float64) *Node {
	diff := Sub(InsertAxes(queries, 1), InsertAxes(prototypes, 0))
	return DivScalar(Neg(ReduceSum(Square(diff), -1)), temperature)
}

// protoDistances returns d(q, p_c) = sqrt(‖q - p_c‖² + 1e-6), [Q,N].
func protoDistances(queries, prototypes *Node) *Node {
	if queries.Rank() != 2 || prototypes.Rank() != 2 || queries.Shape().Dimensions[1] != prototypes.Shape().Dimensions[1] {
		panicf("want queries [Q,D] and prototypes [N,D], got %s and %s", queries.Shape(), prototypes.Shape())
	}
	diff := Sub(InsertAxes(queries, 1), InsertAxes(prototypes, 0))
	return Sqrt(AddScalar(ReduceSum(Square(diff), -1), susanaEps))
}

// ProtoTripletLoss returns the Proto-Triplet loss of each query, [Q]; the loss is the mean over queries.
// The anchor is the query, the positive its own prototype, the negative the nearest other prototype:
//
//	L_j = max(0, d(q_j, p_{y_j}) - min_{c ≠ y_j} d(q_j, p_c) + m),   d(a,b) = sqrt(‖a-b‖² + 1e-6)
//
// queryClasses [Q,N] holds each query's 0/1 class indicator (one 1 per row); classMask bool [N] marks
// the real class columns (nil: all). A query without a class, or without another class, has loss 0.
// In the registry ("proto-triplet", embedding kind) the prototypes are the class means of the whole batch
// and every row is a query (a transductive stand-in for the episode's support/query split).
func ProtoTripletLoss(queries, prototypes, queryClasses, classMask *Node, margin float64) *Node {
	d := protoDistances(queries, prototypes) // [Q,N]
	q, n := d.Shape().Dimensions[0], d.Shape().Dimensions[1]
	if !queryClasses.Shape().Equal(d.Shape()) {
		panicf("ProtoTripletLoss: query classes must be [Q,N] = [%d,%d], got %s", q, n, queryClasses.Shape())
	}
	g, dtype := d.Graph(), d.DType()
	if classMask == nil {
		classMask = BroadcastToDims(Const(g, true), n)
	}
	y := ConvertDType(queryClasses, dtype)
	isY := GreaterThan(y, ZerosLike(y))
	others := LogicalAnd(LogicalNot(isY), BroadcastToDims(InsertAxes(classMask, 0), q, n))
	pos := ReduceSum(Mul(d, y), -1)
	hasY := ReduceLogicalOr(isY, -1)
	hasOther := ReduceLogicalOr(others, -1)
	big := BroadcastToDims(Infinity(g, dtype, 1), q, n)
	neg := ReduceMin(Where(others, d, big), -1)
	neg = Where(hasOther, neg, ZerosLike(neg)) // no inf enters the arithmetic
	loss := MaxScalar(AddScalar(Sub(pos, neg), margin), 0)
	return Where(LogicalAnd(hasY, hasOther), loss, ZerosLike(loss))
}

// ICNNLoss returns -log S for the ICNN score S of points x [n,D] with integer labels [n] (ICNNScore).
func ICNNLoss(x, labels *Node, k, ipc int) *Node { return Neg(Log(ICNNScore(x, labels, k, ipc))) }

// ICNNScore returns the inter- and intra-class nearest-neighbour score S ∈ [0,1] of points x [n,D] with
// labels [n] (n >= 3), with distances D_ij = sqrt(‖x_i - x_j‖² + 1e-6), of Mendez-Ruiz et al., "SuSana
// Distancia is all you need: Enforcing class separability in metric learning via two novel
// distance-based loss functions for few-shot image classification", arXiv 2305.09062. Following the
// authors' code (maumruiz/FSL-Loss, algorithms/icnn_loss.py):
//
//  1. if k + 2 >= n then k = n - 2; ipc = 0 means k + 1. Each point's neighbours are its ipc nearest
//     other points (the point itself is always the first of the ipc + 1 nearest and is dropped; ties
//     are broken by index). Column t of row i is its t-th neighbour; sc_it = 1 if the neighbour has
//     label y_i, dc = 1 - sc; k' = min(k, ipc). (ipc is capped at n - 1, the number of other points.)
//  2. ν_i = min over the ipc neighbours with dc = 1 of D_it (none: the row's N is 0);
//     N_it = D_it / (ν_i + 1e-7) for t ≤ k', each row divided by max(1, max_t N_it);
//     m_i = Σ_t N_it sc_it / (Σ_t sc_it + 1e-7);  λ_sc = 1 - Σ_i m_i / (#{i: Σ_t sc_it > 0} + 1e-7).
//  3. E_it = D_it dc_it (t ≤ k') / (max_it E_it + 1e-7);  e_i = Σ_t E_it / (Σ_t dc_it + 1e-7);
//     λ_dc = |Σ_i e_i / (#{i: Σ_t dc_it > 0} + 1e-7) + o|, o = -1 if no point has a dc neighbour.
//  4. λ = (λ_sc + λ_dc)/2;  γ = (1/n) Σ_i Σ_{t≤k'} sc_it / k if k + 2 < n, else 1;  S = (λ + γ)/2.
//
// Sums over t ≤ k' run over the first k' neighbours. At exact ties the two maxima pass on their
// gradients as the reference code's do: the row maximum max_t N_it is a max over an axis, whose gradient
// goes to one entry (the first); max_it E_it is a full reduction, whose gradient is shared equally among
// the tied entries (E_ij = E_ji, the same distance seen from both points, get half each when tied alone).
// The neighbour order comes from pairwise rank comparisons (O(n³) booleans, no sort op); it is not
// differentiated, while the distances are. The ε in D makes a distance of exactly 0 impossible, so the reference's "zero
// distance to another class is no neighbour" edge case cannot arise here (duplicate points of another
// class count as neighbours).
func ICNNScore(x, labels *Node, k, ipc int) *Node {
	lamSc, lamDc, gamma := icnnTerms(x, labels, k, ipc)
	return MulScalar(Add(MulScalar(Add(lamSc, lamDc), 0.5), gamma), 0.5)
}

// icnnTerms returns ICNNScore's λ_sc, λ_dc and γ.
func icnnTerms(x, labels *Node, k, ipc int) (lamSc, lamDc, gamma *Node) {
	checkEmbeddingBatch("ICNNScore", x, labels)
	n := x.Shape().Dimensions[0]
	if n < 3 {
		panicf("ICNNScore: need at least 3 points, got %d", n)
	}
	if k < 1 || ipc < 0 {
		panicf("ICNNScore: need k >= 1 and ipc >= 0, got k=%d, ipc=%d", k, ipc)
	}
	if k+2 >= n {
		k = n - 2
	}
	if ipc == 0 {
		ipc = k + 1
	}
	ipc = min(ipc, n-1)
	kp := min(k, ipc)
	g, dtype := x.Graph(), x.DType()
	diff := Sub(InsertAxes(x, 1), InsertAxes(x, 0))
	dist := Sqrt(AddScalar(ReduceSum(Square(diff), -1), susanaEps)) // [n,n]
	// Rank of j among i's points: self first, then by distance, ties by index.
	self := Diagonal(g, n)
	key := StopGradient(Where(self, BroadcastToDims(Scalar(g, dtype, -1), n, n), dist)) // [i,j]
	kl, kj := InsertAxes(key, 2), InsertAxes(key, 1)                                    // [i,l,1], [i,1,j]
	idx := Iota(g, shapes.Make(dtypes.Int32, n, n, n), 1)                               // l
	jdx := Iota(g, shapes.Make(dtypes.Int32, n, n, n), 2)                               // j
	before := LogicalOr(LessThan(kl, kj), LogicalAnd(Equal(kl, kj), LessThan(idx, jdx)))
	rank := ReduceSum(ConvertDType(before, dtype), 1) // [i,j]: 0 for self
	one := ScalarOne(g, dtype)
	inNbr := LogicalAnd(GreaterOrEqual(rank, one), LessOrEqual(rank, Scalar(g, dtype, float64(ipc))))
	inK := LogicalAnd(GreaterOrEqual(rank, one), LessOrEqual(rank, Scalar(g, dtype, float64(kp))))
	same := Equal(InsertAxes(labels, 1), InsertAxes(labels, 0))
	zeros := ZerosLike(dist)
	scK := ConvertDType(LogicalAnd(inK, same), dtype)
	dcK := ConvertDType(LogicalAnd(inK, LogicalNot(same)), dtype)
	// Same-class term.
	dcNbr := LogicalAnd(inNbr, LogicalNot(same))
	hasDc := ReduceLogicalOr(dcNbr, -1)
	nu := ReduceMin(Where(dcNbr, dist, BroadcastToDims(Infinity(g, dtype, 1), n, n)), -1)
	nu = Where(hasDc, nu, OnesLike(nu))
	nMat := Where(LogicalAnd(inK, InsertAxes(hasDc, -1)), Div(dist, InsertAxes(AddScalar(nu, 1e-7), -1)), zeros)
	nMat = Div(nMat, InsertAxes(MaxScalar(argMaxSelect(nMat), 1), -1))
	scSum := ReduceSum(scK, -1)
	mi := Div(ReduceSum(Mul(nMat, scK), -1), AddScalar(scSum, 1e-7))
	nSc := ReduceSum(ConvertDType(GreaterThan(scSum, ZerosLike(scSum)), dtype))
	lamSc = OneMinus(Div(ReduceSum(mi), AddScalar(nSc, 1e-7)))
	// Different-class term.
	eMat := Mul(dist, dcK)
	eMat = Div(eMat, AddScalar(maxSharedGrad(eMat), 1e-7))
	dcSum := ReduceSum(dcK, -1)
	ei := Div(ReduceSum(eMat, -1), AddScalar(dcSum, 1e-7))
	nDc := ReduceSum(ConvertDType(GreaterThan(dcSum, ZerosLike(dcSum)), dtype))
	o := Where(GreaterThan(nDc, ZerosLike(nDc)), ZerosLike(nDc), OnesLike(nDc))
	lamDc = Abs(Sub(Div(ReduceSum(ei), AddScalar(nDc, 1e-7)), o))
	gamma = ScalarOne(g, dtype)
	if k+2 < n {
		gamma = DivScalar(ReduceAllSum(scK), float64(n*k))
	}
	return lamSc, lamDc, gamma
}

// argMaxSelect returns the max over the last axis, with its gradient sent to one maximal entry only (the
// first; chosen with a detached ArgMax and a one-hot product), as PyTorch's max over an axis sends it to
// the index it returns. GoMLX's ReduceMax gradient goes in full to every tied entry.
func argMaxSelect(x *Node) *Node {
	sel := StopGradient(OneHot(ArgMax(x, -1), x.Shape().Dimensions[x.Rank()-1], x.DType()))
	return ReduceSum(Mul(x, sel), -1)
}

// maxSharedGrad returns the maximum of all entries of x, with its gradient shared equally among the
// entries equal to it, as the gradient of PyTorch's full max-reduction (x.max()) is, which the reference
// code uses here. Its value is the maximum itself: m + (s - stopgrad(s)) with m the detached maximum and s
// the mean of the tied entries.
func maxSharedGrad(x *Node) *Node {
	m := StopGradient(ReduceAllMax(x))
	tied := StopGradient(ConvertDType(Equal(x, m), x.DType()))
	s := ReduceAllSum(Mul(x, Div(tied, ReduceAllSum(tied))))
	return Add(m, Sub(s, StopGradient(s)))
}

// SuSanaCombine returns the paper's total loss, the average (not the sum) of the chosen terms, e.g.
// SuSanaCombine(CE, L_PT, L_ICNN) for the script tag "cross,prototriplet,fullicnn". Every term must be
// a scalar.
func SuSanaCombine(terms ...*Node) *Node {
	if len(terms) == 0 {
		panicf("SuSanaCombine: no loss terms given")
	}
	total := terms[0]
	for _, t := range terms[1:] {
		if t.Rank() != 0 {
			panicf("SuSanaCombine: every term must be a scalar, got shape %s", t.Shape())
		}
		total = Add(total, t)
	}
	if terms[0].Rank() != 0 {
		panicf("SuSanaCombine: every term must be a scalar, got shape %s", terms[0].Shape())
	}
	return DivScalar(total, float64(len(terms)))
}
