package atlas

import (
	"math"
	"testing"
)

func TestECE(t *testing.T) {
	// Bin 9 (confidence 0.9): accuracy 1/2, |0.5−0.9|·2/4 = 0.2; bin 6 (0.6): accuracy 1, |1−0.6|·2/4 = 0.2.
	got, err := ECE([]float64{0.9, 0.9, 0.6, 0.6}, []bool{true, false, true, true}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-0.4) > 1e-12 {
		t.Errorf("ECE %v, want 0.4", got)
	}
	// Confidence 1 goes to the last bin; perfectly calibrated predictions have ECE 0.
	if got, _ := ECE([]float64{1, 0.5, 0.5}, []bool{true, true, false}, 2); math.Abs(got) > 1e-12 {
		t.Errorf("calibrated ECE %v, want 0", got)
	}
	for _, bad := range []struct {
		conf  []float64
		right []bool
		bins  int
	}{{nil, nil, 10}, {[]float64{0.5}, []bool{true, false}, 10}, {[]float64{1.5}, []bool{true}, 10}, {[]float64{0.5}, []bool{true}, 0}} {
		if _, err := ECE(bad.conf, bad.right, bad.bins); err == nil {
			t.Errorf("ECE(%v, %v, %d): no error", bad.conf, bad.right, bad.bins)
		}
	}
}

func TestConfidences(t *testing.T) {
	conf, right, err := Confidences([]float64{0, math.Log(3), 2, 2}, 2, []int32{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(conf[0]-0.75) > 1e-12 || !right[0] || math.Abs(conf[1]-0.5) > 1e-12 || !right[1] {
		t.Errorf("conf %v right %v, want [0.75 0.5] [true true] (ties go to the first class)", conf, right)
	}
	if _, _, err := Confidences([]float64{1, 2, 3}, 2, []int32{0, 1}); err == nil {
		t.Error("3 logits for 2 labels and 2 classes: no error")
	}
}
