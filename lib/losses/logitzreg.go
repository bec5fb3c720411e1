package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// The output-logit z-loss regulariser: introduced with PaLM and studied by Wortsman
// et al., "Small-scale proxies for large-scale Transformer training instabilities", ICLR 2024,
// arXiv:2309.14322. It keeps
// log Z = logsumexp(logits) near 0, against output-logit divergence. Not to be confused with
// de Brébisson's Z-loss ("z-loss", zloss.go).
//
// For token logits [B,T,V], flatten to [B·T,V] (and labels to [B·T]): the registry's per-example mean is
// then the token mean.

func init() {
	alpha := Param{Name: "alpha", Default: 1e-4, Min: 0, Max: math.Inf(1),
		Doc: "weight α_z of (log Z)² (PaLM / Wortsman et al.: 1e-4)"}
	Register(Objective{
		Name: "logit-z-reg", Paper: "28-smallproxies", Kind: Classification, PerExample: true,
		Summary: "output-logit z-loss regulariser α_z·(logsumexp h)² alone (labels unused)",
		Params:  []Param{alpha},
		Fn:      func(b Batch, p Params) *Node { return LogitZReg(b["logits"], p["alpha"]) },
	})
	Register(Objective{
		Name: "ce-logit-z", Paper: "28-smallproxies", Kind: Classification, PerExample: true,
		Summary: "cross-entropy plus the output-logit z-loss α_z·(logsumexp h)²",
		Params:  []Param{alpha},
		Fn:      func(b Batch, p Params) *Node { return CrossEntropyLogitZ(b["logits"], b["labels"], p["alpha"]) },
	})
}

// LogitZReg returns the output-logit z-loss [B] of logits h [B,K]:
//
//	log Z_i = logsumexp_k h_ik,   L_z,i = α_z (log Z_i)²
//
// Its gradient is 2 α_z log Z · softmax(h): it vanishes when log Z = 0. Unlike CE it is not invariant to
// h → h + c.
func LogitZReg(logits *Node, alpha float64) *Node {
	if logits.Rank() != 2 {
		panicf("logits must be [B,K], got shape %s", logits.Shape())
	}
	return MulScalar(Square(logSumExpRows(logits)), alpha)
}

// CrossEntropyLogitZ returns CE + output-logit z-loss [B]: log Z - h_y + α_z (log Z)². Minimising it over a
// shift h + c gives log Z = 0.
func CrossEntropyLogitZ(logits, labels *Node, alpha float64) *Node {
	return Add(CrossEntropy(logits, labels), LogitZReg(logits, alpha))
}
