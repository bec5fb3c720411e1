package landscape

import (
	"math"
	"testing"
)

func TestPredictorsQuadratic(t *testing.T) {
	ev, err := newToyEvaluator(quadLoss, "quadratic")
	if err != nil {
		t.Fatal(err)
	}
	a, b := toyPoint(1, 0), toyPoint(-1, 2)
	p, err := BarrierPredictors(ev, a, b, toyPoint(0.3, -0.7), toyData(), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Worked example: G_mid = P1 = P2 = P3 = −1.5 exactly for the quadratic; ΔᵀHΔ = 12.
	for name, v := range map[string]float64{"Gmid": p.Gmid, "P1": p.P1, "P2": p.P2, "P3": p.P3} {
		if math.Abs(v+1.5) > 1e-6 {
			t.Errorf("%s = %.10g, want −1.5", name, v)
		}
	}
	if math.Abs(p.CurvatureMid-12) > 1e-5 {
		t.Errorf("ΔᵀHΔ = %g, want 12", p.CurvatureMid)
	}
	// H = diag(2,1): top eigenvalue 2, trace 3; HVP exact.
	lam, _, err := TopEigenvalue(ev, a, toyData(), 1, 100, 1e-10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lam-2) > 1e-5 {
		t.Errorf("top eigenvalue %g, want 2", lam)
	}
	tr, _, err := HessianTrace(ev, a, toyData(), 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(tr-3) > 1e-5 { // vᵀHv = 2v₁² + v₂² = 3 for every Rademacher v
		t.Errorf("trace %g, want 3", tr)
	}
	hv, err := HVP(ev, a, toyPoint(1, 1), toyData(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(hv.Flat()[0]-2) > 1e-6 || math.Abs(hv.Flat()[1]-1) > 1e-6 {
		t.Errorf("Hv = %v, want (2, 1)", hv.Flat())
	}
}

func TestPredictorsDoubleWell(t *testing.T) {
	ev, err := newToyEvaluator(wellLoss, "double-well")
	if err != nil {
		t.Fatal(err)
	}
	p, err := BarrierPredictors(ev, toyPoint(-1, 0), toyPoint(1, 0), nil, toyData(), 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	// Worked example: φ''(½) = −16, P1 = 2, P3 = 0, G_mid = 1.
	if math.Abs(p.CurvatureMid+16) > 1e-4 || math.Abs(p.P1-2) > 1e-5 || math.Abs(p.P3) > 1e-12 || math.Abs(p.Gmid-1) > 1e-12 || p.HasP2 {
		t.Errorf("double well: φ''(½)=%g P1=%g P3=%g Gmid=%g", p.CurvatureMid, p.P1, p.P3, p.Gmid)
	}
}
