package losses

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// ND loss / KD++: Wang, Cheng, Duan, Wang, Feng & Kong, "Improving Knowledge Distillation
// via Regularizing Feature Norm and Direction", arXiv 2305.17007 (ECCV 2024).
//
// The ND loss pulls the student's embedding s_i (its penultimate feature, projected to the teacher's
// width D when they differ) onto the direction e_y of the teacher's class mean, and its norm up to at
// least the teacher's. Its state is the teacher's class means c_k, computed once over the training set
// with the frozen teacher (NDClassMeans) and then fixed; NDLoss takes them as an explicit input.
//
// Through the registry (kind distillation) the class means are estimated from the batch itself: the mean
// of teacher_features over the batch's examples of each class (the documented initial state, exact when
// the batch is the whole training set). student_features and teacher_features are the embeddings s and
// t [B,D]; without them the student and teacher logits stand in for the embeddings (D = K).

func init() {
	lambdaND := Param{Name: "lambda_nd", Default: 1, Min: 0, Max: math.Inf(1),
		Doc: "weight λ_nd of the ND loss (the official scripts use 0.5–2)"}
	Register(Objective{
		Name: "nd-loss", Paper: "13-ndkd", Kind: Distillation, PerExample: true,
		Summary: "ND loss: λ_nd·(1 − ⟨s, e_y⟩/max(‖s‖, ‖t‖)), e_y = direction of the teacher's class mean (batch estimate)",
		Params:  []Param{lambdaND},
		Fn: func(b Batch, p Params) *Node {
			_, _, labels := distillationLogits("nd-loss", b)
			s, t, means := ndBatchFeatures(b)
			return MulScalar(NDLoss(s, t, labels, means), p["lambda_nd"])
		},
	})
	Register(Objective{
		Name: "ndkd", Paper: "13-ndkd", Kind: Distillation, PerExample: true,
		Summary: "KD++: λ_cls·CE + λ_kd·warmup·T²·KL(p_t ‖ p_s) + λ_nd·ND(s, t; class means of the batch)",
		Params: []Param{
			{Name: "lambda_cls", Default: 1, Min: 0, Max: math.Inf(1), Doc: "weight λ_cls of the cross-entropy"},
			{Name: "lambda_kd", Default: 1, Min: 0, Max: math.Inf(1), Doc: "weight λ_kd of the KD term (1–4 in the official scripts)"},
			lambdaND,
			{Name: "temperature", Default: 4, Min: 0, Max: math.Inf(1), MinOpen: true, Doc: "KD temperature T"},
			{Name: "warmup", Default: 1, Min: 0, Max: 1,
				Doc: "KD warm-up factor min(1, epoch/20) of the current epoch (see NDWarmup)"},
		},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, labels := distillationLogits("ndkd", b)
			s, t, means := ndBatchFeatures(b)
			return NDKD(student, teacher, labels, s, t, means, NDKDConfig{
				LambdaCls: p["lambda_cls"], LambdaKD: p["lambda_kd"], LambdaND: p["lambda_nd"],
				Temperature: p["temperature"], Warmup: p["warmup"],
			})
		},
	})
}

// ndBatchFeatures returns the embeddings of a distillation batch (the features if given, else the
// logits) and the teacher's class means estimated from the batch.
func ndBatchFeatures(b Batch) (s, t, means *Node) {
	s, t = b["student_features"], b["teacher_features"]
	switch {
	case s == nil && t == nil:
		s, t = b["student"], b["teacher"]
	case s == nil || t == nil:
		panicf("ND loss: give both student_features and teacher_features, or neither (then the logits are the embeddings)")
	}
	k := b["student"].Shape().Dimensions[1]
	return s, t, TeacherClassMeans(t, b["labels"], k)
}

// ndEpsilon guards the norms: ‖x‖ = √(Σx² + ndEpsilon) is differentiable at 0, and divisions use
// max(·, 1e-12).
const ndEpsilon = 1e-24

