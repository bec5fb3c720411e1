package landscape

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/losslab/losslab/lib/losses"
)

func TestEvalMatchesReference(t *testing.T) {
	sizes := []int{5, 7, 3}
	a := randomMLP(sizes, dtypes.Float32, 1)
	b := randomMLP(sizes, dtypes.Float32, 2)
	c := randomMLP(sizes, dtypes.Float32, 3)
	d := randomData(23, 5, 3, 9) // 23 = 2 full batches of 10 + a padded one
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{BatchSize: 10, PointsPerCall: 4})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := Sub(b, a)
	d2, _ := Sub(c, a)
	coeffs := [][]float64{{0, 0}, {1, 0}, {0, 1}, {0.5, 0.5}, {-0.3, 1.2}, {2, -1}} // 6 points: 2 calls of K=4
	pts, err := ev.Eval(a, []*ParamSet{d1, d2}, coeffs, d)
	if err != nil {
		t.Fatal(err)
	}
	for i, cf := range coeffs {
		theta := combine([]float64{1, cf[0], cf[1]}, []*ParamSet{a, d1, d2})
		// The engine works in float32: compare with the reference on float32-rounded parameters.
		for _, p := range theta.Params {
			for j := range p.Data {
				p.Data[j] = float64(float32(p.Data[j]))
			}
		}
		wantL, wantE := refLossErr(theta, sizes, d)
		if math.Abs(pts[i].Loss-wantL) > 1e-5*(1+wantL) || math.Abs(pts[i].Error-wantE) > 1e-12 {
			t.Errorf("point %v: got loss %.7f err %.4f, want %.7f %.4f", cf, pts[i].Loss, pts[i].Error, wantL, wantE)
		}
	}
	if n := ev.Compilations(); n != 1 {
		t.Errorf("compilations after one Eval = %d, want 1", n)
	}
	// More points, another base: no new program.
	more := make([][]float64, 13)
	for i := range more {
		more[i] = []float64{float64(i) / 12, 0.1}
	}
	if _, err := ev.Eval(b, []*ParamSet{d1, d2}, more, d); err != nil {
		t.Fatal(err)
	}
	if n := ev.Compilations(); n != 1 {
		t.Errorf("compilations after a second Eval = %d, want 1 (no per-point recompiles)", n)
	}
	// Grad at a: check against central finite differences of the float64 reference on 3 coordinates.
	loss, grad, err := ev.Grad(a, d)
	if err != nil {
		t.Fatal(err)
	}
	a32 := a.Clone()
	for _, p := range a32.Params {
		for j := range p.Data {
			p.Data[j] = float64(float32(p.Data[j]))
		}
	}
	if want, _ := refLossErr(a32, sizes, d); math.Abs(loss-want) > 1e-5 {
		t.Errorf("Grad loss %g, want %g", loss, want)
	}
	for _, idx := range []int{0, 5, 30} {
		h := 1e-5
		flat := a32.Flat()
		flat[idx] += h
		pp, _ := a32.FromFlat(flat)
		flat[idx] -= 2 * h
		pm, _ := a32.FromFlat(flat)
		lp, _ := refLossErr(pp, sizes, d)
		lm, _ := refLossErr(pm, sizes, d)
		fd := (lp - lm) / (2 * h)
		if got := grad.Flat()[idx]; math.Abs(got-fd) > 1e-4 {
			t.Errorf("grad[%d] = %g, finite difference %g", idx, got, fd)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	sizes := []int{2, 3, 2}
	a := randomMLP(sizes, dtypes.Float32, 1)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := a.Zeros()
	if _, err := ev.Eval(a, []*ParamSet{dir}, [][]float64{{0}}, &Data{Name: "empty", Shape: []int{2}}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty data: %v", err)
	}
	if _, err := ev.Eval(a, []*ParamSet{dir}, [][]float64{{0}}, &Data{Name: "bad", Shape: []int{2}, X: []float32{1}, Y: []int32{0}}); err == nil {
		t.Error("inconsistent data accepted")
	}
	other := randomMLP([]int{2, 4, 2}, dtypes.Float32, 1)
	if _, err := ev.Eval(other, []*ParamSet{dir}, [][]float64{{0}}, randomData(4, 2, 2, 1)); err == nil || !strings.Contains(err.Error(), "/dense_0/weights") {
		t.Errorf("mismatched base: %v", err)
	}
	bad := a.Clone()
	bad.Params[0].Data[0] = math.NaN()
	if _, err := ev.Eval(bad, []*ParamSet{dir}, [][]float64{{0}}, randomData(4, 2, 2, 1)); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN parameter: %v", err)
	}
	// A loss that is NaN at some points is reported with the point.
	nanEv, err := newToyEvaluator(func(logits, labels *graphNode) *graphNode { return sqrtLoss(logits) }, "sqrt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = nanEv.Eval(toyPoint(1, 0), []*ParamSet{toyPoint(1, 0)}, [][]float64{{0}, {-3}}, toyData())
	if err == nil || !strings.Contains(err.Error(), "NaN") || !strings.Contains(err.Error(), "[-3]") {
		t.Errorf("NaN loss: %v", err)
	}
	if _, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{Objective: "no-such-loss"}); err == nil {
		t.Error("unknown objective accepted")
	}
}

func TestEvalRegistryObjective(t *testing.T) {
	var obj *losses.Objective
	for _, o := range losses.All() {
		if o.Kind == losses.Classification && o.PerExample {
			obj = o
			break
		}
	}
	if obj == nil {
		t.Skip("no per-example classification objective registered yet")
	}
	sizes := []int{4, 3}
	a := randomMLP(sizes, dtypes.Float32, 1)
	d := randomData(9, 4, 3, 2)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), a, Config{Objective: obj.Name, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := ev.Loss(a, d)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(pt.Loss) || ev.LossName() != obj.Name {
		t.Fatalf("objective %s: loss %g", obj.Name, pt.Loss)
	}
}
