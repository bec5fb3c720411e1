package losses

import (
	"math"
	"math/rand"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refMTARDRow is MTARD's ℓ for one example: (1/K) Σ_k p_k (log(p_k + 1e-5) − log softmax(s)_k), p = softmax(t/τ).
func refMTARDRow(s, t []float64, tau float64) float64 {
	ts := make([]float64, len(t))
	for k := range t {
		ts[k] = t[k] / tau
	}
	p := RefSoftmax(ts)
	ls := RefLogSumExp(s)
	sum := 0.0
	for k := range s {
		sum += p[k] * (math.Log(p[k]+1e-5) - (s[k] - ls))
	}
	return sum / float64(len(s))
}

// refMTARDNegEnt is H̃ = mean_{b,k} p log(p + 1e-5) over the rows of t.
func refMTARDNegEnt(t Arr, tau float64) float64 {
	sum := 0.0
	for b := 0; b < t.Shape[0]; b++ {
		ts := make([]float64, t.Shape[1])
		for k := range ts {
			ts[k] = t.At2(b, k) / tau
		}
		for _, p := range RefSoftmax(ts) {
			sum += p * math.Log(p+1e-5)
		}
	}
	return sum / float64(len(t.Data))
}

func refMTARDMean(s, t Arr, tau float64) float64 {
	sum := 0.0
	for b := 0; b < s.Shape[0]; b++ {
		sum += refMTARDRow(s.Row(b), t.Row(b), tau)
	}
	return sum / float64(s.Shape[0])
}

func TestMTARDReference(t *testing.T) {
	in := kdBatch()
	ref := func(in map[string]Arr, p Params) (float64, []float64) {
		s, tt := in["student"], in["teacher"]
		per := make([]float64, s.Shape[0])
		for i := range per {
			per[i] = refMTARDRow(s.Row(i), tt.Row(i), p["tau"])
		}
		return MeanOf(per), per
	}
	for _, p := range []Params{nil, {"tau": 2.5}, {"tau": 0.4}} {
		CheckObjectiveGrad(t, "mtard-kl", in, p, ref, kdHold(ref, in, "teacher"))
	}
	huge := map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(-1e4), "labels": in["labels"]}
	CheckFinite(t, "mtard-kl", huge, nil)
	CheckFinite(t, "mtard-kl", huge, Params{"tau": 10})
}

// mtardNegEnt evaluates MTARDNegEntropy on one row of teacher logits at temperature tau (float64).
func mtardNegEnt(t *testing.T, logits []float64, tau float64) float64 {
	out := runGraph(t, func(z, tau *Node) *Node { return MTARDNegEntropy(z, tau) },
		tensors.FromValue([][]float64{logits}), tensors.FromValue(tau))
	return out[0][0]
}

