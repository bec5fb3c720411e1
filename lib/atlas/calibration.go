package atlas

import (
	"fmt"
	"math"
)

// ECE returns the expected calibration error of top-1 predictions with bins equal-width confidence bins
// on [0, 1] (Guo et al., arXiv:1706.04599):
//
//	ECE = Σ_b (n_b / N) · |acc_b − conf_b|
//
// conf[i] is the confidence (the largest softmax probability) of prediction i, correct[i] whether it was
// right.
func ECE(conf []float64, correct []bool, bins int) (float64, error) {
	if len(conf) == 0 || len(conf) != len(correct) {
		return 0, fmt.Errorf("atlas.ECE: %d confidences for %d correctness flags (need the same number, ≥ 1)", len(conf), len(correct))
	}
	if bins < 1 {
		return 0, fmt.Errorf("atlas.ECE: %d bins, need ≥ 1", bins)
	}
	sumConf := make([]float64, bins)
	sumRight := make([]float64, bins)
	count := make([]int, bins)
	for i, c := range conf {
		if math.IsNaN(c) || c < 0 || c > 1 {
			return 0, fmt.Errorf("atlas.ECE: confidence %d is %g, outside [0, 1]", i, c)
		}
		b := min(int(c*float64(bins)), bins-1)
		sumConf[b] += c
		if correct[i] {
			sumRight[b]++
		}
		count[b]++
	}
	e := 0.0
	for b := range bins {
		if count[b] > 0 {
			e += math.Abs(sumRight[b]-sumConf[b]) / float64(len(conf))
		}
	}
	return e, nil
}

// Confidences turns logits [N, K] (row-major) into top-1 confidences (softmax probability of the arg-max
// class) and whether the arg-max is the label.
func Confidences(logits []float64, k int, labels []int32) (conf []float64, correct []bool, err error) {
	if k < 1 || len(logits) != k*len(labels) {
		return nil, nil, fmt.Errorf("atlas.Confidences: %d logits for %d labels and %d classes", len(logits), len(labels), k)
	}
	conf = make([]float64, len(labels))
	correct = make([]bool, len(labels))
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		arg := 0
		for j, v := range row {
			if v > row[arg] {
				arg = j
			}
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(v - row[arg])
		}
		conf[i] = 1 / sum
		correct[i] = int32(arg) == y
		if math.IsNaN(conf[i]) {
			return nil, nil, fmt.Errorf("atlas.Confidences: logits of example %d are not finite", i)
		}
	}
	return conf, correct, nil
}
