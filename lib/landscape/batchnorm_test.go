package landscape

import (
	"math"
	"testing"

	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// refBNMLP is the float64 reference of lib/models' MLP with one hidden BatchNorm layer (dense_0,
// batchnorm_0, relu, dense_1) whose statistics are the mean and biased variance of the pre-norm
// activations over stats. It returns the mean cross-entropy on d and the statistics.
func refBNMLP(ps *ParamSet, stats, d *Data) (loss float64, mean, variance []float64) {
	w0, b0 := ps.Lookup("/dense_0/weights"), ps.Lookup("/dense_0/biases").Data
	gain, off := ps.Lookup("/batchnorm_0/gain").Data, ps.Lookup("/batchnorm_0/offset").Data
	w1, b1 := ps.Lookup("/dense_1/weights"), ps.Lookup("/dense_1/biases").Data
	in, h, k := w0.Shape[0], w0.Shape[1], w1.Shape[1]
	pre := func(x []float32) []float64 {
		out := make([]float64, h)
		for j := range out {
			s := b0[j]
			for i := range in {
				s += float64(x[i]) * w0.Data[i*h+j]
			}
			out[j] = s
		}
		return out
	}
	mean, variance = make([]float64, h), make([]float64, h)
	for n := range stats.Len() {
		for j, v := range pre(stats.X[n*in : (n+1)*in]) {
			mean[j] += v / float64(stats.Len())
		}
	}
	for n := range stats.Len() {
		for j, v := range pre(stats.X[n*in : (n+1)*in]) {
			variance[j] += (v - mean[j]) * (v - mean[j]) / float64(stats.Len())
		}
	}
	for n := range d.Len() {
		a := pre(d.X[n*in : (n+1)*in])
		for j := range a {
			a[j] = max(0, (a[j]-mean[j])/math.Sqrt(variance[j]+1e-5)*gain[j]+off[j])
		}
		z := make([]float64, k)
		mx := math.Inf(-1)
		for c := range z {
			z[c] = b1[c]
			for j := range h {
				z[c] += a[j] * w1.Data[j*k+c]
			}
			mx = max(mx, z[c])
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		loss += mx + math.Log(s) - z[d.Y[n]]
	}
	return loss / float64(d.Len()), mean, variance
}

func TestBatchNormReestimation(t *testing.T) {
	set := blobs(t, 120, 9)
	mlp := &models.MLP{Hidden: []int{8}, Classes: 3, Norm: "batchnorm"}
	cfg := train.Config{Model: mlp, Train: set, Steps: 25, BatchSize: 30, Seed: 3, Silent: true}
	ra, rb, err := train.RunPair(cfg, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	a, err := FromContext(ra.Context, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromContext(rb.Context, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.State) != 2 || a.LookupState("/batchnorm_0/moving_mean") == nil || a.Lookup("/batchnorm_0/moving_mean") != nil {
		t.Fatalf("BatchNorm statistics should be State, not parameters: params %v, state %d", a.Names(), len(a.State))
	}
	d := FromSet(set)

	// Without re-estimation the engine uses the stored statistics: equal to lib/train's inference loss.
	off, err := NewEvaluator(FromModel(mlp), a, Config{BatchNorm: BNConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	if off.ReestimatesBN() {
		t.Fatal("BatchNorm.Off evaluator re-estimates")
	}
	for _, r := range []*train.Result{ra, rb} {
		ps, _ := FromContext(r.Context, nil)
		got, err := off.Loss(ps, d)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := train.Evaluate(mlp, r.Context, set)
		if math.Abs(got.Loss-m.Loss) > 1e-5*(1+m.Loss) {
			t.Errorf("stored statistics: engine %g, lib/train %g", got.Loss, m.Loss)
		}
	}

	// With re-estimation (the default): each point's statistics come from the statistics data.
	stats := d
	ev, err := NewEvaluator(FromModel(mlp), a, Config{BatchNorm: BNConfig{Data: stats}})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.ReestimatesBN() {
		t.Fatal("BatchNorm model is not re-estimated by default")
	}
	path, err := Interpolate(ev, a, b, []*Data{d}, PathOptions{NumAlpha: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i, alpha := range path.Alpha {
		theta, _ := Lerp(a, b, alpha)
		want, _, _ := refBNMLP(theta, stats, d)
		if got := path.Curves[0].Loss[i]; math.Abs(got-want) > 2e-5*(1+want) {
			t.Errorf("α=%g: re-estimated loss %g, float64 reference %g", alpha, got, want)
		}
	}
	// The endpoints equal the trained models' inference losses once their moving statistics are the
	// statistics of the data (set through lib/train's context, evaluated by lib/train).
	for i, r := range []*train.Result{ra, rb} {
		ps, _ := FromContext(r.Context, nil)
		_, mean, variance := refBNMLP(ps, stats, d)
		withStats := ps.Clone()
		copy(withStats.LookupState("/batchnorm_0/moving_mean").Data, mean)
		copy(withStats.LookupState("/batchnorm_0/moving_variance").Data, variance)
		ctx, err := r.Context.Clone()
		if err != nil {
			t.Fatal(err)
		}
		if err := withStats.ToContext(ctx); err != nil {
			t.Fatal(err)
		}
		m, err := train.Evaluate(mlp, ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		end := path.Curves[0].Loss[i*(len(path.Alpha)-1)]
		if math.Abs(end-m.Loss) > 2e-5*(1+m.Loss) {
			t.Errorf("endpoint %d: re-estimated %g, trained model with data statistics %g", i, end, m.Loss)
		}
	}
	// Re-estimation changes the path (the interior points no longer use A's statistics).
	plain, err := Interpolate(off, a, b, []*Data{d}, PathOptions{NumAlpha: 5})
	if err != nil {
		t.Fatal(err)
	}
	if mid, midOff := path.Curves[0].Loss[2], plain.Curves[0].Loss[2]; math.Abs(mid-midOff) < 1e-4 {
		t.Errorf("midpoint loss with re-estimation %g equals the one without %g", mid, midOff)
	}
}
