package advmdp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestLogBarrierSpecNumbers(t *testing.T) {
	cases := []struct {
		c      []float64
		eta    float64
		want   []float64
		lambda float64 // NaN: not checked
	}{
		{[]float64{0, 1}, 1, []float64{(math.Sqrt(5) - 1) / 2, (3 - math.Sqrt(5)) / 2}, (1 + math.Sqrt(5)) / 2},
		{[]float64{0, 1}, 10, []float64{0.909902, 0.090098}, 0.109902},
		{[]float64{0, 1, 2}, 1, []float64{0.451606, 0.311108, 0.237286}, math.NaN()},
		{[]float64{5, 6}, 1, []float64{0.618034, 0.381966}, (1+math.Sqrt(5))/2 - 5}, // shift invariance: λ shifts by −c
		{[]float64{0, -100}, 1, []float64{0.0099, 0.9901}, math.NaN()},
		{[]float64{3, 3, 3, 3}, 0.7, []float64{0.25, 0.25, 0.25, 0.25}, math.NaN()},
	}
	for _, c := range cases {
		p, lam, err := LogBarrierFTRL(c.c, c.eta)
		if err != nil {
			t.Fatal(err)
		}
		for a := range p {
			if !near(p[a], c.want[a], 5e-5) {
				t.Errorf("c=%v η=%v: p=%v, want %v", c.c, c.eta, p, c.want)
				break
			}
		}
		if !math.IsNaN(c.lambda) && !near(lam, c.lambda, 1e-6) {
			t.Errorf("c=%v η=%v: λ=%.8f, want %.8f", c.c, c.eta, lam, c.lambda)
		}
	}
	// Dominated action keeps mass ≈ 1/(η·gap); Hedge gives e^{-100}.
	p, _, _ := LogBarrierFTRL([]float64{0, -100}, 1)
	if !near(p[0], 1.0/101, 2e-4) {
		t.Errorf("dominated mass %v, want ≈ 1/101", p[0])
	}
	h, _ := ExpWeights([]float64{0, -100}, 1)
	if !near(h[0], math.Exp(-100), 1e-50) || h[0] == 0 {
		t.Errorf("Hedge dominated mass %v, want e^-100", h[0])
	}
}