// NDLoss returns the ND loss per example, [B] (without its weight λ_nd), for student embeddings s [B,D],
// teacher embeddings t [B,D], labels y [B] and the teacher's class means c [K,D]:
//
//	e_k    = c_k / ‖c_k‖
//	loss_i = 1 − ⟨s_i, e_{y_i}⟩ / max(‖s_i‖, ‖t_i‖)
//
// The term lies in [0, 2]; it is 0 exactly when s_i points along e_y with ‖s_i‖ ≥ ‖t_i‖. While ‖s_i‖ <
// ‖t_i‖ its gradient is −e_y/‖t_i‖, which both aligns s and grows its norm; beyond it the term is the
// cosine loss 1 − cos(s_i, e_y), invariant to the scale of s. It is invariant to rescaling any class
// mean and to rotating s, t and c together. The teacher embeddings and the class means are constants
// (no gradient). Norms are guarded: √(Σx² + 1e-24), and denominators max(·, 1e-12).
func NDLoss(studentFeat, teacherFeat, labels, classMeans *Node) *Node {
	if studentFeat.Rank() != 2 || !studentFeat.DType().IsFloat() {
		panicf("NDLoss: student embeddings must be float [B,D], got %s", studentFeat.Shape())
	}
	if !teacherFeat.Shape().Equal(studentFeat.Shape()) {
		panicf("NDLoss: teacher embeddings must have the student's shape %s (project the student to the teacher's width), got %s",
			studentFeat.Shape(), teacherFeat.Shape())
	}
	bsz, d := studentFeat.Shape().Dimensions[0], studentFeat.Shape().Dimensions[1]
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != bsz || !labels.DType().IsInt() {
		panicf("NDLoss: labels must be integers [B] with B=%d, got %s", bsz, labels.Shape())
	}
	if classMeans.Rank() != 2 || classMeans.Shape().Dimensions[1] != d {
		panicf("NDLoss: class means must be [K,D] with D=%d, got shape %s", d, classMeans.Shape())
	}
	dtype := studentFeat.DType()
	k := classMeans.Shape().Dimensions[0]
	means := StopGradient(ConvertDType(classMeans, dtype))
	dirs := Div(means, MaxScalar(Sqrt(AddScalar(ReduceAndKeep(Square(means), ReduceSum, -1), ndEpsilon)), 1e-12)) // [K,D]
	if labels.DType() != dtypes.Int32 {
		labels = ConvertDType(labels, dtypes.Int32)
	}
	ey := MatMul(OneHot(labels, k, dtype), dirs) // [B,D]: e_{y_i}, by a one-hot product (no Gather)
	t := StopGradient(teacherFeat)
	normS := Sqrt(AddScalar(ReduceSum(Square(studentFeat), -1), ndEpsilon))
	normT := Sqrt(ReduceSum(Square(t), -1))
	den := MaxScalar(Max(normS, normT), 1e-12)
	return OneMinus(Div(ReduceSum(Mul(studentFeat, ey), -1), den))
}

// TeacherClassMeans returns the mean of the teacher embeddings t [B,D] over the examples of each class,
// [K,D] (a zero row for a class absent from the batch), as a constant. NDLoss's class means are meant to
// come from the whole training set (NDClassMeans); this batch estimate is what the registry uses.
func TeacherClassMeans(teacherFeat, labels *Node, numClasses int) *Node {
	if teacherFeat.Rank() != 2 || labels.Rank() != 1 || labels.Shape().Dimensions[0] != teacherFeat.Shape().Dimensions[0] {
		panicf("TeacherClassMeans: want embeddings [B,D] and labels [B], got %s and %s", teacherFeat.Shape(), labels.Shape())
	}
	dtype := teacherFeat.DType()
	if labels.DType() != dtypes.Int32 {
		labels = ConvertDType(labels, dtypes.Int32)
	}
	oh := OneHot(labels, numClasses, dtype)                               // [B,K]
	sums := MatMul(TransposeAllAxes(oh, 1, 0), StopGradient(teacherFeat)) // [K,D]
	counts := MaxScalar(Reshape(ReduceSum(oh, 0), numClasses, 1), 1.0)    // [K,1]
	return StopGradient(Div(sums, counts))
}

