package losses

// The shared reference check for every objective in this package. Usage, in any _test.go file:
//
//	func TestMyLoss(t *testing.T) {
//		in := map[string]Arr{
//			"logits": Mat([]float64{1, 2, 0.5}, []float64{-1, 0, 3}),
//			"labels": Vec(0, 2), // integer inputs are given as float64 and passed as int32
//		}
//		CheckObjective(t, "my-loss", in, Params{"tau": 2}, func(in map[string]Arr, p Params) (float64, []float64) {
//			... plain-Go float64 math, no GoMLX ...
//			return MeanOf(per), per // or (loss, nil) for batch-level objectives
//		})
//	}
//
// CheckObjective verifies, through Evaluate (so the registry entry, kind checks and graph are all exercised):
//   - float32: loss and per-example losses equal the reference to 1e-5 relative (plus an absolute floor
//     of 1e-6, for values near 0);
//   - float64: loss and per-example losses equal the reference to 1e-9 relative (plus 1e-12 absolute);
//   - float64: the gradient of the mean loss w.r.t. every float input equals central finite differences
//     of the float64 *reference* (an independent check of the graph's autodiff) to 1e-5 relative to the
//     gradient's largest entry (plus 1e-7 absolute);
//   - float32 gradients agree with float64 gradients to 1e-3 relative to the largest entry.
//
// CheckObjectiveGrad takes a second reference for the gradient, for objectives that detach part of the
// loss (state treated as a constant in backprop).
//
// Choose inputs away from kinks (hinge margins, argmax ties, clipping thresholds) so finite differences
// are meaningful. CheckFinite checks that value and gradients are finite (e.g. for logits of size 1e4).

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Arr is a test array: float64 values in row-major order with their dimensions.
type Arr struct {
	Shape []int
	Data  []float64
}

// Vec makes a rank-1 Arr.
func Vec(v ...float64) Arr { return Arr{Shape: []int{len(v)}, Data: append([]float64(nil), v...)} }

// Mat makes a rank-2 Arr from rows of equal length.
func Mat(rows ...[]float64) Arr {
	a := Arr{Shape: []int{len(rows), len(rows[0])}}
	for _, r := range rows {
		if len(r) != len(rows[0]) {
			panic("Mat: ragged rows")
		}
		a.Data = append(a.Data, r...)
	}
	return a
}

// At2 returns element [i,j] of a rank-2 Arr.
func (a Arr) At2(i, j int) float64 { return a.Data[i*a.Shape[1]+j] }

// Row returns row i of a rank-2 Arr (a view).
func (a Arr) Row(i int) []float64 { return a.Data[i*a.Shape[1] : (i+1)*a.Shape[1]] }

// Int returns element i of a rank-1 Arr as an int (for labels).
func (a Arr) Int(i int) int { return int(a.Data[i]) }

// Scaled returns a copy with every value multiplied by s.
func (a Arr) Scaled(s float64) Arr {
	out := Arr{Shape: append([]int(nil), a.Shape...), Data: make([]float64, len(a.Data))}
	for i, v := range a.Data {
		out.Data[i] = v * s
	}
	return out
}

func (a Arr) clone() Arr {
	return Arr{Shape: append([]int(nil), a.Shape...), Data: append([]float64(nil), a.Data...)}
}

// MeanOf returns the mean of xs.
func MeanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// RefFn is a float64 reference implementation: it returns the loss and, for per-example objectives,
// the per-example losses (nil otherwise). p holds fully resolved params (defaults filled in).
type RefFn func(in map[string]Arr, p Params) (loss float64, perExample []float64)

// ToTensors converts test arrays to tensors for Evaluate: float inputs of the objective's kind to
// floatBits (32 or 64) floats, integer inputs to int32.
func ToTensors(t testing.TB, name string, in map[string]Arr, floatBits int) map[string]*tensors.Tensor {
	t.Helper()
	o, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	isFloat := map[string]bool{}
	for _, spec := range o.Kind.Inputs() {
		isFloat[spec.Name] = spec.Float
	}
	out := map[string]*tensors.Tensor{}
	for n, a := range in {
		switch {
		case isFloat[n] && floatBits == 32:
			f := make([]float32, len(a.Data))
			for i, v := range a.Data {
				f[i] = float32(v)
			}
			out[n] = tensors.FromFlatDataAndDimensions(f, a.Shape...)
		case isFloat[n]:
			out[n] = tensors.FromFlatDataAndDimensions(append([]float64(nil), a.Data...), a.Shape...)
		default:
			f := make([]int32, len(a.Data))
			for i, v := range a.Data {
				f[i] = int32(v)
			}
			out[n] = tensors.FromFlatDataAndDimensions(f, a.Shape...)
		}
	}
	return out
}

// EvalArr runs Evaluate on test arrays with the given float precision (32 or 64); it fails the test on error.
func EvalArr(t testing.TB, name string, in map[string]Arr, p Params, floatBits int) *Result {
	t.Helper()
	res, err := Evaluate(name, ToTensors(t, name, in, floatBits), p)
	if err != nil {
		t.Fatalf("Evaluate(%q, float%d): %v", name, floatBits, err)
	}
	return res
}

