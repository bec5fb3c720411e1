package losses

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refHPM is the float64 reference of HPM's relative loss; student = ŝ, teacher = ℓ.
func refHPM(in map[string]Arr, p Params) (float64, []float64) {
	s, l := in["student"], in["teacher"]
	total, count := 0.0, 0.0
	for b := range s.Shape[0] {
		for i := range s.Shape[1] {
			for j := range s.Shape[1] {
				d := s.At2(b, j) - s.At2(b, i)
				sig := 1 / (1 + math.Exp(-d))
				switch {
				case l.At2(b, j) > l.At2(b, i):
					count++
					if p["exact"] == 1 {
						total -= math.Log(sig + 1e-6)
					} else {
						total += refSoftplus(-d)
					}
				case l.At2(b, j) < l.At2(b, i):
					count++
					if p["exact"] == 1 {
						total -= math.Log(1 - sig + 1e-6)
					} else {
						total += refSoftplus(d)
					}
				}
			}
		}
	}
	if count == 0 {
		return 0, nil
	}
	return total / count, nil
}

func hpmIn(pred, target []float64) map[string]Arr {
	return map[string]Arr{"student": Mat(pred), "teacher": Mat(target), "labels": Vec(0)}
}

func TestHPMReference(t *testing.T) {
	in := map[string]Arr{
		"student": Mat([]float64{0.3, -1.2, 2.0, 0.7}, []float64{1.1, -0.4, -0.9, 0.5}),
		"teacher": Mat([]float64{0.5, 0.1, 0.9, 0.15}, []float64{0.2, 0.8, 0.3, 0.6}),
		"labels":  Vec(0, 1),
	}
	for _, exact := range []float64{0, 1} {
		CheckObjective(t, "hpm-rank", in, Params{"exact": exact}, refHPM)
	}
	CheckFinite(t, "hpm-rank", map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(1e4), "labels": in["labels"]}, nil)
	// Property 8: no gradient into ℓ.
	res := EvalArr(t, "hpm-rank", in, nil, 64)
	for i, g := range res.Grad["teacher"] {
		if g != 0 {
			t.Errorf("d L/d ℓ[%d] = %g, want 0 (ℓ is detached)", i, g)
		}
	}
}

// Properties 1–5 on hand-worked numbers (exact = 1 reproduces the reference's 1e-6 term).
func TestHPMWorkedNumbers(t *testing.T) {
	ell, s := []float64{0.1, 0.3, 0.2}, []float64{0, 1, 0.5}
	check := func(what string, pred, target []float64, exact float64, want, tol float64) {
		t.Helper()
		for _, bits := range []int{32, 64} {
			got := EvalArr(t, "hpm-rank", hpmIn(pred, target), Params{"exact": exact}, bits).Loss
			if math.Abs(got-want) > tol {
				t.Errorf("%s (float%d, exact=%g) = %.7f, want %.7f", what, bits, exact, got, want)
			}
		}
	}
	check("L_pred", s, ell, 1, 0.420470, 2e-6)
	check("L_pred stable form", s, ell, 0, 0.420470, 2e-5)
	check("constant prediction", []float64{0.4, 0.4, 0.4}, ell, 1, 0.693145, 2e-6)
	check("constant prediction (softplus)", []float64{0.4, 0.4, 0.4}, ell, 0, math.Ln2, 1e-6)
	expEll := []float64{math.Exp(0.5), math.Exp(1.5), math.Exp(1)}
	check("rank invariance in ℓ", s, expEll, 1, 0.420470, 2e-6)
	check("shift invariance in ŝ", []float64{3, 4, 3.5}, ell, 1, 0.420470, 2e-6)
	check("reversed predictions", []float64{0, -1, -0.5}, ell, 1, 1.087136, 2e-6)
	check("perfect large-scale order", []float64{10, 30, 20}, ell, 1, 2.93e-5, 1e-6)
	check("ties excluded", s, []float64{0.1, 0.1, 0.2}, 1, 0.724075, 2e-6)
	check("all tied", s, []float64{0.1, 0.1, 0.1}, 0, 0, 0)
}

