package train

import (
	"errors"
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The tests train a linear least-squares model ŷ = x·W + b on fixed data and compare ParamStep with a
// float64 reference written here: the gradient of L = mean_{n,j} (ŷ − y)² worked out by hand and each
// update rule written out in plain Go.

const lsqN, lsqIn, lsqOut = 5, 3, 2

func lsqData() (x, y []float32) {
	x, y = make([]float32, lsqN*lsqIn), make([]float32, lsqN*lsqOut)
	for i := range x {
		x[i] = float32(math.Sin(float64(i+1) * 1.3))
	}
	for i := range y {
		y[i] = float32(math.Cos(float64(i) * 0.7))
	}
	return x, y
}

func lsqInit() ParamList {
	return ParamList{
		{Name: "w", Shape: []int{lsqIn, lsqOut}, Data: []float32{0.5, -0.3, 0.2, 0.1, -0.4, 0.7}},
		{Name: "b", Shape: []int{lsqOut}, Data: []float32{0.05, -0.1}},
	}
}

// lsqLoss is the loss graph; it reports the sum of the predictions (a value computed before the update).
func lsqLoss(params, inputs []*Node) (*Node, []*Node) {
	pred := Add(Dot(inputs[0], params[0]), ExpandLeftToRank(params[1], 2))
	return ReduceAllMean(Square(Sub(pred, inputs[1]))), []*Node{ReduceAllSum(pred)}
}

// lsqRef returns the loss, the gradients (W then b) and the sum of predictions at float64 parameters.
func lsqRef(w, b []float64, x, y []float32) (loss float64, gw, gb []float64, sum float64) {
	gw, gb = make([]float64, len(w)), make([]float64, len(b))
	scale := 2 / float64(lsqN*lsqOut)
	for n := range lsqN {
		for j := range lsqOut {
			p := b[j]
			for i := range lsqIn {
				p += float64(x[n*lsqIn+i]) * w[i*lsqOut+j]
			}
			sum += p
			r := p - float64(y[n*lsqOut+j])
			loss += r * r / float64(lsqN*lsqOut)
			gb[j] += scale * r
			for i := range lsqIn {
				gw[i*lsqOut+j] += scale * r * float64(x[n*lsqIn+i])
			}
		}
	}
	return loss, gw, gb, sum
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func lsqInputs(t *testing.T) (func(int) ([]*tensors.Tensor, error), []float32, []float32) {
	t.Helper()
	x, y := lsqData()
	in := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, lsqN, lsqIn), tensors.FromFlatDataAndDimensions(y, lsqN, lsqOut)}
	return func(int) ([]*tensors.Tensor, error) { return in, nil }, x, y
}

func closeTo(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, reference %v", what, i, got[i], want[i])
		}
	}
}

