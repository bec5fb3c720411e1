package losses

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Plain knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network",
// 2015): the baseline the distillation papers (06-dualheadkd, 12-mtard, 13-ndkd) compare against.

func init() {
	Register(Objective{
		Name: "kd", Paper: "baseline", Kind: Distillation, PerExample: true,
		Summary: "Hinton KD: ce_weight·CE(s, y) + kd_weight·T²·KL(softmax(t/T) ‖ softmax(s/T))",
		Params: []Param{
			{Name: "temperature", Default: 4, Min: 0, Max: math.Inf(1), MinOpen: true,
				Doc: "softmax temperature T of both student and teacher; the KL term is scaled by T²"},
			{Name: "ce_weight", Default: 0, Min: 0, Max: math.Inf(1),
				Doc: "weight of the hard-label cross-entropy CE(student, labels); 0 is pure distillation"},
			{Name: "kd_weight", Default: 1, Min: 0, Max: math.Inf(1),
				Doc: "weight of the distillation term T²·KL"},
		},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, labels := distillationLogits("kd", b)
			kd := MulScalar(KDLoss(student, teacher, p["temperature"]), p["kd_weight"])
			if p["ce_weight"] == 0 {
				return kd
			}
			return Add(kd, MulScalar(CrossEntropy(student, labels), p["ce_weight"]))
		},
	})
}

// KDLoss returns Hinton's temperature-scaled distillation loss per example, [B], for student logits s
// and teacher logits t, both [B,K]:
//
//	p^t = softmax(t/T),  log p^s = log_softmax(s/T)
//	loss_i = T² · Σ_k p^t_ik (log p^t_ik − log p^s_ik) = T² · KL(p^t_i ‖ p^s_i)
//
// Its mean over the batch is PyTorch's KLDiv(reduction="batchmean")·T², the DistillKL of the papers'
// code. The T² keeps the gradient's size, (T·(p^s − p^t)), comparable across temperatures. The teacher is
// frozen: no gradient flows into t. Both log-softmaxes subtract their row max, so the loss is finite for
// any finite logits; it is invariant to adding a constant to a row of s or of t.
func KDLoss(student, teacher *Node, temperature float64) *Node {
	checkLogitPair("KDLoss", student, teacher)
	if !(temperature > 0) {
		panicf("KDLoss: temperature must be > 0, got %g", temperature)
	}
	logPT := LogSoftmax(DivScalar(StopGradient(teacher), temperature), -1)
	logPS := LogSoftmax(DivScalar(student, temperature), -1)
	kl := ReduceSum(Mul(Exp(logPT), Sub(logPT, logPS)), -1)
	return MulScalar(kl, temperature*temperature)
}

// distillationLogits returns the student and teacher logits and the labels of a distillation batch,
// checking their shapes (a panic with an error, the GoMLX convention, on a mismatch).
func distillationLogits(name string, b Batch) (student, teacher, labels *Node) {
	student, teacher, labels = b["student"], b["teacher"], b["labels"]
	if student == nil || teacher == nil || labels == nil {
		panicf("%s: a distillation batch needs inputs \"student\", \"teacher\" and \"labels\"", name)
	}
	checkLogitPair(name, student, teacher)
	if labels.Rank() != 1 || labels.Shape().Dimensions[0] != student.Shape().Dimensions[0] {
		panicf("%s: labels must be [B] with B=%d, got shape %s", name, student.Shape().Dimensions[0], labels.Shape())
	}
	return student, teacher, labels
}

// checkLogitPair panics with an error unless student and teacher are float [B,K] of the same shape.
func checkLogitPair(name string, student, teacher *Node) {
	if student.Rank() != 2 || !student.DType().IsFloat() {
		panicf("%s: student logits must be float [B,K], got %s", name, student.Shape())
	}
	if !teacher.Shape().Equal(student.Shape()) {
		panicf("%s: teacher logits must have the student's shape %s, got %s", name, student.Shape(), teacher.Shape())
	}
}
