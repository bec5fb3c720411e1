package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Adaptive Multi-head Contrastive Learning: Wang, Koniusz, Gedeon & Zheng, "Adaptive
// Multi-head Contrastive Learning", arXiv 2310.05615 (ECCV 2024). The SimCLR/MoCo form of the loss
// (the paper's Table 2), the bounded temperature map and the regulariser Ω of the official code
// (LeiWangR/cl, src/amcl_components). The temperature network φ_c is a model component, package
// lib/amcl.

// AMCL's temperature bounds (official code).
const (
	AMCLTauMin = 1e-5
	AMCLTauMax = 2.0
)

func init() {
	Register(Objective{
		Name: "amcl", Paper: "21-amcl", Kind: Embedding, PerExample: true,
		Summary: "AMCL with a constant temperature: Σ_heads (s_hardest-neg - mean s_pos)/τ on cosine sims; features = C heads concatenated, labels = instance ids",
		Params: []Param{
			{Name: "heads", Default: 1, Min: 1, Max: math.Inf(1), Integer: true,
				Doc: "number of heads C; the feature axis D is split into C equal chunks of d' = D/C"},
			{Name: "tau", Default: 0.5, Min: AMCLTauMin, Max: AMCLTauMax,
				Doc: "the (constant) temperature of every pair; the learned per-pair τ needs AMCLLoss"},
			{Name: "beta", Default: 0.1, Min: 0, Max: math.Inf(1),
				Doc: "weight β of the regulariser Ω (its terms cancel when all temperatures are equal)"},
		},
		Fn: func(b Batch, p Params) *Node {
			x, labels := b["features"], b["labels"]
			checkEmbeddingBatch("amcl", x, labels)
			bsz, d := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
			c := int(p["heads"])
			if d%c != 0 {
				panicf("amcl: the feature axis D=%d does not split into heads=%d equal chunks", d, c)
			}
			z := Transpose(Reshape(x, bsz, c, d/c), 0, 1) // [C,B,d']
			sim := AMCLSimilarities(z)
			tau := MulScalar(OnesLike(sim), p["tau"])
			same := Equal(InsertAxes(labels, 1), InsertAxes(labels, 0))
			others := LogicalNot(Diagonal(x.Graph(), bsz))
			return AMCLLoss(sim, tau, LogicalAnd(same, others), LogicalNot(same), p["beta"], d/c)
		},
	})
}

// AMCLOmega returns the official code's regulariser Ω(τ) = (d'/2)·log τ + 1/τ (element-wise), with d'
// the head's embedding size (the code's scaled_sim.size(1)/2, read as d'/2; UNVERIFIED against the paper).
// With β = 1, -s/τ + Ω(τ) is the negative log-likelihood of an isotropic Gaussian of variance τ for unit
// vectors, minimised at τ* = 2(1 - s)/d'.
func AMCLOmega(tau *Node, dim int) *Node {
	return Add(MulScalar(Log(tau), float64(dim)/2), Reciprocal(tau))
}

// AMCLSimilarities returns the cosine similarities of each head, [C,A,A], from embeddings z [C,A,d']
// (L2-normalised first; zero vectors stay zero).
func AMCLSimilarities(z *Node) *Node {
	if z.Rank() != 3 {
		panicf("AMCLSimilarities: embeddings must be [C,A,d'], got shape %s", z.Shape())
	}
	u := L2Normalize(z, -1)
	return Einsum("cad,cbd->cab", u, u)
}

// AMCLLoss returns AMCL's loss of each anchor, [A] (the batch loss is the mean over the anchors), from
// per-head similarities sim [C,A,N], per-head pair temperatures tau [C,A,N] (already bounded, e.g. by
// amcl.PairTemperatures), the anchors' positive and negative masks (bool [A,N]), β and the head size d':
//
//	ℓ_i = Σ_c [ -s^c_{i+}/τ^c_{i+} + β Ω(τ^c_{i+})  +  s^c_{in*}/τ^c_{in*} - β Ω(τ^c_{in*}) ],
//	n* = argmax_{n negative} s^c_{in}                     (the hardest negative of head c)
//
// n* is chosen with a detached ArgMax (first on ties) and picked with a one-hot product, so the gradient
// flows through the selected similarity and temperature only. With several positives the positive term
// is their mean (our generalisation; the paper has one positive per anchor). An anchor without positives
// (negatives) gets no positive (negative) term. With C = 1, a constant τ and β = 0 this is the
// hard-negative margin (s_n* - s_+)/τ.
func AMCLLoss(sim, tau, positives, negatives *Node, beta float64, dim int) *Node {
	if sim.Rank() != 3 || !tau.Shape().Equal(sim.Shape()) {
		panicf("AMCLLoss: similarities and temperatures must both be [C,A,N], got %s and %s", sim.Shape(), tau.Shape())
	}
	c, a, n := sim.Shape().Dimensions[0], sim.Shape().Dimensions[1], sim.Shape().Dimensions[2]
	for _, m := range []*Node{positives, negatives} {
		if m.Rank() != 2 || m.Shape().Dimensions[0] != a || m.Shape().Dimensions[1] != n {
			panicf("AMCLLoss: positive and negative masks must be [A,N] = [%d,%d], got %s", a, n, m.Shape())
		}
	}
	g, dtype := sim.Graph(), sim.DType()
	pos := BroadcastToDims(InsertAxes(ConvertDType(positives, dtype), 0), c, a, n)
	negB := BroadcastToDims(InsertAxes(negatives, 0), c, a, n)
	omega := MulScalar(AMCLOmega(tau, dim), beta)
	term := Div(sim, tau) // s/τ
	nPos := ReduceSum(pos, -1)
	posTerm := Div(ReduceSum(Mul(Sub(omega, term), pos), -1), MaxScalar(nPos, 1)) // [C,A]
	lowest := BroadcastToDims(Infinity(g, dtype, -1), c, a, n)
	hard := StopGradient(OneHot(ArgMax(Where(negB, sim, lowest), -1), n, dtype))
	hasNeg := ConvertDType(ReduceLogicalOr(negB, -1), dtype)
	negTerm := Mul(ReduceSum(Mul(Sub(term, omega), hard), -1), hasNeg)
	return ReduceSum(Add(posTerm, negTerm), 0)
}