// Properties 1–6 on hand-worked numbers.
func TestMTARDProperties(t *testing.T) {
	// 1: entropy increases with τ; H̃ values.
	z := []float64{2, 0, -1}
	p1 := RefSoftmax(z)
	for k, want := range []float64{0.8438, 0.1142, 0.0420} {
		if math.Abs(p1[k]-want) > 5e-5 {
			t.Errorf("softmax(z)[%d] = %.4f, want %.4f", k, p1[k], want)
		}
	}
	prevH := -1.0
	for i, c := range []struct{ tau, h, negEnt float64 }{{1, 0.5243, -0.17475}, {2, 0.9060, -0.30198}, {4, 1.0481, -0.34937}} {
		zs := []float64{z[0] / c.tau, z[1] / c.tau, z[2] / c.tau}
		h := 0.0
		for _, p := range RefSoftmax(zs) {
			h -= p * math.Log(p)
		}
		if math.Abs(h-c.h) > 5e-5 || h <= prevH {
			t.Errorf("τ=%g: H = %.4f, want %.4f, increasing in τ", c.tau, h, c.h)
		}
		prevH = h
		if got := mtardNegEnt(t, z, c.tau); math.Abs(got-c.negEnt) > 5e-6 {
			t.Errorf("case %d τ=%g: H̃ = %.6f, want %.5f", i, c.tau, got, c.negEnt)
		}
	}
	// 2: fixed point.
	if a, n := MTARDTemperatureStep(3, 4, -0.2, -0.2, 0.1, 1, 10); a != 3 || n != 4 {
		t.Errorf("equal H̃: τ = (%g, %g), want (3, 4) unchanged", a, n)
	}
	// 3: direction and clamping.
	hAdv, hNat := mtardNegEnt(t, []float64{1, 0.8, 0.7}, 1), mtardNegEnt(t, []float64{6, 0, -2}, 1)
	if math.Abs(hAdv-(-0.36354)) > 5e-6 || math.Abs(hNat-(-0.006762)) > 5e-7 || math.Abs(hAdv/hNat-53.76) > 0.01 {
		t.Errorf("H̃_adv = %.6f (want −0.36354), H̃_nat = %.7f (want −0.006762), ratio %.2f (want 53.76)", hAdv, hNat, hAdv/hNat)
	}
	tauAdv, tauNat := MTARDTemperatureStep(1, 1, hAdv, hNat, 0.001, 1, 10)
	if tauAdv != 1 || math.Abs(tauNat-1.001) > 1e-15 {
		t.Errorf("τ = (%g, %g), want (1 clamped, 1.001)", tauAdv, tauNat)
	}
	if _, n := MTARDTemperatureStep(1, 9.9995, hAdv, hNat, 0.001, 1, 10); n != 10 {
		t.Errorf("τ_nat = %g, want clamped at 10", n)
	}
	// 4: ℓ values through the registry.
	s := Mat([]float64{1, 0.5, -0.5})
	teacher := Mat(z)
	half := Mat([]float64{1, 0, -0.5})
	for _, bits := range []int{32, 64} {
		l := EvalArr(t, "mtard-kl", map[string]Arr{"student": half, "teacher": teacher, "labels": Vec(0)}, Params{"tau": 2}, bits).Loss
		tol := 1e-10
		if bits == 32 { // log(p + 1e-5) − log p cancels in float32
			tol = 1e-8
		}
		if math.Abs(l-9.9998e-6) > tol {
			t.Errorf("float%d: ℓ(z/2 vs z at τ=2) = %.6g, want 9.9998e-6", bits, l)
		}
		l = EvalArr(t, "mtard-kl", map[string]Arr{"student": s, "teacher": teacher, "labels": Vec(0)}, Params{"tau": 1}, bits).Loss
		if math.Abs(l-0.0666689) > 5e-7 {
			t.Errorf("float%d: ℓ(s vs z at τ=1) = %.7f, want 0.0666689", bits, l)
		}
	}
	// 5: weight update.
	wAdv, wNat := MTARDWeightStep(0.5, 0.5, 1.8/2, 0.6/2, 0.025)
	if math.Abs(wAdv-0.50625) > 1e-12 || math.Abs(wNat-0.49375) > 1e-12 {
		t.Errorf("w = (%.6f, %.6f), want (0.50625, 0.49375)", wAdv, wNat)
	}
	wAdv, wNat = 0.9, 0.1
	for i := range 20 {
		prev := wAdv
		wAdv, wNat = MTARDWeightStep(wAdv, wNat, 0.7, 0.7, 0.1)
		if wAdv < 0 || wNat < 0 || math.Abs(wAdv+wNat-1) > 1e-12 || math.Abs((wAdv-0.5)-0.9*(prev-0.5)) > 1e-12 {
			t.Fatalf("step %d: w = (%g, %g), want a geometric decay towards ½ with Σw = 1", i, wAdv, wNat)
		}
	}
	// Guards: negative r, zero r.
	if a, n := MTARDWeightStep(0.2, 0.8, -1, 0, 1); a != 0.5 || n != 0.5 {
		t.Errorf("r = (−1, 0), η = 1: w = (%g, %g), want (½, ½)", a, n)
	}
}

// mtardStep holds one iteration's inputs.
type mtardStep struct{ sAdv, sNat, tAdv, tNat Arr }