// Properties 6 and 7: mask counts, the schedule over epochs, exactly N_m masked, hard patches chosen.
func TestHPMMaskSchedule(t *testing.T) {
	keep, nm, err := HPMMaskCounts(196, 0.75)
	if err != nil || keep != 49 || nm != 147 {
		t.Errorf("L=196: len_keep=%d N_m=%d (%v), want 49, 147", keep, nm, err)
	}
	if keep, nm, _ = HPMMaskCounts(49, 0.75); keep != 12 || nm != 37 {
		t.Errorf("L=49: len_keep=%d N_m=%d, want 12, 37", keep, nm)
	}
	for _, c := range []struct {
		epoch int
		alpha float64
		nh    int
	}{{0, 0.000625, 0}, {399, 0.25, 36}, {799, 0.5, 73}} {
		a, nh, err := HPMHardCount(c.epoch, 800, 147)
		if err != nil || math.Abs(a-c.alpha) > 1e-12 || nh != c.nh {
			t.Errorf("epoch %d: α=%g N_h=%d (%v), want %g, %d", c.epoch, a, nh, err, c.alpha, c.nh)
		}
	}
	if _, _, err := HPMHardCount(800, 800, 147); err == nil {
		t.Error("epoch == epochs accepted")
	}
	// Several epochs of a run: the float64 schedule, exactly N_m masked, top-N_h always masked.
	rng := rand.New(rand.NewPCG(1, 2))
	pred := make([]float64, 49)
	for i := range pred {
		pred[i] = rng.Float64()
	}
	const epochs = 8
	for ep := range epochs {
		alpha, nh, err := HPMHardCount(ep, epochs, 37)
		if err != nil {
			t.Fatal(err)
		}
		if want := 0.5 * float64(ep+1) / epochs; alpha != want || nh != int(37*want) {
			t.Errorf("epoch %d: α=%g N_h=%d, want %g, %d", ep, alpha, nh, want, int(37*want))
		}
		mask, err := HPMMask(pred, 37, nh, rng)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range mask {
			if m {
				n++
			}
		}
		if n != 37 {
			t.Errorf("epoch %d: %d masked, want 37", ep, n)
		}
		// Every patch whose predicted loss is among the top N_h is masked.
		for i, v := range pred {
			higher := 0
			for _, w := range pred {
				if w > v {
					higher++
				}
			}
			if higher < nh && !mask[i] {
				t.Errorf("epoch %d: patch %d (rank %d < N_h=%d) not masked", ep, i, higher, nh)
			}
		}
	}
	if _, err := HPMMask(pred, 50, 3, rng); err == nil {
		t.Error("N_m > L accepted")
	}
	// EMA teacher: decay ramp and several update steps against the float64 recursion.
	if d := HPMTeacherDecay(0, 100, 0.999, 0.9999); d != 0.999 {
		t.Errorf("decay at 0 = %g", d)
	}
	if d := HPMTeacherDecay(50, 100, 0.999, 0.9999); math.Abs(d-0.99945) > 1e-15 {
		t.Errorf("decay at 50 = %g, want 0.99945", d)
	}
	if d := HPMTeacherDecay(400, 100, 0.999, 0.9999); d != 0.9999 {
		t.Errorf("decay at 400 = %g", d)
	}
	teacher, student := []float64{1, -2}, []float64{0, 4}
	want := append([]float64(nil), teacher...)
	for step := range 5 {
		d := HPMTeacherDecay(float64(step), 4, 0.5, 0.9)
		if err := HPMTeacherUpdate(teacher, student, d); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i] = d*want[i] + (1-d)*student[i]
		}
	}
	// Closed form for the first coordinate (student 0): 1·Π decay.
	prod := 1.0
	for step := range 5 {
		prod *= HPMTeacherDecay(float64(step), 4, 0.5, 0.9)
	}
	if math.Abs(teacher[0]-prod) > 1e-15 || math.Abs(teacher[1]-want[1]) > 1e-15 {
		t.Errorf("EMA after 5 steps = %v, want [%g %g]", teacher, prod, want[1])
	}
}

func TestHPMAbsolute(t *testing.T) {
	pred := []float64{0.3, -1.2, 2.0, 0.7, 1.1, -0.4}
	target := []float64{0.5, 0.1, 0.9, 0.2, 0.8, 0.3}
	out := runGraph(t, HPMAbsoluteLoss, hbTensor(pred, 2, 3), hbTensor(target, 2, 3))
	want := 0.0
	for b := range 2 {
		row := target[b*3 : b*3+3]
		m := (row[0] + row[1] + row[2]) / 3
		v := 0.0
		for _, x := range row {
			v += (x - m) * (x - m)
		}
		v /= 2
		for i, x := range row {
			d := pred[b*3+i] - (x-m)/math.Sqrt(v+1e-6)
			want += d * d
		}
	}
	want /= 6
	if math.Abs(out[0][0]-want) > 1e-12 {
		t.Errorf("absolute loss %g, want %g", out[0][0], want)
	}
}
