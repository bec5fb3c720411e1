package landscape

import (
	"math"
	"testing"

	"github.com/losslab/losslab/lib/models"
)

// refStats is the host float64 mean and standard deviation of every unit's pre-activation in hidden
// layer l of a ReLU MLP.
func refStats(ps *ParamSet, sizes []int, d *Data, l int) (mu, sd []float64) {
	for _, col := range refLayerColumns(ps, sizes, d, l, true) {
		m, s := columnStats(col, len(col), 1)
		mu, sd = append(mu, m[0]), append(sd, s[0])
	}
	return mu, sd
}

// REPAIR's defining property, checked with host float64 statistics: every hidden unit of the repaired
// network has the pre-activation mean and standard deviation interpolated from the endpoints', in
// every layer (so the correction must be applied layer after layer), while the plain interpolation
// does not.
func TestRepairStatistics(t *testing.T) {
	set := blobs(t, 300, 7)
	m := models.NewMLP(3, 6, 5)
	sizes := []int{4, 6, 5, 3}
	a, b0, spec := initPair(t, m, set)
	al, err := WeightMatcher{}.Match(a, b0, spec)
	if err != nil {
		t.Fatal(err)
	}
	b := al.Aligned
	probe, err := ModelProbe(m)
	if err != nil {
		t.Fatal(err)
	}
	d := FromSet(set)
	opts := RepairOptions{Probe: probe, Spec: spec, Data: d}
	for _, alpha := range []float64{0, 0.3, 0.5} {
		rep, err := Repair(a, b, alpha, opts)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := Lerp(a, b, alpha)
		plainOff := 0.0
		for l := range 2 {
			muA, sdA := refStats(a, sizes, d, l)
			muB, sdB := refStats(b, sizes, d, l)
			mu, sd := refStats(rep, sizes, d, l)
			pmu, psd := refStats(plain, sizes, d, l)
			for i := range mu {
				wantMu := (1-alpha)*muA[i] + alpha*muB[i]
				wantSd := (1-alpha)*sdA[i] + alpha*sdB[i]
				if math.Abs(mu[i]-wantMu) > 1e-4 || math.Abs(sd[i]-wantSd) > 1e-4 {
					t.Errorf("α=%g layer %d unit %d: mean %g sd %g, want %g and %g", alpha, l, i, mu[i], sd[i], wantMu, wantSd)
				}
				plainOff = math.Max(plainOff, math.Abs(psd[i]-wantSd)+math.Abs(pmu[i]-wantMu))
			}
		}
		if alpha == 0.5 && plainOff < 1e-2 {
			t.Errorf("the plain midpoint already has the target statistics (off by %g): the test cannot fail", plainOff)
		}
		if alpha == 0 {
			if diff, err := MaxLogitDiff(FromModel(m), a, rep, d); err != nil || diff > 1e-4 {
				t.Errorf("REPAIR at α=0 changed A's function: %g (%v)", diff, err)
			}
		}
	}
}

// RepairPath through the batched evaluator (two points per call, so the last call is padded) equals
// the evaluation of each repaired network on its own; a CNN's channels are repaired too.
func TestRepairPathAndEvalPoints(t *testing.T) {
	img := images(40, 4)
	img.Shape = []int{8, 8, 1}
	img.X = randomData(40, 64, 3, 4).X
	cnn := &models.CNN{Classes: 3, Channels: []int{3, 4}, Hidden: 5, ImageShape: []int{8, 8, 1}}
	a, err := FromContext(initModel(t, cnn, img, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromContext(initModel(t, cnn, img, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := ModelProbe(cnn)
	if err != nil {
		t.Fatal(err)
	}
	d := FromSet(img)
	ev, err := NewEvaluator(FromModel(cnn), a, Config{PointsPerCall: 2})
	if err != nil {
		t.Fatal(err)
	}
	opts := RepairOptions{Probe: probe, Spec: spec, Data: d}
	p, err := RepairPath(ev, a, b, []*Data{d}, 5, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, alpha := range p.Alpha {
		rep, err := Repair(a, b, alpha, opts)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := ev.Loss(rep, d)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(pt.Loss-p.Curves[0].Loss[i]) > 1e-5 || pt.Error != p.Curves[0].Error[i] {
			t.Errorf("α=%g: path %g/%g, own evaluation %g/%g", alpha, p.Curves[0].Loss[i], p.Curves[0].Error[i], pt.Loss, pt.Error)
		}
		// Channel statistics reach their targets (probe-measured).
		if alpha == 0.5 {
			hs, _ := probe(rep, d)
			ha, _ := probe(a, d)
			hb, _ := probe(b, d)
			for g, gr := range spec.Groups {
				mu, sd := columnStats(hs[g].Pre, hs[g].PreRows, gr.Size)
				muA, sdA := columnStats(ha[g].Pre, ha[g].PreRows, gr.Size)
				muB, sdB := columnStats(hb[g].Pre, hb[g].PreRows, gr.Size)
				for u := range mu {
					if math.Abs(mu[u]-(muA[u]+muB[u])/2) > 1e-4 || math.Abs(sd[u]-(sdA[u]+sdB[u])/2) > 1e-4 {
						t.Errorf("%s unit %d: mean %g sd %g, want %g and %g", gr.Name, u, mu[u], sd[u], (muA[u]+muB[u])/2, (sdA[u]+sdB[u])/2)
					}
				}
			}
		}
	}
	if _, err := RepairPath(ev, a, b, []*Data{d}, 5, RepairOptions{Probe: probe, Spec: spec, Data: d, Reset: true}); err == nil {
		t.Error("RESET on a network without BatchNorm: no error")
	}
	if _, err := EvalPoints(ev, nil, d); err == nil {
		t.Error("EvalPoints with no points: no error")
	}
}

// RESET on a BatchNorm MLP is the plain path with the statistics re-estimated; REPAIR refuses it.
func TestRepairResetBatchNorm(t *testing.T) {
	set := blobs(t, 200, 8)
	m := &models.MLP{Hidden: []int{6}, Classes: 3, Norm: "batchnorm"}
	a, err := FromContext(initModel(t, m, set, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromContext(initModel(t, m, set, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := InferPermSpec(a)
	if err != nil {
		t.Fatal(err)
	}
	probe, _ := ModelProbe(m)
	d := FromSet(set)
	ev, err := NewEvaluator(FromModel(m), a, Config{})
	if err != nil {
		t.Fatal(err)
	}
	opts := RepairOptions{Probe: probe, Spec: spec, Data: d}
	if _, err := Repair(a, b, 0.5, opts); err == nil {
		t.Error("REPAIR on a BatchNorm network: no error")
	}
	opts.Reset = true
	p, err := RepairPath(ev, a, b, []*Data{d}, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Interpolate(ev, a, b, []*Data{d}, PathOptions{NumAlpha: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Alpha {
		if p.Curves[0].Loss[i] != q.Curves[0].Loss[i] {
			t.Errorf("α=%g: RESET %g, re-estimated path %g", p.Alpha[i], p.Curves[0].Loss[i], q.Curves[0].Loss[i])
		}
	}
}
