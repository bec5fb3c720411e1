package losses

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Hard Patches Mining: Wang et al., "Hard Patches Mining for Masked Image Modeling"
// (CVPR 2023) and its TPAMI extension "Bootstrap Masked Visual Modeling via Hard Patches Mining"
// (arXiv 2312.13714). Implemented: the relative (ranking) loss of the patch-loss predictor, its
// absolute ablation, and the easy-to-hard mask schedule with the teacher's EMA decay ramp. The MAE
// itself (encoder, decoders, L_rec) belongs to the model.

func init() {
	Register(Objective{
		Name: "hpm-rank", Paper: "14-hpm", Kind: Distillation,
		Summary: "HPM relative loss: BCE on ŝ_j - ŝ_i for every ordered pair with ℓ_j ≠ ℓ_i, over all valid pairs (student = ŝ, teacher = ℓ)",
		Params: []Param{{Name: "exact", Default: 0, Min: 0, Max: 1, Integer: true,
			Doc: "1: the reference's -log(σ(Δ) + 1e-6) form (exact parity); 0: the stable softplus form"}},
		Fn: func(b Batch, p Params) *Node { return HPMRankingLoss(b["student"], b["teacher"], p["exact"] == 1) },
	})
}

// HPMRankingLoss returns HPM's relative loss for the patch-loss predictor (paper's --relative mode):
// pred ŝ [B,N] holds the predicted loss of each of the N masked patches of each image and target ℓ [B,N]
// their true reconstruction losses (detached: no gradient flows into ℓ, only its order matters).
// Every ordered pair (i, j) of patches of the same image is a binary ranking task:
//
//	pos_bij = 1[ℓ_bj > ℓ_bi],  neg_bij = 1[ℓ_bj < ℓ_bi],  Δ_bij = ŝ_bj - ŝ_bi
//	L_pred  = Σ_bij [pos·softplus(-Δ) + neg·softplus(Δ)] / Σ_bij (pos + neg)
//
// Ties (and the diagonal) are excluded, each unordered pair appears twice with the same value, and the
// normaliser is the number of valid ordered pairs of the whole batch (a batch with none gives 0). With
// exact = true, softplus(-Δ) and softplus(Δ) are replaced by the reference's -log(σ(Δ) + 1e-6) and
// -log(1 - σ(Δ) + 1e-6) (a constant prediction then gives 0.693145 instead of log 2).
//
// In the registry ("hpm-rank", kind distillation) the student is ŝ and the teacher is ℓ: the predictor
// learns the teacher's ordering of the patches; the labels input is required by the kind but unused.
func HPMRankingLoss(pred, target *Node, exact bool) *Node {
	if pred.Rank() != 2 {
		panicf("HPMRankingLoss: predictions must be [B,N], got shape %s", pred.Shape())
	}
	if !target.Shape().Equal(pred.Shape()) {
		panicf("HPMRankingLoss: targets must have the predictions' shape %s, got %s", pred.Shape(), target.Shape())
	}
	target = StopGradient(target)
	dtype := pred.DType()
	delta := Sub(InsertAxes(pred, 1), InsertAxes(pred, 2)) // [B,i,j] = ŝ_j - ŝ_i
	tj, ti := InsertAxes(target, 1), InsertAxes(target, 2) // broadcast to [B,N,N]
	pos := ConvertDType(GreaterThan(tj, ti), dtype)        // ℓ_j > ℓ_i
	neg := ConvertDType(LessThan(tj, ti), dtype)           // ℓ_j < ℓ_i
	var lossPos, lossNeg *Node
	if exact {
		sig := Sigmoid(delta)
		lossPos = Neg(Log(AddScalar(sig, 1e-6)))
		lossNeg = Neg(Log(AddScalar(OneMinus(sig), 1e-6)))
	} else {
		lossPos, lossNeg = Softplus(Neg(delta)), Softplus(delta)
	}
	total := ReduceAllSum(Add(Mul(pos, lossPos), Mul(neg, lossNeg)))
	count := ReduceAllSum(Add(pos, neg))
	return Div(total, MaxScalar(count, 1))
}

