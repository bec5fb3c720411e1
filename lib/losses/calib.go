package losses

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Correctness-aware (CA) post-hoc calibration: Liu, Wang, Zou, Zou & Zheng, "Optimizing
// Calibration by Gaining Aware of Prediction Correctness", arXiv:2404.13016 (2024). The loss follows the
// official code (Temperature_adaptive in temperature_scaling_CA.py); the paper's own
// equation could not be read here and may differ in normalisation or exponent.
//
// Setting: a frozen classifier's logits z_i, a per-sample temperature T_i from a small calibrator
// (CalibratorTemperature), calibrated logits z_i/T_i (CalibratedLogits). The registry entry "ca-calib"
// takes the calibrated logits as its "logits" input: since T_i > 0, the predicted class (and so the
// correctness c_i) of z_i/T_i is that of z_i, so nothing else is needed, and the gradient with respect to
// T flows through CalibratedLogits.

func init() {
	Register(Objective{
		Name: "ca-calib", Paper: "16-calib", Kind: Classification, PerExample: false,
		Summary: "correctness-aware calibration: class-balanced Brier of top-1 confidence vs correctness (logits = z/T)",
		Fn:      func(b Batch, _ Params) *Node { return CorrectnessAwareLoss(b["logits"], b["labels"]) },
	})
}

// Temperature bounds of the official calibrator.
const (
	CalibMinTemperature = 0.1
	CalibMaxTemperature = 10
)

// CalibratorTemperature is the official CA calibrator's per-sample temperature [B] from side features
// t [B,F] and its weights W1 [F,H], b1 [H], w2 [H], b2 [] (code: F = 12, H = 5):
//
//	T_i = clamp(w2 · ReLU(W1ᵀ t_i + b1) + b2, 0.1, 10)
func CalibratorTemperature(features, w1, b1, w2, b2 *Node) *Node {
	hidden := MaxScalar(Add(Dot(features, w1), InsertAxes(b1, 0)), 0.0) // ReLU
	return ClipScalar(Add(Dot(hidden, w2), b2), CalibMinTemperature, CalibMaxTemperature)
}

// CalibratedLogits returns z_i / clamp(T_i, 0.1, 10) for logits z [B,K] and temperatures T [B].
// The argmax of every row is unchanged (accuracy is preserved by construction).
func CalibratedLogits(logits, temperatures *Node) *Node {
	t := ClipScalar(temperatures, CalibMinTemperature, CalibMaxTemperature)
	return Div(logits, InsertAxes(t, -1))
}

// TopConfidence returns conf_i = max_k softmax(z_i)_k = 1 / Σ_k exp(z_ik - max_k z_ik), [B].
func TopConfidence(logits *Node) *Node {
	m := ReduceAndKeep(logits, ReduceMax, -1)
	return Reciprocal(ReduceSum(Exp(Sub(logits, m)), -1))
}

// Correctness returns c_i = 1[z_iy = max_k z_ik] [B] in the logits' dtype, with no gradient. A tie for the
// maximum counts as correct (the code's argmax picks the first index; ties have measure zero in practice).
func Correctness(logits, labels *Node) *Node {
	oh := oneHotFor(logits, labels)
	zy := pick(logits, oh)
	return StopGradient(ConvertDType(GreaterOrEqual(zy, ReduceMax(logits, -1)), logits.DType()))
}

// CABrier returns the CA loss (a scalar) from top-1 confidences conf [B] and correctness c [B] (0/1):
//
//	a = mean_i c_i,   w_i = (1 - a) if c_i = 1 else a
//	L = Σ_i w_i (conf_i - c_i)² / Σ_i w_i
//	  = ½ [ mean_{c=1} (1 - conf)² + mean_{c=0} conf² ]
//
// a class-balanced Brier score. When the batch is all correct or all wrong (Σ w = 0) it falls back to the
// unweighted mean of (conf_i - c_i)² (one of two reasonable fallbacks).
func CABrier(conf, correct *Node) *Node {
	a := ReduceAllMean(correct)
	w := Add(Mul(correct, OneMinus(a)), Mul(OneMinus(correct), a))
	sumW := ReduceAllSum(w)
	balanced := GreaterThan(sumW, ScalarZero(conf.Graph(), conf.DType()))
	w = Where(BroadcastToShape(balanced, w.Shape()), w, OnesLike(w))
	return Div(ReduceAllSum(Mul(w, Square(Sub(conf, correct)))), ReduceAllSum(w))
}

// CorrectnessAwareLoss returns the CA loss (a scalar) of calibrated logits z/T [B,K] and labels [B]:
// CABrier(TopConfidence(z/T), Correctness(z/T, y)).
func CorrectnessAwareLoss(calibratedLogits, labels *Node) *Node {
	if calibratedLogits.DType() != dtypes.Float32 && calibratedLogits.DType() != dtypes.Float64 {
		panicf("ca-calib: logits must be float32 or float64, got %s", calibratedLogits.DType())
	}
	return CABrier(TopConfidence(calibratedLogits), Correctness(calibratedLogits, labels))
}
