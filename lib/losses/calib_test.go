package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refCA computes the CA loss from its closed form ½[mean_{c=1}(1-conf)² + mean_{c=0} conf²] (not the
// weighted form the graph uses), falling back to the plain mean when one group is empty.
func refCA(in map[string]Arr, _ Params) (float64, []float64) {
	h, y := in["logits"], in["labels"]
	var right, wrong []float64
	var all []float64
	for i := 0; i < h.Shape[0]; i++ {
		row := h.Row(i)
		p := RefSoftmax(row)
		conf, best := 0.0, 0
		for k, v := range p {
			if v > conf {
				conf, best = v, k
			}
		}
		if row[best] == row[y.Int(i)] {
			right = append(right, (1-conf)*(1-conf))
			all = append(all, (1-conf)*(1-conf))
		} else {
			wrong = append(wrong, conf*conf)
			all = append(all, conf*conf)
		}
	}
	if len(right) == 0 || len(wrong) == 0 {
		return MeanOf(all), nil
	}
	return 0.5 * (MeanOf(right) + MeanOf(wrong)), nil
}

func TestCACalibReference(t *testing.T) {
	CheckObjective(t, "ca-calib", smallBatch(), nil, refCA)
	allRight := map[string]Arr{"logits": Mat([]float64{2, 0.7, 0.1}, []float64{0.2, 1.5, -1}), "labels": Vec(0, 1)}
	CheckObjective(t, "ca-calib", allRight, nil, refCA)
	CheckFinite(t, "ca-calib", hugeBatch(), nil)
	CheckFinite(t, "ca-calib", allRight, nil)
}

func TestCACalibProperties(t *testing.T) {
	// 1. Weighting identity on given confidences.
	brier := func(conf, c []float64) float64 {
		return execFloat64(t, func(x []*Node) []*Node { return []*Node{CABrier(x[0], x[1])} },
			tensors.FromValue(conf), tensors.FromValue(c))[0][0]
	}
	conf := []float64{0.9, 0.6, 0.7, 0.4}
	if got := brier(conf, []float64{1, 1, 0, 0}); math.Abs(got-0.205) > 1e-12 {
		t.Errorf("L_CA = %g, want 0.205", got)
	}
	if got := brier(conf, []float64{1, 1, 1, 0}); math.Abs(got-0.123333) > 1e-6 {
		t.Errorf("L_CA = %g, want 0.123333", got)
	}
	// 2 and 3. Accuracy preservation and the confidence range over T ∈ [0.1, 10].
	z := [][]float64{{1, 0.6, -1}, {3, 1, 0}, {-0.2, 0.4, 0.35}}
	for _, T := range []float64{0.1, 0.5, 1, 1.4427, 3, 10, 1e3 /* clamped to 10 */} {
		out := execFloat64(t, func(x []*Node) []*Node {
			cl := CalibratedLogits(x[0], x[1])
			return []*Node{ArgMax(cl, -1), ArgMax(x[0], -1), TopConfidence(cl)}
		}, tensors.FromValue(z), tensors.FromValue([]float64{T, T, T}))
		for i := range z {
			if out[0][i] != out[1][i] {
				t.Errorf("T=%g row %d: argmax changed %g -> %g", T, i, out[1][i], out[0][i])
			}
			if out[2][i] < 1.0/3 || out[2][i] > 1 {
				t.Errorf("T=%g row %d: conf %g outside [1/K, 1]", T, i, out[2][i])
			}
		}
	}
	limits := execFloat64(t, func(x []*Node) []*Node {
		return []*Node{TopConfidence(MulScalar(x[0], 1e-6)), TopConfidence(MulScalar(x[0], 1e3))}
	}, tensors.FromValue(z))
	for i := range z {
		if math.Abs(limits[0][i]-1.0/3) > 1e-5 || math.Abs(limits[1][i]-1) > 1e-9 {
			t.Errorf("row %d: conf(T→∞) = %g, conf(T→0) = %g", i, limits[0][i], limits[1][i])
		}
	}
	// 4. Narrow miss z = [1, 0.6, -1], y = 1: conf and the CA term conf² (a lone wrong sample).
	// The worked table we started from lists, for T = 1.4427, p = [0.497480, 0.377446, 0.125075] and conf² = 0.247486, but
	// softmax([1, 0.6, -1]/1.4427) = [0.498043, 0.377446, 0.124511] (checked independently in Python's
	// math module; p_1 and CE agree with it, p_0 and p_2 look like a transcription slip), so
	// conf = 0.498043 and conf² = 0.248046 are used for that row.
	for _, row := range []struct{ T, conf, ce, ca float64 }{
		{1, 0.553816, 0.990924, 0.306712}, {1.4427, 0.498043, 0.974327, 0.248046}, {10, 0.359774, 1.062278, 0.129438},
	} {
		zt := []float64{1 / row.T, 0.6 / row.T, -1 / row.T}
		got := EvalArr(t, "ca-calib", one(zt, 1), nil, 64).Loss
		ce := EvalArr(t, "ce", one(zt, 1), nil, 64).Loss
		if math.Abs(got-row.ca) > 2e-6 || math.Abs(ce-row.ce) > 2e-6 || math.Abs(math.Sqrt(got)-row.conf) > 2e-6 {
			t.Errorf("narrow miss T=%g: CA %.6f CE %.6f, want %.6f %.6f", row.T, got, ce, row.ca, row.ce)
		}
	}
	// 5 and 6. Confidence of the correct sample [3,1,0]; sign of dL/dT_i: > 0 correct, < 0 wrong.
	zs := [][]float64{{3, 1, 0}, {1, 0.6, -1}, {0.5, 2, 0.1}, {0.2, -0.4, 1.1}}
	ys := []int32{0, 1, 1, 0} // correct, wrong, correct, wrong
	for _, T := range []float64{1, 2} {
		out := execFloat64(t, func(x []*Node) []*Node {
			cl := CalibratedLogits(x[0], x[2])
			loss := CorrectnessAwareLoss(cl, x[1])
			return []*Node{TopConfidence(cl), Gradient(loss, x[2])[0]}
		}, tensors.FromValue(zs), tensors.FromValue(ys), tensors.FromValue([]float64{T, T, T, T}))
		if want := map[float64]float64{1: 0.843795, 2: 0.628532}[T]; math.Abs(out[0][0]-want) > 1e-6 {
			t.Errorf("conf([3,1,0], T=%g) = %.6f, want %.6f", T, out[0][0], want)
		}
		for i, g := range out[1] {
			correct := i%2 == 0
			if (correct && g <= 0) || (!correct && g >= 0) {
				t.Errorf("T=%g sample %d (correct=%v): dL/dT = %g has the wrong sign", T, i, correct, g)
			}
		}
	}
	// 7. Duplicating every correct sample leaves L_CA unchanged.
	b := smallBatch() // rows 0 and 3 correct, 1 and 2 wrong
	dup := map[string]Arr{
		"logits": Mat(b["logits"].Row(0), b["logits"].Row(1), b["logits"].Row(2), b["logits"].Row(3), b["logits"].Row(0), b["logits"].Row(3)),
		"labels": Vec(0, 2, 1, 1, 0, 1),
	}
	l1, l2 := EvalArr(t, "ca-calib", b, nil, 64).Loss, EvalArr(t, "ca-calib", dup, nil, 64).Loss
	if math.Abs(l1-l2) > 1e-12 {
		t.Errorf("duplicating correct samples changed L_CA: %g -> %g", l1, l2)
	}
}

func TestCalibratorTemperature(t *testing.T) {
	feats := [][]float64{{0.5, -1, 2}, {3, 0.2, -0.7}, {-4, -4, -4}}
	w1 := [][]float64{{0.3, -0.2}, {0.1, 0.4}, {-0.5, 0.6}}
	b1 := []float64{0.05, -0.1}
	w2 := []float64{1.5, -2}
	for _, b2 := range []float64{1, 30, -5} {
		got := execFloat64(t, func(x []*Node) []*Node { return []*Node{CalibratorTemperature(x[0], x[1], x[2], x[3], x[4])} },
			tensors.FromValue(feats), tensors.FromValue(w1), tensors.FromValue(b1), tensors.FromValue(w2), tensors.FromValue(b2))[0]
		for i, f := range feats {
			T := b2
			for h := range b1 {
				a := b1[h]
				for k := range f {
					a += f[k] * w1[k][h]
				}
				T += w2[h] * math.Max(a, 0)
			}
			T = math.Min(math.Max(T, 0.1), 10)
			if math.Abs(got[i]-T) > 1e-12 {
				t.Errorf("b2=%g sample %d: T = %g, want %g", b2, i, got[i], T)
			}
		}
	}
}
