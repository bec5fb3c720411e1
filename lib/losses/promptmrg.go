package losses

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// PromptMRG's adaptive logit-adjusted loss: Jin, Che, Lin & Chen, "PromptMRG:
// Diagnosis-Driven Prompts for Medical Report Generation", AAAI 2024, arXiv:2308.12604. Only the disease-classification
// loss is implemented; the report decoder is out of scope.

// PromptMRGPos is the index of the POS state on the state axis of PromptMRG's logits [B,4,C]
// (0 = BLA, 1 = POS, 2 = NEG, 3 = UNC).
const PromptMRGPos = 1

// PromptMRGMinPrior is the floor on every prior π_c, so that log π_c stays finite (a guard the official
// code lacks).
const PromptMRGMinPrior = 1e-6

func init() {
	Register(Objective{
		Name: "promptmrg-la", Paper: "03-promptmrg", Kind: Classification, PerExample: true,
		Summary: "logit-adjusted CE over states: CE(z + 1[k=POS]·log π, y), POS = class 1",
		Params: []Param{{Name: "pi", Default: 1, Min: 0, Max: 1, MinOpen: true,
			Doc: "prior π of the POS state (class 1); π = 1 is plain CE. One disease per row: the logits " +
				"are the states of one (example, disease) entry"}},
		Fn: func(b Batch, p Params) *Node {
			logits, labels := b["logits"], b["labels"]
			if logits.Rank() != 2 || logits.Shape().Dimensions[1] < 2 {
				panicf("promptmrg-la: logits must be [B,K] with K >= 2 states (POS is state 1), got shape %s", logits.Shape())
			}
			if labels.Rank() != 1 || labels.Shape().Dimensions[0] != logits.Shape().Dimensions[0] {
				panicf("promptmrg-la: labels must be [B] with B=%d, got shape %s", logits.Shape().Dimensions[0], labels.Shape())
			}
			bsz, k := logits.Shape().Dimensions[0], logits.Shape().Dimensions[1]
			prior := Scalar(logits.Graph(), logits.DType(), p["pi"])
			per := PromptMRGLoss(Reshape(logits, bsz, k, 1), Reshape(labels, bsz, 1), Reshape(prior, 1))
			return Reshape(per, bsz)
		},
	})
}

// PromptMRGLoss returns PromptMRG's logit-adjusted cross-entropy per (example, disease) entry, [B,C];
// the paper's L_cls is its mean over all B·C entries.
//
// Inputs: logits Z float [B,S,C] (S states per disease, S = 4 in the paper: BLA, POS, NEG, UNC), labels
// L int [B,C] with values in [0,S), and the per-disease prior π float [C] in (0,1]. With
// POS = PromptMRGPos (= 1):
//
//	Z~[b,s,c]   = Z[b,s,c] + 1[s = POS]·log π_c
//	loss[b,c]   = log Σ_s exp(Z~[b,s,c]) - Z~[b, L[b,c], c]
//	L_cls       = mean_{b,c} loss[b,c]      (the paper weighs it by w_cls = 4 in its total loss)
//
// π is a constant recomputed outside the graph (see PromptMRGUpdatePrior): no gradient flows into it,
// and it is floored at PromptMRGMinPrior. π_c = 1 gives plain softmax CE over the states; a small π_c
// lowers the adjusted POS logit during training, which pushes the raw POS logit up. At inference the
// state is the argmax of the raw (unadjusted) Z. Labels outside [0,S) contribute only the logsumexp term.
func PromptMRGLoss(logits, labels, prior *Node) *Node {
	if logits.Rank() != 3 || logits.Shape().Dimensions[1] <= PromptMRGPos {
		panicf("PromptMRGLoss: logits must be [B,S,C] with S >= %d states, got shape %s", PromptMRGPos+1, logits.Shape())
	}
	dims := logits.Shape().Dimensions
	bsz, s, c := dims[0], dims[1], dims[2]
	if labels.Rank() != 2 || labels.Shape().Dimensions[0] != bsz || labels.Shape().Dimensions[1] != c {
		panicf("PromptMRGLoss: labels must be [B,C] = [%d,%d], got shape %s", bsz, c, labels.Shape())
	}
	if !labels.DType().IsInt() {
		panicf("PromptMRGLoss: labels must be integers, got %s", labels.DType())
	}
	if prior.Rank() != 1 || prior.Shape().Dimensions[0] != c {
		panicf("PromptMRGLoss: prior must be [C] = [%d], got shape %s", c, prior.Shape())
	}
	dtype := logits.DType()
	prior = StopGradient(ConvertDType(prior, dtype))
	logPrior := Log(MaxScalar(prior, PromptMRGMinPrior)) // [C]
	// The adjustment log π_c is added at state POS only: a one-hot mask over the state axis, [1,S,1].
	posMask := Reshape(OneHot(Const(logits.Graph(), []int32{PromptMRGPos}), s, dtype), 1, s, 1)
	adjusted := Add(logits, Mul(posMask, Reshape(logPrior, 1, 1, c)))
	// Work on [B,C,S] so the state axis is last.
	z := TransposeAllAxes(adjusted, 0, 2, 1)
	m := StopGradient(ReduceAndKeep(z, ReduceMax, -1))
	lse := Add(Reshape(m, bsz, c), Log(ReduceSum(Exp(Sub(z, m)), -1)))
	if labels.DType() != dtypes.Int32 {
		labels = ConvertDType(labels, dtypes.Int32)
	}
	oh := OneHot(labels, s, dtype) // [B,C,S]
	return Sub(lse, ReduceSum(Mul(z, oh), -1))
}