func TestExpWeightsHand(t *testing.T) {
	// p_0 = 1/(1+e^{-1}) = 0.731059, p_1 = e^{-1}/(1+e^{-1}) = 0.268941.
	p, err := ExpWeights([]float64{0, 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !near(p[0], 0.731059, 1e-6) || !near(p[1], 0.268941, 1e-6) {
		t.Errorf("p=%v", p)
	}
	// (1,2,4), η = 0.5: weights e^{-0.5}, e^{-1}, e^{-2}.
	p, _ = ExpWeights([]float64{1, 2, 4}, 0.5)
	w := []float64{math.Exp(-0.5), math.Exp(-1), math.Exp(-2)}
	z := w[0] + w[1] + w[2]
	for a := range p {
		if !near(p[a], w[a]/z, 1e-14) {
			t.Errorf("p=%v, want %v", p, []float64{w[0] / z, w[1] / z, w[2] / z})
		}
	}
	// No overflow for huge negative cumulative losses.
	p, _ = ExpWeights([]float64{-1e6, -1e6 + 1}, 1)
	if !near(p[0], 0.731059, 1e-6) {
		t.Errorf("shifted p=%v", p)
	}
}

func TestStepErrors(t *testing.T) {
	if _, _, err := LogBarrierFTRL(nil, 1); err == nil {
		t.Error("empty c accepted")
	}
	if _, _, err := LogBarrierFTRL([]float64{0, 1}, 0); err == nil {
		t.Error("η = 0 accepted")
	}
	if _, err := ExpWeights([]float64{0, math.NaN()}, 1); err == nil {
		t.Error("NaN accepted")
	}
}

// objective is the FTRL objective ⟨p,c⟩ + (1/η)Σ ln(1/p_a).
func objective(p, c []float64, eta float64) float64 {
	v := 0.0
	for a := range p {
		v += p[a]*c[a] - math.Log(p[a])/eta
	}
	return v
}

// golden minimises a unimodal f on [lo, hi].
func golden(f func(float64) float64, lo, hi float64) float64 {
	g := (math.Sqrt(5) - 1) / 2
	a, b := lo, hi
	x1, x2 := b-g*(b-a), a+g*(b-a)
	f1, f2 := f(x1), f(x2)
	for range 200 {
		if f1 < f2 {
			b, x2, f2 = x2, x1, f1
			x1 = b - g*(b-a)
			f1 = f(x1)
		} else {
			a, x1, f1 = x1, x2, f2
			x2 = a + g*(b-a)
			f2 = f(x2)
		}
	}
	return (a + b) / 2
}

func TestLogBarrierKKTAndGenericSolver(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		A := 2 + trial%5
		c := make([]float64, A)
		for a := range c {
			c[a] = 20 * (rng.Float64() - 0.5) * math.Pow(10, float64(trial%3))
		}
		eta := math.Pow(10, -2+3*rng.Float64())
		p, lam, err := LogBarrierFTRL(c, eta)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for a := range p {
			if !(p[a] > 0) {
				t.Fatalf("p_%d = %v not positive", a, p[a])
			}
			sum += p[a]
			// Stationarity: c_a − 1/(η p_a) + λ = 0.
			if r := eta * p[a] * (c[a] + lam); !near(r, 1, 1e-9) {
				t.Errorf("trial %d: KKT η p_a (c_a+λ) = %v, want 1", trial, r)
			}
		}
		if !near(sum, 1, 1e-12) {
			t.Errorf("Σp = %.15f", sum)
		}
		// Generic solver: golden-section search over the simplex (A = 2: one coordinate; A = 3: nested).
		switch A {
		case 2:
			q0 := golden(func(x float64) float64 { return objective([]float64{x, 1 - x}, c, eta) }, 1e-12, 1-1e-12)
			if !near(q0, p[0], 1e-6) {
				t.Errorf("A=2 generic solver p0=%v, FTRL %v", q0, p[0])
			}
		case 3:
			inner := func(x float64) (float64, float64) {
				y := golden(func(y float64) float64 { return objective([]float64{x, y, 1 - x - y}, c, eta) }, 1e-12, 1-x-1e-12)
				return y, objective([]float64{x, y, 1 - x - y}, c, eta)
			}
			x := golden(func(x float64) float64 { _, v := inner(x); return v }, 1e-12, 1-2e-12)
			y, v := inner(x)
			if !near(x, p[0], 1e-5) || !near(y, p[1], 1e-5) {
				t.Errorf("A=3 generic solver (%v,%v), FTRL %v", x, y, p)
			}
			if objective(p, c, eta) > v+1e-9*math.Max(1, math.Abs(v)) {
				t.Errorf("FTRL objective %v worse than generic %v", objective(p, c, eta), v)
			}
		}
	}
}

func TestLogBarrierStabilitySpec(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{{0.5, 0.0945}, {-0.5, 0.1931}, {-0.9, 1.4026}} {
		v, q, err := LogBarrierStability(1, 1, c.x) // η = p = 1, so x = ℓ
		if err != nil {
			t.Fatal(err)
		}
		if !near(v, c.want, 1e-4) {
			t.Errorf("x=%v: %v, want %v", c.x, v, c.want)
		}
		if math.Abs(c.x) <= 0.5 && v > c.x*c.x {
			t.Errorf("x=%v: %v exceeds x²/η = %v", c.x, v, c.x*c.x)
		}
		// Independent check: maximise (p − q)ℓ − D(q,p) over a fine grid of q.
		best, bq := math.Inf(-1), 0.0
		for i := 1; i < 200000; i++ {
			qq := float64(i) * 1e-4
			f := (1-qq)*c.x - BregmanLogBarrier(1, qq, 1)
			if f > best {
				best, bq = f, qq
			}
		}
		if !near(best, v, 1e-6) || !near(bq, q, 2e-4) {
			t.Errorf("x=%v: grid max %v at q=%v, closed form %v at %v", c.x, best, bq, v, q)
		}
	}
	// General η and p: the value scales as (1/η)(x − ln(1+x)).
	v, q, _ := LogBarrierStability(0.3, 0.2, 4)
	x := 0.3 * 0.2 * 4
	if !near(v, (x-math.Log1p(x))/0.3, 1e-14) || !near(q, 0.2/(1+x), 1e-14) {
		t.Errorf("got %v %v", v, q)
	}
	if _, _, err := LogBarrierStability(1, 1, -1); err == nil {
		t.Error("x = −1 accepted")
	}
}