// NDClassMeans computes the teacher's class means over a dataset, the ND loss's state: features holds N
// embeddings of dimension dim (row-major, as the teacher's Forward returns them), labels the N classes in
// [0, classes). It returns the means [classes·dim] (row-major [K,D]), accumulated in float64. Every class
// must have at least one example. (The official code also rounds the means to 4 decimals when it stores
// them; that is not done here.)
func NDClassMeans(features []float32, dim int, labels []int32, classes int) ([]float32, error) {
	if dim <= 0 || classes <= 0 {
		return nil, fmt.Errorf("NDClassMeans: dim=%d and classes=%d must be > 0", dim, classes)
	}
	if len(features) != len(labels)*dim {
		return nil, fmt.Errorf("NDClassMeans: %d feature values for %d labels of dimension %d (want %d)",
			len(features), len(labels), dim, len(labels)*dim)
	}
	sums := make([]float64, classes*dim)
	counts := make([]int, classes)
	for i, y := range labels {
		if y < 0 || int(y) >= classes {
			return nil, fmt.Errorf("NDClassMeans: label %d of example %d is outside [0,%d)", y, i, classes)
		}
		counts[y]++
		for j, v := range features[i*dim : (i+1)*dim] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("NDClassMeans: feature %d of example %d is %g", j, i, v)
			}
			sums[int(y)*dim+j] += float64(v)
		}
	}
	out := make([]float32, classes*dim)
	for k, n := range counts {
		if n == 0 {
			return nil, fmt.Errorf("NDClassMeans: class %d has no examples", k)
		}
		for j := range dim {
			out[k*dim+j] = float32(sums[k*dim+j] / float64(n))
		}
	}
	return out, nil
}

// NDKDConfig holds KD++'s weights.
type NDKDConfig struct {
	// LambdaCls, LambdaKD and LambdaND weigh CE, KD and ND (1, 1, 1 in the code's defaults; the scripts
	// use λ_kd ∈ [1, 4] and λ_nd ∈ [0.5, 2] per teacher–student pair).
	LambdaCls, LambdaKD, LambdaND float64
	// Temperature is the KD temperature T (4).
	Temperature float64
	// Warmup is the KD warm-up factor in [0,1], NDWarmup(epoch, 20) in the paper.
	Warmup float64
}

// NDKD returns the KD++ objective per example, [B]:
//
//	loss_i = λ_cls·CE(z^s_i, y_i) + λ_kd·warmup·T²·KL(softmax(z^t_i/T) ‖ softmax(z^s_i/T)) + λ_nd·ND_i
//
// for student and teacher logits [B,K], labels [B], student and teacher embeddings [B,D] and the
// teacher's class means [K,D] (NDLoss). With λ_nd = 0 it is the KD baseline (CE + warmed-up KD).
func NDKD(student, teacher, labels, studentFeat, teacherFeat, classMeans *Node, cfg NDKDConfig) *Node {
	if !(cfg.Warmup >= 0 && cfg.Warmup <= 1) {
		panicf("NDKD: warm-up factor %g must be in [0,1]", cfg.Warmup)
	}
	loss := MulScalar(CrossEntropy(student, labels), cfg.LambdaCls)
	if w := cfg.LambdaKD * cfg.Warmup; w != 0 {
		loss = Add(loss, MulScalar(KDLoss(student, teacher, cfg.Temperature), w))
	}
	if cfg.LambdaND != 0 {
		loss = Add(loss, MulScalar(NDLoss(studentFeat, teacherFeat, labels, classMeans), cfg.LambdaND))
	}
	return loss
}

// NDWarmup returns KD++'s linear warm-up factor of the KD term, min(1, epoch/warmupEpochs) (20 epochs in
// the paper); warmupEpochs ≤ 0 means no warm-up (1).
func NDWarmup(epoch, warmupEpochs float64) float64 {
	if warmupEpochs <= 0 {
		return 1
	}
	return math.Max(0, math.Min(1, epoch/warmupEpochs))
}