// PromptMRGPosProbabilities returns P[b,c] = softmax_s(Z[b,:,c])[POS], [B,C], from raw (unadjusted)
// logits [B,S,C]: the input of the learning-status update.
func PromptMRGPosProbabilities(logits *Node) *Node {
	if logits.Rank() != 3 || logits.Shape().Dimensions[1] <= PromptMRGPos {
		panicf("PromptMRGPosProbabilities: logits must be [B,S,C] with S >= %d, got shape %s", PromptMRGPos+1, logits.Shape())
	}
	dims := logits.Shape().Dimensions
	p := Softmax(logits, 1)
	posMask := Reshape(OneHot(Const(logits.Graph(), []int32{PromptMRGPos}), dims[1], logits.DType()), 1, dims[1], 1)
	return ReduceSum(Mul(p, posMask), 1)
}

// PromptMRGInitialPrior returns the prior used before the first learning-status update: the base
// probabilities divided by their max, followed by aux ones (the auxiliary diseases, which are never
// adjusted; 4 in the paper). We presume (unverified) that the official base probabilities are
// training-set POS frequencies, which makes the first epoch standard frequency-based logit adjustment.
func PromptMRGInitialPrior(baseProbs []float64, aux int) ([]float64, error) {
	if len(baseProbs) == 0 {
		return nil, fmt.Errorf("PromptMRGInitialPrior: no base probabilities")
	}
	if aux < 0 {
		return nil, fmt.Errorf("PromptMRGInitialPrior: aux=%d must be >= 0", aux)
	}
	maxP := 0.0
	for i, p := range baseProbs {
		if math.IsNaN(p) || p < 0 || math.IsInf(p, 0) {
			return nil, fmt.Errorf("PromptMRGInitialPrior: base probability %d is %g, want a finite value >= 0", i, p)
		}
		maxP = math.Max(maxP, p)
	}
	if maxP == 0 {
		return nil, fmt.Errorf("PromptMRGInitialPrior: all base probabilities are 0")
	}
	out := make([]float64, 0, len(baseProbs)+aux)
	for _, p := range baseProbs {
		out = append(out, math.Max(p/maxP, PromptMRGMinPrior))
	}
	for range aux {
		out = append(out, 1)
	}
	return out, nil
}

// PromptMRGUpdatePrior is the per-epoch "learning status" update of the adaptive prior. Given the
// validation POS probabilities posProb[n][c] (from raw logits, see PromptMRGPosProbabilities) and the
// masks isPos[n][c] = 1[L[n,c] = POS], for the first C' = len(posProb[0]) diseases:
//
//	ls_c = Σ_n P[n,c]·1[L[n,c]=POS] / Σ_n 1[L[n,c]=POS]      (mean POS probability on true positives)
//	π_c  = max(ls_c / max_c' ls_c', PromptMRGMinPrior)
//
// Diseases beyond C' (the auxiliary ones) keep their previous prior (1 in the paper). Guards the official
// code lacks: a disease without validation positives keeps its previous π_c (and is left out of the
// max); if every ls is 0 the previous prior is returned unchanged. It returns the new prior (len(prev)
// entries) and ls (NaN for diseases without positives).
func PromptMRGUpdatePrior(prev []float64, posProb [][]float64, isPos [][]bool) (prior, ls []float64, err error) {
	if len(posProb) == 0 {
		return nil, nil, fmt.Errorf("PromptMRGUpdatePrior: no validation examples")
	}
	if len(isPos) != len(posProb) {
		return nil, nil, fmt.Errorf("PromptMRGUpdatePrior: %d probability rows but %d mask rows", len(posProb), len(isPos))
	}
	c := len(posProb[0])
	if c > len(prev) {
		return nil, nil, fmt.Errorf("PromptMRGUpdatePrior: %d diseases in the probabilities but the previous prior has %d", c, len(prev))
	}
	sum := make([]float64, c)
	count := make([]float64, c)
	for n := range posProb {
		if len(posProb[n]) != c || len(isPos[n]) != c {
			return nil, nil, fmt.Errorf("PromptMRGUpdatePrior: row %d has %d probabilities and %d mask entries, want %d", n, len(posProb[n]), len(isPos[n]), c)
		}
		for j, p := range posProb[n] {
			if math.IsNaN(p) || p < 0 || p > 1 {
				return nil, nil, fmt.Errorf("PromptMRGUpdatePrior: probability [%d][%d] = %g is not in [0,1]", n, j, p)
			}
			if isPos[n][j] {
				sum[j] += p
				count[j]++
			}
		}
	}
	ls = make([]float64, c)
	maxLS := 0.0
	for j := range ls {
		if count[j] == 0 {
			ls[j] = math.NaN()
			continue
		}
		ls[j] = sum[j] / count[j]
		maxLS = math.Max(maxLS, ls[j])
	}
	prior = append([]float64(nil), prev...)
	if maxLS == 0 {
		return prior, ls, nil
	}
	for j := range ls {
		if count[j] > 0 {
			prior[j] = math.Max(ls[j]/maxLS, PromptMRGMinPrior)
		}
	}
	return prior, ls, nil
}
