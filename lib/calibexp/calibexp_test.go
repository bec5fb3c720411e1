package calibexp

import (
	"math"
	"slices"
	"testing"

	"github.com/losslab/losslab/lib/atlas"
)

// tiny is the experiment at test sizes.
func tiny() Config {
	return Config{NBase: 80, NCal: 200, NVal: 100, NTest: 100, Classes: 4, Dim: 3, DataSeed: 3, ShiftMove: 0.5, ShiftNoise: 0.5,
		BaseEpochs: 20, Hidden: []int{16}, CalEpochs: 3, CalBatch: 50, LRs: []float64{1e-3, 1e-2}, Bins: 10, Runs: 3, TuneSeed: 100}
}

func TestCABrierValues(t *testing.T) {
	for _, c := range []struct {
		right []bool
		want  float64
	}{{[]bool{true, true, false, false}, 0.205}, {[]bool{true, true, true, false}, 0.1233333333}} {
		if got := CABrier([]float64{0.9, 0.6, 0.7, 0.4}, c.right); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("CABrier(%v) = %.9f, want %.9f", c.right, got, c.want)
		}
	}
	// Class balance: duplicating every correct sample leaves the loss unchanged.
	conf, right := []float64{0.9, 0.6, 0.7, 0.4, 0.9, 0.6}, []bool{true, true, false, false, true, true}
	if got := CABrier(conf, right); math.Abs(got-0.205) > 1e-9 {
		t.Errorf("duplicated correct samples: %.9f, want 0.205", got)
	}
	if got := CABrier([]float64{0.8, 0.6}, []bool{true, true}); math.Abs(got-(0.04+0.16)/2) > 1e-12 {
		t.Errorf("all correct: %g, want the plain mean 0.1", got)
	}
}

func TestAUROC(t *testing.T) {
	right := []bool{false, true, false, true}
	for _, c := range []struct {
		conf []float64
		want float64
	}{{[]float64{0.1, 0.9, 0.2, 0.8}, 1}, {[]float64{0.9, 0.1, 0.8, 0.2}, 0}, {[]float64{0.5, 0.5, 0.5, 0.5}, 0.5}, {[]float64{0.1, 0.9, 0.85, 0.8}, 0.75}} {
		if got := AUROC(c.conf, right); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("AUROC(%v) = %g, want %g", c.conf, got, c.want)
		}
	}
	if !math.IsNaN(AUROC([]float64{0.3}, []bool{true})) {
		t.Error("AUROC with no wrong prediction is not NaN")
	}
}

func TestReliabilityAgreesWithECE(t *testing.T) {
	conf := []float64{0.15, 0.18, 0.55, 0.95, 0.99, 1}
	right := []bool{false, true, true, true, false, true}
	mc, acc := Reliability(conf, right, 10)
	if len(mc) != 3 {
		t.Fatalf("%d non-empty bins, want 3: %v %v", len(mc), mc, acc)
	}
	// The ECE from the diagram's points, weighted by the bins' counts (2, 1, 3 examples).
	e := (2*math.Abs(acc[0]-mc[0]) + math.Abs(acc[1]-mc[1]) + 3*math.Abs(acc[2]-mc[2])) / 6
	want, err := atlas.ECE(conf, right, 10)
	if err != nil || math.Abs(e-want) > 1e-12 {
		t.Fatalf("ECE from the reliability bins %g, atlas.ECE %g (%v)", e, want, err)
	}
	m, err := Measure(conf, right, 10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Accuracy-4.0/6) > 1e-12 || math.Abs(m.ConfWrong-(0.15+0.99)/2) > 1e-12 || math.Abs(m.Gap-(3.82/6-4.0/6)) > 1e-12 {
		t.Errorf("metrics %+v", m)
	}
}

func TestViews(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, -1, 0.5, 2}
	v := Views(x, 3, 7)
	rot := v[2]
	for i := 0; i < len(x); i += 3 {
		n0 := math.Hypot(float64(x[i]), float64(x[i+1]))
		n1 := math.Hypot(float64(rot[i]), float64(rot[i+1]))
		if math.Abs(n0-n1) > 1e-5 || rot[i+2] != x[i+2] || rot[i] == x[i] {
			t.Errorf("row %d: rotation %v of %v", i/3, rot[i:i+3], x[i:i+3])
		}
	}
	for i, d := range v[1] {
		if d != 0 && d != x[i] {
			t.Errorf("dropout view %v of %v", v[1], x)
		}
	}
	if slices.Equal(v[0], x) {
		t.Error("the noise view equals the input")
	}
}

func TestRun(t *testing.T) {
	c := tiny()
	var calls int
	res, err := Run(c, func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*len(c.LRs) + c.Runs*3; calls != want {
		t.Errorf("%d progress calls, want %d", calls, want)
	}
	if len(res.Tuning) != 2 || len(res.Runs) != c.Runs {
		t.Fatalf("%d tunings, %d runs", len(res.Tuning), len(res.Runs))
	}
	for _, tu := range res.Tuning {
		if len(tu.Val) != len(c.LRs) || slices.Min(tu.Val) != tu.Val[tu.Best] {
			t.Errorf("%s: chose %d of %v", tu.Arm, tu.Best, tu.Val)
		}
	}
	for _, r := range res.Runs {
		if len(r.Arms) != 4 || r.GlobalT < 0.1 || r.GlobalT > 10 {
			t.Fatalf("run %d: %d arms, T %g", r.Seed, len(r.Arms), r.GlobalT)
		}
		// A positive temperature keeps every prediction: the correctness is the same for every arm.
		for _, a := range r.Arms[1:] {
			if !slices.Equal(a.RightTest, r.Arms[0].RightTest) || !slices.Equal(a.RightShift, r.Arms[0].RightShift) {
				t.Errorf("run %d: %s changed predictions", r.Seed, a.Arm)
			}
			if len(a.ConfTest) != c.NTest || slices.Equal(a.ConfTest, r.Arms[0].ConfTest) {
				t.Errorf("run %d: %s has %d confidences, equal to the uncalibrated ones: %v", r.Seed, a.Arm, len(a.ConfTest), slices.Equal(a.ConfTest, r.Arms[0].ConfTest))
			}
		}
	}
	if slices.Equal(res.Runs[0].Arms[0].ConfTest, res.Runs[1].Arms[0].ConfTest) {
		t.Error("runs 1 and 2 have the same base model: not independent")
	}
	e, err := res.PerRun(PerSampleCA, true, c.Bins, func(m Metrics) float64 { return m.ECE })
	if err != nil || len(e) != c.Runs {
		t.Fatalf("PerRun: %v, %v", e, err)
	}
	if _, err := res.PerRun("no arm", false, c.Bins, func(m Metrics) float64 { return m.ECE }); err == nil {
		t.Error("PerRun of an unknown arm: no error")
	}
}

func TestCheck(t *testing.T) {
	c := tiny()
	c.LRs = nil
	if c.Check() == nil {
		t.Error("an empty grid passed Check")
	}
	c = tiny()
	c.Classes = 3
	if c.Check() == nil {
		t.Error("3 classes (fewer than the top-4 features) passed Check")
	}
}