// checkNear fails the test (without stopping it) when got and want differ in length or in any entry by more
// than tol, naming the first entries that differ and how many do.
func checkNear(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	var bad []string
	n := 0
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= tol) {
			n++
			if len(bad) < 3 {
				bad = append(bad, fmt.Sprintf("[%d] = %.15g, want %.15g", i, got[i], want[i]))
			}
		}
	}
	if n > 0 {
		t.Errorf("%s: %d of %d values off by more than %g: %s", what, n, len(got), tol, strings.Join(bad, "; "))
	}
}

func closeRel(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

// CheckObjective compares the objective's value and gradients with a float64 reference; see the file doc.
func CheckObjective(t *testing.T, name string, in map[string]Arr, p Params, ref RefFn) {
	t.Helper()
	CheckObjectiveGrad(t, name, in, p, ref, nil)
}

// CheckObjectiveGrad is CheckObjective with a separate reference for the gradient: the expected gradient
// is the finite difference of gradRef (nil: ref). Use it where the graph detaches part of the loss (for
// example a per-example state computed from the inputs but treated as a constant in backprop): gradRef
// then holds that part fixed at its value on the unperturbed inputs.
func CheckObjectiveGrad(t *testing.T, name string, in map[string]Arr, p Params, ref, gradRef RefFn) {
	t.Helper()
	if gradRef == nil {
		gradRef = ref
	}
	o, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := o.Resolve(p)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, wantPer := ref(in, rp)
	if o.PerExample && wantPer == nil {
		t.Fatalf("%s: reference must return per-example losses for a per-example objective", name)
	}
	if math.IsNaN(wantLoss) || math.IsInf(wantLoss, 0) {
		t.Fatalf("%s: reference loss is %g", name, wantLoss)
	}
	for _, bits := range []int{32, 64} {
		rel, abs := 1e-5, 1e-6
		if bits == 64 {
			rel, abs = 1e-9, 1e-12
		}
		res := EvalArr(t, name, in, p, bits)
		if !closeRel(res.Loss, wantLoss, rel, abs) {
			t.Errorf("%s float%d: loss = %.10g, reference %.10g", name, bits, res.Loss, wantLoss)
		}
		if o.PerExample {
			if len(res.PerExample) != len(wantPer) {
				t.Fatalf("%s float%d: %d per-example losses, reference has %d", name, bits, len(res.PerExample), len(wantPer))
			}
			for i := range wantPer {
				if !closeRel(res.PerExample[i], wantPer[i], rel, abs) {
					t.Errorf("%s float%d: per-example[%d] = %.10g, reference %.10g", name, bits, i, res.PerExample[i], wantPer[i])
				}
			}
		} else if res.PerExample != nil {
			t.Errorf("%s: PerExample should be nil for a batch-level objective", name)
		}
	}
	g64 := EvalArr(t, name, in, p, 64).Grad
	g32 := EvalArr(t, name, in, p, 32).Grad
	for _, spec := range o.Kind.Inputs() {
		if _, ok := in[spec.Name]; !spec.Float || !ok {
			continue
		}
		fd := FiniteDiff(in, spec.Name, func(m map[string]Arr) float64 { l, _ := gradRef(m, rp); return l })
		checkGrad(t, fmt.Sprintf("%s: d loss/d %s (float64 vs finite differences of reference)", name, spec.Name), g64[spec.Name], fd, 1e-5, 1e-7)
		checkGrad(t, fmt.Sprintf("%s: d loss/d %s (float32 vs float64)", name, spec.Name), g32[spec.Name], g64[spec.Name], 1e-3, 1e-6)
	}
}

// FiniteDiff returns the central finite-difference gradient of f w.r.t. every element of input name
// (step 1e-5 scaled by the element's magnitude).
func FiniteDiff(in map[string]Arr, name string, f func(map[string]Arr) float64) []float64 {
	m := map[string]Arr{}
	for k, v := range in {
		m[k] = v.clone()
	}
	a := m[name]
	g := make([]float64, len(a.Data))
	for i, x := range a.Data {
		h := 1e-5 * math.Max(1, math.Abs(x))
		a.Data[i] = x + h
		fp := f(m)
		a.Data[i] = x - h
		fm := f(m)
		a.Data[i] = x
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

// checkGrad compares two gradients element-wise, with tolerance rel·max|want| + abs.
func checkGrad(t *testing.T, what string, got, want []float64, rel, abs float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(got), len(want))
		return
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	bad := 0
	for i := range want {
		if math.IsNaN(got[i]) || math.Abs(got[i]-want[i]) > rel*scale+abs {
			if bad < 3 {
				t.Errorf("%s: [%d] = %.8g, want %.8g", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: ... %d mismatches in all", what, bad)
	}
}

// CheckFinite evaluates the objective in float32 and float64 and fails if the loss, a per-example loss
// or a gradient entry is NaN or infinite.
func CheckFinite(t *testing.T, name string, in map[string]Arr, p Params) {
	t.Helper()
	for _, bits := range []int{32, 64} {
		res := EvalArr(t, name, in, p, bits)
		vals := append([]float64{res.Loss}, res.PerExample...)
		for _, g := range res.Grad {
			vals = append(vals, g...)
		}
		for i, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s float%d: non-finite value %g (output entry %d) for inputs %v", name, bits, v, i, in)
				break
			}
		}
	}
}

// RefLogSumExp is a stable float64 log Σ exp(x).
func RefLogSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// RefSoftmax is a stable float64 softmax.
func RefSoftmax(x []float64) []float64 {
	l := RefLogSumExp(x)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Exp(v - l)
	}
	return out
}