// TestParamStepAdamW: five AdamW steps with a decay on W only, a changing learning rate and gradient
// clipping that bites, against the reference.
func TestParamStepAdamW(t *testing.T) {
	s, err := NewParamStep(lsqInit(), Rule{Kind: "adamw", Clip: true, Decay: func(p Param) bool { return p.Name == "w" }}, lsqLoss)
	if err != nil {
		t.Fatal(err)
	}
	inputs, x, y := lsqInputs(t)
	hyper := func(step int) Hyper {
		return Hyper{LR: 0.05 / float64(step), Decay: 0.01, Clip: 0.3, Beta1: 0.8, Beta2: 0.95, Epsilon: 1e-6}
	}
	w, b := f64s(lsqInit()[0].Data), f64s(lsqInit()[1].Data)
	mw, vw, mb, vb := make([]float64, len(w)), make([]float64, len(w)), make([]float64, len(b)), make([]float64, len(b))
	steps := 0
	_, err = s.Run(lsqInit(), ParamRun{Steps: 5, Hyper: hyper, Inputs: inputs, After: func(step int, out StepOut, st *ParamState) error {
		h := hyper(step)
		loss, gw, gb, sum := lsqRef(w, b, x, y)
		norm := 0.0
		for _, g := range append(append([]float64{}, gw...), gb...) {
			norm += g * g
		}
		norm = math.Sqrt(norm)
		if math.Abs(out.Loss-loss) > 1e-5 || math.Abs(out.GradNorm-norm) > 1e-5 || math.Abs(out.Report[0]-sum) > 1e-4 {
			t.Fatalf("step %d: loss %v ‖g‖ %v report %v, reference %v %v %v", step, out.Loss, out.GradNorm, out.Report, loss, norm, sum)
		}
		scale := math.Min(1, h.Clip/(norm+1e-6))
		if step == 1 && scale == 1 {
			t.Fatal("the test's clipping threshold does not bite")
		}
		adam := func(p, m, v, g []float64, decay bool) {
			for i := range p {
				gi := g[i] * scale
				m[i] = h.Beta1*m[i] + (1-h.Beta1)*gi
				v[i] = h.Beta2*v[i] + (1-h.Beta2)*gi*gi
				u := m[i] / (1 - math.Pow(h.Beta1, float64(step))) / (math.Sqrt(v[i]/(1-math.Pow(h.Beta2, float64(step)))) + h.Epsilon)
				if decay {
					p[i] -= h.Decay * p[i]
				}
				p[i] -= h.LR * u
			}
		}
		adam(w, mw, vw, gw, true)
		adam(b, mb, vb, gb, false)
		ps := st.Params()
		closeTo(t, "W", ps[0].Data, w)
		closeTo(t, "b", ps[1].Data, b)
		steps = st.Steps()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if steps != 5 {
		t.Errorf("the hook last saw %d steps, want 5", steps)
	}
}

// TestParamStepSGD: heavy-ball momentum with decay on every parameter, against the reference; one
// compiled step serves two runs, and the second starts from fresh momentum.
func TestParamStepSGD(t *testing.T) {
	s, err := NewParamStep(lsqInit(), Rule{Kind: "sgd"}, lsqLoss)
	if err != nil {
		t.Fatal(err)
	}
	inputs, x, y := lsqInputs(t)
	h := Hyper{LR: 0.1, Momentum: 0.9, Decay: 0.002}
	for run := range 2 {
		w, b := f64s(lsqInit()[0].Data), f64s(lsqInit()[1].Data)
		bw, bb := make([]float64, len(w)), make([]float64, len(b))
		st, err := s.Run(lsqInit(), ParamRun{Steps: 4, Hyper: func(int) Hyper { return h }, Inputs: inputs})
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			_, gw, gb, _ := lsqRef(w, b, x, y)
			for _, q := range []struct{ p, buf, g []float64 }{{w, bw, gw}, {b, bb, gb}} {
				for i := range q.p {
					q.buf[i] = h.Momentum*q.buf[i] + q.g[i]
					q.p[i] -= h.Decay*q.p[i] + h.LR*q.buf[i]
				}
			}
		}
		ps := st.Params()
		closeTo(t, "W", ps[0].Data, w)
		closeTo(t, "b", ps[1].Data, b)
		if run == 0 && ps[0].Data[0] == lsqInit()[0].Data[0] {
			t.Fatal("SGD did not move the parameters")
		}
	}
}

// TestParamStepErrors: a diverging run names its step, hook errors and input errors come back as
// they are, and parameter sets of the wrong layout are refused.
func TestParamStepErrors(t *testing.T) {
	s, err := NewParamStep(lsqInit(), Rule{Kind: "sgd"}, lsqLoss)
	if err != nil {
		t.Fatal(err)
	}
	inputs, _, _ := lsqInputs(t)
	_, err = s.Run(lsqInit(), ParamRun{Steps: 50, Hyper: func(int) Hyper { return Hyper{LR: 1e6} }, Inputs: inputs})
	var div *DivergedError
	if !errors.As(err, &div) || div.Step < 2 || div.Step >= 50 {
		t.Fatalf("diverging run: error %v, want a DivergedError at a step in [2, 50)", err)
	}
	_, err = s.Run(lsqInit(), ParamRun{Steps: 5, Hyper: func(int) Hyper { return Hyper{LR: 0.01} }, Inputs: inputs,
		Diverged: func(out StepOut) bool { return out.Report[0] > -1e9 }})
	if !errors.As(err, &div) || div.Step != 1 {
		t.Errorf("a Diverged test that always holds: error %v, want a DivergedError at step 1", err)
	}
	stop := errors.New("stop here")
	seen := 0
	_, err = s.Run(lsqInit(), ParamRun{Steps: 5, Hyper: func(int) Hyper { return Hyper{LR: 0.01} }, Inputs: inputs,
		After: func(step int, _ StepOut, _ *ParamState) error {
			seen = step
			if step == 2 {
				return stop
			}
			return nil
		}})
	if !errors.Is(err, stop) || seen != 2 {
		t.Errorf("hook error: got %v after step %d, want %v after step 2", err, seen, stop)
	}
	bad := lsqInit()
	bad[1].Shape = []int{1, 2}
	if _, err := s.Start(bad); err == nil || !strings.Contains(err.Error(), "parameter 1") {
		t.Errorf("Start with a misshapen parameter: error %v", err)
	}
	if _, err := s.Start(lsqInit()[:1]); err == nil {
		t.Error("Start accepted one parameter of two")
	}
	st, _ := s.Start(lsqInit())
	if _, err := st.Step(Hyper{LR: 0.1}); err == nil {
		t.Error("Step without the loss graph's inputs did not fail")
	}
	if _, err := NewParamStep(lsqInit(), Rule{Kind: "lion"}, lsqLoss); err == nil {
		t.Error("NewParamStep accepted an unknown rule")
	}
}
