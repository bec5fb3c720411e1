package ldrexp

import (
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/train"
)

func TestMedianRun(t *testing.T) {
	for _, c := range []struct {
		test []float64
		want int
	}{{[]float64{0.5, 0.9, 0.7}, 2}, {[]float64{0.9, 0.1, 0.5, 0.7}, 3}, {[]float64{0.3}, 0}} {
		if got := MedianRun(c.test); got != c.want {
			t.Errorf("MedianRun(%v) = %d, want %d", c.test, got, c.want)
		}
	}
}

func TestSplitByLabel(t *testing.T) {
	kept, corrupted, err := SplitByLabel([]float64{1, 2, 3, 4}, []int32{0, 1, 2, 0}, []int32{0, 2, 2, 1})
	if err != nil || len(kept) != 2 || kept[1] != 3 || len(corrupted) != 2 || corrupted[0] != 2 || corrupted[1] != 4 {
		t.Errorf("SplitByLabel: kept %v, corrupted %v, %v", kept, corrupted, err)
	}
	if _, _, err := SplitByLabel([]float64{1}, []int32{0, 1}, []int32{0, 1}); err == nil {
		t.Error("unequal lengths: no error")
	}
}

func TestTemperatureText(t *testing.T) {
	s := TemperatureText([]float64{9, 10}, []float64{6, 7}, 10)
	for _, want := range []string{"kept labels 0.9500 (n=2), corrupted labels 0.6500 (n=2): corrupted examples have lower λ",
		"ranges over [0.6000, 1.0000]"} {
		if !strings.Contains(s, want) {
			t.Errorf("TemperatureText lacks %q: %s", want, s)
		}
	}
	if s := TemperatureText([]float64{6}, []float64{9}, 10); !strings.Contains(s, "have higher λ") {
		t.Errorf("higher: %s", s)
	}
	if s := TemperatureText([]float64{8}, []float64{8.0000001}, 10); !strings.Contains(s, "have the same (to 1e-4 λ0) λ") {
		t.Errorf("same: %s", s)
	}
}

// TestTemperatures trains a tiny ALDR-KL model and checks that every λ_i lies in [λ0/α, λ0] = [λ0/2, λ0],
// the range one code-form step from λ0 can reach, and that the examples do not all share one λ.
func TestTemperatures(t *testing.T) {
	c := tiny()
	s, err := c.Data(c.Noise[1])
	if err != nil {
		t.Fatal(err)
	}
	p := Grid([]float64{0.1}, "lambda0", []float64{1})[0]
	run, err := train.Run(c.TrainConfig("aldr-kl-code", p, s.Train, s.Test, 1, false))
	if err != nil {
		t.Fatal(err)
	}
	lam, err := Temperatures(run, s.Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(lam) != s.Train.Len() {
		t.Fatalf("%d temperatures for %d examples", len(lam), s.Train.Len())
	}
	lo, hi := lam[0], lam[0]
	for _, l := range lam {
		lo, hi = min(lo, l), max(hi, l)
	}
	if lo < 0.5-1e-6 || hi > 1+1e-6 || hi-lo < 1e-6 {
		t.Errorf("λ_i range over [%v, %v]: want within [0.5, 1] and not constant", lo, hi)
	}
}