// HPMAbsoluteLoss returns the absolute-variant ablation (relative=False): the target losses are
// standardised per image, t_bi = (ℓ_bi - mean_i ℓ_bi) / sqrt(var_i ℓ_bi + 1e-6) with the unbiased
// variance, and the loss is the mean squared error mean_bi (ŝ_bi - t_bi)². ℓ is detached. N must be ≥ 2.
func HPMAbsoluteLoss(pred, target *Node) *Node {
	if pred.Rank() != 2 || !target.Shape().Equal(pred.Shape()) {
		panicf("HPMAbsoluteLoss: predictions and targets must both be [B,N], got %s and %s", pred.Shape(), target.Shape())
	}
	n := pred.Shape().Dimensions[1]
	if n < 2 {
		panicf("HPMAbsoluteLoss: need at least 2 patches per image for the unbiased variance, got N=%d", n)
	}
	target = StopGradient(target)
	mean := ReduceAndKeep(target, ReduceMean, -1)
	c := Sub(target, mean)
	variance := DivScalar(ReduceAndKeep(Square(c), ReduceSum, -1), float64(n-1))
	t := Div(c, Sqrt(AddScalar(variance, 1e-6)))
	return ReduceAllMean(Square(Sub(pred, t)))
}

// HPMMaskCounts returns, for L patches and mask ratio γ, the number of visible patches
// len_keep = ⌊L(1-γ)⌋ and of masked patches N_m = L - len_keep (147 of 196 at γ = 0.75).
func HPMMaskCounts(numPatches int, maskRatio float64) (lenKeep, numMasked int, err error) {
	if numPatches < 1 || !(maskRatio >= 0 && maskRatio < 1) {
		return 0, 0, fmt.Errorf("HPMMaskCounts: need L >= 1 patches and a mask ratio in [0,1), got L=%d, ratio=%g", numPatches, maskRatio)
	}
	lenKeep = int(float64(numPatches) * (1 - maskRatio))
	return lenKeep, numPatches - lenKeep, nil
}

// HPMHardCount returns the easy-to-hard schedule at epoch t (0-based) of T: α_t = 0.5·(t+1)/T and the
// number of patches chosen by predicted loss N_h = ⌊N_m·α_t⌋ (the rest of the mask is random).
func HPMHardCount(epoch, epochs, numMasked int) (alpha float64, numHard int, err error) {
	if epochs < 1 || epoch < 0 || epoch >= epochs || numMasked < 0 {
		return 0, 0, fmt.Errorf("HPMHardCount: need 0 <= epoch < epochs and N_m >= 0, got epoch=%d, epochs=%d, N_m=%d", epoch, epochs, numMasked)
	}
	alpha = 0.5 * float64(epoch+1) / float64(epochs)
	return alpha, int(math.Floor(float64(numMasked) * alpha)), nil
}

// HPMMask returns HPM's easy-to-hard mask for one image (true = masked): the numHard patches with the
// highest predicted loss (from the EMA teacher run on the unmasked image; ties broken by lower index)
// plus numMasked - numHard patches drawn uniformly from the other L - numHard. numHard <= 0 gives a
// uniformly random mask. Exactly numMasked patches are masked. No gradient is involved.
func HPMMask(predLoss []float64, numMasked, numHard int, rng *rand.Rand) ([]bool, error) {
	l := len(predLoss)
	if numMasked < 0 || numMasked > l || numHard > numMasked {
		return nil, fmt.Errorf("HPMMask: need 0 <= N_h <= N_m <= L, got N_h=%d, N_m=%d, L=%d", numHard, numMasked, l)
	}
	for i, v := range predLoss {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("HPMMask: predicted loss %d is NaN", i)
		}
	}
	order := make([]int, l)
	for i := range order {
		order[i] = i
	}
	numHard = max(numHard, 0)
	sort.SliceStable(order, func(a, b int) bool { return predLoss[order[a]] > predLoss[order[b]] })
	mask := make([]bool, l)
	for _, i := range order[:numHard] {
		mask[i] = true
	}
	rest := append([]int(nil), order[numHard:]...)
	sort.Ints(rest) // the random draw does not depend on the predicted order of the rest
	rng.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	for _, i := range rest[:numMasked-numHard] {
		mask[i] = true
	}
	return mask, nil
}

// HPMTeacherDecay returns the EMA decay of HPM's teacher at a (possibly fractional) epoch: linear from
// `from` (0.999) to `to` (0.9999) over the first rampEpochs (100) epochs, then constant.
func HPMTeacherDecay(epoch float64, rampEpochs int, from, to float64) float64 {
	if rampEpochs <= 0 || epoch >= float64(rampEpochs) {
		return to
	}
	return from + (to-from)*math.Max(epoch, 0)/float64(rampEpochs)
}

// HPMTeacherUpdate applies one EMA step to the teacher's parameters in place:
// θ_T ← decay·θ_T + (1 - decay)·θ_S.
func HPMTeacherUpdate(teacher, student []float64, decay float64) error {
	if len(teacher) != len(student) {
		return fmt.Errorf("HPMTeacherUpdate: teacher has %d values, student %d", len(teacher), len(student))
	}
	for i := range teacher {
		teacher[i] = decay*teacher[i] + (1-decay)*student[i]
	}
	return nil
}
