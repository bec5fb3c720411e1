package losses

import (
	"math"
	"strings"
	"testing"
)

func TestMarginProfileMatchesCrossEntropy(t *testing.T) {
	margins := []float64{-4, -1, 0, 0.5, 3, 10}
	const k = 5
	loss, slope, err := MarginProfile("ce", nil, k, margins)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range margins {
		// CE with logits (m, 0, ..., 0): log(e^m + k-1) - m; slope p_y - 1.
		want := math.Log(math.Exp(m)+k-1) - m
		wantSlope := math.Exp(m)/(math.Exp(m)+k-1) - 1
		if math.Abs(loss[i]-want) > 1e-9 || math.Abs(slope[i]-wantSlope) > 1e-9 {
			t.Errorf("m=%g: got (%g, %g), want (%g, %g)", m, loss[i], slope[i], want, wantSlope)
		}
	}
}

func TestMarginProfileErrors(t *testing.T) {
	if _, _, err := MarginProfile("ce", nil, 1, []float64{0}); err == nil {
		t.Error("one class must be an error")
	}
	if _, _, err := MarginProfile("nope", nil, 3, []float64{0}); err == nil || !strings.Contains(err.Error(), "unknown objective") {
		t.Errorf("unknown name: %v", err)
	}
	for _, o := range All() {
		if o.Kind != Classification {
			if _, _, err := MarginProfile(o.Name, nil, 3, []float64{0}); err == nil {
				t.Errorf("%s is %s: want an error", o.Name, o.Kind)
			}
			break
		}
	}
	for _, o := range OfKind(Classification) {
		if o.Kind != Classification {
			t.Fatalf("OfKind returned %s of kind %s", o.Name, o.Kind)
		}
	}
}
