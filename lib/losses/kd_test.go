package losses

import (
	"math"
	"testing"
)

// refKDRow is the float64 reference of Hinton KD for one example: T²·KL(softmax(t/T) ‖ softmax(s/T)).
func refKDRow(s, t []float64, temp float64) float64 {
	ss := make([]float64, len(s))
	ts := make([]float64, len(t))
	for k := range s {
		ss[k], ts[k] = s[k]/temp, t[k]/temp
	}
	pt := RefSoftmax(ts)
	ls, lt := RefLogSumExp(ss), RefLogSumExp(ts)
	kl := 0.0
	for k := range s {
		if pt[k] > 0 {
			kl += pt[k] * ((ts[k] - lt) - (ss[k] - ls))
		}
	}
	return temp * temp * kl
}

// kdHold returns a reference that evaluates ref with the named inputs held at their values in orig: the
// gradient reference for objectives whose teacher inputs are constants (no gradient flows into them).
func kdHold(ref RefFn, orig map[string]Arr, names ...string) RefFn {
	return func(in map[string]Arr, p Params) (float64, []float64) {
		m := make(map[string]Arr, len(in))
		for k, v := range in {
			m[k] = v
		}
		for _, n := range names {
			if a, ok := orig[n]; ok {
				m[n] = a
			}
		}
		return ref(m, p)
	}
}

// kdBatch is a small distillation batch, B = 3, K = 4.
func kdBatch() map[string]Arr {
	return map[string]Arr{
		"student": Mat([]float64{1.2, -0.3, 0.5, 2.0}, []float64{-1.0, 0.4, 0.9, -0.2}, []float64{0.3, 1.7, -0.8, 0.1}),
		"teacher": Mat([]float64{2.5, -1.0, 0.2, 1.1}, []float64{-0.5, 1.3, 0.6, -1.4}, []float64{0.9, 2.2, -1.5, 0.4}),
		"labels":  Vec(3, 1, 1),
	}
}

func refKD(in map[string]Arr, p Params) (float64, []float64) {
	s, t, y := in["student"], in["teacher"], in["labels"]
	per := make([]float64, s.Shape[0])
	for i := range per {
		per[i] = p["kd_weight"]*refKDRow(s.Row(i), t.Row(i), p["temperature"]) + p["ce_weight"]*refCE(s.Row(i), y.Int(i))
	}
	return MeanOf(per), per
}

func TestKDReference(t *testing.T) {
	in := kdBatch()
	for _, p := range []Params{nil, {"temperature": 1}, {"temperature": 2.5, "ce_weight": 0.5, "kd_weight": 0.7}} {
		CheckObjectiveGrad(t, "kd", in, p, refKD, kdHold(refKD, in, "teacher"))
	}
	CheckFinite(t, "kd", map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(-1e4), "labels": in["labels"]}, Params{"ce_weight": 1})
}

// The teacher is a constant, KD vanishes when the student equals the teacher, and it is invariant to
// shifting a row of either logits (DHKD spec property 6: 0.767818 before and after adding 5).
func TestKDProperties(t *testing.T) {
	in := kdBatch()
	res := EvalArr(t, "kd", in, nil, 64)
	for i, g := range res.Grad["teacher"] {
		if g != 0 {
			t.Fatalf("d kd/d teacher[%d] = %g, want 0 (the teacher is frozen)", i, g)
		}
	}
	same := map[string]Arr{"student": in["teacher"], "teacher": in["teacher"], "labels": in["labels"]}
	if l := EvalArr(t, "kd", same, nil, 64).Loss; math.Abs(l) > 1e-12 {
		t.Errorf("KD(t, t) = %g, want 0", l)
	}
	for _, shift := range []float64{0, 5} {
		s := Mat([]float64{3 + shift, -2 + shift, -0.5 + shift})
		one := map[string]Arr{"student": s, "teacher": Mat([]float64{2, 0, -1}), "labels": Vec(0)}
		for _, bits := range []int{32, 64} {
			if l := EvalArr(t, "kd", one, Params{"temperature": 4}, bits).Loss; math.Abs(l-0.767818) > 1e-6 {
				t.Errorf("float%d shift %g: KD(T=4) = %.6f, want 0.767818", bits, shift, l)
			}
		}
	}
}