func mtardSteps(n, b, k int) []mtardStep {
	rng := rand.New(rand.NewSource(12))
	mat := func(scale float64) Arr {
		a := Arr{Shape: []int{b, k}, Data: make([]float64, b*k)}
		for i := range a.Data {
			a.Data[i] = scale * rng.NormFloat64()
		}
		return a
	}
	steps := make([]mtardStep, n)
	for i := range steps {
		// A confident clean teacher and a flat robust one, so the temperatures have to move.
		steps[i] = mtardStep{sAdv: mat(1), sNat: mat(1), tAdv: mat(0.5), tNat: mat(3)}
	}
	return steps
}

func arrTensor32(a Arr) *tensors.Tensor {
	f := make([]float32, len(a.Data))
	for i, v := range a.Data {
		f[i] = float32(v)
	}
	return tensors.FromFlatDataAndDimensions(f, a.Shape...)
}

// The balances over several iterations: graph (float32) + MTARDState against a float64 reference loop,
// with rates large enough that τ moves by whole units and hits its clip.
func TestMTARDStateOverSteps(t *testing.T) {
	cfg := MTARDConfig{EtaTau: 1.5, EtaW: 0.3, TauMin: 1, TauMax: 5}
	exec, err := NewExec(backendForTest(t), func(sAdv, sNat, tAdv, tNat, state *Node) []*Node {
		r := MTARDLoss(sAdv, sNat, tAdv, tNat, state)
		return []*Node{r.Loss, r.Adv, r.Nat, r.NegEntropyAdv, r.NegEntropyNat}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	st := NewMTARDState()
	// Reference state.
	rTauAdv, rTauNat, rWAdv, rWNat := 1.0, 1.0, 0.5, 0.5
	var rL0Adv, rL0Nat float64
	sawClip, sawMove := false, false
	for i, step := range mtardSteps(8, 5, 4) {
		v := st.Vector()
		state := tensors.FromValue([]float32{float32(v[0]), float32(v[1]), float32(v[2]), float32(v[3])})
		outs, err := exec.Exec(arrTensor32(step.sAdv), arrTensor32(step.sNat), arrTensor32(step.tAdv), arrTensor32(step.tNat), state)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, len(outs))
		for j, o := range outs {
			f, _ := toFloat64(o)
			got[j] = f[0]
		}
		// Reference forward pass with the reference state.
		lAdv, lNat := refMTARDMean(step.sAdv, step.tAdv, rTauAdv), refMTARDMean(step.sNat, step.tNat, rTauNat)
		hAdv, hNat := refMTARDNegEnt(step.tAdv, rTauAdv), refMTARDNegEnt(step.tNat, rTauNat)
		for j, want := range []float64{rWAdv*lAdv + rWNat*lNat, lAdv, lNat, hAdv, hNat} {
			if math.Abs(got[j]-want) > 1e-5*math.Abs(want)+1e-6 {
				t.Errorf("step %d: output %d = %.7g, reference %.7g", i, j, got[j], want)
			}
		}
		if err := st.Update(cfg, got[3], got[4], got[1], got[2]); err != nil {
			t.Fatal(err)
		}
		// Reference balances, written out.
		if i == 0 {
			rL0Adv, rL0Nat = lAdv, lNat
		}
		sgn := func(x float64) float64 {
			if x == 0 {
				return 0
			}
			return math.Copysign(1, x)
		}
		newAdv := math.Min(math.Max(rTauAdv-cfg.EtaTau*sgn(hAdv/hNat-1), cfg.TauMin), cfg.TauMax)
		newNat := math.Min(math.Max(rTauNat-cfg.EtaTau*sgn(hNat/hAdv-1), cfg.TauMin), cfg.TauMax)
		if newAdv != rTauAdv || newNat != rTauNat {
			sawMove = true
		}
		if newAdv == cfg.TauMax || newNat == cfg.TauMax {
			sawClip = true
		}
		rTauAdv, rTauNat = newAdv, newNat
		ra, rn := lAdv/rL0Adv, lNat/rL0Nat
		mean := (ra + rn) / 2
		rhoA, rhoN := ra/mean, rn/mean
		ta, tn := rhoA/(rhoA+rhoN), rhoN/(rhoA+rhoN)
		wa, wn := math.Max(rWAdv-cfg.EtaW*(rWAdv-ta), 0), math.Max(rWNat-cfg.EtaW*(rWNat-tn), 0)
		rWAdv, rWNat = wa/(wa+wn), wn/(wa+wn)
		if st.TauAdv != rTauAdv || st.TauNat != rTauNat {
			t.Errorf("step %d: τ = (%g, %g), reference (%g, %g)", i, st.TauAdv, st.TauNat, rTauAdv, rTauNat)
		}
		if math.Abs(st.WAdv-rWAdv) > 1e-5 || math.Abs(st.WNat-rWNat) > 1e-5 || math.Abs(st.WAdv+st.WNat-1) > 1e-12 {
			t.Errorf("step %d: w = (%.7f, %.7f), reference (%.7f, %.7f)", i, st.WAdv, st.WNat, rWAdv, rWNat)
		}
	}
	if !sawMove || !sawClip || st.Steps != 8 {
		t.Errorf("test setup: the temperatures should move (%v) and reach the clip (%v); steps %d", sawMove, sawClip, st.Steps)
	}
	// Property 6: both balances off is plain two-teacher ARD: τ = 1 and w = ½ throughout.
	ard := NewMTARDState()
	off := DefaultMTARDConfig()
	off.FixTemperatures, off.FixWeights = true, true
	for range 3 {
		if err := ard.Update(off, -0.3, -0.01, 1.2, 0.4); err != nil {
			t.Fatal(err)
		}
	}
	if ard.TauAdv != 1 || ard.TauNat != 1 || ard.WAdv != 0.5 || ard.WNat != 0.5 {
		t.Errorf("fixed balances: state %+v, want τ = 1, w = ½", ard)
	}
	// Errors leave the state unchanged.
	before := st
	if err := st.Update(cfg, math.NaN(), -0.1, 1, 1); err == nil || st != before {
		t.Error("NaN entropy accepted or state changed")
	}
	if err := st.Update(MTARDConfig{EtaTau: 0.1, EtaW: 2, TauMin: 1, TauMax: 10}, -0.1, -0.1, 1, 1); err == nil {
		t.Error("η_w = 2 accepted")
	}
	fresh := NewMTARDState()
	if err := fresh.Update(DefaultMTARDConfig(), -0.1, -0.1, 0, 1); err == nil {
		t.Error("a first loss of 0 accepted with the weight balance on")
	}
}

// The gradient of MTARDLoss w.r.t. both student inputs against finite differences of the reference; no
// gradient reaches the teachers or the state.
func TestMTARDLossGradient(t *testing.T) {
	step := mtardSteps(1, 3, 4)[0]
	state := []float64{1.7, 2.3, 0.6, 0.4}
	out := runGraph(t, func(sAdv, sNat, tAdv, tNat, st *Node) []*Node {
		r := MTARDLoss(sAdv, sNat, tAdv, tNat, st)
		return append([]*Node{r.Loss}, Gradient(r.Loss, sAdv, sNat, tAdv, tNat, st)...)
	}, tensors.FromFlatDataAndDimensions(step.sAdv.Data, 3, 4), tensors.FromFlatDataAndDimensions(step.sNat.Data, 3, 4),
		tensors.FromFlatDataAndDimensions(step.tAdv.Data, 3, 4), tensors.FromFlatDataAndDimensions(step.tNat.Data, 3, 4),
		tensors.FromValue(state))
	loss := func(m map[string]Arr) float64 {
		return state[2]*refMTARDMean(m["sAdv"], step.tAdv, state[0]) + state[3]*refMTARDMean(m["sNat"], step.tNat, state[1])
	}
	in := map[string]Arr{"sAdv": step.sAdv, "sNat": step.sNat}
	if want := loss(in); math.Abs(out[0][0]-want) > 1e-12 {
		t.Errorf("loss = %g, reference %g", out[0][0], want)
	}
	checkGrad(t, "dL/dS(x_adv)", out[1], FiniteDiff(in, "sAdv", loss), 1e-5, 1e-8)
	checkGrad(t, "dL/dS(x)", out[2], FiniteDiff(in, "sNat", loss), 1e-5, 1e-8)
	for j := 3; j < 6; j++ {
		for i, g := range out[j] {
			if g != 0 {
				t.Errorf("gradient %d[%d] = %g, want 0 (teachers and state are constants)", j, i, g)
			}
		}
	}
}
