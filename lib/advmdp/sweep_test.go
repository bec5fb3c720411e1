package advmdp

import (
	"math"
	"testing"
)

func TestFitSlope(t *testing.T) {
	x := []float64{250, 500, 1000, 2000}
	y := make([]float64, len(x))
	for i := range x {
		y[i] = 3 * math.Pow(x[i], 0.5)
	}
	b, a, err := FitSlope(x, y)
	if err != nil || !near(b, 0.5, 1e-12) || !near(a, math.Log(3), 1e-12) {
		t.Errorf("slope %v intercept %v err %v", b, a, err)
	}
	y[2] = -1
	if _, _, err := FitSlope(x, y); err == nil {
		t.Error("negative y accepted")
	}
}

func TestMeanSE(t *testing.T) {
	m, se := MeanSE([]float64{1, 2, 3, 4})
	// sd = sqrt(5/3), se = sd/2.
	if !near(m, 2.5, 1e-15) || !near(se, math.Sqrt(5.0/3)/2, 1e-15) {
		t.Errorf("%v %v", m, se)
	}
}

func TestTuning(t *testing.T) {
	c := LogBarrierTuning(10).Config(400, 1)
	if !near(c.Eta, 0.5, 1e-15) || !near(c.Gamma, 0.05, 1e-15) || c.Algorithm != LogBarrier {
		t.Errorf("%+v", c)
	}
	c = HedgePriorTuning(2).Config(1000, 1)
	if !near(c.Eta, 0.02, 1e-12) || !near(c.Gamma, 0.1, 1e-12) || c.Algorithm != Hedge {
		t.Errorf("%+v", c)
	}
}

func TestSweepDeterministicAndWorkerIndependent(t *testing.T) {
	sw := Sweep{Ks: []int{40, 80}, Seeds: 3, FirstSeed: 5,
		Tunings: []Tuning{LogBarrierTuning(10), HedgeSqrtTuning(3)}, Workers: 1}
	a, err := sw.Run(nil)
	if err != nil {
		t.Fatal(err)
	}
	sw.Workers = 3
	calls := 0
	b, err := sw.Run(func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 12 {
		t.Errorf("progress called %d times, want 12", calls)
	}
	for tu := range a.Regret {
		for s := range a.Regret[tu] {
			for i := range a.Regret[tu][s] {
				if a.Regret[tu][s][i] != b.Regret[tu][s][i] {
					t.Fatal("result depends on the number of workers")
				}
			}
		}
	}
	// Each entry is the regret of the corresponding single run.
	m, _ := Generate(DefaultGen, 6)
	adv, _ := NewAdversary(m, 80, DefaultAdversary, 6)
	r, _ := Run(m, adv, HedgeSqrtTuning(3).Config(80, 6*1000003+1))
	if r.Regret != a.Regret[1][1][1] {
		t.Errorf("sweep entry %v, direct run %v", a.Regret[1][1][1], r.Regret)
	}
	mean, se := a.Mean(0)
	if len(mean) != 2 || se[0] < 0 {
		t.Errorf("%v %v", mean, se)
	}
}

func TestBootstrapSlope(t *testing.T) {
	Ks := []int{100, 200, 400, 800, 1600}
	rng := newRand(1, 1)
	runs := make([][]float64, 40)
	for s := range runs {
		runs[s] = make([]float64, len(Ks))
		for i, K := range Ks {
			runs[s][i] = 2 * math.Sqrt(float64(K)) * (1 + 0.2*rng.NormFloat64())
		}
	}
	ci, err := BootstrapSlope(Ks, runs, 500, 0.9, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !(ci.Lo <= ci.Slope && ci.Slope <= ci.Hi) || !(ci.Lo < 0.5 && 0.5 < ci.Hi) || ci.Hi-ci.Lo > 0.2 {
		t.Errorf("slope %v interval [%v, %v]", ci.Slope, ci.Lo, ci.Hi)
	}
	ci2, _ := BootstrapSlope(Ks, runs, 500, 0.9, 3)
	if ci2 != ci {
		t.Error("not reproducible")
	}
	// Exact power law without noise: a zero-width interval at the true slope.
	for s := range runs {
		for i, K := range Ks {
			runs[s][i] = math.Pow(float64(K), 2.0/3)
		}
	}
	ci, _ = BootstrapSlope(Ks, runs, 100, 0.9, 3)
	if !near(ci.Lo, 2.0/3, 1e-12) || !near(ci.Hi, 2.0/3, 1e-12) {
		t.Errorf("%+v", ci)
	}
	runs[0][1] = -1e6
	if _, err := BootstrapSlope(Ks, runs, 100, 0.9, 3); err == nil {
		t.Error("negative mean accepted")
	}
}
